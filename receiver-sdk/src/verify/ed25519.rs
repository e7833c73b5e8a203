//! Ed25519 signatures (RFC 8032), as Discord signs interactions and Standard Webhooks signs its
//! asymmetric `v1a` entries.
//!
//! The receiver holds only the senders' public keys, so nothing here is secret: signatures are
//! checked with ed25519-dalek's `verify_strict` (which refuses non-canonical signatures and
//! small-order keys), not compared, and no constant-time care is needed.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH};
use http::{HeaderMap, HeaderName};

use super::standard::HeaderNames;
use super::{
    single_header, Clock, FailureKind, KeyProblem, Scheme, SecretError, Verifier, LENIENT_BASE64,
};

/// Standard Webhooks public keys are written `whpk_<base64>`; the prefix is optional.
const PUBLIC_PREFIX: &str = "whpk_";

/// Standard Webhooks private keys are written `whsk_<base64 of the 32-byte seed>`.
const PRIVATE_PREFIX: &str = "whsk_";

/// The signature version Standard Webhooks gives Ed25519 entries.
pub(super) const V1A: &str = "v1a";

const DISCORD_SIGNATURE: HeaderName = HeaderName::from_static("x-signature-ed25519");
const DISCORD_TIMESTAMP: HeaderName = HeaderName::from_static("x-signature-timestamp");

impl Verifier {
    /// Discord interactions: `X-Signature-Ed25519` (hex) over `{X-Signature-Timestamp}{body}`,
    /// checked against the application's public key as the developer portal shows it (64 hex
    /// digits). Several keys may be given; any one verifying passes.
    ///
    /// Discord's own library checks no timestamp age; this verifier also applies the
    /// [tolerance](Self::with_tolerance), as for every signed timestamp, since Discord sends each
    /// interaction as it happens.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use http::HeaderMap;
    /// use receiver_sdk::verify::{sign, Verifier};
    ///
    /// // A throwaway key pair; Discord keeps the private half.
    /// let private = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    /// let verifier = Verifier::discord([sign::discord_public_key(private)?])?;
    /// let body = br#"{"type":1}"#;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-signature-timestamp", "1700000000".parse()?);
    /// headers.insert("x-signature-ed25519", sign::discord(private, 1700000000, body)?.parse()?);
    /// let now = UNIX_EPOCH + Duration::from_secs(1700000000);
    /// assert!(verifier.verify(&headers, body, now).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn discord(
        public_keys: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, SecretError> {
        let keys = Ed25519Keys::parse(public_keys, decode_hex_key)?;
        Ok(Self::with_scheme(Scheme::Discord(Discord { keys })))
    }

    /// Standard Webhooks with asymmetric signatures: the `v1a,<base64>` entries of
    /// `webhook-signature` (or `svix-signature`), Ed25519 over `{id}.{timestamp}.{body}`, under
    /// the same timestamp tolerance as `v1`.
    ///
    /// Each key is the sender's public key, `whpk_` followed by base64 (the prefix is optional).
    /// A private key (`whsk_`) is refused ([`KeyProblem::PrivateKey`]): the receiver needs only
    /// the public half. `v1` entries are skipped, as `v1a` ones are by
    /// [`standard_webhooks`](Self::standard_webhooks).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use http::HeaderMap;
    /// use receiver_sdk::verify::{sign, Verifier};
    ///
    /// // The signing key of the Standard Webhooks libraries' asymmetric tests.
    /// let private = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    /// let verifier = Verifier::standard_webhooks_v1a([sign::standard_webhooks_public_key(private)?])?;
    /// let body = br#"{"test": 2432232314}"#;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".parse()?);
    /// headers.insert("webhook-timestamp", "1614265330".parse()?);
    /// let signature =
    ///     sign::standard_webhooks_v1a(private, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)?;
    /// headers.insert("webhook-signature", signature.parse()?);
    /// let now = UNIX_EPOCH + Duration::from_secs(1614265330);
    /// assert!(verifier.verify(&headers, body, now).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn standard_webhooks_v1a(
        public_keys: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, SecretError> {
        let keys = Ed25519Keys::parse(public_keys, decode_whpk)?;
        Ok(Self::with_scheme(Scheme::StandardWebhooksV1a(
            StandardWebhooksV1a { keys },
        )))
    }
}

/// The public keys of one endpoint; never empty.
#[derive(Clone)]
struct Ed25519Keys(Vec<VerifyingKey>);

