//! The whole service's lifetime: built, served until shutdown, then drained and closed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::App;
use crate::config::Config;
use crate::stores::Stores;
use crate::{outbox, tls};

/// Runs the receiver described by `config` on `listener` until `shutdown` resolves, then
/// stops accepting, lets in-flight requests and relay attempts finish (up to
/// `server.shutdown_timeout_secs`; the outbox workers record their results) and flushes the
/// store.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let stores = Stores::open(&config.store).await?;
    let addr = listener.local_addr().context("listener address")?;
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let app = App::build(&config, &stores, addr, tls.is_some())?;
    tracing::info!(
        "listening on {}://{addr} (data in {})",
        if tls.is_some() { "https" } else { "http" },
        config.store.path.display()
    );
    if let Some(mounted) = app.inspector() {
        let hint = if mounted.needs_token() {
            " (sign in there with the admin token)"
        } else {
            ""
        };
        tracing::info!("inspector UI at {}{hint}", mounted.ui_url());
    }
    let grace = Duration::from_secs(config.server.shutdown_timeout_secs);
    let stop = Arc::new(watch::channel(false).0);
    let workers: Vec<_> = app
        .outboxes()
        .iter()
        .map(|outbox| outbox::spawn(Arc::clone(outbox), stop.subscribe(), grace))
        .collect();
    let stop_app = app.stopper();
    let stopping = Arc::clone(&stop);
    let shutdown = async move {
        shutdown.await;
        stop_app();
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        stopping.send_replace(true);
    };
    let limits = super::Limits::new(&config.server, &config.inspector);
    let served = super::run(listener, tls, app.router(), limits, shutdown, grace).await;
    // Also when the server failed: the workers must stop either way.
    stop.send_replace(true);
    // The workers need at most the same grace; their last results must be written before
    // the store closes.
    for worker in workers {
        if let Err(e) = worker.await {
            tracing::error!(error = %e, "an outbox worker failed");
        }
    }
    app.finish().await;
    stores.close().await;
    served.context("server failed")
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
