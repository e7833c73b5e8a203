//! Relaying accepted events to a downstream API (seed 003's integration pattern).
//!
//! For each event: optionally GET the entity from the source API, render the downstream
//! request from templates, send it with a timeout, and classify the answer. `sync` mode turns
//! the classification into the sender's answer; `queued` mode (see [`crate::outbox`]) retries.

mod template;
mod url;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use receiver_sdk::envelope::EventMeta;
use receiver_sdk::HandlerError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{AuthConfig, RelayConfig};
use template::{Context, Templates};

/// How much of a downstream answer is kept for messages and attempt logs.
const EXCERPT: usize = 512;

/// How much of a downstream answer is read at most: enough for its error message; the rest
/// is not read (the status decides the verdict), so a downstream cannot make us buffer more.
const DOWNSTREAM_READ: usize = 64 * 1024;

/// An accepted event, as the relay needs it (and as the outbox stores it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayEvent {
    /// The event type.
    pub event: String,
    /// The entity id.
    pub entity: Option<String>,
    /// The entity's kind.
    pub entity_type: Option<String>,
    /// The event time.
    pub created_at: Option<DateTime<Utc>>,
    /// The sender's delivery id.
    pub delivery: Option<String>,
    /// The raw payload.
    pub payload: Vec<u8>,
}

impl RelayEvent {
    /// The event of an accepted delivery.
    pub fn new(meta: &EventMeta, body: &Bytes) -> Self {
        Self {
            event: meta.event_type.clone(),
            entity: meta.entity_id.clone(),
            entity_type: meta.entity_type.clone(),
            created_at: meta.created_at,
            delivery: meta.delivery_id.clone(),
            payload: body.to_vec(),
        }
    }

    /// The key a downstream can drop repeats by, the same for every retry of this event at
    /// `endpoint`: the sender's delivery id, or else a digest of the payload.
    pub fn idempotency_key(&self, endpoint: &str) -> String {
        match &self.delivery {
            Some(id) => format!("{endpoint}:{id}"),
            None => format!(
                "{endpoint}:sha256:{}",
                hex::encode(Sha256::digest(&self.payload))
            ),
        }
    }
}

/// What a downstream (or source) answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// 2xx: done.
    Delivered,
    /// A 4xx that retrying will not fix, a 3xx (redirects are not followed), or a mapping
    /// error: give up, with the message.
    Refused,
    /// 5xx, 408, 429, timeout or no connection: try again later.
    Failed,
}

impl Verdict {
    /// The verdict's name, as the admin API and the metrics write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

/// One call to the downstream (or source) API, as logged and shown in the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When it started.
    pub at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: u64,
    /// The verdict.
    pub verdict: Verdict,
    /// The HTTP status, if an answer came.
    pub status: Option<u16>,
    /// The answer's headers.
    pub headers: Vec<(String, String)>,
    /// The start of the answer's body.
    pub body_excerpt: String,
    /// What went wrong, for people.
    pub message: String,
    /// No answer came in time (`timeout_secs`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
}

impl Attempt {
    /// An attempt that got no HTTP answer (or never sent one): a mapping error, a timeout, a
    /// refused connection.
    pub fn unanswered(
        at: DateTime<Utc>,
        duration_ms: u64,
        verdict: Verdict,
        message: String,
    ) -> Self {
        Self {
            at,
            duration_ms,
            verdict,
            status: None,
            headers: Vec::new(),
            body_excerpt: String::new(),
            message,
            timed_out: false,
        }
    }

