//! Custom envelopes: a source for each field, built in code or read from a config file.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::batch::BatchAt;
use super::read::{header, header_time, id, optional, text, time};
use super::{EnvelopeError, EventMeta};

/// Where each envelope field comes from, for senders without a preset.
///
/// The event type is required; every other field is optional and `None` when unmapped or
/// absent. Values follow the same rules as the presets (see the [module docs](super)).
///
/// Built in code:
///
/// ```
/// use http::HeaderMap;
/// use receiver_sdk::envelope::{Envelope, Field, Mapping};
/// use serde_json::json;
///
/// let mapping = Mapping::new(Field::pointer("/type")?)
///     .entity_id(Field::pointer("/data/object/id")?)
///     .created_at(Field::pointer("/created")?)
///     .delivery_id(Field::header("X-Delivery-Id")?);
/// let envelope = Envelope::Custom(mapping);
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-delivery-id", "evt_1".parse()?);
/// let body = json!({"type": "invoice.paid", "created": 1621975720, "data": {"object": {"id": 42}}});
///
/// let meta = envelope.extract(&headers, &body)?;
/// assert_eq!(meta.event_type, "invoice.paid");
/// assert_eq!(meta.entity_id.as_deref(), Some("42"));
/// assert_eq!(meta.delivery_id.as_deref(), Some("evt_1"));
/// assert_eq!(envelope.created_at_field(), "/created");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Or from configuration, where a string starting with `/` is a JSON pointer and `header:NAME`
/// is a header:
///
/// ```
/// use receiver_sdk::envelope::{Field, Mapping};
///
/// let mapping: Mapping = serde_json::from_str(
///     r#"{"event_type": "/type", "entity_id": "/data/id", "delivery_id": "header:webhook-id"}"#,
/// )?;
/// assert_eq!(
///     mapping,
///     Mapping::new(Field::pointer("/type")?)
///         .entity_id(Field::pointer("/data/id")?)
///         .delivery_id(Field::header("webhook-id")?)
/// );
///
/// let typo = serde_json::from_str::<Mapping>(r#"{"event_type": "type"}"#).unwrap_err();
/// assert!(typo.to_string().contains("neither a JSON pointer"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    event_type: Field,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entity_type: Option<Field>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entity_id: Option<Field>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<Field>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delivery_id: Option<Field>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    batch: Option<BatchAt>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "body_fields"
    )]
    changed_by_retries: Vec<Field>,
}

impl Mapping {
    /// A mapping that reads the event type from `event_type` and nothing else.
    pub fn new(event_type: Field) -> Self {
        Self {
            event_type,
            entity_type: None,
            entity_id: None,
            created_at: None,
            delivery_id: None,
            batch: None,
            changed_by_retries: Vec::new(),
        }
    }

    /// Reads [`EventMeta::entity_type`] from `field`.
    pub fn entity_type(mut self, field: Field) -> Self {
        self.entity_type = Some(field);
        self
    }

    /// Reads [`EventMeta::entity_id`] from `field`.
    pub fn entity_id(mut self, field: Field) -> Self {
        self.entity_id = Some(field);
        self
    }

    /// Reads [`EventMeta::created_at`] from `field`.
    pub fn created_at(mut self, field: Field) -> Self {
        self.created_at = Some(field);
        self
    }

    /// Reads [`EventMeta::delivery_id`] from `field`.
    pub fn delivery_id(mut self, field: Field) -> Self {
        self.delivery_id = Some(field);
        self
    }

