//! Setup handshakes: the challenges a sender sends before it delivers anything, answered by
//! the endpoint before the pipeline.
//!
//! Many senders refuse to deliver until the endpoint proves it is theirs (or that it wants
//! their events) by answering a challenge. A handshake is answered only on an endpoint
//! configured for it ([`ReceiverBuilder::handshake`](crate::ReceiverBuilder::handshake),
//! several allowed, tried in the order given), and it is never a delivery: the handler is not
//! called and nothing is stored. A handshake whose own check fails (a wrong Meta verify token,
//! an origin that is not allowed) is refused; a Slack or Zoom challenge that fails the
//! endpoint's verifier is not a handshake at all and is answered 401 like any delivery.
//!
//! | handshake | request | answer |
//! | --- | --- | --- |
//! | [CloudEvents](Handshake::cloud_events) | `OPTIONS`, `WebHook-Request-Origin` | 200, `WebHook-Allowed-Origin`, `WebHook-Allowed-Rate`, `Allow: POST`; an origin not allowed: 403 without them |
//! | [Microsoft Graph](Handshake::microsoft_graph) | `POST` or `GET` `?validationToken=T` | 200 `text/plain` `T` (decoded) |
//! | [Meta](Handshake::meta) | `GET ?hub.mode=subscribe&hub.verify_token=V&hub.challenge=C` | 200 `text/plain` `C` when `V` is the configured token; 403 otherwise |
//! | [Dropbox](Handshake::dropbox) | `GET ?challenge=C` | 200 `text/plain` `C` |
//! | [Okta](Handshake::okta) | `GET`, `X-Okta-Verification-Challenge: C` | 200 `{"verification": C}` |
//! | [Slack](Handshake::slack) | signed `POST {"type": "url_verification", "challenge": C}` | 200 `{"challenge": C}` |
//! | [Twitch](Handshake::twitch) | signed `POST`, `Twitch-Eventsub-Message-Type: webhook_callback_verification`, `{"challenge": C, ..}` | 200 `text/plain` `C` |
//! | [Zoom](Handshake::zoom) | signed `POST {"event": "endpoint.url_validation", "payload": {"plainToken": P}}` | 200 `{"plainToken": P, "encryptedToken": hex(HMAC-SHA256(secret token, P))}` |
//!
//! Every value echoed is at most [`MAX_ECHO_BYTES`] of printable ASCII; anything else is
//! refused with 400, so an echo can carry no markup for a browser to run, and plain-text
//! echoes are sent with `X-Content-Type-Options: nosniff`.
//!
//! ```
//! use receiver_sdk::handshake::Handshake;
//! use receiver_sdk::{Delivery, Receiver};
//!
//! let receiver = Receiver::builder("graph")
//!     .handshake(Handshake::microsoft_graph())
//!     .handshake(Handshake::cloud_events(["eventgrid.azure.net"]))
//!     .store(receiver_sdk::store::MemoryStore::new())
//!     .handler(|_: Delivery| async { Ok(()) })
//!     .build()?;
//! # drop(receiver);
//! # Ok::<(), receiver_sdk::BuildError>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;

use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::outcome::OUTCOME_HEADER;
use crate::verify::VerifyFailure;
use crate::Secret;

/// The longest value a handshake echoes, in bytes. The senders' challenges are far shorter
/// (Microsoft Graph's validation token, the longest, is a sentence of about 150 characters);
/// the bound keeps an endpoint from reflecting whatever a caller sends.
pub const MAX_ECHO_BYTES: usize = 1024;

const ALLOWED_ORIGIN: HeaderName = HeaderName::from_static("webhook-allowed-origin");
const ALLOWED_RATE: HeaderName = HeaderName::from_static("webhook-allowed-rate");
const REQUEST_ORIGIN: &str = "webhook-request-origin";
const OKTA_CHALLENGE: &str = "x-okta-verification-challenge";
const TWITCH_MESSAGE_TYPE: &str = "twitch-eventsub-message-type";

