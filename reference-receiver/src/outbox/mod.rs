//! The durable relay outbox of `queued` mode: accepted events wait here until the downstream
//! takes them, with backoff, per-entity order, dead letters and replay.
//!
//! # Storage
//!
//! With `[store] url` the events live in PostgreSQL instead, in one table that every replica's
//! worker takes from (see the `postgres` module); what follows describes sled.
//!
//! Each queued endpoint keeps three sled trees in the store's database:
//! `outbox/<endpoint>/pending`, `outbox/<endpoint>/dead` and `outbox/<endpoint>/delivered`.
//! An event's key is its id: a sequence number from [`sled::Db::generate_id`], big-endian, so
//! key order is arrival order. sled persists that counter ahead of use, so ids keep rising
//! across restarts, crashes included. The value is the `Record`'s JSON followed by the raw
//! payload. Moves between trees are sled transactions: an event is always in exactly one.
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
//! failure on the `max_attempts`-th attempt, makes the event a dead letter, and the lane's later events then proceed. Holding them back would let one poisoned
//! event stop an entity for good, and a receiver that relays state changes usually prefers
//! the newer state arriving; the dead letter stays visible in the admin API, where an
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
mod postgres;
mod schedule;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::response::Response;
use chrono::{DateTime, Utc};
use receiver_sdk::HandlerError;
use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;
use tokio::sync::Notify;

use crate::config::RelayConfig;
use crate::endpoints::idempotency_key;
use crate::relay::{Attempt, Relay, RelayEvent, Verdict};
use schedule::{Lane, Schedule};
pub use worker::spawn;

/// How an outbox retries and what it keeps, from `[endpoint.relay]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Attempts before an event becomes a dead letter.
    pub max_attempts: u32,
    /// The first retry waits up to this long; each later one up to twice the one before.
    pub backoff_initial: Duration,
    /// No retry waits longer.
    pub backoff_max: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Delivered events kept for the admin API (the oldest go first).
    pub history_limit: usize,
    /// Events pending at most (in flight included); beyond, [`Outbox::accept`] answers 503.
    pub max_pending: usize,
    /// Dead letters kept at most (the oldest go first).
    pub max_dead: usize,
}

impl Default for Policy {
    /// The defaults of `config.default.toml`.
    fn default() -> Self {
        Self {
            max_attempts: 10,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            concurrency: 4,
            history_limit: 1_000,
            max_pending: 100_000,
            max_dead: 10_000,
        }
    }
}

impl From<&RelayConfig> for Policy {
    fn from(config: &RelayConfig) -> Self {
        Self {
            max_attempts: config.max_attempts,
            backoff_initial: Duration::from_millis(config.backoff_initial_ms),
            backoff_max: Duration::from_secs(config.backoff_max_secs),
            concurrency: config.concurrency.max(1),
            history_limit: config.history_limit,
            max_pending: config.max_pending,
            max_dead: config.max_dead,
        }
    }
}

/// How long a sender answered 503 by an endpoint is asked to wait before retrying.
pub const RETRY_AFTER_SECS: u64 = 30;

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
    #[error("{0}")]
    Store(String),
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

/// What the outbox keeps about one event.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    event: RelayEvent,
    idempotency_key: String,
    enqueued_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
    // Attempts since it was enqueued or last sent back from the dead letters: what
    // `max_attempts` counts. `attempts` keeps them all.
    tries: u32,
    attempts: Vec<Attempt>,
    finished_at: Option<DateTime<Utc>>,
}

impl Record {
    /// The JSON of everything but the payload, its length first, then the payload as it came:
    /// as JSON the payload would be an array of numbers, about four times its size.
    fn encode(&mut self) -> Result<Vec<u8>, String> {
        let payload = std::mem::take(&mut self.event.payload);
        let json = serde_json::to_vec(&*self);
        self.event.payload = payload;
        let json = json.map_err(|e| format!("cannot encode an outbox record: {e}"))?;
        let length = u32::try_from(json.len()).map_err(|_| "outbox record too large")?;
        let mut bytes = Vec::with_capacity(4 + json.len() + self.event.payload.len());
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(&json);
        bytes.extend_from_slice(&self.event.payload);
        Ok(bytes)
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let unreadable = |why: &str| format!("unreadable outbox record: {why}");
        let (length, rest) = bytes.split_first_chunk::<4>().ok_or(unreadable("short"))?;
        let length =
            usize::try_from(u32::from_be_bytes(*length)).map_err(|_| unreadable("length"))?;
        if rest.len() < length {
            return Err(unreadable("truncated"));
        }
        let (json, payload) = rest.split_at(length);
        let mut record: Self =
            serde_json::from_slice(json).map_err(|e| unreadable(&e.to_string()))?;
        record.event.payload = payload.to_vec();
        Ok(record)
    }
}