    /// Reads every delivery as a batch of events: the array at `pointer` (a JSON pointer
    /// such as `/events`, or `""` for a body that is the array itself), each event read by
    /// the other fields with pointers into the event, not the body. In configuration this is
    /// `batch = "/events"`.
    ///
    /// The endpoint handles the events one by one, in order, each with its own ordering mark
    /// and delivery id. A delivery id read from a header is shared by the whole batch, so each
    /// event is known by it and its place in the batch (`ID#0`, `ID#1`, ...).
    ///
    /// ```
    /// use receiver_sdk::envelope::{Envelope, Field, Mapping};
    ///
    /// let line = Mapping::new(Field::pointer("/type")?)
    ///     .delivery_id(Field::pointer("/webhookEventId")?)
    ///     .batch("/events")?;
    /// let body = br#"{"destination":"U1","events":[{"type":"follow","webhookEventId":"01H"}]}"#;
    /// let events = Envelope::Custom(line).batch(&http::HeaderMap::new(), body);
    /// assert_eq!(events, Some(Ok(vec![&br#"{"type":"follow","webhookEventId":"01H"}"#[..]])));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn batch(self, pointer: &str) -> Result<Self, FieldError> {
        BatchAt::new(pointer).map(|at| self.batch_at_checked(at))
    }

    /// Reads every delivery as a batch whose events are at `at`, already checked.
    pub(super) fn batch_at_checked(mut self, at: BatchAt) -> Self {
        self.batch = Some(at);
        self
    }

    /// Fields the sender changes on every retry of one event, such as HubSpot's
    /// `/attemptNumber` (pointers only; in configuration `changed_by_retries =
    /// ["/attemptNumber"]`). An event without a delivery id is known by its bytes' hash, which
    /// such a field makes new on every retry; with this, its delivery id is instead the
    /// digest of its JSON without these fields (`sha256:` and hex, of the JSON with its keys
    /// in order), the same for every retry, so retries dedupe and a relay's
    /// `Idempotency-Key` holds across them. Ignored where a delivery id is mapped.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use receiver_sdk::envelope::{Envelope, Field, Mapping};
    /// use serde_json::json;
    ///
    /// let hubspot = Mapping::new(Field::pointer("/subscriptionType")?)
    ///     .changed_by_retries([Field::pointer("/attemptNumber")?])?;
    /// let envelope = Envelope::Custom(hubspot);
    /// let first = json!({"subscriptionType": "contact.creation", "objectId": 1, "attemptNumber": 0});
    /// let retry = json!({"attemptNumber": 1, "objectId": 1, "subscriptionType": "contact.creation"});
    /// let id = |body| envelope.extract(&HeaderMap::new(), body).map(|meta| meta.delivery_id);
    /// assert_eq!(id(&first)?, id(&retry)?);
    /// assert!(id(&first)?.is_some_and(|id| id.starts_with("sha256:")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn changed_by_retries(
        mut self,
        fields: impl IntoIterator<Item = Field>,
    ) -> Result<Self, FieldError> {
        self.changed_by_retries = only_body_fields(fields.into_iter().collect())?;
        Ok(self)
    }

    /// [`changed_by_retries`](Self::changed_by_retries) of one catalogue pointer.
    pub(super) fn changed_by_retries_checked(mut self, field: Field) -> Self {
        self.changed_by_retries = vec![field];
        self
    }

    /// The digest an event without a delivery id is known by when fields change on retries.
    fn retry_digest(&self, body: &Value) -> Option<String> {
        if self.changed_by_retries.is_empty() {
            return None;
        }
        let mut stable = body.clone();
        for field in &self.changed_by_retries {
            if let Source::Pointer(pointer) = &field.0 {
                remove_at(&mut stable, pointer);
            }
        }
        // serde_json's maps keep their keys sorted, so the text does not depend on the order
        // the sender wrote them in.
        let text = serde_json::to_vec(&stable).ok()?;
        Some(crate::dedupe::body_hash(&text))
    }

    /// Where the events are, when every delivery is a batch.
    pub(super) fn batch_at(&self) -> Option<&str> {
        self.batch.as_ref().map(BatchAt::pointer)
    }

    /// Whether the delivery id is this mapping's digest (no id field, fields that retries
    /// change).
    pub(super) fn makes_delivery_id(&self) -> bool {
        self.delivery_id.is_none() && !self.changed_by_retries.is_empty()
    }

    /// The header the delivery id is read from, if it is.
    pub(super) fn delivery_id_header(&self) -> Option<HeaderName> {
        match &self.delivery_id {
            Some(Field(Source::Header(name))) => Some(name.clone()),
            _ => None,
        }
    }

    /// The name used in messages for the time field, if one is mapped.
    pub(super) fn created_at_name(&self) -> Option<&str> {
        self.created_at.as_ref().map(Field::name)
    }

    pub(super) fn extract(
        &self,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<EventMeta, EnvelopeError> {
        let event_type = self
            .event_type
            .read_string(headers, body, text)?
            .ok_or_else(|| self.event_type.missing())?;
        let string = |field: &Option<Field>, read| match field {
            Some(field) => field.read_string(headers, body, read),
            None => Ok(None),
        };
        let created_at = match &self.created_at {
            Some(field) => field.read_time(headers, body)?,
            None => None,
        };
        Ok(EventMeta {
            event_type,
            entity_type: string(&self.entity_type, text)?,
            entity_id: string(&self.entity_id, id)?,
            created_at,
            delivery_id: string(&self.delivery_id, id)?.or_else(|| self.retry_digest(body)),
            test: false,
        })
    }
}

