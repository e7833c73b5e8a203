//! An embedded store in a fjall directory (feature `fjall`), with group commit and a real
//! fsync before every acknowledgement.
//!
//! Like [`SledStore`](super::SledStore) it is one process on one directory (fjall locks it),
//! but an LSM tree appends each write to a journal instead of rewriting B-tree pages, so a
//! commit costs far less CPU, and the journal is fsynced before any commit returns.
//!
//! Durability, precisely: [`Store::commit`] returns `Ok` only after the write batch holding
//! its writes was appended to fjall's journal and the journal file was synced with
//! `PersistMode::SyncAll` (`fsync`). fjall also fsyncs a journal before sealing it and the
//! directory when it creates a new one. A committed mark or delivery therefore survives the
//! process being killed (`kill -9`) at any moment, and an OS crash or power loss too, as far as
//! the disk honours `fsync`. In detail:
//!
//! * Writes become visible to [`Store::mark`] and [`Store::is_handled`] only after that fsync
//!   (fjall applies a batch to its memtables after persisting its journal entry), so a reader
//!   never sees state that a crash could still take back.
//! * One group is one atomic batch: after a crash either all of its commits are there or none.
//!   A commit that returned an error, or was still waiting at the crash, may or may not be
//!   there; the sender was not acknowledged and retries.
//! * Purging expired delivery ids is not fsynced on its own: a group holding only purges is
//!   handed to the OS (`PersistMode::Buffer`) and made durable by the next commit's fsync. A
//!   crash before that may bring purged (already expired) ids back; the next purge removes
//!   them again.
//! * If an fsync fails, fjall refuses every later write (the database is poisoned): commits
//!   answer 503 until the process is restarted and fjall recovers from its journal.
//!
//! Group commit: every write goes through one committer thread. It takes every job waiting in
//! its queue, folds them into one write batch (a key's mark is the largest of the commits in
//! the group and of the stored value; the last commit of a delivery sets its expiry), writes
//! and fsyncs that batch once, then wakes every waiter. Under load that is one fsync per group,
//! not per request; an idle store pays one fsync for a lone commit. (The builder's
//! `commit_delay` can make the committer wait for more commits to join a group under load; by
//! default it does not.) A single writer also means a purge cannot race a commit that extends
//! the same delivery: purges run on the committer too. Nothing holds a lock across an await:
//! callers only queue a job and await a oneshot.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use tokio::sync::oneshot;

use super::group::Grouper;
use super::{
    decode_i64, due_before, expiry_index, from_sortable, sortable, Commit, DeliveryKey, EventTime,
    OrderingKey, Store, StoreError, StoreErrorKind, UnixSeconds,
};

/// fjall's block cache by default: small, the working set is keys of 50-100 bytes.
const DEFAULT_CACHE_SIZE: u64 = 16 * 1024 * 1024;
/// Each keyspace's memtable by default (fjall's own default is 64 MiB).
const DEFAULT_MEMTABLE_SIZE: u64 = 8 * 1024 * 1024;
/// The committer's wait for more commits by default: none (see
/// [`FjallStoreBuilder::commit_delay`]).
const COMMIT_DELAY: Duration = Duration::ZERO;

/// A [`Store`] in a fjall directory (feature `fjall`).
///
/// ```
/// use receiver_sdk::store::FjallStore;
/// let dir = tempfile::tempdir()?;
/// let store = FjallStore::open(dir.path())?;
/// # drop(store);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "fjall")))]
pub struct FjallStore {
    db: Database,
    spaces: Keyspaces,
    // Taken on drop to stop the committer, which then exits after its last batch.
    jobs: Option<mpsc::Sender<Job>>,
    committer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FjallStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallStore").finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Keyspaces {
    // encoded ordering key -> mark (nanoseconds, big-endian i64).
    marks: Keyspace,
    // encoded delivery key -> expiry (Unix seconds, big-endian i64).
    deliveries: Keyspace,
    // (sortable expiry, delivery key) -> (), so a purge reads only what is due.
    expiry: Keyspace,
    // (sortable mark, ordering key) -> (), so a purge of old marks reads only those.
    mark_times: Keyspace,
}

