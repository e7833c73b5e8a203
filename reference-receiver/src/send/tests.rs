use chrono::{TimeZone, Timelike, Utc};
use clap::Parser;
use http::HeaderMap;
use receiver_sdk::envelope::Envelope;

use super::*;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: SendArgs,
}

fn args(line: &[&str]) -> SendArgs {
    let argv = std::iter::once("send").chain(line.iter().copied());
    Cli::try_parse_from(argv).expect("valid options").args
}

fn no_env(name: &str) -> anyhow::Result<Secret> {
    anyhow::bail!("environment variable {name} is not set (or empty)")
}

fn prepare_at(line: &[&str]) -> anyhow::Result<Prepared> {
    let now = Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap();
    prepare(&args(line), no_env, now)
}

fn header<'p>(prepared: &'p Prepared, name: &str) -> Option<&'p str> {
    prepared
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.to_str().unwrap())
}

fn header_map(prepared: &Prepared) -> HeaderMap {
    prepared.headers.iter().cloned().collect()
}

fn body(prepared: &Prepared) -> serde_json::Value {
    serde_json::from_slice(&prepared.body).unwrap()
}

#[test]
fn superoffice_timestamp_has_seven_fractional_digits() {
    let at = Utc
        .with_ymd_and_hms(2019, 3, 5, 14, 23, 5)
        .unwrap()
        .with_nanosecond(123_456_789)
        .unwrap();
    assert_eq!(sample::dotnet_time(at), "2019-03-05T14:23:05.1234567Z");
}

#[test]
fn sample_payloads_are_read_by_the_senders_envelopes() {
    let secret = ["--secret", "whsec_c2VjcmV0"];
    let cases = [
        ("sonar", &[][..], Envelope::Sonar, "account.status"),
        ("superoffice", &[], Envelope::SuperOffice, "contact.changed"),
        (
            "standard-webhooks",
            &secret,
            Envelope::StandardWebhooks,
            "invoice.paid",
        ),
        ("svix", &secret, Envelope::StandardWebhooks, "invoice.paid"),
        ("github", &[], Envelope::GitHub, "issues"),
        ("plain", &[], Envelope::Integration, "UPDATE"),
    ];
    for (sender, options, envelope, event) in cases {
        let mut line = vec!["http://x/", "--as", sender];
        line.extend(options);
        let prepared = prepare_at(&line).unwrap();
        let meta = envelope
            .extract(&header_map(&prepared), &body(&prepared))
            .unwrap_or_else(|e| panic!("{sender}: {e}"));
        assert_eq!(meta.event_type, event, "{sender}");
        assert!(!meta.test, "{sender}");
    }
}

#[test]
fn sample_payloads_are_dated_by_timestamp() {
    let prepared =
        prepare_at(&["http://x/", "--as", "sonar", "--timestamp", "1621975720"]).unwrap();
    let meta = Envelope::Sonar
        .extract(&HeaderMap::new(), &body(&prepared))
        .unwrap();
    assert_eq!(
        meta.created_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2021-05-25T20:48:40+00:00")
    );
}

#[test]
fn superoffice_test_sets_the_header_and_the_event() {
    let prepared = prepare_at(&["http://x/", "--as", "superoffice", "--test"]).unwrap();
    assert_eq!(header(&prepared, "x-hook-test"), Some("true"));
    assert_eq!(body(&prepared)["Event"], "test");
    let meta = Envelope::SuperOffice
        .extract(&header_map(&prepared), &body(&prepared))
        .unwrap();
    assert!(meta.test);
}

#[test]
fn superoffice_signs_only_when_given_a_secret() {
    let unsigned = prepare_at(&["http://x/", "--as", "superoffice"]).unwrap();
    assert_eq!(header(&unsigned, "x-superoffice-signature"), None);
    let signed = prepare_at(&["http://x/", "--as", "superoffice", "--secret", "s"]).unwrap();
    assert!(header(&signed, "x-superoffice-signature").is_some());
}

