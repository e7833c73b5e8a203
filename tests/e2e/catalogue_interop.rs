//! The catalogue's senders against their own published libraries, over HTTP: a delivery the
//! SDK's `sign` helpers write must satisfy the sender's library (tests/interop/catalogue.mjs)
//! and an endpoint built with `Verifier::provider(name, ..)`; one byte changed, a stale
//! timestamp or another secret must fail both; and where a library exposes its signing
//! function (Mux, Coinbase Commerce, Octokit, Shopify's test helper, Slack), what it signs is
//! answered 200. Libraries pinned in tests/interop/package.json:
//!
//! | provider | library | what it checks |
//! | --- | --- | --- |
//! | mux | `@mux/mux-node` 15.3.0 | `webhooks.verifySignature` (and `computeSignature` to sign) |
//! | github-sha1 | `@octokit/webhooks-methods` 4.1.0, its last release with sha1 | `verify` (and `sign` with `algorithm: "sha1"`) |
//! | razorpay | `razorpay` 2.9.8 | `validateWebhookSignature` |
//! | line | `@line/bot-sdk` 11.2.0 | `validateSignature` |
//! | coinbase-commerce | `coinbase-commerce-node` 1.0.4 | `Webhook.verifySigHeader` (and `computeSignature`) |
//! | linear | `@linear/sdk` 98.0.0 | `LinearWebhookClient.verify`, with its `webhookTimestamp` check |
//! | zoom | `@zoom/rivet` 0.4.0 | `AwsLambdaReceiver` (answers 200 or 400), and its `url_validation` answer |
//! | twitch | `@twurple/eventsub-http` 8.1.4 | its EventSub signature check (Twitch publishes no library) |
//! | shopify | `@shopify/shopify-api` 15.0.0 | `webhooks.validate` on its web-api adapter (tests/interop/shopify.mjs), and its `test-helpers` `getHmac` to sign |
//! | polar | `@polar-sh/sdk` 1.0.1 | `webhooks.validateEvent` (API version 2026-10), with its five-minute window and event types; it cannot sign, so `standardwebhooks` signs with Polar's keying |
//! | slack | `slack_sdk` 3.48.0 (PyPI, pinned in tests/interop/requirements.txt) | `SignatureVerifier.is_valid`, with its five-minute window, and `generate_signature` to sign (tests/interop/slack_signature.py) |
//! | mailgun | `mailgun` 1.10.0 (PyPI, Mailgun's Python SDK; pinned in tests/interop/requirements.txt) | `SecurityGuard.verify_webhook`, with its 15-minute age check |
//!
//! mailgun.js has no webhook check, so Mailgun's is a Python library here
//! (tests/interop/mailgun_verify.py), and so is Slack's: `slack_sdk` is Slack's own, where
//! `@slack/bolt` would need a whole app to reach its check. Microsoft Graph has no verifying library: it is checked
//! here against its documented shape, and its vectors are in the SDK's unit tests.

use axum::Router;
use end_to_end::{client, Recorder, Server};
use receiver_sdk::envelope::{Envelope, Field, Mapping};
use receiver_sdk::handshake::Handshake;
use receiver_sdk::verify::{sign, Verifier};
use receiver_sdk::Receiver;
use serde_json::{json, Value};

use crate::providers::{endpoint, now, one_byte_changed, post};

pub(crate) type Headers = Vec<(String, String)>;

/// Runs tests/interop/catalogue.mjs with `input` and returns what it prints.
fn node(input: Value) -> Value {
    serde_json::from_slice(&end_to_end::node("catalogue.mjs", &input))
        .expect("catalogue.mjs prints JSON")
}

/// Whether the sender's library accepts `body` with `headers` for `secret`.
pub(crate) fn library_accepts(scheme: &str, secret: &str, body: &str, headers: &Headers) -> bool {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| (name.clone(), Value::from(value.as_str())))
        .collect();
    let answer = node(json!({
        "op": "verify", "scheme": scheme, "secret": secret, "body": body, "headers": headers,
    }));
    answer["valid"].as_bool().expect("{valid: bool}")
}

