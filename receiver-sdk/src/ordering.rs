//! The ordering guard: which deliveries are stale, and one-at-a-time processing per key.
//!
//! Sonar, like most senders, retries failed deliveries while newer events for the same entity
//! go through, so events can arrive out of order. The guard keeps, per key, the `created_at`
//! of the newest event whose handler succeeded (the *mark*). A delivery older than the mark is
//! stale: it is answered 200 so the sender stops retrying, and never reaches the handler.
//!
//! Deliveries for one key are processed one at a time (`KeyLocks`), and the mark advances
//! only after the handler succeeds, so a retry of a delivery whose handler failed is processed
//! rather than mistaken for a stale event.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::envelope::{Envelope, EventMeta};
use crate::outcome::Outcome;
use crate::store::{EventTime, OrderingKey};

/// How deliveries are grouped for ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
#[non_exhaustive]
pub enum OrderingScope {
    /// No ordering guard: every delivery reaches the handler (dedupe still applies).
    Off,
    /// One mark per event type and entity: an old `account.status` is stale only against a
    /// newer `account.status` of the same account (Sonar's advice).
    #[default]
    PerEventType,
    /// One mark per entity across all event types: an old `contact.changed` is stale against a
    /// newer `contact.deleted` of the same contact.
    PerEntity,
}

/// What to do with a delivery whose `created_at` equals the mark but which is a different
/// delivery (a retry of the same delivery is caught by dedupe first).
///
/// Senders stamp events with second or millisecond resolution, so two real events for one
/// entity can share a timestamp. With no way to tell which came first, the default hands the
/// later arrival to the handler rather than drop a real event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
#[non_exhaustive]
pub enum TiePolicy {
    /// Equal timestamps reach the handler; the later arrival wins.
    #[default]
    Deliver,
    /// Equal timestamps are stale: the first one handled wins.
    Drop,
}

/// The verdict of the ordering guard for one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Newer than the mark (or no mark yet): hand it to the handler.
    Fresh,
    /// Older than the mark, or tied under [`TiePolicy::Drop`].
    Stale,
}

impl TiePolicy {
    /// Judges an event at `created_at` against the stored `mark`.
    pub fn judge(self, created_at: EventTime, mark: Option<EventTime>) -> Verdict {
        match mark {
            Some(mark) if created_at < mark => Verdict::Stale,
            Some(mark) if created_at == mark && self == TiePolicy::Drop => Verdict::Stale,
            _ => Verdict::Fresh,
        }
    }
}

impl OrderingScope {
    /// The grouping an endpoint uses when none is chosen: per event type and entity where
    /// the envelope [carries both an entity and a time](Envelope::carries_order), else off.
    pub fn default_for(envelope: &Envelope) -> Self {
        if envelope.carries_order() {
            Self::PerEventType
        } else {
            Self::Off
        }
    }
}

/// The ordering key of an event at `endpoint` under `scope`, and its time; `None` when
/// ordering is off. An event without the time or the entity the guard
/// needs is malformed, its message naming the sender's own field.
pub fn key_for(
    endpoint: &str,
    scope: OrderingScope,
    envelope: &Envelope,
    event: &EventMeta,
) -> Result<Option<(OrderingKey, EventTime)>, Outcome> {
    if scope == OrderingScope::Off {
        return Ok(None);
    }
    let created_at = event.created_at.ok_or_else(|| {
        Outcome::Malformed(format!(
            "missing field `{}`: the ordering guard needs the event time",
            envelope.created_at_field()
        ))
    })?;
    let created_at = EventTime::from_datetime(&created_at)
        .ok_or_else(|| Outcome::Malformed("event time is outside the supported range".into()))?;
    let entity_id = event.entity_id.clone().ok_or_else(|| {
        Outcome::Malformed("missing entity id: the ordering guard needs it".into())
    })?;
    let event_type = match scope {
        OrderingScope::PerEventType => event.event_type.clone(),
        _ => String::new(),
    };
    let key = OrderingKey {
        endpoint: endpoint.to_owned(),
        event_type,
        entity_type: event.entity_type.clone().unwrap_or_default(),
        entity_id,
    };
    Ok(Some((key, created_at)))
}

const SHARDS: usize = 64;

type Shard = Mutex<HashMap<Vec<u8>, Arc<AsyncMutex<()>>>>;

/// Per-key mutual exclusion that holds memory only for keys in use.
///
/// A fixed set of striped locks would make unrelated entities wait behind a slow handler;
/// instead each key gets its own async mutex, created on first use and removed when the last
/// holder or waiter lets go. The map is sharded so that looking a key up is not a global lock.
#[derive(Debug)]
pub(crate) struct KeyLocks {
    shards: [Shard; SHARDS],
}

impl Default for KeyLocks {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::default()),
        }
    }
}

/// Held while a delivery for one key is being processed.
pub(crate) struct KeyGuard {
    guard: Option<OwnedMutexGuard<()>>,
    locks: Arc<KeyLocks>,
    key: Vec<u8>,
}

impl KeyLocks {
    fn shard(&self, key: &[u8]) -> &Shard {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        &self.shards[hasher.finish() as usize % SHARDS]
    }

    /// Waits until no other delivery holds `key`, then holds it until the guard drops.
    pub(crate) async fn lock(self: &Arc<Self>, key: Vec<u8>) -> KeyGuard {
        let mutex = {
            let mut shard = self.shard(&key).lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(shard.entry(key.clone()).or_default())
        };
        let guard = mutex.lock_owned().await;
        KeyGuard {
            guard: Some(guard),
            locks: Arc::clone(self),
            key,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut shard = self
            .locks
            .shard(&self.key)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Only the map still refers to the mutex: nobody holds or waits for this key. A task
        // about to wait must first take this shard lock, so it cannot slip in between.
        if shard
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            shard.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn older_events_are_stale_and_ties_follow_the_policy() {
        let at = EventTime::from_nanos;
        assert_eq!(TiePolicy::Deliver.judge(at(5), None), Verdict::Fresh);
        assert_eq!(TiePolicy::Deliver.judge(at(4), Some(at(5))), Verdict::Stale);
        assert_eq!(TiePolicy::Deliver.judge(at(5), Some(at(5))), Verdict::Fresh);
        assert_eq!(TiePolicy::Drop.judge(at(5), Some(at(5))), Verdict::Stale);
        assert_eq!(TiePolicy::Drop.judge(at(6), Some(at(5))), Verdict::Fresh);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_key_is_held_by_one_task_at_a_time() {
        let locks = Arc::new(KeyLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (locks, inside, most) = (locks.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    let _guard = locks.lock(b"k".to_vec()).await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
        assert_eq!(locks.len(), 0, "released keys leave nothing behind");
    }

    #[tokio::test]
    async fn different_keys_do_not_wait_for_each_other() {
        let locks = Arc::new(KeyLocks::default());
        let _a = locks.lock(b"a".to_vec()).await;
        let b = tokio::time::timeout(Duration::from_secs(1), locks.lock(b"b".to_vec())).await;
        assert!(b.is_ok());
        assert_eq!(locks.len(), 2);
    }
}
