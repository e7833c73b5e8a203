//! CloudEvents 1.0 over HTTP: binary, structured and batched content modes.
//!
//! The HTTP protocol binding
//! (<https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md>)
//! tells the modes apart by `Content-Type` alone: `application/cloudevents...` is structured
//! (the event, attributes and `data`, is the body), `application/cloudevents-batch...` is a
//! batch (a JSON array of structured events, read one by one), anything else is binary
//! (attributes in `ce-*` headers, `data` is the body).

use chrono::{DateTime, Utc};
use http::{header, HeaderMap};
use serde_json::{Map, Value};

use super::read::{get, object, required_key, text};
use super::timestamp::parse_rfc3339;
use super::{EnvelopeError, EventMeta};

/// The one version of the spec read here; its attributes are what this module knows.
const SPEC_VERSION: &str = "1.0";

/// How one delivery carries its event.
enum Mode {
    Binary,
    Structured,
    Batch,
}

fn mode(headers: &HeaderMap) -> Mode {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .trim_start()
        .to_ascii_lowercase();
    // Batch first: its media type starts with the structured one's prefix.
    if content_type.starts_with("application/cloudevents-batch") {
        Mode::Batch
    } else if content_type.starts_with("application/cloudevents") {
        Mode::Structured
    } else {
        Mode::Binary
    }
}

/// The attributes the pipeline uses, as read from either mode.
struct Attributes {
    id: String,
    source: String,
    kind: String,
    time: Option<DateTime<Utc>>,
    subject: Option<String>,
}

/// Whether the delivery is a batch (`application/cloudevents-batch+json`): a JSON array of
/// events in the structured format, each read by [`extract_item`]. A JSON array sent as plain
/// JSON without a `ce-specversion` header is one too: it cannot be binary mode, which needs
/// that header, and senders such as Twilio's Event Streams batch their events so.
pub(super) fn is_batch(headers: &HeaderMap, body: &[u8]) -> bool {
    match mode(headers) {
        Mode::Batch => true,
        Mode::Structured => false,
        Mode::Binary => !is_binary(headers) && body.trim_ascii_start().first() == Some(&b'['),
    }
}

/// Whether the content type is a batch's (`application/cloudevents-batch+json`).
pub(super) fn is_batch_content_type(headers: &HeaderMap) -> bool {
    matches!(mode(headers), Mode::Batch)
}

/// Whether the delivery is in binary mode: not a structured or batch content type, and the
/// headers carry `ce-specversion`.
pub(super) fn is_binary_mode(headers: &HeaderMap) -> bool {
    matches!(mode(headers), Mode::Binary) && is_binary(headers)
}

/// Whether the headers carry binary mode's one attribute that every event has.
fn is_binary(headers: &HeaderMap) -> bool {
    headers.contains_key("ce-specversion")
}

pub(super) fn extract(headers: &HeaderMap, body: &Value) -> Result<EventMeta, EnvelopeError> {
    let attributes = match mode(headers) {
        // Without `ce-specversion` it is not binary mode; a body holding the attributes is a
        // structured event sent as plain JSON (as Twilio's Event Streams send them).
        Mode::Binary if !is_binary(headers) && body.get("specversion").is_some() => {
            structured(object(body)?)?
        }
        Mode::Binary => binary(headers)?,
        Mode::Structured => structured(object(body)?)?,
        // The pipeline reads a batch event by event (see `Envelope::batch`).
        Mode::Batch => {
            return Err(EnvelopeError::Unsupported {
                what: "a CloudEvents batch (`application/cloudevents-batch+json`) as one \
                       event; its events are read one by one"
                    .to_owned(),
            })
        }
    };
    meta(attributes)
}

/// One event of a batch: the structured format, whatever the delivery's headers say.
pub(super) fn extract_item(event: &Value) -> Result<EventMeta, EnvelopeError> {
    meta(structured(object(event)?)?)
}

