//! Prometheus metrics: what every endpoint answered, how long it took, and relay attempts.
//!
//! | metric | labels |
//! | --- | --- |
//! | `webhook_requests_total` | endpoint, outcome, status |
//! | `webhook_request_duration_seconds` (histogram) | endpoint |
//! | `relay_attempts_total` | endpoint, verdict |
//! | `relay_attempt_duration_seconds` (histogram) | endpoint |
//! | `outbox_pending`, `outbox_in_flight`, `outbox_dead`, `outbox_oldest_pending_age_seconds` (gauges, read at scrape time) | endpoint |
//!
//! This module is a leaf: it takes plain labels and values, and whoever owns the state (the
//! outboxes, the relays) hands them over, so nothing here reaches back into the receiver.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder (metrics are global; a process runs one receiver).
pub(crate) fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("seconds".into()), LATENCY_BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed (an embedding program's own).
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// One outbox's counts, set as its gauges just before a scrape renders them.
pub(crate) struct OutboxGauges<'a> {
    /// The endpoint the outbox belongs to.
    pub(crate) endpoint: &'a str,
    /// Events not yet delivered nor dead.
    pub(crate) pending: usize,
    /// Events being attempted right now.
    pub(crate) in_flight: usize,
    /// Dead letters.
    pub(crate) dead: usize,
    /// How long the oldest pending event has waited (0 when none waits).
    pub(crate) oldest_pending_age_secs: Option<f64>,
}

impl OutboxGauges<'_> {
    /// Sets this outbox's gauges.
    pub(crate) fn set(&self) {
        let endpoint = self.endpoint.to_owned();
        metrics::gauge!("outbox_pending", "endpoint" => endpoint.clone()).set(self.pending as f64);
        metrics::gauge!("outbox_in_flight", "endpoint" => endpoint.clone())
            .set(self.in_flight as f64);
        metrics::gauge!("outbox_dead", "endpoint" => endpoint.clone()).set(self.dead as f64);
        metrics::gauge!("outbox_oldest_pending_age_seconds", "endpoint" => endpoint)
            .set(self.oldest_pending_age_secs.unwrap_or(0.0));
    }
}

/// The body of `GET /metrics`: everything recorded so far, in Prometheus' text format.
pub(crate) fn render() -> Response {
    match handle() {
        Some(handle) => (
            [("content-type", "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (
            http::StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}

/// Middleware around an endpoint: counts answers by outcome and status, times them.
pub(crate) async fn record(
    State(endpoint): State<Arc<str>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let outcome = response
        .headers()
        .get(receiver_sdk::outcome::OUTCOME_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("probe")
        .to_owned();
    metrics::counter!(
        "webhook_requests_total",
        "endpoint" => Arc::clone(&endpoint),
        "outcome" => outcome,
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!("webhook_request_duration_seconds", "endpoint" => endpoint)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Counts one relay attempt: its endpoint, its verdict (`delivered`, `refused`, `failed`) and
/// how long it took.
pub(crate) fn relay_attempt(endpoint: &str, verdict: &'static str, duration_ms: u64) {
    metrics::counter!(
        "relay_attempts_total",
        "endpoint" => endpoint.to_owned(),
        "verdict" => verdict
    )
    .increment(1);
    metrics::histogram!("relay_attempt_duration_seconds", "endpoint" => endpoint.to_owned())
        .record(duration_ms as f64 / 1_000.0);
}
