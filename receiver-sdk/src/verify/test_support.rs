//! Helpers the schemes' tests share.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName};

use super::{FailureKind, Verifier};

/// The instant `secs` seconds after the unix epoch.
pub(super) fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The kind of failure, for a delivery that must fail.
pub(super) fn kind(
    verifier: &Verifier,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> FailureKind {
    verifier
        .verify(headers, body, now)
        .unwrap_err()
        .kind()
        .clone()
}

/// [`FailureKind::MalformedHeader`] for the header `name`.
pub(super) fn malformed(name: &'static str) -> FailureKind {
    FailureKind::MalformedHeader {
        header: HeaderName::from_static(name),
    }
}
