//! The provider catalogue: every sender this crate verifies, by its lower-case hyphenated name
//! (`"zoom"`, `"coinbase-commerce"`), so configuration names a sender instead of describing its
//! scheme.
//!
//! Most senders sign an HMAC of some parts of the request: those are entries of data, an
//! [`HmacScheme`] each, verified by one engine (`engine.rs`). The schemes with verifiers of their
//! own (Standard Webhooks, Stripe, Slack, ...) are entries that call their constructors.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use http::HeaderMap;
//! use receiver_sdk::verify::{providers, sign, Verifier};
//!
//! assert!(providers().any(|name| name == "paddle"));
//! let verifier = Verifier::provider("paddle", ["pdl_ntfset_old", "pdl_ntfset_new"])?;
//! let body = br#"{"event_type":"transaction.completed"}"#;
//! let mut headers = HeaderMap::new();
//! headers.insert("paddle-signature", sign::paddle("pdl_ntfset_new", 1_700_000_000, body).parse()?);
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_030);
//! assert!(verifier.verify(&headers, body, now).is_ok());
//!
//! let unknown = Verifier::provider("pigeon-post", ["s"]).unwrap_err();
//! assert!(unknown.to_string().starts_with("unknown provider \"pigeon-post\"; known providers: "));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod engine;
pub(super) mod schemes;
mod template;
mod twilio;

use std::time::Duration;

pub(super) use self::engine::{signature_value, SchemeHmac};
pub use self::engine::{
    HmacAlgorithm, HmacScheme, SignatureLayout, SignedPart, SignedTimestamp, TimestampSource,
    TimestampUnit,
};
pub use self::template::{TemplateError, MAX_TEMPLATE_LEN};
pub(super) use self::twilio::{body_hash as twilio_body_hash, Twilio};
use super::{SecretError, Verifier};
use crate::Secret;

/// Why [`Verifier::provider`] could not build a verifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// No provider has this name; the message lists those that do.
    #[error("unknown provider {name:?}; known providers: {known}", known = known())]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// The provider is known, but its secrets were refused.
    #[error(transparent)]
    Secrets(#[from] SecretError),
}

fn known() -> String {
    providers().collect::<Vec<_>>().join(", ")
}

/// The names [`Verifier::provider`] accepts, in alphabetical order.
///
/// ```
/// let names: Vec<_> = receiver_sdk::verify::providers().collect();
/// assert!(names.contains(&"github") && names.contains(&"coinbase-commerce"));
/// ```
pub fn providers() -> impl Iterator<Item = &'static str> {
    CATALOGUE.iter().map(|entry| entry.name)
}

impl Verifier {
    /// The verifier for the sender `name` (one of [`providers`]), accepting any of `secrets`.
    ///
    /// Secrets are as the sender's dashboard shows them; for `standard-webhooks` and `svix`
    /// that is `whsec_` and base64. Timestamped schemes accept the default tolerance
    /// ([`DEFAULT_TOLERANCE`](super::DEFAULT_TOLERANCE)) unless the sender documents its own
    /// (`twitch`: 10 minutes; `linear`: 1 minute); [`with_tolerance`](Self::with_tolerance)
    /// changes either.
    pub fn provider(
        name: &str,
        secrets: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, ProviderError> {
        let entry = CATALOGUE
            .iter()
            .find(|entry| entry.name == name)
            .ok_or_else(|| ProviderError::Unknown { name: name.into() })?;
        let secrets: Vec<Secret> = secrets.into_iter().map(Into::into).collect();
        let verifier = match entry.build {
            Build::Hmac(scheme) => Self::hmac(scheme(), secrets)?,
            Build::Own(build) => build(secrets)?,
        };
        Ok(match entry.tolerance {
            Some(tolerance) => verifier.with_tolerance(tolerance),
            None => verifier,
        })
    }

    /// An HMAC scheme described as data (see [`HmacScheme`]), accepting any of `secrets`, whose
    /// bytes are the HMAC key.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use http::{HeaderMap, HeaderName};
    /// use receiver_sdk::verify::{
    ///     HmacAlgorithm, HmacScheme, SignatureEncoding, SignatureLayout, SignedPart, Verifier,
    /// };
    ///
    /// let scheme = HmacScheme {
    ///     algorithm: HmacAlgorithm::Sha1,
    ///     message: vec![SignedPart::Body].into(),
    ///     header: HeaderName::from_static("x-signature"),
    ///     layout: SignatureLayout::Plain { prefix: None },
    ///     encoding: SignatureEncoding::Hex,
    ///     timestamp: None,
    /// };
    /// let verifier = Verifier::hmac(scheme, ["key"])?;
    /// let mut headers = HeaderMap::new();
    /// // HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog")
    /// headers.insert("x-signature", "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9".parse()?);
    /// let body = b"The quick brown fox jumps over the lazy dog";
    /// assert!(verifier.verify(&headers, body, SystemTime::now()).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hmac(
        scheme: HmacScheme,
        secrets: impl IntoIterator<Item = impl Into<Secret>>,
    ) -> Result<Self, SecretError> {
        let scheme = SchemeHmac::new(scheme, secrets)?;
        Ok(Self::with_scheme(super::Scheme::Described(scheme)))
    }
}

/// One sender: its name and how its verifier is built.
struct Entry {
    name: &'static str,
    build: Build,
    // The sender's own documented tolerance, where it has one; else the verifier's default.
    tolerance: Option<Duration>,
}

enum Build {
    /// A scheme the HMAC engine verifies.
    Hmac(fn() -> HmacScheme),
    /// A scheme with a verifier of its own.
    Own(fn(Vec<Secret>) -> Result<Verifier, SecretError>),
}

