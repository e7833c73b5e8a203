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
//! * [`inspector`]: inspection bins at `/in/{token}`, their JSON API and web UI, and the
//!   `inspect` CLI.
//! * [`send`]: the `send` subcommand, which signs test deliveries as real senders do.
//! * [`serve`]: the whole service on an already-bound listener, until a shutdown future
//!   resolves, so tests bind port 0 and stop it at will.
//! * `server`: the accept loop and every connection-level limit (timeouts, connection caps,
//!   the budget of request bodies in flight, HTTP/2 settings).
//! * `tls`: HTTPS with rustls when `server.tls_cert` and `server.tls_key` are set.
//! * `access`: the one gate in front of `/admin`, `/api` and `/ui` (admin token, inspector
//!   sessions, loopback host names, cross-site refusals).
//! * `metrics`: the Prometheus metrics served at `/metrics`.
//!
//! How to run and configure the binary is the operator's guide in `reference-receiver/docs/`
//! (start with `getting-started.md`).

mod access;
pub mod admin;
pub mod config;
mod endpoints;
pub mod inspector;
mod metrics;
pub mod outbox;
pub mod relay;
pub mod send;
mod server;
mod tls;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use receiver_sdk::store::{DeliveryKey, PostgresStore, SledStore, Store};
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

/// The HTTP client every relay shares. It follows no redirect: a relay's or fetch's host,
/// port and path are fixed by the config, and a 3xx (which could lead anywhere, with the
/// credential headers along) is an answer the relay records, not a hop it takes.
fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("reference-receiver/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")
}

/// Checks everything `serve` would build from `config` (verifiers, templates, auth) without
/// opening the store or listening.
pub fn check(config: &Config) -> anyhow::Result<()> {
    let client = http_client()?;
    if let Some(url) = &config.store.url {
        PostgresStore::builder(&url.text()).context("store.url")?;
    }
    for endpoint in &config.endpoints {
        endpoint
            .verify
            .build()
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

/// Builds every endpoint, and the admin API behind `gate`.
fn build(
    config: &Config,
    store: &Arc<SledStore>,
    shared: &Shared,
    accepting: &Arc<AtomicBool>,
    gate: &Arc<access::Gate>,
) -> anyhow::Result<Service> {
    let Shared {
        store: shared,
        postgres,
    } = shared;
    let client = http_client()?;
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(ready).with_state(Readiness {
                store: Arc::clone(shared),
                accepting: Arc::clone(accepting),
            }),
        );
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
                        let outbox = match postgres {
                            Some(postgres) => Outbox::postgres(
                                postgres.pool().clone(),
                                &endpoint.name,
                                relay,
                                claim_for(relay_config),
                            ),
                            None => Outbox::sled(store.db(), &endpoint.name, relay)
                                .map_err(|e| in_endpoint(e.to_string()))?,
                        };
                        let outbox = Arc::new(outbox.with_policy(relay_config.into()));
                        outboxes.push(Arc::clone(&outbox));
                        Sink::Queued(outbox)
                    }
                }
            }
        };
        let receiver = endpoints::receiver(endpoint, &config.server, Arc::clone(shared), sink)
            .map_err(in_endpoint)?;
        // Labels must be 'static; endpoint names live as long as the process.
        let name: &'static str = Box::leak(endpoint.name.clone().into_boxed_str());
        router = router.route_service(
            &endpoint.path,
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(name, metrics::record))
                .layer(axum::middleware::map_response(outbox::with_retry_after))
                .service(receiver),
        );
        tracing::info!(
            endpoint = %endpoint.name,
            path = %endpoint.path,
            relay = ?endpoints::relay_mode(endpoint),
            "endpoint ready"
        );
    }
    let router = router.route(
        "/metrics",
        get(metrics::render).with_state(Arc::new(outboxes.clone())),
    );
    let admin = admin::router(&outboxes, Arc::clone(gate));
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
    let limits = server::Limits::new(&config.server, &config.inspector);
    let served = server::run(listener, tls, router, limits, shutdown, grace).await;
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

/// Opens the sled store. sled lets go of its directory lock from background threads a moment
/// after the previous holder closed it (a receiver restarting in the same process, or one whose
/// predecessor is still exiting), so a locked directory is tried again for a few seconds.
async fn open_store(config: &config::StoreConfig) -> anyhow::Result<SledStore> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let opened = SledStore::builder()
            .path(&config.path)
            .flush_every_ms(Some(config.flush_every_ms))
            .cache_capacity(config.cache_mib.saturating_mul(1024 * 1024))
            .commit_delay(Duration::from_micros(config.commit_delay_us))
            .open();
        match opened {
            Err(e)
                if e.kind() == receiver_sdk::store::StoreErrorKind::Locked
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

/// What replicas share: the store of ordering marks and delivery ids, and with `store.url` the
/// PostgreSQL database that holds it and the queued relays' outboxes.
struct Shared {
    store: Arc<dyn Store>,
    postgres: Option<Arc<PostgresStore>>,
}

/// PostgreSQL with `store.url`; otherwise the sled store, which keeps everything else either
/// way.
async fn shared_store(
    config: &config::StoreConfig,
    sled: &Arc<SledStore>,
) -> anyhow::Result<Shared> {
    let Some(url) = &config.url else {
        return Ok(Shared {
            store: Arc::clone(sled) as Arc<dyn Store>,
            postgres: None,
        });
    };
    let postgres = PostgresStore::builder(&url.text())
        .context("store.url")?
        .pool_size(config.pool_size)
        .migrations(outbox::MIGRATION_NAMESPACE, outbox::MIGRATIONS)
        .connect()
        .await
        .context("cannot use the PostgreSQL store (store.url)")?;
    tracing::info!(
        "ordering marks, delivery ids and outboxes in PostgreSQL at {}",
        postgres.target()
    );
    let postgres = Arc::new(postgres);
    Ok(Shared {
        store: Arc::clone(&postgres) as Arc<dyn Store>,
        postgres: Some(postgres),
    })
}

/// How long a replica's claim on an outbox event lasts: past any attempt it can make (the
/// fetch and the call, each within its timeout), so only a replica that died lets it lapse.
fn claim_for(relay: &config::RelayConfig) -> Duration {
    let fetch = relay.fetch.as_ref().map_or(0, |fetch| fetch.timeout_secs);
    Duration::from_secs(2 * (relay.timeout_secs + fetch) + 30)
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
