//! Retries, backoff and per-entity order.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use http::Method;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_are_retried_until_every_event_arrives_once_in_entity_order() {
    const ENTITIES: usize = 20;
    const EVENTS: usize = 5;
    const FAILURES: usize = 2;
    let dir = tempfile::tempdir().unwrap();
    let downstream = Downstream::start(|_, attempt| {
        if attempt <= FAILURES {
            Reply::status(500).body("busy")
        } else {
            Reply::ok()
        }
    })
    .await;
    let receiver = InProcess::start(&config(dir.path(), &downstream.url, "", &with_token())).await;
    let client = client();
    let senders: Vec<_> = (0..ENTITIES)
        .map(|entity| {
            let (client, base) = (client.clone(), receiver.base.clone());
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
    eventually(
        Duration::from_secs(20),
        "every event delivered",
        async || (downstream.accepted().len() >= total).then_some(()),
    )
    .await;

    let received = downstream.received();
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

    until_delivered(&client, &receiver.base, total as u64).await;
    let stats = stats(&client, &receiver.base).await;
    assert_eq!(stats["endpoint"], "orders");
    assert_eq!(
        (stats["pending"].as_u64(), stats["dead"].as_u64()),
        (Some(0), Some(0))
    );
    receiver.stop().await;
}

#[tokio::test]
async fn a_slow_entity_does_not_hold_back_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let downstream = Downstream::start(|body, _| {
        if body["entity"] == "stuck" {
            Reply::status(503)
        } else {
            Reply::ok()
        }
    })
    .await;
    let text = config(
        dir.path(),
        &downstream.url,
        "max_attempts = 1000",
        &with_token(),
    );
    let receiver = InProcess::start(&text).await;
    let client = client();
    for n in 0..3 {
        assert_eq!(
            send(&client, &receiver.base, &event("stuck", n))
                .await
                .unwrap(),
            200
        );
    }
    for n in 0..3 {
        assert_eq!(
            send(&client, &receiver.base, &event("free", n))
                .await
                .unwrap(),
            200
        );
    }
    eventually(
        Duration::from_secs(10),
        "the free entity delivered",
        async || (downstream.accepted().len() == 3).then_some(()),
    )
    .await;
    let received = downstream.received();
    assert!(
        received
            .iter()
            .filter(|r| r.body["entity"] == "stuck")
            .all(|r| r.id() == "stuck-0"),
        "stuck-1 and stuck-2 wait behind stuck-0"
    );
    receiver.stop().await;
}

#[tokio::test]
async fn retry_after_on_503_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let downstream = Downstream::start(|_, attempt| match attempt {
        1 => Reply::status(503).header("retry-after", "1"),
        _ => Reply::ok(),
    })
    .await;
    let text = config(dir.path(), &downstream.url, "", &with_token())
        .replace("backoff_max_secs = 1", "backoff_max_secs = 5");
    let receiver = InProcess::start(&text).await;
    let client = client();
    assert_eq!(
        send(&client, &receiver.base, &event("a", 0)).await.unwrap(),
        200
    );
    eventually(Duration::from_secs(10), "the retry", async || {
        (downstream.received().len() == 2).then_some(())
    })
    .await;
    let received = downstream.received();
    let gap = received[1].at - received[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "waited only {gap:?}, not the asked 1 s"
    );
    receiver.stop().await;
}

#[tokio::test]
async fn an_event_out_of_attempts_becomes_a_dead_letter_and_its_entity_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let downstream = Downstream::start(|body, _| {
        if body["n"] == 0 {
            Reply::status(500).body(r#"{"message":"downstream is broken"}"#)
        } else {
            Reply::ok()
        }
    })
    .await;
    let text = config(
        dir.path(),
        &downstream.url,
        "max_attempts = 3",
        &with_token(),
    );
    let receiver = InProcess::start(&text).await;
    let client = client();
    for n in 0..2 {
        assert_eq!(
            send(&client, &receiver.base, &event("a", n)).await.unwrap(),
            200
        );
    }
    eventually(Duration::from_secs(10), "a-1 delivered", async || {
        (downstream.accepted().len() == 1).then_some(())
    })
    .await;
    let received = downstream.received();
    let ids: Vec<_> = received.iter().map(Received::id).collect();
    assert_eq!(ids, ["a-0", "a-0", "a-0", "a-1"]);
    let (_, dead) = admin(
        &client,
        &receiver.base,
        Method::GET,
        "outbox/orders/events?state=dead",
    )
    .await;
    let dead = &dead["events"][0];
    assert_eq!(dead["delivery"], "a-0");
    assert_eq!(dead["tries"], 3);
    assert_eq!(dead["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(
        dead["attempts"][2]["message"],
        "downstream answered 500: downstream is broken"
    );
    receiver.stop().await;
}
