//! Receive GitHub webhooks.
//!
//! # The sender
//!
//! GitHub POSTs the event's JSON payload with the event name in `X-GitHub-Event`, a GUID per
//! delivery in `X-GitHub-Delivery` (redeliveries repeat it), and `X-Hub-Signature-256:
//! sha256=<hex>`, an HMAC-SHA256 of the raw body keyed with the webhook's secret. When a hook
//! is created it sends a `ping` event. It waits 10 seconds for an answer, then counts the
//! delivery as failed; it does not retry on its own (failed deliveries are redelivered from
//! the hook's settings or its API).
//!
//! # What this receiver does
//!
//! * Verifies `X-Hub-Signature-256` with `WEBHOOK_SECRET` (401 otherwise). Set the hook's
//!   content type to `application/json`: a form-encoded payload is refused with 415.
//! * Answers `ping` 200 `ignored`.
//! * Dedupes on `X-GitHub-Delivery`, so a redelivery of a handled event is 200 `duplicate`.
//! * Does not order: GitHub sends no event time in a form common to all events.
//! * Answers 202 `accepted` if handling outlasts 8 seconds, so GitHub never times out on us;
//!   the handling still finishes and is recorded.
//! * Prints one JSON line per handled event (no entity or time: GitHub has neither in its
//!   envelope).
//!
//! # Run it
//!
//! ```sh
//! WEBHOOK_SECRET='It is a secret to everybody' cargo run -p example-github
//! ```
//!
//! `BIND` (default `127.0.0.1:3000`) and `DATA_DIR` (the sled directory) apply. GitHub needs
//! a public URL: put a proxy or tunnel in front.
//!
//! # Try it with curl
//!
//! ```sh
//! body='{"action":"opened","issue":{"number":1},"repository":{"full_name":"octo/hello"}}'
//! sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac 'It is a secret to everybody' \
//!   | awk '{print $NF}')
//! curl -i http://127.0.0.1:3000/webhook -H 'content-type: application/json' \
//!   -H 'X-GitHub-Event: issues' -H 'X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958' \
//!   -H "X-Hub-Signature-256: sha256=$sig" -d "$body"
//! ```
//!
//! The first call answers 200 `handled` and prints this line (on one line); the same call
//! again answers 200 `duplicate` and prints nothing:
//!
//! ```json
//! {"created_at":null,"delivery":"72d3162e-cc78-11e3-81ab-4c9367dc0958","entity":null,
//!  "event":"issues"}
//! ```

use std::time::Duration;

use axum::Router;
use example_support::{print_events, webhook_router, EventSink, Settings, SetupError};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::store::SledStore;
use receiver_sdk::verify::Verifier;
use receiver_sdk::Receiver;

/// How long handling may take before the answer goes out without it: under GitHub's 10 s.
pub const DEADLINE: Duration = Duration::from_secs(8);

/// The app: GitHub's endpoint at `/webhook`.
pub fn app(settings: &Settings, sink: EventSink) -> Result<Router, SetupError> {
    let receiver = Receiver::builder("github")
        .verifier(Verifier::github([settings.require_secret()?])?)
        .envelope(Envelope::GitHub)
        .deadline(DEADLINE)
        .store(SledStore::open(&settings.data_dir)?)
        // Here a real integration would act on the event (label the issue, start a build).
        .handler(print_events(sink))
        .build()?;
    Ok(webhook_router(receiver))
}
