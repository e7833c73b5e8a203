//! The axum/tower face of the SDK: [`Receiver`] answers HEAD and POST and runs the pipeline.
//!
//! ```text
//! HEAD -> 200, no body, no store access
//! POST -> read body (limit, timeout) -> verify raw bytes -> JSON -> envelope
//!      -> dedupe -> lock key -> ordering guard -> handler -> durable commit -> answer
//! ```

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::util::ServiceExt;
use tower::{Layer, Service};

use crate::detach::{Detachable, Panicked};
use crate::envelope::{Envelope, EventMeta};
use crate::ordering::{KeyLocks, Ordering, TiePolicy, Verdict};
use crate::outcome::{Outcome, OUTCOME_HEADER};
use crate::store::{Commit, DeliveryKey, MemoryStore, OrderingKey, SledStore, Store, StoreError};
use crate::verify::Verifier;

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The default time a sender has to deliver the whole body.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The default longest event type and entity type, in bytes: senders use short dotted names
/// (`account.service.add`); the limit bounds what a sender can make the store keep per key.
pub const DEFAULT_MAX_TYPE_BYTES: usize = 256;
/// The default longest entity id and delivery id, in bytes: room for UUIDs, URNs and composite
/// ids, while every stored key stays a few KiB at most.
pub const DEFAULT_MAX_ID_BYTES: usize = 1024;
/// The default dedupe retention: 4 days, past the longest retry window of the senders we
/// serve: Sonar retries for 4 hours, Standard Webhooks / Svix for about 27.6 hours, Stripe for
/// up to 3 days. A retry that arrives after its delivery id was forgotten is handled again.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(4 * 24 * 60 * 60);

// Expired delivery ids are purged at most this often (started by a request, so there is no
// background task to manage), in batches of at most this many with the requests let in
// between, until every expired id is gone.
const PURGE_EVERY_SECS: i64 = 60;
const PURGE_BATCH: usize = 1_000;

/// What an endpoint with a [deadline](ReceiverBuilder::deadline) answers when its handler
/// outlives it. Either way the handler goes on, and its mark and delivery id are committed
/// when it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnDeadline {
    /// 202 `accepted` (the default): the sender stops waiting and never retries. This is the
    /// one 2xx sent before anything is durable: if the process dies before the handler and
    /// its commit finish, the event is lost.
    #[default]
    Accept,
    /// 503 `pending`: the sender retries, and a retry after the commit is answered
    /// `duplicate` (one arriving while the handler still runs waits behind it). Nothing is
    /// lost to a crash; the price is a retry per slow delivery.
    Retry,
}

/// One delivery, as handed to a handler.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery<T = Value> {
    /// The body deserialised into the handler's own type.
    pub payload: T,
    /// The envelope fields: event type, entity, time, delivery id.
    pub event: EventMeta,
    /// The request headers, as received.
    pub headers: HeaderMap,
    /// The raw body, byte for byte.
    pub body: Bytes,
    /// The name of the endpoint that received it.
    pub endpoint: Arc<str>,
}

/// A handler's refusal: answered with its status and message so the sender can show it.
///
/// A 4xx tells the sender the event is wrong and retrying will not help (the integration
/// pattern displays the message to its users); a 5xx asks it to retry later. Either way the
/// ordering mark and dedupe entry are not recorded, so a retry is handled afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    status: StatusCode,
    message: String,
}

