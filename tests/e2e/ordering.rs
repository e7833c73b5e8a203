//! The ordering guard over real HTTP and a real sled directory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use end_to_end::{client, sonar_body, Recorder, Server};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::{Delivery, HandlerError, Receiver};

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2021, 5, 25, 20, 48, 40).unwrap()
}

fn at(second: i64) -> String {
    (base() + ChronoDuration::seconds(second)).to_rfc3339()
}

/// A deterministic shuffle (xorshift), so a failure replays the same order.
fn shuffled<T>(mut items: Vec<T>, mut seed: u64) -> Vec<T> {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    items
}

async fn post(server: &Server, body: String) -> (u16, String) {
    let response = client()
        .post(server.url("/webhook"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let outcome = response.headers()["x-webhook-outcome"]
        .to_str()
        .unwrap()
        .to_owned();
    (response.status().as_u16(), outcome)
}

async fn sled_sonar(dir: &std::path::Path, recorder: &Recorder) -> Server {
    let receiver = Receiver::builder("sonar")
        .envelope(Envelope::Sonar)
        .store(receiver_sdk::store::SledStore::open(dir).unwrap())
        .handler(recorder.handler())
        .build()
        .unwrap();
    Server::start(Router::new().route_service("/webhook", receiver)).await
}

#[tokio::test]
async fn shuffled_events_reach_the_handler_only_when_newer_and_this_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let server = sled_sonar(dir.path(), &recorder).await;

    let events: Vec<i64> = shuffled((0..40).collect(), 0x9e37_79b9_7f4a_7c15);
    let mut newest_so_far = -1;
    for &second in &events {
        let (status, outcome) = post(
            &server,
            sonar_body("account.status", 7, &at(second), &format!("s{second}")),
        )
        .await;
        assert_eq!(status, 200, "stale or not, Sonar must get exactly 200");
        if second > newest_so_far {
            assert_eq!(outcome, "handled", "event {second}");
            newest_so_far = second;
        } else {
            assert_eq!(outcome, "stale", "event {second}");
        }
    }
    let applied = recorder.applied();
    let times: Vec<_> = applied
        .iter()
        .map(|a| a.created_at.clone().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "the handler saw only ever-newer events");
    assert_eq!(
        times.last(),
        Some(&at(39)),
        "final state is the newest event"
    );
    server.stop().await;

    // Reopen the same directory: the mark is still there.
    let reopened = Recorder::new();
    let server = sled_sonar(dir.path(), &reopened).await;
    let (status, outcome) = post(&server, sonar_body("account.status", 7, &at(38), "x")).await;
    assert_eq!((status, outcome.as_str()), (200, "stale"));
    let (_, outcome) = post(&server, sonar_body("account.status", 7, &at(40), "y")).await;
    assert_eq!(outcome, "handled");
    assert_eq!(reopened.applied().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn marks_are_per_event_type_and_entity_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let server = sled_sonar(dir.path(), &recorder).await;
    assert_eq!(
        post(&server, sonar_body("account.status", 1, &at(10), "a"))
            .await
            .1,
        "handled"
    );
    // Older, but another entity, and another event type of the same entity: both fresh.
    assert_eq!(
        post(&server, sonar_body("account.status", 2, &at(5), "a"))
            .await
            .1,
        "handled"
    );
    assert_eq!(
        post(&server, sonar_body("account.service.add", 1, &at(5), "a"))
            .await
            .1,
        "handled"
    );
    assert_eq!(
        post(&server, sonar_body("account.status", 1, &at(5), "b"))
            .await
            .1,
        "stale"
    );
    server.stop().await;
}

#[tokio::test]
async fn per_entity_ordering_spans_event_types() {
    let recorder = Recorder::new();
    let receiver = Receiver::builder("entity")
        .ordering(receiver_sdk::ordering::OrderingScope::PerEntity)
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    assert_eq!(
        post(&server, sonar_body("account.status", 1, &at(10), "a"))
            .await
            .1,
        "handled"
    );
    assert_eq!(
        post(&server, sonar_body("account.service.add", 1, &at(5), "a"))
            .await
            .1,
        "stale"
    );
}

#[tokio::test]
async fn a_failed_handler_does_not_advance_the_mark_so_the_retry_is_handled() {
    let recorder = Recorder::new();
    let failures = Arc::new(Mutex::new(1));
    let receiver = Receiver::builder("flaky")
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(recorder.handler_with(move |_| {
            let failures = Arc::clone(&failures);
            async move {
                let mut left = failures.lock().unwrap();
                if *left > 0 {
                    *left -= 1;
                    return Err(HandlerError::unavailable("downstream is down"));
                }
                Ok(())
            }
        }))
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let body = sonar_body("account.status", 3, &at(1), "active");
    assert_eq!(post(&server, body.clone()).await, (503, "rejected".into()));
    assert_eq!(post(&server, body).await, (200, "handled".into()));
    assert_eq!(recorder.applied().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_for_one_key_never_let_an_older_event_overwrite_a_newer_one() {
    // The downstream: one account whose state must only ever move forward in time.
    let state: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let regressions = Arc::new(Mutex::new(Vec::new()));
    let (downstream, broken) = (Arc::clone(&state), Arc::clone(&regressions));
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::builder("race")
        .store(receiver_sdk::store::SledStore::open(dir.path()).unwrap())
        .handler(move |delivery: Delivery| {
            let (state, broken) = (Arc::clone(&downstream), Arc::clone(&broken));
            async move {
                let entity = delivery.event.entity_id.clone().unwrap_or_default();
                let created = delivery.event.created_at.unwrap().to_rfc3339();
                // Yield mid-update, as a real downstream call would.
                tokio::task::yield_now().await;
                let mut state = state.lock().unwrap();
                if let Some(previous) = state.get(&entity) {
                    if *previous > created {
                        broken
                            .lock()
                            .unwrap()
                            .push((previous.clone(), created.clone()));
                    }
                }
                state.insert(entity, created);
                Ok::<(), HandlerError>(())
            }
        })
        .build()
        .unwrap();
    let server = Arc::new(Server::start(Router::new().route_service("/webhook", receiver)).await);
    let seconds = shuffled((0..64).collect::<Vec<i64>>(), 42);
    let tasks: Vec<_> = seconds
        .into_iter()
        .map(|second| {
            let server = Arc::clone(&server);
            tokio::spawn(async move {
                post(&server, sonar_body("account.status", 9, &at(second), "x")).await
            })
        })
        .collect();
    let mut handled = 0;
    for task in tasks {
        let (status, outcome) = task.await.unwrap();
        assert_eq!(status, 200);
        assert!(outcome == "handled" || outcome == "stale", "{outcome}");
        handled += usize::from(outcome == "handled");
    }
    assert!(
        regressions.lock().unwrap().is_empty(),
        "{:?}",
        regressions.lock().unwrap()
    );
    assert_eq!(state.lock().unwrap().get("9"), Some(&at(63)));
    assert!(handled >= 1);
}

#[tokio::test]
async fn regression_marks_expire_past_the_ordering_horizon_and_older_events_are_stale() {
    // Marks never expired: every entity a sender ever named kept one for good.
    use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
    use std::time::{Duration, SystemTime};

    use receiver_sdk::store::{MemoryStore, OrderingKey, Store};

    let offset = Arc::new(AtomicU64::new(0));
    let clock = Arc::clone(&offset);
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new();
    let receiver = Receiver::builder("horizon")
        .envelope(Envelope::Sonar)
        .store(Arc::clone(&store))
        .ordering_horizon(Duration::from_secs(3_600))
        .clock(move || SystemTime::now() + Duration::from_secs(clock.load(AtomicOrdering::SeqCst)))
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let post = |entity: u64, created_at: DateTime<Utc>| {
        let body = sonar_body("account.status", entity, &created_at.to_rfc3339(), "active");
        let request = client()
            .post(server.url("/webhook"))
            .header("content-type", "application/json")
            .body(body);
        async move { end_to_end::answer(request.send().await.unwrap()).await }
    };
    let now = Utc::now();
    let (status, outcome, json) = post(1, now - ChronoDuration::hours(2)).await;
    assert_eq!((status, outcome.as_str()), (200, "stale"));
    let message = json["message"].as_str().unwrap();
    assert!(message.contains("ordering horizon of 3600 s"), "{message}");
    assert!(recorder.applied().is_empty());

    let recent = now - ChronoDuration::minutes(30);
    assert_eq!(post(1, recent).await.1, "handled");
    let key = OrderingKey::new("horizon", "account.status", "account", "1");
    assert!(store.mark(&key).await.unwrap().is_some());

    // Two hours on, the mark is past the horizon: the next commit starts a purge that drops it.
    offset.store(7_200, AtomicOrdering::SeqCst);
    assert_eq!(post(2, now + ChronoDuration::hours(2)).await.1, "handled");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.mark(&key).await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the mark was never purged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Entity 1's old event is still stale: by the horizon now, not by the purged mark.
    let (status, outcome, _) = post(1, recent).await;
    assert_eq!((status, outcome.as_str()), (200, "stale"));
    assert_eq!(recorder.applied().len(), 2);
}
