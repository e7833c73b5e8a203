//! The receiver's configuration: TOML laid over compiled-in defaults, then environment
//! variables; secrets inline or named by `*_env` keys.
//!
//! Loading is split in two, so tests feed strings: [`load`] reads the file and the process
//! environment, [`from_parts`] does everything else and touches nothing outside its inputs.

mod layers;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use receiver_sdk::envelope::Mapping;
use receiver_sdk::Secret;
use serde::{Deserialize, Serialize, Serializer};
use toml::Table;

/// The defaults, which are also the documentation of every key.
pub const DEFAULT_TOML: &str = include_str!("../config.default.toml");

/// A config that cannot be used: where, which key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {key}: {message}")]
pub struct ConfigError {
    /// The file or environment variable the problem comes from.
    pub origin: String,
    /// The key, as a dotted path (`endpoint[1].verify.kind`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listening, limits and timeouts.
    pub server: ServerConfig,
    /// Where state lives.
    pub store: StoreConfig,
    /// Logging.
    pub log: LogConfig,
    /// The admin API.
    #[serde(default)]
    pub admin: AdminConfig,
    /// The inspector: inspection bins, their API and web UI.
    #[serde(default)]
    pub inspector: InspectorConfig,
    /// The webhook endpoints.
    #[serde(rename = "endpoint", default)]
    pub endpoints: Vec<EndpointConfig>,
}

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Largest body accepted.
    pub body_limit_bytes: usize,
    /// Time a whole request may take.
    pub request_timeout_secs: u64,
    /// Time in-flight work may take to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// TLS certificate chain (PEM).
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// From accept to a complete first request head (TLS handshake included); for HTTP/1 also
    /// from the end of one response to the next request's complete head.
    pub header_read_timeout_secs: u64,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout_secs: u64,
    /// Connections open at once; at the cap the quietest one is closed to make room.
    pub max_connections: usize,
    /// Connections open at once from one peer (an IPv4 address or an IPv6 /64).
    pub max_connections_per_peer: usize,
    /// Request-body bytes held at once across all requests.
    pub body_budget_bytes: usize,
    /// Request-body bytes held at once by one peer's requests.
    pub body_budget_per_peer_bytes: usize,
    /// The largest request head (HTTP/1 buffer, HTTP/2 header list).
    pub max_header_bytes: usize,
    /// HTTP/2 streams open at once on one connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2: how often an idle-looking connection is pinged.
    pub h2_keep_alive_interval_secs: u64,
    /// HTTP/2: how long a ping may go unanswered before the connection is closed.
    pub h2_keep_alive_timeout_secs: u64,
    /// HTTP/2: streams the client reset before we accepted them, at once (rapid reset).
    pub h2_max_pending_accept_reset_streams: usize,
    /// HTTP/2: streams we reset for the client's protocol errors before the connection is
    /// closed.
    pub h2_max_local_error_reset_streams: usize,
}

impl ServerConfig {
    /// The most body bytes one request may make the receiver hold: the larger of the
    /// endpoints' and the inspector's limits.
    pub fn largest_body(&self, inspector: &InspectorConfig) -> usize {
        self.body_limit_bytes.max(inspector.max_body_bytes)
    }

    /// The connection limits must be usable: nothing at 0, per-peer caps within the totals,
    /// and a per-peer body budget that holds at least one largest body.
    fn validate_limits(&self, inspector: &InspectorConfig) -> Result<(), (String, String)> {
        let key = |name: &str| format!("server.{name}");
        for (name, value) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            (
                "h2_keep_alive_interval_secs",
                self.h2_keep_alive_interval_secs,
            ),
            (
                "h2_keep_alive_timeout_secs",
                self.h2_keep_alive_timeout_secs,
            ),
            (
                "h2_max_concurrent_streams",
                self.h2_max_concurrent_streams.into(),
            ),
        ] {
            if value == 0 {
                return Err((key(name), "must be above 0".into()));
            }
        }
        if self.max_connections_per_peer == 0
            || self.max_connections_per_peer > self.max_connections
        {
            return Err((
                key("max_connections_per_peer"),
                "must be between 1 and server.max_connections".into(),
            ));
        }
        if self.body_budget_per_peer_bytes > self.body_budget_bytes {
            return Err((
                key("body_budget_per_peer_bytes"),
                "must not be above server.body_budget_bytes".into(),
            ));
        }
        let largest = self.largest_body(inspector);
        if self.body_budget_per_peer_bytes < largest {
            return Err((
                key("body_budget_per_peer_bytes"),
                format!(
                    "must hold at least one largest body ({largest} bytes: body_limit_bytes or \
                     inspector.max_body_bytes)"
                ),
            ));
        }
        // hyper's HTTP/1 read buffer cannot be smaller than 8 KiB.
        if self.max_header_bytes < 8192 {
            return Err((key("max_header_bytes"), "must be at least 8192".into()));
        }
        Ok(())
    }
}

