//! Configs as users write them, good and broken.

use std::path::PathBuf;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_with_env(text, &[])
}

fn parse_with_env(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let lookup = vars.clone();
    from_parts(Some(("test.toml", text)), vars, move |name| {
        lookup
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
}

fn error_of(text: &str) -> ConfigError {
    parse(text).expect_err("config should be refused")
}

#[test]
fn no_file_gives_the_embedded_defaults() {
    let config = from_parts(None, Vec::new(), |_| None).unwrap();
    assert_eq!(config.server.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.body_limit_bytes, 1_048_576);
    assert_eq!(config.store.path, PathBuf::from("./data"));
    assert_eq!(config.endpoints.len(), 1);
    assert_eq!(config.endpoints[0].path, "/webhook");
    assert_eq!(config.endpoints[0].envelope, EnvelopeKind::Raw);
}

#[test]
fn the_example_config_of_the_issue_is_accepted() {
    let config = parse_with_env(
        r#"
[server]
bind = "127.0.0.1:8080"
body_limit_bytes = 1048576
request_timeout_secs = 30

[store]
path = "./data"

[[endpoint]]
name = "sonar"
path = "/hooks/sonar"
envelope = "sonar"
ordering = true
[endpoint.verify]
kind = "none"
[endpoint.relay]
mode = "sync"
method = "PATCH"
url = "http://127.0.0.1:9000/accounts/{{ entity }}"
body = '{"status": {{ payload.current.status | tojson }}}'
[endpoint.relay.auth]
kind = "bearer"
token_env = "DOWNSTREAM_TOKEN"

[[endpoint]]
name = "billing"
path = "/hooks/billing"
envelope = "standard-webhooks"
[endpoint.verify]
kind = "standard-webhooks"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
tolerance_secs = 300
"#,
        &[("DOWNSTREAM_TOKEN", "t0ken")],
    )
    .unwrap();
    assert_eq!(
        config.endpoints.len(),
        2,
        "the file's endpoints replace the default one"
    );
    let relay = config.endpoints[0].relay.as_ref().unwrap();
    let AuthConfig::Bearer { token } = &relay.auth else {
        panic!("bearer auth: {:?}", relay.auth);
    };
    assert_eq!(token.text(), "t0ken");
    assert_eq!(
        config.endpoints[0].ordering,
        Some(OrderingSetting::Switch(true))
    );
    let shown = config.to_string();
    assert!(!shown.contains("t0ken"), "{shown}");
    assert!(!shown.contains("whsec_MfKQ"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[test]
fn environment_variables_override_file_keys() {
    let config = parse_with_env(
        "[[endpoint]]\nname = \"a\"\npath = \"/a\"",
        &[
            ("RECEIVER_SERVER__BODY_LIMIT_BYTES", "2048"),
            ("RECEIVER_ENDPOINT__A__PATH", "/b"),
        ],
    )
    .unwrap();
    assert_eq!(config.server.body_limit_bytes, 2048);
    assert_eq!(config.endpoints[0].path, "/b");
}

#[test]
fn secrets_env_may_hold_several_secrets_for_rotation() {
    let config = parse_with_env(
        "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"github\"\n\
         secrets_env = \"GH\"",
        &[("GH", "old-secret, new-secret")],
    )
    .unwrap();
    let secrets: Vec<_> = config.endpoints[0]
        .verify
        .secrets()
        .unwrap()
        .iter()
        .map(ConfigSecret::text)
        .collect();
    assert_eq!(secrets, ["old-secret", "new-secret"]);
}

#[test]
fn broken_configs_are_refused_with_file_key_and_reason() {
    let cases: &[(&str, &str, &str)] = &[
        ("[server]\nbind = 3", "server.bind", "invalid type"),
        (
            "[server]\nbind = \"nowhere\"",
            "server.bind",
            "invalid socket address",
        ),
        (
            "[server]\nbnd = \"127.0.0.1:1\"",
            "server.bnd",
            "unknown field `bnd`",
        ),
        (
            "[server\nbind = 1",
            "(syntax)",
            "line 1, column 8: invalid table header",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\nenvelope = \"sonr\"",
            "endpoint[0].envelope",
            "unknown envelope \"sonr\"; expected one of sonar,",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"hmac\"",
            "endpoint[0].verify",
            "unknown verify kind \"hmac\"; expected one of none, basic, token,",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"github\"",
            "endpoint[0].verify.secrets",
            "kind `github` needs `secrets` or `secrets_env`",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"stripe\"\n\
             secrets_env = \"UNSET_VARIABLE\"",
            "endpoint[0].verify.secrets_env",
            "environment variable `UNSET_VARIABLE` is not set",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"basic\"\n\
             user = \"u\"",
            "endpoint[0].verify.password",
            "needs both `user` and `password`",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"a\"",
            "endpoint[0].path",
            "must start with `/`",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/healthz\"",
            "endpoint[0].path",
            "reserved",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[[endpoint]]\nname = \"a\"\npath = \"/b\"",
            "endpoint[1].name",
            "another endpoint has this name",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[[endpoint]]\nname = \"b\"\npath = \"/a\"",
            "endpoint[1].path",
            "another endpoint has this path",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\nenvelope = \"custom\"",
            "endpoint[0].mapping",
            "needs an [endpoint.mapping]",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\nenvelope = \"custom\"\n\
             [endpoint.mapping]\nevent_type = \"type\"",
            "endpoint[0].mapping.event_type",
            "",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.relay]\nurl = \"http://x\"\n\
             method = \"GET\"",
            "endpoint[0].relay.method",
            "must be PATCH, POST or PUT",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.relay]\nurl = \"http://x\"\n\
             [endpoint.relay.auth]\nkind = \"bearer\"",
            "endpoint[0].relay.auth.token",
            "needs `token` or `token_env`",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.relay]\nurl = \"http://x\"\n\
             mode = \"queued\"\nconcurrency = 0",
            "endpoint[0].relay.concurrency",
            "must be at least 1",
        ),
        (
            "[server]\nbind = \"0.0.0.0:8080\"",
            "admin.token",
            "required when server.bind is not a loopback address",
        ),
        (
            "[server]\ntls_cert = \"cert.pem\"",
            "server.tls_cert",
            "set both tls_cert and tls_key",
        ),
    ];
    for (text, key, message) in cases {
        let error = error_of(text);
        assert_eq!(error.origin, "test.toml", "{text}");
        assert_eq!(error.key, *key, "{text}: {error}");
        assert!(error.message.contains(message), "{text}: {error}");
    }
}

#[test]
fn regression_an_empty_or_short_admin_token_is_refused_inline_and_from_the_environment() {
    let public = "[server]\nbind = \"0.0.0.0:8080\"\n";
    for (text, env) in [
        (format!("{public}[admin]\ntoken = \"\"\n"), vec![]),
        (format!("{public}[admin]\ntoken = \"   \"\n"), vec![]),
        (public.to_owned(), vec![("RECEIVER_ADMIN__TOKEN", "")]),
        (public.to_owned(), vec![("RECEIVER_ADMIN__TOKEN", " \t ")]),
        (
            public.to_owned(),
            vec![("RECEIVER_ADMIN__TOKEN", "short-token-15b")],
        ),
        (
            "[admin]\ntoken = \" padded-token-0123456789 \"\n".to_owned(),
            vec![],
        ),
    ] {
        let error = parse_with_env(&text, &env).expect_err("refused");
        assert_eq!(error.key, "admin.token", "{text} {env:?}: {error}");
    }
    let ok = parse_with_env(public, &[("RECEIVER_ADMIN__TOKEN", "sixteen-bytes-ok")]).unwrap();
    assert_eq!(ok.admin.token.unwrap().text(), "sixteen-bytes-ok");
}

#[test]
fn regression_config_errors_never_show_a_secret_value() {
    let public = "[server]\nbind = \"0.0.0.0:8080\"\n";
    // From the environment, a numeric token is a string (and long enough here).
    let numeric =
        parse_with_env(public, &[("RECEIVER_ADMIN__TOKEN", "88412099578841209957")]).unwrap();
    assert_eq!(numeric.admin.token.unwrap().text(), "88412099578841209957");
    let cases = [
        (
            format!("{public}[admin]\ntoken = 8841209957\n"),
            "8841209957",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"token\"\n\
             secrets = [12345]\n"
                .to_owned(),
            "12345",
        ),
        (
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"basic\"\n\
             user = \"u\"\npassword = 4242424242\n"
                .to_owned(),
            "4242424242",
        ),
        (
            "[admin]\ntoken = \"s3cr3t-admin-token-never-shown\n".to_owned(),
            "s3cr3t-admin-token-never-shown",
        ),
    ];
    for (text, secret) in cases {
        let error = error_of(&text);
        let shown = format!("{error} {:?}", error);
        assert!(!shown.contains(secret), "{text}: {shown}");
    }
    let syntax = error_of("[admin]\ntoken = \"s3cr3t-admin-token-never-shown\n");
    assert_eq!(syntax.key, "(syntax)");
    assert!(syntax.message.starts_with("line 2, column "), "{syntax}");
}

#[test]
fn regression_check_config_redacts_credentials_written_into_relay_urls_and_headers() {
    let config = parse(
        "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.relay]\n\
         url = \"https://svc:hunter2-in-url@api.example/x/{{ entity }}?q=1@2\"\n\
         headers = { Authorization = \"Bearer literal-bearer-in-header\", X-Api-Key = \"k-in-header\", X-Event = \"{{ event }}\" }\n\
         [endpoint.relay.fetch]\nurl = \"https://u:fetch-pass@src.example/{{ entity }}\"\n",
    )
    .unwrap();
    let shown = config.to_string();
    for secret in [
        "hunter2-in-url",
        "literal-bearer-in-header",
        "k-in-header",
        "fetch-pass",
    ] {
        assert!(!shown.contains(secret), "{secret}: {shown}");
    }
    assert!(
        shown.contains("https://[redacted]@api.example/x/{{ entity }}?q=1@2"),
        "{shown}"
    );
    assert!(
        shown.contains("{{ event }}"),
        "other headers are shown: {shown}"
    );
}

#[test]
fn a_key_another_verify_or_auth_kind_takes_is_refused_by_name() {
    for (section, key) in [
        (
            "[endpoint.verify]\nkind = \"github\"\nsecrets = [\"s\"]\nheader = \"X\"",
            "header",
        ),
        (
            "[endpoint.verify]\nkind = \"none\"\nsecrets = [\"s\"]",
            "secrets",
        ),
        (
            "[endpoint.verify]\nkind = \"token\"\nsecrets = [\"s\"]\ntolerance_secs = 5",
            "tolerance_secs",
        ),
        (
            "[endpoint.relay]\nurl = \"http://x\"\n[endpoint.relay.auth]\nkind = \"bearer\"\n\
             token = \"t\"\nuser = \"u\"",
            "user",
        ),
    ] {
        let error = error_of(&format!(
            "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n{section}"
        ));
        assert!(
            error.message.contains(&format!("unknown field `{key}`")),
            "{section}: {error}"
        );
    }
}

#[test]
fn a_secret_list_of_the_wrong_type_is_refused_without_its_value() {
    let error = error_of(
        "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"github\"\n\
         secrets = 987654321",
    );
    assert!(error.message.contains("invalid type"), "{error}");
    assert!(
        !format!("{error} {error:?}").contains("987654321"),
        "{error}"
    );
}

#[test]
fn an_env_reference_in_a_credential_is_resolved_and_an_unset_one_is_named() {
    let text = "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"basic\"\n\
                credentials = [{ user = \"u\", password_env = \"PW\" }]";
    let config = parse_with_env(text, &[("PW", "pass-from-env")]).unwrap();
    let VerifyConfig::Basic(basic) = &config.endpoints[0].verify else {
        panic!("basic: {:?}", config.endpoints[0].verify);
    };
    assert_eq!(basic.credentials()[0].1.expose(), b"pass-from-env");
    let error = parse_with_env(text, &[("PW", "")]).unwrap_err();
    assert_eq!(error.key, "endpoint[0].verify.credentials[0].password_env");
    assert_eq!(error.message, "environment variable `PW` is not set");
}

#[test]
fn cloudevents_and_stripe_envelopes_name_their_presets() {
    for (name, envelope) in [
        ("cloudevents", receiver_sdk::envelope::Envelope::CloudEvents),
        ("stripe", receiver_sdk::envelope::Envelope::Stripe),
    ] {
        let config = parse(&format!(
            "[[endpoint]]\nname = \"e\"\npath = \"/e\"\nenvelope = \"{name}\"\n"
        ))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(config.endpoints[0].envelope.preset(), Some(envelope));
    }
}

#[test]
fn a_catalogue_sender_is_an_envelope_by_its_name() {
    let config = parse("[[endpoint]]\nname = \"z\"\npath = \"/z\"\nenvelope = \"zoom\"\n").unwrap();
    let kind = config.endpoints[0].envelope;
    assert_eq!(kind, EnvelopeKind::Provider("zoom"));
    assert_eq!(
        kind.preset().map(|e| e.name().to_owned()).as_deref(),
        Some("zoom")
    );
    // A name shared with a kind of its own is that kind; an alias reads as its preset.
    let github = parse("[[endpoint]]\nname = \"g\"\npath = \"/g\"\nenvelope = \"github\"\n");
    assert_eq!(github.unwrap().endpoints[0].envelope, EnvelopeKind::Github);
    let svix = parse("[[endpoint]]\nname = \"s\"\npath = \"/s\"\nenvelope = \"svix\"\n");
    let svix = svix.unwrap().endpoints[0].envelope.preset();
    assert_eq!(
        svix,
        Some(receiver_sdk::envelope::Envelope::StandardWebhooks)
    );
    // Shown as written.
    let shown = toml::to_string(&config.endpoints[0]).unwrap();
    assert!(shown.contains("envelope = \"zoom\""), "{shown}");
}

#[test]
fn an_unknown_envelope_lists_the_presets_and_the_senders() {
    let error = error_of("[[endpoint]]\nname = \"a\"\npath = \"/a\"\nenvelope = \"pigeon\"\n");
    assert!(
        error
            .message
            .starts_with("unknown envelope \"pigeon\"; expected one of sonar, integration,"),
        "{}",
        error.message
    );
    assert!(
        error
            .message
            .contains("cloudevents, custom, raw, asana, bitbucket,"),
        "{}",
        error.message
    );
    assert!(error.message.contains("zoom"), "{}", error.message);
    assert_eq!(
        error.message.matches("github,").count(),
        1,
        "{}",
        error.message
    );
}

#[test]
fn a_catalogue_provider_is_a_verify_kind_by_its_name() {
    let text = "[[endpoint]]\nname = \"z\"\npath = \"/z\"\n[endpoint.verify]\nkind = \"zoom\"\n\
                secrets = [\"old-token\", \"zoom-token\"]\ntolerance_secs = 60";
    let config = parse(text).unwrap();
    let verify = &config.endpoints[0].verify;
    assert_eq!(verify.scheme(), "zoom");
    let verifier = verify.build().unwrap();
    let body = br#"{"event":"meeting.started"}"#;
    let at = 1_700_000_000;
    let mut headers = http::HeaderMap::new();
    let signature = receiver_sdk::verify::sign::zoom("zoom-token", at, body);
    headers.insert("x-zm-signature", signature.parse().unwrap());
    headers.insert("x-zm-request-timestamp", at.to_string().parse().unwrap());
    let when = |secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    assert!(verifier.verify(&headers, body, when(at + 59)).is_ok());
    // The tolerance set here, not the default, judges the timestamp.
    assert!(verifier.verify(&headers, body, when(at + 61)).is_err());
    // A hyphenated name, and one the catalogue adds beside the built-in kinds.
    let coinbase = text.replace("\"zoom\"", "\"coinbase-commerce\"");
    assert_eq!(
        parse(&coinbase).unwrap().endpoints[0].verify.scheme(),
        "coinbase-commerce"
    );
}

/// `[endpoint.verify]` of a custom scheme, then `extra` keys.
fn custom(extra: &str) -> String {
    format!(
        "[[endpoint]]\nname = \"c\"\npath = \"/c\"\n[endpoint.verify]\nkind = \"custom\"\n\
         secrets = [\"old\", \"acme-secret\"]\n{extra}"
    )
}

#[test]
fn a_custom_scheme_verifies_what_it_describes() {
    // Both signatures computed independently with Python's `hmac` module.
    let body = br#"{"event":"order.paid","id":"ord_1"}"#;
    let listed = custom(
        "algorithm = \"sha512\"\nsigned = \"{timestamp}.{body}\"\nheader = \"X-Acme-Signature\"\n\
         separator = \",\"\nsignature_key = \"v1\"\ntimestamp_key = \"t\"\ntolerance_secs = 60",
    );
    let verifier = parse(&listed).unwrap().endpoints[0].verify.build().unwrap();
    let signature = "d44f547115e0c0592a2231731e3331e87cd9a665d4f08b149b5832ce31ee6120\
                     b58ed444f58bf3879899634803d420f472dafcb1b428b5a07e90ae05ef637270";
    let mut headers = http::HeaderMap::new();
    let value = format!("t=1700000000,v1={}", "0".repeat(128)) + ",v1=" + signature;
    headers.insert("x-acme-signature", value.parse().unwrap());
    let when = |secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    assert_eq!(verifier.verify(&headers, body, when(1_700_000_059)), Ok(()));
    assert!(verifier
        .verify(&headers, body, when(1_700_000_061))
        .is_err());
    assert!(verifier
        .verify(&headers, b"{}", when(1_700_000_000))
        .is_err());

    // A signed id header, SHA-1, a plain value after a prefix.
    let plain = custom(
        "algorithm = \"sha1\"\nsigned = \"{header:X-Delivery}:{body}\"\nheader = \"X-Sig\"\nprefix = \"sha1=\"",
    );
    let verifier = parse(&plain).unwrap().endpoints[0].verify.build().unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("x-delivery", "del_42".parse().unwrap());
    let signature = "sha1=130f4d5a8d5b5518393d955deeef8ee75097c21f";
    headers.insert("x-sig", signature.parse().unwrap());
    assert_eq!(verifier.verify(&headers, body, when(0)), Ok(()));
    headers.insert("x-delivery", "del_43".parse().unwrap());
    assert!(verifier.verify(&headers, body, when(0)).is_err());
}

#[test]
fn a_custom_scheme_that_describes_none_is_refused_at_the_key_at_fault() {
    let cases = [
        (
            "header = \"X-S\"\nsigned = \"{timestamp}.{bdy}\"",
            "endpoint[0].verify.signed",
            "unknown part `{bdy}`",
        ),
        (
            "header = \"X-S\"\nsigned = \"{timestamp}\"",
            "endpoint[0].verify.signed",
            "does not contain `{body}`",
        ),
        (
            "header = \"X-S\"\nsigned = \"{timestamp}.{body}\"",
            "endpoint[0].verify.signed",
            "neither `timestamp_header` nor `timestamp_key`",
        ),
        (
            "header = \"X-S\"\ntimestamp_header = \"X-T\"",
            "endpoint[0].verify.signed",
            "would go unchecked",
        ),
        (
            "header = \"X-S\"\nseparator = \",\"",
            "endpoint[0].verify.signature_key",
            "needs `signature_key`",
        ),
        (
            "header = \"X-S\"\nsigned = \"{timestamp}{body}\"\ntimestamp_key = \"t\"",
            "endpoint[0].verify.timestamp_key",
            "is an item of a list",
        ),
        (
            "header = \"bad header\"",
            "endpoint[0].verify.header",
            "not a valid header name",
        ),
        (
            "header = \"X-S\"\nalgorithm = \"md5\"",
            "endpoint[0].verify",
            "unknown variant `md5`",
        ),
    ];
    for (extra, key, message) in cases {
        let error = error_of(&custom(extra));
        assert_eq!(error.key, key, "{extra}: {}", error.message);
        assert!(
            error.message.contains(message),
            "{extra}: {}",
            error.message
        );
    }
}

#[test]
fn an_unknown_verify_kind_or_key_is_refused_by_name() {
    let error = error_of(
        "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"pigeon-post\"\n\
         secrets = [\"s\"]",
    );
    assert!(error.to_string().contains("pigeon-post"), "{error}");
    let error = error_of(
        "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"paddle\"\n\
         secrets = [\"s\"]\ntolerance = 5",
    );
    assert!(error.to_string().contains("tolerance"), "{error}");
    // The built-in kinds keep their precise refusals.
    let error = error_of(
        "[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"github\"\n\
         secrets = [\"s\"]\ntolerance_secs = 5",
    );
    assert!(error.to_string().contains("tolerance_secs"), "{error}");
    let error =
        error_of("[[endpoint]]\nname = \"a\"\npath = \"/a\"\n[endpoint.verify]\nkind = \"mux\"");
    assert!(error.to_string().contains("secrets"), "{error}");
}

#[test]
fn a_provider_kind_is_shown_under_its_name_with_secrets_redacted() {
    let text = "[[endpoint]]\nname = \"p\"\npath = \"/p\"\n[endpoint.verify]\nkind = \"paddle\"\n\
                secrets = [\"pdl_ntfset_secret_value\"]";
    let shown = parse(text).unwrap().to_string();
    assert!(shown.contains("kind = \"paddle\""), "{shown}");
    assert!(!shown.contains("pdl_ntfset_secret_value"), "{shown}");
}

/// The providers of the handshakes an endpoint with this config answers, in order.
fn handshakes_of(text: &str) -> Vec<&'static str> {
    let config = parse(text).unwrap();
    let endpoint = &config.endpoints[0];
    handshakes(
        &endpoint.verify,
        &endpoint.handshakes,
        endpoint.provider_handshake,
    )
    .iter()
    .map(receiver_sdk::handshake::Handshake::provider)
    .collect()
}

const ENDPOINT: &str = "[[endpoint]]\nname = \"e\"\npath = \"/e\"\n";

#[test]
fn a_verify_kind_whose_sender_has_a_handshake_answers_it_by_default() {
    for (kind, secret, provider) in [
        ("slack", "s", "slack"),
        ("zoom", "s", "zoom"),
        ("okta", "s", "okta"),
        ("dropbox", "s", "dropbox"),
        ("asana", "s", "asana"),
        ("twitch", "s", "twitch"),
        ("microsoft-graph", "s", "microsoft-graph"),
        (
            "discord",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "discord",
        ),
    ] {
        let text =
            format!("{ENDPOINT}[endpoint.verify]\nkind = \"{kind}\"\nsecrets = [\"{secret}\"]");
        assert_eq!(handshakes_of(&text), [provider], "{kind}");
        let off = text.replace(
            "[endpoint.verify]",
            "provider_handshake = false\n[endpoint.verify]",
        );
        assert!(handshakes_of(&off).is_empty(), "{kind} switched off");
    }
    let github = format!("{ENDPOINT}[endpoint.verify]\nkind = \"github\"\nsecrets = [\"s\"]");
    assert!(handshakes_of(&github).is_empty(), "GitHub has no handshake");
}

#[test]
fn listed_handshakes_come_first_and_replace_the_implied_one_of_their_name() {
    let text = format!(
        "{ENDPOINT}[endpoint.verify]\nkind = \"zoom\"\nsecrets = [\"s\"]\n\
         [[endpoint.handshake]]\nname = \"meta\"\nverify_token = \"t\"\n\
         [[endpoint.handshake]]\nname = \"zoom\"\nsecret_token = \"other\"\n\
         [[endpoint.handshake]]\nname = \"cloud-events\"\norigins = [\"eventgrid.azure.net\"]\n\
         rate = 120\n[[endpoint.handshake]]\nname = \"microsoft-graph\""
    );
    assert_eq!(
        handshakes_of(&text),
        ["meta", "zoom", "cloudevents", "microsoft-graph"]
    );
}

#[test]
fn an_unknown_handshake_name_is_refused_listing_the_known_ones() {
    let error = error_of(&format!(
        "{ENDPOINT}[[endpoint.handshake]]\nname = \"carrier-pigeon\""
    ));
    let message = error.to_string();
    assert!(message.contains("endpoint[0].handshake"), "{message}");
    for known in [
        "cloud-events",
        "meta",
        "slack",
        "zoom",
        "discord",
        "asana",
        "trello",
        "twitch",
    ] {
        assert!(message.contains(known), "{known} not listed: {message}");
    }
    let error = error_of(&format!(
        "{ENDPOINT}[[endpoint.handshake]]\nname = \"dropbox\"\nverify_token = \"t\""
    ));
    assert!(error.to_string().contains("verify_token"), "{error}");
}

#[test]
fn a_meta_verify_token_is_needed_comes_from_the_environment_and_is_redacted_when_shown() {
    let missing = error_of(&format!(
        "{ENDPOINT}[[endpoint.handshake]]\nname = \"meta\""
    ));
    assert_eq!(missing.key, "endpoint[0].handshake[0].verify_token");
    assert!(missing.message.contains("verify_token_env"), "{missing}");
    let text = format!(
        "{ENDPOINT}[[endpoint.handshake]]\nname = \"meta\"\nverify_token_env = \"META_TOKEN\""
    );
    let config = parse_with_env(&text, &[("META_TOKEN", "meatyhamhock")]).unwrap();
    let shown = config.to_string();
    assert!(!shown.contains("meatyhamhock"), "{shown}");
    assert!(shown.contains("name = \"meta\""), "{shown}");
    let HandshakeConfig::Meta { verify_token } = &config.endpoints[0].handshakes[0] else {
        panic!("not meta");
    };
    assert_eq!(verify_token.text(), "meatyhamhock");
}

#[test]
fn a_handshake_that_cannot_be_judged_safely_is_refused() {
    // Signed handshakes need the sender's verifier, or anybody could answer them.
    let unsigned = error_of(&format!(
        "{ENDPOINT}[[endpoint.handshake]]\nname = \"slack\""
    ));
    assert_eq!(unsigned.key, "endpoint[0].handshake[0].name");
    // Asana's default accepts only the verify secrets, which kind "none" has not.
    let asana = error_of(&format!(
        "{ENDPOINT}[[endpoint.handshake]]\nname = \"asana\""
    ));
    assert_eq!(asana.key, "endpoint[0].handshake[0].accept");
    let setup = format!(
        "{ENDPOINT}[[endpoint.handshake]]\nname = \"asana\"\naccept = \"any\"\n\
         save_to = \"asana.secret\""
    );
    assert_eq!(handshakes_of(&setup), ["asana"]);
    let origins = error_of(&format!(
        "{ENDPOINT}[[endpoint.handshake]]\nname = \"cloud-events\"\norigins = []"
    ));
    assert_eq!(origins.key, "endpoint[0].handshake[0].origins");
}

#[test]
fn public_url_is_read_as_a_base_and_a_bad_one_is_refused_by_key() {
    let endpoint = "[[endpoint]]\nname = \"sms\"\npath = \"/twilio\"\n";
    let config = parse(&format!(
        "{endpoint}public_url = \"https://hooks.example.com/inbound/\"\n\
         [endpoint.verify]\nkind = \"twilio\"\nsecrets = [\"auth-token\"]"
    ))
    .expect("a valid public URL");
    let url = config.endpoints[0].public_url.as_ref().expect("set");
    assert_eq!(url.as_str(), "https://hooks.example.com/inbound");
    assert!(config.endpoints[0].verify.build().is_ok());
    assert_eq!(
        parse(endpoint).expect("valid").endpoints[0].public_url,
        None
    );
    for (bad, reason) in [
        ("hooks.example.com", "begins with http:// or https://"),
        ("https://hooks.example.com/?a=1", "no query"),
    ] {
        let error = error_of(&format!("{endpoint}public_url = \"{bad}\"")).to_string();
        assert!(error.contains("endpoint[0].public_url"), "{error}");
        assert!(error.contains(reason), "{error}");
    }
}
