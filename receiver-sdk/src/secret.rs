//! Secret material that never shows itself in logs, errors or `Debug` output.

use std::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq;

/// A secret (signing key, password or token).
///
/// `Debug` and `Display` print `[redacted]`, so a secret can sit in a config struct that is
/// logged without leaking. The bytes are reachable only through [`Secret::expose`], which makes
/// every use easy to audit.
///
/// There is no `==`: comparing secret bytes with it would take longer the more leading bytes
/// match. Compare with [`Secret::ct_eq`], which takes the same time whatever the bytes.
///
/// ```
/// use receiver_sdk::Secret;
/// let s = Secret::from("hunter2");
/// assert_eq!(format!("{s:?}"), "[redacted]");
/// assert_eq!(s.expose(), b"hunter2");
/// ```
#[derive(Clone)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    /// Wraps raw secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Arc::from(bytes.into()))
    }

    /// The secret's bytes. Compare them only in constant time.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Whether both secrets hold the same bytes, in time that depends only on their lengths.
    ///
    /// ```
    /// use receiver_sdk::Secret;
    /// assert!(Secret::from("hunter2").ct_eq(&Secret::from("hunter2")));
    /// assert!(!Secret::from("hunter2").ct_eq(&Secret::from("hunter3")));
    /// ```
    pub fn ct_eq(&self, other: &Secret) -> bool {
        self.expose().ct_eq(other.expose()).into()
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value.as_bytes())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value.into_bytes())
    }
}

impl From<Vec<u8>> for Secret {
    fn from(value: Vec<u8>) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
