//! The example crates: each app served as its binary serves it, with its sled data in a temp
//! dir, driven over loopback HTTP the way its real sender calls it.
//!
//! Signatures are computed here from each sender's documented scheme with the hmac, sha2 and
//! base64 crates, not with the SDK's signing helpers, so a bug shared by the SDK's verifier
//! and signer cannot hide.

mod basic_auth;
mod github;
mod integration;
mod sonar;
mod standard_webhooks;
mod superoffice;

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use end_to_end::{answer, client, Server};
use example_support::{EventSink, Settings};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tempfile::TempDir;

/// The lines an example printed, in order.
#[derive(Debug, Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn sink(&self) -> EventSink {
        let lines = self.clone();
        Arc::new(move |line| lines.0.lock().expect("lines lock").push(line))
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().expect("lines lock").clone()
    }
}

/// An example's app on a loopback port.
struct Example {
    server: Server,
    lines: Lines,
    // Held so the sled directory outlives the server.
    _data: TempDir,
}

impl Example {
    /// Serves `app` with settings as the environment would give them (no secret, no user),
    /// after `configure` has filled in what this example needs.
    async fn start<E: Debug>(
        configure: impl FnOnce(&mut Settings),
        app: impl FnOnce(&Settings, EventSink) -> Result<Router, E>,
    ) -> Self {
        let data = TempDir::new().expect("temp dir");
        let mut settings = settings(&data);
        configure(&mut settings);
        let lines = Lines::default();
        let router = app(&settings, lines.sink()).expect("the example's app builds");
        Self {
            server: Server::start(router).await,
            lines,
            _data: data,
        }
    }

    /// The status of a HEAD request to `/webhook`.
    async fn head(&self) -> u16 {
        let response = client()
            .head(self.server.url("/webhook"))
            .send()
            .await
            .expect("HEAD /webhook");
        response.status().as_u16()
    }

    /// POSTs a JSON `body` to `/webhook` with `headers`; the answer's status and outcome.
    async fn outcome(&self, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        let (status, outcome, _) = self.post(headers, body).await;
        (status, outcome)
    }

    /// POSTs a JSON `body` to `/webhook` with `headers`; the answer's status, outcome and body.
    async fn post(&self, headers: &[(&str, &str)], body: &str) -> (u16, String, Value) {
        answer(self.send(headers, body).await).await
    }

    /// POSTs a JSON `body` to `/webhook` with `headers`; the whole response.
    async fn send(&self, headers: &[(&str, &str)], body: &str) -> reqwest::Response {
        let mut request = client()
            .post(self.server.url("/webhook"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("POST /webhook")
    }
}

/// Settings as an empty environment gives them, with the data in `data`.
fn settings(data: &TempDir) -> Settings {
    Settings {
        bind: "127.0.0.1:0".parse().expect("loopback address"),
        secret: None,
        user: None,
        password: None,
        data_dir: data.path().to_owned(),
    }
}

/// HMAC-SHA256 of `parts`, concatenated, keyed with `key`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn base64(bytes: impl AsRef<[u8]>) -> String {
    BASE64.encode(bytes)
}

#[tokio::test]
async fn every_example_answers_head_with_200() {
    for (name, example) in [
        ("sonar", sonar::start().await),
        ("superoffice", superoffice::start().await),
        ("standard-webhooks", standard_webhooks::start().await),
        ("github", github::start().await),
        ("basic-auth", basic_auth::start().await),
    ] {
        assert_eq!(example.head().await, 200, "{name}");
    }
    assert_eq!(
        integration::start().await.example.head().await,
        200,
        "integration"
    );
}

#[test]
fn every_example_refuses_to_start_without_its_credentials() {
    let data = TempDir::new().expect("temp dir");
    let sink = Lines::default().sink();
    let refusal = |result: Result<Router, example_support::SetupError>| {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    };
    let empty = settings(&data);
    for (name, message) in [
        (
            "superoffice",
            refusal(example_superoffice::app(&empty, sink.clone())),
        ),
        (
            "standard-webhooks",
            refusal(example_standard_webhooks::app(&empty, sink.clone())),
        ),
        ("github", refusal(example_github::app(&empty, sink.clone()))),
    ] {
        assert!(
            message.starts_with("set WEBHOOK_SECRET"),
            "{name}: {message}"
        );
    }
    let user_only = Settings {
        user: Some("fieldservice".into()),
        ..settings(&data)
    };
    let message = refusal(example_basic_auth::app(&user_only, sink));
    assert!(message.starts_with("set WEBHOOK_PASSWORD"), "{message}");
}
