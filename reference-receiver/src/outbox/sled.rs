//! The outbox in sled, in the database that holds the SDK's state.
//!
//! Each queued endpoint keeps three trees: `outbox/<endpoint>/pending`, `outbox/<endpoint>/dead`
//! and `outbox/<endpoint>/delivered`. An event's key is its id: a sequence number from
//! [`sled::Db::generate_id`], big-endian, so key order is arrival order. sled persists that
//! counter ahead of use, so ids keep rising across restarts, crashes included. The value is
//! the encoded `Record`. Moves between trees are sled transactions: an event is always in
//! exactly one. Which event is due is kept in memory (`Schedule`), rebuilt from the pending
//! tree on opening.

use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

use super::policy::{Outcome, Policy};
use super::record::Record;
use super::schedule::{Lane, Schedule};
use super::view::{EventState, EventView, OutboxStats, Revival, Shelf};
use super::{EnqueueError, Job, OutboxError};
use crate::relay::Attempt;

/// How long an event waits after the store failed to record its attempt.
const STORE_PAUSE_MS: i64 = 1_000;

struct State {
    schedule: Schedule,
    dead: usize,
    delivered: usize,
}

/// One endpoint's events in sled.
pub(crate) struct SledOutbox {
    endpoint: String,
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
}

fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

fn id_of(key: &[u8]) -> Result<u64, OutboxError> {
    key.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| OutboxError::BadKey)
}

/// Moves `key` from one tree to another, atomically, with its new value.
fn move_record(
    from: &sled::Tree,
    to: &sled::Tree,
    key: [u8; 8],
    value: &[u8],
) -> Result<(), OutboxError> {
    (from, to)
        .transaction(|(from, to)| {
            from.remove(&key)?;
            to.insert(&key, value)?;
            Ok::<(), ConflictableTransactionError<()>>(())
        })
        .map_err(OutboxError::from)
}

