//! The embedded default: a sled directory, with group commit for durable acknowledgement.
//!
//! Durability, precisely: [`Store::commit`] returns after `sled::Db::flush`, which writes the
//! log out of process memory (`sync_file_range` on Linux). A committed delivery therefore
//! survives the process being killed at any moment. sled issues a full `fsync` in the
//! background every `flush_every_ms` (500 ms by default, configurable on
//! [`SledStoreBuilder`]); only then does the write survive a power loss. Deployments that need
//! power-loss durability at the moment of acknowledgement should use a database server.
//!
//! Group commit: one committer thread calls the blocking `flush` and, while it does, further
//! commits queue up; the next flush covers all of them at once. Under concurrent load it waits
//! up to [`SledStoreBuilder::commit_delay`] for more commits to join a group (see
//! [`DEFAULT_COMMIT_DELAY`]). `flush_async` is never used: it deadlocks with many concurrent
//! callers (sled issue #1308).

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::group::{Grouper, DEFAULT_COMMIT_DELAY};
use super::{
    decode_i64, due_before, expiry_index, from_sortable, sortable, Commit, DeliveryKey, EventTime,
    OrderingKey, Store, StoreError, StoreErrorKind, UnixSeconds,
};

type FlushWaiter = oneshot::Sender<Result<(), StoreError>>;

/// The page cache a [`SledStore`] gets unless [`SledStoreBuilder::cache_capacity`] says
/// otherwise: 8 MiB. With a million marks and delivery ids in the store, under load with
/// every delivery for another entity, 8, 16 and 32 MiB measured the same throughput (the OS
/// page cache holds what sled's does not), and 8 MiB keeps a loaded receiver's memory lower.
pub const DEFAULT_SLED_CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// A [`Store`] in a sled directory.
///
/// ```
/// use receiver_sdk::store::SledStore;
/// let dir = tempfile::tempdir()?;
/// let store = SledStore::open(dir.path())?;
/// # drop(store);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SledStore {
    db: sled::Db,
    marks: sled::Tree,
    // delivery key -> expiry (Unix seconds, big-endian i64).
    deliveries: sled::Tree,
    // (sortable expiry, delivery key) -> (), so a purge reads only what is due.
    expiry: sled::Tree,
    // (sortable mark, ordering key) -> (), so a purge of old marks reads only those.
    mark_times: sled::Tree,
    // Taken on drop to stop the committer, which then exits after its last flush.
    flush_requests: Mutex<Option<mpsc::Sender<FlushWaiter>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

/// Options for opening a [`SledStore`].
#[derive(Debug, Clone)]
pub struct SledStoreBuilder {
    path: Option<PathBuf>,
    flush_every_ms: Option<u64>,
    cache_capacity: u64,
    commit_delay: Duration,
}

impl SledStoreBuilder {
    /// The directory to keep the store in (created if missing). Without one the store lives
    /// in a temporary directory removed on drop.
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.path = Some(path.as_ref().to_path_buf());
        self
    }

    /// How often sled fsyncs in the background (default 500 ms); `None` turns the background
    /// sync off, leaving only the flush each commit does.
    pub fn flush_every_ms(mut self, every: Option<u64>) -> Self {
        self.flush_every_ms = every;
        self
    }

    /// sled's page cache size in bytes: [`DEFAULT_SLED_CACHE_BYTES`] unless set (sled's own
    /// default, 1 GiB, lets a long-running receiver's memory grow with its number of keys).
    pub fn cache_capacity(mut self, bytes: u64) -> Self {
        self.cache_capacity = bytes;
        self
    }

    /// How long the committer waits, once commits are concurrent, for more of them to share
    /// one flush ([`DEFAULT_COMMIT_DELAY`] unless set; zero flushes each group at once). A
    /// commit made while the store is quiet is never delayed.
    pub fn commit_delay(mut self, delay: Duration) -> Self {
        self.commit_delay = delay;
        self
    }

    /// Opens (or creates) the store.
    pub fn open(self) -> Result<SledStore, StoreError> {
        let config = sled::Config::new()
            .flush_every_ms(self.flush_every_ms)
            .cache_capacity(self.cache_capacity);
        let config = match &self.path {
            Some(path) => config.path(path),
            None => config.temporary(true),
        };
        let db = config.open().map_err(|e| {
            failed(e).context(format_args!(
                "cannot open sled store at {}",
                self.path
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "a temporary directory".into())
            ))
        })?;
        SledStore::with_committer(db, Grouper::new(self.commit_delay))
    }
}

