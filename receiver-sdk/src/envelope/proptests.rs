//! Properties: extraction and time parsing never panic, and what they accept is usable.

use chrono::{DateTime, FixedOffset, SecondsFormat, Timelike, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

use super::*;

/// Keys the presets and test mappings read, so random bodies reach past the first check.
const KEYS: &[&str] = &[
    "event",
    "object_id",
    "current",
    "created_at",
    "id",
    "entityType",
    "eventType",
    "timestamp",
    "Event",
    "EventId",
    "Timestamp",
    "PrimaryKey",
    "Entity",
    "type",
    "data",
    "created",
];

/// Headers the presets and test mappings read.
const HEADERS: &[&str] = &[
    "x-github-event",
    "x-github-delivery",
    "x-superoffice-event",
    "x-superoffice-eventid",
    "x-hook-test",
    "webhook-id",
    "svix-id",
    "x-event-type",
    "x-timestamp",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => ".{0,8}",
    ]
}

/// Strings shaped like times, digits or date-times, valid or nearly so.
fn time_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{1,26}(\\.[0-9]{0,12})?",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|z|[+-][0-9]{2}:?[0-9]{2})?",
        Just("0001-01-01T00:00:00".to_owned()),
        Just("9999-12-31T23:59:59.9999999+14:00".to_owned()),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON has no NaN or infinity", |f| {
            Number::from_f64(f).map(Value::Number)
        }),
        ".{0,12}".prop_map(Value::String),
        time_like().prop_map(Value::String),
        Just(Value::String("test".to_owned())),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Values a sender might plausibly put in an envelope field, valid ones included, so that
/// shaped bodies often get all the way through extraction.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => "[a-z]{1,8}(\\.[a-z]{1,8})?".prop_map(Value::String),
        2 => any::<u32>().prop_map(Value::from),
        2 => any::<i64>().prop_map(|nanos| {
            Value::String(DateTime::from_timestamp_nanos(nanos).to_rfc3339())
        }),
        1 => time_like().prop_map(Value::String),
        1 => Just(Value::String("test".to_owned())),
        1 => json(),
    ]
}

/// An object holding most envelope keys, each with a plausible or arbitrary value, plus
/// nested objects where the presets look one level down.
fn envelope_shaped() -> impl Strategy<Value = Value> {
    let fields = || prop::collection::vec(prop::option::weighted(0.85, field_value()), KEYS.len());
    (fields(), fields(), any::<bool>()).prop_map(|(top, nested, nest)| {
        let object = |values: Vec<Option<Value>>| -> Map<String, Value> {
            KEYS.iter()
                .zip(values)
                .filter_map(|(key, value)| value.map(|value| ((*key).to_owned(), value)))
                .collect()
        };
        let nested = object(nested);
        let mut top = object(top);
        if nest {
            for key in ["current", "data"] {
                top.insert(key.to_owned(), Value::Object(nested.clone()));
            }
        }
        Value::Object(top)
    })
}

fn header_name() -> impl Strategy<Value = HeaderName> {
    prop_oneof![
        3 => prop::sample::select(HEADERS).prop_map(HeaderName::from_static),
        1 => "[a-z][a-z0-9-]{0,10}".prop_filter_map("valid name", |name| {
            HeaderName::from_bytes(name.as_bytes()).ok()
        }),
    ]
}

fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        prop::sample::select(
            &[
                "true",
                "TRUE",
                "false",
                "ping",
                "",
                " ",
                "2021-05-25T20:48:40Z"
            ][..]
        )
        .prop_map(HeaderValue::from_static),
        prop::collection::vec(any::<u8>(), 0..24)
            .prop_filter_map("valid value", |bytes| HeaderValue::from_bytes(&bytes).ok()),
        time_like().prop_filter_map("valid value", |text| HeaderValue::from_str(&text).ok()),
    ]
}

fn headers() -> impl Strategy<Value = HeaderMap> {
    prop::collection::vec((header_name(), header_value()), 0..6)
        .prop_map(|pairs| pairs.into_iter().collect())
}

fn envelopes() -> Vec<Envelope> {
    let field = |spec: &str| spec.parse::<Field>();
    let mut envelopes = vec![
        Envelope::Sonar,
        Envelope::Integration,
        Envelope::SuperOffice,
        Envelope::StandardWebhooks,
        Envelope::GitHub,
        Envelope::Raw,
    ];
    let mappings = [
        ("/type", "/data/id", "/timestamp", "header:webhook-id"),
        (
            "header:x-event-type",
            "/current/created_at",
            "header:x-timestamp",
            "/EventId",
        ),
        ("/", "/data/0", "/created", "/id"),
    ];
    for (event_type, entity_id, created_at, delivery_id) in mappings {
        if let (Ok(event_type), Ok(entity_id), Ok(created_at), Ok(delivery_id)) = (
            field(event_type),
            field(entity_id),
            field(created_at),
            field(delivery_id),
        ) {
            envelopes.push(Envelope::Custom(
                Mapping::new(event_type)
                    .entity_id(entity_id)
                    .created_at(created_at)
                    .delivery_id(delivery_id),
            ));
        }
    }
    envelopes
}

