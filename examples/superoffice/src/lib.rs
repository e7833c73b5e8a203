//! Receive SuperOffice webhooks.
//!
//! # The sender
//!
//! SuperOffice (NetServer) POSTs one JSON object per event to the webhook's `TargetUrl`:
//!
//! ```json
//! {"EventId": "9a5c2f6e-0d1b-4f0e-9a51-3c1d2b7e8f10", "Timestamp": "2024-05-01T12:00:00Z",
//!  "Event": "contact.changed", "Entity": "contact", "PrimaryKey": 42,
//!  "ContextIdentifier": "Cust12345", "Changes": ["name"], "ChangedByAssociateId": 5}
//! ```
//!
//! and signs it with an HMAC-SHA256 of the raw body keyed with the webhook's `Secret`, sent
//! as base64 in `X-SuperOffice-Signature`. Before it saves a webhook it POSTs a test delivery
//! (`X-Hook-Test: true`, `"Event": "test"`) and refuses to save unless that is answered 200;
//! the receiver answers it 200 `ignored`. The test is expected to be signed with the secret
//! being saved, like every other delivery; should it arrive unsigned, it is still answered 200
//! (`acknowledge_unsigned_tests`), since a test never reaches the handler or the store.
//!
//! # What this receiver does
//!
//! * Verifies `X-SuperOffice-Signature` with `WEBHOOK_SECRET` (401 otherwise).
//! * Handles `contact.created`, `contact.changed` and `contact.deleted` ([`EVENTS`]); anything
//!   else the webhook is subscribed to (the `webhookNNN.started/stopped/errors` state events,
//!   other entities) is answered 200 `ignored`.
//! * Orders per entity, across event types: one mark per `Entity` and `PrimaryKey`. These
//!   three events are the life of one record, so a `contact.changed` stamped before a
//!   `contact.deleted` that reaches us after it describes a contact that no longer exists;
//!   applying it would resurrect or rewrite a deleted record. Per event type (Sonar's advice)
//!   would let exactly that through. Older events are answered 200 `stale` and not handled.
//! * Dedupes retries on `EventId`, and prints one JSON line per handled event.
//!
//! # Run it
//!
//! ```sh
//! WEBHOOK_SECRET='Something Super Secret' cargo run -p example-superoffice
//! ```
//!
//! `BIND` (default `127.0.0.1:3000`) and `DATA_DIR` (the sled directory) apply. SuperOffice
//! needs a public https URL: put a TLS-terminating proxy or tunnel in front.
//!
//! # Try it with curl
//!
//! ```sh
//! body='{"EventId":"9a5c2f6e","Timestamp":"2024-05-01T12:00:00Z",'\
//! '"Event":"contact.changed","Entity":"contact","PrimaryKey":42}'
//! sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac 'Something Super Secret' -binary \
//!   | base64)
//! curl -i http://127.0.0.1:3000/webhook -H 'content-type: application/json' \
//!   -H "X-SuperOffice-Signature: $sig" -d "$body"
//! ```
//!
//! The first call answers 200 `handled` and prints this line; the same call again answers
//! 200 `duplicate` and prints nothing:
//!
//! ```json
//! {"created_at":"2024-05-01T12:00:00+00:00","delivery":"9a5c2f6e","entity":"42",
//!  "event":"contact.changed"}
//! ```
//!
//! (printed on one line).

use axum::Router;
use example_support::{print_events, webhook_router, EventSink, Settings, SetupError};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::ordering::OrderingScope;
use receiver_sdk::store::SledStore;
use receiver_sdk::verify::Verifier;
use receiver_sdk::Receiver;

/// The events this receiver handles: the life of a contact.
pub const EVENTS: [&str; 3] = ["contact.created", "contact.changed", "contact.deleted"];

/// The app: SuperOffice's endpoint at `/webhook`.
pub fn app(settings: &Settings, sink: EventSink) -> Result<Router, SetupError> {
    let receiver = Receiver::builder("superoffice")
        .verifier(Verifier::superoffice([settings.require_secret()?])?)
        .envelope(Envelope::SuperOffice)
        .events(EVENTS)
        .acknowledge_unsigned_tests()
        // See the crate docs: a contact's created/changed/deleted events share one mark.
        .ordering(OrderingScope::PerEntity)
        .store(SledStore::open(&settings.data_dir)?)
        // Here a real integration would update its copy of the contact.
        .handler(print_events(sink))
        .build()?;
    Ok(webhook_router(receiver))
}