/// What the committer is asked to do.
enum Job {
    Commit(Commit, oneshot::Sender<Result<(), StoreError>>),
    Purge {
        now: UnixSeconds,
        limit: usize,
        done: oneshot::Sender<Result<usize, StoreError>>,
    },
    PurgeMarks {
        before: EventTime,
        limit: usize,
        done: oneshot::Sender<Result<usize, StoreError>>,
    },
}

/// Options for opening a [`FjallStore`].
#[cfg_attr(docsrs, doc(cfg(feature = "fjall")))]
#[derive(Debug, Clone)]
pub struct FjallStoreBuilder {
    path: Option<PathBuf>,
    cache_size: u64,
    memtable_size: u64,
    commit_delay: Duration,
}

impl FjallStoreBuilder {
    /// The directory to keep the store in (created if missing). Without one the store lives
    /// in a temporary directory removed on drop.
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.path = Some(path.as_ref().to_path_buf());
        self
    }

    /// fjall's block cache in bytes (default 16 MiB), shared by the store's keyspaces.
    pub fn cache_size(mut self, bytes: u64) -> Self {
        self.cache_size = bytes;
        self
    }

    /// The largest memtable of each of the store's three keyspaces in bytes (default 8 MiB):
    /// a full one is written out as a table in the background. With the cache this bounds
    /// memory: about cache + 3 x (1 to 5) memtables. fjall records it when a keyspace is
    /// created, so it applies to new store directories only.
    pub fn memtable_size(mut self, bytes: u64) -> Self {
        self.memtable_size = bytes;
        self
    }

    /// How long the committer waits, once commits are concurrent, for more of them to share
    /// one fsync (default zero: an fsync takes long enough that the commits queued during it
    /// already make large groups; waiting [`DEFAULT_COMMIT_DELAY`](super::DEFAULT_COMMIT_DELAY)
    /// measured no faster, and 0.6 ms or more slower). A commit made while the store is quiet
    /// is never delayed.
    pub fn commit_delay(mut self, delay: Duration) -> Self {
        self.commit_delay = delay;
        self
    }

    /// Opens (or creates) the store.
    pub fn open(self) -> Result<FjallStore, StoreError> {
        let (path, temporary) = match self.path {
            Some(path) => (path, false),
            None => (temporary_dir(), true),
        };
        let db = Database::builder(&path)
            .cache_size(self.cache_size)
            .temporary(temporary)
            .open()
            .map_err(|e| {
                failed(e).context(format_args!(
                    "cannot open fjall store at {}",
                    path.display()
                ))
            })?;
        FjallStore::with_keyspaces(db, self.memtable_size, Grouper::new(self.commit_delay))
    }
}

/// A fresh directory under the system temp dir for a temporary store (fjall removes it).
fn temporary_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!(
        "receiver-sdk-fjall-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

impl FjallStore {
    /// Opens (or creates) a store in `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::builder().path(path).open()
    }

    /// A store in a temporary directory that is removed when the store is dropped.
    pub fn temporary() -> Result<Self, StoreError> {
        Self::builder().open()
    }

    /// Options for opening a store.
    pub fn builder() -> FjallStoreBuilder {
        FjallStoreBuilder {
            path: None,
            cache_size: DEFAULT_CACHE_SIZE,
            memtable_size: DEFAULT_MEMTABLE_SIZE,
            commit_delay: COMMIT_DELAY,
        }
    }

    /// Uses an already opened fjall database (its keyspaces `marks`, `deliveries` and
    /// `delivery_expiry`). Write to other keyspaces of it as you like, but not to these: the
    /// store's committer must be their only writer.
    pub fn from_db(db: Database) -> Result<Self, StoreError> {
        Self::with_keyspaces(db, DEFAULT_MEMTABLE_SIZE, Grouper::new(COMMIT_DELAY))
    }

    fn with_keyspaces(
        db: Database,
        memtable_size: u64,
        mut grouper: Grouper,
    ) -> Result<Self, StoreError> {
        let keyspace = |name: &str| {
            db.keyspace(name, || {
                KeyspaceCreateOptions::default().max_memtable_size(memtable_size)
            })
            .map_err(failed)
        };
        let spaces = Keyspaces {
            marks: keyspace("marks")?,
            deliveries: keyspace("deliveries")?,
            expiry: keyspace("delivery_expiry")?,
            mark_times: keyspace("mark_times")?,
        };
        index_marks(&db, &spaces, &keyspace("meta")?).map_err(failed)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let (writing, written) = (db.clone(), spaces.clone());
        let committer = std::thread::Builder::new()
            .name("fjall-committer".into())
            .spawn(move || run_committer(&writing, &written, &mut grouper, &rx))
            .map_err(|e| StoreError::new(format!("cannot start the committer thread: {e}")))?;
        Ok(Self {
            db,
            spaces,
            jobs: Some(tx),
            committer: Some(committer),
        })
    }

    /// Hands `job` to the committer.
    fn queue(&self, job: Job) -> Result<(), StoreError> {
        self.jobs
            .as_ref()
            .ok_or_else(|| StoreError::closing("store is closing"))?
            .send(job)
            .map_err(|_| StoreError::closing("committer thread stopped"))
    }

    /// The underlying database, for callers that keep their own keyspaces beside ours.
    pub fn db(&self) -> &Database {
        &self.db
    }
}

