//! Store failures, each with a kind a caller can decide by instead of reading its message.

/// A storage failure. The endpoint answers 503 so the sender retries.
///
/// [`kind`](Self::kind) says what failed, for callers that act on it (wait for a directory
/// another process still holds, alert on corruption); the message is for the operator's log
/// and never contains secrets.
///
/// ```
/// use receiver_sdk::store::{StoreError, StoreErrorKind};
///
/// let error = StoreError::locked("the directory is in use by another process");
/// assert_eq!(error.kind(), StoreErrorKind::Locked);
/// assert_eq!(error.message(), "the directory is in use by another process");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("store unavailable: {message}")]
pub struct StoreError {
    kind: StoreErrorKind,
    // Visible to the backends, which move it into errors of their own making.
    pub(super) message: String,
}

/// What kind of failure a [`StoreError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The backend cannot be reached or refused the call: a database server that is down, a
    /// lost connection.
    Unavailable,
    /// The backend did not answer within its time limit (a busy pool, a slow statement, a key
    /// another replica holds too long).
    Timeout,
    /// Another process holds the store: an embedded store's directory is opened by one
    /// process at a time, and one that just closed it may still be letting go.
    Locked,
    /// The store is shutting down, or its committer thread has stopped.
    Closing,
    /// Stored data cannot be read back as it was written.
    Corrupt,
    /// Reading or writing the store's files failed.
    Io,
    /// Anything else: a setting the backend refuses, a failure inside the backend.
    Other,
}

impl StoreError {
    /// A failure of no particular kind ([`StoreErrorKind::Other`]) described by `message`
    /// (which must not contain secrets).
    pub fn new(message: impl Into<String>) -> Self {
        Self::with_kind(StoreErrorKind::Other, message)
    }

    /// A failure of `kind` described by `message` (which must not contain secrets).
    pub fn with_kind(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// An [`Unavailable`](StoreErrorKind::Unavailable) failure.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::with_kind(StoreErrorKind::Unavailable, message)
    }

    /// A [`Timeout`](StoreErrorKind::Timeout) failure.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::with_kind(StoreErrorKind::Timeout, message)
    }

    /// A [`Locked`](StoreErrorKind::Locked) failure.
    pub fn locked(message: impl Into<String>) -> Self {
        Self::with_kind(StoreErrorKind::Locked, message)
    }

    /// A [`Closing`](StoreErrorKind::Closing) failure.
    pub fn closing(message: impl Into<String>) -> Self {
        Self::with_kind(StoreErrorKind::Closing, message)
    }

    /// A [`Corrupt`](StoreErrorKind::Corrupt) failure.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::with_kind(StoreErrorKind::Corrupt, message)
    }

    /// An [`Io`](StoreErrorKind::Io) failure.
    pub fn io(message: impl Into<String>) -> Self {
        Self::with_kind(StoreErrorKind::Io, message)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// What failed, for the operator.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same failure, its message led by `what` (where or while doing what it happened).
    pub(super) fn context(self, what: impl std::fmt::Display) -> Self {
        Self {
            kind: self.kind,
            message: format!("{what}: {}", self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_leads_the_message_and_keeps_the_kind() {
        let error = StoreError::timeout("no answer").context("committing");
        assert_eq!(error.kind(), StoreErrorKind::Timeout);
        assert_eq!(
            error.to_string(),
            "store unavailable: committing: no answer"
        );
    }

    #[test]
    fn a_plain_error_is_of_no_particular_kind() {
        assert_eq!(StoreError::new("x").kind(), StoreErrorKind::Other);
    }
}