impl HandlerError {
    /// A refusal with this status (anything not 4xx or 5xx becomes 500) and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the event cannot be applied; retrying will not help.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 422: the event is understood but refused.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 503: a dependency is down; the sender should retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// The status the sender gets.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message the sender gets.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for HandlerError {}

/// Why a [`ReceiverBuilder`] could not build.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `build` was called without a handler.
    #[error("no handler: call ReceiverBuilder::handler")]
    MissingHandler,
    /// Ordering or dedupe is on but no store was chosen.
    #[error("no store: call ReceiverBuilder::store, sled or memory_store")]
    MissingStore,
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What running a handler gives: success (with the response to send, for the layer form) or
/// a refusal.
type RunOutput = Result<Option<Response>, Refusal>;
type Run = Box<dyn FnOnce() -> BoxFuture<RunOutput> + Send>;
type ErasedHandler = Arc<dyn Fn(Parsed) -> Result<Run, String> + Send + Sync>;
type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

enum Refusal {
    Handler(HandlerError),
    // The layer form passes the inner service's own non-2xx answer through unchanged.
    Response(Response),
}

/// What the pipeline knows once a delivery is verified and parsed.
struct Parsed {
    value: Value,
    event: EventMeta,
    parts: http::request::Parts,
    body: Bytes,
    endpoint: Arc<str>,
}

/// Builds a [`Receiver`] (or a [`ReceiverLayer`]).
///
/// ```
/// use receiver_sdk::{envelope::Envelope, verify::Verifier, Receiver};
///
/// let receiver = Receiver::builder("sonar")
///     .verifier(Verifier::none())
///     .envelope(Envelope::Sonar)
///     .memory_store()
///     .handler(|delivery: receiver_sdk::Delivery| async move {
///         println!("{} for {:?}", delivery.event.event_type, delivery.event.entity_id);
///         Ok(())
///     })
///     .build()?;
/// let app: axum::Router = axum::Router::new().route_service("/hooks/sonar", receiver);
/// # let _ = app;
/// # Ok::<(), receiver_sdk::BuildError>(())
/// ```
#[must_use]
pub struct ReceiverBuilder {
    name: String,
    verifier: Verifier,
    envelope: Envelope,
    ordering: Option<Ordering>,
    horizon: Option<Duration>,
    ties: TiePolicy,
    dedupe: bool,
    retention: Duration,
    store: Option<Result<Arc<dyn Store>, StoreError>>,
    body_limit: usize,
    body_timeout: Duration,
    deadline: Option<Duration>,
    on_deadline: OnDeadline,
    limits: IdLimits,
    strict_content_type: bool,
    unsigned_tests: bool,
    events: Option<HashSet<String>>,
    clock: Clock,
    handler: Option<ErasedHandler>,
}

/// The longest sender-chosen envelope fields an endpoint takes, in bytes.
#[derive(Debug, Clone, Copy)]
struct IdLimits {
    types: usize,
    ids: usize,
}

impl IdLimits {
    /// Refuses an event whose event type, entity type, entity id or delivery id is over its
    /// limit: each ends up in a store key (and the log), so none may be as long as a body.
    fn check(self, event: &EventMeta) -> Result<(), Outcome> {
        let fields = [
            ("event type", Some(&event.event_type), self.types),
            ("entity type", event.entity_type.as_ref(), self.types),
            ("entity id", event.entity_id.as_ref(), self.ids),
            ("delivery id", event.delivery_id.as_ref(), self.ids),
        ];
        for (field, value, limit) in fields {
            let length = value.map_or(0, String::len);
            if length > limit {
                return Err(Outcome::FieldTooLong {
                    field,
                    length,
                    limit,
                });
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ReceiverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverBuilder")
            .field("name", &self.name)
            .field("verifier", &self.verifier)
            .field("envelope", &self.envelope)
            .field("ordering", &self.ordering)
            .finish_non_exhaustive()
    }
}

impl ReceiverBuilder {
    fn new(name: String) -> Self {
        Self {
            name,
            verifier: Verifier::none(),
            envelope: Envelope::Sonar,
            ordering: None,
            horizon: None,
            ties: TiePolicy::default(),
            dedupe: true,
            retention: DEFAULT_RETENTION,
            store: None,
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            deadline: None,
            on_deadline: OnDeadline::Accept,
            limits: IdLimits {
                types: DEFAULT_MAX_TYPE_BYTES,
                ids: DEFAULT_MAX_ID_BYTES,
            },
            strict_content_type: true,
            unsigned_tests: false,
            events: None,
            clock: Arc::new(SystemTime::now),
            handler: None,
        }
    }

    /// How senders authenticate (default: none).
    pub fn verifier(mut self, verifier: Verifier) -> Self {
        self.verifier = verifier;
        self
    }

    /// Where the event type, entity, time and delivery id are (default: Sonar).
    pub fn envelope(mut self, envelope: Envelope) -> Self {
        self.envelope = envelope;
        self
    }

    /// How deliveries are grouped for the ordering guard. The default is per event type and
    /// entity for envelopes that carry an entity and a time (Sonar, the integration shape,
    /// SuperOffice), and off for the others.
    pub fn ordering(mut self, ordering: Ordering) -> Self {
        self.ordering = Some(ordering);
        self
    }

    /// An event whose time is older than now minus `horizon` is stale by definition (answered
    /// 200 `stale`, its message naming the horizon, never handled), and marks older than the
    /// horizon are purged in the background, so marks no longer live for ever. Off by default:
    /// only you know that the sender's time field is the event's time and how late a real
    /// delivery can come (retries, backfills, a replay after an outage); keep the horizon
    /// well past all of those. Applies only where ordering is on.
    pub fn ordering_horizon(mut self, horizon: Duration) -> Self {
        self.horizon = Some(horizon);
        self
    }

    /// What to do with a different delivery whose time equals the mark (default: handle it).
    pub fn ties(mut self, ties: TiePolicy) -> Self {
        self.ties = ties;
        self
    }

    /// Whether a delivery already handled is answered `duplicate` without running the
    /// handler again (default: on).
    pub fn dedupe(mut self, on: bool) -> Self {
        self.dedupe = on;
        self
    }

    /// How long a handled delivery id is remembered (default 4 days). Keep it longer than
    /// the longest retry window of the sender.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Where marks and delivery ids live.
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Ok(Arc::new(store)));
        self
    }

