//! `kill -9` of the real binary while events are pending and a sender is posting.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Method;

use super::support::*;

#[derive(Default)]
struct Tally {
    sent: Vec<String>,
    acknowledged: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_kill_9_every_acknowledged_event_is_delivered_in_entity_order() {
    const ENTITIES: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    // Every event fails once, so there is always something pending.
    let downstream = Downstream::start(|_, attempt| {
        if attempt == 1 {
            Reply::status(500)
        } else {
            Reply::ok()
        }
    })
    .await;
    let relay_auth = "backoff_initial_ms = 100\n[endpoint.relay.auth]\nkind = \"bearer\"\ntoken = \"downstream-secret\"";
    let text = config(
        &dir.path().join("data"),
        &downstream.url,
        relay_auth,
        &with_token(),
    );
    let file = dir.path().join("receiver.toml");
    std::fs::write(&file, text).unwrap();

    let first = Process::start(&file);
    let base = Arc::new(Mutex::new(first.base.clone()));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let posting = Arc::new(AtomicBool::new(true));
    let client = client();
    let senders: Vec<_> = (0..ENTITIES)
        .map(|entity| {
            let (client, base, tally, posting) = (
                client.clone(),
                Arc::clone(&base),
                Arc::clone(&tally),
                Arc::clone(&posting),
            );
            tokio::spawn(async move {
                let mut n = 0;
                while posting.load(Ordering::SeqCst) {
                    let body = event(&format!("e{entity}"), n);
                    let id = body["id"].as_str().unwrap().to_owned();
                    tally.lock().unwrap().sent.push(id.clone());
                    let url = base.lock().unwrap().clone();
                    match send(&client, &url, &body).await {
                        Ok(200) => tally.lock().unwrap().acknowledged.push(id),
                        // The receiver is down: this event is lost to the sender, go on.
                        _ => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                    n += 1;
                }
            })
        })
        .collect();
    let acknowledged = || tally.lock().unwrap().acknowledged.len();
    eventually(
        Duration::from_secs(20),
        "200 acknowledged events",
        async || (acknowledged() >= 200).then_some(()),
    )
    .await;
    let (_, overview) = admin(&client, &first.base, Method::GET, "outbox").await;
    let pending_at_kill = overview["outboxes"][0]["pending"].as_u64().unwrap();
    assert!(
        pending_at_kill > 0,
        "events are pending when the receiver dies"
    );
    let first_log = first.kill();
    let acknowledged_at_kill = acknowledged();

    let second = Process::start(&file);
    *base.lock().unwrap() = second.base.clone();
    eventually(
        Duration::from_secs(20),
        "the sender getting through again",
        async || (acknowledged() >= acknowledged_at_kill + 100).then_some(()),
    )
    .await;
    posting.store(false, Ordering::SeqCst);
    for sender in senders {
        sender.await.unwrap();
    }

    let acked: BTreeSet<String> = tally.lock().unwrap().acknowledged.iter().cloned().collect();
    let delivered = eventually(
        Duration::from_secs(60),
        "every acknowledged event delivered",
        async || {
            let delivered: BTreeSet<String> = downstream
                .accepted()
                .iter()
                .map(|r| r.id().to_owned())
                .collect();
            acked.is_subset(&delivered).then_some(delivered)
        },
    )
    .await;
    let sent = tally.lock().unwrap().sent.len();
    let lost = acked.difference(&delivered).count();
    let accepted = downstream.accepted().len();
    eprintln!(
        "kill -9: sent {sent}, acknowledged {}, delivered {}, lost {lost}; pending at the kill \
         {pending_at_kill}, delivered again after the restart {}",
        acked.len(),
        delivered.len(),
        accepted - delivered.len(),
    );
    assert_eq!(lost, 0);
    assert!(delivered.len() <= sent);

    let received = downstream.received();
    for (entity, order) in first_acceptances(&received) {
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{entity} out of order: {order:?}"
        );
    }
    let mut keys: HashMap<&str, BTreeSet<&Option<String>>> = HashMap::new();
    for r in &received {
        keys.entry(r.id()).or_default().insert(&r.key);
    }
    assert!(
        keys.values().all(|k| k.len() == 1),
        "one Idempotency-Key per event"
    );
    assert!(received
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer downstream-secret")));
    let logs = first_log + &second.log();
    assert!(
        logs.contains("relay attempt failed; will retry"),
        "attempts are logged"
    );
    assert!(
        !logs.contains("downstream-secret") && !logs.contains(TOKEN),
        "no secret is logged"
    );
}
