//! What a sender is, as data: its sample payload, the headers it adds, how it signs, and its
//! setup handshake. Each sender is one [`Profile`] in `senders.rs`; signatures come from the
//! SDK's own [`sign`] helpers so that `send` signs exactly as the verifiers expect and the two
//! can never drift apart.

use chrono::{DateTime, Utc};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderName, HeaderValue};
use receiver_sdk::verify::sign;
use receiver_sdk::Secret;

use super::handshake::Handshake;
use super::sample;
use super::senders::SENDERS;

/// A sender whose deliveries `send` imitates: one of the catalogue's providers, or one of the
/// senders without a scheme of their own (`sonar`, `basic`, `token`, `plain`, ...).
#[derive(Clone, Copy)]
pub struct Sender(&'static Profile);

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sender").field(&self.0.name).finish()
    }
}

impl PartialEq for Sender {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Sender {}

impl Sender {
    /// The sender called `name` on the command line, if there is one.
    pub fn named(name: &str) -> Option<Self> {
        SENDERS
            .iter()
            .find(|profile| profile.name == name)
            .map(Self)
    }

    /// Every sender, in the order `--help` lists them.
    pub fn all() -> impl Iterator<Item = Self> {
        SENDERS.iter().map(Self)
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// Whether `--handshake` has a setup handshake to send for this sender.
    pub fn has_handshake(self) -> bool {
        self.0.handshake.is_some()
    }

    /// The same sender posting its JSON form (`--json`), if it has one besides its default.
    pub(super) fn json(self) -> Option<Self> {
        self.0.json.map(Self)
    }

    pub(super) fn profile(self) -> &'static Profile {
        self.0
    }

    /// The parser of `--as`: the senders' names, each with its line of help.
    pub(super) fn parser() -> impl TypedValueParser<Value = Self> {
        let names = SENDERS
            .iter()
            .map(|profile| PossibleValue::new(profile.name).help(profile.help));
        PossibleValuesParser::new(names).try_map(|name| {
            Self::named(&name).ok_or_else(|| format!("there is no sender called {name}"))
        })
    }
}

/// One sender, described as data.
pub(super) struct Profile {
    /// The name after `--as`: for a catalogue provider, its name in the catalogue.
    pub(super) name: &'static str,
    /// One line for `--help`: what it sends and which key `--secret` is.
    pub(super) help: &'static str,
    /// Its sample payload.
    pub(super) sample: Sample,
    /// The form of its delivery ids, or `None` when it sends none.
    pub(super) id: Option<IdForm>,
    /// The `User-Agent` it sends; without one, ours is sent.
    pub(super) user_agent: Option<&'static str>,
    /// The `Content-Type` of its deliveries.
    pub(super) content_type: &'static str,
    /// Headers it adds, as templates over the delivery's facts (see `sample::render`).
    pub(super) headers: &'static [(&'static str, &'static str)],
    /// Its signatures, each in a header of its own (GitHub sends two).
    pub(super) signatures: &'static [Signing],
    /// Whether it needs a secret.
    pub(super) secret: SecretUse,
    /// The header and value that mark a registration test (`--test`).
    pub(super) test: Option<(&'static str, &'static str)>,
    /// Its setup handshake, sent with `--handshake`.
    pub(super) handshake: Option<Handshake>,
    /// How it writes its credential into a JSON body (Mailgun, Microsoft Graph), when the
    /// body rather than a header carries it.
    pub(super) in_body: Option<InBody>,
    /// How it changes the URL it posts to for the body it sends, before signing that URL:
    /// Twilio adds a JSON body's hash to the query.
    pub(super) url: Option<UrlHook>,
    /// Its JSON form, sent with `--json`, for a sender that posts forms unless told otherwise.
    pub(super) json: Option<&'static Profile>,
}

impl Profile {
    /// A sender that signs with a secret, sends JSON and no ids: the common case, which the
    /// entries in `senders.rs` start from.
    pub(super) const BASE: Self = Self {
        name: "",
        help: "",
        sample: Sample::Any {
            event: "",
            template: "{}",
        },
        id: None,
        user_agent: None,
        content_type: "application/json",
        headers: &[],
        signatures: &[],
        secret: SecretUse::Required,
        test: None,
        handshake: None,
        in_body: None,
        url: None,
        json: None,
    };

