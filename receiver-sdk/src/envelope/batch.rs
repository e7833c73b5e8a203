//! Batches: deliveries that carry several events (a CloudEvents batch, HubSpot's array, LINE's
//! and Asana's `events`): where the events are, and each one's bytes exactly as sent.
//!
//! The events are cut out of the raw body rather than re-encoded from parsed JSON, so a
//! handler gets each event's own bytes and two deliveries of the same event hash alike.

use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::timestamp::describe;
use super::{EnvelopeError, FieldError};

/// Where a batch keeps its events: a JSON pointer to an array, empty for a body that is the
/// array itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(super) struct BatchAt(String);

impl BatchAt {
    /// `pointer` checked to be empty or an RFC 6901 pointer.
    pub(super) fn new(pointer: &str) -> Result<Self, FieldError> {
        if pointer.is_empty() {
            return Ok(Self(String::new()));
        }
        // The same rules as a field's pointer, so the two read alike.
        super::Field::pointer(pointer).map(|_| Self(pointer.to_owned()))
    }

    /// A batch pointer of the built-in catalogue. The catalogue's tests check every one with
    /// [`BatchAt::new`], so none is malformed.
    pub(super) fn from_static(pointer: &'static str) -> Self {
        Self(pointer.to_owned())
    }

    pub(super) fn pointer(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BatchAt {
    type Error = FieldError;

    fn try_from(pointer: String) -> Result<Self, Self::Error> {
        Self::new(&pointer)
    }
}

impl From<BatchAt> for String {
    fn from(at: BatchAt) -> Self {
        at.0
    }
}

impl fmt::Display for BatchAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The bytes of each event of the array at `pointer` in `body`, in order, if it holds at
/// most `limit` of them.
///
/// The events are counted as they are cut, so a batch over the limit is refused at its first
/// event past it, before the rest is read: a body of a million tiny items costs a count, not a
/// million slices. A body that is the array itself is read in one pass; a pointer adds one
/// pass over each value on its way (each object or array is read once to find the next step).
pub(super) fn items<'a>(
    body: &'a [u8],
    pointer: &str,
    limit: usize,
) -> Result<Vec<&'a [u8]>, EnvelopeError> {
    let invalid = |e: serde_json::Error| EnvelopeError::InvalidJson(e.to_string());
    let field = || {
        if pointer.is_empty() {
            "the body".to_owned()
        } else {
            format!("`{pointer}`")
        }
    };
    let at: &[u8] = if pointer.is_empty() {
        body
    } else {
        let whole: &RawValue = serde_json::from_slice(body).map_err(invalid)?;
        let found = raw_at(whole, pointer).map_err(invalid)?;
        found
            .filter(|raw| raw.get() != "null")
            .ok_or_else(|| EnvelopeError::Missing {
                field: pointer.to_owned(),
            })?
            .get()
            .as_bytes()
    };
    let over = Cell::new(false);
    let mut reader = serde_json::Deserializer::from_slice(at);
    let cut = Cut { limit, over: &over }
        .deserialize(&mut reader)
        .and_then(|items| reader.end().map(|()| items));
    match cut {
        Ok(items) => Ok(items),
        Err(_) if over.get() => Err(EnvelopeError::TooManyEvents { limit }),
        // Not an array, or not JSON at all: told apart only now, on the way out.
        Err(error) => match serde_json::from_slice::<Value>(at) {
            Ok(value) => Err(EnvelopeError::NotABatch {
                field: field(),
                found: describe(&value),
            }),
            Err(_) => Err(invalid(error)),
        },
    }
}

/// Cuts a JSON array into its items' bytes, stopping with an error (and `over` set) at the
/// first item past `limit`.
struct Cut<'c> {
    limit: usize,
    over: &'c Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Cut<'_> {
    type Value = Vec<&'de [u8]>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Cut<'_> {
    type Value = Vec<&'de [u8]>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            if items.len() == self.limit {
                self.over.set(true);
                return Err(serde::de::Error::custom("more events than the limit"));
            }
            items.push(raw.get().as_bytes());
        }
        Ok(items)
    }
}

