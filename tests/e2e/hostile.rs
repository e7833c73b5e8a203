//! The hostile input battery: malformed and malicious requests against SDK endpoints over real
//! loopback HTTP, each with its documented status and a check of the message. Requests that
//! no HTTP client would send (bad framing, control bytes in headers, slow bodies) go over raw
//! TCP (`end_to_end::raw`). After the battery every endpoint still handles a valid delivery.
//!
//! Statuses below hyper's own checks (framing, header limits) come from hyper and carry no
//! body; everything past them is the SDK's answer with its JSON `message`.
//!
//! The cases live in one module per section (bodies, content types, sizes and framing, methods
//! and paths, then each verifier's); this file holds the endpoints they are sent to, the shapes
//! of a request, and the one test that sends them all to one server.

mod basic_auth;
mod bodies;
mod content_types;
mod framing;
mod github;
mod methods;
mod standard_webhooks;
mod stripe;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use base64::Engine;
use end_to_end::{raw, Recorder, Server};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::verify::{sign, Verifier};
use receiver_sdk::{Receiver, ReceiverBuilder, Secret};

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const STRIPE_SECRET: &str = "whsec_stripe_test";
const USER: &str = "fieldservice";
const PASSWORD: &str = "pa55:w0rd";
const TOKEN: &str = "tok-3f9a";
/// The body limit of every endpoint in the battery.
const LIMIT: usize = 64 * 1024;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn endpoint(
    name: &str,
    recorder: &Recorder,
    configure: impl Fn(ReceiverBuilder) -> ReceiverBuilder,
) -> Receiver {
    configure(Receiver::builder(name))
        .store(receiver_sdk::store::MemoryStore::new())
        .body_limit(LIMIT)
        .handler(recorder.handler())
        .build()
        .unwrap()
}

async fn battery_server(recorder: &Recorder) -> Server {
    let basic = [(USER.to_owned(), Secret::from(PASSWORD))];
    let app = Router::new()
        .route_service(
            "/sonar",
            endpoint("sonar", recorder, |b| b.envelope(Envelope::Sonar)),
        )
        .route_service(
            "/integration",
            endpoint("integration", recorder, |b| {
                b.envelope(Envelope::Integration)
            }),
        )
        .route_service(
            "/slow",
            endpoint("slow", recorder, |b| {
                b.envelope(Envelope::Raw)
                    .body_timeout(Duration::from_millis(300))
            }),
        )
        .route_service(
            "/standard",
            endpoint("standard", recorder, |b| {
                b.envelope(Envelope::StandardWebhooks)
                    .verifier(Verifier::standard_webhooks([WHSEC]).unwrap())
            }),
        )
        .route_service(
            "/github",
            endpoint("github", recorder, |b| {
                b.envelope(Envelope::GitHub)
                    .verifier(Verifier::github([GITHUB_SECRET]).unwrap())
            }),
        )
        .route_service(
            "/stripe",
            endpoint("stripe", recorder, |b| {
                b.envelope(Envelope::Raw)
                    .verifier(Verifier::stripe([STRIPE_SECRET]).unwrap())
            }),
        )
        .route_service(
            "/basic",
            endpoint("basic", recorder, move |b| {
                b.envelope(Envelope::Raw)
                    .verifier(Verifier::basic("webhooks", basic.clone()).unwrap())
            }),
        )
        .route_service(
            "/token",
            endpoint("token", recorder, |b| {
                b.envelope(Envelope::Raw)
                    .verifier(Verifier::token(http::header::AUTHORIZATION, [TOKEN]).unwrap())
            }),
        );
    Server::start(app).await
}