    /// The event the sample payload describes unless --event says otherwise.
    pub(super) fn default_event(&self) -> &'static str {
        match self.sample {
            Sample::Any { event, .. } => event,
            Sample::PerEvent(samples) => samples.first().map(|(event, _)| *event).unwrap_or(""),
        }
    }

    /// Whether its credentials are a Basic auth user and password.
    pub(super) fn is_basic(&self) -> bool {
        matches!(self.signatures, [Signing::Basic])
    }

    /// Whether `--header` names where its token goes.
    pub(super) fn takes_token_header(&self) -> bool {
        matches!(self.signatures, [Signing::ChosenToken])
    }

    /// What `--secret` is for this sender, for messages.
    pub(super) fn secret_kind(&self) -> &'static str {
        self.signatures
            .first()
            .map(Signing::secret_kind)
            .unwrap_or("a secret")
    }

    /// The public key the endpoint is configured with, for senders that sign with a private
    /// key: derived from the private key `secret`.
    pub(super) fn public_key(&self, secret: &Secret) -> anyhow::Result<Option<String>> {
        let key = || text(secret, "the private key");
        let public = match self.signatures.first() {
            Some(Signing::Discord) => sign::discord_public_key(key()?),
            Some(Signing::StandardWebhooksV1a { .. }) => sign::standard_webhooks_public_key(key()?),
            Some(Signing::SendGrid) => sign::sendgrid_public_key(key()?),
            _ => return Ok(None),
        };
        public
            .map(Some)
            .map_err(|problem| anyhow::anyhow!("the private key is {problem}"))
    }
}

/// A sender's sample payload: a template (see `sample::render`) included from `samples/`.
pub(super) enum Sample {
    /// One payload for every event, which names the event in a field.
    Any {
        /// The event it describes unless --event says otherwise.
        event: &'static str,
        /// The payload.
        template: &'static str,
    },
    /// A payload per event (each event has its own shape); the first is the default.
    PerEvent(&'static [(&'static str, &'static str)]),
}

/// How a sender's delivery ids look.
#[derive(Debug, Clone, Copy)]
pub(super) enum IdForm {
    /// A version 4 UUID.
    Uuid,
    /// A prefix and that many fresh bytes in lower-case hex.
    Hex(&'static str, usize),
    /// A prefix and that many fresh bytes in upper-case hex.
    UpperHex(&'static str, usize),
}

/// The unit a sender writes its signed timestamp in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    /// Unix seconds.
    Seconds,
    /// Milliseconds since the unix epoch.
    Milliseconds,
}

/// How a Standard Webhooks sender shows its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WhsecKey {
    /// `whsec_` and base64, as Svix and the Standard Webhooks libraries do.
    Base64,
    /// The raw key text, whose UTF-8 bytes are base64-encoded before signing (Polar).
    Raw,
}

/// A credential carried in the JSON body: the secret and the body, in; the body with the
/// credential written into it, out.
pub(super) type InBody = fn(&[u8], &mut serde_json::Value) -> anyhow::Result<()>;

/// A change to the URL a delivery is posted to, made from its body (see [`Profile::url`]).
pub(super) type UrlHook = fn(&mut reqwest::Url, &[u8]);

/// What a signature over the whole request sees: the URL posted to, the body, and the headers
/// made so far (the signed timestamp and id headers among them).
pub(super) struct Request<'a> {
    /// The URL the delivery is posted to, as sent.
    pub(super) url: &'a str,
    /// The body.
    pub(super) body: &'a [u8],
    headers: &'a [(HeaderName, HeaderValue)],
}

impl Request<'_> {
    /// The value of the header `name` already made for this delivery, or `""`.
    pub(super) fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(header, _)| header.as_str() == name)
            .and_then(|(_, value)| value.to_str().ok())
            .unwrap_or_default()
    }
}

