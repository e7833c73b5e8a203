//! Retries, backoff and per-entity order.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::support::*;

fn accepted(received: &[Received]) -> usize {
    received.iter().filter(|r| r.accepted()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_are_retried_until_every_event_arrives_once_in_entity_order() {
    const ENTITIES: usize = 20;
    const EVENTS: usize = 5;
    const FAILURES: usize = 2;
    let rig = Rig::start("", |_, attempt| {
        if attempt <= FAILURES {
            Reply::status(500).body("busy")
        } else {
            Reply::ok()
        }
    })
    .await;
    let senders: Vec<_> = (0..ENTITIES)
        .map(|entity| {
            let (client, base) = (rig.client.clone(), rig.receiver.base.clone());
            tokio::spawn(async move {
                for n in 0..EVENTS {
                    let status = send(&client, &base, &event(&format!("c{entity}"), n)).await;
                    assert_eq!(status.unwrap(), 200);
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    let total = ENTITIES * EVENTS;
    rig.until_delivered(total as u64).await;

    let received = rig.downstream.received();
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    let mut keys: BTreeMap<String, BTreeSet<Option<String>>> = BTreeMap::new();
    for r in &received {
        *accepted.entry(r.id().to_owned()).or_default() += usize::from(r.accepted());
        keys.entry(r.id().to_owned())
            .or_default()
            .insert(r.key.clone());
    }
    assert_eq!(accepted.len(), total);
    assert!(
        accepted.values().all(|&n| n == 1),
        "exactly once: {accepted:?}"
    );
    for (id, keys) in &keys {
        let expected = BTreeSet::from([Some(format!("orders:{id}"))]);
        assert_eq!(
            keys, &expected,
            "one Idempotency-Key for every attempt of {id}"
        );
    }
    assert_eq!(received.len(), total * (FAILURES + 1));
    assert_attempted_in_entity_order(&received, &[]);
    let stats = rig.stats().await;
    assert_eq!(stats["endpoint"], "orders");
    assert_eq!(
        (stats["pending"].as_u64(), stats["dead"].as_u64()),
        (Some(0), Some(0))
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_slow_entity_does_not_hold_back_the_others() {
    let rig = Rig::start("max_attempts = 1000", |body, _| {
        if body["entity"] == "stuck" {
            Reply::status(503)
        } else {
            Reply::ok()
        }
    })
    .await;
    rig.post("stuck", 0..3).await;
    rig.post("free", 0..3).await;
    rig.until_received("the free entity delivered", |r| accepted(r) == 3)
        .await;
    let received = rig.downstream.received();
    assert!(
        received
            .iter()
            .filter(|r| r.body["entity"] == "stuck")
            .all(|r| r.id() == "stuck-0"),
        "stuck-1 and stuck-2 wait behind stuck-0"
    );
    rig.stop().await;
}

#[tokio::test]
async fn retry_after_on_503_is_honoured() {
    let rig = Rig::start("backoff_max_secs = 5", |_, attempt| match attempt {
        1 => Reply::status(503).header("retry-after", "1"),
        _ => Reply::ok(),
    })
    .await;
    rig.post("a", 0..1).await;
    rig.until_received("the retry", |r| r.len() == 2).await;
    let received = rig.downstream.received();
    let gap = received[1].at - received[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "waited only {gap:?}, not the asked 1 s"
    );
    rig.stop().await;
}

#[tokio::test]
async fn an_event_out_of_attempts_becomes_a_dead_letter_and_its_entity_moves_on() {
    let rig = Rig::start("max_attempts = 3", |body, _| {
        if body["n"] == 0 {
            Reply::status(500).body(r#"{"message":"downstream is broken"}"#)
        } else {
            Reply::ok()
        }
    })
    .await;
    rig.post("a", 0..2).await;
    rig.until_received("a-1 delivered", |r| accepted(r) == 1)
        .await;
    let received = rig.downstream.received();
    let ids: Vec<_> = received.iter().map(Received::id).collect();
    assert_eq!(ids, ["a-0", "a-0", "a-0", "a-1"]);
    let dead = &rig.dead_letters().await[0];
    assert_eq!(dead["delivery"], "a-0");
    assert_eq!(dead["tries"], 3);
    assert_eq!(dead["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(
        dead["attempts"][2]["message"],
        "downstream answered 500: downstream is broken"
    );
    rig.stop().await;
}