/// Where an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    /// Waiting for its next attempt (or for an earlier event of its entity).
    Pending,
    /// Being attempted right now.
    InFlight,
    /// Given up: refused by the downstream, or out of attempts.
    Dead,
    /// Taken by the downstream.
    Delivered,
}

/// The three places an event can be kept, for listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shelf {
    /// Not yet delivered (in flight included).
    Pending,
    /// Dead letters.
    Dead,
    /// The delivered history (newest first when listed).
    Delivered,
}

impl std::str::FromStr for Shelf {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "pending" => Ok(Self::Pending),
            "dead" => Ok(Self::Dead),
            "delivered" => Ok(Self::Delivered),
            other => Err(format!(
                "`{other}` is not a state: use pending, dead or delivered"
            )),
        }
    }
}

/// One event as the admin API shows it: what came in, and every attempt to pass it on
/// (status, headers, body excerpt), like a sender's delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    /// The event's id in its outbox (its sequence number).
    pub id: u64,
    /// Where it stands.
    pub state: EventState,
    /// The event type.
    pub event: String,
    /// The entity's kind.
    pub entity_type: Option<String>,
    /// The entity id.
    pub entity: Option<String>,
    /// The event time the sender gave.
    pub created_at: Option<DateTime<Utc>>,
    /// The sender's delivery id.
    pub delivery: Option<String>,
    /// The `Idempotency-Key` every attempt carries.
    pub idempotency_key: String,
    /// When it was accepted.
    pub enqueued_at: DateTime<Utc>,
    /// When it is tried next (pending events only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was delivered or given up.
    pub finished_at: Option<DateTime<Utc>>,
    /// Attempts that count toward `max_attempts` (since it was queued or sent back).
    pub tries: u32,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
    /// The payload: JSON as it came, or text where it is not JSON.
    pub payload: serde_json::Value,
}

/// One outbox's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxStats {
    /// The endpoint.
    pub endpoint: String,
    /// Events not yet delivered nor dead, those in flight included.
    pub pending: usize,
    /// Events being attempted right now.
    pub in_flight: usize,
    /// Dead letters.
    pub dead: usize,
    /// Delivered events kept in the history.
    pub delivered: usize,
    /// How long the oldest pending event has waited.
    pub oldest_pending_age_secs: Option<f64>,
    /// When the worker next has something to attempt.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// What sending a dead letter back found.
#[derive(Debug, Clone, PartialEq)]
pub enum Revival {
    /// It is pending again.
    Retried(Box<EventView>),
    /// The event exists but is not a dead letter.
    NotDead(EventState),
    /// No event has this id.
    Unknown,
}

/// An event taken for an attempt.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) id: u64,
    pub(crate) lane: Lane,
    pub(crate) event: RelayEvent,
    pub(crate) idempotency_key: String,
}

/// What an attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Delivered: done.
    Delivered,
    /// Failed: tried again at this time.
    Retry(DateTime<Utc>),
    /// Refused, or failed for the last time.
    Dead,
}

struct State {
    schedule: Schedule,
    dead: usize,
    delivered: usize,
}

