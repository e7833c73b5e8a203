//! Every verifier against arbitrary header values and bodies: no panic, and a delivery signed
//! with the SDK's own `sign` helpers over the fuzzer's id, timestamp and body always verifies.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use receiver_sdk::verify::{sign, Verifier};
use receiver_sdk::Secret;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET: &str = "fuzz-secret";

/// Every header any scheme reads, so arbitrary values land where parsers look.
const NAMES: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "x-hub-signature-256",
    "x-shopify-hmac-sha256",
    "x-superoffice-signature",
    "stripe-signature",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "authorization",
    "x-token",
];

#[derive(Debug, Arbitrary)]
struct Input {
    headers: Vec<(u8, Vec<u8>)>,
    body: Vec<u8>,
    now: u32,
    id: String,
}

fn verifiers() -> &'static [Verifier] {
    static VERIFIERS: OnceLock<Vec<Verifier>> = OnceLock::new();
    VERIFIERS.get_or_init(|| {
        vec![
            Verifier::none(),
            Verifier::standard_webhooks([WHSEC]).unwrap(),
            Verifier::github([SECRET]).unwrap(),
            Verifier::shopify([SECRET]).unwrap(),
            Verifier::superoffice([SECRET]).unwrap(),
            Verifier::stripe([SECRET]).unwrap(),
            Verifier::slack([SECRET]).unwrap(),
            Verifier::basic("fuzz", [("user".to_owned(), Secret::from("password"))]).unwrap(),
            Verifier::token(AUTHORIZATION, ["token-1"]).unwrap(),
            Verifier::token(HeaderName::from_static("x-token"), ["token-1"]).unwrap(),
        ]
    })
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn header(headers: &mut HeaderMap, name: &'static str, value: &str) -> bool {
    match HeaderValue::from_str(value) {
        Ok(value) => {
            headers.insert(name, value);
            true
        }
        Err(_) => false,
    }
}

fuzz_target!(|input: Input| {
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        let name = NAMES[usize::from(*name) % NAMES.len()];
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    let now = at(u64::from(input.now));
    for verifier in verifiers() {
        let _ = verifier.verify(&headers, &input.body, now);
        let _ = verifier.challenge();
    }

    // The senders' side and the receivers' side agree on every input a sender could send.
    let timestamp = u64::from(input.now);
    let id_ok = !input.id.is_empty()
        && input.id.len() <= 8 * 1024
        && input.id.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    let mut signed = HeaderMap::new();
    let signature = sign::standard_webhooks(WHSEC, &input.id, timestamp, &input.body).unwrap();
    if id_ok && header(&mut signed, "webhook-id", &input.id) {
        header(&mut signed, "webhook-timestamp", &timestamp.to_string());
        header(&mut signed, "webhook-signature", &signature);
        verifiers()[1]
            .verify(&signed, &input.body, now)
            .expect("a Standard Webhooks delivery signed by sign:: verifies");
    }
    let checks: [(usize, &'static str, String); 5] = [
        (2, "x-hub-signature-256", sign::github(SECRET, &input.body)),
        (3, "x-shopify-hmac-sha256", sign::shopify(SECRET, &input.body)),
        (4, "x-superoffice-signature", sign::superoffice(SECRET, &input.body)),
        (5, "stripe-signature", sign::stripe(SECRET, timestamp, &input.body)),
        (6, "x-slack-signature", sign::slack(SECRET, timestamp, &input.body)),
    ];
    for (index, name, value) in checks {
        let mut signed = HeaderMap::new();
        header(&mut signed, name, &value);
        header(&mut signed, "x-slack-request-timestamp", &timestamp.to_string());
        verifiers()[index]
            .verify(&signed, &input.body, now)
            .unwrap_or_else(|e| panic!("{name} signed by sign:: failed: {e}"));
    }
});
