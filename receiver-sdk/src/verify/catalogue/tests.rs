//! What is particular to the catalogue and its engine: independently computed vectors (Python's
//! `hmac` module, so a bug shared by the engine and the `sign` helpers would show), header
//! layouts with several signatures, and the names. The behaviour every sender shares is in the
//! contract suite (`verify/contract.rs`).

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;
use crate::verify::test_support::{at, kind, malformed};
use crate::verify::{sign, FailureKind};

fn with(pairs: &[(&'static str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            let value = HeaderValue::from_str(value).expect("visible ASCII");
            (HeaderName::from_static(name), value)
        })
        .collect()
}

fn verifier(name: &str, secret: &str) -> Verifier {
    Verifier::provider(name, [secret]).expect("a known provider")
}

// Each vector: `hmac.new(secret, message, hashlib.<algorithm>)` in Python, hex or base64.

#[test]
fn github_sha1_matches_an_independent_hmac_sha1() {
    let headers = with(&[(
        "x-hub-signature",
        "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
    )]);
    let verifier = verifier("github-sha1", "It's a Secret to Everybody");
    assert_eq!(verifier.verify(&headers, b"Hello, World!", at(0)), Ok(()));
    assert_eq!(
        sign::github_sha1("It's a Secret to Everybody", b"Hello, World!"),
        "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"
    );
}

#[test]
fn zoom_signs_v0_timestamp_and_body() {
    let body = br#"{"event":"meeting.started","payload":{"object":{"id":"85432"}}}"#;
    let signature = "v0=c910c41b7860b0923d9a095a8194fbbe66ec12ff9b7cf150e711e70f8978c687";
    let headers = with(&[
        ("x-zm-signature", signature),
        ("x-zm-request-timestamp", "1700000000"),
    ]);
    let verifier = verifier("zoom", "zoom_secret_token");
    assert_eq!(verifier.verify(&headers, body, at(1_700_000_000)), Ok(()));
    assert_eq!(
        sign::zoom("zoom_secret_token", 1_700_000_000, body),
        signature
    );
}

#[test]
fn zoom_without_its_timestamp_header_names_it() {
    let body = b"{}";
    let headers = with(&[("x-zm-signature", &sign::zoom("s", 1_700_000_000, body))]);
    let missing = FailureKind::MissingHeader {
        header: HeaderName::from_static("x-zm-request-timestamp"),
    };
    assert_eq!(
        kind(&verifier("zoom", "s"), &headers, body, at(1_700_000_000)),
        missing
    );
}

#[test]
fn paddle_accepts_any_of_several_h1_signatures() {
    let body = br#"{"event_id":"evt_01h","event_type":"transaction.completed"}"#;
    let valid = "f9d3b075f6e0b21ce2157f39a9eaee0b1ae03f81e030c52eb85157fb19c926c4";
    let value = format!("ts=1700000000;h1={};h1={valid}", "0".repeat(64));
    let headers = with(&[("paddle-signature", &value)]);
    let verifier = verifier("paddle", "pdl_ntfset_01h_secret");
    assert_eq!(verifier.verify(&headers, body, at(1_700_000_001)), Ok(()));
}

#[test]
fn workos_timestamp_is_in_milliseconds_and_may_follow_a_space() {
    let body = br#"{"id":"wh_123","event":"user.created"}"#;
    let value =
        "t=1700000000123, v1=328d9546896730c0efac9699fa76aa7677a509f456ac2a7a6efabe02f8857668";
    let headers = with(&[("workos-signature", value)]);
    let verifier = verifier("workos", "workos_webhook_secret");
    assert_eq!(verifier.verify(&headers, body, at(1_700_000_010)), Ok(()));
    let late = kind(&verifier, &headers, body, at(1_700_000_000 + 301));
    assert_eq!(late, FailureKind::TimestampExpired);
}

