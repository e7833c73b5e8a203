//! The reference receiver: webhook endpoints from a config file, built on `receiver-sdk`.
//!
//! # Layout
//!
//! * [`config`]: the TOML config, its embedded defaults and environment overrides.
//! * [`relay`]: rendering and sending an accepted event to a downstream API.
//! * [`outbox`]: the durable queue of `queued` relays, with backoff and dead letters, and its
//!   background worker.
//! * [`admin`]: the admin API under `/admin` (outboxes: counts, events, retry, purge) and the
//!   `outbox` CLI commands that call it.
//! * `endpoints`: turning `[[endpoint]]` entries into SDK receivers.
//! * [`send`]: the `send` subcommand, which signs test deliveries as real senders do.
//! * [`serve`]: the whole service on an already-bound listener, until a shutdown future
//!   resolves, so tests bind port 0 and stop it at will.

pub mod admin;
pub mod config;
mod endpoints;
pub mod outbox;
pub mod relay;
pub mod send;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::routing::get;
use axum::Router;
use receiver_sdk::store::{SledStore, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{Config, LogFormat, RelayMode};
use crate::endpoints::Sink;
use crate::outbox::Outbox;
use crate::relay::Relay;

/// Starts logging as `[log]` says.
pub fn init_logging(config: &config::LogConfig) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.level)
        .with_context(|| format!("log.level `{}` is not a valid filter", config.level))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot start logging: {e}"))
}

/// The HTTP client every relay shares.
fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("reference-receiver/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTP client")
}

/// Checks everything `serve` would build from `config` (verifiers, templates, auth) without
/// opening the store or listening.
pub fn check(config: &Config) -> anyhow::Result<()> {
    let client = http_client()?;
    for endpoint in &config.endpoints {
        endpoints::verifier(&endpoint.verify)
            .map_err(|e| anyhow::anyhow!("endpoint `{}`: verify: {e}", endpoint.name))?;
        if let Some(relay) = &endpoint.relay {
            Relay::new(&endpoint.name, relay, client.clone())
                .map_err(|e| anyhow::anyhow!("endpoint `{}`: {e}", endpoint.name))?;
        }
    }
    Ok(())
}

/// The running service's parts.
struct Service {
    router: Router,
    outboxes: Vec<Arc<Outbox>>,
}

/// Builds every endpoint, and the admin API (open without a token only if `loopback`).
fn build(config: &Config, store: &Arc<SledStore>, loopback: bool) -> anyhow::Result<Service> {
    let client = http_client()?;
    let shared: Arc<dyn Store> = Arc::clone(store) as Arc<dyn Store>;
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ready" }));
    let mut outboxes = Vec::new();
    for endpoint in &config.endpoints {
        let in_endpoint = |e: String| anyhow::anyhow!("endpoint `{}`: {e}", endpoint.name);
        let sink = match &endpoint.relay {
            None => Sink::Log,
            Some(relay_config) => {
                let relay = Arc::new(
                    Relay::new(&endpoint.name, relay_config, client.clone())
                        .map_err(in_endpoint)?,
                );
                match relay_config.mode {
                    RelayMode::Sync => Sink::Sync(relay),
                    RelayMode::Queued => {
                        let outbox = Arc::new(
                            Outbox::open(store.db(), &endpoint.name, relay)
                                .map_err(in_endpoint)?
                                .with_policy(relay_config.into()),
                        );
                        outboxes.push(Arc::clone(&outbox));
                        Sink::Queued(outbox)
                    }
                }
            }
        };
        let receiver = endpoints::receiver(endpoint, &config.server, Arc::clone(&shared), sink)
            .map_err(in_endpoint)?;
        router = router.route_service(&endpoint.path, receiver);
        tracing::info!(
            endpoint = %endpoint.name,
            path = %endpoint.path,
            relay = ?endpoints::relay_mode(endpoint),
            "endpoint ready"
        );
    }
    let admin = admin::router(&outboxes, config.admin.token.as_ref(), loopback);
    Ok(Service {
        router: router.nest("/admin", admin),
        outboxes,
    })
}

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
    let addr = listener.local_addr().context("listener address")?;
    let service = build(&config, &store, addr.ip().is_loopback())?;
    tracing::info!(
        "listening on http://{addr} (data in {})",
        config.store.path.display()
    );
    let grace = Duration::from_secs(config.server.shutdown_timeout_secs);
    let (stop, mut stopping) = watch::channel(false);
    let workers: Vec<_> = service
        .outboxes
        .iter()
        .map(|outbox| outbox::spawn(Arc::clone(outbox), stop.subscribe(), grace))
        .collect();
    let server = axum::serve(listener, service.router).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        stop.send_replace(true);
    });
    let drained = async {
        let _ = stopping.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result.context("server failed")?,
        () = drained => tracing::warn!("in-flight requests outlived the shutdown timeout"),
    }
    // The workers stopped with the server (or when it failed and dropped `stop`) and need
    // at most the same grace; their last results must be written before the store closes.
    for worker in workers {
        if let Err(e) = worker.await {
            tracing::error!(error = %e, "an outbox worker failed");
        }
    }
    drop(service.outboxes);
    close(store).await;
    Ok(())
}

/// Opens the sled store. sled lets go of its directory lock from background threads a moment
/// after the previous holder closed it (a receiver restarting in the same process, or one whose
/// predecessor is still exiting), so a locked directory is tried again for a few seconds.
async fn open_store(config: &config::StoreConfig) -> anyhow::Result<SledStore> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let opened = SledStore::builder()
            .path(&config.path)
            .flush_every_ms(Some(config.flush_every_ms))
            .open();
        match opened {
            // sled says so only in its message: "could not acquire lock on ...".
            Err(e)
                if e.to_string().contains("acquire lock")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            opened => {
                return opened.context("cannot open the store (is another receiver using it?)")
            }
        }
    }
}

/// Closes the store once nothing else holds it. axum's connection tasks drop their copy of the
/// router (which holds the store and the outboxes) just after the server future completes, so
/// this waits briefly for them: when `serve` returns the store is flushed and its directory
/// free to open again.
async fn close(mut store: Arc<SledStore>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        match Arc::try_unwrap(store) {
            Ok(only) => {
                drop(only);
                tracing::info!("stopped; store flushed");
                return;
            }
            Err(shared) if tokio::time::Instant::now() < deadline => {
                store = shared;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(_) => {
                tracing::warn!("stopped; the store closes when the last request lets go of it");
                return;
            }
        }
    }
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
