//! The admin API under `/admin`: the relay outboxes of `queued` endpoints, for people and for
//! the `reference-receiver outbox` commands ([`cli`]).
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /admin/outbox` | [`Overview`]: per endpoint pending, in flight, dead, delivered, oldest pending age |
//! | `GET /admin/outbox/{endpoint}/events?state=pending\|dead\|delivered&limit=N` | [`EventList`] with every attempt |
//! | `GET /admin/outbox/{endpoint}/events/{id}` | one [`EventView`] |
//! | `POST /admin/outbox/{endpoint}/dead/{id}/retry` | the event, pending again |
//! | `POST /admin/outbox/{endpoint}/dead/retry` | [`Count`] of dead letters sent back |
//! | `DELETE /admin/outbox/{endpoint}/dead` | [`Count`] of dead letters purged |
//! | `DELETE /admin/outbox/{endpoint}/delivered` | [`Count`] of delivered events purged |
//!
//! Every answer is JSON; every error is `{"error": "..."}` with its status (401 without or
//! with a wrong token, 404 for an unknown endpoint, event or route).
//!
//! Access: the receiver's one gate (module `access`): `Authorization: Bearer <[admin] token>`,
//! compared in constant time (the inspector's session cookie does not open `/admin`). Without a
//! configured token the API answers only when the receiver listens on a loopback address and
//! the request names a loopback host (config validation refuses a non-loopback bind without a
//! token, but `--bind` can still ask for one, so the listener's real address decides). Requests
//! from another site are refused in every mode.

pub mod cli;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::request::Parts;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::access::{Credentials, Gate};
use crate::outbox::{EventState, EventView, Outbox, OutboxError, OutboxStats, Revival, Shelf};

/// Events listed when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 100;
/// The most events one listing returns.
pub const MAX_LIMIT: usize = 1_000;

/// `GET /admin/outbox`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// One entry per queued endpoint, in name order.
    pub outboxes: Vec<OutboxStats>,
}

/// `GET /admin/outbox/{endpoint}/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventList {
    /// The endpoint.
    pub endpoint: String,
    /// Which events: pending (in flight included), dead or delivered.
    pub state: Shelf,
    /// The events: pending and dead oldest first, delivered newest first.
    pub events: Vec<EventView>,
}

/// What a bulk retry or a purge did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// The endpoint.
    pub endpoint: String,
    /// Dead letters sent back (bulk retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried: Option<usize>,
    /// Events removed (purges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged: Option<usize>,
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
}

/// Why an admin request was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The endpoint has no outbox (404).
    #[error("no outbox `{0}`: only endpoints with relay.mode = \"queued\" have one")]
    NoOutbox(String),
    /// No event with this id in the outbox (404).
    #[error("no event `{0}` in this outbox")]
    NoEvent(String),
    /// The event exists but is not a dead letter (409).
    #[error("event {id} is {state:?}, not a dead letter")]
    NotDead {
        /// The event.
        id: u64,
        /// Where it stands.
        state: EventState,
    },
    /// A malformed path or query (400).
    #[error("{0}")]
    BadRequest(String),
    /// No admin route here (404).
    #[error("no such admin route")]
    NoRoute,
    /// The route does not take this method (405).
    #[error("method not allowed on this admin route")]
    MethodNotAllowed,
    /// The store failed (500).
    #[error(transparent)]
    Store(#[from] OutboxError),
}

impl AdminError {
    /// The status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoOutbox(_) | Self::NoEvent(_) | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::NotDead { .. } => StatusCode::CONFLICT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = Json(ErrorBody {
            error: self.to_string(),
        });
        (self.status(), body).into_response()
    }
}

async fn authorize(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    match gate.check(&request, Credentials::Bearer) {
        Ok(_) => next.run(request).await,
        Err(refusal) => {
            tracing::warn!(
                method = %request.method(),
                path = %request.uri().path(),
                reason = %refusal,
                "admin request refused"
            );
            refusal.into_response()
        }
    }
}

/// A path or query extractor whose rejection is an [`AdminError`] (a JSON 400).
struct Valid<X>(X);

impl<S, X> FromRequestParts<S> for Valid<X>
where
    S: Send + Sync,
    X: FromRequestParts<S>,
    X::Rejection: std::fmt::Display,
{
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AdminError> {
        X::from_request_parts(parts, state)
            .await
            .map(Valid)
            .map_err(|e| AdminError::BadRequest(e.to_string()))
    }
}

#[derive(Clone)]
struct Outboxes(Arc<BTreeMap<String, Arc<Outbox>>>);

impl Outboxes {
    fn get(&self, endpoint: &str) -> Result<Arc<Outbox>, AdminError> {
        self.0
            .get(endpoint)
            .cloned()
            .ok_or_else(|| AdminError::NoOutbox(endpoint.to_owned()))
    }
}

fn parse_id(id: &str) -> Result<u64, AdminError> {
    id.parse().map_err(|_| AdminError::NoEvent(id.to_owned()))
}