#[test]
fn typeform_and_line_are_base64() {
    let typeform = br#"{"event_id":"01H","event_type":"form_response"}"#;
    let headers = with(&[(
        "typeform-signature",
        "sha256=DFImc4eURLeC0kW60ZBG9Qs/CU10PvTlYf7VB3PRpMU=",
    )]);
    assert_eq!(
        verifier("typeform", "typeform_secret").verify(&headers, typeform, at(0)),
        Ok(())
    );
    let line = br#"{"destination":"U123","events":[]}"#;
    let headers = with(&[(
        "x-line-signature",
        "HK/pSzWdejbIqUsRM3ecEgfHUpDxHDAjl4Njvg6gIao=",
    )]);
    assert_eq!(
        verifier("line", "line_channel_secret").verify(&headers, line, at(0)),
        Ok(())
    );
}

#[test]
fn vercel_is_hmac_sha1_hex() {
    let body = br#"{"type":"deployment.created"}"#;
    let headers = with(&[(
        "x-vercel-signature",
        "f28e71d7041ca274efa7452942f15343b34909d5",
    )]);
    assert_eq!(
        verifier("vercel", "vercel_client_secret").verify(&headers, body, at(0)),
        Ok(())
    );
}

#[test]
fn pagerduty_accepts_any_of_several_v1_signatures() {
    let body = br#"{"event":{"event_type":"incident.triggered"}}"#;
    let value = format!(
        "v1={},{}",
        "ab".repeat(32),
        sign::pagerduty("pd-secret", body)
    );
    let headers = with(&[("x-pagerduty-signature", &value)]);
    assert_eq!(
        verifier("pagerduty", "pd-secret").verify(&headers, body, at(0)),
        Ok(())
    );
}

#[test]
fn a_list_without_the_signature_key_has_no_supported_signature() {
    let headers = with(&[("paddle-signature", "ts=1700000000;h2=abcd")]);
    let failure = kind(&verifier("paddle", "s"), &headers, b"{}", at(1_700_000_000));
    assert_eq!(
        failure,
        FailureKind::NoSupportedSignature {
            header: HeaderName::from_static("paddle-signature")
        }
    );
}

#[test]
fn a_list_without_its_timestamp_or_with_two_is_malformed() {
    let signature = format!("v1={}", "ab".repeat(32));
    for value in [
        signature.clone(),
        format!("t=1700000000,t=1700000001,{signature}"),
        format!("t=1700000000,{signature},garbage"),
    ] {
        let headers = with(&[("mux-signature", &value)]);
        let failure = kind(&verifier("mux", "s"), &headers, b"{}", at(1_700_000_000));
        assert_eq!(failure, malformed("mux-signature"), "{value}");
    }
}

#[test]
fn a_missing_prefix_or_a_signature_of_the_wrong_length_is_malformed() {
    for value in [
        "01dc10d0c83e72ed246219cdd91669667fe2ca59".to_owned(),
        format!("sha1={}", "ab".repeat(32)),
        "sha1=zz".to_owned(),
    ] {
        let headers = with(&[("x-hub-signature", &value)]);
        let failure = kind(&verifier("github-sha1", "s"), &headers, b"{}", at(0));
        assert_eq!(failure, malformed("x-hub-signature"), "{value}");
    }
}

#[test]
fn the_built_in_schemes_are_in_the_catalogue_under_their_names() {
    let body = b"Hello, World!";
    let headers = with(&[(
        "x-hub-signature-256",
        &sign::github("It's a Secret to Everybody", body),
    )]);
    let github = verifier("github", "It's a Secret to Everybody");
    assert_eq!(github.verify(&headers, body, at(0)), Ok(()));
    for name in ["shopify", "slack", "stripe", "superoffice"] {
        assert!(Verifier::provider(name, ["s"]).is_ok(), "{name}");
    }
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    for name in ["standard-webhooks", "svix"] {
        assert!(Verifier::provider(name, [secret]).is_ok(), "{name}");
    }
    assert_eq!(
        Verifier::provider("svix", ["whsec_not base64!"]).unwrap_err(),
        ProviderError::Secrets(SecretError::InvalidBase64Secret { index: 0 })
    );
}

#[test]
fn an_unknown_name_lists_the_known_ones() {
    let error = Verifier::provider("Zoom", ["s"]).unwrap_err();
    assert_eq!(
        error,
        ProviderError::Unknown {
            name: "Zoom".into()
        }
    );
    let message = error.to_string();
    for name in providers() {
        assert!(message.contains(name), "{message} lacks {name}");
    }
}

