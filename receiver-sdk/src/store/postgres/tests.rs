//! Against the local PostgreSQL server: each test creates its own database and drops it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::store::behaviour::{self, at, key, secs};

async fn database() -> ScratchDatabase {
    ScratchDatabase::create()
        .await
        .expect("a PostgreSQL server to test against (see ScratchDatabase::create)")
}

fn options(database: &ScratchDatabase) -> PostgresStoreBuilder {
    PostgresStore::builder(database.url()).unwrap().pool_size(4)
}

async fn replica(database: &ScratchDatabase) -> PostgresStore {
    options(database).connect().await.unwrap()
}

fn mark(entity: &str, nanos: i64) -> Commit {
    Commit {
        mark: Some((key(entity), at(nanos))),
        delivery: None,
    }
}

/// The lease key of the deliveries of `id`.
fn deliveries_of(id: &str) -> DeliveryKey {
    behaviour::delivery(id)
}

/// Fisher-Yates with a fixed xorshift, so a failing order can be replayed.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

/// Calls `attempt` until it succeeds or `within` passes; returns how many attempts failed.
async fn eventually<T, F: std::future::Future<Output = Result<T, StoreError>>>(
    within: Duration,
    attempt: impl Fn() -> F,
) -> (T, usize) {
    let start = Instant::now();
    let mut failures = 0;
    loop {
        match attempt().await {
            Ok(value) => return (value, failures),
            Err(e) => {
                assert!(start.elapsed() < within, "still failing: {e}");
                failures += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test]
async fn postgres_store_shows_the_store_behaviour() {
    let database = database().await;
    behaviour::all_async(async || {
        let store = replica(&database).await;
        store.clear().await;
        store
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_racing_commits_on_one_key_end_at_the_newest_time() {
    let database = database().await;
    let replicas = [
        Arc::new(replica(&database).await),
        Arc::new(replica(&database).await),
    ];
    for (round, entity) in ["a", "b", "c"].into_iter().enumerate() {
        let mut times: Vec<i64> = (1..=64).collect();
        shuffle(&mut times, 0x9e37_79b9_7f4a_7c15 + round as u64);
        let tasks: Vec<_> = times
            .into_iter()
            .enumerate()
            .map(|(i, at)| {
                let store = Arc::clone(&replicas[i % 2]);
                tokio::spawn(async move { store.commit(mark(entity, at)).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        for store in &replicas {
            assert_eq!(store.mark(&key(entity)).await.unwrap(), Some(at(64)));
        }
    }
}

#[tokio::test]
async fn a_lease_excludes_other_replicas_until_it_is_dropped() {
    let database = database().await;
    let first = replica(&database).await;
    let second = Arc::new(replica(&database).await);

    let held = first
        .lease(LeaseKey::Delivery(&deliveries_of("account-1")))
        .await
        .unwrap()
        .expect("a lease");
    let other_key = tokio::time::timeout(
        Duration::from_secs(2),
        second.lease(LeaseKey::Delivery(&deliveries_of("account-2"))),
    )
    .await
    .expect("another key is not held up")
    .unwrap();
    drop(other_key);

    let waiting = tokio::spawn({
        let second = Arc::clone(&second);
        async move {
            second
                .lease(LeaseKey::Delivery(&deliveries_of("account-1")))
                .await
                .map(|lease| lease.is_some())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "two holders of one key at once");
    drop(held);
    let granted = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the key is released when the lease drops")
        .unwrap()
        .unwrap();
    assert!(granted);
}

#[tokio::test]
async fn a_lease_is_released_when_its_holders_task_panics() {
    let database = database().await;
    let first = Arc::new(replica(&database).await);
    let second = replica(&database).await;
    let (locked, is_locked) = tokio::sync::oneshot::channel();
    let holder = tokio::spawn({
        let first = Arc::clone(&first);
        async move {
            let _lease = first
                .lease(LeaseKey::Delivery(&deliveries_of("account-1")))
                .await
                .unwrap();
            locked.send(()).unwrap();
            panic!("the handler failed while holding the key");
        }
    });
    is_locked.await.unwrap();
    assert!(holder.await.unwrap_err().is_panic());
    let lease = tokio::time::timeout(
        Duration::from_secs(5),
        second.lease(LeaseKey::Delivery(&deliveries_of("account-1"))),
    )
    .await
    .expect("the key is released after the panic")
    .unwrap();
    assert!(lease.is_some());
}

#[tokio::test]
async fn waiting_for_a_held_key_gives_up_at_the_statement_timeout_and_the_connection_is_reused() {
    let database = database().await;
    let first = replica(&database).await;
    let impatient = options(&database)
        .pool_size(1)
        .statement_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let held = first
        .lease(LeaseKey::Delivery(&deliveries_of("account-1")))
        .await
        .unwrap();

    let start = Instant::now();
    let error = impatient
        .lease(LeaseKey::Delivery(&deliveries_of("account-1")))
        .await
        .err()
        .expect("timed out");
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(error.to_string().contains("statement timeout"), "{error}");
    assert_eq!(error.kind(), StoreErrorKind::Timeout);

    drop(held);
    // The pool's only connection was rolled back after the failure, not left in an aborted
    // transaction: the next lease on it works.
    let lease = tokio::time::timeout(
        Duration::from_secs(5),
        impatient.lease(LeaseKey::Delivery(&deliveries_of("account-1"))),
    )
    .await
    .expect("granted")
    .unwrap();
    assert!(lease.is_some());
}

#[tokio::test]
async fn the_store_recovers_by_itself_after_its_connections_are_terminated() {
    let database = database().await;
    let store = replica(&database).await;
    store.commit(mark("1", 10)).await.unwrap();
    assert!(database.terminate_sessions().await.unwrap() > 0);

    let one = key("1");
    let (value, _) = eventually(Duration::from_secs(10), || store.mark(&one)).await;
    assert_eq!(value, Some(at(10)));
    store.commit(mark("1", 20)).await.unwrap();
    assert_eq!(store.mark(&key("1")).await.unwrap(), Some(at(20)));
    assert!(store
        .lease(LeaseKey::Delivery(&deliveries_of("1")))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn while_the_database_refuses_connections_calls_fail_fast_and_then_recover() {
    let database = database().await;
    let store = replica(&database).await;
    store.commit(mark("1", 10)).await.unwrap();

    database.allow_connections(false).await.unwrap();
    database.terminate_sessions().await.unwrap();
    let start = Instant::now();
    for _ in 0..3 {
        assert!(store.mark(&key("1")).await.is_err());
        assert!(store.commit(mark("1", 30)).await.is_err());
        assert!(store
            .lease(LeaseKey::Delivery(&deliveries_of("1")))
            .await
            .is_err());
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "failing took {:?}",
        start.elapsed()
    );
    let error = store.mark(&key("1")).await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
    let error = error.to_string();
    assert!(
        error.contains("not currently accepting connections"),
        "{error}"
    );

    database.allow_connections(true).await.unwrap();
    let one = key("1");
    let (value, _) = eventually(Duration::from_secs(10), || store.mark(&one)).await;
    assert_eq!(
        value,
        Some(at(10)),
        "nothing was committed while it was down"
    );
}

#[tokio::test]
async fn an_unreachable_server_fails_at_connect_with_the_reason_and_not_the_password() {
    let start = Instant::now();
    let error = PostgresStore::builder("postgres://someone:s3cret-pw@127.0.0.1:1/nowhere")
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(error.contains("someone@127.0.0.1:1/nowhere"), "{error}");
    assert!(error.contains("error connecting to server"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
}

#[test]
fn an_invalid_url_is_refused_without_echoing_it() {
    for url in [
        "postgres://someone:s3cret-pw@127.0.0.1:notaport/db",
        "host=127.0.0.1 password='s3cret-pw",
    ] {
        let error = PostgresStore::builder(url).unwrap_err().to_string();
        assert!(error.contains("not valid"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_at_once_migrate_the_schema_exactly_once() {
    let database = database().await;
    let url = database.url().to_owned();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                PostgresStore::builder(&url)
                    .unwrap()
                    .pool_size(1)
                    .connect()
                    .await
            })
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.unwrap().unwrap());
    }
    let client = stores[0].statements().await.unwrap();
    let versions: Vec<i32> = client
        .query(
            "SELECT version FROM receiver.schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 4]);
}

#[test]
fn lock_ids_are_stable_and_differ_by_key() {
    // Replicas of different builds must agree on the id of a key.
    assert_eq!(
        lock_id(b""),
        i64::from_be_bytes(*b"\xe3\xb0\xc4\x42\x98\xfc\x1c\x14")
    );
    assert_ne!(lock_id(b"a"), lock_id(b"b"));
}

#[tokio::test]
async fn regression_keys_stored_raw_before_the_digest_migration_are_found_after_it() {
    let database = database().await;
    let store = replica(&database).await;
    // The state of a database written by an earlier release: raw keys, schema version 2.
    let client = store.statements().await.unwrap();
    client
        .execute(
            "INSERT INTO receiver.marks (key, created_at) VALUES ($1, 77)",
            &[&key("old").encode()],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO receiver.deliveries (key, expires_at) VALUES ($1, 500)",
            &[&behaviour::delivery("d-old").encode()],
        )
        .await
        .unwrap();
    client
        .batch_execute(
            "DROP INDEX receiver.marks_created_at;
             DELETE FROM receiver.schema_migrations WHERE version >= 3",
        )
        .await
        .unwrap();
    drop(client);
    let upgraded = replica(&database).await;
    assert_eq!(upgraded.mark(&key("old")).await.unwrap(), Some(at(77)));
    assert!(upgraded
        .is_handled(&behaviour::delivery("d-old"), secs(100))
        .await
        .unwrap());
}

/// Two steps of another crate's schema: a table, then a row in it.
const APP_STEPS: &[Migration] = &[
    Migration::new(
        1,
        "notes table",
        "CREATE TABLE receiver.app_notes (note text NOT NULL)",
    ),
    Migration::new(
        2,
        "first note",
        "INSERT INTO receiver.app_notes (note) VALUES ('hello')",
    ),
];

/// Another crate numbering its steps from 1 as well.
const OTHER_STEPS: &[Migration] = &[Migration::new(
    1,
    "other table",
    "CREATE TABLE receiver.other_things (thing text)",
)];

async fn registered(store: &PostgresStore) -> Vec<(String, i32, String)> {
    store
        .statements()
        .await
        .unwrap()
        .query(
            "SELECT namespace, version, name FROM receiver.registered_migrations
             ORDER BY namespace, version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

#[tokio::test]
async fn registered_migrations_run_once_each_recorded_under_their_namespace() {
    let database = database().await;
    let with_steps = || {
        options(&database)
            .migrations("test/app", APP_STEPS)
            .migrations("test/other", OTHER_STEPS)
    };
    let first = with_steps().connect().await.unwrap();
    let second = with_steps().connect().await.unwrap();
    let notes: i64 = second
        .statements()
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM receiver.app_notes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(notes, 1, "the second start found nothing left to do");
    let expected = [
        ("test/app", 1, "notes table"),
        ("test/app", 2, "first note"),
        ("test/other", 1, "other table"),
    ]
    .map(|(namespace, version, name)| (namespace.to_owned(), version, name.to_owned()));
    assert_eq!(registered(&first).await, expected);
}

#[tokio::test]
async fn a_failing_registered_step_fails_connect_and_leaves_nothing_half_applied() {
    const BROKEN: &[Migration] = &[
        Migration::new(1, "fine", "CREATE TABLE receiver.half (x int)"),
        Migration::new(2, "broken", "SELECT no_such_function()"),
    ];
    let database = database().await;
    let error = options(&database)
        .migrations("test/broken", BROKEN)
        .connect()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("test/broken 2 (broken)"),
        "{error}"
    );
    let store = replica(&database).await;
    assert_eq!(registered(&store).await, []);
    let half: Option<String> = store
        .statements()
        .await
        .unwrap()
        .query_one("SELECT to_regclass('receiver.half')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(half, None, "the whole migration rolled back");
}

#[tokio::test]
async fn the_store_alone_creates_no_table_of_the_reference_receiver() {
    let database = database().await;
    let store = replica(&database).await;
    let outbox: Option<String> = store
        .statements()
        .await
        .unwrap()
        .query_one("SELECT to_regclass('receiver.outbox')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        outbox, None,
        "the relay outbox is the receiver's own migration"
    );
}