/// One signature (or credential) header and how its value is made.
pub(super) enum Signing {
    /// An HMAC of the body alone.
    Body {
        /// The header it goes in.
        header: &'static str,
        /// The SDK's signer.
        sign: fn(&[u8], &[u8]) -> String,
    },
    /// An HMAC over a timestamp and the body.
    Timed {
        /// The header it goes in.
        header: &'static str,
        /// The unit of the timestamp signed.
        unit: Unit,
        /// The SDK's signer.
        sign: fn(&[u8], u64, &[u8]) -> String,
    },
    /// A signature over the request (the URL posted to, the body, headers such as a signed
    /// timestamp): Twilio, Square, HubSpot, Trello, Twitch.
    Request {
        /// The header it goes in.
        header: &'static str,
        /// The signer, over the SDK's sign helper.
        sign: fn(&[u8], &Request<'_>) -> String,
    },
    /// Standard Webhooks `v1` over `{id}.{timestamp}.{body}` (the id and timestamp headers
    /// are the profile's `headers`).
    StandardWebhooks {
        /// The header it goes in.
        header: &'static str,
        /// How the secret is given.
        key: WhsecKey,
    },
    /// Standard Webhooks `v1a` (Ed25519) with a `whsk_` secret key.
    StandardWebhooksV1a {
        /// The header it goes in.
        header: &'static str,
    },
    /// Discord's Ed25519 signature over `{timestamp}{body}`, with a hex seed.
    Discord,
    /// SendGrid's ECDSA P-256 signature over `{timestamp}{body}`, with a PKCS#8 key.
    SendGrid,
    /// The secret sent as it is in a header (a static token).
    Token {
        /// The header it goes in.
        header: &'static str,
    },
    /// The secret as a token in the header `--header` names (`Bearer` in Authorization).
    ChosenToken,
    /// HTTP Basic auth from `--user` and `--password`.
    Basic,
}

impl Signing {
    fn secret_kind(&self) -> &'static str {
        match self {
            Self::Body { .. } | Self::Timed { .. } | Self::Request { .. } => "the signing secret",
            Self::StandardWebhooks {
                key: WhsecKey::Base64,
                ..
            } => "the whsec_ signing secret",
            Self::StandardWebhooks {
                key: WhsecKey::Raw, ..
            } => "the signing secret as the dashboard shows it",
            Self::StandardWebhooksV1a { .. } => "a whsk_ secret key (the whpk_ key is printed)",
            Self::Discord => "an Ed25519 private key, a 32-byte seed in hex",
            Self::SendGrid => "a P-256 private key, PKCS#8 as base64 DER or PEM",
            Self::Token { .. } | Self::ChosenToken => "the token",
            Self::Basic => "a password",
        }
    }
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
    /// A signing secret, a private key, or a token.
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
    /// A registration test (`--test`).
    pub(super) test: bool,
}

impl Facts {
    /// The signing timestamp in `unit`.
    fn timestamp(&self, unit: Unit) -> anyhow::Result<u64> {
        let seconds = u64::try_from(self.at.timestamp())
            .map_err(|_| anyhow::anyhow!("the signing timestamp is before 1970"))?;
        Ok(match unit {
            Unit::Seconds => seconds,
            Unit::Milliseconds => seconds * 1000 + u64::from(self.at.timestamp_subsec_millis()),
        })
    }
}

impl Sender {
    /// The headers of a HEAD probe: who is asking, and nothing to verify.
    pub(super) fn probe_headers(self) -> Headers {
        self.0
            .user_agent
            .map(|agent| (USER_AGENT, HeaderValue::from_static(agent)))
            .into_iter()
            .collect()
    }

    /// `body` with the credential written into it, for a sender whose body carries it; as it
    /// is otherwise.
    pub(super) fn seal(self, credentials: &Credentials, body: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        let (Some(write), Credentials::Secret(secret)) = (self.0.in_body, credentials) else {
            return Ok(body);
        };
        let mut json: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
            anyhow::anyhow!(
                "{} carries its credential in a JSON body, and this body is not JSON",
                self.0.name
            )
        })?;
        write(secret.expose(), &mut json)?;
        Ok(serde_json::to_vec(&json)?)
    }

    /// Every header of a POST of `body` to `url`, signatures included.
    ///
    /// `token_header` is where a [`Signing::ChosenToken`] goes.
    pub(super) fn headers(
        self,
        facts: &Facts,
        credentials: &Credentials,
        token_header: &HeaderName,
        url: &str,
        body: &[u8],
    ) -> anyhow::Result<Headers> {
        let profile = self.0;
        let mut headers = vec![(CONTENT_TYPE, HeaderValue::from_static(profile.content_type))];
        headers.extend(self.probe_headers());
        for (name, template) in profile.headers {
            let value = sample::render(template, facts, sample::Escape::None)?;
            headers.push((HeaderName::from_static(name), header_value(name, value)?));
        }
        if let (true, Some((name, value))) = (facts.test, profile.test) {
            headers.push((
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            ));
        }
        if let Credentials::Basic { user, password } = credentials {
            let password = text(password, "the password")?;
            headers.push((AUTHORIZATION, sensitive(sign::basic(user, password))?));
        }
        let Credentials::Secret(secret) = credentials else {
            return Ok(headers);
        };
        for signing in profile.signatures {
            let request = Request {
                url,
                body,
                headers: &headers,
            };
            let (name, value) = signing.header(secret, facts, token_header, &request)?;
            headers.push((name, value));
        }
        Ok(headers)
    }
}