#[test]
fn names_are_sorted_unique_lower_case_and_hyphenated() {
    let names: Vec<_> = providers().collect();
    assert!(names.windows(2).all(|pair| pair[0] < pair[1]), "{names:?}");
    for name in &names {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name}"
        );
    }
    assert_eq!(names.len(), 43);
}

#[test]
fn secrets_are_checked_like_every_scheme_checks_them() {
    let none: [&str; 0] = [];
    assert_eq!(
        Verifier::provider("zoom", none).unwrap_err(),
        ProviderError::Secrets(SecretError::NoSecrets)
    );
    assert_eq!(
        Verifier::provider("linear", ["ok", " "]).unwrap_err(),
        ProviderError::Secrets(SecretError::EmptySecret { index: 1 })
    );
}

#[test]
fn sha512_and_a_signed_header_are_supported_by_the_engine() {
    let scheme = HmacScheme {
        algorithm: HmacAlgorithm::Sha512,
        message: vec![
            SignedPart::Header(HeaderName::from_static("x-delivery")),
            SignedPart::Literal(".".into()),
            SignedPart::Body,
        ]
        .into(),
        header: HeaderName::from_static("x-signature"),
        layout: SignatureLayout::Plain { prefix: None },
        encoding: crate::verify::SignatureEncoding::Hex,
        timestamp: None,
    };
    let verifier = Verifier::hmac(scheme.clone(), ["key"]).expect("a valid secret");
    let delivery = with(&[("x-delivery", "d-1")]);
    let signature = sign::hmac_scheme(&scheme, "key", None, &delivery, b"{}");
    // Python: hmac.new(b"key", b"d-1.{}", hashlib.sha512).hexdigest()
    assert_eq!(signature, SHA512_VECTOR);
    let headers = with(&[("x-delivery", "d-1"), ("x-signature", &signature)]);
    assert_eq!(verifier.verify(&headers, b"{}", at(0)), Ok(()));
    let other = with(&[("x-delivery", "d-2"), ("x-signature", &signature)]);
    assert_eq!(
        kind(&verifier, &other, b"{}", at(0)),
        FailureKind::SignatureMismatch
    );
}

const SHA512_VECTOR: &str = "a1a12a15d517a5df8dd67e94f94f36dc4ee8703be1ea37f0a93dcbfb2cad9e49330d609510c64701e8b4886ccecdde1f25b4020d4df575afbcc3510596543ad5";

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A Standard Webhooks delivery of `body` signed with `secret`, under `prefix` header names
/// (`webhook` or `svix`).
fn standard_delivery(prefix: &str, secret: &str, body: &[u8]) -> HeaderMap {
    let signature = sign::standard_webhooks(secret, "msg_1", 1_700_000_000, body)
        .expect("a valid whsec_ secret");
    let name = |suffix: &str| HeaderName::try_from(format!("{prefix}-{suffix}")).expect("a name");
    [
        (name("id"), "msg_1".to_owned()),
        (name("timestamp"), "1700000000".to_owned()),
        (name("signature"), signature),
    ]
    .into_iter()
    .map(|(name, value)| (name, HeaderValue::from_str(&value).expect("visible ASCII")))
    .collect()
}

#[test]
fn senders_built_on_standard_webhooks_verify_what_it_signs() {
    let body = br#"{"type":"user.created","data":{"id":"user_1"}}"#;
    // Clerk and Resend deliver through Svix (`svix-` headers); OpenAI sends `webhook-` headers.
    for (name, prefix) in [
        ("clerk", "svix"),
        ("resend", "svix"),
        ("openai", "webhook"),
        ("svix", "svix"),
        ("standard-webhooks", "webhook"),
    ] {
        let verifier = verifier(name, WHSEC);
        let headers = standard_delivery(prefix, WHSEC, body);
        assert_eq!(
            verifier.verify(&headers, body, at(1_700_000_000)),
            Ok(()),
            "{name}"
        );
        assert_eq!(
            kind(
                &verifier,
                &headers,
                br#"{"type":"user.created","data":{"id":"user_2"}}"#,
                at(1_700_000_000)
            ),
            FailureKind::SignatureMismatch,
            "{name}"
        );
        assert!(
            !verifier.authenticates_only_the_body(),
            "{name} signs the id"
        );
    }
}

