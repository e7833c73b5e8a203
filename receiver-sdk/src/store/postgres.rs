//! PostgreSQL, for several receiver replicas sharing ordering marks and dedupe state
//! (feature `postgres`).
//!
//! Keys are stored as SHA-256 digests of their encoding (32 bytes, `bytea`), whatever the ids'
//! length: a raw key over the btree row limit (2704 bytes) would fail the commit after the
//! handler ran. Two keys would have to collide in SHA-256 to share a row.
//!
//! Marks advance in one statement, `INSERT .. ON CONFLICT (key) DO UPDATE .. WHERE
//! EXCLUDED.created_at > marks.created_at`, so replicas racing on one entity can never let an
//! older event win; [`Store::lease`] takes a transaction-level advisory lock on the key, so
//! the mark check, the handler and the commit of one key never interleave across replicas.
//!
//! Connections come from two pools of `pool_size` each: one for statements and one for
//! leases, which hold their connection (inside an open transaction) while the handler runs.
//! With one pool, `pool_size` requests holding leases could wait forever for a connection to
//! check their mark; with two, a lease holder always gets a statement connection in turn.
//!
//! Durability: [`Store::commit`] returns after PostgreSQL committed, which with the server's
//! default `synchronous_commit = on` means the WAL is fsynced; concurrent commits share WAL
//! flushes on the server, so there is no group commit to do here.
//!
//! Failure: every call is bounded (pool wait, connect, statement and an overall deadline), so
//! while the database is unreachable calls fail within seconds (the endpoint answers 503 and
//! senders retry). Broken connections are dropped and new ones made on demand, so the store
//! recovers by itself when the database returns.
//!
//! TLS to the database is not built in: connect over a private network or a local socket.

mod migrations;
mod scratch;

use std::error::Error as _;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType,
};
use sha2::{Digest, Sha256};
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::NoTls;

pub use self::migrations::Migration;
pub use self::scratch::ScratchDatabase;

use super::{
    Commit, DeliveryKey, EventTime, Lease, LeaseKey, OrderingKey, Store, StoreError,
    StoreErrorKind, UnixSeconds,
};

/// Connections per pool when [`PostgresStoreBuilder::pool_size`] is not called.
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub const DEFAULT_POOL_SIZE: usize = 16;

/// A [`Store`] in a PostgreSQL database, shared by any number of receiver processes.
///
/// ```no_run
/// use receiver_sdk::store::PostgresStore;
/// # async fn run() -> Result<(), receiver_sdk::store::StoreError> {
/// let store = PostgresStore::builder("postgres://receiver@127.0.0.1/receiver")?
///     .pool_size(16)
///     .connect() // creates or migrates the schema
///     .await?;
/// # drop(store); Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct PostgresStore {
    // Short statements; a connection is held for one statement at a time.
    queries: Pool,
    // One connection per leased key, held for the lease's whole life.
    leases: Pool,
    // What every call may take in all, pool wait included: a backstop for a server that stops
    // answering without closing the connection, where no server-side timeout fires.
    deadline: Duration,
    target: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Options for connecting a [`PostgresStore`].
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[derive(Clone)]
pub struct PostgresStoreBuilder {
    config: tokio_postgres::Config,
    pool_size: usize,
    connect_timeout: Duration,
    wait_timeout: Duration,
    statement_timeout: Duration,
    lease_timeout: Duration,
    // Other crates' schema steps, applied after the store's own, in the order registered.
    migrations: Vec<(&'static str, &'static [Migration])>,
}