    /// Shares a store with other endpoints.
    pub fn shared_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(Ok(store));
        self
    }

    /// Keeps marks and delivery ids in a sled directory. The directory is opened right away;
    /// an error opening it is returned by `build`.
    pub fn sled(mut self, path: impl AsRef<std::path::Path>) -> Self {
        self.store = Some(SledStore::open(path).map(|s| Arc::new(s) as Arc<dyn Store>));
        self
    }

    /// Keeps marks and delivery ids in a fjall directory (feature `fjall`): like
    /// [`sled`](Self::sled), but every 2xx waits for a real fsync shared by all concurrent
    /// requests (group commit), at less CPU per request; see
    /// [`FjallStore`](crate::store::FjallStore). The directory is opened right away; an error
    /// opening it is returned by `build`.
    #[cfg(feature = "fjall")]
    pub fn fjall(mut self, path: impl AsRef<std::path::Path>) -> Self {
        self.store =
            Some(crate::store::FjallStore::open(path).map(|s| Arc::new(s) as Arc<dyn Store>));
        self
    }

    /// Keeps marks and delivery ids in memory only: they are lost when the process ends.
    pub fn memory_store(self) -> Self {
        self.store(MemoryStore::new())
    }

    /// The largest body accepted (default 1 MiB); larger ones get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long a sender may take to send the body (default 30 s); slower ones get 408.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Answers before the handler is done if it runs longer than this, and lets it finish
    /// (its mark and delivery id are committed when it does). Off by default. GitHub, for one,
    /// gives up after 10 seconds.
    ///
    /// The answer is 202 unless [`on_deadline`](Self::on_deadline) says otherwise, and that
    /// 202 is the one 2xx sent before anything is durable: the sender will not retry it, so a
    /// crash between the answer and the commit loses the event (and whatever the handler had
    /// not yet done). Choose [`OnDeadline::Retry`] where that matters.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// What the [deadline](Self::deadline) answers (default [`OnDeadline::Accept`], 202).
    pub fn on_deadline(mut self, answer: OnDeadline) -> Self {
        self.on_deadline = answer;
        self
    }

    /// The longest event type and entity type accepted, in bytes (default
    /// [`DEFAULT_MAX_TYPE_BYTES`]); a delivery with a longer one is answered 400 naming the
    /// field, before the handler runs or anything is stored.
    pub fn max_type_bytes(mut self, bytes: usize) -> Self {
        self.limits.types = bytes;
        self
    }

    /// The longest entity id and delivery id accepted, in bytes (default
    /// [`DEFAULT_MAX_ID_BYTES`]); a delivery with a longer one is answered 400 naming the
    /// field, before the handler runs or anything is stored. Keys are stored as given in the
    /// embedded stores, so this also bounds what one delivery adds to a sled or fjall
    /// directory (PostgreSQL stores a digest of every key).
    pub fn max_id_bytes(mut self, bytes: usize) -> Self {
        self.limits.ids = bytes;
        self
    }

    /// Accepts any content type as long as the body is JSON (default: a content type other
    /// than JSON is refused with 415; a missing one is accepted).
    pub fn accept_any_content_type(mut self) -> Self {
        self.strict_content_type = false;
        self
    }

    /// Answers a registration test that fails verification (header `X-Hook-Test: true`, as
    /// SuperOffice sends before saving a webhook) with 200 `ignored` instead of 401, so a
    /// sender that does not sign its test can still register the endpoint. Safe because a test
    /// delivery never reaches the handler or the store; off by default.
    pub fn acknowledge_unsigned_tests(mut self) -> Self {
        self.unsigned_tests = true;
        self
    }

    /// Handles only these event types; others are answered 200 `ignored`.
    pub fn events<I, S>(mut self, events: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.events = Some(events.into_iter().map(Into::into).collect());
        self
    }

    /// The clock used for timestamp tolerance and dedupe expiry (tests inject their own).
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The function called for each fresh delivery, with the payload deserialised into `T`
    /// (a payload that does not fit `T` is answered 422). Returning `Ok` records the delivery
    /// and answers 200; returning a [`HandlerError`] answers with its status and message.
    pub fn handler<T, F, Fut>(mut self, handler: F) -> Self
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(Delivery<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.handler = Some(Arc::new(move |parsed: Parsed| {
            let payload: T = into_payload(parsed.value)?;
            let delivery = Delivery {
                payload,
                event: parsed.event,
                headers: parsed.parts.headers,
                body: parsed.body,
                endpoint: parsed.endpoint,
            };
            let handler = Arc::clone(&handler);
            Ok(Box::new(move || {
                Box::pin(async move {
                    handler(delivery)
                        .await
                        .map(|()| None)
                        .map_err(Refusal::Handler)
                }) as BoxFuture<RunOutput>
            }) as Run)
        }));
        self
    }

