//! Helpers: a recording downstream, the receiver in process or as the built binary, a sender,
//! and polling with a deadline.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The admin token of the test configs.
pub(crate) const TOKEN: &str = "admin-secret-for-tests";

/// What the downstream answers.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
    pub(crate) delay: Duration,
}

impl Reply {
    pub(crate) fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn ok() -> Self {
        Self::status(200)
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub(crate) fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    pub(crate) fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One request the downstream got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// Its `Idempotency-Key`.
    pub(crate) key: Option<String>,
    /// Its `Authorization` header, if any.
    pub(crate) authorization: Option<String>,
    /// The body.
    pub(crate) body: Value,
    /// The status it was answered with.
    pub(crate) status: u16,
    /// When it arrived.
    pub(crate) at: Instant,
}

impl Received {
    /// The event's id (`id` in the test payloads).
    pub(crate) fn id(&self) -> &str {
        self.body["id"].as_str().unwrap_or_default()
    }

    pub(crate) fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

type Answer = Arc<dyn Fn(&Value, usize) -> Reply + Send + Sync>;

#[derive(Clone)]
struct Shared {
    log: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<Answer>>,
}

/// A downstream API on a loopback port that records every request and answers as told:
/// `answer(body, attempt)` where `attempt` counts requests with the same `Idempotency-Key`.
pub(crate) struct Downstream {
    pub(crate) url: String,
    shared: Shared,
    _server: JoinHandle<()>,
}

impl Downstream {
    pub(crate) async fn start(
        answer: impl Fn(&Value, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let shared = Shared {
            log: Arc::default(),
            answer: Arc::new(Mutex::new(Arc::new(answer))),
        };
        let app = Router::new().fallback(receive).with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            shared,
            _server: server,
        }
    }

    /// Answers from now on with `answer`.
    pub(crate) fn answer(&self, answer: impl Fn(&Value, usize) -> Reply + Send + Sync + 'static) {
        *self.shared.answer.lock().unwrap() = Arc::new(answer);
    }

    /// Every request so far, in arrival order.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.shared.log.lock().unwrap().clone()
    }

    /// The requests answered 2xx, in arrival order.
    pub(crate) fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(Received::accepted)
            .collect()
    }
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    };
    let key = header("idempotency-key");
    let reply = {
        let mut log = shared.log.lock().unwrap();
        let attempt = 1 + log.iter().filter(|r| r.key == key).count();
        let answer = Arc::clone(&shared.answer.lock().unwrap());
        let reply = answer(&body, attempt);
        log.push(Received {
            key,
            authorization: header("authorization"),
            body,
            status: reply.status,
            at: Instant::now(),
        });
        reply
    };
    tokio::time::sleep(reply.delay).await;
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// A receiver config: one queued endpoint `orders` at `/hooks/orders` relaying to
/// `{downstream}/events`, events read from `{id, type, kind, entity}`, ordering guard off (the
/// tests send many events per entity without timestamps), small backoff (20 ms doubling up to
/// 1 s, unless `relay_extra` sets them). `relay_extra` is laid into `[endpoint.relay]`; `admin`
/// is the `[admin]` table's body.
pub(crate) fn config(data: &Path, downstream: &str, relay_extra: &str, admin: &str) -> String {
    let mut relay = relay_extra.to_owned();
    for (key, value) in [("backoff_initial_ms", 20), ("backoff_max_secs", 1)] {
        if !relay.contains(key) {
            relay = format!("{key} = {value}\n{relay}");
        }
    }
    format!(
        r#"
[server]
shutdown_timeout_secs = 5

[store]
path = "{data}"
flush_every_ms = 100

[log]
level = "info"

[admin]
{admin}

[[endpoint]]
name = "orders"
path = "/hooks/orders"
envelope = "custom"
ordering = false

[endpoint.mapping]
event_type = "/type"
entity_type = "/kind"
entity_id = "/entity"
delivery_id = "/id"

[endpoint.relay]
mode = "queued"
url = "{downstream}/events"
{relay}
"#,
        data = data.display(),
    )
}

