//! Secrets in the config: a redacted type, `*_env` references, and the rules that keep
//! secret values out of printed configs and errors.

use std::collections::BTreeMap;
use std::fmt;

use receiver_sdk::Secret;
use serde::de::{self, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use toml::{Table, Value};

use super::ConfigError;

/// A secret from the config: never printed, serialised as `[redacted]`. No `PartialEq`: a
/// comparison of secrets must be constant-time, and nothing here needs one.
#[derive(Debug, Clone)]
pub struct ConfigSecret(pub Secret);

impl ConfigSecret {
    /// The secret as text (secrets in config files are text).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.0.expose()).into_owned()
    }
}

/// Refuses a value of the wrong type by naming its type only: serde's own message would quote
/// the value, and a secret written with the wrong type is still a secret.
macro_rules! refuse_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::invalid_type(Unexpected::Other("boolean"), &self))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::invalid_type(Unexpected::Other("integer"), &self))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::invalid_type(Unexpected::Other("integer"), &self))
        }
        fn visit_i128<E: de::Error>(self, _: i128) -> Result<Self::Value, E> {
            Err(E::invalid_type(Unexpected::Other("integer"), &self))
        }
        fn visit_u128<E: de::Error>(self, _: u128) -> Result<Self::Value, E> {
            Err(E::invalid_type(Unexpected::Other("integer"), &self))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::invalid_type(Unexpected::Other("float"), &self))
        }
        fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
            Err(E::invalid_type(Unexpected::Other("bytes"), &self))
        }
    };
}

struct SecretText;

impl<'de> Visitor<'de> for SecretText {
    type Value = ConfigSecret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<ConfigSecret, E> {
        Ok(ConfigSecret(Secret::from(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<ConfigSecret, E> {
        Ok(ConfigSecret(Secret::from(text)))
    }

    refuse_scalars!();
}

impl<'de> Deserialize<'de> for ConfigSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `any`, not `string`: inside a tagged section (buffered by serde) a value of the wrong
        // type reaches `refuse_scalars` only this way; `string` would be refused by serde, quoted.
        deserializer.deserialize_any(SecretText)
    }
}

struct SecretList;

impl<'de> Visitor<'de> for SecretList {
    type Value = Vec<ConfigSecret>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut secrets = Vec::new();
        while let Some(secret) = seq.next_element()? {
            secrets.push(secret);
        }
        Ok(secrets)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(E::invalid_type(Unexpected::Other("string"), &self))
    }

    refuse_scalars!();
}

/// `secrets = [...]`, refused without quoting when it is not a list.
pub(super) fn secret_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ConfigSecret>, D::Error> {
    // `any`, for the reason `ConfigSecret` gives.
    deserializer.deserialize_any(SecretList)
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
pub(crate) const SECRET_TEXT_KEYS: &[&str] =
    &["token", "password", "url", "verify_token", "secret_token"];

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

/// Every key whose secret may instead be named by a `<key>_env` key holding the name of an
/// environment variable: a path of table keys, `*` standing for each element of an array.
const ENV_SECRETS: &[&[&str]] = &[
    &["store", "url"],
    &["admin", "token"],
    &["endpoint", "*", "verify", "secrets"],
    &["endpoint", "*", "verify", "password"],
    &["endpoint", "*", "verify", "credentials", "*", "password"],
    &["endpoint", "*", "handshake", "*", "verify_token"],
    &["endpoint", "*", "handshake", "*", "secret_token"],
    &["endpoint", "*", "relay", "auth", "token"],
    &["endpoint", "*", "relay", "auth", "password"],
    &["endpoint", "*", "relay", "fetch", "auth", "token"],
    &["endpoint", "*", "relay", "fetch", "auth", "password"],
];

/// Replaces every `<key>_env` of [`ENV_SECRETS`] with the secret the variable holds, before
/// the table is read into types (which then know only `<key>`). A set variable wins over the
/// inline key; `secrets_env` holds several secrets (split at commas and whitespace) that are
/// added to `secrets`. An unset or empty variable is an error naming the key, never a value.
pub(super) fn resolve_env(
    table: &mut Table,
    origin: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for pattern in ENV_SECRETS {
        resolve_at(table, pattern, String::new(), &mut |section, key, at| {
            let env_key = format!("{key}_env");
            let Some(reference) = section.remove(&env_key) else {
                return Ok(());
            };
            let error = |message: String| ConfigError {
                origin: origin.to_owned(),
                key: format!("{at}{env_key}"),
                message,
            };
            let name = reference
                .as_str()
                .ok_or_else(|| error("must be the name of an environment variable".into()))?;
            let unset = || error(format!("environment variable `{name}` is not set"));
            let value = lookup(name).ok_or_else(unset)?;
            if key == "secrets" {
                if value.trim().is_empty() {
                    return Err(unset());
                }
                let from_env = value
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned()));
                match section.get_mut(key) {
                    Some(Value::Array(secrets)) => secrets.extend(from_env),
                    _ => {
                        section.insert(key.to_owned(), Value::Array(from_env.collect()));
                    }
                }
            } else {
                if value.is_empty() {
                    return Err(unset());
                }
                section.insert(key.to_owned(), Value::String(value));
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Calls `found` with every table the pattern's parents lead to, the pattern's last key, and
/// the dotted path of that table as errors show it (`endpoint[0].verify.`).
fn resolve_at(
    table: &mut Table,
    pattern: &[&str],
    at: String,
    found: &mut impl FnMut(&mut Table, &str, &str) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    match pattern {
        [] => Ok(()),
        [key] => found(table, key, &at),
        [key, "*", rest @ ..] => {
            let Some(Value::Array(items)) = table.get_mut(*key) else {
                return Ok(());
            };
            for (i, item) in items.iter_mut().enumerate() {
                if let Value::Table(item) = item {
                    resolve_at(item, rest, format!("{at}{key}[{i}]."), found)?;
                }
            }
            Ok(())
        }
        [key, rest @ ..] => match table.get_mut(*key) {
            Some(Value::Table(inner)) => resolve_at(inner, rest, format!("{at}{key}."), found),
            _ => Ok(()),
        },
    }
}

/// Whether a JSON section names any environment variable (`*_env` keys): the inspector reads
/// no environment for its bins.
pub(crate) fn names_environment(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.ends_with("_env") || names_environment(value)),
        serde_json::Value::Array(items) => items.iter().any(names_environment),
        _ => false,
    }
}
