//! Building an endpoint: one `Options` value of user settings, a store and a handler.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;

use super::assess::Assessor;
use super::handler::{self, Delivery, ErasedHandler, HandlerError};
use super::layer::ReceiverLayer;
use super::public_url::PublicUrl;
use super::{
    BuildError, Inner, OnDeadline, Receiver, DEFAULT_BATCH_LIMIT, DEFAULT_BODY_LIMIT,
    DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_ID_BYTES, DEFAULT_MAX_TYPE_BYTES, DEFAULT_RETENTION,
};
use crate::envelope::{Envelope, EventMeta};
use crate::handshake::Handshake;
use crate::ordering::{KeyLocks, OrderingScope, TiePolicy};
use crate::outcome::Outcome;
use crate::store::{MemoryStore, Store};
use crate::verify::{Verifier, Verify};

pub(super) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The user's settings of one endpoint, as the builder collects them; the built endpoint
/// keeps them whole.
pub(super) struct Options {
    pub(super) name: Arc<str>,
    pub(super) verifier: Box<dyn Verify>,
    pub(super) envelope: Envelope,
    // `None` until chosen: the default depends on the envelope (see `ordering()`).
    pub(super) ordering: Option<OrderingScope>,
    pub(super) horizon: Option<Duration>,
    pub(super) ties: TiePolicy,
    pub(super) dedupe: bool,
    pub(super) retention: Duration,
    pub(super) body_limit: usize,
    pub(super) batch_limit: usize,
    pub(super) body_timeout: Duration,
    pub(super) deadline: Option<Duration>,
    pub(super) on_deadline: OnDeadline,
    pub(super) limits: IdLimits,
    pub(super) strict_content_type: bool,
    pub(super) form_bodies: bool,
    pub(super) unsigned_tests: bool,
    pub(super) unsigned_attributes: bool,
    pub(super) events: Option<HashSet<String>>,
    // Tried in the order given; the first that recognises a request answers it.
    pub(super) handshakes: Vec<Handshake>,
    // `None`: the URL a sender signs is rebuilt from the `Host` header (see `PublicUrl`).
    pub(super) public_url: Option<PublicUrl>,
    pub(super) clock: Clock,
}

impl Options {
    /// How deliveries are grouped for the ordering guard: as chosen, or the envelope's default.
    pub(super) fn ordering(&self) -> OrderingScope {
        self.ordering
            .unwrap_or_else(|| OrderingScope::default_for(&self.envelope))
    }
}

/// The longest sender-chosen envelope fields an endpoint takes, in bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct IdLimits {
    pub(super) types: usize,
    pub(super) ids: usize,
}

impl IdLimits {
    /// Refuses an event whose event type, entity type, entity id or delivery id is over its
    /// limit: each ends up in a store key (and the log), so none may be as long as a body.
    /// `own_id` says the delivery id is the endpoint's own digest (a mapping's
    /// [`changed_by_retries`](crate::envelope::Mapping::changed_by_retries)), not the
    /// sender's: it has a fixed length and is not held to the limit.
    pub(super) fn check(self, event: &EventMeta, own_id: bool) -> Result<(), Outcome> {
        let delivery_id = event.delivery_id.as_ref().filter(|_| !own_id);
        let fields = [
            ("event type", Some(&event.event_type), self.types),
            ("entity type", event.entity_type.as_ref(), self.types),
            ("entity id", event.entity_id.as_ref(), self.ids),
            ("delivery id", delivery_id, self.ids),
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

/// Builds a [`Receiver`] (or a [`ReceiverLayer`]).
///
/// ```
/// use receiver_sdk::{envelope::Envelope, verify::Verifier, Receiver};
///
/// let receiver = Receiver::builder("sonar")
///     .verifier(Verifier::none())
///     .envelope(Envelope::Sonar)
///     .store(receiver_sdk::store::MemoryStore::new())
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
    options: Options,
    store: Option<Arc<dyn Store>>,
    handler: Option<ErasedHandler>,
}

impl fmt::Debug for ReceiverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverBuilder")
            .field("name", &self.options.name)
            .field("verifier", &self.options.verifier)
            .field("envelope", &self.options.envelope)
            .field("ordering", &self.options.ordering)
            .finish_non_exhaustive()
    }
}

impl ReceiverBuilder {
    pub(super) fn new(name: String) -> Self {
        Self {
            options: Options {
                name: Arc::from(name),
                verifier: Box::new(Verifier::none()),
                envelope: Envelope::Sonar,
                ordering: None,
                horizon: None,
                ties: TiePolicy::default(),
                dedupe: true,
                retention: DEFAULT_RETENTION,
                body_limit: DEFAULT_BODY_LIMIT,
                batch_limit: DEFAULT_BATCH_LIMIT,
                body_timeout: DEFAULT_BODY_TIMEOUT,
                deadline: None,
                on_deadline: OnDeadline::Accept,
                limits: IdLimits {
                    types: DEFAULT_MAX_TYPE_BYTES,
                    ids: DEFAULT_MAX_ID_BYTES,
                },
                strict_content_type: true,
                form_bodies: false,
                unsigned_tests: false,
                unsigned_attributes: false,
                events: None,
                handshakes: Vec::new(),
                public_url: None,
                clock: Arc::new(SystemTime::now),
            },
            store: None,
            handler: None,
        }
    }

