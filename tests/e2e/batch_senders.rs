//! The catalogue's batching senders end to end: a realistic batch, signed as the sender signs
//! it, reaches an endpoint built with `Verifier::provider(name, ..)` and
//! `Envelope::provider(name)` over loopback HTTP, with a real sled store in a temp dir; each
//! event is handled once, and the sender's retry of the same batch is all duplicates.
//!
//! | sender | signed by | checked by |
//! | --- | --- | --- |
//! | hubspot | `@hubspot/api-client` 14.0.1 `Signature.getSignature` (v3) | the endpoint |
//! | line | our `sign::line` | `@line/bot-sdk` 11.2.0 `validateSignature`, then the endpoint |
//! | sendgrid | Node's crypto (ECDSA P-256, as SendGrid signs) | `@sendgrid/eventwebhook` 8.0.0 `verifySignature`, then the endpoint |
//! | twilio (Event Streams) | `twilio` 6.3.1 `getExpectedTwilioSignature` over the URL with `bodySHA256` | the endpoint |

use axum::Router;
use end_to_end::{answer, client, Recorder, Server};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::store::SledStore;
use receiver_sdk::verify::{sign, Verifier};
use receiver_sdk::Receiver;
use serde_json::{json, Value};

use crate::asymmetric::{self, node_signs, sendgrid_headers, P256_KEYS};
use crate::catalogue_interop::{self, pairs};
use crate::providers::{now, url_signing};

/// An endpoint for the catalogue sender `name` at `/webhook`, its store in `dir`.
async fn endpoint(name: &str, verifier: Verifier, dir: &std::path::Path) -> (Recorder, Server) {
    let recorder = Recorder::new();
    let receiver = Receiver::builder(name)
        .verifier(verifier)
        .envelope(Envelope::provider(name).unwrap())
        .store(SledStore::open(dir).unwrap())
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    (recorder, server)
}

/// Posts `body` with `headers` to `/webhook`: the status, the outcome and the answer's body.
async fn post<N: AsRef<str>>(
    server: &Server,
    headers: &[(N, String)],
    body: &str,
) -> (u16, String, Value) {
    let mut request = client()
        .post(server.url("/webhook"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name.as_ref(), value);
    }
    answer(request.send().await.unwrap()).await
}

/// Posts the batch twice, as a sender retries it: the first time every event is handled, the
/// second none. Returns what the handler saw.
async fn handled_once<N: AsRef<str>>(
    server: &Server,
    recorder: &Recorder,
    headers: &[(N, String)],
    body: &str,
    events: usize,
) -> Vec<end_to_end::Applied> {
    let (status, outcome, answer) = post(server, headers, body).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"), "{answer}");
    assert_eq!(
        answer["message"],
        format!("a batch of {events} events: {events} handled")
    );
    let (status, outcome, answer) = post(server, headers, body).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"), "{answer}");
    assert_eq!(
        answer["message"],
        format!("a batch of {events} events: {events} duplicate")
    );
    let applied = recorder.applied();
    assert_eq!(applied.len(), events, "nothing is handled twice");
    applied
}

/// Each handled event's type and delivery id.
fn types_and_ids(applied: &[end_to_end::Applied]) -> Vec<(&str, Option<&str>)> {
    applied
        .iter()
        .map(|a| (a.event.as_str(), a.delivery.as_deref()))
        .collect()
}

fn line_event(kind: &str, id: &str, at_ms: u64) -> Value {
    json!({"type": kind, "timestamp": at_ms, "mode": "active", "webhookEventId": id,
        "source": {"type": "user", "userId": "U4af4980629a0b1c2d3e4f5a6b7c8d9e0"},
        "replyToken": "757913772c4646b784d4b7ce46d12671",
        "deliveryContext": {"isRedelivery": false}})
}

#[tokio::test]
async fn a_line_batch_is_handled_event_by_event_under_each_webhook_event_id() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "line_channel_secret";
    let verifier = Verifier::provider("line", [secret]).unwrap();
    let (recorder, server) = endpoint("line", verifier, dir.path()).await;
    let mut message = line_event("message", "01FZ74A0TDDPYRVKNK77XKC3ZR", 1_625_665_242_211);
    message["message"] = json!({"type": "text", "id": "14353798921116", "text": "Hello"});
    let events = [
        message,
        line_event("follow", "01FZ74ASS536FW97EX38NKCZQK", 1_625_665_242_214),
    ];
    let body =
        json!({"destination": "U0123456789abcdef0123456789abcdef", "events": events}).to_string();
    let headers = pairs(&[("x-line-signature", sign::line(secret, body.as_bytes()))]);
    assert!(catalogue_interop::library_accepts(
        "line", secret, &body, &headers
    ));

    let applied = handled_once(&server, &recorder, &headers, &body, 2).await;
    assert_eq!(
        types_and_ids(&applied),
        [
            ("message", Some("01FZ74A0TDDPYRVKNK77XKC3ZR")),
            ("follow", Some("01FZ74ASS536FW97EX38NKCZQK"))
        ]
    );
    assert_eq!(
        applied[0].created_at.as_deref(),
        Some("2021-07-07T13:40:42.211+00:00")
    );
    assert_eq!(applied[1].body, events[1].to_string().as_bytes());

    // A redelivery of one of them, marked as such, is the same event.
    let mut again = events[1].clone();
    again["deliveryContext"]["isRedelivery"] = true.into();
    let body =
        json!({"destination": "U0123456789abcdef0123456789abcdef", "events": [again]}).to_string();
    let headers = pairs(&[("x-line-signature", sign::line(secret, body.as_bytes()))]);
    let (_, outcome, answer) = post(&server, &headers, &body).await;
    assert_eq!(outcome, "batch");
    assert_eq!(answer["message"], "a batch of 1 event: 1 duplicate");

    // The console's "Verify": no events, answered 200.
    let body = r#"{"destination":"U0123456789abcdef0123456789abcdef","events":[]}"#;
    let headers = pairs(&[("x-line-signature", sign::line(secret, body.as_bytes()))]);
    assert_eq!(post(&server, &headers, body).await.0, 200);
    assert_eq!(recorder.applied().len(), 2);
    server.stop().await;
}

