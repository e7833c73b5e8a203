//! The outbox's PostgreSQL table is the receiver's own migration, registered with the SDK's
//! store: a fresh database gets it, and a database the SDK migrated back when it created the
//! table itself keeps its rows and relays them.

use deadpool_postgres::tokio_postgres::{self, Client, NoTls};
use receiver_sdk::store::ScratchDatabase;

use super::support::*;

/// The SDK's step 2 as released before the receiver owned its table, applied by hand.
const OLD_SDK_OUTBOX_STEP: &str = "
CREATE TABLE receiver.outbox (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    lane text,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead', 'delivered')),
    next_attempt_at bigint NOT NULL,
    enqueued_at bigint NOT NULL,
    claimed_until bigint NOT NULL DEFAULT 0,
    claim bigint NOT NULL DEFAULT 0,
    record bytea NOT NULL
);
CREATE INDEX outbox_due ON receiver.outbox (queue, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_lanes ON receiver.outbox (queue, lane, id) WHERE state = 'pending';
CREATE INDEX outbox_shelves ON receiver.outbox (queue, state, id);
";

async fn connect(database: &ScratchDatabase) -> Client {
    let (client, connection) = tokio_postgres::connect(database.url(), NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// The rig, its store in `database`.
async fn rig_on(database: &ScratchDatabase) -> Rig {
    let url = database.url().to_owned();
    Rig::start_with(
        "",
        |text| text.replace("[store]\n", &format!("[store]\nurl = \"{url}\"\n")),
        |_, _| Reply::ok(),
    )
    .await
}

async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_fresh_database_gets_the_outbox_table_from_the_receivers_own_migration() {
    let database = ScratchDatabase::create().await.unwrap();
    let rig = rig_on(&database).await;
    rig.post("a", 0..1).await;
    rig.until_delivered(1).await;
    let client = connect(&database).await;
    let steps: Vec<(i32, String)> = client
        .query(
            "SELECT version, name FROM receiver.registered_migrations
             WHERE namespace = 'reference-receiver/outbox'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(steps, [(1, "relay outbox".to_owned())]);
    let delivered = "SELECT count(*) FROM receiver.outbox WHERE state = 'delivered'";
    assert_eq!(count(&client, delivered).await, 1);
    rig.stop().await;
}

/// A pending event as a receiver of the earlier release stored it: the record's JSON (the
/// payload left out) after its length, then the payload.
fn old_record(entity: &str, n: usize) -> Vec<u8> {
    let payload = serde_json::to_vec(&event(entity, n)).unwrap();
    let json = serde_json::to_vec(&serde_json::json!({
        "event": {
            "event": "contact.updated",
            "entity": entity,
            "entity_type": "contact",
            "created_at": null,
            "delivery": format!("{entity}-{n}"),
            "payload": [],
        },
        "idempotency_key": format!("orders:{entity}-{n}"),
        "enqueued_at": "2026-01-01T00:00:00Z",
        "next_attempt_at": "2026-01-01T00:00:00Z",
        "tries": 0,
        "attempts": [],
        "finished_at": null,
    }))
    .unwrap();
    let mut bytes = u32::try_from(json.len()).unwrap().to_be_bytes().to_vec();
    bytes.extend_from_slice(&json);
    bytes.extend_from_slice(&payload);
    bytes
}

#[tokio::test]
async fn regression_a_database_whose_outbox_the_sdk_created_keeps_its_rows_and_relays() {
    let database = ScratchDatabase::create().await.unwrap();
    let client = connect(&database).await;
    client
        .batch_execute(&format!(
            "CREATE SCHEMA receiver;
             CREATE TABLE receiver.schema_migrations (
                 version integer PRIMARY KEY,
                 name text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );
             {}
             {OLD_SDK_OUTBOX_STEP}
             INSERT INTO receiver.schema_migrations (version, name)
                 VALUES (1, 'marks and deliveries'), (2, 'relay outbox');",
            include_str!(
                "../../../../receiver-sdk/src/store/postgres/migrations/0001_marks_and_deliveries.sql"
            )
        ))
        .await
        .unwrap();
    let at: i64 = 1_767_225_600_000; // 2026-01-01, as the record says
    client
        .execute(
            "INSERT INTO receiver.outbox (queue, lane, next_attempt_at, enqueued_at, record)
             VALUES ('orders', '7:contactc9', $1, $1, $2)",
            &[&at, &old_record("c9", 0)],
        )
        .await
        .unwrap();

    let rig = rig_on(&database).await;
    rig.until_delivered(1).await;
    rig.post("c9", 1..2).await;
    rig.until_delivered(2).await;
    let ids: Vec<String> = rig
        .downstream
        .accepted()
        .iter()
        .map(|r| r.id().to_owned())
        .collect();
    assert_eq!(ids, ["c9-0", "c9-1"], "the old row first, then the new one");
    assert_eq!(
        rig.downstream.accepted()[0].key.as_deref(),
        Some("orders:c9-0"),
        "the stored Idempotency-Key"
    );
    let rows = "SELECT count(*) FROM receiver.outbox WHERE queue = 'orders'";
    assert_eq!(
        count(&client, rows).await,
        2,
        "the old row is kept in the history"
    );
    let recorded = "SELECT count(*) FROM receiver.registered_migrations
                    WHERE namespace = 'reference-receiver/outbox' AND version = 1";
    assert_eq!(count(&client, recorded).await, 1);
    rig.stop().await;
}
