//! Receive a field-service platform's webhooks, authenticated with HTTP Basic.
//!
//! # The sender
//!
//! The platform sends job events (created, updated, assigned, image created, document
//! created, status changed), estimate events (created, updated) and signed-document events
//! to a configured https URL, with either no authentication or HTTP Basic. It expects any
//! 2xx; otherwise it retries after 5 minutes and again after 10, three tries in all, and logs
//! each attempt's status, headers and body in the webhook's Log History. It signs nothing.
//!
//! Its payloads are fixed by the platform and not documented publicly; this example assumes
//! an event id, an event name, the event time and the object the event is about:
//!
//! ```json
//! {"id": "evt_8d2f", "event": "job.status_changed", "created_at": "2024-05-01T12:00:00Z",
//!  "data": {"id": 1234, "status": "scheduled"}}
//! ```
//!
//! and reads it with a custom envelope ([`mapping`]):
//!
//! | field | from |
//! | --- | --- |
//! | event type | `/event` |
//! | entity id | `/data/id` |
//! | event time | `/created_at` |
//! | delivery id | `/id`, the event's id, which every retry repeats |
//!
//! Compare the pointers with a real payload in Log History and change [`mapping`] to match.
//!
//! # What this receiver does
//!
//! * Checks Basic credentials against `WEBHOOK_USER` and `WEBHOOK_PASSWORD` in constant time
//!   (401 with `WWW-Authenticate: Basic realm="webhooks"` otherwise).
//! * Dedupes on the event id, so the 5- and 10-minute retries of a handled event are answered
//!   200 `duplicate`.
//! * Does not order. Several of these events add something (an image, a document) rather
//!   than describe the job's state, so an older one arriving late is still news; dropping it
//!   as stale would lose it.
//! * Prints one JSON line per handled event.
//!
//! # Run it
//!
//! ```sh
//! WEBHOOK_USER=fieldservice WEBHOOK_PASSWORD='correct horse battery staple' \
//!   cargo run -p example-basic-auth
//! ```
//!
//! `BIND` (default `127.0.0.1:3000`) and `DATA_DIR` (the sled directory) apply. The platform
//! sends only to https URLs, and Basic credentials must only travel over TLS: put a
//! TLS-terminating proxy or tunnel in front.
//!
//! # Try it with curl
//!
//! ```sh
//! curl -i http://127.0.0.1:3000/webhook -u 'fieldservice:correct horse battery staple' \
//!   -H 'content-type: application/json' \
//!   -d '{"id":"evt_8d2f","event":"job.status_changed","created_at":"2024-05-01T12:00:00Z",
//!        "data":{"id":1234,"status":"scheduled"}}'
//! ```
//!
//! The first call answers 200 `handled` and prints this line (on one line); the same call
//! again answers 200 `duplicate` and prints nothing:
//!
//! ```json
//! {"created_at":"2024-05-01T12:00:00+00:00","delivery":"evt_8d2f","entity":"1234",
//!  "event":"job.status_changed"}
//! ```

use axum::Router;
use example_support::{print_events, webhook_router, EventSink, Settings, SetupError};
use receiver_sdk::envelope::{Envelope, Field, FieldError, Mapping};
use receiver_sdk::store::SledStore;
use receiver_sdk::verify::Verifier;
use receiver_sdk::Receiver;

/// The realm sent in `WWW-Authenticate`.
pub const REALM: &str = "webhooks";

/// Where the envelope fields are in the platform's payloads (see the crate docs).
pub fn mapping() -> Result<Mapping, FieldError> {
    Ok(Mapping::new(Field::pointer("/event")?)
        .entity_id(Field::pointer("/data/id")?)
        .created_at(Field::pointer("/created_at")?)
        .delivery_id(Field::pointer("/id")?))
}

/// The app: the platform's endpoint at `/webhook`.
pub fn app(settings: &Settings, sink: EventSink) -> Result<Router, SetupError> {
    let receiver = Receiver::builder("basic-auth")
        .verifier(Verifier::basic(REALM, [settings.require_basic()?])?)
        // Ordering is off for custom envelopes unless asked for; see the crate docs for why
        // it stays off here.
        .envelope(Envelope::Custom(mapping()?))
        .store(SledStore::open(&settings.data_dir)?)
        // Here a real integration would update the job or estimate in its own system.
        .handler(print_events(sink))
        .build()?;
    Ok(webhook_router(receiver))
}
