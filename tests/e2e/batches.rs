//! Batches over real HTTP and a real sled directory: a CloudEvents batch and a mapping's
//! `events` array are handled event by event, each with its own ordering mark and dedupe
//! record, and a batch that stops part-way is finished by the sender's retry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use end_to_end::{answer, client, Recorder, Server};
use receiver_sdk::envelope::{Envelope, Field, Mapping};
use receiver_sdk::ordering::OrderingScope;
use receiver_sdk::store::SledStore;
use receiver_sdk::{Delivery, HandlerError, InBatch, Receiver, ReceiverBuilder};
use serde_json::{json, Value};

const BATCH: &str = "application/cloudevents-batch+json";

fn event(id: &str, subject: &str, time: &str) -> Value {
    json!({
        "specversion": "1.0", "type": "com.example.order.updated", "source": "/shop",
        "id": id, "subject": subject, "time": time, "data": {"order": subject, "id": id}
    })
}

fn cloudevents(dir: &std::path::Path) -> ReceiverBuilder {
    Receiver::builder("batches")
        .envelope(Envelope::CloudEvents)
        .ordering(OrderingScope::PerEntity)
        .store(SledStore::open(dir).unwrap())
}

async fn start(receiver: Receiver) -> Server {
    Server::start(Router::new().route_service("/events", receiver)).await
}

/// A CloudEvents endpoint whose handler records every event.
async fn recording(dir: &std::path::Path) -> (Recorder, Server) {
    let recorder = Recorder::new();
    let receiver = cloudevents(dir)
        .handler(recorder.handler())
        .build()
        .unwrap();
    (recorder, start(receiver).await)
}

async fn post(server: &Server, content_type: &str, body: &str) -> (u16, String, Value) {
    let response = client()
        .post(server.url("/events"))
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    answer(response).await
}

#[tokio::test]
async fn a_cloudevents_batch_is_handled_event_by_event_with_each_events_own_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let places = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&places);
    let handler = recorder.handler_with(move |delivery: &Delivery| {
        seen.lock()
            .unwrap()
            .push((delivery.batch, delivery.payload["id"].clone()));
        std::future::ready(Ok(()))
    });
    let server = start(cloudevents(dir.path()).handler(handler).build().unwrap()).await;
    // Written by hand, with its own spacing: each event must reach the handler as sent.
    let first = r#"{"specversion":"1.0","type":"com.example.order.updated","source":"/shop","id":"e1","subject":"o1","time":"2026-01-01T00:00:01Z",  "data":{"n":1}}"#;
    let body = format!(
        "[ {first} ,\n{}, {}]",
        event("e2", "o2", "2026-01-01T00:00:02Z"),
        event("e3", "o1", "2026-01-01T00:00:03Z")
    );
    let (status, outcome, answer) = post(&server, BATCH, &body).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"), "{answer}");
    assert_eq!(answer["message"], "a batch of 3 events: 3 handled");
    let applied = recorder.applied();
    let ids: Vec<_> = applied
        .iter()
        .map(|a| a.delivery.clone().unwrap())
        .collect();
    assert_eq!(ids, ["/shop e1", "/shop e2", "/shop e3"]);
    assert_eq!(applied[0].body, first.as_bytes());
    assert_eq!(applied[2].entity.as_deref(), Some("o1"));
    let places = places.lock().unwrap().clone();
    assert_eq!(
        places
            .iter()
            .map(|(place, _)| place.map(|p| (p.index, p.len)))
            .collect::<Vec<_>>(),
        [Some((0, 3)), Some((1, 3)), Some((2, 3))]
    );
    assert_eq!(places[1].1, "e2", "the payload is the event itself");

    // The sender's retry of the whole batch: nothing is handled twice.
    let (status, outcome, answer) = post(&server, BATCH, &body).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"));
    assert_eq!(answer["message"], "a batch of 3 events: 3 duplicate");
    assert_eq!(recorder.applied().len(), 3);

    // One of the same events, alone and in structured mode: the same delivery.
    let (_, outcome, _) = post(
        &server,
        "application/cloudevents+json",
        &event("e2", "o2", "2026-01-01T00:00:02Z").to_string(),
    )
    .await;
    assert_eq!(outcome, "duplicate");
    server.stop().await;
}

