//! `/healthz` and `/readyz`: whether the process answers, and whether it should be sent
//! deliveries.

use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use receiver_sdk::store::{DeliveryKey, Store};

/// The two probes: `/healthz` answers 200 while the process serves; `/readyz` reads `store`
/// and `accepting` (which shutdown clears).
pub(crate) fn router(store: Arc<dyn Store>, accepting: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(ready).with_state(Readiness { store, accepting }),
        )
}

/// What `/readyz` checks.
#[derive(Clone)]
struct Readiness {
    store: Arc<dyn Store>,
    // Cleared when shutdown starts, so a load balancer stops sending before we stop.
    accepting: Arc<AtomicBool>,
}

/// `GET /readyz`: 200 when the store answers and the receiver is not shutting down.
async fn ready(State(readiness): State<Readiness>) -> (StatusCode, &'static str) {
    if !readiness.accepting.load(AtomicOrdering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    let probe = DeliveryKey::new(String::new(), "readiness-probe");
    match readiness
        .store
        .is_handled(&probe, receiver_sdk::store::UnixSeconds::from_secs(0))
        .await
    {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable"),
    }
}
