//! The whole service's lifetime: built, served until shutdown, then drained and closed.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::build;
use crate::config::Config;
use crate::stores::{close, open_store, shared_store};
use crate::{access, inspector, outbox, tls};

/// Runs the receiver described by `config` on `listener` until `shutdown` resolves, then
/// stops accepting, lets in-flight requests and relay attempts finish (up to
/// `server.shutdown_timeout_secs`; the outbox workers record their results) and flushes the
/// store.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = Arc::new(open_store(&config.store).await?);
    let shared = shared_store(&config.store, &store).await?;
    let addr = listener.local_addr().context("listener address")?;
    let accepting = Arc::new(AtomicBool::new(true));
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let gate = Arc::new(access::Gate::new(
        config.admin.token.as_ref().map(|token| &token.0),
        addr,
        tls.is_some(),
        config.inspector.public_url.as_deref(),
    ));
    let service = build(&config, &store, &shared, &accepting, &gate)?;
    let inspector = inspector::mount(&config, store.db(), addr, tls.is_some(), gate)?;
    let router = match &inspector {
        Some(mounted) => {
            let root_is_free = !config.endpoints.iter().any(|e| e.path == "/");
            service.router.merge(mounted.router(root_is_free))
        }
        None => service.router,
    };
    tracing::info!(
        "listening on {}://{addr} (data in {})",
        if tls.is_some() { "https" } else { "http" },
        config.store.path.display()
    );
    if let Some(mounted) = &inspector {
        let hint = if mounted.needs_token() {
            " (sign in there with the admin token)"
        } else {
            ""
        };
        tracing::info!("inspector UI at {}{hint}", mounted.ui_url());
    }
    let stop_inspector = inspector.as_ref().map(inspector::Mounted::stopper);
    let grace = Duration::from_secs(config.server.shutdown_timeout_secs);
    let stop = Arc::new(watch::channel(false).0);
    let workers: Vec<_> = service
        .outboxes
        .iter()
        .map(|outbox| outbox::spawn(Arc::clone(outbox), stop.subscribe(), grace))
        .collect();
    let stopping = Arc::clone(&stop);
    let shutdown = async move {
        shutdown.await;
        accepting.store(false, AtomicOrdering::SeqCst);
        if let Some(stop) = stop_inspector {
            stop();
        }
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        stopping.send_replace(true);
    };
    let limits = super::Limits::new(&config.server, &config.inspector);
    let served = super::run(listener, tls, router, limits, shutdown, grace).await;
    // Also when the server failed: the workers must stop either way.
    stop.send_replace(true);
    // The workers need at most the same grace; their last results must be written before
    // the store closes.
    for worker in workers {
        if let Err(e) = worker.await {
            tracing::error!(error = %e, "an outbox worker failed");
        }
    }
    if let Some(mounted) = inspector {
        mounted.finish().await;
    }
    drop(service.outboxes);
    // Our copy of the marks store may be the sled store itself: let go of it before closing.
    drop(shared);
    close(store).await;
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
