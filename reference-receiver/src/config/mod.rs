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
    pub url: String,
    /// Body template; unset forwards the raw payload.
    #[serde(default)]
    pub body: Option<String>,
    /// Extra header templates.
    #[serde(default)]
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
    pub url: String,
    /// The source API's auth.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Per-call timeout.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
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
            message: e.to_string().trim().replace('\n', " "),
        })?;
        layers::merge(&mut table, over);
    }
    layers::apply_env(&mut table, overrides)?;
    let mut config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            ConfigError {
                origin: origin.clone(),
                key: display_path(&e.path().to_string()),
                // toml appends "in `section`" on a second line; the key already says where.
                message: e
                    .inner()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            }
        })?;
    config.resolve(&origin, &lookup)?;
    config.validate(&origin)?;
    Ok(config)
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
