//! `[[endpoint.handshake]]`: the setup handshakes an endpoint answers, and the SDK
//! [`Handshake`]s they build.
//!
//! A verify kind whose sender has a handshake answers it without being asked ([`implied`]);
//! the list adds the handshakes that need settings (Meta's verify token, CloudEvents' origins)
//! or whose sender signs nothing (Microsoft Graph), and replaces an implied one of the same
//! name. One function, [`handshakes`], decides for endpoints and inspector bins alike.

use std::io::Write as _;
use std::num::NonZeroU32;
use std::path::PathBuf;

use receiver_sdk::handshake::{Handshake, KeepError};
use receiver_sdk::Secret;
use serde::{Deserialize, Serialize};

use super::{ConfigSecret, VerifyConfig};

/// One `[[endpoint.handshake]]`, by `name`. Each variant holds exactly the keys its sender
/// needs, so a key of another is refused by name, and an unknown name lists the known ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case", deny_unknown_fields)]
pub enum HandshakeConfig {
    /// The CloudEvents webhook spec's `OPTIONS` abuse protection (Azure Event Grid).
    CloudEvents {
        /// The origins (`WebHook-Request-Origin`) allowed to deliver; `["*"]` allows any.
        origins: Vec<String>,
        /// Requests a minute granted in `WebHook-Allowed-Rate`; unset: `*`.
        #[serde(default)]
        rate: Option<NonZeroU32>,
    },
    /// Microsoft Graph's `?validationToken=` echo.
    MicrosoftGraph {},
    /// Meta's (Facebook, WhatsApp, Instagram) `hub.challenge`, for the right verify token.
    Meta {
        /// The verify token typed into Meta's dashboard (or `verify_token_env`).
        verify_token: ConfigSecret,
    },
    /// Dropbox's `?challenge=` echo.
    Dropbox {},
    /// Okta's `X-Okta-Verification-Challenge`.
    Okta {},
    /// Slack's signed `url_verification`.
    Slack {},
    /// Zoom's signed `endpoint.url_validation`.
    Zoom {
        /// The app's secret token (or `secret_token_env`); unset: the first verify secret.
        #[serde(default)]
        secret_token: Option<ConfigSecret>,
    },
    /// Discord's signed interactions PING.
    Discord {},
    /// Asana's `X-Hook-Secret` confirmation.
    Asana {
        /// Which offered secrets are answered.
        #[serde(default)]
        accept: AsanaAccept,
        /// With `accept = "any"`: a file each accepted secret is appended to (created
        /// owner-only), to be configured as the verify secret; unset, only its fingerprint is
        /// logged.
        #[serde(default)]
        save_to: Option<PathBuf>,
    },
    /// Trello's `HEAD` on the callback URL.
    Trello {},
    /// Twitch EventSub's signed `webhook_callback_verification`.
    Twitch {},
}

/// `accept` of an Asana handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AsanaAccept {
    /// Only a secret equal to one of the endpoint's verify secrets: no one else can attach a
    /// webhook to the endpoint.
    #[default]
    Configured,
    /// Any secret, while the endpoint is being set up (the secret exists only once Asana
    /// creates the webhook).
    Any,
}

