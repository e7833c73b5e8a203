//! example-github: `X-Hub-Signature-256`, ping, dedupe on `X-GitHub-Delivery`.

use serde_json::json;

use super::{hmac_sha256, Example};

const SECRET: &str = "It's a Secret to Everybody";
const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

pub(super) async fn start() -> Example {
    Example::start(
        |settings| settings.secret = Some(SECRET.into()),
        example_github::app,
    )
    .await
}

fn issue_opened() -> String {
    json!({"action": "opened", "issue": {"number": 1}, "repository": {"full_name": "octo/hello"}})
        .to_string()
}

/// Posts `body` as GitHub does: event and delivery headers, and `sha256=` with the hex
/// HMAC-SHA256 of the body keyed with the secret.
async fn deliver(
    example: &Example,
    secret: &str,
    event: &str,
    delivery: &str,
    body: &str,
) -> (u16, String) {
    let signature = format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &[body.as_bytes()]))
    );
    let headers = [
        ("X-GitHub-Event", event),
        ("X-GitHub-Delivery", delivery),
        ("X-Hub-Signature-256", signature.as_str()),
        ("User-Agent", "GitHub-Hookshot/044aadd"),
    ];
    example.outcome(&headers, body).await
}

#[tokio::test]
async fn a_signed_event_is_handled_and_printed() {
    let example = start().await;
    assert_eq!(
        deliver(&example, SECRET, "issues", DELIVERY, &issue_opened()).await,
        (200, "handled".into())
    );
    assert_eq!(
        example.lines.all(),
        [
            r#"{"created_at":null,"delivery":"72d3162e-cc78-11e3-81ab-4c9367dc0958","entity":null,"event":"issues"}"#
        ]
    );
}

#[tokio::test]
async fn a_redelivery_is_a_duplicate_and_prints_nothing() {
    let example = start().await;
    deliver(&example, SECRET, "issues", DELIVERY, &issue_opened()).await;
    assert_eq!(
        deliver(&example, SECRET, "issues", DELIVERY, &issue_opened()).await,
        (200, "duplicate".into())
    );
    assert_eq!(example.lines.all().len(), 1);
}

#[tokio::test]
async fn a_signature_made_with_another_secret_is_401() {
    let example = start().await;
    assert_eq!(
        deliver(
            &example,
            "not the secret",
            "issues",
            DELIVERY,
            &issue_opened()
        )
        .await,
        (401, "unauthorized".into())
    );
    assert!(example.lines.all().is_empty());
}

#[tokio::test]
async fn the_ping_sent_when_a_hook_is_created_is_answered_200_ignored() {
    let example = start().await;
    let ping = json!({"zen": "Design for failure.", "hook_id": 12345}).to_string();
    assert_eq!(
        deliver(
            &example,
            SECRET,
            "ping",
            "d2a3e2f0-0000-11e3-81ab-4c9367dc0958",
            &ping
        )
        .await,
        (200, "ignored".into())
    );
    assert!(example.lines.all().is_empty());
}
