//! The pure stage: everything an endpoint decides from one request alone, in one function.
//!
//! The endpoint calls it for every POST; tools that show what an endpoint would answer (the
//! reference receiver's inspector) call it too, so the two cannot drift. What is left needs
//! the store: whether the delivery was handled, and the mark of its ordering key.

use std::fmt;
use std::ops::Range;
use std::time::{Duration, SystemTime};

use http::{header, HeaderMap, HeaderValue, Method};
use serde_json::Value;

use super::builder::Options;
use super::handler::InBatch;
use crate::dedupe::{self, DeliveryKeys};
use crate::envelope::{EnvelopeError, EventMeta};
use crate::handshake::{self, Reply};
use crate::ordering::{self, OrderingScope};
use crate::outcome::{Mark, Outcome};
use crate::store::{DeliveryKey, EventTime, OrderingKey};
use crate::verify::{SignedRequest, Verify as _, VerifyFailure};

/// An endpoint's pure stage: what it decides from a request alone, without a store or a
/// handler.
///
/// A [`Receiver`](crate::Receiver) holds one and runs every POST through it
/// ([`Receiver::assess`](crate::Receiver::assess) is the same call); a tool that only shows
/// what an endpoint would answer builds one with [`ReceiverBuilder::assessor`](crate::ReceiverBuilder::assessor).
///
/// ```
/// use std::time::SystemTime;
/// use http::{HeaderMap, Method};
/// use receiver_sdk::{envelope::Envelope, Decision, Outcome, Receiver};
///
/// let stage = Receiver::builder("hooks").envelope(Envelope::Raw).assessor();
/// let assessment = stage.assess(&Method::POST, &HeaderMap::new(), b"", false, SystemTime::now());
/// assert!(matches!(assessment.decision, Decision::Answer(Outcome::Malformed(_))));
/// ```
pub struct Assessor {
    pub(super) options: Options,
}

impl fmt::Debug for Assessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assessor")
            .field("name", &self.options.name)
            .field("verifier", &self.options.verifier)
            .field("envelope", &self.options.envelope)
            .finish_non_exhaustive()
    }
}

/// What the pure stage made of one request.
#[derive(Debug)]
#[non_exhaustive]
pub struct Assessment {
    /// The signature or credentials check, made whatever the method; `None` for HEAD and for
    /// a truncated body (not the bytes the sender signed).
    pub verification: Option<Result<(), VerifyFailure>>,
    /// The event as the envelope reads it, where the body is whole and readable, whatever the
    /// decision.
    pub event: Option<EventMeta>,
    /// The answer, or what is left to check.
    pub decision: Decision,
}

/// Where the pure stage left a request. Exhaustive on purpose: a new kind of decision must be
/// handled by everyone who acts on one.
#[derive(Debug)]
pub enum Decision {
    /// HEAD, a reachability probe: answered 200 with no body, nothing checked.
    Probe,
    /// A sender's setup [handshake](crate::handshake), answered as it is: never a delivery,
    /// no handler, nothing stored. Its reply may be a refusal (a wrong verify token).
    Handshake(Reply),
    /// Answered without the store.
    Answer(Outcome),
    /// Passed every check a request alone can fail; the store has the last word.
    Check(Box<Checks>),
    /// A [batch](crate::envelope::Envelope::batch) whose every event passed the checks a
    /// request alone can fail or was answered by them (a test event, an event type the
    /// endpoint does not take, one older than the horizon). An event that fails them refuses
    /// the whole batch, as [`Outcome::BatchFailed`] in [`Decision::Answer`].
    Batch(Box<Batch>),
}

/// The events of a batch, in order, as the pure stage left each.
#[derive(Debug)]
#[non_exhaustive]
pub struct Batch {
    /// One entry per event of the batch.
    pub events: Vec<BatchEvent>,
    /// The whole body's hash, where the signature covers the body alone and the envelope may
    /// read ids from headers: recorded once the batch reaches the store, so its signed body
    /// replayed as one delivery (a CloudEvents binary-mode event, whose attributes are the
    /// replayer's headers) is a duplicate.
    pub replay: Option<DeliveryKey>,
}

