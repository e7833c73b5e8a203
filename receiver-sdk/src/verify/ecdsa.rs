//! ECDSA over P-256 with SHA-256, as the SendGrid Event Webhook signs its batches.
//!
//! As with Ed25519, the receiver holds only public keys: signatures are verified with RustCrypto's
//! `p256`, and nothing secret is compared.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::{HeaderMap, HeaderName};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use sha2::{Digest, Sha256};

use super::{
    single_header, Clock, FailureKind, KeyProblem, Scheme, SecretError, Verifier, LENIENT_BASE64,
};

const SENDGRID_SIGNATURE: HeaderName =
    HeaderName::from_static("x-twilio-email-event-webhook-signature");
const SENDGRID_TIMESTAMP: HeaderName =
    HeaderName::from_static("x-twilio-email-event-webhook-timestamp");

/// The longest DER encoding of a P-256 signature: two 33-byte integers and their headers.
const MAX_DER_SIGNATURE: usize = 72;

impl Verifier {
    /// The SendGrid Event Webhook: `X-Twilio-Email-Event-Webhook-Signature` (base64 of a DER
    /// ECDSA P-256 / SHA-256 signature) over `{X-Twilio-Email-Event-Webhook-Timestamp}{body}`.
    ///
    /// Each key is the verification key SendGrid shows under Mail Settings: base64 of a DER
    /// SubjectPublicKeyInfo (a PEM `PUBLIC KEY` block is read too). Several keys may be given;
    /// any one verifying passes. SendGrid's own library checks no timestamp age; this verifier
    /// applies the [tolerance](Self::with_tolerance), as for every signed timestamp.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use http::HeaderMap;
    /// use receiver_sdk::verify::{FailureKind, Verifier};
    ///
    /// // The single-event example of SendGrid's own library (@sendgrid/eventwebhook's tests).
    /// let key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
    /// let verifier = Verifier::sendgrid([key])?;
    /// let body = concat!(
    ///     r#"[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","#,
    ///     r#""sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","#,
    ///     r#""sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","#,
    ///     r#""smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]"#,
    ///     "\r\n",
    /// );
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-twilio-email-event-webhook-timestamp", "1600112502".parse()?);
    /// headers.insert(
    ///     "x-twilio-email-event-webhook-signature",
    ///     "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=".parse()?,
    /// );
    /// let now = UNIX_EPOCH + Duration::from_secs(1600112502);
    /// assert!(verifier.verify(&headers, body.as_bytes(), now).is_ok());
    /// let failure = verifier.verify(&headers, b"[]\r\n", now).unwrap_err();
    /// assert_eq!(failure.kind(), &FailureKind::SignatureMismatch);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sendgrid(
        public_keys: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, SecretError> {
        let keys = public_keys
            .into_iter()
            .enumerate()
            .map(|(index, key)| {
                decode_public_key(key.as_ref())
                    .map_err(|problem| SecretError::InvalidPublicKey { index, problem })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(SecretError::NoSecrets);
        }
        Ok(Self::with_scheme(Scheme::SendGrid(SendGrid {
            keys: P256Keys(keys),
        })))
    }
}

/// The public keys of one endpoint; never empty.
#[derive(Clone)]
struct P256Keys(Vec<VerifyingKey>);

impl fmt::Debug for P256Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} P-256 public key(s)", self.0.len())
    }
}

/// The DER bytes of base64 text, or of a PEM block's base64 lines.
fn der_from_text(text: &str) -> Result<Vec<u8>, KeyProblem> {
    let base64: String = if text.trim_start().starts_with("-----BEGIN") {
        text.lines()
            .filter(|line| !line.starts_with("-----"))
            .flat_map(|line| line.trim().chars())
            .collect()
    } else {
        text.to_owned()
    };
    LENIENT_BASE64
        .decode(base64)
        .map_err(|_| KeyProblem::Encoding)
}

fn decode_public_key(text: &str) -> Result<VerifyingKey, KeyProblem> {
    let der = der_from_text(text)?;
    VerifyingKey::from_public_key_der(&der).map_err(|_| KeyProblem::NotAKey)
}

/// A base64 DER signature, only if it is no longer than a P-256 signature can be.
fn decode_signature(text: &str) -> Option<Signature> {
    if text.len() > base64::encoded_len(MAX_DER_SIGNATURE, true)? {
        return None;
    }
    let der = STANDARD.decode(text).ok()?;
    Signature::from_der(&der).ok()
}

#[derive(Debug, Clone)]
pub(super) struct SendGrid {
    keys: P256Keys,
}