/// `[store]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The sled directory.
    pub path: PathBuf,
    /// sled's background fsync interval.
    pub flush_every_ms: u64,
    /// sled's page cache, in MiB: bounds the memory the store's hot pages take.
    #[serde(default = "default_cache_mib")]
    pub cache_mib: u64,
    /// Under concurrent load, how long sled's committer waits for more commits to share one
    /// flush, in microseconds.
    #[serde(default = "default_commit_delay_us")]
    pub commit_delay_us: u64,
    /// A PostgreSQL URL: ordering marks and delivery ids go there, shared by every replica.
    #[serde(default)]
    pub url: Option<ConfigSecret>,
    /// The environment variable holding the URL.
    #[serde(default)]
    pub url_env: Option<String>,
    /// PostgreSQL connections per pool (statements and key leases each have one).
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
}

fn default_cache_mib() -> u64 {
    receiver_sdk::store::DEFAULT_SLED_CACHE_BYTES / (1024 * 1024)
}

fn default_commit_delay_us() -> u64 {
    u64::try_from(receiver_sdk::store::DEFAULT_COMMIT_DELAY.as_micros()).unwrap_or(u64::MAX)
}

fn default_pool_size() -> usize {
    16
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Text or JSON lines.
    pub format: LogFormat,
    /// A tracing filter directive.
    pub level: String,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[admin]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Bearer token for the admin API.
    #[serde(default)]
    pub token: Option<ConfigSecret>,
    /// The environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
}

/// `[inspector]`: inspection bins at `/in/{token}`, the JSON API at `/api` and the UI at `/ui`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InspectorConfig {
    /// Serve the inspector at all.
    pub enabled: bool,
    /// How many bins may exist at once.
    pub max_bins: usize,
    /// Captures kept per bin unless the bin asks for another number.
    pub max_captures: usize,
    /// Age after which captures are pruned unless the bin asks for another age.
    pub max_age_secs: u64,
    /// The largest body captured; larger ones are answered 413 and recorded without a body.
    pub max_body_bytes: usize,
    /// The longest answer delay a bin may ask for.
    pub max_delay_ms: u64,
    /// How often captures past their age are pruned.
    pub prune_interval_secs: u64,
    /// The most captures one pruning pass removes (bounded work; the next pass goes on).
    pub prune_batch: usize,
    /// The base URL bins are reached at from outside (behind a proxy); unset: the request's
    /// own scheme and `Host`.
    pub public_url: Option<String>,
    /// Let replays reach link-local and cloud-metadata addresses (169.254.0.0/16, fe80::/10,
    /// fd00:ec2::254), directly or by a name resolving there. Off: such a replay is refused.
    pub allow_link_local: bool,
}

impl Default for InspectorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_bins: 100,
            max_captures: 500,
            max_age_secs: 7 * 24 * 60 * 60,
            max_body_bytes: 1_048_576,
            max_delay_ms: 10_000,
            prune_interval_secs: 60,
            prune_batch: 1_000,
            public_url: None,
            allow_link_local: false,
        }
    }
}

/// A secret from the config: never printed, serialised as `[redacted]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSecret(pub Secret);

impl ConfigSecret {
    /// The secret as text (secrets in config files are text).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.0.expose()).into_owned()
    }
}

impl<'de> Deserialize<'de> for ConfigSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self(Secret::from(text)))
    }
}

impl Serialize for ConfigSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

