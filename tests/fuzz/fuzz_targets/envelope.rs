//! `Envelope::extract` for every preset and a custom mapping, on arbitrary JSON and headers:
//! no panic, and whatever is extracted is usable (non-empty event type, times in range).

#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use receiver_sdk::envelope::{Envelope, Field, Mapping};
use serde_json::Value;

const NAMES: &[&str] = &[
    "x-superoffice-event",
    "x-superoffice-eventid",
    "x-hook-test",
    "webhook-id",
    "svix-id",
    "x-github-event",
    "x-github-delivery",
    "x-delivery-id",
];

#[derive(Debug, Arbitrary)]
struct Input {
    headers: Vec<(u8, Vec<u8>)>,
    body: Vec<u8>,
}

fn envelopes() -> &'static [Envelope] {
    static ENVELOPES: OnceLock<Vec<Envelope>> = OnceLock::new();
    ENVELOPES.get_or_init(|| {
        let mapping = Mapping::new(Field::pointer("/type").unwrap())
            .entity_type(Field::pointer("/data/kind").unwrap())
            .entity_id(Field::pointer("/data/id").unwrap())
            .created_at(Field::pointer("/created").unwrap())
            .delivery_id(Field::header("X-Delivery-Id").unwrap());
        vec![
            Envelope::Sonar,
            Envelope::Integration,
            Envelope::SuperOffice,
            Envelope::StandardWebhooks,
            Envelope::GitHub,
            Envelope::Raw,
            Envelope::Custom(mapping),
        ]
    })
}

fuzz_target!(|input: Input| {
    let Ok(body) = serde_json::from_slice::<Value>(&input.body) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        let name = NAMES[usize::from(*name) % NAMES.len()];
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    for envelope in envelopes() {
        match envelope.extract(&headers, &body) {
            Ok(meta) => {
                assert!(!meta.event_type.is_empty() || meta.test, "{envelope:?}: empty type");
                if let Some(time) = meta.created_at {
                    assert!(time.timestamp_nanos_opt().is_some(), "{envelope:?}");
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
        let _ = envelope.created_at_field();
    }
});
