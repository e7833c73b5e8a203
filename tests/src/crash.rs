//! The crash test: concurrent load at the `reference-receiver` binary while it is killed with
//! SIGKILL (`kill -9`) at random moments and restarted on the same sled directory.
//!
//! The receiver runs one endpoint with the integration envelope (ordering per event type and
//! entity, dedupe on the body hash) and a sync relay to a recorder in this process. Workers
//! send unique deliveries, each entity's events in increasing time, and retry a delivery
//! until it is answered 2xx, as a sender would. After the last kill and restart:
//!
//! * every delivery answered 2xx, sent again, must be answered `duplicate`: its id is in the
//!   store;
//! * for every entity, a new event just older than its newest acknowledged one must be
//!   answered `stale`: the ordering mark is in the store;
//! * every acknowledged delivery reached the downstream recorder, and no entity ever saw an
//!   older event relayed after a newer one.
//!
//! Anything failing those is counted as lost; the run passes only with 0.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Router;
use chrono::{DateTime, Utc};

use crate::binary::{self, Running};
use crate::Server;

/// How to run the crash test.
#[derive(Debug, Clone)]
pub struct CrashConfig {
    /// The binary (see [`binary::reference_receiver`]).
    pub binary: PathBuf,
    /// Concurrent senders.
    pub workers: usize,
    /// How many times the receiver is killed under load.
    pub kills: usize,
    /// How long it runs between restarts and kills, at random within this range (ms).
    pub alive_ms: (u64, u64),
    /// Seeds the random kill moments.
    pub seed: u64,
}

/// What a crash test run found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Unique deliveries sent at least once.
    pub sent: usize,
    /// HTTP attempts, retries included.
    pub attempts: usize,
    /// Deliveries answered 2xx.
    pub acknowledged: usize,
    /// Times the receiver was killed with SIGKILL.
    pub kills: usize,
    /// Acknowledged deliveries answered `duplicate` when sent again after the last restart.
    pub duplicates_confirmed: usize,
    /// Entities whose mark rejected an older event as `stale` after the last restart.
    pub marks_confirmed: usize,
    /// Acknowledged deliveries missing afterwards (not a duplicate, mark gone, or never
    /// relayed). Must be 0.
    pub lost: usize,
    /// Times an older event was relayed after a newer one for the same entity. Must be 0.
    pub out_of_order: usize,
    /// Relays of a delivery already relayed (the crash fell between the relay and the
    /// commit, so the sender's retry ran it again: at-least-once, allowed).
    pub relayed_again: usize,
}

impl std::fmt::Display for CrashReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "crash test: kills {}, sent {}, attempts {}, acknowledged {}, lost {}, \
             out of order {}, duplicates confirmed {}, marks confirmed {}, relayed again {}",
            self.kills,
            self.sent,
            self.attempts,
            self.acknowledged,
            self.lost,
            self.out_of_order,
            self.duplicates_confirmed,
            self.marks_confirmed,
            self.relayed_again
        )
    }
}

/// Per entity, every relayed event's time and body, in arrival order.
type Relayed = BTreeMap<String, Vec<(DateTime<Utc>, Vec<u8>)>>;

/// The downstream API the relay calls.
#[derive(Debug, Clone, Default)]
struct Downstream {
    relayed: Arc<Mutex<Relayed>>,
}

async fn record(
    State(downstream): State<Downstream>,
    Path(entity): Path<String>,
    body: Bytes,
) -> &'static str {
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let at = value["timestamp"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    downstream
        .relayed
        .lock()
        .expect("downstream lock")
        .entry(entity)
        .or_default()
        .push((at, body.to_vec()));
    "{}"
}

/// One delivery a worker sends.
#[derive(Debug, Clone)]
struct Sent {
    entity: String,
    at: DateTime<Utc>,
    body: String,
}

fn body(entity: &str, at: DateTime<Utc>, n: usize) -> String {
    serde_json::json!({
        "id": entity,
        "entityType": "JOB",
        "eventType": "UPDATE",
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "seq": n,
    })
    .to_string()
}

fn base_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).expect("valid time")
}

struct Xorshift(u64);

impl Xorshift {
    fn between(&mut self, (low, high): (u64, u64)) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low + 1)
    }
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

/// Sends one attempt; its status and outcome header, or `None` when no answer came.
async fn post(client: &reqwest::Client, url: &str, body: &str) -> Option<(u16, String)> {
    let request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    match crate::senders::send(request).await {
        (Some(status), outcome) => Some((status, outcome)),
        (None, _) => None,
    }
}