const fn hmac(name: &'static str, scheme: fn() -> HmacScheme) -> Entry {
    Entry {
        name,
        build: Build::Hmac(scheme),
        tolerance: None,
    }
}

/// An HMAC entry whose sender documents how old a delivery may be, in seconds.
const fn hmac_within(name: &'static str, scheme: fn() -> HmacScheme, seconds: u64) -> Entry {
    Entry {
        tolerance: Some(Duration::from_secs(seconds)),
        ..hmac(name, scheme)
    }
}

const fn own(name: &'static str, build: fn(Vec<Secret>) -> Result<Verifier, SecretError>) -> Entry {
    Entry {
        name,
        build: Build::Own(build),
        tolerance: None,
    }
}

/// Secrets that are text: Standard Webhooks secrets (`whsec_` and base64) and public keys (hex,
/// base64, PEM). Bytes that are not UTF-8 cannot be such, and fail as bad encoding.
fn text(secrets: Vec<Secret>) -> Vec<String> {
    secrets
        .iter()
        .map(|secret| String::from_utf8_lossy(secret.expose()).into_owned())
        .collect()
}

/// A Standard Webhooks verifier over text secrets, for the senders that sign that way (Svix and
/// the senders built on it: Clerk, Resend; OpenAI with `webhook-` headers).
fn standard_webhooks(secrets: Vec<Secret>) -> Result<Verifier, SecretError> {
    Verifier::standard_webhooks(text(secrets))
}

/// Polar signs with Standard Webhooks but shows its secret as the raw key (`polar_whs_...`),
/// not base64: its own SDK's `validateEvent` keys the HMAC with the secret's UTF-8 bytes
/// (`@polar-sh/sdk` 1.0.1, run against this in tests/e2e/catalogue_interop.rs), and so does
/// this, handing the Standard Webhooks verifier those bytes base64-encoded. Like the SDK, a
/// secret that is itself a Standard Webhooks secret (`whsec_` and base64, or base64) is also
/// tried decoded, so either keying verifies.
fn polar(secrets: Vec<Secret>) -> Result<Verifier, SecretError> {
    use base64::Engine as _;
    let base64 = base64::engine::general_purpose::STANDARD;
    let mut keys: Vec<String> = secrets
        .iter()
        .map(|secret| base64.encode(secret.expose()))
        .collect();
    for secret in &secrets {
        let text = String::from_utf8_lossy(secret.expose());
        let bare = text.strip_prefix("whsec_").unwrap_or(&text);
        if !bare.is_empty() && base64.decode(bare).is_ok() {
            keys.push(text.into_owned());
        }
    }
    Verifier::standard_webhooks(keys)
}

/// Twilio's verifier: the engine's scheme at each URL form Twilio's library accepts.
fn twilio(secrets: Vec<Secret>) -> Result<Verifier, SecretError> {
    let scheme = Twilio::new(schemes::twilio, secrets)?;
    Ok(Verifier::with_scheme(super::Scheme::Twilio(scheme)))
}

/// A static token that must equal the whole value of `header`.
fn token(header: &'static str, secrets: Vec<Secret>) -> Result<Verifier, SecretError> {
    Verifier::token(http::HeaderName::from_static(header), secrets)
}

/// Every sender, alphabetically. Each HMAC entry follows the sender's published documentation
/// (see `schemes.rs`).
const CATALOGUE: &[Entry] = &[
    hmac("asana", schemes::asana),
    hmac("bitbucket", schemes::bitbucket),
    hmac("calendly", schemes::calendly),
    own("clerk", standard_webhooks),
    hmac("coinbase-commerce", schemes::coinbase_commerce),
    own("discord", |keys| Verifier::discord(text(keys))),
    hmac("dropbox", schemes::dropbox),
    own("github", Verifier::github),
    hmac("github-sha1", schemes::github_sha1),
    own("gitlab", |tokens| token("x-gitlab-token", tokens)),
    hmac("hubspot", schemes::hubspot),
    hmac("intercom", schemes::intercom),
    hmac("lemon-squeezy", schemes::lemon_squeezy),
    hmac("line", schemes::line),
    // Linear's SDK refuses a `webhookTimestamp` more than a minute away.
    hmac_within("linear", schemes::linear, 60),
    own("mailgun", Verifier::mailgun),
    hmac("meta", schemes::meta),
    own("microsoft-graph", Verifier::microsoft_graph),
    hmac("mux", schemes::mux),
    own("okta", |tokens| token("authorization", tokens)),
    own("openai", standard_webhooks),
    hmac("paddle", schemes::paddle),
    hmac("pagerduty", schemes::pagerduty),
    own("polar", polar),
    hmac("razorpay", schemes::razorpay),
    own("resend", standard_webhooks),
    own("sendgrid", |keys| Verifier::sendgrid(text(keys))),
    hmac("sentry", schemes::sentry),
    own("shopify", Verifier::shopify),
    own("slack", Verifier::slack),
    hmac("square", schemes::square),
    own("standard-webhooks", standard_webhooks),
    own("standard-webhooks-v1a", |keys| {
        Verifier::standard_webhooks_v1a(text(keys))
    }),
    own("stripe", Verifier::stripe),
    own("superoffice", Verifier::superoffice),
    own("svix", standard_webhooks),
    hmac("trello", schemes::trello),
    own("twilio", twilio),
    // Twitch: "make sure the timestamp isn't older than 10 minutes".
    hmac_within("twitch", schemes::twitch, 600),
    hmac("typeform", schemes::typeform),
    hmac("vercel", schemes::vercel),
    hmac("workos", schemes::workos),
    hmac("zoom", schemes::zoom),
];

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;
