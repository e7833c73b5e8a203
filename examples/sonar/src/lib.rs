//! Receive Sonar webhooks.
//!
//! Sonar probes the endpoint with HEAD, POSTs `{"event", "object_id", "current": {...,
//! "created_at"}}`, and retries once a minute for 4 hours until it gets exactly HTTP 200, so
//! events for one account can arrive out of order. This receiver keeps the newest
//! `created_at` per event type and account in sled and answers older events 200 `stale`
//! without handling them. Sonar signs nothing: the URL is the secret, so keep it unguessable.

use axum::Router;
use example_support::{print_events, webhook_router, EventSink, Settings};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::ordering::Ordering;
use receiver_sdk::{BuildError, Receiver};

/// The app: Sonar's endpoint at `/webhook`.
pub fn app(settings: &Settings, sink: EventSink) -> Result<Router, BuildError> {
    let receiver = Receiver::builder("sonar")
        .envelope(Envelope::Sonar)
        // `account.status` of account 42 is ordered against earlier `account.status` events of
        // account 42 only, as Sonar's documentation advises.
        .ordering(Ordering::PerEventType)
        .sled(&settings.data_dir)
        // Here a real integration would change the customer's access.
        .handler(print_events(sink))
        .build()?;
    Ok(webhook_router(receiver))
}
