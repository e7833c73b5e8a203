//! Regressions found in a second review of batches and CloudEvents modes, over real HTTP and a
//! sled directory: a signed message coming back under ids its signature does not cover, and
//! the id limit applied to the digest the endpoint makes itself.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use end_to_end::{answer, client, Recorder, Server};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::ordering::OrderingScope;
use receiver_sdk::store::SledStore;
use receiver_sdk::verify::{sign, Verifier};
use receiver_sdk::Receiver;
use serde_json::{json, Value};

const BATCH: &str = "application/cloudevents-batch+json";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn event(id: &str, subject: &str, time: &str) -> Value {
    json!({
        "specversion": "1.0", "type": "com.example.order.updated", "source": "/shop",
        "id": id, "subject": subject, "time": time, "data": {"order": subject, "id": id}
    })
}

/// Binary mode's attributes, chosen by whoever sends the request: a fresh id, the order's
/// subject and a time far ahead, which would make every real update of the order stale.
fn forged_binary(id: &'static str) -> Vec<(&'static str, String)> {
    [
        ("content-type", "application/json"),
        ("ce-specversion", "1.0"),
        ("ce-id", id),
        ("ce-source", "/shop"),
        ("ce-type", "com.example.order.updated"),
        ("ce-subject", "o1"),
        ("ce-time", "2099-01-01T00:00:00Z"),
    ]
    .map(|(name, value)| (name, value.to_owned()))
    .into()
}

async fn receiver(
    name: &str,
    dir: &std::path::Path,
    verifier: Verifier,
    recorder: &Recorder,
) -> Server {
    // Binary mode's unsigned attributes taken, as an endpoint that opted in does: a signed
    // message must still be handled once.
    let receiver = Receiver::builder(name)
        .envelope(Envelope::CloudEvents)
        .ordering(OrderingScope::PerEntity)
        .accept_unsigned_cloudevents_attributes()
        .verifier(verifier)
        .batch_limit(1)
        .store(SledStore::open(dir).unwrap())
        .handler(recorder.handler())
        .build()
        .unwrap();
    Server::start(Router::new().route_service("/events", receiver)).await
}

async fn send(server: &Server, headers: &[(&str, String)], body: &str) -> (u16, String, Value) {
    let mut request = client().post(server.url("/events")).body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    answer(request.send().await.unwrap()).await
}

/// Standard Webhooks' three headers for `body`, signed now.
fn standard_webhooks(id: &str, body: &str) -> Vec<(&'static str, String)> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signature = sign::standard_webhooks(WHSEC, id, now, body.as_bytes()).unwrap();
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", now.to_string()),
        ("webhook-signature", signature),
    ]
}

fn handled(recorder: &Recorder) -> Vec<Option<String>> {
    recorder.applied().into_iter().map(|a| a.delivery).collect()
}

/// Standard Webhooks signs its `webhook-id`, so the endpoint takes its verifier to sign the
/// delivery id; but the CloudEvents envelope's id is binary mode's `ce-source` and `ce-id`,
/// which nothing signs. Within the five minutes the timestamp allows, the same signed request
/// under a fresh `ce-id` is handled again.
#[tokio::test]
async fn regression_under_standard_webhooks_a_binary_event_resent_under_a_fresh_ce_id_is_a_duplicate(
) {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let verifier = Verifier::standard_webhooks([WHSEC]).unwrap();
    let server = receiver("standard-binary", dir.path(), verifier, &recorder).await;
    let body = json!({"order": "o1", "total": 10}).to_string();
    let signed = standard_webhooks("msg_1", &body);
    let mut first = forged_binary("e1");
    first.extend(signed.iter().cloned());
    let (status, outcome, answer) = send(&server, &first, &body).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"), "{answer}");

    let mut replay = forged_binary("e1-again");
    replay.extend(signed);
    let (status, outcome, answer) = send(&server, &replay, &body).await;
    assert_eq!(
        handled(&recorder),
        [Some("/shop e1".to_owned())],
        "one signed request handled twice under two ce-ids: {status} {outcome} {answer}"
    );
    server.stop().await;
}