impl SendGrid {
    pub(super) fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        clock: Clock,
    ) -> Result<(), FailureKind> {
        let signature = single_header(headers, &SENDGRID_SIGNATURE)?;
        let timestamp = single_header(headers, &SENDGRID_TIMESTAMP)?;
        clock.check(&SENDGRID_TIMESTAMP, timestamp)?;
        let signature = decode_signature(signature).ok_or(FailureKind::MalformedHeader {
            header: SENDGRID_SIGNATURE,
        })?;
        // Hashed once, piece by piece, so the body is never copied; each key checks the digest.
        let digest = Sha256::new()
            .chain_update(timestamp.as_bytes())
            .chain_update(body)
            .finalize();
        // Like SendGrid's own verifier, a high-S signature is accepted: P-256 signers are not
        // bound to emit low-S ones. Stopping at the first key that verifies leaks only which
        // public key signed.
        let verified = self
            .keys
            .0
            .iter()
            .any(|key| key.verify_prehash(&digest, &signature).is_ok());
        if verified {
            Ok(())
        } else {
            Err(FailureKind::SignatureMismatch)
        }
    }
}

/// A signing key from PKCS#8 DER, as base64 text or a PEM `PRIVATE KEY` block.
pub(super) fn signing_key(private: &str) -> Result<SigningKey, KeyProblem> {
    let der = der_from_text(private)?;
    SigningKey::from_pkcs8_der(&der).map_err(|_| KeyProblem::NotAKey)
}

