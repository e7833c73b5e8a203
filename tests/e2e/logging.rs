//! What the endpoint logs: one line per answer, and never a secret.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use base64::Engine;
use end_to_end::{client, Server};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::verify::{sign, Verifier};
use receiver_sdk::{Delivery, Receiver, Secret};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const SIGNING_SECRET: &str = "whsec_c3VwZXIgc2VjcmV0IHNpZ25pbmcga2V5IDEyMzQ1";
const PASSWORD: &str = "pa55-w0rd-never-logged";
const TOKEN: &str = "tok-never-logged-8d7f";

fn receiver(name: &str, verifier: Verifier) -> Receiver {
    Receiver::builder(name)
        .verifier(verifier)
        .envelope(Envelope::Raw)
        .store(receiver_sdk::store::MemoryStore::new())
        .handler(|_: Delivery| async { Ok(()) })
        .build()
        .unwrap()
}

thread_local! {
    // Where this thread's log lines go while a test captures them.
    static SINK: std::cell::RefCell<Option<Captured>> = const { std::cell::RefCell::new(None) };
}

/// Writes to this thread's sink, or nowhere.
struct Routed;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Routed {
    type Writer = Box<dyn Write>;

    fn make_writer(&'a self) -> Self::Writer {
        match SINK.with(|sink| sink.borrow().clone()) {
            Some(captured) => Box::new(captured),
            None => Box::new(std::io::sink()),
        }
    }
}

/// Log capture in force on this thread; stops when dropped.
struct Capture {
    _one_at_a_time: tokio::sync::MutexGuard<'static, ()>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        SINK.with(|sink| sink.borrow_mut().take());
    }
}

/// Captures every log line at every level emitted on this thread until the guard drops.
///
/// One global subscriber, installed once and never removed, routes each line to the
/// capturing thread. Thread-local subscribers (`set_default`) made these tests flaky under
/// load: tracing caches each call site's interest globally, and a call site first reached by
/// another test while scoped subscribers came and went could stay cached as disabled, so a
/// test captured nothing.
async fn capture() -> (Captured, Capture) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    let one_at_a_time = ONE_AT_A_TIME.lock().await;
    INSTALLED.call_once(|| {
        // Dynamic, so tracing asks on every event instead of caching its first answer.
        let capturing = tracing_subscriber::filter::dynamic_filter_fn(|_, _| {
            SINK.with(|sink| sink.borrow().is_some())
        });
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(Routed)
            .with_filter(capturing);
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("no other global subscriber in the e2e tests");
    });
    // A call site registered by another thread at the very moment the subscriber was set may
    // hold a stale interest; asking again settles it.
    tracing::callsite::rebuild_interest_cache();
    let captured = Captured::default();
    SINK.with(|sink| *sink.borrow_mut() = Some(captured.clone()));
    (
        captured,
        Capture {
            _one_at_a_time: one_at_a_time,
        },
    )
}

// A current-thread runtime, so the server's tasks run on this thread and see the subscriber.
#[tokio::test(flavor = "current_thread")]
async fn answers_are_logged_and_no_secret_ever_is() {
    let (captured, _capture) = capture().await;

    let app = Router::new()
        .route_service(
            "/signed",
            receiver(
                "signed",
                Verifier::standard_webhooks([SIGNING_SECRET]).unwrap(),
            ),
        )
        .route_service(
            "/basic",
            receiver(
                "basic",
                Verifier::basic("r", [("user".to_owned(), Secret::from(PASSWORD))]).unwrap(),
            ),
        )
        .route_service(
            "/token",
            receiver(
                "token",
                Verifier::token(http::header::AUTHORIZATION, [TOKEN]).unwrap(),
            ),
        );
    let server = Server::start(app).await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let basic_good = format!("Basic {}", b64.encode(format!("user:{PASSWORD}")));
    let basic_bad = format!("Basic {}", b64.encode(format!("user:{PASSWORD}x")));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = r#"{"a":1}"#;
    let signature = sign::standard_webhooks(SIGNING_SECRET, "msg_1", now, body.as_bytes()).unwrap();
    let requests: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "/signed",
            vec![
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", now.to_string()),
                ("webhook-signature", signature),
            ],
        ),
        (
            "/signed",
            vec![
                ("webhook-id", "msg_2".into()),
                ("webhook-timestamp", now.to_string()),
                ("webhook-signature", format!("v1,{SIGNING_SECRET}")),
            ],
        ),
        ("/basic", vec![("authorization", basic_good.clone())]),
        ("/basic", vec![("authorization", basic_bad.clone())]),
        ("/token", vec![("authorization", format!("Bearer {TOKEN}"))]),
        (
            "/token",
            vec![("authorization", format!("Bearer {TOKEN}0"))],
        ),
    ];
    let mut statuses = Vec::new();
    for (path, headers) in requests {
        let mut request = client()
            .post(server.url(path))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        statuses.push(request.send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 401, 200, 401, 200, 401]);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(logs.matches("webhook answered").count(), 3, "{logs}");
    assert_eq!(logs.matches("webhook refused").count(), 3, "{logs}");
    let secrets = [
        SIGNING_SECRET,
        SIGNING_SECRET.trim_start_matches("whsec_"),
        PASSWORD,
        TOKEN,
        basic_good.trim_start_matches("Basic "),
        basic_bad.trim_start_matches("Basic "),
    ];
    for secret in secrets {
        assert!(!logs.contains(secret), "`{secret}` was logged: {logs}");
    }
}

