//! `[[endpoint]]` and its `[endpoint.relay]`, `[endpoint.relay.fetch]` and auth sections.

use std::collections::BTreeMap;

use receiver_sdk::envelope::{envelopes, Envelope, Mapping};
use receiver_sdk::ordering::{OrderingScope, TiePolicy};
use receiver_sdk::PublicUrl;
use serde::{Deserialize, Serialize};

use super::defaults;
use super::secret::{redacted_credential_headers, redacted_userinfo};
use super::{ConfigSecret, HandshakeConfig, VerifyConfig};

/// One `[[endpoint]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Unique name: scopes state in the store, appears in logs and metrics.
    pub name: String,
    /// The path it answers at.
    pub path: String,
    /// Where the event fields are.
    #[serde(default = "default_envelope")]
    pub envelope: EnvelopeKind,
    /// For `envelope = "custom"`: the field sources.
    #[serde(default)]
    pub mapping: Option<Mapping>,
    /// The ordering guard: unset for the envelope's default.
    #[serde(default)]
    pub ordering: Option<OrderingSetting>,
    /// Events older than this are stale, and marks older than this are purged; unset: off.
    #[serde(default)]
    pub ordering_horizon_secs: Option<u64>,
    /// What equal timestamps do.
    #[serde(default)]
    pub ties: TiePolicy,
    /// Whether retries of handled deliveries are answered `duplicate`.
    #[serde(default = "yes")]
    pub dedupe: bool,
    /// How long delivery ids are remembered.
    #[serde(default = "default_retention")]
    pub retention_secs: u64,
    /// Handle only these event types.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// The most events one batch (a CloudEvents batch, a mapping's `batch`) may hold.
    #[serde(default = "default_max_batch_events")]
    pub max_batch_events: usize,
    /// Answer 202 after this long and let handling go on.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
    /// Answer a registration test (`X-Hook-Test: true`) 200 even when it fails verification.
    #[serde(default)]
    pub acknowledge_unsigned_tests: bool,
    // Setup handshakes: see `handshake.rs`.
    /// Answer the setup handshake the verify kind's sender sends (Slack's `url_verification`
    /// for kind = "slack", Zoom's, Discord's PING, ...).
    #[serde(default = "yes")]
    pub provider_handshake: bool,
    /// More handshakes, or the verify kind's own with settings (`[[endpoint.handshake]]`).
    #[serde(default, rename = "handshake", skip_serializing_if = "Vec::is_empty")]
    pub handshakes: Vec<HandshakeConfig>,
    /// Accept `application/x-www-form-urlencoded` bodies (Twilio's), read as a JSON object.
    #[serde(default)]
    pub accept_form_bodies: bool,
    /// Take CloudEvents binary-mode deliveries whose `ce-*` attributes the signature does not
    /// cover (refused 401 by default).
    #[serde(default)]
    pub accept_unsigned_cloudevents_attributes: bool,
    /// The public base of the endpoint's URL as the sender was given it, for senders that sign
    /// the URL (Twilio, Square, HubSpot, Trello); unset: `http://` and the `Host` header.
    #[serde(
        default,
        deserialize_with = "deserialize_public_url",
        serialize_with = "serialize_public_url"
    )]
    pub public_url: Option<PublicUrl>,
    /// Authentication.
    #[serde(
        default,
        deserialize_with = "crate::config::deserialize_verify",
        serialize_with = "crate::config::serialize_verify"
    )]
    pub verify: VerifyConfig,
    /// Where accepted events go.
    #[serde(default)]
    pub relay: Option<RelayConfig>,
}

/// `public_url` checked as it is read, so a bad one is refused naming its key.
fn deserialize_public_url<'de, D>(deserializer: D) -> Result<Option<PublicUrl>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let url = Option::<String>::deserialize(deserializer)?;
    url.map(|url| PublicUrl::parse(&url).map_err(serde::de::Error::custom))
        .transpose()
}

