//! The scale benchmark's parts (`bench-scale`): load over a fixed set of entities, and the
//! store state that load would have left, written straight into a store.
//!
//! Delivery number `c` (counted from 0 across every connection) is `invoice.paid` for entity
//! `inv_{c % entities}` with delivery id `msg_{c}`, created at [`CREATED_BASE`]` + c` seconds:
//! times grow with `c`, so after deliveries `0..n` are in the store, delivery `c >= n` is newer
//! than its entity's mark and is handled, never stale. [`commit`] is what the bench endpoint
//! (`bench::app`: endpoint `bench`, Standard Webhooks envelope, ordering per event type)
//! commits after handling delivery `c`; [`prepopulate`] writes deliveries `0..n` that way.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use receiver_sdk::store::{
    Commit, DeliveryKey, EventTime, OrderingKey, Store, StoreError, UnixSeconds,
};
use receiver_sdk::DEFAULT_RETENTION;

use crate::bench::{self, Outcomes};

/// The bench endpoint's name.
pub const ENDPOINT: &str = "bench";
/// The event type of every delivery [`bench::signed_delivery`] makes.
pub const EVENT_TYPE: &str = "invoice.paid";
/// Delivery `c` was created at this many seconds since the Unix epoch, plus `c`.
pub const CREATED_BASE: u64 = 1_700_000_000;

/// The id (`data.id`) of entity number `entity`.
pub fn entity_id(entity: u64) -> String {
    format!("inv_{entity}")
}

/// The ordering key the bench endpoint gives entity number `entity`: the Standard Webhooks
/// envelope has no entity type, and ordering per event type keys by `type`.
pub fn ordering_key(entity: u64) -> OrderingKey {
    OrderingKey::new(ENDPOINT, EVENT_TYPE, "", entity_id(entity))
}

/// What the bench endpoint commits after handling delivery `c` of a load over `entities`
/// entities at `now`: the entity's mark at the delivery's time, and the delivery id,
/// remembered for the default retention.
pub fn commit(c: u64, entities: u64, now: UnixSeconds) -> Commit {
    let mut commit = Commit::default();
    commit.mark = Some((ordering_key(c % entities), created_at(c)));
    commit.delivery = Some((
        DeliveryKey::new(ENDPOINT, format!("msg_{c}")),
        now.saturating_add(DEFAULT_RETENTION),
    ));
    commit
}

/// The time delivery `c` was created at.
pub fn created_at(c: u64) -> EventTime {
    EventTime::from_nanos((CREATED_BASE + c) as i64 * 1_000_000_000)
}

/// Now, in seconds since the Unix epoch.
pub fn unix_now() -> UnixSeconds {
    UnixSeconds::at(SystemTime::now())
}

/// Commits deliveries `0..count` over `entities` entities into `store` as the bench endpoint
/// would, from `concurrency` tasks at once (so a store with group commit shares its flushes).
pub async fn prepopulate<S: Store>(
    store: Arc<S>,
    entities: u64,
    count: u64,
    concurrency: usize,
) -> Result<(), StoreError> {
    let next = Arc::new(AtomicU64::new(0));
    let now = unix_now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (store, next) = (Arc::clone(&store), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let c = next.fetch_add(1, AtomicOrdering::Relaxed);
                    if c >= count {
                        return Ok(());
                    }
                    store.commit(commit(c, entities, now)).await?;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| StoreError::new(format!("prepopulating task failed: {e}")))??;
    }
    Ok(())
}

/// A load over `entities` entities: deliveries numbered by one counter shared by every
/// connection and every clone, up to (not including) an end.
#[derive(Debug, Clone)]
pub struct KeyedLoad {
    next: Arc<AtomicU64>,
    entities: u64,
    size: usize,
    end: u64,
}