/// A URL as `check-config` prints it: credentials in it (`https://user:pass@host/`) redacted.
fn redacted_userinfo<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    let shown = match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://[redacted]@{}", &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    serializer.serialize_str(&shown)
}

/// Header templates as `check-config` prints them: the values of headers that carry
/// credentials redacted.
fn redacted_credential_headers<S: Serializer>(
    headers: &BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let credential = |name: &str| {
        let name = name.to_ascii_lowercase();
        [
            "authorization",
            "cookie",
            "token",
            "secret",
            "key",
            "password",
            "signature",
        ]
        .iter()
        .any(|word| name.contains(word))
    };
    serializer.collect_map(headers.iter().map(|(name, value)| {
        let shown = if credential(name) {
            "[redacted]"
        } else {
            value.as_str()
        };
        (name, shown)
    }))
}

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
    pub ties: TiesSetting,
    /// Whether retries of handled deliveries are answered `duplicate`.
    #[serde(default = "yes")]
    pub dedupe: bool,
    /// How long delivery ids are remembered.
    #[serde(default = "default_retention")]
    pub retention_secs: u64,
    /// Handle only these event types.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Answer 202 after this long and let handling go on.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
    /// Answer a registration test (`X-Hook-Test: true`) 200 even when it fails verification.
    #[serde(default)]
    pub acknowledge_unsigned_tests: bool,
    /// Authentication.
    #[serde(default)]
    pub verify: VerifyConfig,
    /// Where accepted events go.
    #[serde(default)]
    pub relay: Option<RelayConfig>,
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

/// The `envelope` presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
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
    /// `[endpoint.mapping]`.
    Custom,
    /// No envelope.
    Raw,
}

/// `ordering`: a switch or a grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrderingSetting {
    /// `true` (per event type and entity) or `false`.
    Switch(bool),
    /// A named grouping.
    Mode(OrderingMode),
}

/// Named ordering groupings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderingMode {
    /// Off.
    Off,
    /// One mark per event type and entity.
    PerEventType,
    /// One mark per entity.
    PerEntity,
}

/// `ties`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TiesSetting {
    /// Handle the later arrival.
    #[default]
    Deliver,
    /// Keep the first.
    Drop,
}

/// `[endpoint.verify]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    /// The scheme.
    pub kind: VerifyKind,
    /// Signing secrets or accepted tokens (several for rotation).
    #[serde(default)]
    pub secrets: Vec<ConfigSecret>,
    /// An environment variable with secrets separated by spaces or commas.
    #[serde(default)]
    pub secrets_env: Option<String>,
    /// Accepted clock skew for timestamped schemes.
    #[serde(default)]
    pub tolerance_secs: Option<u64>,
    /// `hmac-sha256` and `token`: the header.
    #[serde(default)]
    pub header: Option<String>,
    /// `hmac-sha256`: text before the signature (`sha256=`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// `hmac-sha256`: hex or base64.
    #[serde(default)]
    pub encoding: Option<EncodingSetting>,
    /// `basic`: the realm.
    #[serde(default)]
    pub realm: Option<String>,
    /// `basic`: one user.
    #[serde(default)]
    pub user: Option<String>,
    /// `basic`: that user's password.
    #[serde(default)]
    pub password: Option<ConfigSecret>,
    /// `basic`: the environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// `basic`: several users (or one user with several passwords, for rotation).
    #[serde(default)]
    pub credentials: Vec<Credential>,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        Self {
            kind: VerifyKind::None,
            secrets: Vec::new(),
            secrets_env: None,
            tolerance_secs: None,
            header: None,
            prefix: None,
            encoding: None,
            realm: None,
            user: None,
            password: None,
            password_env: None,
            credentials: Vec::new(),
        }
    }
}

/// One Basic auth user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The user name.
    pub user: String,
    /// The password.
    #[serde(default)]
    pub password: Option<ConfigSecret>,
    /// The environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
}

