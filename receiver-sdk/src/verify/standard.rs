//! Standard Webhooks (<https://www.standardwebhooks.com/>), which Svix also sends under
//! `svix-` header names.

use base64::Engine as _;
use http::{HeaderMap, HeaderName};

use super::{
    check_signatures, decode_base64_tag, single_header, Clock, FailureKind, MacKey, MacKeys,
    SecretError, LENIENT_BASE64,
};

/// Secrets are written `whsec_<base64>`; the prefix is optional.
pub(super) const SECRET_PREFIX: &str = "whsec_";

/// The only signature version this scheme defines for symmetric keys.
const VERSION: &str = "v1";

/// One of the two spellings of the header triple.
#[derive(Debug)]
pub(super) struct HeaderNames {
    pub(super) id: HeaderName,
    pub(super) timestamp: HeaderName,
    pub(super) signature: HeaderName,
}

impl HeaderNames {
    fn standard() -> Self {
        Self {
            id: HeaderName::from_static("webhook-id"),
            timestamp: HeaderName::from_static("webhook-timestamp"),
            signature: HeaderName::from_static("webhook-signature"),
        }
    }

    fn svix() -> Self {
        Self {
            id: HeaderName::from_static("svix-id"),
            timestamp: HeaderName::from_static("svix-timestamp"),
            signature: HeaderName::from_static("svix-signature"),
        }
    }

    fn any_present(&self, headers: &HeaderMap) -> bool {
        [&self.id, &self.timestamp, &self.signature]
            .into_iter()
            .any(|name| headers.contains_key(name))
    }

    /// The spelling the sender used. A delivery is read entirely under one spelling, so a stray
    /// `svix-` header cannot stand in for a missing `webhook-` one; with neither present, the
    /// failure names the standard headers.
    pub(super) fn of(headers: &HeaderMap) -> Self {
        let standard = Self::standard();
        if standard.any_present(headers) {
            return standard;
        }
        let svix = Self::svix();
        if svix.any_present(headers) {
            svix
        } else {
            standard
        }
    }
}

/// Decodes a `whsec_…` secret into the HMAC key bytes.
pub(super) fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    LENIENT_BASE64.decode(encoded).ok()
}

#[derive(Debug, Clone)]
pub(super) struct StandardWebhooks {
    keys: MacKeys,
}

