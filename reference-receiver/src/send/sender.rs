//! Each sender's headers, signed with the SDK's own [`sign`] helpers so that `send` signs
//! exactly as the verifiers expect and the two can never drift apart; and the `Facts` of a
//! delivery, which its headers and its sample payload (`sample`) both read.

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderName, HeaderValue};
use receiver_sdk::verify::sign;
use receiver_sdk::Secret;

/// A sender whose deliveries `send` imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Sender {
    /// Sonar: no signature (the URL is the secret); its HEAD probe with --head.
    Sonar,
    /// SuperOffice: X-SuperOffice-Event and -EventId, X-SuperOffice-Signature with a secret.
    Superoffice,
    /// Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature (whsec_ secret).
    StandardWebhooks,
    /// Svix: the Standard Webhooks scheme under svix-id, svix-timestamp, svix-signature.
    Svix,
    /// GitHub: X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256 with a secret.
    Github,
    /// Stripe: Stripe-Signature (t=...,v1=...).
    Stripe,
    /// Shopify: X-Shopify-Topic, X-Shopify-Hmac-Sha256.
    Shopify,
    /// Slack: X-Slack-Request-Timestamp, X-Slack-Signature.
    Slack,
    /// HTTP Basic auth from --user and --password.
    Basic,
    /// A static token in a header (--header; by default Authorization: Bearer).
    Token,
    /// No authentication.
    Plain,
}

/// Whether a sender signs with a secret (or sends it as a token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SecretUse {
    /// It cannot send without one.
    Required,
    /// It signs when its webhook has a secret and sends unsigned otherwise.
    Optional,
    /// It has no use for one.
    Unused,
}

/// The credentials a delivery carries.
#[derive(Debug, Clone)]
pub(super) enum Credentials {
    /// None (or a HEAD probe, which carries none).
    None,
    /// A signing secret, or the token for [`Sender::Token`].
    Secret(Secret),
    /// A Basic auth user and password.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
}

/// Headers in the order they are sent.
pub(super) type Headers = Vec<(HeaderName, HeaderValue)>;

/// What a delivery is about, shared by its payload and its headers.
#[derive(Debug, Clone)]
pub(super) struct Facts {
    /// The delivery id, for senders that send one.
    pub(super) id: Option<String>,
    /// The event type (GitHub's `X-GitHub-Event`, Shopify's topic, Sonar's `event`, ...).
    pub(super) event: String,
    /// When the event happened; its whole seconds are also the signing timestamp.
    pub(super) at: DateTime<Utc>,
    /// A SuperOffice registration test.
    pub(super) test: bool,
}

impl Sender {
    /// The name used on the command line.
    pub(super) fn name(self) -> String {
        self.to_possible_value()
            .map(|value| value.get_name().to_owned())
            .unwrap_or_default()
    }

