//! Regressions found reviewing batches: each test pins one problem of the batch pipeline,
//! over real HTTP and a real sled directory.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use end_to_end::{answer, client, Recorder, Server};
use receiver_sdk::envelope::{Envelope, Field, Mapping};
use receiver_sdk::ordering::OrderingScope;
use receiver_sdk::store::SledStore;
use receiver_sdk::verify::{sign, Verifier};
use receiver_sdk::{Delivery, HandlerError, OnDeadline, Receiver};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BATCH: &str = "application/cloudevents-batch+json";
const SECRET: &str = "batch-review-secret";

fn event(id: &str, subject: &str, time: &str) -> Value {
    json!({
        "specversion": "1.0", "type": "com.example.order.updated", "source": "/shop",
        "id": id, "subject": subject, "time": time, "data": {"order": subject, "id": id}
    })
}

async fn start(receiver: Receiver) -> Server {
    Server::start(Router::new().route_service("/events", receiver)).await
}

async fn send(server: &Server, headers: &[(&str, &str)], body: &str) -> (u16, String, Value) {
    let mut request = client().post(server.url("/events")).body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.send().await.unwrap()).await
}

#[tokio::test]
async fn regression_a_signed_cloudevents_batch_replayed_in_binary_mode_is_not_handled_again() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let receiver = Receiver::builder("signed-batches")
        .envelope(Envelope::CloudEvents)
        .ordering(OrderingScope::PerEntity)
        // GitHub's scheme signs the body alone: the content type and `ce-*` headers are not
        // covered, so anyone holding one signed body may resend it with headers of their own.
        .verifier(Verifier::github([SECRET]).unwrap())
        .store(SledStore::open(dir.path()).unwrap())
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = start(receiver).await;
    let body = json!([event("e1", "o1", "2026-01-01T00:00:01Z")]).to_string();
    let signature = sign::github(SECRET, body.as_bytes());
    let signed = ("x-hub-signature-256", signature.as_str());
    let (status, outcome, first) = send(&server, &[("content-type", BATCH), signed], &body).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"), "{first}");

    // The same signed bytes as one binary-mode event, its attributes chosen by the replayer:
    // a fresh id, the order's subject and a time far ahead, which would make every real
    // update of the order stale.
    let replay = [
        ("content-type", "application/json"),
        signed,
        ("ce-specversion", "1.0"),
        ("ce-id", "forged-1"),
        ("ce-source", "/shop"),
        ("ce-type", "com.example.order.updated"),
        ("ce-subject", "o1"),
        ("ce-time", "2099-01-01T00:00:00Z"),
    ];
    let (status, outcome, replayed) = send(&server, &replay, &body).await;
    assert_ne!(
        outcome, "handled",
        "a replay of a signed batch was handled as a new event: {status} {replayed}"
    );
    assert_eq!(recorder.applied().len(), 1, "handled once, by the batch");

    let next = json!([event("e2", "o1", "2026-01-01T00:00:02Z")]).to_string();
    let signature = sign::github(SECRET, next.as_bytes());
    let headers = [
        ("content-type", BATCH),
        ("x-hub-signature-256", signature.as_str()),
    ];
    let (_, _, later) = send(&server, &headers, &next).await;
    assert_eq!(later["message"], "a batch of 1 event: 1 handled");
    server.stop().await;
}

/// A LINE-like batch whose delivery id is the `X-Delivery` header.
fn header_id_mapping() -> Envelope {
    let mapping = Mapping::new(Field::pointer("/type").unwrap())
        .delivery_id(Field::header("x-delivery").unwrap())
        .batch("/events")
        .unwrap();
    Envelope::Custom(mapping)
}

/// The header id beside a body-only signature.
fn header_id_batches(dir: &std::path::Path, recorder: &Recorder) -> Receiver {
    Receiver::builder("header-id-batches")
        .envelope(header_id_mapping())
        .verifier(Verifier::github([SECRET]).unwrap())
        .store(SledStore::open(dir).unwrap())
        .handler(recorder.handler())
        .build()
        .unwrap()
}