/// Where one envelope field comes from: a JSON pointer into the body, or a header.
///
/// Its text form, used in configuration and by [`Display`](fmt::Display), is the pointer
/// itself (`/data/id`) or `header:NAME` (`header:webhook-id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Field(Source);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// An RFC 6901 pointer, checked to be well-formed.
    Pointer(String),
    /// Kept as parsed, so lookups need no conversion and the name is known to be valid.
    Header(HeaderName),
}

impl Field {
    /// A JSON pointer (RFC 6901) into the body, such as `/data/object/id`.
    ///
    /// It must start with `/`, and every `~` must be followed by `0` or `1` (the escapes for
    /// `~` and `/` inside a key).
    pub fn pointer(pointer: impl Into<String>) -> Result<Self, FieldError> {
        let pointer = pointer.into();
        let problem = if !pointer.starts_with('/') {
            Some("it must start with `/`")
        } else if pointer
            .split('~')
            .skip(1)
            .any(|after| !after.starts_with(['0', '1']))
        {
            Some("`~` must be followed by `0` or `1`")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(FieldError::BadPointer { pointer, problem }),
            None => Ok(Self(Source::Pointer(pointer))),
        }
    }

    /// A header, such as `X-Event-Type` (matched without regard to case).
    pub fn header(name: &str) -> Result<Self, FieldError> {
        HeaderName::from_bytes(name.as_bytes())
            .map(|name| Self(Source::Header(name)))
            .map_err(|_| FieldError::BadHeaderName {
                name: name.to_owned(),
            })
    }

    /// A field of the built-in catalogue, written as in configuration (`/pointer` or
    /// `header:name`, the name in lower case). The catalogue's tests parse every one, so no
    /// malformed pointer gets here; a malformed header name panics, as
    /// [`HeaderName::from_static`] does.
    pub(super) fn from_static(spec: &'static str) -> Self {
        match spec.strip_prefix("header:") {
            Some(name) => Self(Source::Header(HeaderName::from_static(name))),
            None => Self(Source::Pointer(spec.to_owned())),
        }
    }

    /// The name used in error messages: the pointer, or the header name.
    fn name(&self) -> &str {
        match &self.0 {
            Source::Pointer(pointer) => pointer,
            Source::Header(name) => name.as_str(),
        }
    }

    fn missing(&self) -> EnvelopeError {
        match &self.0 {
            Source::Pointer(pointer) => EnvelopeError::Missing {
                field: pointer.clone(),
            },
            Source::Header(name) => EnvelopeError::MissingHeader {
                header: name.as_str().to_owned(),
            },
        }
    }

    /// Reads a text field, checking a JSON value with `from_json`; `None` when absent.
    ///
    /// Header values need no such check: they are always non-empty text by the time
    /// [`header`] returns them.
    fn read_string(
        &self,
        headers: &HeaderMap,
        body: &Value,
        from_json: fn(&Value, &str) -> Result<String, EnvelopeError>,
    ) -> Result<Option<String>, EnvelopeError> {
        match &self.0 {
            Source::Pointer(pointer) => optional(found(body, pointer), pointer, from_json),
            Source::Header(name) => Ok(header(headers, name.as_str())?.map(str::to_owned)),
        }
    }

