//! Slack: `X-Slack-Signature: v0=<hex>` over `v0:{X-Slack-Request-Timestamp}:{body}`.

use http::{HeaderMap, HeaderName};

use super::{check_signatures, decode_hex_tag, single_header, Clock, FailureKind, MacKeys};

/// The header carrying the signature.
pub(super) const SIGNATURE_HEADER: &str = "x-slack-signature";

/// The header carrying the signed timestamp.
pub(super) const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";

/// The only version Slack defines; it is also the first piece of the signed content.
pub(super) const VERSION: &str = "v0";

#[derive(Debug, Clone)]
pub(super) struct Slack {
    keys: MacKeys,
}

impl Slack {
    pub(super) fn new(keys: MacKeys) -> Self {
        Self { keys }
    }

    pub(super) fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        clock: Clock,
    ) -> Result<(), FailureKind> {
        let signature_header = HeaderName::from_static(SIGNATURE_HEADER);
        let timestamp_header = HeaderName::from_static(TIMESTAMP_HEADER);
        let signature = single_header(headers, &signature_header)?;
        let timestamp = single_header(headers, &timestamp_header)?;
        clock.check(&timestamp_header, timestamp)?;

        let (version, encoded) =
            signature
                .split_once('=')
                .ok_or_else(|| FailureKind::MalformedHeader {
                    header: signature_header.clone(),
                })?;
        let supported = (version == VERSION).then_some(encoded);
        let message = [VERSION.as_bytes(), b":", timestamp.as_bytes(), b":", body];
        check_signatures(
            &self.keys,
            &signature_header,
            &message,
            supported.into_iter(),
            decode_hex_tag,
        )
    }
}

#[cfg(test)]
mod tests {

    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;
    use crate::verify::test_support::{at, kind, malformed};
    use crate::verify::{sign, Verifier};

    // The worked example in Slack's "Verifying requests from Slack"
    // (api.slack.com/authentication/verifying-requests-from-slack).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: u64 = 1531420618;
    const BODY: &[u8] = concat!(
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow",
        "&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner",
        "&command=%2Fwebhook-collect&text=",
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554",
        "%2F96rGlfmibIGlgcZRskXaIFfN",
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
    )
    .as_bytes();
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TIMESTAMP_HEADER, HeaderValue::from_str(timestamp).unwrap());
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        headers
    }

    fn vector_headers() -> HeaderMap {
        headers(&TIMESTAMP.to_string(), SIGNATURE)
    }

    fn verifier() -> Verifier {
        Verifier::slack([SECRET]).unwrap()
    }

    fn vector_tag() -> Vec<u8> {
        hex::decode(&SIGNATURE[3..]).unwrap()
    }

    #[test]
    fn published_vector_verifies() {
        verifier()
            .verify(&vector_headers(), BODY, at(TIMESTAMP))
            .unwrap();
    }

    #[test]
    fn signing_reproduces_the_published_vector() {
        assert_eq!(sign::slack(SECRET, TIMESTAMP, BODY), SIGNATURE);
    }

    #[test]
    fn flipped_body_byte_is_a_mismatch() {
        let mut body = BODY.to_vec();
        body[0] = b'T';
        assert_eq!(
            kind(&verifier(), &vector_headers(), &body, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn flipped_signature_byte_is_a_mismatch() {
        let mut tag = vector_tag();
        tag[5] ^= 0xff;
        let headers = headers("1531420618", &format!("v0={}", hex::encode(tag)));
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn flipped_timestamp_digit_is_a_mismatch() {
        let headers = headers("1531420619", SIGNATURE);
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn non_numeric_timestamp_is_malformed() {
        let headers = headers("1531420618x", SIGNATURE);
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            malformed(TIMESTAMP_HEADER)
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
    }

    #[test]
    fn truncated_valid_signature_is_rejected() {
        let headers = headers("1531420618", &SIGNATURE[..SIGNATURE.len() - 2]);
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            malformed(SIGNATURE_HEADER)
        );
    }

    #[test]
    fn extended_valid_signature_is_rejected() {
        let headers = headers("1531420618", &format!("{SIGNATURE}03"));
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            malformed(SIGNATURE_HEADER)
        );
    }

    #[test]
    fn bad_hex_and_missing_version_are_malformed() {
        for signature in ["v0=lolno", &SIGNATURE[3..], "v0="] {
            let headers = headers("1531420618", signature);
            assert_eq!(
                kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
                malformed(SIGNATURE_HEADER),
                "{signature:?}"
            );
        }
    }

    #[test]
    fn other_version_is_unsupported() {
        let headers = headers("1531420618", &format!("v1={}", &SIGNATURE[3..]));
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::NoSupportedSignature {
                header: HeaderName::from_static(SIGNATURE_HEADER)
            }
        );
    }

    #[test]
    fn missing_headers_are_named() {
        for name in [SIGNATURE_HEADER, TIMESTAMP_HEADER] {
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
    fn repeated_timestamp_header_is_rejected() {
        let mut headers = vector_headers();
        headers.append(TIMESTAMP_HEADER, HeaderValue::from_static("1531420618"));
        assert_eq!(
            kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::DuplicateHeader {
                header: HeaderName::from_static(TIMESTAMP_HEADER)
            }
        );
    }

    #[test]
    fn either_rotated_secret_verifies() {
        let verifier = Verifier::slack(["new-signing-secret", SECRET]).unwrap();
        verifier
            .verify(&vector_headers(), BODY, at(TIMESTAMP))
            .unwrap();
        let signature = sign::slack("new-signing-secret", TIMESTAMP, BODY);
        verifier
            .verify(&headers("1531420618", &signature), BODY, at(TIMESTAMP))
            .unwrap();
    }

    proptest! {
        #[test]
        fn signed_deliveries_verify(
            secret in "[a-z0-9]{1,40}",
            body in proptest::collection::vec(any::<u8>(), 0..512),
            timestamp in 0u64..4_000_000_000,
        ) {
            let signature = sign::slack(&secret, timestamp, &body);
            let headers = headers(&timestamp.to_string(), &signature);
            let verifier = Verifier::slack([secret]).unwrap();
            prop_assert!(verifier.verify(&headers, &body, at(timestamp)).is_ok());
        }

        #[test]
        fn any_mutated_signature_fails(
            index in 0..crate::verify::TAG_LEN,
            flip in 1u8..=255,
        ) {
            let mut tag = vector_tag();
            tag[index] ^= flip;
            let headers = headers("1531420618", &format!("v0={}", hex::encode(tag)));
            prop_assert_eq!(
                kind(&verifier(), &headers, BODY, at(TIMESTAMP)),
                FailureKind::SignatureMismatch
            );
        }

        #[test]
        fn arbitrary_header_values_never_panic(
            timestamp in proptest::collection::vec(any::<u8>(), 0..32),
            signature in proptest::collection::vec(any::<u8>(), 0..128),
        ) {
            let mut headers = HeaderMap::new();
            for (name, value) in [(TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature)] {
                if let Ok(value) = HeaderValue::from_bytes(&value) {
                    headers.insert(name, value);
                }
            }
            let _ = verifier().verify(&headers, BODY, at(TIMESTAMP));
        }
    }
}
