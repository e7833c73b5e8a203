//! The hostile input battery: malformed and malicious requests against SDK endpoints over real
//! loopback HTTP, each with its documented status and a check of the message. Requests that
//! no HTTP client would send (bad framing, control bytes in headers, slow bodies) go over raw
//! TCP. After the battery every endpoint still handles a valid delivery.
//!
//! Statuses below hyper's own checks (framing, header limits) come from hyper and carry no
//! body; everything past them is the SDK's answer with its JSON `message`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use base64::Engine;
use end_to_end::{Recorder, Server};
use receiver_sdk::envelope::Envelope;
use receiver_sdk::verify::{sign, Verifier};
use receiver_sdk::{Receiver, ReceiverBuilder, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const STRIPE_SECRET: &str = "whsec_stripe_test";
const USER: &str = "fieldservice";
const PASSWORD: &str = "pa55:w0rd";
const TOKEN: &str = "tok-3f9a";
/// The body limit of every endpoint in the battery.
const LIMIT: usize = 64 * 1024;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn endpoint(
    name: &str,
    recorder: &Recorder,
    configure: impl Fn(ReceiverBuilder) -> ReceiverBuilder,
) -> Receiver {
    configure(Receiver::builder(name))
        .store(receiver_sdk::store::MemoryStore::new())
        .body_limit(LIMIT)
        .handler(recorder.handler())
        .build()
        .unwrap()
}

async fn battery_server(recorder: &Recorder) -> Server {
    let basic = [(USER.to_owned(), Secret::from(PASSWORD))];
    let app = Router::new()
        .route_service(
            "/sonar",
            endpoint("sonar", recorder, |b| b.envelope(Envelope::Sonar)),
        )
        .route_service(
            "/integration",
            endpoint("integration", recorder, |b| {
                b.envelope(Envelope::Integration)
            }),
        )
        .route_service(
            "/slow",
            endpoint("slow", recorder, |b| {
                b.envelope(Envelope::Raw)
                    .body_timeout(Duration::from_millis(300))
            }),
        )
        .route_service(
            "/standard",
            endpoint("standard", recorder, |b| {
                b.envelope(Envelope::StandardWebhooks)
                    .verifier(Verifier::standard_webhooks([WHSEC]).unwrap())
            }),
        )
        .route_service(
            "/github",
            endpoint("github", recorder, |b| {
                b.envelope(Envelope::GitHub)
                    .verifier(Verifier::github([GITHUB_SECRET]).unwrap())
            }),
        )
        .route_service(
            "/stripe",
            endpoint("stripe", recorder, |b| {
                b.envelope(Envelope::Raw)
                    .verifier(Verifier::stripe([STRIPE_SECRET]).unwrap())
            }),
        )
        .route_service(
            "/basic",
            endpoint("basic", recorder, move |b| {
                b.envelope(Envelope::Raw)
                    .verifier(Verifier::basic("webhooks", basic.clone()).unwrap())
            }),
        )
        .route_service(
            "/token",
            endpoint("token", recorder, |b| {
                b.envelope(Envelope::Raw)
                    .verifier(Verifier::token(http::header::AUTHORIZATION, [TOKEN]).unwrap())
            }),
        );
    Server::start(app).await
}

/// One hostile request.
enum Request {
    /// A POST through reqwest with these headers (content type included) and body.
    Post {
        path: &'static str,
        headers: Vec<(&'static str, Vec<u8>)>,
        body: Vec<u8>,
    },
    /// Bytes written as they are to a fresh connection.
    Raw(Vec<u8>),
    /// Bytes written as they are, then the connection half-closed: the sender is gone.
    Truncated(Vec<u8>),
    /// A head, then body chunks with a pause before each.
    Slow {
        head: Vec<u8>,
        chunks: Vec<Vec<u8>>,
        pause: Duration,
    },
}

struct Case {
    name: &'static str,
    request: Request,
    status: u16,
    /// What the JSON `message` must contain; `None` for hyper's own bodiless answers.
    message: Option<&'static str>,
}

fn json() -> (&'static str, Vec<u8>) {
    ("content-type", b"application/json".to_vec())
}

fn post(path: &'static str, body: impl Into<Vec<u8>>) -> Request {
    Request::Post {
        path,
        headers: vec![json()],
        body: body.into(),
    }
}

fn post_with(
    path: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: impl Into<Vec<u8>>,
) -> Request {
    let mut all = vec![json()];
    all.extend(headers);
    Request::Post {
        path,
        headers: all,
        body: body.into(),
    }
}

fn case(name: &'static str, request: Request, status: u16, message: &'static str) -> Case {
    Case {
        name,
        request,
        status,
        message: Some(message),
    }
}

fn hyper_case(name: &'static str, raw: Vec<u8>, status: u16) -> Case {
    Case {
        name,
        request: Request::Raw(raw),
        status,
        message: None,
    }
}

fn sonar(created_at: &str) -> String {
    format!(r#"{{"event":"account.status","object_id":7,"current":{{"created_at":{created_at}}}}}"#)
}

const SONAR_OK: &str =
    r#"{"event":"account.status","object_id":7,"current":{"created_at":"2021-05-25T20:48:40Z"}}"#;
const STANDARD_BODY: &str =
    r#"{"type":"invoice.paid","timestamp":"2024-03-01T10:00:00Z","data":{"id":"inv_1"}}"#;

/// Standard Webhooks headers for `body` with id `id`, signed at `timestamp`.
fn standard(id: &str, timestamp: u64, body: &str) -> Vec<(&'static str, Vec<u8>)> {
    let signature = sign::standard_webhooks(WHSEC, id, timestamp, body.as_bytes()).unwrap();
    vec![
        ("webhook-id", id.as_bytes().to_vec()),
        ("webhook-timestamp", timestamp.to_string().into_bytes()),
        ("webhook-signature", signature.into_bytes()),
    ]
}

/// `headers` with `name` set to `value` (replacing it).
fn replace(
    mut headers: Vec<(&'static str, Vec<u8>)>,
    name: &'static str,
    value: impl Into<Vec<u8>>,
) -> Vec<(&'static str, Vec<u8>)> {
    headers.retain(|(n, _)| *n != name);
    headers.push((name, value.into()));
    headers
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn raw_post(path: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\n{extra_headers}\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw
}

fn with_length(path: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    raw_post(
        path,
        &format!("Content-Length: {}\r\n{extra_headers}", body.len()),
        body,
    )
}

fn cases() -> Vec<Case> {
    let t = now();
    let github_ok = sign::github(GITHUB_SECRET, b"{}");
    let std_ok = standard("msg_battery_1", t, STANDARD_BODY);
    let basic = |credentials: &[u8]| format!("Basic {}", b64(credentials)).into_bytes();
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    vec![
        // --- bodies that are not (usable) JSON: 400 malformed
        case(
            "truncated JSON",
            post("/sonar", &SONAR_OK[..40]),
            400,
            "not valid JSON",
        ),
        case(
            "invalid JSON",
            post("/sonar", "{not json"),
            400,
            "not valid JSON",
        ),
        case(
            "trailing garbage",
            post("/sonar", format!("{SONAR_OK} x")),
            400,
            "trailing characters",
        ),
        case(
            "10k nested arrays",
            post("/integration", deep(10_000)),
            400,
            "recursion limit exceeded",
        ),
        case(
            "200 nested arrays",
            post("/integration", deep(200)),
            400,
            "recursion limit exceeded",
        ),
        case(
            "10k nested objects",
            post(
                "/integration",
                format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000)),
            ),
            400,
            "recursion limit exceeded",
        ),
        case(
            "huge exponent",
            post("/sonar", sonar("1e999999")),
            400,
            "number out of range",
        ),
        case(
            "huge time number",
            post("/sonar", sonar("1e300")),
            400,
            "outside the supported range",
        ),
        case(
            "huge negative time",
            post("/sonar", sonar("-99999999999999999999")),
            400,
            "outside the supported range",
        ),
        case(
            "time in year 9999",
            post("/sonar", sonar(r#""9999-12-31T23:59:59Z""#)),
            400,
            "outside the supported range",
        ),
        case(
            "time not a time",
            post("/sonar", sonar(r#""yesterday""#)),
            400,
            "not a timestamp",
        ),
        case(
            "time empty",
            post("/sonar", sonar(r#""""#)),
            400,
            "empty string",
        ),
        case(
            "time a boolean",
            post("/sonar", sonar("true")),
            400,
            "expected a string or a number",
        ),
        case(
            "time NaN string",
            post("/sonar", sonar(r#""NaN""#)),
            400,
            "not a timestamp",
        ),
        case(
            "invalid UTF-8",
            post("/sonar", b"{\"event\":\"\xff\xfe\"}".to_vec()),
            400,
            "not valid JSON",
        ),
        case(
            "truncated UTF-8",
            post("/sonar", b"{\"event\":\"\xc3\"}".to_vec()),
            400,
            "not valid JSON",
        ),
        case(
            "lone surrogate escape",
            post("/sonar", r#"{"event":"\ud800","object_id":1}"#),
            400,
            "not valid JSON",
        ),
        case(
            "raw NUL byte",
            post("/sonar", b"{\"event\":\"a\x00b\"}".to_vec()),
            400,
            "not valid JSON",
        ),
        case(
            "only a NUL byte",
            post("/sonar", vec![0u8]),
            400,
            "not valid JSON",
        ),
        case(
            "byte order mark",
            post(
                "/sonar",
                [b"\xef\xbb\xbf".as_slice(), SONAR_OK.as_bytes()].concat(),
            ),
            400,
            "not valid JSON",
        ),
        case("empty body", post("/sonar", ""), 400, "body is empty"),
        case(
            "whitespace body",
            post("/sonar", "  \n\t "),
            400,
            "not valid JSON",
        ),
        case(
            "null body",
            post("/sonar", "null"),
            400,
            "body is null, expected a JSON object",
        ),
        case(
            "string body",
            post("/sonar", r#""hello""#),
            400,
            "body is a string, expected a JSON object",
        ),
        case(
            "number body",
            post("/sonar", "42"),
            400,
            "body is a number, expected a JSON object",
        ),
        case(
            "array instead of object",
            post("/sonar", format!("[{SONAR_OK}]")),
            400,
            "body is an array, expected a JSON object",
        ),
        case(
            "event missing",
            post("/sonar", r#"{"object_id":1}"#),
            400,
            "missing field `event`",
        ),
        case(
            "event a number",
            post("/sonar", r#"{"event":5,"object_id":1}"#),
            400,
            "field `event` is a number",
        ),
        case(
            "event empty",
            post("/sonar", r#"{"event":"","object_id":1}"#),
            400,
            "field `event` is an empty string",
        ),
        case(
            "object_id an object",
            post("/sonar", r#"{"event":"a.b","object_id":{"id":1}}"#),
            400,
            "field `object_id` is an object",
        ),
        case(
            "object_id a boolean",
            post("/sonar", r#"{"event":"a.b","object_id":false}"#),
            400,
            "field `object_id` is a boolean",
        ),
        case(
            "object_id empty",
            post("/sonar", r#"{"event":"a.b","object_id":""}"#),
            400,
            "field `object_id` is an empty string",
        ),
        case(
            "object_id past 64 bits",
            post(
                "/sonar",
                r#"{"event":"a.b","object_id":12345678901234567890123,"current":{"created_at":1}}"#,
            ),
            400,
            "field `object_id` is a number, expected a non-empty string or an integer",
        ),
        case(
            "object_id a fraction",
            post("/sonar", r#"{"event":"a.b","object_id":1.5}"#),
            400,
            "expected a non-empty string or an integer",
        ),
        case(
            "current an array",
            post("/sonar", r#"{"event":"a.b","object_id":1,"current":[]}"#),
            400,
            "current.created_at",
        ),
        case(
            "integration id missing",
            post("/integration", r#"{"eventType":"UPDATE"}"#),
            400,
            "missing field `id`",
        ),
        case(
            "integration timestamp an array",
            post(
                "/integration",
                r#"{"id":"u1","eventType":"UPDATE","timestamp":[1]}"#,
            ),
            400,
            "field `timestamp` is not a timestamp",
        ),
        // Duplicate keys: serde_json keeps the last one; the MAC covered the raw bytes anyway.
        case(
            "duplicate keys, last wins",
            post(
                "/sonar",
                r#"{"event":"x.y","event":"account.status","object_id":70,"current":{"created_at":"2021-05-25T20:48:40Z"}}"#,
            ),
            200,
            "event handled",
        ),
        case(
            "escaped NUL is valid JSON",
            post(
                "/sonar",
                r#"{"event":"account.st\u0000atus","object_id":71,"current":{"created_at":"2021-05-25T20:48:40Z"}}"#,
            ),
            200,
            "event handled",
        ),
        // --- content types
        case(
            "text/plain",
            Request::Post {
                path: "/sonar",
                headers: vec![("content-type", b"text/plain".to_vec())],
                body: SONAR_OK.into(),
            },
            415,
            "`text/plain` is not accepted",
        ),
        case(
            "form encoded",
            Request::Post {
                path: "/sonar",
                headers: vec![(
                    "content-type",
                    b"application/x-www-form-urlencoded".to_vec(),
                )],
                body: b"a=1".to_vec(),
            },
            415,
            "send application/json",
        ),
        case(
            "multipart",
            Request::Post {
                path: "/sonar",
                headers: vec![("content-type", b"multipart/form-data; boundary=x".to_vec())],
                body: SONAR_OK.into(),
            },
            415,
            "multipart/form-data",
        ),
        case(
            "application/jsonp",
            Request::Post {
                path: "/sonar",
                headers: vec![("content-type", b"application/jsonp".to_vec())],
                body: SONAR_OK.into(),
            },
            415,
            "application/jsonp",
        ),
        case(
            "non-ASCII content type",
            Request::Post {
                path: "/sonar",
                headers: vec![("content-type", b"application/json\xff".to_vec())],
                body: SONAR_OK.into(),
            },
            415,
            "not accepted",
        ),
        case(
            "empty content type",
            Request::Post {
                path: "/sonar",
                headers: vec![("content-type", Vec::new())],
                body: SONAR_OK.into(),
            },
            415,
            "not accepted",
        ),
        case(
            "duplicate content types, first decides",
            hyper_free_raw(
                "/sonar",
                "Content-Type: text/plain\r\n",
                SONAR_OK.as_bytes(),
            ),
            415,
            "not accepted",
        ),
        // --- sizes and framing
        case(
            "body over the limit, declared",
            post("/sonar", vec![b' '; LIMIT + 1]),
            413,
            "larger than the limit of 65536 bytes",
        ),
        case(
            "body over the limit, chunked",
            Request::Raw(raw_post(
                "/sonar",
                "Transfer-Encoding: chunked\r\n",
                &chunked(&[&vec![b' '; LIMIT], b"x"]),
            )),
            413,
            "larger than the limit",
        ),
        case(
            "declared length of a terabyte",
            Request::Raw(raw_post(
                "/sonar",
                "Content-Length: 1099511627776\r\n",
                b"{}",
            )),
            413,
            "larger than the limit",
        ),
        case(
            "body shorter than declared",
            Request::Truncated(raw_post(
                "/sonar",
                "Content-Length: 100\r\n",
                b"{\"event\":",
            )),
            400,
            "could not read the body",
        ),
        case(
            "bad chunk size",
            Request::Raw(raw_post(
                "/sonar",
                "Transfer-Encoding: chunked\r\n",
                b"zz\r\n{}\r\n0\r\n\r\n",
            )),
            400,
            "could not read the body",
        ),
        case(
            "slow-loris body",
            Request::Slow {
                head: raw_post("/slow", "Content-Length: 40\r\n", b""),
                chunks: vec![b"{\"a\":".to_vec(); 8],
                pause: Duration::from_millis(100),
            },
            408,
            "did not arrive in time",
        ),
        hyper_case(
            "content length not a number",
            raw_post("/sonar", "Content-Length: ten\r\n", b"{}"),
            400,
        ),
        hyper_case(
            "two content lengths",
            raw_post(
                "/sonar",
                "Content-Length: 2\r\nContent-Length: 3\r\n",
                b"{}x",
            ),
            400,
        ),
        hyper_case(
            "control byte in a header",
            raw_post("/sonar", "X-Evil: a\x01b\r\nContent-Length: 2\r\n", b"{}"),
            400,
        ),
        hyper_case(
            "header without colon",
            raw_post("/sonar", "NoColonHere\r\nContent-Length: 2\r\n", b"{}"),
            400,
        ),
        hyper_case("garbage request line", b"GARBAGE\r\n\r\n".to_vec(), 400),
        hyper_case(
            "oversized header",
            raw_post(
                "/sonar",
                &format!("X-Big: {}\r\nContent-Length: 2\r\n", "a".repeat(512 * 1024)),
                b"{}",
            ),
            431,
        ),
        hyper_case(
            "too many headers",
            raw_post(
                "/sonar",
                &format!("{}Content-Length: 2\r\n", "X-H: 1\r\n".repeat(200)),
                b"{}",
            ),
            431,
        ),
        // --- methods and paths
        case(
            "GET",
            raw_method("GET", "/sonar"),
            405,
            "only HEAD and POST are accepted",
        ),
        case(
            "PUT",
            raw_method("PUT", "/sonar"),
            405,
            "only HEAD and POST are accepted",
        ),
        case(
            "DELETE",
            raw_method("DELETE", "/sonar"),
            405,
            "only HEAD and POST are accepted",
        ),
        case(
            "OPTIONS",
            raw_method("OPTIONS", "/sonar"),
            405,
            "only HEAD and POST are accepted",
        ),
        hyper_case(
            "path traversal",
            with_length("/sonar/../basic", "", b"{}"),
            404,
        ),
        hyper_case(
            "encoded path traversal",
            with_length("/%2e%2e/basic", "", b"{}"),
            404,
        ),
        // --- Standard Webhooks signatures
        case(
            "no signature headers",
            post("/standard", STANDARD_BODY),
            401,
            "missing webhook-id header",
        ),
        case(
            "signature missing",
            post_with("/standard", std_ok[..2].to_vec(), STANDARD_BODY),
            401,
            "missing webhook-signature header",
        ),
        case(
            "timestamp not a number",
            post_with(
                "/standard",
                replace(std_ok.clone(), "webhook-timestamp", "soon"),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-timestamp header",
        ),
        case(
            "timestamp negative",
            post_with(
                "/standard",
                replace(std_ok.clone(), "webhook-timestamp", "-5"),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-timestamp header",
        ),
        case(
            "timestamp with plus sign",
            post_with(
                "/standard",
                replace(std_ok.clone(), "webhook-timestamp", format!("+{t}")),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-timestamp header",
        ),
        case(
            "timestamp past u64",
            post_with(
                "/standard",
                replace(
                    std_ok.clone(),
                    "webhook-timestamp",
                    "99999999999999999999999",
                ),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-timestamp header",
        ),
        case(
            "timestamp a day old",
            post_with(
                "/standard",
                standard("msg_old", t - 86_400, STANDARD_BODY),
                STANDARD_BODY,
            ),
            401,
            "older than the accepted tolerance",
        ),
        case(
            "timestamp a day ahead",
            post_with(
                "/standard",
                standard("msg_new", t + 86_400, STANDARD_BODY),
                STANDARD_BODY,
            ),
            401,
            "further in the future",
        ),
        case(
            "timestamp at u64::MAX",
            post_with(
                "/standard",
                standard("msg_max", u64::MAX, STANDARD_BODY),
                STANDARD_BODY,
            ),
            401,
            "further in the future",
        ),
        case(
            "timestamp zero",
            post_with(
                "/standard",
                standard("msg_zero", 0, STANDARD_BODY),
                STANDARD_BODY,
            ),
            401,
            "older than the accepted tolerance",
        ),
        case(
            "signature not base64",
            post_with(
                "/standard",
                replace(std_ok.clone(), "webhook-signature", "v1,!!!!"),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-signature header",
        ),
        case(
            "signature 31 bytes",
            post_with(
                "/standard",
                replace(
                    std_ok.clone(),
                    "webhook-signature",
                    format!("v1,{}", b64(&[7; 31])),
                ),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-signature header",
        ),
        case(
            "signature 33 bytes",
            post_with(
                "/standard",
                replace(
                    std_ok.clone(),
                    "webhook-signature",
                    format!("v1,{}", b64(&[7; 33])),
                ),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-signature header",
        ),
        case(
            "signature 32 wrong bytes",
            post_with(
                "/standard",
                replace(
                    std_ok.clone(),
                    "webhook-signature",
                    format!("v1,{}", b64(&[7; 32])),
                ),
                STANDARD_BODY,
            ),
            401,
            "no signature matches",
        ),
        case(
            "signature of another version",
            post_with(
                "/standard",
                replace(
                    std_ok.clone(),
                    "webhook-signature",
                    format!("v1a,{}", b64(&[7; 32])),
                ),
                STANDARD_BODY,
            ),
            401,
            "no supported signature version",
        ),
        case(
            "signature header 9 KiB",
            post_with(
                "/standard",
                replace(
                    std_ok.clone(),
                    "webhook-signature",
                    format!("v1,{}", "A".repeat(9 * 1024)),
                ),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-signature header",
        ),
        case(
            "webhook-id not ASCII",
            post_with(
                "/standard",
                replace(std_ok.clone(), "webhook-id", b"msg_\xff".to_vec()),
                STANDARD_BODY,
            ),
            401,
            "malformed webhook-id header",
        ),
        case(
            "signature sent twice",
            post_with(
                "/standard",
                [
                    std_ok.clone(),
                    vec![(
                        "webhook-signature",
                        format!("v1,{}", b64(&[7; 32])).into_bytes(),
                    )],
                ]
                .concat(),
                STANDARD_BODY,
            ),
            401,
            "webhook-signature header sent more than once",
        ),
        case(
            "signed body tampered",
            post_with(
                "/standard",
                std_ok.clone(),
                STANDARD_BODY.replace("inv_1", "inv_2"),
            ),
            401,
            "no signature matches",
        ),
        case(
            "signed delivery",
            post_with("/standard", std_ok.clone(), STANDARD_BODY),
            200,
            "event handled",
        ),
        case(
            "signed delivery replayed",
            post_with("/standard", std_ok.clone(), STANDARD_BODY),
            200,
            "delivery already handled",
        ),
        case(
            "replay re-signed with a new timestamp, same id",
            post_with(
                "/standard",
                standard("msg_battery_1", t + 1, STANDARD_BODY),
                STANDARD_BODY,
            ),
            200,
            "delivery already handled",
        ),
        case(
            "replay of a delivery signed 10 minutes ago",
            post_with(
                "/standard",
                standard("msg_battery_2", t - 600, STANDARD_BODY),
                STANDARD_BODY,
            ),
            401,
            "older than the accepted tolerance",
        ),
        // --- GitHub's hex HMAC
        case(
            "github signature missing",
            post_with("/github", vec![("x-github-event", b"push".to_vec())], "{}"),
            401,
            "missing x-hub-signature-256 header",
        ),
        case(
            "github signature not hex",
            post_with(
                "/github",
                vec![
                    ("x-github-event", b"push".to_vec()),
                    (
                        "x-hub-signature-256",
                        format!("sha256={}", "zz".repeat(32)).into_bytes(),
                    ),
                ],
                "{}",
            ),
            401,
            "malformed x-hub-signature-256 header",
        ),
        case(
            "github signature 31 bytes",
            post_with(
                "/github",
                vec![
                    ("x-github-event", b"push".to_vec()),
                    (
                        "x-hub-signature-256",
                        format!("sha256={}", "ab".repeat(31)).into_bytes(),
                    ),
                ],
                "{}",
            ),
            401,
            "malformed x-hub-signature-256 header",
        ),
        case(
            "github sha1 prefix",
            post_with(
                "/github",
                vec![
                    ("x-github-event", b"push".to_vec()),
                    (
                        "x-hub-signature-256",
                        github_ok.replace("sha256=", "sha1=").into_bytes(),
                    ),
                ],
                "{}",
            ),
            401,
            "malformed x-hub-signature-256 header",
        ),
        case(
            "github upper-case hex",
            post_with(
                "/github",
                vec![
                    ("x-github-event", b"push".to_vec()),
                    ("x-github-delivery", b"gh-1".to_vec()),
                    (
                        "x-hub-signature-256",
                        format!("sha256={}", github_ok[7..].to_uppercase()).into_bytes(),
                    ),
                ],
                "{}",
            ),
            200,
            "event handled",
        ),
        case(
            "github event header missing",
            post_with(
                "/github",
                vec![("x-hub-signature-256", github_ok.clone().into_bytes())],
                "{}",
            ),
            400,
            "missing header `X-GitHub-Event`",
        ),
        // --- Stripe's header grammar
        case(
            "stripe t not a number",
            post_with(
                "/stripe",
                vec![(
                    "stripe-signature",
                    format!("t=abc,v1={}", "ab".repeat(32)).into_bytes(),
                )],
                "{}",
            ),
            401,
            "malformed stripe-signature header",
        ),
        case(
            "stripe no t",
            post_with(
                "/stripe",
                vec![(
                    "stripe-signature",
                    format!("v1={}", "ab".repeat(32)).into_bytes(),
                )],
                "{}",
            ),
            401,
            "malformed stripe-signature header",
        ),
        case(
            "stripe two t",
            post_with(
                "/stripe",
                vec![(
                    "stripe-signature",
                    format!("t={t},t={t},v1={}", "ab".repeat(32)).into_bytes(),
                )],
                "{}",
            ),
            401,
            "malformed stripe-signature header",
        ),
        case(
            "stripe item without =",
            post_with(
                "/stripe",
                vec![("stripe-signature", format!("t={t},v1").into_bytes())],
                "{}",
            ),
            401,
            "malformed stripe-signature header",
        ),
        case(
            "stripe only v0",
            post_with(
                "/stripe",
                vec![(
                    "stripe-signature",
                    format!("t={t},v0={}", "ab".repeat(32)).into_bytes(),
                )],
                "{}",
            ),
            401,
            "no supported signature version",
        ),
        // --- Basic auth
        case(
            "basic missing",
            post("/basic", "{}"),
            401,
            "missing credentials",
        ),
        case(
            "basic not base64",
            post_with(
                "/basic",
                vec![("authorization", b"Basic !!!!".to_vec())],
                "{}",
            ),
            401,
            "malformed credentials",
        ),
        case(
            "basic without colon",
            post_with("/basic", vec![("authorization", basic(b"nocolon"))], "{}"),
            401,
            "malformed credentials",
        ),
        case(
            "basic scheme only",
            post_with("/basic", vec![("authorization", b"Basic".to_vec())], "{}"),
            401,
            "missing credentials",
        ),
        case(
            "bearer instead of basic",
            post_with(
                "/basic",
                vec![("authorization", b"Bearer abc".to_vec())],
                "{}",
            ),
            401,
            "malformed credentials",
        ),
        case(
            "basic invalid UTF-8 credentials",
            post_with(
                "/basic",
                vec![("authorization", basic(b"\xff\xfe:\xfd"))],
                "{}",
            ),
            401,
            "bad credentials",
        ),
        case(
            "basic wrong password",
            post_with(
                "/basic",
                vec![(
                    "authorization",
                    basic(format!("{USER}:{PASSWORD}x").as_bytes()),
                )],
                "{}",
            ),
            401,
            "bad credentials",
        ),
        case(
            "basic password split at the wrong colon",
            post_with(
                "/basic",
                vec![("authorization", basic(b"fieldservice:pa55"))],
                "{}",
            ),
            401,
            "bad credentials",
        ),
        case(
            "basic 9 KiB",
            post_with(
                "/basic",
                vec![(
                    "authorization",
                    format!("Basic {}", "QUFB".repeat(2400)).into_bytes(),
                )],
                "{}",
            ),
            401,
            "malformed credentials",
        ),
        case(
            "basic twice",
            post_with(
                "/basic",
                vec![
                    (
                        "authorization",
                        basic(format!("{USER}:{PASSWORD}").as_bytes()),
                    ),
                    (
                        "authorization",
                        basic(format!("{USER}:{PASSWORD}").as_bytes()),
                    ),
                ],
                "{}",
            ),
            401,
            "malformed credentials",
        ),
        case(
            "basic lower-case scheme, unpadded",
            post_with(
                "/basic",
                vec![(
                    "authorization",
                    format!(
                        "basic {}",
                        b64(format!("{USER}:{PASSWORD}").as_bytes()).trim_end_matches('=')
                    )
                    .into_bytes(),
                )],
                r#"{"n":1}"#,
            ),
            200,
            "event handled",
        ),
        case(
            "token wrong",
            post_with(
                "/token",
                vec![("authorization", format!("Bearer {TOKEN}x").into_bytes())],
                "{}",
            ),
            401,
            "bad credentials",
        ),
        case(
            "token empty bearer",
            post_with("/token", vec![("authorization", b"Bearer ".to_vec())], "{}"),
            401,
            "missing credentials",
        ),
    ]
}

/// A request reqwest would not send: two Content-Type headers, JSON first.
fn hyper_free_raw(path: &str, extra: &str, body: &[u8]) -> Request {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         {extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    Request::Raw(raw)
}

fn raw_method(method: &str, path: &str) -> Request {
    Request::Raw(
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .into_bytes(),
    )
}

fn chunked(chunks: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Status and body of a raw HTTP/1.1 answer (whole, since every raw request says
/// `Connection: close` or is refused before keep-alive matters).
fn parse_answer(answer: &[u8]) -> (u16, Vec<u8>) {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| answer[at + 4..].to_vec())
        .unwrap_or_default();
    (status, body)
}

async fn raw_exchange(
    server: &Server,
    bytes: &[u8],
    chunks: &[Vec<u8>],
    pause: Duration,
    half_close: bool,
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // A peer that stops reading early (413, 431) may reset the write; the answer still came.
    let _ = stream.write_all(bytes).await;
    for chunk in chunks {
        tokio::time::sleep(pause).await;
        if stream.write_all(chunk).await.is_err() {
            break;
        }
    }
    // hyper drops a request whose sender half-closed before the answer was ready, so only
    // the request that must look cut off does it.
    if half_close {
        let _ = stream.shutdown().await;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    });
    read.await.expect("the server answered within 10 s");
    parse_answer(&answer)
}

async fn send(server: &Server, request: &Request) -> (u16, Vec<u8>) {
    match request {
        Request::Post {
            path,
            headers,
            body,
        } => {
            let mut builder = end_to_end::client().post(server.url(path));
            for (name, value) in headers {
                builder = builder.header(*name, http::HeaderValue::from_bytes(value).unwrap());
            }
            let response = builder.body(body.clone()).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.bytes().await.unwrap().to_vec())
        }
        Request::Raw(bytes) => raw_exchange(server, bytes, &[], Duration::ZERO, false).await,
        Request::Truncated(bytes) => raw_exchange(server, bytes, &[], Duration::ZERO, true).await,
        Request::Slow {
            head,
            chunks,
            pause,
        } => raw_exchange(server, head, chunks, *pause, false).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_their_documented_answers_and_the_server_keeps_serving() {
    let recorder = Recorder::new();
    let server = battery_server(&recorder).await;
    let cases = cases();
    let mut failures = Vec::new();
    let mut unexpected_5xx = 0;
    for case in &cases {
        let (status, body) = send(&server, &case.request).await;
        if status >= 500 || status == 0 {
            unexpected_5xx += 1;
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let message = json["message"].as_str().unwrap_or_default();
        let message_ok = match case.message {
            Some(expected) => message.contains(expected),
            None => json.is_null(),
        };
        if status != case.status || !message_ok {
            failures.push(format!(
                "{}: expected {} {:?}, got {status} {}",
                case.name,
                case.status,
                case.message,
                String::from_utf8_lossy(&body)
            ));
        }
    }
    eprintln!(
        "hostile battery: {} inputs tried, {} answered as documented, {unexpected_5xx} 5xx or no answer (panics)",
        cases.len(),
        cases.len() - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(unexpected_5xx, 0);
    assert!(cases.len() >= 60);

    // Still serving: a valid delivery on every kind of endpoint is handled.
    let handled_before = recorder.applied().len();
    let t = now();
    let fresh = [
        post(
            "/sonar",
            SONAR_OK.replace("\"object_id\":7", "\"object_id\":8"),
        ),
        post(
            "/integration",
            r#"{"id":"u9","eventType":"UPDATE","timestamp":"2024-01-01T00:00:00Z"}"#,
        ),
        post("/slow", r#"{"ok":true}"#),
        post_with(
            "/standard",
            standard("msg_after", t, STANDARD_BODY),
            STANDARD_BODY,
        ),
        post_with(
            "/github",
            vec![
                ("x-github-event", b"push".to_vec()),
                ("x-github-delivery", b"gh-after".to_vec()),
                (
                    "x-hub-signature-256",
                    sign::github(GITHUB_SECRET, b"{\"after\":1}").into_bytes(),
                ),
            ],
            r#"{"after":1}"#,
        ),
        post_with(
            "/stripe",
            vec![(
                "stripe-signature",
                sign::stripe(STRIPE_SECRET, t, b"{\"after\":1}").into_bytes(),
            )],
            r#"{"after":1}"#,
        ),
        post_with(
            "/basic",
            vec![("authorization", sign::basic(USER, PASSWORD).into_bytes())],
            r#"{"after":1}"#,
        ),
        post_with(
            "/token",
            vec![("authorization", format!("Bearer {TOKEN}").into_bytes())],
            r#"{"after":1}"#,
        ),
    ];
    for request in &fresh {
        let (status, body) = send(&server, request).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    assert_eq!(recorder.applied().len(), handled_before + fresh.len());
}