#[test]
fn delivery_id_appears_in_header_and_body_alike() {
    let prepared = prepare_at(&["http://x/", "--as", "superoffice", "--id", "e-1"]).unwrap();
    assert_eq!(header(&prepared, "x-superoffice-eventid"), Some("e-1"));
    assert_eq!(body(&prepared)["EventId"], "e-1");
}

fn fresh_id(sender: &str) -> Option<String> {
    sample::delivery_id(Sender::named(sender).unwrap().profile())
}

#[test]
fn fresh_delivery_ids_differ_and_look_like_the_senders() {
    let first = fresh_id("github").unwrap();
    let second = fresh_id("github").unwrap();
    assert_ne!(first, second);
    let groups: Vec<usize> = first.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12]);
    assert!(fresh_id("stripe").unwrap().starts_with("evt_"));
    assert!(fresh_id("standard-webhooks").unwrap().starts_with("msg_"));
    assert_eq!(fresh_id("sonar"), None);
}

#[test]
fn credential_headers_are_marked_sensitive() {
    let basic = prepare_at(&[
        "http://x/",
        "--as",
        "basic",
        "--user",
        "u",
        "--password",
        "pw",
    ])
    .unwrap();
    let token = prepare_at(&["http://x/", "--as", "token", "--secret", "tok"]).unwrap();
    let extra = prepare_at(&["http://x/", "--header-extra", "Authorization: Bearer tok"]).unwrap();
    for prepared in [basic, token, extra] {
        let (_, value) = prepared
            .headers
            .iter()
            .find(|(name, _)| name == AUTHORIZATION)
            .unwrap();
        assert!(value.is_sensitive());
    }
}

#[test]
fn token_in_another_header_is_sent_bare() {
    let prepared = prepare_at(&[
        "http://x/",
        "--as",
        "token",
        "--header",
        "x-api-key",
        "--secret",
        "tok",
    ])
    .unwrap();
    assert_eq!(header(&prepared, "x-api-key"), Some("tok"));
    assert_eq!(header(&prepared, "authorization"), None);
}

#[test]
fn extra_headers_replace_the_senders() {
    let prepared = prepare_at(&[
        "http://x/",
        "--header-extra",
        "Content-Type: text/plain",
        "--header-extra",
        "X-Trace: 1",
    ])
    .unwrap();
    let content_types: Vec<_> = prepared
        .headers
        .iter()
        .filter(|(name, _)| name == "content-type")
        .collect();
    assert_eq!(content_types.len(), 1);
    assert_eq!(header(&prepared, "content-type"), Some("text/plain"));
    assert_eq!(header(&prepared, "x-trace"), Some("1"));
}

#[test]
fn head_probe_carries_no_body_and_no_signature() {
    let prepared = prepare_at(&["http://x/", "--as", "github", "--head"]).unwrap();
    assert_eq!(prepared.method, Method::HEAD);
    assert!(prepared.body.is_empty());
    assert_eq!(header(&prepared, "x-hub-signature-256"), None);
}

#[test]
fn secret_is_read_from_the_named_variable() {
    let env = |name: &str| {
        assert_eq!(name, "HOOK_SECRET");
        Ok(Secret::from("s"))
    };
    let now = Utc::now();
    let args = args(&[
        "http://x/",
        "--as",
        "shopify",
        "--secret-env",
        "HOOK_SECRET",
    ]);
    let prepared = prepare(&args, env, now).unwrap();
    assert!(header(&prepared, "x-shopify-hmac-sha256").is_some());
}

#[test]
fn options_that_do_not_fit_the_sender_are_refused() {
    let refusals = [
        (&["--as", "stripe"][..], "--as stripe needs --secret"),
        (&["--as", "sonar", "--secret", "s"], "sonar sends no secret"),
        (
            &["--as", "sonar", "--id", "1"],
            "sonar sends no delivery id",
        ),
        (&["--as", "github", "--test"], "--event ping"),
        (&["--as", "basic", "--user", "u"], "--user needs --password"),
        (&["--as", "basic"], "--as basic needs --user and --password"),
        (
            &["--as", "basic", "--user", "u", "--secret", "s"],
            "not --secret",
        ),
        (&["--as", "plain", "--user", "u"], "for --as basic"),
        (&["--as", "plain", "--header", "x-key"], "for --as token"),
        (&["--as", "github", "--event", "push"], "--body or --data"),
        (
            &["--as", "github", "--json", "--secret", "s"],
            "github has no other JSON form; --json is for twilio",
        ),
        (
            &["--as", "slack", "--secret-env", "NOPE"],
            "NOPE is not set",
        ),
    ];
    for (line, expected) in refusals {
        let line: Vec<&str> = std::iter::once("http://x/")
            .chain(line.iter().copied())
            .collect();
        let error = prepare_at(&line).unwrap_err().to_string();
        assert!(error.contains(expected), "{line:?}: {error}");
    }
}

