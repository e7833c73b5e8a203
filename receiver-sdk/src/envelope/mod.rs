//! Envelopes: where each sender puts the event type, entity, time and delivery id.
//!
//! An [`Envelope`] names a sender's payload format and reads an [`EventMeta`] from a delivery's
//! headers and parsed JSON body; ordering and dedupe work only from that.
//!
//! | Preset | `event_type` | `entity_type` | `entity_id` | `created_at` | `delivery_id` |
//! |---|---|---|---|---|---|
//! | [`Sonar`](Envelope::Sonar) | `event` | first part of `event` | `object_id` | `current.created_at` | — |
//! | [`Integration`](Envelope::Integration) | `eventType` | `entityType` | `id` | `timestamp` | — |
//! | [`SuperOffice`](Envelope::SuperOffice) | `Event` / `X-SuperOffice-Event` | `Entity` | `PrimaryKey` | `Timestamp` | `EventId` / `X-SuperOffice-EventId` |
//! | [`StandardWebhooks`](Envelope::StandardWebhooks) | `type` | — | `data.id` | `timestamp` | `webhook-id` / `svix-id` |
//! | [`GitHub`](Envelope::GitHub) | `X-GitHub-Event` | — | — | — | `X-GitHub-Delivery` |
//! | [`Stripe`](Envelope::Stripe) | `type` | `data.object.object` | `data.object.id` | `created` | `id` |
//! | [`CloudEvents`](Envelope::CloudEvents) | `type` / `ce-type` | `source` when `subject` is set | `subject` | `time` | `source` + `id` |
//! | [`Provider`](Envelope::provider) | each catalogue sender's own fields ([`envelopes`] lists them) | | | | |
//! | [`Custom`](Envelope::Custom) | your [`Mapping`] | | | | |
//! | [`Raw`](Envelope::Raw) | `"webhook"` | — | — | — | — |
//!
//! Rules every preset follows, so a receiver answers the same way whatever the sender (the
//! two exceptions, Standard Webhooks' `data.id` and SuperOffice's test delivery, are lenient
//! on purpose and say why on their variants):
//!
//! * A required field that is absent or `null` is [`EnvelopeError::Missing`].
//! * An optional field that is absent or `null` is `None`; one that is present but malformed is
//!   an error, not `None`, because silently dropping a malformed `created_at` would let a stale
//!   event through ordering.
//! * Event and entity types are non-empty strings. Ids are non-empty strings or integers that
//!   fit 64 bits, which keep their JSON text (`123` becomes `"123"`); other numbers are
//!   refused, because serde_json would round them and two ids could become one.
//! * Times go through [`parse_timestamp`].

mod batch;
mod catalogue;
mod cloudevents;
mod mapping;
mod presets;
mod read;
mod timestamp;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

pub use catalogue::{envelopes, UnknownEnvelope};
pub use mapping::{Field, FieldError, Mapping};
pub use timestamp::{parse_timestamp, TimestampError};

/// What the pipeline needs to know about one delivery.
///
/// Non-exhaustive, so the envelope can learn to read more: outside this crate, start from
/// [`EventMeta::new`] and set the fields you need.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventMeta {
    /// The event type, e.g. `account.status`.
    pub event_type: String,
    /// The kind of entity, where the sender says (`contact`, `USER`).
    pub entity_type: Option<String>,
    /// The entity the event is about.
    pub entity_id: Option<String>,
    /// When the sender says the event happened.
    pub created_at: Option<DateTime<Utc>>,
    /// The sender's id for this delivery; retries carry the same id.
    pub delivery_id: Option<String>,
    /// A sender's connectivity test (SuperOffice `X-Hook-Test`, GitHub `ping`).
    pub test: bool,
}

impl EventMeta {
    /// An event of `event_type` and nothing else known: no entity, time or delivery id, and
    /// not a test.
    ///
    /// ```
    /// use receiver_sdk::envelope::EventMeta;
    ///
    /// let mut event = EventMeta::new("account.status");
    /// event.entity_id = Some("7".into());
    /// assert_eq!(event.created_at, None);
    /// ```
    pub fn new(event_type: impl Into<String>) -> Self {
        Self {
            event_type: event_type.into(),
            entity_type: None,
            entity_id: None,
            created_at: None,
            delivery_id: None,
            test: false,
        }
    }
}

