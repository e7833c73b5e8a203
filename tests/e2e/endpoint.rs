//! The endpoint's answers: methods, limits, malformed input, dedupe, deadline, layer form.

use std::time::Duration;

use axum::routing::post;
use axum::Router;
use end_to_end::{answer, client, sonar_body, Recorder, Server};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::{HandlerError, Receiver, WebhookEvent};
use serde_json::Value;

async fn sonar_server(recorder: &Recorder) -> Server {
    let receiver = Receiver::builder("sonar")
        .envelope(Envelope::Sonar)
        .store(receiver_sdk::store::MemoryStore::new())
        .body_limit(4096)
        .handler(recorder.handler())
        .build()
        .unwrap();
    Server::start(Router::new().route_service("/webhook", receiver)).await
}

async fn post_json(server: &Server, body: impl Into<reqwest::Body>) -> (u16, String, Value) {
    answer(
        client()
            .post(server.url("/webhook"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn head_answers_200_with_no_body_and_touches_nothing() {
    let recorder = Recorder::new();
    let server = sonar_server(&recorder).await;
    let response = client().head(server.url("/webhook")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.unwrap().is_empty());
    assert!(recorder.applied().is_empty());
}

#[tokio::test]
async fn other_methods_answer_405_with_allow_header() {
    let server = sonar_server(&Recorder::new()).await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = client()
            .request(method.clone(), server.url("/webhook"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "HEAD, POST");
        let (_, outcome, body) = answer(response).await;
        assert_eq!(outcome, "method_not_allowed");
        assert_eq!(body["outcome"], "method_not_allowed");
    }
}

#[tokio::test]
async fn a_fresh_delivery_is_handled_and_answered_200() {
    let recorder = Recorder::new();
    let server = sonar_server(&recorder).await;
    let body = sonar_body("account.status", 7, "2021-05-25T20:48:40+00:00", "active");
    let (status, outcome, json) = post_json(&server, body.clone()).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
    assert_eq!(json["outcome"], "handled");
    let applied = recorder.applied();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].event, "account.status");
    assert_eq!(applied[0].entity.as_deref(), Some("7"));
    assert_eq!(
        applied[0].body,
        body.as_bytes(),
        "the raw body reaches the handler"
    );
}

#[tokio::test]
async fn body_over_the_limit_is_413_whether_declared_or_streamed() {
    let recorder = Recorder::new();
    let server = sonar_server(&recorder).await;
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(10_000));
    let (status, outcome, json) = post_json(&server, big.clone()).await;
    assert_eq!((status, outcome.as_str()), (413, "too_large"));
    assert!(json["message"].as_str().unwrap().contains("4096"));

    // Chunked: no Content-Length, so the limit must hold while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .as_bytes()
        .chunks(1000)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let stream = reqwest::Body::wrap_stream(futures_stream(chunks));
    let (status, outcome, _) = post_json(&server, stream).await;
    assert_eq!((status, outcome.as_str()), (413, "too_large"));
    assert!(recorder.applied().is_empty());
}

fn futures_stream(
    items: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + Sync + 'static {
    tokio_stream::iter(items)
}

#[tokio::test]
async fn malformed_bodies_get_400_or_415_with_a_reason() {
    let recorder = Recorder::new();
    let server = sonar_server(&recorder).await;
    let cases: &[(&str, &str, u16, &str, &str)] = &[
        (
            "application/json",
            "{not json",
            400,
            "malformed",
            "not valid JSON",
        ),
        ("application/json", "", 400, "malformed", "empty"),
        (
            "application/json",
            "[1,2,3]",
            400,
            "malformed",
            "JSON object",
        ),
        (
            "application/json",
            r#"{"object_id": 1}"#,
            400,
            "malformed",
            "event",
        ),
        (
            "application/json",
            r#"{"event": "a.b"}"#,
            400,
            "malformed",
            "object_id",
        ),
        (
            "application/json",
            r#"{"event": "a.b", "object_id": 1, "current": {}}"#,
            400,
            "malformed",
            "current.created_at",
        ),
        (
            "text/plain",
            r#"{"event": "a.b"}"#,
            415,
            "unsupported_media_type",
            "text/plain",
        ),
        (
            "application/x-www-form-urlencoded",
            "payload=%7B%7D",
            415,
            "unsupported_media_type",
            "application/json",
        ),
    ];
    for (content_type, body, status, outcome, reason) in cases {
        let response = client()
            .post(server.url("/webhook"))
            .header("content-type", *content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let (got_status, got_outcome, json) = answer(response).await;
        assert_eq!(got_status, *status, "{body}");
        assert_eq!(got_outcome, *outcome, "{body}");
        let message = json["message"].as_str().unwrap();
        assert!(message.contains(reason), "{body}: {message}");
    }
    assert!(recorder.applied().is_empty());
}

#[tokio::test]
async fn the_same_delivery_twice_calls_the_handler_once() {
    let recorder = Recorder::new();
    let server = sonar_server(&recorder).await;
    let body = sonar_body("account.status", 1, "2021-05-25T20:48:40Z", "active");
    assert_eq!(post_json(&server, body.clone()).await.1, "handled");
    let (status, outcome, _) = post_json(&server, body).await;
    assert_eq!((status, outcome.as_str()), (200, "duplicate"));
    assert_eq!(recorder.applied().len(), 1);
}

#[tokio::test]
async fn a_payload_that_does_not_fit_the_handler_type_is_422() {
    #[derive(serde::Deserialize)]
    struct Strict {
        #[allow(dead_code)]
        current: Current,
    }
    #[derive(serde::Deserialize)]
    struct Current {
        #[allow(dead_code)]
        status: u32,
    }
    let receiver = Receiver::builder("typed")
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(|_: receiver_sdk::Delivery<Strict>| async { Ok(()) })
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let body = sonar_body("account.status", 1, "2021-05-25T20:48:40Z", "active");
    let (status, outcome, json) = post_json(&server, body).await;
    assert_eq!((status, outcome.as_str()), (422, "unprocessable"));
    assert!(json["message"].as_str().unwrap().contains("status"));
}

#[tokio::test]
async fn a_handler_refusal_is_answered_with_its_status_and_message() {
    let recorder = Recorder::new();
    let receiver = Receiver::builder("refusing")
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(recorder.handler_with(|_| async {
            Err(HandlerError::bad_request(
                "customer 7 has no account downstream",
            ))
        }))
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let body = sonar_body("account.status", 7, "2021-05-25T20:48:40Z", "active");
    let (status, outcome, json) = post_json(&server, body).await;
    assert_eq!((status, outcome.as_str()), (400, "rejected"));
    assert_eq!(json["message"], "customer 7 has no account downstream");
    assert!(recorder.applied().is_empty());
}

#[tokio::test]
async fn a_slow_handler_past_the_deadline_gets_202_and_still_commits() {
    let recorder = Recorder::new();
    let receiver = Receiver::builder("slow")
        .store(receiver_sdk::store::MemoryStore::new())
        .deadline(Duration::from_millis(50))
        .handler(recorder.handler_with(|_| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        }))
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let body = sonar_body("account.status", 7, "2021-05-25T20:48:40Z", "active");
    let (status, outcome, _) = post_json(&server, body.clone()).await;
    assert_eq!((status, outcome.as_str()), (202, "accepted"));
    assert!(
        recorder.applied().is_empty(),
        "answered before the handler finished"
    );

    // A retry while the handler still runs waits behind it (same key) and is accepted too;
    // once the first commits, the waiting retry finds it handled and does not run again.
    let (status, outcome, _) = post_json(&server, body.clone()).await;
    assert_eq!((status, outcome.as_str()), (202, "accepted"));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(recorder.applied().len(), 1);
    let (status, outcome, _) = post_json(&server, body).await;
    assert_eq!((status, outcome.as_str()), (200, "duplicate"));
    assert_eq!(recorder.applied().len(), 1);
}

#[tokio::test]
async fn a_slow_handler_past_a_retrying_deadline_gets_503_and_the_retry_after_it_is_a_duplicate() {
    let recorder = Recorder::new();
    let receiver = Receiver::builder("slow")
        .store(receiver_sdk::store::MemoryStore::new())
        .deadline(Duration::from_millis(20))
        .on_deadline(receiver_sdk::OnDeadline::Retry)
        .handler(recorder.handler_with(|_| async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok(())
        }))
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let body = sonar_body("account.status", 7, "2021-05-25T20:48:40Z", "active");
    let (status, outcome, json) = post_json(&server, body.clone()).await;
    assert_eq!((status, outcome.as_str()), (503, "pending"), "{json}");
    assert!(
        recorder.applied().is_empty(),
        "answered before the handler finished"
    );
    // Retries wait behind the running handler; once it has committed, one is a duplicate.
    let mut outcomes = Vec::new();
    while outcomes.last().map(String::as_str) != Some("duplicate") {
        let (status, outcome, _) = post_json(&server, body.clone()).await;
        assert!(
            status == 503 || outcome == "duplicate",
            "{status} {outcome}"
        );
        outcomes.push(outcome);
    }
    assert_eq!(recorder.applied().len(), 1);
}

