//! `[endpoint.verify]`: how an endpoint authenticates its senders, and the SDK [`Verifier`]
//! it builds.
//!
//! One variant per `kind`, each holding exactly the keys that kind reads: a key another kind
//! takes is refused by name instead of being silently ignored.

use std::borrow::Cow;
use std::time::Duration;

use http::HeaderName;
use receiver_sdk::verify::{
    HmacAlgorithm, HmacHeader, HmacScheme, ProviderError, SignatureEncoding, SignatureLayout,
    SignedPart, SignedTimestamp, TimestampSource, TimestampUnit, Verifier,
};
use receiver_sdk::Secret;
use serde::{Deserialize, Serialize};

use super::secret::secret_list;
use super::ConfigSecret;

/// `[endpoint.verify]`, by `kind`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum VerifyConfig {
    /// No check. (`{}`: serde lets a unit variant ignore every other key.)
    None {},
    /// HTTP Basic.
    Basic(BasicVerify),
    /// A static token in a header.
    Token(TokenVerify),
    /// HMAC-SHA256 of the body in a configurable header.
    HmacSha256(HmacVerify),
    /// GitHub's `X-Hub-Signature-256`.
    Github(Signing),
    /// SuperOffice's `X-SuperOffice-Signature`.
    Superoffice(Signing),
    /// Shopify's `X-Shopify-Hmac-Sha256`.
    Shopify(Signing),
    /// Standard Webhooks / Svix.
    StandardWebhooks(TimestampedSigning),
    /// Stripe's `Stripe-Signature`.
    Stripe(TimestampedSigning),
    /// Slack's `X-Slack-Signature`.
    Slack(TimestampedSigning),
    /// A sender we do not ship, described here: see [`CustomVerify`].
    Custom(CustomVerify),
    /// Any other sender of the SDK's provider catalogue, by its name (`kind = "zoom"`,
    /// `kind = "coinbase-commerce"`); see [`receiver_sdk::verify::providers`]. Read and
    /// written by `deserialize_verify` and `serialize_verify`, which hand every other kind
    /// to the derived tagged form.
    #[serde(skip)]
    Provider(ProviderVerify),
}

impl Default for VerifyConfig {
    fn default() -> Self {
        Self::None {}
    }
}

/// `kind = "basic"`: one user, or several in `credentials`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicVerify {
    /// The realm of the challenge; unset: `webhooks`.
    #[serde(default)]
    pub realm: Option<String>,
    /// One user.
    #[serde(default)]
    pub user: Option<String>,
    /// That user's password.
    #[serde(default)]
    pub password: Option<ConfigSecret>,
    /// Several users (or one user with several passwords, for rotation).
    #[serde(default)]
    pub credentials: Vec<Credential>,
}

/// One Basic auth user of `credentials`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: ConfigSecret,
}

/// `kind = "token"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenVerify {
    /// The header carrying the token; unset: `Authorization` (`Bearer` accepted).
    #[serde(default)]
    pub header: Option<String>,
    /// The accepted tokens.
    #[serde(default, deserialize_with = "secret_list")]
    pub secrets: Vec<ConfigSecret>,
}

/// `kind = "hmac-sha256"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacVerify {
    /// The header carrying the signature.
    pub header: String,
    /// Text before the signature (`sha256=`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// How the signature is written; unset: hex.
    #[serde(default)]
    pub encoding: Option<SignatureEncoding>,
    /// Signing secrets (several for rotation).
    #[serde(default, deserialize_with = "secret_list")]
    pub secrets: Vec<ConfigSecret>,
}

/// `kind = "custom"`: an HMAC scheme described in configuration, for a sender the catalogue does
/// not have.
///
/// ```toml
/// [endpoint.verify]
/// kind = "custom"
/// algorithm = "sha256"                  # sha1 | sha256 | sha512
/// signed = "{timestamp}.{body}"         # {body} {timestamp} {header:NAME} {method} {url} {form}
/// header = "X-Acme-Signature"
/// separator = ","                       # a list such as `t=..,v1=..`: its separator,
/// signature_key = "v1"                  # the key of the signatures,
/// timestamp_key = "t"                   # and the key of the timestamp
/// encoding = "hex"                      # hex | base64
/// secrets_env = "ACME_SECRET"
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomVerify {
    /// The hash; unset: SHA-256.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// The signed string as a template; unset: `{body}`.
    #[serde(default = "body_only")]
    pub signed: String,
    /// The header carrying the signature.
    pub header: String,
    /// Text before a single signature (`sha256=`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// For a header that lists `key=value` items: what separates them.
    #[serde(default)]
    pub separator: Option<char>,
    /// For a list: the key of the signature items (several are accepted).
    #[serde(default)]
    pub signature_key: Option<String>,
    /// How each signature is written; unset: hex.
    #[serde(default)]
    pub encoding: Option<SignatureEncoding>,
    /// The header carrying the signed timestamp.
    #[serde(default)]
    pub timestamp_header: Option<String>,
    /// For a list: the key of the timestamp item.
    #[serde(default)]
    pub timestamp_key: Option<String>,
    /// What the timestamp counts; unset: seconds.
    #[serde(default)]
    pub timestamp_unit: Unit,
    /// Accepted clock skew; unset: the SDK's default.
    #[serde(default)]
    pub tolerance_secs: Option<u64>,
    /// Signing secrets (several for rotation).
    #[serde(default, deserialize_with = "secret_list")]
    pub secrets: Vec<ConfigSecret>,
}

