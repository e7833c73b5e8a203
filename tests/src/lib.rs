//! Helpers for the end-to-end tests: real servers on loopback ports, and a recording handler
//! that plays the downstream system.
//!
//! * [`senders`]: sender simulators with their real retry policies on a virtual clock.
//! * [`proxy`]: a loopback proxy that stands in for the network: down receivers, lost answers.
//! * [`binary`]: the `reference-receiver` binary as a child process.
//! * [`crash`]: the crash test (kill -9 under load), shared by `tests/e2e/crash.rs` and the
//!   `crash-test` binary that `tests/scripts/crash-test.sh` runs.
//! * [`downstream`]: a handler that plays the downstream system and checks what it is given.
//! * [`raw`]: a hand-written HTTP/1.1 client over TCP for what no HTTP client sends (broken
//!   framing, slow or cut-off bodies), shared by the hostile batteries.
//! * [`mod@bench`], [`bench_process`], [`scale`]: the load benchmarks' servers, load
//!   generators and process plumbing (`bench-e2e`, `bench-scale`).

pub mod binary;
pub mod crash;
pub mod downstream;
pub mod proxy;
pub mod raw;
pub mod senders;

pub mod bench;
pub mod bench_process;
pub mod scale;

/// The README's SDK example compiles (checked as a doctest). It lives here, in a crate that is
/// never published, so that the SDK's own docs include nothing from outside the SDK.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

use std::future::Future;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::Router;
use receiver_sdk::{Delivery, HandlerError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running on a loopback port. Dropping it stops it (gracefully, without waiting);
/// [`Server::stop`] also waits until it has let go of its app.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `app` on `127.0.0.1:0`.
    pub async fn start(app: Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .expect("serve");
        });
        Self {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server and waits until it has let go of its app (and the app's store).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
    }
}

/// One event as the downstream system saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The event type.
    pub event: String,
    /// The entity id.
    pub entity: Option<String>,
    /// The event time, RFC 3339.
    pub created_at: Option<String>,
    /// The delivery id, where the sender sent one.
    pub delivery: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
}

/// A handler that records every event it is given, in order.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    applied: Arc<Mutex<Vec<Applied>>>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything recorded so far.
    pub fn applied(&self) -> Vec<Applied> {
        self.applied.lock().expect("recorder lock").clone()
    }

    /// Records one delivery.
    pub fn record<T>(&self, delivery: &Delivery<T>) {
        self.applied.lock().expect("recorder lock").push(Applied {
            event: delivery.event.event_type.clone(),
            entity: delivery.event.entity_id.clone(),
            created_at: delivery.event.created_at.map(|t| t.to_rfc3339()),
            delivery: delivery.event.delivery_id.clone(),
            body: delivery.body.to_vec(),
        });
    }

    /// A handler closure that records and succeeds.
    pub fn handler(
        &self,
    ) -> impl Fn(Delivery) -> std::future::Ready<Result<(), HandlerError>> + Send + Sync + Clone
    {
        let recorder = self.clone();
        move |delivery: Delivery| {
            recorder.record(&delivery);
            std::future::ready(Ok(()))
        }
    }

    /// A handler closure that runs `f` first and records only when it succeeds.
    pub fn handler_with<F, Fut>(
        &self,
        f: F,
    ) -> impl Fn(Delivery) -> std::pin::Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>
           + Send
           + Sync
           + Clone
    where
        F: Fn(&Delivery) -> Fut + Send + Sync + Clone + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let recorder = self.clone();
        move |delivery: Delivery| {
            let recorder = recorder.clone();
            let check = f(&delivery);
            Box::pin(async move {
                check.await?;
                recorder.record(&delivery);
                Ok(())
            })
        }
    }
}

/// A Sonar delivery body.
pub fn sonar_body(event: &str, object_id: u64, created_at: &str, status: &str) -> String {
    serde_json::json!({
        "event": event,
        "object_id": object_id,
        "current": { "created_at": created_at, "status": status }
    })
    .to_string()
}

/// A webhook answer: its status, its `X-Webhook-Outcome` header (empty when absent) and its
/// JSON body (`null` when it has none).
pub async fn answer(response: reqwest::Response) -> (u16, String, serde_json::Value) {
    let status = response.status().as_u16();
    let outcome = response
        .headers()
        .get("x-webhook-outcome")
        .map(|v| v.to_str().expect("outcome header is ASCII").to_owned())
        .unwrap_or_default();
    let body = response
        .json::<serde_json::Value>()
        .await
        .unwrap_or(serde_json::Value::Null);
    (status, outcome, body)
}

/// An HTTP client for tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client")
}