fn meta(attributes: Attributes) -> Result<EventMeta, EnvelopeError> {
    // The spec makes `source` a URI-reference, which holds no spaces: so the first space
    // splits the delivery id back into its parts, and two events cannot share one.
    if attributes.source.contains(char::is_whitespace) {
        return Err(EnvelopeError::WrongType {
            field: "source".to_owned(),
            expected: "a URI-reference",
            found: "a string with whitespace",
        });
    }
    Ok(EventMeta {
        delivery_id: Some(format!("{} {}", attributes.source, attributes.id)),
        event_type: attributes.kind,
        entity_type: attributes.subject.as_ref().map(|_| attributes.source),
        entity_id: attributes.subject,
        created_at: attributes.time,
        test: false,
    })
}

/// Binary mode: every attribute is a `ce-` header.
fn binary(headers: &HeaderMap) -> Result<Attributes, EnvelopeError> {
    let required = |name: &str| {
        attribute_header(headers, name)?.ok_or_else(|| EnvelopeError::MissingHeader {
            header: name.to_owned(),
        })
    };
    spec_version(&required("ce-specversion")?, "ce-specversion")?;
    let time = match attribute_header(headers, "ce-time")? {
        Some(text) => Some(
            parse_rfc3339(&text).map_err(|reason| EnvelopeError::BadHeader {
                header: "ce-time".to_owned(),
                problem: format!("is not a timestamp: {reason}"),
            })?,
        ),
        None => None,
    };
    Ok(Attributes {
        id: required("ce-id")?,
        source: required("ce-source")?,
        kind: required("ce-type")?,
        time,
        subject: attribute_header(headers, "ce-subject")?,
    })
}

/// Structured mode: the attributes are top-level members of the JSON event format.
fn structured(event: &Map<String, Value>) -> Result<Attributes, EnvelopeError> {
    spec_version(&required_key(event, "specversion", text)?, "specversion")?;
    let time = match get(event, "time") {
        Some(value) => Some(structured_time(value)?),
        None => None,
    };
    let subject = match get(event, "subject") {
        Some(value) => Some(text(value, "subject")?),
        None => None,
    };
    Ok(Attributes {
        id: required_key(event, "id", text)?,
        source: required_key(event, "source", text)?,
        kind: required_key(event, "type", text)?,
        time,
        subject,
    })
}

fn structured_time(value: &Value) -> Result<DateTime<Utc>, EnvelopeError> {
    // The JSON event format encodes a Timestamp as an RFC 3339 string and nothing else.
    let text = text(value, "time")?;
    parse_rfc3339(&text).map_err(|reason| EnvelopeError::Timestamp {
        field: "time".to_owned(),
        reason,
    })
}

fn spec_version(version: &str, field: &str) -> Result<(), EnvelopeError> {
    if version == SPEC_VERSION {
        return Ok(());
    }
    Err(EnvelopeError::Unsupported {
        what: format!("CloudEvents `{field}` {version}; this receiver reads {SPEC_VERSION}"),
    })
}

/// A `ce-` header's value, percent-decoded as the binding requires of receivers (senders
/// encode space, `"`, `%` and everything outside printable ASCII); `None` when absent.
fn attribute_header(headers: &HeaderMap, name: &str) -> Result<Option<String>, EnvelopeError> {
    let Some(encoded) = super::read::header(headers, name)? else {
        return Ok(None);
    };
    let bad = |problem: &str| EnvelopeError::BadHeader {
        header: name.to_owned(),
        problem: problem.to_owned(),
    };
    let decoded = percent_decode(encoded).ok_or_else(|| bad("has a malformed `%` escape"))?;
    String::from_utf8(decoded)
        .map(Some)
        .map_err(|_| bad("is not UTF-8 once percent-decoded"))
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let mut bytes = text.bytes();
    let mut decoded = Vec::with_capacity(text.len());
    while let Some(byte) = bytes.next() {
        if byte != b'%' {
            decoded.push(byte);
            continue;
        }
        let high = char::from(bytes.next()?).to_digit(16)?;
        let low = char::from(bytes.next()?).to_digit(16)?;
        // Two hex digits are at most 0xff.
        decoded.push(u8::try_from(high * 16 + low).ok()?);
    }
    Some(decoded)
}

