//! CloudEvents over real HTTP and a real sled directory: binary and structured deliveries go
//! through one ordering guard and one dedupe record.

use axum::Router;
use end_to_end::{answer, client, Recorder, Server};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::ordering::OrderingScope;
use receiver_sdk::store::SledStore;
use receiver_sdk::Receiver;
use serde_json::json;

const SOURCE: &str = "https://github.com/cloudevents/spec/pull";

async fn cloudevents_server(dir: &std::path::Path, recorder: &Recorder) -> Server {
    let receiver = Receiver::builder("cloudevents")
        .envelope(Envelope::CloudEvents)
        .ordering(OrderingScope::PerEntity)
        .store(SledStore::open(dir).unwrap())
        .handler(recorder.handler())
        .build()
        .unwrap();
    Server::start(Router::new().route_service("/events", receiver)).await
}

/// A binary-mode delivery: attributes in `ce-*` headers, the data as the body.
async fn binary(server: &Server, source: &str, id: &str, time: &str) -> (u16, String) {
    let response = client()
        .post(server.url("/events"))
        .header("content-type", "application/json")
        .header("ce-specversion", "1.0")
        .header("ce-type", "com.github.pull_request.opened")
        .header("ce-source", source)
        .header("ce-id", id)
        .header("ce-time", time)
        .header("ce-subject", "123")
        .body(json!({"number": 123}).to_string())
        .send()
        .await
        .unwrap();
    let (status, outcome, _) = answer(response).await;
    (status, outcome)
}

/// A structured-mode delivery: the whole event as `application/cloudevents+json`.
async fn structured(server: &Server, source: &str, id: &str, time: &str) -> (u16, String) {
    let event = json!({
        "specversion": "1.0",
        "type": "com.github.pull_request.opened",
        "source": source,
        "subject": "123",
        "id": id,
        "time": time,
        "datacontenttype": "application/json",
        "data": {"number": 123}
    });
    let response = client()
        .post(server.url("/events"))
        .header(
            "content-type",
            "application/cloudevents+json; charset=utf-8",
        )
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    let (status, outcome, _) = answer(response).await;
    (status, outcome)
}

#[tokio::test]
async fn binary_and_structured_deliveries_are_ordered_and_deduped_together() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let server = cloudevents_server(dir.path(), &recorder).await;

    let first = binary(&server, SOURCE, "A1", "2018-04-05T17:31:10Z").await;
    assert_eq!(first, (200, "handled".into()));
    // The same source and id again, now structured: a retry of the same event.
    let retry = structured(&server, SOURCE, "A1", "2018-04-05T17:31:10Z").await;
    assert_eq!(retry, (200, "duplicate".into()));
    // A new event about the same subject, but older: stale, whichever mode carries it.
    let older = structured(&server, SOURCE, "A2", "2018-04-05T17:31:05Z").await;
    assert_eq!(older, (200, "stale".into()));
    let older = binary(&server, SOURCE, "A3", "2018-04-05T19:31:05+02:00").await;
    assert_eq!(older, (200, "stale".into()));
    // The same id and subject from another source is another delivery about another entity.
    let elsewhere = binary(
        &server,
        "https://github.com/cloudevents/sdk-go/pull",
        "A1",
        "2018-04-05T17:31:00Z",
    )
    .await;
    assert_eq!(elsewhere, (200, "handled".into()));
    let newer = structured(&server, SOURCE, "A4", "2018-04-05T17:31:20Z").await;
    assert_eq!(newer, (200, "handled".into()));

    let applied = recorder.applied();
    let deliveries: Vec<_> = applied.iter().map(|a| a.delivery.as_deref()).collect();
    assert_eq!(
        deliveries,
        [
            Some("https://github.com/cloudevents/spec/pull A1"),
            Some("https://github.com/cloudevents/sdk-go/pull A1"),
            Some("https://github.com/cloudevents/spec/pull A4"),
        ]
    );
    assert!(applied.iter().all(|a| a.entity.as_deref() == Some("123")));
    server.stop().await;
}

#[tokio::test]
async fn a_delivery_without_a_required_attribute_is_400_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let server = cloudevents_server(dir.path(), &recorder).await;

    let response = client()
        .post(server.url("/events"))
        .header("content-type", "application/json")
        .header("ce-specversion", "1.0")
        .header("ce-type", "com.example.someevent")
        .header("ce-source", "/mycontext")
        .body("{}")
        .send()
        .await
        .unwrap();
    let (status, outcome, body) = answer(response).await;
    assert_eq!((status, outcome.as_str()), (400, "malformed"));
    assert_eq!(body["message"], "missing header `ce-id`");

    let response = client()
        .post(server.url("/events"))
        .header("content-type", "application/cloudevents+json")
        .body(json!({"specversion": "1.0", "id": "1", "source": "/mycontext"}).to_string())
        .send()
        .await
        .unwrap();
    let (status, _, body) = answer(response).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "missing field `type`");
    assert!(recorder.applied().is_empty());
    server.stop().await;
}
