//! Receive [Standard Webhooks](https://www.standardwebhooks.com/) (and Svix) deliveries.
//!
//! # The sender
//!
//! Any sender that follows the standard POSTs a JSON body
//!
//! ```json
//! {"type": "invoice.paid", "timestamp": "2024-05-01T12:00:00Z", "data": {"id": "inv_42"}}
//! ```
//!
//! with three headers: `webhook-id` (the message id; retries repeat it), `webhook-timestamp`
//! (unix seconds of this attempt) and `webhook-signature` (`v1,<base64>`, an HMAC-SHA256 of
//! `{id}.{timestamp}.{body}` keyed with the base64 part of a `whsec_...` secret; several
//! space-separated signatures during a key rotation). Svix sends the same under `svix-*`
//! names. Failed deliveries are retried with backoff over hours or days.
//!
//! # What this receiver does
//!
//! * Verifies the signature with `WEBHOOK_SECRET` (`whsec_...`) and refuses attempts whose
//!   timestamp is more than 5 minutes off our clock (401), which stops replays.
//! * Dedupes on `webhook-id`, so a retry of a handled message is answered 200 `duplicate`.
//! * Does not order: the standard leaves `data` to each sender, so there is no entity to order
//!   by in general. A sender whose `data.id` names an entity can turn ordering on with
//!   `.ordering(OrderingScope::PerEventType)`.
//! * Prints one JSON line per handled event (`entity` is `data.id` when there is one).
//!
//! # Run it
//!
//! ```sh
//! WEBHOOK_SECRET='whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' cargo run -p example-standard-webhooks
//! ```
//!
//! `BIND` (default `127.0.0.1:3000`) and `DATA_DIR` (the sled directory) apply.
//!
//! # Try it with curl
//!
//! The signature covers the current time, so compute it just before sending:
//!
//! ```sh
//! secret='whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
//! key=$(printf '%s' "${secret#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')
//! id=msg_2KWPBgLlAfxdpx2AI54pPJ85f4W; ts=$(date +%s)
//! body='{"type":"invoice.paid","timestamp":"2024-05-01T12:00:00Z","data":{"id":"inv_42"}}'
//! sig=$(printf '%s' "$id.$ts.$body" \
//!   | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | base64)
//! curl -i http://127.0.0.1:3000/webhook -H 'content-type: application/json' \
//!   -H "webhook-id: $id" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$sig" \
//!   -d "$body"
//! ```
//!
//! The first call answers 200 `handled` and prints this line (on one line); the same call
//! again answers 200 `duplicate` and prints nothing:
//!
//! ```json
//! {"created_at":"2024-05-01T12:00:00+00:00","delivery":"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
//!  "entity":"inv_42","event":"invoice.paid"}
//! ```

use axum::Router;
use example_support::{print_events, webhook_router, EventSink, Settings, SetupError};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::store::SledStore;
use receiver_sdk::verify::Verifier;
use receiver_sdk::Receiver;

/// The app: the Standard Webhooks endpoint at `/webhook`.
pub fn app(settings: &Settings, sink: EventSink) -> Result<Router, SetupError> {
    let receiver = Receiver::builder("standard-webhooks")
        .verifier(Verifier::standard_webhooks([settings.require_secret()?])?)
        // Ordering is off for this envelope unless asked for; see the crate docs.
        .envelope(Envelope::StandardWebhooks)
        .store(SledStore::open(&settings.data_dir)?)
        // Here a real integration would act on the event.
        .handler(print_events(sink))
        .build()?;
    Ok(webhook_router(receiver))
}
