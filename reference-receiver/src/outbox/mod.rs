//! The durable relay outbox of `queued` mode: accepted events wait here until the downstream
//! takes them, with backoff, per-entity order, dead letters and replay.
//!
//! # Layout
//!
//! [`Outbox`] is the one face callers see; it dispatches once, to one of two backends, each in
//! its own file: `sled` (three trees in the store's database, the default) or `postgres` (one
//! table every replica's worker takes from, with `[store] url`; its schema is this crate's
//! own migration, [`MIGRATIONS`]). Both store the same `record` (the event, its attempts, its
//! times) and call the same pure decision, `policy`'s `Policy::decide`, after each attempt.
//! Errors are an [`OutboxError`]; time comes from a [`Clock`] (see [`Outbox::with_clock`]).
//! `worker` runs the deliveries, `schedule` keeps sled's due events in memory and `backoff`
//! says how long a failure waits.
//!
//! # Durability
//!
//! [`Outbox::enqueue`] only inserts. The SDK's commit, which runs after the handler and before
//! the 2xx, flushes the whole database, so an acknowledged event survives `kill -9`. What the
//! worker writes (attempts, moves) is not flushed on the spot: sled's background flush and the
//! flush at shutdown cover it. After a crash, the results of the last moments may be lost and
//! those events are attempted again. Delivery is therefore at least once (exactly once when
//! nothing crashes), and every attempt of an event carries the same `Idempotency-Key` so the
//! downstream can drop a repeat.
//!
//! # Order and dead letters
//!
//! Events are ordered per lane: the entity (type and id) within the endpoint, or, for an
//! event without an entity, the event alone. An event is attempted only once every earlier
//! event of its lane is delivered or dead; lanes proceed independently (see `schedule`).
//!
//! A refusal (a 4xx, a 3xx since redirects are not followed, or a mapping error), or a
//! failure on the `max_attempts`-th attempt, makes the event a dead letter, and the lane's
//! later events then proceed. Holding them back would let one poisoned event stop an entity
//! for good, and a receiver that relays state changes usually prefers the newer state
//! arriving; the dead letter stays visible in the admin API, where an
//! operator can send it back (it then goes before the lane's remaining events, since it keeps
//! its id) or purge it.
//!
//! # Bounds
//!
//! Any sender can post while the downstream is down, so what an outbox holds is bounded.
//! At most `max_pending` events wait (in flight included): beyond, a new event is answered
//! 503 with `Retry-After` and nothing is stored, so the sender keeps it and nothing already
//! acknowledged is ever dropped; the in-memory schedule indexes only stored pending events.
//! In PostgreSQL the count is re-read every 0.5 s (plus this replica's own inserts and moves),
//! so several replicas together can pass the bound by what they queue in that time.
//! Dead letters are kept up to `max_dead`: they are already given up on, and a downstream
//! that refuses every event must not end the intake of every sender, so beyond the bound the
//! oldest is removed, with a warning in the log naming it (a retention, like the delivered
//! history's `history_limit`).
//!
//! # The worker
//!
//! One task per outbox (see `worker`): each endpoint has its own downstream, so each gets
//! its own concurrency budget, and a slow downstream cannot take the slots of another.

mod backoff;
mod clock;
mod error;
mod policy;
mod postgres;
mod record;
mod schedule;
mod sled;
mod view;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use chrono::{DateTime, Utc};
use receiver_sdk::HandlerError;
use tokio::sync::Notify;

pub use self::clock::{Clock, SystemClock};
pub use self::error::{EnqueueError, OutboxError};
pub(crate) use self::policy::Outcome;
pub use self::policy::Policy;
use self::postgres::PgOutbox;
pub use self::postgres::{MIGRATIONS, MIGRATION_NAMESPACE};
use self::record::Record;
use self::schedule::Lane;
use self::sled::SledOutbox;
pub use self::view::{EventState, EventView, OutboxStats, Revival, Shelf};
pub use self::worker::spawn;
use crate::relay::{Attempt, Relay, RelayEvent};

/// How long a sender answered 503 by an endpoint is asked to wait before retrying.
pub const RETRY_AFTER_SECS: u64 = 30;

