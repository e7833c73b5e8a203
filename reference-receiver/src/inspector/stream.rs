//! `GET /api/bins/{token}/stream`: server-sent events, one per new capture.
//!
//! | event | id | data |
//! | --- | --- | --- |
//! | `ready` | — | `{"latest": <newest capture id or null>}`, first, once per connection |
//! | `capture` | the capture's id | the capture, as `GET .../requests/{id}` shows it (with `?body=false`: without `body_base64`, as listings show it) |
//! | `removed` | — | `{"ids": [...]}`, or `{"ids": null}` when all went (cleared, bin deleted) |
//!
//! `?after=ID` (or the `Last-Event-ID` header a browser's `EventSource` sends when it
//! reconnects) first replays every stored capture after that id, oldest first, then goes on
//! live: a client that resumes from the last id it handled misses nothing and sees nothing
//! twice. A stream that falls behind the live feed re-reads the store the same way.
//!
//! Memory: the live feed carries ids only, and a stream reads each capture it sends from the
//! store when it sends it, one at a time (live or catching up), so a client that stops
//! reading holds at most one capture on the server, however many arrive meanwhile.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use super::api::ApiError;
use super::capture::View;
use super::{Change, Inspector};

/// Where a stream starts, and what its events carry.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct StreamQuery {
    /// Replay stored captures after this id first.
    after: Option<u64>,
    /// Send each capture's body (the default); `false`: metadata only, the body to be fetched
    /// when wanted.
    body: Option<bool>,
}

struct Feed {
    inspector: Arc<Inspector>,
    bin: u64,
    // The newest capture id sent (or, when live-only, the newest stored at connect).
    last: u64,
    ready: Option<Event>,
    // Read the store after `last` before waiting on the live feed again: set when catching up,
    // when a capture is announced, and when the feed lagged.
    catching_up: bool,
    bodies: bool,
    changes: broadcast::Receiver<Change>,
    stopping: watch::Receiver<bool>,
}

/// The handler.
pub(crate) async fn stream(
    State(inspector): State<Arc<Inspector>>,
    Path(token): Path<String>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let bin = inspector
        .bin(&token)
        .ok_or_else(|| ApiError::new(http::StatusCode::NOT_FOUND, format!("no bin `{token}`")))?;
    let after = query.after.or_else(|| {
        headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    });
    // Subscribed before reading the newest id, so nothing falls between the two.
    let changes = inspector.changes.subscribe();
    let stopping = inspector.stopping.subscribe();
    let latest = inspector.store.latest(bin.key)?;
    let ready = Event::default()
        .event("ready")
        .data(json!({ "latest": latest }).to_string());
    let feed = Feed {
        inspector: Arc::clone(&inspector),
        bin: bin.key,
        last: after.or(latest).unwrap_or(0),
        ready: Some(ready),
        catching_up: after.is_some(),
        bodies: query.body.unwrap_or(true),
        changes,
        stopping,
    };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        feed.next().await.map(|event| (Ok(event), feed))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

impl Feed {
    async fn next(&mut self) -> Option<Event> {
        if *self.stopping.borrow() {
            return None;
        }
        if let Some(ready) = self.ready.take() {
            return Some(ready);
        }
        loop {
            if self.catching_up {
                match self.inspector.store.next_after(self.bin, self.last).ok()? {
                    Some(view) => {
                        self.last = view.meta.id;
                        return self.capture_event(&view);
                    }
                    None => self.catching_up = false,
                }
                continue;
            }
            tokio::select! {
                changed = self.stopping.changed() => {
                    if changed.is_err() || *self.stopping.borrow() {
                        return None;
                    }
                }
                change = self.changes.recv() => match change {
                    Ok(Change::Captured { bin, id }) if bin == self.bin && id > self.last => {
                        self.catching_up = true;
                    }
                    Ok(Change::Removed { bin, ids }) if bin == self.bin => {
                        let data = json!({ "ids": ids }).to_string();
                        return Some(Event::default().event("removed").data(data));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => self.catching_up = true,
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }

    /// The event for one capture, with or without its body as the stream was asked.
    fn capture_event(&self, view: &View) -> Option<Event> {
        let json = if self.bodies {
            serde_json::to_string(view)
        } else {
            serde_json::to_string(&view.meta)
        }
        .ok()?;
        Some(
            Event::default()
                .event("capture")
                .id(view.meta.id.to_string())
                .data(json),
        )
    }
}