/// `verify.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyKind {
    /// No check.
    None,
    /// HTTP Basic.
    Basic,
    /// A static token in a header.
    Token,
    /// HMAC-SHA256 of the body in a configurable header.
    HmacSha256,
    /// GitHub's `X-Hub-Signature-256`.
    Github,
    /// SuperOffice's `X-SuperOffice-Signature`.
    Superoffice,
    /// Shopify's `X-Shopify-Hmac-Sha256`.
    Shopify,
    /// Standard Webhooks / Svix.
    StandardWebhooks,
    /// Stripe's `Stripe-Signature`.
    Stripe,
    /// Slack's `X-Slack-Signature`.
    Slack,
}

/// `verify.encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingSetting {
    /// Hexadecimal.
    Hex,
    /// Standard base64.
    Base64,
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
    100_000
}

fn default_max_dead() -> usize {
    10_000
}

fn default_max_source_body() -> usize {
    1_048_576
}

fn default_method() -> String {
    "POST".into()
}

fn default_timeout() -> u64 {
    10
}

fn default_attempts() -> u32 {
    10
}

fn default_backoff_initial() -> u64 {
    1_000
}

fn default_backoff_max() -> u64 {
    600
}

fn default_concurrency() -> usize {
    4
}

fn default_history_limit() -> usize {
    1_000
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

/// Outgoing auth (`relay.auth`, `relay.fetch.auth`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The scheme.
    #[serde(default)]
    pub kind: AuthKind,
    /// Bearer token or header value.
    #[serde(default)]
    pub token: Option<ConfigSecret>,
    /// The environment variable holding it.
    #[serde(default)]
    pub token_env: Option<String>,
    /// `basic`: user.
    #[serde(default)]
    pub user: Option<String>,
    /// `basic`: password.
    #[serde(default)]
    pub password: Option<ConfigSecret>,
    /// `basic`: the environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// `header`: the header's name.
    #[serde(default)]
    pub header: Option<String>,
}

/// `auth.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// No auth.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: Basic ...`.
    Basic,
    /// `<header>: <token>`.
    Header,
}

/// Reads the config file (if any) and the process environment.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    load_with(file, Vec::new())
}

/// Like [`load`], with extra overrides (`RECEIVER_SERVER__BIND`-style names, e.g. from
/// command-line flags) applied after the environment's and validated with everything else,
/// so a flag can never slip past a check the same key in the file would fail.
pub fn load_with(
    file: Option<&Path>,
    overrides: Vec<(String, String)>,
) -> Result<Config, ConfigError> {
    let user = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                origin: path.display().to_string(),
                key: "(file)".into(),
                message: format!("cannot read: {e}"),
            })?;
            Some((path.display().to_string(), text))
        }
        None => None,
    };
    from_parts(
        user.as_ref()
            .map(|(name, text)| (name.as_str(), text.as_str())),
        std::env::vars().chain(overrides),
        |name| std::env::var(name).ok(),
    )
}

/// Builds a config from the user's file text (`(name, text)`), override variables and a way to
/// look up the variables that `*_env` keys name. Pure: touches nothing else.
pub fn from_parts(
    user: Option<(&str, &str)>,
    overrides: impl IntoIterator<Item = (String, String)>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let origin = user
        .map_or("embedded defaults", |(name, _)| name)
        .to_owned();
    let mut table: Table = DEFAULT_TOML.parse().map_err(|e| ConfigError {
        origin: "embedded defaults".into(),
        key: "(file)".into(),
        message: format!("{e}"),
    })?;
    if let Some((name, text)) = user {
        let over: Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
            origin: name.to_owned(),
            key: "(syntax)".into(),
            message: syntax_message(text, &e),
        })?;
        layers::merge(&mut table, over);
    }
    layers::apply_env(&mut table, overrides)?;
    let mut config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = display_path(&e.path().to_string());
            // toml appends "in `section`" on a second line; the key already says where.
            let message = e.inner().to_string();
            let message = message.lines().next().unwrap_or("");
            ConfigError {
                origin: origin.clone(),
                message: if is_secret_key(&key) {
                    redact_values(message)
                } else {
                    message.to_owned()
                },
                key,
            }
        })?;
    config.resolve(&origin, &lookup)?;
    config.validate(&origin)?;
    Ok(config)
}

/// The keys whose values are secret text (or may hold credentials, as a URL does): read as
/// text whatever they look like, and never shown in an error. `secrets` (a list of them) is
/// never shown either.
pub(crate) const SECRET_TEXT_KEYS: &[&str] = &["token", "password", "url"];

