//! The reference receiver: webhook endpoints from a config file, built on `receiver-sdk`.
//!
//! # Layout
//!
//! * [`config`]: the TOML config, its embedded defaults and environment overrides.
//! * [`relay`]: rendering and sending an accepted event to a downstream API.
//! * [`outbox`]: the durable queue of `queued` relays, with backoff and dead letters.
//! * `endpoints`: turning `[[endpoint]]` entries into SDK receivers.
//! * [`inspector`]: inspection bins at `/in/{token}`, their JSON API and web UI, and the
//!   `inspect` CLI.
//! * [`send`]: the `send` subcommand, which signs test deliveries as real senders do.
//! * [`serve`]: the whole service on an already-bound listener, until a shutdown future
//!   resolves, so tests bind port 0 and stop it at will.

pub mod config;
mod endpoints;
pub mod inspector;
mod metrics;
pub mod outbox;
pub mod relay;
pub mod send;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use receiver_sdk::store::{DeliveryKey, SledStore, Store};
use tokio::net::TcpListener;

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
    let probe = DeliveryKey {
        endpoint: String::new(),
        id: "readiness-probe".into(),
    };
    match readiness.store.is_handled(&probe, 0).await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable"),
    }
}

fn build(
    config: &Config,
    store: &Arc<SledStore>,
    accepting: &Arc<AtomicBool>,
) -> anyhow::Result<Service> {
    let client = http_client()?;
    let shared: Arc<dyn Store> = Arc::clone(store) as Arc<dyn Store>;
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(ready).with_state(Readiness {
                store: Arc::clone(&shared),
                accepting: Arc::clone(accepting),
            }),
        )
        .route("/metrics", get(metrics::render));
    metrics::handle();
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
                            Outbox::open(store.db(), &endpoint.name, relay).map_err(in_endpoint)?,
                        );
                        outboxes.push(Arc::clone(&outbox));
                        Sink::Queued(outbox)
                    }
                }
            }
        };
        let receiver = endpoints::receiver(endpoint, &config.server, Arc::clone(&shared), sink)
            .map_err(in_endpoint)?;
        // Labels must be 'static; endpoint names live as long as the process.
        let name: &'static str = Box::leak(endpoint.name.clone().into_boxed_str());
        router = router.route_service(
            &endpoint.path,
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(name, metrics::record))
                .service(receiver),
        );
        tracing::info!(
            endpoint = %endpoint.name,
            path = %endpoint.path,
            relay = ?endpoints::relay_mode(endpoint),
            "endpoint ready"
        );
    }
    Ok(Service { router, outboxes })
}

/// Runs the receiver described by `config` on `listener` until `shutdown` resolves, then
/// stops accepting, lets in-flight requests finish (up to `server.shutdown_timeout_secs`)
/// and flushes the store.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = Arc::new(
        SledStore::builder()
            .path(&config.store.path)
            .flush_every_ms(Some(config.store.flush_every_ms))
            .open()
            .with_context(|| "cannot open the store (is another receiver using it?)")?,
    );
    let accepting = Arc::new(AtomicBool::new(true));
    let service = build(&config, &store, &accepting)?;
    let addr = listener.local_addr().context("listener address")?;
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
        _ => None,
    };
    let inspector = inspector::mount(&config, store.db(), addr, tls.is_some())?;
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
            " (open it once with ?token=<admin token>)"
        } else {
            ""
        };
        tracing::info!("inspector UI at {}{hint}", mounted.ui_url());
    }
    let stop_inspector = inspector.as_ref().map(inspector::Mounted::stopper);
    let _ = &service.outboxes;
    let grace = Duration::from_secs(config.server.shutdown_timeout_secs);
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        accepting.store(false, AtomicOrdering::SeqCst);
        if let Some(stop) = stop_inspector {
            stop();
        }
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        stopper.graceful_shutdown(Some(grace));
    });
    let listener = listener.into_std().context("listener")?;
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(tls) => {
            axum_server::from_tcp_rustls(listener, tls)
                .handle(handle)
                .serve(app)
                .await
        }
        None => {
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(app)
                .await
        }
    }
    .context("server failed")?;
    if let Some(mounted) = inspector {
        mounted.finish().await;
    }
    drop(store);
    tracing::info!("stopped; store flushed");
    Ok(())
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
