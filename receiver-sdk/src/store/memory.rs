//! An in-memory store for tests and ephemeral use: nothing survives the process.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Commit, DeliveryKey, OrderingKey, Store, StoreError};

/// Keeps marks and delivery ids in process memory.
///
/// ```
/// use receiver_sdk::store::MemoryStore;
/// let store = MemoryStore::new();
/// # let _ = store;
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    // One std mutex: every critical section is a few map operations and never awaits, so a
    // sharded or async lock would cost more than it saves.
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    marks: HashMap<OrderingKey, i64>,
    deliveries: HashMap<DeliveryKey, i64>,
    // (expiry, key) in expiry order, so a purge reads only what is due.
    expiry: BTreeSet<(i64, DeliveryKey)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing the store, so recover the guard.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn mark(&self, key: &OrderingKey) -> Result<Option<i64>, StoreError> {
        Ok(self.state().marks.get(key).copied())
    }

    async fn is_handled(&self, key: &DeliveryKey, now: i64) -> Result<bool, StoreError> {
        Ok(self
            .state()
            .deliveries
            .get(key)
            .is_some_and(|&expires| expires > now))
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some((key, at)) = commit.mark {
            let mark = state.marks.entry(key).or_insert(at);
            *mark = (*mark).max(at);
        }
        if let Some((key, expires)) = commit.delivery {
            state.expiry.insert((expires, key.clone()));
            state.deliveries.insert(key, expires);
        }
        Ok(())
    }

    async fn purge_expired(&self, now: i64, limit: usize) -> Result<usize, StoreError> {
        let mut state = self.state();
        let due: Vec<(i64, DeliveryKey)> = state
            .expiry
            .iter()
            .take_while(|(expires, _)| *expires <= now)
            .take(limit)
            .cloned()
            .collect();
        let mut removed = 0;
        for entry in due {
            state.expiry.remove(&entry);
            let (expires, key) = entry;
            // An entry re-committed later has a newer expiry; this index entry is just stale.
            if state.deliveries.get(&key) == Some(&expires) {
                state.deliveries.remove(&key);
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_shows_the_store_behaviour() {
        crate::store::behaviour::all(MemoryStore::new).await;
    }
}