impl Signing {
    /// The header this signature goes in, and its value for `body` signed with `secret`.
    fn header(
        &self,
        secret: &Secret,
        facts: &Facts,
        token_header: &HeaderName,
        request: &Request<'_>,
    ) -> anyhow::Result<(HeaderName, HeaderValue)> {
        let key = secret.expose();
        let body = request.body;
        let seconds = || facts.timestamp(Unit::Seconds);
        let id = facts.id.as_deref().unwrap_or_default();
        let signed = |header: &'static str, value: String| {
            Ok((
                HeaderName::from_static(header),
                header_value(header, value)?,
            ))
        };
        let refused = |problem: &dyn std::fmt::Display| {
            anyhow::anyhow!("cannot sign with this key: it is {problem}")
        };
        match self {
            Self::Body { header, sign } => signed(header, sign(key, body)),
            Self::Timed { header, unit, sign } => {
                signed(header, sign(key, facts.timestamp(*unit)?, body))
            }
            Self::Request { header, sign } => signed(header, sign(key, request)),
            Self::StandardWebhooks { header, key: form } => {
                let text = match form {
                    WhsecKey::Base64 => text(secret, "the secret")?.to_owned(),
                    WhsecKey::Raw => {
                        use base64::Engine as _;
                        base64::engine::general_purpose::STANDARD.encode(key)
                    }
                };
                let value = sign::standard_webhooks(&text, id, seconds()?, body)
                    .map_err(|e| anyhow::anyhow!("cannot sign with this secret: {e}"))?;
                signed(header, value)
            }
            Self::StandardWebhooksV1a { header } => {
                let key = text(secret, "the secret key")?;
                let value = sign::standard_webhooks_v1a(key, id, seconds()?, body)
                    .map_err(|e| refused(&e))?;
                signed(header, value)
            }
            Self::Discord => {
                let key = text(secret, "the private key")?;
                let value = sign::discord(key, seconds()?, body).map_err(|e| refused(&e))?;
                signed("x-signature-ed25519", value)
            }
            Self::SendGrid => {
                let key = text(secret, "the private key")?;
                let value = sign::sendgrid(key, seconds()?, body).map_err(|e| refused(&e))?;
                signed("x-twilio-email-event-webhook-signature", value)
            }
            Self::Token { header } => Ok((HeaderName::from_static(header), sensitive(key)?)),
            Self::ChosenToken => {
                let value = if token_header == AUTHORIZATION {
                    [b"Bearer ".as_slice(), key].concat()
                } else {
                    key.to_vec()
                };
                Ok((token_header.clone(), sensitive(value)?))
            }
            Self::Basic => anyhow::bail!("Basic auth takes --user and --password"),
        }
    }
}

/// `secret` as UTF-8 text, which keys written as text (base64, hex, PEM) must be.
fn text<'s>(secret: &'s Secret, what: &str) -> anyhow::Result<&'s str> {
    std::str::from_utf8(secret.expose()).map_err(|_| anyhow::anyhow!("{what} is not UTF-8 text"))
}

fn header_value(name: &str, value: String) -> anyhow::Result<HeaderValue> {
    HeaderValue::try_from(value)
        .map_err(|_| anyhow::anyhow!("the {name} header would not be a valid value"))
}

/// A header value that carries a credential: marked sensitive so it is never printed.
fn sensitive(value: impl AsRef<[u8]>) -> anyhow::Result<HeaderValue> {
    // The error must not quote the value: it is the credential.
    let mut value = HeaderValue::from_bytes(value.as_ref())
        .map_err(|_| anyhow::anyhow!("the credential contains characters a header cannot"))?;
    value.set_sensitive(true);
    Ok(value)
}