    /// The answer a waiting sender gets for this attempt (sync mode).
    pub fn answer(&self) -> Result<(), HandlerError> {
        match self.verdict {
            Verdict::Delivered => Ok(()),
            Verdict::Refused => {
                let status = match self.status.and_then(|s| StatusCode::from_u16(s).ok()) {
                    Some(status) if status.is_client_error() => status,
                    // The sender's event is not at fault when our downstream redirects: a 4xx
                    // would tell it to drop the event; its retries land once the URL is fixed.
                    Some(status) if status.is_redirection() => StatusCode::BAD_GATEWAY,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                Err(HandlerError::new(status, self.message.clone()))
            }
            Verdict::Failed => {
                let status = if self.timed_out {
                    StatusCode::GATEWAY_TIMEOUT
                } else {
                    StatusCode::BAD_GATEWAY
                };
                Err(HandlerError::new(status, self.message.clone()))
            }
        }
    }
}

/// Outgoing credentials, resolved from config.
#[derive(Clone)]
struct OutgoingAuth(Option<(HeaderName, HeaderValue)>);

impl std::fmt::Debug for OutgoingAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "[redacted]"
        } else {
            "none"
        })
    }
}

impl OutgoingAuth {
    fn new(config: &AuthConfig) -> Result<Self, String> {
        use base64::Engine;
        let header = match config {
            AuthConfig::None {} => return Ok(Self(None)),
            AuthConfig::Bearer { token } => (
                http::header::AUTHORIZATION,
                format!("Bearer {}", token.text()),
            ),
            AuthConfig::Basic { user, password } => {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", password.text()));
                (http::header::AUTHORIZATION, format!("Basic {encoded}"))
            }
            AuthConfig::Header { header, token } => {
                let name = HeaderName::try_from(header.as_str())
                    .map_err(|_| format!("`{header}` is not a valid header name"))?;
                (name, token.text())
            }
        };
        let mut value = HeaderValue::try_from(header.1)
            .map_err(|_| "the credential is not a valid header value".to_owned())?;
        value.set_sensitive(true);
        Ok(Self(Some((header.0, value))))
    }
}

#[derive(Debug)]
struct Fetch {
    auth: OutgoingAuth,
    timeout: Duration,
    // `fetch.max_body_bytes`: the source answer is parsed whole, so it is read whole, up to this.
    max_body: usize,
}

/// A compiled relay: templates, auth and client for one endpoint.
#[derive(Debug)]
pub struct Relay {
    endpoint: String,
    method: Method,
    templates: Templates,
    has_body: bool,
    headers: Vec<(HeaderName, String)>,
    auth: OutgoingAuth,
    timeout: Duration,
    fetch: Option<Fetch>,
    client: reqwest::Client,
    // The variables `env_allow` names that were set when the relay was built.
    env: BTreeMap<String, String>,
}

impl Relay {
    /// Compiles the relay of endpoint `endpoint`; template errors name the template.
    pub fn new(
        endpoint: &str,
        config: &RelayConfig,
        client: reqwest::Client,
    ) -> Result<Self, String> {
        let mut templates = Templates::new();
        let add = |templates: &mut Templates, key: &str, source: &str| {
            templates
                .add(&format!("{endpoint}.{key}"), source)
                .map_err(|e| e.to_string())
        };
        add(&mut templates, "relay.url", &config.url)?;
        if let Some(body) = &config.body {
            add(&mut templates, "relay.body", body)?;
        }
        let mut headers = Vec::new();
        for (name, value) in &config.headers {
            let header = HeaderName::try_from(name.as_str())
                .map_err(|_| format!("relay.headers: `{name}` is not a valid header name"))?;
            let key = format!("relay.headers.{}", header.as_str());
            add(&mut templates, &key, value)?;
            headers.push((header, format!("{endpoint}.{key}")));
        }
        let fetch = match &config.fetch {
            Some(fetch) => {
                add(&mut templates, "relay.fetch.url", &fetch.url)?;
                Some(Fetch {
                    auth: OutgoingAuth::new(&fetch.auth)
                        .map_err(|e| format!("relay.fetch.auth: {e}"))?,
                    timeout: Duration::from_secs(fetch.timeout_secs),
                    max_body: fetch.max_body_bytes,
                })
            }
            None => None,
        };
        Ok(Self {
            endpoint: endpoint.to_owned(),
            method: Method::from_bytes(config.method.to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("relay.method `{}` is not a method", config.method))?,
            templates,
            has_body: config.body.is_some(),
            headers,
            auth: OutgoingAuth::new(&config.auth).map_err(|e| format!("relay.auth: {e}"))?,
            timeout: Duration::from_secs(config.timeout_secs),
            fetch,
            client,
            env: config
                .env_allow
                .iter()
                .filter_map(|name| Some((name.clone(), std::env::var(name).ok()?)))
                .collect(),
        })
    }