impl HandshakeConfig {
    /// The handshake's name, as written in the config.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CloudEvents { .. } => "cloud-events",
            Self::MicrosoftGraph {} => "microsoft-graph",
            Self::Meta { .. } => "meta",
            Self::Dropbox {} => "dropbox",
            Self::Okta {} => "okta",
            Self::Slack {} => "slack",
            Self::Zoom { .. } => "zoom",
            Self::Discord {} => "discord",
            Self::Asana { .. } => "asana",
            Self::Trello {} => "trello",
            Self::Twitch {} => "twitch",
        }
    }

    /// Whether the handshake is judged by the endpoint's verifier (its challenge is signed),
    /// so an endpoint without one would answer anybody.
    fn is_signed(&self) -> bool {
        matches!(
            self,
            Self::Slack {} | Self::Zoom { .. } | Self::Discord {} | Self::Twitch {}
        )
    }

    fn build(&self, verify: &VerifyConfig) -> Handshake {
        let verify_secrets = || -> Vec<Secret> {
            let secrets = verify.secrets().unwrap_or_default();
            secrets.iter().map(|s| s.0.clone()).collect()
        };
        match self {
            Self::CloudEvents { origins, rate } => match rate {
                Some(rate) => Handshake::cloud_events_limited(origins.clone(), *rate),
                None => Handshake::cloud_events(origins.clone()),
            },
            Self::MicrosoftGraph {} => Handshake::microsoft_graph(),
            Self::Meta { verify_token } => Handshake::meta(verify_token.0.clone()),
            Self::Dropbox {} => Handshake::dropbox(),
            Self::Okta {} => Handshake::okta(),
            Self::Slack {} => Handshake::slack(),
            Self::Zoom { secret_token } => {
                let token = secret_token.as_ref().map(|t| t.0.clone());
                // `check` makes sure there is one or the other.
                let token = token.or_else(|| verify_secrets().into_iter().next());
                Handshake::zoom(token.unwrap_or_else(|| Secret::new(Vec::new())))
            }
            Self::Discord {} => Handshake::discord(),
            Self::Asana { accept, save_to } => match (accept, save_to) {
                (AsanaAccept::Configured, _) => Handshake::asana_expecting(verify_secrets()),
                (AsanaAccept::Any, None) => Handshake::asana(),
                (AsanaAccept::Any, Some(path)) => {
                    let path = path.clone();
                    Handshake::asana_with(move |secret: &Secret| keep(&path, secret))
                }
            },
            Self::Trello {} => Handshake::trello(),
            Self::Twitch {} => Handshake::twitch(),
        }
    }

    /// What serde cannot see, relative to the entry: a signed handshake on an endpoint that
    /// verifies nothing, a secret the handshake would need and cannot find.
    pub(crate) fn check(&self, verify: &VerifyConfig) -> Result<(), (&'static str, String)> {
        let name = self.name();
        if self.is_signed() && matches!(verify, VerifyConfig::None {}) {
            return Err((
                "name",
                format!(
                    "the {name} handshake is signed: set [endpoint.verify] kind = \"{name}\" \
                     so a forged one is refused"
                ),
            ));
        }
        let no_verify_secret = verify.secrets().is_none_or(<[ConfigSecret]>::is_empty);
        match self {
            Self::Zoom { secret_token: None } if no_verify_secret => Err((
                "secret_token",
                "needs `secret_token` (or `secret_token_env`), or a verify secret".into(),
            )),
            Self::Asana {
                accept: AsanaAccept::Configured,
                ..
            } if verify.scheme() != "asana" => Err((
                "accept",
                "accept = \"configured\" answers only the secrets of [endpoint.verify] kind = \
                 \"asana\"; while setting up, use accept = \"any\""
                    .into(),
            )),
            Self::Asana {
                accept: AsanaAccept::Configured,
                save_to: Some(_),
            } => Err((
                "save_to",
                "only with accept = \"any\": a configured secret is already known".into(),
            )),
            Self::CloudEvents { origins, .. } if origins.is_empty() => Err((
                "origins",
                "needs at least one origin (or \"*\" for any)".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// The handshake a verify kind implies: its sender's, with the settings it takes from the
/// verify section (Zoom's secret token, Asana's known secrets). `None` for a kind whose
/// sender has no handshake, or one that needs settings of its own (Meta's verify token).
pub fn implied(verify: &VerifyConfig) -> Option<HandshakeConfig> {
    Some(match verify.scheme() {
        "slack" => HandshakeConfig::Slack {},
        "zoom" => HandshakeConfig::Zoom { secret_token: None },
        "discord" => HandshakeConfig::Discord {},
        "okta" => HandshakeConfig::Okta {},
        "dropbox" => HandshakeConfig::Dropbox {},
        "asana" => HandshakeConfig::Asana {
            accept: AsanaAccept::Configured,
            save_to: None,
        },
        "trello" => HandshakeConfig::Trello {},
        "twitch" => HandshakeConfig::Twitch {},
        "microsoft-graph" => HandshakeConfig::MicrosoftGraph {},
        _ => return None,
    })
}

/// The handshakes an endpoint (or bin) answers, in the order they are tried: the listed ones,
/// then the one its verify kind implies unless one of that name is listed (or `implied` is
/// off).
pub fn handshakes(
    verify: &VerifyConfig,
    listed: &[HandshakeConfig],
    implied_on: bool,
) -> Vec<Handshake> {
    let implied = implied(verify)
        .filter(|_| implied_on)
        .filter(|own| listed.iter().all(|h| h.name() != own.name()));
    listed
        .iter()
        .chain(implied.as_ref())
        .map(|handshake| handshake.build(verify))
        .collect()
}

/// Appends an accepted Asana secret to `path`, creating it readable by its owner only.
fn keep(path: &std::path::Path, secret: &Secret) -> Result<(), KeepError> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(secret.expose())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    tracing::warn!(path = %path.display(), "asana secret saved: configure it as the endpoint's \
        verify secret (kind = \"asana\") and set accept = \"configured\"");
    Ok(())
}
