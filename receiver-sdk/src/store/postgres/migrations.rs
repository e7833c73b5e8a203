//! The schema, as embedded, versioned migrations applied at start-up: the store's own steps,
//! then those other crates register for their tables (see
//! [`PostgresStoreBuilder::migrations`](super::PostgresStoreBuilder::migrations)).
//!
//! Everything lives in the PostgreSQL schema `receiver`, so our tables (`schema_migrations`
//! included) never meet an application's own tables of the same name in a shared database.
//! The store's steps are recorded in `schema_migrations`, registered ones in
//! `registered_migrations` under their namespace. Migrating runs in one transaction under a
//! transaction-level advisory lock: replicas that start at once take turns, and the second
//! finds nothing left to do.

use tokio_postgres::{Client, Transaction};

use super::describe;
use crate::store::StoreError;

/// One step of a schema. Released versions are never edited: a change is a new step.
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

impl Migration {
    /// Step `version` (from 1, ascending) called `name`, which runs `sql` (any number of
    /// statements, inside the migrating transaction).
    pub const fn new(version: i32, name: &'static str, sql: &'static str) -> Self {
        Self { version, name, sql }
    }

    /// The step's number.
    pub fn version(&self) -> i32 {
        self.version
    }

    /// What the step does, as recorded with it.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

const MIGRATIONS: &[Migration] = &[
    Migration::new(
        1,
        "marks and deliveries",
        include_str!("migrations/0001_marks_and_deliveries.sql"),
    ),
    // Was the reference receiver's outbox table, which the receiver now migrates itself.
    Migration::new(2, "reserved", include_str!("migrations/0002_reserved.sql")),
    Migration::new(
        3,
        "digest keys",
        include_str!("migrations/0003_digest_keys.sql"),
    ),
    Migration::new(
        4,
        "mark times",
        include_str!("migrations/0004_mark_times.sql"),
    ),
];

/// The advisory lock taken while migrating, in the two-key space: PostgreSQL keeps it apart
/// from the one-key (`bigint`) space that key leases use, so the two never collide.
const LOCK: (i32, i32) = (0x7265_6376, 1); // "recv", 1

fn failed(what: &str, e: tokio_postgres::Error) -> StoreError {
    StoreError::new(format!("migrating the schema: {what}: {}", describe(&e)))
}

/// Brings the schema up to date, the store's own steps first and then each of `registered`
/// (namespace, steps), and returns how many steps were applied.
pub(super) async fn run(
    client: &mut Client,
    registered: &[(&'static str, &'static [Migration])],
) -> Result<usize, StoreError> {
    let transaction = client.transaction().await.map_err(|e| failed("begin", e))?;
    // Another replica may be migrating: wait for it longer than for an ordinary statement.
    transaction
        .batch_execute(&format!(
            "SET LOCAL statement_timeout = '60s';
             SELECT pg_advisory_xact_lock({}, {});
             CREATE SCHEMA IF NOT EXISTS receiver;
             CREATE TABLE IF NOT EXISTS receiver.schema_migrations (
                 version integer PRIMARY KEY,
                 name text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );
             CREATE TABLE IF NOT EXISTS receiver.registered_migrations (
                 namespace text NOT NULL,
                 version integer NOT NULL,
                 name text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now(),
                 PRIMARY KEY (namespace, version)
             );",
            LOCK.0, LOCK.1
        ))
        .await
        .map_err(|e| failed("lock and bookkeeping tables", e))?;
    let mut count = apply(&transaction, None, MIGRATIONS).await?;
    for (namespace, steps) in registered {
        count += apply(&transaction, Some(namespace), steps).await?;
    }
    transaction
        .commit()
        .await
        .map_err(|e| failed("commit", e))?;
    Ok(count)
}

/// Applies the steps of `namespace` (`None`: the store's own) not yet recorded, and records
/// them; returns how many.
async fn apply(
    transaction: &Transaction<'_>,
    namespace: Option<&str>,
    steps: &[Migration],
) -> Result<usize, StoreError> {
    let rows = match namespace {
        None => {
            transaction
                .query("SELECT version FROM receiver.schema_migrations", &[])
                .await
        }
        Some(namespace) => {
            transaction
                .query(
                    "SELECT version FROM receiver.registered_migrations WHERE namespace = $1",
                    &[&namespace],
                )
                .await
        }
    };
    let applied: Vec<i32> = rows
        .map_err(|e| failed("read applied versions", e))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let known = steps.last().map_or(0, |m| m.version);
    if let Some(newest) = applied.iter().copied().max().filter(|v| *v > known) {
        // A newer replica migrated already (a rolling upgrade): its steps only add, so run on.
        tracing::warn!(
            namespace = namespace.unwrap_or("receiver-sdk"),
            schema_version = newest,
            known_version = known,
            "the database schema is newer than this receiver knows"
        );
    }
    let mut count = 0;
    for migration in steps.iter().filter(|m| !applied.contains(&m.version)) {
        let step = match namespace {
            None => format!("{} ({})", migration.version, migration.name),
            Some(namespace) => format!("{namespace} {} ({})", migration.version, migration.name),
        };
        transaction
            .batch_execute(migration.sql)
            .await
            .map_err(|e| failed(&step, e))?;
        let recorded =
            match namespace {
                None => transaction
                    .execute(
                        "INSERT INTO receiver.schema_migrations (version, name) VALUES ($1, $2)",
                        &[&migration.version, &migration.name],
                    )
                    .await,
                Some(namespace) => {
                    transaction
                        .execute(
                            "INSERT INTO receiver.registered_migrations (namespace, version, name)
                         VALUES ($1, $2, $3)",
                            &[&namespace, &migration.version, &migration.name],
                        )
                        .await
                }
            };
        recorded.map_err(|e| failed(&step, e))?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_ascending_from_one_without_gaps() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(usize::try_from(migration.version).unwrap(), i + 1);
        }
    }
}
