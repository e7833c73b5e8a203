//! The inspector's tests: a receiver served in-process on loopback, and API shortcuts.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) use crate::common::client;

/// A receiver running in this process until [`Served::stop`] (or drop, which aborts it).
pub(crate) struct Served {
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The config of a test receiver: data in `dir/data`, then `extra` TOML laid over it.
pub(crate) fn config(dir: &Path, extra: &str) -> reference_receiver::config::Config {
    let text = format!("[store]\npath = '{}'\n{extra}", dir.join("data").display());
    reference_receiver::config::from_parts(Some(("test.toml", &text)), Vec::new(), |_| None)
        .expect("test config")
}

impl Served {
    /// Serves `config` on its bind address (port 0 in tests).
    pub(crate) async fn config(config: reference_receiver::config::Config) -> Self {
        let listener = tokio::net::TcpListener::bind(config.server.bind)
            .await
            .expect("bind");
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(reference_receiver::serve(config, listener, async {
            let _ = stopped.await;
        }));
        let served = Self {
            base: format!("http://127.0.0.1:{port}"),
            stop: Some(stop),
            task: Some(task),
        };
        served.wait_ready().await;
        served
    }

    /// Serves on loopback port 0 with data in `dir`.
    pub(crate) async fn start(dir: &Path, extra: &str) -> Self {
        let extra = format!("{extra}\n[server]\nbind = \"127.0.0.1:0\"\n");
        Self::config(config(dir, &extra)).await
    }

    async fn wait_ready(&self) {
        for _ in 0..100 {
            if let Ok(response) = client().get(format!("{}/healthz", self.base)).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver did not come up at {}", self.base);
    }

    /// Shuts down gracefully and waits until the store is closed.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("shutdown in time")
                .expect("serve task")
                .expect("serve");
        }
    }

    /// `base` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/bins` with `spec`; the token.
    pub(crate) async fn new_bin(&self, spec: Value) -> String {
        let response = client()
            .post(self.url("/api/bins"))
            .json(&spec)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let bin: Value = response.json().await.unwrap();
        bin["token"].as_str().unwrap().to_owned()
    }

    /// `GET path` as JSON.
    pub(crate) async fn get_json(&self, path: &str) -> Value {
        let response = client().get(self.url(path)).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// `GET /api/bins/{token}/requests?{query}`: the captures, newest first.
    pub(crate) async fn requests(&self, token: &str, query: &str) -> Vec<Value> {
        let page = self
            .get_json(&format!("/api/bins/{token}/requests?{query}"))
            .await;
        page["requests"].as_array().cloned().unwrap_or_default()
    }

    /// `GET .../requests/{id}`: one capture, body included.
    pub(crate) async fn capture(&self, token: &str, id: u64) -> Value {
        self.get_json(&format!("/api/bins/{token}/requests/{id}"))
            .await
    }

    /// `GET .../requests/{id}/raw`.
    pub(crate) async fn raw(&self, token: &str, id: u64) -> Vec<u8> {
        client()
            .get(self.url(&format!("/api/bins/{token}/requests/{id}/raw")))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec()
    }
}

/// The method the security review planted: every character is one HTTP allows in a method.
pub(crate) const EVIL_METHOD: &str = "POST`touch$IFS'PWNED'`";

/// Sends `method /in/{token}` over raw TCP (no client library sends such a method) with
/// `extra` header lines, and returns the capture's id.
pub(crate) async fn plant(base: &str, token: &str, method: &str, body: &[u8]) -> u64 {
    plant_with(base, &format!("/in/{token}"), method, "", body).await
}

/// [`plant`] at any path with extra header lines (each ending in CRLF). On the blocking pool:
/// the receiver under test runs on this test's runtime.
pub(crate) async fn plant_with(
    base: &str,
    path: &str,
    method: &str,
    extra: &str,
    body: &[u8],
) -> u64 {
    let (base, path, method, extra, body) = (
        base.to_owned(),
        path.to_owned(),
        method.to_owned(),
        extra.to_owned(),
        body.to_vec(),
    );
    tokio::task::spawn_blocking(move || plant_now(&base, &path, &method, &extra, &body))
        .await
        .unwrap()
}

fn plant_now(base: &str, path: &str, method: &str, extra: &str, body: &[u8]) -> u64 {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         {extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).unwrap();
    socket.write_all(body).unwrap();
    // The head of the answer is enough: its status and the capture's id.
    let mut answer = String::new();
    let mut buffer = [0; 4096];
    while !answer.contains("\r\n\r\n") {
        let read = socket.read(&mut buffer).unwrap();
        assert!(read > 0, "the connection closed early: {answer}");
        answer.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let line = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("x-inspector-capture:"))
        .unwrap_or_else(|| panic!("no capture id in {answer}"));
    line.split(':').nth(1).unwrap().trim().parse().unwrap()
}

/// The headers of a capture as (name, value) pairs.
pub(crate) fn header_pairs(capture: &Value) -> Vec<(String, String)> {
    capture["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_owned(),
                h["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A Standard Webhooks secret and a way to sign with it.
pub(crate) const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Standard Webhooks headers for `body`, signed now with [`WHSEC`].
pub(crate) fn standard_webhooks_headers(id: &str, body: &[u8]) -> Vec<(String, String)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signature =
        receiver_sdk::verify::sign::standard_webhooks(WHSEC, id, now, body).expect("sign");
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), now.to_string()),
        ("webhook-signature".into(), signature),
        ("content-type".into(), "application/json".into()),
    ]
}

/// A bin spec that verifies Standard Webhooks.
pub(crate) fn standard_webhooks_bin() -> Value {
    json!({
        "verify": {"kind": "standard-webhooks", "secrets": [WHSEC]},
        "envelope": "standard-webhooks"
    })
}

/// A `reference-receiver` subcommand running in the background; killed on drop.
pub(crate) struct Command {
    child: std::process::Child,
    /// Every line it printed on stdout.
    pub(crate) stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Every line it printed on stderr.
    pub(crate) stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Command {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Command {
    /// Starts `reference-receiver <args>`.
    pub(crate) fn spawn(args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_reference-receiver"))
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RECEIVER_ADMIN_TOKEN")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the binary");
        let collect = |stream: Box<dyn std::io::Read + Send>| {
            let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let sink = std::sync::Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream)
                    .lines()
                    .map_while(Result::ok)
                {
                    sink.lock().unwrap().push(line);
                }
            });
            lines
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits until a line of `stream` satisfies `wanted`.
    pub(crate) async fn wait_for(
        &self,
        stream: &std::sync::Mutex<Vec<String>>,
        what: &str,
        wanted: impl Fn(&[String]) -> bool,
    ) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if wanted(&stream.lock().unwrap()) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waited in vain for {what}; stdout: {:?}; stderr: {:?}",
                self.stdout.lock().unwrap(),
                self.stderr.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