/// A setup handshake an endpoint answers; see the [module docs](self) for each.
#[derive(Clone)]
pub struct Handshake {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    CloudEvents {
        // `None` answers `*`: every origin is allowed.
        origins: Option<Vec<String>>,
        // `None` answers `*`: no rate limit.
        rate: Option<NonZeroU32>,
    },
    MicrosoftGraph,
    Meta {
        verify_token: Secret,
    },
    Dropbox,
    Okta,
    Slack,
    Twitch,
    Zoom {
        secret_token: Secret,
    },
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The provider's name only: Meta's verify token and Zoom's secret token stay out.
        f.debug_tuple("Handshake").field(&self.provider()).finish()
    }
}

impl Handshake {
    /// The CloudEvents webhook spec's abuse protection (section 4): an `OPTIONS` request with
    /// `WebHook-Request-Origin` is answered 200 with that origin in `WebHook-Allowed-Origin`
    /// when it is one of `origins` (or `*` when `origins` holds `*`), `WebHook-Allowed-Rate: *`
    /// and `Allow: POST`; any other origin gets 403 and neither header, which the sender takes
    /// as no consent. Azure Event Grid, among others, sends it.
    pub fn cloud_events<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let origins: Vec<String> = origins.into_iter().map(Into::into).collect();
        let origins = (!origins.iter().any(|o| o == "*")).then_some(origins);
        Self {
            kind: Kind::CloudEvents {
                origins,
                rate: None,
            },
        }
    }

    /// As [`cloud_events`](Self::cloud_events), granting at most `per_minute` requests a minute
    /// in `WebHook-Allowed-Rate` instead of `*`.
    pub fn cloud_events_limited<I, S>(origins: I, per_minute: NonZeroU32) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut handshake = Self::cloud_events(origins);
        if let Kind::CloudEvents { rate, .. } = &mut handshake.kind {
            *rate = Some(per_minute);
        }
        handshake
    }

    /// Microsoft Graph's notification endpoint validation: a request with
    /// `?validationToken=T` (a `POST` when a subscription is created; `GET` is taken too) is
    /// answered 200 `text/plain` with `T` URL-decoded. Graph waits 10 seconds for it and
    /// signs nothing, so it is answered before the endpoint's verifier.
    pub fn microsoft_graph() -> Self {
        Self {
            kind: Kind::MicrosoftGraph,
        }
    }

    /// Meta's (Facebook, WhatsApp, Instagram) verification request:
    /// `GET ?hub.mode=subscribe&hub.verify_token=V&hub.challenge=C` is answered 200 with `C`
    /// when `V` equals `verify_token` (compared in constant time), and 403 otherwise.
    pub fn meta(verify_token: impl Into<Secret>) -> Self {
        Self {
            kind: Kind::Meta {
                verify_token: verify_token.into(),
            },
        }
    }

    /// Dropbox's verification request: `GET ?challenge=C` is answered 200 with `C`,
    /// `Content-Type: text/plain` and `X-Content-Type-Options: nosniff`, as Dropbox asks.
    pub fn dropbox() -> Self {
        Self {
            kind: Kind::Dropbox,
        }
    }

    /// Okta's one-time event hook verification: a `GET` with `X-Okta-Verification-Challenge: C`
    /// is answered 200 `{"verification": "C"}`.
    pub fn okta() -> Self {
        Self { kind: Kind::Okta }
    }

    /// Slack's Events API `url_verification`: a `POST` of
    /// `{"type": "url_verification", "challenge": C}` that passes the endpoint's verifier
    /// (use [`Verifier::slack`](crate::verify::Verifier::slack)) is answered 200
    /// `{"challenge": C}`. An unsigned or forged one is answered 401 like any delivery.
    pub fn slack() -> Self {
        Self { kind: Kind::Slack }
    }

    /// Twitch EventSub's `webhook_callback_verification`: a `POST` with
    /// `Twitch-Eventsub-Message-Type: webhook_callback_verification` that passes the
    /// endpoint's verifier (use `Verifier::provider("twitch", ..)`) is answered 200
    /// `text/plain` with the body's `challenge`. An unsigned or forged one is answered 401
    /// like any delivery.
    ///
    /// A `revocation` message (the subscription was revoked: its `subscription.status` says
    /// why) is no handshake: it is signed like a notification and goes through the pipeline as
    /// a delivery, so the handler learns of it and it is answered 2xx once handled, as Twitch
    /// asks. A handler that wants only notifications can tell them apart by the
    /// `Twitch-Eventsub-Message-Type` header.
    pub fn twitch() -> Self {
        Self { kind: Kind::Twitch }
    }

    /// Zoom's `endpoint.url_validation`: a `POST` of `{"event": "endpoint.url_validation",
    /// "payload": {"plainToken": P}}` that passes the endpoint's verifier is answered 200
    /// `{"plainToken": P, "encryptedToken": E}`, `E` the hex HMAC-SHA256 of `P` keyed with the
    /// app's secret token. An unsigned or forged one is answered 401 like any delivery.
    pub fn zoom(secret_token: impl Into<Secret>) -> Self {
        Self {
            kind: Kind::Zoom {
                secret_token: secret_token.into(),
            },
        }
    }

    /// The sender's name, in lower case and hyphenated (`microsoft-graph`), as answers and
    /// logs name it.
    pub fn provider(&self) -> &'static str {
        match self.kind {
            Kind::CloudEvents { .. } => "cloudevents",
            Kind::MicrosoftGraph => "microsoft-graph",
            Kind::Meta { .. } => "meta",
            Kind::Dropbox => "dropbox",
            Kind::Okta => "okta",
            Kind::Slack => "slack",
            Kind::Twitch => "twitch",
            Kind::Zoom { .. } => "zoom",
        }
    }

    /// Whether this handshake can come with `method`: other methods than HEAD and POST are
    /// answered 405 unless a configured handshake takes them.
    pub(crate) fn takes(&self, method: &Method) -> bool {
        match self.kind {
            Kind::CloudEvents { .. } => method == Method::OPTIONS,
            Kind::MicrosoftGraph => method == Method::POST || method == Method::GET,
            Kind::Meta { .. } | Kind::Dropbox | Kind::Okta => method == Method::GET,
            Kind::Slack | Kind::Twitch | Kind::Zoom { .. } => method == Method::POST,
        }
    }

    /// The answer to `request` when it is this handshake; `None` when it is not (and the
    /// request goes on as usual).
    pub(crate) fn answer(&self, request: &Request<'_>) -> Option<Reply> {
        if !self.takes(request.method) {
            return None;
        }
        let provider = self.provider();
        match &self.kind {
            Kind::CloudEvents { origins, rate } => {
                let origin = request.headers.get(REQUEST_ORIGIN)?;
                Some(cloud_events(origin, origins.as_deref(), *rate))
            }
            Kind::MicrosoftGraph => {
                let token = request.query("validationToken")?;
                Some(echo(provider, "validationToken", &token, Reply::text))
            }
            Kind::Meta { verify_token } => {
                if request.query("hub.mode")? != "subscribe" {
                    return None;
                }
                let sent = request.query("hub.verify_token").unwrap_or_default();
                if !Secret::from(sent.as_ref()).ct_eq(verify_token) {
                    return Some(Reply::refused(
                        provider,
                        StatusCode::FORBIDDEN,
                        "hub.verify_token does not match the endpoint's verify token",
                    ));
                }
                let challenge = request.query("hub.challenge").unwrap_or_default();
                Some(echo(provider, "hub.challenge", &challenge, Reply::text))
            }
            Kind::Dropbox => {
                let challenge = request.query("challenge")?;
                Some(echo(provider, "challenge", &challenge, Reply::text))
            }
            Kind::Okta => {
                let challenge = request.headers.get(OKTA_CHALLENGE)?;
                let challenge = String::from_utf8_lossy(challenge.as_bytes());
                Some(echo(provider, OKTA_CHALLENGE, &challenge, |p, c| {
                    Reply::json(p, json!({ "verification": c }))
                }))
            }
            Kind::Slack => {
                let body = request.signed_json()?;
                if body.get("type")?.as_str()? != "url_verification" {
                    return None;
                }
                let challenge = body.get("challenge").and_then(Value::as_str);
                let challenge = challenge.unwrap_or_default();
                Some(echo(provider, "challenge", challenge, |p, c| {
                    Reply::json(p, json!({ "challenge": c }))
                }))
            }
            Kind::Twitch => {
                let kind = request.headers.get(TWITCH_MESSAGE_TYPE)?;
                if kind.as_bytes() != b"webhook_callback_verification" {
                    return None;
                }
                let body = request.signed_json()?;
                let challenge = body.get("challenge").and_then(Value::as_str);
                Some(echo(
                    provider,
                    "challenge",
                    challenge.unwrap_or_default(),
                    Reply::text,
                ))
            }
            Kind::Zoom { secret_token } => {
                let body = request.signed_json()?;
                if body.get("event")?.as_str()? != "endpoint.url_validation" {
                    return None;
                }
                let plain = body.pointer("/payload/plainToken").and_then(Value::as_str);
                let plain = plain.unwrap_or_default();
                Some(echo(provider, "plainToken", plain, |p, plain| {
                    let encrypted = zoom_token(secret_token, plain);
                    Reply::json(
                        p,
                        json!({ "plainToken": plain, "encryptedToken": encrypted }),
                    )
                }))
            }
        }
    }
}

