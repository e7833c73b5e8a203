//! The receiver's configuration: TOML laid over compiled-in defaults, then environment
//! variables; secrets inline or named by `*_env` keys.
//!
//! Loading is split in two, so tests feed strings: [`load`] reads the file and the process
//! environment, [`from_parts`] does everything else and touches nothing outside its inputs.

pub mod defaults;
mod endpoint;
mod handshake;
mod layers;
mod secret;
mod server;
mod store;
mod validate;
mod verify;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Table;

use secret::{is_secret_key, redact_values};

pub use endpoint::*;
pub use handshake::*;
pub use secret::ConfigSecret;
pub(crate) use secret::{names_environment, SECRET_TEXT_KEYS};
pub use server::*;
pub use store::*;
pub use validate::{MIN_ADMIN_TOKEN_BYTES, RESERVED_PATHS};
pub use verify::*;

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
    secret::resolve_env(&mut table, &origin, &lookup)?;
    let mut config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = display_path(&e.path().to_string());
            // toml appends "in `section`" on a second line; the key already says where.
            let message = e.inner().to_string();
            let message = message.lines().next().unwrap_or("");
            read_error(origin.clone(), key, message)
        })?;
    // An empty URL (RECEIVER_STORE__URL="") switches a file's PostgreSQL store off again.
    config.store.url = config
        .store
        .url
        .take()
        .filter(|url| !url.0.expose().is_empty());
    config.validate(&origin)?;
    Ok(config)
}

/// A serde error as a [`ConfigError`], secret values kept out. A secret a tagged section lacks
/// is named as a key of that section, with the `_env` alternative serde cannot know of: serde
/// reports it at the section, as "missing field `token`".
fn read_error(origin: String, key: String, message: &str) -> ConfigError {
    let missing_secret = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
        .filter(|field| SECRET_TEXT_KEYS.contains(field));
    if let Some(field) = missing_secret {
        return ConfigError {
            origin,
            key: format!("{key}.{field}"),
            message: format!("needs `{field}` or `{field}_env`"),
        };
    }
    ConfigError {
        origin,
        message: if is_secret_key(&key) {
            redact_values(message)
        } else {
            message.to_owned()
        },
        key,
    }
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