    fn read_time(
        &self,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<Option<DateTime<Utc>>, EnvelopeError> {
        match &self.0 {
            Source::Pointer(pointer) => optional(found(body, pointer), pointer, time),
            Source::Header(name) => header(headers, name.as_str())?
                .map(|text| header_time(text, name.as_str()))
                .transpose(),
        }
    }
}

/// `fields`, if none is a header: what a retry changes is in the body.
fn only_body_fields(fields: Vec<Field>) -> Result<Vec<Field>, FieldError> {
    match fields
        .iter()
        .find(|field| matches!(field.0, Source::Header(_)))
    {
        Some(header) => Err(FieldError::NotInTheBody {
            spec: header.to_string(),
        }),
        None => Ok(fields),
    }
}

fn body_fields<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Field>, D::Error> {
    only_body_fields(Vec::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

/// Removes the value at `pointer` (RFC 6901), if there is one.
fn remove_at(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = super::read::pointer_token(last);
    match value.pointer_mut(parent) {
        Some(Value::Object(object)) => {
            object.remove(&key);
        }
        Some(Value::Array(array)) => {
            if let Some(index) = key.parse::<usize>().ok().filter(|i| *i < array.len()) {
                array.remove(index);
            }
        }
        _ => {}
    }
}

/// The value at `pointer`, with `null` counted as absent like everywhere else.
fn found<'a>(body: &'a Value, pointer: &str) -> Option<&'a Value> {
    body.pointer(pointer).filter(|value| !value.is_null())
}

impl FromStr for Field {
    type Err = FieldError;

    /// Parses the configuration form: `/pointer` or `header:NAME`.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        if spec.starts_with('/') {
            Self::pointer(spec)
        } else if let Some(name) = spec.strip_prefix("header:") {
            Self::header(name)
        } else if spec.is_empty() {
            Err(FieldError::Empty)
        } else {
            Err(FieldError::Unrecognised {
                spec: spec.to_owned(),
            })
        }
    }
}

impl TryFrom<String> for Field {
    type Error = FieldError;

    fn try_from(spec: String) -> Result<Self, Self::Error> {
        spec.parse()
    }
}

impl From<Field> for String {
    fn from(field: Field) -> Self {
        field.to_string()
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Pointer(pointer) => f.write_str(pointer),
            Source::Header(name) => write!(f, "header:{name}"),
        }
    }
}

