//! The inspector: a self-hosted webhook.site that knows about signatures and ordering.
//!
//! Any request to `/in/{token}[/any/sub/path]` is captured into a *bin*: method, path, query,
//! every header in order (repeats kept), the body byte for byte, size, remote address and
//! time. Each capture is judged as a receiver endpoint with the bin's settings would judge it
//! (signature or Basic auth, envelope, and whether the ordering guard would call it stale or a
//! duplicate), and answered as the bin is told to answer. A JSON API at `/api/bins` and a web
//! UI at `/ui` show the captures live (server-sent events), replay them, export them as HAR.
//!
//! # Layout
//!
//! * `bin`: bins (token or alias) and their settings: answer, verifier, envelope, retention.
//! * `capture`: one captured request, as stored and as the API shows it.
//! * `store`: the sled trees (`inspector_*`) and retention.
//! * `verdict`: what an endpoint with the bin's settings would have answered, and why.
//! * `ingest`: `/in/{token}`: read, judge, store, then answer.
//! * `api`: the JSON API; `stream`: its server-sent events; `har`: HAR export.
//! * `replay`: sending a capture again, exact bytes (the API's replay and `inspect forward`).
//! * `auth`: the access gate in front of `/api` and `/ui`, and signing in to the UI.
//! * `ui`: the web UI, embedded in the binary.
//! * [`cli`]: `reference-receiver inspect new|tail|forward`.
//!
//! # Guarantees
//!
//! * Bodies are never re-serialised: what is stored, shown, replayed and forwarded is the
//!   bytes as received, so signatures still verify downstream.
//! * A capture is answered only after it is inserted into the store. It is not flushed before
//!   the answer (unlike an endpoint's 2xx): sled writes it out within `store.flush_every_ms`,
//!   and on shutdown. A capture is a record for a person to look at, not an acknowledgement a
//!   sender relies on, so it does not pay for a flush.
//! * A bin's would-be ordering marks and delivery ids live in the bin's own trees; real
//!   endpoints' state is never read or written.

mod api;
mod auth;
mod bin;
mod capture;
pub mod cli;
mod har;
mod ingest;
mod replay;
mod store;
mod stream;
mod ui;
mod verdict;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::routing::{any, get, post};
use axum::Router;
use tokio::sync::{broadcast, watch};

use crate::config::{Config, InspectorConfig};

pub(crate) use self::bin::Bin;
use self::store::Store;

/// A change to some bin's captures, for live streams. Ids only, never captures: a stream
/// reads what it sends from the store, so a subscriber that stops reading pins a few bytes
/// per change, not bodies.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// A new capture.
    Captured {
        /// The bin's store key.
        bin: u64,
        /// The capture's id.
        id: u64,
    },
    /// Captures removed (pruned or deleted); `None` means all of them.
    Removed {
        /// The bin's store key.
        bin: u64,
        /// The ids removed.
        ids: Option<Vec<u64>>,
    },
}

/// The running inspector, shared by its routes and background pruning.
pub(crate) struct Inspector {
    config: InspectorConfig,
    store: Store,
    // token -> bin. Read on every capture, written only when bins come and go.
    bins: RwLock<HashMap<String, Arc<Bin>>>,
    // Every change, for every bin, as ids: streams filter by bin. Lagging subscribers re-read
    // the store.
    changes: broadcast::Sender<Change>,
    // The receiver's one access gate (shared with `/admin`).
    gate: Arc<crate::access::Gate>,
    // "http" or "https", for the URLs the API hands out.
    scheme: &'static str,
    // The listener's address, for URLs when a request carries no Host.
    addr: SocketAddr,
    // How long a capture's body may take to arrive.
    body_timeout: Duration,
    // Replays never follow redirects: the answer shown is the target's own.
    client: reqwest::Client,
    // Set when the server shuts down: streams end, pruning stops.
    stopping: watch::Sender<bool>,
}

/// How many changes the live channel keeps for its slowest subscriber (ids: a few KiB in all);
/// one further behind catches up from the store.
const CHANGES: usize = 1024;

/// What `serve` keeps of the inspector: the routes to mount and a way to stop it.
pub(crate) struct Mounted {
    inspector: Arc<Inspector>,
    pruner: tokio::task::JoinHandle<()>,
}

impl Mounted {
    /// The inspector's routes: `/in`, `/api/bins`, `/ui` (and `/` redirecting to it unless an
    /// endpoint answers there).
    pub(crate) fn router(&self, root_is_free: bool) -> Router {
        router(Arc::clone(&self.inspector), root_is_free)
    }

