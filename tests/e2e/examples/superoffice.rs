//! example-superoffice: signed with `X-SuperOffice-Signature`, one mark per contact.

use serde_json::json;

use super::{base64, hmac_sha256, Example};

const SECRET: &str = "Something Super Secret";

pub(super) async fn start() -> Example {
    Example::start(
        |settings| settings.secret = Some(SECRET.into()),
        example_superoffice::app,
    )
    .await
}

/// A SuperOffice event about contact 42.
fn event(event: &str, event_id: &str, timestamp: &str) -> String {
    json!({
        "EventId": event_id,
        "Timestamp": timestamp,
        "Event": event,
        "Entity": "contact",
        "PrimaryKey": 42,
        "ContextIdentifier": "Cust12345",
        "Changes": ["name"],
        "ChangedByAssociateId": 5,
    })
    .to_string()
}

/// Posts `body` signed as SuperOffice signs: base64 HMAC-SHA256 of the body, keyed with the
/// secret's UTF-8 bytes.
async fn deliver(
    example: &Example,
    secret: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let signature = base64(hmac_sha256(secret.as_bytes(), &[body.as_bytes()]));
    let mut headers = vec![("X-SuperOffice-Signature", signature.as_str())];
    headers.extend_from_slice(extra);
    example.outcome(&headers, body).await
}

#[tokio::test]
async fn a_signed_contact_change_is_handled_and_printed() {
    let example = start().await;
    let body = event("contact.changed", "ev-1", "2024-05-01T12:00:00Z");
    assert_eq!(
        deliver(&example, SECRET, &[], &body).await,
        (200, "handled".into())
    );
    assert_eq!(
        example.lines.all(),
        [
            r#"{"created_at":"2024-05-01T12:00:00+00:00","delivery":"ev-1","entity":"42","event":"contact.changed"}"#
        ]
    );
}

#[tokio::test]
async fn a_retry_of_a_handled_event_is_a_duplicate_and_prints_nothing() {
    let example = start().await;
    let body = event("contact.changed", "ev-1", "2024-05-01T12:00:00Z");
    deliver(&example, SECRET, &[], &body).await;
    assert_eq!(
        deliver(&example, SECRET, &[], &body).await,
        (200, "duplicate".into())
    );
    assert_eq!(example.lines.all().len(), 1);
}

#[tokio::test]
async fn a_signature_made_with_another_secret_is_401() {
    let example = start().await;
    let body = event("contact.changed", "ev-1", "2024-05-01T12:00:00Z");
    assert_eq!(
        deliver(&example, "not the secret", &[], &body).await,
        (401, "unauthorized".into())
    );
    assert!(example.lines.all().is_empty());
}

#[tokio::test]
async fn the_registration_test_post_is_answered_200_ignored() {
    let example = start().await;
    let body = json!({"Event": "test", "EventId": "test-1"}).to_string();
    assert_eq!(
        deliver(&example, SECRET, &[("X-Hook-Test", "true")], &body).await,
        (200, "ignored".into())
    );
    assert!(example.lines.all().is_empty());
}

#[tokio::test]
async fn an_unsigned_registration_test_is_acknowledged_but_an_unsigned_event_is_not() {
    let example = start().await;
    let test = json!({"Event": "test"}).to_string();
    assert_eq!(
        example.outcome(&[("X-Hook-Test", "true")], &test).await,
        (200, "ignored".into())
    );
    let change = event("contact.changed", "ev-9", "2024-05-01T12:00:00Z");
    assert_eq!(
        example.outcome(&[], &change).await,
        (401, "unauthorized".into())
    );
    assert!(example.lines.all().is_empty());
}

#[tokio::test]
async fn a_change_older_than_a_handled_delete_of_the_contact_is_stale() {
    let example = start().await;
    let delete = event("contact.deleted", "ev-2", "2024-05-01T12:05:00Z");
    let late_change = event("contact.changed", "ev-1", "2024-05-01T12:00:00Z");
    assert_eq!(
        deliver(&example, SECRET, &[], &delete).await,
        (200, "handled".into())
    );
    assert_eq!(
        deliver(&example, SECRET, &[], &late_change).await,
        (200, "stale".into())
    );
    let lines = example.lines.all();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("contact.deleted"), "{lines:?}");
}

#[tokio::test]
async fn state_events_of_the_webhook_itself_are_ignored() {
    let example = start().await;
    let body = json!({"Event": "webhook123.started", "EventId": "ev-9",
        "Timestamp": "2024-05-01T12:00:00Z"})
    .to_string();
    assert_eq!(
        deliver(&example, SECRET, &[], &body).await,
        (200, "ignored".into())
    );
    assert!(example.lines.all().is_empty());
}