fn body_only() -> String {
    "{body}".to_owned()
}

/// `algorithm` of a custom scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    #[default]
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// `timestamp_unit` of a custom scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Unix seconds.
    #[default]
    Seconds,
    /// Unix milliseconds.
    Milliseconds,
}

impl CustomVerify {
    /// The SDK scheme this describes, or the key at fault and why.
    pub fn scheme(&self) -> Result<HmacScheme, (&'static str, String)> {
        let header = |key: &'static str, name: &str| {
            HeaderName::try_from(name)
                .map_err(|_| (key, format!("`{name}` is not a valid header name")))
        };
        let message =
            SignedPart::parse_template(&self.signed).map_err(|e| ("signed", e.to_string()))?;
        let layout = match (self.separator, &self.signature_key) {
            (None, None) => SignatureLayout::Plain {
                prefix: self.prefix.clone().map(Cow::Owned),
            },
            (Some(separator), Some(key)) if self.prefix.is_none() => SignatureLayout::List {
                separator,
                signature_key: Cow::Owned(key.clone()),
            },
            (Some(_), Some(_)) => {
                return Err(("prefix", "a list (`separator`) has no `prefix`".into()));
            }
            (Some(_), None) => {
                return Err((
                    "signature_key",
                    "a list (`separator`) needs `signature_key`".into(),
                ));
            }
            (None, Some(_)) => {
                return Err((
                    "separator",
                    "`signature_key` needs the list's `separator`".into(),
                ));
            }
        };
        let listed = matches!(layout, SignatureLayout::List { .. });
        let source = match (&self.timestamp_header, &self.timestamp_key) {
            (Some(name), None) => Some(TimestampSource::Header(header("timestamp_header", name)?)),
            (None, Some(key)) if listed => Some(TimestampSource::Key(Cow::Owned(key.clone()))),
            (None, Some(_)) => {
                return Err((
                    "timestamp_key",
                    "`timestamp_key` is an item of a list: set `separator` and `signature_key`"
                        .into(),
                ));
            }
            (Some(_), Some(_)) => {
                return Err((
                    "timestamp_key",
                    "give `timestamp_header` or `timestamp_key`, not both".into(),
                ));
            }
            (None, None) => None,
        };
        let signs_timestamp = message.contains(&SignedPart::Timestamp);
        if signs_timestamp != source.is_some() {
            let problem = if signs_timestamp {
                "`{timestamp}` is signed but neither `timestamp_header` nor `timestamp_key` says where it is"
            } else {
                "a timestamp is read but `{timestamp}` is not in the signed string, so it would go unchecked"
            };
            return Err(("signed", problem.into()));
        }
        Ok(HmacScheme {
            algorithm: match self.algorithm {
                Algorithm::Sha1 => HmacAlgorithm::Sha1,
                Algorithm::Sha256 => HmacAlgorithm::Sha256,
                Algorithm::Sha512 => HmacAlgorithm::Sha512,
            },
            message: message.into(),
            header: header("header", &self.header)?,
            layout,
            encoding: self.encoding.unwrap_or(SignatureEncoding::Hex),
            timestamp: source.map(|source| SignedTimestamp {
                source,
                unit: match self.timestamp_unit {
                    Unit::Seconds => TimestampUnit::Seconds,
                    Unit::Milliseconds => TimestampUnit::Milliseconds,
                },
            }),
        })
    }
}

/// A scheme whose only setting is its secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// Signing secrets (several for rotation).
    #[serde(default, deserialize_with = "secret_list")]
    pub secrets: Vec<ConfigSecret>,
}