/// Events waiting to be relayed for one endpoint, kept in the store.
pub struct Outbox {
    endpoint: String,
    relay: Arc<Relay>,
    policy: Policy,
    // For `generate_id`; the trees below live in the same database as the SDK's state, so the
    // SDK's flush before each 2xx covers them.
    db: sled::Db,
    pending: sled::Tree,
    dead: sled::Tree,
    delivered: sled::Tree,
    // One lock over the schedule and the counts, held across every change to the trees as
    // well, so the index never disagrees with sled and ids enter the schedule in the order
    // they are made. Never held across an await: sled's calls are synchronous.
    state: Mutex<State>,
    // Wakes the worker when an event is queued or a dead letter sent back.
    wake: Notify,
    // Whether the last event offered found the outbox full: a full outbox is logged when it
    // fills and when it takes events again, not once per refused request of a flood.
    full: AtomicBool,
    // With `[store] url`: the events live in PostgreSQL instead of the trees above, shared
    // with every replica's worker.
    postgres: Option<postgres::Shelves>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("endpoint", &self.endpoint)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

fn id_of(key: &[u8]) -> Result<u64, String> {
    key.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| "outbox key is not an id".to_owned())
}

fn store_error(e: impl std::fmt::Display) -> String {
    format!("outbox store: {e}")
}

/// Moves `key` from one tree to another, atomically, with its new value.
fn move_record(
    from: &sled::Tree,
    to: &sled::Tree,
    key: [u8; 8],
    value: &[u8],
) -> Result<(), String> {
    (from, to)
        .transaction(|(from, to)| {
            from.remove(&key)?;
            to.insert(&key, value)?;
            Ok::<(), ConflictableTransactionError<()>>(())
        })
        .map_err(|e| store_error(format!("{e:?}")))
}

impl Outbox {
    /// Opens the outbox of `endpoint` in `db`, with the default [`Policy`], and rebuilds its
    /// schedule from the events still pending.
    pub fn open(db: &sled::Db, endpoint: &str, relay: Arc<Relay>) -> Result<Self, String> {
        let tree = |shelf: &str| {
            db.open_tree(format!("outbox/{endpoint}/{shelf}"))
                .map_err(store_error)
        };
        let (pending, dead, delivered) = (tree("pending")?, tree("dead")?, tree("delivered")?);
        let mut schedule = Schedule::default();
        for entry in pending.iter() {
            let (key, value) = entry.map_err(store_error)?;
            let id = id_of(&key)?;
            match Record::decode(&value) {
                Ok(record) => schedule.add(
                    Lane::of(id, &record.event),
                    id,
                    record.next_attempt_at.timestamp_millis(),
                ),
                Err(e) => tracing::error!(endpoint, id, error = %e, "skipping an outbox event"),
            }
        }
        if schedule.waiting() > 0 {
            tracing::info!(
                endpoint,
                pending = schedule.waiting(),
                "resuming the outbox"
            );
        }
        let state = State {
            schedule,
            dead: dead.len(),
            delivered: delivered.len(),
        };
        Ok(Self {
            endpoint: endpoint.to_owned(),
            relay,
            policy: Policy::default(),
            db: db.clone(),
            pending,
            dead,
            delivered,
            state: Mutex::new(state),
            wake: Notify::new(),
            full: AtomicBool::new(false),
            postgres: None,
        })
    }

    /// Keeps the events in PostgreSQL (table `receiver.outbox`, which `PostgresStore`'s
    /// migrations create) instead of sled, worked by every replica. A worker's claim on an
    /// event lapses after `claim_for` if its replica dies while attempting it.
    pub fn with_postgres(mut self, pool: deadpool_postgres::Pool, claim_for: Duration) -> Self {
        self.postgres = Some(postgres::Shelves::new(pool, &self.endpoint, claim_for));
        self
    }

