//! `reference-receiver send` as integrators run it, against real SDK receivers on loopback
//! ports: each sender's delivery verifies with that sender's verifier and is handled, a wrong
//! secret is refused, a repeat is a duplicate, and no secret is ever printed.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use http::HeaderName;
use receiver_sdk::envelope::{Envelope, EventMeta, Field, Mapping};
use receiver_sdk::handshake::Handshake;
use receiver_sdk::verify::{sign, SignedRequest, Verifier};
use receiver_sdk::{Delivery, HandlerError, Receiver, Secret};
use tokio::net::TcpListener;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WRONG_WHSEC: &str = "whsec_dGhlIG5leHQgc2VjcmV0IGFmdGVyIHJvdGF0aW9u";
const SECRET: &str = "It's a Secret to Everybody";
const WRONG_SECRET: &str = "not-the-secret-at-all";

/// What a handler was given.
#[derive(Debug, Clone)]
struct Handled {
    event: EventMeta,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

/// An SDK receiver at `/webhook` on a loopback port, recording what its handler is given.
struct Endpoint {
    url: String,
    handled: Arc<Mutex<Vec<Handled>>>,
}

impl Endpoint {
    async fn start(verifier: Verifier, envelope: Envelope) -> Self {
        Self::answering(verifier, envelope, []).await
    }

    /// As [`start`](Self::start), answering `handshakes` too.
    async fn answering(
        verifier: Verifier,
        envelope: Envelope,
        handshakes: impl IntoIterator<Item = Handshake>,
    ) -> Self {
        let handled = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&handled);
        let mut builder = Receiver::builder("send-test");
        for handshake in handshakes {
            builder = builder.handshake(handshake);
        }
        let receiver = builder
            .verifier(verifier)
            .envelope(envelope)
            .store(receiver_sdk::store::MemoryStore::new())
            .handler(move |delivery: Delivery| {
                record.lock().unwrap().push(Handled {
                    event: delivery.event,
                    headers: delivery.headers,
                    body: delivery.body.to_vec(),
                });
                std::future::ready(Ok::<(), HandlerError>(()))
            })
            .build()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        let app = Router::new().route_service("/webhook", receiver);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, handled }
    }

    fn handled(&self) -> Vec<Handled> {
        self.handled.lock().unwrap().clone()
    }
}

/// One run of the binary.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The status lines, e.g. `200 OK`.
    fn statuses(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter_map(|line| line.strip_prefix("< "))
            .filter(|line| !line.starts_with("x-webhook-outcome"))
            .map(|line| line.split(" (").next().unwrap_or(line))
            .collect()
    }

    /// The X-Webhook-Outcome of each answer.
    fn outcomes(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter_map(|line| line.strip_prefix("< x-webhook-outcome: "))
            .collect()
    }

    fn shows(&self, text: &str) -> bool {
        self.stdout.contains(text) || self.stderr.contains(text)
    }

    #[track_caller]
    fn assert_answered(&self, code: i32, statuses: &[&str], outcomes: &[&str]) {
        assert_eq!(self.code, Some(code), "{self:#?}");
        assert_eq!(self.statuses(), statuses, "{self:#?}");
        assert_eq!(self.outcomes(), outcomes, "{self:#?}");
    }
}