/// A receiver named `name` on the memory store with its default (Sonar-shaped) envelope.
async fn memory_server<F, Fut>(name: &str, handler: F) -> Server
where
    F: Fn(receiver_sdk::Delivery) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    let receiver = Receiver::builder(name)
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(handler)
        .build()
        .unwrap();
    Server::start(Router::new().route_service("/webhook", receiver)).await
}

#[tokio::test]
async fn a_sender_hanging_up_mid_handler_does_not_stop_the_handler_or_its_commit() {
    let recorder = Recorder::new();
    let server = memory_server(
        "hangup",
        recorder.handler_with(|_| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        }),
    )
    .await;
    let body = sonar_body("account.status", 7, "2021-05-25T20:48:40Z", "active");
    // The sender gives up long before the handler is done and closes its connection.
    let gave_up = client()
        .post(server.url("/webhook"))
        .header("content-type", "application/json")
        .body(body.clone())
        .timeout(Duration::from_millis(50))
        .send()
        .await;
    assert!(gave_up.is_err(), "answered before the handler finished");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(recorder.applied().len(), 1, "the handler ran to the end");
    // Its commit was recorded too: the sender's retry is a duplicate, not a second run.
    let (status, outcome, _) = post_json(&server, body).await;
    assert_eq!((status, outcome.as_str()), (200, "duplicate"));
    assert_eq!(recorder.applied().len(), 1);
}

