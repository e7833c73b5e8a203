//! Graceful shutdown and restart.

use std::time::{Duration, Instant};

use crate::support::*;

#[tokio::test]
async fn shutdown_lets_an_attempt_in_flight_finish_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let downstream = Downstream::start(|_, _| Reply::ok().after(Duration::from_millis(400))).await;
    let text = config(dir.path(), &downstream.url, "", &with_token());
    let receiver = InProcess::start(&text).await;
    let client = client();
    assert_eq!(
        send(&client, &receiver.base, &event("a", 0)).await.unwrap(),
        200
    );
    eventually(
        Duration::from_secs(5),
        "the attempt in flight",
        async || (!downstream.received().is_empty()).then_some(()),
    )
    .await;
    receiver.stop().await;

    let restarted = InProcess::start(&text).await;
    let stats = stats(&client, &restarted.base).await;
    assert_eq!(
        (stats["pending"].as_u64(), stats["delivered"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(downstream.received().len(), 1);
    restarted.stop().await;
}

#[tokio::test]
async fn an_attempt_that_outlives_the_shutdown_timeout_is_made_again_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let downstream = Downstream::start(|_, attempt| {
        let slow = if attempt == 1 { 3_000 } else { 0 };
        Reply::ok().after(Duration::from_millis(slow))
    })
    .await;
    let text = config(dir.path(), &downstream.url, "", &with_token())
        .replace("shutdown_timeout_secs = 5", "shutdown_timeout_secs = 1");
    let receiver = InProcess::start(&text).await;
    let client = client();
    assert_eq!(
        send(&client, &receiver.base, &event("a", 0)).await.unwrap(),
        200
    );
    eventually(
        Duration::from_secs(5),
        "the attempt in flight",
        async || (!downstream.received().is_empty()).then_some(()),
    )
    .await;
    let stopping = Instant::now();
    receiver.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_millis(2_500),
        "shutdown waited too long"
    );

    let restarted = InProcess::start(&text).await;
    eventually(Duration::from_secs(5), "the second attempt", async || {
        (downstream.received().len() == 2).then_some(())
    })
    .await;
    let received = downstream.received();
    assert_eq!(
        received[0].key, received[1].key,
        "the repeat carries the same key"
    );
    until_delivered(&client, &restarted.base, 1).await;
    restarted.stop().await;
}