/// A scheme that signs a timestamp too.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampedSigning {
    /// Signing secrets (several for rotation).
    #[serde(default, deserialize_with = "secret_list")]
    pub secrets: Vec<ConfigSecret>,
    /// Accepted clock skew; unset: the SDK's default.
    #[serde(default)]
    pub tolerance_secs: Option<u64>,
}

/// `kind = "<provider>"`: a sender of the SDK's catalogue, verified as its documentation says.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderVerify {
    /// The provider's name, one of [`receiver_sdk::verify::providers`].
    #[serde(deserialize_with = "provider_name")]
    pub kind: String,
    /// Signing secrets, tokens or public keys, as the sender's dashboard shows them (several
    /// for rotation).
    #[serde(default, deserialize_with = "secret_list")]
    pub secrets: Vec<ConfigSecret>,
    /// Accepted clock skew, for senders that sign a timestamp; unset: the SDK's default.
    #[serde(default)]
    pub tolerance_secs: Option<u64>,
}

/// The kinds this section takes besides the catalogue's: the schemes with settings of their own.
const OWN_KINDS: &[&str] = &[
    "none",
    "basic",
    "token",
    "hmac-sha256",
    "github",
    "superoffice",
    "shopify",
    "standard-webhooks",
    "stripe",
    "slack",
    "custom",
];

/// Reads `[endpoint.verify]`: a catalogue provider's name as [`ProviderVerify`], any other kind
/// as the tagged enum, so each keeps its own precise refusals (an unknown key named).
pub(crate) fn deserialize_verify<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<VerifyConfig, D::Error> {
    use serde::de::Error as _;
    let value = serde_json::Value::deserialize(deserializer)?;
    let own = match value.get("kind").and_then(serde_json::Value::as_str) {
        Some(kind) => OWN_KINDS.contains(&kind),
        None => true,
    };
    if own {
        VerifyConfig::deserialize(value).map_err(D::Error::custom)
    } else {
        ProviderVerify::deserialize(value)
            .map(VerifyConfig::Provider)
            .map_err(D::Error::custom)
    }
}

/// Writes `[endpoint.verify]`: a catalogue provider as its own table (`kind` is its name), any
/// other kind in the derived tagged form.
pub(crate) fn serialize_verify<T, S>(verify: &T, serializer: S) -> Result<S::Ok, S::Error>
where
    T: std::borrow::Borrow<VerifyConfig>,
    S: serde::Serializer,
{
    match verify.borrow() {
        VerifyConfig::Provider(provider) => provider.serialize(serializer),
        other => other.serialize(serializer),
    }
}

fn provider_name<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let name = String::deserialize(deserializer)?;
    if receiver_sdk::verify::providers().any(|known| known == name) {
        return Ok(name);
    }
    Err(serde::de::Error::custom(format!(
        "unknown verify kind {name:?}; expected one of {}",
        verify_kinds().join(", ")
    )))
}

/// Every `kind` of `[endpoint.verify]`: the built-in ones, then the catalogue's other senders.
pub fn verify_kinds() -> Vec<&'static str> {
    let others = receiver_sdk::verify::providers().filter(|name| !OWN_KINDS.contains(name));
    OWN_KINDS.iter().copied().chain(others).collect()
}

/// Why a verify section builds no [`Verifier`].
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A header name the scheme would read is not one.
    #[error("`{0}` is not a valid header name")]
    HeaderName(String),
    /// The SDK does not know the provider, or refused its secrets.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The SDK refused the secrets or credentials.
    #[error(transparent)]
    Verifier(#[from] receiver_sdk::verify::SecretError),
    /// A custom scheme's settings do not describe one.
    #[error("`{key}`: {problem}")]
    Custom {
        /// The key at fault.
        key: &'static str,
        /// Why.
        problem: String,
    },
}

