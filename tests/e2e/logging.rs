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
        .memory_store()
        .handler(|_: Delivery| async { Ok(()) })
        .build()
        .unwrap()
}

// A current-thread runtime, so the server's tasks run on this thread and see the subscriber.
#[tokio::test(flavor = "current_thread")]
async fn answers_are_logged_and_no_secret_ever_is() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

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
                Verifier::basic("r", [("user".to_owned(), Secret::from(PASSWORD))]),
            ),
        )
        .route_service(
            "/token",
            receiver(
                "token",
                Verifier::token(http::header::AUTHORIZATION, [TOKEN]),
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
