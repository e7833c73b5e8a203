//! The JSON API at `/api/bins`.
//!
//! | route | answer |
//! | --- | --- |
//! | `POST /api/bins` (optional JSON settings, `alias`) | 201 `{"token", "url", ...}` |
//! | `GET /api/bins` | `{"bins": [...]}` |
//! | `GET`, `PATCH`, `DELETE /api/bins/{token}` | the bin; PATCH replaces the top-level keys given |
//! | `GET /api/bins/{token}/requests` | newest first, without bodies: `{"requests": [...], "next_before"}` |
//! | `DELETE /api/bins/{token}/requests` | 204; also forgets the would-be marks and ids |
//! | `GET`, `DELETE /api/bins/{token}/requests/{id}` | one capture |
//! | `GET /api/bins/{token}/requests/{id}/raw` | the body's exact bytes |
//! | `POST /api/bins/{token}/requests/{id}/replay` `{"url"}` | the target's status, headers, body |
//! | `GET /api/bins/{token}/stream` | server-sent events (see `stream`) |
//! | `GET /api/bins/{token}/har` | HAR 1.2 (see `har`) |

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use http::{header, HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::bin::{self, Bin, Settings};
use super::capture::{Meta, View};
use super::store;
use super::{replay, Change, Inspector};

/// The most captures one page holds (and [`store::PAGE_BYTES`] the most bytes).
const MAX_PAGE: usize = 500;

/// A refusal: a status and a message, as `{"error": message}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn no_bin(token: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("no bin `{token}`"))
    }

    fn no_capture(id: u64) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("no request {id} in this bin"),
        )
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        tracing::error!("inspector store: {e:#}");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the inspector's store failed",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The base URL bins are reached at: `public_url`, or the scheme and `Host` of the request.
pub(crate) fn base_url(inspector: &Inspector, headers: &HeaderMap) -> String {
    if let Some(url) = &inspector.config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| inspector.addr.to_string());
    format!("{}://{host}", inspector.scheme)
}

fn bin_json(inspector: &Inspector, bin: &Bin, headers: &HeaderMap) -> Value {
    let settings = bin.settings();
    json!({
        "token": bin.token,
        "url": format!("{}/in/{}", base_url(inspector, headers), bin.token),
        "alias": bin.alias,
        "created_at": bin.created_at,
        "requests": bin.count(),
        "settings": settings.view(),
    })
}

fn find(inspector: &Inspector, token: &str) -> ApiResult<Arc<Bin>> {
    inspector.bin(token).ok_or_else(|| ApiError::no_bin(token))
}

/// An optional JSON body: empty means `{}`.
fn json_body(body: &[u8]) -> ApiResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))
}

/// `POST /api/bins`.
pub(crate) async fn create_bin(
    State(inspector): State<Arc<Inspector>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let spec = json_body(&body)?;
    let alias = bin::requested_alias(&spec).map_err(ApiError::bad_request)?;
    let settings = Settings::from_json(spec, &inspector.config).map_err(ApiError::bad_request)?;
    let bin = {
        let mut bins = inspector.bins.write().unwrap_or_else(|e| e.into_inner());
        if bins.len() >= inspector.config.max_bins {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "there are already {} bins (inspector.max_bins); delete one first",
                    bins.len()
                ),
            ));
        }
        let token = match &alias {
            Some(alias) => {
                if bins.contains_key(alias) || inspector.store.has_bin(alias)? {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!("a bin `{alias}` already exists"),
                    ));
                }
                alias.clone()
            }
            None => {
                bin::new_token().map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?
            }
        };
        let bin = Bin::new(
            inspector.store.new_id()?,
            token.clone(),
            alias.is_some(),
            Utc::now(),
            settings,
            0,
        );
        inspector.store.save_bin(&bin, &bin.settings())?;
        let bin = Arc::new(bin);
        bins.insert(token, Arc::clone(&bin));
        bin
    };
    tracing::info!(bin = %bin.token, "inspection bin created");
    Ok((
        StatusCode::CREATED,
        Json(bin_json(&inspector, &bin, &headers)),
    )
        .into_response())
}