/// Runs `reference-receiver send` with `args`, feeding it `stdin`, with `env` set.
async fn run_send(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Run {
    let owned = |pairs: &[&str]| pairs.iter().map(|&s| s.to_owned()).collect::<Vec<_>>();
    let args = owned(args);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|&(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let stdin = stdin.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reference-receiver"))
            .arg("send")
            .args(&args)
            .envs(env)
            // The endpoints are on loopback; a proxy from the environment must not get between.
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the binary");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&stdin)
            .expect("write stdin");
        let output = child.wait_with_output().expect("the binary ran");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("the run finished")
}

async fn send(args: &[&str]) -> Run {
    run_send(args, b"", &[]).await
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The whole story for a sender that signs with a secret: the delivery is handled and its
/// repeat is a duplicate, a wrong secret is refused with 401 and exit status 1, the HEAD probe
/// is answered 200, and neither secret is ever printed. Returns what the handler was given.
async fn signed_sender_story(
    sender: &str,
    secret: &str,
    wrong: &str,
    verifier: Verifier,
    envelope: Envelope,
) -> Handled {
    let endpoint = Endpoint::start(verifier, envelope).await;
    let url = endpoint.url.as_str();

    let sent = send(&[url, "--as", sender, "--secret", secret, "--repeat", "2"]).await;
    sent.assert_answered(0, &["200 OK", "200 OK"], &["handled", "duplicate"]);
    assert!(sent.stdout.contains(r#""outcome":"handled""#), "{sent:#?}");
    let handled = endpoint.handled();
    assert_eq!(handled.len(), 1, "handled once: {sent:#?}");

    let refused = send(&[url, "--as", sender, "--secret", wrong]).await;
    refused.assert_answered(1, &["401 Unauthorized"], &["unauthorized"]);
    assert!(
        refused
            .stderr
            .contains("the endpoint answered 401 Unauthorized"),
        "{refused:#?}"
    );

    let probe = send(&[url, "--as", sender, "--head"]).await;
    probe.assert_answered(0, &["200 OK"], &[]);

    for run in [&sent, &refused, &probe] {
        assert!(!run.shows(secret), "the secret was printed: {run:#?}");
        assert!(!run.shows(wrong), "the wrong secret was printed: {run:#?}");
    }
    assert_eq!(endpoint.handled().len(), 1);
    handled[0].clone()
}

fn header<'h>(handled: &'h Handled, name: &str) -> &'h str {
    handled.headers[name].to_str().unwrap()
}

fn json(handled: &Handled) -> serde_json::Value {
    serde_json::from_slice(&handled.body).unwrap()
}

#[tokio::test]
async fn sonar_delivery_is_handled_once_and_its_head_probe_answered() {
    let endpoint = Endpoint::start(Verifier::none(), Envelope::Sonar).await;
    let sent = send(&[&endpoint.url, "--as", "sonar", "--repeat", "2"]).await;
    sent.assert_answered(0, &["200 OK", "200 OK"], &["handled", "duplicate"]);
    let handled = endpoint.handled();
    assert_eq!(handled.len(), 1);
    assert_eq!(handled[0].event.event_type, "account.status");
    assert_eq!(handled[0].event.entity_id.as_deref(), Some("1"));
    assert!(handled[0].event.created_at.is_some());

    let probe = send(&[&endpoint.url, "--as", "sonar", "--head"]).await;
    probe.assert_answered(0, &["200 OK"], &[]);
    assert!(probe.stderr.contains("> HEAD "), "{probe:#?}");
}

#[tokio::test]
async fn superoffice_signed_delivery_verifies_and_a_wrong_secret_is_refused() {
    let handled = signed_sender_story(
        "superoffice",
        SECRET,
        WRONG_SECRET,
        Verifier::superoffice([SECRET]).unwrap(),
        Envelope::SuperOffice,
    )
    .await;
    assert_eq!(handled.event.event_type, "contact.changed");
    assert_eq!(header(&handled, "x-superoffice-event"), "contact.changed");
    let event_id = json(&handled)["EventId"].as_str().unwrap().to_owned();
    assert_eq!(header(&handled, "x-superoffice-eventid"), event_id);
    assert_eq!(handled.event.delivery_id, Some(event_id));
}

#[tokio::test]
async fn superoffice_registration_test_is_ignored() {
    let endpoint = Endpoint::start(
        Verifier::superoffice([SECRET]).unwrap(),
        Envelope::SuperOffice,
    )
    .await;
    let sent = send(&[
        &endpoint.url,
        "--as",
        "superoffice",
        "--secret",
        SECRET,
        "--test",
    ])
    .await;
    sent.assert_answered(0, &["200 OK"], &["ignored"]);
    assert!(sent.stderr.contains("> x-hook-test: true"), "{sent:#?}");
    assert!(endpoint.handled().is_empty());
}

#[tokio::test]
async fn superoffice_without_a_secret_sends_no_signature() {
    let endpoint = Endpoint::start(Verifier::none(), Envelope::SuperOffice).await;
    let sent = send(&[&endpoint.url, "--as", "superoffice"]).await;
    sent.assert_answered(0, &["200 OK"], &["handled"]);
    let handled = endpoint.handled();
    assert!(!handled[0].headers.contains_key("x-superoffice-signature"));
}

#[tokio::test]
async fn standard_webhooks_delivery_verifies_and_a_wrong_secret_is_refused() {
    let handled = signed_sender_story(
        "standard-webhooks",
        WHSEC,
        WRONG_WHSEC,
        Verifier::standard_webhooks([WHSEC]).unwrap(),
        Envelope::StandardWebhooks,
    )
    .await;
    assert_eq!(handled.event.event_type, "invoice.paid");
    let id = header(&handled, "webhook-id");
    assert!(id.starts_with("msg_"), "{id}");
    assert_eq!(handled.event.delivery_id.as_deref(), Some(id));
    assert!(!handled.headers.contains_key("svix-id"));
}

#[tokio::test]
async fn svix_delivery_verifies_and_a_wrong_secret_is_refused() {
    let handled = signed_sender_story(
        "svix",
        WHSEC,
        WRONG_WHSEC,
        Verifier::standard_webhooks([WHSEC]).unwrap(),
        Envelope::StandardWebhooks,
    )
    .await;
    for name in ["svix-id", "svix-timestamp", "svix-signature"] {
        assert!(handled.headers.contains_key(name), "{name}");
    }
    assert!(!handled.headers.contains_key("webhook-id"));
    assert_eq!(
        handled.event.delivery_id.as_deref(),
        Some(header(&handled, "svix-id"))
    );
}

#[tokio::test]
async fn github_delivery_verifies_and_a_wrong_secret_is_refused() {
    let handled = signed_sender_story(
        "github",
        SECRET,
        WRONG_SECRET,
        Verifier::github([SECRET]).unwrap(),
        Envelope::GitHub,
    )
    .await;
    assert_eq!(handled.event.event_type, "issues");
    assert_eq!(json(&handled)["action"], "opened");
    assert!(header(&handled, "user-agent").starts_with("GitHub-Hookshot/"));
    assert_eq!(
        handled.event.delivery_id.as_deref(),
        Some(header(&handled, "x-github-delivery"))
    );
}

#[tokio::test]
async fn github_ping_is_answered_as_a_test() {
    let endpoint = Endpoint::start(Verifier::github([SECRET]).unwrap(), Envelope::GitHub).await;
    let sent = send(&[
        &endpoint.url,
        "--as",
        "github",
        "--secret",
        SECRET,
        "--event",
        "ping",
    ])
    .await;
    sent.assert_answered(0, &["200 OK"], &["ignored"]);
}

#[tokio::test]
async fn stripe_delivery_verifies_and_a_wrong_secret_is_refused() {
    let secret = "whsec_test_secret_for_stripe";
    let mapping = Mapping::new(Field::pointer("/type").unwrap())
        .entity_id(Field::pointer("/data/object/id").unwrap())
        .created_at(Field::pointer("/created").unwrap())
        .delivery_id(Field::pointer("/id").unwrap());
    let handled = signed_sender_story(
        "stripe",
        secret,
        "whsec_wrong",
        Verifier::stripe([secret]).unwrap(),
        Envelope::Custom(mapping),
    )
    .await;
    assert_eq!(handled.event.event_type, "payment_intent.succeeded");
    let id = json(&handled)["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("evt_"), "{id}");
    assert_eq!(handled.event.delivery_id, Some(id));
    assert!(header(&handled, "stripe-signature").starts_with("t="));
}

#[tokio::test]
async fn shopify_delivery_verifies_and_a_wrong_secret_is_refused() {
    let mapping = Mapping::new(Field::header("x-shopify-topic").unwrap())
        .delivery_id(Field::header("x-shopify-webhook-id").unwrap());
    let handled = signed_sender_story(
        "shopify",
        SECRET,
        WRONG_SECRET,
        Verifier::shopify([SECRET]).unwrap(),
        Envelope::Custom(mapping),
    )
    .await;
    assert_eq!(handled.event.event_type, "orders/create");
}

#[tokio::test]
async fn slack_delivery_verifies_and_a_wrong_secret_is_refused() {
    let mapping = Mapping::new(Field::pointer("/event/type").unwrap())
        .delivery_id(Field::pointer("/event_id").unwrap());
    let handled = signed_sender_story(
        "slack",
        SECRET,
        WRONG_SECRET,
        Verifier::slack([SECRET]).unwrap(),
        Envelope::Custom(mapping),
    )
    .await;
    assert_eq!(handled.event.event_type, "app_mention");
    assert!(handled.headers.contains_key("x-slack-request-timestamp"));
}

#[tokio::test]
async fn basic_auth_delivery_is_handled_and_a_wrong_password_is_refused() {
    let verifier = Verifier::basic("hooks", [("hooks".to_owned(), Secret::from(SECRET))]).unwrap();
    let endpoint = Endpoint::start(verifier, Envelope::Integration).await;
    let url = endpoint.url.as_str();
    let basic = ["--as", "basic", "--user", "hooks"];

    let sent = send(&[&[url][..], &basic, &["--password", SECRET, "--repeat", "2"]].concat()).await;
    sent.assert_answered(0, &["200 OK", "200 OK"], &["handled", "duplicate"]);
    assert!(
        sent.stderr.contains("> authorization: [redacted]"),
        "{sent:#?}"
    );
    assert_eq!(endpoint.handled()[0].event.event_type, "UPDATE");

    let refused = send(&[&[url][..], &basic, &["--password", WRONG_SECRET]].concat()).await;
    refused.assert_answered(1, &["401 Unauthorized"], &["unauthorized"]);

    let probe = send(&[&[url][..], &basic, &["--password", SECRET, "--head"]].concat()).await;
    probe.assert_answered(0, &["200 OK"], &[]);

    for run in [&sent, &refused, &probe] {
        assert!(!run.shows(SECRET) && !run.shows(WRONG_SECRET), "{run:#?}");
    }
}

#[tokio::test]
async fn token_delivery_is_handled_and_a_wrong_token_is_refused() {
    let handled = signed_sender_story(
        "token",
        SECRET,
        WRONG_SECRET,
        Verifier::token(http::header::AUTHORIZATION, [SECRET]).unwrap(),
        Envelope::Integration,
    )
    .await;
    assert_eq!(
        header(&handled, "authorization"),
        format!("Bearer {SECRET}")
    );
}

#[tokio::test]
async fn token_goes_bare_into_the_header_named() {
    let verifier = Verifier::token(HeaderName::from_static("x-api-key"), [SECRET]).unwrap();
    let endpoint = Endpoint::start(verifier, Envelope::Integration).await;
    let sent = send(&[
        &endpoint.url,
        "--as",
        "token",
        "--header",
        "X-Api-Key",
        "--secret",
        SECRET,
    ])
    .await;
    sent.assert_answered(0, &["200 OK"], &["handled"]);
    assert!(!sent.shows(SECRET), "{sent:#?}");
}

#[tokio::test]
async fn plain_delivery_is_the_integration_shape_and_is_handled() {
    let endpoint = Endpoint::start(Verifier::none(), Envelope::Integration).await;
    let sent = send(&[&endpoint.url, "--repeat", "2"]).await;
    sent.assert_answered(0, &["200 OK", "200 OK"], &["handled", "duplicate"]);
    let body = json(&endpoint.handled()[0]);
    for field in ["id", "entityType", "eventType", "timestamp"] {
        assert!(body.get(field).is_some(), "{field} in {body}");
    }
    let probe = send(&[&endpoint.url, "--head"]).await;
    probe.assert_answered(0, &["200 OK"], &[]);
}

#[tokio::test]
async fn a_signing_time_outside_the_tolerance_is_refused() {
    let endpoint = Endpoint::start(
        Verifier::standard_webhooks([WHSEC]).unwrap(),
        Envelope::StandardWebhooks,
    )
    .await;
    let hour_ago = (now() - 3_600).to_string();
    let sent = send(&[
        &endpoint.url,
        "--as",
        "standard-webhooks",
        "--secret",
        WHSEC,
        "--timestamp",
        &hour_ago,
    ])
    .await;
    sent.assert_answered(1, &["401 Unauthorized"], &["unauthorized"]);
    assert!(sent.stdout.contains("timestamp is older"), "{sent:#?}");
}

#[tokio::test]
async fn an_older_sonar_event_is_answered_stale() {
    let endpoint = Endpoint::start(Verifier::none(), Envelope::Sonar).await;
    let newer = now().to_string();
    let older = (now() - 60).to_string();
    send(&[&endpoint.url, "--as", "sonar", "--timestamp", &newer])
        .await
        .assert_answered(0, &["200 OK"], &["handled"]);
    send(&[&endpoint.url, "--as", "sonar", "--timestamp", &older])
        .await
        .assert_answered(0, &["200 OK"], &["stale"]);
}

#[tokio::test]
async fn a_body_from_stdin_is_signed_and_sent_byte_for_byte() {
    let endpoint = Endpoint::start(Verifier::github([SECRET]).unwrap(), Envelope::GitHub).await;
    let body = b"{ \"action\": \"created\",\n  \"note\": \"caf\xc3\xa9\" }\n";
    let sent = run_send(
        &[
            &endpoint.url,
            "--as",
            "github",
            "--secret",
            SECRET,
            "--event",
            "push",
            "--body",
            "-",
        ],
        body,
        &[],
    )
    .await;
    sent.assert_answered(0, &["200 OK"], &["handled"]);
    let handled = endpoint.handled();
    assert_eq!(handled[0].body, body);
    assert_eq!(handled[0].event.event_type, "push");
}

#[tokio::test]
async fn inline_data_is_sent_as_given() {
    let endpoint = Endpoint::start(Verifier::none(), Envelope::Integration).await;
    let data = r#"{"id":"42","eventType":"JobCreated","timestamp":"2024-03-01T10:00:00Z"}"#;
    send(&[&endpoint.url, "--data", data])
        .await
        .assert_answered(0, &["200 OK"], &["handled"]);
    assert_eq!(endpoint.handled()[0].body, data.as_bytes());
}

#[tokio::test]
async fn an_extra_content_type_replaces_the_senders_and_gets_415() {
    let endpoint = Endpoint::start(Verifier::none(), Envelope::Integration).await;
    let sent = send(&[&endpoint.url, "--header-extra", "Content-Type: text/plain"]).await;
    sent.assert_answered(
        1,
        &["415 Unsupported Media Type"],
        &["unsupported_media_type"],
    );
}

#[tokio::test]
async fn no_answer_exits_1_and_says_why() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    drop(listener);
    let sent = send(&[&url]).await;
    assert_eq!(sent.code, Some(1));
    assert!(sent.stderr.contains("no answer from"), "{sent:#?}");
}

#[tokio::test]
async fn a_signed_sender_without_a_secret_is_refused_before_sending() {
    let sent = send(&["http://127.0.0.1:9/webhook", "--as", "stripe"]).await;
    assert_eq!(sent.code, Some(1));
    assert!(
        sent.stderr
            .contains("--as stripe needs --secret or --secret-env"),
        "{sent:#?}"
    );
    assert!(!sent.stderr.contains("> POST"), "{sent:#?}");
}

#[tokio::test]
async fn the_secret_is_read_from_the_environment() {
    let endpoint = Endpoint::start(Verifier::shopify([SECRET]).unwrap(), Envelope::Raw).await;
    let sent = run_send(
        &[
            &endpoint.url,
            "--as",
            "shopify",
            "--secret-env",
            "SEND_TEST_SECRET",
        ],
        b"",
        &[("SEND_TEST_SECRET", SECRET)],
    )
    .await;
    sent.assert_answered(0, &["200 OK"], &["handled"]);
    assert!(!sent.shows(SECRET), "{sent:#?}");
}

/// A request as a capture server received it.
#[derive(Debug, Clone)]
struct Captured {
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

/// A loopback server that records every request and answers 200 `{}`: it checks nothing, so
/// what `send` sent can be checked afterwards.
struct Capture {
    url: String,
    captured: Arc<Mutex<Vec<Captured>>>,
}

impl Capture {
    async fn start() -> Self {
        let captured = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&captured);
        let app = Router::new().fallback(
            move |method: http::Method,
                  uri: http::Uri,
                  headers: http::HeaderMap,
                  body: axum::body::Bytes| {
                record.lock().unwrap().push(Captured {
                    method,
                    uri,
                    headers,
                    body: body.to_vec(),
                });
                std::future::ready("{}")
            },
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, captured }
    }

    /// The one request received since the last call.
    #[track_caller]
    fn take(&self) -> Captured {
        let mut captured = self.captured.lock().unwrap();
        assert_eq!(captured.len(), 1, "{captured:#?}");
        captured.remove(0)
    }
}

/// Keys for `send --secret`, by the form each sender's key takes.
const DISCORD_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const WHSK: &str = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
const P256_PKCS8: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgvgSfejsxsuS/O4DPP7lHCrUz+Ei0shp61kuwCfvZ48yhRANCAATwlgGz9+cLsRe/IEc2utTkEG+lhvJJg5yChoe+a9Dc3xN6y1VU1VQfzKlkzqqqpoLROT6Pksngkd7ZbT3VLHZ2";

/// The key `send --as provider` is given: a private key for the public-key senders, a
/// `whsec_` secret for those built on Standard Webhooks, Polar's raw secret, or any text.
fn send_key(provider: &str) -> &'static str {
    match provider {
        "discord" => DISCORD_SEED,
        "standard-webhooks-v1a" => WHSK,
        "sendgrid" => P256_PKCS8,
        "standard-webhooks" | "svix" | "clerk" | "resend" | "openai" => WHSEC,
        "polar" => "polar_whs_reference_receiver_test",
        _ => SECRET,
    }
}

/// The public key `send` printed for the endpoint's configuration, if it printed one.
fn printed_public_key(run: &Run) -> Option<String> {
    run.stderr
        .lines()
        .find_map(|line| line.strip_prefix("* configure the endpoint with the public key "))
        .map(str::to_owned)
}

/// Sends the provider's sample with `send --as provider` to a capture server: the request
/// captured and the key the endpoint is configured with (the secret, or the printed public key).
async fn send_captured(capture: &Capture, provider: &str) -> (Captured, String) {
    let key = send_key(provider);
    let sent = send(&[&capture.url, "--as", provider, "--secret", key]).await;
    assert_eq!(sent.code, Some(0), "{provider}: {sent:#?}");
    assert!(
        !sent.shows(key),
        "{provider}: the key was printed: {sent:#?}"
    );
    let configured = printed_public_key(&sent).unwrap_or_else(|| key.to_owned());
    (capture.take(), configured)
}

/// The URL a captured request was posted to, as its receiver rebuilds it from `Host`.
fn posted_to(captured: &Captured) -> String {
    let host = captured.headers[http::header::HOST].to_str().unwrap();
    format!("http://{host}{}", captured.uri)
}

/// Whether `verifier` takes the captured request, its method and URL as received.
fn verifies(verifier: &Verifier, captured: &Captured, body: &[u8]) -> bool {
    let url = posted_to(captured);
    let request = SignedRequest::new(&captured.method, &url, &captured.headers, body);
    verifier.verify_request(&request, SystemTime::now()).is_ok()
}

#[tokio::test]
async fn every_catalogue_provider_sent_verifies_with_the_sdk_verifier_of_that_provider() {
    let capture = Capture::start().await;
    for provider in receiver_sdk::verify::providers() {
        let (captured, key) = send_captured(&capture, provider).await;
        assert_eq!(captured.method, http::Method::POST, "{provider}");
        let verifier = Verifier::provider(provider, [key.as_str()]).unwrap();
        assert!(
            verifies(&verifier, &captured, &captured.body),
            "{provider}: refused {captured:#?}"
        );
        if provider == "twilio" {
            let fields = form_urlencoded::parse(&captured.body).count();
            assert!(fields > 1, "twilio: the sample is not a form");
        } else {
            serde_json::from_slice::<serde_json::Value>(&captured.body)
                .unwrap_or_else(|e| panic!("{provider}: the sample is not JSON: {e}"));
        }

        assert_eq!(captured.uri.path(), "/webhook", "{provider}");

        // A static token, Mailgun's signature and Graph's clientState do not cover the body;
        // every other signature does.
        let refused = if ["gitlab", "okta", "mailgun", "microsoft-graph"].contains(&provider) {
            let other = Verifier::provider(provider, [WRONG_SECRET]).unwrap();
            verifies(&other, &captured, &captured.body)
        } else {
            let mut changed = captured.body.clone();
            let last = changed.len() - 2;
            changed[last] ^= 1;
            verifies(&verifier, &captured, &changed)
        };
        assert!(!refused, "{provider}: a forgery verified");
    }
}

#[tokio::test]
async fn url_signed_deliveries_verify_only_at_the_url_posted_to() {
    let capture = Capture::start().await;
    for provider in ["hubspot", "square", "trello", "twilio"] {
        let (mut captured, key) = send_captured(&capture, provider).await;
        let verifier = Verifier::provider(provider, [key.as_str()]).unwrap();
        assert!(verifies(&verifier, &captured, &captured.body), "{provider}");
        captured.uri = http::Uri::from_static("/elsewhere");
        assert!(
            !verifies(&verifier, &captured, &captured.body),
            "{provider}: verified at another URL"
        );
    }
}

#[tokio::test]
async fn public_key_senders_print_the_public_key_of_the_private_key_given() {
    let capture = Capture::start().await;
    let cases = [
        ("discord", sign::discord_public_key(DISCORD_SEED).unwrap()),
        (
            "standard-webhooks-v1a",
            sign::standard_webhooks_public_key(WHSK).unwrap(),
        ),
        ("sendgrid", sign::sendgrid_public_key(P256_PKCS8).unwrap()),
    ];
    for (provider, public) in cases {
        let (_, printed) = send_captured(&capture, provider).await;
        assert_eq!(printed, public, "{provider}");
    }
}

#[tokio::test]
async fn senders_with_an_official_library_are_verified_by_that_library() {
    let capture = Capture::start().await;
    let with_library = [
        "svix",
        "clerk",
        "resend",
        "standard-webhooks",
        "openai",
        "polar",
        "shopify",
        "stripe",
        "github",
        "paddle",
        "workos",
        "discord",
        "sendgrid",
        "twilio",
        "square",
        "hubspot",
        "twitch",
    ];
    for provider in with_library {
        let (captured, key) = send_captured(&capture, provider).await;
        let body = String::from_utf8(captured.body.clone()).unwrap();
        let check = |body: &str| library_accepts(provider, &key, &captured, body);
        assert!(check(&body), "{provider}'s library refused {captured:#?}");
        // A changed JSON string, or (Twilio's form) a changed parameter.
        let changed = if body.contains('"') {
            body.replacen('"', "'", 1)
        } else {
            body.replacen('=', "=x", 1)
        };
        assert!(!check(&changed), "{provider}'s library took a changed body");
    }
}

/// Whether the library of `provider` (tests/interop/send.mjs) accepts the captured request with
/// `body` in place of its own, configured with `key`.
fn library_accepts(provider: &str, key: &str, captured: &Captured, body: &str) -> bool {
    let headers: serde_json::Map<String, serde_json::Value> = captured
        .headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().into()))
        .collect();
    let input = serde_json::json!({
        "provider": provider, "key": key, "headers": headers, "body": body,
        "url": posted_to(captured),
    });
    let output: serde_json::Value =
        serde_json::from_slice(&end_to_end::node("send.mjs", &input)).unwrap();
    output["valid"].as_bool().expect("send.mjs prints {valid}")
}

