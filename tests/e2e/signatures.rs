//! Verification over HTTP, with deliveries signed by the senders' own published libraries
//! (Standard Webhooks, Svix, Octokit, Stripe; see tests/interop) or, for senders without a
//! library, by HMACs computed here independently of the SDK.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use base64::Engine;
use end_to_end::{client, real_signer, Recorder, Server};
use hmac::{Hmac, Mac};
use receiver_sdk::envelope::{Envelope, Field, Mapping};
use receiver_sdk::verify::Verifier;
use receiver_sdk::{Receiver, Secret};
use sha2::Sha256;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WHSEC_NEXT: &str = "whsec_dGhlIG5leHQgc2VjcmV0IGFmdGVyIHJvdGF0aW9u";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
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
    async fn post(&self, headers: &[(String, String)], body: &str) -> (u16, String, String) {
        let mut request = client()
            .post(self.server.url("/webhook"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let outcome = response.headers()["x-webhook-outcome"]
            .to_str()
            .unwrap()
            .to_owned();
        let json: serde_json::Value = response.json().await.unwrap();
        (
            status,
            outcome,
            json["message"].as_str().unwrap().to_owned(),
        )
    }
}

fn with(headers: &[(String, String)], name: &str, value: String) -> Vec<(String, String)> {
    let mut headers: Vec<_> = headers.iter().filter(|(n, _)| n != name).cloned().collect();
    headers.push((name.to_owned(), value));
    headers
}

fn flip_last_char(value: &str) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    let last = chars.len() - 2; // before any base64 padding
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

fn standard_body(id: u32) -> String {
    serde_json::json!({
        "type": "invoice.paid",
        "timestamp": "2024-03-01T10:00:00Z",
        "data": { "id": format!("inv_{id}"), "amount": 1200 }
    })
    .to_string()
}

#[tokio::test]
async fn standard_webhooks_signed_by_the_official_library_verify() {
    let ep = endpoint(
        Verifier::standard_webhooks([WHSEC]).unwrap(),
        Envelope::StandardWebhooks,
    )
    .await;
    let body = standard_body(1);
    let signed = real_signer("standard-webhooks", WHSEC, &body, "msg_1", now());
    assert_eq!(ep.post(&signed, &body).await.0, 200);
    assert_eq!(ep.recorder.applied()[0].delivery.as_deref(), Some("msg_1"));

    // One flipped byte anywhere fails.
    let tampered_body = body.replace("1200", "1201");
    let (status, outcome, message) = ep.post(&signed, &tampered_body).await;
    assert_eq!((status, outcome.as_str()), (401, "unauthorized"));
    assert_eq!(message, "no signature matches");

    let signature = signed
        .iter()
        .find(|(n, _)| n == "webhook-signature")
        .unwrap();
    let bad_signature = with(&signed, "webhook-signature", flip_last_char(&signature.1));
    assert_eq!(ep.post(&bad_signature, &body).await.0, 401);

    let bad_timestamp = with(&signed, "webhook-timestamp", (now() + 1).to_string());
    assert_eq!(ep.post(&bad_timestamp, &body).await.0, 401);
    assert_eq!(ep.recorder.applied().len(), 1);
}

#[tokio::test]
async fn svix_headers_from_the_svix_library_verify() {
    let ep = endpoint(
        Verifier::standard_webhooks([WHSEC]).unwrap(),
        Envelope::StandardWebhooks,
    )
    .await;
    let body = standard_body(2);
    let signed = real_signer("svix", WHSEC, &body, "msg_svix", now());
    assert!(signed.iter().any(|(n, _)| n == "svix-signature"));
    assert_eq!(ep.post(&signed, &body).await.1, "handled");
    assert_eq!(
        ep.recorder.applied()[0].delivery.as_deref(),
        Some("msg_svix")
    );
}

#[tokio::test]
async fn expired_and_future_timestamps_are_refused_even_when_correctly_signed() {
    let ep = endpoint(
        Verifier::standard_webhooks([WHSEC])
            .unwrap()
            .with_tolerance(Duration::from_secs(300)),
        Envelope::StandardWebhooks,
    )
    .await;
    let body = standard_body(3);
    let old = real_signer("standard-webhooks", WHSEC, &body, "msg_old", now() - 600);
    let (status, _, message) = ep.post(&old, &body).await;
    assert_eq!(status, 401);
    assert!(message.contains("older"), "{message}");
    let future = real_signer("standard-webhooks", WHSEC, &body, "msg_future", now() + 600);
    let (status, _, message) = ep.post(&future, &body).await;
    assert_eq!(status, 401);
    assert!(message.contains("future"), "{message}");
    assert!(ep.recorder.applied().is_empty());
}

#[tokio::test]
async fn rotation_accepts_deliveries_signed_with_either_secret() {
    let ep = endpoint(
        Verifier::standard_webhooks([WHSEC, WHSEC_NEXT]).unwrap(),
        Envelope::StandardWebhooks,
    )
    .await;
    for (i, secret) in [WHSEC, WHSEC_NEXT].into_iter().enumerate() {
        let body = standard_body(10 + i as u32);
        let signed = real_signer(
            "standard-webhooks",
            secret,
            &body,
            &format!("msg_r{i}"),
            now(),
        );
        assert_eq!(ep.post(&signed, &body).await.1, "handled", "secret {i}");
    }
    let body = standard_body(12);
    let other = "whsec_c29tZW9uZSBlbHNlJ3Mgc2VjcmV0";
    let signed = real_signer("standard-webhooks", other, &body, "msg_x", now());
    assert_eq!(ep.post(&signed, &body).await.0, 401);
}

#[tokio::test]
async fn github_deliveries_signed_by_octokit_verify_and_ping_is_acknowledged() {
    let secret = "It's a Secret to Everybody";
    let ep = endpoint(Verifier::github([secret]).unwrap(), Envelope::GitHub).await;
    let body = r#"{"action":"opened","issue":{"number":1}}"#;
    let mut signed = real_signer("github", secret, body, "", now());
    signed.push(("x-github-event".into(), "issues".into()));
    signed.push((
        "x-github-delivery".into(),
        "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
    ));
    assert_eq!(ep.post(&signed, body).await.1, "handled");
    assert_eq!(ep.post(&signed, body).await.1, "duplicate");

    let ping = r#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let mut signed = real_signer("github", secret, ping, "", now());
    signed.push(("x-github-event".into(), "ping".into()));
    signed.push(("x-github-delivery".into(), "ping-1".into()));
    let (status, outcome, _) = ep.post(&signed, ping).await;
    assert_eq!((status, outcome.as_str()), (200, "ignored"));

    let unsigned = vec![("x-github-event".to_owned(), "issues".to_owned())];
    let (status, _, message) = ep.post(&unsigned, body).await;
    assert_eq!(status, 401);
    assert!(message.contains("x-hub-signature-256"), "{message}");
    assert_eq!(ep.recorder.applied().len(), 1);
}

#[tokio::test]
async fn stripe_signatures_from_the_stripe_library_verify() {
    let secret = "whsec_test_secret_for_stripe";
    let mapping = Mapping::new(Field::pointer("/type").unwrap())
        .delivery_id(Field::pointer("/id").unwrap())
        .entity_id(Field::pointer("/data/object/id").unwrap())
        .created_at(Field::pointer("/created").unwrap());
    let ep = endpoint(
        Verifier::stripe([secret]).unwrap(),
        Envelope::Custom(mapping),
    )
    .await;
    let body = r#"{"id":"evt_1","type":"customer.updated","created":1700000000,"data":{"object":{"id":"cus_1"}}}"#;
    let signed = real_signer("stripe", secret, body, "", now());
    assert_eq!(ep.post(&signed, body).await.1, "handled");
    let applied = ep.recorder.applied();
    assert_eq!(applied[0].entity.as_deref(), Some("cus_1"));
    assert_eq!(
        applied[0].created_at.as_deref(),
        Some("2023-11-14T22:13:20+00:00")
    );

    let stale = real_signer("stripe", secret, body, "", now() - 3_600);
    assert_eq!(ep.post(&stale, body).await.0, 401);
}

#[tokio::test]
async fn superoffice_shopify_and_slack_signatures_computed_independently_verify() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let secret = "Something Super Secret";
    let body = r#"{"EventId":"e-1","Timestamp":"2019-03-05T14:23:05.1234567Z","Event":"contact.changed","PrimaryKey":123,"Entity":"contact"}"#;

    let ep = endpoint(
        Verifier::superoffice([secret]).unwrap(),
        Envelope::SuperOffice,
    )
    .await;
    let signature = b64.encode(hmac_sha256(secret.as_bytes(), &[body.as_bytes()]));
    let headers = vec![("x-superoffice-signature".to_owned(), signature)];
    assert_eq!(ep.post(&headers, body).await.1, "handled");
    let applied = ep.recorder.applied();
    assert_eq!(applied[0].entity.as_deref(), Some("123"));
    assert_eq!(applied[0].delivery.as_deref(), Some("e-1"));
    assert_eq!(ep.post(&[], body).await.0, 401, "the signature is required");

    let ep = endpoint(
        Verifier::shopify([secret]).unwrap(),
        Envelope::Custom(Mapping::new(Field::header("x-shopify-topic").unwrap())),
    )
    .await;
    let body = r#"{"id":820982911946154500,"email":"jon@example.com"}"#;
    let signature = b64.encode(hmac_sha256(secret.as_bytes(), &[body.as_bytes()]));
    let headers = vec![
        ("x-shopify-hmac-sha256".to_owned(), signature.clone()),
        ("x-shopify-topic".to_owned(), "orders/create".to_owned()),
    ];
    assert_eq!(ep.post(&headers, body).await.1, "handled");
    let tampered = with(
        &headers,
        "x-shopify-hmac-sha256",
        flip_last_char(&signature),
    );
    assert_eq!(ep.post(&tampered, body).await.0, 401);

    let ep = endpoint(Verifier::slack([secret]).unwrap(), Envelope::Raw).await;
    let body = r#"{"type":"event_callback","event_id":"Ev1"}"#;
    let ts = now().to_string();
    let signature = hex::encode(hmac_sha256(
        secret.as_bytes(),
        &[b"v0:", ts.as_bytes(), b":", body.as_bytes()],
    ));
    let headers = vec![
        ("x-slack-signature".to_owned(), format!("v0={signature}")),
        ("x-slack-request-timestamp".to_owned(), ts),
    ];
    assert_eq!(ep.post(&headers, body).await.1, "handled");
}