/// Whether a dotted key path (`endpoint[0].verify.secrets[1]`) ends in a secret key.
fn is_secret_key(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    let name = last.split('[').next().unwrap_or(last);
    name == "secrets" || SECRET_TEXT_KEYS.contains(&name)
}

/// A serde message with every quoted value (`` `...` ``) replaced: `invalid type: integer
/// `8841209957`, expected a string` -> `invalid type: integer [redacted], expected a string`.
fn redact_values(message: &str) -> String {
    let mut out = String::new();
    for (i, part) in message.split('`').enumerate() {
        out.push_str(if i % 2 == 1 { "[redacted]" } else { part });
    }
    out
}

/// A TOML syntax error as its message and position only: toml's own text quotes the source
/// line, which may hold a secret.
fn syntax_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// `endpoint.1.verify` -> `endpoint[1].verify`.
fn display_path(path: &str) -> String {
    let mut out = String::new();
    for segment in path.split('.') {
        if segment.chars().all(|c| c.is_ascii_digit()) && !segment.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

fn secret_from_env(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<ConfigSecret, String> {
    lookup(name)
        .filter(|v| !v.is_empty())
        .map(|v| ConfigSecret(Secret::from(v)))
        .ok_or_else(|| format!("environment variable `{name}` is not set"))
}

impl Config {
    /// Replaces every `*_env` reference with the secret it names.
    fn resolve(
        &mut self,
        origin: &str,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let error = |key: String, message: String| ConfigError {
            origin: origin.to_owned(),
            key,
            message,
        };
        if let Some(name) = &self.store.url_env {
            self.store.url =
                Some(secret_from_env(lookup, name).map_err(|m| error("store.url_env".into(), m))?);
        }
        // An empty URL (RECEIVER_STORE__URL="") switches a file's PostgreSQL store off again.
        if self
            .store
            .url
            .as_ref()
            .is_some_and(|url| url.0.expose().is_empty())
        {
            self.store.url = None;
        }
        if let Some(name) = &self.admin.token_env {
            self.admin.token = Some(
                secret_from_env(lookup, name).map_err(|m| error("admin.token_env".into(), m))?,
            );
        }
        for (i, endpoint) in self.endpoints.iter_mut().enumerate() {
            let at = |key: &str| format!("endpoint[{i}].{key}");
            let verify = &mut endpoint.verify;
            if let Some(name) = &verify.secrets_env {
                let value = lookup(name)
                    .filter(|v| !v.trim().is_empty())
                    .ok_or_else(|| {
                        error(
                            at("verify.secrets_env"),
                            format!("environment variable `{name}` is not set"),
                        )
                    })?;
                verify.secrets.extend(
                    value
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|s| !s.is_empty())
                        .map(|s| ConfigSecret(Secret::from(s))),
                );
            }
            if let Some(name) = &verify.password_env {
                verify.password = Some(
                    secret_from_env(lookup, name)
                        .map_err(|m| error(at("verify.password_env"), m))?,
                );
            }
            for (j, credential) in verify.credentials.iter_mut().enumerate() {
                if let Some(name) = &credential.password_env {
                    credential.password = Some(secret_from_env(lookup, name).map_err(|m| {
                        error(at(&format!("verify.credentials[{j}].password_env")), m)
                    })?);
                }
            }
            if let Some(relay) = &mut endpoint.relay {
                relay
                    .auth
                    .resolve(lookup)
                    .map_err(|(key, m)| error(at(&format!("relay.auth.{key}")), m))?;
                if let Some(fetch) = &mut relay.fetch {
                    fetch
                        .auth
                        .resolve(lookup)
                        .map_err(|(key, m)| error(at(&format!("relay.fetch.auth.{key}")), m))?;
                }
            }
        }
        Ok(())
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let error = |key: String, message: &str| ConfigError {
            origin: origin.to_owned(),
            key,
            message: message.to_owned(),
        };
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(error(
                "server.tls_cert".into(),
                "set both tls_cert and tls_key, or neither",
            ));
        }
        if let Some(token) = &self.admin.token {
            check_admin_token(token.0.expose()).map_err(|m| error("admin.token".into(), m))?;
        }
        if !self.server.bind.ip().is_loopback() && self.admin.token.is_none() {
            return Err(error(
                "admin.token".into(),
                "required when server.bind is not a loopback address (the admin API must not \
                 be open to the network); set admin.token or admin.token_env",
            ));
        }
        if self.store.pool_size == 0 {
            return Err(error("store.pool_size".into(), "must be at least 1"));
        }
        let inspector = &self.inspector;
        for (key, value) in [
            ("max_bins", inspector.max_bins),
            ("max_captures", inspector.max_captures),
            ("max_body_bytes", inspector.max_body_bytes),
            ("prune_batch", inspector.prune_batch),
        ] {
            if value == 0 {
                return Err(error(format!("inspector.{key}"), "must be above 0"));
            }
        }
        if inspector.max_age_secs == 0 || inspector.prune_interval_secs == 0 {
            return Err(error(
                "inspector.max_age_secs".into(),
                "max_age_secs and prune_interval_secs must be above 0",
            ));
        }
        if let Some(url) = &inspector.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(error(
                    "inspector.public_url".into(),
                    "must start with http:// or https://",
                ));
            }
        }
        if self.server.body_limit_bytes == 0 {
            return Err(error("server.body_limit_bytes".into(), "must be above 0"));
        }
        self.server
            .validate_limits(inspector)
            .map_err(|(key, message)| error(key, &message))?;
        let mut names = HashSet::new();
        let mut paths = HashSet::new();
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            let at = |key: &str| format!("endpoint[{i}].{key}");
            if endpoint.name.trim().is_empty() {
                return Err(error(at("name"), "must not be empty"));
            }
            if !names.insert(endpoint.name.as_str()) {
                return Err(error(at("name"), "another endpoint has this name"));
            }
            if !endpoint.path.starts_with('/') || endpoint.path.contains("{") {
                return Err(error(
                    at("path"),
                    "must start with `/` and be a plain path (no `{` captures)",
                ));
            }
            if is_reserved(&endpoint.path) {
                return Err(error(at("path"), "is reserved by the receiver itself"));
            }
            if !paths.insert(endpoint.path.as_str()) {
                return Err(error(at("path"), "another endpoint has this path"));
            }
            if (endpoint.envelope == EnvelopeKind::Custom) != endpoint.mapping.is_some() {
                return Err(error(
                    at("mapping"),
                    "envelope = \"custom\" needs an [endpoint.mapping], and only it takes one",
                ));
            }
            endpoint
                .verify
                .check()
                .map_err(|(key, message)| error(at(&format!("verify.{key}")), &message))?;
            if let Some(relay) = &endpoint.relay {
                if !["POST", "PUT", "PATCH"].contains(&relay.method.to_ascii_uppercase().as_str()) {
                    return Err(error(at("relay.method"), "must be PATCH, POST or PUT"));
                }
                if relay.max_attempts == 0 {
                    return Err(error(at("relay.max_attempts"), "must be at least 1"));
                }
                if relay.concurrency == 0 {
                    return Err(error(at("relay.concurrency"), "must be at least 1"));
                }
                if relay.max_pending == 0 {
                    return Err(error(at("relay.max_pending"), "must be at least 1"));
                }
                if relay.fetch.as_ref().is_some_and(|f| f.max_body_bytes == 0) {
                    return Err(error(
                        at("relay.fetch.max_body_bytes"),
                        "must be at least 1",
                    ));
                }
                relay
                    .auth
                    .check()
                    .map_err(|(key, m)| error(at(&format!("relay.auth.{key}")), &m))?;
                if let Some(fetch) = &relay.fetch {
                    fetch
                        .auth
                        .check()
                        .map_err(|(key, m)| error(at(&format!("relay.fetch.auth.{key}")), &m))?;
                }
            }
        }
        Ok(())
    }
}