fn sendgrid_event(event: &str, id: &str, at: u64) -> Value {
    json!({"email": "example@test.com", "timestamp": at, "event": event,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "category": "cat facts",
        "sg_event_id": id, "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"})
}

#[tokio::test]
async fn a_sendgrid_batch_signed_as_sendgrid_signs_is_handled_once_per_sg_event_id() {
    let dir = tempfile::tempdir().unwrap();
    let public = sign::sendgrid_public_key(P256_KEYS[0]).unwrap();
    let verifier = Verifier::provider("sendgrid", [public.as_str()]).unwrap();
    let (recorder, server) = endpoint("sendgrid", verifier, dir.path()).await;
    let at = now();
    // Laid out as @sendgrid/eventwebhook's own tests lay a batch out: CRLF after each event,
    // covered by the signature and left out of each event's bytes.
    let events = [
        sendgrid_event("processed", "rbtnWrG1DVDGGGFHFyun0A==", at - 2),
        sendgrid_event(
            "delivered",
            "NTBhYjcyMzItOTg2Yy00YmQxLTg0NDgtYjJiNWYxOGJhMDM1",
            at - 1,
        ),
        sendgrid_event("open", "ZGVsaXZlcmVkLTAtMjgyMTg3NjQtMTU5Mjk4MjE1", at),
    ];
    let items: Vec<String> = events.iter().map(Value::to_string).collect();
    let body = format!("[{}]\r\n", items.join(",\r\n"));
    let signature = node_signs("sendgrid", P256_KEYS[0], &body, "", at);
    assert!(asymmetric::library_accepts(
        "sendgrid", &public, &body, "", at, &signature
    ));
    let headers = sendgrid_headers(signature, at);

    let applied = handled_once(&server, &recorder, &headers, &body, 3).await;
    assert_eq!(
        types_and_ids(&applied),
        [
            ("processed", Some("rbtnWrG1DVDGGGFHFyun0A==")),
            (
                "delivered",
                Some("NTBhYjcyMzItOTg2Yy00YmQxLTg0NDgtYjJiNWYxOGJhMDM1")
            ),
            ("open", Some("ZGVsaXZlcmVkLTAtMjgyMTg3NjQtMTU5Mjk4MjE1")),
        ]
    );
    let bodies: Vec<_> = applied.iter().map(|a| a.body.clone()).collect();
    let sent: Vec<_> = items.iter().map(|item| item.as_bytes().to_vec()).collect();
    assert_eq!(bodies, sent, "each event's own bytes");
    assert!(applied.iter().all(
        |a| a.entity.as_deref() == Some("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0")
    ));
    server.stop().await;
}

fn hubspot_event(kind: &str, object: u64, event_id: u64, attempt: u32) -> Value {
    json!({"eventId": event_id, "subscriptionId": 25, "portalId": 33, "appId": 1_160_452,
        "occurredAt": 1_462_216_307_945_u64, "subscriptionType": kind, "attemptNumber": attempt,
        "objectId": object, "changeSource": "CRM_UI"})
}

/// The v3 headers `@hubspot/api-client` signs `body` with, posted to `server`'s `/webhook`.
fn hubspot_signs(server: &Server, secret: &str, body: &str) -> Vec<(String, String)> {
    let at = now() * 1000;
    let input = json!({"secret": secret, "url": server.url("/webhook"), "body": body,
        "timestamp": at});
    url_signing::signed("hubspot", input).1
}

