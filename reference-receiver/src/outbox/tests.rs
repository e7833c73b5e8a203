use super::*;

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

#[test]
fn ids_keep_rising_and_pending_events_come_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let ids = |outbox: &Outbox| -> Vec<u64> {
        let events = outbox.events(Shelf::Pending, 100).unwrap();
        events.iter().map(|e| e.id).collect()
    };
    let before = {
        let db = sled::open(dir.path()).unwrap();
        let outbox = Outbox::open(&db, "orders", relay()).unwrap();
        outbox.enqueue(event(Some("1"), b"{}")).unwrap();
        outbox.enqueue(event(None, b"{}")).unwrap();
        db.flush().unwrap();
        ids(&outbox)
    };
    let db = sled::open(dir.path()).unwrap();
    let outbox = Outbox::open(&db, "orders", relay()).unwrap();
    assert_eq!(
        outbox.stats().unwrap().pending,
        2,
        "the schedule is rebuilt"
    );
    outbox.enqueue(event(Some("1"), b"{}")).unwrap();
    let after = ids(&outbox);
    assert_eq!(after[..2], before[..]);
    assert!(after[2] > before[1], "{after:?} after {before:?}");
}

#[test]
fn a_failure_waits_a_failure_at_the_limit_or_a_refusal_is_dead() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let outbox = Outbox::open(&db, "orders", relay())
        .unwrap()
        .with_policy(Policy {
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
    };
    outbox.enqueue(event(Some("1"), b"{}")).unwrap();
    outbox.enqueue(event(Some("2"), b"{}")).unwrap();
    let first = outbox.take_due(Utc::now()).unwrap().unwrap();
    let second = outbox.take_due(Utc::now()).unwrap().unwrap();
    let (outcome, number) = outbox
        .finish(first.id, &first.lane, answer(Verdict::Failed))
        .unwrap();
    assert!(matches!(outcome, Outcome::Retry(_)) && number == 1);
    let far = Utc::now() + chrono::Duration::hours(1);
    let again = outbox.take_due(far).unwrap().unwrap();
    assert_eq!(again.id, first.id);
    let (outcome, number) = outbox
        .finish(again.id, &again.lane, answer(Verdict::Failed))
        .unwrap();
    assert_eq!((outcome, number), (Outcome::Dead, 2));
    let (outcome, _) = outbox
        .finish(second.id, &second.lane, answer(Verdict::Refused))
        .unwrap();
    assert_eq!(outcome, Outcome::Dead);
    let stats = outbox.stats().unwrap();
    assert_eq!((stats.pending, stats.dead), (0, 2));
    assert_eq!(outbox.retry_all_dead().unwrap(), 2);
    assert_eq!(outbox.stats().unwrap().pending, 2);
    assert_eq!(outbox.events(Shelf::Pending, 10).unwrap()[0].tries, 0);
}
