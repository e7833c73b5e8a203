//! Authentication and signature verification over the exact raw body.
//!
//! A [`Verifier`] is built once per endpoint from configuration and then checks each delivery with
//! [`Verifier::verify`]: a pure function of the headers, the raw body bytes and the current time,
//! so it needs no server to test and never parses the body. The senders that sign the URL too
//! (Twilio, Square, HubSpot, Trello) are checked with [`Verifier::verify_request`], which takes
//! the method and the full URL as well ([`SignedRequest`]). An endpoint asks only for the
//! [`Verify`] trait, which `Verifier` implements and a scheme of your own can implement too.
//!
//! # Layout
//!
//! * `mod.rs`: the [`Verify`] trait, [`Verifier`] (every built-in scheme, and
//!   [yours](Verifier::custom)), shared header and MAC helpers, and the dispatch.
//! * `failure.rs`: [`VerifyFailure`] and its [`FailureKind`], what any scheme reports, and
//!   [`SecretError`], the secrets a verifier refuses.
//! * `standard.rs`: Standard Webhooks / Svix (`webhook-*` and `svix-*` headers).
//! * `hmac.rs`: an HMAC-SHA256 of the body in one header ([`HmacHeader`]), with presets for
//!   GitHub, Shopify and SuperOffice.
//! * `stripe.rs`: `Stripe-Signature`.
//! * `ed25519.rs`: Ed25519 public keys: Standard Webhooks `v1a` and Discord.
//! * `ecdsa.rs`: ECDSA P-256 public keys: the SendGrid Event Webhook.
//! * `slack.rs`: `X-Slack-Signature` with `X-Slack-Request-Timestamp`.
//! * `basic.rs`: HTTP Basic and static tokens.
//! * `mailgun.rs`: Mailgun, whose signature is in the body (JSON or form fields).
//! * `graph.rs`: Microsoft Graph change notifications, each carrying a `clientState`.
//! * `catalogue/`: every sender by name ([`Verifier::provider`], [`providers`]), and the one
//!   HMAC engine ([`HmacScheme`], [`Verifier::hmac`]) its data entries share.
//! * [`sign`]: the senders' side, to produce deliveries that verify.
//! * `contract.rs` (tests): the behaviour every built-in scheme shows, run against each.
//!
//! # Guarantees
//!
//! * MACs are computed over the body exactly as received; the body need not be UTF-8.
//! * Everything derived from a secret is compared in constant time, and a signature is only
//!   compared if it has exactly the MAC's length.
//! * Every configured secret is tried (key rotation): any one matching passes.
//! * Failures say which check failed, never what was expected.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use http::HeaderMap;
//! use receiver_sdk::verify::{sign, FailureKind, Verifier};
//!
//! let verifier = Verifier::github(["It's a Secret to Everybody"])?;
//! let body = b"Hello, World!";
//! let mut headers = HeaderMap::new();
//! let signature = sign::github("It's a Secret to Everybody", body);
//! headers.insert("x-hub-signature-256", signature.parse()?);
//! assert!(verifier.verify(&headers, body, SystemTime::now()).is_ok());
//!
//! let failure = verifier.verify(&headers, b"Hello, World?", SystemTime::now()).unwrap_err();
//! assert_eq!(failure.kind(), &FailureKind::SignatureMismatch);
//! assert_eq!(failure.to_string(), "no signature matches");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod basic;
mod catalogue;
mod diagnose;
mod ecdsa;
mod ed25519;
mod failure;
mod graph;
mod hmac;
mod mailgun;
pub mod sign;
mod slack;
mod standard;
mod stripe;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::hmac::digest::{Key, KeyInit};
use ::hmac::Mac;
use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::Secret;

pub use self::catalogue::{
    providers, HmacAlgorithm, HmacScheme, ProviderError, SignatureLayout, SignedPart,
    SignedTimestamp, TemplateError, TimestampSource, TimestampUnit, MAX_TEMPLATE_LEN,
};
pub use self::diagnose::{diagnose, Cause, MAX_DIAGNOSED_BODY};
pub use self::failure::{FailureKind, KeyProblem, SecretError, VerifyFailure};
pub use self::hmac::{HmacHeader, SignatureEncoding};

/// The clock skew accepted by default for timestamped schemes, in both directions.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Header values longer than this are rejected before any parsing or MAC work, so a hostile
/// sender cannot make us decode or compare megabytes of header.
const MAX_HEADER_LEN: usize = 8 * 1024;

