//! The schema, as embedded, versioned migrations applied at start-up.
//!
//! Everything lives in the PostgreSQL schema `receiver`, so our tables (`schema_migrations`
//! included) never meet an application's own tables of the same name in a shared database.
//! Migrating runs in one transaction under a transaction-level advisory lock: replicas that
//! start at once take turns, and the second finds nothing left to do.

use tokio_postgres::Client;

use super::describe;
use crate::store::StoreError;

/// One step of the schema. Released versions are never edited: a change is a new step.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "marks and deliveries",
        sql: include_str!("migrations/0001_marks_and_deliveries.sql"),
    },
    Migration {
        version: 2,
        name: "relay outbox",
        sql: include_str!("migrations/0002_outbox.sql"),
    },
    Migration {
        version: 3,
        name: "digest keys",
        sql: include_str!("migrations/0003_digest_keys.sql"),
    },
    Migration {
        version: 4,
        name: "mark times",
        sql: include_str!("migrations/0004_mark_times.sql"),
    },
];

/// The advisory lock taken while migrating, in the two-key space: PostgreSQL keeps it apart
/// from the one-key (`bigint`) space that key leases use, so the two never collide.
const LOCK: (i32, i32) = (0x7265_6376, 1); // "recv", 1

/// Brings the schema up to date and returns how many migrations were applied.
pub(super) async fn run(client: &mut Client) -> Result<usize, StoreError> {
    let failed = |what: &str, e: tokio_postgres::Error| {
        StoreError::new(format!("migrating the schema: {what}: {}", describe(&e)))
    };
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
             );",
            LOCK.0, LOCK.1
        ))
        .await
        .map_err(|e| failed("lock and bookkeeping table", e))?;
    let applied: Vec<i32> = transaction
        .query("SELECT version FROM receiver.schema_migrations", &[])
        .await
        .map_err(|e| failed("read applied versions", e))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(newest) = applied.iter().copied().max().filter(|v| *v > known) {
        // A newer replica migrated already (a rolling upgrade): its steps only add, so run on.
        tracing::warn!(
            schema_version = newest,
            known_version = known,
            "the database schema is newer than this receiver knows"
        );
    }
    let mut count = 0;
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let step = format!("{} ({})", migration.version, migration.name);
        transaction
            .batch_execute(migration.sql)
            .await
            .map_err(|e| failed(&step, e))?;
        transaction
            .execute(
                "INSERT INTO receiver.schema_migrations (version, name) VALUES ($1, $2)",
                &[&migration.version, &migration.name],
            )
            .await
            .map_err(|e| failed(&step, e))?;
        count += 1;
    }
    transaction
        .commit()
        .await
        .map_err(|e| failed("commit", e))?;
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
