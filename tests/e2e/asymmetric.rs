//! The public-key senders over HTTP: Discord and Standard Webhooks `v1a` (Ed25519), SendGrid
//! (ECDSA P-256). Deliveries are signed by Node's crypto (OpenSSL) and must verify with us; the
//! SDK's `sign` helpers' output must verify with the senders' official libraries
//! (discord-interactions, @sendgrid/eventwebhook; see tests/interop/asymmetric.mjs).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use end_to_end::{client, Recorder, Server};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::verify::{sign, Verifier};
use receiver_sdk::Receiver;
use serde_json::{json, Value};

/// Ed25519 seeds (hex): RFC 8032's first test key and a random one.
const DISCORD_KEYS: [&str; 2] = [
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "2698bc67ee2a6b285630b944699a96c303651a9d81a589ec1d287343fb51cb52",
];

/// The Standard Webhooks libraries' two asymmetric test keys.
const WHSK: [&str; 2] = [
    "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
    "whsk_V0VCSE9PS0FTWU1NRVRSSUNURVNUUFJJVkFURUtFWTE=",
];

/// Throwaway PKCS#8 P-256 keys made with openssl.
pub(crate) const P256_KEYS: [&str; 2] = [
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQga4e55cDCt9ezOnBV9vAsJOCTr1g+vbHM4FQbfed+9AShRANCAAQV7x5quAVXJfoZrkc3B+N+X1+w8EuQZieYDr5AAV3IFnw1iNGlrEFwJdA+blYjHV6RqOWtw+T9RNfnoRprZxWq",
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgYDnBEU783teBwqkZWDGlRFBzE06kAR1yZ6m/6AMT+t+hRANCAARGz5ENyAsYf7fXZ6FEM7RFFkSaHprG0n9VnRe4PyZUZDeEm6pS1eucmpRyUhSacjzIJnAZMYc1524IqGCVUyof",
];

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Runs tests/interop/asymmetric.mjs with `input` and returns what it prints.
fn node(input: Value) -> Value {
    serde_json::from_slice(&end_to_end::node("asymmetric.mjs", &input))
        .expect("asymmetric.mjs prints JSON")
}

pub(crate) fn node_signs(
    scheme: &str,
    private_key: &str,
    body: &str,
    id: &str,
    timestamp: u64,
) -> String {
    let signed = node(json!({
        "op": "sign", "scheme": scheme, "private_key": private_key,
        "body": body, "id": id, "timestamp": timestamp,
    }));
    signed["signature"].as_str().unwrap().to_owned()
}

pub(crate) fn library_accepts(
    scheme: &str,
    public_key: &str,
    body: &str,
    id: &str,
    timestamp: u64,
    signature: &str,
) -> bool {
    let checked = node(json!({
        "op": "verify", "scheme": scheme, "public_key": public_key, "body": body,
        "id": id, "timestamp": timestamp, "signature": signature,
    }));
    checked["valid"].as_bool().unwrap()
}

struct Endpoint {
    server: Server,
    recorder: Recorder,
}

async fn endpoint(verifier: Verifier, envelope: Envelope) -> Endpoint {
    let recorder = Recorder::new();
    let receiver = Receiver::builder("signed")
        .verifier(verifier)
        .envelope(envelope)
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    Endpoint { server, recorder }
}