impl std::fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not derived: the config holds the password.
        f.debug_struct("PostgresStoreBuilder")
            .field("target", &target(&self.config))
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl PostgresStoreBuilder {
    /// Connections per pool (two pools: statements and leases); the default is
    /// [`DEFAULT_POOL_SIZE`].
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long opening a connection may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a call waits for a free connection when all are busy (default 5 s).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// The server-side limit on one statement, including the wait for a key another replica
    /// holds (default 5 s).
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// How long a lease may be held before the server ends its session and so frees the key
    /// (default 10 min): a safety net for a handler that never returns.
    pub fn lease_timeout(mut self, timeout: Duration) -> Self {
        self.lease_timeout = timeout;
        self
    }

    /// Also brings `steps` up to date on connecting: a crate's own tables kept beside the
    /// store's, in the same database (see [`PostgresStore::pool`]). They run after the store's
    /// own steps, in the same transaction under the same lock, and are recorded under
    /// `namespace` (in `receiver.registered_migrations`), so each crate numbers its steps
    /// from 1 without meeting another's. As with the store's own, a released step is never
    /// edited: a change is a new step.
    ///
    /// ```no_run
    /// use receiver_sdk::store::{Migration, PostgresStore};
    /// const AUDIT: &[Migration] = &[Migration::new(
    ///     1,
    ///     "audit log",
    ///     "CREATE TABLE IF NOT EXISTS receiver.audit (id bigserial PRIMARY KEY, line text)",
    /// )];
    /// # async fn run() -> Result<(), receiver_sdk::store::StoreError> {
    /// let store = PostgresStore::builder("postgres://receiver@127.0.0.1/receiver")?
    ///     .migrations("my-app/audit", AUDIT)
    ///     .connect()
    ///     .await?;
    /// # drop(store); Ok(()) }
    /// ```
    pub fn migrations(mut self, namespace: &'static str, steps: &'static [Migration]) -> Self {
        self.migrations.push((namespace, steps));
        self
    }

    /// Where the store connects, as `user@host:port/database` (never the password).
    pub fn target(&self) -> String {
        target(&self.config)
    }

    /// Connects, brings the schema up to date, and returns the store. Fails with the reason
    /// when the database cannot be reached.
    pub async fn connect(self) -> Result<PostgresStore, StoreError> {
        let target = self.target();
        let mut config = self.config.clone();
        config.connect_timeout(self.connect_timeout);
        // A peer that vanished without closing the socket is noticed within this.
        config.tcp_user_timeout(self.connect_timeout + self.statement_timeout);
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("webhook-receiver");
        }
        let statement = with_options(
            &config,
            &format!("-c statement_timeout={}", millis(self.statement_timeout)),
        );
        let lease = with_options(
            &statement,
            &format!(
                "-c idle_in_transaction_session_timeout={}",
                millis(self.lease_timeout)
            ),
        );
        let queries = self.pool(statement)?;
        let leases = self.pool(lease)?;
        let store = PostgresStore {
            queries,
            leases,
            deadline: self.wait_timeout + self.connect_timeout * 2 + self.statement_timeout,
            target: target.clone(),
        };
        let unreachable = |e: StoreError| e.context(format_args!("PostgreSQL at {target}"));
        let mut client = store.statements().await.map_err(unreachable)?;
        let applied = migrations::run(&mut client, &self.migrations)
            .await
            .map_err(unreachable)?;
        if applied > 0 {
            tracing::info!(applied, target = %target, "PostgreSQL schema migrated");
        }
        Ok(store)
    }

    fn pool(&self, config: tokio_postgres::Config) -> Result<Pool, StoreError> {
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection the server closed reports it and is dropped on its way out of
                // the pool; a statement on one closed since fails once and the sender retries.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(self.pool_size)
            .wait_timeout(Some(self.wait_timeout))
            .create_timeout(Some(self.connect_timeout + Duration::from_secs(1)))
            .recycle_timeout(Some(self.statement_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::new(format!("cannot build the connection pool: {e}")))
    }
}