/// Why a [`Field`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// The source is an empty string.
    #[error("empty field source; use a JSON pointer such as `/data/id` or `header:NAME`")]
    Empty,
    /// The source is neither a pointer nor a header.
    #[error(
        "`{spec}` is neither a JSON pointer (starting with `/`, such as `/data/id`) \
         nor a header (`header:NAME`)"
    )]
    Unrecognised {
        /// The source as written.
        spec: String,
    },
    /// A field that must be in the body (one a retry changes) is a header.
    #[error("`{spec}` is a header; fields that retries change are JSON pointers into the body")]
    NotInTheBody {
        /// The source as written.
        spec: String,
    },
    /// The pointer is not a well-formed RFC 6901 JSON pointer.
    #[error("`{pointer}` is not a JSON pointer: {problem}")]
    BadPointer {
        /// The pointer as written.
        pointer: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The header name contains characters HTTP does not allow in one.
    #[error("`{name}` is not a valid header name")]
    BadHeaderName {
        /// The name as written.
        name: String,
    },
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use serde_json::json;

    use super::super::{Envelope, TimestampError};
    use super::*;

    fn pointer(pointer: &str) -> Field {
        Field::pointer(pointer).expect("test pointers are valid")
    }

    fn header_field(name: &str) -> Field {
        Field::header(name).expect("test header names are valid")
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    /// A Stripe-shaped mapping, mixing pointers and headers.
    fn stripe_like() -> Mapping {
        Mapping::new(pointer("/type"))
            .entity_type(pointer("/data/object/object"))
            .entity_id(pointer("/data/object/id"))
            .created_at(pointer("/created"))
            .delivery_id(header_field("X-Delivery-Id"))
    }

    fn stripe_body() -> Value {
        json!({
            "id": "evt_1",
            "type": "customer.updated",
            "created": 1_621_975_720,
            "data": {"object": {"id": "cus_9", "object": "customer"}}
        })
    }

    fn extract(
        mapping: &Mapping,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<EventMeta, EnvelopeError> {
        Envelope::Custom(mapping.clone()).extract(headers, body)
    }

    #[test]
    fn pointers_and_headers_fill_every_field() {
        let meta = extract(
            &stripe_like(),
            &headers(&[("x-delivery-id", "d-1")]),
            &stripe_body(),
        );
        assert_eq!(
            meta,
            Ok(EventMeta {
                event_type: "customer.updated".into(),
                entity_type: Some("customer".into()),
                entity_id: Some("cus_9".into()),
                created_at: DateTime::from_timestamp(1_621_975_720, 0),
                delivery_id: Some("d-1".into()),
                test: false,
            })
        );
    }

    #[test]
    fn unmapped_and_absent_fields_are_none() {
        let meta = extract(&stripe_like(), &HeaderMap::new(), &json!({"type": "x"}))
            .expect("only the event type is required");
        assert_eq!(meta.entity_type, None);
        assert_eq!(meta.entity_id, None);
        assert_eq!(meta.created_at, None);
        assert_eq!(meta.delivery_id, None);
    }

    #[test]
    fn event_type_from_a_header() {
        let mapping = Mapping::new(header_field("X-Event-Type"));
        let meta = extract(
            &mapping,
            &headers(&[("x-event-type", "order.paid")]),
            &json!(null),
        )
        .expect("valid");
        assert_eq!(meta.event_type, "order.paid");
    }

    #[test]
    fn missing_event_type_pointer_names_the_pointer() {
        assert_eq!(
            extract(&stripe_like(), &HeaderMap::new(), &json!({})),
            Err(EnvelopeError::Missing {
                field: "/type".into()
            })
        );
    }

    #[test]
    fn missing_event_type_header_names_the_header() {
        let mapping = Mapping::new(header_field("X-Event-Type"));
        assert_eq!(
            extract(&mapping, &HeaderMap::new(), &json!({})),
            Err(EnvelopeError::MissingHeader {
                header: "x-event-type".into()
            })
        );
    }

    #[test]
    fn null_at_the_pointer_counts_as_absent() {
        let body = json!({"type": "x", "data": {"object": {"id": null}}});
        let meta = extract(&stripe_like(), &HeaderMap::new(), &body).expect("valid");
        assert_eq!(meta.entity_id, None);
    }

    #[test]
    fn wrong_typed_entity_id_names_the_pointer() {
        let body = json!({"type": "x", "data": {"object": {"id": false}}});
        assert_eq!(
            extract(&stripe_like(), &HeaderMap::new(), &body),
            Err(EnvelopeError::WrongType {
                field: "/data/object/id".into(),
                expected: "a non-empty string or an integer",
                found: "a boolean",
            })
        );
    }

    #[test]
    fn bad_time_at_a_pointer_names_the_pointer() {
        let body = json!({"type": "x", "created": "later"});
        assert!(matches!(
            extract(&stripe_like(), &HeaderMap::new(), &body),
            Err(EnvelopeError::Timestamp { field, reason: TimestampError::Unrecognised { .. } })
                if field == "/created"
        ));
    }

    #[test]
    fn time_from_a_header() {
        let mapping = Mapping::new(pointer("/type")).created_at(header_field("X-Timestamp"));
        let meta = extract(
            &mapping,
            &headers(&[("x-timestamp", "2021-05-25T20:48:40Z")]),
            &json!({"type": "x"}),
        )
        .expect("valid");
        assert_eq!(meta.created_at, DateTime::from_timestamp(1_621_975_720, 0));
    }

    #[test]
    fn bad_time_in_a_header_names_the_header() {
        let mapping = Mapping::new(pointer("/type")).created_at(header_field("X-Timestamp"));
        let error = extract(
            &mapping,
            &headers(&[("x-timestamp", "soon")]),
            &json!({"type": "x"}),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("header `x-timestamp` is not a timestamp: `soon`"),
            "{error}"
        );
    }

    #[test]
    fn pointer_into_an_array_and_escaped_keys() {
        let mapping = Mapping::new(pointer("/events/0/name")).entity_id(pointer("/ids/a~1b~0c"));
        let body = json!({"events": [{"name": "first"}], "ids": {"a/b~c": 5}});
        let meta = extract(&mapping, &HeaderMap::new(), &body).expect("valid");
        assert_eq!(meta.event_type, "first");
        assert_eq!(meta.entity_id.as_deref(), Some("5"));
    }

    #[test]
    fn created_at_field_is_the_mapped_source() {
        assert_eq!(
            Envelope::Custom(stripe_like()).created_at_field(),
            "/created"
        );
        let by_header = Mapping::new(pointer("/type")).created_at(header_field("X-Timestamp"));
        assert_eq!(
            Envelope::Custom(by_header).created_at_field(),
            "x-timestamp"
        );
        let without = Mapping::new(pointer("/type"));
        assert_eq!(Envelope::Custom(without).created_at_field(), "created_at");
    }

    #[test]
    fn config_form_is_read() {
        let mapping: Mapping = serde_json::from_value(json!({
            "event_type": "/type",
            "entity_type": "/data/object/object",
            "entity_id": "/data/object/id",
            "created_at": "/created",
            "delivery_id": "header:X-Delivery-Id"
        }))
        .expect("valid config");
        assert_eq!(mapping, stripe_like());
    }

    #[test]
    fn config_form_round_trips() {
        let config = json!({"event_type": "/type", "delivery_id": "header:webhook-id"});
        let mapping: Mapping = serde_json::from_value(config.clone()).expect("valid config");
        assert_eq!(serde_json::to_value(&mapping).expect("serialises"), config);
    }

    #[test]
    fn config_without_event_type_is_rejected() {
        let error = serde_json::from_value::<Mapping>(json!({"entity_id": "/id"})).unwrap_err();
        assert!(error.to_string().contains("event_type"), "{error}");
    }

    #[test]
    fn fields_changed_by_retries_are_read_from_config_and_must_be_in_the_body() {
        let mapping: Mapping = serde_json::from_str(
            r#"{"event_type": "/type", "changed_by_retries": ["/attemptNumber"]}"#,
        )
        .unwrap();
        let envelope = super::super::Envelope::Custom(mapping);
        let id = |attempt: u32| {
            let body = serde_json::json!({"type": "t", "n": 1, "attemptNumber": attempt});
            envelope
                .extract(&HeaderMap::new(), &body)
                .unwrap()
                .delivery_id
        };
        assert_eq!(id(0), id(7));
        let other = serde_json::json!({"type": "t", "n": 2, "attemptNumber": 0});
        let other = envelope.extract(&HeaderMap::new(), &other).unwrap();
        assert_ne!(other.delivery_id, id(0));
        let header = serde_json::from_str::<Mapping>(
            r#"{"event_type": "/type", "changed_by_retries": ["header:x-attempt"]}"#,
        )
        .unwrap_err();
        assert!(header.to_string().contains("is a header"), "{header}");
        // A mapped delivery id wins.
        let mapped: Mapping = serde_json::from_str(
            r#"{"event_type": "/type", "delivery_id": "/n", "changed_by_retries": ["/attemptNumber"]}"#,
        )
        .unwrap();
        let body = serde_json::json!({"type": "t", "n": 1, "attemptNumber": 0});
        let meta = super::super::Envelope::Custom(mapped).extract(&HeaderMap::new(), &body);
        assert_eq!(meta.unwrap().delivery_id.as_deref(), Some("1"));
    }

    #[test]
    fn config_with_an_unknown_key_is_rejected() {
        let error =
            serde_json::from_value::<Mapping>(json!({"event_type": "/type", "entity": "/id"}))
                .unwrap_err();
        assert!(error.to_string().contains("entity"), "{error}");
    }

    #[test]
    fn config_with_a_bad_source_says_what_is_wrong() {
        for (source, fragment) in [
            ("type", "neither a JSON pointer"),
            ("", "empty field source"),
            ("/a~2", "`~` must be followed by `0` or `1`"),
            ("/a~", "`~` must be followed by `0` or `1`"),
            ("header:", "not a valid header name"),
            ("header:X Event", "not a valid header name"),
        ] {
            let error = serde_json::from_value::<Mapping>(json!({"event_type": source}))
                .unwrap_err()
                .to_string();
            assert!(error.contains(fragment), "{source:?}: {error}");
        }
    }

    #[test]
    fn pointer_must_start_with_a_slash() {
        assert_eq!(
            Field::pointer("data/id"),
            Err(FieldError::BadPointer {
                pointer: "data/id".into(),
                problem: "it must start with `/`",
            })
        );
    }

    #[test]
    fn header_names_are_validated() {
        assert_eq!(
            Field::header("X:Y"),
            Err(FieldError::BadHeaderName { name: "X:Y".into() })
        );
    }

    #[test]
    fn fields_display_in_their_config_form() {
        assert_eq!(pointer("/data/id").to_string(), "/data/id");
        assert_eq!(header_field("Webhook-Id").to_string(), "header:webhook-id");
        assert_eq!(
            "header:Webhook-Id".parse::<Field>(),
            Ok(header_field("webhook-id"))
        );
    }
}