/// What a handshake is judged on: the request, and the endpoint verifier's word on it.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a Method,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    pub(crate) verified: &'a Result<(), VerifyFailure>,
}

impl Request<'_> {
    /// The first value of the query parameter `name`, URL-decoded.
    fn query(&self, name: &str) -> Option<Cow<'_, str>> {
        form_urlencoded::parse(self.query?.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// The body as JSON, only when it passed the endpoint's verifier.
    fn signed_json(&self) -> Option<Value> {
        self.verified.as_ref().ok()?;
        serde_json::from_slice(self.body).ok()
    }
}

fn cloud_events(
    origin: &HeaderValue,
    origins: Option<&[String]>,
    rate: Option<NonZeroU32>,
) -> Reply {
    let provider = "cloudevents";
    let allowed = match origins {
        None => HeaderValue::from_static("*"),
        Some(origins) => match origin.to_str() {
            Ok(sent) if origins.iter().any(|o| o.eq_ignore_ascii_case(sent.trim())) => {
                origin.clone()
            }
            _ => {
                return Reply::refused(
                    provider,
                    StatusCode::FORBIDDEN,
                    "WebHook-Request-Origin is not an origin this endpoint allows",
                )
            }
        },
    };
    let rate = match rate {
        None => HeaderValue::from_static("*"),
        Some(rate) => HeaderValue::from(rate.get()),
    };
    let mut reply = Reply::empty(provider);
    reply.headers = vec![
        (ALLOWED_ORIGIN, allowed),
        (ALLOWED_RATE, rate),
        (header::ALLOW, HeaderValue::from_static("POST")),
    ];
    reply
}

