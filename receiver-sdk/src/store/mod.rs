//! Storage for ordering marks and handled-delivery ids.
//!
//! The pipeline needs four things from storage: read the ordering mark of a key, ask whether a
//! delivery was already handled, durably record both after a handler succeeds, and forget
//! delivery ids once their retention window has passed. [`Store`] is that contract; every
//! backend lives in its own module and passes the same behaviour tests: [`MemoryStore`],
//! [`SledStore`], with the `fjall` feature `FjallStore` (embedded like sled, with a real fsync
//! at every group commit) and, with the `postgres` feature, `PostgresStore` for several
//! replicas.
//!
//! Marks are [`EventTime`]s (nanoseconds) and delivery expiry is [`UnixSeconds`], two types so
//! the units cannot be swapped; failures are [`StoreError`]s whose [`StoreErrorKind`] callers
//! decide by. A new backend is one file here implementing [`Store`], its `mod` and `pub use`
//! lines below, and a test that runs the shared behaviour suite on it;
//! [`ReceiverBuilder::store`](crate::ReceiverBuilder::store) takes it as it is, owned or in an
//! `Arc`.

mod error;
#[cfg(feature = "fjall")]
mod fjall;
mod group;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod sled;
mod time;

pub use self::error::{StoreError, StoreErrorKind};

#[cfg(feature = "fjall")]
pub use self::fjall::{FjallStore, FjallStoreBuilder};
pub use self::group::DEFAULT_COMMIT_DELAY;
pub use self::memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use self::postgres::{
    Migration, PostgresStore, PostgresStoreBuilder, ScratchDatabase, DEFAULT_POOL_SIZE,
};
pub use self::sled::{SledStore, SledStoreBuilder, DEFAULT_SLED_CACHE_BYTES};
pub use self::time::{EventTime, UnixSeconds};

use std::sync::Arc;

use async_trait::async_trait;

/// Identifies one ordering mark: the newest `created_at` seen for an entity, per endpoint and,
/// when ordering is per event type, per event type.
///
/// Non-exhaustive, so a key can gain a part; outside this crate, build one with
/// [`OrderingKey::new`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct OrderingKey {
    /// The endpoint's name, so two endpoints never share marks.
    pub endpoint: String,
    /// The event type, or empty when ordering is per entity across event types.
    pub event_type: String,
    /// The entity's kind, where the sender gives one (empty otherwise).
    pub entity_type: String,
    /// The entity's id.
    pub entity_id: String,
}

impl OrderingKey {
    /// The key of `entity_id` (of kind `entity_type`, empty if the sender gives none) for
    /// events of `event_type` (empty when ordering is per entity) at `endpoint`.
    pub fn new(
        endpoint: impl Into<String>,
        event_type: impl Into<String>,
        entity_type: impl Into<String>,
        entity_id: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            event_type: event_type.into(),
            entity_type: entity_type.into(),
            entity_id: entity_id.into(),
        }
    }

    /// The key's stable byte encoding: length-prefixed parts, so no id can forge another key by
    /// containing a separator.
    pub fn encode(&self) -> Vec<u8> {
        encode_parts(&[
            &self.endpoint,
            &self.event_type,
            &self.entity_type,
            &self.entity_id,
        ])
    }
}

/// Identifies one handled delivery.
///
/// Non-exhaustive; outside this crate, build one with [`DeliveryKey::new`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct DeliveryKey {
    /// The endpoint's name.
    pub endpoint: String,
    /// The sender's delivery id, or `sha256:<hex of the body>` when the sender sends none.
    pub id: String,
}

impl DeliveryKey {
    /// The delivery `id` at `endpoint`.
    pub fn new(endpoint: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            id: id.into(),
        }
    }

    /// The key's stable byte encoding.
    pub fn encode(&self) -> Vec<u8> {
        encode_parts(&[&self.endpoint, &self.id])
    }
}

