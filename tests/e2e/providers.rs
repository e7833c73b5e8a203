//! The provider catalogue over HTTP: endpoints built with `Verifier::provider(name, ..)`, with
//! deliveries signed by the sender's own published library where it signs (WorkOS), our
//! signature checked by the sender's library where it only verifies (Paddle), and the SDK's
//! `sign` helpers for the rest (their vectors are in the SDK's catalogue tests). The other
//! senders' libraries are in `catalogue_interop.rs`.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use end_to_end::{client, real_signer, real_verifier, Recorder, Server};
use receiver_sdk::envelope::{Envelope, Field, Mapping};
use receiver_sdk::verify::{sign, Verifier};
use receiver_sdk::Receiver;

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A loopback endpoint for the provider `name` with `secrets`, events typed by `/type`.
pub(crate) async fn endpoint(name: &str, secrets: &[&str]) -> Server {
    let receiver = Receiver::builder("provider")
        .verifier(Verifier::provider(name, secrets.iter().copied()).unwrap())
        .envelope(Envelope::Custom(Mapping::new(
            Field::pointer("/type").unwrap(),
        )))
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(Recorder::new().handler())
        .build()
        .unwrap();
    Server::start(Router::new().route_service("/webhook", receiver)).await
}

pub(crate) async fn post(server: &Server, headers: &[(String, String)], body: &str) -> u16 {
    let mut request = client()
        .post(server.url("/webhook"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

/// `body` with its first `a` changed to `b`: one byte different.
pub(crate) fn one_byte_changed(body: &str) -> String {
    body.replacen('a', "b", 1)
}

#[tokio::test]
async fn workos_deliveries_signed_by_the_workos_library_verify() {
    let (old, new) = ("workos_secret_old", "workos_secret_new");
    let server = endpoint("workos", &[old, new]).await;
    let body = r#"{"id":"event_01","type":"user.created","data":{"id":"user_01"}}"#;
    for secret in [old, new] {
        let signed = real_signer("workos", secret, body, "", now());
        assert_eq!(post(&server, &signed, body).await, 200, "{secret}");
    }
    let signed = real_signer("workos", new, body, "", now());
    assert_eq!(post(&server, &signed, &one_byte_changed(body)).await, 401);
    let stale = real_signer("workos", new, body, "", now() - 3_600);
    assert_eq!(post(&server, &stale, body).await, 401);
    let other = real_signer("workos", "workos_secret_other", body, "", now());
    assert_eq!(post(&server, &other, body).await, 401);
}

#[tokio::test]
async fn paddle_signatures_from_our_signer_satisfy_the_paddle_library_and_the_endpoint() {
    let (old, new) = ("pdl_ntfset_01_old", "pdl_ntfset_01_new");
    let server = endpoint("paddle", &[old, new]).await;
    let body = r#"{"event_id":"evt_01","type":"transaction.completed","data":{"id":"txn_01"}}"#;
    for secret in [old, new] {
        let signature = sign::paddle(secret, now(), body.as_bytes());
        assert!(
            real_verifier("paddle", secret, body, &signature),
            "{secret}"
        );
        let headers = [("paddle-signature".to_owned(), signature)];
        assert_eq!(post(&server, &headers, body).await, 200, "{secret}");
    }
    let signature = sign::paddle(new, now(), body.as_bytes());
    let changed = one_byte_changed(body);
    assert!(!real_verifier("paddle", new, &changed, &signature));
    let headers = [("paddle-signature".to_owned(), signature)];
    assert_eq!(post(&server, &headers, &changed).await, 401);
    let stale = sign::paddle(new, now() - 3_600, body.as_bytes());
    let headers = [("paddle-signature".to_owned(), stale)];
    assert_eq!(post(&server, &headers, body).await, 401);
}

#[tokio::test]
async fn every_catalogue_signer_is_accepted_over_http_and_a_changed_byte_is_not() {
    let body = r#"{"id":"evt_1","type":"account.updated","data":{"name":"a"}}"#;
    let bytes = body.as_bytes();
    let secret = "catalogue-secret";
    let at = now();
    let zoom_time = ("x-zm-request-timestamp", at.to_string());
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "asana",
            vec![("x-hook-signature", sign::asana(secret, bytes))],
        ),
        (
            "bitbucket",
            vec![("x-hub-signature", sign::bitbucket(secret, bytes))],
        ),
        (
            "calendly",
            vec![(
                "calendly-webhook-signature",
                sign::calendly(secret, at, bytes),
            )],
        ),
        (
            "coinbase-commerce",
            vec![(
                "x-cc-webhook-signature",
                sign::coinbase_commerce(secret, bytes),
            )],
        ),
        (
            "dropbox",
            vec![("x-dropbox-signature", sign::dropbox(secret, bytes))],
        ),
        (
            "github-sha1",
            vec![("x-hub-signature", sign::github_sha1(secret, bytes))],
        ),
        (
            "intercom",
            vec![("x-hub-signature", sign::intercom(secret, bytes))],
        ),
        (
            "lemon-squeezy",
            vec![("x-signature", sign::lemon_squeezy(secret, bytes))],
        ),
        (
            "line",
            vec![("x-line-signature", sign::line(secret, bytes))],
        ),
        (
            "meta",
            vec![("x-hub-signature-256", sign::meta(secret, bytes))],
        ),
        ("mux", vec![("mux-signature", sign::mux(secret, at, bytes))]),
        (
            "pagerduty",
            vec![("x-pagerduty-signature", sign::pagerduty(secret, bytes))],
        ),
        (
            "razorpay",
            vec![("x-razorpay-signature", sign::razorpay(secret, bytes))],
        ),
        (
            "sentry",
            vec![("sentry-hook-signature", sign::sentry(secret, bytes))],
        ),
        (
            "typeform",
            vec![("typeform-signature", sign::typeform(secret, bytes))],
        ),
        (
            "vercel",
            vec![("x-vercel-signature", sign::vercel(secret, bytes))],
        ),
        (
            "zoom",
            vec![("x-zm-signature", sign::zoom(secret, at, bytes)), zoom_time],
        ),
    ];
    for (name, headers) in cases {
        let server = endpoint(name, &["rotated-out", secret]).await;
        let headers: Vec<_> = headers
            .into_iter()
            .map(|(header, value)| (header.to_owned(), value))
            .collect();
        assert_eq!(post(&server, &headers, body).await, 200, "{name}");
        assert_eq!(
            post(&server, &headers, &one_byte_changed(body)).await,
            401,
            "{name}"
        );
    }
}