/// A known payload format, or a custom mapping.
///
/// ```
/// use http::HeaderMap;
/// use receiver_sdk::envelope::Envelope;
/// use serde_json::json;
///
/// let body = json!({
///     "event": "account.status",
///     "object_id": 1,
///     "current": { "created_at": "2021-05-25T20:48:40+00:00" }
/// });
/// let meta = Envelope::Sonar.extract(&HeaderMap::new(), &body)?;
/// assert_eq!(meta.event_type, "account.status");
/// assert_eq!(meta.entity_id.as_deref(), Some("1"));
/// assert_eq!(meta.created_at.map(|t| t.to_rfc3339()).as_deref(), Some("2021-05-25T20:48:40+00:00"));
/// # Ok::<(), receiver_sdk::envelope::EnvelopeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Envelope {
    /// Sonar: `event`, `object_id`, and `current.created_at` when `current` holds data.
    ///
    /// `entity_type` is the part of `event` before the first dot, because Sonar documents
    /// `object_id` as the id of that top-level entity (`account` in `account.service.add`).
    /// Sonar sends no delivery id.
    Sonar,
    /// The generic integration pattern: `id`, `entityType`, `eventType`, `timestamp`.
    ///
    /// `id` and `eventType` are required.
    Integration,
    /// SuperOffice: `Event`, `Entity`, `PrimaryKey`, `Timestamp`, `EventId`, with the
    /// `X-SuperOffice-Event` and `X-SuperOffice-EventId` headers as fallbacks.
    ///
    /// A registration test (header `X-Hook-Test: true`, or `"Event": "test"`) sets
    /// [`EventMeta::test`] and always succeeds, reading whatever else it can: SuperOffice
    /// refuses to save a webhook whose test delivery is not answered with 200.
    SuperOffice,
    /// [Standard Webhooks](https://www.standardwebhooks.com/) (and Svix): `type`,
    /// `timestamp`, delivery id from `webhook-id` or `svix-id`.
    ///
    /// `entity_id` is `data.id` when that is a non-empty string or an integer, else `None`:
    /// the standard leaves `data` to each sender, so an odd `data.id` is not an error.
    StandardWebhooks,
    /// GitHub: event type from `X-GitHub-Event` (required), delivery id from
    /// `X-GitHub-Delivery`. The `ping` event is a test. GitHub sends no event time.
    ///
    /// Neither header is covered by `X-Hub-Signature-256`, which signs the body only: the
    /// event type (and so any template or route keyed on it) is unauthenticated, and anyone
    /// holding one signed body can resend it under fresh delivery ids. An endpoint with a
    /// body-only verifier therefore dedupes such deliveries by their body as well (see
    /// [`Envelope::delivery_id_from_headers`]).
    GitHub,
    /// Stripe's [Event object](https://docs.stripe.com/api/events/object): `type`, `id` (the
    /// delivery id: Stripe retries an event under the same id), `created` (unix seconds), and
    /// the entity `data.object.id` of kind `data.object.object`.
    ///
    /// `type`, `id` and `created` are required; the entity is `None` when `data.object` has
    /// no id (a `balance`). Ordering is off by default: Stripe does not promise it, and not
    /// every event has an entity.
    Stripe,
    /// [CloudEvents 1.0](https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md)
    /// over HTTP, in binary mode (`ce-id`, `ce-source`, `ce-type`, `ce-specversion`, `ce-time`,
    /// `ce-subject` headers; the body is the event's `data`) or structured mode (a body of
    /// type `application/cloudevents+json` holding the attributes and `data`, or such a body
    /// posted as plain JSON with no `ce-specversion` header, as Twilio's Event Streams post
    /// theirs).
    ///
    /// The delivery id is `source`, a space, and `id`, because the spec makes ids unique only
    /// per source. `subject` is the entity, and `source` its type, because a subject names its
    /// entity only "in the context of the event producer (identified by source)". `time` must
    /// be RFC 3339, as the spec's Timestamp type requires. `specversion` must be `1.0`.
    ///
    /// A batch (`application/cloudevents-batch+json`, a JSON array of structured events) is
    /// handled event by event: see [`Envelope::batch`]. Ordering is off by default, because
    /// `subject` and `time` are optional.
    CloudEvents,
    /// Your own mapping of fields to JSON pointers or headers.
    Custom(Mapping),
    /// A sender of the catalogue, read by its built-in mapping: see [`Envelope::provider`]
    /// and, for each sender's fields, [`envelopes`].
    Provider {
        /// The sender's catalogue name, such as `zoom`.
        name: &'static str,
        /// Where the sender puts each field.
        mapping: Mapping,
    },
    /// No envelope: event type `"webhook"`, everything else `None`.
    ///
    /// No header is consulted, so every delivery is the same kind of event whatever a client
    /// puts in its headers; use [`Envelope::Custom`] with [`Field::header`] to read the event
    /// type from a header.
    Raw,
}

