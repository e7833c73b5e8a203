//! example-standard-webhooks: `webhook-id`/`webhook-timestamp`/`webhook-signature`, dedupe on
//! the message id.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::json;

use super::{base64, hmac_sha256, Example};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub(super) async fn start() -> Example {
    Example::start(
        |settings| settings.secret = Some(SECRET.into()),
        example_standard_webhooks::app,
    )
    .await
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs()
}

fn invoice_paid() -> String {
    json!({"type": "invoice.paid", "timestamp": "2024-05-01T12:00:00Z", "data": {"id": "inv_42"}})
        .to_string()
}

/// Posts `body` as attempt `timestamp` of message `id`, signed as the standard says: `v1,`
/// and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed with the base64-decoded
/// part of `secret` after `whsec_`.
async fn deliver(
    example: &Example,
    secret: &str,
    id: &str,
    timestamp: u64,
    body: &str,
) -> (u16, String) {
    let key = BASE64
        .decode(secret.trim_start_matches("whsec_"))
        .expect("the secret is base64");
    let timestamp = timestamp.to_string();
    let signature = base64(hmac_sha256(
        &key,
        &[
            id.as_bytes(),
            b".",
            timestamp.as_bytes(),
            b".",
            body.as_bytes(),
        ],
    ));
    let signature = format!("v1,{signature}");
    let headers = [
        ("webhook-id", id),
        ("webhook-timestamp", timestamp.as_str()),
        ("webhook-signature", signature.as_str()),
    ];
    example.outcome(&headers, body).await
}

#[tokio::test]
async fn a_signed_message_is_handled_and_printed() {
    let example = start().await;
    assert_eq!(
        deliver(&example, SECRET, "msg_1", now(), &invoice_paid()).await,
        (200, "handled".into())
    );
    assert_eq!(
        example.lines.all(),
        [
            r#"{"created_at":"2024-05-01T12:00:00+00:00","delivery":"msg_1","entity":"inv_42","event":"invoice.paid"}"#
        ]
    );
}

#[tokio::test]
async fn a_retry_signed_anew_for_the_same_message_id_is_a_duplicate() {
    let example = start().await;
    let sent = now();
    deliver(&example, SECRET, "msg_1", sent, &invoice_paid()).await;
    // A retry is a new attempt: same id and body, a later timestamp and so a new signature.
    assert_eq!(
        deliver(&example, SECRET, "msg_1", sent + 1, &invoice_paid()).await,
        (200, "duplicate".into())
    );
    assert_eq!(example.lines.all().len(), 1);
}

#[tokio::test]
async fn a_signature_made_with_another_secret_is_401() {
    let example = start().await;
    let other = "whsec_c2VjcmV0LWtleS1vZi1zb21lb25lLWVsc2U=";
    assert_eq!(
        deliver(&example, other, "msg_1", now(), &invoice_paid()).await,
        (401, "unauthorized".into())
    );
    assert!(example.lines.all().is_empty());
}

#[tokio::test]
async fn a_validly_signed_attempt_from_ten_minutes_ago_is_401_as_a_replay() {
    let example = start().await;
    assert_eq!(
        deliver(&example, SECRET, "msg_1", now() - 600, &invoice_paid()).await,
        (401, "unauthorized".into())
    );
    assert!(example.lines.all().is_empty());
}