/// `GET /api/kinds`: the verify kinds and envelopes a bin (or endpoint) takes, by name.
pub(crate) async fn kinds() -> Json<Value> {
    Json(json!({
        "verify": crate::config::verify_kinds(),
        "envelope": crate::config::envelope_kinds(),
    }))
}

/// `GET /api/bins`.
pub(crate) async fn list_bins(
    State(inspector): State<Arc<Inspector>>,
    headers: HeaderMap,
) -> Json<Value> {
    let bins: Vec<Value> = inspector
        .all_bins()
        .iter()
        .map(|bin| bin_json(&inspector, bin, &headers))
        .collect();
    Json(json!({ "bins": bins }))
}

/// `GET /api/bins/{token}`.
pub(crate) async fn get_bin(
    State(inspector): State<Arc<Inspector>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let bin = find(&inspector, &token)?;
    Ok(Json(bin_json(&inspector, &bin, &headers)))
}

/// `PATCH /api/bins/{token}`: the keys given replace the bin's.
pub(crate) async fn update_bin(
    State(inspector): State<Arc<Inspector>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let bin = find(&inspector, &token)?;
    let change = json_body(&body)?;
    if change.get("alias").is_some() {
        return Err(ApiError::bad_request("a bin's alias cannot change"));
    }
    let merged = bin::merge(&bin.settings().json, change).map_err(ApiError::bad_request)?;
    let settings = Settings::from_json(merged, &inspector.config).map_err(ApiError::bad_request)?;
    inspector.store.save_bin(&bin, &settings)?;
    bin.set_settings(settings);
    Ok(Json(bin_json(&inspector, &bin, &headers)))
}

/// `DELETE /api/bins/{token}`: the bin goes at once, its captures in the background.
pub(crate) async fn delete_bin(
    State(inspector): State<Arc<Inspector>>,
    Path(token): Path<String>,
) -> ApiResult<StatusCode> {
    let bin = {
        let mut bins = inspector.bins.write().unwrap_or_else(|e| e.into_inner());
        let bin = bins
            .remove(&token)
            .ok_or_else(|| ApiError::no_bin(&token))?;
        inspector.store.remove_bin(&token)?;
        bin
    };
    inspector.publish(Change::Removed {
        bin: bin.key,
        ids: None,
    });
    let purging = Arc::clone(&inspector);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = purging.store.purge(bin.key) {
            tracing::warn!(bin = %bin.token, "removing a deleted bin's captures failed (retried at the next start): {e:#}");
        }
    });
    tracing::info!(bin = %token, "inspection bin deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Filters of a listing.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    /// Page size (default 50, at most 500).
    limit: Option<usize>,
    /// Only captures older than this id (the previous page's `next_before`).
    before: Option<u64>,
    /// Only this method.
    method: Option<String>,
    /// Only this event type.
    event_type: Option<String>,
    /// Only this entity id.
    entity: Option<String>,
    /// Only this would-be outcome (`handled`, `unauthorized`, `stale`, ...).
    outcome: Option<String>,
    /// Only captures whose path, query, headers or text body contain this.
    q: Option<String>,
}

impl ListQuery {
    fn keeps(&self, meta: &Meta, body: &[u8]) -> bool {
        let same = |wanted: &Option<String>, actual: Option<&str>| {
            wanted
                .as_deref()
                .filter(|w| !w.is_empty())
                .is_none_or(|w| actual.is_some_and(|a| a.eq_ignore_ascii_case(w)))
        };
        let event = meta.verdicts.event.as_ref();
        same(&self.method, Some(&meta.method))
            && same(&self.event_type, event.map(|e| e.event_type.as_str()))
            && same(&self.entity, event.and_then(|e| e.entity_id.as_deref()))
            && same(&self.outcome, Some(&meta.verdicts.outcome))
            && self
                .q
                .as_deref()
                .filter(|q| !q.is_empty())
                .is_none_or(|q| contains(meta, body, q))
    }
}