/// Standard base64 that accepts input with or without padding, for values people paste
/// (secrets) or clients write inconsistently (Basic credentials); a missing `=` changes nothing
/// about the bytes.
const LENIENT_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// A way for deliveries to prove who sent them: what an endpoint asks of its verifier.
///
/// [`Verifier`] implements it for every scheme this crate knows; implement it for a scheme of
/// your own and pass that to [`ReceiverBuilder::verifier`](crate::ReceiverBuilder::verifier)
/// (or wrap it in [`Verifier::custom`] where a `Verifier` is expected). The endpoint, its
/// [`Assessor`](crate::Assessor) and everything built on them then run it exactly where they
/// run a built-in scheme: after the body is read whole, before it is parsed.
///
/// Keep to what the built-in schemes guarantee: compare secret material in constant time
/// (`subtle`), and name the failed check, never the expected value, in the
/// [`VerifyFailure`].
///
/// ```
/// use std::time::SystemTime;
/// use http::HeaderMap;
/// use receiver_sdk::verify::{Verify, VerifyFailure};
/// use receiver_sdk::Secret;
/// use subtle::ConstantTimeEq;
///
/// /// The sender's API key in `x-api-key`.
/// #[derive(Debug)]
/// struct ApiKey(Secret);
///
/// impl Verify for ApiKey {
///     fn verify(&self, headers: &HeaderMap, _body: &[u8], _now: SystemTime)
///         -> Result<(), VerifyFailure>
///     {
///         let sent = headers.get("x-api-key").ok_or(VerifyFailure::other("missing api key"))?;
///         let matches: bool = sent.as_bytes().ct_eq(self.0.expose()).into();
///         matches.then_some(()).ok_or(VerifyFailure::other("bad api key"))
///     }
///
///     fn authenticates_only_the_body(&self) -> bool {
///         false // it authenticates the sender, not any one body
///     }
/// }
///
/// let key = ApiKey(Secret::from("k-123"));
/// let mut headers = HeaderMap::new();
/// headers.insert("x-api-key", "k-123".parse()?);
/// assert!(key.verify(&headers, b"{}", SystemTime::now()).is_ok());
/// headers.insert("x-api-key", "k-124".parse()?);
/// let failure = key.verify(&headers, b"{}", SystemTime::now()).unwrap_err();
/// assert_eq!(failure.to_string(), "bad api key");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Verify: fmt::Debug + Send + Sync + 'static {
    /// Checks one delivery: `body` is the raw bytes as received, `now` the time of receipt
    /// (the endpoint's [clock](crate::ReceiverBuilder::clock), so tests control it). A
    /// failure is answered 401 with the failure's message as the reason.
    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), VerifyFailure>;

    /// Checks one delivery seen whole: its method and the URL the sender posted to as well as
    /// its headers and body. This is what the endpoint calls; a scheme that signs the URL
    /// (Twilio, Square, HubSpot, Trello) implements it. Default: [`verify`](Self::verify),
    /// so a scheme that signs only headers and body implements that alone.
    fn verify_request(
        &self,
        request: &SignedRequest<'_>,
        now: SystemTime,
    ) -> Result<(), VerifyFailure> {
        self.verify(request.headers, request.body, now)
    }

    /// The `WWW-Authenticate` value to send with a 401, if the scheme has one. Default: none.
    fn challenge(&self) -> Option<HeaderValue> {
        None
    }

    /// Whether the scheme authenticates the body (and perhaps a timestamp) but not a delivery
    /// id a sender puts in a header. The endpoint then dedupes by the body as well, so a
    /// captured signed body replayed under fresh ids is still a duplicate. Default: `true`,
    /// the safe answer for a scheme that does not say; return `false` for one that signs the
    /// delivery id (as Standard Webhooks does) or authenticates no body at all.
    fn authenticates_only_the_body(&self) -> bool {
        true
    }

    /// The headers the scheme's signature covers besides the body, where it can say:
    /// Standard Webhooks' `webhook-id` and `webhook-timestamp`, the header a described HMAC
    /// scheme signs (Twitch's message id); none for an HMAC of the body. `None` for a scheme
    /// that authenticates the sender rather than one message (Basic, a token), whose holder
    /// can send anything anyway.
    ///
    /// An endpoint whose envelope reads the delivery id from a header this does not list
    /// also knows each delivery by the hash of its body and these headers' values, so one
    /// signed message replayed under fresh ids is still a duplicate. Default: none for a
    /// scheme that [authenticates only the body](Self::authenticates_only_the_body), else
    /// `None`.
    fn signed_headers(&self) -> Option<Vec<HeaderName>> {
        self.authenticates_only_the_body().then(Vec::new)
    }
}

