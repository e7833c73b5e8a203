//! Graceful shutdown and restart.

use std::time::{Duration, Instant};

use super::support::*;

#[tokio::test]
async fn shutdown_lets_an_attempt_in_flight_finish_and_records_it() {
    let rig = Rig::start("", |_, _| Reply::ok().after(Duration::from_millis(400))).await;
    rig.post("a", 0..1).await;
    rig.until_received("the attempt in flight", |r| !r.is_empty())
        .await;
    let rig = rig.restart().await;
    let stats = rig.stats().await;
    assert_eq!(
        (stats["pending"].as_u64(), stats["delivered"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(rig.downstream.received().len(), 1);
    rig.stop().await;
}

#[tokio::test]
async fn an_attempt_that_outlives_the_shutdown_timeout_is_made_again_after_restart() {
    let short_grace =
        |text: String| text.replace("shutdown_timeout_secs = 5", "shutdown_timeout_secs = 1");
    let rig = Rig::start_with("", short_grace, |_, attempt| {
        let slow = if attempt == 1 { 3_000 } else { 0 };
        Reply::ok().after(Duration::from_millis(slow))
    })
    .await;
    rig.post("a", 0..1).await;
    rig.until_received("the attempt in flight", |r| !r.is_empty())
        .await;
    let stopping = Instant::now();
    let rig = rig.restart().await;
    assert!(
        stopping.elapsed() < Duration::from_millis(2_500),
        "shutdown waited too long"
    );
    rig.until_received("the second attempt", |r| r.len() == 2)
        .await;
    let received = rig.downstream.received();
    assert_eq!(
        received[0].key, received[1].key,
        "the repeat carries the same key"
    );
    rig.until_delivered(1).await;
    rig.stop().await;
}
