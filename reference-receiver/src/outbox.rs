//! The durable relay outbox for `queued` mode. (Interface; the implementation is in progress.)

use std::sync::Arc;

use crate::relay::{Relay, RelayEvent};

/// Events waiting to be relayed for one endpoint, kept in the store.
#[derive(Debug)]
pub struct Outbox {
    endpoint: String,
    relay: Arc<Relay>,
}

impl Outbox {
    /// Opens the outbox of `endpoint` in `db`.
    pub fn open(db: &sled::Db, endpoint: &str, relay: Arc<Relay>) -> Result<Self, String> {
        let _ = db;
        Ok(Self {
            endpoint: endpoint.to_owned(),
            relay,
        })
    }

    /// Adds an event. Not flushed here: the SDK's commit, which follows before the 2xx,
    /// flushes the whole database.
    pub fn enqueue(&self, event: RelayEvent) -> Result<(), String> {
        let _ = (&self.relay, event);
        Err(format!(
            "queued relay of `{}` is not available yet",
            self.endpoint
        ))
    }
}