/// `Verify` through a pointer: every method forwards to the scheme it points at.
macro_rules! forward_verify {
    ($($pointer:ident),*) => {$(
        impl<T: Verify + ?Sized> Verify for $pointer<T> {
            fn verify(
                &self,
                headers: &HeaderMap,
                body: &[u8],
                now: SystemTime,
            ) -> Result<(), VerifyFailure> {
                (**self).verify(headers, body, now)
            }

            fn verify_request(
                &self,
                request: &SignedRequest<'_>,
                now: SystemTime,
            ) -> Result<(), VerifyFailure> {
                (**self).verify_request(request, now)
            }

            fn challenge(&self) -> Option<HeaderValue> {
                (**self).challenge()
            }

            fn authenticates_only_the_body(&self) -> bool {
                (**self).authenticates_only_the_body()
            }

            fn signed_headers(&self) -> Option<Vec<HeaderName>> {
                (**self).signed_headers()
            }
        }
    )*};
}

forward_verify!(Arc, Box);

impl Verify for Verifier {
    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), VerifyFailure> {
        Verifier::verify(self, headers, body, now)
    }

    fn verify_request(
        &self,
        request: &SignedRequest<'_>,
        now: SystemTime,
    ) -> Result<(), VerifyFailure> {
        Verifier::verify_request(self, request, now)
    }

    fn challenge(&self) -> Option<HeaderValue> {
        Verifier::challenge(self)
    }

    fn authenticates_only_the_body(&self) -> bool {
        Verifier::authenticates_only_the_body(self)
    }

    fn signed_headers(&self) -> Option<Vec<HeaderName>> {
        Verifier::signed_headers(self)
    }
}

/// One delivery as a scheme that signs the request line sees it: the method, the full URL the
/// sender posted to, the headers and the raw body.
///
/// The endpoint builds it for every request, the URL from
/// [`ReceiverBuilder::public_url`](crate::ReceiverBuilder::public_url) (or the `Host` header)
/// joined with the path and query the request came with; see
/// [`PublicUrl`](crate::PublicUrl).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use http::{HeaderMap, Method};
/// use receiver_sdk::verify::{sign, SignedRequest, Verifier};
///
/// let url = "https://example.com/hooks/square";
/// let body = br#"{"type":"payment.updated"}"#;
/// let mut headers = HeaderMap::new();
/// headers.insert("x-square-hmacsha256-signature", sign::square("sq-key", url, body).parse()?);
/// let verifier = Verifier::provider("square", ["sq-key"])?;
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let request = SignedRequest::new(&Method::POST, url, &headers, body);
/// assert!(verifier.verify_request(&request, now).is_ok());
///
/// let elsewhere = SignedRequest::new(&Method::POST, "https://example.com/other", &headers, body);
/// let failure = verifier.verify_request(&elsewhere, now).unwrap_err();
/// assert!(failure.to_string().contains("is public_url set to the URL the sender was given?"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SignedRequest<'a> {
    /// The request's method.
    pub method: &'a Method,
    /// The full URL the sender posted to, query included, as the sender wrote it
    /// (percent-encoding kept).
    pub url: &'a str,
    /// The request's headers.
    pub headers: &'a HeaderMap,
    /// The raw body, exactly as received.
    pub body: &'a [u8],
}

impl<'a> SignedRequest<'a> {
    /// A delivery of `body` with `headers`, sent with `method` to `url`.
    pub fn new(method: &'a Method, url: &'a str, headers: &'a HeaderMap, body: &'a [u8]) -> Self {
        Self {
            method,
            url,
            headers,
            body,
        }
    }
}

/// How deliveries to an endpoint prove who sent them.
///
/// Cheap to clone (keys are shared state cloned per request, not re-derived). `Debug` shows the
/// scheme and how many secrets it holds, never the secrets.
#[derive(Debug, Clone)]
pub struct Verifier {
    scheme: Scheme,
    tolerance: Duration,
}

