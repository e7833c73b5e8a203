//! Receive webhooks correctly: verify signatures over the raw body, parse envelopes, drop
//! out-of-order events, dedupe retries, and answer every request with a clear status and
//! reason.
//!
//! ```no_run
//! use receiver_sdk::{envelope::Envelope, verify::Verifier, Delivery, Receiver};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let receiver = Receiver::builder("sonar")
//!     .verifier(Verifier::none())          // Sonar: the URL is the secret
//!     .envelope(Envelope::Sonar)           // event, object_id, current.created_at
//!     .sled("./data")                      // ordering marks and delivery ids survive restarts
//!     .handler(|delivery: Delivery| async move {
//!         // Only events newer than the last one handled for this account get here, once.
//!         println!("{} {:?}", delivery.event.event_type, delivery.event.entity_id);
//!         Ok(())
//!     })
//!     .build()?;
//! let app = axum::Router::new().route_service("/hooks/sonar", receiver);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! Each module is one stage of the pipeline:
//!
//! * [`verify`]: authentication and signatures (Standard Webhooks, HMAC headers for GitHub,
//!   Shopify and SuperOffice, Stripe, Slack, Basic, static token), pure functions over headers
//!   and raw bytes.
//! * [`envelope`]: where each sender puts the event type, entity, time and delivery id.
//! * [`ordering`]: the ordering guard's policy and per-key serialisation.
//! * [`store`]: the [`Store`](store::Store) trait and its backends (sled, memory).
//! * [`outcome`]: the single mapping from outcome to status code and JSON body.
//! * The endpoint itself ([`Receiver`], [`ReceiverLayer`]): the axum/tower face.
//!
//! # The pipeline
//!
//! ```text
//! HEAD -> 200, no body, no store access (reachability probe)
//! POST -> read body (limit 1 MiB -> 413, timeout -> 408)
//!      -> verify raw bytes (401)  -> content type (415) -> JSON (400) -> envelope (400)
//!      -> id and type lengths (400)
//!      -> test delivery / unsubscribed event: 200 ignored
//!      -> dedupe: 200 duplicate -> lock the ordering key -> older than mark: 200 stale
//!      -> handler (its 4xx/5xx passed on) -> durable commit of mark + delivery id -> 200
//! ```
//!
//! # Guarantees
//!
//! * A 2xx answer means the ordering mark and delivery id are flushed to the store (see
//!   [`store::SledStore`] for exactly what that means on disk). Concurrent requests share one
//!   flush. The one exception is a [deadline](ReceiverBuilder::deadline)'s 202, which
//!   [`OnDeadline::Retry`] turns into a retryable 503.
//! * Deliveries for one ordering key are handled one at a time; the mark advances only when
//!   the handler succeeds, so a retry after a failure is handled, not called stale.
//! * A delivery is handed to the handler at most once per retention window once it has
//!   succeeded (at least once overall: a crash after the handler and before the commit
//!   means the sender's retry runs it again).
//! * Secrets are never logged or echoed; every comparison of secret material is constant-time.
//!
//! # Features of the pipeline
//!
//! | stage | default | change with |
//! | --- | --- | --- |
//! | body limit | 1 MiB | [`ReceiverBuilder::body_limit`] |
//! | body timeout | 30 s | [`ReceiverBuilder::body_timeout`] |
//! | event and entity type length | 256 bytes (400 above) | [`ReceiverBuilder::max_type_bytes`] |
//! | entity and delivery id length | 1,024 bytes (400 above) | [`ReceiverBuilder::max_id_bytes`] |
//! | verification | none | [`ReceiverBuilder::verifier`] |
//! | envelope | Sonar | [`ReceiverBuilder::envelope`] |
//! | ordering | per event type and entity where the envelope has both | [`ReceiverBuilder::ordering`] |
//! | ordering horizon | off (marks kept for good) | [`ReceiverBuilder::ordering_horizon`] |
//! | ties | handled | [`ReceiverBuilder::ties`] |
//! | dedupe | on, 4 days | [`ReceiverBuilder::dedupe`], [`ReceiverBuilder::retention`] |
//! | deadline | none (202 when it passes, or 503 with [`OnDeadline::Retry`]) | [`ReceiverBuilder::deadline`], [`ReceiverBuilder::on_deadline`] |
//! | store | required when ordering or dedupe is on | [`ReceiverBuilder::sled`], [`ReceiverBuilder::store`] |
#![warn(missing_docs)]

pub mod dedupe;
mod detach;
mod endpoint;
pub mod envelope;
pub mod ordering;
pub mod outcome;
mod secret;
pub mod store;
pub mod verify;

pub use endpoint::{
    Assessment, Assessor, BuildError, Checks, Decision, Delivery, HandlerError, OnDeadline,
    Receiver, ReceiverBuilder, ReceiverLayer, ReceiverService, WebhookEvent, DEFAULT_BODY_LIMIT,
    DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_ID_BYTES, DEFAULT_MAX_TYPE_BYTES, DEFAULT_RETENTION,
};
pub use outcome::Outcome;
pub use secret::Secret;

/// The README's code compiles (checked as a doctest).
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
