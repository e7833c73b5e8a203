//! The end-to-end load benchmark's parts: the servers under test and a load generator that
//! sends unique, validly signed Standard Webhooks deliveries (its own id, entity and time each),
//! so the whole pipeline is measured and never the dedupe shortcut.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use receiver_sdk::envelope::Envelope;
use receiver_sdk::ordering::OrderingScope;
use receiver_sdk::verify::{sign, Verifier};
use receiver_sdk::{Delivery, Receiver};

/// The signing secret every benchmark server and the load generator share.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A bare axum handler that reads the body and answers 200: the ceiling.
    Bare,
    /// The SDK endpoint: HMAC verification, envelope, ordering and dedupe, in memory.
    SdkMemory,
    /// The same with sled and durable acknowledgement.
    SdkSled,
    /// The same with fjall, every acknowledgement after a real fsync (group commit).
    SdkFjall,
}

/// The app of `target`, with sled or fjall data (if any) in `dir`.
pub fn app(target: Target, dir: &std::path::Path) -> Router {
    if target == Target::Bare {
        return Router::new().route(
            "/webhook",
            axum::routing::post(|body: Bytes| async move {
                std::hint::black_box(body);
                "ok"
            }),
        );
    }
    let builder = Receiver::builder("bench")
        .verifier(Verifier::standard_webhooks([SECRET]).expect("valid secret"))
        .envelope(Envelope::StandardWebhooks)
        .ordering(OrderingScope::PerEventType);
    let builder = match target {
        Target::SdkSled => builder.store(sled_store(dir)),
        Target::SdkFjall => {
            builder.store(receiver_sdk::store::FjallStore::open(dir).expect("fjall store"))
        }
        _ => builder.store(receiver_sdk::store::MemoryStore::new()),
    };
    let receiver = builder
        .handler(|delivery: Delivery| async move {
            std::hint::black_box(delivery);
            Ok(())
        })
        .build()
        .expect("bench receiver");
    Router::new().route_service("/webhook", receiver)
}

/// The sled target's store: the SDK's defaults, or what `BENCH_SLED_CACHE_MIB` (page cache)
/// and `BENCH_SLED_COMMIT_DELAY_US` (group commit delay) say instead, to measure what each
/// costs.
fn sled_store(dir: &std::path::Path) -> receiver_sdk::store::SledStore {
    let setting = |name: &str| -> Option<u64> { std::env::var(name).ok()?.parse().ok() };
    let mut builder = receiver_sdk::store::SledStore::builder().path(dir);
    if let Some(mib) = setting("BENCH_SLED_CACHE_MIB") {
        builder = builder.cache_capacity(mib.saturating_mul(1024 * 1024));
    }
    if let Some(micros) = setting("BENCH_SLED_COMMIT_DELAY_US") {
        builder = builder.commit_delay(Duration::from_micros(micros));
    }
    builder.open().expect("open sled")
}

/// What one load run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Measured {
    /// Requests answered per second.
    pub requests_per_sec: f64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency in milliseconds.
    pub p99_ms: f64,
    /// Answers that were not 2xx.
    pub non_2xx: u64,
    /// Requests answered.
    pub requests: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// One signed delivery of about `size` bytes, unique by `run`, `connection` and `n`.
pub fn delivery(
    run: u64,
    connection: usize,
    n: u64,
    size: usize,
) -> (String, u64, String, Vec<u8>) {
    signed_delivery(
        &format!("msg_{run}_{connection}_{n}"),
        &format!("inv_{run}_{connection}_{n}"),
        1_700_000_000 + n,
        size,
    )
}

/// A number no other load run, in this process or another, has used: the warm-up and the
/// measurement (or two `bench-e2e load` processes) against one server must not send the same
/// delivery ids, or the measurement would time the dedupe shortcut.
fn fresh_run() -> u64 {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or_default();
    started.wrapping_mul(1_000) + RUNS.fetch_add(1, AtomicOrdering::Relaxed) % 1_000
}

/// One signed `invoice.paid` delivery of about `size` bytes: delivery id `id`, entity (`data.id`)
/// `entity`, created at `created` (Unix seconds), signed now. Returns the id, the signing time,
/// the signature and the body.
pub fn signed_delivery(
    id: &str,
    entity: &str,
    created: u64,
    size: usize,
) -> (String, u64, String, Vec<u8>) {
    let head = format!(
        r#"{{"type":"invoice.paid","timestamp":"{}","data":{{"id":"{entity}","amount":1200,"pad":""#,
        chrono::DateTime::from_timestamp(created as i64, 0)
            .unwrap_or_default()
            .to_rfc3339()
    );
    let tail = r#""}}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    let body = format!("{head}{}{tail}", "x".repeat(pad)).into_bytes();
    let timestamp = unix_now();
    let signature =
        sign::standard_webhooks(SECRET, id, timestamp, &body).expect("signing with a valid secret");
    (id.to_owned(), timestamp, signature, body)
}

