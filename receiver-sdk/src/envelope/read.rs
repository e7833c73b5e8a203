//! Reading one field: presence, type and shape checks shared by the presets and mappings.

use chrono::{DateTime, Utc};
use http::HeaderMap;
use serde_json::{Map, Value};

use super::timestamp::{describe, parse_timestamp, parse_timestamp_str};
use super::EnvelopeError;

/// One token of an RFC 6901 pointer, unescaped: `~1` before `~0`, so `~01` is `~1`, not `/`.
pub(super) fn pointer_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// The body as an object, for presets whose fields are all top-level keys.
pub(super) fn object(body: &Value) -> Result<&Map<String, Value>, EnvelopeError> {
    body.as_object().ok_or(EnvelopeError::NotAnObject {
        found: describe(body),
    })
}

/// A key's value, with `null` counted as absent: many senders write `null` for "no value".
pub(super) fn get<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|value| !value.is_null())
}

/// A required top-level field, checked with `read`.
pub(super) fn required_key<T>(
    object: &Map<String, Value>,
    key: &str,
    read: fn(&Value, &str) -> Result<T, EnvelopeError>,
) -> Result<T, EnvelopeError> {
    read(required(get(object, key), key)?, key)
}

/// An optional top-level field, checked with `read` when present.
pub(super) fn optional_key<T>(
    object: &Map<String, Value>,
    key: &str,
    read: fn(&Value, &str) -> Result<T, EnvelopeError>,
) -> Result<Option<T>, EnvelopeError> {
    optional(get(object, key), key, read)
}

/// Turns an absent required value into [`EnvelopeError::Missing`].
pub(super) fn required<'a>(
    value: Option<&'a Value>,
    field: &str,
) -> Result<&'a Value, EnvelopeError> {
    value.ok_or_else(|| EnvelopeError::Missing {
        field: field.to_owned(),
    })
}

/// A non-empty string, such as an event or entity type.
pub(super) fn text(value: &Value, field: &str) -> Result<String, EnvelopeError> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        other => Err(wrong_type(field, "a non-empty string", other)),
    }
}

/// An id: a non-empty string as-is, or an integer as its JSON text.
///
/// Other numbers are refused: serde_json reads integers past 64 bits and fractions as `f64`,
/// whose text is not the sender's (`12345678901234567890123` and `12345678901234567890124`
/// both become `1.2345678901234568e22`), so two entities would share one ordering mark and
/// one's events be dropped as stale, or two deliveries one dedupe entry.
pub(super) fn id(value: &Value, field: &str) -> Result<String, EnvelopeError> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        other => Err(wrong_type(field, "a non-empty string or an integer", other)),
    }
}

/// A time, in any form [`parse_timestamp`] reads.
pub(super) fn time(value: &Value, field: &str) -> Result<DateTime<Utc>, EnvelopeError> {
    parse_timestamp(value).map_err(|reason| EnvelopeError::Timestamp {
        field: field.to_owned(),
        reason,
    })
}

/// Applies `read` to a value that may be absent.
pub(super) fn optional<T>(
    value: Option<&Value>,
    field: &str,
    read: fn(&Value, &str) -> Result<T, EnvelopeError>,
) -> Result<Option<T>, EnvelopeError> {
    value.map(|value| read(value, field)).transpose()
}

fn wrong_type(field: &str, expected: &'static str, found: &Value) -> EnvelopeError {
    EnvelopeError::WrongType {
        field: field.to_owned(),
        expected,
        // Callers accept every non-empty string, so a string that reaches here is empty.
        found: match found {
            Value::String(_) => "an empty string",
            other => describe(other),
        },
    }
}

/// A header's value as text, `None` when absent.
///
/// Surrounding whitespace is not part of a header value in HTTP, so it is trimmed. A value that
/// is empty or not UTF-8 is an error rather than `None`, for the same reason as malformed body
/// fields.
pub(super) fn header<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a str>, EnvelopeError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let bad = |problem: &str| EnvelopeError::BadHeader {
        header: name.to_owned(),
        problem: problem.to_owned(),
    };
    let text = std::str::from_utf8(value.as_bytes())
        .map_err(|_| bad("is not valid UTF-8"))?
        .trim();
    if text.is_empty() {
        return Err(bad("is empty"));
    }
    Ok(Some(text))
}

/// A header's value as a time.
pub(super) fn header_time(text: &str, name: &str) -> Result<DateTime<Utc>, EnvelopeError> {
    parse_timestamp_str(text).map_err(|reason| EnvelopeError::BadHeader {
        header: name.to_owned(),
        problem: format!("is not a timestamp: {reason}"),
    })
}