    /// Uses `policy` instead of the defaults.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The endpoint this outbox belongs to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves sled consistent (its writes are atomic) and at
        // worst an event marked busy until restart, so carrying on is right.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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
        let now = Utc::now();
        let mut record = Record {
            idempotency_key: idempotency_key(&self.endpoint, &event),
            event,
            enqueued_at: now,
            next_attempt_at: now,
            tries: 0,
            attempts: Vec::new(),
            finished_at: None,
        };
        let limit = self.policy.max_pending;
        if let Some(postgres) = &self.postgres {
            let id = postgres.enqueue(&mut record, limit).await?;
            tracing::debug!(endpoint = %self.endpoint, id, "queued");
            self.wake.notify_one();
            return Ok(());
        }
        let value = record.encode().map_err(EnqueueError::Store)?;
        let mut state = self.lock();
        if state.schedule.waiting() + state.schedule.in_flight() >= limit {
            return Err(EnqueueError::Full { limit });
        }
        let stored = |e| EnqueueError::Store(store_error(e));
        let id = self.db.generate_id().map_err(stored)?;
        self.pending.insert(key(id), value).map_err(stored)?;
        let lane = Lane::of(id, &record.event);
        tracing::debug!(endpoint = %self.endpoint, id, entity = %lane, "queued");
        state.schedule.add(lane, id, now.timestamp_millis());
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    /// Takes the earliest event due at `now` whose lane is idle, for an attempt.
    pub(crate) async fn take_due(&self, now: DateTime<Utc>) -> Result<Option<Job>, String> {
        if let Some(postgres) = &self.postgres {
            return postgres.take_due(now).await;
        }
        let now_ms = now.timestamp_millis();
        let mut state = self.lock();
        while let Some((id, lane)) = state.schedule.take(now_ms) {
            let value = match self.pending.get(key(id)) {
                Ok(value) => value,
                Err(e) => {
                    state.schedule.finish(&lane, Some(now_ms + 1_000));
                    return Err(store_error(e));
                }
            };
            match value.as_deref().map(Record::decode) {
                Some(Ok(record)) => {
                    return Ok(Some(Job {
                        id,
                        lane,
                        event: record.event,
                        idempotency_key: record.idempotency_key,
                    }))
                }
                Some(Err(e)) => {
                    tracing::error!(endpoint = %self.endpoint, id, error = %e, "skipping an outbox event");
                    state.schedule.finish(&lane, None);
                }
                None => state.schedule.finish(&lane, None),
            }
        }
        Ok(None)
    }

    /// When the next event is due, if one waits on an idle lane. In PostgreSQL, where other
    /// replicas queue events too, when to look again.
    pub(crate) async fn next_due(&self) -> Option<DateTime<Utc>> {
        if let Some(postgres) = &self.postgres {
            return Some(postgres.next_look());
        }
        let at = self.lock().schedule.next_due()?;
        DateTime::from_timestamp_millis(at)
    }

    /// Records `attempt` of event `id` of `lane` and moves the event on: delivered, retried
    /// later, or dead. Returns the outcome and the attempt's number.
    pub(crate) async fn finish(
        &self,
        id: u64,
        lane: &Lane,
        attempt: Attempt,
    ) -> Result<(Outcome, u32), String> {
        let now = Utc::now();
        if let Some(postgres) = &self.postgres {
            return postgres.finish(self, id, attempt, now).await;
        }
        let mut state = self.lock();
        let result = self.record(&mut state, id, attempt, now);
        let retry_at = match &result {
            Ok((Outcome::Retry(at), _)) => Some(at.timestamp_millis()),
            Ok(_) => None,
            // The store failed: leave the event pending and try it again in a while.
            Err(_) => Some(now.timestamp_millis() + 1_000),
        };
        state.schedule.finish(lane, retry_at);
        result
    }

    fn record(
        &self,
        state: &mut State,
        id: u64,
        attempt: Attempt,
        now: DateTime<Utc>,
    ) -> Result<(Outcome, u32), String> {
        let value = self
            .pending
            .get(key(id))
            .map_err(store_error)?
            .ok_or_else(|| format!("event {id} is no longer pending"))?;
        let mut record = Record::decode(&value)?;
        let outcome = self.decide(&mut record, attempt, now);
        match outcome {
            Outcome::Retry(_) => {
                self.pending
                    .insert(key(id), record.encode()?)
                    .map_err(store_error)?;
            }
            Outcome::Dead => {
                move_record(&self.pending, &self.dead, key(id), &record.encode()?)?;
                state.dead += 1;
                while state.dead > self.policy.max_dead {
                    let Some((oldest, _)) = self.dead.pop_min().map_err(store_error)? else {
                        break;
                    };
                    state.dead -= 1;
                    self.dropped_dead(1, id_of(&oldest).ok());
                }
            }
            Outcome::Delivered if self.policy.history_limit == 0 => {
                self.pending.remove(key(id)).map_err(store_error)?;
            }
            Outcome::Delivered => {
                move_record(&self.pending, &self.delivered, key(id), &record.encode()?)?;
                state.delivered += 1;
                while state.delivered > self.policy.history_limit {
                    if self.delivered.pop_min().map_err(store_error)?.is_none() {
                        break;
                    }
                    state.delivered -= 1;
                }
            }
        }
        Ok((outcome, record.tries))
    }