/// Indexes the marks of a directory written before marks had a time index, once: a marker in
/// the `meta` keyspace says it is done.
fn index_marks(db: &Database, spaces: &Keyspaces, meta: &Keyspace) -> fjall::Result<()> {
    const INDEXED: &[u8] = b"mark_times indexed";
    if meta.contains_key(INDEXED)? {
        return Ok(());
    }
    let mut batch = db.batch().durability(Some(PersistMode::SyncAll));
    for entry in spaces.marks.iter() {
        let (key, value) = entry.into_inner()?;
        if let Some(at) = decode_i64(&value) {
            batch.insert(&spaces.mark_times, expiry_index(at, &key), Vec::new());
        }
    }
    batch.insert(meta, INDEXED, Vec::new());
    batch.commit()
}

fn run_committer(
    db: &Database,
    spaces: &Keyspaces,
    grouper: &mut Grouper,
    jobs: &mpsc::Receiver<Job>,
) {
    while let Some(group) = grouper.next(jobs) {
        apply_group(db, spaces, group);
    }
}

/// Writes one group of jobs as one batch, fsynced if it holds a commit, and answers each job.
fn apply_group(db: &Database, spaces: &Keyspaces, group: Vec<Job>) {
    let mut commits = Vec::new();
    let mut purges = Vec::new();
    let mut mark_purges = Vec::new();
    for job in group {
        match job {
            Job::Commit(commit, done) => commits.push((commit, done)),
            Job::Purge { now, limit, done } => purges.push((now, limit, done)),
            Job::PurgeMarks {
                before,
                limit,
                done,
            } => mark_purges.push((before, limit, done)),
        }
    }
    let mut writes = Writes::default();
    // Purges first, against what is stored; the group's commits then override them, so a
    // delivery purged and committed again in one group is kept.
    let purged: Vec<_> = purges
        .iter()
        .map(|(now, limit, _)| writes.purge(spaces, *now, *limit))
        .collect();
    let written = commits
        .iter()
        .try_for_each(|(commit, _)| writes.commit(spaces, commit))
        .and_then(|()| writes.write(db, spaces, !commits.is_empty()))
        .map_err(failed);
    for (_, done) in commits {
        // A waiter whose request was cancelled no longer listens; nothing to tell it.
        let _ = done.send(written.clone());
    }
    for ((_, _, done), removed) in purges.into_iter().zip(purged) {
        let result = match (&written, removed) {
            (Err(e), _) => Err(e.clone()),
            (Ok(()), removed) => removed.map_err(failed),
        };
        let _ = done.send(result);
    }
    // After the group's batch, each against what it wrote: this thread is the only writer, so
    // no mark can move between reading it and removing it.
    for (before, limit, done) in mark_purges {
        let _ = done.send(purge_marks(db, spaces, before, limit).map_err(failed));
    }
}

