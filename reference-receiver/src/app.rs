//! The composition root: the receiver's router, built from its config and opened stores, and
//! the parts `serve` runs beside it (the outboxes whose workers it spawns, the inspector it
//! stops).
//!
//! Nothing here listens: [`App::router`] is a plain axum `Router`, so tests can send it
//! requests with `tower::ServiceExt::oneshot`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use receiver_sdk::store::PostgresStore;

use crate::config::{self, Config, RelayMode};
use crate::endpoints::{self, Sink};
use crate::outbox::{self, Outbox};
use crate::relay::Relay;
use crate::stores::{Shared, Stores};
use crate::{access, admin, health, inspector, metrics};

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

/// The receiver's HTTP side: every `[[endpoint]]`, `/healthz`, `/readyz`, `/metrics`, the admin
/// API under `/admin` and, when enabled, the inspector.
///
/// [`serve`](crate::serve) builds one and runs it on a listener; a test can build one and call
/// its router directly, with no socket:
///
/// ```
/// use reference_receiver::config;
/// use reference_receiver::{App, Stores};
/// use tower::ServiceExt as _;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> anyhow::Result<()> {
/// let data = tempfile::tempdir()?;
/// let mut config = config::load(None)?;
/// config.store.path = data.path().to_owned();
/// let stores = Stores::open(&config.store).await?;
/// let app = App::build(&config, &stores, "127.0.0.1:8080".parse()?, false)?;
/// let request = http::Request::get("/healthz").body(axum::body::Body::empty())?;
/// let response = app.router().oneshot(request).await?;
/// assert_eq!(response.status(), 200);
/// # app.finish().await;
/// # stores.close().await;
/// # Ok(())
/// # }
/// ```
pub struct App {
    router: Router,
    // The queued relays' outboxes, for `serve` to start (and stop) their workers.
    outboxes: Vec<Arc<Outbox>>,
    inspector: Option<inspector::Mounted>,
    // Cleared when shutdown starts, so `/readyz` turns a load balancer away before we stop.
    accepting: Arc<AtomicBool>,
}

impl App {
    /// Builds the app of `config` on `stores`. `addr` and `tls` say how it is reached (the
    /// listener's address and whether it serves HTTPS): the admin gate accepts only host names
    /// of that address, and the inspector's links point there.
    ///
    /// Call it within a Tokio runtime: the inspector, if enabled, starts pruning its bins.
    pub fn build(
        config: &Config,
        stores: &Stores,
        addr: SocketAddr,
        tls: bool,
    ) -> anyhow::Result<Self> {
        let accepting = Arc::new(AtomicBool::new(true));
        let gate = Arc::new(access::Gate::new(
            config.admin.token.as_ref().map(|token| &token.0),
            addr,
            tls,
            config.inspector.public_url.as_deref(),
        ));
        // Installed before any endpoint can count anything.
        metrics::handle();
        let health = health::router(Arc::clone(&stores.shared().store), Arc::clone(&accepting));
        let (endpoints, outboxes) = endpoint_routes(config, stores)?;
        let router = health
            .merge(endpoints)
            .route(
                "/metrics",
                get(scrape).with_state(Arc::new(outboxes.clone())),
            )
            .nest("/admin", admin::router(&outboxes, Arc::clone(&gate)));
        let inspector = inspector::mount(config, stores.sled().db(), addr, tls, gate)?;
        let router = match &inspector {
            Some(mounted) => {
                let root_is_free = !config.endpoints.iter().any(|e| e.path == "/");
                router.merge(mounted.router(root_is_free))
            }
            None => router,
        };
        Ok(Self {
            router,
            outboxes,
            inspector,
            accepting,
        })
    }

    /// The routes, ready to serve or to `oneshot` a request into.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The queued relays' outboxes.
    pub(crate) fn outboxes(&self) -> &[Arc<Outbox>] {
        &self.outboxes
    }

    /// The inspector, if `[inspector]` enables it.
    pub(crate) fn inspector(&self) -> Option<&inspector::Mounted> {
        self.inspector.as_ref()
    }

    /// What starts the shutdown: `/readyz` answers 503 from then on, and the inspector's live
    /// streams end so open UIs do not hold the server up.
    pub(crate) fn stopper(&self) -> impl FnOnce() + Send + 'static {
        let accepting = Arc::clone(&self.accepting);
        let stop_inspector = self.inspector.as_ref().map(inspector::Mounted::stopper);
        move || {
            accepting.store(false, AtomicOrdering::SeqCst);
            if let Some(stop) = stop_inspector {
                stop();
            }
        }
    }

    /// Lets go of everything the app holds of the stores, once the inspector has finished its
    /// pruning pass, so [`Stores::close`] can flush them.
    pub async fn finish(self) {
        if let Some(mounted) = self.inspector {
            mounted.finish().await;
        }
    }
}

/// Every `[[endpoint]]`'s route, and the outboxes of those that queue their relays.
fn endpoint_routes(config: &Config, stores: &Stores) -> anyhow::Result<(Router, Vec<Arc<Outbox>>)> {
    let Shared {
        store: shared,
        postgres,
    } = stores.shared();
    let client = http_client()?;
    let mut router = Router::new();
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
                            None => Outbox::sled(stores.sled().db(), &endpoint.name, relay)
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
    Ok((router, outboxes))
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
