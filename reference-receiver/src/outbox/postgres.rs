//! The outbox in PostgreSQL (`receiver.outbox`), shared by every replica's worker.
//!
//! A worker takes an event by claiming it: one statement picks the earliest due event that
//! heads its lane (no earlier event of the lane still pending) and is not claimed, with
//! `FOR UPDATE SKIP LOCKED` so workers of other replicas pass over the row being claimed, and
//! stamps it with this worker's claim and a time the claim lapses. While an event is claimed,
//! or waits for a retry, its lane's later events are not heads, so each entity's events go out
//! one at a time in order across all replicas. The attempt's result, with the attempt itself,
//! is written only if the claim is still ours; a replica that died mid-attempt leaves a claim
//! that lapses, and another replica attempts the event again (at least once, with the same
//! `Idempotency-Key`).
//!
//! The table is this crate's, not the SDK's: [`MIGRATIONS`] creates it, registered with
//! `PostgresStoreBuilder::migrations` so it runs with (and is recorded like) the SDK's own
//! steps.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deadpool_postgres::tokio_postgres::types::ToSql;
use deadpool_postgres::{Object, Pool};
use receiver_sdk::store::Migration;

use super::policy::{Outcome, Policy};
use super::record::Record;
use super::schedule::Lane;
use super::view::{EventState, EventView, OutboxStats, Revival, Shelf};
use super::{EnqueueError, Job, OutboxError};
use crate::relay::Attempt;

/// The name the outbox's schema steps are recorded under in the database.
pub const MIGRATION_NAMESPACE: &str = "reference-receiver/outbox";

/// The outbox's schema, for `PostgresStoreBuilder::migrations`. Released steps are never
/// edited: a change is a new step.
pub const MIGRATIONS: &[Migration] = &[Migration::new(
    1,
    "relay outbox",
    include_str!("migrations/0001_outbox.sql"),
)];

/// How often a worker looks for events other replicas queued.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// One endpoint's events in `receiver.outbox`.
pub(crate) struct PgOutbox {
    pool: Pool,
    queue: String,
    claim_for: Duration,
    // Tells this process's claims from other replicas'.
    claim: i64,
    // The queue's pending count as last read (and when), plus what this replica queued since:
    // what `max_pending` is checked against. Counting on every insert would cost a scan of up
    // to `max_pending` rows each time (55 ms at 100,000), just when the outbox fills up.
    pending: Mutex<Option<(Instant, usize)>>,
}

impl std::fmt::Debug for PgOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOutbox")
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

const TAKE: &str = "UPDATE receiver.outbox SET claimed_until = $3, claim = $4
     WHERE id = (
         SELECT o.id FROM receiver.outbox o
         WHERE o.queue = $1 AND o.state = 'pending' AND o.next_attempt_at <= $2
           AND o.claimed_until <= $2
           AND NOT EXISTS (
               SELECT 1 FROM receiver.outbox e
               WHERE e.queue = o.queue AND e.lane = o.lane AND e.state = 'pending'
                 AND e.id < o.id)
         ORDER BY o.next_attempt_at, o.id
         LIMIT 1
         FOR UPDATE SKIP LOCKED)
     RETURNING id, record";

const STATS: &str = "SELECT
         count(*) FILTER (WHERE state = 'pending'),
         count(*) FILTER (WHERE state = 'pending' AND claimed_until > $2),
         count(*) FILTER (WHERE state = 'dead'),
         count(*) FILTER (WHERE state = 'delivered'),
         min(enqueued_at) FILTER (WHERE state = 'pending'),
         min(next_attempt_at) FILTER (WHERE state = 'pending' AND claimed_until <= $2)
     FROM receiver.outbox WHERE queue = $1";

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn shelf_name(shelf: Shelf) -> &'static str {
    match shelf {
        Shelf::Pending => "pending",
        Shelf::Dead => "dead",
        Shelf::Delivered => "delivered",
    }
}