impl SledStore {
    /// Opens (or creates) a store in `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::builder().path(path).open()
    }

    /// A store in a temporary directory that is removed when the store is dropped.
    pub fn temporary() -> Result<Self, StoreError> {
        Self::builder().open()
    }

    /// Options for opening a store.
    pub fn builder() -> SledStoreBuilder {
        SledStoreBuilder {
            path: None,
            flush_every_ms: Some(500),
            cache_capacity: DEFAULT_SLED_CACHE_BYTES,
            commit_delay: DEFAULT_COMMIT_DELAY,
        }
    }

    /// Uses an already opened sled database (its trees `marks`, `deliveries` and
    /// `delivery_expiry`).
    pub fn from_db(db: sled::Db) -> Result<Self, StoreError> {
        Self::with_committer(db, Grouper::new(DEFAULT_COMMIT_DELAY))
    }

    fn with_committer(db: sled::Db, mut grouper: Grouper) -> Result<Self, StoreError> {
        let tree = |name: &str| db.open_tree(name).map_err(failed);
        let marks = tree("marks")?;
        let deliveries = tree("deliveries")?;
        let expiry = tree("delivery_expiry")?;
        let mark_times = tree("mark_times")?;
        index_marks(&db, &marks, &mark_times)?;
        let (tx, rx) = mpsc::channel::<FlushWaiter>();
        let flushing = db.clone();
        let committer = std::thread::Builder::new()
            .name("sled-committer".into())
            .spawn(move || run_committer(&flushing, &mut grouper, &rx))
            .map_err(|e| StoreError::new(format!("cannot start the committer thread: {e}")))?;
        Ok(Self {
            db,
            marks,
            deliveries,
            expiry,
            mark_times,
            flush_requests: Mutex::new(Some(tx)),
            committer: Mutex::new(Some(committer)),
        })
    }

    /// Waits until everything written so far is flushed, sharing the flush with every other
    /// waiter that arrives meanwhile.
    async fn flushed(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        {
            let requests = self
                .flush_requests
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let sender = requests
                .as_ref()
                .ok_or_else(|| StoreError::closing("store is closing"))?;
            sender
                .send(tx)
                .map_err(|_| StoreError::closing("committer thread stopped"))?;
        }
        match rx.await {
            Ok(result) => result,
            Err(_) => Err(StoreError::closing("committer thread stopped")),
        }
    }

    /// The underlying database, for callers that keep their own trees beside ours.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }
}

/// Indexes the marks of a directory written before marks had a time index, once: a marker in
/// the `meta` tree says it is done.
fn index_marks(
    db: &sled::Db,
    marks: &sled::Tree,
    mark_times: &sled::Tree,
) -> Result<(), StoreError> {
    const INDEXED: &[u8] = b"mark_times indexed";
    let meta = db.open_tree("meta").map_err(failed)?;
    if meta.contains_key(INDEXED).map_err(failed)? {
        return Ok(());
    }
    for entry in marks.iter() {
        let (key, value) = entry.map_err(failed)?;
        if let Some(at) = decode_i64(&value) {
            mark_times
                .insert(expiry_index(at, &key), &[])
                .map_err(failed)?;
        }
    }
    meta.insert(INDEXED, &[]).map_err(failed)?;
    Ok(())
}

fn run_committer(db: &sled::Db, grouper: &mut Grouper, requests: &mpsc::Receiver<FlushWaiter>) {
    while let Some(waiters) = grouper.next(requests) {
        let result = db
            .flush()
            .map(drop)
            .map_err(|e| failed(e).context("flush failed"));
        for waiter in waiters {
            // A waiter whose request was cancelled no longer listens; nothing to tell it.
            let _ = waiter.send(result.clone());
        }
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        drop(
            self.flush_requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        if let Some(committer) = self
            .committer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            // Joining releases the committer's database handle, so the directory can be
            // reopened as soon as the store is dropped.
            let _ = committer.join();
        }
        let _ = self.db.flush();
    }
}

fn failed(e: sled::Error) -> StoreError {
    StoreError::with_kind(kind_of(&e), e.to_string())
}

fn kind_of(e: &sled::Error) -> StoreErrorKind {
    match e {
        // sled 0.34 reports a directory another process holds only as an `Other` I/O error
        // with this message (it formats the lock's own error into it); this is the one place
        // that reads it, pinned by `a_directory_another_store_holds_is_locked`.
        sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::Other
                && io.to_string().starts_with("could not acquire lock") =>
        {
            StoreErrorKind::Locked
        }
        sled::Error::Io(_) => StoreErrorKind::Io,
        sled::Error::Corruption { .. } => StoreErrorKind::Corrupt,
        _ => StoreErrorKind::Other,
    }
}

#[async_trait]
impl Store for SledStore {
    async fn mark(&self, key: &OrderingKey) -> Result<Option<EventTime>, StoreError> {
        let value = self.marks.get(key.encode()).map_err(failed)?;
        Ok(value
            .as_deref()
            .and_then(decode_i64)
            .map(EventTime::from_nanos))
    }

    async fn is_handled(&self, key: &DeliveryKey, now: UnixSeconds) -> Result<bool, StoreError> {
        let value = self.deliveries.get(key.encode()).map_err(failed)?;
        Ok(value
            .as_deref()
            .and_then(decode_i64)
            .is_some_and(|expires| expires > now.as_secs()))
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        if let Some((key, at)) = commit.mark {
            let (key, at) = (key.encode(), at.as_nanos());
            let old = self
                .marks
                .fetch_and_update(&key, |old| {
                    let newest = old.and_then(decode_i64).map_or(at, |old| old.max(at));
                    Some(newest.to_be_bytes().to_vec())
                })
                .map_err(failed)?
                .as_deref()
                .and_then(decode_i64);
            if old.is_none_or(|old| old < at) {
                if let Some(old) = old {
                    self.mark_times
                        .remove(expiry_index(old, &key))
                        .map_err(failed)?;
                }
                self.mark_times
                    .insert(expiry_index(at, &key), &[])
                    .map_err(failed)?;
            }
        }
        if let Some((key, expires)) = commit.delivery {
            let (key, expires) = (key.encode(), expires.as_secs());
            self.expiry
                .insert(expiry_index(expires, &key), &[])
                .map_err(failed)?;
            self.deliveries
                .insert(key, &expires.to_be_bytes())
                .map_err(failed)?;
        }
        self.flushed().await
    }