/// The value at `pointer` in `raw`, still raw; `None` when a step is absent or cannot be
/// taken (a key into an array, past the end). Each step reads its object or array once,
/// holding only the value it looks for: the other keys and values are skipped, not kept.
fn raw_at<'a>(raw: &'a RawValue, pointer: &str) -> Result<Option<&'a RawValue>, serde_json::Error> {
    let mut here = raw;
    for token in pointer.split('/').skip(1) {
        let key = super::read::pointer_token(token);
        let next = match here.get().as_bytes().first() {
            Some(b'{' | b'[') => {
                let mut reader = serde_json::Deserializer::from_str(here.get());
                Step(&key).deserialize(&mut reader)?
            }
            _ => None,
        };
        match next {
            Some(next) => here = next,
            None => return Ok(None),
        }
    }
    Ok(Some(here))
}

/// One step of a pointer: the value of a key in an object (the last, where a key repeats, as
/// serde_json's own objects keep), or of an index in an array.
struct Step<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for Step<'_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Step<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object or an array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.0 {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let wanted: Option<usize> = self.0.parse().ok();
        let mut found = None;
        let mut index = 0;
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            if Some(index) == wanted {
                found = Some(item);
            }
            index += 1;
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_is_cut_out_byte_for_byte() {
        let body = br#"[ {"a": 1,  "b":[2]} ,{"c":"\u00e9"}]"#;
        let items = items(body, "", usize::MAX).unwrap();
        assert_eq!(items, [&br#"{"a": 1,  "b":[2]}"#[..], br#"{"c":"\u00e9"}"#]);
    }

    #[test]
    fn a_pointer_reaches_a_nested_array_and_unescapes_its_tokens() {
        let body = br#"{"destination":"U1","events":[{"type":"message"}],"a/b":{"~":[[1]]}}"#;
        assert_eq!(
            items(body, "/events", usize::MAX).unwrap(),
            [&br#"{"type":"message"}"#[..]]
        );
        assert_eq!(items(body, "/a~1b/~0/0", usize::MAX).unwrap(), [&b"1"[..]]);
        assert_eq!(items(b"[]", "", usize::MAX).unwrap(), Vec::<&[u8]>::new());
    }

    #[test]
    fn what_is_not_a_batch_says_what_it_is() {
        assert_eq!(
            items(br#"{"events":{"type":"x"}}"#, "/events", usize::MAX),
            Err(EnvelopeError::NotABatch {
                field: "`/events`".into(),
                found: "an object"
            })
        );
        assert_eq!(
            items(br#"{"type":"x"}"#, "", usize::MAX),
            Err(EnvelopeError::NotABatch {
                field: "the body".into(),
                found: "an object"
            })
        );
        for absent in [&br#"{"other":[]}"#[..], br#"{"events":null}"#, br#"[1]"#] {
            assert_eq!(
                items(absent, "/events", usize::MAX),
                Err(EnvelopeError::Missing {
                    field: "/events".into()
                }),
                "{}",
                String::from_utf8_lossy(absent)
            );
        }
        assert!(matches!(
            items(b"[{]", "", usize::MAX),
            Err(EnvelopeError::InvalidJson(_))
        ));
    }

    #[test]
    fn a_repeated_key_on_the_way_is_read_as_serde_json_reads_it_the_last_one() {
        let body = br#"{"events":[{"a":1}],"other":{"x":[1,2]},"events":[{"b":2}]}"#;
        assert_eq!(
            items(body, "/events", usize::MAX).unwrap(),
            [&br#"{"b":2}"#[..]]
        );
        let value: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(value["events"], serde_json::json!([{"b": 2}]));
    }

    #[test]
    fn a_batch_over_its_limit_is_refused_at_the_first_event_past_it() {
        assert_eq!(items(b"[1,2]", "", 2).unwrap().len(), 2);
        // The tail past the third item is never read: it is not even JSON.
        assert_eq!(
            items(b"[1,2,3,{", "", 2),
            Err(EnvelopeError::TooManyEvents { limit: 2 })
        );
        assert_eq!(
            items(br#"{"events":[1,2,3]}"#, "/events", 2),
            Err(EnvelopeError::TooManyEvents { limit: 2 })
        );
        assert!(matches!(
            items(b"[1,2] x", "", 2),
            Err(EnvelopeError::InvalidJson(_))
        ));
    }

    #[test]
    fn a_batch_pointer_is_empty_or_well_formed() {
        assert_eq!(BatchAt::new("").unwrap().pointer(), "");
        assert_eq!(BatchAt::new("/events").unwrap().to_string(), "/events");
        assert!(BatchAt::new("events").is_err());
        assert!(BatchAt::new("/a~2").is_err());
    }
}