/// What every successful extraction must satisfy, whatever the input.
fn check_extraction(headers: &HeaderMap, body: &Value) -> Result<(), TestCaseError> {
    for envelope in envelopes() {
        match envelope.extract(headers, body) {
            Ok(meta) => {
                prop_assert!(!meta.event_type.is_empty(), "{}", envelope.name());
                for text in [&meta.entity_type, &meta.entity_id, &meta.delivery_id]
                    .into_iter()
                    .flatten()
                {
                    prop_assert!(!text.is_empty(), "{}", envelope.name());
                }
                if let Some(at) = meta.created_at {
                    prop_assert!(at.timestamp_nanos_opt().is_some(), "{}", envelope.name());
                }
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }
    Ok(())
}

fn in_range(time: DateTime<Utc>) -> bool {
    time.timestamp_nanos_opt().is_some()
}

/// `time` with its fraction cut to what `format` prints.
fn truncated(time: DateTime<Utc>, format: SecondsFormat) -> Option<DateTime<Utc>> {
    let step = match format {
        SecondsFormat::Secs => 1_000_000_000,
        SecondsFormat::Millis => 1_000_000,
        SecondsFormat::Micros => 1_000,
        _ => 1,
    };
    time.with_nanosecond(time.nanosecond() / step * step)
}

proptest! {
    #[test]
    fn extraction_never_panics_on_arbitrary_json(headers in headers(), body in json()) {
        check_extraction(&headers, &body)?;
    }

    #[test]
    fn extraction_never_panics_on_envelope_shaped_json(
        headers in headers(),
        body in envelope_shaped(),
    ) {
        check_extraction(&headers, &body)?;
    }

    #[test]
    fn parse_timestamp_never_panics_on_strings(text in prop_oneof![".*", time_like()]) {
        if let Ok(time) = parse_timestamp(&Value::String(text)) {
            prop_assert!(in_range(time));
        }
    }

    #[test]
    fn parse_timestamp_never_panics_on_numbers(value in leaf()) {
        if let Ok(time) = parse_timestamp(&value) {
            prop_assert!(in_range(time));
        }
    }

    #[test]
    fn chrono_rfc3339_output_round_trips(
        nanos in any::<i64>(),
        offset_minutes in -1439_i32..=1439,
        format in prop::sample::select(&[
            SecondsFormat::Secs,
            SecondsFormat::Millis,
            SecondsFormat::Micros,
            SecondsFormat::Nanos,
            SecondsFormat::AutoSi,
        ][..]),
        use_z in any::<bool>(),
    ) {
        let time = DateTime::from_timestamp_nanos(nanos);
        let offset = FixedOffset::east_opt(offset_minutes * 60)
            .ok_or_else(|| TestCaseError::fail("offset in range"))?;
        let text = time.with_timezone(&offset).to_rfc3339_opts(format, use_z);
        let expected = truncated(time, format)
            .ok_or_else(|| TestCaseError::fail("truncation stays valid"))?;
        let parsed = parse_timestamp(&Value::String(text.clone()));
        if in_range(expected) {
            prop_assert_eq!(parsed, Ok(expected), "{}", text);
        } else {
            // Cutting the fraction off the earliest representable times moves them before it.
            let out_of_range = matches!(parsed, Err(TimestampError::OutOfRange { .. }));
            prop_assert!(out_of_range, "{}: {:?}", text, parsed);
        }
    }

    #[test]
    fn unix_seconds_round_trip(seconds in -9_223_372_036_i64..=9_223_372_036) {
        let expected = DateTime::from_timestamp(seconds, 0);
        prop_assert_eq!(parse_timestamp(&Value::from(seconds)).ok(), expected);
        prop_assert_eq!(parse_timestamp(&Value::String(seconds.to_string())).ok(), expected);
    }

    #[test]
    fn unix_milliseconds_round_trip(
        millis in prop_oneof![
            100_000_000_000_i64..=9_223_372_036_854,
            -9_223_372_036_854_i64..=-100_000_000_000,
        ],
    ) {
        let expected = DateTime::from_timestamp_millis(millis);
        prop_assert_eq!(parse_timestamp(&Value::from(millis)).ok(), expected);
    }

    #[test]
    fn fractional_unix_seconds_are_exact(
        negative in any::<bool>(),
        seconds in 0_i64..9_223_372_036,
        nanos in 0_i64..1_000_000_000,
    ) {
        let text = format!("{}{seconds}.{nanos:09}", if negative { "-" } else { "" });
        let magnitude = seconds * 1_000_000_000 + nanos;
        let expected = DateTime::from_timestamp_nanos(if negative { -magnitude } else { magnitude });
        prop_assert_eq!(parse_timestamp(&Value::String(text)), Ok(expected));
    }
}