    fn into_inner(self) -> Result<Inner, BuildError> {
        let ordering = self.ordering.unwrap_or(if carries_order(&self.envelope) {
            Ordering::PerEventType
        } else {
            Ordering::Off
        });
        let store = match self.store {
            Some(store) => store?,
            None if ordering == Ordering::Off && !self.dedupe => Arc::new(MemoryStore::new()),
            None => return Err(BuildError::MissingStore),
        };
        Ok(Inner {
            name: Arc::from(self.name),
            verifier: self.verifier,
            envelope: self.envelope,
            ordering,
            horizon: self.horizon,
            ties: self.ties,
            dedupe: self.dedupe,
            retention: self.retention,
            store,
            locks: Arc::new(KeyLocks::default()),
            body_limit: self.body_limit,
            body_timeout: self.body_timeout,
            deadline: self.deadline,
            on_deadline: self.on_deadline,
            limits: self.limits,
            strict_content_type: self.strict_content_type,
            unsigned_tests: self.unsigned_tests,
            events: self.events,
            clock: self.clock,
            last_purge: AtomicI64::new(0),
            purging: AtomicBool::new(false),
        })
    }

    /// Builds the endpoint. Fails without a handler, or without a store when ordering or
    /// dedupe is on.
    pub fn build(mut self) -> Result<Receiver, BuildError> {
        let handler = self.handler.take().ok_or(BuildError::MissingHandler)?;
        Ok(Receiver {
            inner: Arc::new(self.into_inner()?),
            handler,
        })
    }

    /// Builds a layer that runs the pipeline in front of your own service instead of a
    /// handler: the service gets the request with its body intact and an [`WebhookEvent`] in
    /// its extensions; a 2xx answer from it commits the delivery.
    pub fn layer(self) -> Result<ReceiverLayer, BuildError> {
        Ok(ReceiverLayer {
            inner: Arc::new(self.into_inner()?),
        })
    }
}

/// A webhook endpoint: a tower service to mount in an axum `Router` at any path.
///
/// Built with [`Receiver::builder`]. Cloning is cheap; clones share state.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
    handler: ErasedHandler,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Starts building an endpoint; `name` scopes its ordering marks and delivery ids in the
    /// store and appears in logs.
    pub fn builder(name: impl Into<String>) -> ReceiverBuilder {
        ReceiverBuilder::new(name.into())
    }

    /// Runs one request through the endpoint.
    pub async fn handle(&self, request: Request) -> Response {
        let handler = Arc::clone(&self.handler);
        Arc::clone(&self.inner)
            .respond(request, move |parsed| {
                handler(parsed).map_err(Outcome::Unprocessable)
            })
            .await
    }
}

impl<B> Service<http::Request<B>> for Receiver
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let receiver = self.clone();
        Box::pin(async move { Ok(receiver.handle(request.map(Body::new)).await) })
    }
}

/// The pipeline as a tower layer in front of your own service. See [`ReceiverBuilder::layer`].
#[derive(Clone)]
pub struct ReceiverLayer {
    inner: Arc<Inner>,
}

impl fmt::Debug for ReceiverLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverLayer")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for ReceiverLayer {
    type Service = ReceiverService<S>;

    fn layer(&self, service: S) -> Self::Service {
        ReceiverService {
            inner: Arc::clone(&self.inner),
            service,
        }
    }
}

/// Your service behind the receiver pipeline; made by [`ReceiverLayer`].
#[derive(Clone)]
pub struct ReceiverService<S> {
    inner: Arc<Inner>,
    service: S,
}

impl<S: fmt::Debug> fmt::Debug for ReceiverService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverService")
            .field("name", &self.inner.name)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl<S> ReceiverService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.service
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.service
    }
}

impl<S, B> Service<http::Request<B>> for ReceiverService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The wrapped service is called on a clone, once the delivery has passed the
        // pipeline; its readiness is awaited there by `oneshot`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        let service = self.service.clone();
        Box::pin(async move {
            let response = inner
                .respond(request.map(Body::new), move |parsed| {
                    let mut request = Request::from_parts(parsed.parts, Body::from(parsed.body));
                    request.extensions_mut().insert(WebhookEvent(parsed.event));
                    Ok(Box::new(move || {
                        Box::pin(async move {
                            let response = match service.oneshot(request).await {
                                Ok(response) => response,
                                Err(never) => match never {},
                            };
                            if response.status().is_success() {
                                Ok(Some(response))
                            } else {
                                Err(Refusal::Response(response))
                            }
                        }) as BoxFuture<RunOutput>
                    }) as Run)
                })
                .await;
            Ok(response)
        })
    }
}

