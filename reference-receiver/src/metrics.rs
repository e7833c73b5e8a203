//! Prometheus metrics: what every endpoint answered, how long it took, and relay attempts.
//!
//! | metric | labels |
//! | --- | --- |
//! | `webhook_requests_total` | endpoint, outcome, status |
//! | `webhook_request_duration_seconds` (histogram) | endpoint |
//! | `relay_attempts_total` | endpoint, verdict |
//! | `relay_attempt_duration_seconds` (histogram) | endpoint |
//! | `outbox_pending`, `outbox_in_flight`, `outbox_dead`, `outbox_oldest_pending_age_seconds` (gauges, read at scrape time) | endpoint |

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::outbox::Outbox;
use crate::relay::{Attempt, Verdict};

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

/// `GET /metrics`; outbox gauges are read at scrape time, so they are never stale.
pub(crate) async fn render(State(outboxes): State<Arc<Vec<Arc<Outbox>>>>) -> Response {
    for outbox in outboxes.iter() {
        if let Ok(stats) = outbox.stats().await {
            let endpoint = stats.endpoint.clone();
            metrics::gauge!("outbox_pending", "endpoint" => endpoint.clone())
                .set(stats.pending as f64);
            metrics::gauge!("outbox_in_flight", "endpoint" => endpoint.clone())
                .set(stats.in_flight as f64);
            metrics::gauge!("outbox_dead", "endpoint" => endpoint.clone()).set(stats.dead as f64);
            metrics::gauge!("outbox_oldest_pending_age_seconds", "endpoint" => endpoint)
                .set(stats.oldest_pending_age_secs.unwrap_or(0.0));
        }
    }
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
    State(endpoint): State<&'static str>,
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
        "endpoint" => endpoint,
        "outcome" => outcome,
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!("webhook_request_duration_seconds", "endpoint" => endpoint)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Counts one relay attempt.
pub(crate) fn relay_attempt(endpoint: &str, attempt: &Attempt) {
    let verdict = match attempt.verdict {
        Verdict::Delivered => "delivered",
        Verdict::Refused => "refused",
        Verdict::Failed => "failed",
    };
    metrics::counter!(
        "relay_attempts_total",
        "endpoint" => endpoint.to_owned(),
        "verdict" => verdict
    )
    .increment(1);
    metrics::histogram!("relay_attempt_duration_seconds", "endpoint" => endpoint.to_owned())
        .record(attempt.duration_ms as f64 / 1_000.0);
}