impl Endpoint {
    /// The status and `x-webhook-outcome` of one POST.
    async fn post(&self, headers: &[(&str, String)], body: &str) -> (u16, String) {
        let mut request = client()
            .post(self.server.url("/webhook"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        let outcome = response.headers()["x-webhook-outcome"]
            .to_str()
            .unwrap()
            .to_owned();
        (response.status().as_u16(), outcome)
    }
}

fn discord_headers(signature: String, timestamp: u64) -> Vec<(&'static str, String)> {
    vec![
        ("x-signature-ed25519", signature),
        ("x-signature-timestamp", timestamp.to_string()),
    ]
}

#[tokio::test]
async fn discord_interactions_signed_by_node_verify_and_rotate() {
    let public: Vec<String> = DISCORD_KEYS
        .iter()
        .map(|key| sign::discord_public_key(key).unwrap())
        .collect();
    let ep = endpoint(Verifier::discord(&public).unwrap(), Envelope::Raw).await;
    for (index, key) in DISCORD_KEYS.iter().enumerate() {
        let body = format!(r#"{{"type":2,"id":"{index}","data":{{"name":"ping"}}}}"#);
        let signed_at = now();
        let signature = node_signs("discord", key, &body, "", signed_at);
        let headers = discord_headers(signature, signed_at);
        assert_eq!(
            ep.post(&headers, &body).await,
            (200, "handled".into()),
            "key {index}"
        );
        let tampered = body.replace("ping", "pong");
        assert_eq!(ep.post(&headers, &tampered).await.0, 401, "key {index}");
    }
    let late = now() - 600;
    let body = r#"{"type":2,"id":"late"}"#;
    let expired = discord_headers(node_signs("discord", DISCORD_KEYS[0], body, "", late), late);
    assert_eq!(ep.post(&expired, body).await, (401, "unauthorized".into()));
    assert_eq!(ep.recorder.applied().len(), 2);
}

#[tokio::test]
async fn discord_signatures_from_the_sdk_verify_with_discord_interactions() {
    let public = sign::discord_public_key(DISCORD_KEYS[0]).unwrap();
    let body = r#"{"type":1}"#;
    let signature = sign::discord(DISCORD_KEYS[0], 1_700_000_000, body.as_bytes()).unwrap();
    assert!(library_accepts(
        "discord",
        &public,
        body,
        "",
        1_700_000_000,
        &signature
    ));
    assert!(!library_accepts(
        "discord",
        &public,
        r#"{"type":2}"#,
        "",
        1_700_000_000,
        &signature
    ));
    let other = sign::discord_public_key(DISCORD_KEYS[1]).unwrap();
    assert!(!library_accepts(
        "discord",
        &other,
        body,
        "",
        1_700_000_000,
        &signature
    ));
}

pub(crate) fn sendgrid_headers(signature: String, timestamp: u64) -> Vec<(&'static str, String)> {
    vec![
        ("x-twilio-email-event-webhook-signature", signature),
        (
            "x-twilio-email-event-webhook-timestamp",
            timestamp.to_string(),
        ),
    ]
}

fn sendgrid_body(event: &str) -> String {
    format!(
        "[{{\"email\":\"hello@example.com\",\"event\":\"{event}\",\"sg_event_id\":\"{event}-1\",\"timestamp\":1700000000}}]\r\n"
    )
}

#[tokio::test]
async fn sendgrid_batches_signed_by_node_verify_and_rotate() {
    let public: Vec<String> = P256_KEYS
        .iter()
        .map(|key| sign::sendgrid_public_key(key).unwrap())
        .collect();
    let ep = endpoint(Verifier::sendgrid(&public).unwrap(), Envelope::Raw).await;
    // OpenSSL's signatures are randomised, high-S or low-S alike: several per key.
    for (index, key) in P256_KEYS.iter().enumerate() {
        for round in 0..4 {
            let body = sendgrid_body(&format!("delivered-{index}-{round}"));
            let signed_at = now();
            let signature = node_signs("sendgrid", key, &body, "", signed_at);
            let headers = sendgrid_headers(signature, signed_at);
            assert_eq!(
                ep.post(&headers, &body).await,
                (200, "handled".into()),
                "key {index}"
            );
            let tampered = body.replace("hello", "hellp");
            assert_eq!(ep.post(&headers, &tampered).await.0, 401, "key {index}");
        }
    }
    let late = now() - 600;
    let body = sendgrid_body("late");
    let expired = sendgrid_headers(node_signs("sendgrid", P256_KEYS[0], &body, "", late), late);
    assert_eq!(ep.post(&expired, &body).await, (401, "unauthorized".into()));
    assert_eq!(ep.recorder.applied().len(), 8);
}

#[tokio::test]
async fn sendgrid_signatures_from_the_sdk_verify_with_sendgrid_eventwebhook() {
    let public = sign::sendgrid_public_key(P256_KEYS[0]).unwrap();
    let body = sendgrid_body("processed");
    let signature = sign::sendgrid(P256_KEYS[0], 1_700_000_000, body.as_bytes()).unwrap();
    assert!(library_accepts(
        "sendgrid",
        &public,
        &body,
        "",
        1_700_000_000,
        &signature
    ));
    assert!(!library_accepts(
        "sendgrid",
        &public,
        &body,
        "",
        1_700_000_001,
        &signature
    ));
    let other = sign::sendgrid_public_key(P256_KEYS[1]).unwrap();
    assert!(!library_accepts(
        "sendgrid",
        &other,
        &body,
        "",
        1_700_000_000,
        &signature
    ));
}

fn v1a_body(id: u32) -> String {
    json!({
        "type": "invoice.paid",
        "timestamp": "2024-03-01T10:00:00Z",
        "data": { "id": format!("inv_{id}"), "amount": 1200 }
    })
    .to_string()
}

#[tokio::test]
async fn standard_webhooks_v1a_signed_by_node_verify_and_rotate() {
    let public: Vec<String> = WHSK
        .iter()
        .map(|key| sign::standard_webhooks_public_key(key).unwrap())
        .collect();
    let ep = endpoint(
        Verifier::standard_webhooks_v1a(&public).unwrap(),
        Envelope::StandardWebhooks,
    )
    .await;
    for (index, key) in WHSK.iter().enumerate() {
        let id = format!("msg_v1a_{index}");
        let body = v1a_body(index as u32);
        let signed_at = now();
        let signature = node_signs("standard-webhooks-v1a", key, &body, &id, signed_at);
        // A v1 entry beside it, as a sender signing both ways sends, is skipped.
        let signature = format!("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {signature}");
        let headers = vec![
            ("webhook-id", id.clone()),
            ("webhook-timestamp", signed_at.to_string()),
            ("webhook-signature", signature),
        ];
        assert_eq!(
            ep.post(&headers, &body).await,
            (200, "handled".into()),
            "key {index}"
        );
        assert_eq!(
            ep.recorder.applied()[index].delivery.as_deref(),
            Some(id.as_str())
        );
        let tampered = body.replace("1200", "1201");
        assert_eq!(ep.post(&headers, &tampered).await.0, 401, "key {index}");
    }
    let late = now() - 600;
    let body = v1a_body(9);
    let headers = vec![
        ("webhook-id", "msg_late".to_owned()),
        ("webhook-timestamp", late.to_string()),
        (
            "webhook-signature",
            node_signs("standard-webhooks-v1a", WHSK[0], &body, "msg_late", late),
        ),
    ];
    assert_eq!(ep.post(&headers, &body).await, (401, "unauthorized".into()));
}

#[tokio::test]
async fn standard_webhooks_v1a_signatures_from_the_sdk_verify_with_node() {
    let public = sign::standard_webhooks_public_key(WHSK[0]).unwrap();
    let body = v1a_body(1);
    let signature =
        sign::standard_webhooks_v1a(WHSK[0], "msg_1", 1_700_000_000, body.as_bytes()).unwrap();
    let check = |id: &str| {
        library_accepts(
            "standard-webhooks-v1a",
            &public,
            &body,
            id,
            1_700_000_000,
            &signature,
        )
    };
    assert!(check("msg_1"));
    assert!(!check("msg_2"));
}