fn serialize_public_url<S>(url: &Option<PublicUrl>, serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
{
    url.as_ref().map(PublicUrl::as_str).serialize(serializer)
}

fn default_envelope() -> EnvelopeKind {
    EnvelopeKind::Raw
}

fn yes() -> bool {
    true
}

fn default_retention() -> u64 {
    receiver_sdk::DEFAULT_RETENTION.as_secs()
}

fn default_max_batch_events() -> usize {
    receiver_sdk::DEFAULT_BATCH_LIMIT
}

/// The `envelope` presets, and the catalogue senders' envelopes by name (`"zoom"`), written
/// and read as that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    /// Sonar.
    Sonar,
    /// `{id, entityType, eventType, timestamp}`.
    Integration,
    /// SuperOffice.
    Superoffice,
    /// Standard Webhooks / Svix.
    StandardWebhooks,
    /// GitHub.
    Github,
    /// Stripe's Event object.
    Stripe,
    /// CloudEvents 1.0, binary or structured mode.
    Cloudevents,
    /// `[endpoint.mapping]`.
    Custom,
    /// No envelope.
    Raw,
    /// A sender of the SDK's catalogue, by name (one of `receiver_sdk::envelope::envelopes`).
    Provider(&'static str),
}

/// The kinds with a name of their own, as written in configuration.
const OWN_ENVELOPES: [(&str, EnvelopeKind); 9] = [
    ("sonar", EnvelopeKind::Sonar),
    ("integration", EnvelopeKind::Integration),
    ("superoffice", EnvelopeKind::Superoffice),
    ("standard-webhooks", EnvelopeKind::StandardWebhooks),
    ("github", EnvelopeKind::Github),
    ("stripe", EnvelopeKind::Stripe),
    ("cloudevents", EnvelopeKind::Cloudevents),
    ("custom", EnvelopeKind::Custom),
    ("raw", EnvelopeKind::Raw),
];

impl EnvelopeKind {
    /// The SDK envelope this kind names; `None` for `custom`, which needs its mapping.
    pub fn preset(self) -> Option<Envelope> {
        match self {
            Self::Sonar => Some(Envelope::Sonar),
            Self::Integration => Some(Envelope::Integration),
            Self::Superoffice => Some(Envelope::SuperOffice),
            Self::StandardWebhooks => Some(Envelope::StandardWebhooks),
            Self::Github => Some(Envelope::GitHub),
            Self::Stripe => Some(Envelope::Stripe),
            Self::Cloudevents => Some(Envelope::CloudEvents),
            Self::Raw => Some(Envelope::Raw),
            Self::Provider(name) => Envelope::provider(name).ok(),
            Self::Custom => None,
        }
    }

    /// The name as written in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Provider(name) => name,
            own => OWN_ENVELOPES
                .iter()
                .find(|(_, kind)| *kind == own)
                .map_or("raw", |(name, _)| name),
        }
    }
}

impl TryFrom<String> for EnvelopeKind {
    type Error = String;

    /// A kind of its own first (`github` is the GitHub preset), then a catalogue sender.
    fn try_from(name: String) -> Result<Self, Self::Error> {
        if let Some((_, kind)) = OWN_ENVELOPES.iter().find(|(own, _)| *own == name) {
            return Ok(*kind);
        }
        envelopes()
            .find(|sender| *sender == name)
            .map(Self::Provider)
            .ok_or_else(|| {
                format!(
                    "unknown envelope {name:?}; expected one of {}",
                    envelope_kinds().join(", ")
                )
            })
    }
}

/// Every `envelope`: the presets, then the catalogue's senders that have one.
pub fn envelope_kinds() -> Vec<&'static str> {
    let own = OWN_ENVELOPES.iter().map(|(own, _)| *own);
    let senders = envelopes().filter(|sender| !OWN_ENVELOPES.iter().any(|(own, _)| own == sender));
    own.chain(senders).collect()
}

impl<'de> Deserialize<'de> for EnvelopeKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::try_from(name).map_err(serde::de::Error::custom)
    }
}

impl Serialize for EnvelopeKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self::None {}
    }
}

/// `ordering`: a switch or a grouping (`off`, `per-event-type`, `per-entity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrderingSetting {
    /// `true` (per event type and entity) or `false`.
    Switch(bool),
    /// A named grouping.
    Mode(OrderingScope),
}