    /// Logs dead letters removed beyond `max_dead`.
    fn dropped_dead(&self, count: u64, oldest: Option<u64>) {
        tracing::warn!(
            endpoint = %self.endpoint,
            count,
            id = oldest,
            max_dead = self.policy.max_dead,
            "dead letters beyond max_dead removed, the oldest first"
        );
    }

    /// Counts `attempt` into `record` and decides what follows: delivered, retried (when), or
    /// dead. Updates the record's times to match.
    fn decide(&self, record: &mut Record, attempt: Attempt, now: DateTime<Utc>) -> Outcome {
        record.tries += 1;
        let outcome = match attempt.verdict {
            Verdict::Delivered => Outcome::Delivered,
            Verdict::Refused => Outcome::Dead,
            Verdict::Failed if record.tries >= self.policy.max_attempts => Outcome::Dead,
            Verdict::Failed => {
                let wait = backoff::delay(
                    self.policy.backoff_initial,
                    self.policy.backoff_max,
                    record.tries,
                    backoff::retry_after(&attempt, now),
                    |most| fastrand::u64(0..=most),
                );
                let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                Outcome::Retry(
                    now.checked_add_signed(wait)
                        .unwrap_or(DateTime::<Utc>::MAX_UTC),
                )
            }
        };
        record.attempts.push(attempt);
        match outcome {
            Outcome::Retry(at) => record.next_attempt_at = at,
            Outcome::Dead | Outcome::Delivered => record.finished_at = Some(now),
        }
        outcome
    }

    /// This outbox's numbers.
    pub async fn stats(&self) -> Result<OutboxStats, String> {
        if let Some(postgres) = &self.postgres {
            return postgres.stats().await;
        }
        let (pending, in_flight, dead, delivered, next_due) = {
            let state = self.lock();
            let schedule = &state.schedule;
            (
                schedule.waiting() + schedule.in_flight(),
                schedule.in_flight(),
                state.dead,
                state.delivered,
                schedule.next_due(),
            )
        };
        let oldest = match self.pending.first().map_err(store_error)? {
            Some((_, value)) => Some(Record::decode(&value)?.enqueued_at),
            None => None,
        };
        let now = Utc::now();
        Ok(OutboxStats {
            endpoint: self.endpoint.clone(),
            pending,
            in_flight,
            dead,
            delivered,
            oldest_pending_age_secs: oldest
                .map(|at| (now - at).num_milliseconds().max(0) as f64 / 1_000.0),
            next_attempt_at: next_due.and_then(DateTime::from_timestamp_millis),
        })
    }

    fn tree(&self, shelf: Shelf) -> &sled::Tree {
        match shelf {
            Shelf::Pending => &self.pending,
            Shelf::Dead => &self.dead,
            Shelf::Delivered => &self.delivered,
        }
    }

    /// Up to `limit` events of `shelf`: pending and dead ones oldest first, delivered ones
    /// newest first.
    pub async fn events(&self, shelf: Shelf, limit: usize) -> Result<Vec<EventView>, String> {
        if let Some(postgres) = &self.postgres {
            return postgres.events(shelf, limit).await;
        }
        let tree = self.tree(shelf);
        let entries: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match shelf
        {
            Shelf::Delivered => Box::new(tree.iter().rev()),
            Shelf::Pending | Shelf::Dead => Box::new(tree.iter()),
        };
        let mut views = Vec::new();
        for entry in entries.take(limit) {
            let (key, value) = entry.map_err(store_error)?;
            views.push(self.view(id_of(&key)?, Record::decode(&value)?, shelf));
        }
        Ok(views)
    }

    /// The event with this id, wherever it is.
    pub async fn event(&self, id: u64) -> Result<Option<EventView>, String> {
        if let Some(postgres) = &self.postgres {
            return postgres.event(id).await;
        }
        for shelf in [Shelf::Pending, Shelf::Dead, Shelf::Delivered] {
            if let Some(value) = self.tree(shelf).get(key(id)).map_err(store_error)? {
                return Ok(Some(self.view(id, Record::decode(&value)?, shelf)));
            }
        }
        Ok(None)
    }