impl SledOutbox {
    /// Opens the trees of `endpoint` in `db` and rebuilds the schedule from the events still
    /// pending.
    pub(crate) fn open(db: &sled::Db, endpoint: &str) -> Result<Self, OutboxError> {
        let tree = |shelf: &str| db.open_tree(format!("outbox/{endpoint}/{shelf}"));
        let (pending, dead, delivered) = (tree("pending")?, tree("dead")?, tree("delivered")?);
        let mut schedule = Schedule::default();
        for entry in pending.iter() {
            let (key, value) = entry?;
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
            db: db.clone(),
            pending,
            dead,
            delivered,
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves sled consistent (its writes are atomic) and at
        // worst an event marked busy until restart, so carrying on is right.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Inserts `record` unless `limit` events are pending; not flushed (the SDK's commit
    /// flushes the whole database before the 2xx).
    pub(crate) fn enqueue(&self, record: &mut Record, limit: usize) -> Result<u64, EnqueueError> {
        let value = record.encode()?;
        let mut state = self.lock();
        if state.schedule.waiting() + state.schedule.in_flight() >= limit {
            return Err(EnqueueError::Full { limit });
        }
        let stored = |e: sled::Error| EnqueueError::Store(e.into());
        let id = self.db.generate_id().map_err(stored)?;
        self.pending.insert(key(id), value).map_err(stored)?;
        let lane = Lane::of(id, &record.event);
        tracing::debug!(endpoint = %self.endpoint, id, entity = %lane, "queued");
        state
            .schedule
            .add(lane, id, record.enqueued_at.timestamp_millis());
        Ok(id)
    }

    /// Takes the earliest event due at `now` whose lane is idle.
    pub(crate) fn take_due(&self, now: DateTime<Utc>) -> Result<Option<Job>, OutboxError> {
        let now_ms = now.timestamp_millis();
        let mut state = self.lock();
        while let Some((id, lane)) = state.schedule.take(now_ms) {
            let value = match self.pending.get(key(id)) {
                Ok(value) => value,
                Err(e) => {
                    state.schedule.finish(&lane, Some(now_ms + STORE_PAUSE_MS));
                    return Err(e.into());
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

    /// When the next event is due, if one waits on an idle lane.
    pub(crate) fn next_due(&self) -> Option<DateTime<Utc>> {
        let at = self.lock().schedule.next_due()?;
        DateTime::from_timestamp_millis(at)
    }

    /// Records `attempt` of event `id` of `lane` and moves the event on.
    pub(crate) fn finish(
        &self,
        policy: &Policy,
        id: u64,
        lane: &Lane,
        attempt: Attempt,
        now: DateTime<Utc>,
    ) -> Result<(Outcome, u32), OutboxError> {
        let mut state = self.lock();
        let result = self.record(policy, &mut state, id, attempt, now);
        let retry_at = match &result {
            Ok((Outcome::Retry(at), _)) => Some(at.timestamp_millis()),
            Ok(_) => None,
            // The store failed: leave the event pending and try it again in a while.
            Err(_) => Some(now.timestamp_millis() + STORE_PAUSE_MS),
        };
        state.schedule.finish(lane, retry_at);
        result
    }

    fn record(
        &self,
        policy: &Policy,
        state: &mut State,
        id: u64,
        attempt: Attempt,
        now: DateTime<Utc>,
    ) -> Result<(Outcome, u32), OutboxError> {
        let value = self
            .pending
            .get(key(id))?
            .ok_or(OutboxError::NotPending(id))?;
        let mut record = Record::decode(&value)?;
        let outcome = record.attempted(policy, attempt, now);
        match outcome {
            Outcome::Retry(_) => {
                self.pending.insert(key(id), record.encode()?)?;
            }
            Outcome::Dead => {
                move_record(&self.pending, &self.dead, key(id), &record.encode()?)?;
                state.dead += 1;
                while state.dead > policy.max_dead {
                    let Some((oldest, _)) = self.dead.pop_min()? else {
                        break;
                    };
                    state.dead -= 1;
                    policy.log_dropped_dead(&self.endpoint, 1, id_of(&oldest).ok());
                }
            }
            Outcome::Delivered if policy.history_limit == 0 => {
                self.pending.remove(key(id))?;
            }
            Outcome::Delivered => {
                move_record(&self.pending, &self.delivered, key(id), &record.encode()?)?;
                state.delivered += 1;
                while state.delivered > policy.history_limit {
                    if self.delivered.pop_min()?.is_none() {
                        break;
                    }
                    state.delivered -= 1;
                }
            }
        }
        Ok((outcome, record.tries))
    }

    /// The counts, and the age of the oldest pending event at `now`.
    pub(crate) fn stats(&self, now: DateTime<Utc>) -> Result<OutboxStats, OutboxError> {
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
        let oldest = match self.pending.first()? {
            Some((_, value)) => Some(Record::decode(&value)?.enqueued_at),
            None => None,
        };
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
    pub(crate) fn events(&self, shelf: Shelf, limit: usize) -> Result<Vec<EventView>, OutboxError> {
        let tree = self.tree(shelf);
        let entries: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match shelf
        {
            Shelf::Delivered => Box::new(tree.iter().rev()),
            Shelf::Pending | Shelf::Dead => Box::new(tree.iter()),
        };
        let mut views = Vec::new();
        for entry in entries.take(limit) {
            let (key, value) = entry?;
            views.push(self.view(id_of(&key)?, Record::decode(&value)?, shelf));
        }
        Ok(views)
    }

    /// The event with this id, wherever it is.
    pub(crate) fn event(&self, id: u64) -> Result<Option<EventView>, OutboxError> {
        for shelf in [Shelf::Pending, Shelf::Dead, Shelf::Delivered] {
            if let Some(value) = self.tree(shelf).get(key(id))? {
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
        record.view(id, state)
    }

    /// Sends dead letter `id` back to the pending events, due at `now`.
    pub(crate) fn retry_dead(&self, id: u64, now: DateTime<Utc>) -> Result<Revival, OutboxError> {
        let Some(value) = self.dead.get(key(id))? else {
            return Ok(match self.event(id)? {
                Some(view) => Revival::NotDead(view.state),
                None => Revival::Unknown,
            });
        };
        let mut state = self.lock();
        let record = self.revive(&mut state, id, &value, now)?;
        drop(state);
        Ok(Revival::Retried(Box::new(self.view(
            id,
            record,
            Shelf::Pending,
        ))))
    }

    /// Sends every dead letter back; returns how many.
    pub(crate) fn retry_all_dead(&self, now: DateTime<Utc>) -> Result<usize, OutboxError> {
        let mut state = self.lock();
        let mut revived = 0;
        for entry in self.dead.iter() {
            let (key, value) = entry?;
            self.revive(&mut state, id_of(&key)?, &value, now)?;
            revived += 1;
        }
        Ok(revived)
    }

    fn revive(
        &self,
        state: &mut State,
        id: u64,
        value: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Record, OutboxError> {
        let mut record = Record::decode(value)?;
        record.revive(now);
        move_record(&self.dead, &self.pending, key(id), &record.encode()?)?;
        state.dead = state.dead.saturating_sub(1);
        state
            .schedule
            .add(Lane::of(id, &record.event), id, now.timestamp_millis());
        tracing::info!(endpoint = %self.endpoint, id, "dead letter sent back");
        Ok(record)
    }

    /// Removes every event of `shelf`; returns how many.
    pub(crate) fn purge(&self, shelf: Shelf) -> Result<usize, OutboxError> {
        let mut state = self.lock();
        let count = match shelf {
            Shelf::Dead => &mut state.dead,
            Shelf::Delivered => &mut state.delivered,
            // Pending events leave only delivered or as dead letters.
            Shelf::Pending => return Ok(0),
        };
        self.tree(shelf).clear()?;
        Ok(std::mem::take(count))
    }
}