fn encode_parts(parts: &[&str]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len() + 4).sum();
    let mut out = Vec::with_capacity(len);
    for part in parts {
        // Ids longer than 4 GiB cannot reach here: bodies and headers are far smaller.
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

// The embedded stores' byte layout (sled, fjall): marks and expiries are stored as big-endian
// i64; the expiry index key is the sortable expiry followed by the encoded delivery key.

/// A big-endian i64 value, as the embedded stores keep marks and expiries.
fn decode_i64(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// Big-endian with the sign bit flipped, so byte order equals numeric order.
fn sortable(value: i64) -> [u8; 8] {
    ((value as u64) ^ (1 << 63)).to_be_bytes()
}

fn from_sortable(bytes: &[u8]) -> Option<i64> {
    let raw = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    Some((raw ^ (1 << 63)) as i64)
}

/// The expiry index key of an encoded delivery key: (sortable expiry, key), so a range scan up
/// to a time reads exactly the entries due by then.
fn expiry_index(expires: i64, key: &[u8]) -> Vec<u8> {
    let mut index = Vec::with_capacity(8 + key.len());
    index.extend_from_slice(&sortable(expires));
    index.extend_from_slice(key);
    index
}

/// The exclusive upper bound of the expiry index entries due at `now` (expired before it or
/// at it).
fn due_before(now: i64) -> [u8; 8] {
    now.checked_add(1).map_or([0xff; 8], sortable)
}

/// What to record once a handler has succeeded.
///
/// Non-exhaustive, so a commit can come to record more; outside this crate, start from
/// `Commit::default()` (nothing to record) and set the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Commit {
    /// Advance this ordering mark to this event time. A store never moves a mark backwards.
    pub mark: Option<(OrderingKey, EventTime)>,
    /// Remember this delivery as handled until this time.
    pub delivery: Option<(DeliveryKey, UnixSeconds)>,
}

/// The key a [`Store::lease`] holds: the ordering key of the delivery, or its delivery key
/// when ordering is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseKey<'a> {
    /// Deliveries of one ordering key, so its mark is checked and advanced by one process at
    /// a time.
    Ordering(&'a OrderingKey),
    /// Copies of one delivery, when ordering is off.
    Delivery(&'a DeliveryKey),
}

impl LeaseKey<'_> {
    /// The key's stable byte encoding: its ordering or delivery key's own.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Ordering(key) => key.encode(),
            Self::Delivery(key) => key.encode(),
        }
    }
}

/// Durable state behind the ordering guard and dedupe.
///
/// Implementations must make a [`Store::commit`] durable before it returns: the endpoint
/// answers 2xx right after, and a sender never resends what was acknowledged.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The mark of `key`, if any event was committed.
    async fn mark(&self, key: &OrderingKey) -> Result<Option<EventTime>, StoreError>;

    /// Whether `key` was handled and its entry has not expired at `now`.
    async fn is_handled(&self, key: &DeliveryKey, now: UnixSeconds) -> Result<bool, StoreError>;

    /// Records a handled delivery durably. The mark only ever moves forward.
    async fn commit(&self, commit: Commit) -> Result<(), StoreError>;

    /// Forgets at most `limit` delivery entries that expired before `now` and returns how
    /// many it removed. Bounded so it never stalls the request path.
    async fn purge_expired(&self, now: UnixSeconds, limit: usize) -> Result<usize, StoreError>;

    /// Forgets ordering marks older than the event time `before`, at most
    /// `limit` index entries at a time; returns how many it went through, 0 once none is due.
    /// The endpoint calls it only with an [ordering
    /// horizon](crate::ReceiverBuilder::ordering_horizon), under which an event older than
    /// the horizon is stale whatever the mark says, so such a mark decides nothing any more.
    async fn purge_marks(&self, before: EventTime, limit: usize) -> Result<usize, StoreError>;

    /// Exclusive use of one key (an [`OrderingKey`], or a [`DeliveryKey`] when ordering is
    /// off) by every process that shares this store, until the returned lease is
    /// dropped. The endpoint already serialises keys within its process, so a store that only
    /// one process can open (memory, sled) needs none: the default returns `None`. A store
    /// shared by several receiver replicas returns a lease (a database lock) so that the
    /// check of the mark, the handler and the commit of one key never interleave across them.
    async fn lease(&self, key: LeaseKey<'_>) -> Result<Option<Box<dyn Lease>>, StoreError> {
        let _ = key;
        Ok(None)
    }
}