/// The base64 DER SubjectPublicKeyInfo of `key`'s public half, as SendGrid shows it.
pub(super) fn public_key_text(key: &SigningKey) -> Result<String, KeyProblem> {
    let der = key
        .verifying_key()
        .to_public_key_der()
        .map_err(|_| KeyProblem::NotAKey)?;
    Ok(STANDARD.encode(der.as_bytes()))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use p256::elliptic_curve::ops::Neg;

    use super::*;
    use crate::verify::sign;
    use crate::verify::test_support::{at, kind, malformed};

    // @sendgrid/eventwebhook 8.0.0, src/eventwebhook.spec.js: the single-event example (the
    // payload is `JSON.stringify` of one event and a trailing CRLF).
    const KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
    const SIGNATURE: &str = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=";
    const TIMESTAMP: u64 = 1600112502;
    const BODY: &str = concat!(
        r#"[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","#,
        r#""sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","#,
        r#""sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","#,
        r#""smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]"#,
        "\r\n",
    );
    // The same file's multi-event example: events joined with `},\r\n{` and a trailing CRLF.
    const MULTI_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQ4LIFtWztlsF7skFqOncjD1lun4H5w8XOhyOArHW9RcIx/FfEzx6cikC/yPfUvwaX/JScE7Fc9CJD2afQ9Ok3Q==";
    const MULTI_SIGNATURE: &str = "MEYCIQC/I4o6vCgqRYrTljjoVWB/GRWNtxeePlLMHr3x9ETeRQIhAIpV+03nREPTTHWSW0wIOA0EoMPdcNgXa70yCaqDJlu5";
    const MULTI_TIMESTAMP: u64 = 1619651159;
    const MULTI_BODY: &str = concat!(
        r#"[{"email":"invalid@gmail.com","event":"processed","send_at":0,"#,
        r#""sg_event_id":"cHJvY2Vzc2VkLTE5OTQyMTEyLXFOd0JMZ1BRUWpXNkRKdktRd1NBYnctMA","#,
        r#""sg_message_id":"qNwBLgPQQjW6DJvKQwSAbw.filterdrecv-canary-547b64655b-cw6zx-1-6089EA4A-56.0","#,
        r#""smtp-id":"<qNwBLgPQQjW6DJvKQwSAbw@ismtpd0178p1mdw1.sendgrid.net>","timestamp":1619651146},"#,
        "\r\n",
        r#"{"email":"invalid@gmail.com","event":"bounce","ip":"167.89.101.76","#,
        r#""reason":"552 5.2.2 The email account that you tried to reach is over quota and inactive. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm c17si1130468pgv.34 - gsmtp","#,
        r#""sg_event_id":"Ym91bmNlLTAtMTk5NDIxMTItcU53QkxnUFFRalc2REp2S1F3U0Fidy0w","#,
        r#""sg_message_id":"qNwBLgPQQjW6DJvKQwSAbw.filterdrecv-canary-547b64655b-cw6zx-1-6089EA4A-56.0","#,
        r#""smtp-id":"<qNwBLgPQQjW6DJvKQwSAbw@ismtpd0178p1mdw1.sendgrid.net>","status":"5.2.2","#,
        r#""timestamp":1619651147,"tls":1,"type":"blocked"}]"#,
        "\r\n",
    );
    // The same file's "invalid key" case: a P-256 key that did not sign the example.
    const OTHER_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==";

    fn headers(timestamp: u64, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-twilio-email-event-webhook-timestamp",
            HeaderValue::from_str(&timestamp.to_string()).unwrap(),
        );
        headers.insert(
            "x-twilio-email-event-webhook-signature",
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    fn verifier() -> Verifier {
        Verifier::sendgrid([KEY]).unwrap()
    }

    #[test]
    fn published_single_event_example_verifies() {
        verifier()
            .verify(
                &headers(TIMESTAMP, SIGNATURE),
                BODY.as_bytes(),
                at(TIMESTAMP),
            )
            .unwrap();
    }

    #[test]
    fn published_multi_event_example_verifies() {
        Verifier::sendgrid([MULTI_KEY])
            .unwrap()
            .verify(
                &headers(MULTI_TIMESTAMP, MULTI_SIGNATURE),
                MULTI_BODY.as_bytes(),
                at(MULTI_TIMESTAMP),
            )
            .unwrap();
    }

    #[test]
    fn published_example_fails_under_another_key() {
        let verifier = Verifier::sendgrid([OTHER_KEY]).unwrap();
        assert_eq!(
            kind(
                &verifier,
                &headers(TIMESTAMP, SIGNATURE),
                BODY.as_bytes(),
                at(TIMESTAMP)
            ),
            FailureKind::SignatureMismatch
        );
        let rotated = Verifier::sendgrid([OTHER_KEY, KEY]).unwrap();
        rotated
            .verify(
                &headers(TIMESTAMP, SIGNATURE),
                BODY.as_bytes(),
                at(TIMESTAMP),
            )
            .unwrap();
    }

    #[test]
    fn published_example_without_its_trailing_crlf_is_a_mismatch() {
        let trimmed = BODY.trim_end();
        assert_eq!(
            kind(
                &verifier(),
                &headers(TIMESTAMP, SIGNATURE),
                trimmed.as_bytes(),
                at(TIMESTAMP)
            ),
            FailureKind::SignatureMismatch
        );
    }

    #[test]
    fn high_s_twin_of_a_signature_is_accepted() {
        let signature = Signature::from_der(&STANDARD.decode(SIGNATURE).unwrap()).unwrap();
        let (r, s) = signature.split_scalars();
        let twin = Signature::from_scalars(r, s.as_ref().neg()).unwrap();
        let encoded = STANDARD.encode(twin.to_der().as_bytes());
        assert_ne!(encoded, SIGNATURE);
        verifier()
            .verify(
                &headers(TIMESTAMP, &encoded),
                BODY.as_bytes(),
                at(TIMESTAMP),
            )
            .unwrap();
    }

    #[test]
    fn pem_public_key_is_read() {
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n{}\n-----END PUBLIC KEY-----\n",
            &KEY[..64],
            &KEY[64..]
        );
        Verifier::sendgrid([pem])
            .unwrap()
            .verify(
                &headers(TIMESTAMP, SIGNATURE),
                BODY.as_bytes(),
                at(TIMESTAMP),
            )
            .unwrap();
    }

    #[test]
    fn garbled_or_oversized_signature_is_malformed() {
        let oversized = STANDARD.encode([0x30; MAX_DER_SIGNATURE + 1]);
        for bad in ["not*base64", "AAAA", &SIGNATURE[..40], &oversized] {
            assert_eq!(
                kind(
                    &verifier(),
                    &headers(TIMESTAMP, bad),
                    BODY.as_bytes(),
                    at(TIMESTAMP)
                ),
                malformed("x-twilio-email-event-webhook-signature"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bad_public_keys_are_typed_configuration_errors() {
        let problem = |key: &str| match Verifier::sendgrid([key]).unwrap_err() {
            SecretError::InvalidPublicKey { index: 0, problem } => problem,
            other => panic!("{other:?}"),
        };
        assert_eq!(problem("not base64!"), KeyProblem::Encoding);
        assert_eq!(problem("AAAA"), KeyProblem::NotAKey);
        // A valid SubjectPublicKeyInfo, but the key is Ed25519, not P-256.
        assert_eq!(
            problem("MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="),
            KeyProblem::NotAKey
        );
        assert_eq!(
            Verifier::sendgrid(Vec::<String>::new()).unwrap_err(),
            SecretError::NoSecrets
        );
    }

    #[test]
    fn signing_round_trips_through_the_public_key() {
        // A throwaway PKCS#8 P-256 key: `openssl genpkey -algorithm EC -pkeyopt
        // ec_paramgen_curve:P-256 | openssl pkcs8 -topk8 -nocrypt -outform DER | base64`.
        let private = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQghc21TTnw3Jz/Rgfiii226Hr2hcwejT4dQ6T+BFLHw1GhRANCAAQhlPObIkEbyL/zVwYd4d6S7Gb/DSeu4GV2Ra4JmIRRxh0kJEOSoeogncwWSsNMdQMrhVOZxv9uKIPSFQC/mH9i";
        let public = sign::sendgrid_public_key(private).unwrap();
        let signature = sign::sendgrid(private, TIMESTAMP, b"[]").unwrap();
        Verifier::sendgrid([public])
            .unwrap()
            .verify(&headers(TIMESTAMP, &signature), b"[]", at(TIMESTAMP))
            .unwrap();
    }
}