#[test]
fn polar_keys_with_the_secret_as_shown_not_its_base64() {
    use base64::Engine as _;
    // Polar's SDK base64-encodes the dashboard secret and hands it to a Standard Webhooks
    // verifier; signing with that encoding is what Polar sends.
    let shown = "polar_whs_ExampleSecret0123456789";
    let encoded = base64::engine::general_purpose::STANDARD.encode(shown);
    let body = br#"{"type":"order.paid","data":{"id":"ord_1"}}"#;
    let headers = standard_delivery("webhook", &encoded, body);
    let verifier = verifier("polar", shown);
    assert_eq!(verifier.verify(&headers, body, at(1_700_000_000)), Ok(()));
    let wrong = Verifier::provider("polar", ["polar_whs_other"]).expect("any text is a key");
    assert_eq!(
        kind(&wrong, &headers, body, at(1_700_000_000)),
        FailureKind::SignatureMismatch
    );
}

#[test]
fn a_polar_secret_that_is_a_standard_webhooks_secret_verifies_keyed_either_way() {
    use base64::Engine as _;
    // Polar's SDK (1.0.1) also tries such a secret decoded, as Standard Webhooks keys it.
    let whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = br#"{"type":"order.paid","data":{"id":"ord_1"}}"#;
    let verifier = verifier("polar", whsec);
    let as_shown = base64::engine::general_purpose::STANDARD.encode(whsec);
    for key in [whsec, as_shown.as_str()] {
        let headers = standard_delivery("webhook", key, body);
        assert_eq!(
            verifier.verify(&headers, body, at(1_700_000_000)),
            Ok(()),
            "{key}"
        );
    }
    let other = standard_delivery("webhook", "whsec_dGhpcyBpcyBhbm90aGVyIGtleQ==", body);
    assert_eq!(
        kind(&verifier, &other, body, at(1_700_000_000)),
        FailureKind::SignatureMismatch
    );
}

#[test]
fn gitlab_and_okta_compare_a_static_token_header() {
    for (name, header) in [("gitlab", "x-gitlab-token"), ("okta", "authorization")] {
        let verifier = Verifier::provider(name, ["old-token-value", "new-token-value"])
            .expect("tokens are secrets");
        let right = with(&[(header, "new-token-value")]);
        assert_eq!(verifier.verify(&right, b"{}", at(0)), Ok(()), "{name}");
        let wrong = with(&[(header, "new-token-valuf")]);
        assert!(verifier.verify(&wrong, b"{}", at(0)).is_err(), "{name}");
        assert!(
            verifier.verify(&HeaderMap::new(), b"{}", at(0)).is_err(),
            "{name}"
        );
    }
}

