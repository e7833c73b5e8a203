//! An in-memory store for tests and ephemeral use: nothing survives the process.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::{Commit, DeliveryKey, EventTime, OrderingKey, Store, StoreError, UnixSeconds};

/// Keeps marks and delivery ids in process memory.
///
/// Keys are kept as 128-bit digests (SHA-256 of the key's encoding, truncated), not as
/// strings: cheap to hash and compare, and the same size whatever the ids' length (measured:
/// about 146 bytes per handled delivery with its mark, its id and the id's expiry entry). Two
/// different keys would have to collide in 128 bits of SHA-256 to be mistaken for each other.
/// Every key stays until its retention window ends, so memory grows with the number of
/// distinct deliveries in that window: use a durable store for long-running receivers.
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

/// A key's digest, as two words (8-byte aligned, so an entry takes 24 bytes, not 32): already
/// uniformly distributed, so it is its own hash.
type KeyDigest = (u64, u64);
type DigestMap<V> = HashMap<KeyDigest, V, BuildHasherDefault<DigestHasher>>;

#[derive(Debug, Default)]
struct State {
    marks: DigestMap<EventTime>,
    deliveries: DigestMap<UnixSeconds>,
    // (expiry, key) in expiry order, so a purge reads only what is due.
    expiry: BTreeSet<(UnixSeconds, KeyDigest)>,
    // (mark, key) in time order, so a purge of old marks reads only those.
    mark_times: BTreeSet<(EventTime, KeyDigest)>,
}

/// Hashes a [`KeyDigest`] by folding its two words: SipHash over it again would only cost.
#[derive(Debug, Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only digests are hashed here (through `write_u64`); fold anything else in anyway.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = self.0.rotate_left(32) ^ word;
    }
}

fn digest(encoded: &[u8]) -> KeyDigest {
    let full = Sha256::digest(encoded);
    let word = |at: usize| {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&full[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    (word(0), word(8))
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
    async fn mark(&self, key: &OrderingKey) -> Result<Option<EventTime>, StoreError> {
        let key = digest(&key.encode());
        Ok(self.state().marks.get(&key).copied())
    }

    async fn is_handled(&self, key: &DeliveryKey, now: UnixSeconds) -> Result<bool, StoreError> {
        let key = digest(&key.encode());
        Ok(self
            .state()
            .deliveries
            .get(&key)
            .is_some_and(|&expires| expires > now))
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        // Digests are computed before the lock is taken, so it is held only for map work.
        let mark = commit.mark.map(|(key, at)| (digest(&key.encode()), at));
        let delivery = commit
            .delivery
            .map(|(key, expires)| (digest(&key.encode()), expires));
        let mut state = self.state();
        if let Some((key, at)) = mark {
            let old = state.marks.get(&key).copied();
            if old.is_none_or(|old| old < at) {
                state.marks.insert(key, at);
                if let Some(old) = old {
                    state.mark_times.remove(&(old, key));
                }
                state.mark_times.insert((at, key));
            }
        }
        if let Some((key, expires)) = delivery {
            state.expiry.insert((expires, key));
            state.deliveries.insert(key, expires);
        }
        Ok(())
    }

    async fn purge_expired(&self, now: UnixSeconds, limit: usize) -> Result<usize, StoreError> {
        let mut state = self.state();
        let due: Vec<(UnixSeconds, KeyDigest)> = state
            .expiry
            .iter()
            .take_while(|(expires, _)| *expires <= now)
            .take(limit)
            .copied()
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

    async fn purge_marks(&self, before: EventTime, limit: usize) -> Result<usize, StoreError> {
        Ok(self.purge_old_marks(before, limit))
    }
}

impl MemoryStore {
    fn purge_old_marks(&self, before: EventTime, limit: usize) -> usize {
        let mut state = self.state();
        let due: Vec<(EventTime, KeyDigest)> = state
            .mark_times
            .iter()
            .take_while(|(at, _)| *at < before)
            .take(limit)
            .copied()
            .collect();
        for entry in &due {
            state.mark_times.remove(entry);
            let (at, key) = *entry;
            if state.marks.get(&key) == Some(&at) {
                state.marks.remove(&key);
            }
        }
        due.len()
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