/// One hostile request.
enum Request {
    /// A POST through reqwest with these headers (content type included) and body.
    Post {
        path: &'static str,
        headers: Vec<(&'static str, Vec<u8>)>,
        body: Vec<u8>,
    },
    /// Bytes written as they are to a fresh connection.
    Raw(Vec<u8>),
    /// Bytes written as they are, then the connection half-closed: the sender is gone.
    Truncated(Vec<u8>),
    /// A head, then body chunks with a pause before each.
    Slow {
        head: Vec<u8>,
        chunks: Vec<Vec<u8>>,
        pause: Duration,
    },
}

struct Case {
    name: &'static str,
    request: Request,
    status: u16,
    /// What the JSON `message` must contain; `None` for hyper's own bodiless answers.
    message: Option<&'static str>,
}

fn json() -> (&'static str, Vec<u8>) {
    ("content-type", b"application/json".to_vec())
}

fn post(path: &'static str, body: impl Into<Vec<u8>>) -> Request {
    Request::Post {
        path,
        headers: vec![json()],
        body: body.into(),
    }
}

fn post_with(
    path: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: impl Into<Vec<u8>>,
) -> Request {
    let mut all = vec![json()];
    all.extend(headers);
    Request::Post {
        path,
        headers: all,
        body: body.into(),
    }
}

fn case(name: &'static str, request: Request, status: u16, message: &'static str) -> Case {
    Case {
        name,
        request,
        status,
        message: Some(message),
    }
}

fn hyper_case(name: &'static str, raw: Vec<u8>, status: u16) -> Case {
    Case {
        name,
        request: Request::Raw(raw),
        status,
        message: None,
    }
}

fn sonar(created_at: &str) -> String {
    format!(r#"{{"event":"account.status","object_id":7,"current":{{"created_at":{created_at}}}}}"#)
}

const SONAR_OK: &str =
    r#"{"event":"account.status","object_id":7,"current":{"created_at":"2021-05-25T20:48:40Z"}}"#;
const STANDARD_BODY: &str =
    r#"{"type":"invoice.paid","timestamp":"2024-03-01T10:00:00Z","data":{"id":"inv_1"}}"#;

/// Standard Webhooks headers for `body` with id `id`, signed at `timestamp`.
fn standard(id: &str, timestamp: u64, body: &str) -> Vec<(&'static str, Vec<u8>)> {
    let signature = sign::standard_webhooks(WHSEC, id, timestamp, body.as_bytes()).unwrap();
    vec![
        ("webhook-id", id.as_bytes().to_vec()),
        ("webhook-timestamp", timestamp.to_string().into_bytes()),
        ("webhook-signature", signature.into_bytes()),
    ]
}

/// `headers` with `name` set to `value` (replacing it).
fn replace(
    mut headers: Vec<(&'static str, Vec<u8>)>,
    name: &'static str,
    value: impl Into<Vec<u8>>,
) -> Vec<(&'static str, Vec<u8>)> {
    headers.retain(|(n, _)| *n != name);
    headers.push((name, value.into()));
    headers
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn raw_post(path: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\n{extra_headers}\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw
}

fn with_length(path: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    raw_post(
        path,
        &format!("Content-Length: {}\r\n{extra_headers}", body.len()),
        body,
    )
}

/// The battery, section by section (in this order: the replays in `standard_webhooks` follow
/// its first signed delivery).
fn cases() -> Vec<Case> {
    let t = now();
    [
        bodies::cases(),
        content_types::cases(),
        framing::cases(),
        methods::cases(),
        standard_webhooks::cases(t),
        github::cases(),
        stripe::cases(t),
        basic_auth::cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A request reqwest would not send: two Content-Type headers, JSON first.
fn hyper_free_raw(path: &str, extra: &str, body: &[u8]) -> Request {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         {extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    Request::Raw(raw)
}

fn raw_method(method: &str, path: &str) -> Request {
    Request::Raw(
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .into_bytes(),
    )
}

async fn send(server: &Server, request: &Request) -> (u16, Vec<u8>) {
    match request {
        Request::Post {
            path,
            headers,
            body,
        } => {
            let mut builder = end_to_end::client().post(server.url(path));
            for (name, value) in headers {
                builder = builder.header(*name, http::HeaderValue::from_bytes(value).unwrap());
            }
            let response = builder.body(body.clone()).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.bytes().await.unwrap().to_vec())
        }
        Request::Raw(bytes) => raw::exchange(server.addr, bytes).await,
        Request::Truncated(bytes) => raw::exchange_truncated(server.addr, bytes).await,
        Request::Slow {
            head,
            chunks,
            pause,
        } => raw::exchange_slowly(server.addr, head, chunks, *pause).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_their_documented_answers_and_the_server_keeps_serving() {
    let recorder = Recorder::new();
    let server = battery_server(&recorder).await;
    let cases = cases();
    let mut failures = Vec::new();
    let mut unexpected_5xx = 0;
    for case in &cases {
        let (status, body) = send(&server, &case.request).await;
        if status >= 500 || status == 0 {
            unexpected_5xx += 1;
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let message = json["message"].as_str().unwrap_or_default();
        let message_ok = match case.message {
            Some(expected) => message.contains(expected),
            None => json.is_null(),
        };
        if status != case.status || !message_ok {
            failures.push(format!(
                "{}: expected {} {:?}, got {status} {}",
                case.name,
                case.status,
                case.message,
                String::from_utf8_lossy(&body)
            ));
        }
    }
    eprintln!(
        "hostile battery: {} inputs tried, {} answered as documented, {unexpected_5xx} 5xx or no answer (panics)",
        cases.len(),
        cases.len() - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(unexpected_5xx, 0);
    assert!(cases.len() >= 60);

    // Still serving: a valid delivery on every kind of endpoint is handled.
    let handled_before = recorder.applied().len();
    let t = now();
    let fresh = [
        post(
            "/sonar",
            SONAR_OK.replace("\"object_id\":7", "\"object_id\":8"),
        ),
        post(
            "/integration",
            r#"{"id":"u9","eventType":"UPDATE","timestamp":"2024-01-01T00:00:00Z"}"#,
        ),
        post("/slow", r#"{"ok":true}"#),
        post_with(
            "/standard",
            standard("msg_after", t, STANDARD_BODY),
            STANDARD_BODY,
        ),
        post_with(
            "/github",
            vec![
                ("x-github-event", b"push".to_vec()),
                ("x-github-delivery", b"gh-after".to_vec()),
                (
                    "x-hub-signature-256",
                    sign::github(GITHUB_SECRET, b"{\"after\":1}").into_bytes(),
                ),
            ],
            r#"{"after":1}"#,
        ),
        post_with(
            "/stripe",
            vec![(
                "stripe-signature",
                sign::stripe(STRIPE_SECRET, t, b"{\"after\":1}").into_bytes(),
            )],
            r#"{"after":1}"#,
        ),
        post_with(
            "/basic",
            vec![("authorization", sign::basic(USER, PASSWORD).into_bytes())],
            r#"{"after":1}"#,
        ),
        post_with(
            "/token",
            vec![("authorization", format!("Bearer {TOKEN}").into_bytes())],
            r#"{"after":1}"#,
        ),
    ];
    for request in &fresh {
        let (status, body) = send(&server, request).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    assert_eq!(recorder.applied().len(), handled_before + fresh.len());
}
