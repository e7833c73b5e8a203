//! What can go wrong in an outbox, as a type: the store failed, a record is unreadable, or an
//! event is no longer where the caller expected it.

use deadpool_postgres::tokio_postgres;
use receiver_sdk::HandlerError;

/// Why an outbox operation failed. The texts are for logs and the admin API, never for a
/// sender (see [`EnqueueError::answer`](super::EnqueueError::answer)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// sled failed to read or write.
    #[error("outbox store: {0}")]
    Sled(#[from] sled::Error),
    /// A PostgreSQL statement failed.
    #[error("outbox store (PostgreSQL): {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had from the pool.
    #[error("outbox store (PostgreSQL): {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A record could not be encoded for storage.
    #[error("cannot encode an outbox record: {0}")]
    Encode(#[source] serde_json::Error),
    /// A record's JSON is longer than its 4-byte length prefix can say.
    #[error("outbox record too large")]
    TooLarge,
    /// A stored record's framing is broken (`why`: short, length or truncated).
    #[error("unreadable outbox record: {why}")]
    Corrupt {
        /// Which part of the framing is wrong.
        why: &'static str,
    },
    /// A stored record's JSON does not decode.
    #[error("unreadable outbox record: {0}")]
    Decode(#[source] serde_json::Error),
    /// A sled key is not an 8-byte id.
    #[error("outbox key is not an id")]
    BadKey,
    /// An id is outside what the other side can hold (PostgreSQL's `bigint` is signed).
    #[error("event id {0} is out of range")]
    IdOutOfRange(i128),
    /// The event was to be recorded as pending but is not pending any more.
    #[error("event {0} is no longer pending")]
    NotPending(u64),
    /// The event's claim lapsed and another replica may hold it.
    #[error("event {0} is no longer claimed by this replica")]
    NotClaimed(u64),
}

impl From<sled::transaction::TransactionError<()>> for OutboxError {
    fn from(e: sled::transaction::TransactionError<()>) -> Self {
        match e {
            sled::transaction::TransactionError::Storage(e) => Self::Sled(e),
            // Our transactions never abort by themselves.
            sled::transaction::TransactionError::Abort(()) => {
                Self::Sled(sled::Error::Unsupported("transaction aborted".into()))
            }
        }
    }
}

/// Why an event was not queued. Either way nothing was stored and the sender is answered 503,
/// so it keeps the event and retries.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// `max_pending` events wait already.
    #[error("the outbox is full: {limit} events are pending (max_pending)")]
    Full {
        /// The endpoint's `max_pending`.
        limit: usize,
    },
    /// The store failed: the text is for the log, never for the sender.
    #[error(transparent)]
    Store(#[from] OutboxError),
}

impl EnqueueError {
    /// The sender's answer: 503 with a message that names no store detail.
    pub fn answer(&self) -> HandlerError {
        HandlerError::unavailable(match self {
            Self::Full { .. } => {
                "outbox full: too many events wait for the downstream; retry later"
            }
            Self::Store(_) => "outbox unavailable",
        })
    }
}