/// The shortest admin token accepted: it opens `/admin` and the inspector, so it must not be
/// guessable.
pub const MIN_ADMIN_TOKEN_BYTES: usize = 16;

/// An admin token must be long enough, and be what a client can send: no surrounding
/// whitespace (HTTP trims it) and no control characters.
fn check_admin_token(token: &[u8]) -> Result<(), &'static str> {
    if token.trim_ascii().is_empty() {
        return Err("must not be empty or whitespace (leave it unset instead)");
    }
    if token.len() < MIN_ADMIN_TOKEN_BYTES {
        return Err("must be at least 16 bytes long");
    }
    if token.trim_ascii().len() != token.len() || token.iter().any(u8::is_ascii_control) {
        return Err("must not start or end with whitespace or hold control characters");
    }
    Ok(())
}

/// Paths the receiver serves itself, and the prefixes of its own APIs.
pub const RESERVED_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];
const RESERVED_PREFIXES: &[&str] = &["/admin", "/api", "/in", "/ui"];

fn is_reserved(path: &str) -> bool {
    RESERVED_PATHS.contains(&path)
        || RESERVED_PREFIXES
            .iter()
            .any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")))
}

impl VerifyConfig {
    fn check(&self) -> Result<(), (String, String)> {
        let signing = matches!(
            self.kind,
            VerifyKind::HmacSha256
                | VerifyKind::Github
                | VerifyKind::Superoffice
                | VerifyKind::Shopify
                | VerifyKind::StandardWebhooks
                | VerifyKind::Stripe
                | VerifyKind::Slack
                | VerifyKind::Token
        );
        if signing && self.secrets.is_empty() {
            return Err((
                "secrets".into(),
                format!(
                    "kind `{}` needs `secrets` or `secrets_env`",
                    self.kind_name()
                ),
            ));
        }
        if self.kind == VerifyKind::HmacSha256 && self.header.is_none() {
            return Err((
                "header".into(),
                "kind `hmac-sha256` needs the signature's `header`".into(),
            ));
        }
        if self.kind == VerifyKind::Basic {
            let single = self.user.is_some() || self.password.is_some();
            if single && (self.user.is_none() || self.password.is_none()) {
                return Err((
                    "password".into(),
                    "kind `basic` needs both `user` and `password` (or `password_env`)".into(),
                ));
            }
            if !single && self.credentials.is_empty() {
                return Err((
                    "user".into(),
                    "kind `basic` needs `user` and `password`, or `credentials`".into(),
                ));
            }
            if let Some(j) = self.credentials.iter().position(|c| c.password.is_none()) {
                return Err((
                    format!("credentials[{j}].password"),
                    "needs `password` or `password_env`".into(),
                ));
            }
        }
        Ok(())
    }