/// The lane column: length-prefixed, so no entity type and id can pass for another pair.
fn lane_of(record: &Record) -> Option<String> {
    let entity = record.event.entity.as_ref()?;
    let kind = record.event.entity_type.as_deref().unwrap_or_default();
    Some(format!("{}:{kind}{entity}", kind.len()))
}

fn id_of(id: i64) -> Result<u64, OutboxError> {
    u64::try_from(id).map_err(|_| OutboxError::IdOutOfRange(id.into()))
}

fn row_id(id: u64) -> Result<i64, OutboxError> {
    i64::try_from(id).map_err(|_| OutboxError::IdOutOfRange(id.into()))
}

impl PgOutbox {
    /// The events of endpoint `queue`; a claim lapses after `claim_for`.
    pub(crate) fn new(pool: Pool, queue: &str, claim_for: Duration) -> Self {
        Self {
            pool,
            queue: queue.to_owned(),
            claim_for,
            claim: fastrand::i64(1..),
            pending: Mutex::new(None),
        }
    }

    /// The queue's pending events, counted up to `limit`, read again once `LOOK_EVERY` old.
    async fn pending_count(&self, limit: usize) -> Result<usize, OutboxError> {
        let known = *self.counted();
        if let Some((_, count)) = known.filter(|(at, _)| at.elapsed() < LOOK_EVERY) {
            return Ok(count);
        }
        let most = i64::try_from(limit).unwrap_or(i64::MAX);
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT count(*) FROM (
                     SELECT 1 FROM receiver.outbox
                     WHERE queue = $1 AND state = 'pending' LIMIT $2) AS waiting",
                &[&self.queue, &most],
            )
            .await?;
        let count = usize::try_from(row.get::<_, i64>(0)).unwrap_or(usize::MAX);
        *self.counted() = Some((Instant::now(), count));
        Ok(count)
    }

    fn counted(&self) -> std::sync::MutexGuard<'_, Option<(Instant, usize)>> {
        // A count is a hint read again soon: one left by a panic is as good as any.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts `change` pending events into the last count (this replica's own moves).
    fn count_change(&self, change: isize) {
        if let Some((_, count)) = self.counted().as_mut() {
            *count = count.saturating_add_signed(change);
        }
    }

    async fn client(&self) -> Result<Object, OutboxError> {
        Ok(self.pool.get().await?)
    }

    /// Inserts `record` unless `limit` events of this queue are pending. The count is at
    /// most `LOOK_EVERY` old: other replicas' inserts since then can pass the limit by what
    /// they queue in that time (this replica's own are counted).
    pub(crate) async fn enqueue(
        &self,
        record: &mut Record,
        limit: usize,
    ) -> Result<u64, EnqueueError> {
        let lane = lane_of(record);
        let value = record.encode()?;
        let at = millis(record.enqueued_at);
        if self.pending_count(limit).await? >= limit {
            return Err(EnqueueError::Full { limit });
        }
        let row = self
            .client()
            .await?
            .query_one(
                "INSERT INTO receiver.outbox
                     (queue, lane, next_attempt_at, enqueued_at, record)
                 VALUES ($1, $2, $3, $3, $4) RETURNING id",
                &[&self.queue, &lane, &at, &value],
            )
            .await
            .map_err(OutboxError::from)?;
        self.count_change(1);
        let id = id_of(row.get(0))?;
        tracing::debug!(endpoint = %self.queue, id, "queued");
        Ok(id)
    }

    /// Removes the oldest events of `state` beyond the newest `keep`; returns how many.
    async fn trim(
        transaction: &deadpool_postgres::Transaction<'_>,
        queue: &str,
        state: &str,
        keep: usize,
    ) -> Result<u64, OutboxError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        transaction
            .execute(
                "DELETE FROM receiver.outbox WHERE id IN (
                     SELECT id FROM receiver.outbox
                     WHERE queue = $1 AND state = $2
                     ORDER BY id DESC OFFSET $3)",
                &[&queue, &state, &keep],
            )
            .await
            .map_err(OutboxError::from)
    }

    pub(crate) async fn take_due(&self, now: DateTime<Utc>) -> Result<Option<Job>, OutboxError> {
        let until = now + chrono::Duration::from_std(self.claim_for).unwrap_or_default();
        let client = self.client().await?;
        let statement = client.prepare_cached(TAKE).await?;
        let row = client
            .query_opt(
                &statement,
                &[&self.queue, &millis(now), &millis(until), &self.claim],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id = id_of(row.get(0))?;
        let record = Record::decode(row.get(1))?;
        Ok(Some(Job {
            id,
            lane: Lane::of(id, &record.event),
            event: record.event,
            idempotency_key: record.idempotency_key,
        }))
    }

    /// When to look again for events, other replicas' included.
    pub(crate) fn next_look(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(LOOK_EVERY).unwrap_or_default()
    }

    /// Records `attempt` of event `id` if this worker still holds its claim.
    pub(crate) async fn finish(
        &self,
        policy: &Policy,
        id: u64,
        attempt: Attempt,
        now: DateTime<Utc>,
    ) -> Result<(Outcome, u32), OutboxError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let row = transaction
            .query_opt(
                "SELECT record FROM receiver.outbox
                 WHERE id = $1 AND state = 'pending' AND claim = $2 FOR UPDATE",
                &[&row_id(id)?, &self.claim],
            )
            .await?
            .ok_or(OutboxError::NotClaimed(id))?;
        let mut record = Record::decode(row.get(0))?;
        let outcome = record.attempted(policy, attempt, now);
        let state = match outcome {
            Outcome::Retry(_) => "pending",
            Outcome::Dead => "dead",
            Outcome::Delivered => "delivered",
        };
        let keep = !(outcome == Outcome::Delivered && policy.history_limit == 0);
        if keep {
            transaction
                .execute(
                    "UPDATE receiver.outbox
                     SET state = $2, record = $3, next_attempt_at = $4, claimed_until = 0,
                         claim = 0
                     WHERE id = $1",
                    &[
                        &row_id(id)?,
                        &state,
                        &record.encode()?,
                        &millis(record.next_attempt_at),
                    ],
                )
                .await?;
        } else {
            transaction
                .execute("DELETE FROM receiver.outbox WHERE id = $1", &[&row_id(id)?])
                .await?;
        }
        let mut dropped_dead = 0;
        match outcome {
            Outcome::Delivered if keep => {
                let limit = policy.history_limit;
                Self::trim(&transaction, &self.queue, "delivered", limit).await?;
            }
            Outcome::Dead => {
                let limit = policy.max_dead;
                dropped_dead = Self::trim(&transaction, &self.queue, "dead", limit).await?;
            }
            _ => {}
        }
        transaction.commit().await?;
        if !matches!(outcome, Outcome::Retry(_)) {
            self.count_change(-1);
        }
        if dropped_dead > 0 {
            policy.log_dropped_dead(&self.queue, dropped_dead, None);
        }
        Ok((outcome, record.tries))
    }

    pub(crate) async fn stats(&self, now: DateTime<Utc>) -> Result<OutboxStats, OutboxError> {
        let row = self
            .client()
            .await?
            .query_one(STATS, &[&self.queue, &millis(now)])
            .await?;
        let count = |i: usize| usize::try_from(row.get::<_, i64>(i)).unwrap_or_default();
        let oldest: Option<i64> = row.get(4);
        let next: Option<i64> = row.get(5);
        Ok(OutboxStats {
            endpoint: self.queue.clone(),
            pending: count(0),
            in_flight: count(1),
            dead: count(2),
            delivered: count(3),
            oldest_pending_age_secs: oldest.map(|at| (millis(now) - at).max(0) as f64 / 1_000.0),
            next_attempt_at: next.and_then(DateTime::from_timestamp_millis),
        })
    }

    fn state_of(shelf: &str, claimed_until: i64, now: i64) -> EventState {
        match shelf {
            "dead" => EventState::Dead,
            "delivered" => EventState::Delivered,
            _ if claimed_until > now => EventState::InFlight,
            _ => EventState::Pending,
        }
    }

    pub(crate) async fn events(
        &self,
        shelf: Shelf,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventView>, OutboxError> {
        let order = if shelf == Shelf::Delivered {
            "DESC"
        } else {
            "ASC"
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT id, record, state, claimed_until FROM receiver.outbox
                     WHERE queue = $1 AND state = $2 ORDER BY id {order} LIMIT $3"
                ),
                &[&self.queue, &shelf_name(shelf), &limit],
            )
            .await?;
        let now = millis(now);
        rows.iter()
            .map(|row| {
                let state = Self::state_of(row.get(2), row.get(3), now);
                Ok(Record::decode(row.get(1))?.view(id_of(row.get(0))?, state))
            })
            .collect()
    }

    pub(crate) async fn event(
        &self,
        id: u64,
        now: DateTime<Utc>,
    ) -> Result<Option<EventView>, OutboxError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT record, state, claimed_until FROM receiver.outbox
                 WHERE queue = $1 AND id = $2",
                &[&self.queue, &row_id(id)?],
            )
            .await?;
        let now = millis(now);
        row.map(|row| {
            let state = Self::state_of(row.get(1), row.get(2), now);
            Ok(Record::decode(row.get(0))?.view(id, state))
        })
        .transpose()
    }

    /// Sends dead letters back to pending with a fresh budget: `id`, or every one.
    async fn revive(
        &self,
        id: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(u64, Record)>, OutboxError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let id = id.map(row_id).transpose()?;
        let rows = transaction
            .query(
                "SELECT id, record FROM receiver.outbox
                 WHERE queue = $1 AND state = 'dead' AND ($2::bigint IS NULL OR id = $2)
                 FOR UPDATE",
                &[&self.queue, &id],
            )
            .await?;
        let mut revived = Vec::new();
        for row in rows {
            let id: i64 = row.get(0);
            let mut record = Record::decode(row.get(1))?;
            record.revive(now);
            let params: [&(dyn ToSql + Sync); 3] = [&id, &record.encode()?, &millis(now)];
            transaction
                .execute(
                    "UPDATE receiver.outbox
                     SET state = 'pending', record = $2, next_attempt_at = $3
                     WHERE id = $1",
                    &params,
                )
                .await?;
            tracing::info!(endpoint = %self.queue, id, "dead letter sent back");
            revived.push((id_of(id)?, record));
        }
        transaction.commit().await?;
        self.count_change(isize::try_from(revived.len()).unwrap_or(isize::MAX));
        Ok(revived)
    }

    pub(crate) async fn retry_dead(
        &self,
        id: u64,
        now: DateTime<Utc>,
    ) -> Result<Revival, OutboxError> {
        if let Some((id, record)) = self.revive(Some(id), now).await?.pop() {
            let view = record.view(id, EventState::Pending);
            return Ok(Revival::Retried(Box::new(view)));
        }
        Ok(match self.event(id, now).await? {
            Some(view) => Revival::NotDead(view.state),
            None => Revival::Unknown,
        })
    }

    pub(crate) async fn retry_all_dead(&self, now: DateTime<Utc>) -> Result<usize, OutboxError> {
        Ok(self.revive(None, now).await?.len())
    }

    pub(crate) async fn purge(&self, shelf: Shelf) -> Result<usize, OutboxError> {
        let removed = self
            .client()
            .await?
            .execute(
                "DELETE FROM receiver.outbox WHERE queue = $1 AND state = $2",
                &[&self.queue, &shelf_name(shelf)],
            )
            .await?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }
}