/// The admin API over `outboxes`, behind the receiver's access gate (bearer token only).
pub(crate) fn router(outboxes: &[Arc<Outbox>], gate: Arc<Gate>) -> Router {
    let outboxes = Outboxes(Arc::new(
        outboxes
            .iter()
            .map(|outbox| (outbox.endpoint().to_owned(), Arc::clone(outbox)))
            .collect(),
    ));
    Router::new()
        .route("/outbox", get(overview))
        .route("/outbox/{endpoint}/events", get(events))
        .route("/outbox/{endpoint}/events/{id}", get(event))
        .route("/outbox/{endpoint}/dead/retry", post(retry_all))
        .route("/outbox/{endpoint}/dead/{id}/retry", post(retry_one))
        .route("/outbox/{endpoint}/dead", axum::routing::delete(purge_dead))
        .route(
            "/outbox/{endpoint}/delivered",
            axum::routing::delete(purge_delivered),
        )
        .fallback(|| async { AdminError::NoRoute })
        .method_not_allowed_fallback(|| async { AdminError::MethodNotAllowed })
        .with_state(outboxes)
        .layer(middleware::from_fn_with_state(gate, authorize))
}

async fn overview(State(outboxes): State<Outboxes>) -> Result<Json<Overview>, AdminError> {
    let mut stats = Vec::new();
    for outbox in outboxes.0.values() {
        stats.push(outbox.stats().await.map_err(AdminError::Store)?);
    }
    Ok(Json(Overview { outboxes: stats }))
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    state: Option<String>,
    limit: Option<usize>,
}

async fn events(
    State(outboxes): State<Outboxes>,
    Valid(Path(endpoint)): Valid<Path<String>>,
    Valid(Query(query)): Valid<Query<EventsQuery>>,
) -> Result<Json<EventList>, AdminError> {
    let outbox = outboxes.get(&endpoint)?;
    let state: Shelf = query
        .state
        .as_deref()
        .unwrap_or("pending")
        .parse()
        .map_err(AdminError::BadRequest)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let events = outbox
        .events(state, limit)
        .await
        .map_err(AdminError::Store)?;
    Ok(Json(EventList {
        endpoint,
        state,
        events,
    }))
}

async fn event(
    State(outboxes): State<Outboxes>,
    Valid(Path((endpoint, id))): Valid<Path<(String, String)>>,
) -> Result<Json<EventView>, AdminError> {
    let outbox = outboxes.get(&endpoint)?;
    let id = parse_id(&id)?;
    outbox
        .event(id)
        .await
        .map_err(AdminError::Store)?
        .map(Json)
        .ok_or_else(|| AdminError::NoEvent(id.to_string()))
}

async fn retry_one(
    State(outboxes): State<Outboxes>,
    Valid(Path((endpoint, id))): Valid<Path<(String, String)>>,
) -> Result<Json<EventView>, AdminError> {
    let outbox = outboxes.get(&endpoint)?;
    let id = parse_id(&id)?;
    match outbox.retry_dead(id).await.map_err(AdminError::Store)? {
        Revival::Retried(view) => Ok(Json(*view)),
        Revival::NotDead(state) => Err(AdminError::NotDead { id, state }),
        Revival::Unknown => Err(AdminError::NoEvent(id.to_string())),
    }
}

async fn retry_all(
    State(outboxes): State<Outboxes>,
    Valid(Path(endpoint)): Valid<Path<String>>,
) -> Result<Json<Count>, AdminError> {
    let outbox = outboxes.get(&endpoint)?;
    let retried = outbox.retry_all_dead().await.map_err(AdminError::Store)?;
    Ok(Json(Count {
        endpoint,
        retried: Some(retried),
        purged: None,
    }))
}

async fn purge_dead(
    State(outboxes): State<Outboxes>,
    Valid(Path(endpoint)): Valid<Path<String>>,
) -> Result<Json<Count>, AdminError> {
    purge(outboxes, endpoint, Shelf::Dead).await
}

async fn purge_delivered(
    State(outboxes): State<Outboxes>,
    Valid(Path(endpoint)): Valid<Path<String>>,
) -> Result<Json<Count>, AdminError> {
    purge(outboxes, endpoint, Shelf::Delivered).await
}

async fn purge(
    outboxes: Outboxes,
    endpoint: String,
    shelf: Shelf,
) -> Result<Json<Count>, AdminError> {
    let outbox = outboxes.get(&endpoint)?;
    let (purged, what) = match shelf {
        Shelf::Dead => (outbox.purge_dead().await, "dead letters"),
        _ => (outbox.purge_delivered().await, "delivered history"),
    };
    let purged = purged.map_err(AdminError::Store)?;
    tracing::info!(endpoint, purged, what, "outbox purged");
    Ok(Json(Count {
        endpoint,
        retried: None,
        purged: Some(purged),
    }))
}