#[tokio::test]
async fn twilio_json_carries_its_hash_in_the_signed_url_and_verifies_with_the_library_and_the_sdk()
{
    use sha2::Digest as _;

    let capture = Capture::start().await;
    let verifier = Verifier::provider("twilio", [SECRET]).unwrap();
    let with_query = format!("{}?site=7", capture.url);
    let data = r#"{"event":"com.twilio.messaging.message.delivered"}"#;
    let runs = [
        (capture.url.as_str(), None, ""),
        (with_query.as_str(), Some(data), "site=7&"),
    ];
    for (url, data, query_before) in runs {
        let mut line = vec![url, "--as", "twilio", "--json", "--secret", SECRET];
        line.extend(data.map(|data| ["--data", data]).into_iter().flatten());
        let sent = send(&line).await;
        assert_eq!(sent.code, Some(0), "{sent:#?}");
        assert!(!sent.shows(SECRET), "{sent:#?}");
        let captured = capture.take();
        assert_eq!(
            captured.headers[http::header::CONTENT_TYPE],
            "application/json"
        );
        let body = String::from_utf8(captured.body.clone()).unwrap();
        serde_json::from_str::<serde_json::Value>(&body).expect("a JSON body");
        let hash = hex::encode(sha2::Sha256::digest(&captured.body));
        let query = format!("{query_before}bodySHA256={hash}");
        assert_eq!(captured.uri.query(), Some(query.as_str()), "{url}");
        assert!(sent.stderr.contains(&query), "the URL posted to: {sent:#?}");

        assert!(
            library_accepts("twilio", SECRET, &captured, &body),
            "{captured:#?}"
        );
        assert!(verifies(&verifier, &captured, &captured.body), "{url}");
        let changed = body.replacen('"', "'", 1);
        assert!(!library_accepts("twilio", SECRET, &captured, &changed));
        assert!(!verifies(&verifier, &captured, changed.as_bytes()));
    }
}

