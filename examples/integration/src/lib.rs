//! The integration pattern: a source application notifies us that an entity changed; we fetch
//! it from the source's API, map it, and PATCH the matching record in a downstream system.
//!
//! # The sender
//!
//! The source (an identity service, a portal) POSTs only the keys of what changed:
//!
//! ```json
//! {"id": "IDNUMBER1234", "entityType": "USER", "eventType": "UPDATE",
//!  "timestamp": "2019-01-01T00:00:00Z"}
//! ```
//!
//! and expects 200 once the change is synchronised, or a 4xx with an error message that it
//! shows its users when synchronising failed.
//!
//! # What this receiver does
//!
//! 1. When `WEBHOOK_SECRET` is set, requires it as a static token:
//!    `Authorization: Bearer <WEBHOOK_SECRET>` (401 otherwise). Without it anyone who knows
//!    the URL can trigger a synchronisation (harmless, as only the source's data is copied,
//!    but wasteful).
//! 2. GETs `{SOURCE_API_URL}/{entityType}/{id}`, with `Authorization: Bearer
//!    <SOURCE_API_TOKEN>` when that is set.
//! 3. Maps the entity with [`map_entity`] and PATCHes the result to
//!    `{DOWNSTREAM_URL}/{entityType}/{id}`.
//! 4. Answers 200 and prints one JSON line.
//!
//! It orders per entity, across event types: whatever the event, the handler copies the
//! entity's *current* state, so once an event for an entity is handled, an older one for the
//! same entity has nothing newer to bring and is answered 200 `stale`. Retries of a handled
//! notification (same body) are answered 200 `duplicate`.
//!
//! When synchronising fails, the answer says why, in a message the source can display:
//!
//! | what happened | answer |
//! | --- | --- |
//! | the source API has no such entity (404) | 422 `USER 12 was not found at the source API` |
//! | the downstream system refuses the update (4xx) | 422 with the downstream's own message |
//! | either refuses our credentials (401, 403), or answers 3xx or non-JSON | 502 |
//! | either is unreachable, times out (10 s), is overloaded (429) or failing (5xx) | 503 |
//!
//! 422 rather than 400 or 404 keeps those two for what the receiver itself says: 400 is a
//! malformed notification, and a 404 would look like a wrong webhook URL. 5xx answers ask the
//! source to retry; the ordering mark does not move, so the retry is handled afresh.
//!
//! # Layout
//!
//! * `lib.rs`: the app, [`app`] (from the environment) and [`app_with`] (from a [`Config`]).
//! * `config`: [`Config`], the source API and downstream URLs and the source token.
//! * `sync`: one event's fetch, map and PATCH, and the mapping of failures to answers.
//!
//! # Run it
//!
//! Two stand-ins on loopback: a source API serving one user from files, and a downstream
//! that prints each PATCH and answers 204.
//!
//! ```sh
//! mkdir -p /tmp/source/USER
//! echo '{"id":"IDNUMBER1234","email":"ada@example.com"}' > /tmp/source/USER/IDNUMBER1234
//! python3 -m http.server 4001 --bind 127.0.0.1 --directory /tmp/source &
//! python3 -c '
//! import http.server as h
//! class Downstream(h.BaseHTTPRequestHandler):
//!     def do_PATCH(self):
//!         size = int(self.headers["content-length"])
//!         print("PATCH", self.path, self.rfile.read(size).decode(), flush=True)
//!         self.send_response(204)
//!         self.end_headers()
//! h.HTTPServer(("127.0.0.1", 4002), Downstream).serve_forever()' &
//! SOURCE_API_URL=http://127.0.0.1:4001 DOWNSTREAM_URL=http://127.0.0.1:4002 \
//!   WEBHOOK_SECRET=s3cr3t-token cargo run -p example-integration
//! ```
//!
//! `BIND` (default `127.0.0.1:3000`) and `DATA_DIR` (the sled directory) apply.
//!
//! # Try it with curl
//!
//! ```sh
//! curl -i http://127.0.0.1:3000/webhook -H 'Authorization: Bearer s3cr3t-token' \
//!   -H 'content-type: application/json' \
//!   -d '{"id":"IDNUMBER1234","entityType":"USER","eventType":"UPDATE",
//!        "timestamp":"2019-01-01T00:00:00Z"}'
//! ```
//!
//! answers 200 `handled`; the downstream prints its PATCH and the receiver its event line
//! (each on one line):
//!
//! ```text
//! PATCH /USER/IDNUMBER1234 {"attributes":{"email":"ada@example.com"},
//!   "externalId":"IDNUMBER1234"}
//! {"created_at":"2019-01-01T00:00:00+00:00","delivery":null,"entity":"IDNUMBER1234",
//!   "event":"UPDATE"}
//! ```
//!
//! With `"id":"IDNUMBER9999"` it answers 422 `USER IDNUMBER9999 was not found at the source
//! API`; with the downstream stopped, 503.

mod config;
mod sync;

use std::sync::Arc;

use axum::http::header::AUTHORIZATION;
use axum::Router;
use example_support::{event_line, webhook_router, EventSink, Settings, SetupError};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::ordering::OrderingScope;
use receiver_sdk::store::SledStore;
use receiver_sdk::verify::Verifier;
use receiver_sdk::{Delivery, Receiver};

pub use config::Config;
pub use sync::map_entity;

/// The app, with the source API and downstream URLs from the environment (see
/// [`Config::from_env`]).
pub fn app(settings: &Settings, sink: EventSink) -> Result<Router, SetupError> {
    app_with(Config::from_env()?, settings, sink)
}

/// The app, with the source API and downstream URLs given: the endpoint at `/webhook`.
pub fn app_with(
    config: Config,
    settings: &Settings,
    sink: EventSink,
) -> Result<Router, SetupError> {
    let verifier = match settings.secret.as_deref() {
        Some(token) => Verifier::token(AUTHORIZATION, [token])?,
        None => Verifier::none(),
    };
    let sync = Arc::new(sync::Sync::new(config)?);
    let receiver = Receiver::builder("integration")
        .verifier(verifier)
        .envelope(Envelope::Integration)
        // See the crate docs: every event copies the entity's current state.
        .ordering(OrderingScope::PerEntity)
        .store(SledStore::open(&settings.data_dir)?)
        .handler(move |delivery: Delivery| {
            let sync = Arc::clone(&sync);
            let sink = Arc::clone(&sink);
            async move {
                sync.run(&delivery.event).await?;
                sink(event_line(&delivery));
                Ok(())
            }
        })
        .build()?;
    Ok(webhook_router(receiver))
}
