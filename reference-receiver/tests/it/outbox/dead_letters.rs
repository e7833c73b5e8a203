//! Refusals, dead letters and sending them back through the admin API.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn a_refused_event_is_a_dead_letter_its_entity_moves_on_and_a_retry_delivers_it() {
    let fixed = Arc::new(AtomicBool::new(false));
    let rig = {
        let fixed = Arc::clone(&fixed);
        Rig::start("", move |body, _| {
            if body["id"] == "c7-1" && !fixed.load(Ordering::SeqCst) {
                Reply::status(422)
                    .header("content-type", "application/json")
                    .header("x-request-id", "req-42")
                    .body(r#"{"message":"account 7 is closed"}"#)
            } else {
                Reply::ok()
            }
        })
        .await
    };
    rig.post("c7", 0..3).await;
    rig.until_delivered(2).await;
    let received = rig.downstream.received();
    let ids: Vec<_> = received.iter().map(Received::id).collect();
    assert_eq!(ids, ["c7-0", "c7-1", "c7-2"], "a refusal is not retried");
    assert_attempted_in_entity_order(&received, &["c7-1"]);
    let stats = rig.stats().await;
    assert_eq!(
        (stats["dead"].as_u64(), stats["pending"].as_u64()),
        (Some(1), Some(0))
    );

    let metrics = rig
        .client
        .get(format!("{}/metrics", rig.receiver.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"outbox_dead{endpoint="orders"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("relay_attempts_total{endpoint=\"orders\",verdict=\"refused\"}"));

    let dead = rig.dead_letters().await;
    assert_eq!(dead.len(), 1);
    let letter = &dead[0];
    assert_eq!(letter["state"], "dead");
    assert_eq!(letter["delivery"], "c7-1");
    assert_eq!(letter["entity"], "c7");
    assert_eq!(letter["idempotency_key"], "orders:c7-1");
    assert_eq!(letter["payload"], event("c7", 1), "the payload as it came");
    let attempt = &letter["attempts"][0];
    assert_eq!(attempt["verdict"], "refused");
    assert_eq!(attempt["status"], 422);
    assert_eq!(
        attempt["message"],
        "downstream answered 422: account 7 is closed"
    );
    assert_eq!(
        attempt["body_excerpt"],
        r#"{"message":"account 7 is closed"}"#
    );
    let headers = attempt["headers"].as_array().unwrap();
    assert!(
        headers.contains(&json!(["x-request-id", "req-42"])),
        "{headers:?}"
    );

    let id = letter["id"].as_u64().unwrap();
    let event_path = format!("outbox/orders/events/{id}");
    let (status, one) = rig.admin(Method::GET, &event_path).await;
    assert_eq!((status, &one), (200, letter));

    fixed.store(true, Ordering::SeqCst);
    let retry_path = format!("outbox/orders/dead/{id}/retry");
    let (status, retried) = rig.admin(Method::POST, &retry_path).await;
    assert_eq!(status, 200, "{retried}");
    assert!(matches!(
        retried["state"].as_str(),
        Some("pending" | "in_flight")
    ));
    rig.until_delivered(3).await;
    let (_, delivered) = rig.admin(Method::GET, &event_path).await;
    assert_eq!(delivered["state"], "delivered");
    let verdicts: Vec<_> = delivered["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        ["refused", "delivered"],
        "the whole history is kept"
    );
    assert_eq!(rig.downstream.accepted().len(), 3);
    assert_eq!(rig.stats().await["dead"], 0);

    let (status, again) = rig.admin(Method::POST, &retry_path).await;
    assert_eq!(status, 409, "only dead letters are sent back: {again}");
    rig.stop().await;
}

#[tokio::test]
async fn dead_letters_are_retried_in_bulk_and_purged() {
    let rig = Rig::start("", |_, _| Reply::status(400).body("no")).await;
    for entity in ["a", "b", "c"] {
        rig.post(entity, 0..1).await;
    }
    let dead_count = async |n: u64| {
        eventually(
            Duration::from_secs(10),
            &format!("{n} dead letters"),
            async || (rig.stats().await["dead"].as_u64() == Some(n)).then_some(()),
        )
        .await
    };
    dead_count(3).await;

    rig.downstream.answer(|_, _| Reply::ok());
    let (status, retried) = rig.admin(Method::POST, "outbox/orders/dead/retry").await;
    assert_eq!((status, &retried["retried"]), (200, &json!(3)));
    rig.until_delivered(3).await;

    rig.downstream.answer(|_, _| Reply::status(404));
    rig.post("d", 0..1).await;
    dead_count(1).await;
    let (status, purged) = rig.admin(Method::DELETE, "outbox/orders/dead").await;
    assert_eq!((status, &purged["purged"]), (200, &json!(1)));
    let (status, purged) = rig.admin(Method::DELETE, "outbox/orders/delivered").await;
    assert_eq!((status, &purged["purged"]), (200, &json!(3)));
    let stats = rig.stats().await;
    assert_eq!(
        (stats["dead"].as_u64(), stats["delivered"].as_u64()),
        (Some(0), Some(0))
    );
    rig.stop().await;
}