#[test]
fn public_key_senders_are_named_in_the_catalogue() {
    let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    let public = sign::discord_public_key(seed).expect("a hex seed");
    let body = br#"{"type":2}"#;
    let headers = with(&[
        (
            "x-signature-ed25519",
            &sign::discord(seed, 1_700_000_000, body).expect("a seed"),
        ),
        ("x-signature-timestamp", "1700000000"),
    ]);
    let discord = Verifier::provider("discord", [public]).expect("a hex public key");
    assert_eq!(discord.verify(&headers, body, at(1_700_000_000)), Ok(()));
    assert_eq!(
        kind(&discord, &headers, br#"{"type":3}"#, at(1_700_000_000)),
        FailureKind::SignatureMismatch
    );

    let secret = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    let whpk = sign::standard_webhooks_public_key(secret).expect("a whsk_ key");
    let signature =
        sign::standard_webhooks_v1a(secret, "msg_1", 1_700_000_000, body).expect("a whsk_ key");
    let headers = with(&[
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", "1700000000"),
        ("webhook-signature", &signature),
    ]);
    let v1a = Verifier::provider("standard-webhooks-v1a", [whpk]).expect("a whpk_ key");
    assert_eq!(v1a.verify(&headers, body, at(1_700_000_000)), Ok(()));

    for name in ["discord", "sendgrid", "standard-webhooks-v1a"] {
        assert!(
            matches!(
                Verifier::provider(name, ["not a key"]),
                Err(ProviderError::Secrets(SecretError::InvalidPublicKey {
                    index: 0,
                    ..
                }))
            ),
            "{name}"
        );
    }
}

const TWITCH_BODY: &[u8] =
    br#"{"subscription":{"type":"channel.follow"},"event":{"user_id":"1337"}}"#;
const TWITCH_ID: &str = "e76c6bd4-55c9-4987-8304-da1588d8988b";
const TWITCH_AT: &str = "2023-07-19T10:11:12.123456789Z";
/// 2023-07-19T10:11:12Z in unix seconds.
const TWITCH_UNIX: u64 = 1_689_761_472;

fn twitch_delivery(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    with(&[
        ("twitch-eventsub-message-id", id),
        ("twitch-eventsub-message-timestamp", timestamp),
        ("twitch-eventsub-message-signature", signature),
    ])
}

#[test]
fn twitch_signs_message_id_timestamp_and_body() {
    // Python: hmac.new(secret, id + timestamp + body, hashlib.sha256).hexdigest()
    let signature = "sha256=d9725b182caedeab0f8c609871f631806b6e845b319b0f25da401ef548f546ce";
    assert_eq!(
        sign::twitch(
            "twitch_secret_0123456789",
            TWITCH_ID,
            TWITCH_AT,
            TWITCH_BODY
        ),
        signature
    );
    let verifier = verifier("twitch", "twitch_secret_0123456789");
    let headers = twitch_delivery(TWITCH_ID, TWITCH_AT, signature);
    assert_eq!(
        verifier.verify(&headers, TWITCH_BODY, at(TWITCH_UNIX)),
        Ok(())
    );
    let other_id = twitch_delivery("e76c6bd4-55c9-4987-8304-da1588d8988c", TWITCH_AT, signature);
    assert_eq!(
        kind(&verifier, &other_id, TWITCH_BODY, at(TWITCH_UNIX)),
        FailureKind::SignatureMismatch
    );
    assert!(!verifier.authenticates_only_the_body(), "the id is signed");
}

#[test]
fn twitch_refuses_messages_older_than_ten_minutes() {
    let verifier = verifier("twitch", "s");
    let signature = sign::twitch("s", TWITCH_ID, TWITCH_AT, TWITCH_BODY);
    let headers = twitch_delivery(TWITCH_ID, TWITCH_AT, &signature);
    assert_eq!(
        verifier.verify(&headers, TWITCH_BODY, at(TWITCH_UNIX + 600)),
        Ok(())
    );
    assert_eq!(
        kind(&verifier, &headers, TWITCH_BODY, at(TWITCH_UNIX + 601)),
        FailureKind::TimestampExpired
    );
    assert_eq!(
        kind(&verifier, &headers, TWITCH_BODY, at(TWITCH_UNIX - 601)),
        FailureKind::TimestampInFuture
    );
}

#[test]
fn twitch_timestamps_are_rfc_3339_with_or_without_fractions() {
    let verifier = verifier("twitch", "s");
    for timestamp in [
        "2023-07-19T10:11:12Z",
        "2023-07-19T10:11:12.5Z",
        "2023-07-19T12:11:12+02:00",
    ] {
        let signature = sign::twitch("s", TWITCH_ID, timestamp, TWITCH_BODY);
        let headers = twitch_delivery(TWITCH_ID, timestamp, &signature);
        assert_eq!(
            verifier.verify(&headers, TWITCH_BODY, at(TWITCH_UNIX)),
            Ok(()),
            "{timestamp}"
        );
    }
    for timestamp in ["1689761472", "2023-07-19 10:11:12", "1969-12-31T23:59:59Z"] {
        let signature = sign::twitch("s", TWITCH_ID, timestamp, TWITCH_BODY);
        let headers = twitch_delivery(TWITCH_ID, timestamp, &signature);
        assert_eq!(
            kind(&verifier, &headers, TWITCH_BODY, at(TWITCH_UNIX)),
            malformed("twitch-eventsub-message-timestamp"),
            "{timestamp}"
        );
    }
}

const LINEAR_BODY: &[u8] =
    br#"{"action":"create","type":"Issue","data":{"id":"iss_1"},"webhookTimestamp":1700000000123}"#;

#[test]
fn linear_signs_the_body_and_dates_it_by_webhook_timestamp() {
    // Python: hmac.new(b"lin_wh_secret", body, hashlib.sha256).hexdigest()
    let signature = "176e0da58fa8bb060dc9106435e62d94d59a1aab448299ffc6c6ed53654f892b";
    assert_eq!(sign::linear("lin_wh_secret", LINEAR_BODY), signature);
    let headers = with(&[("linear-signature", signature)]);
    let verifier = verifier("linear", "lin_wh_secret");
    assert_eq!(
        verifier.verify(&headers, LINEAR_BODY, at(1_700_000_060)),
        Ok(())
    );
    // Linear's SDK allows a minute either way.
    assert_eq!(
        kind(&verifier, &headers, LINEAR_BODY, at(1_700_000_061)),
        FailureKind::TimestampExpired
    );
    assert_eq!(
        kind(&verifier, &headers, LINEAR_BODY, at(1_699_999_939)),
        FailureKind::TimestampInFuture
    );
}

#[test]
fn linear_without_a_webhook_timestamp_fails_even_when_signed() {
    let verifier = verifier("linear", "s");
    for body in [
        &br#"{"action":"create","type":"Issue"}"#[..],
        br#"{"webhookTimestamp":"1700000000123"}"#,
        b"not json",
    ] {
        let headers = with(&[("linear-signature", &sign::linear("s", body))]);
        assert!(
            matches!(
                kind(&verifier, &headers, body, at(1_700_000_000)),
                FailureKind::Other { .. }
            ),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn linear_checks_the_signature_before_it_reads_the_body() {
    let verifier = verifier("linear", "s");
    let headers = with(&[("linear-signature", &"ab".repeat(32))]);
    assert_eq!(
        kind(&verifier, &headers, b"not json", at(0)),
        FailureKind::SignatureMismatch
    );
}

#[test]
fn a_documented_tolerance_still_yields_to_with_tolerance() {
    let verifier = verifier("linear", "s").with_tolerance(std::time::Duration::from_secs(600));
    let headers = with(&[("linear-signature", &sign::linear("s", LINEAR_BODY))]);
    assert_eq!(
        verifier.verify(&headers, LINEAR_BODY, at(1_700_000_500)),
        Ok(())
    );
}

// The senders that sign the URL: Twilio, Square, HubSpot v3, Trello. Their vectors are Python's
// `hmac` over the string each sender's documentation describes; what they share with every
// sender (rotation, a changed body, URL or method, the timestamp) is in the contract suite.

use crate::verify::SignedRequest;

fn posted<'a>(url: &'a str, headers: &'a HeaderMap, body: &'a [u8]) -> SignedRequest<'a> {
    SignedRequest::new(&http::Method::POST, url, headers, body)
}

fn request_kind(verifier: &Verifier, request: &SignedRequest<'_>, now: u64) -> FailureKind {
    verifier
        .verify_request(request, at(now))
        .expect_err("the delivery must be refused")
        .kind()
        .clone()
}

const TWILIO_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const TWILIO_FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234\
    &From=%2B12349013030&To=%2B18005551212";
// Twilio's webhook security documentation, and `getExpectedTwilioSignature` of `twilio` 6.3.1.
const TWILIO_SIGNATURE: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

#[test]
fn twilio_signs_the_url_and_the_sorted_form_parameters() {
    let headers = with(&[("x-twilio-signature", TWILIO_SIGNATURE)]);
    let verifier = verifier("twilio", "12345");
    let request = posted(TWILIO_URL, &headers, TWILIO_FORM);
    assert_eq!(verifier.verify_request(&request, at(0)), Ok(()));
    assert_eq!(
        sign::twilio("12345", TWILIO_URL, TWILIO_FORM),
        TWILIO_SIGNATURE
    );
    // The order the parameters are sent in does not matter; their values do.
    let reordered = b"To=%2B18005551212&From=%2B12349013030&Digits=1234\
        &Caller=%2B12349013030&CallSid=CA1234567890ABCDE";
    let request = posted(TWILIO_URL, &headers, reordered);
    assert_eq!(verifier.verify_request(&request, at(0)), Ok(()));
}

#[test]
fn twilio_accepts_the_url_with_or_without_its_default_port() {
    let headers = with(&[("x-twilio-signature", TWILIO_SIGNATURE)]);
    let verifier = verifier("twilio", "12345");
    let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    let request = posted(with_port, &headers, TWILIO_FORM);
    assert_eq!(verifier.verify_request(&request, at(0)), Ok(()));
    let signed_with_port = sign::twilio("12345", with_port, TWILIO_FORM);
    let headers = with(&[("x-twilio-signature", &signed_with_port)]);
    let request = posted(TWILIO_URL, &headers, TWILIO_FORM);
    assert_eq!(verifier.verify_request(&request, at(0)), Ok(()));
    let other_port = "https://mycompany.com:8443/myapp.php?foo=1&bar=2";
    let request = posted(other_port, &headers, TWILIO_FORM);
    assert_eq!(
        request_kind(&verifier, &request, 0),
        FailureKind::UrlSignatureMismatch
    );
}

#[test]
fn twilio_json_is_authenticated_by_the_body_hash_in_the_signed_url() {
    let body = br#"{"event":"message.delivered","sid":"SM1"}"#;
    let url = format!(
        "https://example.com/twilio?bodySHA256={}",
        sign::twilio_body_sha256(body)
    );
    // Python: hashlib.sha256(body).hexdigest()
    assert!(url.ends_with("6c0f1c6b00798ada1422ed57955ab78e3e405389d24c51e88de934ce88aec256"));
    let signature = sign::twilio("auth-token", &url, body);
    let headers = with(&[("x-twilio-signature", &signature)]);
    let verifier = verifier("twilio", "auth-token");
    assert_eq!(
        verifier.verify_request(&posted(&url, &headers, body), at(0)),
        Ok(())
    );
}

#[test]
fn twilio_repeated_parameters_are_signed_once_each_value_sorted() {
    // As `twilio` 6.3.1 signs an array parameter: its distinct values sorted, each after the
    // name; `getExpectedTwilioSignature` agrees. Python:
    // hmac.new(b"t", b"https://x.test/hAbMediaUrlaMediaUrlb", sha1)
    let url = "https://x.test/h";
    let body = b"MediaUrl=b&Ab=&MediaUrl=a&MediaUrl=b";
    let signature = sign::twilio("t", url, body);
    assert_eq!(signature, "67zjAscGTan3I3kXyW2sSf3c5dU=");
    let headers = with(&[("x-twilio-signature", &signature)]);
    assert_eq!(
        verifier("twilio", "t").verify_request(&posted(url, &headers, body), at(0)),
        Ok(())
    );
}

#[test]
fn square_signs_the_notification_url_then_the_body() {
    let url = "https://example.com/webhooks/square";
    let body = br#"{"merchant_id":"MLEFBHHSJGVHD","type":"payment.updated","event_id":"ev_1"}"#;
    let signature = "bCQD8uAPRR7wnwAmovZBtpKdeNfbWVLXCVJooYJkDYI=";
    assert_eq!(sign::square("sq-signature-key", url, body), signature);
    let headers = with(&[("x-square-hmacsha256-signature", signature)]);
    let verifier = Verifier::provider("square", ["old-key", "sq-signature-key"]).expect("keys");
    assert_eq!(
        verifier.verify_request(&posted(url, &headers, body), at(0)),
        Ok(())
    );
}

#[test]
fn hubspot_signs_method_decoded_uri_body_and_millisecond_timestamp() {
    let body = br#"[{"eventId":1,"subscriptionType":"contact.creation","objectId":123}]"#;
    // HubSpot decodes `%3A`, `%2F` (and the rest of its list) in the URI before signing.
    let received = "https://example.com/hubspot?return=https%3A%2F%2Fx.test%2Fa%3ab";
    let signature = "l/mE5IPcflfEqXyEm0zJ2HFgQZEbNme8oWMMmUyKajA=";
    let signed_at = 1_700_000_000_123;
    assert_eq!(
        sign::hubspot("hubspot-client-secret", "POST", received, body, signed_at),
        signature
    );
    let headers = with(&[
        ("x-hubspot-signature-v3", signature),
        ("x-hubspot-request-timestamp", "1700000000123"),
    ]);
    let verifier = verifier("hubspot", "hubspot-client-secret");
    let request = posted(received, &headers, body);
    assert_eq!(verifier.verify_request(&request, at(1_700_000_100)), Ok(()));
}

#[test]
fn hubspot_decodes_only_the_escapes_its_documentation_lists() {
    // `%20` and `%2B` are not in HubSpot's list: they are signed as sent.
    let body = b"[]";
    let encoded = "https://example.com/h?q=a%20b%2Bc%3F";
    let decoded = "https://example.com/h?q=a%20b%2Bc?";
    assert_eq!(
        sign::hubspot("s", "POST", encoded, body, 1),
        sign::hubspot("s", "POST", decoded, body, 1)
    );
    assert_ne!(
        sign::hubspot("s", "POST", encoded, body, 1),
        sign::hubspot("s", "POST", "https://example.com/h?q=a b+c?", body, 1)
    );
}

#[test]
fn trello_signs_the_body_then_the_callback_url() {
    // Trello publishes no vector: this is HMAC-SHA1 of body + callbackURL as its
    // documentation describes, computed with Python.
    let url = "https://example.com/trelloCallback";
    let body = br#"{"action":{"type":"updateCard"},"model":{"id":"4d5ea62fd76aa1136000000c"}}"#;
    let signature = "CDCUi42Y02MpPJWDLmrvGiygR1Y=";
    assert_eq!(sign::trello("trello-app-secret", url, body), signature);
    let headers = with(&[("x-trello-webhook", signature)]);
    let verifier = verifier("trello", "trello-app-secret");
    assert_eq!(
        verifier.verify_request(&posted(url, &headers, body), at(0)),
        Ok(())
    );
}

#[test]
fn a_signature_for_another_url_says_to_check_public_url() {
    let body = b"Body=hello";
    let signature = sign::square("s", "https://public.example/hook", body);
    let headers = with(&[("x-square-hmacsha256-signature", &signature)]);
    let request = posted("http://10.0.0.5:8080/hook", &headers, body);
    let failure = verifier("square", "s")
        .verify_request(&request, at(0))
        .expect_err("another URL");
    assert!(
        failure
            .to_string()
            .contains("is public_url set to the URL the sender was given?"),
        "{failure}"
    );
}

#[test]
fn twilio_shared_key_webhooks_name_hmac_sha256_in_their_settings_header() {
    // `getExpectedTwilioSignature(.., "HMAC_SHA256")` of `twilio` 6.3.1; Python agrees.
    let signature = "n0r6IgmnSCBvvkr6la/Droqluvnv4/JqgRrW9rneReQ=";
    assert_eq!(
        sign::twilio_sha256("shared-secret", TWILIO_URL, TWILIO_FORM),
        signature
    );
    let verifier = Verifier::provider("twilio", ["auth-token", "shared-secret"]).expect("secrets");
    let settings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256";
    let headers = with(&[
        ("x-twilio-signature", signature),
        ("x-twilio-webhooks-signature-settings", settings),
    ]);
    let request = posted(TWILIO_URL, &headers, TWILIO_FORM);
    assert_eq!(verifier.verify_request(&request, at(0)), Ok(()));
    // Without the settings header the signature is read as HMAC-SHA1, whose tags are 20 bytes.
    let unnamed = with(&[("x-twilio-signature", signature)]);
    assert_eq!(
        request_kind(&verifier, &posted(TWILIO_URL, &unnamed, TWILIO_FORM), 0),
        malformed("x-twilio-signature")
    );
}