#[derive(Debug, Clone)]
enum Scheme {
    None,
    StandardWebhooks(standard::StandardWebhooks),
    Hmac(hmac::HeaderHmac),
    Stripe(stripe::Stripe),
    Slack(slack::Slack),
    Basic(basic::Basic),
    Token(basic::Token),
    // An HMAC scheme described as data (the provider catalogue's).
    Described(catalogue::SchemeHmac),
    // Twilio: the engine's URL and form parts, tried at each URL form Twilio's library accepts.
    Twilio(catalogue::Twilio),
    StandardWebhooksV1a(ed25519::StandardWebhooksV1a),
    Discord(ed25519::Discord),
    SendGrid(ecdsa::SendGrid),
    Mailgun(mailgun::Mailgun),
    MicrosoftGraph(graph::ClientState),
    // A scheme from outside this crate; it judges timestamps itself, so the tolerance does
    // not apply to it.
    Custom(Arc<dyn Verify>),
}

impl Verifier {
    fn with_scheme(scheme: Scheme) -> Self {
        Self {
            scheme,
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// A scheme of your own (see [`Verify`]), for code that holds a `Verifier`, such as a
    /// configuration that chooses between built-in schemes and yours.
    /// [`with_tolerance`](Self::with_tolerance) does not apply to it.
    pub fn custom(scheme: impl Verify) -> Self {
        Self::with_scheme(Scheme::Custom(Arc::new(scheme)))
    }

    /// Accepts every delivery (the URL itself is the secret, as with Sonar).
    pub fn none() -> Self {
        Self::with_scheme(Scheme::None)
    }

    /// HTTP Basic auth against any of the given user/password pairs.
    ///
    /// A password that is empty or only whitespace is refused
    /// ([`SecretError::EmptySecret`], indexed by pair): anyone could send it. User names are
    /// not secret and may be anything. With no pairs, every delivery is rejected. The realm is
    /// sent in [`Verifier::challenge`]; control characters in it are dropped so it always forms
    /// a valid header.
    pub fn basic(
        realm: impl Into<String>,
        credentials: impl IntoIterator<Item = (String, Secret)>,
    ) -> Result<Self, SecretError> {
        let scheme = basic::Basic::new(&realm.into(), credentials)?;
        Ok(Self::with_scheme(Scheme::Basic(scheme)))
    }

    /// A static token in `header`, equal to any of `tokens`.
    ///
    /// When `header` is `authorization`, `Authorization: Bearer <token>` is accepted as well as
    /// the bare token. A token that is empty or only whitespace is refused
    /// ([`SecretError::EmptySecret`]): over HTTP/2 a header is not trimmed, so
    /// `Authorization: Bearer ` would carry it. With no tokens, every delivery is rejected.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use http::{header::AUTHORIZATION, HeaderMap};
    /// use receiver_sdk::verify::{SecretError, Verifier};
    ///
    /// let verifier = Verifier::token(AUTHORIZATION, ["s3cr3t-token"])?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert(AUTHORIZATION, "Bearer s3cr3t-token".parse()?);
    /// assert!(verifier.verify(&headers, b"{}", SystemTime::now()).is_ok());
    ///
    /// let blank = Verifier::token(AUTHORIZATION, ["s3cr3t-token", " "]).unwrap_err();
    /// assert_eq!(blank, SecretError::EmptySecret { index: 1 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn token(
        header: HeaderName,
        tokens: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        let scheme = basic::Token::new(header, tokens)?;
        Ok(Self::with_scheme(Scheme::Token(scheme)))
    }

    /// Standard Webhooks (and Svix): `webhook-id`, `webhook-timestamp` and `webhook-signature`
    /// (or their `svix-` twins), signed with HMAC-SHA256 over `{id}.{timestamp}.{body}`.
    ///
    /// Each secret is `whsec_` followed by base64; the prefix is optional.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use http::HeaderMap;
    /// use receiver_sdk::verify::{sign, Verifier};
    ///
    /// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    /// let verifier = Verifier::standard_webhooks([secret])?;
    /// let body = br#"{"test": 2432232314}"#;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".parse()?);
    /// headers.insert("webhook-timestamp", "1614265330".parse()?);
    /// let signature =
    ///     sign::standard_webhooks(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)?;
    /// headers.insert("webhook-signature", signature.parse()?);
    /// let now = UNIX_EPOCH + Duration::from_secs(1614265330);
    /// assert!(verifier.verify(&headers, body, now).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn standard_webhooks(
        secrets: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, SecretError> {
        let scheme = standard::StandardWebhooks::new(secrets)?;
        Ok(Self::with_scheme(Scheme::StandardWebhooks(scheme)))
    }

    /// An HMAC-SHA256 of the raw body, carried in one header as `format` describes.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use http::{HeaderMap, HeaderName};
    /// use receiver_sdk::verify::{sign, HmacHeader, SignatureEncoding, Verifier};
    ///
    /// let format = HmacHeader {
    ///     header: HeaderName::from_static("x-signature"),
    ///     prefix: Some("sha256=".into()),
    ///     encoding: SignatureEncoding::Hex,
    /// };
    /// let verifier = Verifier::hmac_sha256(format.clone(), ["old-secret", "new-secret"])?;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-signature", sign::hmac_sha256(&format, "new-secret", b"{}").parse()?);
    /// assert!(verifier.verify(&headers, b"{}", SystemTime::now()).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hmac_sha256(
        format: HmacHeader,
        secrets: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        let scheme = hmac::HeaderHmac::new(format, MacKeys::from_secrets(secrets)?);
        Ok(Self::with_scheme(Scheme::Hmac(scheme)))
    }