    fn view(&self, id: u64, record: Record, shelf: Shelf) -> EventView {
        let state = match shelf {
            Shelf::Pending
                if self
                    .lock()
                    .schedule
                    .is_in_flight(&Lane::of(id, &record.event), id) =>
            {
                EventState::InFlight
            }
            Shelf::Pending => EventState::Pending,
            Shelf::Dead => EventState::Dead,
            Shelf::Delivered => EventState::Delivered,
        };
        Self::view_of(id, record, state)
    }

    fn view_of(id: u64, record: Record, state: EventState) -> EventView {
        let event = record.event;
        let payload = serde_json::from_slice(&event.payload).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&event.payload).into_owned())
        });
        EventView {
            id,
            state,
            event: event.event,
            entity_type: event.entity_type,
            entity: event.entity,
            created_at: event.created_at,
            delivery: event.delivery,
            idempotency_key: record.idempotency_key,
            enqueued_at: record.enqueued_at,
            next_attempt_at: matches!(state, EventState::Pending | EventState::InFlight)
                .then_some(record.next_attempt_at),
            finished_at: record.finished_at,
            tries: record.tries,
            attempts: record.attempts,
            payload,
        }
    }

    /// Sends dead letter `id` back to the pending events, with a fresh budget of attempts.
    pub async fn retry_dead(&self, id: u64) -> Result<Revival, String> {
        if let Some(postgres) = &self.postgres {
            let revival = postgres.retry_dead(id).await?;
            self.wake.notify_one();
            return Ok(revival);
        }
        let found = self.dead.get(key(id)).map_err(store_error)?;
        let Some(value) = found else {
            return Ok(match self.event(id).await? {
                Some(view) => Revival::NotDead(view.state),
                None => Revival::Unknown,
            });
        };
        let mut state = self.lock();
        let record = self.revive(&mut state, id, &value)?;
        drop(state);
        self.wake.notify_one();
        Ok(Revival::Retried(Box::new(self.view(
            id,
            record,
            Shelf::Pending,
        ))))
    }

    /// Sends every dead letter back; returns how many.
    pub async fn retry_all_dead(&self) -> Result<usize, String> {
        if let Some(postgres) = &self.postgres {
            let revived = postgres.retry_all_dead().await?;
            self.wake.notify_one();
            return Ok(revived);
        }
        let mut state = self.lock();
        let mut revived = 0;
        for entry in self.dead.iter() {
            let (key, value) = entry.map_err(store_error)?;
            self.revive(&mut state, id_of(&key)?, &value)?;
            revived += 1;
        }
        drop(state);
        if revived > 0 {
            self.wake.notify_one();
        }
        Ok(revived)
    }

    fn revive(&self, state: &mut State, id: u64, value: &[u8]) -> Result<Record, String> {
        let now = Utc::now();
        let mut record = Record::decode(value)?;
        record.tries = 0;
        record.next_attempt_at = now;
        record.finished_at = None;
        move_record(&self.dead, &self.pending, key(id), &record.encode()?)?;
        state.dead = state.dead.saturating_sub(1);
        state
            .schedule
            .add(Lane::of(id, &record.event), id, now.timestamp_millis());
        tracing::info!(endpoint = %self.endpoint, id, "dead letter sent back");
        Ok(record)
    }

    /// Removes every dead letter; returns how many.
    pub async fn purge_dead(&self) -> Result<usize, String> {
        if let Some(postgres) = &self.postgres {
            return postgres.purge(Shelf::Dead).await;
        }
        let mut state = self.lock();
        self.dead.clear().map_err(store_error)?;
        Ok(std::mem::take(&mut state.dead))
    }

    /// Empties the delivered history; returns how many events it held.
    pub async fn purge_delivered(&self) -> Result<usize, String> {
        if let Some(postgres) = &self.postgres {
            return postgres.purge(Shelf::Delivered).await;
        }
        let mut state = self.lock();
        self.delivered.clear().map_err(store_error)?;
        Ok(std::mem::take(&mut state.delivered))
    }
}

#[cfg(test)]
mod tests;