/// Adds `Retry-After` to a 503 that lacks one (a full outbox, a store that is down).
pub async fn with_retry_after(mut response: Response) -> Response {
    if response.status() == http::StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .entry(http::header::RETRY_AFTER)
            .or_insert(http::HeaderValue::from(RETRY_AFTER_SECS));
    }
    response
}

/// An event taken for an attempt.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) id: u64,
    pub(crate) lane: Lane,
    pub(crate) event: RelayEvent,
    pub(crate) idempotency_key: String,
}

/// Where an outbox keeps its events.
enum Backend {
    Sled(SledOutbox),
    Postgres(PgOutbox),
}

/// Events waiting to be relayed for one endpoint, kept in the store.
pub struct Outbox {
    endpoint: String,
    relay: Arc<Relay>,
    policy: Policy,
    clock: Arc<dyn Clock>,
    backend: Backend,
    // Wakes the worker when an event is queued or a dead letter sent back.
    wake: Notify,
    // Whether the last event offered found the outbox full: a full outbox is logged when it
    // fills and when it takes events again, not once per refused request of a flood.
    full: AtomicBool,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("endpoint", &self.endpoint)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    fn with_backend(endpoint: &str, relay: Arc<Relay>, backend: Backend) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            relay,
            policy: Policy::default(),
            clock: Arc::new(SystemClock),
            backend,
            wake: Notify::new(),
            full: AtomicBool::new(false),
        }
    }

    /// The outbox of `endpoint` in sled database `db`, with the default [`Policy`]; its
    /// schedule is rebuilt from the events still pending.
    pub fn sled(db: &::sled::Db, endpoint: &str, relay: Arc<Relay>) -> Result<Self, OutboxError> {
        let backend = Backend::Sled(SledOutbox::open(db, endpoint)?);
        Ok(Self::with_backend(endpoint, relay, backend))
    }

    /// The outbox of `endpoint` in PostgreSQL (table `receiver.outbox`, created by
    /// [`MIGRATIONS`]), worked by every replica, with the default [`Policy`]. A worker's claim
    /// on an event lapses after `claim_for` if its replica dies while attempting it.
    pub fn postgres(
        pool: deadpool_postgres::Pool,
        endpoint: &str,
        relay: Arc<Relay>,
        claim_for: Duration,
    ) -> Self {
        let backend = Backend::Postgres(PgOutbox::new(pool, endpoint, claim_for));
        Self::with_backend(endpoint, relay, backend)
    }

    /// Uses `policy` instead of the defaults.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Reads the time from `clock` instead of the wall clock: when events are queued, when
    /// attempts are recorded and so when retries fall due. The worker still sleeps in real
    /// time toward what the clock says is due, so a test that moves a clock by hand drives
    /// the outbox's own calls rather than a running worker.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The endpoint this outbox belongs to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The time on this outbox's clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Queues an accepted event, as an endpoint's handler: the sender's answer on failure,
    /// with the detail logged.
    pub async fn accept(&self, event: RelayEvent) -> Result<(), HandlerError> {
        let queued = self.enqueue(event).await;
        let full = match &queued {
            Ok(()) => false,
            Err(EnqueueError::Full { .. }) => true,
            // A store failure says nothing about room.
            Err(_) => self.full.load(Ordering::Relaxed),
        };
        if self.full.swap(full, Ordering::Relaxed) != full {
            if full {
                tracing::warn!(
                    endpoint = %self.endpoint,
                    max_pending = self.policy.max_pending,
                    "outbox full: new events are answered 503 until the downstream takes some"
                );
            } else {
                tracing::info!(endpoint = %self.endpoint, "outbox takes events again");
            }
        }
        queued.map_err(|e| {
            if let EnqueueError::Store(_) = e {
                tracing::error!(endpoint = %self.endpoint, error = %e, "cannot queue an event");
            }
            e.answer()
        })
    }

    /// Adds an event, unless `max_pending` events wait already. On sled not flushed here: the
    /// SDK's commit, which follows before the 2xx, flushes the whole database. In PostgreSQL
    /// it is committed before this returns.
    pub async fn enqueue(&self, event: RelayEvent) -> Result<(), EnqueueError> {
        let mut record = Record::new(&self.endpoint, event, self.now());
        let limit = self.policy.max_pending;
        match &self.backend {
            Backend::Sled(sled) => sled.enqueue(&mut record, limit)?,
            Backend::Postgres(postgres) => postgres.enqueue(&mut record, limit).await?,
        };
        self.wake.notify_one();
        Ok(())
    }

    /// Takes the earliest event due at `now` whose lane is idle, for an attempt.
    pub(crate) async fn take_due(&self, now: DateTime<Utc>) -> Result<Option<Job>, OutboxError> {
        match &self.backend {
            Backend::Sled(sled) => sled.take_due(now),
            Backend::Postgres(postgres) => postgres.take_due(now).await,
        }
    }

    /// When the next event is due, if one waits on an idle lane. In PostgreSQL, where other
    /// replicas queue events too, when to look again.
    pub(crate) async fn next_due(&self) -> Option<DateTime<Utc>> {
        match &self.backend {
            Backend::Sled(sled) => sled.next_due(),
            Backend::Postgres(postgres) => Some(postgres.next_look(self.now())),
        }
    }

    /// Records `attempt` of event `id` of `lane` and moves the event on: delivered, retried
    /// later, or dead. Returns the outcome and the attempt's number.
    pub(crate) async fn finish(
        &self,
        id: u64,
        lane: &Lane,
        attempt: Attempt,
    ) -> Result<(Outcome, u32), OutboxError> {
        let now = self.now();
        match &self.backend {
            Backend::Sled(sled) => sled.finish(&self.policy, id, lane, attempt, now),
            Backend::Postgres(postgres) => postgres.finish(&self.policy, id, attempt, now).await,
        }
    }

    /// This outbox's numbers.
    pub async fn stats(&self) -> Result<OutboxStats, OutboxError> {
        let now = self.now();
        match &self.backend {
            Backend::Sled(sled) => sled.stats(now),
            Backend::Postgres(postgres) => postgres.stats(now).await,
        }
    }

    /// Up to `limit` events of `shelf`: pending and dead ones oldest first, delivered ones
    /// newest first.
    pub async fn events(&self, shelf: Shelf, limit: usize) -> Result<Vec<EventView>, OutboxError> {
        match &self.backend {
            Backend::Sled(sled) => sled.events(shelf, limit),
            Backend::Postgres(postgres) => postgres.events(shelf, limit, self.now()).await,
        }
    }

    /// The event with this id, wherever it is.
    pub async fn event(&self, id: u64) -> Result<Option<EventView>, OutboxError> {
        match &self.backend {
            Backend::Sled(sled) => sled.event(id),
            Backend::Postgres(postgres) => postgres.event(id, self.now()).await,
        }
    }

    /// Sends dead letter `id` back to the pending events, with a fresh budget of attempts.
    pub async fn retry_dead(&self, id: u64) -> Result<Revival, OutboxError> {
        let now = self.now();
        let revival = match &self.backend {
            Backend::Sled(sled) => sled.retry_dead(id, now)?,
            Backend::Postgres(postgres) => postgres.retry_dead(id, now).await?,
        };
        if let Revival::Retried(_) = revival {
            self.wake.notify_one();
        }
        Ok(revival)
    }

    /// Sends every dead letter back; returns how many.
    pub async fn retry_all_dead(&self) -> Result<usize, OutboxError> {
        let now = self.now();
        let revived = match &self.backend {
            Backend::Sled(sled) => sled.retry_all_dead(now)?,
            Backend::Postgres(postgres) => postgres.retry_all_dead(now).await?,
        };
        if revived > 0 {
            self.wake.notify_one();
        }
        Ok(revived)
    }

    /// Removes every dead letter; returns how many.
    pub async fn purge_dead(&self) -> Result<usize, OutboxError> {
        self.purge(Shelf::Dead).await
    }

    /// Empties the delivered history; returns how many events it held.
    pub async fn purge_delivered(&self) -> Result<usize, OutboxError> {
        self.purge(Shelf::Delivered).await
    }

    async fn purge(&self, shelf: Shelf) -> Result<usize, OutboxError> {
        match &self.backend {
            Backend::Sled(sled) => sled.purge(shelf),
            Backend::Postgres(postgres) => postgres.purge(shelf).await,
        }
    }
}

#[cfg(test)]
mod tests;