#[tokio::test]
async fn an_unknown_sender_is_refused_with_the_known_ones_listed() {
    let sent = send(&["http://127.0.0.1:9/webhook", "--as", "pigeon-post"]).await;
    assert_eq!(sent.code, Some(2), "{sent:#?}");
    for name in ["coinbase-commerce", "zoom", "sonar", "plain"] {
        assert!(sent.stderr.contains(name), "{name}: {sent:#?}");
    }
}

#[tokio::test]
async fn help_lists_every_sender() {
    let help = send(&["--help"]).await;
    assert_eq!(help.code, Some(0));
    for name in receiver_sdk::verify::providers().chain(["sonar", "basic", "token", "plain"]) {
        assert!(
            help.stdout.contains(&format!("- {name}:")),
            "{name}: {}",
            help.stdout
        );
    }
}

/// `send --as sender --handshake` with `options` to an endpoint answering `handshake` with
/// `verifier`: the run, after checking nothing was handled as a delivery.
async fn handshake(
    sender: &str,
    verifier: Verifier,
    handshake: Handshake,
    options: &[&str],
) -> Run {
    let endpoint = Endpoint::answering(verifier, Envelope::Raw, [handshake]).await;
    let line = [
        &[endpoint.url.as_str(), "--as", sender, "--handshake"][..],
        options,
    ]
    .concat();
    let run = send(&line).await;
    assert!(endpoint.handled().is_empty(), "{sender}: {run:#?}");
    run
}