#[tokio::test]
async fn events_of_one_batch_are_ordered_against_each_other_and_against_earlier_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, server) = recording(dir.path()).await;
    let body = json!([
        event("a", "o1", "2026-01-01T00:00:05Z"),
        event("b", "o1", "2026-01-01T00:00:04Z"),
        event("c", "o2", "2026-01-01T00:00:01Z"),
    ])
    .to_string();
    let (status, _, answer) = post(&server, BATCH, &body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["message"], "a batch of 3 events: 2 handled, 1 stale");
    let handled: Vec<_> = recorder
        .applied()
        .into_iter()
        .map(|a| a.delivery.unwrap())
        .collect();
    assert_eq!(handled, ["/shop a", "/shop c"]);
    server.stop().await;
}

#[tokio::test]
async fn a_batch_that_fails_part_way_answers_that_events_failure_and_its_retry_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let down = Arc::new(AtomicBool::new(true));
    let state = Arc::clone(&down);
    let handler = recorder.handler_with(move |delivery: &Delivery| {
        let refuse = delivery.payload["id"] == "e2" && state.load(Ordering::SeqCst);
        std::future::ready(if refuse {
            Err(HandlerError::unavailable("the order service is down"))
        } else {
            Ok(())
        })
    });
    let server = start(cloudevents(dir.path()).handler(handler).build().unwrap()).await;
    let body = json!([
        event("e1", "o1", "2026-01-01T00:00:01Z"),
        event("e2", "o2", "2026-01-01T00:00:02Z"),
        event("e3", "o3", "2026-01-01T00:00:03Z"),
    ])
    .to_string();
    let (status, outcome, answer) = post(&server, BATCH, &body).await;
    assert_eq!((status, outcome.as_str()), (503, "rejected"), "{answer}");
    assert_eq!(
        answer["message"],
        "event 2 of 3: the order service is down; the 1 before it are recorded, so a retry \
         skips them"
    );
    let handled = |recorder: &Recorder| -> Vec<String> {
        recorder
            .applied()
            .into_iter()
            .map(|a| a.delivery.unwrap())
            .collect()
    };
    assert_eq!(
        handled(&recorder),
        ["/shop e1"],
        "the batch stops at the failure"
    );

    down.store(false, Ordering::SeqCst);
    let (status, _, answer) = post(&server, BATCH, &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["message"],
        "a batch of 3 events: 2 handled, 1 duplicate"
    );
    assert_eq!(handled(&recorder), ["/shop e1", "/shop e2", "/shop e3"]);
    server.stop().await;
}

#[tokio::test]
async fn a_bad_event_refuses_the_whole_batch_before_any_of_it_is_handled() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, server) = recording(dir.path()).await;
    let mut bad = event("e2", "o2", "2026-01-01T00:00:02Z");
    bad.as_object_mut().unwrap().remove("type");
    let body = json!([event("e1", "o1", "2026-01-01T00:00:01Z"), bad]).to_string();
    let (status, outcome, answer) = post(&server, BATCH, &body).await;
    assert_eq!((status, outcome.as_str()), (400, "malformed"));
    assert_eq!(answer["message"], "event 2 of 2: missing field `type`");

    for (body, message) in [
        (
            r#"{"specversion":"1.0"}"#,
            "the body is an object, expected an array of events",
        ),
        (
            "[1, 2",
            "body is not valid JSON: EOF while parsing a list at line 1 column 5",
        ),
        (
            "[1]",
            "event 1 of 1: body is a number, expected a JSON object",
        ),
    ] {
        let (status, outcome, answer) = post(&server, BATCH, body).await;
        assert_eq!((status, outcome.as_str()), (400, "malformed"), "{body}");
        assert_eq!(answer["message"], message, "{body}");
    }
    assert!(recorder.applied().is_empty());

    let (status, outcome, answer) = post(&server, BATCH, "[]").await;
    assert_eq!((status, outcome.as_str()), (200, "batch"));
    assert_eq!(answer["message"], "an empty batch; nothing to handle");
    server.stop().await;
}

