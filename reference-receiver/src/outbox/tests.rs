use super::*;
use crate::relay::Verdict;

fn relay() -> Arc<Relay> {
    let text = "[[endpoint]]\nname = \"orders\"\npath = \"/orders\"\n\
                [endpoint.relay]\nmode = \"queued\"\nurl = \"http://127.0.0.1:9/x\"";
    let config = crate::config::from_parts(Some(("test.toml", text)), vec![], |_| None).unwrap();
    let relay_config = config.endpoints[0].relay.as_ref().unwrap();
    Arc::new(Relay::new("orders", relay_config, reqwest::Client::new()).unwrap())
}

fn event(entity: Option<&str>, payload: &[u8]) -> RelayEvent {
    RelayEvent {
        event: "contact.updated".into(),
        entity: entity.map(str::to_owned),
        entity_type: Some("contact".into()),
        created_at: None,
        delivery: None,
        payload: payload.to_vec(),
    }
}

#[test]
fn records_keep_the_payload_bytes_as_they_came() {
    let now = Utc::now();
    let mut record = Record {
        event: event(Some("7"), b"\xff\x00not json"),
        idempotency_key: "orders:sha256:00".into(),
        enqueued_at: now,
        next_attempt_at: now,
        tries: 2,
        attempts: Vec::new(),
        finished_at: None,
    };
    let bytes = record.encode().unwrap();
    assert!(bytes.ends_with(b"\xff\x00not json"));
    let decoded = Record::decode(&bytes).unwrap();
    assert_eq!(decoded.event, record.event);
    assert_eq!(decoded.tries, 2);
    assert!(Record::decode(&bytes[..3]).is_err());
    assert!(Record::decode(&bytes[..10]).is_err());
}

async fn pending_ids(outbox: &Outbox) -> Vec<u64> {
    let events = outbox.events(Shelf::Pending, 100).await.unwrap();
    events.iter().map(|e| e.id).collect()
}

#[tokio::test]
async fn ids_keep_rising_and_pending_events_come_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let db = ::sled::open(dir.path()).unwrap();
        let outbox = Outbox::sled(&db, "orders", relay()).unwrap();
        outbox.enqueue(event(Some("1"), b"{}")).await.unwrap();
        outbox.enqueue(event(None, b"{}")).await.unwrap();
        db.flush().unwrap();
        pending_ids(&outbox).await
    };
    let db = ::sled::open(dir.path()).unwrap();
    let outbox = Outbox::sled(&db, "orders", relay()).unwrap();
    assert_eq!(
        outbox.stats().await.unwrap().pending,
        2,
        "the schedule is rebuilt"
    );
    outbox.enqueue(event(Some("1"), b"{}")).await.unwrap();
    let after = pending_ids(&outbox).await;
    assert_eq!(after[..2], before[..]);
    assert!(after[2] > before[1], "{after:?} after {before:?}");
}

/// The same on every backend: retry, dead at the limit or on a refusal, sent back.
async fn a_failure_waits_a_failure_at_the_limit_or_a_refusal_is_dead(outbox: Outbox) {
    let outbox = outbox.with_policy(Policy {
        max_attempts: 2,
        ..Policy::default()
    });
    let answer = |verdict| Attempt {
        at: Utc::now(),
        duration_ms: 1,
        verdict,
        status: Some(500),
        headers: Vec::new(),
        body_excerpt: String::new(),
        message: String::new(),
        timed_out: false,
    };
    outbox.enqueue(event(Some("1"), b"{}")).await.unwrap();
    outbox.enqueue(event(Some("2"), b"{}")).await.unwrap();
    let first = outbox.take_due(Utc::now()).await.unwrap().unwrap();
    let second = outbox.take_due(Utc::now()).await.unwrap().unwrap();
    let (outcome, number) = outbox
        .finish(first.id, &first.lane, answer(Verdict::Failed))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Retry(_)) && number == 1);
    let far = Utc::now() + chrono::Duration::hours(1);
    let again = outbox.take_due(far).await.unwrap().unwrap();
    assert_eq!(again.id, first.id);
    let (outcome, number) = outbox
        .finish(again.id, &again.lane, answer(Verdict::Failed))
        .await
        .unwrap();
    assert_eq!((outcome, number), (Outcome::Dead, 2));
    let (outcome, _) = outbox
        .finish(second.id, &second.lane, answer(Verdict::Refused))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Dead);
    let stats = outbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead), (0, 2));
    let dead = outbox.events(Shelf::Dead, 10).await.unwrap();
    assert_eq!(dead[0].attempts.len(), 2, "every attempt is recorded");
    assert_eq!(outbox.retry_all_dead().await.unwrap(), 2);
    assert_eq!(outbox.stats().await.unwrap().pending, 2);
    assert_eq!(outbox.events(Shelf::Pending, 10).await.unwrap()[0].tries, 0);
}