impl PostgresStore {
    /// Options for a store at `url` (`postgres://user:password@host:port/database`, or
    /// libpq's `key=value` form). Parses the URL without connecting.
    pub fn builder(url: &str) -> Result<PostgresStoreBuilder, StoreError> {
        let config = tokio_postgres::Config::from_str(url).map_err(|e| {
            // The parser's own detail may quote a character of the URL, password included.
            let detail = e
                .source()
                .map(|cause| cause.to_string())
                .filter(|cause| !cause.contains("got `"))
                .map_or(String::new(), |cause| format!(": {cause}"));
            StoreError::new(format!(
                "the PostgreSQL URL is not valid{detail} (expected \
                 postgres://user:password@host:port/database)"
            ))
        })?;
        if config.get_hosts().is_empty() {
            return Err(StoreError::new("the PostgreSQL URL names no host"));
        }
        Ok(PostgresStoreBuilder {
            config,
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: Duration::from_secs(5),
            wait_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            lease_timeout: Duration::from_secs(600),
            migrations: Vec::new(),
        })
    }

    /// Connects to `url` with default options; see [`PostgresStoreBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url)?.connect().await
    }

    /// Where the store is connected, as `user@host:port/database`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The pool of statement connections, for callers that keep their own tables beside ours
    /// (the reference receiver's relay outbox, `receiver.outbox`), created by their own steps
    /// registered with [`PostgresStoreBuilder::migrations`].
    pub fn pool(&self) -> &Pool {
        &self.queries
    }

    async fn statements(&self) -> Result<Object, StoreError> {
        self.queries.get().await.map_err(pool_error)
    }

    /// Runs `work` within the store's deadline.
    async fn bounded<T>(
        &self,
        what: &str,
        work: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.deadline, work)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::timeout(format!(
                    "PostgreSQL did not answer within {:?} ({what})",
                    self.deadline
                )))
            })
    }

    #[cfg(test)]
    async fn clear(&self) {
        self.statements()
            .await
            .unwrap()
            .batch_execute("TRUNCATE receiver.marks, receiver.deliveries")
            .await
            .unwrap();
    }
}

const MARK: &str = "SELECT created_at FROM receiver.marks WHERE key = $1";

const HANDLED: &str =
    "SELECT EXISTS (SELECT 1 FROM receiver.deliveries WHERE key = $1 AND expires_at > $2)";

// The mark moves only forward, decided by the row's current value under its row lock, so no
// interleaving of replicas lets an older time overwrite a newer one.
const ADVANCE: &str = "INSERT INTO receiver.marks AS m (key, created_at) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET created_at = EXCLUDED.created_at
     WHERE EXCLUDED.created_at > m.created_at";

const REMEMBER: &str = "INSERT INTO receiver.deliveries AS d (key, expires_at) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at";

// Both in one statement, so one implicit transaction and one round trip.
const ADVANCE_AND_REMEMBER: &str = "WITH mark AS (
         INSERT INTO receiver.marks AS m (key, created_at) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET created_at = EXCLUDED.created_at
         WHERE EXCLUDED.created_at > m.created_at
     )
     INSERT INTO receiver.deliveries AS d (key, expires_at) VALUES ($3, $4)
     ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at";

// SKIP LOCKED: replicas purging at once take different rows instead of waiting on each other.
const PURGE: &str = "DELETE FROM receiver.deliveries WHERE key IN (
         SELECT key FROM receiver.deliveries WHERE expires_at <= $1
         ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
     )";

const PURGE_MARKS: &str = "DELETE FROM receiver.marks WHERE key IN (
         SELECT key FROM receiver.marks WHERE created_at < $1
         ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED
     )";

#[async_trait]
impl Store for PostgresStore {
    async fn mark(&self, key: &OrderingKey) -> Result<Option<EventTime>, StoreError> {
        self.bounded("reading a mark", async {
            let client = self.statements().await?;
            let statement = client.prepare_cached(MARK).await.map_err(failed)?;
            let row = client
                .query_opt(&statement, &[&stored(&key.encode())])
                .await
                .map_err(failed)?;
            Ok(row.map(|row| EventTime::from_nanos(row.get(0))))
        })
        .await
    }