    /// GitHub: `X-Hub-Signature-256: sha256=<hex>`; see [`HmacHeader::github`].
    pub fn github(
        secrets: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        Self::hmac_sha256(HmacHeader::github(), secrets)
    }

    /// Shopify: `X-Shopify-Hmac-Sha256: <base64>`; see [`HmacHeader::shopify`].
    pub fn shopify(
        secrets: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        Self::hmac_sha256(HmacHeader::shopify(), secrets)
    }

    /// SuperOffice: `X-SuperOffice-Signature: <base64>`, keyed with the UTF-8 bytes of the
    /// webhook's secret; see [`HmacHeader::superoffice`].
    pub fn superoffice(
        secrets: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        Self::hmac_sha256(HmacHeader::superoffice(), secrets)
    }

    /// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over `{t}.{body}`, keyed with
    /// the whole secret string (`whsec_` included).
    pub fn stripe(
        secrets: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        let scheme = stripe::Stripe::new(MacKeys::from_secrets(secrets)?);
        Ok(Self::with_scheme(Scheme::Stripe(scheme)))
    }

    /// Slack: `X-Slack-Signature: v0=<hex>` over `v0:{X-Slack-Request-Timestamp}:{body}`, keyed
    /// with the signing secret.
    pub fn slack(
        secrets: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        let scheme = slack::Slack::new(MacKeys::from_secrets(secrets)?);
        Ok(Self::with_scheme(Scheme::Slack(scheme)))
    }