#[tokio::test]
async fn a_hubspot_batch_signed_by_the_hubspot_library_is_handled_once_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "hubspot_client_secret";
    let verifier = Verifier::provider("hubspot", [secret]).unwrap();
    let (recorder, server) = endpoint("hubspot", verifier, dir.path()).await;
    let body = json!([
        hubspot_event("contact.creation", 1_246_978, 3_816_279_480, 0),
        hubspot_event("contact.propertyChange", 1_246_965, 3_816_279_340, 0),
    ])
    .to_string();
    let headers = hubspot_signs(&server, secret, &body);

    let applied = handled_once(&server, &recorder, &headers, &body, 2).await;
    let seen: Vec<_> = applied
        .iter()
        .map(|a| (a.event.as_str(), a.entity.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            ("contact.creation", Some("1246978")),
            ("contact.propertyChange", Some("1246965"))
        ]
    );
    // HubSpot's eventId is not unique, so the delivery id is the event's digest, not it.
    for applied in &applied {
        let id = applied.delivery.as_deref().unwrap();
        assert!(id.starts_with("sha256:") && !id.contains("3816279"), "{id}");
    }
    assert_eq!(
        applied[0].created_at.as_deref(),
        Some("2016-05-02T19:11:47.945+00:00")
    );
    server.stop().await;
}

/// HubSpot sends no id that is unique to an event, and counts its attempts in the event, so
/// its retry is other bytes. Regression: the retry was handled again; the envelope now knows
/// an event by the digest of it without `attemptNumber`.
#[tokio::test]
async fn a_hubspot_retry_with_the_next_attempt_number_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "hubspot_client_secret";
    let verifier = Verifier::provider("hubspot", [secret]).unwrap();
    let (recorder, server) = endpoint("hubspot", verifier, dir.path()).await;
    for attempt in [0, 1] {
        let body = json!([hubspot_event("contact.creation", 7, 100, attempt)]).to_string();
        let headers = hubspot_signs(&server, secret, &body);
        let (_, outcome, answer) = post(&server, &headers, &body).await;
        assert_eq!(outcome, "batch");
        let expected = if attempt == 0 {
            "1 handled"
        } else {
            "1 duplicate"
        };
        assert_eq!(answer["message"], format!("a batch of 1 event: {expected}"));
    }
    assert_eq!(recorder.applied().len(), 1);
    server.stop().await;
}

/// One Twilio Event Streams event: a CloudEvent (the shape of
/// https://www.twilio.com/docs/events/event-types/messaging/outbound-message).
fn twilio_event(id: &str, kind: &str, sid: &str, time: &str) -> Value {
    json!({"specversion": "1.0", "type": kind, "source": format!("/2010-04-01/Accounts/AC1/Messages/{sid}.json"),
           "id": id, "dataschema": "https://events-schemas.twilio.com/Messaging.MessageStatus/4",
           "datacontenttype": "application/json", "time": time,
           "data": {"messageSid": sid, "messageStatus": kind.rsplit('.').next().unwrap()}})
}

/// A Twilio Event Streams sink that batches: a JSON array of CloudEvents posted as plain
/// JSON, signed by twilio 6.3.1 over the URL with the body's `bodySHA256`, as
/// `validateRequestWithBody` checks it.
#[tokio::test]
async fn a_twilio_event_streams_batch_signed_by_the_twilio_library_is_handled_once_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let token = "twilio_auth_token";
    let verifier = Verifier::provider("twilio", [token]).unwrap();
    let (recorder, server) = endpoint("twilio", verifier, dir.path()).await;
    let body = json!([
        twilio_event(
            "EZ1",
            "com.twilio.messaging.message.sent",
            "SM1",
            "2026-01-01T00:00:01.000Z"
        ),
        twilio_event(
            "EZ2",
            "com.twilio.messaging.message.delivered",
            "SM1",
            "2026-01-01T00:00:02.000Z"
        ),
    ])
    .to_string();
    let input = json!({"op": "sign", "provider": "twilio", "secret": token, "json": true,
                       "url": server.url("/webhook"), "body": body});
    let signed: Value = serde_json::from_slice(&end_to_end::node("url.mjs", &input)).unwrap();
    let url = signed["url"].as_str().unwrap();
    assert!(url.contains("bodySHA256="), "{url}");
    let signature = signed["headers"]["x-twilio-signature"].as_str().unwrap();
    let send = || {
        client()
            .post(url)
            .header("content-type", "application/json")
            .header("x-twilio-signature", signature)
            .body(body.clone())
            .send()
    };
    let (status, outcome, first) = answer(send().await.unwrap()).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"), "{first}");
    assert_eq!(first["message"], "a batch of 2 events: 2 handled");
    let (_, _, again) = answer(send().await.unwrap()).await;
    assert_eq!(again["message"], "a batch of 2 events: 2 duplicate");
    let applied = recorder.applied();
    let kinds: Vec<_> = applied
        .iter()
        .map(|a| (a.event.as_str(), a.delivery.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "com.twilio.messaging.message.sent",
                Some("/2010-04-01/Accounts/AC1/Messages/SM1.json EZ1")
            ),
            (
                "com.twilio.messaging.message.delivered",
                Some("/2010-04-01/Accounts/AC1/Messages/SM1.json EZ2")
            ),
        ]
    );
    // One byte of the body changed: its hash no longer matches the signed URL.
    let forged = body.replacen("EZ2", "EZ3", 1);
    let response = client()
        .post(url)
        .header("content-type", "application/json")
        .header("x-twilio-signature", signature)
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    server.stop().await;
}