async fn signed_batch(server: &Server, delivery: &str, body: &str) -> Value {
    let signature = sign::github(SECRET, body.as_bytes());
    let headers = [
        ("content-type", "application/json"),
        ("x-delivery", delivery),
        ("x-hub-signature-256", signature.as_str()),
    ];
    let (status, outcome, answer) = send(server, &headers, body).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"), "{answer}");
    answer
}

#[tokio::test]
async fn regression_alike_events_of_two_different_signed_batches_are_both_handled() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let server = start(header_id_batches(dir.path(), &recorder)).await;
    // Two deliveries the sender signed apart (their bodies differ), each with one event whose
    // own bytes happen to be alike: nothing was replayed, so both events are handled.
    let first = r#"{"sent":1,"events":[{"type":"follow"}]}"#;
    let second = r#"{"sent":2,"events":[{"type":"follow"}]}"#;
    let answer = signed_batch(&server, "d-1", first).await;
    assert_eq!(answer["message"], "a batch of 1 event: 1 handled");
    let answer = signed_batch(&server, "d-2", second).await;
    assert_eq!(
        answer["message"], "a batch of 1 event: 1 handled",
        "a different signed body is not a replay of the first"
    );
    // Whereas the first signed body again, under a fresh id, is a replay.
    let answer = signed_batch(&server, "d-9", first).await;
    assert_eq!(answer["message"], "a batch of 1 event: 1 duplicate");
    assert_eq!(recorder.applied().len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn regression_after_an_accepted_deadline_one_failing_event_does_not_drop_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let handler = recorder.handler_with(|delivery: &Delivery| {
        let id = delivery.payload["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        async move {
            match id.as_str() {
                // Slow enough that the sender is answered 202 while it runs.
                "slow" => tokio::time::sleep(Duration::from_millis(300)).await,
                "flaky" => return Err(HandlerError::unavailable("a dependency blinked")),
                _ => {}
            }
            Ok(())
        }
    });
    let receiver = Receiver::builder("deadline-batches")
        .envelope(Envelope::CloudEvents)
        .store(SledStore::open(dir.path()).unwrap())
        .deadline(Duration::from_millis(50))
        .on_deadline(OnDeadline::Accept)
        .handler(handler)
        .build()
        .unwrap();
    let server = start(receiver).await;
    let body = json!([
        event("slow", "o1", "2026-01-01T00:00:01Z"),
        event("flaky", "o2", "2026-01-01T00:00:02Z"),
        event("last", "o3", "2026-01-01T00:00:03Z"),
    ])
    .to_string();
    let (status, outcome, _) = send(&server, &[("content-type", BATCH)], &body).await;
    assert_eq!((status, outcome.as_str()), (202, "accepted"));
    // The sender never retries a 202: every event it covers must be tried by the endpoint.
    let mut handled = Vec::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        handled = recorder
            .applied()
            .into_iter()
            .filter_map(|a| a.delivery)
            .collect();
        if handled.len() >= 2 {
            break;
        }
    }
    assert_eq!(
        handled,
        ["/shop slow", "/shop last"],
        "an event after the failing one was dropped after 202"
    );
    server.stop().await;
}

#[tokio::test]
async fn regression_a_batch_over_the_limit_is_refused_before_its_whole_array_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::builder("limited")
        .envelope(Envelope::CloudEvents)
        .store(SledStore::open(dir.path()).unwrap())
        .batch_limit(2)
        .handler(Recorder::new().handler())
        .build()
        .unwrap();
    let server = start(receiver).await;
    // Three events then a broken tail: counting while cutting stops at the third, so the
    // answer is the limit; reading the whole array first (every item of a 1 MiB `[0,0,...]`
    // kept twice before the count) meets the tail instead.
    let events = [
        event("a", "o1", "2026-01-01T00:00:01Z").to_string(),
        event("b", "o2", "2026-01-01T00:00:02Z").to_string(),
        event("c", "o3", "2026-01-01T00:00:03Z").to_string(),
    ];
    let body = format!("[{},{{\"", events.join(","));
    let (status, outcome, answer) = send(&server, &[("content-type", BATCH)], &body).await;
    assert_eq!(
        (status, outcome.as_str()),
        (413, "too_large"),
        "the whole array was read before its events were counted: {answer}"
    );
    server.stop().await;
}