impl Ed25519Keys {
    fn parse(
        keys: impl IntoIterator<Item = impl AsRef<str>>,
        decode: fn(&str) -> Result<[u8; PUBLIC_KEY_LENGTH], KeyProblem>,
    ) -> Result<Self, SecretError> {
        let keys = keys
            .into_iter()
            .enumerate()
            .map(|(index, key)| {
                decode(key.as_ref())
                    .and_then(|bytes| {
                        let key =
                            VerifyingKey::from_bytes(&bytes).map_err(|_| KeyProblem::NotAKey)?;
                        // A small-order key would verify signatures nobody made.
                        if key.is_weak() {
                            Err(KeyProblem::NotAKey)
                        } else {
                            Ok(key)
                        }
                    })
                    .map_err(|problem| SecretError::InvalidPublicKey { index, problem })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(SecretError::NoSecrets);
        }
        Ok(Self(keys))
    }

    /// Whether any key verifies any of `signatures` over `message`. Stopping at the first
    /// success leaks only which public key signed, which is no secret.
    fn any_verifies(
        &self,
        message: &[u8],
        signatures: impl Iterator<Item = Signature> + Clone,
    ) -> bool {
        self.0.iter().any(|key| {
            signatures
                .clone()
                .any(|signature| key.verify_strict(message, &signature).is_ok())
        })
    }
}

impl fmt::Debug for Ed25519Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Ed25519 public key(s)", self.0.len())
    }
}

/// A Discord application's public key: 64 hex digits.
fn decode_hex_key(text: &str) -> Result<[u8; PUBLIC_KEY_LENGTH], KeyProblem> {
    let bytes = hex::decode(text).map_err(|_| KeyProblem::Encoding)?;
    bytes.try_into().map_err(|_| KeyProblem::Length)
}

/// A Standard Webhooks public key: `whpk_` (optional) and base64.
fn decode_whpk(text: &str) -> Result<[u8; PUBLIC_KEY_LENGTH], KeyProblem> {
    if text.starts_with(PRIVATE_PREFIX) {
        return Err(KeyProblem::PrivateKey);
    }
    let encoded = text.strip_prefix(PUBLIC_PREFIX).unwrap_or(text);
    decode_base64_32(encoded)
}

fn decode_base64_32(encoded: &str) -> Result<[u8; 32], KeyProblem> {
    let bytes = LENIENT_BASE64
        .decode(encoded)
        .map_err(|_| KeyProblem::Encoding)?;
    bytes.try_into().map_err(|_| KeyProblem::Length)
}

/// A signature given in hex, only if it is exactly a signature's 64 bytes.
fn decode_hex_signature(text: &str) -> Option<Signature> {
    let mut bytes = [0; SIGNATURE_LENGTH];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(Signature::from_bytes(&bytes))
}

/// A signature given in base64 (padded), only if it is exactly a signature's 64 bytes.
fn decode_base64_signature(text: &str) -> Option<Signature> {
    // The encoded length bounds the work on hostile input before decoding.
    if text.len() != base64::encoded_len(SIGNATURE_LENGTH, true)? {
        return None;
    }
    let bytes: [u8; SIGNATURE_LENGTH] = STANDARD.decode(text).ok()?.try_into().ok()?;
    Some(Signature::from_bytes(&bytes))
}

#[derive(Debug, Clone)]
pub(super) struct Discord {
    keys: Ed25519Keys,
}

impl Discord {
    pub(super) fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        clock: Clock,
    ) -> Result<(), FailureKind> {
        let signature = single_header(headers, &DISCORD_SIGNATURE)?;
        let timestamp = single_header(headers, &DISCORD_TIMESTAMP)?;
        clock.check(&DISCORD_TIMESTAMP, timestamp)?;
        let signature = decode_hex_signature(signature).ok_or(FailureKind::MalformedHeader {
            header: DISCORD_SIGNATURE,
        })?;
        // Ed25519 hashes the message twice, so it must be whole; a copy of the body is the price.
        let message = [timestamp.as_bytes(), body].concat();
        if self.keys.any_verifies(&message, std::iter::once(signature)) {
            Ok(())
        } else {
            Err(FailureKind::SignatureMismatch)
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct StandardWebhooksV1a {
    keys: Ed25519Keys,
}

impl StandardWebhooksV1a {
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
                Some((V1A, encoded)) => Some(encoded),
                _ => None,
            });
        if versioned.clone().next().is_none() {
            return Err(FailureKind::NoSupportedSignature {
                header: names.signature,
            });
        }
        // A garbled entry is skipped, so it cannot veto a valid one.
        let candidates = versioned.filter_map(decode_base64_signature);
        if candidates.clone().next().is_none() {
            return Err(FailureKind::MalformedHeader {
                header: names.signature,
            });
        }
        let message = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
        if self.keys.any_verifies(&message, candidates) {
            Ok(())
        } else {
            Err(FailureKind::SignatureMismatch)
        }
    }
}