/// The same on every backend: at `max_pending` nothing more is stored, and a slot frees up
/// once an event is done.
async fn a_full_outbox_refuses_and_stores_nothing(outbox: Outbox) {
    let outbox = outbox.with_policy(Policy {
        max_pending: 2,
        ..Policy::default()
    });
    outbox.enqueue(event(Some("1"), b"{}")).await.unwrap();
    outbox.enqueue(event(Some("2"), b"{}")).await.unwrap();
    let full = outbox.enqueue(event(Some("3"), b"{}")).await.unwrap_err();
    assert!(matches!(full, EnqueueError::Full { limit: 2 }), "{full:?}");
    assert_eq!(full.answer().status(), 503);
    let stats = outbox.stats().await.unwrap();
    assert_eq!(stats.pending, 2, "the refused event was not stored");
    assert_eq!(outbox.events(Shelf::Pending, 10).await.unwrap().len(), 2);
    let job = outbox.take_due(Utc::now()).await.unwrap().unwrap();
    let refused = outbox.enqueue(event(Some("3"), b"{}")).await;
    assert!(refused.is_err(), "an event in flight still counts");
    let delivered = Attempt::unanswered(Utc::now(), 1, Verdict::Delivered, String::new());
    outbox.finish(job.id, &job.lane, delivered).await.unwrap();
    outbox.enqueue(event(Some("3"), b"{}")).await.unwrap();
}