/// The envelope of a delivery that passed the [`ReceiverLayer`] pipeline: an extractor for
/// handlers behind the layer.
#[derive(Debug, Clone)]
pub struct WebhookEvent(pub EventMeta);

impl<S: Send + Sync> FromRequestParts<S> for WebhookEvent {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<WebhookEvent>()
            .cloned()
            .ok_or_else(|| {
                Outcome::Internal(
                    "WebhookEvent needs the ReceiverLayer in front of this handler".into(),
                )
                .into_response()
            })
    }
}

/// Endpoint state shared by every request.
struct Inner {
    name: Arc<str>,
    verifier: Verifier,
    envelope: Envelope,
    ordering: Ordering,
    horizon: Option<Duration>,
    ties: TiePolicy,
    dedupe: bool,
    retention: Duration,
    store: Arc<dyn Store>,
    // Serialises deliveries per ordering key (or per delivery id when ordering is off), so the
    // check of the mark and its advance cannot interleave with another delivery's.
    locks: Arc<KeyLocks>,
    body_limit: usize,
    body_timeout: Duration,
    deadline: Option<Duration>,
    on_deadline: OnDeadline,
    limits: IdLimits,
    strict_content_type: bool,
    unsigned_tests: bool,
    events: Option<HashSet<String>>,
    clock: Clock,
    // Unix seconds of the last purge of expired delivery ids.
    last_purge: AtomicI64,
    // Set while a purge runs, so a purge that takes longer than a minute is not doubled.
    purging: AtomicBool,
}

/// The dedupe keys of one delivery.
struct Deliveries {
    // The sender's delivery id (or the body's hash when it sends none).
    id: Option<DeliveryKey>,
    // The body's hash as well, where the id is not covered by the signature.
    replay: Option<DeliveryKey>,
}

/// What a pipeline stage ends with: the outcome, and the response to send when it is not the
/// outcome's own (the layer form's inner service answered).
struct Answer {
    outcome: Outcome,
    response: Option<Response>,
}

impl From<Outcome> for Answer {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            response: None,
        }
    }
}

/// Whether a format carries an entity and an event time, so ordering can be on by default.
fn carries_order(envelope: &Envelope) -> bool {
    matches!(
        envelope,
        Envelope::Sonar | Envelope::Integration | Envelope::SuperOffice
    )
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// What a sender is told when the store fails: the backend's own text (a database error
/// quoting the key, a path on disk) is for the operator, so it goes to the log instead.
const STORE_UNAVAILABLE: &str = "store unavailable";

fn is_json(content_type: &HeaderValue) -> bool {
    let Ok(value) = content_type.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    matches!(kind.to_ascii_lowercase().as_str(), "application" | "text")
        && (subtype == "json" || subtype.ends_with("+json"))
}

/// The handler's payload from the parsed body. A handler that takes `serde_json::Value` gets
/// the parsed value itself, not a rebuilt copy.
fn into_payload<T: DeserializeOwned + 'static>(value: Value) -> Result<T, String> {
    let value: Box<dyn std::any::Any> = Box::new(value);
    match value.downcast::<T>() {
        Ok(same) => Ok(*same),
        Err(value) => {
            let value = value
                .downcast::<Value>()
                .map_err(|_| "the parsed body is not JSON".to_owned())?;
            serde_path_to_error::deserialize(*value).map_err(|e| {
                format!(
                    "payload does not have the expected shape at `{}`: {}",
                    e.path(),
                    e.inner()
                )
            })
        }
    }
}

