//! Secrets in the config: a redacted type, `*_env` references, and the rules that keep
//! secret values out of printed configs and errors.

use std::collections::BTreeMap;

use receiver_sdk::Secret;
use serde::{Deserialize, Serialize, Serializer};

use super::{Config, ConfigError};

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
pub(super) fn redacted_userinfo<S: Serializer>(
    url: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
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
pub(super) fn redacted_credential_headers<S: Serializer>(
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

/// The keys whose values are secret text (or may hold credentials, as a URL does): read as
/// text whatever they look like, and never shown in an error. `secrets` (a list of them) is
/// never shown either.
pub(crate) const SECRET_TEXT_KEYS: &[&str] = &["token", "password", "url"];

/// Whether a dotted key path (`endpoint[0].verify.secrets[1]`) ends in a secret key.
pub(super) fn is_secret_key(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    let name = last.split('[').next().unwrap_or(last);
    name == "secrets" || SECRET_TEXT_KEYS.contains(&name)
}

/// A serde message with every quoted value (`` `...` ``) replaced: `invalid type: integer
/// `8841209957`, expected a string` -> `invalid type: integer [redacted], expected a string`.
pub(super) fn redact_values(message: &str) -> String {
    let mut out = String::new();
    for (i, part) in message.split('`').enumerate() {
        out.push_str(if i % 2 == 1 { "[redacted]" } else { part });
    }
    out
}

pub(super) fn secret_from_env(
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
    pub(super) fn resolve(
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
}