/// `answer` with `value` when it may be echoed (at most [`MAX_ECHO_BYTES`] of printable
/// ASCII), and a 400 naming `field` when not.
fn echo(
    provider: &'static str,
    field: &str,
    value: &str,
    answer: impl FnOnce(&'static str, &str) -> Reply,
) -> Reply {
    let refuse = |why: String| Reply::refused(provider, StatusCode::BAD_REQUEST, why);
    if value.is_empty() {
        return refuse(format!("{field} is missing or empty"));
    }
    if value.len() > MAX_ECHO_BYTES {
        return refuse(format!(
            "{field} is {} bytes, longer than the limit of {MAX_ECHO_BYTES} bytes",
            value.len()
        ));
    }
    if !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return refuse(format!(
            "{field} holds characters other than printable ASCII"
        ));
    }
    answer(provider, value)
}

fn zoom_token(secret_token: &Secret, plain: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret_token.expose())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(plain.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A handshake's answer: sent as it is, never a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    provider: &'static str,
    status: StatusCode,
    body: Body,
    headers: Vec<(HeaderName, HeaderValue)>,
    message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    Empty,
    Text(String),
    Json(Value),
}

impl Reply {
    fn empty(provider: &'static str) -> Self {
        Self {
            provider,
            status: StatusCode::OK,
            body: Body::Empty,
            headers: Vec::new(),
            message: format!("{provider} handshake answered"),
        }
    }

    fn text(provider: &'static str, value: &str) -> Self {
        Self {
            body: Body::Text(value.to_owned()),
            ..Self::empty(provider)
        }
    }

    fn json(provider: &'static str, value: Value) -> Self {
        Self {
            body: Body::Json(value),
            ..Self::empty(provider)
        }
    }

    fn refused(provider: &'static str, status: StatusCode, why: impl Into<String>) -> Self {
        Self {
            provider,
            status,
            body: Body::Empty,
            headers: Vec::new(),
            message: why.into(),
        }
    }

