//! Running the built binary, and local servers that play the APIs around it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::Router;

/// The binary, running; killed on drop.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Everything it logged so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

/// Starts `reference-receiver <args>` in `dir` and waits for its `listening on` line.
pub(crate) fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reference-receiver"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RUST_LOG_STYLE", "never")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start the binary");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for stream in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let (log, tx) = (Arc::clone(&log), tx.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(at) = line
                    .find("listening on http://")
                    .or_else(|| line.find("listening on https://"))
                {
                    let url = line[at + "listening on ".len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(url);
                }
                log.lock().unwrap().push(line);
            }
        });
    }
    let started = Instant::now();
    loop {
        if let Ok(base) = rx.recv_timeout(Duration::from_millis(100)) {
            return Running { child, base, log };
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the binary exited with {status}: {}",
                log.lock().unwrap().join("\n")
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no listening line: {}",
            log.lock().unwrap().join("\n")
        );
    }
}

/// Writes `config` to `dir/receiver.toml` and serves it on port 0 with data in `dir/data`.
pub(crate) fn serve_config(dir: &Path, config: &str, env: &[(&str, &str)]) -> Running {
    let file = dir.join("receiver.toml");
    std::fs::write(&file, config).expect("write config");
    start(
        dir,
        &[
            "serve",
            "--config",
            file.to_str().unwrap(),
            "--bind",
            "127.0.0.1:0",
        ],
        env,
    )
}

/// One request as a fake API saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// How a fake API answers a request.
type Script = Arc<dyn Fn(&Seen) -> (StatusCode, String) + Send + Sync>;

/// A local HTTP server that plays an API: records requests, answers from a script.
#[derive(Clone)]
pub(crate) struct FakeApi {
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
    answer: Script,
}

impl FakeApi {
    pub(crate) fn new(
        answer: impl Fn(&Seen) -> (StatusCode, String) + Send + Sync + 'static,
    ) -> Self {
        Self {
            seen: Arc::default(),
            answer: Arc::new(answer),
        }
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Serves on a loopback port; returns its base URL.
    pub(crate) async fn start(&self) -> String {
        async fn any(
            State(api): State<FakeApi>,
            method: Method,
            path: Option<UrlPath<String>>,
            headers: HeaderMap,
            body: Bytes,
        ) -> impl IntoResponse {
            let seen = Seen {
                method,
                path: path
                    .map(|p| format!("/{}", p.0))
                    .unwrap_or_else(|| "/".into()),
                headers,
                body,
            };
            let (status, body) = (api.answer)(&seen);
            api.seen.lock().unwrap().push(seen);
            (status, [("content-type", "application/json")], body)
        }
        let app = Router::new()
            .route("/{*path}", axum::routing::any(any))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        format!("http://{addr}")
    }
}

/// A client that never uses a proxy.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// POSTs JSON with `headers`; the answer as it came.
pub(crate) async fn post_response(
    url: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("post")
}

/// The `X-Webhook-Outcome` of an answer; empty when it has none.
pub(crate) fn outcome_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-webhook-outcome")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// POSTs JSON; returns status, outcome header and message.
pub(crate) async fn post(url: &str, body: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let response = post_response(url, body, headers).await;
    let status = response.status().as_u16();
    let outcome = outcome_of(&response);
    let json: serde_json::Value = response.json().await.unwrap_or_default();
    (
        status,
        outcome,
        json["message"].as_str().unwrap_or_default().to_owned(),
    )
}