    /// Mailgun: the body carries `timestamp`, `token` and `signature` (the hex HMAC-SHA256 of
    /// timestamp and token, keyed with the webhook signing key), as the `signature` object of
    /// a JSON webhook or as form fields of a route's post; the timestamp is judged against the
    /// tolerance. The signature does not cover the event, so this authenticates no body.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use http::HeaderMap;
    /// use receiver_sdk::verify::{sign, Verifier};
    ///
    /// let verifier = Verifier::mailgun(["key-signing"])?;
    /// let token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0";
    /// let signature = sign::mailgun("key-signing", 1_700_000_000, token);
    /// let body = format!(
    ///     r#"{{"signature":{{"timestamp":"1700000000","token":"{token}","signature":"{signature}"}},"event-data":{{"event":"delivered"}}}}"#
    /// );
    /// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
    /// assert!(verifier.verify(&HeaderMap::new(), body.as_bytes(), now).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mailgun(
        signing_keys: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        let scheme = mailgun::Mailgun::new(MacKeys::from_secrets(signing_keys)?);
        Ok(Self::with_scheme(Scheme::Mailgun(scheme)))
    }

    /// Microsoft Graph change notifications: every item of the body's `value` array must carry
    /// a `clientState` equal to one of `client_states` (compared in constant time), the secret
    /// given when the subscription was created. Graph signs nothing, so this authenticates no
    /// body; its validation request is a [handshake](crate::handshake::Handshake::microsoft_graph).
    pub fn microsoft_graph(
        client_states: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        let scheme = graph::ClientState::new(client_states)?;
        Ok(Self::with_scheme(Scheme::MicrosoftGraph(scheme)))
    }

    /// Sets the accepted clock skew for timestamped schemes (default
    /// [`DEFAULT_TOLERANCE`]), applied both to old and to future timestamps.
    pub fn with_tolerance(self, tolerance: Duration) -> Self {
        Self { tolerance, ..self }
    }

    /// Checks one delivery: `body` must be the raw bytes as received, and `now` the time of
    /// receipt (injected so tests control the clock).
    ///
    /// A scheme that signs the URL cannot be checked this way: it fails with
    /// [`FailureKind::UrlNotGiven`]; use [`verify_request`](Self::verify_request).
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), VerifyFailure> {
        let delivery = Delivery {
            headers,
            body,
            request: None,
        };
        self.check(&delivery, now)
    }

    /// Checks one delivery with the method and URL it came with, which the schemes that sign
    /// them (Twilio, Square, HubSpot, Trello) need; the others check headers and body as
    /// [`verify`](Self::verify) does.
    pub fn verify_request(
        &self,
        request: &SignedRequest<'_>,
        now: SystemTime,
    ) -> Result<(), VerifyFailure> {
        let delivery = Delivery {
            headers: request.headers,
            body: request.body,
            request: Some(request),
        };
        self.check(&delivery, now)
    }

    fn check(&self, delivery: &Delivery<'_>, now: SystemTime) -> Result<(), VerifyFailure> {
        let (headers, body) = (delivery.headers, delivery.body);
        let clock = Clock {
            now,
            tolerance: self.tolerance,
        };
        let result = match &self.scheme {
            Scheme::None => Ok(()),
            Scheme::StandardWebhooks(scheme) => scheme.verify(headers, body, clock),
            Scheme::Hmac(scheme) => scheme.verify(headers, body),
            Scheme::Stripe(scheme) => scheme.verify(headers, body, clock),
            Scheme::Slack(scheme) => scheme.verify(headers, body, clock),
            Scheme::Basic(scheme) => scheme.verify(headers),
            Scheme::Token(scheme) => scheme.verify(headers),
            Scheme::Described(scheme) => scheme.verify(delivery, clock),
            Scheme::Twilio(scheme) => scheme.verify(delivery, clock),
            Scheme::StandardWebhooksV1a(scheme) => scheme.verify(headers, body, clock),
            Scheme::Discord(scheme) => scheme.verify(headers, body, clock),
            Scheme::SendGrid(scheme) => scheme.verify(headers, body, clock),
            Scheme::Mailgun(scheme) => scheme.verify(headers, body, clock),
            Scheme::MicrosoftGraph(scheme) => scheme.verify(body),
            Scheme::Custom(scheme) => {
                return match delivery.request {
                    Some(request) => scheme.verify_request(request, now),
                    None => scheme.verify(headers, body, now),
                }
            }
        };
        result.map_err(VerifyFailure::new)
    }

    /// Whether the scheme authenticates the body (and perhaps a timestamp) but no other
    /// header: an HMAC of the body (GitHub, Shopify, SuperOffice), Stripe, Slack, Discord and
    /// SendGrid. A delivery id or event type taken from a header is then the sender's word
    /// only, so a captured signed body can be replayed under fresh ids; the endpoint also
    /// dedupes such deliveries by their body. Standard Webhooks (`v1` and `v1a`) signs its
    /// `webhook-id`, and an [`HmacScheme`] that signs a header (Twitch's message id) signs
    /// that, so they are not.
    pub fn authenticates_only_the_body(&self) -> bool {
        match &self.scheme {
            Scheme::Described(scheme) => scheme.authenticates_only_the_body(),
            Scheme::Hmac(_)
            | Scheme::Stripe(_)
            | Scheme::Slack(_)
            | Scheme::Twilio(_)
            | Scheme::Discord(_)
            | Scheme::SendGrid(_) => true,
            Scheme::Custom(scheme) => scheme.authenticates_only_the_body(),
            Scheme::None
            | Scheme::StandardWebhooks(_)
            | Scheme::StandardWebhooksV1a(_)
            | Scheme::Basic(_)
            | Scheme::Token(_)
            | Scheme::Mailgun(_)
            | Scheme::MicrosoftGraph(_) => false,
        }
    }

    /// The headers the signature covers besides the body (see [`Verify::signed_headers`]).
    pub fn signed_headers(&self) -> Option<Vec<HeaderName>> {
        match &self.scheme {
            Scheme::Described(scheme) => Some(scheme.signed_headers()),
            Scheme::StandardWebhooks(_) | Scheme::StandardWebhooksV1a(_) => Some(
                [
                    "webhook-id",
                    "webhook-timestamp",
                    "svix-id",
                    "svix-timestamp",
                ]
                .map(HeaderName::from_static)
                .to_vec(),
            ),
            Scheme::Hmac(_)
            | Scheme::Stripe(_)
            | Scheme::Slack(_)
            | Scheme::Twilio(_)
            | Scheme::Discord(_)
            | Scheme::SendGrid(_) => Some(Vec::new()),
            Scheme::Custom(scheme) => scheme.signed_headers(),
            Scheme::None
            | Scheme::Basic(_)
            | Scheme::Token(_)
            | Scheme::Mailgun(_)
            | Scheme::MicrosoftGraph(_) => None,
        }
    }

    /// The `WWW-Authenticate` value to send with a 401, for schemes that have one: Basic, and
    /// a token carried in `Authorization` (`Bearer`).
    pub fn challenge(&self) -> Option<HeaderValue> {
        match &self.scheme {
            Scheme::Basic(scheme) => scheme.challenge(),
            Scheme::Token(scheme) => scheme.challenge(),
            Scheme::Custom(scheme) => scheme.challenge(),
            Scheme::None
            | Scheme::StandardWebhooks(_)
            | Scheme::Hmac(_)
            | Scheme::Stripe(_)
            | Scheme::Slack(_)
            | Scheme::Described(_)
            | Scheme::Twilio(_)
            | Scheme::StandardWebhooksV1a(_)
            | Scheme::Discord(_)
            | Scheme::SendGrid(_)
            | Scheme::Mailgun(_)
            | Scheme::MicrosoftGraph(_) => None,
        }
    }
}

