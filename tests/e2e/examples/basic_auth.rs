//! example-basic-auth: the field-service platform's Basic auth, event ids as delivery ids, no
//! ordering.

use serde_json::json;

use super::{base64, Example};

const USER: &str = "fieldservice";
const PASSWORD: &str = "correct horse battery staple";

pub(super) async fn start() -> Example {
    Example::start(
        |settings| {
            settings.user = Some(USER.into());
            settings.password = Some(PASSWORD.into());
        },
        example_basic_auth::app,
    )
    .await
}

fn event(id: &str, event: &str, created_at: &str) -> String {
    json!({"id": id, "event": event, "created_at": created_at,
        "data": {"id": 1234, "status": "scheduled"}})
    .to_string()
}

/// The `Authorization` value the platform sends: `Basic` and base64 of `user:password`.
fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}")))
}

async fn deliver(example: &Example, password: &str, body: &str) -> (u16, String) {
    let authorization = basic(USER, password);
    example
        .outcome(&[("Authorization", authorization.as_str())], body)
        .await
}

#[tokio::test]
async fn an_event_with_the_right_credentials_is_handled_and_printed() {
    let example = start().await;
    let body = event("evt_8d2f", "job.status_changed", "2024-05-01T12:00:00Z");
    assert_eq!(
        deliver(&example, PASSWORD, &body).await,
        (200, "handled".into())
    );
    assert_eq!(
        example.lines.all(),
        [
            r#"{"created_at":"2024-05-01T12:00:00+00:00","delivery":"evt_8d2f","entity":"1234","event":"job.status_changed"}"#
        ]
    );
}

#[tokio::test]
async fn the_five_minute_retry_of_a_handled_event_is_a_duplicate() {
    let example = start().await;
    let body = event("evt_8d2f", "job.status_changed", "2024-05-01T12:00:00Z");
    deliver(&example, PASSWORD, &body).await;
    assert_eq!(
        deliver(&example, PASSWORD, &body).await,
        (200, "duplicate".into())
    );
    assert_eq!(example.lines.all().len(), 1);
}

#[tokio::test]
async fn a_wrong_password_is_401_with_a_basic_challenge() {
    let example = start().await;
    let body = event("evt_8d2f", "job.status_changed", "2024-05-01T12:00:00Z");
    let response = example
        .send(&[("Authorization", &basic(USER, "wrong password"))], &body)
        .await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with(r#"Basic realm="webhooks""#),
        "{challenge}"
    );
    assert!(example.lines.all().is_empty());
}

#[tokio::test]
async fn an_event_without_credentials_is_401() {
    let example = start().await;
    let body = event("evt_8d2f", "job.status_changed", "2024-05-01T12:00:00Z");
    let (status, outcome, json) = example.post(&[], &body).await;
    assert_eq!((status, outcome.as_str()), (401, "unauthorized"));
    assert_eq!(json["message"], "missing credentials");
}

#[tokio::test]
async fn an_older_event_arriving_late_is_still_handled_because_this_example_does_not_order() {
    let example = start().await;
    let newer = event("evt_2", "job.image_created", "2024-05-01T12:05:00Z");
    let older = event("evt_1", "job.image_created", "2024-05-01T12:00:00Z");
    assert_eq!(
        deliver(&example, PASSWORD, &newer).await,
        (200, "handled".into())
    );
    assert_eq!(
        deliver(&example, PASSWORD, &older).await,
        (200, "handled".into())
    );
    assert_eq!(example.lines.all().len(), 2);
}
