//! `parse_timestamp` on arbitrary JSON values and strings: no panic, every accepted time fits
//! the store's i64 nanoseconds, and its RFC 3339 rendering parses back to the same instant.

#![no_main]

use libfuzzer_sys::fuzz_target;
use receiver_sdk::envelope::parse_timestamp;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let values = match serde_json::from_slice::<Value>(data) {
        Ok(value) => vec![value],
        Err(_) => vec![Value::String(String::from_utf8_lossy(data).into_owned())],
    };
    for value in values {
        if let Ok(time) = parse_timestamp(&value) {
            assert!(time.timestamp_nanos_opt().is_some(), "{value} out of range");
            let again = parse_timestamp(&Value::String(time.to_rfc3339()))
                .unwrap_or_else(|e| panic!("{value} -> {time}: {e}"));
            assert_eq!(again, time, "{value}");
        }
    }
});
