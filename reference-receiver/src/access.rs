//! The token check the receiver's own APIs (admin, inspector) share: the admin token is kept
//! only as a SHA-256 digest and compared in constant time, and it travels as a bearer token.

use http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What is kept of a token: its digest, so comparisons take the same time whatever its length.
pub(crate) fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// Whether `given` is the token whose digest is `expected`, in constant time.
pub(crate) fn matches(expected: &[u8; 32], given: &[u8]) -> bool {
    digest(given).ct_eq(expected).into()
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    headers
        .get(header::AUTHORIZATION)?
        .as_bytes()
        .split_at_checked(7)
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|(_, token)| token.trim_ascii())
}
