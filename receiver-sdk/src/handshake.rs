//! Setup handshakes: the challenges a sender sends before it delivers anything, answered by
//! the endpoint before the pipeline.
//!
//! Many senders refuse to deliver until the endpoint proves it is theirs (or that it wants
//! their events) by answering a challenge. A handshake is answered only on an endpoint
//! configured for it ([`ReceiverBuilder::handshake`](crate::ReceiverBuilder::handshake),
//! several allowed, tried in the order given), and it is never a delivery: the handler is not
//! called and nothing is stored. A handshake whose own check fails (a wrong Meta verify token,
//! an origin that is not allowed, an Asana secret the endpoint does not know) is refused; a
//! Slack, Zoom or Discord challenge that fails the endpoint's verifier is not a handshake at
//! all and is answered 401 like any delivery (Discord sends badly signed PINGs on purpose to
//! check exactly that).
//!
//! A `HEAD` is answered 200 on every endpoint (Sonar and others probe with it); on one
//! configured for [Trello](Handshake::trello) it is Trello's handshake, so it is logged and
//! shown as one.
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
//! | [Discord](Handshake::discord) | signed `POST {"type": 1}` (an interactions PING) | 200 `{"type": 1}` (a PONG) |
//! | [Asana](Handshake::asana) | `POST` with `X-Hook-Secret: S` | 200 with `X-Hook-Secret: S`; with [known secrets](Handshake::asana_expecting), an `S` not among them: 403 |
//! | [Trello](Handshake::trello) | `HEAD` | 200, recorded as Trello's handshake |
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
use std::sync::Arc;

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
const HOOK_SECRET: HeaderName = HeaderName::from_static("x-hook-secret");

/// What an application does with the secret an Asana handshake offers (store it, to verify
/// `X-Hook-Signature` from then on); an error refuses the handshake.
type OnSecret = Arc<dyn Fn(&Secret) -> Result<(), KeepError> + Send + Sync>;