/// The length of an HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

/// An HMAC-SHA256 tag, or a candidate signature decoded to exactly a tag's length.
type Tag = [u8; TAG_LEN];

type HmacSha256 = ::hmac::Hmac<Sha256>;

/// An HMAC-SHA256 key whose inner and outer pads are already absorbed, so a request only clones
/// this state instead of deriving the key again.
#[derive(Clone)]
struct MacKey(HmacSha256);

impl MacKey {
    fn new(key: &[u8]) -> Self {
        // RFC 2104 §2: a key longer than the hash's block is first hashed, a shorter one is
        // zero-padded to the block size. Doing that here lets us use the block-sized
        // constructor, which cannot fail, instead of unwrapping `new_from_slice`.
        let mut block = Key::<HmacSha256>::default();
        if key.len() > block.len() {
            let digest = Sha256::digest(key);
            block[..digest.len()].copy_from_slice(&digest);
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        Self(<HmacSha256 as KeyInit>::new(&block))
    }

    /// The tag over the concatenation of `parts`, fed piece by piece so the body is never copied.
    fn tag(&self, parts: &[&[u8]]) -> Tag {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The keys of one endpoint; never empty.
#[derive(Debug, Clone)]
struct MacKeys(Vec<MacKey>);

impl MacKeys {
    /// Keys whose bytes are the secrets themselves.
    fn from_secrets(
        secrets: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        Self::from_raw(
            secrets
                .into_iter()
                .map(Into::into)
                .enumerate()
                .map(|(index, secret)| {
                    let bytes = secret.expose();
                    check_secret(index, bytes)?;
                    Ok(MacKey::new(bytes))
                }),
        )
    }

    fn from_raw(
        keys: impl Iterator<Item = Result<MacKey, SecretError>>,
    ) -> Result<Self, SecretError> {
        let keys = keys.collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(SecretError::NoSecrets);
        }
        Ok(Self(keys))
    }

    /// Whether any key's tag over `parts` equals any of `candidates`.
    ///
    /// Every key is tried against every candidate without stopping at a match, so the time taken
    /// depends only on how many there are, not on which (or whether one) matched.
    fn any_matches(&self, parts: &[&[u8]], candidates: impl Iterator<Item = Tag> + Clone) -> bool {
        let mut matched = Choice::from(0);
        for key in &self.0 {
            let tag = key.tag(parts);
            for candidate in candidates.clone() {
                matched |= tag.ct_eq(&candidate);
            }
        }
        matched.into()
    }
}

/// Checks the signatures a header carries in the one version we verify.
///
/// `encoded` yields the encoded signatures of that version (other versions already skipped).
/// None at all is [`FailureKind::NoSupportedSignature`]. An entry that does not decode to a tag
/// is skipped rather than failing the delivery, so one garbled entry cannot veto a valid one;
/// only when none decodes is the header malformed.
fn check_signatures<'v>(
    keys: &MacKeys,
    header: &HeaderName,
    message: &[&[u8]],
    encoded: impl Iterator<Item = &'v str> + Clone,
    decode: fn(&str) -> Option<Tag>,
) -> Result<(), FailureKind> {
    if encoded.clone().next().is_none() {
        return Err(FailureKind::NoSupportedSignature {
            header: header.clone(),
        });
    }
    let candidates = encoded.filter_map(decode);
    if candidates.clone().next().is_none() {
        return Err(FailureKind::MalformedHeader {
            header: header.clone(),
        });
    }
    if keys.any_matches(message, candidates) {
        Ok(())
    } else {
        Err(FailureKind::SignatureMismatch)
    }
}

/// What a built-in scheme is given of a delivery: headers and body always, the method and URL
/// when the caller had them ([`Verifier::verify_request`]).
#[derive(Clone, Copy)]
struct Delivery<'r> {
    headers: &'r HeaderMap,
    body: &'r [u8],
    request: Option<&'r SignedRequest<'r>>,
}