/// Where the pure stage left one event of a batch.
#[derive(Debug)]
pub enum BatchEvent {
    /// Answered without the store, with a success the batch goes on after (`ignored`,
    /// `stale`).
    Answer {
        /// The event as the envelope reads it.
        event: EventMeta,
        /// What it came to.
        outcome: Outcome,
    },
    /// Left to the store, like a delivery of its own.
    Check(Box<Checks>),
}

/// What a delivery that passed the pure stage still needs: the store's lookups, and the
/// parsed body for the handler.
#[derive(Debug)]
#[non_exhaustive]
pub struct Checks {
    /// The ordering key and the event time, when ordering is on.
    pub ordering: Option<(OrderingKey, EventTime)>,
    /// The dedupe keys (none when dedupe is off).
    pub deliveries: DeliveryKeys,
    /// The body (a batch event's own part of it), parsed once.
    pub value: Value,
    // The handler's copy of the event (the assessment's own is for display and logs).
    pub(super) event: EventMeta,
    // Where a batch event is: its place, and its bytes' range in the body.
    pub(super) item: Option<(InBatch, Range<usize>)>,
}

impl Checks {
    /// The event as the envelope reads it.
    pub fn event(&self) -> &EventMeta {
        &self.event
    }

    /// A batch event's place in its batch; `None` for a delivery of one event.
    pub fn in_batch(&self) -> Option<InBatch> {
        self.item.as_ref().map(|(place, _)| *place)
    }
}

/// What [`Assessor::examine`] leaves to the store: one event, or a batch of them.
pub(super) enum Examined {
    One(Box<Checks>),
    Batch(Batch),
}

/// What the endpoint answers before it reads a body.
pub(super) enum Early {
    Probe,
    Refuse(Outcome),
}

impl From<Early> for Decision {
    fn from(early: Early) -> Self {
        match early {
            Early::Probe => Self::Probe,
            Early::Refuse(outcome) => Self::Answer(outcome),
        }
    }
}

impl Assessor {
    pub(super) fn new(options: Options) -> Self {
        Self { options }
    }

    /// Runs the endpoint's checks on one request, in its order: method, size, signature, the
    /// configured [handshakes](crate::handshake) (those that need no query string; see
    /// [`assess_query`](Self::assess_query)), the unsigned-test acknowledgement, content type, empty body, JSON, envelope, the
    /// length limits, test delivery, the events filter, the ordering key, the horizon.
    /// `truncated` says the body was cut at a limit: it is answered `too_large`, naming this
    /// endpoint's limit. `now` is the time signatures and the horizon are judged at.
    pub fn assess(
        &self,
        method: &Method,
        headers: &HeaderMap,
        body: &[u8],
        truncated: bool,
        now: SystemTime,
    ) -> Assessment {
        self.assess_query(method, None, headers, body, truncated, now)
    }

    /// [`assess`](Self::assess) for a request whose URL had the query string `query` (the
    /// part after `?`, still URL-encoded), which the handshakes of Microsoft Graph, Meta and
    /// Dropbox come in.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use http::{HeaderMap, Method};
    /// use receiver_sdk::handshake::Handshake;
    /// use receiver_sdk::{Decision, Receiver};
    ///
    /// let stage = Receiver::builder("dropbox").handshake(Handshake::dropbox()).assessor();
    /// let now = SystemTime::now();
    /// let query = Some("challenge=abc123");
    /// let assessment = stage.assess_query(&Method::GET, query, &HeaderMap::new(), b"", false, now);
    /// assert!(matches!(assessment.decision, Decision::Handshake(reply) if !reply.is_refused()));
    /// ```
    pub fn assess_query(
        &self,
        method: &Method,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
        truncated: bool,
        now: SystemTime,
    ) -> Assessment {
        self.judge(method, query, None, headers, body, truncated, now)
    }