#[test]
fn extra_header_needs_a_colon() {
    assert!(parse_extra_header("X-Trace 1").is_err());
    let parsed = parse_extra_header("X-Trace:  a b ").unwrap();
    assert_eq!(parsed.name, "x-trace");
    assert_eq!(parsed.value, "a b");
}

#[test]
fn every_catalogue_provider_has_a_sender() {
    let missing: Vec<_> = receiver_sdk::verify::providers()
        .filter(|name| Sender::named(name).is_none())
        .collect();
    assert!(missing.is_empty(), "no `send --as` entry for {missing:?}");
}

#[test]
fn every_sample_is_json_or_a_form_that_carries_its_event_and_its_delivery_id() {
    // Each sender, and the JSON form of those that post forms by default.
    let forms = Sender::all().flat_map(|sender| {
        [
            Some((sender, false)),
            sender.json().map(|json| (json, true)),
        ]
    });
    for (sender, json) in forms.flatten() {
        let name = sender.name();
        let mut line = vec!["http://x/", "--as", name];
        if json {
            line.push("--json");
        }
        match name {
            "basic" => line.extend(["--user", "u", "--password", "pw"]),
            "discord" => line.extend(["--secret", DISCORD_SEED]),
            "standard-webhooks-v1a" => line.extend([
                "--secret",
                "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
            ]),
            "sendgrid" => line.extend(["--secret", P256_PKCS8]),
            _ if sender.profile().secret == SecretUse::Unused => {}
            _ => line.extend(["--secret", "whsec_c2VjcmV0"]),
        }
        let prepared = prepare_at(&line).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let text = String::from_utf8(prepared.body.to_vec()).unwrap();
        if sender.profile().content_type == "application/x-www-form-urlencoded" {
            let fields = form_urlencoded::parse(text.as_bytes()).count();
            assert!(fields > 1, "{name}: the sample is not a form: {text}");
        } else {
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{name}: the sample is not JSON: {e}\n{text}"));
        }
        let headers: Vec<String> = prepared
            .headers
            .iter()
            .map(|(_, value)| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        let carried = |value: &str| text.contains(value) || headers.iter().any(|h| h == value);
        let event = sender.profile().default_event();
        assert!(carried(event), "{name} does not say its event {event}");
        if let Some(id) = sample::delivery_id(sender.profile()) {
            let line = [&line[..], &["--id", &id]].concat();
            let prepared = prepare_at(&line).unwrap();
            let text = String::from_utf8(prepared.body.to_vec()).unwrap();
            let in_header = prepared
                .headers
                .iter()
                .any(|(_, value)| value == id.as_str());
            assert!(
                text.contains(&id) || in_header,
                "{name} does not send its id"
            );
        }
    }
}

/// RFC 8032's first Ed25519 test seed, for Discord's sender.
const DISCORD_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/// A PKCS#8 P-256 key for SendGrid's sender.
const P256_PKCS8: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgvgSfejsxsuS/O4DPP7lHCrUz+Ei0shp61kuwCfvZ48yhRANCAATwlgGz9+cLsRe/IEc2utTkEG+lhvJJg5yChoe+a9Dc3xN6y1VU1VQfzKlkzqqqpoLROT6Pksngkd7ZbT3VLHZ2";

#[test]
fn an_event_with_quotes_keeps_the_sample_json() {
    let prepared = prepare_at(&[
        "http://x/",
        "--as",
        "zoom",
        "--secret",
        "s",
        "--event",
        r#"meeting."ended""#,
    ])
    .unwrap();
    assert_eq!(body(&prepared)["event"], r#"meeting."ended""#);
}

#[test]
fn workos_signs_milliseconds_and_stripe_seconds() {
    let workos = prepare_at(&["http://x/", "--as", "workos", "--secret", "s"]).unwrap();
    let stripe = prepare_at(&["http://x/", "--as", "stripe", "--secret", "s"]).unwrap();
    let unix = Utc
        .with_ymd_and_hms(2024, 3, 1, 10, 0, 0)
        .unwrap()
        .timestamp();
    let workos = header(&workos, "workos-signature").unwrap();
    assert!(
        workos.starts_with(&format!("t={}", unix * 1000)),
        "{workos}"
    );
    let stripe = header(&stripe, "stripe-signature").unwrap();
    assert!(stripe.starts_with(&format!("t={unix},")), "{stripe}");
}

#[test]
fn meta_handshake_needs_the_verify_token_and_does_not_show_it() {
    let refused = prepare_at(&["http://x/", "--as", "meta", "--handshake"]).unwrap_err();
    assert!(refused.to_string().contains("--verify-token"), "{refused}");
    let prepared = prepare_at(&[
        "http://x/",
        "--as",
        "meta",
        "--handshake",
        "--verify-token",
        "vt",
    ])
    .unwrap();
    assert_eq!(prepared.method, Method::GET);
    assert!(prepared.url.as_str().contains("hub.verify_token=vt"));
    assert!(
        !prepared.shown_url.contains("=vt"),
        "{}",
        prepared.shown_url
    );
}

#[test]
fn zoom_handshake_is_signed_like_a_delivery() {
    let prepared =
        prepare_at(&["http://x/", "--as", "zoom", "--secret", "s", "--handshake"]).unwrap();
    assert_eq!(body(&prepared)["event"], "endpoint.url_validation");
    let mut headers = header_map(&prepared);
    headers.insert(
        "x-zm-request-timestamp",
        header(&prepared, "x-zm-request-timestamp")
            .unwrap()
            .parse()
            .unwrap(),
    );
    let verifier = receiver_sdk::verify::Verifier::provider("zoom", ["s"]).unwrap();
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_709_287_200);
    assert!(verifier.verify(&headers, &prepared.body, at).is_ok());
}

#[test]
fn an_echo_in_the_wrong_content_type_is_not_what_microsoft_graph_requires() {
    let expect = handshake::Expect::Echo {
        value: "token".to_owned(),
        plain: true,
    };
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    let why = expect
        .check(http::StatusCode::OK, &headers, b"token")
        .unwrap_err();
    assert!(why.contains("not text/plain"), "{why}");
    headers.insert("content-type", "text/plain".parse().unwrap());
    assert!(expect
        .check(http::StatusCode::OK, &headers, b"token")
        .is_ok());
    assert!(expect
        .check(http::StatusCode::OK, &headers, b"other")
        .is_err());
}

#[test]
fn a_slack_challenge_echoed_as_plain_text_will_do() {
    let expect = handshake::Expect::Json {
        pointer: "/challenge",
        value: "c-1".to_owned(),
        or_plain: true,
    };
    let ok = http::StatusCode::OK;
    assert!(expect
        .check(ok, &HeaderMap::new(), br#"{"challenge":"c-1"}"#)
        .is_ok());
    assert!(expect.check(ok, &HeaderMap::new(), b"c-1").is_ok());
    assert!(expect
        .check(ok, &HeaderMap::new(), br#"{"challenge":"c-2"}"#)
        .is_err());
}

/// The senders whose signature covers the URL posted to, or whose body carries the credential.
const REQUEST_SIGNERS: [&str; 7] = [
    "hubspot",
    "mailgun",
    "microsoft-graph",
    "square",
    "trello",
    "twilio",
    "twitch",
];

fn verifies(name: &str, secret: &str, prepared: &Prepared, url: &str) -> bool {
    let verifier = receiver_sdk::verify::Verifier::provider(name, [secret]).unwrap();
    let headers = header_map(prepared);
    let request =
        receiver_sdk::verify::SignedRequest::new(&prepared.method, url, &headers, &prepared.body);
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_709_287_200);
    verifier.verify_request(&request, at).is_ok()
}

#[test]
fn request_signed_deliveries_verify_with_the_catalogue_and_only_with_their_secret() {
    let url = "https://hooks.example.com/in/orders?source=send";
    for name in REQUEST_SIGNERS {
        let prepared = prepare_at(&[url, "--as", name, "--secret", "s3cret"]).unwrap();
        let sent = prepared.url.as_str();
        assert!(verifies(name, "s3cret", &prepared, sent), "{name}");
        assert!(!verifies(name, "other", &prepared, sent), "{name}");
    }
}

#[test]
fn url_signed_deliveries_do_not_verify_at_another_url() {
    let url = "https://hooks.example.com/in/orders";
    for name in ["hubspot", "square", "trello", "twilio"] {
        let prepared = prepare_at(&[url, "--as", name, "--secret", "s3cret"]).unwrap();
        let elsewhere = "https://hooks.example.com/in/refunds";
        assert!(verifies(name, "s3cret", &prepared, url), "{name}");
        assert!(!verifies(name, "s3cret", &prepared, elsewhere), "{name}");
    }
}

#[test]
fn a_credential_in_the_body_is_written_into_data_given_too() {
    let data = r#"{"value":[{"changeType":"created"},{"changeType":"updated"}]}"#;
    let line = ["http://x/", "--as", "microsoft-graph", "--secret", "state"];
    let prepared = prepare_at(&[&line[..], &["--data", data]].concat()).unwrap();
    let states: Vec<_> = body(&prepared)["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["clientState"].clone())
        .collect();
    assert_eq!(states, ["state", "state"]);
    let refused = prepare_at(&[&line[..], &["--data", "not json"]].concat());
    assert!(refused.is_err());
}

#[test]
fn only_a_pong_is_what_discord_requires() {
    let ok = http::StatusCode::OK;
    let none = HeaderMap::new();
    let pong = handshake::Expect::Pong;
    assert!(pong.check(ok, &none, br#"{"type":1}"#).is_ok());
    assert!(pong.check(ok, &none, br#"{"type":4}"#).is_err());
    assert!(pong.check(ok, &none, b"").is_err());
}

#[test]
fn asana_requires_its_secret_back_in_the_header() {
    let expect = handshake::Expect::HeaderEcho {
        name: "x-hook-secret",
        value: Secret::from("s-1"),
    };
    let ok = http::StatusCode::OK;
    let mut headers = HeaderMap::new();
    assert!(expect.check(ok, &headers, b"").is_err());
    headers.insert("x-hook-secret", "s-2".parse().unwrap());
    assert!(expect.check(ok, &headers, b"").is_err());
    headers.insert("x-hook-secret", "s-1".parse().unwrap());
    assert!(expect.check(ok, &headers, b"").is_ok());
}

#[test]
fn twitch_verification_is_signed_and_says_its_message_type_once() {
    let line = [
        "http://x/",
        "--as",
        "twitch",
        "--secret",
        "s",
        "--handshake",
    ];
    let prepared = prepare_at(&line).unwrap();
    let types: Vec<_> = prepared
        .headers
        .iter()
        .filter(|(name, _)| name == "twitch-eventsub-message-type")
        .map(|(_, value)| value.to_str().unwrap())
        .collect();
    assert_eq!(types, ["webhook_callback_verification"]);
    assert!(body(&prepared)["challenge"].is_string());
    assert!(verifies("twitch", "s", &prepared, prepared.url.as_str()));
}

#[test]
fn asana_and_trello_handshakes_carry_no_signature() {
    let asana = prepare_at(&["http://x/", "--as", "asana", "--secret", "s", "--handshake"]);
    let asana = asana.unwrap();
    assert_eq!(header(&asana, "x-hook-secret"), Some("s"));
    assert_eq!(header(&asana, "x-hook-signature"), None);
    let trello = prepare_at(&["http://x/", "--as", "trello", "--handshake"]).unwrap();
    assert_eq!(trello.method, http::Method::HEAD);
    assert_eq!(header(&trello, "x-trello-webhook"), None);
}