#[tokio::test]
async fn a_panicking_handler_gets_500_and_releases_the_entity_for_the_next_event() {
    let recorder = Recorder::new();
    let server = memory_server(
        "panics",
        recorder.handler_with(|delivery| {
            let boom = delivery.payload["current"]["status"] == "boom";
            async move {
                tokio::task::yield_now().await;
                assert!(!boom, "handler bug");
                Ok(())
            }
        }),
    )
    .await;
    let boom = sonar_body("account.status", 7, "2021-05-25T20:48:40Z", "boom");
    let (status, outcome, json) = post_json(&server, boom).await;
    assert_eq!((status, outcome.as_str()), (500, "internal"), "{json}");
    assert_eq!(json["message"], "the handler panicked");
    // Nothing was committed and the entity's lock was released: a later event is handled.
    let next = sonar_body("account.status", 7, "2021-05-25T20:48:41Z", "active");
    let (status, outcome, _) = post_json(&server, next).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
}

#[tokio::test]
async fn the_layer_form_runs_the_pipeline_in_front_of_a_plain_axum_handler() {
    let layer = Receiver::builder("layered")
        .store(receiver_sdk::store::MemoryStore::new())
        .layer()
        .unwrap();
    let seen = Recorder::new();
    let app = Router::new().route(
        "/webhook",
        post(
            |WebhookEvent(event): WebhookEvent, body: String| async move {
                if event.entity_id.as_deref() == Some("13") {
                    return (
                        axum::http::StatusCode::CONFLICT,
                        "unlucky entity".to_owned(),
                    );
                }
                (
                    axum::http::StatusCode::OK,
                    format!("{} {body}", event.event_type),
                )
            },
        )
        .head(|| async {})
        .layer(layer),
    );
    let server = Server::start(app).await;
    let body = sonar_body("account.status", 1, "2021-05-25T20:48:40Z", "active");
    let response = client()
        .post(server.url("/webhook"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-webhook-outcome"], "handled");
    assert_eq!(
        response.text().await.unwrap(),
        format!("account.status {body}"),
        "the inner handler gets the raw body"
    );
    let (status, outcome, _) = post_json(&server, body).await;
    assert_eq!((status, outcome.as_str()), (200, "duplicate"));

    let unlucky = sonar_body("account.status", 13, "2021-05-25T20:48:40Z", "active");
    let response = client()
        .post(server.url("/webhook"))
        .header("content-type", "application/json")
        .body(unlucky)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(response.headers()["x-webhook-outcome"], "rejected");
    assert_eq!(response.text().await.unwrap(), "unlucky entity");
    drop(seen);
}

#[tokio::test]
async fn a_delivery_id_is_forgotten_after_the_retention_window() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    let offset = Arc::new(AtomicU64::new(0));
    let clock = Arc::clone(&offset);
    let recorder = Recorder::new();
    let receiver = Receiver::builder("retention")
        .envelope(Envelope::Raw)
        .store(receiver_sdk::store::MemoryStore::new())
        .retention(Duration::from_secs(3_600))
        .clock(move || SystemTime::now() + Duration::from_secs(clock.load(Ordering::SeqCst)))
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let body = r#"{"job": 1}"#;
    assert_eq!(post_json(&server, body).await.1, "handled");
    offset.store(3_599, Ordering::SeqCst);
    assert_eq!(post_json(&server, body).await.1, "duplicate");
    offset.store(3_601, Ordering::SeqCst);
    assert_eq!(post_json(&server, body).await.1, "handled");
    assert_eq!(recorder.applied().len(), 2);
}

/// What the failing store says: a backend's own text, which only the operator may read.
pub(crate) const BACKEND_TEXT: &str =
    "PostgreSQL: db error: ERROR: index row size 6056 exceeds btree \
                            version 4 maximum 2704 for index \"marks_pkey\" at /var/lib/pg";

/// A store whose backend has failed: every call errors with [`BACKEND_TEXT`].
pub(crate) struct FailingStore;

fn backend_failed() -> receiver_sdk::store::StoreError {
    receiver_sdk::store::StoreError::new(BACKEND_TEXT)
}

#[async_trait::async_trait]
impl receiver_sdk::store::Store for FailingStore {
    async fn mark(
        &self,
        _: &receiver_sdk::store::OrderingKey,
    ) -> Result<Option<receiver_sdk::store::EventTime>, receiver_sdk::store::StoreError> {
        Err(backend_failed())
    }
    async fn is_handled(
        &self,
        _: &receiver_sdk::store::DeliveryKey,
        _: receiver_sdk::store::UnixSeconds,
    ) -> Result<bool, receiver_sdk::store::StoreError> {
        Err(backend_failed())
    }
    async fn commit(
        &self,
        _: receiver_sdk::store::Commit,
    ) -> Result<(), receiver_sdk::store::StoreError> {
        Err(backend_failed())
    }
    async fn purge_expired(
        &self,
        _: receiver_sdk::store::UnixSeconds,
        _: usize,
    ) -> Result<usize, receiver_sdk::store::StoreError> {
        Err(backend_failed())
    }
    async fn purge_marks(
        &self,
        _: receiver_sdk::store::EventTime,
        _: usize,
    ) -> Result<usize, receiver_sdk::store::StoreError> {
        Err(backend_failed())
    }
}

#[tokio::test]
async fn regression_store_errors_reach_the_sender_as_a_generic_message() {
    // The sender was answered `store unavailable: PostgreSQL: db error: ...`: the database's
    // text, with the index name and part of the key, went back to whoever posted.
    let recorder = Recorder::new();
    let receiver = Receiver::builder("broken")
        .store(FailingStore)
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let body = sonar_body("account.status", 1, "2021-05-25T20:48:40Z", "active");
    let (status, outcome, json) = post_json(&server, body).await;
    assert_eq!(
        (status, outcome.as_str()),
        (503, "unavailable"),
        "the sender retries"
    );
    assert_eq!(json["message"], "store unavailable");
    for word in ["PostgreSQL", "btree", "marks_pkey", "/var/lib"] {
        assert!(!json.to_string().contains(word), "{json}");
    }
    assert!(recorder.applied().is_empty());
}

/// A memory store that adds up how many delivery ids its purges removed.
struct CountingPurges {
    store: receiver_sdk::store::MemoryStore,
    removed: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl receiver_sdk::store::Store for CountingPurges {
    async fn mark(
        &self,
        key: &receiver_sdk::store::OrderingKey,
    ) -> Result<Option<receiver_sdk::store::EventTime>, receiver_sdk::store::StoreError> {
        self.store.mark(key).await
    }
    async fn is_handled(
        &self,
        key: &receiver_sdk::store::DeliveryKey,
        now: receiver_sdk::store::UnixSeconds,
    ) -> Result<bool, receiver_sdk::store::StoreError> {
        self.store.is_handled(key, now).await
    }
    async fn commit(
        &self,
        commit: receiver_sdk::store::Commit,
    ) -> Result<(), receiver_sdk::store::StoreError> {
        self.store.commit(commit).await
    }
    async fn purge_expired(
        &self,
        now: receiver_sdk::store::UnixSeconds,
        limit: usize,
    ) -> Result<usize, receiver_sdk::store::StoreError> {
        let removed = self.store.purge_expired(now, limit).await?;
        self.removed
            .fetch_add(removed, std::sync::atomic::Ordering::SeqCst);
        Ok(removed)
    }
    async fn purge_marks(
        &self,
        before: receiver_sdk::store::EventTime,
        limit: usize,
    ) -> Result<usize, receiver_sdk::store::StoreError> {
        self.store.purge_marks(before, limit).await
    }
}

#[tokio::test]
async fn regression_one_purge_batch_a_minute_fell_behind_a_busy_endpoint() {
    // The purge removed at most 1,000 expired ids a minute, fewer than an endpoint taking
    // more than 17 deliveries a second records: its store grew without end.
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::SystemTime;

    let offset = Arc::new(AtomicU64::new(0));
    let clock = Arc::clone(&offset);
    let store = Arc::new(CountingPurges {
        store: receiver_sdk::store::MemoryStore::new(),
        removed: Default::default(),
    });
    let receiver = Receiver::builder("busy")
        .envelope(Envelope::Raw)
        .store(Arc::clone(&store))
        .retention(Duration::from_secs(3_600))
        .clock(move || SystemTime::now() + Duration::from_secs(clock.load(Ordering::SeqCst)))
        .handler(|_: receiver_sdk::Delivery| async { Ok(()) })
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let recorded = 2_500;
    for job in 0..recorded {
        let body = format!(r#"{{"job": {job}}}"#);
        assert_eq!(post_json(&server, body).await.1, "handled");
    }
    // Past the retention window: the next delivery starts a purge of all of them.
    offset.store(3_600 + 120, Ordering::SeqCst);
    assert_eq!(post_json(&server, r#"{"job": "late"}"#).await.1, "handled");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while store.removed.load(Ordering::SeqCst) < recorded && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.removed.load(Ordering::SeqCst), recorded);
}

/// The bytes of every file under `dir`.
fn directory_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                directory_bytes(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

#[tokio::test]
async fn regression_a_6000_character_object_id_is_refused_before_the_handler_on_postgres() {
    // On PostgreSQL the key passed the btree row limit: the commit failed after the handler
    // (a relay) had run, the sender got 503 and retried, and every retry ran the relay again.
    let database = receiver_sdk::store::ScratchDatabase::create()
        .await
        .unwrap();
    let store = receiver_sdk::store::PostgresStore::builder(database.url())
        .unwrap()
        .pool_size(2)
        .connect()
        .await
        .unwrap();
    let recorder = Recorder::new();
    let receiver = Receiver::builder("sonar")
        .envelope(Envelope::Sonar)
        .store(store)
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let body = serde_json::json!({
        "event": "account.status",
        "object_id": "a".repeat(6_000),
        "current": {"created_at": "2021-05-25T20:48:40Z", "status": "active"},
    })
    .to_string();
    for _ in 0..3 {
        let (status, outcome, json) = post_json(&server, body.clone()).await;
        assert_eq!((status, outcome.as_str()), (400, "malformed"), "{json}");
        let message = json["message"].as_str().unwrap();
        assert!(message.contains("entity id"), "{message}");
        assert!(message.contains("1024"), "{message}");
    }
    assert!(recorder.applied().is_empty(), "the handler never ran");
    // An id at the limit is handled: the limit, not the database, decides.
    let at_limit = body.replace(&"a".repeat(6_000), &"a".repeat(1_024));
    assert_eq!(post_json(&server, at_limit).await.1, "handled");
    assert_eq!(recorder.applied().len(), 1);
}

#[tokio::test]
async fn regression_a_900_kb_event_type_is_refused_and_the_sled_directory_does_not_grow() {
    // A 900 KB event type was answered 200 and kept as a 900 KB key, for good.
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let receiver = Receiver::builder("sonar")
        .envelope(Envelope::Sonar)
        .store(receiver_sdk::store::SledStore::open(dir.path()).unwrap())
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let handled = sonar_body("account.status", 1, "2021-05-25T20:48:40Z", "active");
    assert_eq!(post_json(&server, handled).await.1, "handled");
    let before = directory_bytes(dir.path());
    for i in 0..5 {
        let body = sonar_body(
            &format!("{}{i}", "x".repeat(900 * 1024)),
            1,
            "2021-05-25T20:48:41Z",
            "active",
        );
        let (status, outcome, json) = post_json(&server, body).await;
        assert_eq!((status, outcome.as_str()), (400, "malformed"));
        assert!(json["message"].as_str().unwrap().contains("event type"));
    }
    server.stop().await;
    let after = directory_bytes(dir.path());
    assert!(
        after < before + 1024 * 1024,
        "the data directory grew from {before} to {after} bytes"
    );
    assert_eq!(recorder.applied().len(), 1);
}