/// Removes at most `limit` mark index entries older than `before`, and the marks they time
/// (a mark that moved on since keeps its newer entry), in one batch made durable by the next
/// commit's fsync; returns how many entries.
fn purge_marks(
    db: &Database,
    spaces: &Keyspaces,
    before: EventTime,
    limit: usize,
) -> fjall::Result<usize> {
    let mut batch = db.batch().durability(Some(PersistMode::Buffer));
    let mut seen = 0;
    let before = sortable(before.as_nanos());
    for entry in spaces.mark_times.range(..before).take(limit) {
        let index = entry.key()?;
        seen += 1;
        if let Some(at) = from_sortable(&index) {
            let key = &index[8..];
            if spaces.marks.get(key)?.as_deref().and_then(decode_i64) == Some(at) {
                batch.remove(&spaces.marks, key.to_vec());
            }
        }
        batch.remove(&spaces.mark_times, index.to_vec());
    }
    batch.commit()?;
    Ok(seen)
}

/// One group's writes, one per key, before they go into a batch.
#[derive(Default)]
struct Writes {
    // encoded ordering key -> (stored mark, newest mark).
    marks: HashMap<Vec<u8>, (Option<i64>, i64)>,
    // encoded delivery key -> expiry, or `None` to remove it.
    deliveries: HashMap<Vec<u8>, Option<i64>>,
    // expiry index entry -> insert (`true`) or remove.
    expiry: HashMap<Vec<u8>, bool>,
}

impl Writes {
    fn commit(&mut self, spaces: &Keyspaces, commit: &Commit) -> fjall::Result<()> {
        if let Some((key, at)) = &commit.mark {
            let (key, at) = (key.encode(), at.as_nanos());
            let (stored, newest) = match self.marks.get(&key) {
                Some(&(stored, newest)) => (stored, newest),
                None => {
                    let stored = spaces.marks.get(&key)?.as_deref().and_then(decode_i64);
                    (stored, stored.unwrap_or(i64::MIN))
                }
            };
            self.marks.insert(key, (stored, newest.max(at)));
        }
        if let Some((key, expires)) = &commit.delivery {
            let (key, expires) = (key.encode(), expires.as_secs());
            self.expiry.insert(expiry_index(expires, &key), true);
            self.deliveries.insert(key, Some(expires));
        }
        Ok(())
    }

    /// Removes at most `limit` expiry entries due at `now`, and each delivery whose latest
    /// expiry such an entry is; returns how many deliveries.
    fn purge(
        &mut self,
        spaces: &Keyspaces,
        now: UnixSeconds,
        limit: usize,
    ) -> fjall::Result<usize> {
        let mut removed = 0;
        let mut seen = 0;
        for entry in spaces.expiry.range(..due_before(now.as_secs())) {
            if seen == limit {
                break;
            }
            let index = entry.key()?;
            if self.expiry.contains_key(&*index) {
                // Taken by an earlier purge in this group.
                continue;
            }
            seen += 1;
            let Some(expires) = from_sortable(&index) else {
                continue;
            };
            let key = &index[8..];
            // Only remove the delivery if this entry is its latest expiry; a delivery committed
            // again later has a newer one.
            let current = match self.deliveries.get(key) {
                Some(pending) => *pending,
                None => spaces.deliveries.get(key)?.as_deref().and_then(decode_i64),
            };
            if current == Some(expires) {
                self.deliveries.insert(key.to_vec(), None);
                removed += 1;
            }
            self.expiry.insert(index.to_vec(), false);
        }
        Ok(removed)
    }

    /// Writes everything as one atomic batch; `durable` fsyncs it before it becomes visible.
    fn write(self, db: &Database, spaces: &Keyspaces, durable: bool) -> fjall::Result<()> {
        let mode = if durable {
            PersistMode::SyncAll
        } else {
            PersistMode::Buffer
        };
        let mut batch = db.batch().durability(Some(mode));
        for (key, (stored, newest)) in self.marks {
            // A stale mark leaves the stored one, which is durable already.
            if stored.is_none_or(|stored| stored < newest) {
                if let Some(stored) = stored {
                    batch.remove(&spaces.mark_times, expiry_index(stored, &key));
                }
                batch.insert(&spaces.mark_times, expiry_index(newest, &key), Vec::new());
                batch.insert(&spaces.marks, key, newest.to_be_bytes().to_vec());
            }
        }
        for (key, expires) in self.deliveries {
            match expires {
                Some(expires) => {
                    batch.insert(&spaces.deliveries, key, expires.to_be_bytes().to_vec())
                }
                None => batch.remove(&spaces.deliveries, key),
            }
        }
        for (index, keep) in self.expiry {
            if keep {
                batch.insert(&spaces.expiry, index, Vec::new());
            } else {
                batch.remove(&spaces.expiry, index);
            }
        }
        // An empty batch writes nothing and returns at once: what such a group's commits rely
        // on (a stored mark not older than theirs) was fsynced before it became readable.
        batch.commit()
    }
}

