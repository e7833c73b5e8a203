//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]` over `{t}.{body}`.

use http::{HeaderMap, HeaderName};

use super::{check_signatures, decode_hex_tag, single_header, Clock, FailureKind, MacKeys};

/// The header Stripe signs with.
pub(super) const HEADER: &str = "stripe-signature";

/// The signature version Stripe uses for live signatures; `v0` is a test-mode scheme we ignore.
const VERSION: &str = "v1";

#[derive(Debug, Clone)]
pub(super) struct Stripe {
    keys: MacKeys,
}

impl Stripe {
    pub(super) fn new(keys: MacKeys) -> Self {
        Self { keys }
    }

    pub(super) fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        clock: Clock,
    ) -> Result<(), FailureKind> {
        let header = HeaderName::from_static(HEADER);
        let value = single_header(headers, &header)?;
        let malformed = || FailureKind::MalformedHeader {
            header: header.clone(),
        };

        // Every item must be `key=value`, and `t` must appear exactly once: a second `t` would
        // leave it ambiguous which one the signature covers.
        let mut timestamp = None;
        for item in value.split(',') {
            let (key, item_value) = item.split_once('=').ok_or_else(malformed)?;
            if key == "t" && timestamp.replace(item_value).is_some() {
                return Err(malformed());
            }
        }
        let timestamp = timestamp.ok_or_else(malformed)?;
        clock.check(&header, timestamp)?;

        let versioned = value
            .split(',')
            .filter_map(|item| match item.split_once('=') {
                Some((VERSION, encoded)) => Some(encoded),
                _ => None,
            });
        let message = [timestamp.as_bytes(), b".", body];
        check_signatures(&self.keys, &header, &message, versioned, decode_hex_tag)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;
    use crate::verify::test_support::{at, kind};
    use crate::verify::{sign, Verifier};

    // Stripe publishes no fixed vector (its libraries' tests sign at run time). This one was
    // computed independently with Python:
    // `hmac.new(b"whsec_test_secret", b"1614265330." + body, hashlib.sha256).hexdigest()`.
    const SECRET: &str = "whsec_test_secret";
    const TIMESTAMP: u64 = 1614265330;
    const BODY: &[u8] = br#"{"id":"evt_test_webhook","object":"event"}"#;
    const V1: &str = "3c5817089d739023dd6190f70a3757e04f7a2fd8b5dab12c2e000f51970dccff";

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn vector_headers() -> HeaderMap {
        headers(&format!("t={TIMESTAMP},v1={V1}"))
    }

    fn verifier() -> Verifier {
        Verifier::stripe([SECRET]).unwrap()
    }

    fn malformed() -> FailureKind {
        FailureKind::MalformedHeader {
            header: HeaderName::from_static(HEADER),
        }
    }

    fn vector_tag() -> Vec<u8> {
        hex::decode(V1).unwrap()
    }

    #[test]
    fn signing_reproduces_the_vector() {
        assert_eq!(
            sign::stripe(SECRET, TIMESTAMP, BODY),
            format!("t={TIMESTAMP},v1={V1}")
        );
    }

    #[test]
    fn vector_verifies() {
        verifier()
            .verify(&vector_headers(), BODY, at(TIMESTAMP))
            .unwrap();
    }

    #[test]
    fn key_is_the_whole_secret_string_including_whsec() {
        let without_prefix = Verifier::stripe(["test_secret"]).unwrap();
        assert_eq!(
            kind(&without_prefix, &vector_headers(), BODY, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn any_v1_entry_may_match_and_v0_is_ignored() {
        let value = format!(
            "t={TIMESTAMP},v1={},v1={V1},v0={}",
            "ab".repeat(32),
            "cd".repeat(32)
        );
        verifier()
            .verify(&headers(&value), BODY, at(TIMESTAMP))
            .unwrap();
    }

    #[test]
    fn only_v0_is_its_own_failure() {
        let value = format!("t={TIMESTAMP},v0={V1}");
        assert_eq!(
            kind(&verifier(), &headers(&value), BODY, at(TIMESTAMP)),
            FailureKind::NoSupportedSignature {
                header: HeaderName::from_static(HEADER)
            }
        );
    }

    #[test]
    fn flipped_body_byte_is_a_mismatch() {
        let mut body = BODY.to_vec();
        body[3] ^= 0x20;
        assert_eq!(
            kind(&verifier(), &vector_headers(), &body, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn flipped_signature_byte_is_a_mismatch() {
        let mut tag = vector_tag();
        tag[16] ^= 0x04;
        let value = format!("t={TIMESTAMP},v1={}", hex::encode(tag));
        assert_eq!(
            kind(&verifier(), &headers(&value), BODY, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn flipped_timestamp_digit_is_a_mismatch() {
        let value = format!("t={},v1={V1}", TIMESTAMP + 1);
        assert_eq!(
            kind(&verifier(), &headers(&value), BODY, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn expired_and_future_timestamps_are_rejected() {
        assert_eq!(
            kind(&verifier(), &vector_headers(), BODY, at(TIMESTAMP + 301)),
            FailureKind::TimestampExpired
        );
        assert_eq!(
            kind(&verifier(), &vector_headers(), BODY, at(TIMESTAMP - 301)),
            FailureKind::TimestampInFuture
        );
        let lenient = verifier().with_tolerance(Duration::from_secs(600));
        lenient
            .verify(&vector_headers(), BODY, at(TIMESTAMP + 301))
            .unwrap();
    }

    #[test]
    fn truncated_valid_signature_is_rejected() {
        let tag = vector_tag();
        let value = format!("t={TIMESTAMP},v1={}", hex::encode(&tag[..31]));
        assert_eq!(
            kind(&verifier(), &headers(&value), BODY, at(TIMESTAMP)),
            malformed()
        );
    }

    #[test]
    fn extended_valid_signature_is_rejected() {
        let value = format!("t={TIMESTAMP},v1={V1}00");
        assert_eq!(
            kind(&verifier(), &headers(&value), BODY, at(TIMESTAMP)),
            malformed()
        );
    }

    #[test]
    fn bad_hex_is_malformed() {
        let value = format!("t={TIMESTAMP},v1={}", "g".repeat(64));
        assert_eq!(
            kind(&verifier(), &headers(&value), BODY, at(TIMESTAMP)),
            malformed()
        );
    }

    #[test]
    fn header_without_timestamp_or_with_two_is_malformed() {
        for value in [
            format!("v1={V1}"),
            format!("t={TIMESTAMP},t={TIMESTAMP},v1={V1}"),
            format!("t=soon,v1={V1}"),
            format!("t={TIMESTAMP},v1{V1}"),
            format!("t={TIMESTAMP},v1={V1},"),
        ] {
            assert_eq!(
                kind(&verifier(), &headers(&value), BODY, at(TIMESTAMP)),
                malformed(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn missing_and_repeated_headers_are_rejected() {
        assert_eq!(
            kind(&verifier(), &HeaderMap::new(), BODY, at(TIMESTAMP)),
            FailureKind::MissingHeader {
                header: HeaderName::from_static(HEADER)
            }
        );
        let mut repeated = vector_headers();
        repeated.append(HEADER, HeaderValue::from_static("t=1,v1=00"));
        assert_eq!(
            kind(&verifier(), &repeated, BODY, at(TIMESTAMP)),
            FailureKind::DuplicateHeader {
                header: HeaderName::from_static(HEADER)
            }
        );
    }

    #[test]
    fn either_rotated_secret_verifies() {
        let verifier = Verifier::stripe(["whsec_new", SECRET]).unwrap();
        verifier
            .verify(&vector_headers(), BODY, at(TIMESTAMP))
            .unwrap();
        let headers = headers(&sign::stripe("whsec_new", TIMESTAMP, BODY));
        verifier.verify(&headers, BODY, at(TIMESTAMP)).unwrap();
    }

    proptest! {
        #[test]
        fn signed_deliveries_verify(
            secret in "whsec_[A-Za-z0-9]{1,40}",
            body in proptest::collection::vec(any::<u8>(), 0..512),
            timestamp in 0u64..4_000_000_000,
        ) {
            let headers = headers(&sign::stripe(&secret, timestamp, &body));
            let verifier = Verifier::stripe([secret]).unwrap();
            prop_assert!(verifier.verify(&headers, &body, at(timestamp)).is_ok());
        }

        #[test]
        fn any_mutated_signature_fails(
            secret in "whsec_[A-Za-z0-9]{1,40}",
            body in proptest::collection::vec(any::<u8>(), 0..128),
            index in 0..crate::verify::TAG_LEN,
            flip in 1u8..=255,
        ) {
            let signed = sign::stripe(&secret, TIMESTAMP, &body);
            let (_, encoded) = signed.split_once(",v1=").unwrap();
            let mut tag = hex::decode(encoded).unwrap();
            tag[index] ^= flip;
            let value = format!("t={TIMESTAMP},v1={}", hex::encode(tag));
            let verifier = Verifier::stripe([secret]).unwrap();
            prop_assert_eq!(
                kind(&verifier, &headers(&value), &body, at(TIMESTAMP)),
                FailureKind::SignatureMismatch
            );
        }

        #[test]
        fn arbitrary_header_values_never_panic(
            value in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                let mut headers = HeaderMap::new();
                headers.insert(HEADER, value);
                let _ = verifier().verify(&headers, BODY, at(TIMESTAMP));
            }
        }

        #[test]
        fn structured_garbage_never_panics(value in "((t|v1|v0|)(=|)[0-9a-f]{0,70},?){0,5}") {
            let _ = verifier().verify(&headers(&value), BODY, at(TIMESTAMP));
        }
    }
}