    async fn is_handled(&self, key: &DeliveryKey, now: UnixSeconds) -> Result<bool, StoreError> {
        let now = now.as_secs();
        self.bounded("reading a delivery", async {
            let client = self.statements().await?;
            let statement = client.prepare_cached(HANDLED).await.map_err(failed)?;
            let row = client
                .query_one(&statement, &[&stored(&key.encode()), &now])
                .await
                .map_err(failed)?;
            Ok(row.get(0))
        })
        .await
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let (sql, mark, delivery) = match (&commit.mark, &commit.delivery) {
            (None, None) => return Ok(()),
            (Some(mark), None) => (ADVANCE, Some(mark), None),
            (None, Some(delivery)) => (REMEMBER, None, Some(delivery)),
            (Some(mark), Some(delivery)) => (ADVANCE_AND_REMEMBER, Some(mark), Some(delivery)),
        };
        let mark = mark.map(|(key, at)| (stored(&key.encode()), at.as_nanos()));
        let delivery = delivery.map(|(key, expires)| (stored(&key.encode()), expires.as_secs()));
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(4);
        if let Some((key, at)) = &mark {
            params.push(key);
            params.push(at);
        }
        if let Some((key, expires)) = &delivery {
            params.push(key);
            params.push(expires);
        }
        self.bounded("committing", async {
            let client = self.statements().await?;
            let statement = client.prepare_cached(sql).await.map_err(failed)?;
            client.execute(&statement, &params).await.map_err(failed)?;
            Ok(())
        })
        .await
    }

    async fn purge_expired(&self, now: UnixSeconds, limit: usize) -> Result<usize, StoreError> {
        if limit == 0 {
            return Ok(0);
        }
        let now = now.as_secs();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.bounded("purging", async {
            let client = self.statements().await?;
            let statement = client.prepare_cached(PURGE).await.map_err(failed)?;
            let removed = client
                .execute(&statement, &[&now, &limit])
                .await
                .map_err(failed)?;
            Ok(usize::try_from(removed).unwrap_or(usize::MAX))
        })
        .await
    }

    async fn purge_marks(&self, before: EventTime, limit: usize) -> Result<usize, StoreError> {
        if limit == 0 {
            return Ok(0);
        }
        let before = before.as_nanos();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.bounded("purging marks", async {
            let client = self.statements().await?;
            let statement = client.prepare_cached(PURGE_MARKS).await.map_err(failed)?;
            let removed = client
                .execute(&statement, &[&before, &limit])
                .await
                .map_err(failed)?;
            Ok(usize::try_from(removed).unwrap_or(usize::MAX))
        })
        .await
    }

    async fn lease(&self, key: LeaseKey<'_>) -> Result<Option<Box<dyn Lease>>, StoreError> {
        let connection = self
            .bounded("waiting for a lease connection", async {
                self.leases.get().await.map_err(pool_error)
            })
            .await?;
        // The id is a number we computed, so formatting it into the SQL is safe; one simple
        // query opens the transaction and takes the lock in a single round trip.
        let sql = format!(
            "BEGIN; SELECT pg_advisory_xact_lock({})",
            lock_id(&key.encode())
        );
        let locked = tokio::time::timeout(self.deadline, connection.batch_execute(&sql)).await;
        match locked {
            Ok(Ok(())) => Ok(Some(Box::new(PostgresLease {
                connection: Some(connection),
                deadline: self.deadline,
            }))),
            Ok(Err(e)) => {
                tokio::spawn(release(connection, self.deadline));
                Err(StoreError::with_kind(
                    kind_of(&e),
                    format!("PostgreSQL: locking the key: {}", describe(&e)),
                ))
            }
            Err(_) => {
                // Mid-statement, the session's state is unknown: close it, which frees any lock.
                drop(Object::take(connection));
                Err(StoreError::timeout(format!(
                    "PostgreSQL: the key stayed locked for {:?}",
                    self.deadline
                )))
            }
        }
    }
}