#[track_caller]
fn assert_handshake_answered(sender: &str, run: &Run) {
    assert_eq!(run.code, Some(0), "{sender}: {run:#?}");
    let answered = format!("< handshake answered as {sender} requires");
    assert!(run.stderr.contains(&answered), "{sender}: {run:#?}");
}

#[tokio::test]
async fn each_handshake_is_answered_as_its_sender_requires() {
    let provider = |name| Verifier::provider(name, [SECRET]).unwrap();
    let discord_public = sign::discord_public_key(DISCORD_SEED).unwrap();
    let cases = [
        (
            "slack",
            provider("slack"),
            Handshake::slack(),
            &["--secret", SECRET][..],
        ),
        (
            "zoom",
            provider("zoom"),
            Handshake::zoom(SECRET),
            &["--secret", SECRET],
        ),
        (
            "meta",
            provider("meta"),
            Handshake::meta("vt-1"),
            &["--verify-token", "vt-1"],
        ),
        (
            "microsoft-graph",
            Verifier::none(),
            Handshake::microsoft_graph(),
            &[],
        ),
        ("dropbox", provider("dropbox"), Handshake::dropbox(), &[]),
        ("okta", provider("okta"), Handshake::okta(), &[]),
        (
            "cloudevents",
            Verifier::none(),
            Handshake::cloud_events(["eventemitter.example.com"]),
            &[],
        ),
        (
            "discord",
            Verifier::provider("discord", [discord_public.as_str()]).unwrap(),
            Handshake::discord(),
            &["--secret", DISCORD_SEED],
        ),
        (
            "twitch",
            provider("twitch"),
            Handshake::twitch(),
            &["--secret", SECRET],
        ),
        (
            "asana",
            provider("asana"),
            Handshake::asana_expecting([SECRET]),
            &["--secret", SECRET],
        ),
        ("asana", provider("asana"), Handshake::asana(), &[]),
        ("trello", provider("trello"), Handshake::trello(), &[]),
    ];
    for (sender, verifier, answers, options) in cases {
        let run = handshake(sender, verifier, answers, options).await;
        assert_handshake_answered(sender, &run);
    }
}