impl StandardWebhooks {
    pub(super) fn new(
        secrets: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, SecretError> {
        let keys = secrets.into_iter().enumerate().map(|(index, secret)| {
            let key =
                decode_secret(secret.as_ref()).ok_or(SecretError::InvalidBase64Secret { index })?;
            // The key is random bytes, which may be whitespace; only an empty one is refused
            // (blank text is not base64, so it never gets here).
            if key.is_empty() {
                return Err(SecretError::EmptySecret { index });
            }
            Ok(MacKey::new(&key))
        });
        Ok(Self {
            keys: MacKeys::from_raw(keys)?,
        })
    }

    pub(super) fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        clock: Clock,
    ) -> Result<(), FailureKind> {
        let names = HeaderNames::of(headers);
        let id = single_header(headers, &names.id)?;
        let timestamp = single_header(headers, &names.timestamp)?;
        let signature = single_header(headers, &names.signature)?;
        clock.check(&names.timestamp, timestamp)?;

        let versioned = signature
            .split(' ')
            .filter_map(|entry| match entry.split_once(',') {
                Some((VERSION, encoded)) => Some(encoded),
                _ => None,
            });
        let message = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
        check_signatures(
            &self.keys,
            &names.signature,
            &message,
            versioned,
            decode_base64_tag,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use base64::engine::general_purpose::STANDARD;
    use http::{HeaderMap, HeaderValue};
    use proptest::prelude::*;

    use super::*;
    use crate::verify::test_support::{at, kind, malformed};
    use crate::verify::{sign, Verifier};

    // The fixture shared by every Standard Webhooks library's tests, e.g.
    // github.com/standard-webhooks/standard-webhooks libraries/python/tests/test_webhooks.py and
    // libraries/go/webhook_test.go (DEFAULT_MSG_ID, DEFAULT_PAYLOAD, DEFAULT_SECRET), also the
    // example in the Svix docs.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    // From the same files' sign tests (`test_sign_function`, `TestWebhookSign`).
    const TIMESTAMP: u64 = 1614265330;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        headers.insert(
            "webhook-timestamp",
            HeaderValue::from_str(timestamp).unwrap(),
        );
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    fn vector_headers() -> HeaderMap {
        headers(MSG_ID, &TIMESTAMP.to_string(), SIGNATURE)
    }

    fn verifier() -> Verifier {
        Verifier::standard_webhooks([SECRET]).unwrap()
    }

    /// The signature entry re-encoded from raw tag bytes.
    fn entry(tag: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(tag))
    }

    fn vector_tag() -> Vec<u8> {
        STANDARD.decode(&SIGNATURE[3..]).unwrap()
    }

    #[test]
    fn signing_reproduces_the_published_vector() {
        let signature = sign::standard_webhooks(SECRET, MSG_ID, TIMESTAMP, BODY).unwrap();
        assert_eq!(signature, SIGNATURE);
    }

    #[test]
    fn published_vector_verifies() {
        verifier()
            .verify(&vector_headers(), BODY, at(TIMESTAMP))
            .unwrap();
    }

    #[test]
    fn secret_without_whsec_prefix_is_the_same_key() {
        let verifier = Verifier::standard_webhooks(["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
        verifier
            .verify(&vector_headers(), BODY, at(TIMESTAMP))
            .unwrap();
    }

    #[test]
    fn svix_header_names_are_accepted() {
        let mut headers = HeaderMap::new();
        headers.insert("svix-id", HeaderValue::from_static(MSG_ID));
        headers.insert("svix-timestamp", HeaderValue::from_static("1614265330"));
        headers.insert("svix-signature", HeaderValue::from_static(SIGNATURE));
        verifier().verify(&headers, BODY, at(TIMESTAMP)).unwrap();
    }

    #[test]
    fn svix_headers_do_not_fill_in_for_missing_standard_ones() {
        let mut headers = vector_headers();
        headers.remove("webhook-id");
        headers.insert("svix-id", HeaderValue::from_static(MSG_ID));
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::MissingHeader {
                header: HeaderName::from_static("webhook-id")
            }
        );
    }

    // Vector from the libraries' `invalid signature` tests (python test_invalid_signature, last
    // byte changed).
    #[test]
    fn published_invalid_signature_is_a_mismatch() {
        let headers = headers(
            MSG_ID,
            "1614265330",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
        );
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    // Entries from the libraries' `multi sig payload is valid` tests.
    #[test]
    fn any_v1_entry_may_match_and_other_versions_are_skipped() {
        let signature = [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            SIGNATURE,
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        ]
        .join(" ");
        let headers = headers(MSG_ID, "1614265330", &signature);
        verifier().verify(&headers, BODY, at(TIMESTAMP)).unwrap();
    }

    #[test]
    fn only_other_versions_is_its_own_failure() {
        let headers = headers(
            MSG_ID,
            "1614265330",
            "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v2,abc",
        );
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::NoSupportedSignature {
                header: HeaderName::from_static("webhook-signature")
            }
        );
    }

    #[test]
    fn garbled_entry_does_not_veto_a_valid_one() {
        let signature = format!("v1,not*base64 {SIGNATURE}");
        let headers = headers(MSG_ID, "1614265330", &signature);
        verifier().verify(&headers, BODY, at(TIMESTAMP)).unwrap();
    }

    #[test]
    fn flipped_body_byte_is_a_mismatch() {
        let mut body = BODY.to_vec();
        body[10] ^= 0x01;
        assert_eq!(
            kind(&verifier(), &vector_headers(), &body, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn flipped_signature_byte_is_a_mismatch() {
        let mut tag = vector_tag();
        tag[0] ^= 0x80;
        let headers = headers(MSG_ID, "1614265330", &entry(&tag));
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn flipped_timestamp_digit_is_a_mismatch() {
        let headers = headers(MSG_ID, "1614265331", SIGNATURE);
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn flipped_id_byte_is_a_mismatch() {
        let headers = headers("msg_p5jXN8AQM9LWM0D4loKWxJel", "1614265330", SIGNATURE);
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn non_numeric_timestamp_is_malformed() {
        for timestamp in [
            "hello",
            "1614265330.5",
            "-1614265330",
            "+1614265330",
            " 1614265330",
        ] {
            let headers = headers(MSG_ID, timestamp, SIGNATURE);
            assert_eq!(
                kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
                malformed("webhook-timestamp"),
                "{timestamp:?}"
            );
        }
    }

    #[test]
    fn timestamp_too_large_for_u64_is_malformed() {
        let headers = headers(MSG_ID, "99999999999999999999999", SIGNATURE);
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            malformed("webhook-timestamp")
        );
    }

    #[test]
    fn timestamp_older_than_tolerance_is_expired() {
        let now = at(TIMESTAMP + 5 * 60 + 1);
        assert_eq!(
            kind(&verifier(), &vector_headers(), BODY, now),
            FailureKind::TimestampExpired
        );
    }

    #[test]
    fn timestamp_beyond_tolerance_in_future_is_rejected() {
        let now = at(TIMESTAMP - 5 * 60 - 1);
        assert_eq!(
            kind(&verifier(), &vector_headers(), BODY, now),
            FailureKind::TimestampInFuture
        );
    }

    #[test]
    fn timestamp_exactly_at_tolerance_is_accepted() {
        let verifier = verifier();
        verifier
            .verify(&vector_headers(), BODY, at(TIMESTAMP + 300))
            .unwrap();
        verifier
            .verify(&vector_headers(), BODY, at(TIMESTAMP - 300))
            .unwrap();
    }

    #[test]
    fn tolerance_is_configurable() {
        let verifier = verifier().with_tolerance(Duration::from_secs(10));
        let headers = vector_headers();
        verifier.verify(&headers, BODY, at(TIMESTAMP + 10)).unwrap();
        assert_eq!(
            kind(&verifier, &headers, BODY, at(TIMESTAMP + 11)),
            FailureKind::TimestampExpired
        );
        assert_eq!(
            kind(&verifier, &headers, BODY, at(TIMESTAMP - 11)),
            FailureKind::TimestampInFuture
        );
    }

    #[test]
    fn clock_before_the_epoch_is_handled() {
        let signature = sign::standard_webhooks(SECRET, MSG_ID, 0, BODY).unwrap();
        let headers = headers(MSG_ID, "0", &signature);
        verifier()
            .verify(&headers, BODY, UNIX_EPOCH - Duration::from_secs(10))
            .unwrap();
        assert_eq!(
            kind(
                &verifier(),
                &headers,
                BODY,
                UNIX_EPOCH - Duration::from_secs(301)
            ),
            FailureKind::TimestampInFuture
        );
    }

    #[test]
    fn truncated_valid_signature_is_rejected() {
        let tag = vector_tag();
        // A 31-byte prefix of the right tag: the bug this pins is comparing only up to the
        // shorter length, which would accept it.
        let truncated = headers(MSG_ID, "1614265330", &entry(&tag[..31]));
        assert_eq!(
            kind(&verifier(), &truncated, BODY, at(TIMESTAMP)),
            malformed("webhook-signature")
        );
        // The libraries' `partial signature` test: the header cut to 8 characters, and `v1,`.
        for signature in [&SIGNATURE[..8], "v1,"] {
            let headers = headers(MSG_ID, "1614265330", signature);
            assert_eq!(
                kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
                malformed("webhook-signature"),
                "{signature:?}"
            );
        }
    }

    #[test]
    fn extended_valid_signature_is_rejected() {
        let mut tag = vector_tag();
        tag.push(0);
        let extended = headers(MSG_ID, "1614265330", &entry(&tag));
        assert_eq!(
            kind(&verifier(), &extended, BODY, at(TIMESTAMP)),
            malformed("webhook-signature")
        );
        let appended = format!("{SIGNATURE}AAAA");
        let appended = headers(MSG_ID, "1614265330", &appended);
        assert_eq!(
            kind(&verifier(), &appended, BODY, at(TIMESTAMP)),
            malformed("webhook-signature")
        );
    }

    #[test]
    fn bad_base64_signature_is_malformed() {
        let headers = headers(MSG_ID, "1614265330", "v1,dawfeoifkpqwoekfpqoekf");
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            malformed("webhook-signature")
        );
    }

    #[test]
    fn each_missing_header_is_named() {
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let mut headers = vector_headers();
            headers.remove(name);
            assert_eq!(
                kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
                FailureKind::MissingHeader {
                    header: HeaderName::from_static(name)
                }
            );
        }
    }

    #[test]
    fn no_headers_at_all_names_the_standard_id_header() {
        assert_eq!(
            kind(&verifier(), &HeaderMap::new(), BODY, at(TIMESTAMP)),
            FailureKind::MissingHeader {
                header: HeaderName::from_static("webhook-id")
            }
        );
    }

    #[test]
    fn repeated_signature_header_is_rejected() {
        let mut headers = vector_headers();
        headers.append("webhook-signature", HeaderValue::from_static(SIGNATURE));
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::DuplicateHeader {
                header: HeaderName::from_static("webhook-signature")
            }
        );
    }

    #[test]
    fn empty_non_ascii_and_huge_values_are_malformed() {
        let huge = format!("{SIGNATURE} ").repeat(1000);
        let values = [
            HeaderValue::from_static(""),
            HeaderValue::from_bytes("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=é".as_bytes())
                .unwrap(),
            HeaderValue::from_bytes(b"v1,\tabc").unwrap(),
            HeaderValue::from_str(&huge).unwrap(),
        ];
        for value in values {
            let mut headers = vector_headers();
            headers.insert("webhook-signature", value.clone());
            assert_eq!(
                kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
                malformed("webhook-signature"),
                "{value:?}"
            );
        }
    }

    #[test]
    fn either_rotated_secret_verifies() {
        let other = format!("whsec_{}", STANDARD.encode([7u8; 24]));
        let verifier = Verifier::standard_webhooks([other.as_str(), SECRET]).unwrap();
        verifier
            .verify(&vector_headers(), BODY, at(TIMESTAMP))
            .unwrap();

        let signature = sign::standard_webhooks(&other, MSG_ID, TIMESTAMP, BODY).unwrap();
        let headers = headers(MSG_ID, "1614265330", &signature);
        verifier.verify(&headers, BODY, at(TIMESTAMP)).unwrap();

        let only_other = Verifier::standard_webhooks([other.as_str()]).unwrap();
        assert_eq!(
            kind(&only_other, &vector_headers(), BODY, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn body_need_not_be_utf8() {
        let body = [0xff, 0xfe, 0x00, 0x80];
        let signature = sign::standard_webhooks(SECRET, MSG_ID, TIMESTAMP, &body).unwrap();
        let headers = headers(MSG_ID, "1614265330", &signature);
        verifier().verify(&headers, &body, at(TIMESTAMP)).unwrap();
    }

    #[test]
    fn bad_secrets_are_configuration_errors() {
        assert_eq!(
            Verifier::standard_webhooks(Vec::<String>::new()).unwrap_err(),
            SecretError::NoSecrets
        );
        assert_eq!(
            Verifier::standard_webhooks([SECRET, "whsec_not base64!"]).unwrap_err(),
            SecretError::InvalidBase64Secret { index: 1 }
        );
        assert_eq!(
            Verifier::standard_webhooks(["whsec_"]).unwrap_err(),
            SecretError::EmptySecret { index: 0 }
        );
    }

    fn secret_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<u8>(), 1..64)
            .prop_map(|key| format!("whsec_{}", STANDARD.encode(key)))
    }

    proptest! {
        #[test]
        fn signed_deliveries_verify(
            secret in secret_strategy(),
            body in proptest::collection::vec(any::<u8>(), 0..512),
            id in "[a-zA-Z0-9_]{1,40}",
            timestamp in 0u64..4_000_000_000,
        ) {
            let signature = sign::standard_webhooks(&secret, &id, timestamp, &body).unwrap();
            let headers = headers(&id, &timestamp.to_string(), &signature);
            let verifier = Verifier::standard_webhooks([secret]).unwrap();
            prop_assert!(verifier.verify(&headers, &body, at(timestamp)).is_ok());
        }

        #[test]
        fn any_mutated_signature_fails(
            secret in secret_strategy(),
            body in proptest::collection::vec(any::<u8>(), 0..128),
            index in 0..crate::verify::TAG_LEN,
            flip in 1u8..=255,
        ) {
            let signature = sign::standard_webhooks(&secret, MSG_ID, TIMESTAMP, &body).unwrap();
            let mut tag = STANDARD.decode(&signature[3..]).unwrap();
            tag[index] ^= flip;
            let headers = headers(MSG_ID, "1614265330", &entry(&tag));
            let verifier = Verifier::standard_webhooks([secret]).unwrap();
            prop_assert_eq!(
                kind(&verifier, &headers, &body, at(TIMESTAMP)),
                FailureKind::SignatureMismatch
            );
        }

        #[test]
        fn any_changed_signature_character_fails(
            index in 3..SIGNATURE.len(),
            replacement in "[A-Za-z0-9+/=]",
        ) {
            prop_assume!(SIGNATURE[index..=index] != replacement);
            let mut signature = SIGNATURE.to_owned();
            signature.replace_range(index..=index, &replacement);
            let headers = headers(MSG_ID, "1614265330", &signature);
            prop_assert!(verifier().verify(&headers, BODY, at(TIMESTAMP)).is_err());
        }

        #[test]
        fn arbitrary_header_values_never_panic(
            id in proptest::collection::vec(any::<u8>(), 0..64),
            timestamp in proptest::collection::vec(any::<u8>(), 0..32),
            signature in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut headers = HeaderMap::new();
            let values = [
                ("webhook-id", id),
                ("webhook-timestamp", timestamp),
                ("webhook-signature", signature),
            ];
            for (name, value) in values {
                if let Ok(value) = HeaderValue::from_bytes(&value) {
                    headers.insert(name, value);
                }
            }
            let _ = verifier().verify(&headers, BODY, at(TIMESTAMP));
        }

        #[test]
        fn structured_garbage_signatures_never_panic(
            signature in "((v1|v1a|v2|)(,|)[A-Za-z0-9+/=]{0,50} ?){0,6}",
        ) {
            if let Ok(value) = HeaderValue::from_str(&signature) {
                let mut headers = vector_headers();
                headers.insert("webhook-signature", value);
                let _ = verifier().verify(&headers, BODY, at(TIMESTAMP));
            }
        }
    }
}