/// Every form a secret could take in a log line: as configured, base64, hex, and the `whsec_`
/// key's decoded bytes.
fn forms(secret: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut forms = vec![
        secret.to_owned(),
        b64.encode(secret),
        hex::encode(secret),
        format!("{secret:?}"),
    ];
    if let Some(key) = secret.strip_prefix("whsec_") {
        forms.push(key.to_owned());
        if let Ok(bytes) = b64.decode(key) {
            forms.push(hex::encode(&bytes));
            forms.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    forms
}

/// The secrets these tests configure, the Basic credentials as sent, and `extra`.
fn every_secret(extra: &[&'static str]) -> Vec<String> {
    let mut secrets: Vec<String> = [HMAC_SECRET, WHSEC_2, PASSWORD, TOKEN]
        .iter()
        .chain(extra)
        .map(|s| (*s).to_owned())
        .collect();
    secrets.push(format!("user:{PASSWORD}"));
    secrets.push(
        sign::basic("user", PASSWORD)
            .trim_start_matches("Basic ")
            .to_owned(),
    );
    secrets
}

fn assert_no_secret(logs: &str, secrets: &[impl AsRef<str>]) {
    for secret in secrets {
        for form in forms(secret.as_ref()) {
            assert!(
                !logs.contains(&form),
                "`{form}` (a form of a secret) was logged:\n{logs}"
            );
        }
    }
}

const HMAC_SECRET: &str = "hmac-secret-never-logged-5c1e";
const WHSEC_2: &str = "whsec_bm90IGluIGFueSBsb2cgbGluZSwgZXZlcg==";

// A current-thread runtime, so the server's tasks run on this thread and see the subscriber.
#[tokio::test(flavor = "current_thread")]
async fn no_verifier_kind_logs_its_secret_or_the_credentials_it_was_sent() {
    let (captured, _capture) = capture().await;

    let body = br#"{"k":1}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let standard_ok = sign::standard_webhooks(WHSEC_2, "msg_log", now, body).unwrap();
    let basic_ok = sign::basic("user", PASSWORD);
    // (name, verifier, valid headers, headers carrying the secret itself where a signature or
    // credential goes).
    type Headers = Vec<(&'static str, String)>;
    let kinds: Vec<(&str, Verifier, Headers, Headers)> = vec![
        (
            "standard",
            Verifier::standard_webhooks([WHSEC_2]).unwrap(),
            vec![
                ("webhook-id", "msg_log".into()),
                ("webhook-timestamp", now.to_string()),
                ("webhook-signature", standard_ok),
            ],
            vec![
                ("webhook-id", "msg_log2".into()),
                ("webhook-timestamp", now.to_string()),
                ("webhook-signature", format!("v1,{WHSEC_2}")),
            ],
        ),
        (
            "github",
            Verifier::github([HMAC_SECRET]).unwrap(),
            vec![("x-hub-signature-256", sign::github(HMAC_SECRET, body))],
            vec![("x-hub-signature-256", format!("sha256={HMAC_SECRET}"))],
        ),
        (
            "shopify",
            Verifier::shopify([HMAC_SECRET]).unwrap(),
            vec![("x-shopify-hmac-sha256", sign::shopify(HMAC_SECRET, body))],
            vec![("x-shopify-hmac-sha256", HMAC_SECRET.into())],
        ),
        (
            "superoffice",
            Verifier::superoffice([HMAC_SECRET]).unwrap(),
            vec![(
                "x-superoffice-signature",
                sign::superoffice(HMAC_SECRET, body),
            )],
            vec![("x-superoffice-signature", HMAC_SECRET.into())],
        ),
        (
            "stripe",
            Verifier::stripe([HMAC_SECRET]).unwrap(),
            vec![("stripe-signature", sign::stripe(HMAC_SECRET, now, body))],
            vec![("stripe-signature", format!("t={now},v1={HMAC_SECRET}"))],
        ),
        (
            "slack",
            Verifier::slack([HMAC_SECRET]).unwrap(),
            vec![
                ("x-slack-request-timestamp", now.to_string()),
                ("x-slack-signature", sign::slack(HMAC_SECRET, now, body)),
            ],
            vec![
                ("x-slack-request-timestamp", now.to_string()),
                ("x-slack-signature", format!("v0={HMAC_SECRET}")),
            ],
        ),
        (
            "basic",
            Verifier::basic("r", [("user".to_owned(), Secret::from(PASSWORD))]).unwrap(),
            vec![("authorization", basic_ok.clone())],
            vec![("authorization", format!("Basic {PASSWORD}"))],
        ),
        (
            "token",
            Verifier::token(http::header::AUTHORIZATION, [TOKEN]).unwrap(),
            vec![("authorization", format!("Bearer {TOKEN}"))],
            vec![("authorization", format!("Token {TOKEN}"))],
        ),
    ];
    let mut app = Router::new();
    for (name, verifier, _, _) in &kinds {
        let debug = format!("{verifier:?}");
        assert_no_secret(&debug, &[HMAC_SECRET, WHSEC_2, PASSWORD, TOKEN]);
        app = app.route_service(&format!("/{name}"), receiver(name, verifier.clone()));
    }
    let server = Server::start(app).await;
    let mut statuses = Vec::new();
    for (name, _, good, bad) in &kinds {
        for headers in [good, bad] {
            let mut request = client()
                .post(server.url(&format!("/{name}")))
                .header("content-type", "application/json")
                .body(&body[..]);
            for (header, value) in headers {
                request = request.header(*header, value);
            }
            statuses.push((*name, request.send().await.unwrap().status().as_u16()));
        }
    }
    let expected: Vec<_> = kinds
        .iter()
        .flat_map(|(name, ..)| [(*name, 200), (*name, 401)])
        .collect();
    assert_eq!(statuses, expected);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        logs.matches("webhook refused").count(),
        kinds.len(),
        "{logs}"
    );
    assert_no_secret(&logs, &every_secret(&[]));
}

#[tokio::test]
async fn the_reference_receiver_binary_logs_no_secret_even_at_trace_level() {
    use axum::http::StatusCode;

    const RELAY_TOKEN: &str = "relay-bearer-never-logged-77";
    const ADMIN_TOKEN: &str = "admin-token-never-logged-41";
    // The downstream refuses the first relay, so the relay's failure path logs too.
    let calls = Arc::new(Mutex::new(0));
    let counted = Arc::clone(&calls);
    let downstream = Router::new().route(
        "/{*path}",
        axum::routing::any(move || {
            let calls = Arc::clone(&counted);
            async move {
                let mut calls = calls.lock().unwrap();
                *calls += 1;
                if *calls == 1 {
                    (StatusCode::BAD_GATEWAY, "try later")
                } else {
                    (StatusCode::OK, "{}")
                }
            }
        }),
    );
    let downstream = Server::start(downstream).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
[log]
level = "trace"
[admin]
token_env = "ADMIN_TOKEN"
[[endpoint]]
name = "gh"
path = "/gh"
envelope = "github"
[endpoint.verify]
kind = "github"
secrets = ["{HMAC_SECRET}"]
[[endpoint]]
name = "sw"
path = "/sw"
envelope = "standard-webhooks"
[endpoint.verify]
kind = "standard-webhooks"
secrets_env = "SW_SECRET"
[[endpoint]]
name = "basic"
path = "/basic"
envelope = "raw"
[endpoint.verify]
kind = "basic"
user = "user"
password_env = "BASIC_PASSWORD"
[endpoint.relay]
url = "{}/jobs"
[endpoint.relay.auth]
kind = "bearer"
token_env = "RELAY_TOKEN"
[[endpoint]]
name = "token"
path = "/token"
envelope = "raw"
[endpoint.verify]
kind = "token"
secrets = ["{TOKEN}"]
"#,
        downstream.url("")
    );
    let file = dir.path().join("receiver.toml");
    std::fs::write(&file, config).unwrap();
    let env = [
        ("SW_SECRET", WHSEC_2),
        ("BASIC_PASSWORD", PASSWORD),
        ("RELAY_TOKEN", RELAY_TOKEN),
        ("ADMIN_TOKEN", ADMIN_TOKEN),
    ];
    let running = end_to_end::binary::serve(
        &end_to_end::binary::reference_receiver(),
        dir.path(),
        &file,
        &["--bind", "127.0.0.1:0", "--data", "data"],
        &env,
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = br#"{"type":"job.updated","k":2}"#;
    let sw = sign::standard_webhooks(WHSEC_2, "msg_bin", now, body).unwrap();
    let basic_ok = sign::basic("user", PASSWORD);
    type Request<'a> = (&'a str, Vec<(&'a str, String)>, u16);
    let requests: Vec<Request> = vec![
        (
            "/gh",
            vec![
                ("x-github-event", "push".into()),
                ("x-github-delivery", "d-1".into()),
                ("x-hub-signature-256", sign::github(HMAC_SECRET, body)),
            ],
            200,
        ),
        (
            "/gh",
            vec![
                ("x-github-event", "push".into()),
                ("x-hub-signature-256", format!("sha256={HMAC_SECRET}")),
            ],
            401,
        ),
        (
            "/sw",
            vec![
                ("webhook-id", "msg_bin".into()),
                ("webhook-timestamp", now.to_string()),
                ("webhook-signature", sw),
            ],
            200,
        ),
        (
            "/sw",
            vec![
                ("webhook-id", "msg_bin2".into()),
                ("webhook-timestamp", now.to_string()),
                ("webhook-signature", format!("v1,{WHSEC_2}")),
            ],
            401,
        ),
        ("/basic", vec![("authorization", basic_ok.clone())], 502),
        ("/basic", vec![("authorization", basic_ok.clone())], 200),
        (
            "/basic",
            vec![("authorization", format!("Basic {PASSWORD}"))],
            401,
        ),
        (
            "/token",
            vec![("authorization", format!("Bearer {TOKEN}"))],
            200,
        ),
        (
            "/token",
            vec![("authorization", format!("Bearer {RELAY_TOKEN}"))],
            401,
        ),
    ];
    for (path, headers, expected) in requests {
        let mut request = client()
            .post(format!("{}{path}", running.base))
            .header("content-type", "application/json")
            .body(&body[..]);
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        let status = request.send().await.unwrap().status().as_u16();
        assert_eq!(status, expected, "{path} {headers:?}\n{}", running.log());
    }
    // Give the log threads a moment to read the last lines.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = running.log();
    assert!(logs.contains("webhook refused"), "{logs}");
    assert!(logs.lines().count() > 20, "trace logging is on: {logs}");
    assert_no_secret(&logs, &every_secret(&[RELAY_TOKEN, ADMIN_TOKEN]));
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_failure_is_logged_with_its_detail_and_answered_without_it() {
    let (captured, _capture) = capture().await;
    let receiver = Receiver::builder("broken")
        .store(crate::endpoint::FailingStore)
        .handler(|_: Delivery| async { Ok(()) })
        .build()
        .unwrap();
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let response = client()
        .post(server.url("/webhook"))
        .header("content-type", "application/json")
        .body(r#"{"event":"account.status","object_id":1,"current":{"created_at":1700000000}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let answer = response.text().await.unwrap();
    assert!(!answer.contains("btree"), "{answer}");
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("exceeds btree version 4 maximum"), "{logs}");
    assert!(logs.contains("the store failed"), "{logs}");
}