#[tokio::test]
async fn a_zoom_answer_keyed_with_another_secret_token_is_not_what_zoom_requires() {
    let verifier = Verifier::provider("zoom", [SECRET]).unwrap();
    let run = handshake(
        "zoom",
        verifier,
        Handshake::zoom(WRONG_SECRET),
        &["--secret", SECRET],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stderr.contains("encryptedToken is not"), "{run:#?}");
}

#[tokio::test]
async fn an_unsigned_slack_challenge_is_refused_and_so_not_what_slack_requires() {
    let verifier = Verifier::slack([SECRET]).unwrap();
    let run = handshake(
        "slack",
        verifier,
        Handshake::slack(),
        &["--secret", WRONG_SECRET],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(
        run.stderr.contains("401 Unauthorized, not 200 OK"),
        "{run:#?}"
    );
}

#[tokio::test]
async fn a_wrong_meta_verify_token_is_refused_and_never_printed() {
    let verifier = Verifier::provider("meta", [SECRET]).unwrap();
    let run = handshake(
        "meta",
        verifier,
        Handshake::meta("vt-1"),
        &["--verify-token", "vt-2"],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stderr.contains("403 Forbidden"), "{run:#?}");
    assert!(
        run.stderr.contains("hub.verify_token=%5Bredacted%5D"),
        "{run:#?}"
    );
    assert!(!run.shows("vt-2"), "{run:#?}");
}

#[tokio::test]
async fn a_badly_signed_discord_ping_is_refused_and_so_not_what_discord_requires() {
    let other_seed = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
    let public = sign::discord_public_key(other_seed).unwrap();
    let verifier = Verifier::provider("discord", [public.as_str()]).unwrap();
    let run = handshake(
        "discord",
        verifier,
        Handshake::discord(),
        &["--secret", DISCORD_SEED],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(
        run.stderr.contains("401 Unauthorized, not 200 OK"),
        "{run:#?}"
    );
}

#[tokio::test]
async fn a_twitch_verification_signed_with_another_secret_is_refused() {
    let verifier = Verifier::provider("twitch", [SECRET]).unwrap();
    let run = handshake(
        "twitch",
        verifier,
        Handshake::twitch(),
        &["--secret", WRONG_SECRET],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(!run.shows(WRONG_SECRET), "{run:#?}");
}

#[tokio::test]
async fn an_asana_secret_the_endpoint_does_not_expect_is_refused_and_never_printed() {
    let verifier = Verifier::provider("asana", [SECRET]).unwrap();
    let run = handshake(
        "asana",
        verifier,
        Handshake::asana_expecting([SECRET]),
        &["--secret", WRONG_SECRET],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stderr.contains("403 Forbidden"), "{run:#?}");
    assert!(!run.shows(WRONG_SECRET), "{run:#?}");
}

#[tokio::test]
async fn a_cloudevents_origin_the_endpoint_does_not_allow_is_not_consent() {
    let run = handshake(
        "cloudevents",
        Verifier::none(),
        Handshake::cloud_events(["other.example.com"]),
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
}

#[tokio::test]
async fn a_sender_without_a_handshake_says_which_have_one() {
    let sent = send(&[
        "http://127.0.0.1:9/webhook",
        "--as",
        "github",
        "--handshake",
    ])
    .await;
    assert_eq!(sent.code, Some(1), "{sent:#?}");
    assert!(
        sent.stderr
            .contains("github has no setup handshake; --handshake is for asana, cloudevents"),
        "{sent:#?}"
    );
}

#[tokio::test]
async fn regression_no_answer_to_a_meta_handshake_does_not_print_the_verify_token() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    drop(listener);
    let sent = send(&[
        &url,
        "--as",
        "meta",
        "--handshake",
        "--verify-token",
        "vt-secret",
    ])
    .await;
    assert_eq!(sent.code, Some(1), "{sent:#?}");
    assert!(sent.stderr.contains("no answer from"), "{sent:#?}");
    assert!(!sent.shows("vt-secret"), "{sent:#?}");
}

/// Mailgun signs inside the body; its only verifier is its Python SDK (`mailgun` on PyPI,
/// `SecurityGuard.verify_webhook`, tests/interop/mailgun_verify.py).
#[tokio::test]
async fn mailgun_output_verifies_with_mailguns_own_python_sdk() {
    let capture = Capture::start().await;
    let (captured, key) = send_captured(&capture, "mailgun").await;
    let body: serde_json::Value = serde_json::from_slice(&captured.body).unwrap();
    let signature = &body["signature"];
    let accepts = |token: &str| {
        let input = serde_json::json!({
            "signing_key": key, "timestamp": signature["timestamp"], "token": token,
            "signature": signature["signature"],
        });
        let output: serde_json::Value =
            serde_json::from_slice(&end_to_end::python("mailgun_verify.py", &input)).unwrap();
        output["valid"]
            .as_bool()
            .expect("mailgun_verify.py prints {valid}")
    };
    let token = signature["token"].as_str().unwrap();
    assert!(accepts(token), "Mailgun's SDK refused {body:#}");
    assert!(
        !accepts(&format!("{token}x")),
        "Mailgun's SDK took a changed token"
    );
}

/// Slack's own check of a request's signature is its Python SDK's (`slack_sdk` on PyPI,
/// `SignatureVerifier.is_valid`, tests/interop/slack_signature.py).
#[tokio::test]
async fn slack_output_verifies_with_slacks_own_python_sdk() {
    let capture = Capture::start().await;
    let (captured, key) = send_captured(&capture, "slack").await;
    let header = |name: &str| captured.headers[name].to_str().unwrap().to_owned();
    let accepts = |body: &str| {
        let input = serde_json::json!({
            "op": "verify", "signing_secret": key, "body": body,
            "timestamp": header("x-slack-request-timestamp"),
            "signature": header("x-slack-signature"),
        });
        let output: serde_json::Value =
            serde_json::from_slice(&end_to_end::python("slack_signature.py", &input)).unwrap();
        output["valid"]
            .as_bool()
            .expect("slack_signature.py prints {valid}")
    };
    let body = String::from_utf8(captured.body.clone()).unwrap();
    assert!(accepts(&body), "Slack's SDK refused {captured:#?}");
    assert!(
        !accepts(&body.replacen('"', "'", 1)),
        "Slack's SDK took a changed body"
    );
}
