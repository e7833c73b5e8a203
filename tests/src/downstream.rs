//! The downstream system a receiver relays into, as a handler that checks what it is given.
//!
//! [`Downstream`] keeps the current state of each entity (the event last applied to it), counts
//! how often each event is applied, and notes every time an older event overwrites a newer
//! one. It can be told to fail (HTTP 500) for a while, as a downstream outage would.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use http::StatusCode;
use receiver_sdk::{Delivery, HandlerError};

/// What one entity looks like downstream: the event last applied to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityState {
    /// The time of the event applied last.
    pub created_at: DateTime<Utc>,
    /// The raw body of that event.
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    entities: BTreeMap<String, EntityState>,
    applied: HashMap<Vec<u8>, usize>,
    regressions: Vec<String>,
    calls: usize,
}

/// A downstream system: a handler, its state and the violations it saw.
#[derive(Debug, Clone, Default)]
pub struct Downstream {
    state: Arc<Mutex<State>>,
    failing: Arc<AtomicBool>,
}

impl Downstream {
    /// An empty downstream that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `true`, every event is refused with 500 and nothing is applied.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// A handler for `ReceiverBuilder::handler`.
    pub fn handler(
        &self,
    ) -> impl Fn(Delivery) -> std::future::Ready<Result<(), HandlerError>> + Send + Sync + Clone
    {
        let downstream = self.clone();
        move |delivery: Delivery| std::future::ready(downstream.apply(&delivery))
    }

    fn apply(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let mut state = self.state.lock().expect("downstream lock");
        state.calls += 1;
        if self.failing.load(Ordering::SeqCst) {
            return Err(HandlerError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "downstream unavailable",
            ));
        }
        let entity = delivery
            .event
            .entity_id
            .clone()
            .ok_or_else(|| HandlerError::bad_request("no entity"))?;
        let created_at = delivery
            .event
            .created_at
            .ok_or_else(|| HandlerError::bad_request("no event time"))?;
        if let Some(current) = state.entities.get(&entity) {
            if current.created_at > created_at {
                let regression = format!(
                    "entity {entity}: {} overwritten by older {}",
                    current.created_at, created_at
                );
                state.regressions.push(regression);
            }
        }
        state.entities.insert(
            entity,
            EntityState {
                created_at,
                body: delivery.body.to_vec(),
            },
        );
        *state.applied.entry(delivery.body.to_vec()).or_default() += 1;
        Ok(())
    }

    /// Each entity's current state.
    pub fn entities(&self) -> BTreeMap<String, EntityState> {
        self.state.lock().expect("downstream lock").entities.clone()
    }

    /// Bodies applied more than once, with their counts.
    pub fn applied_twice(&self) -> Vec<(String, usize)> {
        let state = self.state.lock().expect("downstream lock");
        state
            .applied
            .iter()
            .filter(|(_, count)| **count > 1)
            .map(|(body, count)| (String::from_utf8_lossy(body).into_owned(), *count))
            .collect()
    }

    /// How many distinct events were applied.
    pub fn applied(&self) -> usize {
        self.state.lock().expect("downstream lock").applied.len()
    }

    /// Every time an older event overwrote a newer one.
    pub fn regressions(&self) -> Vec<String> {
        self.state
            .lock()
            .expect("downstream lock")
            .regressions
            .clone()
    }

    /// How often the handler was called (failures included).
    pub fn calls(&self) -> usize {
        self.state.lock().expect("downstream lock").calls
    }
}