/// A key held by one process: an advisory lock inside an open transaction on a pooled
/// connection. Dropping it rolls the transaction back (in a spawned task), which releases the
/// lock; if this process dies instead, the server ends the session and releases it too.
struct PostgresLease {
    connection: Option<Object>,
    deadline: Duration,
}

impl Lease for PostgresLease {}

impl Drop for PostgresLease {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(release(connection, self.deadline));
            }
            // No runtime to roll back on: closing the connection releases the lock as well.
            Err(_) => drop(Object::take(connection)),
        }
    }
}

/// Ends the lease's transaction and returns the connection to the pool, or closes it if the
/// rollback fails, so a broken session is never handed out again.
async fn release(connection: Object, deadline: Duration) {
    match tokio::time::timeout(deadline, connection.batch_execute("ROLLBACK")).await {
        Ok(Ok(())) => drop(connection),
        _ => drop(Object::take(connection)),
    }
}

/// How a key is stored: the SHA-256 of its encoding, the same in every process and release.
fn stored(encoded: &[u8]) -> Vec<u8> {
    Sha256::digest(encoded).to_vec()
}

/// The advisory lock id of a key: 64 bits of its SHA-256, the same in every process and
/// release. A collision only makes two keys wait for each other.
fn lock_id(key: &[u8]) -> i64 {
    let digest = Sha256::digest(key);
    let mut id = [0; 8];
    id.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(id)
}

fn millis(duration: Duration) -> u128 {
    duration.as_millis()
}

/// `config` with `extra` command-line options placed before any the URL sets, so the URL's
/// own `options` win.
fn with_options(config: &tokio_postgres::Config, extra: &str) -> tokio_postgres::Config {
    let mut config = config.clone();
    let options = match config.get_options() {
        Some(own) if !own.is_empty() => format!("{extra} {own}"),
        _ => extra.to_owned(),
    };
    config.options(options);
    config
}

/// `user@host:port/database`: enough to find the server, nothing secret.
fn target(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = config
                .get_ports()
                .get(i)
                .or(config.get_ports().first())
                .copied()
                .unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let user = config.get_user().unwrap_or("(current user)");
    let database = config.get_dbname().unwrap_or(user);
    format!("{user}@{}/{database}", hosts.join(","))
}

/// An error and its causes on one line. tokio-postgres's own `Display` says only the kind
/// ("db error"); the server's message is in the cause.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text.replace('\n', "; ")
}

fn failed(e: tokio_postgres::Error) -> StoreError {
    StoreError::with_kind(kind_of(&e), format!("PostgreSQL: {}", describe(&e)))
}

/// A statement the server cancelled at the statement timeout timed out; any other failure
/// makes the database unavailable to this call (the sender retries).
fn kind_of(e: &tokio_postgres::Error) -> StoreErrorKind {
    if e.code() == Some(&SqlState::QUERY_CANCELED) {
        StoreErrorKind::Timeout
    } else {
        StoreErrorKind::Unavailable
    }
}

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Timeout(TimeoutType::Wait) => StoreError::timeout(
            "PostgreSQL: every pooled connection stayed busy (raise the pool size?)",
        ),
        PoolError::Timeout(TimeoutType::Create) => {
            StoreError::timeout("PostgreSQL: connecting timed out")
        }
        PoolError::Timeout(TimeoutType::Recycle) => {
            StoreError::timeout("PostgreSQL: checking a pooled connection timed out")
        }
        // Making a connection failed: the server is down, refusing, or unreachable.
        PoolError::Backend(e) => StoreError::unavailable(format!("PostgreSQL: {}", describe(&e))),
        other => StoreError::unavailable(format!("PostgreSQL connection pool: {other}")),
    }
}

#[cfg(test)]
mod tests;