impl VerifyConfig {
    /// The `kind`, as written in the config.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::None {} => "none",
            Self::Basic(_) => "basic",
            Self::Token(_) => "token",
            Self::HmacSha256(_) => "hmac-sha256",
            Self::Github(_) => "github",
            Self::Superoffice(_) => "superoffice",
            Self::Shopify(_) => "shopify",
            Self::StandardWebhooks(_) => "standard-webhooks",
            Self::Stripe(_) => "stripe",
            Self::Slack(_) => "slack",
            Self::Custom(_) => "custom",
            Self::Provider(provider) => receiver_sdk::verify::providers()
                .find(|name| *name == provider.kind)
                .unwrap_or("provider"),
        }
    }

    /// The signing secrets or accepted tokens, for the kinds that take them.
    pub fn secrets(&self) -> Option<&[ConfigSecret]> {
        match self {
            Self::None {} | Self::Basic(_) => None,
            Self::Token(token) => Some(&token.secrets),
            Self::HmacSha256(hmac) => Some(&hmac.secrets),
            Self::Github(signing) | Self::Superoffice(signing) | Self::Shopify(signing) => {
                Some(&signing.secrets)
            }
            Self::StandardWebhooks(signing) | Self::Stripe(signing) | Self::Slack(signing) => {
                Some(&signing.secrets)
            }
            Self::Custom(custom) => Some(&custom.secrets),
            Self::Provider(provider) => Some(&provider.secrets),
        }
    }

    /// The SDK verifier this section describes.
    pub fn build(&self) -> Result<Verifier, BuildError> {
        let secrets = |secrets: &[ConfigSecret]| -> Vec<Secret> {
            secrets.iter().map(|s| s.0.clone()).collect()
        };
        let header = |name: &str| {
            HeaderName::try_from(name).map_err(|_| BuildError::HeaderName(name.to_owned()))
        };
        let timestamped = |verifier: Verifier, tolerance_secs: Option<u64>| match tolerance_secs {
            Some(secs) => verifier.with_tolerance(Duration::from_secs(secs)),
            None => verifier,
        };
        Ok(match self {
            Self::None {} => Verifier::none(),
            Self::Basic(basic) => Verifier::basic(
                basic.realm.clone().unwrap_or_else(|| "webhooks".into()),
                basic.credentials(),
            )?,
            Self::Token(token) => Verifier::token(
                header(token.header.as_deref().unwrap_or("authorization"))?,
                secrets(&token.secrets),
            )?,
            Self::HmacSha256(hmac) => {
                let format = HmacHeader {
                    header: header(&hmac.header)?,
                    prefix: hmac.prefix.clone(),
                    encoding: hmac.encoding.unwrap_or(SignatureEncoding::Hex),
                };
                Verifier::hmac_sha256(format, secrets(&hmac.secrets))?
            }
            Self::Github(signing) => Verifier::github(secrets(&signing.secrets))?,
            Self::Superoffice(signing) => Verifier::superoffice(secrets(&signing.secrets))?,
            Self::Shopify(signing) => Verifier::shopify(secrets(&signing.secrets))?,
            Self::StandardWebhooks(signing) => {
                let texts: Vec<String> = signing.secrets.iter().map(ConfigSecret::text).collect();
                timestamped(Verifier::standard_webhooks(texts)?, signing.tolerance_secs)
            }
            Self::Stripe(signing) => timestamped(
                Verifier::stripe(secrets(&signing.secrets))?,
                signing.tolerance_secs,
            ),
            Self::Slack(signing) => timestamped(
                Verifier::slack(secrets(&signing.secrets))?,
                signing.tolerance_secs,
            ),
            Self::Custom(custom) => {
                let scheme = custom
                    .scheme()
                    .map_err(|(key, problem)| BuildError::Custom { key, problem })?;
                timestamped(
                    Verifier::hmac(scheme, secrets(&custom.secrets))?,
                    custom.tolerance_secs,
                )
            }
            Self::Provider(provider) => timestamped(
                Verifier::provider(&provider.kind, secrets(&provider.secrets))?,
                provider.tolerance_secs,
            ),
        })
    }

    /// What serde cannot see: a signing kind with no secret, a Basic user without a password.
    /// The key is relative to the section.
    pub(super) fn check(&self) -> Result<(), (&'static str, String)> {
        if self.secrets().is_some_and(<[ConfigSecret]>::is_empty) {
            return Err((
                "secrets",
                format!("kind `{}` needs `secrets` or `secrets_env`", self.scheme()),
            ));
        }
        if let Self::Custom(custom) = self {
            custom.scheme()?;
        }
        if let Self::Basic(basic) = self {
            if basic.user.is_some() != basic.password.is_some() {
                return Err((
                    "password",
                    "kind `basic` needs both `user` and `password` (or `password_env`)".into(),
                ));
            }
            if basic.user.is_none() && basic.credentials.is_empty() {
                return Err((
                    "user",
                    "kind `basic` needs `user` and `password`, or `credentials`".into(),
                ));
            }
        }
        Ok(())
    }
}

impl BasicVerify {
    /// The accepted pairs, from `user`/`password` and `credentials`.
    pub fn credentials(&self) -> Vec<(String, Secret)> {
        let single = self
            .user
            .clone()
            .zip(self.password.clone())
            .map(|(user, password)| (user, password.0));
        single
            .into_iter()
            .chain(
                self.credentials
                    .iter()
                    .map(|c| (c.user.clone(), c.password.0.clone())),
            )
            .collect()
    }
}
