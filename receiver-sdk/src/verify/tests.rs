//! Behaviour shared by every scheme; each scheme's own cases live beside it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::hmac::Mac;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

const SECRETS: [&str; 2] = ["hunter2-rotated-out", "correct horse battery staple"];
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One verifier per scheme, all built from [`SECRETS`] (or [`STANDARD_SECRET`]).
fn every_verifier() -> Vec<Verifier> {
    vec![
        Verifier::none(),
        Verifier::standard_webhooks([STANDARD_SECRET]).unwrap(),
        Verifier::github(SECRETS).unwrap(),
        Verifier::shopify(SECRETS).unwrap(),
        Verifier::superoffice(SECRETS).unwrap(),
        Verifier::stripe(SECRETS).unwrap(),
        Verifier::slack(SECRETS).unwrap(),
        Verifier::basic("realm", [("admin".to_owned(), Secret::from(SECRETS[0]))]).unwrap(),
        Verifier::token(AUTHORIZATION, SECRETS).unwrap(),
    ]
}

fn assert_free_of_secrets(text: &str) {
    for secret in SECRETS
        .iter()
        .chain([&STANDARD_SECRET, &"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
    {
        assert!(!text.contains(secret), "{text:?} reveals a secret");
    }
    assert!(!text.contains("admin"), "{text:?} reveals a user name");
}

#[test]
fn debug_output_never_shows_secrets() {
    for verifier in every_verifier() {
        let debug = format!("{verifier:?} {verifier:#?}");
        assert_free_of_secrets(&debug);
    }
}

#[test]
fn failure_messages_never_show_secrets_or_expected_values() {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", HeaderValue::from_static("msg_1"));
    headers.insert("webhook-timestamp", HeaderValue::from_static("1700000000"));
    headers.insert(
        "stripe-signature",
        HeaderValue::from_static("t=1700000000,v1=00"),
    );
    headers.insert(
        "x-slack-request-timestamp",
        HeaderValue::from_static("1700000000"),
    );
    let wrong = format!("sha256={}", "ab".repeat(32));
    for name in [
        "webhook-signature",
        "x-hub-signature-256",
        "x-shopify-hmac-sha256",
        "x-superoffice-signature",
        "x-slack-signature",
    ] {
        headers.insert(name, HeaderValue::from_str(&wrong).unwrap());
    }
    headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer wrong"));
    let body = b"{}";

    for verifier in every_verifier() {
        let Err(failure) = verifier.verify(&headers, body, now) else {
            continue;
        };
        let message = format!("{failure} {failure:?}");
        assert_free_of_secrets(&message);
        for secret in SECRETS {
            let expected = [
                super::sign::github(secret, body),
                super::sign::shopify(secret, body),
                super::sign::slack(secret, 1_700_000_000, body),
            ];
            for value in expected {
                assert!(!message.contains(&value), "{message:?} reveals {value}");
            }
        }
    }
}

#[test]
fn failure_messages_name_the_check() {
    let header = HeaderName::from_static("webhook-signature");
    let cases = [
        (
            FailureKind::MissingHeader {
                header: header.clone(),
            },
            "missing webhook-signature header",
        ),
        (
            FailureKind::DuplicateHeader {
                header: header.clone(),
            },
            "webhook-signature header sent more than once",
        ),
        (
            FailureKind::MalformedHeader {
                header: header.clone(),
            },
            "malformed webhook-signature header",
        ),
        (
            FailureKind::NoSupportedSignature { header },
            "no supported signature version in webhook-signature header",
        ),
        (FailureKind::SignatureMismatch, "no signature matches"),
        (
            FailureKind::TimestampExpired,
            "timestamp is older than the accepted tolerance",
        ),
        (
            FailureKind::TimestampInFuture,
            "timestamp is further in the future than the accepted tolerance",
        ),
        (FailureKind::MissingCredentials, "missing credentials"),
        (FailureKind::MalformedCredentials, "malformed credentials"),
        (FailureKind::BadCredentials, "bad credentials"),
        (
            FailureKind::Other {
                check: "device certificate revoked",
            },
            "device certificate revoked",
        ),
    ];
    for (kind, message) in cases {
        assert_eq!(VerifyFailure::new(kind).to_string(), message);
    }
}

#[test]
fn none_accepts_anything() {
    Verifier::none()
        .verify(&HeaderMap::new(), &[0xff; 3], SystemTime::now())
        .unwrap();
}

#[test]
fn verifier_is_shareable_across_threads() {
    fn assert_traits<T: std::fmt::Debug + Clone + Send + Sync + 'static>() {}
    assert_traits::<Verifier>();
    assert_traits::<VerifyFailure>();
    assert_traits::<SecretError>();
}

#[test]
fn cloned_verifier_verifies_the_same() {
    let verifier = Verifier::github(SECRETS).unwrap();
    let clone = verifier.clone();
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-hub-signature-256",
        HeaderValue::from_str(&super::sign::github(SECRETS[1], b"x")).unwrap(),
    );
    verifier.verify(&headers, b"x", SystemTime::now()).unwrap();
    clone.verify(&headers, b"x", SystemTime::now()).unwrap();
}

#[test]
fn precomputed_key_equals_the_hmac_crate_key_for_every_length() {
    // Covers keys shorter than, equal to and longer than SHA-256's 64-byte block.
    for len in 0..=200 {
        let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut reference = <HmacSha256 as Mac>::new_from_slice(&key).unwrap();
        reference.update(b"message");
        let expected: Tag = reference.finalize().into_bytes().into();
        assert_eq!(
            MacKey::new(&key).tag(&[b"mess", b"age"]),
            expected,
            "key length {len}"
        );
    }
}

#[test]
fn rfc_4231_test_case_2() {
    // RFC 4231 §4.3, HMAC-SHA-256.
    let tag = MacKey::new(b"Jefe").tag(&[b"what do ya want ", b"for nothing?"]);
    assert_eq!(
        hex::encode(tag),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn tolerance_defaults_to_five_minutes() {
    assert_eq!(DEFAULT_TOLERANCE, Duration::from_secs(300));
}

#[test]
fn config_errors_point_at_position_not_value() {
    let error = Verifier::standard_webhooks(["whsec_hunter2!!"]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "secret at index 0 is not valid base64 after the optional whsec_ prefix"
    );
    assert!(!format!("{error:?}").contains("hunter2"));
}

#[test]
fn oversized_header_is_malformed_before_parsing() {
    let verifier = Verifier::github(SECRETS).unwrap();
    let mut headers = HeaderMap::new();
    let huge = format!("sha256={}", "a".repeat(MAX_HEADER_LEN));
    headers.insert("x-hub-signature-256", HeaderValue::from_str(&huge).unwrap());
    let failure = verifier
        .verify(&headers, b"", SystemTime::now())
        .unwrap_err();
    assert_eq!(
        failure.kind(),
        &FailureKind::MalformedHeader {
            header: HeaderName::from_static("x-hub-signature-256")
        }
    );
}