/// A sender: its entities' events in increasing time, each retried until answered 2xx.
async fn worker(
    worker: usize,
    url: String,
    stop: Arc<AtomicBool>,
    attempts: Arc<AtomicUsize>,
) -> (Vec<Sent>, Vec<Sent>) {
    let client = client();
    let entities: Vec<String> = (0..4).map(|e| format!("job-{worker}-{e}")).collect();
    let (mut sent, mut acknowledged) = (Vec::new(), Vec::new());
    let mut n = 0;
    'deliveries: while !stop.load(Ordering::SeqCst) {
        let entity = entities[n % entities.len()].clone();
        // Whole seconds apart per entity, so a half-second-older probe is never a real event.
        let at = base_time() + chrono::Duration::seconds(i64::try_from(n).unwrap_or(0));
        let delivery = Sent {
            body: body(&entity, at, n),
            entity,
            at,
        };
        n += 1;
        sent.push(delivery.clone());
        loop {
            attempts.fetch_add(1, Ordering::SeqCst);
            match post(&client, &url, &delivery.body).await {
                Some((status, _)) if (200..300).contains(&status) => {
                    acknowledged.push(delivery);
                    break;
                }
                _ if stop.load(Ordering::SeqCst) => break 'deliveries,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
    (sent, acknowledged)
}

fn config(data: &std::path::Path, downstream: SocketAddr) -> String {
    format!(
        r#"
[server]
shutdown_timeout_secs = 1

[store]
path = "{data}"

[log]
level = "warn,reference_receiver=info"

[[endpoint]]
name = "jobs"
path = "/hooks/jobs"
envelope = "integration"

[endpoint.relay]
mode = "sync"
method = "PUT"
url = "http://{downstream}/jobs/{{{{ entity }}}}"
"#,
        data = data.display()
    )
}

/// Runs the crash test and reports what it found; the caller asserts `lost == 0`.
pub async fn run(config_: CrashConfig) -> CrashReport {
    assert!(
        config_.alive_ms.0 <= config_.alive_ms.1,
        "alive_ms is a range"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let downstream = Downstream::default();
    let app = Router::new()
        .route("/jobs/{entity}", axum::routing::put(record))
        .with_state(downstream.clone());
    let downstream_server = Server::start(app).await;
    let file = dir.path().join("receiver.toml");
    std::fs::write(
        &file,
        config(&dir.path().join("data"), downstream_server.addr),
    )
    .expect("write config");
    let bind = free_port().to_string();
    let start = || binary::serve(&config_.binary, dir.path(), &file, &["--bind", &bind], &[]);

    let mut running: Running = start();
    let url = format!("{}/hooks/jobs", running.base);
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..config_.workers)
        .map(|w| {
            tokio::spawn(worker(
                w,
                url.clone(),
                Arc::clone(&stop),
                Arc::clone(&attempts),
            ))
        })
        .collect();

    let mut rng = Xorshift(config_.seed | 1);
    let mut report = CrashReport::default();
    for _ in 0..config_.kills {
        tokio::time::sleep(Duration::from_millis(rng.between(config_.alive_ms))).await;
        running.kill_9();
        report.kills += 1;
        running = start();
    }
    tokio::time::sleep(Duration::from_millis(rng.between(config_.alive_ms))).await;
    stop.store(true, Ordering::SeqCst);
    let mut sent = Vec::new();
    let mut acknowledged = Vec::new();
    for worker in workers {
        let (s, a) = worker.await.expect("worker");
        sent.extend(s);
        acknowledged.extend(a);
    }
    // One more kill with nothing in flight, so even the last acknowledgements cross a crash.
    running.kill_9();
    report.kills += 1;
    let running = start();
    let url = format!("{}/hooks/jobs", running.base);

    report.sent = sent.len();
    report.attempts = attempts.load(Ordering::SeqCst);
    report.acknowledged = acknowledged.len();
    let relayed_before = downstream.relayed.lock().expect("lock").clone();
    let client = client();
    let mut lost = Vec::new();
    for delivery in &acknowledged {
        match post(&client, &url, &delivery.body).await {
            Some((200, outcome)) if outcome == "duplicate" => report.duplicates_confirmed += 1,
            other => lost.push(format!("{}: resent, got {other:?}", delivery.body)),
        }
    }
    let mut newest: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for delivery in &acknowledged {
        let slot = newest.entry(&delivery.entity).or_insert(delivery.at);
        *slot = (*slot).max(delivery.at);
    }
    for (entity, at) in &newest {
        let older = *at - chrono::Duration::milliseconds(500);
        match post(&client, &url, &body(entity, older, usize::MAX)).await {
            Some((200, outcome)) if outcome == "stale" => report.marks_confirmed += 1,
            other => lost.push(format!("{entity}: older than {at}, got {other:?}")),
        }
    }
    let relayed: HashSet<&[u8]> = relayed_before
        .values()
        .flatten()
        .map(|(_, body)| body.as_slice())
        .collect();
    for delivery in &acknowledged {
        if !relayed.contains(delivery.body.as_bytes()) {
            lost.push(format!("{}: acknowledged, never relayed", delivery.body));
        }
    }
    for events in relayed_before.values() {
        let mut seen = HashSet::new();
        for pair in events.windows(2) {
            if pair[1].0 < pair[0].0 {
                report.out_of_order += 1;
            }
        }
        for (_, body) in events {
            if !seen.insert(body.as_slice()) {
                report.relayed_again += 1;
            }
        }
    }
    report.lost = lost.len();
    for line in lost.iter().take(10) {
        eprintln!("lost: {line}");
    }
    if report.lost > 0 {
        eprintln!("receiver log:\n{}", running.log());
    }
    drop(running);
    downstream_server.stop().await;
    report
}
