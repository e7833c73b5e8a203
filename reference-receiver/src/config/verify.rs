//! `[endpoint.verify]`: how an endpoint authenticates its senders.

use receiver_sdk::Secret;
use serde::{Deserialize, Serialize};

use super::ConfigSecret;

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

impl VerifyConfig {
    pub(super) fn check(&self) -> Result<(), (String, String)> {
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
