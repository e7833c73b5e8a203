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
use receiver_sdk::ordering::Ordering;
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
        .ordering(Ordering::PerEventType);
    let builder = match target {
        Target::SdkSled => builder.sled(dir),
        Target::SdkFjall => builder.fjall(dir),
        _ => builder.memory_store(),
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

/// One signed delivery of about `size` bytes, unique by `connection` and `n`.
pub fn delivery(connection: usize, n: u64, size: usize) -> (String, u64, String, Vec<u8>) {
    let id = format!("msg_{connection}_{n}");
    let created = 1_700_000_000 + n;
    let head = format!(
        r#"{{"type":"invoice.paid","timestamp":"{}","data":{{"id":"inv_{connection}_{n}","amount":1200,"pad":""#,
        chrono::DateTime::from_timestamp(created as i64, 0)
            .unwrap_or_default()
            .to_rfc3339()
    );
    let tail = r#""}}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    let body = format!("{head}{}{tail}", "x".repeat(pad)).into_bytes();
    let timestamp = unix_now();
    let signature = sign::standard_webhooks(SECRET, &id, timestamp, &body)
        .expect("signing with a valid secret");
    (id, timestamp, signature, body)
}

/// Drives `connections` keep-alive connections at `addr` for `duration`, each sending unique
/// signed deliveries of `size` bytes back to back.
pub async fn load(
    addr: std::net::SocketAddr,
    connections: usize,
    duration: Duration,
    size: usize,
) -> Measured {
    let stop = Arc::new(AtomicBool::new(false));
    let non_2xx = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..connections)
        .map(|connection| {
            let (stop, non_2xx) = (Arc::clone(&stop), Arc::clone(&non_2xx));
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(100_000);
                let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
                    return latencies;
                };
                let _ = stream.set_nodelay(true);
                let Ok((mut sender, conn)) = http1::handshake(TokioIo::new(stream)).await else {
                    return latencies;
                };
                tokio::spawn(conn);
                let mut n = 0;
                while !stop.load(AtomicOrdering::Relaxed) {
                    n += 1;
                    let (id, timestamp, signature, body) = delivery(connection, n, size);
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
                    if response.into_body().collect().await.is_err() {
                        break;
                    }
                    latencies.push(started.elapsed());
                    if !status.is_success() {
                        non_2xx.fetch_add(1, AtomicOrdering::Relaxed);
                    }
                }
                latencies
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    stop.store(true, AtomicOrdering::Relaxed);
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap_or_default());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let percentile = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1_000.0)
    };
    Measured {
        requests_per_sec: all.len() as f64 / elapsed,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        non_2xx: non_2xx.load(AtomicOrdering::Relaxed),
        requests: all.len() as u64,
    }
}