    /// How senders authenticate (default: none): a [`Verifier`] for the schemes this crate
    /// knows, or any [`Verify`] of your own.
    pub fn verifier(mut self, verifier: impl Verify) -> Self {
        self.options.verifier = Box::new(verifier);
        self
    }

    /// Where the event type, entity, time and delivery id are (default: Sonar).
    pub fn envelope(mut self, envelope: Envelope) -> Self {
        self.options.envelope = envelope;
        self
    }

    /// How deliveries are grouped for the ordering guard. The default is per event type and
    /// entity for envelopes that carry an entity and a time (Sonar, the integration shape,
    /// SuperOffice), and off for the others.
    pub fn ordering(mut self, ordering: OrderingScope) -> Self {
        self.options.ordering = Some(ordering);
        self
    }

    /// An event whose time is older than now minus `horizon` is stale by definition (answered
    /// 200 `stale`, its message naming the horizon, never handled), and marks older than the
    /// horizon are purged in the background, so marks no longer live for ever. Off by default:
    /// only you know that the sender's time field is the event's time and how late a real
    /// delivery can come (retries, backfills, a replay after an outage); keep the horizon
    /// well past all of those. Applies only where ordering is on.
    pub fn ordering_horizon(mut self, horizon: Duration) -> Self {
        self.options.horizon = Some(horizon);
        self
    }

    /// What to do with a different delivery whose time equals the mark (default: handle it).
    pub fn ties(mut self, ties: TiePolicy) -> Self {
        self.options.ties = ties;
        self
    }

    /// Whether a delivery already handled is answered `duplicate` without running the
    /// handler again (default: on).
    pub fn dedupe(mut self, on: bool) -> Self {
        self.options.dedupe = on;
        self
    }

