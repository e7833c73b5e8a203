//! example-sonar: a HEAD probe, unsigned POSTs, one mark per event type and account, and
//! Sonar's retries (once a minute for 4 hours, until exactly 200) answered 200.

use serde_json::json;

use super::Example;

pub(super) async fn start() -> Example {
    Example::start(|_| {}, example_sonar::app).await
}

/// A Sonar event about account 42, in the documented shape: `current` holds the object as it
/// is now, with the time Sonar queued the webhook.
fn event(event: &str, created_at: &str, account_status_id: u64) -> String {
    json!({
        "event": event,
        "object_id": 42,
        "current": {
            "created_at": created_at,
            "id": 42,
            "name": "Jane Doe",
            "account_status_id": account_status_id,
            "account_type_id": 1,
        },
    })
    .to_string()
}

#[tokio::test]
async fn the_head_probe_is_answered_200_with_no_body_and_prints_nothing() {
    let example = start().await;
    let response = super::client()
        .head(example.server.url("/webhook"))
        .send()
        .await
        .expect("HEAD /webhook");
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.expect("HEAD body").len(), 0);
    assert!(example.lines.all().is_empty());
}

#[tokio::test]
async fn an_unsigned_account_status_is_handled_and_printed() {
    let example = start().await;
    let body = event("account.status", "2021-05-25T20:48:40+00:00", 2);
    let (status, outcome, answer) = example.post(&[], &body).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
    assert_eq!(answer["outcome"], "handled");
    assert_eq!(
        example.lines.all(),
        [
            r#"{"created_at":"2021-05-25T20:48:40+00:00","delivery":null,"entity":"42","event":"account.status"}"#
        ]
    );
}

#[tokio::test]
async fn a_retry_of_a_handled_event_is_a_200_duplicate_and_prints_nothing_more() {
    let example = start().await;
    let body = event("account.status", "2021-05-25T20:48:40+00:00", 2);
    example.outcome(&[], &body).await;
    // Sonar sends no delivery id: the retry is known by its body, byte for byte.
    assert_eq!(example.outcome(&[], &body).await, (200, "duplicate".into()));
    assert_eq!(example.lines.all().len(), 1);
}

#[tokio::test]
async fn a_late_retry_of_an_older_status_is_a_200_stale_and_not_handled() {
    let example = start().await;
    let newer = event("account.status", "2021-05-25T20:50:00+00:00", 3);
    let older = event("account.status", "2021-05-25T20:48:40+00:00", 2);
    assert_eq!(example.outcome(&[], &newer).await, (200, "handled".into()));
    // Exactly 200, so Sonar stops retrying the old status instead of trying for 4 hours.
    assert_eq!(example.outcome(&[], &older).await, (200, "stale".into()));
    let lines = example.lines.all();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("20:50:00"), "{lines:?}");
}

#[tokio::test]
async fn an_older_event_of_another_type_for_the_same_account_is_still_handled() {
    let example = start().await;
    let status = event("account.status", "2021-05-25T20:50:00+00:00", 3);
    let service = event("account.service.add", "2021-05-25T20:48:40+00:00", 3);
    assert_eq!(example.outcome(&[], &status).await, (200, "handled".into()));
    assert_eq!(
        example.outcome(&[], &service).await,
        (200, "handled".into())
    );
    let lines = example.lines.all();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[1].contains(r#""event":"account.service.add""#),
        "{lines:?}"
    );
}

#[tokio::test]
async fn an_event_without_an_object_id_is_400_malformed_naming_the_field() {
    let example = start().await;
    let body = json!({"event": "account.status",
        "current": {"created_at": "2021-05-25T20:48:40+00:00"}})
    .to_string();
    let (status, outcome, answer) = example.post(&[], &body).await;
    assert_eq!((status, outcome.as_str()), (400, "malformed"));
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains("object_id"), "{message}");
    assert!(example.lines.all().is_empty());
}
