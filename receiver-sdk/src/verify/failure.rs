//! Why a delivery or a verifier's secrets were refused: the failure types every scheme,
//! built in or not, reports with.

use http::HeaderName;

/// Why a delivery failed verification.
///
/// Its message names the check that failed and is safe to send back to the sender: it never
/// contains a secret or an expected value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct VerifyFailure {
    kind: FailureKind,
}

impl VerifyFailure {
    /// A failure of the check `kind`. Built-in schemes use the specific kinds; a scheme of
    /// your own may use them too (a missing header is [`FailureKind::MissingHeader`] whoever
    /// reads it) or report a check of its own with [`VerifyFailure::other`].
    pub fn new(kind: FailureKind) -> Self {
        Self { kind }
    }

    /// A failure of a check only your scheme makes, answered 401 with `check` as its reason
    /// ([`FailureKind::Other`]).
    ///
    /// ```
    /// use receiver_sdk::verify::{FailureKind, VerifyFailure};
    ///
    /// let failure = VerifyFailure::other("device certificate revoked");
    /// assert_eq!(failure.to_string(), "device certificate revoked");
    /// assert_eq!(failure.kind(), &FailureKind::Other { check: "device certificate revoked" });
    /// ```
    pub fn other(check: &'static str) -> Self {
        Self::new(FailureKind::Other { check })
    }

    /// Which check failed.
    pub fn kind(&self) -> &FailureKind {
        &self.kind
    }
}

/// The check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FailureKind {
    /// A header the scheme needs was not sent.
    #[error("missing {header} header")]
    MissingHeader {
        /// The absent header.
        header: HeaderName,
    },
    /// A header that must appear once was sent more than once.
    #[error("{header} header sent more than once")]
    DuplicateHeader {
        /// The repeated header.
        header: HeaderName,
    },
    /// A header was empty, too long, not visible ASCII, or not in the scheme's format (including
    /// a timestamp that is not a number, or a signature that is not valid hex or base64 of
    /// exactly the scheme's length: 32 bytes for an HMAC-SHA256, 64 for Ed25519, a DER ECDSA
    /// signature for P-256).
    #[error("malformed {header} header")]
    MalformedHeader {
        /// The header that could not be parsed.
        header: HeaderName,
    },
    /// The signature header was well formed but held no signature of a version we verify (for
    /// example only `v1a` entries in `webhook-signature`).
    #[error("no supported signature version in {header} header")]
    NoSupportedSignature {
        /// The signature header.
        header: HeaderName,
    },
    /// Well-formed signatures were sent, but none matches any configured secret.
    #[error("no signature matches")]
    SignatureMismatch,
    /// Well-formed signatures were sent, but none matches any configured secret, for a scheme
    /// that signs the URL as well as the body: the commonest cause is a URL other than the
    /// one the sender signs (a proxy in front, a different host or scheme), so the message
    /// says where to look.
    #[error(
        "no signature matches this URL and body; is public_url set to the URL the sender was given?"
    )]
    UrlSignatureMismatch,
    /// The scheme signs the request's URL, and the verifier was given headers and a body only
    /// ([`Verifier::verify`](super::Verifier::verify) rather than
    /// [`verify_request`](super::Verifier::verify_request)).
    #[error("the scheme signs the request URL, which the verifier was not given")]
    UrlNotGiven,
    /// The signed URL carries a hash of the body (Twilio's `bodySHA256`), and the body received
    /// does not have it.
    #[error("the body does not match the hash in the signed URL")]
    BodyHashMismatch,
    /// The signed timestamp is older than the tolerance allows (a late delivery or a replay).
    #[error("timestamp is older than the accepted tolerance")]
    TimestampExpired,
    /// The signed timestamp is further in the future than the tolerance allows.
    #[error("timestamp is further in the future than the accepted tolerance")]
    TimestampInFuture,
    /// No credentials were sent.
    #[error("missing credentials")]
    MissingCredentials,
    /// Credentials were sent but could not be parsed (not `Basic`, bad base64, no colon, or a
    /// repeated header).
    #[error("malformed credentials")]
    MalformedCredentials,
    /// Credentials were sent but match none configured.
    #[error("bad credentials")]
    BadCredentials,
    /// A check of a scheme outside this crate failed; see [`VerifyFailure::other`].
    #[error("{check}")]
    Other {
        /// What failed, as the sender is told. A `&'static str`, so it cannot carry a value
        /// from the request or the scheme's secrets.
        check: &'static str,
    },
}

/// Secrets (or credentials) a [`Verifier`](super::Verifier) refuses to be built with, because
/// it could then verify nothing, or anything.
///
/// Messages point at the offending secret by position, never by value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The list of secrets was empty, so no delivery could ever verify.
    #[error("no secrets given")]
    NoSecrets,
    /// A secret was empty or only whitespace, which would let anyone sign or authenticate.
    #[error("secret at index {index} is empty or only whitespace")]
    EmptySecret {
        /// Position of the secret in the list given, from 0.
        index: usize,
    },
    /// A Standard Webhooks secret was not base64 after its optional `whsec_` prefix.
    #[error("secret at index {index} is not valid base64 after the optional whsec_ prefix")]
    InvalidBase64Secret {
        /// Position of the secret in the list given, from 0.
        index: usize,
    },
    /// A sender's public key (Ed25519 or ECDSA P-256) could not be read.
    #[error("public key at index {index} is invalid: {problem}")]
    InvalidPublicKey {
        /// Position of the key in the list given, from 0.
        index: usize,
        /// What is wrong with it.
        problem: KeyProblem,
    },
}

/// What is wrong with a public key a [`Verifier`](super::Verifier) was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyProblem {
    /// The text is not in the key's encoding (hex for Discord, base64 after `whpk_` for
    /// Standard Webhooks, base64 DER or PEM for SendGrid).
    #[error("not in the expected encoding")]
    Encoding,
    /// The key decodes, but not to the key's length (32 bytes for Ed25519).
    #[error("not the length of a key")]
    Length,
    /// The bytes are not a usable key: not a point on the curve, a weak (small-order) Ed25519
    /// key, or not a P-256 SubjectPublicKeyInfo.
    #[error("not a valid key for the curve")]
    NotAKey,
    /// A private signing key (`whsk_`) was given where the receiver needs only the sender's
    /// public key (`whpk_`); a receiver holding it could forge deliveries.
    #[error("a private signing key, where a public key belongs")]
    PrivateKey,
}