#[cfg(test)]
mod tests {
    use http::{HeaderName, HeaderValue};
    use serde_json::json;

    use super::super::{Envelope, TimestampError};
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    HeaderValue::from_str(value).expect("test header values are valid"),
                )
            })
            .collect()
    }

    fn extract(headers: &HeaderMap, body: &Value) -> Result<EventMeta, EnvelopeError> {
        Envelope::CloudEvents.extract(headers, body)
    }

    /// The binary-mode request of the HTTP protocol binding, section 3.1.4
    /// (<https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md#314-examples>),
    /// with the `ce-subject` of the spec's own example event.
    fn binary_headers() -> Vec<(&'static str, &'static str)> {
        vec![
            ("ce-specversion", "1.0"),
            ("ce-type", "com.example.someevent"),
            ("ce-time", "2018-04-05T03:56:24Z"),
            ("ce-id", "1234-1234-1234"),
            ("ce-source", "/mycontext/subcontext"),
            ("ce-subject", "123"),
            ("content-type", "application/json; charset=utf-8"),
        ]
    }

    /// The example event of the spec, section "Example"
    /// (<https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md#example>).
    fn structured_event() -> Value {
        json!({
            "specversion": "1.0",
            "type": "com.github.pull_request.opened",
            "source": "https://github.com/cloudevents/spec/pull",
            "subject": "123",
            "id": "A234-1234-1234",
            "time": "2018-04-05T17:31:00Z",
            "comexampleextension1": "value",
            "comexampleothervalue": 5,
            "datacontenttype": "text/xml",
            "data": "<much wow=\"xml\"/>"
        })
    }

    fn structured_headers() -> HeaderMap {
        headers(&[(
            "content-type",
            "application/cloudevents+json; charset=utf-8",
        )])
    }

    fn without(mut event: Value, key: &str) -> Value {
        if let Some(object) = event.as_object_mut() {
            object.remove(key);
        }
        event
    }

    #[test]
    fn binary_mode_reads_the_ce_headers_and_leaves_the_body_as_data() {
        let meta = extract(&headers(&binary_headers()), &json!({"anything": [1, 2]}));
        assert_eq!(
            meta,
            Ok(EventMeta {
                event_type: "com.example.someevent".into(),
                entity_type: Some("/mycontext/subcontext".into()),
                entity_id: Some("123".into()),
                created_at: DateTime::from_timestamp(1_522_900_584, 0),
                delivery_id: Some("/mycontext/subcontext 1234-1234-1234".into()),
                test: false,
            })
        );
    }

    #[test]
    fn binary_mode_data_need_not_be_an_object() {
        let meta = extract(&headers(&binary_headers()), &json!([1, 2, 3]));
        assert_eq!(
            meta.map(|meta| meta.event_type).as_deref(),
            Ok("com.example.someevent")
        );
    }

    #[test]
    fn structured_mode_reads_the_attributes_from_the_body() {
        let meta = extract(&structured_headers(), &structured_event());
        assert_eq!(
            meta,
            Ok(EventMeta {
                event_type: "com.github.pull_request.opened".into(),
                entity_type: Some("https://github.com/cloudevents/spec/pull".into()),
                entity_id: Some("123".into()),
                created_at: DateTime::from_timestamp(1_522_949_460, 0),
                delivery_id: Some("https://github.com/cloudevents/spec/pull A234-1234-1234".into()),
                test: false,
            })
        );
    }

    #[test]
    fn structured_mode_ignores_ce_headers() {
        let mut headers = headers(&binary_headers());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/CloudEvents+JSON"),
        );
        let meta = extract(&headers, &structured_event()).expect("valid");
        assert_eq!(meta.event_type, "com.github.pull_request.opened");
    }

    #[test]
    fn the_same_id_from_two_sources_is_two_deliveries() {
        let mut other = structured_event();
        other["source"] = json!("https://github.com/cloudevents/sdk-go/pull");
        let first = extract(&structured_headers(), &structured_event()).expect("valid");
        let second = extract(&structured_headers(), &other).expect("valid");
        assert_ne!(first.delivery_id, second.delivery_id);
        assert_ne!(
            first.entity_type, second.entity_type,
            "subjects are per source"
        );
    }

    #[test]
    fn subject_and_time_are_optional() {
        let event = without(without(structured_event(), "subject"), "time");
        let meta = extract(&structured_headers(), &event).expect("valid");
        assert_eq!(
            (meta.entity_type, meta.entity_id, meta.created_at),
            (None, None, None)
        );

        let binary: Vec<_> = binary_headers()
            .into_iter()
            .filter(|(name, _)| !matches!(*name, "ce-subject" | "ce-time"))
            .collect();
        let meta = extract(&headers(&binary), &json!({})).expect("valid");
        assert_eq!((meta.entity_id, meta.created_at), (None, None));
    }

    #[test]
    fn each_required_structured_attribute_is_missing_by_its_name() {
        for key in ["specversion", "id", "source", "type"] {
            assert_eq!(
                extract(&structured_headers(), &without(structured_event(), key)),
                Err(EnvelopeError::Missing { field: key.into() }),
                "{key}"
            );
        }
    }

    #[test]
    fn each_required_binary_header_is_missing_by_its_name() {
        for name in ["ce-specversion", "ce-id", "ce-source", "ce-type"] {
            let rest: Vec<_> = binary_headers()
                .into_iter()
                .filter(|(header, _)| *header != name)
                .collect();
            assert_eq!(
                extract(&headers(&rest), &json!({})),
                Err(EnvelopeError::MissingHeader {
                    header: name.into()
                }),
                "{name}"
            );
        }
    }

    #[test]
    fn a_structured_event_posted_as_plain_json_reads_as_it_does_in_structured_mode() {
        let plain = headers(&[("content-type", "application/json")]);
        assert_eq!(
            extract(&plain, &structured_event()),
            extract(&structured_headers(), &structured_event())
        );
    }

    #[test]
    fn time_must_be_rfc_3339() {
        let mut event = structured_event();
        event["time"] = json!("1522949460");
        assert_eq!(
            extract(&structured_headers(), &event),
            Err(EnvelopeError::Timestamp {
                field: "time".into(),
                reason: TimestampError::NotRfc3339 {
                    value: "1522949460".into()
                },
            })
        );
        event["time"] = json!(1_522_949_460);
        assert!(matches!(
            extract(&structured_headers(), &event),
            Err(EnvelopeError::WrongType { field, .. }) if field == "time"
        ));

        let mut binary = binary_headers();
        binary.retain(|(name, _)| *name != "ce-time");
        binary.push(("ce-time", "2018-04-05 03:56"));
        let error = extract(&headers(&binary), &json!({})).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("header `ce-time` is not a timestamp"),
            "{error}"
        );
    }

    #[test]
    fn time_with_an_offset_is_converted_to_utc() {
        let mut event = structured_event();
        event["time"] = json!("2018-04-05T19:31:00.5+02:00");
        let meta = extract(&structured_headers(), &event).expect("valid");
        assert_eq!(
            meta.created_at,
            DateTime::from_timestamp(1_522_949_460, 500_000_000)
        );
    }

    #[test]
    fn another_spec_version_is_not_accepted() {
        let mut event = structured_event();
        event["specversion"] = json!("0.3");
        let error = extract(&structured_headers(), &event).unwrap_err();
        assert!(
            matches!(error, EnvelopeError::Unsupported { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("0.3"), "{error}");
    }

    #[test]
    fn a_batch_is_not_read_as_one_event_but_each_of_its_events_is() {
        let batch = headers(&[("content-type", "application/cloudevents-batch+json")]);
        assert!(is_batch(&batch, b"[]") && !is_batch(&structured_headers(), b"[]"));
        let error = extract(&batch, &json!([structured_event()])).unwrap_err();
        assert!(matches!(error, EnvelopeError::Unsupported { .. }));
        assert!(error.to_string().contains("one by one"), "{error}");
        let item = extract_item(&structured_event()).expect("a structured event");
        assert_eq!(
            item,
            extract(&structured_headers(), &structured_event()).unwrap()
        );
        assert_eq!(
            extract_item(&json!("event")),
            Err(EnvelopeError::NotAnObject { found: "a string" })
        );
    }

    /// Twilio's Event Streams post CloudEvents as plain JSON: one event, or an array when the
    /// sink batches (the shape of https://www.twilio.com/docs/events/event-types/voice/status-callback).
    #[test]
    fn structured_events_sent_as_plain_json_are_read_and_an_array_of_them_is_a_batch() {
        let json = headers(&[("content-type", "application/json")]);
        let event = json!({"specversion": "1.0", "type": "com.twilio.voice.status-callback.amd.detected",
            "source": "AB00000000000000000000000001", "id": "NO00000000000000000000000001",
            "time": "2025-10-08T07:17:02.363Z", "data": {"sid": "CA0000000000000000000000000000001"}});
        let meta = extract(&json, &event).expect("a structured event");
        assert_eq!(
            meta.delivery_id.as_deref(),
            Some("AB00000000000000000000000001 NO00000000000000000000000001")
        );
        assert_eq!(
            meta.event_type,
            "com.twilio.voice.status-callback.amd.detected"
        );
        assert!(!is_batch(&json, event.to_string().as_bytes()));
        assert!(is_batch(&json, format!(" [{event}]").as_bytes()));
        // With `ce-specversion` it is binary mode, whatever the body holds.
        let binary = headers(&binary_headers());
        assert!(!is_batch(&binary, b"[1]"));
        assert_eq!(
            extract(&binary, &event).unwrap().event_type,
            "com.example.someevent"
        );
        // Plain JSON that is not an event is still asked for binary mode's headers.
        assert_eq!(
            extract(&json, &json!({"a": 1})),
            Err(EnvelopeError::MissingHeader {
                header: "ce-specversion".into()
            })
        );
    }

    #[test]
    fn structured_body_must_be_an_object() {
        assert_eq!(
            extract(&structured_headers(), &json!([structured_event()])),
            Err(EnvelopeError::NotAnObject { found: "an array" })
        );
    }

    #[test]
    fn header_values_are_percent_decoded() {
        let mut binary = binary_headers();
        binary.retain(|(name, _)| *name != "ce-subject");
        binary.push(("ce-subject", "Euro%20%E2%82%AC%20%F0%9F%98%80"));
        let meta = extract(&headers(&binary), &json!({})).expect("valid");
        assert_eq!(meta.entity_id.as_deref(), Some("Euro € 😀"));
    }

    #[test]
    fn malformed_percent_escapes_are_bad_headers() {
        for bad in ["50%", "%zz", "%ff%fe"] {
            let mut binary = binary_headers();
            binary.retain(|(name, _)| *name != "ce-subject");
            binary.push(("ce-subject", bad));
            assert!(
                matches!(
                    extract(&headers(&binary), &json!({})),
                    Err(EnvelopeError::BadHeader { header, .. }) if header == "ce-subject"
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_source_with_whitespace_is_refused() {
        let mut event = structured_event();
        event["source"] = json!("/a b");
        assert!(matches!(
            extract(&structured_headers(), &event),
            Err(EnvelopeError::WrongType { field, .. }) if field == "source"
        ));
    }

    #[test]
    fn cloudevents_names_its_time_field_and_takes_ids_from_headers() {
        assert_eq!(Envelope::CloudEvents.created_at_field(), "time");
        assert_eq!(Envelope::CloudEvents.name(), "cloudevents");
        assert!(Envelope::CloudEvents.delivery_id_from_headers());
        assert!(!Envelope::CloudEvents.carries_order());
    }
}
