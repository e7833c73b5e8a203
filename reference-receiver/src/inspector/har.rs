//! `GET /api/bins/{token}/har[?id=ID]`: captures as HAR 1.2, for browsers' dev tools and
//! HTTP clients that import HAR.
//!
//! A body that is not UTF-8 goes in `postData.text` as base64 with `"encoding": "base64"` (the
//! field HAR defines for response content; importers that know it restore the exact bytes).
//! Each entry's `response` is the answer the bin sent; `_verdicts` carries the verdicts.
//!
//! The export is streamed, newest capture first, one capture read from the store and written
//! out at a time: a bin of 500 captures of 1 MiB costs the server about one capture's worth of
//! memory, not the whole file. Captured fields go in as JSON strings (data, never markup or
//! commands); the file name is the bin's token (letters, digits, `-`, `_`) and an id.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use http::{header, HeaderMap};
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{base_url, ApiError};
use super::capture::View;
use super::Inspector;

/// Which captures.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct HarQuery {
    /// Only this capture; unset: all the bin holds.
    id: Option<u64>,
}

/// Where a streamed export is.
struct Export {
    inspector: Arc<Inspector>,
    bin: u64,
    base: String,
    // Only this capture.
    only: Option<u64>,
    // The next capture is older than this id; `None` before the first.
    before: Option<u64>,
    // Entries still allowed (the bin's `max_captures`).
    left: usize,
    written: usize,
    done: bool,
}

impl Export {
    /// The next piece of the file: an entry (with its separator), or the closing brackets.
    fn next_chunk(&mut self) -> Result<Option<Bytes>, std::io::Error> {
        if self.done {
            return Ok(None);
        }
        let view = if self.left == 0 {
            None
        } else if let Some(id) = self.only {
            // One entry at most.
            self.left = 1;
            self.inspector.store.get(self.bin, id).map_err(io)?
        } else {
            self.inspector
                .store
                .next_before(self.bin, self.before)
                .map_err(io)?
        };
        let Some(view) = view else {
            self.done = true;
            return Ok(Some(Bytes::from_static(b"]}}")));
        };
        self.left -= 1;
        self.before = Some(view.meta.id);
        let mut chunk = if self.written == 0 {
            Vec::new()
        } else {
            b",".to_vec()
        };
        serde_json::to_writer(&mut chunk, &entry(&self.base, &view)).map_err(io)?;
        self.written += 1;
        Ok(Some(chunk.into()))
    }
}

fn io(e: impl std::fmt::Display) -> std::io::Error {
    tracing::error!("inspector HAR export: {e:#}");
    std::io::Error::other("the inspector's store failed")
}

/// The handler.
pub(crate) async fn export(
    State(inspector): State<Arc<Inspector>>,
    Path(token): Path<String>,
    Query(query): Query<HarQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let bin = inspector
        .bin(&token)
        .ok_or_else(|| ApiError::new(http::StatusCode::NOT_FOUND, format!("no bin `{token}`")))?;
    let head = json!({"name": "reference-receiver", "version": env!("CARGO_PKG_VERSION")});
    let head = format!(r#"{{"log":{{"version":"1.2","creator":{head},"entries":["#);
    let export = Export {
        base: base_url(&inspector, &headers),
        bin: bin.key,
        only: query.id,
        before: None,
        left: bin.settings().max_captures,
        written: 0,
        done: false,
        inspector,
    };
    let entries = futures_util::stream::unfold(export, |mut export| async move {
        match export.next_chunk() {
            Ok(Some(chunk)) => Some((Ok(chunk), export)),
            Ok(None) => None,
            Err(e) => {
                // Ends the body short: a client sees a broken file, never a partial one that
                // looks whole.
                export.done = true;
                Some((Err(e), export))
            }
        }
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(Bytes::from(head)) }),
        entries,
    );
    let name = match query.id {
        Some(id) => format!("{token}-{id}.har"),
        None => format!("{token}.har"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

fn entry(base: &str, capture: &View) -> Value {
    let meta = &capture.meta;
    let url = if meta.query.is_empty() {
        format!("{base}{}", meta.path)
    } else {
        format!("{base}{}?{}", meta.path, meta.query)
    };
    let headers: Vec<Value> = meta
        .headers
        .iter()
        .map(|h| json!({"name": h.name, "value": h.value}))
        .collect();
    let query: Vec<Value> = pairs(&meta.query)
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let body = capture.body().unwrap_or_default();
    let mut request = json!({
        "method": meta.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": headers,
        "queryString": query,
        "headersSize": -1,
        "bodySize": meta.size,
    });
    if !body.is_empty() {
        let mime = meta
            .header("content-type")
            .unwrap_or("application/octet-stream");
        request["postData"] = match std::str::from_utf8(&body) {
            Ok(text) => json!({"mimeType": mime, "text": text}),
            Err(_) => json!({
                "mimeType": mime,
                "text": base64::engine::general_purpose::STANDARD.encode(&body),
                "encoding": "base64",
            }),
        };
    }
    json!({
        "startedDateTime": meta.received_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "time": 0,
        "request": request,
        "response": {
            "status": meta.answer_status,
            "statusText": http::StatusCode::from_u16(meta.answer_status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or(""),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [],
            "content": {"size": -1, "mimeType": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": 0, "receive": 0},
        "_id": meta.id,
        "_verdicts": meta.verdicts,
    })
}

/// `a=1&b=x%20y` -> (`a`, `1`), (`b`, `x y`).
pub(crate) fn pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query.split('&').filter(|p| !p.is_empty()).map(move |pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(name), decode(value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_become_decoded_pairs() {
        let got: Vec<_> = pairs("a=1&b=x%20y+z&flag").collect();
        assert_eq!(
            got,
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y z".to_owned()),
                ("flag".to_owned(), String::new())
            ]
        );
    }
}