impl Envelope {
    /// Reads the envelope fields from headers and the parsed body.
    pub fn extract(&self, headers: &HeaderMap, body: &Value) -> Result<EventMeta, EnvelopeError> {
        match self {
            Self::Sonar => presets::sonar(body),
            Self::Integration => presets::integration(body),
            Self::SuperOffice => presets::superoffice(headers, body),
            Self::StandardWebhooks => presets::standard_webhooks(headers, body),
            Self::GitHub => presets::github(headers),
            Self::Stripe => presets::stripe(body),
            Self::CloudEvents => cloudevents::extract(headers, body),
            Self::Custom(mapping) | Self::Provider { mapping, .. } => match mapping.batch_at() {
                None => mapping.extract(headers, body),
                Some(_) => Err(EnvelopeError::Unsupported {
                    what: "a batch as one event; its events are read one by one".to_owned(),
                }),
            },
            Self::Raw => Ok(presets::raw()),
        }
    }

    /// The events of a batch delivery, each as its bytes exactly as sent, in order; `None`
    /// when the delivery is one event. A delivery is a batch when it is a CloudEvents batch
    /// (`Content-Type: application/cloudevents-batch+json`, or a JSON array posted as plain
    /// JSON without binary mode's `ce-specversion`: the body is the array) or its
    /// mapping says where its events are ([`Mapping::batch`], and the catalogue's batching
    /// senders: `asana`, `hubspot`, `line`, `sendgrid`).
    ///
    /// An endpoint handles a batch event by event, in order; each is read with
    /// [`extract_item`](Self::extract_item) and has its own ordering mark and delivery id.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use receiver_sdk::envelope::Envelope;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("content-type", "application/cloudevents-batch+json".parse()?);
    /// let body = br#"[{"specversion":"1.0","id":"1","source":"/s","type":"t"}]"#;
    /// let events = Envelope::CloudEvents.batch(&headers, body).expect("a batch")?;
    /// let event: serde_json::Value = serde_json::from_slice(events[0])?;
    /// let meta = Envelope::CloudEvents.extract_item(&headers, &event)?;
    /// assert_eq!(meta.delivery_id.as_deref(), Some("/s 1"));
    /// // Binary mode: the array is one event's data.
    /// let mut binary = HeaderMap::new();
    /// binary.insert("ce-specversion", "1.0".parse()?);
    /// assert!(Envelope::CloudEvents.batch(&binary, body).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn batch<'a>(
        &self,
        headers: &HeaderMap,
        body: &'a [u8],
    ) -> Option<Result<Vec<&'a [u8]>, EnvelopeError>> {
        self.batch_within(headers, body, usize::MAX)
    }

    /// [`batch`](Self::batch), refused with [`EnvelopeError::TooManyEvents`] at the first
    /// event past `limit`, before the rest of the batch is read.
    pub fn batch_within<'a>(
        &self,
        headers: &HeaderMap,
        body: &'a [u8],
        limit: usize,
    ) -> Option<Result<Vec<&'a [u8]>, EnvelopeError>> {
        let pointer = match self {
            Self::CloudEvents => cloudevents::is_batch(headers, body).then_some("")?,
            Self::Custom(mapping) | Self::Provider { mapping, .. } => mapping.batch_at()?,
            _ => return None,
        };
        Some(batch::items(body, pointer, limit))
    }

    /// Reads one event of a [batch](Self::batch), parsed: a CloudEvents batch holds events
    /// in the structured format, a mapping's fields point into the event.
    pub fn extract_item(
        &self,
        headers: &HeaderMap,
        item: &Value,
    ) -> Result<EventMeta, EnvelopeError> {
        match self {
            Self::CloudEvents => cloudevents::extract_item(item),
            Self::Custom(mapping) | Self::Provider { mapping, .. } => {
                mapping.extract(headers, item)
            }
            other => other.extract(headers, item),
        }
    }

    /// The headers a delivery id may be read from: GitHub's `X-GitHub-Delivery`, Standard
    /// Webhooks' `webhook-id`/`svix-id`, SuperOffice's `X-SuperOffice-EventId`, CloudEvents'
    /// `ce-id` and `ce-source`, a mapping's `header:` id.
    pub(crate) fn delivery_id_headers(&self) -> Vec<HeaderName> {
        let names: &[&'static str] = match self {
            Self::GitHub => &["x-github-delivery"],
            Self::StandardWebhooks => &["webhook-id", "svix-id"],
            Self::SuperOffice => &["x-superoffice-eventid"],
            // Binary mode's `ce-id` and `ce-source` are headers.
            Self::CloudEvents => &["ce-id", "ce-source"],
            Self::Custom(mapping) | Self::Provider { mapping, .. } => {
                return mapping.delivery_id_header().into_iter().collect();
            }
            Self::Sonar | Self::Integration | Self::Stripe | Self::Raw => &[],
        };
        names
            .iter()
            .map(|name| HeaderName::from_static(name))
            .collect()
    }

    /// Whether the event's attributes are read from the headers: a CloudEvents binary-mode
    /// delivery.
    pub(crate) fn attributes_in_headers(&self, headers: &HeaderMap) -> bool {
        matches!(self, Self::CloudEvents) && cloudevents::is_binary_mode(headers)
    }

    /// Whether the delivery id is the envelope's own digest rather than the sender's: a
    /// mapping with [`changed_by_retries`](Mapping::changed_by_retries) and no id field.
    pub(crate) fn makes_delivery_id(&self) -> bool {
        match self {
            Self::Custom(mapping) | Self::Provider { mapping, .. } => mapping.makes_delivery_id(),
            _ => false,
        }
    }

    /// Whether a batch event's delivery id comes from a header, and so is the whole batch's
    /// (a CloudEvents batch keeps each event's id in the event).
    pub(crate) fn item_id_from_headers(&self) -> bool {
        match self {
            Self::Custom(mapping) | Self::Provider { mapping, .. } => {
                mapping.delivery_id_header().is_some()
            }
            _ => false,
        }
    }

    /// The content type each event of a batch is handed on with, where the batch's own says
    /// it is a batch: a CloudEvents batch's event is one structured event.
    pub(crate) fn event_content_type(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        (matches!(self, Self::CloudEvents) && cloudevents::is_batch_content_type(headers))
            .then(|| HeaderValue::from_static("application/cloudevents+json"))
    }

    /// The sender's own name for the field that holds the event time, for messages such as
    /// "ordering needs `current.created_at`".
    ///
    /// GitHub, Raw and custom mappings without a time field have no such field; they answer
    /// with the generic `created_at`.
    pub fn created_at_field(&self) -> &str {
        match self {
            Self::Sonar => "current.created_at",
            Self::Integration | Self::StandardWebhooks => "timestamp",
            Self::SuperOffice => "Timestamp",
            Self::CloudEvents => "time",
            Self::Stripe => "created",
            Self::Custom(mapping) | Self::Provider { mapping, .. } => {
                mapping.created_at_name().unwrap_or("created_at")
            }
            Self::GitHub | Self::Raw => "created_at",
        }
    }

    /// Whether the delivery id may come from a header (GitHub, Standard Webhooks, SuperOffice's
    /// fallback, a custom mapping's `header:` field). Under a verifier that
    /// [authenticates only the body](crate::verify::Verifier::authenticates_only_the_body),
    /// such an id is unauthenticated, and the endpoint dedupes by the body's hash too.
    pub fn delivery_id_from_headers(&self) -> bool {
        !self.delivery_id_headers().is_empty()
    }

    /// Whether the format carries an entity and an event time, so ordering can be on by
    /// default (Sonar, the integration pattern, SuperOffice).
    pub fn carries_order(&self) -> bool {
        matches!(self, Self::Sonar | Self::Integration | Self::SuperOffice)
    }

    /// The preset's name for logs: `sonar`, `integration`, `superoffice`,
    /// `standard-webhooks`, `github`, `stripe`, `cloudevents`, `custom`, `raw`, or a catalogue
    /// sender's name (`zoom`).
    pub fn name(&self) -> &str {
        match self {
            Self::Sonar => "sonar",
            Self::Integration => "integration",
            Self::SuperOffice => "superoffice",
            Self::StandardWebhooks => "standard-webhooks",
            Self::GitHub => "github",
            Self::Stripe => "stripe",
            Self::CloudEvents => "cloudevents",
            Self::Custom(_) => "custom",
            Self::Provider { name, .. } => name,
            Self::Raw => "raw",
        }
    }
}