impl Drop for FjallStore {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(committer) = self.committer.take() {
            // The committer drains its queue before it sees the channel closed, so every
            // queued job is written (and answered) before this returns.
            let _ = committer.join();
        }
        let _ = self.db.persist(PersistMode::SyncAll);
    }
}

fn failed(e: fjall::Error) -> StoreError {
    StoreError::with_kind(kind_of(&e), e.to_string())
}

fn kind_of(e: &fjall::Error) -> StoreErrorKind {
    match e {
        fjall::Error::Locked => StoreErrorKind::Locked,
        // Poisoned: an fsync failed, and fjall refuses writes until it recovers from its
        // journal.
        fjall::Error::Io(_) | fjall::Error::Poisoned => StoreErrorKind::Io,
        fjall::Error::Storage(_) if has_io_cause(e) => StoreErrorKind::Io,
        fjall::Error::Storage(_)
        | fjall::Error::JournalRecovery(_)
        | fjall::Error::InvalidVersion(_)
        | fjall::Error::Decompress(_)
        | fjall::Error::InvalidTrailer
        | fjall::Error::InvalidTag(_)
        | fjall::Error::Unrecoverable => StoreErrorKind::Corrupt,
        _ => StoreErrorKind::Other,
    }
}

/// Whether an I/O error is among the causes of `e` (the LSM tree's own errors wrap them).
fn has_io_cause(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = e.source();
    while let Some(inner) = cause {
        if inner.is::<std::io::Error>() {
            return true;
        }
        cause = inner.source();
    }
    false
}

#[async_trait]
impl Store for FjallStore {
    async fn mark(&self, key: &OrderingKey) -> Result<Option<EventTime>, StoreError> {
        let value = self.spaces.marks.get(key.encode()).map_err(failed)?;
        Ok(value
            .as_deref()
            .and_then(decode_i64)
            .map(EventTime::from_nanos))
    }

    async fn is_handled(&self, key: &DeliveryKey, now: UnixSeconds) -> Result<bool, StoreError> {
        let value = self.spaces.deliveries.get(key.encode()).map_err(failed)?;
        Ok(value
            .as_deref()
            .and_then(decode_i64)
            .is_some_and(|expires| expires > now.as_secs()))
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.queue(Job::Commit(commit, tx))?;
        match rx.await {
            Ok(result) => result.map_err(|e| e.context("commit failed")),
            Err(_) => Err(StoreError::closing("committer thread stopped")),
        }
    }

    async fn purge_expired(&self, now: UnixSeconds, limit: usize) -> Result<usize, StoreError> {
        self.purge(|done| Job::Purge { now, limit, done }).await
    }

    async fn purge_marks(&self, before: EventTime, limit: usize) -> Result<usize, StoreError> {
        self.purge(|done| Job::PurgeMarks {
            before,
            limit,
            done,
        })
        .await
    }
}