/// The first review's binary-mode replay of a signed batch, under Standard Webhooks instead
/// of GitHub: the whole body's key is recorded only for a verifier that "authenticates only
/// the body", which Standard Webhooks is not said to be, so the replay is a new event.
#[tokio::test]
async fn regression_under_standard_webhooks_a_signed_batch_replayed_in_binary_mode_is_not_handled()
{
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let verifier = Verifier::standard_webhooks([WHSEC]).unwrap();
    let server = receiver("standard-batches", dir.path(), verifier, &recorder).await;
    let body = json!([event("e1", "o1", "2026-01-01T00:00:01Z")]).to_string();
    let signed = standard_webhooks("msg_batch", &body);
    let mut batch = vec![("content-type", BATCH.to_owned())];
    batch.extend(signed.iter().cloned());
    let (status, outcome, answer) = send(&server, &batch, &body).await;
    assert_eq!((status, outcome.as_str()), (200, "batch"), "{answer}");

    let mut replay = forged_binary("forged-1");
    replay.extend(signed);
    let (status, outcome, answer) = send(&server, &replay, &body).await;
    assert_ne!(
        outcome, "handled",
        "a replay of a signed batch was handled as a new event: {status} {answer}"
    );
    assert_eq!(handled(&recorder), [Some("/shop e1".to_owned())]);
    server.stop().await;
}

/// HubSpot sends no delivery id; the envelope makes one, `sha256:` and 64 hex digits, from
/// the event without `attemptNumber`. The id limit is there to bound what a sender chooses,
/// yet it is held against this id of the endpoint's own: with a limit that takes every UUID
/// (64 bytes), every HubSpot event is refused 400, and HubSpot does not retry a 400.
#[tokio::test]
async fn regression_the_id_limit_does_not_refuse_the_digest_the_endpoint_makes_for_hubspot() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::new();
    let receiver = Receiver::builder("hubspot-ids")
        .envelope(Envelope::provider("hubspot").unwrap())
        .max_id_bytes(64)
        .store(SledStore::open(dir.path()).unwrap())
        .handler(recorder.handler())
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/events", receiver)).await;
    let body = json!([{"eventId": 100, "subscriptionId": 25, "portalId": 33, "appId": 1_160_452,
        "occurredAt": 1_462_216_307_945_u64, "subscriptionType": "contact.creation",
        "attemptNumber": 0, "objectId": 7, "changeSource": "CRM_UI"}])
    .to_string();
    let json = [("content-type", "application/json".to_owned())];
    let (status, outcome, answer) = send(&server, &json, &body).await;
    assert_eq!(
        (status, outcome.as_str()),
        (200, "batch"),
        "a HubSpot event was refused for the id the endpoint made: {answer}"
    );
    assert_eq!(recorder.applied().len(), 1);
    server.stop().await;
}

/// By default an endpoint refuses binary mode when its signature does not cover the `ce-*`
/// attributes, under a body-only HMAC and under Standard Webhooks alike; structured mode
/// carries them in the signed body and is taken.
#[tokio::test]
async fn binary_mode_whose_attributes_the_signature_does_not_cover_is_refused_by_default() {
    let body = json!({"order": "o1", "total": 10}).to_string();
    let github = sign::github("s3cret", body.as_bytes());
    let cases: [(Verifier, Vec<(&str, String)>); 2] = [
        (
            Verifier::github(["s3cret"]).unwrap(),
            vec![("x-hub-signature-256", github)],
        ),
        (
            Verifier::standard_webhooks([WHSEC]).unwrap(),
            standard_webhooks("msg_1", &body),
        ),
    ];
    for (verifier, signed) in cases {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new();
        let receiver = Receiver::builder("binary-refused")
            .envelope(Envelope::CloudEvents)
            .verifier(verifier)
            .store(SledStore::open(dir.path()).unwrap())
            .handler(recorder.handler())
            .build()
            .unwrap();
        let server = Server::start(Router::new().route_service("/events", receiver)).await;
        let mut binary = forged_binary("e1");
        binary.extend(signed.iter().cloned());
        let (status, outcome, answer) = send(&server, &binary, &body).await;
        assert_eq!(
            (status, outcome.as_str()),
            (401, "unauthorized"),
            "{answer}"
        );
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains("send structured mode"), "{message}");
        assert!(recorder.applied().is_empty());

        // The same event in structured mode, its attributes inside what is signed.
        let event = event("e1", "o1", "2026-01-01T00:00:01Z").to_string();
        let mut structured = vec![("content-type", "application/cloudevents+json".to_owned())];
        structured.extend(match signed[0].0 {
            "x-hub-signature-256" => vec![(
                "x-hub-signature-256",
                sign::github("s3cret", event.as_bytes()),
            )],
            _ => standard_webhooks("msg_2", &event),
        });
        let (status, outcome, answer) = send(&server, &structured, &event).await;
        assert_eq!((status, outcome.as_str()), (200, "handled"), "{answer}");
        server.stop().await;
    }
}