/// Drives `connections` keep-alive connections at `addr` for `duration`, each sending unique
/// signed deliveries of `size` bytes back to back.
pub async fn load(
    addr: std::net::SocketAddr,
    connections: usize,
    duration: Duration,
    size: usize,
) -> (Measured, Outcomes) {
    let run = fresh_run();
    drive(addr, connections, duration, move |connection, n| {
        Some(delivery(run, connection, n, size))
    })
    .await
}

/// Answers counted by their `X-Webhook-Outcome` header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Outcomes {
    /// `handled`: the handler ran and the commit was recorded.
    pub handled: u64,
    /// `stale`: older than the entity's ordering mark.
    pub stale: u64,
    /// `duplicate`: a delivery id already handled.
    pub duplicate: u64,
    /// Any other outcome, or none (the bare server sends no header).
    pub other: u64,
}

impl Outcomes {
    fn count(&mut self, outcome: Option<&http::HeaderValue>) {
        match outcome.map(http::HeaderValue::as_bytes) {
            Some(b"handled") => self.handled += 1,
            Some(b"stale") => self.stale += 1,
            Some(b"duplicate") => self.duplicate += 1,
            _ => self.other += 1,
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: Self) {
        self.handled += other.handled;
        self.stale += other.stale;
        self.duplicate += other.duplicate;
        self.other += other.other;
    }
}

/// Drives `connections` keep-alive connections at `addr` for at most `duration`, each sending
/// the deliveries `next(connection, n)` makes (`n` counts from 1 per connection; `None` ends
/// that connection) back to back, as [`delivery`] returns them. Ends early once every
/// connection has ended.
pub async fn drive<F>(
    addr: std::net::SocketAddr,
    connections: usize,
    duration: Duration,
    next: F,
) -> (Measured, Outcomes)
where
    F: Fn(usize, u64) -> Option<(String, u64, String, Vec<u8>)> + Clone + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let non_2xx = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..connections)
        .map(|connection| {
            let (stop, non_2xx, next) = (Arc::clone(&stop), Arc::clone(&non_2xx), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(100_000);
                let mut outcomes = Outcomes::default();
                let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
                    return (latencies, outcomes);
                };
                let _ = stream.set_nodelay(true);
                let Ok((mut sender, conn)) = http1::handshake(TokioIo::new(stream)).await else {
                    return (latencies, outcomes);
                };
                tokio::spawn(conn);
                let mut n = 0;
                while !stop.load(AtomicOrdering::Relaxed) {
                    n += 1;
                    let Some((id, timestamp, signature, body)) = next(connection, n) else {
                        break;
                    };
                    let request = http::Request::post("/webhook")
                        .header("host", "bench")
                        .header("content-type", "application/json")
                        .header("webhook-id", id)
                        .header("webhook-timestamp", timestamp.to_string())
                        .header("webhook-signature", signature)
                        .body(Full::new(Bytes::from(body)))
                        .expect("request");
                    let started = Instant::now();
                    if sender.ready().await.is_err() {
                        break;
                    }
                    let Ok(response) = sender.send_request(request).await else {
                        break;
                    };
                    let status = response.status();
                    outcomes.count(response.headers().get("x-webhook-outcome"));
                    if response.into_body().collect().await.is_err() {
                        break;
                    }
                    latencies.push(started.elapsed());
                    if !status.is_success() {
                        non_2xx.fetch_add(1, AtomicOrdering::Relaxed);
                    }
                }
                (latencies, outcomes)
            })
        })
        .collect();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + duration;
    while tasks.iter().any(|task| !task.is_finished()) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(left.min(Duration::from_millis(20))).await;
    }
    stop.store(true, AtomicOrdering::Relaxed);
    let mut all = Vec::new();
    let mut outcomes = Outcomes::default();
    for task in tasks {
        let (latencies, counted) = task.await.unwrap_or_default();
        all.extend(latencies);
        outcomes.add(counted);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let percentile = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1_000.0)
    };
    let measured = Measured {
        requests_per_sec: all.len() as f64 / elapsed,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        non_2xx: non_2xx.load(AtomicOrdering::Relaxed),
        requests: all.len() as u64,
    };
    (measured, outcomes)
}
