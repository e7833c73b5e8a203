//! What an outbox stores about one event, and how it is laid out in bytes (the same on
//! every backend).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::policy::{Outcome, Policy};
use super::view::{EventState, EventView};
use super::OutboxError;
use crate::relay::{Attempt, RelayEvent};

/// What the outbox keeps about one event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) event: RelayEvent,
    pub(crate) idempotency_key: String,
    pub(crate) enqueued_at: DateTime<Utc>,
    pub(crate) next_attempt_at: DateTime<Utc>,
    // Attempts since it was enqueued or last sent back from the dead letters: what
    // `max_attempts` counts. `attempts` keeps them all.
    pub(crate) tries: u32,
    pub(crate) attempts: Vec<Attempt>,
    pub(crate) finished_at: Option<DateTime<Utc>>,
}

impl Record {
    /// A new event for `endpoint`, due at once.
    pub(crate) fn new(endpoint: &str, event: RelayEvent, now: DateTime<Utc>) -> Self {
        Self {
            idempotency_key: event.idempotency_key(endpoint),
            event,
            enqueued_at: now,
            next_attempt_at: now,
            tries: 0,
            attempts: Vec::new(),
            finished_at: None,
        }
    }

    /// The JSON of everything but the payload, its length first, then the payload as it came:
    /// as JSON the payload would be an array of numbers, about four times its size.
    pub(crate) fn encode(&mut self) -> Result<Vec<u8>, OutboxError> {
        let payload = std::mem::take(&mut self.event.payload);
        let json = serde_json::to_vec(&*self);
        self.event.payload = payload;
        let json = json.map_err(OutboxError::Encode)?;
        let length = u32::try_from(json.len()).map_err(|_| OutboxError::TooLarge)?;
        let mut bytes = Vec::with_capacity(4 + json.len() + self.event.payload.len());
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(&json);
        bytes.extend_from_slice(&self.event.payload);
        Ok(bytes)
    }

    /// Reads what [`Record::encode`] wrote.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, OutboxError> {
        let corrupt = |why| OutboxError::Corrupt { why };
        let (length, rest) = bytes.split_first_chunk::<4>().ok_or(corrupt("short"))?;
        let length = usize::try_from(u32::from_be_bytes(*length)).map_err(|_| corrupt("length"))?;
        if rest.len() < length {
            return Err(corrupt("truncated"));
        }
        let (json, payload) = rest.split_at(length);
        let mut record: Self = serde_json::from_slice(json).map_err(OutboxError::Decode)?;
        record.event.payload = payload.to_vec();
        Ok(record)
    }

    /// Counts `attempt` in, asks `policy` what follows, and sets the record's times to match.
    pub(crate) fn attempted(
        &mut self,
        policy: &Policy,
        attempt: Attempt,
        now: DateTime<Utc>,
    ) -> Outcome {
        self.tries += 1;
        let outcome = policy.decide(self.tries, &attempt, now, |most| fastrand::u64(0..=most));
        self.attempts.push(attempt);
        match outcome {
            Outcome::Retry(at) => self.next_attempt_at = at,
            Outcome::Dead | Outcome::Delivered => self.finished_at = Some(now),
        }
        outcome
    }

    /// Back from the dead letters: due at `now`, with a fresh budget of attempts.
    pub(crate) fn revive(&mut self, now: DateTime<Utc>) {
        self.tries = 0;
        self.next_attempt_at = now;
        self.finished_at = None;
    }

    /// The admin API's view of event `id`, which stands at `state`.
    pub(crate) fn view(self, id: u64, state: EventState) -> EventView {
        let event = self.event;
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
            idempotency_key: self.idempotency_key,
            enqueued_at: self.enqueued_at,
            next_attempt_at: matches!(state, EventState::Pending | EventState::InFlight)
                .then_some(self.next_attempt_at),
            finished_at: self.finished_at,
            tries: self.tries,
            attempts: self.attempts,
            payload,
        }
    }
}
