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

/// The senders that sign the URL as well as the body (Twilio, Square, HubSpot v3, Trello), over
/// HTTP on loopback: signed by the sender's own library where it signs (`twilio`
/// `getExpectedTwilioSignature`, `@hubspot/api-client` `Signature.getSignature`), our `sign`
/// helpers checked by the library where it verifies (`twilio` `validateRequest`, `square`
/// `WebhooksHelper.verifySignature`, `Signature.isValid`), all through `tests/interop/url.mjs`.
pub(crate) mod url_signing {
    use serde_json::{json, Value};

    use super::*;

    /// What `url.mjs` prints for `input`.
    fn library(input: Value) -> Value {
        serde_json::from_slice(&end_to_end::node("url.mjs", &input)).expect("url.mjs prints JSON")
    }

    /// The headers (and the URL, which Twilio may extend) the library of `provider` signs.
    pub(crate) fn signed(provider: &str, input: Value) -> (String, Vec<(String, String)>) {
        let mut input = input;
        input["op"] = "sign".into();
        input["provider"] = provider.into();
        let output = library(input);
        let headers = output["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(name, value)| (name.clone(), value.as_str().expect("text").to_owned()))
            .collect();
        (output["url"].as_str().expect("a URL").to_owned(), headers)
    }

    /// Whether the library of `provider` accepts `signature`.
    fn accepted(provider: &str, input: Value) -> bool {
        let mut input = input;
        input["op"] = "verify".into();
        input["provider"] = provider.into();
        library(input)["valid"]
            .as_bool()
            .expect("{\"valid\": bool}")
    }

    /// A loopback endpoint for `name`, typed by `pointer`, behind `public_url` if given.
    async fn endpoint(
        name: &str,
        secrets: &[&str],
        pointer: &str,
        public_url: Option<&str>,
    ) -> Server {
        let mut builder = Receiver::builder("url-signing")
            .verifier(Verifier::provider(name, secrets.iter().copied()).unwrap())
            .envelope(Envelope::Custom(Mapping::new(
                Field::pointer(pointer).unwrap(),
            )))
            .store(receiver_sdk::store::MemoryStore::new())
            .accept_form_bodies()
            .handler(Recorder::new().handler());
        if let Some(url) = public_url {
            builder = builder.public_url(receiver_sdk::PublicUrl::parse(url).unwrap());
        }
        let receiver = builder.build().unwrap();
        Server::start(Router::new().route_service("/webhook", receiver)).await
    }

    /// Posts `body` to `url`'s path and query on `server`; the status and the body answered.
    async fn post(
        server: &Server,
        url: &str,
        content_type: &str,
        headers: &[(String, String)],
        body: &str,
    ) -> (u16, String) {
        let path = &url[url.find("/webhook").expect("the endpoint's path")..];
        let mut request = client()
            .post(server.url(path))
            .header("content-type", content_type)
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    const FORM: &str = "application/x-www-form-urlencoded";
    const JSON: &str = "application/json";

    fn now_ms() -> u64 {
        now() * 1000
    }

    #[tokio::test]
    async fn twilio_form_deliveries_signed_by_the_twilio_library_verify() {
        let (old, new) = ("twilio_token_old", "twilio_token_new");
        let server = endpoint("twilio", &[old, new], "/SmsStatus", None).await;
        let url = server.url("/webhook?site=7");
        let body = "MessageSid=SM1&SmsStatus=delivered&To=%2B15550001111&MediaUrl=a&MediaUrl=b";
        for secret in [old, new] {
            let input = json!({"secret": secret, "url": url, "body": body});
            let (url, headers) = signed("twilio", input);
            assert_eq!(
                post(&server, &url, FORM, &headers, body).await.0,
                200,
                "{secret}"
            );
        }
        let (_, headers) = signed("twilio", json!({"secret": new, "url": url, "body": body}));
        let changed = body.replacen("delivered", "deliverec", 1);
        assert_eq!(post(&server, &url, FORM, &headers, &changed).await.0, 401);
        let other = json!({"secret": "twilio_token_other", "url": url, "body": body});
        let (_, headers) = signed("twilio", other);
        assert_eq!(post(&server, &url, FORM, &headers, body).await.0, 401);

        let ours = sign::twilio(new, &url, body.as_bytes());
        let check =
            |body: &str| json!({"secret": new, "url": url, "body": body, "signature": ours});
        assert!(accepted("twilio", check(body)));
        assert!(!accepted("twilio", check(&changed)));
    }

    #[tokio::test]
    async fn twilio_json_is_authenticated_by_the_body_hash_in_the_signed_url() {
        let token = "twilio_token";
        let server = endpoint("twilio", &[token], "/event", None).await;
        let body = r#"{"event":"message.delivered","sid":"SM1"}"#;
        let input =
            json!({"secret": token, "url": server.url("/webhook"), "json": true, "body": body});
        let (url, headers) = signed("twilio", input);
        assert!(url.contains("bodySHA256="), "{url}");
        assert_eq!(post(&server, &url, JSON, &headers, body).await.0, 200);
        let changed = body.replacen("SM1", "SM2", 1);
        let (status, answer) = post(&server, &url, JSON, &headers, &changed).await;
        assert_eq!(status, 401);
        assert!(answer.contains("hash in the signed URL"), "{answer}");

        let ours = sign::twilio(token, &url, body.as_bytes());
        let check = |body: &str| json!({"secret": token, "url": url, "json": true, "body": body, "signature": ours});
        assert!(accepted("twilio", check(body)));
        assert!(!accepted("twilio", check(&changed)));
    }

    #[tokio::test]
    async fn twilio_shared_key_webhooks_signed_with_hmac_sha256_verify() {
        let (auth_token, shared_key) = ("twilio_auth_token", "twilio_shared_key");
        let server = endpoint("twilio", &[auth_token, shared_key], "/SmsStatus", None).await;
        let url = server.url("/webhook");
        let body = "MessageSid=SM1&SmsStatus=delivered";
        let input =
            json!({"secret": shared_key, "algorithm": "HMAC_SHA256", "url": url, "body": body});
        let (url, headers) = signed("twilio", input);
        assert_eq!(post(&server, &url, FORM, &headers, body).await.0, 200);
        let changed = body.replacen("delivered", "deliverec", 1);
        assert_eq!(post(&server, &url, FORM, &headers, &changed).await.0, 401);

        let ours = sign::twilio_sha256(shared_key, &url, body.as_bytes());
        let check = |body: &str| {
            json!({"secret": shared_key, "algorithm": "HMAC_SHA256", "url": url, "body": body,
                   "signature": ours})
        };
        assert!(accepted("twilio", check(body)));
        assert!(!accepted("twilio", check(&changed)));
    }

    #[tokio::test]
    async fn behind_a_proxy_the_signed_url_is_public_url_joined_with_the_path() {
        let token = "twilio_token";
        let base = "https://hooks.example.com/inbound";
        let server = endpoint("twilio", &[token], "/SmsStatus", Some(base)).await;
        let body = "MessageSid=SM1&SmsStatus=sent";
        // What Twilio was given, with the default port Twilio's library also accepts.
        for public in [
            "https://hooks.example.com/inbound/webhook?a=1",
            "https://hooks.example.com:443/inbound/webhook?a=1",
        ] {
            let (url, headers) = signed(
                "twilio",
                json!({"secret": token, "url": public, "body": body}),
            );
            assert_eq!(
                post(&server, &url, FORM, &headers, body).await.0,
                200,
                "{public}"
            );
        }
        let loopback = server.url("/webhook?a=1");
        let (url, headers) = signed(
            "twilio",
            json!({"secret": token, "url": loopback, "body": body}),
        );
        let (status, answer) = post(&server, &url, FORM, &headers, body).await;
        assert_eq!(status, 401);
        assert!(
            answer.contains("is public_url set to the URL the sender was given?"),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn square_signatures_from_our_signer_satisfy_the_square_library_and_the_endpoint() {
        let (old, new) = ("sq_key_old", "sq_key_new");
        let server = endpoint("square", &[old, new], "/type", None).await;
        let url = server.url("/webhook");
        let body = r#"{"merchant_id":"ML1","type":"payment.updated","event_id":"ev_1"}"#;
        for secret in [old, new] {
            let signature = sign::square(secret, &url, body.as_bytes());
            let check = json!({"secret": secret, "url": url, "body": body, "signature": signature});
            assert!(accepted("square", check), "{secret}");
            let headers = [("x-square-hmacsha256-signature".to_owned(), signature)];
            assert_eq!(
                post(&server, &url, JSON, &headers, body).await.0,
                200,
                "{secret}"
            );
        }
        let signature = sign::square(new, &url, body.as_bytes());
        let changed = one_byte_changed(body);
        let check = json!({"secret": new, "url": url, "body": changed, "signature": signature});
        assert!(!accepted("square", check));
        let headers = [("x-square-hmacsha256-signature".to_owned(), signature)];
        assert_eq!(post(&server, &url, JSON, &headers, &changed).await.0, 401);
        let elsewhere = sign::square(new, "https://example.com/webhook", body.as_bytes());
        let headers = [("x-square-hmacsha256-signature".to_owned(), elsewhere)];
        assert_eq!(post(&server, &url, JSON, &headers, body).await.0, 401);
    }

    #[tokio::test]
    async fn hubspot_v3_deliveries_signed_by_the_hubspot_library_verify() {
        let (old, new) = ("hubspot_secret_old", "hubspot_secret_new");
        let server = endpoint("hubspot", &[old, new], "/0/subscriptionType", None).await;
        // HubSpot signs the URI with `%3A`, `%2F` and the rest of its list decoded.
        let received = server.url("/webhook?return=https%3A%2F%2Fx.test%2Fa");
        let signed_uri = server.url("/webhook?return=https://x.test/a");
        let body = r#"[{"eventId":1,"subscriptionType":"contact.creation","objectId":123}]"#;
        let sign_at = |secret: &str, timestamp: u64| {
            let input =
                json!({"secret": secret, "url": signed_uri, "body": body, "timestamp": timestamp});
            signed("hubspot", input).1
        };
        for secret in [old, new] {
            let headers = sign_at(secret, now_ms());
            assert_eq!(
                post(&server, &received, JSON, &headers, body).await.0,
                200,
                "{secret}"
            );
        }
        let headers = sign_at(new, now_ms());
        let changed = body.replacen("123", "124", 1);
        assert_eq!(
            post(&server, &received, JSON, &headers, &changed).await.0,
            401
        );
        let expired = sign_at(new, now_ms() - 10 * 60 * 1000);
        assert_eq!(post(&server, &received, JSON, &expired, body).await.0, 401);
        assert_eq!(
            post(
                &server,
                &received,
                JSON,
                &sign_at("hubspot_secret_other", now_ms()),
                body
            )
            .await
            .0,
            401
        );

        let at = now_ms();
        let ours = sign::hubspot(new, "POST", &received, body.as_bytes(), at);
        let check = |body: &str, timestamp: u64| {
            json!({"secret": new, "url": signed_uri, "body": body, "timestamp": timestamp,
                   "signature": ours})
        };
        assert!(accepted("hubspot", check(body, at)));
        assert!(!accepted("hubspot", check(&changed, at)));
        let old_ours = sign::hubspot(new, "POST", &received, body.as_bytes(), at - 600_000);
        let mut stale = check(body, at - 600_000);
        stale["signature"] = old_ours.into();
        assert!(
            !accepted("hubspot", stale),
            "the library refuses a stale timestamp"
        );
    }

    #[tokio::test]
    async fn trello_deliveries_verify_against_the_callback_url() {
        // Trello publishes no library and no vector: `sign::trello` follows its documentation
        // (base64 HMAC-SHA1 of the body then the callback URL), pinned by an independent
        // Python vector in the SDK's catalogue tests.
        let (old, new) = ("trello_secret_old", "trello_secret_new");
        let server = endpoint("trello", &[old, new], "/action/type", None).await;
        let url = server.url("/webhook?board=4d5e");
        let body = r#"{"action":{"type":"updateCard"},"model":{"id":"4d5ea62fd76aa1136000000c"}}"#;
        for secret in [old, new] {
            let headers = [(
                "x-trello-webhook".to_owned(),
                sign::trello(secret, &url, body.as_bytes()),
            )];
            assert_eq!(
                post(&server, &url, JSON, &headers, body).await.0,
                200,
                "{secret}"
            );
        }
        let headers = [(
            "x-trello-webhook".to_owned(),
            sign::trello(new, &url, body.as_bytes()),
        )];
        let changed = one_byte_changed(body);
        assert_eq!(post(&server, &url, JSON, &headers, &changed).await.0, 401);
        let elsewhere = sign::trello(new, "https://example.com/trelloCallback", body.as_bytes());
        let headers = [("x-trello-webhook".to_owned(), elsewhere)];
        assert_eq!(post(&server, &url, JSON, &headers, body).await.0, 401);
    }
}