/// Signs one delivery with the sender's own published library (see tests/interop/sign.mjs):
/// `scheme` is `standard-webhooks`, `svix`, `github`, `stripe` or `workos`. Returns the headers the
/// sender would send. Installs the libraries with `npm ci` on first use.
pub fn real_signer(
    scheme: &str,
    secret: &str,
    body: &str,
    id: &str,
    timestamp: u64,
) -> Vec<(String, String)> {
    let input = serde_json::json!({
        "scheme": scheme, "secret": secret, "body": body, "id": id, "timestamp": timestamp,
    });
    let output = node("sign.mjs", &input);
    let headers: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&output).expect("sign.mjs prints a JSON object");
    headers.into_iter().collect()
}

/// Whether the sender's own published library accepts `signature` (the value of its signature
/// header) for `body` (see tests/interop/verify.mjs), for senders whose library verifies but
/// does not sign: `scheme` is `paddle`.
pub fn real_verifier(scheme: &str, secret: &str, body: &str, signature: &str) -> bool {
    let input = serde_json::json!({
        "scheme": scheme, "secret": secret, "body": body, "signature": signature,
    });
    let output: serde_json::Value =
        serde_json::from_slice(&node("verify.mjs", &input)).expect("verify.mjs prints JSON");
    output["valid"]
        .as_bool()
        .expect("verify.mjs prints {\"valid\": bool}")
}

/// Runs one of tests/interop's node scripts with `input` as JSON on stdin; its standard output.
pub fn node(script: &str, input: &serde_json::Value) -> Vec<u8> {
    run_script(Command::new("node"), &interop_dir(), script, input)
}

/// Runs one of tests/interop's Python scripts, in the environment of the senders' PyPI
/// libraries (tests/interop/requirements.txt, installed on first use), with `input` as JSON on
/// stdin; its standard output.
pub fn python(script: &str, input: &serde_json::Value) -> Vec<u8> {
    // Only the PyPI libraries: node_modules is not installed for these.
    run_script(Command::new(python_env()), &interop_path(), script, input)
}

/// Runs `program script` in `dir` with `input` on stdin; its standard output, which must come
/// with a successful exit.
fn run_script(
    mut program: Command,
    dir: &std::path::Path,
    script: &str,
    input: &serde_json::Value,
) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;

    let mut child = program
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{script} could not start: {error}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write to the script");
    let output = child.wait_with_output().expect("the script ran");
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The Python of tests/interop/.venv, a virtual environment holding the senders' PyPI
/// libraries, created with the machine's `python3` and installed on first use.
fn python_env() -> std::path::PathBuf {
    static INSTALLED: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let dir = interop_path();
            let venv = dir.join(".venv");
            let python = venv.join("bin").join("python");
            // As for node_modules: installed again when the pins changed since.
            let pins = std::fs::read(dir.join("requirements.txt")).expect("requirements.txt");
            let stamp = venv.join(".installed-from-requirements");
            if std::fs::read(&stamp).ok().as_deref() != Some(&pins[..]) {
                let created = Command::new("python3")
                    .args(["-m", "venv", "--clear"])
                    .arg(&venv)
                    .status()
                    .expect("python3 must be installed for the interop tests");
                assert!(
                    created.success(),
                    "python3 -m venv {} failed",
                    venv.display()
                );
                let installed = Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .args(["-r", "requirements.txt"])
                    .current_dir(&dir)
                    .status()
                    .expect("the environment's pip");
                assert!(
                    installed.success(),
                    "pip install in {} failed",
                    dir.display()
                );
                std::fs::write(&stamp, &pins).expect("write the install stamp");
            }
            python
        })
        .clone()
}

/// tests/interop, where the senders' libraries and the scripts that drive them are.
fn interop_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// The directory of the senders' libraries (tests/interop), installed with `npm ci` on first use,
/// for tests that run a script of their own there.
pub fn interop_dir() -> std::path::PathBuf {
    static INSTALLED: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let dir = interop_path();
            // Installed for this very lock file: a node_modules left from an older lock (a
            // library added since) is installed again rather than missing the new package.
            let lock = std::fs::read(dir.join("package-lock.json")).expect("package-lock.json");
            let stamp = dir.join("node_modules").join(".installed-from-lock");
            if std::fs::read(&stamp).ok().as_deref() != Some(&lock[..]) {
                let status = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                    .current_dir(&dir)
                    .status()
                    .expect("npm must be installed for the interop tests");
                assert!(status.success(), "npm ci in {} failed", dir.display());
                std::fs::write(&stamp, &lock).expect("write the install stamp");
            }
            dir
        })
        .clone()
}