    /// Which handshake answered (see [`Handshake::provider`]).
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// The status answered: 200, or 4xx for a handshake whose own check failed.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Whether the handshake was refused (its check failed, or its value may not be echoed).
    pub fn is_refused(&self) -> bool {
        !self.status.is_success()
    }

    /// The outcome's name, as sent in `X-Webhook-Outcome`: `handshake`, or
    /// `handshake_refused`.
    pub fn name(&self) -> &'static str {
        if self.is_refused() {
            "handshake_refused"
        } else {
            "handshake"
        }
    }

    /// What happened, in words safe to show the sender (no secret, no expected value).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let name = HeaderValue::from_static(self.name());
        let mut response = match self.body {
            Body::Empty if self.is_refused() => {
                let body = json!({ "outcome": self.name(), "message": self.message });
                (self.status, axum::Json(body)).into_response()
            }
            Body::Empty => self.status.into_response(),
            Body::Text(text) => {
                let mut response = (self.status, text).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                response
            }
            Body::Json(value) => (self.status, axum::Json(value)).into_response(),
        };
        let headers = response.headers_mut();
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(OUTCOME_HEADER, name);
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::{Assessment, Decision, Outcome, Receiver};

    fn assess(handshake: Handshake, method: Method, query: Option<&str>) -> Assessment {
        let stage = Receiver::builder("e").handshake(handshake).assessor();
        let mut headers = HeaderMap::new();
        headers.insert(OKTA_CHALLENGE, HeaderValue::from_static("c-1"));
        let now = SystemTime::now();
        stage.assess_query(&method, query, &headers, b"", false, now)
    }

    fn reply(assessment: Assessment) -> Reply {
        match assessment.decision {
            Decision::Handshake(reply) => reply,
            other => panic!("not a handshake: {other:?}"),
        }
    }

    #[test]
    fn the_pure_stage_says_handshake_and_names_the_provider() {
        let okta = reply(assess(Handshake::okta(), Method::GET, None));
        assert_eq!((okta.name(), okta.provider()), ("handshake", "okta"));
        assert_eq!(okta.body, Body::Json(json!({"verification": "c-1"})));
        let meta = Handshake::meta("token");
        let query = Some("hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1");
        let refused = reply(assess(meta, Method::GET, query));
        assert_eq!(
            (refused.name(), refused.status()),
            ("handshake_refused", StatusCode::FORBIDDEN)
        );
    }

    #[test]
    fn a_request_that_is_no_handshake_goes_on_as_before() {
        let get = assess(Handshake::dropbox(), Method::GET, Some("other=1"));
        assert!(matches!(
            get.decision,
            Decision::Answer(Outcome::MethodNotAllowed)
        ));
        let slack = Handshake::slack();
        let post = assess(slack, Method::POST, None);
        assert!(matches!(
            post.decision,
            Decision::Answer(Outcome::Malformed(_))
        ));
    }

    #[test]
    fn only_the_methods_a_handshake_comes_with_are_taken() {
        assert!(Handshake::cloud_events(["*"]).takes(&Method::OPTIONS));
        assert!(!Handshake::cloud_events(["*"]).takes(&Method::GET));
        assert!(Handshake::microsoft_graph().takes(&Method::POST));
        assert!(!Handshake::meta("t").takes(&Method::POST));
        let put = assess(Handshake::okta(), Method::PUT, None);
        assert!(matches!(
            put.decision,
            Decision::Answer(Outcome::MethodNotAllowed)
        ));
    }

    #[test]
    fn debug_shows_no_verify_token_or_secret() {
        let shown = format!(
            "{:?} {:?}",
            Handshake::meta("hunter2"),
            Handshake::zoom("s3cr3t")
        );
        assert_eq!(shown, r#"Handshake("meta") Handshake("zoom")"#);
    }

    #[test]
    fn echoes_are_bounded_printable_ascii() {
        let ok = |value: &str| !echo("p", "f", value, Reply::text).is_refused();
        assert!(ok("Validation: Testing client application reachability"));
        assert!(ok(&"a".repeat(MAX_ECHO_BYTES)));
        assert!(!ok(&"a".repeat(MAX_ECHO_BYTES + 1)));
        assert!(!ok(""));
        assert!(!ok("a\r\nb"));
        assert!(!ok("caf\u{e9}"));
    }
}