fn contains(meta: &Meta, body: &[u8], needle: &str) -> bool {
    let needle = needle.to_lowercase();
    let found = |text: &str| text.to_lowercase().contains(&needle);
    found(&meta.path)
        || found(&meta.query)
        || meta
            .headers
            .iter()
            .any(|h| found(&h.name) || found(&h.value))
        || std::str::from_utf8(body).is_ok_and(found)
}

/// `GET /api/bins/{token}/requests`: metadata only (a body is in `GET .../requests/{id}` and
/// `.../raw`), at most `limit` captures and about [`store::PAGE_BYTES`] per page.
pub(crate) async fn list_requests(
    State(inspector): State<Arc<Inspector>>,
    Path(token): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let bin = find(&inspector, &token)?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let (found, next) = inspector.store.list(
        bin.key,
        query.before,
        limit,
        store::PAGE_BYTES,
        |meta, body| query.keeps(meta, body),
    )?;
    Ok(Json(json!({ "requests": found, "next_before": next })))
}

/// `DELETE /api/bins/{token}/requests`.
pub(crate) async fn clear_requests(
    State(inspector): State<Arc<Inspector>>,
    Path(token): Path<String>,
) -> ApiResult<StatusCode> {
    let bin = find(&inspector, &token)?;
    inspector.store.clear(&bin)?;
    inspector.publish(Change::Removed {
        bin: bin.key,
        ids: None,
    });
    Ok(StatusCode::NO_CONTENT)
}

fn capture(inspector: &Inspector, token: &str, id: u64) -> ApiResult<(Arc<Bin>, View)> {
    let bin = find(inspector, token)?;
    let view = inspector
        .store
        .get(bin.key, id)?
        .ok_or_else(|| ApiError::no_capture(id))?;
    Ok((bin, view))
}

/// `GET /api/bins/{token}/requests/{id}`.
pub(crate) async fn get_request(
    State(inspector): State<Arc<Inspector>>,
    Path((token, id)): Path<(String, u64)>,
) -> ApiResult<Json<View>> {
    Ok(Json(capture(&inspector, &token, id)?.1))
}

/// `DELETE /api/bins/{token}/requests/{id}`.
pub(crate) async fn delete_request(
    State(inspector): State<Arc<Inspector>>,
    Path((token, id)): Path<(String, u64)>,
) -> ApiResult<StatusCode> {
    let bin = find(&inspector, &token)?;
    if !inspector.store.remove(&bin, id)? {
        return Err(ApiError::no_capture(id));
    }
    inspector.publish(Change::Removed {
        bin: bin.key,
        ids: Some(vec![id]),
    });
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/bins/{token}/requests/{id}/raw`: the exact bytes, as a download, so a captured
/// HTML or script body is never run under the inspector's origin.
pub(crate) async fn raw_body(
    State(inspector): State<Arc<Inspector>>,
    Path((token, id)): Path<(String, u64)>,
) -> ApiResult<Response> {
    let (_, view) = capture(&inspector, &token, id)?;
    let body = view
        .body()
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "stored body unreadable"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"request-{id}.bin\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// The body of a replay request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayTo {
    /// Where to send the capture.
    url: String,
}

/// `POST /api/bins/{token}/requests/{id}/replay`: sends the capture to `url` (method, headers
/// and exact body) and answers with what the target answered.
pub(crate) async fn replay(
    State(inspector): State<Arc<Inspector>>,
    Path((token, id)): Path<(String, u64)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let target: ReplayTo = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("expected {{\"url\": ...}}: {e}")))?;
    let (_, view) = capture(&inspector, &token, id)?;
    let answer = replay::send(
        &inspector.client,
        &view,
        &target.url,
        inspector.config.max_body_bytes,
        inspector.config.allow_link_local,
    )
    .await
    .map_err(|refusal| {
        let status = match refusal {
            replay::Refusal::Target(_) => StatusCode::FORBIDDEN,
            replay::Refusal::Capture(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_GATEWAY,
        };
        ApiError::new(status, refusal.message())
    })?;
    Ok(Json(serde_json::to_value(answer).unwrap_or_default()))
}