/// The headers the sender's library signs `body` with at `timestamp` (unix seconds).
fn library_signs(scheme: &str, secret: &str, body: &str, timestamp: u64) -> Headers {
    let answer = node(json!({
        "op": "sign", "scheme": scheme, "secret": secret, "body": body, "timestamp": timestamp,
    }));
    let headers = answer["headers"].as_object().expect("{headers: {..}}");
    headers
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect()
}

pub(crate) fn pairs(pairs: &[(&str, String)]) -> Headers {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}

/// One catalogue sender as these tests drive it.
struct Sender {
    /// The catalogue name, which is also the scheme catalogue.mjs knows it by.
    name: &'static str,
    /// The body sent at `at` (unix seconds): Linear's carries the time itself.
    body: fn(u64) -> String,
    /// The headers the SDK signs `body` with, keyed with `secret`, at `at`.
    sign: fn(&str, &str, u64) -> Headers,
    /// Whether the library itself refuses a stale timestamp (not only the endpoint).
    library_judges_time: bool,
    /// Whether the scheme is timestamped at all.
    timed: bool,
}

fn plain_body(_: u64) -> String {
    r#"{"id":"evt_1","type":"payment.captured","data":{"name":"a"}}"#.to_owned()
}

/// A Linear body, dated as Linear dates it: `webhookTimestamp` in unix milliseconds.
fn linear_body(at: u64) -> String {
    format!(
        r#"{{"action":"create","type":"Issue","data":{{"id":"iss_1","title":"a"}},"webhookTimestamp":{}}}"#,
        at * 1000
    )
}