impl KeyedLoad {
    /// Deliveries of about `size` bytes over `entities` entities, from number `first` on.
    pub fn new(entities: u64, size: usize, first: u64) -> Self {
        Self {
            next: Arc::new(AtomicU64::new(first)),
            entities: entities.max(1),
            size,
            end: u64::MAX,
        }
    }

    /// Deliveries of about `size` bytes, each for an entity of its own: the pipeline's whole
    /// path every time, never a stale or duplicate shortcut.
    pub fn unique(size: usize) -> Self {
        Self::new(u64::MAX, size, 0)
    }

    /// The same load (sharing its counter) that stops before delivery number `end`.
    pub fn until(&self, end: u64) -> Self {
        Self {
            next: Arc::clone(&self.next),
            end,
            ..*self
        }
    }

    /// The next delivery, signed, as [`bench::delivery`] returns it; `None` past the end.
    pub fn next_delivery(&self) -> Option<(String, u64, String, Vec<u8>)> {
        let c = self.next.fetch_add(1, AtomicOrdering::Relaxed);
        (c < self.end).then(|| {
            bench::signed_delivery(
                &format!("msg_{c}"),
                &entity_id(c % self.entities),
                CREATED_BASE + c,
                self.size,
            )
        })
    }

    /// Drives this load at `addr` over `connections` connections for at most `duration`.
    pub async fn drive(
        &self,
        addr: std::net::SocketAddr,
        connections: usize,
        duration: Duration,
    ) -> (bench::Measured, Outcomes) {
        let load = self.clone();
        bench::drive(addr, connections, duration, move |_, _| {
            load.next_delivery()
        })
        .await
    }
}

/// Sends one delivery for entity 0, created a second before delivery 0 (so older than the mark
/// that delivery 0 left), and returns how it was answered: `stale` proves that the keys
/// [`commit`] wrote are the keys the endpoint reads; `handled` means they are not.
pub async fn probe_stale(addr: std::net::SocketAddr) -> Outcomes {
    let probe = move |_, n| {
        (n == 1)
            .then(|| bench::signed_delivery("probe_stale", &entity_id(0), CREATED_BASE - 1, 256))
    };
    bench::drive(addr, 1, Duration::from_secs(10), probe)
        .await
        .1
}

/// A directory's size: the sum of its files' lengths and the space allocated to them (what
/// `du` counts), in bytes.
pub fn dir_size(dir: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut sizes = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let (len, allocated) = if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            (meta.len(), meta.blocks() * 512)
        };
        sizes = (sizes.0 + len, sizes.1 + allocated);
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use receiver_sdk::store::SledStore;

    use super::*;
    use crate::bench::{app, Target};
    use crate::Server;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn prepopulated_keys_are_the_keys_the_bench_endpoint_reads() {
        let dir = tempfile::tempdir().unwrap();
        let entities = 3;
        {
            let store = Arc::new(SledStore::open(dir.path()).unwrap());
            prepopulate(Arc::clone(&store), entities, entities, 4)
                .await
                .unwrap();
            let key = ordering_key(2);
            assert_eq!(store.mark(&key).await.unwrap(), Some(created_at(2)));
        }
        let server = Server::start(app(Target::SdkSled, dir.path())).await;
        let stale = probe_stale(server.addr).await;
        assert_eq!((stale.stale, stale.handled), (1, 0), "{stale:?}");
        let load = KeyedLoad::new(entities, 256, entities).until(entities + 6);
        let (measured, outcomes) = load.drive(server.addr, 1, Duration::from_secs(10)).await;
        assert_eq!(measured.requests, 6);
        assert_eq!(outcomes.handled, 6, "{outcomes:?}");
        // Prepopulated deliveries sent again are duplicates: their ids are the endpoint's too.
        let again = KeyedLoad::new(entities, 256, 0).until(2);
        let (_, outcomes) = again.drive(server.addr, 1, Duration::from_secs(10)).await;
        assert_eq!(outcomes.duplicate, 2, "{outcomes:?}");
        server.stop().await;
    }
}