/// The same on every backend: dead letters beyond `max_dead` go, the oldest first.
async fn dead_letters_beyond_max_dead_are_removed_oldest_first(outbox: Outbox) {
    let outbox = outbox.with_policy(Policy {
        max_dead: 2,
        ..Policy::default()
    });
    let mut ids = Vec::new();
    for entity in ["1", "2", "3"] {
        outbox.enqueue(event(Some(entity), b"{}")).await.unwrap();
        let job = outbox.take_due(Utc::now()).await.unwrap().unwrap();
        let refused = Attempt::unanswered(Utc::now(), 1, Verdict::Refused, String::new());
        let (outcome, _) = outbox.finish(job.id, &job.lane, refused).await.unwrap();
        assert_eq!(outcome, Outcome::Dead);
        ids.push(job.id);
    }
    assert_eq!(outbox.stats().await.unwrap().dead, 2);
    let dead: Vec<u64> = outbox
        .events(Shelf::Dead, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(dead, ids[1..]);
}

#[tokio::test]
async fn regression_sled_outbox_is_bounded_in_pending_and_dead_letters() {
    let db = ::sled::Config::new().temporary(true).open().unwrap();
    a_full_outbox_refuses_and_stores_nothing(Outbox::sled(&db, "a", relay()).unwrap()).await;
    dead_letters_beyond_max_dead_are_removed_oldest_first(Outbox::sled(&db, "b", relay()).unwrap())
        .await;
}

#[tokio::test]
async fn regression_postgres_outbox_is_bounded_in_pending_and_dead_letters() {
    let (_database, store) = database().await;
    let claim = Duration::from_secs(60);
    a_full_outbox_refuses_and_stores_nothing(postgres_outbox(&store, claim)).await;
    let other = Outbox::postgres(store.pool().clone(), "dead", relay(), claim);
    dead_letters_beyond_max_dead_are_removed_oldest_first(other).await;
}

#[tokio::test]
async fn sled_outbox_retries_and_keeps_dead_letters() {
    let db = ::sled::Config::new().temporary(true).open().unwrap();
    let outbox = Outbox::sled(&db, "orders", relay()).unwrap();
    a_failure_waits_a_failure_at_the_limit_or_a_refusal_is_dead(outbox).await;
}

/// A scratch database with the schema (dropped with the first value), and its store.
async fn database() -> (
    receiver_sdk::store::ScratchDatabase,
    receiver_sdk::store::PostgresStore,
) {
    let database = receiver_sdk::store::ScratchDatabase::create()
        .await
        .unwrap();
    let store = receiver_sdk::store::PostgresStore::builder(database.url())
        .unwrap()
        .migrations(MIGRATION_NAMESPACE, MIGRATIONS)
        .connect()
        .await
        .unwrap();
    (database, store)
}

/// The `orders` outbox in `store`'s database, as one replica opens it.
fn postgres_outbox(store: &receiver_sdk::store::PostgresStore, claim_for: Duration) -> Outbox {
    Outbox::postgres(store.pool().clone(), "orders", relay(), claim_for)
}

#[tokio::test]
async fn postgres_outbox_retries_and_keeps_dead_letters() {
    let (_database, store) = database().await;
    // Claims outlast the test's jump of an hour ahead, as a live worker's would.
    let outbox = postgres_outbox(&store, Duration::from_secs(2 * 3600));
    a_failure_waits_a_failure_at_the_limit_or_a_refusal_is_dead(outbox).await;
}

#[tokio::test]
async fn postgres_outbox_gives_out_one_event_per_entity_at_a_time_across_replicas() {
    let (_database, store) = database().await;
    let claim = Duration::from_secs(60);
    let (one, two) = (
        postgres_outbox(&store, claim),
        postgres_outbox(&store, claim),
    );
    for entity in ["a", "b", "a"] {
        one.enqueue(event(Some(entity), b"{}")).await.unwrap();
    }
    let now = Utc::now();
    let first = one.take_due(now).await.unwrap().unwrap();
    let second = two.take_due(now).await.unwrap().unwrap();
    assert_eq!(first.event.entity.as_deref(), Some("a"));
    assert_eq!(second.event.entity.as_deref(), Some("b"));
    assert!(
        two.take_due(now).await.unwrap().is_none(),
        "a's second event waits for its first"
    );
    let delivered = Attempt::unanswered(now, 1, Verdict::Delivered, String::new());
    assert!(
        two.finish(first.id, &first.lane, delivered.clone())
            .await
            .is_err(),
        "only the claiming replica records the result"
    );
    one.finish(first.id, &first.lane, delivered).await.unwrap();
    let third = two.take_due(Utc::now()).await.unwrap().unwrap();
    assert_eq!(third.event.entity.as_deref(), Some("a"));
    assert!(third.id > first.id);
}

/// A clock the test moves by hand.
#[derive(Debug)]
struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

#[tokio::test]
async fn a_failed_attempt_is_retried_exactly_at_its_backoff_instant_and_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let db = ::sled::open(dir.path()).unwrap();
    // Far from the wall clock, so anything read from it instead would show.
    let start = DateTime::from_timestamp(2_000_000_000, 0).unwrap();
    let clock = Arc::new(ManualClock(std::sync::Mutex::new(start)));
    let outbox = Outbox::sled(&db, "orders", relay())
        .unwrap()
        .with_clock(Arc::clone(&clock) as Arc<dyn Clock>);
    outbox.enqueue(event(Some("1"), b"{}")).await.unwrap();
    let job = outbox.take_due(clock.now()).await.unwrap().unwrap();
    let attempted = start + chrono::Duration::milliseconds(250);
    clock.set(attempted);
    let busy = Attempt {
        at: attempted,
        duration_ms: 1,
        verdict: Verdict::Failed,
        status: Some(503),
        headers: vec![("retry-after".into(), "7".into())],
        body_excerpt: String::new(),
        message: String::new(),
        timed_out: false,
    };
    let (outcome, tries) = outbox.finish(job.id, &job.lane, busy).await.unwrap();
    let due = attempted + chrono::Duration::seconds(7);
    assert_eq!((outcome, tries), (Outcome::Retry(due), 1));
    let view = outbox.event(job.id).await.unwrap().unwrap();
    assert_eq!(view.enqueued_at, start);
    assert_eq!(view.next_attempt_at, Some(due));
    assert_eq!(outbox.next_due().await, Some(due));

    clock.set(due - chrono::Duration::milliseconds(1));
    assert!(
        outbox.take_due(clock.now()).await.unwrap().is_none(),
        "not a millisecond before the backoff instant"
    );
    clock.set(due);
    let again = outbox.take_due(clock.now()).await.unwrap().unwrap();
    assert_eq!(again.id, job.id);
}