#[tokio::test]
async fn a_batch_over_the_limit_is_refused_with_413_before_any_of_it_is_handled() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let receiver = cloudevents(dir.path())
        .batch_limit(2)
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = start(receiver).await;
    let events: Vec<_> = (0..3)
        .map(|n| event(&format!("e{n}"), "o", &format!("2026-01-01T00:00:0{n}Z")))
        .collect();
    let (status, outcome, answer) = post(&server, BATCH, &json!(events).to_string()).await;
    assert_eq!((status, outcome.as_str()), (413, "too_large"));
    assert_eq!(
        answer["message"],
        "the batch holds more than 2 events, the limit of this endpoint"
    );
    assert!(recorder.applied().is_empty());
    let (status, _, _) = post(&server, BATCH, &json!(events[..2]).to_string()).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_mapping_batch_reads_events_from_its_array_and_a_header_id_is_kept_per_place() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let mapping = Mapping::new(Field::pointer("/type").unwrap())
        .entity_id(Field::pointer("/source/userId").unwrap())
        .created_at(Field::pointer("/timestamp").unwrap())
        .delivery_id(Field::header("x-delivery").unwrap())
        .batch("/events")
        .unwrap();
    let receiver = Receiver::builder("line-like")
        .envelope(Envelope::Custom(mapping))
        .events(["message"])
        .store(SledStore::open(dir.path()).unwrap())
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/events", receiver)).await;
    let body = json!({"destination": "U0", "events": [
        {"type": "message", "timestamp": 1_700_000_000_000u64, "source": {"userId": "U1"}},
        {"type": "follow", "timestamp": 1_700_000_000_001u64, "source": {"userId": "U2"}},
        {"type": "message", "timestamp": 1_700_000_000_002u64, "source": {"userId": "U3"}},
    ]})
    .to_string();
    let send = || {
        client()
            .post(server.url("/events"))
            .header("content-type", "application/json")
            .header("x-delivery", "d-77")
            .body(body.clone())
            .send()
    };
    let (status, outcome, first) = answer(send().await.unwrap()).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"), "{first}");
    assert_eq!(
        first["message"],
        "a batch of 3 events: 2 handled, 1 ignored"
    );
    let applied = recorder.applied();
    let ids: Vec<_> = applied
        .iter()
        .map(|a| a.delivery.clone().unwrap())
        .collect();
    assert_eq!(ids, ["d-77#0", "d-77#2"]);
    assert_eq!(applied[1].entity.as_deref(), Some("U3"));
    let (_, _, again) = answer(send().await.unwrap()).await;
    assert_eq!(
        again["message"],
        "a batch of 3 events: 2 duplicate, 1 ignored"
    );
    server.stop().await;
}

#[tokio::test]
async fn behind_the_layer_the_service_gets_one_request_per_event() {
    use axum::extract::Extension;
    use axum::routing::post as route;
    use receiver_sdk::WebhookEvent;

    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let layer = cloudevents(dir.path()).layer().unwrap();
    let app = Router::new()
        .route(
            "/events",
            route(
                move |WebhookEvent(event): WebhookEvent,
                      Extension(place): Extension<InBatch>,
                      body: String| async move {
                    seen.lock()
                        .unwrap()
                        .push((event.delivery_id, place.index, body));
                    "ok"
                },
            ),
        )
        .layer(layer);
    let server = Server::start(app).await;
    let body = json!([
        event("e1", "o1", "2026-01-01T00:00:01Z"),
        event("e2", "o2", "2026-01-01T00:00:02Z")
    ]);
    let (status, outcome, _) = post(&server, BATCH, &body.to_string()).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"));
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[1].0.as_deref(), calls[1].1), (Some("/shop e2"), 1));
    assert_eq!(serde_json::from_str::<Value>(&calls[1].2).unwrap(), body[1]);
    server.stop().await;
}