    /// Fetches (if configured), renders and sends one event downstream. `idempotency_key`
    /// goes out as `Idempotency-Key` so the downstream can drop a repeat.
    pub async fn deliver(&self, event: &RelayEvent, idempotency_key: Option<&str>) -> Attempt {
        let started = Instant::now();
        let at = Utc::now();
        let refused = |message: String| {
            Attempt::unanswered(at, elapsed_ms(started), Verdict::Refused, message)
        };
        let payload: serde_json::Value = match serde_json::from_slice(&event.payload) {
            Ok(payload) => payload,
            Err(e) => return refused(format!("payload is not JSON: {e}")),
        };
        let mut context = Context {
            event: &event.event,
            entity: event.entity.as_deref(),
            entity_type: event.entity_type.as_deref(),
            created_at: event.created_at.map(|t| t.to_rfc3339()),
            delivery: event.delivery.as_deref(),
            payload: &payload,
            source: None,
            env: &self.env,
        };
        let source = match &self.fetch {
            Some(fetch) => match self.fetch_source(fetch, &context).await {
                Ok(source) => Some(source),
                Err(attempt) => return *attempt,
            },
            None => None,
        };
        context.source = source.as_ref();
        let values = context.to_value();
        let render = |key: &str| {
            self.templates
                .render(&format!("{}.{key}", self.endpoint), &values)
        };
        let url = match render("relay.url") {
            Ok(url) => url,
            Err(e) => return refused(e.to_string()),
        };
        let body = if self.has_body {
            match render("relay.body") {
                Ok(body) => Bytes::from(body),
                Err(e) => return refused(e.to_string()),
            }
        } else {
            Bytes::from(event.payload.clone())
        };
        let mut request = self
            .client
            .request(self.method.clone(), &url)
            .timeout(self.timeout)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, template) in &self.headers {
            let value = match self.templates.render(template, &values) {
                Ok(value) => value,
                Err(e) => return refused(e.to_string()),
            };
            // CR, LF and other controls would fail the request on every attempt: a refusal.
            match HeaderValue::try_from(value) {
                Ok(value) => request = request.header(name, value),
                Err(_) => {
                    return refused(format!(
                        "template `{template}`: renders an invalid header value (CR, LF or \
                         another control character)"
                    ))
                }
            }
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", idempotency_header(key));
        }
        if let Some((name, value)) = &self.auth.0 {
            request = request.header(name, value.clone());
        }
        let (attempt, _) = send(request, at, started, "downstream", DOWNSTREAM_READ).await;
        attempt
    }

    async fn fetch_source(
        &self,
        fetch: &Fetch,
        context: &Context<'_>,
    ) -> Result<serde_json::Value, Box<Attempt>> {
        let started = Instant::now();
        let at = Utc::now();
        let url = self
            .templates
            .render(
                &format!("{}.relay.fetch.url", self.endpoint),
                &context.to_value(),
            )
            .map_err(|e| {
                Box::new(Attempt::unanswered(
                    at,
                    elapsed_ms(started),
                    Verdict::Refused,
                    e.to_string(),
                ))
            })?;
        let mut request = self.client.get(&url).timeout(fetch.timeout);
        if let Some((name, value)) = &fetch.auth.0 {
            request = request.header(name, value.clone());
        }
        let (mut attempt, body) = send(request, at, started, "source API", fetch.max_body).await;
        if attempt.verdict != Verdict::Delivered {
            return Err(Box::new(attempt));
        }
        if !body.complete {
            attempt.verdict = Verdict::Refused;
            attempt.message = format!(
                "source API answer is larger than relay.fetch.max_body_bytes ({} bytes)",
                fetch.max_body
            );
            return Err(Box::new(attempt));
        }
        serde_json::from_slice(&body.bytes).map_err(|e| {
            attempt.verdict = Verdict::Refused;
            attempt.message = format!("source API answered with something other than JSON: {e}");
            Box::new(attempt)
        })
    }
}