/// A Twitch EventSub time (RFC 3339, nanoseconds) for `at`.
fn twitch_time(at: u64) -> String {
    chrono::DateTime::from_timestamp(at as i64, 123_456_789)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

const TWITCH_ID: &str = "befa7b53-d79d-478f-86b9-120f112b044e";

fn twitch_body(_: u64) -> String {
    r#"{"subscription":{"id":"f1c2a387","type":"channel.follow","version":"2","status":"enabled"},"event":{"user_id":"1337","user_name":"awesome_user"}}"#.to_owned()
}

fn twitch_headers(secret: &str, body: &str, at: u64) -> Headers {
    let time = twitch_time(at);
    pairs(&[
        ("twitch-eventsub-message-id", TWITCH_ID.to_owned()),
        ("twitch-eventsub-message-type", "notification".to_owned()),
        ("twitch-eventsub-message-timestamp", time.clone()),
        (
            "twitch-eventsub-message-signature",
            sign::twitch(secret, TWITCH_ID, &time, body.as_bytes()),
        ),
    ])
}

/// What Shopify sends beside the HMAC: `webhooks.validate` refuses a delivery without them.
fn shopify_headers(secret: &str, body: &str, _: u64) -> Headers {
    pairs(&[
        (
            "x-shopify-hmac-sha256",
            sign::shopify(secret, body.as_bytes()),
        ),
        ("x-shopify-topic", "orders/create".to_owned()),
        ("x-shopify-shop-domain", "example.myshopify.com".to_owned()),
        ("x-shopify-api-version", "2025-10".to_owned()),
        (
            "x-shopify-webhook-id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043".to_owned(),
        ),
    ])
}

/// A Polar event: `validateEvent` also refuses a type Polar does not send.
fn polar_body(_: u64) -> String {
    r#"{"type":"order.created","data":{"id":"ord_1","name":"a"}}"#.to_owned()
}

/// Standard Webhooks headers keyed as Polar keys them: its secret's UTF-8 bytes, which
/// `sign::standard_webhooks` takes base64-encoded.
fn polar_headers(secret: &str, body: &str, at: u64) -> Headers {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD.encode(secret);
    let id = "msg_polar_1";
    let signature = sign::standard_webhooks(&key, id, at, body.as_bytes()).expect("a key");
    pairs(&[
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", at.to_string()),
        ("webhook-signature", signature),
    ])
}

fn senders() -> Vec<Sender> {
    vec![
        Sender {
            name: "mux",
            body: plain_body,
            sign: |secret, body, at| {
                pairs(&[("mux-signature", sign::mux(secret, at, body.as_bytes()))])
            },
            library_judges_time: true,
            timed: true,
        },
        Sender {
            name: "github-sha1",
            body: plain_body,
            sign: |secret, body, _| {
                pairs(&[(
                    "x-hub-signature",
                    sign::github_sha1(secret, body.as_bytes()),
                )])
            },
            library_judges_time: false,
            timed: false,
        },
        Sender {
            name: "razorpay",
            body: plain_body,
            sign: |secret, body, _| {
                pairs(&[(
                    "x-razorpay-signature",
                    sign::razorpay(secret, body.as_bytes()),
                )])
            },
            library_judges_time: false,
            timed: false,
        },
        Sender {
            name: "line",
            body: plain_body,
            sign: |secret, body, _| {
                pairs(&[("x-line-signature", sign::line(secret, body.as_bytes()))])
            },
            library_judges_time: false,
            timed: false,
        },
        Sender {
            name: "coinbase-commerce",
            body: plain_body,
            sign: |secret, body, _| {
                pairs(&[(
                    "x-cc-webhook-signature",
                    sign::coinbase_commerce(secret, body.as_bytes()),
                )])
            },
            library_judges_time: false,
            timed: false,
        },
        Sender {
            name: "linear",
            body: linear_body,
            sign: |secret, body, _| {
                pairs(&[("linear-signature", sign::linear(secret, body.as_bytes()))])
            },
            library_judges_time: true,
            timed: true,
        },
        Sender {
            name: "zoom",
            body: |_| {
                r#"{"event":"meeting.started","payload":{"object":{"id":"85432"}},"type":"meeting.started"}"#.to_owned()
            },
            sign: |secret, body, at| {
                pairs(&[
                    ("x-zm-signature", sign::zoom(secret, at, body.as_bytes())),
                    ("x-zm-request-timestamp", at.to_string()),
                ])
            },
            // Zoom's receiver checks the signature only; the endpoint also checks the time.
            library_judges_time: false,
            timed: true,
        },
        Sender {
            name: "shopify",
            body: plain_body,
            sign: shopify_headers,
            library_judges_time: false,
            timed: false,
        },
        Sender {
            name: "polar",
            body: polar_body,
            sign: |secret, body, at| polar_headers(secret, body, at),
            library_judges_time: true,
            timed: true,
        },
        Sender {
            name: "twitch",
            body: twitch_body,
            sign: twitch_headers,
            // Twurple drops stale notifications after answering; its signature check does not.
            library_judges_time: false,
            timed: true,
        },
    ]
}

/// An endpoint for `sender` with a rotated-out and a current secret.
async fn sender_endpoint(sender: &Sender, secrets: &[&str]) -> Server {
    if sender.name == "twitch" {
        return twitch_endpoint(secrets, &Recorder::new()).await;
    }
    endpoint(sender.name, secrets).await
}

#[tokio::test]
async fn the_senders_libraries_accept_what_we_sign_and_so_does_the_endpoint() {
    let (old, new) = ("library-secret-old", "library-secret-new");
    for sender in senders() {
        let name = sender.name;
        let server = sender_endpoint(&sender, &[old, new]).await;
        let at = now();
        let body = (sender.body)(at);
        for secret in [old, new] {
            let headers = (sender.sign)(secret, &body, at);
            assert!(
                library_accepts(name, secret, &body, &headers),
                "{name} {secret}"
            );
            assert_eq!(post(&server, &headers, &body).await, 200, "{name} {secret}");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_changed_byte_or_another_secret_fails_in_the_library_and_at_the_endpoint() {
    let secret = "library-secret";
    for sender in senders() {
        let name = sender.name;
        let server = sender_endpoint(&sender, &[secret]).await;
        let at = now();
        let body = (sender.body)(at);
        let headers = (sender.sign)(secret, &body, at);
        let changed = one_byte_changed(&body);
        assert_ne!(changed, body, "{name}");
        assert!(!library_accepts(name, secret, &changed, &headers), "{name}");
        assert_eq!(post(&server, &headers, &changed).await, 401, "{name}");
        let forged = (sender.sign)("another-secret", &body, at);
        assert!(!library_accepts(name, secret, &body, &forged), "{name}");
        assert_eq!(post(&server, &forged, &body).await, 401, "{name}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_stale_timestamp_fails_at_the_endpoint_and_in_the_libraries_that_judge_time() {
    let secret = "library-secret";
    for sender in senders().into_iter().filter(|sender| sender.timed) {
        let name = sender.name;
        let server = sender_endpoint(&sender, &[secret]).await;
        let stale = now() - 3_600;
        let body = (sender.body)(stale);
        let headers = (sender.sign)(secret, &body, stale);
        if sender.library_judges_time {
            assert!(!library_accepts(name, secret, &body, &headers), "{name}");
        }
        assert_eq!(post(&server, &headers, &body).await, 401, "{name}");
        server.stop().await;
    }
}

#[tokio::test]
async fn what_the_senders_libraries_sign_is_answered_200() {
    let secret = "library-secret";
    for name in [
        "mux",
        "coinbase-commerce",
        "github-sha1",
        "shopify",
        "polar",
    ] {
        let server = endpoint(name, &["rotated-out", secret]).await;
        let body = plain_body(0);
        let headers = library_signs(name, secret, &body, now());
        assert_eq!(post(&server, &headers, &body).await, 200, "{name}");
        let headers = library_signs(name, "another-secret", &body, now());
        assert_eq!(post(&server, &headers, &body).await, 401, "{name}");
        server.stop().await;
    }
}

#[tokio::test]
async fn linear_within_a_minute_verifies_and_beyond_it_fails_like_its_sdk() {
    let secret = "lin_wh_secret";
    let server = endpoint("linear", &[secret]).await;
    for (age, accepted) in [(30, true), (120, false)] {
        let body = linear_body(now() - age);
        let headers = pairs(&[("linear-signature", sign::linear(secret, body.as_bytes()))]);
        assert_eq!(library_accepts("linear", secret, &body, &headers), accepted);
        let status = if accepted { 200 } else { 401 };
        assert_eq!(post(&server, &headers, &body).await, status, "{age}s old");
    }
    let undated = plain_body(0);
    let headers = pairs(&[("linear-signature", sign::linear(secret, undated.as_bytes()))]);
    assert!(!library_accepts("linear", secret, &undated, &headers));
    assert_eq!(post(&server, &headers, &undated).await, 401);
}

#[tokio::test]
async fn zoom_url_validation_is_answered_as_zooms_own_receiver_answers_it() {
    let secret = "zoom_secret_token";
    let receiver = Receiver::builder("zoom")
        .verifier(Verifier::provider("zoom", [secret]).unwrap())
        .handshake(Handshake::zoom(secret))
        .envelope(Envelope::Custom(Mapping::new(
            Field::pointer("/event").unwrap(),
        )))
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(Recorder::new().handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let at = now();
    let body = r#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let headers = pairs(&[
        ("x-zm-signature", sign::zoom(secret, at, body.as_bytes())),
        ("x-zm-request-timestamp", at.to_string()),
    ]);
    let theirs = library_signs_with_headers("zoom-url-validation", secret, body, &headers);
    assert_eq!(theirs["status"], "200");
    let theirs: Value = serde_json::from_str(theirs["body"].as_str().unwrap()).unwrap();
    let mut request = client().post(server.url("/webhook")).body(body);
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let answer = request.send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let ours: Value = answer.json().await.unwrap();
    assert_eq!(ours, theirs);
    server.stop().await;
}

/// catalogue.mjs's `sign` op for a scheme that also reads the request's headers.
fn library_signs_with_headers(scheme: &str, secret: &str, body: &str, headers: &Headers) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| (name.clone(), Value::from(value.as_str())))
        .collect();
    node(json!({
        "op": "sign", "scheme": scheme, "secret": secret, "body": body, "headers": headers,
    }))["headers"]
        .clone()
}

/// A Twitch endpoint: the catalogue's verifier, its handshake, events typed by the
/// subscription's type, recorded by `recorder`.
async fn twitch_endpoint(secrets: &[&str], recorder: &Recorder) -> Server {
    let receiver = Receiver::builder("twitch")
        .verifier(Verifier::provider("twitch", secrets.iter().copied()).unwrap())
        .handshake(Handshake::twitch())
        .envelope(Envelope::Custom(
            Mapping::new(Field::pointer("/subscription/type").unwrap())
                .delivery_id(Field::header("twitch-eventsub-message-id").unwrap()),
        ))
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(recorder.handler())
        .build()
        .unwrap();
    Server::start(Router::new().route_service("/webhook", receiver)).await
}

fn twitch_message(secret: &str, id: &str, kind: &str, body: &str, at: u64) -> Headers {
    let time = twitch_time(at);
    pairs(&[
        ("twitch-eventsub-message-id", id.to_owned()),
        ("twitch-eventsub-message-type", kind.to_owned()),
        ("twitch-eventsub-message-timestamp", time.clone()),
        (
            "twitch-eventsub-message-signature",
            sign::twitch(secret, id, &time, body.as_bytes()),
        ),
    ])
}

const TWITCH_CHALLENGE: &str = r#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"webhook_callback_verification_pending","type":"channel.follow","version":"2"}}"#;

#[tokio::test]
async fn twitch_callback_verification_is_answered_with_the_challenge_as_text_when_signed() {
    let secret = "twitch-secret";
    let recorder = Recorder::new();
    let server = twitch_endpoint(&["rotated-out", secret], &recorder).await;
    let headers = twitch_message(
        secret,
        "e76c6bd4-55c9-4987-8304-da1588d8988b",
        "webhook_callback_verification",
        TWITCH_CHALLENGE,
        now(),
    );
    assert!(library_accepts(
        "twitch",
        secret,
        TWITCH_CHALLENGE,
        &headers
    ));
    let mut request = client()
        .post(server.url("/webhook"))
        .header("content-type", "application/json")
        .body(TWITCH_CHALLENGE);
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let answer = request.send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let content_type = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(
        answer.text().await.unwrap(),
        "pogchamp-kappa-360noscope-vohiyo"
    );
    assert!(recorder.applied().is_empty(), "a handshake is no delivery");

    let forged = twitch_message(
        "not-the-secret",
        "e76c6bd4-55c9-4987-8304-da1588d8988c",
        "webhook_callback_verification",
        TWITCH_CHALLENGE,
        now(),
    );
    assert_eq!(post(&server, &forged, TWITCH_CHALLENGE).await, 401);
    server.stop().await;
}

#[tokio::test]
async fn twitch_revocations_are_delivered_to_the_handler_and_answered_2xx() {
    let secret = "twitch-secret";
    let recorder = Recorder::new();
    let server = twitch_endpoint(&[secret], &recorder).await;
    let body = r#"{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"authorization_revoked","type":"channel.follow","version":"2"}}"#;
    let headers = twitch_message(secret, "rev-1", "revocation", body, now());
    assert!(library_accepts("twitch", secret, body, &headers));
    let status = post(&server, &headers, body).await;
    assert!((200..300).contains(&status), "{status}");
    let applied = recorder.applied();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].event, "channel.follow");
    assert_eq!(applied[0].delivery.as_deref(), Some("rev-1"));
    server.stop().await;
}

#[tokio::test]
async fn twitch_resends_of_one_message_id_are_handled_once_and_a_new_id_needs_a_new_signature() {
    let secret = "twitch-secret";
    let recorder = Recorder::new();
    let server = twitch_endpoint(&[secret], &recorder).await;
    let body = twitch_body(0);
    let headers = twitch_message(secret, "msg-1", "notification", &body, now());
    assert_eq!(post(&server, &headers, &body).await, 200);
    assert_eq!(post(&server, &headers, &body).await, 200);
    assert_eq!(recorder.applied().len(), 1, "the resend is a duplicate");
    // The id is signed: the same signature under another id is refused.
    let mut replayed = headers.clone();
    replayed[0].1 = "msg-2".to_owned();
    assert_eq!(post(&server, &replayed, &body).await, 401);
    server.stop().await;
}

const MAILGUN_TOKEN: &str = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0";

/// A Mailgun webhook's JSON body, its signature block carrying `timestamp`, `token` and
/// `signature`.
fn mailgun_event(timestamp: u64, token: &str, signature: &str) -> String {
    json!({
        "signature": {"timestamp": timestamp.to_string(), "token": token, "signature": signature},
        "event-data": {"event": "delivered", "id": "CPgfbmQMTCKtHW6uIWtuVe"},
        "type": "delivered",
    })
    .to_string()
}

/// Whether Mailgun's Python SDK accepts `signature` for `timestamp` and `token` under `key`
/// (tests/interop/mailgun_verify.py).
fn mailgun_sdk_accepts(key: &str, timestamp: u64, token: &str, signature: &str) -> bool {
    let input = json!({
        "signing_key": key, "timestamp": timestamp.to_string(), "token": token, "signature": signature,
    });
    let answer: Value = serde_json::from_slice(&end_to_end::python("mailgun_verify.py", &input))
        .expect("mailgun_verify.py prints JSON");
    answer["valid"].as_bool().expect("{valid: bool}")
}

#[tokio::test]
async fn mailguns_sdk_and_the_endpoint_accept_what_we_sign_and_refuse_the_same_forgeries() {
    let key = "key-mailgun-signing";
    let server = endpoint("mailgun", &["key-rotated-out", key]).await;
    let at = now();
    let signature = sign::mailgun(key, at, MAILGUN_TOKEN);
    assert!(mailgun_sdk_accepts(key, at, MAILGUN_TOKEN, &signature));
    let signed = mailgun_event(at, MAILGUN_TOKEN, &signature);
    assert_eq!(post(&server, &[], &signed).await, 200);

    // One byte of the signed string changed: Mailgun signs the token, not the event.
    let token = one_byte_changed(MAILGUN_TOKEN);
    assert_ne!(token, MAILGUN_TOKEN);
    assert!(!mailgun_sdk_accepts(key, at, &token, &signature));
    let changed = mailgun_event(at, &token, &signature);
    assert_eq!(post(&server, &[], &changed).await, 401);

    let forged = sign::mailgun("key-guess", at, MAILGUN_TOKEN);
    assert!(!mailgun_sdk_accepts(key, at, MAILGUN_TOKEN, &forged));
    let forged = mailgun_event(at, MAILGUN_TOKEN, &forged);
    assert_eq!(post(&server, &[], &forged).await, 401);

    // An hour old: past the SDK's 15 minutes and the endpoint's 5.
    let stale = at - 3_600;
    let signature = sign::mailgun(key, stale, MAILGUN_TOKEN);
    assert!(!mailgun_sdk_accepts(key, stale, MAILGUN_TOKEN, &signature));
    let stale = mailgun_event(stale, MAILGUN_TOKEN, &signature);
    assert_eq!(post(&server, &[], &stale).await, 401);
    server.stop().await;
}

#[tokio::test]
async fn mailgun_webhooks_and_route_posts_verify_over_http() {
    let key = "key-mailgun-signing";
    let server = endpoint("mailgun", &["key-rotated-out", key]).await;
    let at = now();
    let signed = mailgun_event(at, MAILGUN_TOKEN, &sign::mailgun(key, at, MAILGUN_TOKEN));
    assert_eq!(post(&server, &[], &signed).await, 200);
    let forged = mailgun_event(
        at,
        MAILGUN_TOKEN,
        &sign::mailgun("key-guess", at, MAILGUN_TOKEN),
    );
    assert_eq!(post(&server, &[], &forged).await, 401);

    // A route's post: form fields. The endpoint verifies before it looks at the content
    // type, so a signed form passes verification and is then refused as not JSON (415),
    // while a forged one stops at 401.
    let form = |signature: &str| {
        format!(
            "recipient=bob%40example.com&timestamp={at}&token=f00dcafe&signature={signature}&body-plain=Hi"
        )
    };
    let post_form = |body: String| {
        client()
            .post(server.url("/webhook"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let signed = post_form(form(&sign::mailgun(key, at, "f00dcafe")))
        .await
        .unwrap();
    assert_eq!(signed.status(), 415);
    let forged = post_form(form(&sign::mailgun("key-guess", at, "f00dcafe")))
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn microsoft_graph_notifications_need_the_client_state_in_every_item() {
    let server = endpoint("microsoft-graph", &["state-old", "state-new"]).await;
    let typed = |body: String| {
        let mut value: Value = serde_json::from_str(&body).unwrap();
        value["type"] = json!("change");
        value.to_string()
    };
    for state in ["state-old", "state-new"] {
        let body = typed(sign::microsoft_graph(state, &["Users/1", "Users/2"]));
        assert_eq!(post(&server, &[], &body).await, 200, "{state}");
    }
    let mut mixed: Value =
        serde_json::from_str(&sign::microsoft_graph("state-new", &["Users/3", "Users/4"])).unwrap();
    mixed["value"][1]["clientState"] = json!("state-guess");
    mixed["type"] = json!("change");
    assert_eq!(post(&server, &[], &mixed.to_string()).await, 401);
    server.stop().await;
}

/// Runs tests/interop/slack_signature.py (Slack's `slack_sdk` `SignatureVerifier`) with
/// `input` and returns what it prints.
fn slack_sdk(input: Value) -> Value {
    serde_json::from_slice(&end_to_end::python("slack_signature.py", &input))
        .expect("slack_signature.py prints JSON")
}

/// Whether `slack_sdk`'s `is_valid` takes `signature` over `body` at `at`; it also judges the
/// timestamp's age, five minutes either way.
fn slack_sdk_accepts(secret: &str, body: &str, at: u64, signature: &str) -> bool {
    let input = json!({
        "op": "verify", "signing_secret": secret, "body": body, "timestamp": at.to_string(),
        "signature": signature,
    });
    slack_sdk(input)["valid"].as_bool().expect("{valid: bool}")
}

/// The `X-Slack-Signature` `slack_sdk`'s `generate_signature` gives `body` at `at`.
fn slack_sdk_signs(secret: &str, body: &str, at: u64) -> String {
    let input = json!({
        "op": "sign", "signing_secret": secret, "body": body, "timestamp": at.to_string(),
    });
    let answer = slack_sdk(input);
    answer["signature"]
        .as_str()
        .expect("{signature}")
        .to_owned()
}

/// A Slack app's endpoint: Slack's verifier with `secrets`, and its `url_verification`
/// handshake.
async fn slack_endpoint(secrets: &[&str]) -> Server {
    let receiver = Receiver::builder("slack")
        .verifier(Verifier::provider("slack", secrets.iter().copied()).unwrap())
        .handshake(Handshake::slack())
        .envelope(Envelope::Custom(Mapping::new(
            Field::pointer("/event/type").unwrap(),
        )))
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(Recorder::new().handler())
        .build()
        .unwrap();
    Server::start(Router::new().route_service("/webhook", receiver)).await
}

fn slack_headers(at: u64, signature: String) -> Headers {
    pairs(&[
        ("x-slack-request-timestamp", at.to_string()),
        ("x-slack-signature", signature),
    ])
}

const SLACK_EVENT: &str = r#"{"type":"event_callback","event_id":"Ev08MFMKH6","event":{"type":"app_mention","text":"a"}}"#;

#[tokio::test]
async fn slack_sdk_accepts_what_we_sign_and_refuses_a_changed_byte_another_secret_or_a_stale_time()
{
    let (old, new) = ("slack-signing-old", "slack-signing-new");
    let server = slack_endpoint(&[old, new]).await;
    let at = now();
    for secret in [old, new] {
        let signature = sign::slack(secret, at, SLACK_EVENT.as_bytes());
        assert!(
            slack_sdk_accepts(secret, SLACK_EVENT, at, &signature),
            "{secret}"
        );
        let headers = slack_headers(at, signature);
        assert_eq!(post(&server, &headers, SLACK_EVENT).await, 200, "{secret}");
    }
    let signature = sign::slack(new, at, SLACK_EVENT.as_bytes());
    let changed = one_byte_changed(SLACK_EVENT);
    assert!(!slack_sdk_accepts(new, &changed, at, &signature));
    assert_eq!(
        post(&server, &slack_headers(at, signature), &changed).await,
        401
    );
    let forged = sign::slack("slack-guess", at, SLACK_EVENT.as_bytes());
    assert!(!slack_sdk_accepts(new, SLACK_EVENT, at, &forged));
    assert_eq!(
        post(&server, &slack_headers(at, forged), SLACK_EVENT).await,
        401
    );
    let stale = at - 3_600;
    let signature = sign::slack(new, stale, SLACK_EVENT.as_bytes());
    assert!(!slack_sdk_accepts(new, SLACK_EVENT, stale, &signature));
    let headers = slack_headers(stale, signature);
    assert_eq!(post(&server, &headers, SLACK_EVENT).await, 401);
    server.stop().await;
}

#[tokio::test]
async fn what_slack_sdk_signs_is_answered_200_under_either_secret_and_401_when_changed() {
    let (old, new) = ("slack-signing-old", "slack-signing-new");
    let server = slack_endpoint(&[old, new]).await;
    let at = now();
    for secret in [old, new] {
        let headers = slack_headers(at, slack_sdk_signs(secret, SLACK_EVENT, at));
        assert_eq!(post(&server, &headers, SLACK_EVENT).await, 200, "{secret}");
        let changed = one_byte_changed(SLACK_EVENT);
        assert_eq!(post(&server, &headers, &changed).await, 401, "{secret}");
    }
    let headers = slack_headers(at, slack_sdk_signs("slack-guess", SLACK_EVENT, at));
    assert_eq!(post(&server, &headers, SLACK_EVENT).await, 401);
    let stale = at - 3_600;
    let headers = slack_headers(stale, slack_sdk_signs(new, SLACK_EVENT, stale));
    assert_eq!(post(&server, &headers, SLACK_EVENT).await, 401);
    server.stop().await;
}

#[tokio::test]
async fn slack_url_verification_signed_by_slack_sdk_is_answered_with_the_challenge() {
    let secret = "slack-signing-secret";
    let server = slack_endpoint(&[secret]).await;
    let body = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let at = now();
    let headers = slack_headers(at, slack_sdk_signs(secret, body, at));
    let mut request = client()
        .post(server.url("/webhook"))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let answer = request.send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    let changed = body.replacen("Jhj5", "Jhj6", 1);
    assert_eq!(post(&server, &headers, &changed).await, 401);
    server.stop().await;
}
