//! The URL forms Twilio's library (`twilio` 6.3.1, `validateRequest`) accepts a signature for,
//! each signed by that library in Node (`tests/interop/url.mjs`) and checked by the SDK's
//! Twilio verifier at the URL as received: the received URL with and without its port, the
//! URL as `new URL()` normalises it with and without its port, and those with the query
//! re-encoded by Node's legacy `querystring`. A sweep over awkward URLs holds the SDK to the
//! library's verdict, accepted or refused, for every candidate.

use std::time::SystemTime;

use axum::Router;
use end_to_end::{Recorder, Server};
use http::{HeaderMap, Method};
use receiver_sdk::envelope::{Envelope, Field, Mapping};
use receiver_sdk::verify::{SignedRequest, Verifier};
use receiver_sdk::Receiver;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const TOKEN: &str = "twilio_auth_token";
const BODY: &str = "MessageSid=SM1&MessageStatus=delivered&To=%2B15550001111";

/// What `url.mjs` prints for `input`.
fn library(input: Value) -> Value {
    serde_json::from_slice(&end_to_end::node("url.mjs", &input)).expect("url.mjs prints JSON")
}

/// The `X-Twilio-Signature` twilio's library makes for [`BODY`] posted to `url`.
fn library_signature(url: &str) -> String {
    let input =
        json!({"op": "sign", "provider": "twilio", "secret": TOKEN, "url": url, "body": BODY});
    library(input)["headers"]["x-twilio-signature"]
        .as_str()
        .expect("a signature")
        .to_owned()
}

/// Whether twilio's `validateRequest` takes `signature` for [`BODY`] received at `url`.
fn library_accepts(url: &str, signature: &str) -> bool {
    let input = json!({"op": "verify", "provider": "twilio", "secret": TOKEN, "url": url,
                       "body": BODY, "signature": signature});
    library(input)["valid"]
        .as_bool()
        .expect("{\"valid\": bool}")
}

/// Whether the SDK's Twilio verifier takes `signature` for [`BODY`] received at `url`.
fn sdk_accepts(url: &str, signature: &str) -> bool {
    let verifier = Verifier::provider("twilio", [TOKEN]).expect("a token");
    let mut headers = HeaderMap::new();
    headers.insert("x-twilio-signature", signature.parse().expect("base64"));
    let request = SignedRequest::new(&Method::POST, url, &headers, BODY.as_bytes());
    verifier.verify_request(&request, SystemTime::now()).is_ok()
}

/// A delivery received at `received` whose signature the library made over `signed` is
/// accepted by the library and by the SDK.
#[track_caller]
fn assert_form_accepted(received: &str, signed: &str) {
    assert_ne!(received, signed, "a form other than the URL itself");
    let signature = library_signature(signed);
    assert!(
        library_accepts(received, &signature),
        "twilio's library refused {signed} at {received}"
    );
    assert!(
        sdk_accepts(received, &signature),
        "the SDK refused {signed} at {received}"
    );
}

#[test]
fn a_signature_over_the_received_url_without_its_port_verifies() {
    assert_form_accepted(
        "https://hooks.example.com:8443/sms?name=O'Brien",
        "https://hooks.example.com/sms?name=O'Brien",
    );
}

#[test]
fn a_signature_over_the_url_as_new_url_normalises_it_verifies() {
    // `new URL()` percent-encodes `'` in the query of an https URL and resolves `..`.
    assert_form_accepted(
        "https://hooks.example.com/in/../sms?name=O'Brien",
        "https://hooks.example.com/sms?name=O%27Brien",
    );
}

#[test]
fn a_signature_over_the_normalised_url_without_its_port_verifies() {
    assert_form_accepted(
        "https://hooks.example.com:8443/sms?name=O'Brien",
        "https://hooks.example.com/sms?name=O%27Brien",
    );
}

#[test]
fn a_signature_over_the_normalised_url_with_the_default_port_verifies() {
    // The host is lower-cased by the normalisation, so the received URL with the port added
    // is not this form.
    assert_form_accepted(
        "https://HOOKS.example.com/sms",
        "https://hooks.example.com:443/sms",
    );
}

#[test]
fn a_signature_over_the_legacy_query_of_the_normalised_url_verifies() {
    // `querystring` decodes `+` to a space and writes it `%20`, and encodes `:` and `/`.
    assert_form_accepted(
        "https://hooks.example.com/sms?name=Jane+Doe&return=https://x.test/",
        "https://hooks.example.com/sms?name=Jane%20Doe&return=https%3A%2F%2Fx.test%2F",
    );
}

#[test]
fn a_signature_over_the_legacy_query_with_the_default_port_verifies() {
    // A name given twice is written once with both values, before the names after it.
    assert_form_accepted(
        "https://hooks.example.com/sms?a=1&b=2&a=3",
        "https://hooks.example.com:443/sms?a=1&a=3&b=2",
    );
}

