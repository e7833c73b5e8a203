//! Authentication and signature verification over the exact raw body. (Interface stub; the
//! implementation lands from the verify branch.)

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue};

use crate::Secret;

/// How deliveries to an endpoint prove who sent them.
#[derive(Debug, Clone)]
pub struct Verifier {
    scheme: Scheme,
}

#[derive(Debug, Clone)]
enum Scheme {
    None,
    Basic {
        realm: String,
        credentials: Vec<(String, Secret)>,
    },
}

impl Verifier {
    /// Accepts every delivery (the URL itself is the secret, as with Sonar).
    pub fn none() -> Self {
        Self {
            scheme: Scheme::None,
        }
    }

    /// HTTP Basic auth against any of the given user/password pairs.
    pub fn basic(
        realm: impl Into<String>,
        credentials: impl IntoIterator<Item = (String, Secret)>,
    ) -> Self {
        Self {
            scheme: Scheme::Basic {
                realm: realm.into(),
                credentials: credentials.into_iter().collect(),
            },
        }
    }

    /// Sets the accepted clock skew for timestamped schemes.
    pub fn with_tolerance(self, _tolerance: Duration) -> Self {
        self
    }

    /// Checks one delivery.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        _body: &[u8],
        _now: SystemTime,
    ) -> Result<(), VerifyFailure> {
        match &self.scheme {
            Scheme::None => Ok(()),
            Scheme::Basic { .. } => match headers.get(http::header::AUTHORIZATION) {
                Some(_) => Err(VerifyFailure::new(FailureKind::BadCredentials)),
                None => Err(VerifyFailure::new(FailureKind::MissingCredentials)),
            },
        }
    }

    /// The `WWW-Authenticate` value to send with a 401, for schemes that have one.
    pub fn challenge(&self) -> Option<HeaderValue> {
        match &self.scheme {
            Scheme::Basic { realm, .. } => {
                HeaderValue::from_str(&format!("Basic realm=\"{realm}\", charset=\"UTF-8\"")).ok()
            }
            Scheme::None => None,
        }
    }
}

/// Why a delivery failed verification.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}")]
pub struct VerifyFailure {
    kind: FailureKind,
}

impl VerifyFailure {
    fn new(kind: FailureKind) -> Self {
        Self { kind }
    }

    /// Which check failed.
    pub fn kind(&self) -> &FailureKind {
        &self.kind
    }
}

/// The check that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FailureKind {
    /// No credentials were sent.
    #[error("missing credentials")]
    MissingCredentials,
    /// Credentials were sent but match none configured.
    #[error("bad credentials")]
    BadCredentials,
}
