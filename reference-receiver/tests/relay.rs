//! The sync relay, end to end: the built binary, a sender, a source API and a downstream API.

mod common;

use axum::http::StatusCode;
use common::{post, serve_config, FakeApi};

fn sonar(object_id: u64, created_at: &str, status: &str) -> String {
    serde_json::json!({
        "event": "account.status",
        "object_id": object_id,
        "current": { "created_at": created_at, "status": status }
    })
    .to_string()
}

fn config(downstream: &str) -> String {
    format!(
        r#"
[[endpoint]]
name = "sonar"
path = "/hooks/sonar"
envelope = "sonar"
ordering = true
[endpoint.relay]
mode = "sync"
method = "PATCH"
url = "{downstream}/accounts/{{{{ entity }}}}"
body = '{{"status": {{{{ payload.current.status | tojson }}}}, "changed_at": "{{{{ created_at }}}}"}}'
headers = {{ "X-Event" = "{{{{ event }}}}" }}
[endpoint.relay.auth]
kind = "bearer"
token_env = "DOWNSTREAM_TOKEN"
"#
    )
}

#[tokio::test]
async fn a_sonar_event_becomes_the_right_patch_and_a_stale_one_calls_nothing() {
    let downstream = FakeApi::new(|_| (StatusCode::OK, "{}".into()));
    let base = downstream.start().await;
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(
        dir.path(),
        &config(&base),
        &[("DOWNSTREAM_TOKEN", "d0wnstream-t0ken")],
    );
    let url = format!("{}/hooks/sonar", running.base);

    let (status, outcome, _) =
        post(&url, &sonar(42, "2021-05-25T20:48:40+00:00", "active"), &[]).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
    let seen = downstream.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(seen[0].path, "/accounts/42");
    assert_eq!(seen[0].headers["authorization"], "Bearer d0wnstream-t0ken");
    assert_eq!(seen[0].headers["x-event"], "account.status");
    assert_eq!(
        seen[0].headers["idempotency-key"].to_str().unwrap().len(),
        "sonar:sha256:".len() + 64
    );
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "active", "changed_at": "2021-05-25T20:48:40+00:00"})
    );

    // Older than what was relayed: answered 200 stale, and downstream is not called.
    let (status, outcome, _) = post(
        &url,
        &sonar(42, "2021-05-25T20:40:00+00:00", "delinquent"),
        &[],
    )
    .await;
    assert_eq!((status, outcome.as_str()), (200, "stale"));
    assert_eq!(downstream.seen().len(), 1);
    assert!(
        !running.log().contains("d0wnstream-t0ken"),
        "the token was logged"
    );
}

#[tokio::test]
async fn downstream_refusals_reach_the_sender_as_4xx_with_the_downstream_message() {
    let downstream = FakeApi::new(|seen| match seen.path.as_str() {
        "/accounts/404" => (
            StatusCode::NOT_FOUND,
            r#"{"message":"no account 404 here"}"#.into(),
        ),
        "/accounts/422" => (
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"errors":[{"message":"status `bogus` is not allowed"}]}"#.into(),
        ),
        "/accounts/500" => (StatusCode::INTERNAL_SERVER_ERROR, "boom".into()),
        _ => (StatusCode::NO_CONTENT, String::new()),
    });
    let base = downstream.start().await;
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(dir.path(), &config(&base), &[("DOWNSTREAM_TOKEN", "t")]);
    let url = format!("{}/hooks/sonar", running.base);
    let at = "2021-05-25T20:48:40+00:00";

    let (status, outcome, message) = post(&url, &sonar(404, at, "active"), &[]).await;
    assert_eq!((status, outcome.as_str()), (404, "rejected"));
    assert_eq!(message, "downstream answered 404: no account 404 here");

    let (status, _, message) = post(&url, &sonar(422, at, "bogus"), &[]).await;
    assert_eq!(status, 422);
    assert_eq!(
        message,
        "downstream answered 422: status `bogus` is not allowed"
    );

    let (status, _, message) = post(&url, &sonar(500, at, "active"), &[]).await;
    assert_eq!(status, 502, "a downstream failure asks the sender to retry");
    assert_eq!(message, "downstream answered 500: boom");

    // A refused event did not advance the mark: once the downstream accepts, the retry lands.
    let (status, outcome, _) = post(&url, &sonar(7, at, "active"), &[]).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
}

#[tokio::test]
async fn an_unreachable_downstream_answers_502_and_a_missing_field_names_the_template() {
    // Nothing listens on this port once the listener is dropped.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(dir.path(), &config(&closed), &[("DOWNSTREAM_TOKEN", "t")]);
    let url = format!("{}/hooks/sonar", running.base);
    let (status, _, message) = post(&url, &sonar(1, "2021-05-25T20:48:40Z", "x"), &[]).await;
    assert_eq!(status, 502);
    assert!(
        message.starts_with("downstream is unreachable"),
        "{message}"
    );

    let no_status = r#"{"event":"account.status","object_id":2,"current":{"created_at":"2021-05-25T20:48:40Z"}}"#;
    let (status, _, message) = post(&url, no_status, &[]).await;
    assert_eq!(status, 422);
    assert!(message.contains("template `sonar.relay.body`"), "{message}");
}

#[tokio::test]
async fn the_entity_is_fetched_from_the_source_api_and_mapped_into_the_patch() {
    let source = FakeApi::new(|seen| match seen.path.as_str() {
        "/api/USER/IDNUMBER1234" => (
            StatusCode::OK,
            r#"{"id":"IDNUMBER1234","email":"new@example.com","name":"Ada"}"#.into(),
        ),
        _ => (StatusCode::NOT_FOUND, r#"{"error":"no such user"}"#.into()),
    });
    let downstream = FakeApi::new(|_| (StatusCode::OK, "{}".into()));
    let (source_base, downstream_base) = (source.start().await, downstream.start().await);
    let config = format!(
        r#"
[[endpoint]]
name = "identity"
path = "/hooks/identity"
envelope = "integration"
[endpoint.relay]
method = "PATCH"
url = "{downstream_base}/customers/{{{{ entity }}}}"
body = '{{"email": {{{{ source.email | tojson }}}}, "name": {{{{ source.name | tojson }}}}}}'
[endpoint.relay.fetch]
url = "{source_base}/api/{{{{ entity_type }}}}/{{{{ entity }}}}"
[endpoint.relay.fetch.auth]
kind = "header"
header = "X-Api-Key"
token = "source-key"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let running = serve_config(dir.path(), &config, &[]);
    let url = format!("{}/hooks/identity", running.base);
    let event = r#"{"id":"IDNUMBER1234","entityType":"USER","eventType":"UPDATE","timestamp":"2019-01-01T00:00:00Z"}"#;
    let (status, outcome, _) = post(&url, event, &[]).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
    assert_eq!(source.seen()[0].headers["x-api-key"], "source-key");
    let patch = &downstream.seen()[0];
    assert_eq!(patch.path, "/customers/IDNUMBER1234");
    let body: serde_json::Value = serde_json::from_slice(&patch.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"email": "new@example.com", "name": "Ada"})
    );

    let missing = r#"{"id":"GONE","entityType":"USER","eventType":"UPDATE","timestamp":"2019-01-01T00:00:01Z"}"#;
    let (status, _, message) = post(&url, missing, &[]).await;
    assert_eq!(status, 404);
    assert_eq!(message, "source API answered 404: no such user");
    assert_eq!(downstream.seen().len(), 1);
}