/// A delivery whose envelope could not be read.
///
/// Field names are the sender's own (`object_id`, `current.created_at`, `Timestamp`), or the
/// JSON pointer for a custom mapping, so the message can go back to whoever configured the
/// sender.
///
/// The `Timestamp` variant carries its [`TimestampError`] in the message rather than as a
/// `source()`, so the one line that reaches a response body or log says everything; printing
/// a cause chain does not repeat it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// A required field is absent or `null`.
    #[error("missing field `{field}`")]
    Missing {
        /// The field, as the sender's documentation names it.
        field: String,
    },
    /// A required header is absent.
    #[error("missing header `{header}`")]
    MissingHeader {
        /// The header's name.
        header: String,
    },
    /// The body is not a JSON object, so none of its fields can be read.
    #[error("body is {found}, expected a JSON object")]
    NotAnObject {
        /// What the body is instead, e.g. "an array".
        found: &'static str,
    },
    /// A field holds the wrong kind of value.
    #[error("field `{field}` is {found}, expected {expected}")]
    WrongType {
        /// The field, as the sender's documentation names it.
        field: String,
        /// What the field should hold, e.g. "a non-empty string".
        expected: &'static str,
        /// What it holds instead, e.g. "a boolean" or "an empty string".
        found: &'static str,
    },
    /// A time field holds something that is not a usable time.
    #[error("field `{field}` is not a timestamp: {reason}")]
    Timestamp {
        /// The field, as the sender's documentation names it.
        field: String,
        /// What is wrong with its value.
        reason: TimestampError,
    },
    /// The delivery is in a form this envelope does not accept, such as a CloudEvents batch.
    #[error("not accepted: {what}")]
    Unsupported {
        /// What was sent, and what to send instead.
        what: String,
    },
    /// The body is not JSON (a batch is cut into its events before they are parsed).
    #[error("body is not valid JSON: {0}")]
    InvalidJson(String),
    /// Where a batch keeps its events there is something other than an array.
    #[error("{field} is {found}, expected an array of events")]
    NotABatch {
        /// The body, or the batch's pointer.
        field: String,
        /// What is there instead, e.g. "an object".
        found: &'static str,
    },
    /// A batch holds more events than the endpoint takes.
    #[error("the batch holds more than {limit} events, the most this endpoint takes")]
    TooManyEvents {
        /// The endpoint's limit.
        limit: usize,
    },
    /// A header is present but its value cannot be used.
    #[error("header `{header}` {problem}")]
    BadHeader {
        /// The header's name.
        header: String,
        /// What is wrong, e.g. "is empty" or "is not a timestamp: ...".
        problem: String,
    },
}