/// `key` as a header value. It holds the sender's delivery id, which may hold bytes a header
/// cannot (CR, LF): those are percent-encoded, the same way on every attempt, so the event
/// is still sent and its retries still carry one key.
fn idempotency_header(key: &str) -> HeaderValue {
    HeaderValue::try_from(key).unwrap_or_else(|_| {
        let encoded = percent_encoding::utf8_percent_encode(key, percent_encoding::CONTROLS);
        HeaderValue::try_from(encoded.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    })
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What an answer's status means. A 3xx is a refusal: redirects are not followed (the
/// config fixes where events go), and the same URL gets the same redirect on every retry, so
/// retrying would only delay the dead letter an operator must look at anyway.
fn verdict_of(status: StatusCode) -> Verdict {
    if status.is_success() {
        Verdict::Delivered
    } else if status.is_redirection()
        || (status.is_client_error()
            && status != StatusCode::REQUEST_TIMEOUT
            && status != StatusCode::TOO_MANY_REQUESTS)
    {
        Verdict::Refused
    } else {
        Verdict::Failed
    }
}

/// The start of an answer's body, up to a cap.
struct Read {
    bytes: Bytes,
    // Nothing was left unread.
    complete: bool,
}

/// Reads `response`'s body up to `cap` bytes; the rest is never read.
async fn read_capped(response: &mut reqwest::Response, cap: usize) -> Result<Read, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok(Read {
                bytes: Bytes::from(body),
                complete: false,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Read {
        bytes: Bytes::from(body),
        complete: true,
    })
}

/// Sends `request` and classifies the answer; `who` names the other side in messages. The
/// body is read up to `cap` bytes.
async fn send(
    request: reqwest::RequestBuilder,
    at: DateTime<Utc>,
    started: Instant,
    who: &str,
    cap: usize,
) -> (Attempt, Read) {
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            let message = if e.is_timeout() {
                format!("{who} timed out")
            } else if e.is_connect() {
                format!("{who} is unreachable: {}", root_cause(&e))
            } else {
                format!("{who} call failed: {}", root_cause(&e))
            };
            let mut attempt =
                Attempt::unanswered(at, elapsed_ms(started), Verdict::Failed, message);
            attempt.timed_out = e.is_timeout();
            return (
                attempt,
                Read {
                    bytes: Bytes::new(),
                    complete: true,
                },
            );
        }
    };
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = match read_capped(&mut response, cap).await {
        Ok(body) => body,
        Err(e) => {
            let attempt = Attempt {
                at,
                duration_ms: elapsed_ms(started),
                verdict: Verdict::Failed,
                status: Some(status.as_u16()),
                headers,
                body_excerpt: String::new(),
                message: format!("{who} answer broke off: {}", root_cause(&e)),
                timed_out: e.is_timeout(),
            };
            return (
                attempt,
                Read {
                    bytes: Bytes::new(),
                    complete: true,
                },
            );
        }
    };
    let verdict = verdict_of(status);
    let shown = &body.bytes[..];
    let code = status.as_u16();
    let message = match verdict {
        Verdict::Delivered => format!("{who} answered {code}"),
        _ if status.is_redirection() => format!(
            "{who} answered {code}, a redirect, which is not followed (fix the URL in the \
             relay config)"
        ),
        _ => match error_message(shown) {
            Some(message) => format!("{who} answered {code}: {message}"),
            None => format!("{who} answered {code}"),
        },
    };
    let attempt = Attempt {
        at,
        duration_ms: elapsed_ms(started),
        verdict,
        status: Some(code),
        headers,
        body_excerpt: excerpt(shown),
        message,
        timed_out: false,
    };
    (attempt, body)
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(EXCERPT)]);
    text.trim().to_owned()
}

