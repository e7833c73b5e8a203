//! Receive Sonar webhooks.
//!
//! Sonar probes the endpoint with HEAD, POSTs `{"event", "object_id", "current": {...,
//! "created_at"}}`, and retries once a minute for 4 hours until it gets exactly HTTP 200, so
//! events for one account can arrive out of order. This receiver keeps the newest
//! `created_at` per event type and account in sled and answers older events 200 `stale`
//! without handling them. Sonar signs nothing: the URL is the secret, so keep it unguessable.
//!
//! # Try it with curl
//!
//! ```sh
//! curl -I http://127.0.0.1:3000/webhook
//! curl -i http://127.0.0.1:3000/webhook -H 'content-type: application/json' -d \
//!   '{"event":"account.status","object_id":42,"current":{"created_at":"2021-05-25T20:50:00+00:00","account_status_id":3}}'
//! curl -i http://127.0.0.1:3000/webhook -H 'content-type: application/json' -d \
//!   '{"event":"account.status","object_id":42,"current":{"created_at":"2021-05-25T20:48:40+00:00","account_status_id":2}}'
//! ```
//!
//! The probe answers 200 with no body. The first POST answers 200 `handled` and prints one line,
//! `{"created_at":"2021-05-25T20:50:00+00:00","delivery":null,"entity":"42","event":"account.status"}`;
//! the second, an older status of the same account, answers 200 `stale` and prints nothing.
//! Sending the first again answers 200 `duplicate`: Sonar sends no delivery id, so a retry is
//! known by its body.

use axum::Router;
use example_support::{print_events, webhook_router, EventSink, Settings};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::ordering::OrderingScope;
use receiver_sdk::store::SledStore;
use receiver_sdk::{BuildError, Receiver};

/// The app: Sonar's endpoint at `/webhook`.
pub fn app(settings: &Settings, sink: EventSink) -> Result<Router, BuildError> {
    let receiver = Receiver::builder("sonar")
        .envelope(Envelope::Sonar)
        // `account.status` of account 42 is ordered against earlier `account.status` events of
        // account 42 only, as Sonar's documentation advises.
        .ordering(OrderingScope::PerEventType)
        .store(SledStore::open(&settings.data_dir)?)
        // Here a real integration would change the customer's access.
        .handler(print_events(sink))
        .build()?;
    Ok(webhook_router(receiver))
}