impl OrderingSetting {
    /// The SDK grouping this setting names.
    pub fn ordering(self) -> OrderingScope {
        match self {
            Self::Switch(false) => OrderingScope::Off,
            Self::Switch(true) => OrderingScope::PerEventType,
            Self::Mode(ordering) => ordering,
        }
    }
}

/// `[endpoint.relay]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// Answer with the downstream outcome, or queue.
    #[serde(default)]
    pub mode: RelayMode,
    /// PATCH, POST or PUT.
    #[serde(default = "default_method")]
    pub method: String,
    /// URL template.
    #[serde(serialize_with = "redacted_userinfo")]
    pub url: String,
    /// Body template; unset forwards the raw payload.
    #[serde(default)]
    pub body: Option<String>,
    /// Extra header templates.
    #[serde(default, serialize_with = "redacted_credential_headers")]
    pub headers: BTreeMap<String, String>,
    /// The downstream's auth.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Per-call timeout.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Fetch the entity from the source API first.
    #[serde(default)]
    pub fetch: Option<FetchConfig>,
    /// Queued mode: attempts before a dead letter.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Queued mode: first retry delay.
    #[serde(default = "default_backoff_initial")]
    pub backoff_initial_ms: u64,
    /// Queued mode: longest retry delay.
    #[serde(default = "default_backoff_max")]
    pub backoff_max_secs: u64,
    /// Queued mode: deliveries in flight at once (per endpoint).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Queued mode: delivered events kept for the admin API (0 keeps none).
    #[serde(default = "default_history_limit")]
    pub history_limit: usize,
    /// Queued mode: events waiting at most (in flight included); beyond, new events are
    /// answered 503 with `Retry-After` and nothing is stored.
    #[serde(default = "default_max_pending")]
    pub max_pending: usize,
    /// Queued mode: dead letters kept at most; beyond, the oldest is removed (and logged).
    #[serde(default = "default_max_dead")]
    pub max_dead: usize,
    /// The environment variables templates may read as `env.NAME` (none by default).
    #[serde(default)]
    pub env_allow: Vec<String>,
}

fn default_max_pending() -> usize {
    defaults::MAX_PENDING
}

fn default_max_dead() -> usize {
    defaults::MAX_DEAD
}

fn default_max_source_body() -> usize {
    defaults::MAX_SOURCE_BODY_BYTES
}

fn default_method() -> String {
    defaults::RELAY_METHOD.into()
}

fn default_timeout() -> u64 {
    defaults::RELAY_TIMEOUT_SECS
}

fn default_attempts() -> u32 {
    defaults::MAX_ATTEMPTS
}

fn default_backoff_initial() -> u64 {
    defaults::BACKOFF_INITIAL_MS
}

fn default_backoff_max() -> u64 {
    defaults::BACKOFF_MAX_SECS
}

fn default_concurrency() -> usize {
    defaults::CONCURRENCY
}

fn default_history_limit() -> usize {
    defaults::HISTORY_LIMIT
}

/// `relay.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayMode {
    /// Call downstream while the sender waits.
    #[default]
    Sync,
    /// Persist, answer, deliver in the background.
    Queued,
}

/// `[endpoint.relay.fetch]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchConfig {
    /// URL template.
    #[serde(serialize_with = "redacted_userinfo")]
    pub url: String,
    /// The source API's auth.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Per-call timeout.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// The largest source answer read and parsed; a larger one is a refusal.
    #[serde(default = "default_max_source_body")]
    pub max_body_bytes: usize,
}

/// Outgoing auth (`relay.auth`, `relay.fetch.auth`), by `kind`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum AuthConfig {
    /// No auth. (`{}`: serde lets a unit variant ignore every other key.)
    None {},
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: ConfigSecret,
    },
    /// `Authorization: Basic ...`.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: ConfigSecret,
    },
    /// `<header>: <token>`.
    Header {
        /// The header's name.
        header: String,
        /// The header's value.
        token: ConfigSecret,
    },
}