#[tokio::test]
async fn regression_a_header_id_within_its_limit_is_not_refused_for_its_place_suffix() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let receiver = Receiver::builder("id-limit")
        .envelope(header_id_mapping())
        .max_id_bytes(8)
        .store(SledStore::open(dir.path()).unwrap())
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = start(receiver).await;
    // Eight bytes, the limit: the sender's id fits; `#0` is the endpoint's own addition.
    let headers = [
        ("content-type", "application/json"),
        ("x-delivery", "d-123456"),
    ];
    let body = r#"{"events":[{"type":"follow"}]}"#;
    let (status, outcome, answer) = send(&server, &headers, body).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"), "{answer}");
    assert_eq!(recorder.applied().len(), 1);
    server.stop().await;
}

/// The head of each request the service behind the layer got: its content type and whether it
/// carried both `Transfer-Encoding` and `Content-Length`.
type Heads = Arc<Mutex<Vec<(Option<String>, bool)>>>;

/// A CloudEvents batch of two sent in chunks (as a proxy in front of the receiver may send
/// it) to a layered CloudEvents endpoint: the heads of the requests the inner service got.
async fn layered_heads() -> Vec<(Option<String>, bool)> {
    use axum::extract::Request;
    use axum::routing::post as route;

    let dir = tempfile::tempdir().unwrap();
    let heads: Heads = Arc::default();
    let seen = Arc::clone(&heads);
    let layer = Receiver::builder("layered")
        .envelope(Envelope::CloudEvents)
        .store(SledStore::open(dir.path()).unwrap())
        .layer()
        .unwrap();
    let app = Router::new()
        .route(
            "/events",
            route(move |request: Request| async move {
                let headers = request.headers();
                let content_type = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let both = headers.contains_key("transfer-encoding")
                    && headers.contains_key("content-length");
                seen.lock().unwrap().push((content_type, both));
                "ok"
            }),
        )
        .layer(layer);
    let server = Server::start(app).await;
    let body = json!([
        event("e1", "o1", "2026-01-01T00:00:01Z"),
        event("e2", "o2", "2026-01-01T00:00:02Z")
    ])
    .to_string();
    let url = reqwest::Url::parse(&server.url("/events")).unwrap();
    let address = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /events HTTP/1.1\r\nHost: localhost\r\nContent-Type: {BATCH}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.stop().await;
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 2, "one request per event");
    heads
}

#[tokio::test]
async fn regression_behind_the_layer_an_event_of_a_batch_is_typed_as_one_structured_event() {
    for (content_type, _) in layered_heads().await {
        assert_eq!(
            content_type.as_deref(),
            Some("application/cloudevents+json"),
            "one event of a batch is told it is a batch"
        );
    }
}

#[tokio::test]
async fn regression_behind_the_layer_an_event_of_a_chunked_batch_has_one_framing() {
    for (_, both) in layered_heads().await {
        assert!(
            !both,
            "an event's request has a Content-Length and a chunked Transfer-Encoding at once"
        );
    }
}

#[tokio::test]
async fn regression_without_dedupe_a_failed_batch_does_not_promise_its_retry_skips_anything() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let handler = recorder.handler_with(|delivery: &Delivery| {
        let flaky = delivery.payload["id"] == "flaky";
        async move {
            if flaky {
                return Err(HandlerError::unavailable("a dependency blinked"));
            }
            Ok(())
        }
    });
    let receiver = Receiver::builder("no-dedupe")
        .envelope(Envelope::CloudEvents)
        .dedupe(false)
        .store(SledStore::open(dir.path()).unwrap())
        .handler(handler)
        .build()
        .unwrap();
    let server = start(receiver).await;
    let body = json!([
        event("first", "o1", "2026-01-01T00:00:01Z"),
        event("flaky", "o2", "2026-01-01T00:00:02Z"),
    ])
    .to_string();
    let (status, _, answer) = send(&server, &[("content-type", BATCH)], &body).await;
    assert_eq!(status, 503, "{answer}");
    let (_, _, _) = send(&server, &[("content-type", BATCH)], &body).await;
    let handled = recorder.applied().len();
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        handled == 1 || !message.contains("a retry skips them"),
        "the answer promised the retry skips the first event, which it handled again: {message}"
    );
    server.stop().await;
}
