//! Receive webhooks correctly: verify signatures over the raw body, parse envelopes, drop
//! out-of-order events, dedupe retries, and answer every request with a clear status and
//! reason.
//!
//! ```no_run
//! use receiver_sdk::store::SledStore;
//! use receiver_sdk::{envelope::Envelope, verify::Verifier, Delivery, Receiver};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let receiver = Receiver::builder("sonar")
//!     .verifier(Verifier::none())          // Sonar: the URL is the secret
//!     .envelope(Envelope::Sonar)           // event, object_id, current.created_at
//!     .store(SledStore::open("./data")?)   // ordering marks and delivery ids survive restarts
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
//! A `Receiver` is a tower `Service`, so a test needs no socket: sign a delivery the way the
//! sender does, `oneshot` it, and check the answer.
//!
//! ```
//! use axum::body::Body;
//! use http::{Request, StatusCode};
//! use receiver_sdk::envelope::Envelope;
//! use receiver_sdk::store::MemoryStore;
//! use receiver_sdk::verify::{sign, Verifier};
//! use receiver_sdk::{Delivery, Receiver};
//! use tower::ServiceExt as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! const SECRET: &str = "It's a Secret to Everybody";
//! let receiver = Receiver::builder("github")
//!     .verifier(Verifier::github([SECRET])?)
//!     .envelope(Envelope::GitHub)
//!     .store(MemoryStore::new())
//!     .handler(|delivery: Delivery| async move {
//!         assert_eq!(delivery.event.event_type, "issues");
//!         Ok(())
//!     })
//!     .build()?;
//!
//! let body = r#"{"action":"opened","issue":{"number":1}}"#;
//! let request = Request::post("/hooks/github")
//!     .header("content-type", "application/json")
//!     .header("x-github-event", "issues")
//!     .header("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
//!     .header("x-hub-signature-256", sign::github(SECRET, body.as_bytes()))
//!     .body(Body::from(body))?;
//! let response = receiver.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["x-webhook-outcome"], "handled");
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! Each public module is one stage of the pipeline:
//!
//! * [`verify`]: authentication and signatures (Standard Webhooks, HMAC headers for GitHub,
//!   Shopify and SuperOffice, Stripe, Slack, Basic, static token), pure functions over headers
//!   and raw bytes; [`verify::sign`] makes the headers each sender sends, for tests.
//! * [`envelope`]: where each sender puts the event type, entity, time and delivery id (one
//!   preset per sender, or a [custom mapping](envelope::Mapping) of JSON pointers and headers),
//!   and where a [batch](envelope::Envelope::batch) keeps its events: an endpoint handles a
//!   batch event by event, each ordered and deduped on its own.
//! * [`ordering`]: the ordering guard's policy ([`OrderingScope`](ordering::OrderingScope),
//!   [`TiePolicy`](ordering::TiePolicy)) and per-key serialisation.
//! * [`store`]: the [`Store`](store::Store) trait and one file per backend:
//!   [`MemoryStore`](store::MemoryStore), [`SledStore`](store::SledStore),
//!   `FjallStore` (feature `fjall`) and `PostgresStore` (feature `postgres`), with the group
//!   commit the embedded stores share.
//! * [`handshake`]: the setup challenges some senders send before they deliver (CloudEvents'
//!   `OPTIONS`, Microsoft Graph, Meta, Dropbox, Okta, Slack, Zoom), answered before the
//!   pipeline on endpoints configured for them, never counted as deliveries.
//! * [`outcome`]: the single mapping from outcome to status code and JSON body, and the table
//!   of every answer.
//!
//! And, private, with what they define re-exported at the root:
//!
//! * `endpoint`: the axum/tower face ([`Receiver`], [`ReceiverBuilder`], [`ReceiverLayer`],
//!   [`ReceiverService`]), what a handler gets and returns ([`Delivery`], [`WebhookEvent`],
//!   [`HandlerError`]), the URL a sender signed ([`PublicUrl`]), the pipeline itself and the
//!   purge of expired delivery ids.
//! * `secret`: [`Secret`], key material with a redacted `Debug`.
//! * `detach`: runs a handler and its commit to the end even when the sender hangs up, and
//!   turns a panic into a 500 answer.
//!
//! # Cargo features
//!
//! None is on by default; the sled store is always built.
//!
//! | feature | adds | needs |
//! | --- | --- | --- |
//! | `fjall` | `store::FjallStore`: an embedded LSM-tree store that fsyncs every group commit before the 2xx, at less CPU per request than sled | Rust 1.90 or newer |
//! | `postgres` | `store::PostgresStore` (and `store::ScratchDatabase` for tests): ordering marks and delivery ids in PostgreSQL, shared by several receiver replicas; its schema is migrated on connect | a PostgreSQL server |
//! | `serde` | `Serialize`/`Deserialize` for the setting enums (the two of [`ordering`], and [`SignatureEncoding`](verify::SignatureEncoding)), named in kebab-case, so a config file can hold them | nothing more |
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
//! Any other method is answered 405 (`Allow: HEAD, POST`) unless a configured
//! [handshake](ReceiverBuilder::handshake) takes it; a request without a content type is
//! taken as JSON. A test delivery is a sender's own (SuperOffice's `X-Hook-Test`, GitHub's
//! `ping`). Every answer, and the `X-Webhook-Outcome` header that names it, is in the
//! table of [`outcome`]. Prefer your own handlers? [`ReceiverBuilder::layer`] runs the same
//! pipeline as a tower layer in front of any service, which reads the [`WebhookEvent`] from the
//! request's extensions and the raw body as usual; a 2xx from it commits the delivery.
//!
//! # Guarantees
//!
//! * A 2xx answer means the ordering mark and delivery id are flushed to the store (see
//!   [Durability](#durability) for exactly what that means on disk). Concurrent requests
//!   share one flush. The one exception is a [deadline](ReceiverBuilder::deadline)'s 202: the
//!   handler goes on and commits when done, but a crash in that window loses the event.
//!   [`OnDeadline::Retry`] answers a retryable 503 `pending` instead, and the sender's retry
//!   after the commit is a `duplicate`.
//! * Deliveries for one ordering key are handled one at a time; the mark advances only when
//!   the handler succeeds, so a retry after a failure is handled, not called stale.
//! * A delivery is handed to the handler at most once per retention window once it has
//!   succeeded (at least once overall: a crash after the handler and before the commit
//!   means the sender's retry runs it again).
//! * Secrets are never logged or echoed; every comparison of secret material is constant-time.
//!   A 401 says which check failed, never what was expected; a 503 for a failed store says
//!   nothing of the failure, which goes to the log.
//!
//! # Ordering, ties and dedupe
//!
//! * The ordering guard keeps, per endpoint, event type and entity (or per entity across event
//!   types with [`OrderingScope::PerEntity`](ordering::OrderingScope::PerEntity)), the `created_at` of
//!   the newest event whose handler succeeded. It is on by default for envelopes that carry an
//!   entity and a time (Sonar, the integration shape, SuperOffice) and needs both in each
//!   delivery (400 otherwise).
//! * **Ties**, a *different* delivery with the *same* time as the mark, are handled by default
//!   ([`TiePolicy::Deliver`](ordering::TiePolicy::Deliver)): senders stamp events to the
//!   second, two real events can share a timestamp, and dropping a real event is worse than
//!   applying two in arrival order. [`TiePolicy::Drop`](ordering::TiePolicy::Drop) keeps the
//!   first.
//! * Dedupe remembers handled delivery ids (the sender's id, or a SHA-256 of the body where the
//!   sender sends none, as Sonar does) for [4 days](DEFAULT_RETENTION) by default, longer than
//!   the longest retry window of the senders served; expired ids are purged in bounded
//!   batches.
//!
//! # Durability
//!
//! On [`SledStore`](store::SledStore) a 2xx follows `sled::Db::flush`, shared by every
//! concurrent request (group commit: under load a flush waits up to
//! [`store::DEFAULT_COMMIT_DELAY`],
//! [`SledStoreBuilder::commit_delay`](store::SledStoreBuilder::commit_delay), for more requests
//! to join it, which measured 15-20% more throughput; a lone request never waits). On Linux
//! that flush hands the data to the kernel (`sync_file_range`) and sled fsyncs in the
//! background every 500 ms
//! ([`SledStoreBuilder::flush_every_ms`](store::SledStoreBuilder::flush_every_ms)): an
//! acknowledged delivery survives the process being killed at any moment, and a power loss
//! once the next background fsync ran. For power-loss durability at the moment of the 2xx,
//! build with the `fjall` feature (`receiver-sdk = { ..., features = ["fjall"] }`) and use
//! `.store(FjallStore::open(path)?)` instead of `SledStore`: a commit is answered only after its group's
//! write batch is in fjall's journal and the journal is fsynced (`PersistMode::SyncAll`), one
//! fsync shared by all concurrent requests, at far less CPU per request than sled. (The
//! reference receiver runs on sled, or on PostgreSQL for replicas.) On `PostgresStore` (feature `postgres`) a 2xx
//! follows PostgreSQL's commit, which with the server's default `synchronous_commit = on`
//! means its WAL is fsynced; several processes can share that state.
//!
//! # Settings of the pipeline
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
//! | store | required when ordering or dedupe is on | [`ReceiverBuilder::store`] |
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod dedupe;
mod detach;
mod endpoint;
pub mod envelope;
pub mod handshake;
pub mod ordering;
pub mod outcome;
mod secret;
pub mod store;
pub mod verify;

pub use endpoint::{
    request_url, Assessment, Assessor, Batch, BatchEvent, BuildError, Checks, Decision, Delivery,
    HandlerError, InBatch, InvalidPublicUrl, OnDeadline, PublicUrl, Receiver, ReceiverBuilder,
    ReceiverLayer, ReceiverService, WebhookEvent, DEFAULT_BATCH_LIMIT, DEFAULT_BODY_LIMIT,
    DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_ID_BYTES, DEFAULT_MAX_TYPE_BYTES, DEFAULT_RETENTION,
};
pub use outcome::{BatchCounts, Outcome};
pub use secret::Secret;