fn is_hook_test(headers: &HeaderMap) -> bool {
    headers
        .get("x-hook-test")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn body_hash(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

impl Inner {
    async fn respond(
        self: Arc<Self>,
        request: Request,
        prepare: impl FnOnce(Parsed) -> Result<Run, Outcome>,
    ) -> Response {
        if request.method() == Method::HEAD {
            // A reachability probe (Sonar sends one): no body, no store access.
            return StatusCode::OK.into_response();
        }
        let started = Instant::now();
        let mut event = None;
        let answer = match self.process(request, &mut event, prepare).await {
            Ok(answer) => answer,
            Err(outcome) => outcome.into(),
        };
        self.log(&answer.outcome, event.as_ref(), started.elapsed());
        match answer.response {
            Some(mut response) => {
                response.headers_mut().insert(
                    OUTCOME_HEADER,
                    HeaderValue::from_static(answer.outcome.name()),
                );
                response
            }
            None => answer.outcome.into_response(),
        }
    }

    fn log(&self, outcome: &Outcome, event: Option<&EventMeta>, elapsed: Duration) {
        let event_type = event.map(|e| e.event_type.as_str());
        let entity = event.and_then(|e| e.entity_id.as_deref());
        let delivery = event.and_then(|e| e.delivery_id.as_deref());
        let status = outcome.status().as_u16();
        let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if outcome.is_success() {
            tracing::info!(endpoint = %self.name, event = event_type, entity, delivery,
                outcome = outcome.name(), status, latency_us, "webhook answered");
        } else {
            tracing::warn!(endpoint = %self.name, event = event_type, entity, delivery,
                outcome = outcome.name(), status, latency_us, message = %outcome.message(),
                "webhook refused");
        }
    }

    async fn read_body(&self, request: Request) -> Result<(http::request::Parts, Bytes), Outcome> {
        let (parts, body) = request.into_parts();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.body_limit as u64) {
            return Err(Outcome::TooLarge(self.body_limit));
        }
        let limited = Limited::new(body, self.body_limit);
        match tokio::time::timeout(self.body_timeout, limited.collect()).await {
            Err(_) => Err(Outcome::Timeout),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
                Err(Outcome::TooLarge(self.body_limit))
            }
            Ok(Err(e)) => Err(Outcome::Malformed(format!("could not read the body: {e}"))),
            Ok(Ok(collected)) => Ok((parts, collected.to_bytes())),
        }
    }

    async fn process(
        self: &Arc<Self>,
        request: Request,
        seen: &mut Option<EventMeta>,
        prepare: impl FnOnce(Parsed) -> Result<Run, Outcome>,
    ) -> Result<Answer, Outcome> {
        if request.method() != Method::POST {
            return Err(Outcome::MethodNotAllowed);
        }
        let (parts, body) = self.read_body(request).await?;
        let now = (self.clock)();
        if let Err(failure) = self.verifier.verify(&parts.headers, &body, now) {
            if self.unsigned_tests && is_hook_test(&parts.headers) {
                return Err(Outcome::Ignored(format!(
                    "test delivery acknowledged; it failed verification ({failure}), as real \
                     deliveries would"
                )));
            }
            return Err(Outcome::Unauthorized {
                reason: failure.to_string(),
                challenge: self.verifier.challenge(),
            });
        }
        if self.strict_content_type {
            if let Some(content_type) = parts.headers.get(header::CONTENT_TYPE) {
                if !is_json(content_type) {
                    return Err(Outcome::UnsupportedMediaType(
                        String::from_utf8_lossy(content_type.as_bytes()).into_owned(),
                    ));
                }
            }
        }
        if body.is_empty() {
            return Err(Outcome::Malformed("body is empty; expected JSON".into()));
        }
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| Outcome::Malformed(format!("body is not valid JSON: {e}")))?;
        let event = self
            .envelope
            .extract(&parts.headers, &value)
            .map_err(|e| Outcome::Malformed(e.to_string()))?;
        // Before anything else sees the event (the log line included, which would carry it).
        self.limits.check(&event)?;
        *seen = Some(event.clone());
        if event.test {
            return Err(Outcome::Ignored("test delivery acknowledged".into()));
        }
        if let Some(events) = &self.events {
            if !events.contains(&event.event_type) {
                return Err(Outcome::Ignored(format!(
                    "event type `{}` is not handled by this endpoint",
                    event.event_type
                )));
            }
        }
        let mark = self.ordering_key(&event)?;
        if let (Some((_, created_at)), Some(cutoff)) = (&mark, self.horizon_cutoff(now)) {
            if *created_at < cutoff {
                return Err(Outcome::Stale(format!(
                    "event time {} is older than the ordering horizon of {} s (before {})",
                    DateTime::from_timestamp_nanos(*created_at).to_rfc3339(),
                    self.horizon.map_or(0, |h| h.as_secs()),
                    DateTime::from_timestamp_nanos(cutoff).to_rfc3339()
                )));
            }
        }
        let key = |id: String| DeliveryKey {
            endpoint: self.name.to_string(),
            id,
        };
        let delivery = self.dedupe.then(|| {
            key(event
                .delivery_id
                .clone()
                .unwrap_or_else(|| body_hash(&body)))
        });
        // An id the signature does not cover could be fresh on every replay of one signed
        // body: such deliveries are the same delivery as far as anything authenticated says
        // when their bodies are, so the body's hash is recorded (and checked) beside the id.
        let replay = (self.dedupe
            && event.delivery_id.is_some()
            && self.verifier.authenticates_only_the_body()
            && self.envelope.delivery_id_from_headers())
        .then(|| key(body_hash(&body)))
        .filter(|replay| Some(replay) != delivery.as_ref());
        let delivery = Deliveries {
            id: delivery,
            replay,
        };
        let run = prepare(Parsed {
            value,
            event,
            parts,
            body,
            endpoint: Arc::clone(&self.name),
        })?;
        let now = unix_seconds(now);
        // The rest (the dedupe check too, made once under the key's lock) cannot be cancelled:
        // a sender that hangs up mid-handler must not stop the handler between its side effects
        // and the commit that records them. It runs here, and goes on in a task of its own if
        // this request is dropped or its deadline passes.
        let mut work = Detachable::new(Arc::clone(self).finish(mark, delivery, now, run));
        let finished = match self.deadline {
            None => (&mut work).await,
            Some(deadline) => match tokio::time::timeout(deadline, &mut work).await {
                Ok(finished) => finished,
                Err(_) => {
                    return Err(match self.on_deadline {
                        OnDeadline::Accept => Outcome::Accepted,
                        OnDeadline::Retry => Outcome::Pending,
                    })
                }
            },
        };
        finished.unwrap_or_else(|Panicked| Err(Outcome::Internal("the handler panicked".into())))
    }

    /// The time (nanoseconds since the epoch) before which events are stale by the ordering
    /// horizon at `now`, if the endpoint has one and orders.
    fn horizon_cutoff(&self, now: SystemTime) -> Option<i64> {
        let horizon = self.horizon.filter(|_| self.ordering != Ordering::Off)?;
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let cutoff = now.saturating_sub(horizon.as_nanos());
        Some(i64::try_from(cutoff).unwrap_or(i64::MAX))
    }

    fn ordering_key(&self, event: &EventMeta) -> Result<Option<(OrderingKey, i64)>, Outcome> {
        if self.ordering == Ordering::Off {
            return Ok(None);
        }
        let created_at: DateTime<Utc> = event.created_at.ok_or_else(|| {
            Outcome::Malformed(format!(
                "missing field `{}`: the ordering guard needs the event time",
                self.envelope.created_at_field()
            ))
        })?;
        let nanos = created_at.timestamp_nanos_opt().ok_or_else(|| {
            Outcome::Malformed("event time is outside the supported range".into())
        })?;
        let entity_id = event.entity_id.clone().ok_or_else(|| {
            Outcome::Malformed("missing entity id: the ordering guard needs it".into())
        })?;
        let event_type = match self.ordering {
            Ordering::PerEventType => event.event_type.clone(),
            _ => String::new(),
        };
        let key = OrderingKey {
            endpoint: self.name.to_string(),
            event_type,
            entity_type: event.entity_type.clone().unwrap_or_default(),
            entity_id,
        };
        Ok(Some((key, nanos)))
    }

    async fn finish(
        self: Arc<Self>,
        mark: Option<(OrderingKey, i64)>,
        delivery: Deliveries,
        now: i64,
        run: Run,
    ) -> Result<Answer, Outcome> {
        // Without ordering, concurrent copies meet on the body's key where there is one: it
        // is what replays under fresh ids share.
        let lock_key = match (&mark, delivery.replay.as_ref().or(delivery.id.as_ref())) {
            (Some((key, _)), _) => Some(key.encode()),
            (None, Some(delivery)) => Some(delivery.encode()),
            (None, None) => None,
        };
        let (_guard, _lease) = match lock_key {
            Some(key) => {
                let guard = self.locks.lock(key).await;
                // Taken after the in-process lock, so one process holds at most one lease per
                // key and waits for others' leases only once.
                let lease = self
                    .store
                    .lease(guard.key())
                    .await
                    .map_err(|e| self.unavailable(e))?;
                (Some(guard), lease)
            }
            None => (None, None),
        };
        // Checked again under the lock: a concurrent copy of this delivery may have been
        // handled while this one waited.
        for delivery in [&delivery.id, &delivery.replay].into_iter().flatten() {
            if self
                .store
                .is_handled(delivery, now)
                .await
                .map_err(|e| self.unavailable(e))?
            {
                return Err(Outcome::Duplicate);
            }
        }
        if let Some((key, created_at)) = &mark {
            let current = self
                .store
                .mark(key)
                .await
                .map_err(|e| self.unavailable(e))?;
            if self.ties.judge(*created_at, current) == Verdict::Stale {
                return Err(Outcome::Stale(stale_message(*created_at, current)));
            }
        }
        let response = match run().await {
            Ok(response) => response,
            Err(Refusal::Handler(e)) => return Err(Outcome::Rejected(e.status, e.message)),
            Err(Refusal::Response(response)) => {
                return Ok(Answer {
                    outcome: Outcome::Rejected(response.status(), "refused by the handler".into()),
                    response: Some(response),
                })
            }
        };
        let retention = i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX);
        let expires = now.saturating_add(retention);
        let commit = self.store.commit(Commit {
            mark,
            delivery: delivery.id.map(|d| (d, expires)),
        });
        match delivery.replay {
            None => commit.await,
            // Concurrent, so the embedded stores' group commit flushes both at once.
            Some(replay) => tokio::try_join!(
                commit,
                self.store.commit(Commit {
                    mark: None,
                    delivery: Some((replay, expires)),
                })
            )
            .map(drop),
        }
        .map_err(|e| self.unavailable(e))?;
        self.purge_if_due(now, (self.clock)());
        Ok(Answer {
            outcome: Outcome::Handled,
            response,
        })
    }

    /// A store failure: logged with its detail (store errors carry no secrets), answered 503
    /// with a generic message so the sender retries.
    fn unavailable(&self, error: StoreError) -> Outcome {
        tracing::error!(endpoint = %self.name, error = %error, "the store failed");
        Outcome::Unavailable(STORE_UNAVAILABLE.into())
    }

    /// Purges expired delivery ids at most once a minute, in a task of its own, batch after
    /// batch until none is left: a single batch a minute would forget fewer ids than a busy
    /// endpoint records (1,000 a minute against, say, 100 deliveries a second), and the store
    /// would grow for ever.
    fn purge_if_due(self: &Arc<Self>, now: i64, clock: SystemTime) {
        let last = self.last_purge.load(AtomicOrdering::Relaxed);
        if now - last < PURGE_EVERY_SECS
            || self
                .last_purge
                .compare_exchange(last, now, AtomicOrdering::AcqRel, AtomicOrdering::Relaxed)
                .is_err()
            || self.purging.swap(true, AtomicOrdering::AcqRel)
        {
            return;
        }
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            let mut removed = 0;
            loop {
                match inner.store.purge_expired(now, PURGE_BATCH).await {
                    Ok(0) => break,
                    Ok(batch) => {
                        removed += batch;
                        // Each batch is bounded work; between two, the requests go first.
                        tokio::task::yield_now().await;
                    }
                    Err(e) => {
                        tracing::warn!(endpoint = %inner.name, error = %e,
                            "purging delivery ids failed");
                        break;
                    }
                }
            }
            if removed > 0 {
                tracing::debug!(endpoint = %inner.name, removed, "expired delivery ids purged");
            }
            // Marks older than the horizon decide nothing: every event that old is stale.
            if let Some(before) = inner.horizon_cutoff(clock) {
                loop {
                    match inner.store.purge_marks(before, PURGE_BATCH).await {
                        Ok(0) => break,
                        Ok(_) => tokio::task::yield_now().await,
                        Err(e) => {
                            tracing::warn!(endpoint = %inner.name, error = %e,
                                "purging ordering marks failed");
                            break;
                        }
                    }
                }
            }
            inner.purging.store(false, AtomicOrdering::Release);
        });
    }
}

