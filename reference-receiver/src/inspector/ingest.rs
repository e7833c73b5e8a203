//! `/in/{token}[/any/sub/path]`: read, judge, store, then answer as the bin says.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;

use super::bin::Settings;
use super::capture::{self, Meta};
use super::verdict;
use super::{Change, Inspector};

/// The header naming the capture an answer belongs to.
const CAPTURE_HEADER: HeaderName = HeaderName::from_static("x-inspector-capture");

/// Captures any request to a bin.
pub(crate) async fn capture(State(inspector): State<Arc<Inspector>>, request: Request) -> Response {
    // Absent when the router is called without a socket (tests).
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.to_string());
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let (token, rest) = split(&path);
    let Some(bin) = inspector.bin(token) else {
        return outcome(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no inspection bin `{token}`"),
        );
    };
    let settings = bin.settings();
    let (mut parts, body) = request.into_parts();
    // Judged, kept and answered without the inspector's own cookie: it is never the sender's.
    let headers = capture::captured_headers(&parts.headers);
    parts.headers = capture::header_map(&headers, &[]);
    let limit = inspector.config.max_body_bytes;
    let read = tokio::time::timeout(
        inspector.body_timeout,
        read_capped(&parts.headers, body, limit),
    );
    let (body, size, truncated) = match read.await {
        Ok(Ok(read)) => read,
        Ok(Err(e)) => {
            return outcome(
                StatusCode::BAD_REQUEST,
                "malformed",
                &format!("the body could not be read: {e}"),
            )
        }
        Err(_) => {
            return outcome(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "the request body did not arrive in time",
            )
        }
    };
    let received_at = Utc::now();
    // The URL the sender posted to, as the bin's URL is shown to users.
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!(
        "{}{path_and_query}",
        super::api::base_url(&inspector, &parts.headers)
    );
    let verdict::Assessed {
        verdicts,
        pending,
        handshake,
    } = verdict::assess(
        &settings,
        &parts.method,
        &url,
        &parts.headers,
        &body,
        truncated,
        SystemTime::from(received_at),
    );
    let status = match &handshake {
        Some(reply) => reply.status(),
        None => answer_status(&settings, &parts.method, &parts.headers, rest, truncated),
    };
    let mut meta = Meta {
        id: 0,
        bin: bin.token.clone(),
        method: parts.method.to_string(),
        path,
        query,
        headers,
        remote_addr: peer,
        received_at,
        size,
        truncated,
        answer_status: status.as_u16(),
        verdicts,
    };
    let trimmed = match inspector.store.record(
        &bin,
        &settings,
        &mut meta,
        &body,
        &pending,
        status.is_success(),
    ) {
        Ok(trimmed) => trimmed,
        Err(e) => {
            tracing::error!(bin = %bin.token, "cannot store a capture: {e:#}");
            return outcome(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the inspector's store failed; try again",
            );
        }
    };
    metrics::counter!("inspector_captures_total", "outcome" => meta.verdicts.outcome.clone())
        .increment(1);
    let id = meta.id;
    inspector.publish(Change::Captured { bin: bin.key, id });
    if !trimmed.is_empty() {
        inspector.publish(Change::Removed {
            bin: bin.key,
            ids: Some(trimmed),
        });
    }
    let delay = settings
        .response
        .delay_ms
        .min(inspector.config.max_delay_ms);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some(reply) = handshake {
        // A bin configured for a sender answers its handshake as the endpoint would: the
        // sender checks the answer itself, not only its status.
        let mut response = reply.into_response();
        response
            .headers_mut()
            .insert(CAPTURE_HEADER, HeaderValue::from(id));
        return response;
    }
    answer(&settings, &parts.method, &parts.headers, status, id, limit)
}

/// `/in/{token}/rest` -> (`token`, `/rest`).
fn split(path: &str) -> (&str, &str) {
    let after = path.strip_prefix("/in/").unwrap_or_default();
    match after.find('/') {
        Some(at) => (&after[..at], &after[at..]),
        None => (after, ""),
    }
}

/// Reads at most `limit` bytes; a larger body is not kept (size says how much was seen).
async fn read_capped(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
) -> Result<(Vec<u8>, u64, bool), axum::Error> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(declared) = declared.filter(|len| *len > limit as u64) {
        return Ok((Vec::new(), declared, true));
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if bytes.len() + data.len() > limit {
                return Ok((Vec::new(), (bytes.len() + data.len()) as u64, true));
            }
            bytes.extend_from_slice(&data);
        }
    }
    let size = bytes.len() as u64;
    Ok((bytes, size, false))
}

fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// HEAD is a probe (200), a CORS preflight 204, an oversized body 413; otherwise a
/// `/status/{code}` path, else the bin's status.
fn answer_status(
    settings: &Settings,
    method: &Method,
    headers: &HeaderMap,
    rest: &str,
    truncated: bool,
) -> StatusCode {
    if method == Method::HEAD {
        return StatusCode::OK;
    }
    if settings.response.cors && is_preflight(method, headers) {
        return StatusCode::NO_CONTENT;
    }
    if truncated {
        return StatusCode::PAYLOAD_TOO_LARGE;
    }
    status_override(rest)
        .or_else(|| StatusCode::from_u16(settings.response.status).ok())
        .unwrap_or(StatusCode::OK)
}

/// `/status/503[/...]` -> 503.
fn status_override(rest: &str) -> Option<StatusCode> {
    let code = rest.strip_prefix("/status/")?.split('/').next()?;
    let code: u16 = code.parse().ok()?;
    (200..=599)
        .contains(&code)
        .then(|| StatusCode::from_u16(code).ok())
        .flatten()
}

fn answer(
    settings: &Settings,
    method: &Method,
    request: &HeaderMap,
    status: StatusCode,
    id: u64,
    limit: usize,
) -> Response {
    let spec = &settings.response;
    let mut response = if method == Method::HEAD || status == StatusCode::NO_CONTENT {
        status.into_response()
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        outcome(
            status,
            "too_large",
            &format!(
                "body is larger than the inspector's limit of {limit} bytes; recorded without it"
            ),
        )
    } else {
        match &spec.body {
            Some(body) => {
                let content_type = spec
                    .content_type
                    .as_deref()
                    .unwrap_or("text/plain; charset=utf-8");
                let mut response = (status, body.clone()).into_response();
                if let Ok(value) = HeaderValue::try_from(content_type) {
                    response.headers_mut().insert(header::CONTENT_TYPE, value);
                }
                response
            }
            None => outcome(status, "captured", &format!("captured as request {id}")),
        }
    };
    let headers = response.headers_mut();
    for (name, value) in spec.header_pairs() {
        headers.append(name, value);
    }
    if spec.cors {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("*"),
        );
        if is_preflight(method, request) {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
            );
            if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
            }
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(600));
        }
    }
    headers.insert(CAPTURE_HEADER, HeaderValue::from(id));
    response
}

/// A JSON answer in the SDK's shape: `{"outcome": ..., "message": ...}`.
fn outcome(status: StatusCode, name: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"outcome": name, "message": message}).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn regression_a_stalled_subscriber_makes_the_live_channel_hold_ids_not_bodies() {
        use tower::ServiceExt as _;
        let dir = tempfile::tempdir().unwrap();
        let text = format!("[store]\npath = '{}'\n", dir.path().join("data").display());
        let config =
            crate::config::from_parts(Some(("test.toml", &text)), Vec::new(), |_| None).unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let gate = Arc::new(crate::access::Gate::new(None, addr, false, None));
        let mounted = super::super::mount(&config, &db, addr, false, gate)
            .unwrap()
            .unwrap();
        let inspector = Arc::clone(&mounted.inspector);
        // A subscriber that never reads.
        let mut stalled = inspector.changes.subscribe();
        let created = mounted
            .router(false)
            .oneshot(
                Request::post("/api/bins")
                    .header(header::HOST, "127.0.0.1:9")
                    .body(Body::from("{}"))
                    .unwrap(),
            )
            .await
            .unwrap();
        let created = created.into_body().collect().await.unwrap().to_bytes();
        let created: serde_json::Value = serde_json::from_slice(&created).unwrap();
        let token = created["token"].as_str().unwrap();
        for _ in 0..3 {
            let answer = mounted
                .router(false)
                .oneshot(
                    Request::post(format!("/in/{token}"))
                        .body(Body::from(vec![b'x'; 700_000]))
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
        }
        // What the channel keeps for the stalled subscriber: ids, a few bytes each, whatever
        // the bodies weigh (the pattern names every field a change has).
        assert!(std::mem::size_of::<Change>() <= 48);
        for _ in 0..3 {
            match stalled.try_recv().unwrap() {
                Change::Captured { bin: _, id } => assert!(id > 0),
                Change::Removed { bin: _, ids } => panic!("nothing was removed: {ids:?}"),
            }
        }
        mounted.finish().await;
    }

    #[test]
    fn the_path_splits_into_token_and_rest() {
        assert_eq!(split("/in/abc"), ("abc", ""));
        assert_eq!(split("/in/abc/x/y"), ("abc", "/x/y"));
    }

    #[test]
    fn a_status_path_overrides_only_with_a_real_status() {
        assert_eq!(
            status_override("/status/503"),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert_eq!(
            status_override("/status/201/more"),
            Some(StatusCode::CREATED)
        );
        assert_eq!(status_override("/status/99"), None);
        assert_eq!(status_override("/status/abc"), None);
        assert_eq!(status_override("/other"), None);
    }
}