    fn kind_name(&self) -> String {
        toml::Value::try_from(self.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Basic auth pairs, from `user`/`password` and `credentials`.
    pub fn basic_credentials(&self) -> Vec<(String, Secret)> {
        let single = self
            .user
            .clone()
            .zip(self.password.clone())
            .map(|(user, password)| (user, password.0));
        single
            .into_iter()
            .chain(self.credentials.iter().filter_map(|c| {
                c.password
                    .clone()
                    .map(|password| (c.user.clone(), password.0))
            }))
            .collect()
    }
}

impl AuthConfig {
    fn resolve(
        &mut self,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), (String, String)> {
        if let Some(name) = &self.token_env {
            self.token = Some(secret_from_env(lookup, name).map_err(|m| ("token_env".into(), m))?);
        }
        if let Some(name) = &self.password_env {
            self.password =
                Some(secret_from_env(lookup, name).map_err(|m| ("password_env".into(), m))?);
        }
        Ok(())
    }

    fn check(&self) -> Result<(), (String, String)> {
        match self.kind {
            AuthKind::None => Ok(()),
            AuthKind::Bearer | AuthKind::Header if self.token.is_none() => {
                Err(("token".into(), "needs `token` or `token_env`".into()))
            }
            AuthKind::Header if self.header.is_none() => Err((
                "header".into(),
                "kind `header` needs the header's name".into(),
            )),
            AuthKind::Basic if self.user.is_none() || self.password.is_none() => Err((
                "user".into(),
                "kind `basic` needs `user` and `password` (or `password_env`)".into(),
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Config {
    /// The effective config as TOML, secrets redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match toml::to_string_pretty(self) {
            Ok(text) => f.write_str(&text),
            Err(_) => Err(fmt::Error),
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod store_tests;
