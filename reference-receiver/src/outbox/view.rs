//! What the admin API and the metrics see of an outbox: events, where they stand, counts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::relay::Attempt;

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