impl FjallStore {
    /// Hands a purge to the committer and waits for how many it removed.
    async fn purge(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<usize, StoreError>>) -> Job,
    ) -> Result<usize, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.queue(job(tx))?;
        match rx.await {
            Ok(result) => result.map_err(|e| e.context("purge failed")),
            Err(_) => Err(StoreError::closing("committer thread stopped")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::behaviour::{at, delivery, key, secs};

    #[tokio::test]
    async fn fjall_store_shows_the_store_behaviour() {
        crate::store::behaviour::all(|| FjallStore::temporary().unwrap()).await;
    }

    #[tokio::test]
    async fn committed_state_survives_reopening_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            crate::store::behaviour::committed_state_survives_reopening(dir.path(), |path| {
                FjallStore::open(path).unwrap()
            })
            .await;
        assert_eq!(store.purge_expired(secs(99), 10).await.unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn many_concurrent_commits_all_complete() {
        let store = Arc::new(FjallStore::temporary().unwrap());
        let tasks: Vec<_> = (0..256)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    store
                        .commit(Commit {
                            mark: Some((key("shared"), at(i))),
                            delivery: Some((delivery(&format!("d{i}")), secs(i64::MAX))),
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(store.spaces.deliveries.len().unwrap(), 256);
        assert_eq!(store.spaces.expiry.len().unwrap(), 256);
        assert_eq!(store.mark(&key("shared")).await.unwrap(), Some(at(255)));
    }

    #[test]
    fn a_directory_another_store_holds_is_locked() {
        crate::store::behaviour::a_held_directory_is_locked(|dir| FjallStore::open(dir));
    }

    /// Runs `jobs` as one group on the store's committer path, as if they had queued together.
    fn group(
        store: &FjallStore,
        commits: Vec<Commit>,
        purges: Vec<(UnixSeconds, usize)>,
    ) -> Vec<usize> {
        let mut jobs = Vec::new();
        let mut waiting = Vec::new();
        let mut purging = Vec::new();
        for commit in commits {
            let (tx, rx) = oneshot::channel();
            jobs.push(Job::Commit(commit, tx));
            waiting.push(rx);
        }
        for (now, limit) in purges {
            let (tx, rx) = oneshot::channel();
            jobs.push(Job::Purge {
                now,
                limit,
                done: tx,
            });
            purging.push(rx);
        }
        apply_group(&store.db, &store.spaces, jobs);
        for mut rx in waiting {
            rx.try_recv().unwrap().unwrap();
        }
        purging
            .into_iter()
            .map(|mut rx| rx.try_recv().unwrap().unwrap())
            .collect()
    }

    fn mark(entity: &str, nanos: i64) -> Commit {
        Commit {
            mark: Some((key(entity), at(nanos))),
            delivery: None,
        }
    }

    #[tokio::test]
    async fn two_commits_for_one_key_in_one_group_keep_the_newest_mark() {
        let store = FjallStore::temporary().unwrap();
        group(&store, vec![mark("1", 200), mark("1", 100)], vec![]);
        assert_eq!(store.mark(&key("1")).await.unwrap(), Some(at(200)));
        group(&store, vec![mark("1", 100), mark("1", 300)], vec![]);
        assert_eq!(store.mark(&key("1")).await.unwrap(), Some(at(300)));
        // Both older than the stored mark: it stays.
        group(&store, vec![mark("1", 250), mark("1", 299)], vec![]);
        assert_eq!(store.mark(&key("1")).await.unwrap(), Some(at(300)));
        group(
            &store,
            vec![mark("2", 5), mark("1", 301), mark("2", 4)],
            vec![],
        );
        assert_eq!(store.mark(&key("1")).await.unwrap(), Some(at(301)));
        assert_eq!(store.mark(&key("2")).await.unwrap(), Some(at(5)));
    }

    #[tokio::test]
    async fn a_purge_and_a_recommit_in_one_group_keep_the_delivery() {
        let store = FjallStore::temporary().unwrap();
        let commit = |expires| Commit {
            mark: None,
            delivery: Some((delivery("again"), secs(expires))),
        };
        group(&store, vec![commit(100)], vec![]);
        // Two purges and the commit that extends the delivery, all at once.
        let removed = group(
            &store,
            vec![commit(300)],
            vec![(secs(200), 10), (secs(200), 10)],
        );
        assert_eq!(removed, vec![1, 0]);
        assert!(store
            .is_handled(&delivery("again"), secs(250))
            .await
            .unwrap());
        assert_eq!(store.purge_expired(secs(200), 10).await.unwrap(), 0);
        assert_eq!(store.purge_expired(secs(300), 10).await.unwrap(), 1);
        assert!(!store.is_handled(&delivery("again"), secs(0)).await.unwrap());
    }
}