/// Held while one key is being processed; dropping it releases the key to other processes.
pub trait Lease: Send {}

/// A shared store is a store: endpoints that share one (or keep a handle to it) pass the
/// `Arc`, and every call goes to the store inside.
#[async_trait]
impl<S: Store + ?Sized> Store for Arc<S> {
    async fn mark(&self, key: &OrderingKey) -> Result<Option<EventTime>, StoreError> {
        (**self).mark(key).await
    }

    async fn is_handled(&self, key: &DeliveryKey, now: UnixSeconds) -> Result<bool, StoreError> {
        (**self).is_handled(key, now).await
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        (**self).commit(commit).await
    }

    async fn purge_expired(&self, now: UnixSeconds, limit: usize) -> Result<usize, StoreError> {
        (**self).purge_expired(now, limit).await
    }

    async fn purge_marks(&self, before: EventTime, limit: usize) -> Result<usize, StoreError> {
        (**self).purge_marks(before, limit).await
    }

    async fn lease(&self, key: LeaseKey<'_>) -> Result<Option<Box<dyn Lease>>, StoreError> {
        (**self).lease(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_encoding_orders_like_numbers() {
        let values = [i64::MIN, -5, -1, 0, 1, 5, i64::MAX];
        for pair in values.windows(2) {
            assert!(sortable(pair[0]) < sortable(pair[1]));
            assert_eq!(from_sortable(&sortable(pair[0])), Some(pair[0]));
        }
    }
}

#[cfg(test)]
pub(crate) mod behaviour {
    //! The behaviour every store must show; each backend's tests call these.

    use super::*;

    /// An ordering key of endpoint `ep` and event type `account.status`.
    pub(crate) fn key(entity: &str) -> OrderingKey {
        OrderingKey {
            endpoint: "ep".into(),
            event_type: "account.status".into(),
            entity_type: String::new(),
            entity_id: entity.into(),
        }
    }

    /// A delivery key of endpoint `ep`.
    pub(crate) fn delivery(id: &str) -> DeliveryKey {
        DeliveryKey {
            endpoint: "ep".into(),
            id: id.into(),
        }
    }

    /// The event time `nanos` nanoseconds after the epoch.
    pub(crate) const fn at(nanos: i64) -> EventTime {
        EventTime::from_nanos(nanos)
    }

    /// The wall-clock time `secs` seconds after the epoch.
    pub(crate) const fn secs(secs: i64) -> UnixSeconds {
        UnixSeconds::from_secs(secs)
    }

    pub(crate) async fn marks_start_empty_and_only_move_forward(store: &dyn Store) {
        assert_eq!(store.mark(&key("1")).await.unwrap(), None);
        for (time, expected) in [(100, 100), (50, 100), (200, 200), (199, 200)] {
            store
                .commit(Commit {
                    mark: Some((key("1"), at(time))),
                    delivery: None,
                })
                .await
                .unwrap();
            assert_eq!(store.mark(&key("1")).await.unwrap(), Some(at(expected)));
        }
        assert_eq!(store.mark(&key("2")).await.unwrap(), None);
    }

    pub(crate) async fn keys_with_separators_do_not_collide(store: &dyn Store) {
        let a = OrderingKey {
            endpoint: "a".into(),
            event_type: "b\0c".into(),
            entity_type: String::new(),
            entity_id: "d".into(),
        };
        let b = OrderingKey {
            endpoint: "a\0b".into(),
            event_type: "c".into(),
            entity_type: String::new(),
            entity_id: "d".into(),
        };
        store
            .commit(Commit {
                mark: Some((a.clone(), at(7))),
                delivery: None,
            })
            .await
            .unwrap();
        assert_eq!(store.mark(&a).await.unwrap(), Some(at(7)));
        assert_eq!(store.mark(&b).await.unwrap(), None);
    }

    pub(crate) async fn deliveries_are_remembered_until_they_expire(store: &dyn Store) {
        assert!(!store
            .is_handled(&delivery("d1"), secs(1_000))
            .await
            .unwrap());
        store
            .commit(Commit {
                mark: None,
                delivery: Some((delivery("d1"), secs(2_000))),
            })
            .await
            .unwrap();
        assert!(store
            .is_handled(&delivery("d1"), secs(1_000))
            .await
            .unwrap());
        assert!(store
            .is_handled(&delivery("d1"), secs(1_999))
            .await
            .unwrap());
        assert!(!store
            .is_handled(&delivery("d1"), secs(2_000))
            .await
            .unwrap());
        assert!(!store
            .is_handled(&delivery("d2"), secs(1_000))
            .await
            .unwrap());
    }

    pub(crate) async fn purge_is_bounded_and_removes_only_expired(store: &dyn Store) {
        for i in 0..10 {
            store
                .commit(Commit {
                    mark: None,
                    delivery: Some((delivery(&format!("old{i}")), secs(100 + i))),
                })
                .await
                .unwrap();
        }
        store
            .commit(Commit {
                mark: None,
                delivery: Some((delivery("fresh"), secs(10_000))),
            })
            .await
            .unwrap();
        assert_eq!(store.purge_expired(secs(500), 4).await.unwrap(), 4);
        assert_eq!(store.purge_expired(secs(500), 100).await.unwrap(), 6);
        assert_eq!(store.purge_expired(secs(500), 100).await.unwrap(), 0);
        assert!(store
            .is_handled(&delivery("fresh"), secs(500))
            .await
            .unwrap());
    }

    pub(crate) async fn recommitting_a_delivery_extends_it(store: &dyn Store) {
        for expires in [100, 300] {
            store
                .commit(Commit {
                    mark: None,
                    delivery: Some((delivery("again"), secs(expires))),
                })
                .await
                .unwrap();
        }
        assert_eq!(store.purge_expired(secs(200), 100).await.unwrap(), 0);
        assert!(store
            .is_handled(&delivery("again"), secs(250))
            .await
            .unwrap());
    }

    /// A key far past PostgreSQL's btree row limit (2704 bytes) commits and is found: the
    /// store, not the index, decides what fits.
    pub(crate) async fn regression_keys_past_the_btree_row_limit_commit(store: &dyn Store) {
        let long = "7".repeat(6_000);
        store
            .commit(Commit {
                mark: Some((key(&long), at(100))),
                delivery: Some((delivery(&long), secs(2_000))),
            })
            .await
            .unwrap();
        assert_eq!(store.mark(&key(&long)).await.unwrap(), Some(at(100)));
        assert!(store
            .is_handled(&delivery(&long), secs(1_000))
            .await
            .unwrap());
        assert_eq!(store.mark(&key(&long[1..])).await.unwrap(), None);
    }

    pub(crate) async fn marks_older_than_a_time_are_purged_in_bounded_batches(store: &dyn Store) {
        for (entity, time) in [("a", 100), ("b", 200), ("c", 300), ("d", 900)] {
            store
                .commit(Commit {
                    mark: Some((key(entity), at(time))),
                    delivery: None,
                })
                .await
                .unwrap();
        }
        // b moves past the cut-off before the purge: it stays.
        store
            .commit(Commit {
                mark: Some((key("b"), at(400))),
                delivery: None,
            })
            .await
            .unwrap();
        let mut batches = 0;
        while store.purge_marks(at(350), 1).await.unwrap() > 0 {
            batches += 1;
            assert!(batches <= 10, "the purge never ends");
        }
        assert!(batches >= 2, "bounded batches: {batches}");
        assert_eq!(store.mark(&key("a")).await.unwrap(), None);
        assert_eq!(store.mark(&key("b")).await.unwrap(), Some(at(400)));
        assert_eq!(store.mark(&key("c")).await.unwrap(), None);
        assert_eq!(store.mark(&key("d")).await.unwrap(), Some(at(900)));
        // A purged key starts afresh.
        store
            .commit(Commit {
                mark: Some((key("a"), at(50))),
                delivery: None,
            })
            .await
            .unwrap();
        assert_eq!(store.mark(&key("a")).await.unwrap(), Some(at(50)));
        assert_eq!(store.purge_marks(at(10), 100).await.unwrap(), 0);
    }

    pub(crate) async fn one_commit_records_the_mark_and_the_delivery(store: &dyn Store) {
        store
            .commit(Commit {
                mark: Some((key("1"), at(100))),
                delivery: Some((delivery("d1"), secs(2_000))),
            })
            .await
            .unwrap();
        // A stale mark in the same commit as a new delivery: the delivery is still recorded.
        store
            .commit(Commit {
                mark: Some((key("1"), at(50))),
                delivery: Some((delivery("d2"), secs(2_000))),
            })
            .await
            .unwrap();
        assert_eq!(store.mark(&key("1")).await.unwrap(), Some(at(100)));
        assert!(store
            .is_handled(&delivery("d1"), secs(1_000))
            .await
            .unwrap());
        assert!(store
            .is_handled(&delivery("d2"), secs(1_000))
            .await
            .unwrap());
    }

    /// What a store in a directory committed is there when `open` opens the directory again;
    /// returns the reopened store.
    pub(crate) async fn committed_state_survives_reopening<S: Store>(
        dir: &std::path::Path,
        open: impl Fn(&std::path::Path) -> S,
    ) -> S {
        open(dir)
            .commit(Commit {
                mark: Some((key("42"), at(1_234))),
                delivery: Some((delivery("d-1"), secs(99))),
            })
            .await
            .unwrap();
        let store = open(dir);
        assert_eq!(store.mark(&key("42")).await.unwrap(), Some(at(1_234)));
        assert!(store.is_handled(&delivery("d-1"), secs(98)).await.unwrap());
        store
    }

    /// A directory one store holds cannot be opened by another: the error is
    /// [`StoreErrorKind::Locked`], the kind a caller waits on.
    pub(crate) fn a_held_directory_is_locked<S: Store>(
        open: impl Fn(&std::path::Path) -> Result<S, StoreError>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let holder = open(dir.path()).unwrap();
        let error = open(dir.path()).err().expect("a second open fails");
        assert_eq!(error.kind(), StoreErrorKind::Locked, "{error}");
        drop(holder);
    }

    /// Runs every behaviour against stores made by `fresh`.
    pub(crate) async fn all<S: Store>(fresh: impl Fn() -> S) {
        all_async(async || fresh()).await;
    }

    /// [`all`] for stores that take a connection to make: `fresh` returns an empty store.
    pub(crate) async fn all_async<S: Store>(fresh: impl AsyncFn() -> S) {
        marks_start_empty_and_only_move_forward(&fresh().await).await;
        keys_with_separators_do_not_collide(&fresh().await).await;
        deliveries_are_remembered_until_they_expire(&fresh().await).await;
        purge_is_bounded_and_removes_only_expired(&fresh().await).await;
        recommitting_a_delivery_extends_it(&fresh().await).await;
        one_commit_records_the_mark_and_the_delivery(&fresh().await).await;
        regression_keys_past_the_btree_row_limit_commit(&fresh().await).await;
        marks_older_than_a_time_are_purged_in_bounded_batches(&fresh().await).await;
    }
}