/// The message in an error answer: the usual JSON fields, or the text itself.
fn error_message(body: &[u8]) -> Option<String> {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let candidates = [
            "/message",
            "/error/message",
            "/error",
            "/detail",
            "/title",
            "/errors/0/message",
            "/errors/0",
        ];
        for pointer in candidates {
            if let Some(text) = json.pointer(pointer).and_then(serde_json::Value::as_str) {
                if !text.trim().is_empty() {
                    return Some(text.trim().chars().take(EXCERPT).collect());
                }
            }
        }
    }
    let text = excerpt(body);
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_the_usual_fields_or_the_text() {
        assert_eq!(
            error_message(br#"{"message":"account 7 is closed"}"#).as_deref(),
            Some("account 7 is closed")
        );
        assert_eq!(
            error_message(br#"{"error":{"message":"nope"}}"#).as_deref(),
            Some("nope")
        );
        assert_eq!(
            error_message(br#"{"errors":[{"message":"bad status"}]}"#).as_deref(),
            Some("bad status")
        );
        assert_eq!(
            error_message(b"  plain text \n").as_deref(),
            Some("plain text")
        );
        assert_eq!(error_message(b""), None);
    }

    #[test]
    fn the_idempotency_key_is_the_delivery_id_or_else_the_payload_digest() {
        let mut event = RelayEvent {
            event: "contact.updated".into(),
            entity: None,
            entity_type: None,
            created_at: None,
            delivery: Some("d-7".into()),
            payload: b"{}".to_vec(),
        };
        assert_eq!(event.idempotency_key("orders"), "orders:d-7");
        event.delivery = None;
        assert_eq!(
            event.idempotency_key("orders"),
            "orders:sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn regression_a_delivery_id_with_crlf_still_makes_a_stable_idempotency_key() {
        let key = idempotency_header("orders:a\r\nX-Injected: 1");
        assert_eq!(key, "orders:a%0D%0AX-Injected: 1");
        assert_eq!(idempotency_header("orders:7"), "orders:7");
    }

    #[test]
    fn a_verdict_is_named_as_the_admin_api_writes_it() {
        for verdict in [Verdict::Delivered, Verdict::Refused, Verdict::Failed] {
            assert_eq!(serde_json::to_value(verdict).unwrap(), verdict.name());
        }
    }

    #[test]
    fn verdicts_become_sync_answers() {
        let attempt = |verdict, status: Option<u16>, message: &str| Attempt {
            at: Utc::now(),
            duration_ms: 1,
            verdict,
            status,
            headers: Vec::new(),
            body_excerpt: String::new(),
            message: message.into(),
            timed_out: false,
        };
        assert!(attempt(Verdict::Delivered, Some(204), "").answer().is_ok());
        let refused = attempt(Verdict::Refused, Some(404), "downstream answered 404: gone")
            .answer()
            .unwrap_err();
        assert_eq!(refused.status(), 404);
        assert_eq!(refused.message(), "downstream answered 404: gone");
        let unmapped = attempt(Verdict::Refused, None, "template")
            .answer()
            .unwrap_err();
        assert_eq!(unmapped.status(), 422);
        let down = attempt(Verdict::Failed, Some(503), "x")
            .answer()
            .unwrap_err();
        assert_eq!(down.status(), 502);
        let mut slow = attempt(Verdict::Failed, None, "downstream timed out");
        slow.timed_out = true;
        assert_eq!(slow.answer().unwrap_err().status(), 504);
        let redirected = attempt(Verdict::Refused, Some(307), "downstream answered 307")
            .answer()
            .unwrap_err();
        assert_eq!(
            redirected.status(),
            502,
            "the sender's event is not at fault"
        );
    }
}