    async fn purge_expired(&self, now: UnixSeconds, limit: usize) -> Result<usize, StoreError> {
        // A batch is thousands of tree operations: run it beside the async workers, not on
        // one of them, so requests are not held up behind it.
        let (expiry, deliveries) = (self.expiry.clone(), self.deliveries.clone());
        let now = now.as_secs();
        tokio::task::spawn_blocking(move || purge(&expiry, &deliveries, now, limit))
            .await
            .map_err(|e| StoreError::new(format!("purge stopped: {e}")))?
    }

    async fn purge_marks(&self, before: EventTime, limit: usize) -> Result<usize, StoreError> {
        let (mark_times, marks) = (self.mark_times.clone(), self.marks.clone());
        let before = before.as_nanos();
        tokio::task::spawn_blocking(move || purge_marks(&mark_times, &marks, before, limit))
            .await
            .map_err(|e| StoreError::new(format!("purge stopped: {e}")))?
    }
}

/// Removes at most `limit` mark index entries older than `before`, and the marks they time
/// (a mark that moved on since keeps its newer entry); returns how many entries.
fn purge_marks(
    mark_times: &sled::Tree,
    marks: &sled::Tree,
    before: i64,
    limit: usize,
) -> Result<usize, StoreError> {
    let mut seen = 0;
    for entry in mark_times
        .range(..sortable(before).to_vec())
        .keys()
        .take(limit)
    {
        let index = entry.map_err(failed)?;
        seen += 1;
        if let Some(at) = from_sortable(&index) {
            // Only if the mark is still this one: a commit may advance it meanwhile (purges
            // run beside requests), and that newer mark must stay.
            let swapped = marks
                .compare_and_swap(&index[8..], Some(&at.to_be_bytes()[..]), None::<&[u8]>)
                .map_err(failed)?;
            drop(swapped);
        }
        mark_times.remove(&index).map_err(failed)?;
    }
    Ok(seen)
}

/// Removes at most `limit` expiry index entries due at `now`, and the deliveries they expire.
fn purge(
    expiry: &sled::Tree,
    deliveries: &sled::Tree,
    now: i64,
    limit: usize,
) -> Result<usize, StoreError> {
    let mut removed = 0;
    for entry in expiry.range(..due_before(now).to_vec()).keys().take(limit) {
        let index = entry.map_err(failed)?;
        let Some(expires) = from_sortable(&index) else {
            continue;
        };
        let key = &index[8..];
        // Only remove the delivery if this index entry is its latest expiry; a delivery
        // committed again later has a newer one.
        let current = deliveries.get(key).map_err(failed)?;
        if current.as_deref().and_then(decode_i64) == Some(expires) {
            deliveries.remove(key).map_err(failed)?;
            removed += 1;
        }
        expiry.remove(&index).map_err(failed)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn sled_store_shows_the_store_behaviour() {
        crate::store::behaviour::all(|| SledStore::temporary().unwrap()).await;
    }

    /// Opens `path`, waiting while a dropped store's directory is still `Locked`: sled's own
    /// background threads let go of the lock a moment after the last handle is dropped, and
    /// on a loaded machine that moment can be long (the receiver waits the same way).
    fn reopen(path: &std::path::Path) -> SledStore {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match SledStore::open(path) {
                Err(e)
                    if e.kind() == StoreErrorKind::Locked
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                opened => return opened.unwrap(),
            }
        }
    }

    #[tokio::test]
    async fn committed_state_survives_reopening_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        crate::store::behaviour::committed_state_survives_reopening(dir.path(), reopen).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn many_concurrent_commits_all_complete() {
        // The shape that hangs with flush_async: many tasks awaiting durability at once.
        let store = Arc::new(SledStore::temporary().unwrap());
        let tasks: Vec<_> = (0..256)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    store
                        .commit(Commit {
                            mark: None,
                            delivery: Some((
                                DeliveryKey {
                                    endpoint: "ep".into(),
                                    id: format!("d{i}"),
                                },
                                UnixSeconds::from_secs(i64::MAX),
                            )),
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(store.deliveries.len(), 256);
    }

    #[test]
    fn a_directory_another_store_holds_is_locked() {
        crate::store::behaviour::a_held_directory_is_locked(|dir| SledStore::open(dir));
    }

    #[test]
    fn a_directory_that_cannot_be_created_is_an_io_failure_not_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"not a directory").unwrap();
        let error = SledStore::open(file.join("store")).unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Io, "{error}");
    }
}
