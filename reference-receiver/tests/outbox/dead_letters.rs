//! Refusals, dead letters and sending them back through the admin API.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::Method;

use crate::support::*;

#[tokio::test]
async fn a_refused_event_is_a_dead_letter_its_entity_moves_on_and_a_retry_delivers_it() {
    let dir = tempfile::tempdir().unwrap();
    let fixed = Arc::new(AtomicBool::new(false));
    let downstream = {
        let fixed = Arc::clone(&fixed);
        Downstream::start(move |body, _| {
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
    let receiver = InProcess::start(&config(dir.path(), &downstream.url, "", &with_token())).await;
    let client = client();
    for n in 0..3 {
        assert_eq!(
            send(&client, &receiver.base, &event("c7", n))
                .await
                .unwrap(),
            200
        );
    }
    eventually(
        Duration::from_secs(10),
        "c7-0 and c7-2 delivered",
        async || (downstream.accepted().len() == 2).then_some(()),
    )
    .await;
    let received = downstream.received();
    let ids: Vec<_> = received.iter().map(Received::id).collect();
    assert_eq!(ids, ["c7-0", "c7-1", "c7-2"], "a refusal is not retried");
    assert_attempted_in_entity_order(&received, &["c7-1"]);

    let stats_now = stats(&client, &receiver.base).await;
    assert_eq!(
        (stats_now["dead"].as_u64(), stats_now["pending"].as_u64()),
        (Some(1), Some(0))
    );

    let (status, dead) = admin(
        &client,
        &receiver.base,
        Method::GET,
        "outbox/orders/events?state=dead",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(dead["state"], "dead");
    let events = dead["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    let letter = &events[0];
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
        headers.contains(&serde_json::json!(["x-request-id", "req-42"])),
        "{headers:?}"
    );

    let id = letter["id"].as_u64().unwrap();
    let (status, one) = admin(
        &client,
        &receiver.base,
        Method::GET,
        &format!("outbox/orders/events/{id}"),
    )
    .await;
    assert_eq!((status, &one), (200, letter));

    fixed.store(true, Ordering::SeqCst);
    let (status, retried) = admin(
        &client,
        &receiver.base,
        Method::POST,
        &format!("outbox/orders/dead/{id}/retry"),
    )
    .await;
    assert_eq!(status, 200, "{retried}");
    assert!(matches!(
        retried["state"].as_str(),
        Some("pending" | "in_flight")
    ));
    // The downstream notes the request as it answers; the receiver records it just after.
    let delivered = eventually(
        Duration::from_secs(10),
        "the retried event delivered",
        async || {
            let path = format!("outbox/orders/events/{id}");
            let (_, event) = admin(&client, &receiver.base, Method::GET, &path).await;
            (event["state"] == "delivered").then_some(event)
        },
    )
    .await;
    assert_eq!(downstream.accepted().len(), 3);
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
    let stats_now = stats(&client, &receiver.base).await;
    assert_eq!(
        (stats_now["dead"].as_u64(), stats_now["delivered"].as_u64()),
        (Some(0), Some(3))
    );

    let (status, again) = admin(
        &client,
        &receiver.base,
        Method::POST,
        &format!("outbox/orders/dead/{id}/retry"),
    )
    .await;
    assert_eq!(status, 409, "only dead letters are sent back: {again}");
    receiver.stop().await;
}

#[tokio::test]
async fn dead_letters_are_retried_in_bulk_and_purged() {
    let dir = tempfile::tempdir().unwrap();
    let downstream = Downstream::start(|_, _| Reply::status(400).body("no")).await;
    let receiver = InProcess::start(&config(dir.path(), &downstream.url, "", &with_token())).await;
    let client = client();
    for entity in ["a", "b", "c"] {
        assert_eq!(
            send(&client, &receiver.base, &event(entity, 0))
                .await
                .unwrap(),
            200
        );
    }
    let dead_count = async || stats(&client, &receiver.base).await["dead"].as_u64();
    eventually(Duration::from_secs(10), "three dead letters", async || {
        (dead_count().await == Some(3)).then_some(())
    })
    .await;

    downstream.answer(|_, _| Reply::ok());
    let (status, retried) = admin(
        &client,
        &receiver.base,
        Method::POST,
        "outbox/orders/dead/retry",
    )
    .await;
    assert_eq!((status, &retried["retried"]), (200, &serde_json::json!(3)));
    until_delivered(&client, &receiver.base, 3).await;

    downstream.answer(|_, _| Reply::status(404));
    assert_eq!(
        send(&client, &receiver.base, &event("d", 0)).await.unwrap(),
        200
    );
    eventually(Duration::from_secs(10), "a new dead letter", async || {
        (dead_count().await == Some(1)).then_some(())
    })
    .await;
    let (status, purged) = admin(
        &client,
        &receiver.base,
        Method::DELETE,
        "outbox/orders/dead",
    )
    .await;
    assert_eq!((status, &purged["purged"]), (200, &serde_json::json!(1)));
    let (status, purged) = admin(
        &client,
        &receiver.base,
        Method::DELETE,
        "outbox/orders/delivered",
    )
    .await;
    assert_eq!((status, &purged["purged"]), (200, &serde_json::json!(3)));
    let stats = stats(&client, &receiver.base).await;
    assert_eq!(
        (stats["dead"].as_u64(), stats["delivered"].as_u64()),
        (Some(0), Some(0))
    );
    receiver.stop().await;
}