/// The admin table with the test token.
pub(crate) fn with_token() -> String {
    format!("token = \"{TOKEN}\"")
}

/// A test event: the `n`th of entity `entity`.
pub(crate) fn event(entity: &str, n: usize) -> Value {
    json!({
        "id": format!("{entity}-{n}"),
        "type": "contact.updated",
        "kind": "contact",
        "entity": entity,
        "n": n,
    })
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// POSTs `body` to the receiver's endpoint and returns the status.
pub(crate) async fn send(
    client: &reqwest::Client,
    base: &str,
    body: &Value,
) -> reqwest::Result<u16> {
    let response = client
        .post(format!("{base}/hooks/orders"))
        .json(body)
        .send()
        .await?;
    Ok(response.status().as_u16())
}

/// Calls the admin API with `token` (None: no Authorization header).
pub(crate) async fn admin_as(
    client: &reqwest::Client,
    base: &str,
    method: http::Method,
    path: &str,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = client.request(method, format!("{base}/admin/{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("admin call to {base}/admin/{path}: {e:?}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Calls the admin API with the test token.
pub(crate) async fn admin(
    client: &reqwest::Client,
    base: &str,
    method: http::Method,
    path: &str,
) -> (u16, Value) {
    admin_as(client, base, method, path, Some(TOKEN)).await
}

/// Polls `check` every 10 ms until it gives a value; panics after `within`.
pub(crate) async fn eventually<T>(
    within: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The receiver, in this process.
pub(crate) struct InProcess {
    pub(crate) base: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl InProcess {
    pub(crate) async fn start(config_text: &str) -> Self {
        Self::start_on(config_text, "127.0.0.1:0").await
    }

    /// Serves on a listener bound to `bind`; reached over loopback either way.
    pub(crate) async fn start_on(config_text: &str, bind: &str) -> Self {
        let config = reference_receiver::config::from_parts(
            Some(("test.toml", config_text)),
            vec![],
            |_| None,
        )
        .unwrap();
        let listener = TcpListener::bind(bind).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = oneshot::channel::<()>();
        let serving = reference_receiver::serve(config, listener, async {
            let _ = rx.await;
        });
        let task = tokio::spawn(async move {
            let result = serving.await;
            if let Err(e) = &result {
                eprintln!("the receiver stopped: {e:#}");
            }
            result
        });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            stop: Some(tx),
            task,
        }
    }

    /// Shuts it down gracefully and waits until it has let go of its store.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }
}

/// The built binary, serving a config file.
pub(crate) struct Process {
    child: Child,
    pub(crate) base: String,
    log: Arc<Mutex<String>>,
}

impl Process {
    /// Starts `reference-receiver serve --config {file}` and waits for its address.
    pub(crate) fn start(file: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reference-receiver"))
            .args(["serve", "--bind", "127.0.0.1:0", "--config"])
            .arg(file)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the binary");
        let stdout = child.stdout.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (found, address) = mpsc::channel();
        let keep = Arc::clone(&log);
        // Drains the log for as long as the process lives, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("listening on http://") {
                    let url = line[at + 13..]
                        .split_whitespace()
                        .next()
                        .unwrap_or_default();
                    let _ = found.send(url.to_owned());
                }
                let mut log = keep.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let base = address
            .recv_timeout(Duration::from_secs(30))
            .expect("the binary announces its address");
        Self { child, base, log }
    }

    /// Everything it logged so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `kill -9`.
    pub(crate) fn kill(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.log()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Per entity, the `n`s of its events in the order the downstream first accepted them.
pub(crate) fn first_acceptances(received: &[Received]) -> BTreeMap<String, Vec<u64>> {
    let mut seen = std::collections::HashSet::new();
    let mut order: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in received.iter().filter(|r| r.accepted()) {
        if seen.insert(r.id().to_owned()) {
            order
                .entry(r.body["entity"].as_str().unwrap().to_owned())
                .or_default()
                .push(r.body["n"].as_u64().unwrap());
        }
    }
    order
}

/// Asserts that no event was attempted before every earlier event of its entity was
/// accepted (or, with `dead`, given up), in the downstream's arrival order.
pub(crate) fn assert_attempted_in_entity_order(received: &[Received], dead: &[&str]) {
    let mut done: BTreeMap<String, std::collections::BTreeSet<u64>> = BTreeMap::new();
    for r in received {
        let entity = r.body["entity"].as_str().unwrap().to_owned();
        let n = r.body["n"].as_u64().unwrap();
        let finished = done.entry(entity.clone()).or_default();
        for earlier in 0..n {
            let id = format!("{entity}-{earlier}");
            assert!(
                finished.contains(&earlier) || dead.contains(&id.as_str()),
                "{} was attempted before {id} was delivered",
                r.id()
            );
        }
        if r.accepted() || dead.contains(&r.id()) {
            finished.insert(n);
        }
    }
}

/// A downstream, a receiver in this process relaying to it with the test token, and a client.
pub(crate) struct Rig {
    pub(crate) downstream: Downstream,
    pub(crate) receiver: InProcess,
    pub(crate) client: reqwest::Client,
    config: String,
    _dir: tempfile::TempDir,
}

impl Rig {
    /// `relay_extra` goes into `[endpoint.relay]`; `answer` is the downstream's.
    pub(crate) async fn start(
        relay_extra: &str,
        answer: impl Fn(&Value, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start_with(relay_extra, |text| text, answer).await
    }

    /// Like [`Rig::start`], with `edit` applied to the config text.
    pub(crate) async fn start_with(
        relay_extra: &str,
        edit: impl FnOnce(String) -> String,
        answer: impl Fn(&Value, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let downstream = Downstream::start(answer).await;
        let config = edit(config(
            dir.path(),
            &downstream.url,
            relay_extra,
            &with_token(),
        ));
        let receiver = InProcess::start(&config).await;
        Self {
            downstream,
            receiver,
            client: client(),
            config,
            _dir: dir,
        }
    }

    /// Stops the receiver gracefully and starts it again on the same data.
    pub(crate) async fn restart(self) -> Self {
        self.receiver.stop().await;
        Self {
            receiver: InProcess::start(&self.config).await,
            ..self
        }
    }

    pub(crate) async fn stop(self) {
        self.receiver.stop().await;
    }

    /// Sends events `ns` of `entity`, one after the other, each answered 200.
    pub(crate) async fn post(&self, entity: &str, ns: Range<usize>) {
        for n in ns {
            let status = send(&self.client, &self.receiver.base, &event(entity, n)).await;
            assert_eq!(status.unwrap(), 200, "{entity}-{n}");
        }
    }

    pub(crate) async fn admin(&self, method: http::Method, path: &str) -> (u16, Value) {
        admin(&self.client, &self.receiver.base, method, path).await
    }

    /// The `orders` outbox's numbers.
    pub(crate) async fn stats(&self) -> Value {
        let (status, overview) = self.admin(http::Method::GET, "outbox").await;
        assert_eq!(status, 200, "{overview}");
        overview["outboxes"][0].clone()
    }

    /// The dead letters, from the admin API.
    pub(crate) async fn dead_letters(&self) -> Vec<Value> {
        let path = "outbox/orders/events?state=dead";
        let (status, list) = self.admin(http::Method::GET, path).await;
        assert_eq!(status, 200, "{list}");
        list["events"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the receiver has recorded `n` delivered events (the downstream notes a
    /// request as it answers; the receiver records the answer just after).
    pub(crate) async fn until_delivered(&self, n: u64) {
        eventually(
            Duration::from_secs(20),
            &format!("{n} delivered"),
            async || (self.stats().await["delivered"].as_u64() == Some(n)).then_some(()),
        )
        .await;
    }

    /// Waits until what the downstream received passes `check`.
    pub(crate) async fn until_received(&self, what: &str, check: impl Fn(&[Received]) -> bool) {
        eventually(Duration::from_secs(20), what, async || {
            check(&self.downstream.received()).then_some(())
        })
        .await;
    }
}
