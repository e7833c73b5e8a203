//! Senders configured by name over HTTP: a custom scheme described in `[endpoint.verify]`, and
//! a catalogue sender's envelope ordering its events.

use std::time::{SystemTime, UNIX_EPOCH};

use receiver_sdk::verify::sign;
use serde_json::json;

use crate::common::{outcome_of, post_response};
use crate::inspector_support::Served;

const ENDPOINTS: &str = r#"
[[endpoint]]
name = "acme"
path = "/acme"
[endpoint.verify]
kind = "custom"
algorithm = "sha1"
signed = "{header:X-Delivery}:{body}"
header = "X-Sig"
prefix = "sha1="
secrets = ["old", "acme-secret"]

[[endpoint]]
name = "zoom"
path = "/zoom"
envelope = "zoom"
ordering = true
[endpoint.verify]
kind = "zoom"
secrets = ["zoom-secret-token"]
"#;

async fn post(served: &Served, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let response = post_response(&served.url(path), body, headers).await;
    (response.status().as_u16(), outcome_of(&response))
}

#[tokio::test]
async fn a_custom_scheme_from_configuration_verifies_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), ENDPOINTS).await;
    // Computed independently with Python's `hmac`: HMAC-SHA1("acme-secret", "del_42:" + body).
    let body = r#"{"event":"order.paid","id":"ord_1"}"#;
    let signature = "sha1=130f4d5a8d5b5518393d955deeef8ee75097c21f";
    let signed = [("x-delivery", "del_42"), ("x-sig", signature)];
    assert_eq!(post(&served, "/acme", &signed, body).await.0, 200);
    let changed = body.replace("ord_1", "ord_2");
    assert_eq!(post(&served, "/acme", &signed, &changed).await.0, 401);
    // The delivery id is signed: the same body under another id is refused.
    let moved = [("x-delivery", "del_43"), ("x-sig", signature)];
    assert_eq!(post(&served, "/acme", &moved, body).await.0, 401);
    served.stop().await;
}

#[tokio::test]
async fn a_senders_envelope_by_name_orders_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), ENDPOINTS).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let event = |event_ts: u64| {
        json!({"event": "meeting.updated", "event_ts": event_ts,
            "payload": {"account_id": "AAAA", "object": {"id": "85432", "topic": "Stand-up"}}})
        .to_string()
    };
    let send = |body: String| {
        let served = &served;
        async move {
            let timestamp = now.to_string();
            let signature = sign::zoom("zoom-secret-token", now, body.as_bytes());
            let headers = [
                ("x-zm-request-timestamp", timestamp.as_str()),
                ("x-zm-signature", signature.as_str()),
            ];
            post(served, "/zoom", &headers, &body).await
        }
    };
    let newer = now * 1000;
    assert_eq!(send(event(newer)).await, (200, "handled".to_owned()));
    // An update Zoom sent earlier, arriving later, is older than what was handled.
    let (status, outcome) = send(event(newer - 5_000)).await;
    assert_eq!(outcome, "stale", "{status}");
    served.stop().await;
}
