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
    let request = client()
        .post(server.url("/events"))
        .header("content-type", "application/json")
        .header("ce-specversion", "1.0")
        .header("ce-type", "com.github.pull_request.opened")
        .header("ce-source", source)
        .header("ce-id", id)
        .header("ce-time", time)
        .header("ce-subject", "123")
        .body(json!({"number": 123}).to_string());
    sent(request).await
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
    let request = client()
        .post(server.url("/events"))
        .header(
            "content-type",
            "application/cloudevents+json; charset=utf-8",
        )
        .body(event.to_string());
    sent(request).await
}

/// The status and outcome of a request's answer.
async fn sent(request: reqwest::RequestBuilder) -> (u16, String) {
    let (status, outcome, _) = answer(request.send().await.unwrap()).await;
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

/// Messages the official CloudEvents SDK (npm `cloudevents`, tests/interop/cloudevents.mjs)
/// makes of `events` in `mode`, each with what the SDK itself reads back from it.
fn sdk_messages(mode: &str, events: serde_json::Value) -> Vec<serde_json::Value> {
    let input = json!({"mode": mode, "events": events});
    serde_json::from_slice(&end_to_end::node("cloudevents.mjs", &input)).unwrap()
}

async fn send_sdk_message(server: &Server, message: &serde_json::Value) -> (u16, String) {
    let mut request = client().post(server.url("/events"));
    for (name, value) in message["headers"].as_object().unwrap() {
        // Header values as bytes: the SDK writes attribute values as they are, UTF-8 too.
        let value = reqwest::header::HeaderValue::from_bytes(value.as_str().unwrap().as_bytes());
        request = request.header(name.as_str(), value.unwrap());
    }
    sent(request.body(message["body"].as_str().unwrap().to_owned())).await
}

#[tokio::test]
async fn every_mode_of_the_official_sdk_is_read_as_the_sdk_reads_it() {
    let events = json!([
        {"source": SOURCE, "type": "com.github.pull_request.opened", "subject": "123",
         "time": "2018-04-05T17:31:00Z", "data": {"number": 123}},
        {"source": SOURCE, "type": "com.github.pull_request.closed", "subject": "123",
         "time": "2018-04-05T17:32:00Z", "data": {"number": 123}},
    ]);
    for mode in ["binary", "structured", "batch"] {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new();
        let server = cloudevents_server(dir.path(), &recorder).await;
        let messages = sdk_messages(mode, events.clone());
        let mut expected = Vec::new();
        for message in &messages {
            let (status, outcome) = send_sdk_message(&server, message).await;
            let answered = if mode == "batch" { "batch" } else { "handled" };
            assert_eq!((status, outcome.as_str()), (200, answered), "{mode}");
            expected.extend(message["parsed"].as_array().unwrap().iter().cloned());
        }
        let applied = recorder.applied();
        assert_eq!(applied.len(), 2, "{mode}");
        for (ours, sdk) in applied.iter().zip(&expected) {
            let id = format!(
                "{} {}",
                sdk["source"].as_str().unwrap(),
                sdk["id"].as_str().unwrap()
            );
            assert_eq!(ours.delivery.as_deref(), Some(id.as_str()), "{mode}");
            assert_eq!(ours.event, sdk["type"].as_str().unwrap(), "{mode}");
            assert_eq!(
                ours.entity,
                sdk["subject"].as_str().map(str::to_owned),
                "{mode}"
            );
            let time = chrono::DateTime::parse_from_rfc3339(sdk["time"].as_str().unwrap()).unwrap();
            let ours_time =
                chrono::DateTime::parse_from_rfc3339(ours.created_at.as_deref().unwrap());
            assert_eq!(ours_time.unwrap(), time, "{mode}");
        }
        // The SDK's messages again: the same events, so nothing is handled twice.
        for message in &messages {
            send_sdk_message(&server, message).await;
        }
        assert_eq!(
            recorder.applied().len(),
            2,
            "{mode}: a retry was handled again"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn the_sdks_binary_mode_subject_outside_ascii_is_read_as_sent() {
    // The binding asks senders to percent-encode such values; the official SDK sends them as
    // UTF-8, and a receiver that refused them would refuse the SDK.
    let events = json!([{"source": SOURCE, "type": "com.example.note", "subject": "Notiz für Jörg €",
                         "time": "2018-04-05T17:31:00Z", "data": {}}]);
    let message = sdk_messages("binary", events).remove(0);
    assert_eq!(message["headers"]["ce-subject"], "Notiz für Jörg €");
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let server = cloudevents_server(dir.path(), &recorder).await;
    assert_eq!(
        send_sdk_message(&server, &message).await,
        (200, "handled".into())
    );
    assert_eq!(
        recorder.applied()[0].entity.as_deref(),
        Some("Notiz für Jörg €")
    );
    server.stop().await;
}