    /// [`assess`](Self::assess) for a request whose full URL is known, as the endpoint
    /// builds it (see [`PublicUrl`](crate::PublicUrl)): what a scheme that signs the URL
    /// (Twilio, Square, HubSpot, Trello) needs, and where the handshakes find their query.
    /// [`assess`](Self::assess) and [`assess_query`](Self::assess_query) know no URL, so such
    /// a scheme fails there with [`FailureKind::UrlNotGiven`](crate::verify::FailureKind).
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use http::{HeaderMap, Method};
    /// use receiver_sdk::verify::{sign, SignedRequest, Verifier};
    /// use receiver_sdk::{Decision, Receiver};
    ///
    /// let stage = Receiver::builder("trello")
    ///     .verifier(Verifier::provider("trello", ["app-secret"])?)
    ///     .assessor();
    /// let (url, body) = ("https://example.com/trello", br#"{"action":{}}"#);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-trello-webhook", sign::trello("app-secret", url, body).parse()?);
    /// let request = SignedRequest::new(&Method::POST, url, &headers, body);
    /// let assessment = stage.assess_request(&request, false, SystemTime::now());
    /// assert_eq!(assessment.verification, Some(Ok(())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn assess_request(
        &self,
        request: &SignedRequest<'_>,
        truncated: bool,
        now: SystemTime,
    ) -> Assessment {
        let SignedRequest {
            method,
            url,
            headers,
            body,
            ..
        } = *request;
        let query = url.split_once('?').map(|(_, query)| query);
        self.judge(method, query, Some(url), headers, body, truncated, now)
    }

    /// The verifier's judgement of a request, with its URL where known.
    pub(super) fn verify(
        &self,
        method: &Method,
        url: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), VerifyFailure> {
        let verifier = &self.options.verifier;
        match url {
            Some(url) => {
                verifier.verify_request(&SignedRequest::new(method, url, headers, body), now)
            }
            None => verifier.verify(headers, body, now),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn judge(
        &self,
        method: &Method,
        query: Option<&str>,
        url: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
        truncated: bool,
        now: SystemTime,
    ) -> Assessment {
        if let Some(early) = self.admit(method, truncated) {
            // Shown even where the answer does not depend on it.
            let whole = *method != Method::HEAD && !truncated;
            return Assessment {
                verification: whole.then(|| self.verify(method, url, headers, body, now)),
                event: whole.then(|| self.event(headers, body)).flatten(),
                decision: early.into(),
            };
        }
        let verified = self.verify(method, url, headers, body, now);
        if let Some(reply) = self.handshake(method, query, headers, body, &verified) {
            return Assessment {
                verification: Some(verified),
                event: None,
                decision: Decision::Handshake(reply),
            };
        }
        if *method != Method::POST {
            return Assessment {
                verification: Some(verified),
                event: self.event(headers, body),
                decision: Decision::Answer(Outcome::MethodNotAllowed),
            };
        }
        let mut event = None;
        let decision = match self.examine(headers, body, now, &verified, &mut event) {
            Ok(Examined::One(checks)) => Decision::Check(checks),
            Ok(Examined::Batch(batch)) => Decision::Batch(Box::new(batch)),
            Err(outcome) => {
                // The endpoint stops reading where its checks stop; the assessment still
                // shows what the envelope reads.
                event = event.or_else(|| self.event(headers, body));
                Decision::Answer(outcome)
            }
        };
        Assessment {
            verification: Some(verified),
            event,
            decision,
        }
    }

    /// How this stage groups deliveries for the ordering guard (as chosen, or the envelope's
    /// default).
    pub fn ordering(&self) -> OrderingScope {
        self.options.ordering()
    }

    /// The event as the envelope reads it from a JSON body, if it can.
    fn event(&self, headers: &HeaderMap, body: &[u8]) -> Option<EventMeta> {
        let value: Value = serde_json::from_slice(body).ok()?;
        self.options.envelope.extract(headers, &value).ok()
    }

    /// The checks made before a body is read: the method (HEAD, POST, or one a configured
    /// handshake takes; a HEAD a handshake takes goes on to it), and a body over the limit (by its declared length, or cut at it).
    pub(super) fn admit(&self, method: &Method, too_large: bool) -> Option<Early> {
        let taken = || self.options.handshakes.iter().any(|h| h.takes(method));
        // A HEAD is a probe unless a handshake (Trello's) is configured to answer it.
        if *method == Method::HEAD && !taken() {
            return Some(Early::Probe);
        }
        if *method != Method::POST && !taken() {
            return Some(Early::Refuse(Outcome::MethodNotAllowed));
        }
        too_large.then(|| Early::Refuse(self.too_large()))
    }

    /// The reply of the first configured handshake that recognises the request, after the
    /// verifier's word on it (Slack's and Zoom's must be signed).
    pub(super) fn handshake(
        &self,
        method: &Method,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
        verified: &Result<(), VerifyFailure>,
    ) -> Option<Reply> {
        let request = handshake::Request {
            method,
            query,
            headers,
            body,
            verified,
        };
        self.options
            .handshakes
            .iter()
            .find_map(|handshake| handshake.answer(&request))
    }

    pub(super) fn too_large(&self) -> Outcome {
        Outcome::TooLarge {
            limit: self.options.body_limit,
        }
    }

    /// The checks of a whole POST body, after `verified`. `seen` gets the event once it is
    /// within the length limits (so a log line may carry it).
    pub(super) fn examine(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
        verified: &Result<(), VerifyFailure>,
        seen: &mut Option<EventMeta>,
    ) -> Result<Examined, Outcome> {
        let options = &self.options;
        if let Err(failure) = verified {
            if options.unsigned_tests && is_hook_test(headers) {
                return Err(Outcome::Ignored(format!(
                    "test delivery acknowledged; it failed verification ({failure}), as real \
                     deliveries would"
                )));
            }
            return Err(Outcome::Unauthorized {
                reason: failure.to_string(),
                challenge: options.verifier.challenge(),
            });
        }
        let content_type = headers.get(header::CONTENT_TYPE);
        let form = options.form_bodies && content_type.is_some_and(is_form);
        if options.strict_content_type && !form {
            if let Some(content_type) = content_type {
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
        if !form {
            if let Some(items) = options
                .envelope
                .batch_within(headers, body, options.batch_limit)
            {
                let items = items.map_err(|e| match e {
                    EnvelopeError::TooManyEvents { limit } => Outcome::TooManyEvents { limit },
                    other => Outcome::Malformed(other.to_string()),
                })?;
                return self
                    .examine_batch(headers, body, &items, now)
                    .map(Examined::Batch);
            }
        }
        let value: Value = if form {
            form_value(body)
        } else {
            serde_json::from_slice(body)
                .map_err(|e| Outcome::Malformed(format!("body is not valid JSON: {e}")))?
        };
        let event = options
            .envelope
            .extract(headers, &value)
            .map_err(|e| Outcome::Malformed(e.to_string()))?;
        self.refuse_unsigned_attributes(headers)?;
        // Before anything else sees the event (the log line included, which would carry it).
        options
            .limits
            .check(&event, options.envelope.makes_delivery_id())?;
        *seen = Some(event.clone());
        let replay = self.replay_of(headers, body, options.envelope.delivery_id_from_headers());
        let ordering = self.pass(&event, now)?;
        let checks = self.checks(event, value, body, replay, ordering);
        Ok(Examined::One(Box::new(checks)))
    }

    /// The checks of each event of a batch whose events are `items` (parts of `body`). An
    /// event that fails them refuses the batch, naming it.
    fn examine_batch(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        items: &[&[u8]],
        now: SystemTime,
    ) -> Result<Batch, Outcome> {
        let options = &self.options;
        let len = items.len();
        let shared_id = options.envelope.item_id_from_headers();
        // Where the signature does not cover the header an id may come from, what that header
        // says is the replayer's to choose: the whole signed message is known by its hash too
        // (so it cannot come back as one binary-mode CloudEvent with attributes of its own),
        // and each event whose id is a header's by that hash and its place (alike events of
        // two messages the sender signed apart are not one).
        let whole = self
            .replay_of(headers, body, options.envelope.delivery_id_from_headers())
            .filter(|_| options.dedupe)
            .map(|hash| DeliveryKey::new(&*options.name, hash));
        let mut events = Vec::with_capacity(len);
        for (index, item) in items.iter().enumerate() {
            let failed = |outcome| Outcome::BatchFailed {
                index,
                len,
                done: 0,
                recorded: options.dedupe,
                outcome: Box::new(outcome),
            };
            let place = InBatch { index, len };
            let value: Value = serde_json::from_slice(item)
                .map_err(|e| failed(Outcome::Malformed(format!("not valid JSON: {e}"))))?;
            let mut event = options
                .envelope
                .extract_item(headers, &value)
                .map_err(|e| failed(Outcome::Malformed(e.to_string())))?;
            // The sender's id is held to the limit; the place is the endpoint's own addition.
            options
                .limits
                .check(&event, options.envelope.makes_delivery_id())
                .map_err(failed)?;
            if shared_id {
                // One header id for the whole batch: each event is known by it and its place.
                event.delivery_id = event.delivery_id.map(|id| format!("{id}#{index}"));
            }
            match self.pass(&event, now) {
                Ok(ordering) => {
                    // A header id is the whole message's, so its replay key is too, by place.
                    let replay = whole
                        .as_ref()
                        .filter(|_| shared_id)
                        .map(|whole| format!("{}#{index}", whole.id));
                    let mut checks = self.checks(event, value, item, replay, ordering);
                    // `item` is a part of `body`, so its offset is the distance between them.
                    let start = item.as_ptr() as usize - body.as_ptr() as usize;
                    checks.item = Some((place, start..start + item.len()));
                    events.push(BatchEvent::Check(Box::new(checks)));
                }
                Err(outcome) if outcome.is_success() => {
                    events.push(BatchEvent::Answer { event, outcome });
                }
                Err(outcome) => return Err(failed(outcome)),
            }
        }
        Ok(Batch {
            events,
            replay: whole,
        })
    }

    /// The checks an event can fail on its own: test, the events filter, its ordering key,
    /// the horizon; its ordering key and time when it passes.
    fn pass(
        &self,
        event: &EventMeta,
        now: SystemTime,
    ) -> Result<Option<(OrderingKey, EventTime)>, Outcome> {
        let options = &self.options;
        if event.test {
            return Err(Outcome::Ignored("test delivery acknowledged".into()));
        }
        if let Some(events) = &options.events {
            if !events.contains(&event.event_type) {
                return Err(Outcome::Ignored(format!(
                    "event type `{}` is not handled by this endpoint",
                    event.event_type
                )));
            }
        }
        let ordering =
            ordering::key_for(&options.name, options.ordering(), &options.envelope, event)?;
        if let (Some((_, created_at)), Some((horizon, cutoff))) =
            (&ordering, self.horizon_cutoff(now))
        {
            if *created_at < cutoff {
                return Err(Outcome::Stale {
                    created_at: *created_at,
                    mark: Mark::Horizon { horizon, cutoff },
                });
            }
        }
        Ok(ordering)
    }

    /// Refuses a CloudEvents binary-mode delivery whose `ce-*` attributes the signature does
    /// not cover, unless the endpoint takes them
    /// ([`accept_unsigned_cloudevents_attributes`](crate::ReceiverBuilder::accept_unsigned_cloudevents_attributes)).
    fn refuse_unsigned_attributes(&self, headers: &HeaderMap) -> Result<(), Outcome> {
        let options = &self.options;
        if options.unsigned_attributes || !options.envelope.attributes_in_headers(headers) {
            return Ok(());
        }
        let Some(signed) = options.verifier.signed_headers() else {
            return Ok(());
        };
        let covered = ["ce-id", "ce-source", "ce-type", "ce-time", "ce-subject"]
            .iter()
            .all(|name| signed.iter().any(|header| header == name));
        if covered {
            return Ok(());
        }
        Err(Outcome::Unauthorized {
            reason: "CloudEvents binary mode: this endpoint's signature does not cover the \
                     ce-* attributes, so they could be anyone's; send structured mode \
                     (application/cloudevents+json)"
                .into(),
            challenge: None,
        })
    }

    /// The hash a delivery whose id may come from a header (`header_id`) is also known by,
    /// where the signature does not cover that header: of `bytes` and the headers the
    /// signature does cover ([`Verify::signed_headers`](crate::verify::Verify::signed_headers)).
    /// `None` where the id is signed, or the scheme authenticates the sender, not a message.
    fn replay_of(&self, headers: &HeaderMap, bytes: &[u8], header_id: bool) -> Option<String> {
        if !header_id {
            return None;
        }
        let signed = self.options.verifier.signed_headers()?;
        let ids = self.options.envelope.delivery_id_headers();
        if ids.iter().all(|id| signed.contains(id)) {
            return None;
        }
        let values = signed
            .iter()
            .filter_map(|name| headers.get(name).map(|v| (name.as_str(), v.as_bytes())));
        Some(dedupe::message_hash(bytes, values))
    }

    /// What a passed event leaves to the store: its ordering key and its dedupe keys (of
    /// `bytes`, the event's own, and `replay`, [`replay_of`](Self::replay_of) it).
    fn checks(
        &self,
        event: EventMeta,
        value: Value,
        bytes: &[u8],
        replay: Option<String>,
        ordering: Option<(OrderingKey, EventTime)>,
    ) -> Checks {
        let options = &self.options;
        let deliveries = if options.dedupe {
            DeliveryKeys::of_message(&options.name, &event, bytes, replay)
        } else {
            DeliveryKeys::default()
        };
        Checks {
            ordering,
            deliveries,
            value,
            event,
            item: None,
        }
    }

    /// The horizon and the time before which events are stale by it at `now`, if the
    /// endpoint has one and orders.
    pub(super) fn horizon_cutoff(&self, now: SystemTime) -> Option<(Duration, EventTime)> {
        let horizon = self
            .options
            .horizon
            .filter(|_| self.options.ordering() != OrderingScope::Off)?;
        Some((horizon, EventTime::at(now).saturating_sub(horizon)))
    }
}

/// Whether the content type is `application/x-www-form-urlencoded`, as Twilio posts.
fn is_form(content_type: &HeaderValue) -> bool {
    content_type.to_str().is_ok_and(|value| {
        let essence = value.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

/// A form body as a JSON object of its decoded parameters, so envelopes and handlers read it
/// as they read JSON (`/MessageSid`): a name sent once is a string, one sent more often an
/// array of its values in order.
fn form_value(body: &[u8]) -> Value {
    let mut object = serde_json::Map::new();
    for (name, value) in form_urlencoded::parse(body) {
        let value = Value::String(value.into_owned());
        match object.get_mut(name.as_ref()) {
            None => {
                object.insert(name.into_owned(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
        }
    }
    Value::Object(object)
}

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

fn is_hook_test(headers: &HeaderMap) -> bool {
    headers
        .get("x-hook-test")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Envelope;
    use crate::Receiver;

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

    fn sonar() -> Assessor {
        Receiver::builder("e").envelope(Envelope::Sonar).assessor()
    }

    #[test]
    fn a_form_body_is_read_as_an_object_of_its_parameters() {
        use crate::envelope::{Field, Mapping};
        let mapping = Mapping::new(Field::pointer("/SmsStatus").expect("a pointer"));
        let stage = Receiver::builder("sms")
            .envelope(Envelope::Custom(mapping))
            .accept_form_bodies()
            .assessor();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        let body = b"SmsStatus=delivered&To=%2B15550001111&MediaUrl=a&MediaUrl=b";
        let now = SystemTime::now();
        let assessment = stage.assess(&Method::POST, &headers, body, false, now);
        let Decision::Check(checks) = assessment.decision else {
            panic!("{:?}", assessment.decision);
        };
        assert_eq!(checks.event.event_type, "delivered");
        assert_eq!(
            checks.value,
            serde_json::json!({
                "SmsStatus": "delivered", "To": "+15550001111", "MediaUrl": ["a", "b"]
            })
        );
        let json_only = Receiver::builder("json").envelope(Envelope::Raw).assessor();
        let assessment = json_only.assess(&Method::POST, &headers, body, false, now);
        assert!(matches!(
            assessment.decision,
            Decision::Answer(Outcome::UnsupportedMediaType(_))
        ));
    }

    fn post(stage: &Assessor, body: &[u8], truncated: bool) -> Assessment {
        let now = SystemTime::now();
        stage.assess(&Method::POST, &HeaderMap::new(), body, truncated, now)
    }

    const FRESH: &[u8] = br#"{"event":"account.status","object_id":7,
        "current":{"created_at":"2024-01-01T00:00:00Z"}}"#;

    #[test]
    fn methods_are_judged_before_the_body_which_is_still_verified_and_read() {
        let stage = sonar();
        let now = SystemTime::now();
        let assessment = stage.assess(&Method::PUT, &HeaderMap::new(), FRESH, false, now);
        assert!(matches!(
            assessment.decision,
            Decision::Answer(Outcome::MethodNotAllowed)
        ));
        assert_eq!(assessment.verification, Some(Ok(())));
        assert_eq!(assessment.event.unwrap().event_type, "account.status");
        let head = stage.assess(&Method::HEAD, &HeaderMap::new(), b"", false, now);
        assert!(matches!(head.decision, Decision::Probe));
        assert_eq!(head.verification, None);
    }

    #[test]
    fn a_truncated_body_is_too_large_naming_the_endpoints_limit() {
        let stage = Receiver::builder("e").body_limit(1000).assessor();
        let assessment = post(&stage, b"{", true);
        match assessment.decision {
            Decision::Answer(outcome) => {
                assert_eq!(outcome, Outcome::TooLarge { limit: 1000 });
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(assessment.verification, None);
    }

    #[test]
    fn a_fresh_event_leaves_its_ordering_and_delivery_keys_to_the_store() {
        let Decision::Check(checks) = post(&sonar(), FRESH, false).decision else {
            panic!("not left to the store");
        };
        let (key, created_at) = checks.ordering.unwrap();
        assert_eq!(
            (key.endpoint.as_str(), key.event_type.as_str()),
            ("e", "account.status")
        );
        assert_eq!(created_at.as_nanos(), 1_704_067_200_000_000_000);
        assert!(checks.deliveries.id.unwrap().id.starts_with("sha256:"));
        assert_eq!(checks.value["object_id"], 7);
    }

    #[test]
    fn an_event_before_the_horizon_is_stale_naming_it() {
        let stage = Receiver::builder("e")
            .ordering_horizon(Duration::from_secs(60))
            .assessor();
        let Decision::Answer(outcome) = post(&stage, FRESH, false).decision else {
            panic!("left to the store");
        };
        assert_eq!(outcome.name(), "stale");
        assert!(
            outcome.message().contains("ordering horizon of 60 s"),
            "{}",
            outcome.message()
        );
    }

    #[test]
    fn a_refused_event_is_still_shown() {
        let stage = Receiver::builder("e").max_type_bytes(3).assessor();
        let assessment = post(&stage, FRESH, false);
        assert!(matches!(
            assessment.decision,
            Decision::Answer(Outcome::FieldTooLong { .. })
        ));
        assert_eq!(assessment.event.unwrap().entity_id.as_deref(), Some("7"));
    }
}
