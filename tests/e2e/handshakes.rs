//! Setup handshakes over loopback HTTP: each answered exactly as its sender's documentation
//! asks, only on an endpoint configured for it, refused when its own check fails, and never a
//! delivery (the handler is not called, the store is not touched).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use axum::Router;
use end_to_end::{answer, client, Recorder, Server};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use receiver_sdk::handshake::Handshake;
use receiver_sdk::store::{
    Commit, DeliveryKey, EventTime, MemoryStore, OrderingKey, Store, StoreError, UnixSeconds,
};
use receiver_sdk::verify::{sign, Verifier, Verify, VerifyFailure};
use receiver_sdk::{Receiver, ReceiverBuilder, Secret};
use serde_json::json;
use sha2::Sha256;

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const ZOOM_SECRET: &str = "zoom-secret-token-4f1c";

/// A memory store that counts every call made to it: a handshake must make none.
#[derive(Default)]
struct Counting {
    store: MemoryStore,
    calls: Arc<AtomicUsize>,
}

impl Counting {
    fn touch(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for Counting {
    async fn mark(&self, key: &OrderingKey) -> Result<Option<EventTime>, StoreError> {
        self.touch();
        self.store.mark(key).await
    }

    async fn is_handled(&self, key: &DeliveryKey, now: UnixSeconds) -> Result<bool, StoreError> {
        self.touch();
        self.store.is_handled(key, now).await
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        self.touch();
        self.store.commit(commit).await
    }

    async fn purge_expired(&self, now: UnixSeconds, limit: usize) -> Result<usize, StoreError> {
        self.touch();
        self.store.purge_expired(now, limit).await
    }

    async fn purge_marks(&self, before: EventTime, limit: usize) -> Result<usize, StoreError> {
        self.touch();
        self.store.purge_marks(before, limit).await
    }
}

/// A running endpoint, what its handler saw and how often its store was called.
struct Endpoint {
    server: Server,
    recorder: Recorder,
    store_calls: Arc<AtomicUsize>,
}

impl Endpoint {
    async fn start(builder: ReceiverBuilder) -> Self {
        let recorder = Recorder::new();
        let store = Counting::default();
        let store_calls = Arc::clone(&store.calls);
        let receiver = builder
            .store(store)
            .handler(recorder.handler())
            .build()
            .unwrap();
        let server = Server::start(Router::new().route_service("/hook", receiver)).await;
        Self {
            server,
            recorder,
            store_calls,
        }
    }

    fn url(&self, query: &str) -> String {
        self.server.url(&format!("/hook{query}"))
    }

    /// Nothing was a delivery: no handler call, no store access.
    fn assert_untouched(&self) {
        assert!(self.recorder.applied().is_empty(), "the handler ran");
        assert_eq!(
            self.store_calls.load(Ordering::SeqCst),
            0,
            "the store was used"
        );
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn cloudevents_options_gets_the_allowed_origin_rate_and_allow() {
    let per_minute = NonZeroU32::new(120).unwrap();
    let endpoint = Endpoint::start(Receiver::builder("grid").handshake(
        Handshake::cloud_events_limited(["eventgrid.azure.net"], per_minute),
    ))
    .await;
    let response = client()
        .request(reqwest::Method::OPTIONS, endpoint.url(""))
        .header("WebHook-Request-Origin", "eventgrid.azure.net")
        .header("WebHook-Request-Rate", "120")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "webhook-allowed-origin").as_deref(),
        Some("eventgrid.azure.net")
    );
    assert_eq!(
        header(&response, "webhook-allowed-rate").as_deref(),
        Some("120")
    );
    assert_eq!(header(&response, "allow").as_deref(), Some("POST"));
    assert_eq!(
        header(&response, "x-webhook-outcome").as_deref(),
        Some("handshake")
    );
    endpoint.assert_untouched();
}

#[tokio::test]
async fn cloudevents_origin_not_allowed_is_refused_without_consent_headers() {
    let endpoint = Endpoint::start(
        Receiver::builder("grid").handshake(Handshake::cloud_events(["eventgrid.azure.net"])),
    )
    .await;
    let response = client()
        .request(reqwest::Method::OPTIONS, endpoint.url(""))
        .header("WebHook-Request-Origin", "attacker.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(header(&response, "webhook-allowed-origin"), None);
    assert_eq!(header(&response, "webhook-allowed-rate"), None);
    let (_, outcome, body) = answer(response).await;
    assert_eq!(outcome, "handshake_refused");
    assert_eq!(body["outcome"], "handshake_refused");
    endpoint.assert_untouched();
}

#[tokio::test]
async fn cloudevents_configured_for_any_origin_answers_a_star() {
    let endpoint =
        Endpoint::start(Receiver::builder("grid").handshake(Handshake::cloud_events(["*"]))).await;
    let response = client()
        .request(reqwest::Method::OPTIONS, endpoint.url(""))
        .header("WebHook-Request-Origin", "anyone.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "webhook-allowed-origin").as_deref(),
        Some("*")
    );
    assert_eq!(
        header(&response, "webhook-allowed-rate").as_deref(),
        Some("*")
    );
    endpoint.assert_untouched();
}

#[tokio::test]
async fn without_a_handshake_options_and_get_stay_405_and_head_stays_200() {
    let plain = Endpoint::start(Receiver::builder("plain")).await;
    let options = client()
        .request(reqwest::Method::OPTIONS, plain.url(""))
        .header("WebHook-Request-Origin", "eventgrid.azure.net")
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 405);
    let get = client()
        .get(plain.url("?validationToken=abc&challenge=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    plain.assert_untouched();

    let configured = Endpoint::start(
        Receiver::builder("configured")
            .handshake(Handshake::cloud_events(["*"]))
            .handshake(Handshake::dropbox()),
    )
    .await;
    let head = client().head(configured.url("")).send().await.unwrap();
    assert_eq!(head.status(), 200, "Sonar's HEAD probe keeps working");
    let put = client().put(configured.url("")).send().await.unwrap();
    assert_eq!(put.status(), 405);
    let get = client().get(configured.url("")).send().await.unwrap();
    assert_eq!(get.status(), 405, "a GET that is no handshake");
    configured.assert_untouched();
}

#[tokio::test]
async fn microsoft_graph_validation_token_is_echoed_decoded_as_plain_text() {
    let endpoint =
        Endpoint::start(Receiver::builder("graph").handshake(Handshake::microsoft_graph())).await;
    // The token as Graph sends it: a sentence, URL-encoded.
    let token = "Validation: Testing client application reachability for subscription \
                 Request-Id: 8bd1b8a6-5a52-4b1a-8b31-8f1c6e2b7b5e";
    let query = "?validationToken=Validation%3A+Testing%20client%20application%20reachability\
                 %20for%20subscription%20Request-Id%3A%208bd1b8a6-5a52-4b1a-8b31-8f1c6e2b7b5e";
    let response = client()
        .post(endpoint.url(query))
        .header("content-type", "text/plain; charset=utf-8")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        header(&response, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(response.text().await.unwrap(), token);
    endpoint.assert_untouched();
}

#[tokio::test]
async fn microsoft_graph_tokens_too_long_or_with_control_characters_are_refused() {
    let endpoint =
        Endpoint::start(Receiver::builder("graph").handshake(Handshake::microsoft_graph())).await;
    let long = "a".repeat(receiver_sdk::handshake::MAX_ECHO_BYTES + 1);
    for query in [
        format!("?validationToken={long}"),
        "?validationToken=abc%0D%0ASet-Cookie:%20x=1".to_owned(),
    ] {
        let response = client().post(endpoint.url(&query)).send().await.unwrap();
        let (status, outcome, body) = answer(response).await;
        assert_eq!(
            (status, outcome.as_str()),
            (400, "handshake_refused"),
            "{query}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("validationToken"),
            "{body}"
        );
    }
    endpoint.assert_untouched();
}

#[tokio::test]
async fn meta_challenge_is_echoed_for_the_right_verify_token_and_403_otherwise() {
    let endpoint =
        Endpoint::start(Receiver::builder("whatsapp").handshake(Handshake::meta("meatyhamhock")))
            .await;
    let response = client()
        .get(
            endpoint
                .url("?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "1158201444");

    let wrong = client()
        .get(
            endpoint
                .url("?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhocks"),
        )
        .send()
        .await
        .unwrap();
    let (status, outcome, body) = answer(wrong).await;
    assert_eq!((status, outcome.as_str()), (403, "handshake_refused"));
    assert!(
        !body.to_string().contains("meatyhamhock"),
        "never says what was expected: {body}"
    );

    let no_token = client()
        .get(endpoint.url("?hub.mode=subscribe&hub.challenge=1158201444"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);
    endpoint.assert_untouched();
}

#[tokio::test]
async fn dropbox_challenge_is_echoed_as_plain_text_with_nosniff() {
    let endpoint =
        Endpoint::start(Receiver::builder("dropbox").handshake(Handshake::dropbox())).await;
    let response = client()
        .get(endpoint.url("?challenge=Wq3kGX8ZzLr1m0a"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        header(&response, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(response.text().await.unwrap(), "Wq3kGX8ZzLr1m0a");
    endpoint.assert_untouched();
}

#[tokio::test]
async fn okta_verification_challenge_is_answered_in_json() {
    let endpoint = Endpoint::start(Receiver::builder("okta").handshake(Handshake::okta())).await;
    let response = client()
        .get(endpoint.url(""))
        .header(
            "X-Okta-Verification-Challenge",
            "2aG6ydnMGsM3rZtyY8qNyFDAuNIkgHRXmYBTEtTe",
        )
        .send()
        .await
        .unwrap();
    let (status, outcome, body) = answer(response).await;
    assert_eq!((status, outcome.as_str()), (200, "handshake"));
    assert_eq!(
        body,
        json!({"verification": "2aG6ydnMGsM3rZtyY8qNyFDAuNIkgHRXmYBTEtTe"})
    );
    endpoint.assert_untouched();
}

fn slack_endpoint() -> ReceiverBuilder {
    Receiver::builder("slack")
        .verifier(Verifier::slack([SLACK_SECRET]).unwrap())
        .handshake(Handshake::slack())
}

const SLACK_CHALLENGE: &str = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;

#[tokio::test]
async fn slack_url_verification_signed_is_answered_with_the_challenge() {
    let endpoint = Endpoint::start(slack_endpoint()).await;
    let timestamp = now();
    let response = client()
        .post(endpoint.url(""))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header(
            "x-slack-signature",
            sign::slack(SLACK_SECRET, timestamp, SLACK_CHALLENGE.as_bytes()),
        )
        .body(SLACK_CHALLENGE)
        .send()
        .await
        .unwrap();
    let (status, outcome, body) = answer(response).await;
    assert_eq!((status, outcome.as_str()), (200, "handshake"));
    assert_eq!(
        body,
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    endpoint.assert_untouched();
}

#[tokio::test]
async fn slack_url_verification_unsigned_or_forged_is_401_like_any_delivery() {
    let endpoint = Endpoint::start(slack_endpoint()).await;
    let timestamp = now();
    let unsigned = client()
        .post(endpoint.url(""))
        .header("content-type", "application/json")
        .body(SLACK_CHALLENGE)
        .send()
        .await
        .unwrap();
    assert_eq!(answer(unsigned).await.0, 401);
    let forged = client()
        .post(endpoint.url(""))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header(
            "x-slack-signature",
            sign::slack("not-the-secret", timestamp, SLACK_CHALLENGE.as_bytes()),
        )
        .body(SLACK_CHALLENGE)
        .send()
        .await
        .unwrap();
    let (status, outcome, _) = answer(forged).await;
    assert_eq!((status, outcome.as_str()), (401, "unauthorized"));
    endpoint.assert_untouched();
}

/// Zoom's signature as its docs give it: `x-zm-signature: v0=<hex HMAC-SHA256>` over
/// `v0:{x-zm-request-timestamp}:{body}`, keyed with the app's secret token. Written here
/// because the handshake's check is whatever the endpoint's verifier is.
#[derive(Debug)]
struct ZoomSignature(Secret);

fn zoom_mac(secret: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap();
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

impl Verify for ZoomSignature {
    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        _now: SystemTime,
    ) -> Result<(), VerifyFailure> {
        let get = |name: &str| headers.get(name).map(|v| v.as_bytes().to_vec());
        let (Some(timestamp), Some(sent)) = (get("x-zm-request-timestamp"), get("x-zm-signature"))
        else {
            return Err(VerifyFailure::other("no Zoom signature"));
        };
        let expected = format!(
            "v0={}",
            zoom_mac(self.0.expose(), &[b"v0:", &timestamp, b":", body])
        );
        if Secret::new(expected).ct_eq(&Secret::new(sent)) {
            Ok(())
        } else {
            Err(VerifyFailure::other("Zoom signature does not match"))
        }
    }
}

#[tokio::test]
async fn zoom_url_validation_signed_gets_the_plain_and_encrypted_tokens() {
    let endpoint = Endpoint::start(
        Receiver::builder("zoom")
            .verifier(ZoomSignature(Secret::from(ZOOM_SECRET)))
            .handshake(Handshake::zoom(ZOOM_SECRET)),
    )
    .await;
    let body = json!({
        "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
        "event_ts": 1654503849680_u64,
        "event": "endpoint.url_validation"
    })
    .to_string();
    let timestamp = now().to_string();
    let signature = format!(
        "v0={}",
        zoom_mac(
            ZOOM_SECRET.as_bytes(),
            &[b"v0:", timestamp.as_bytes(), b":", body.as_bytes()]
        )
    );
    let send = |signature: String| {
        client()
            .post(endpoint.url(""))
            .header("content-type", "application/json")
            .header("x-zm-request-timestamp", &timestamp)
            .header("x-zm-signature", signature)
            .body(body.clone())
            .send()
    };
    let (status, outcome, answered) = answer(send(signature).await.unwrap()).await;
    assert_eq!((status, outcome.as_str()), (200, "handshake"));
    assert_eq!(
        answered,
        json!({
            "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
            "encryptedToken": zoom_mac(ZOOM_SECRET.as_bytes(), &[b"qgg8vlvZRS6UYooatFL8Aw"]),
        })
    );
    let (status, _, _) = answer(send("v0=00".into()).await.unwrap()).await;
    assert_eq!(status, 401, "a forged validation is no handshake");
    endpoint.assert_untouched();
}

/// RFC 8032's first Ed25519 test seed, as a Discord application's key.
const DISCORD_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/// Whether Discord's own library (discord-interactions' `verifyKey`, tests/interop) accepts a
/// signature: the PINGs sent here are the ones Discord would send.
fn discord_library_accepts(public_key: &str, body: &str, timestamp: u64, signature: &str) -> bool {
    let input = json!({
        "op": "verify", "scheme": "discord", "public_key": public_key, "body": body,
        "id": "", "timestamp": timestamp, "signature": signature,
    });
    let output: serde_json::Value =
        serde_json::from_slice(&end_to_end::node("asymmetric.mjs", &input)).unwrap();
    output["valid"].as_bool().unwrap()
}

#[tokio::test]
async fn discord_ping_signed_is_answered_pong_and_badly_signed_is_401() {
    let public = sign::discord_public_key(DISCORD_SEED).unwrap();
    let endpoint = Endpoint::start(
        Receiver::builder("discord")
            .verifier(Verifier::discord([&public]).unwrap())
            .handshake(Handshake::discord()),
    )
    .await;
    let ping = r#"{"application_id":"1031092467371339858","id":"1031092584883818568","type":1,"version":1}"#;
    let timestamp = now();
    let signature = sign::discord(DISCORD_SEED, timestamp, ping.as_bytes()).unwrap();
    assert!(discord_library_accepts(
        &public, ping, timestamp, &signature
    ));
    let send = |signature: String| {
        client()
            .post(endpoint.url(""))
            .header("content-type", "application/json")
            .header("x-signature-ed25519", signature)
            .header("x-signature-timestamp", timestamp.to_string())
            .body(ping)
            .send()
    };
    let response = send(signature.clone()).await.unwrap();
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/json")
    );
    let (status, outcome, body) = answer(response).await;
    assert_eq!((status, outcome.as_str()), (200, "handshake"));
    assert_eq!(body, json!({"type": 1}));

    // Discord's own check: the same PING with one signature byte changed, and none at all.
    let mut forged = signature.into_bytes();
    forged[0] = if forged[0] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    assert!(!discord_library_accepts(&public, ping, timestamp, &forged));
    let (status, outcome, _) = answer(send(forged).await.unwrap()).await;
    assert_eq!((status, outcome.as_str()), (401, "unauthorized"));
    let unsigned = client()
        .post(endpoint.url(""))
        .header("content-type", "application/json")
        .body(ping)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    endpoint.assert_untouched();
}

/// The secret of Asana's documented handshake example.
const ASANA_SECRET: &str = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81";

async fn asana_handshake(endpoint: &Endpoint, secret: &str) -> reqwest::Response {
    client()
        .post(endpoint.url(""))
        .header("X-Hook-Secret", secret)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn asana_hook_secret_is_echoed_and_handed_to_the_application() {
    let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = Arc::clone(&kept);
    let endpoint = Endpoint::start(Receiver::builder("asana").handshake(Handshake::asana_with(
        move |secret: &Secret| {
            keep.lock().unwrap().push(secret.clone());
            Ok(())
        },
    )))
    .await;
    let response = asana_handshake(&endpoint, ASANA_SECRET).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-hook-secret").as_deref(),
        Some(ASANA_SECRET)
    );
    assert_eq!(
        header(&response, "x-webhook-outcome").as_deref(),
        Some("handshake")
    );
    let kept = kept.lock().unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].ct_eq(&Secret::from(ASANA_SECRET)));
    endpoint.assert_untouched();
}

#[tokio::test]
async fn asana_expecting_its_secret_refuses_another_and_verifies_what_follows() {
    let endpoint = Endpoint::start(
        Receiver::builder("asana")
            .envelope(receiver_sdk::envelope::Envelope::Raw)
            .verifier(Verifier::provider("asana", [Secret::from(ASANA_SECRET)]).unwrap())
            .handshake(Handshake::asana_expecting([ASANA_SECRET])),
    )
    .await;
    let known = asana_handshake(&endpoint, ASANA_SECRET).await;
    assert_eq!(known.status(), 200);
    assert_eq!(
        header(&known, "x-hook-secret").as_deref(),
        Some(ASANA_SECRET)
    );
    let other = asana_handshake(&endpoint, "f00dfeed").await;
    assert_eq!(header(&other, "x-hook-secret"), None);
    let (status, outcome, _) = answer(other).await;
    assert_eq!((status, outcome.as_str()), (403, "handshake_refused"));
    endpoint.assert_untouched();

    // An event signed as Asana signs (X-Hook-Signature, hex HMAC-SHA256 of the body) is a
    // delivery, not a handshake.
    let event = r#"{"events":[]}"#;
    let signature = sign::asana(ASANA_SECRET, event.as_bytes());
    let delivery = client()
        .post(endpoint.url(""))
        .header("content-type", "application/json")
        .header("X-Hook-Signature", signature)
        .body(event)
        .send()
        .await
        .unwrap();
    assert_ne!(
        header(&delivery, "x-webhook-outcome").as_deref(),
        Some("handshake")
    );
    assert_eq!(delivery.status(), 200);
}

#[tokio::test]
async fn trello_head_is_answered_200_as_its_handshake() {
    let endpoint =
        Endpoint::start(Receiver::builder("trello").handshake(Handshake::trello())).await;
    let head = client().head(endpoint.url("")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        header(&head, "x-webhook-outcome").as_deref(),
        Some("handshake")
    );
    let get = client().get(endpoint.url("")).send().await.unwrap();
    assert_eq!(get.status(), 405, "Trello's handshake is a HEAD only");
    endpoint.assert_untouched();

    let plain = Endpoint::start(Receiver::builder("sonar")).await;
    let probe = client().head(plain.url("")).send().await.unwrap();
    assert_eq!(probe.status(), 200, "HEAD stays a probe everywhere else");
    assert_eq!(header(&probe, "x-webhook-outcome"), None);
}