/// The current time and the accepted skew, for schemes that sign a timestamp.
#[derive(Debug, Clone, Copy)]
struct Clock {
    now: SystemTime,
    tolerance: Duration,
}

impl Clock {
    /// Checks a unix-seconds timestamp as sent (ASCII digits only) against the clock.
    fn check(&self, header: &HeaderName, raw: &str) -> Result<(), FailureKind> {
        let malformed = || FailureKind::MalformedHeader {
            header: header.clone(),
        };
        // `u64::from_str` alone would also take a leading `+`, which no sender writes.
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let sent = raw.parse::<u64>().map_err(|_| malformed())?;
        // Milliseconds in i128 hold any u64 of seconds and any SystemTime without overflow, on
        // either side of the epoch.
        let sent_ms = i128::from(sent) * 1000;
        let now_ms = match self.now.duration_since(UNIX_EPOCH) {
            Ok(since) => since.as_millis() as i128,
            Err(before) => -(before.duration().as_millis() as i128),
        };
        let tolerance_ms = self.tolerance.as_millis() as i128;
        if now_ms - sent_ms > tolerance_ms {
            Err(FailureKind::TimestampExpired)
        } else if sent_ms - now_ms > tolerance_ms {
            Err(FailureKind::TimestampInFuture)
        } else {
            Ok(())
        }
    }
}

/// The value of a header that must appear exactly once, as visible ASCII (spaces allowed).
fn single_header<'h>(headers: &'h HeaderMap, header: &HeaderName) -> Result<&'h str, FailureKind> {
    let mut values = headers.get_all(header).iter();
    let value = values.next().ok_or_else(|| FailureKind::MissingHeader {
        header: header.clone(),
    })?;
    if values.next().is_some() {
        return Err(FailureKind::DuplicateHeader {
            header: header.clone(),
        });
    }
    visible_ascii(value).ok_or_else(|| FailureKind::MalformedHeader {
        header: header.clone(),
    })
}

/// The value as text if it is non-empty, not huge, and only visible ASCII and spaces.
fn visible_ascii(value: &HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    let acceptable = !bytes.is_empty()
        && bytes.len() <= MAX_HEADER_LEN
        && bytes.iter().all(|&b| b == b' ' || b.is_ascii_graphic());
    if acceptable {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

/// A hex-encoded tag (either case), only if it decodes to exactly [`TAG_LEN`] bytes.
fn decode_hex_tag(text: &str) -> Option<Tag> {
    let mut tag = [0; TAG_LEN];
    hex::decode_to_slice(text, &mut tag).ok()?;
    Some(tag)
}

/// A base64-encoded tag (standard alphabet, padded), only if it decodes to exactly [`TAG_LEN`]
/// bytes.
fn decode_base64_tag(text: &str) -> Option<Tag> {
    // Checking the encoded length first bounds the work on hostile input; the decoded length is
    // checked again because the last quantum's padding decides it.
    if text.len() != base64::encoded_len(TAG_LEN, true)? {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?
        .try_into()
        .ok()
}

/// Refuses a secret that is empty or only whitespace: every scheme's one rule for secrets, so
/// none can be configured to accept what anyone could send.
fn check_secret(index: usize, secret: &[u8]) -> Result<(), SecretError> {
    if secret.iter().all(u8::is_ascii_whitespace) {
        Err(SecretError::EmptySecret { index })
    } else {
        Ok(())
    }
}

/// SHA-256 of a credential, so credentials of any length compare in constant time as 32 bytes.
fn credential_digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod contract;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