    /// What ends live streams and pruning, so shutdown does not wait on open UIs.
    pub(crate) fn stopper(&self) -> impl FnOnce() + Send + 'static {
        let stopping = self.inspector.stopping.clone();
        move || {
            stopping.send_replace(true);
        }
    }

    /// Stops, and waits for pruning to finish its pass (so the store can close).
    pub(crate) async fn finish(self) {
        self.inspector.stopping.send_replace(true);
        let _ = self.pruner.await;
    }

    /// Where the UI is, for the log.
    pub(crate) fn ui_url(&self) -> String {
        let addr = self.inspector.addr;
        let host = if addr.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port()).to_string()
        } else {
            addr.to_string()
        };
        match &self.inspector.config.public_url {
            Some(url) => format!("{}/ui", url.trim_end_matches('/')),
            None => format!("{}://{host}/ui", self.inspector.scheme),
        }
    }

    /// Whether the UI and API ask for the admin token.
    pub(crate) fn needs_token(&self) -> bool {
        !self.inspector.gate.is_open()
    }
}

/// Opens the inspector's trees in `db` and starts pruning, if `[inspector]` is enabled.
pub(crate) fn mount(
    config: &Config,
    db: &sled::Db,
    addr: SocketAddr,
    tls: bool,
    gate: Arc<crate::access::Gate>,
) -> anyhow::Result<Option<Mounted>> {
    if !config.inspector.enabled {
        return Ok(None);
    }
    let store = Store::open(db)?;
    let bins = store.load_bins(&config.inspector)?;
    let client = replay::guard(
        reqwest::Client::builder()
            .user_agent(concat!("reference-receiver/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30)),
        config.inspector.allow_link_local,
    )
    .build()?;
    let (changes, _) = broadcast::channel(CHANGES);
    let (stopping, _) = watch::channel(false);
    let inspector = Arc::new(Inspector {
        config: config.inspector.clone(),
        store,
        bins: RwLock::new(bins),
        changes,
        gate,
        scheme: if tls { "https" } else { "http" },
        addr,
        body_timeout: Duration::from_secs(config.server.request_timeout_secs),
        client,
        stopping,
    });
    let pruner = tokio::spawn(store::prune_forever(Arc::clone(&inspector)));
    Ok(Some(Mounted { inspector, pruner }))
}

fn router(inspector: Arc<Inspector>, root_is_free: bool) -> Router {
    let guarded = Router::new()
        .route("/api/kinds", get(api::kinds))
        .route("/api/bins", post(api::create_bin).get(api::list_bins))
        .route(
            "/api/bins/{token}",
            get(api::get_bin)
                .patch(api::update_bin)
                .delete(api::delete_bin),
        )
        .route(
            "/api/bins/{token}/requests",
            get(api::list_requests).delete(api::clear_requests),
        )
        .route(
            "/api/bins/{token}/requests/{id}",
            get(api::get_request).delete(api::delete_request),
        )
        .route("/api/bins/{token}/requests/{id}/raw", get(api::raw_body))
        .route("/api/bins/{token}/requests/{id}/replay", post(api::replay))
        .route("/api/bins/{token}/stream", get(stream::stream))
        .route("/api/bins/{token}/har", get(har::export))
        .route("/ui", get(ui::index))
        .route("/ui/{file}", get(ui::asset))
        .route("/ui/logout", post(auth::sign_out))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&inspector),
            auth::require,
        ));
    let mut open = Router::new()
        .route("/ui/login", post(auth::sign_in))
        .route("/in/{token}", any(ingest::capture))
        .route("/in/{token}/{*rest}", any(ingest::capture));
    if root_is_free {
        open = open.route("/", get(ui::root));
    }
    guarded.merge(open).with_state(inspector)
}

impl Inspector {
    /// The bin a token names.
    fn bin(&self, token: &str) -> Option<Arc<Bin>> {
        self.bins
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    /// Every bin, newest first.
    fn all_bins(&self) -> Vec<Arc<Bin>> {
        let mut bins: Vec<Arc<Bin>> = self
            .bins
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        bins.sort_by_key(|bin| std::cmp::Reverse(bin.key));
        bins
    }

    /// Sends a change to live streams (none listening is fine).
    fn publish(&self, change: Change) {
        let _ = self.changes.send(change);
    }
}