#[test]
fn a_signature_over_another_url_is_refused_by_the_library_and_the_sdk() {
    let received = "https://hooks.example.com/sms?name=O'Brien";
    for signed in [
        "https://hooks.example.com/voice?name=O'Brien",
        "https://hooks.example.com:8443/sms?name=O'Brien",
        "https://hooks.example.com/sms?name=O'Brian",
    ] {
        let signature = library_signature(signed);
        assert!(!library_accepts(received, &signature), "{signed}");
        assert!(!sdk_accepts(received, &signature), "{signed}");
    }
}

#[test]
fn the_sdk_accepts_exactly_the_url_forms_twilios_library_accepts() {
    let received = [
        "https://hooks.example.com/sms?name=O'Brien+Jr&b=1&a=2",
        "https://Hooks.Example.COM:443/in/./../sms?x=%7e&y=a%2Bb&y=c",
        "http://127.0.0.1:8080/sms?e=%E9&bad=%ZZ%41&flag",
        "https://hooks.example.com/sms/caf\u{e9}?q=\u{e9}t\u{e9}&10=x&2=y",
        "https://user:pw@hooks.example.com/sms?q={a}|\"b\"&=v&&k=",
        "https://[::1]:443/sms?a=1&a=1&a=0",
        "https://hooks.example.com/sms",
        "https://hooks.example.com/sms?",
        "http://hooks.example.com:80/sms?return=https%3a//x.test/a?b#frag",
        "https://hooks.example.com:0443/sms/%2e%2e/sms?a=%2B&b=%20",
        "https://hooks.example.com:/sms/a^b`c{d}?e=^`{}",
        "https://0x7f.1/sms\\back?tab=a\tb",
        "https://xn--caf-dma.example/sms?q=1",
        "https://B\u{fc}cher.example/sms?q=1",
        "HTTP://HOOKS.EXAMPLE.COM/SMS?A=%41",
        "https://hooks.example.com/sms?%zz=1&%41=%42&a=b=c",
        "not a url/sms?a=1",
        "mailto:ops@example.com?subject=sms",
    ];
    let cases = library(json!({"op": "twilio-forms", "secret": TOKEN, "body": BODY,
                               "received": received}));
    let cases = cases.as_array().expect("an array of cases");
    let mut accepted_kinds = std::collections::BTreeSet::new();
    let mut refused = 0;
    for case in cases {
        let (received, signed) = (&case["received"], &case["signed"]);
        let signature = case["signature"].as_str().expect("a signature");
        let by_library = case["valid"].as_bool().expect("a verdict");
        let by_sdk = sdk_accepts(received.as_str().expect("a URL"), signature);
        assert_eq!(
            by_sdk, by_library,
            "signed over {signed}, received at {received}"
        );
        if by_library && received != signed {
            accepted_kinds.insert(case["kind"].as_str().expect("a kind").to_owned());
        } else if !by_library {
            refused += 1;
        }
    }
    // The sweep reached every form, and URLs no form matches.
    for kind in ["as-received", "normalised", "legacy"] {
        assert!(accepted_kinds.contains(kind), "no {kind} form was accepted");
    }
    assert!(refused >= 3 * received.len(), "{refused} refused");
}

#[tokio::test]
async fn regression_a_quote_in_the_query_signed_as_new_url_encodes_it_verifies_over_http() {
    // The URL as received keeps `'` (no proxy or client re-encoded it); the signature is over
    // `%27`, as a back end that normalised the URL with `new URL()` signed it. Before the
    // normalised forms were tried this was refused 401.
    let receiver = Receiver::builder("twilio-forms")
        .verifier(Verifier::provider("twilio", [TOKEN]).expect("a token"))
        .envelope(Envelope::Custom(Mapping::new(
            Field::pointer("/MessageStatus").expect("a pointer"),
        )))
        .store(receiver_sdk::store::MemoryStore::new())
        .accept_form_bodies()
        .handler(Recorder::new().handler())
        .build()
        .expect("a receiver");
    let server = Server::start(Router::new().route_service("/webhook", receiver)).await;
    let signed = server.url("/webhook?name=O%27Brien");
    let signature = library_signature(&signed);
    let post = |signature: String| raw_post(&server, "/webhook?name=O'Brien", signature);
    assert_eq!(post(signature).await, 200);
    assert_eq!(post(library_signature(&server.url("/webhook"))).await, 401);
}

/// POSTs [`BODY`] as a form to `target` exactly as written (no client re-encodes it); the
/// status answered.
async fn raw_post(server: &Server, target: &str, signature: String) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let request = format!(
        "POST {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         X-Twilio-Signature: {signature}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        server.addr,
        BODY.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write the request");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"))
}