/// The signing key from its 32-byte seed in hex (Discord) or, with `whsk_`, in base64.
pub(super) fn signing_key(private: &str) -> Result<SigningKey, KeyProblem> {
    let seed = match private.strip_prefix(PRIVATE_PREFIX) {
        Some(encoded) => decode_base64_32(encoded)?,
        None => decode_hex_key(private)?,
    };
    Ok(SigningKey::from_bytes(&seed))
}

/// `whpk_` and the base64 of `key`'s public half.
pub(super) fn whpk(key: &SigningKey) -> String {
    format!(
        "{PUBLIC_PREFIX}{}",
        STANDARD.encode(key.verifying_key().as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use http::HeaderValue;

    use super::*;
    use crate::verify::sign;
    use crate::verify::test_support::{at, kind, malformed};

    // libraries/go/webhook_asymmetric_test.go in github.com/standard-webhooks/standard-webhooks
    // (TestAsymmetricWebhookSign): the seed, message and the signature the Go library makes.
    const WHSK: &str = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: u64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const V1A_SIGNATURE: &str = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

    // RFC 8032 §7.1, TEST 1: a secret key and its public key.
    const RFC_SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const RFC_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn v1a_headers(signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_static(MSG_ID));
        headers.insert("webhook-timestamp", HeaderValue::from_static("1614265330"));
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    fn v1a() -> Verifier {
        Verifier::standard_webhooks_v1a([sign::standard_webhooks_public_key(WHSK).unwrap()])
            .unwrap()
    }

    fn discord_headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-signature-timestamp",
            HeaderValue::from_str(timestamp).unwrap(),
        );
        headers.insert(
            "x-signature-ed25519",
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    #[test]
    fn v1a_signing_reproduces_the_reference_vector() {
        let signature = sign::standard_webhooks_v1a(WHSK, MSG_ID, TIMESTAMP, BODY).unwrap();
        assert_eq!(signature, V1A_SIGNATURE);
    }

    #[test]
    fn v1a_reference_vector_verifies() {
        v1a()
            .verify(&v1a_headers(V1A_SIGNATURE), BODY, at(TIMESTAMP))
            .unwrap();
    }

    #[test]
    fn v1a_public_key_without_whpk_prefix_is_the_same_key() {
        let whpk = sign::standard_webhooks_public_key(WHSK).unwrap();
        let bare = Verifier::standard_webhooks_v1a([&whpk["whpk_".len()..]]).unwrap();
        bare.verify(&v1a_headers(V1A_SIGNATURE), BODY, at(TIMESTAMP))
            .unwrap();
    }

    #[test]
    fn v1a_skips_v1_entries_and_accepts_any_v1a_one() {
        // The Go library's "valid multi sig is valid" case.
        let signature = [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v1a,not*base64",
            V1A_SIGNATURE,
        ]
        .join(" ");
        v1a()
            .verify(&v1a_headers(&signature), BODY, at(TIMESTAMP))
            .unwrap();
    }

    #[test]
    fn v1a_with_only_v1_entries_is_its_own_failure() {
        let headers = v1a_headers("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=");
        assert_eq!(
            kind(&v1a(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::NoSupportedSignature {
                header: HeaderName::from_static("webhook-signature")
            }
        );
    }

    #[test]
    fn v1a_partial_signature_is_malformed() {
        // The Go library's "partial signature is invalid" and "invalid signature" cases.
        for signature in ["v1a,", "v1a,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="] {
            assert_eq!(
                kind(&v1a(), &v1a_headers(signature), BODY, at(TIMESTAMP)),
                malformed("webhook-signature"),
                "{signature:?}"
            );
        }
    }

    #[test]
    fn v1a_flipped_id_is_a_mismatch() {
        let mut headers = v1a_headers(V1A_SIGNATURE);
        headers.insert(
            "webhook-id",
            HeaderValue::from_static("msg_p5jXN8AQM9LWM0D4loKWxJel"),
        );
        assert_eq!(
            kind(&v1a(), &headers, BODY, at(TIMESTAMP)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn v1a_refuses_a_private_key() {
        assert_eq!(
            Verifier::standard_webhooks_v1a([WHSK]).unwrap_err(),
            SecretError::InvalidPublicKey {
                index: 0,
                problem: KeyProblem::PrivateKey
            }
        );
    }

    #[test]
    fn bad_public_keys_are_typed_configuration_errors() {
        let problem = |key: &str| match Verifier::discord([key]).unwrap_err() {
            SecretError::InvalidPublicKey { index: 0, problem } => problem,
            other => panic!("{other:?}"),
        };
        assert_eq!(problem("not hex"), KeyProblem::Encoding);
        assert_eq!(problem("abcd"), KeyProblem::Length);
        // The identity point: small order, so it would verify forgeries.
        let identity = format!("01{}", "00".repeat(31));
        assert_eq!(problem(&identity), KeyProblem::NotAKey);
        assert_eq!(
            Verifier::discord(Vec::<String>::new()).unwrap_err(),
            SecretError::NoSecrets
        );
        assert_eq!(
            Verifier::standard_webhooks_v1a(["whpk_AAAA"]).unwrap_err(),
            SecretError::InvalidPublicKey {
                index: 0,
                problem: KeyProblem::Length
            }
        );
    }

    #[test]
    fn discord_public_key_matches_rfc_8032() {
        assert_eq!(sign::discord_public_key(RFC_SECRET).unwrap(), RFC_PUBLIC);
    }

    #[test]
    fn discord_verifies_and_accepts_upper_case_hex() {
        let verifier = Verifier::discord([RFC_PUBLIC.to_uppercase()]).unwrap();
        let signature = sign::discord(RFC_SECRET, 1_700_000_000, br#"{"type":1}"#).unwrap();
        let headers = discord_headers("1700000000", &signature.to_uppercase());
        verifier
            .verify(&headers, br#"{"type":1}"#, at(1_700_000_000))
            .unwrap();
    }

    #[test]
    fn discord_signature_over_another_timestamp_is_a_mismatch() {
        let verifier = Verifier::discord([RFC_PUBLIC]).unwrap();
        let signature = sign::discord(RFC_SECRET, 1_700_000_000, b"{}").unwrap();
        let headers = discord_headers("1700000001", &signature);
        assert_eq!(
            kind(&verifier, &headers, b"{}", at(1_700_000_000)),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn discord_truncated_or_garbled_signature_is_malformed() {
        let verifier = Verifier::discord([RFC_PUBLIC]).unwrap();
        let signature = sign::discord(RFC_SECRET, 1_700_000_000, b"{}").unwrap();
        for bad in [&signature[..126], "zz", &format!("{signature}00")] {
            assert_eq!(
                kind(
                    &verifier,
                    &discord_headers("1700000000", bad),
                    b"{}",
                    at(1_700_000_000)
                ),
                malformed("x-signature-ed25519"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn discord_non_canonical_signature_is_refused() {
        // S + L (the group order) verifies under a lax check but is not the signature that was
        // made; verify_strict refuses it.
        let verifier = Verifier::discord([RFC_PUBLIC]).unwrap();
        let signature = sign::discord(RFC_SECRET, 1_700_000_000, b"{}").unwrap();
        let mut bytes = hex::decode(&signature).unwrap();
        let order: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (s, l) in bytes[32..].iter_mut().zip(order) {
            let sum = u16::from(*s) + u16::from(l) + carry;
            *s = sum as u8;
            carry = sum >> 8;
        }
        let headers = discord_headers("1700000000", &hex::encode(bytes));
        assert!(verifier.verify(&headers, b"{}", at(1_700_000_000)).is_err());
    }

    #[test]
    fn discord_clock_before_the_epoch_is_handled() {
        let verifier = Verifier::discord([RFC_PUBLIC]).unwrap();
        let signature = sign::discord(RFC_SECRET, 0, b"{}").unwrap();
        let headers = discord_headers("0", &signature);
        verifier
            .verify(&headers, b"{}", UNIX_EPOCH - Duration::from_secs(10))
            .unwrap();
    }
}
