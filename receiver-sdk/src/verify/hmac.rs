//! An HMAC-SHA256 of the raw body in a single header, the shape GitHub, Shopify, SuperOffice and
//! many smaller senders use.

use http::{HeaderMap, HeaderName};

use super::{decode_base64_tag, decode_hex_tag, single_header, FailureKind, MacKeys, Tag};

/// How the 32 bytes of an HMAC-SHA256 signature are written in a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum SignatureEncoding {
    /// Hexadecimal; upper and lower case are both accepted when verifying, lower case is sent.
    Hex,
    /// Standard base64 alphabet with padding.
    Base64,
}

/// Where a sender puts an HMAC-SHA256 of the raw body, and how it writes it.
///
/// The presets ([`HmacHeader::github`], [`HmacHeader::shopify`], [`HmacHeader::superoffice`])
/// cover known senders; for others fill in the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacHeader {
    /// The header carrying the signature.
    pub header: HeaderName,
    /// Text that precedes the encoded signature, such as `sha256=`; matched exactly.
    pub prefix: Option<String>,
    /// How the signature bytes are encoded after the prefix.
    pub encoding: SignatureEncoding,
}

impl HmacHeader {
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>`.
    pub fn github() -> Self {
        Self {
            header: HeaderName::from_static("x-hub-signature-256"),
            prefix: Some("sha256=".to_owned()),
            encoding: SignatureEncoding::Hex,
        }
    }

    /// Shopify: `X-Shopify-Hmac-Sha256: <base64>`.
    pub fn shopify() -> Self {
        Self {
            header: HeaderName::from_static("x-shopify-hmac-sha256"),
            prefix: None,
            encoding: SignatureEncoding::Base64,
        }
    }

    /// SuperOffice: `X-SuperOffice-Signature: <base64>`.
    pub fn superoffice() -> Self {
        Self {
            header: HeaderName::from_static("x-superoffice-signature"),
            prefix: None,
            encoding: SignatureEncoding::Base64,
        }
    }

    /// The signature in this header's value, if the value has the expected shape.
    fn parse(&self, value: &str) -> Option<Tag> {
        let encoded = match &self.prefix {
            Some(prefix) => value.strip_prefix(prefix.as_str())?,
            None => value,
        };
        match self.encoding {
            SignatureEncoding::Hex => decode_hex_tag(encoded),
            SignatureEncoding::Base64 => decode_base64_tag(encoded),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct HeaderHmac {
    format: HmacHeader,
    keys: MacKeys,
}

impl HeaderHmac {
    pub(super) fn new(format: HmacHeader, keys: MacKeys) -> Self {
        Self { format, keys }
    }

    pub(super) fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), FailureKind> {
        let value = single_header(headers, &self.format.header)?;
        let candidate = self
            .format
            .parse(value)
            .ok_or_else(|| FailureKind::MalformedHeader {
                header: self.format.header.clone(),
            })?;
        if self.keys.any_matches(&[body], std::iter::once(candidate)) {
            Ok(())
        } else {
            Err(FailureKind::SignatureMismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;
    use crate::verify::test_support::{self, malformed};
    use crate::verify::{sign, Verifier};

    // docs.github.com, "Validating webhook deliveries", section "Testing the webhook payload
    // validation".
    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_BODY: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    // Shopify and SuperOffice publish no vector; these were computed independently with Python's
    // `base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest())`.
    const SHOPIFY_SECRET: &str = "shpss_0123456789abcdef";
    const SHOPIFY_BODY: &[u8] = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;
    const SHOPIFY_SIGNATURE: &str = "ne+Twf3BMrJ3AMcsdK/cwASHZl8vw1iJXvr4ORLXiaU=";
    const SUPEROFFICE_SECRET: &str = "b1a2c3d4-webhook-secret";
    const SUPEROFFICE_BODY: &[u8] = br#"{"EventId":"3f6bc8b4","Event":"contact.created"}"#;
    const SUPEROFFICE_SIGNATURE: &str = "mf1291I4BdHZFrrqwhuudpAtwRmhwAjD6HzWurvO/kA=";

    fn now() -> SystemTime {
        UNIX_EPOCH
    }

    fn with(name: &str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    fn github_headers(signature: &str) -> HeaderMap {
        with("x-hub-signature-256", signature)
    }

    fn github() -> Verifier {
        Verifier::github([GITHUB_SECRET]).unwrap()
    }

    fn kind(verifier: &Verifier, headers: &HeaderMap, body: &[u8]) -> FailureKind {
        test_support::kind(verifier, headers, body, now())
    }

    fn github_tag() -> Vec<u8> {
        hex::decode(&GITHUB_SIGNATURE["sha256=".len()..]).unwrap()
    }

    #[test]
    fn github_published_vector_verifies() {
        github()
            .verify(&github_headers(GITHUB_SIGNATURE), GITHUB_BODY, now())
            .unwrap();
    }

    #[test]
    fn github_signing_reproduces_the_published_vector() {
        assert_eq!(sign::github(GITHUB_SECRET, GITHUB_BODY), GITHUB_SIGNATURE);
    }

    #[test]
    fn upper_case_hex_is_accepted() {
        let upper = format!(
            "sha256={}",
            GITHUB_SIGNATURE["sha256=".len()..].to_uppercase()
        );
        github()
            .verify(&github_headers(&upper), GITHUB_BODY, now())
            .unwrap();
    }

    #[test]
    fn shopify_vector_verifies() {
        assert_eq!(
            sign::shopify(SHOPIFY_SECRET, SHOPIFY_BODY),
            SHOPIFY_SIGNATURE
        );
        let headers = with("x-shopify-hmac-sha256", SHOPIFY_SIGNATURE);
        Verifier::shopify([SHOPIFY_SECRET])
            .unwrap()
            .verify(&headers, SHOPIFY_BODY, now())
            .unwrap();
    }

    #[test]
    fn superoffice_vector_verifies() {
        assert_eq!(
            sign::superoffice(SUPEROFFICE_SECRET, SUPEROFFICE_BODY),
            SUPEROFFICE_SIGNATURE
        );
        let headers = with("x-superoffice-signature", SUPEROFFICE_SIGNATURE);
        Verifier::superoffice([SUPEROFFICE_SECRET])
            .unwrap()
            .verify(&headers, SUPEROFFICE_BODY, now())
            .unwrap();
    }

    #[test]
    fn flipped_body_byte_is_a_mismatch() {
        assert_eq!(
            kind(
                &github(),
                &github_headers(GITHUB_SIGNATURE),
                b"Hello, World?"
            ),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn flipped_signature_byte_is_a_mismatch() {
        let mut tag = github_tag();
        tag[31] ^= 0x01;
        let headers = github_headers(&format!("sha256={}", hex::encode(tag)));
        assert_eq!(
            kind(&github(), &headers, GITHUB_BODY),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn truncated_valid_signature_is_rejected() {
        let tag = github_tag();
        let headers = github_headers(&format!("sha256={}", hex::encode(&tag[..31])));
        assert_eq!(
            kind(&github(), &headers, GITHUB_BODY),
            malformed("x-hub-signature-256")
        );
        let odd = &GITHUB_SIGNATURE[..GITHUB_SIGNATURE.len() - 1];
        assert_eq!(
            kind(&github(), &github_headers(odd), GITHUB_BODY),
            malformed("x-hub-signature-256")
        );
    }

    #[test]
    fn extended_valid_signature_is_rejected() {
        let headers = github_headers(&format!("{GITHUB_SIGNATURE}00"));
        assert_eq!(
            kind(&github(), &headers, GITHUB_BODY),
            malformed("x-hub-signature-256")
        );
        let mut tag = STANDARD.decode(SHOPIFY_SIGNATURE).unwrap();
        tag.push(0);
        let headers = with("x-shopify-hmac-sha256", &STANDARD.encode(tag));
        let shopify = Verifier::shopify([SHOPIFY_SECRET]).unwrap();
        assert_eq!(
            kind(&shopify, &headers, SHOPIFY_BODY),
            malformed("x-shopify-hmac-sha256")
        );
    }

    #[test]
    fn truncated_base64_signature_is_rejected() {
        let tag = STANDARD.decode(SHOPIFY_SIGNATURE).unwrap();
        let headers = with("x-shopify-hmac-sha256", &STANDARD.encode(&tag[..31]));
        let shopify = Verifier::shopify([SHOPIFY_SECRET]).unwrap();
        assert_eq!(
            kind(&shopify, &headers, SHOPIFY_BODY),
            malformed("x-shopify-hmac-sha256")
        );
    }

    #[test]
    fn missing_or_wrong_prefix_is_malformed() {
        let bare = &GITHUB_SIGNATURE["sha256=".len()..];
        for value in [
            bare.to_owned(),
            format!("sha1={bare}"),
            format!("SHA256={bare}"),
        ] {
            assert_eq!(
                kind(&github(), &github_headers(&value), GITHUB_BODY),
                malformed("x-hub-signature-256"),
                "{value:?}"
            );
        }
    }

    #[test]
    fn bad_hex_is_malformed() {
        let value = format!("sha256={}", "zz".repeat(32));
        assert_eq!(
            kind(&github(), &github_headers(&value), GITHUB_BODY),
            malformed("x-hub-signature-256")
        );
    }

    #[test]
    fn bad_base64_is_malformed() {
        let headers = with("x-shopify-hmac-sha256", &"*".repeat(44));
        let shopify = Verifier::shopify([SHOPIFY_SECRET]).unwrap();
        assert_eq!(
            kind(&shopify, &headers, SHOPIFY_BODY),
            malformed("x-shopify-hmac-sha256")
        );
    }

    #[test]
    fn missing_header_is_named() {
        assert_eq!(
            kind(&github(), &HeaderMap::new(), GITHUB_BODY),
            FailureKind::MissingHeader {
                header: HeaderName::from_static("x-hub-signature-256")
            }
        );
    }

    #[test]
    fn repeated_header_is_rejected() {
        let mut headers = github_headers(GITHUB_SIGNATURE);
        headers.append(
            "x-hub-signature-256",
            HeaderValue::from_static(GITHUB_SIGNATURE),
        );
        assert_eq!(
            kind(&github(), &headers, GITHUB_BODY),
            FailureKind::DuplicateHeader {
                header: HeaderName::from_static("x-hub-signature-256")
            }
        );
    }

    #[test]
    fn empty_and_non_ascii_values_are_malformed() {
        for value in [
            HeaderValue::from_static(""),
            HeaderValue::from_bytes("sha256=é".as_bytes()).unwrap(),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert("x-hub-signature-256", value);
            assert_eq!(
                kind(&github(), &headers, GITHUB_BODY),
                malformed("x-hub-signature-256")
            );
        }
    }

    #[test]
    fn either_rotated_secret_verifies() {
        let verifier = Verifier::github(["rotated-out", GITHUB_SECRET]).unwrap();
        verifier
            .verify(&github_headers(GITHUB_SIGNATURE), GITHUB_BODY, now())
            .unwrap();
        let headers = github_headers(&sign::github("rotated-out", GITHUB_BODY));
        verifier.verify(&headers, GITHUB_BODY, now()).unwrap();
    }

    #[test]
    fn custom_header_with_base64_and_no_prefix() {
        let format = HmacHeader {
            header: HeaderName::from_static("x-webhook-signature"),
            prefix: None,
            encoding: SignatureEncoding::Base64,
        };
        let signature = sign::hmac_sha256(&format, "k", b"payload");
        let verifier = Verifier::hmac_sha256(format, ["k"]).unwrap();
        verifier
            .verify(&with("x-webhook-signature", &signature), b"payload", now())
            .unwrap();
    }

    #[test]
    fn empty_or_no_secrets_are_configuration_errors() {
        assert_eq!(
            Verifier::github(Vec::<String>::new()).unwrap_err(),
            crate::verify::SecretError::NoSecrets
        );
        assert_eq!(
            Verifier::shopify(["ok", ""]).unwrap_err(),
            crate::verify::SecretError::EmptySecret { index: 1 }
        );
    }

    fn formats() -> impl Strategy<Value = HmacHeader> {
        prop_oneof![
            Just(HmacHeader::github()),
            Just(HmacHeader::shopify()),
            Just(HmacHeader::superoffice()),
        ]
    }

    /// A secret the verifier accepts: not empty and not only whitespace (which it refuses,
    /// [`SecretError::EmptySecret`](crate::verify::SecretError::EmptySecret)).
    fn usable_secret() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 1..100)
            .prop_filter("a blank secret is refused", |s| {
                !s.iter().all(u8::is_ascii_whitespace)
            })
    }

    proptest! {
        #[test]
        fn signed_deliveries_verify(
            format in formats(),
            secret in usable_secret(),
            body in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let signature = sign::hmac_sha256(&format, &secret, &body);
            let mut headers = HeaderMap::new();
            headers.insert(format.header.clone(), HeaderValue::from_str(&signature).unwrap());
            let verifier = Verifier::hmac_sha256(format, [secret]).unwrap();
            prop_assert!(verifier.verify(&headers, &body, now()).is_ok());
        }

        #[test]
        fn any_mutated_signature_fails(
            secret in usable_secret(),
            body in proptest::collection::vec(any::<u8>(), 0..128),
            index in 0..crate::verify::TAG_LEN,
            flip in 1u8..=255,
        ) {
            let signature = sign::github(&secret, &body);
            let mut tag = hex::decode(&signature["sha256=".len()..]).unwrap();
            tag[index] ^= flip;
            let headers = github_headers(&format!("sha256={}", hex::encode(tag)));
            let verifier = Verifier::github([secret]).unwrap();
            prop_assert_eq!(kind(&verifier, &headers, &body), FailureKind::SignatureMismatch);
        }

        #[test]
        fn any_changed_signature_character_fails(
            index in 0..GITHUB_SIGNATURE.len(),
            replacement in "[0-9a-zA-Z=]",
        ) {
            let original = &GITHUB_SIGNATURE[index..=index];
            // Hex is case-insensitive, so a change of case alone is the same signature.
            prop_assume!(!original.eq_ignore_ascii_case(&replacement));
            let mut signature = GITHUB_SIGNATURE.to_owned();
            signature.replace_range(index..=index, &replacement);
            prop_assert!(github().verify(&github_headers(&signature), GITHUB_BODY, now()).is_err());
        }

        #[test]
        fn arbitrary_header_values_never_panic(
            format in formats(),
            value in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                let mut headers = HeaderMap::new();
                headers.insert(format.header.clone(), value);
                let verifier = Verifier::hmac_sha256(format, ["k"]).unwrap();
                let _ = verifier.verify(&headers, b"body", now());
            }
        }
    }
}
