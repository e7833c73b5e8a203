//! Where an outbox reads the time, so tests can drive it instead of waiting for it.

use chrono::{DateTime, Utc};

/// The outbox's source of "now": when an event is queued, attempted, retried or sent back.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, which every outbox uses unless [`Outbox::with_clock`] says otherwise.
///
/// [`Outbox::with_clock`]: super::Outbox::with_clock
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
