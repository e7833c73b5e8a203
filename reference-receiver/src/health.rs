//! `/healthz` and `/readyz`.

use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;

use axum::extract::State;
use http::StatusCode;
use receiver_sdk::store::{DeliveryKey, Store};

/// What `/readyz` checks.
#[derive(Clone)]
pub(crate) struct Readiness {
    pub(crate) store: Arc<dyn Store>,
    // Cleared when shutdown starts, so a load balancer stops sending before we stop.
    pub(crate) accepting: Arc<AtomicBool>,
}

/// `GET /readyz`: 200 when the store answers and the receiver is not shutting down.
pub(crate) async fn ready(State(readiness): State<Readiness>) -> (StatusCode, &'static str) {
    if !readiness.accepting.load(AtomicOrdering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    let probe = DeliveryKey {
        endpoint: String::new(),
        id: "readiness-probe".into(),
    };
    match readiness.store.is_handled(&probe, 0).await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable"),
    }
}