/// Why an application could not keep the secret an Asana handshake offered (see
/// [`Handshake::asana_with`]): the handshake is refused, so Asana does not create a webhook
/// whose secret is lost.
pub type KeepError = Box<dyn std::error::Error + Send + Sync>;

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
    Discord,
    Asana {
        // `None` takes any offered secret (an endpoint being set up); otherwise only these.
        expected: Option<Vec<Secret>>,
        on_secret: Option<OnSecret>,
    },
    Trello,
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

    /// Discord's interactions endpoint check: a `POST` of `{"type": 1}` (a PING) that passes
    /// the endpoint's verifier (use [`Verifier::discord`](crate::verify::Verifier::discord)) is
    /// answered 200 `{"type": 1}` (a PONG), `application/json`. An unsigned or badly signed
    /// PING is answered 401 like any delivery: Discord sends such PINGs to check it, and
    /// removes an endpoint that answers them.
    pub fn discord() -> Self {
        Self {
            kind: Kind::Discord,
        }
    }

    /// Asana's webhook confirmation: the first `POST` to a new webhook's target carries
    /// `X-Hook-Secret: S` and is answered 200 with the same `X-Hook-Secret: S`, which tells
    /// Asana the webhook is expected.
    ///
    /// Asana makes `S` when the webhook is created and sends it only here; from then on it
    /// signs every event with it (`X-Hook-Signature`, hex HMAC-SHA256 of the body, the
    /// catalogue's `asana` verifier). This form takes any `S`, for an endpoint being set up:
    /// the application must keep `S` to verify what follows, so give it a place with
    /// [`asana_with`](Self::asana_with). A warning is logged with a fingerprint of `S` (the
    /// first 8 hex digits of its SHA-256), never `S` itself. Once the secret is known, use
    /// [`asana_expecting`](Self::asana_expecting), so no one else can attach a webhook.
    pub fn asana() -> Self {
        Self {
            kind: Kind::Asana {
                expected: None,
                on_secret: None,
            },
        }
    }

    /// As [`asana`](Self::asana), handing each accepted `X-Hook-Secret` to `on_secret` (to
    /// store it for the endpoint's verifier) before the handshake is answered. When it fails
    /// the handshake is refused with 500 (the error is logged, not sent), so Asana does not
    /// create a webhook whose secret was lost.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use receiver_sdk::handshake::Handshake;
    /// use receiver_sdk::Secret;
    ///
    /// // Where the application keeps it (a database, a secrets manager) to build the
    /// // endpoint's `asana` verifier from then on.
    /// let kept: Arc<Mutex<Option<Secret>>> = Arc::default();
    /// let keep = Arc::clone(&kept);
    /// let handshake = Handshake::asana_with(move |secret: &Secret| {
    ///     *keep.lock().map_err(|_| "poisoned")? = Some(secret.clone());
    ///     Ok(())
    /// });
    /// assert_eq!(handshake.provider(), "asana");
    /// ```
    pub fn asana_with(
        on_secret: impl Fn(&Secret) -> Result<(), KeepError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind: Kind::Asana {
                expected: None,
                on_secret: Some(Arc::new(on_secret)),
            },
        }
    }

    /// As [`asana`](Self::asana), answering only an `X-Hook-Secret` equal to one of `secrets`
    /// (compared in constant time; the endpoint's verify secrets): any other is refused with
    /// 403, so Asana does not create the webhook.
    pub fn asana_expecting<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Secret>,
    {
        Self {
            kind: Kind::Asana {
                expected: Some(secrets.into_iter().map(Into::into).collect()),
                on_secret: None,
            },
        }
    }

    /// Trello's callback check: when a webhook is created Trello sends a `HEAD` to its
    /// callback URL and creates the webhook only on a 200. Every endpoint answers `HEAD` 200;
    /// with this handshake it is answered as Trello's (logged and shown as a handshake).
    pub fn trello() -> Self {
        Self { kind: Kind::Trello }
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
            Kind::Discord => "discord",
            Kind::Asana { .. } => "asana",
            Kind::Trello => "trello",
        }
    }

    /// Whether this handshake can come with `method`: other methods than HEAD and POST are
    /// answered 405 unless a configured handshake takes them.
    pub(crate) fn takes(&self, method: &Method) -> bool {
        match self.kind {
            Kind::CloudEvents { .. } => method == Method::OPTIONS,
            Kind::MicrosoftGraph => method == Method::POST || method == Method::GET,
            Kind::Meta { .. } | Kind::Dropbox | Kind::Okta => method == Method::GET,
            Kind::Slack | Kind::Twitch | Kind::Zoom { .. } | Kind::Discord | Kind::Asana { .. } => {
                method == Method::POST
            }
            Kind::Trello => method == Method::HEAD,
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
            Kind::Discord => {
                let body = request.signed_json()?;
                (body.get("type")?.as_u64()? == 1)
                    .then(|| Reply::json(provider, json!({ "type": 1 })))
            }
            Kind::Asana {
                expected,
                on_secret,
            } => {
                let offered = request.headers.get(HOOK_SECRET)?;
                Some(asana(offered, expected.as_deref(), on_secret.as_ref()))
            }
            Kind::Trello => Some(Reply::empty(provider)),
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

fn asana(
    offered: &HeaderValue,
    expected: Option<&[Secret]>,
    on_secret: Option<&OnSecret>,
) -> Reply {
    let provider = "asana";
    let offered = String::from_utf8_lossy(offered.as_bytes());
    echo(provider, "X-Hook-Secret", &offered, |provider, offered| {
        let secret = Secret::from(offered);
        match expected {
            Some(known) if !known.iter().any(|k| k.ct_eq(&secret)) => {
                return Reply::refused(
                    provider,
                    StatusCode::FORBIDDEN,
                    "X-Hook-Secret is not a secret this endpoint is configured with",
                )
            }
            Some(_) => {}
            None => {
                if let Some(Err(e)) = on_secret.map(|keep| keep(&secret)) {
                    tracing::error!(provider, fingerprint = %fingerprint(&secret),
                        "asana handshake refused: the offered secret could not be kept: {e}");
                    return Reply::refused(
                        provider,
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the offered secret could not be kept; try again",
                    );
                }
                tracing::warn!(provider, fingerprint = %fingerprint(&secret),
                    "asana handshake answered with a secret this endpoint was not configured \
                     with: configure it as the endpoint's verify secret");
            }
        }
        let mut reply = Reply::empty(provider);
        // `echo` let through printable ASCII only, which is always a header value.
        if let Ok(value) = HeaderValue::from_str(offered) {
            reply.headers.push((HOOK_SECRET, value));
        }
        reply
    })
}

/// The first 8 hex digits of the SHA-256 of `secret`: enough to tell secrets apart in a log,
/// nothing an attacker can use.
pub fn fingerprint(secret: &Secret) -> String {
    use sha2::Digest as _;
    hex::encode(&Sha256::digest(secret.expose())[..4])
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

    fn assess_with(
        builder: crate::ReceiverBuilder,
        method: Method,
        headers: &[(&'static str, String)],
        body: &[u8],
        now: SystemTime,
    ) -> Assessment {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        builder
            .assessor()
            .assess_query(&method, None, &map, body, false, now)
    }

    /// RFC 8032's first Ed25519 test seed.
    const DISCORD_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

    fn discord_endpoint() -> crate::ReceiverBuilder {
        let public = crate::verify::sign::discord_public_key(DISCORD_SEED).unwrap();
        Receiver::builder("discord")
            .verifier(crate::verify::Verifier::discord([public]).unwrap())
            .handshake(Handshake::discord())
    }

    fn discord_ping(body: &[u8], seed: &str) -> Assessment {
        let now = SystemTime::now();
        let at = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let signature = crate::verify::sign::discord(seed, at, body).unwrap();
        let headers = [
            ("x-signature-ed25519", signature),
            ("x-signature-timestamp", at.to_string()),
        ];
        assess_with(discord_endpoint(), Method::POST, &headers, body, now)
    }

    #[test]
    fn a_signed_discord_ping_is_answered_with_a_pong() {
        let pong = reply(discord_ping(
            br#"{"type":1,"id":"1","application_id":"2"}"#,
            DISCORD_SEED,
        ));
        assert_eq!((pong.name(), pong.provider()), ("handshake", "discord"));
        assert_eq!(pong.body, Body::Json(json!({"type": 1})));
        let response = pong.into_response();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn a_badly_signed_discord_ping_is_unauthorized_not_a_handshake() {
        let other_seed = "2698bc67ee2a6b285630b944699a96c303651a9d81a589ec1d287343fb51cb52";
        let forged = discord_ping(br#"{"type":1}"#, other_seed);
        assert!(forged.verification.as_ref().unwrap().is_err());
        assert!(matches!(
            forged.decision,
            Decision::Answer(Outcome::Unauthorized { .. })
        ));
        let unsigned = assess_with(
            discord_endpoint(),
            Method::POST,
            &[],
            br#"{"type":1}"#,
            SystemTime::now(),
        );
        assert!(matches!(
            unsigned.decision,
            Decision::Answer(Outcome::Unauthorized { .. })
        ));
    }

    #[test]
    fn a_signed_discord_interaction_that_is_no_ping_goes_on_as_a_delivery() {
        let command = discord_ping(br#"{"type":2,"id":"1"}"#, DISCORD_SEED);
        assert!(!matches!(command.decision, Decision::Handshake(_)));
    }

    const ASANA_SECRET: &str = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81";

    fn asana_handshake(handshake: Handshake, offered: &str) -> Reply {
        let headers = [("x-hook-secret", offered.to_owned())];
        let builder = Receiver::builder("asana").handshake(handshake);
        reply(assess_with(
            builder,
            Method::POST,
            &headers,
            b"",
            SystemTime::now(),
        ))
    }

    fn hook_secret(reply: Reply) -> Option<String> {
        let response = reply.into_response();
        let value = response.headers().get("x-hook-secret")?;
        Some(value.to_str().unwrap().to_owned())
    }

    #[test]
    fn asana_echoes_the_offered_secret_and_hands_it_to_the_application() {
        let kept = Arc::new(std::sync::Mutex::new(None));
        let keep = Arc::clone(&kept);
        let handshake = Handshake::asana_with(move |secret: &Secret| {
            *keep.lock().unwrap() = Some(secret.clone());
            Ok(())
        });
        let answered = asana_handshake(handshake, ASANA_SECRET);
        assert_eq!(
            (answered.status(), answered.provider()),
            (StatusCode::OK, "asana")
        );
        assert_eq!(hook_secret(answered).as_deref(), Some(ASANA_SECRET));
        let kept = kept
            .lock()
            .unwrap()
            .clone()
            .expect("the secret was handed over");
        assert!(kept.ct_eq(&Secret::from(ASANA_SECRET)));
    }

    #[test]
    fn asana_expecting_a_secret_refuses_any_other_without_echoing_it() {
        let expecting = || Handshake::asana_expecting([ASANA_SECRET]);
        let known = asana_handshake(expecting(), ASANA_SECRET);
        assert_eq!(hook_secret(known).as_deref(), Some(ASANA_SECRET));
        let unknown = asana_handshake(expecting(), "someone-elses-secret");
        assert_eq!(
            (unknown.name(), unknown.status()),
            ("handshake_refused", StatusCode::FORBIDDEN)
        );
        assert_eq!(hook_secret(unknown), None);
    }

    #[test]
    fn asana_secrets_are_bounded_printable_echoes() {
        let long = "a".repeat(MAX_ECHO_BYTES + 1);
        let refused = asana_handshake(Handshake::asana(), &long);
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(refused.message().contains("X-Hook-Secret"));
        let post = assess_with(
            Receiver::builder("asana").handshake(Handshake::asana()),
            Method::POST,
            &[],
            b"{}",
            SystemTime::now(),
        );
        assert!(
            !matches!(post.decision, Decision::Handshake(_)),
            "no X-Hook-Secret, no handshake"
        );
    }

    #[test]
    fn asana_is_refused_when_the_secret_cannot_be_kept() {
        let handshake = Handshake::asana_with(|_: &Secret| Err("disk full".into()));
        let refused = asana_handshake(handshake, ASANA_SECRET);
        assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !refused.message().contains("disk full"),
            "the cause is logged, not sent"
        );
        assert_eq!(hook_secret(refused), None);
    }

    #[test]
    fn fingerprints_tell_secrets_apart_in_eight_hex_digits() {
        let one = fingerprint(&Secret::from(ASANA_SECRET));
        assert_eq!(one.len(), 8);
        assert_ne!(one, fingerprint(&Secret::from("other")));
        assert!(!ASANA_SECRET.contains(&one));
    }

    #[test]
    fn head_is_trellos_handshake_only_where_trello_is_configured() {
        let now = SystemTime::now();
        let trello = Receiver::builder("trello").handshake(Handshake::trello());
        let answered = reply(assess_with(trello, Method::HEAD, &[], b"", now));
        assert_eq!(
            (answered.status(), answered.provider()),
            (StatusCode::OK, "trello")
        );
        let elsewhere = Receiver::builder("sonar").handshake(Handshake::dropbox());
        let probe = assess_with(elsewhere, Method::HEAD, &[], b"", now);
        assert!(matches!(probe.decision, Decision::Probe));
    }
}