    /// How long a handled delivery id is remembered (default 4 days). Keep it longer than
    /// the longest retry window of the sender.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.options.retention = retention;
        self
    }

    /// Where marks and delivery ids live: any [`Store`](crate::store::Store), such as a
    /// [`SledStore`](crate::store::SledStore) directory, a
    /// [`MemoryStore`](crate::store::MemoryStore) (lost when the process ends) or, with their
    /// features, fjall or PostgreSQL. An `Arc` of a store is a store too, so endpoints can
    /// share one and the caller can keep a handle to it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use receiver_sdk::store::{SledStore, Store};
    /// use receiver_sdk::{Delivery, Receiver};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let shared: Arc<dyn Store> = Arc::new(SledStore::open(dir.path())?);
    /// let handle = |_: Delivery| async { Ok(()) };
    /// let orders = Receiver::builder("orders").store(Arc::clone(&shared)).handler(handle).build()?;
    /// let invoices = Receiver::builder("invoices").store(shared).handler(handle).build()?;
    /// # drop((orders, invoices));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn store(mut self, store: impl Store) -> Self {
        // An `Arc` given here is wrapped once more: one pointer hop per store call, nothing
        // beside the call itself.
        self.store = Some(Arc::new(store));
        self
    }

    /// The largest body accepted (default 1 MiB); larger ones get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.options.body_limit = bytes;
        self
    }

    /// The most events one [batch](crate::envelope::Envelope::batch) may hold (default
    /// [`DEFAULT_BATCH_LIMIT`]); a larger batch gets 413 before any of it is handled.
    pub fn batch_limit(mut self, events: usize) -> Self {
        self.options.batch_limit = events;
        self
    }

    /// How long a sender may take to send the body (default 30 s); slower ones get 408.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.options.body_timeout = timeout;
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
        self.options.deadline = Some(deadline);
        self
    }

    /// What the [deadline](Self::deadline) answers (default [`OnDeadline::Accept`], 202).
    pub fn on_deadline(mut self, answer: OnDeadline) -> Self {
        self.options.on_deadline = answer;
        self
    }

    /// The longest event type and entity type accepted, in bytes (default
    /// [`DEFAULT_MAX_TYPE_BYTES`]); a delivery with a longer one is answered 400 naming the
    /// field, before the handler runs or anything is stored.
    pub fn max_type_bytes(mut self, bytes: usize) -> Self {
        self.options.limits.types = bytes;
        self
    }

    /// The longest entity id and delivery id accepted, in bytes (default
    /// [`DEFAULT_MAX_ID_BYTES`]); a delivery with a longer one is answered 400 naming the
    /// field, before the handler runs or anything is stored. Keys are stored as given in the
    /// embedded stores, so this also bounds what one delivery adds to a sled or fjall
    /// directory (PostgreSQL stores a digest of every key).
    pub fn max_id_bytes(mut self, bytes: usize) -> Self {
        self.options.limits.ids = bytes;
        self
    }

    /// Accepts any content type as long as the body is JSON (default: a content type other
    /// than JSON is refused with 415; a missing one is accepted).
    pub fn accept_any_content_type(mut self) -> Self {
        self.options.strict_content_type = false;
        self
    }

    /// Accepts `application/x-www-form-urlencoded` bodies, as Twilio posts them, read as a
    /// JSON object of their parameters (a name sent several times: an array of its values),
    /// so envelopes and handlers read them as JSON (`/MessageSid`). Off by default: a form
    /// body is then refused with 415 like any other content type but JSON.
    pub fn accept_form_bodies(mut self) -> Self {
        self.options.form_bodies = true;
        self
    }

    /// Takes CloudEvents binary-mode deliveries whose `ce-*` attributes the verifier's
    /// signature does not cover (an HMAC of the body, Standard Webhooks). By default such a
    /// delivery is refused with 401: anyone holding one signed body could post it again with
    /// an id, type, subject and time of their choosing, and a time far ahead would make every
    /// real update of that subject stale. Send structured mode (the attributes are then in
    /// the signed body) rather than turn this on. With it on, a signed message that was
    /// handled is a duplicate when it comes back under other attributes; one the endpoint
    /// answered without handling it (ignored, refused) can come back under other attributes
    /// and be handled. Binary mode under a verifier that signs no message (none, Basic, a
    /// token) is always taken.
    pub fn accept_unsigned_cloudevents_attributes(mut self) -> Self {
        self.options.unsigned_attributes = true;
        self
    }

    /// Answers a registration test that fails verification (header `X-Hook-Test: true`, as
    /// SuperOffice sends before saving a webhook) with 200 `ignored` instead of 401, so a
    /// sender that does not sign its test can still register the endpoint. Safe because a test
    /// delivery never reaches the handler or the store; off by default.
    pub fn acknowledge_unsigned_tests(mut self) -> Self {
        self.options.unsigned_tests = true;
        self
    }

    /// Handles only these event types; others are answered 200 `ignored`.
    pub fn events<I, S>(mut self, events: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.events = Some(events.into_iter().map(Into::into).collect());
        self
    }

    /// Answers a sender's setup [`Handshake`] before the pipeline: the handler is not called
    /// and nothing is stored. Call it once per handshake the endpoint answers (none by
    /// default); the first one that recognises a request answers it. A method other than HEAD
    /// and POST is answered 405 unless a handshake given here takes it.
    ///
    /// ```
    /// use receiver_sdk::handshake::Handshake;
    /// use receiver_sdk::Receiver;
    ///
    /// let stage = Receiver::builder("whatsapp")
    ///     .handshake(Handshake::meta("my-verify-token"))
    ///     .assessor();
    /// # drop(stage);
    /// ```
    pub fn handshake(mut self, handshake: Handshake) -> Self {
        self.options.handshakes.push(handshake);
        self
    }

    /// The public base of this endpoint's URL, as the sender was given it, for the schemes
    /// that sign the URL (Twilio, Square, HubSpot, Trello): set it whenever a proxy or load
    /// balancer stands in front, since the host, scheme or path the receiver sees then differ
    /// from what the sender signed. The request's path and query are joined to it; see
    /// [`PublicUrl`] for how, and for what is used without one.
    ///
    /// ```
    /// use receiver_sdk::verify::Verifier;
    /// use receiver_sdk::{PublicUrl, Receiver};
    ///
    /// let stage = Receiver::builder("twilio")
    ///     .verifier(Verifier::provider("twilio", ["auth-token"])?)
    ///     .public_url(PublicUrl::parse("https://example.com/hooks")?)
    ///     .assessor();
    /// # drop(stage);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn public_url(mut self, url: PublicUrl) -> Self {
        self.options.public_url = Some(url);
        self
    }

    /// The clock used for timestamp tolerance and dedupe expiry (tests inject their own).
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.options.clock = Arc::new(clock);
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
        self.handler = Some(handler::erase(handler));
        self
    }

    fn into_inner(self) -> Result<Inner, BuildError> {
        let store = match self.store {
            Some(store) => store,
            None if self.options.ordering() == OrderingScope::Off && !self.options.dedupe => {
                Arc::new(MemoryStore::new())
            }
            None => return Err(BuildError::MissingStore),
        };
        Ok(Inner {
            stage: Assessor::new(self.options),
            store,
            locks: Arc::new(KeyLocks::default()),
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
    /// handler: the service gets the request with its body intact and an
    /// [`WebhookEvent`](crate::WebhookEvent) in its extensions; a 2xx answer from it commits
    /// the delivery.
    pub fn layer(self) -> Result<ReceiverLayer, BuildError> {
        Ok(ReceiverLayer {
            inner: Arc::new(self.into_inner()?),
        })
    }

    /// Builds only the endpoint's pure stage, [`Assessor`]: what it decides from a request
    /// alone, with no store and no handler (none is needed, and a store or handler given is
    /// not used). For tools that show what an endpoint with these settings would answer.
    pub fn assessor(self) -> Assessor {
        Assessor::new(self.options)
    }
}