fn stale_message(created_at: i64, mark: Option<i64>) -> String {
    let show = |nanos: i64| DateTime::from_timestamp_nanos(nanos).to_rfc3339();
    match mark {
        Some(mark) if mark == created_at => format!(
            "an event with the same time ({}) was already handled for this key",
            show(created_at)
        ),
        Some(mark) => format!(
            "event time {} is older than the newest handled event for this key ({})",
            show(created_at),
            show(mark)
        ),
        None => "stale".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognised() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/vnd.github+json",
            "text/json",
        ] {
            assert!(is_json(&HeaderValue::from_static(ok)), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "json",
            "",
        ] {
            assert!(!is_json(&HeaderValue::from_static(bad)), "{bad}");
        }
    }

    #[test]
    fn regression_default_retention_outlasts_every_senders_retry_window() {
        // The longest documented windows: Standard Webhooks' schedule adds up to 27 h 35 min
        // 5 s; Stripe retries for up to 3 days. 24 hours was shorter than both.
        let standard_webhooks =
            Duration::from_secs(5 + 5 * 60 + 30 * 60 + (2 + 5 + 10 + 10) * 3600);
        let stripe = Duration::from_secs(3 * 24 * 3600);
        assert!(DEFAULT_RETENTION > standard_webhooks);
        assert!(DEFAULT_RETENTION > stripe);
    }

    #[test]
    fn a_value_payload_is_the_parsed_value_and_a_typed_one_names_the_bad_field() {
        let value = serde_json::json!({"current": {"status": "active"}});
        assert_eq!(into_payload::<Value>(value.clone()), Ok(value.clone()));
        #[derive(Debug, serde::Deserialize)]
        struct Typed {
            #[allow(dead_code)]
            current: Current,
        }
        #[derive(Debug, serde::Deserialize)]
        struct Current {
            #[allow(dead_code)]
            status: u32,
        }
        let error = into_payload::<Typed>(value).unwrap_err();
        assert!(error.contains("`current.status`"), "{error}");
    }

    #[test]
    fn handler_errors_are_always_errors() {
        assert_eq!(
            HandlerError::new(StatusCode::OK, "x").status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(HandlerError::bad_request("x").status(), 400);
    }
}
