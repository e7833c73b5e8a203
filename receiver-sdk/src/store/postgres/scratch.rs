//! Throwaway databases, so test runs against one server never see each other's state.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::config::Host;
use tokio_postgres::{Client, NoTls};

use super::describe;
use crate::store::StoreError;

/// The variable that names a maintenance database URL for `ScratchDatabase::create`.
const SCRATCH_URL_VARIABLE: &str = "RECEIVER_TEST_DATABASE_URL";

/// Tried in order when `SCRATCH_URL_VARIABLE` is unset: a local server with trust auth.
const LOCAL_SERVERS: &[&str] = &[
    "postgres://postgres@127.0.0.1:5432/postgres",
    "postgres://root@127.0.0.1:5432/postgres",
];

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A database created for one test run (`receiver_test_<pid>_<n>`) and dropped, with any
/// sessions still in it, when this value is dropped.
///
/// ```no_run
/// use receiver_sdk::store::{PostgresStore, ScratchDatabase};
/// # async fn run() -> Result<(), receiver_sdk::store::StoreError> {
/// let database = ScratchDatabase::create().await?;
/// let store = PostgresStore::connect(database.url()).await?;
/// # drop(store); Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct ScratchDatabase {
    name: String,
    url: String,
    maintenance: tokio_postgres::Config,
}

impl std::fmt::Debug for ScratchDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScratchDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ScratchDatabase {
    /// Creates a database through the maintenance database named by
    /// `RECEIVER_TEST_DATABASE_URL`, or else the local server's `postgres` database as user
    /// `postgres`, then as `root`.
    pub async fn create() -> Result<Self, StoreError> {
        if let Ok(url) = std::env::var(SCRATCH_URL_VARIABLE) {
            return Self::create_on(&url).await;
        }
        let mut reasons = Vec::new();
        for url in LOCAL_SERVERS {
            match Self::create_on(url).await {
                Ok(database) => return Ok(database),
                Err(e) => reasons.push(e.message),
            }
        }
        Err(StoreError::new(format!(
            "no PostgreSQL to create a test database on (set {SCRATCH_URL_VARIABLE}): {}",
            reasons.join("; ")
        )))
    }

    /// Creates a database through `maintenance_url`, whose user may create databases.
    pub async fn create_on(maintenance_url: &str) -> Result<Self, StoreError> {
        let maintenance = tokio_postgres::Config::from_str(maintenance_url)
            .map_err(|e| StoreError::new(format!("maintenance URL: {}", describe(&e))))?;
        let name = format!(
            "receiver_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let client = connect(&maintenance).await?;
        // A database of this name can only be left over from a killed process that had our
        // pid: nothing else uses it.
        // Separate statements: neither may run in the implicit transaction of a batch.
        execute(
            &client,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await?;
        execute(&client, &format!("CREATE DATABASE {name}")).await?;
        let url = key_value_url(&maintenance, &name);
        Ok(Self {
            name,
            url,
            maintenance,
        })
    }

    /// A connection string for the database (libpq `key=value` form).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Ends every session connected to the database (as a database restart would) and
    /// returns how many there were.
    pub async fn terminate_sessions(&self) -> Result<u64, StoreError> {
        let client = connect(&self.maintenance).await?;
        let rows = client
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .await
            .map_err(|e| StoreError::new(describe(&e)))?;
        Ok(rows.len() as u64)
    }

    /// Lets sessions connect to the database, or refuses every new one (superusers included),
    /// to play a database that is down.
    pub async fn allow_connections(&self, allow: bool) -> Result<(), StoreError> {
        let client = connect(&self.maintenance).await?;
        execute(
            &client,
            &format!(
                "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allow}",
                self.name
            ),
        )
        .await
    }

    async fn drop_now(maintenance: tokio_postgres::Config, name: String) {
        let dropped = async {
            let client = connect(&maintenance).await?;
            execute(
                &client,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await
        };
        if let Err(e) = dropped.await {
            eprintln!("could not drop the test database {name}: {e}");
        }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let maintenance = self.maintenance.clone();
        let name = std::mem::take(&mut self.name);
        // Drop cannot await, and may run inside a runtime that must not be blocked on: a
        // thread with its own small runtime does the work, and we wait for it.
        let dropper =
            std::thread::spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(Self::drop_now(maintenance, name)),
                    Err(e) => eprintln!("could not drop the test database {name}: {e}"),
                }
            });
        let _ = dropper.join();
    }
}

async fn connect(config: &tokio_postgres::Config) -> Result<Client, StoreError> {
    let mut config = config.clone();
    config.connect_timeout(std::time::Duration::from_secs(5));
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| StoreError::new(format!("maintenance database: {}", describe(&e))))?;
    tokio::spawn(connection);
    Ok(client)
}

async fn execute(client: &Client, sql: &str) -> Result<(), StoreError> {
    client
        .batch_execute(sql)
        .await
        .map_err(|e| StoreError::new(describe(&e)))
}

/// `config` pointed at `database`, as `key=value` pairs (which need no percent-encoding).
fn key_value_url(config: &tokio_postgres::Config, database: &str) -> String {
    let quote = |value: &str| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut parts = Vec::new();
    if let Some(host) = config.get_hosts().first() {
        let host = match host {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        };
        parts.push(format!("host={}", quote(&host)));
    }
    if let Some(port) = config.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={}", quote(user)));
    }
    if let Some(password) = config.get_password() {
        parts.push(format!(
            "password={}",
            quote(&String::from_utf8_lossy(password))
        ));
    }
    parts.push(format!("dbname={}", quote(database)));
    parts.join(" ")
}
