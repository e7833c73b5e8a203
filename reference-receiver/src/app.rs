//! The composition root: the service's router and the parts it is built from.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use receiver_sdk::store::{PostgresStore, SledStore};

use crate::config::{self, Config, RelayMode};
use crate::endpoints::{self, Sink};
use crate::health::{self, Readiness};
use crate::outbox::{self, Outbox};
use crate::relay::Relay;
use crate::stores::Shared;
use crate::{access, admin, metrics};

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
pub(crate) struct Service {
    pub(crate) router: Router,
    pub(crate) outboxes: Vec<Arc<Outbox>>,
}

/// Builds every endpoint, and the admin API behind `gate`.
pub(crate) fn build(
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
            get(health::ready).with_state(Readiness {
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
                        let mut outbox = Outbox::open(store.db(), &endpoint.name, relay)
                            .map_err(in_endpoint)?
                            .with_policy(relay_config.into());
                        if let Some(postgres) = postgres {
                            outbox = outbox
                                .with_postgres(postgres.pool().clone(), claim_for(relay_config));
                        }
                        let outbox = Arc::new(outbox);
                        outboxes.push(Arc::clone(&outbox));
                        Sink::Queued(outbox)
                    }
                }
            }
        };
        let receiver = endpoints::receiver(endpoint, &config.server, Arc::clone(shared), sink)
            .map_err(in_endpoint)?;
        let name: Arc<str> = Arc::from(endpoint.name.as_str());
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
        get(scrape).with_state(Arc::new(outboxes.clone())),
    );
    let admin = admin::router(&outboxes, Arc::clone(gate));
    Ok(Service {
        router: router.nest("/admin", admin),
        outboxes,
    })
}

/// How long a replica's claim on an outbox event lasts: past any attempt it can make (the
/// fetch and the call, each within its timeout), so only a replica that died lets it lapse.
fn claim_for(relay: &config::RelayConfig) -> Duration {
    let fetch = relay.fetch.as_ref().map_or(0, |fetch| fetch.timeout_secs);
    Duration::from_secs(2 * (relay.timeout_secs + fetch) + 30)
}

/// `GET /metrics`. The outbox gauges are read at scrape time, so they are never stale.
async fn scrape(State(outboxes): State<Arc<Vec<Arc<Outbox>>>>) -> Response {
    for outbox in outboxes.iter() {
        if let Ok(stats) = outbox.stats().await {
            metrics::OutboxGauges {
                endpoint: &stats.endpoint,
                pending: stats.pending,
                in_flight: stats.in_flight,
                dead: stats.dead,
                oldest_pending_age_secs: stats.oldest_pending_age_secs,
            }
            .set();
        }
    }
    metrics::render()
}
