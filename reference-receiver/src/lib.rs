//! The reference receiver: a standalone webhook endpoint built on `receiver-sdk`.
//!
//! # Layout
//!
//! * [`run`]: serves an app on an already-bound listener until a shutdown future resolves, so
//!   tests bind port 0 and stop it at will.
//! * [`default_app`]: the app of the embedded defaults: one catch-all endpoint at `/webhook`
//!   that accepts any JSON delivery, dedupes retries, and logs each event.

pub mod config;

use std::future::Future;
use std::path::Path;

use anyhow::Context;
use axum::Router;
use receiver_sdk::envelope::Envelope;
use receiver_sdk::{Delivery, Receiver};
use tokio::net::TcpListener;

/// The app of the embedded defaults: a catch-all endpoint at `/webhook` with its sled store in
/// `data_dir`. Every handled event is logged as one structured line.
pub fn default_app(data_dir: &Path) -> anyhow::Result<Router> {
    let receiver = Receiver::builder("default")
        .envelope(Envelope::Raw)
        .sled(data_dir)
        .handler(|delivery: Delivery| async move {
            tracing::info!(
                endpoint = %delivery.endpoint,
                event = %delivery.event.event_type,
                bytes = delivery.body.len(),
                payload = %delivery.payload,
                "event received"
            );
            Ok(())
        })
        .build()
        .with_context(|| {
            format!(
                "cannot start the endpoint with data in {}",
                data_dir.display()
            )
        })?;
    Ok(Router::new().route_service("/webhook", receiver))
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn run(
    app: Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("server failed")
}