#[tokio::test]
async fn basic_auth_failures_get_401_with_a_challenge_and_say_which_check_failed() {
    let verifier = Verifier::basic(
        "field-service",
        [("fieldco".to_owned(), Secret::from("correct horse"))],
    )
    .unwrap();
    let ep = endpoint(verifier, Envelope::Raw).await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let cases = [
        (None, "missing credentials"),
        (
            Some("Basic !!!not-base64!!!".to_owned()),
            "malformed credentials",
        ),
        (
            Some(format!("Basic {}", b64.encode("no-colon"))),
            "malformed credentials",
        ),
        (
            Some(format!("Basic {}", b64.encode("fieldco:wrong"))),
            "bad credentials",
        ),
        (
            Some(format!("Basic {}", b64.encode("other:correct horse"))),
            "bad credentials",
        ),
    ];
    for (authorization, expected) in cases {
        let headers: Vec<_> = authorization
            .iter()
            .map(|v| ("authorization".to_owned(), v.clone()))
            .collect();
        let response = client()
            .post(ep.server.url("/webhook"))
            .header("content-type", "application/json")
            .headers(
                headers
                    .iter()
                    .map(|(n, v)| (n.parse().unwrap(), v.parse().unwrap()))
                    .collect(),
            )
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{expected}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"field-service\", charset=\"UTF-8\""
        );
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(json["message"], expected);
        assert!(!json.to_string().contains("correct horse"));
    }
    let good = vec![(
        "authorization".to_owned(),
        format!("Basic {}", b64.encode("fieldco:correct horse")),
    )];
    assert_eq!(ep.post(&good, r#"{"event":"job.created"}"#).await.0, 200);
}