    /// The event the sample payload describes unless --event says otherwise.
    pub(super) fn default_event(self) -> &'static str {
        match self {
            Self::Sonar => "account.status",
            Self::Superoffice => "contact.changed",
            Self::StandardWebhooks | Self::Svix => "invoice.paid",
            Self::Github => "issues",
            Self::Stripe => "payment_intent.succeeded",
            Self::Shopify => "orders/create",
            Self::Slack => "app_mention",
            Self::Basic | Self::Token | Self::Plain => "UPDATE",
        }
    }

    /// Whether the sender signs with, or sends, a secret.
    pub(super) fn secret_use(self) -> SecretUse {
        match self {
            Self::StandardWebhooks
            | Self::Svix
            | Self::Stripe
            | Self::Shopify
            | Self::Slack
            | Self::Token => SecretUse::Required,
            Self::Superoffice | Self::Github => SecretUse::Optional,
            Self::Sonar | Self::Basic | Self::Plain => SecretUse::Unused,
        }
    }

    /// The `User-Agent` the sender is known to send; others send ours.
    fn user_agent(self) -> Option<&'static str> {
        match self {
            // GitHub appends a build id; ours says who really sent it.
            Self::Github => Some("GitHub-Hookshot/reference-receiver"),
            Self::Stripe => Some("Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
            Self::Shopify => Some("Shopify-Captain-Hook"),
            Self::Slack => Some("Slackbot 1.0 (+https://api.slack.com/robots)"),
            _ => None,
        }
    }

    /// The headers of a HEAD probe: who is asking, and nothing to verify.
    pub(super) fn probe_headers(self) -> Headers {
        self.user_agent()
            .map(|agent| (USER_AGENT, HeaderValue::from_static(agent)))
            .into_iter()
            .collect()
    }

    /// Every header of a POST of `body`, signatures included.
    ///
    /// `token_header` is where [`Sender::Token`] puts its token.
    pub(super) fn headers(
        self,
        facts: &Facts,
        credentials: &Credentials,
        token_header: &HeaderName,
        body: &[u8],
    ) -> anyhow::Result<Headers> {
        let mut headers = vec![(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        headers.extend(self.probe_headers());
        let mut add = |name: &'static str, value: String| -> anyhow::Result<()> {
            let value = HeaderValue::try_from(value)
                .map_err(|_| anyhow::anyhow!("the {name} header would not be a valid value"))?;
            headers.push((HeaderName::from_static(name), value));
            Ok(())
        };
        let secret = match credentials {
            Credentials::Secret(secret) => Some(secret.expose()),
            Credentials::None | Credentials::Basic { .. } => None,
        };
        let id = facts.id.clone().unwrap_or_default();
        let timestamp = u64::try_from(facts.at.timestamp())
            .map_err(|_| anyhow::anyhow!("the signing timestamp is before 1970"))?;
        match self {
            Self::Sonar | Self::Plain => {}
            Self::Superoffice => {
                let event = if facts.test { "test" } else { &facts.event };
                add("x-superoffice-event", event.to_owned())?;
                add("x-superoffice-eventid", id)?;
                if facts.test {
                    add("x-hook-test", "true".to_owned())?;
                }
                if let Some(secret) = secret {
                    add("x-superoffice-signature", sign::superoffice(secret, body))?;
                }
            }
            Self::StandardWebhooks | Self::Svix => {
                let secret = std::str::from_utf8(secret.unwrap_or_default())
                    .map_err(|_| anyhow::anyhow!("the secret is not UTF-8 text"))?;
                let signature = sign::standard_webhooks(secret, &id, timestamp, body)
                    .map_err(|e| anyhow::anyhow!("cannot sign with this secret: {e}"))?;
                let svix = self == Self::Svix;
                add(if svix { "svix-id" } else { "webhook-id" }, id)?;
                let timestamp = timestamp.to_string();
                add(
                    if svix {
                        "svix-timestamp"
                    } else {
                        "webhook-timestamp"
                    },
                    timestamp,
                )?;
                add(
                    if svix {
                        "svix-signature"
                    } else {
                        "webhook-signature"
                    },
                    signature,
                )?;
            }
            Self::Github => {
                add("x-github-event", facts.event.clone())?;
                add("x-github-delivery", id)?;
                add("x-github-hook-id", "1".to_owned())?;
                add(
                    "x-github-hook-installation-target-type",
                    "repository".to_owned(),
                )?;
                add("x-github-hook-installation-target-id", "1296269".to_owned())?;
                // GitHub also sends the legacy SHA-1 `X-Hub-Signature`; it recommends the
                // SHA-256 one, which is all the SDK verifies, so only that one is sent.
                if let Some(secret) = secret {
                    add("x-hub-signature-256", sign::github(secret, body))?;
                }
            }
            Self::Stripe => {
                let secret = secret.unwrap_or_default();
                add("stripe-signature", sign::stripe(secret, timestamp, body))?;
            }
            Self::Shopify => {
                add("x-shopify-topic", facts.event.clone())?;
                add(
                    "x-shopify-hmac-sha256",
                    sign::shopify(secret.unwrap_or_default(), body),
                )?;
                add("x-shopify-shop-domain", "example.myshopify.com".to_owned())?;
                add("x-shopify-api-version", "2024-10".to_owned())?;
                add("x-shopify-webhook-id", id)?;
                let at = facts
                    .at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                add("x-shopify-triggered-at", at)?;
            }
            Self::Slack => {
                add("x-slack-request-timestamp", timestamp.to_string())?;
                let secret = secret.unwrap_or_default();
                add("x-slack-signature", sign::slack(secret, timestamp, body))?;
            }
            Self::Basic => {
                if let Credentials::Basic { user, password } = credentials {
                    let password = std::str::from_utf8(password.expose())
                        .map_err(|_| anyhow::anyhow!("the password is not UTF-8 text"))?;
                    headers.push((AUTHORIZATION, sensitive(sign::basic(user, password))?));
                }
            }
            Self::Token => {
                let token = secret.unwrap_or_default();
                let value = if token_header == AUTHORIZATION {
                    [b"Bearer ".as_slice(), token].concat()
                } else {
                    token.to_vec()
                };
                headers.push((token_header.clone(), sensitive(value)?));
            }
        }
        Ok(headers)
    }
}

/// A header value that carries a credential: marked sensitive so it is never printed.
fn sensitive(value: impl AsRef<[u8]>) -> anyhow::Result<HeaderValue> {
    // The error must not quote the value: it is the credential.
    let mut value = HeaderValue::from_bytes(value.as_ref())
        .map_err(|_| anyhow::anyhow!("the credential contains characters a header cannot"))?;
    value.set_sensitive(true);
    Ok(value)
}
