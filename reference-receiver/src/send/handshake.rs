//! `--handshake`: the setup handshake a sender makes before it delivers anything, and whether
//! the endpoint's answer is the one that sender requires.
//!
//! Each handshake is sent as its sender's documentation shows it, and the answer is judged by
//! what the sender checks: Slack the echoed `challenge`, Zoom `encryptedToken` (hex
//! HMAC-SHA256 of `plainToken` keyed with the secret token), Meta and Dropbox the echoed
//! challenge, Microsoft Graph the echoed `validationToken` as `text/plain`, Okta
//! `{"verification": ..}`, a CloudEvents sender `WebHook-Allowed-Origin`, Discord a PONG
//! (`{"type": 1}`), Twitch the `challenge` as `text/plain`, Asana its `X-Hook-Secret` echoed,
//! Trello a 200 to its `HEAD`.

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use receiver_sdk::verify::{sign, HmacHeader, SignatureEncoding};
use receiver_sdk::Secret;
use serde_json::{json, Value};

use super::sample;

/// A setup handshake `send --handshake` can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handshake {
    /// Asana's first `POST` to a new webhook, with `X-Hook-Secret`.
    Asana,
    /// The CloudEvents webhook spec's abuse protection: `OPTIONS` with `WebHook-Request-Origin`.
    CloudEvents,
    /// Discord's signed PING (`{"type": 1}`) to an interactions endpoint.
    Discord,
    /// Dropbox's `GET ?challenge=`.
    Dropbox,
    /// Meta's `GET ?hub.mode=subscribe&hub.verify_token=..&hub.challenge=..`.
    Meta,
    /// Microsoft Graph's `POST ?validationToken=`.
    MicrosoftGraph,
    /// Okta's `GET` with `X-Okta-Verification-Challenge`.
    Okta,
    /// Slack's signed `url_verification` event.
    Slack,
    /// Trello's `HEAD` to the callback URL of a webhook being created.
    Trello,
    /// Twitch EventSub's signed `webhook_callback_verification`.
    Twitch,
    /// Zoom's signed `endpoint.url_validation` event.
    Zoom,
}

/// What a handshake request is made of, before the sender's signature (if any) is added.
#[derive(Debug)]
pub(super) struct Challenge {
    /// Its method.
    pub(super) method: Method,
    /// Query parameters added to the endpoint URL, and whether each is a credential that is
    /// not printed.
    pub(super) query: Vec<(&'static str, String, bool)>,
    /// Headers added to the sender's own (its User-Agent, and its signature for a POST).
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    /// Its body: a POST's JSON, signed as a delivery is; empty otherwise.
    pub(super) body: Vec<u8>,
    /// Whether a POST is signed as the sender's deliveries are (Asana's is not: it hands
    /// over the secret instead).
    pub(super) signed: bool,
    /// The `Content-Type` of a POST.
    pub(super) content_type: &'static str,
    /// What the answer must be.
    pub(super) expect: Expect,
}

/// The answer a sender requires to its handshake.
#[derive(Debug, Clone)]
pub(super) enum Expect {
    /// 200 with exactly this body, `text/plain` when `plain` says so.
    Echo {
        /// The value that must come back.
        value: String,
        /// Whether the answer must be `text/plain`.
        plain: bool,
    },
    /// 200 with a JSON body whose string at `pointer` is `value`; Slack also takes the value
    /// as the whole plain-text body.
    Json {
        /// Where the value is.
        pointer: &'static str,
        /// The value that must be there.
        value: String,
        /// Whether a plain-text body of just the value will do too.
        or_plain: bool,
    },
    /// Zoom's `{"plainToken": P, "encryptedToken": E}`.
    Zoom {
        /// The token sent.
        plain: String,
        /// hex HMAC-SHA256 of it, keyed with the secret token.
        encrypted: String,
    },
    /// 200 with `WebHook-Allowed-Origin` naming the origin sent, or `*`.
    AllowedOrigin(String),
    /// 200 with the header `name` carrying `value` back (Asana's `X-Hook-Secret`).
    HeaderEcho {
        /// The header.
        name: &'static str,
        /// What it must carry: a credential, never printed.
        value: Secret,
    },
    /// Discord's PONG: 200 `application/json` whose `type` is 1.
    Pong,
    /// Just 200 (Trello).
    Ok,
}

/// The inputs a handshake may need beyond the sender's secret.
#[derive(Debug)]
pub(super) struct Inputs<'a> {
    /// The secret (Zoom's secret token).
    pub(super) secret: Option<&'a Secret>,
    /// Meta's verify token.
    pub(super) verify_token: Option<&'a Secret>,
    /// The CloudEvents origin.
    pub(super) origin: &'a str,
    /// The delivery's time, for the timestamps in a signed handshake body.
    pub(super) unix_ms: i64,
}

impl Handshake {
    /// The request of this handshake, with fresh challenges.
    pub(super) fn challenge(self, inputs: &Inputs<'_>) -> anyhow::Result<Challenge> {
        let value = sample::challenge();
        let get = |query: Vec<(&'static str, String, bool)>, expect| Challenge {
            method: Method::GET,
            query,
            headers: Vec::new(),
            body: Vec::new(),
            signed: false,
            content_type: "application/json",
            expect,
        };
        let json_post = |body: Value, expect| Challenge {
            method: Method::POST,
            query: Vec::new(),
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
            signed: true,
            content_type: "application/json",
            expect,
        };
        Ok(match self {
            Self::Asana => {
                // Asana makes the secret; the one given stands for it, so the endpoint's
                // verifier can be configured with it beforehand.
                let secret = match inputs.secret {
                    Some(secret) => secret.clone(),
                    None => Secret::from(value),
                };
                let mut header = HeaderValue::from_bytes(secret.expose())
                    .map_err(|_| anyhow::anyhow!("the secret cannot go in X-Hook-Secret"))?;
                header.set_sensitive(true);
                Challenge {
                    method: Method::POST,
                    query: Vec::new(),
                    headers: vec![(HeaderName::from_static(ASANA_SECRET), header)],
                    body: Vec::new(),
                    signed: false,
                    content_type: "application/json",
                    expect: Expect::HeaderEcho {
                        name: ASANA_SECRET,
                        value: secret,
                    },
                }
            }
            Self::Discord => json_post(
                json!({
                    "application_id": "1171184210485542933",
                    "id": "1171184210485542935",
                    "token": format!("aW50ZXJhY3Rpb246{value}"),
                    "type": 1,
                    "user": {
                        "id": "1171184210485542934",
                        "username": "discord",
                        "discriminator": "0000",
                    },
                    "version": 1,
                }),
                Expect::Pong,
            ),
            Self::Trello => Challenge {
                method: Method::HEAD,
                query: Vec::new(),
                headers: Vec::new(),
                body: Vec::new(),
                signed: false,
                content_type: "application/json",
                expect: Expect::Ok,
            },
            Self::Twitch => {
                let mut challenge = json_post(
                    json!({
                        "challenge": value,
                        "subscription": {
                            "id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4",
                            "status": "webhook_callback_verification_pending",
                            "type": "channel.follow",
                            "version": "2",
                            "cost": 0,
                            "condition": {
                                "broadcaster_user_id": "1337",
                                "moderator_user_id": "1337",
                            },
                            "transport": {
                                "method": "webhook",
                                "callback": "https://example.com/webhooks/callback",
                            },
                            "created_at": "2026-11-29T09:15:00.000000000Z",
                        },
                    }),
                    Expect::Echo { value, plain: true },
                );
                challenge.headers.push((
                    HeaderName::from_static("twitch-eventsub-message-type"),
                    HeaderValue::from_static("webhook_callback_verification"),
                ));
                challenge
            }
            Self::CloudEvents => Challenge {
                method: Method::OPTIONS,
                query: Vec::new(),
                headers: vec![
                    (
                        HeaderName::from_static("webhook-request-origin"),
                        HeaderValue::try_from(inputs.origin)
                            .map_err(|_| anyhow::anyhow!("--origin is not a valid header value"))?,
                    ),
                    (
                        HeaderName::from_static("webhook-request-rate"),
                        HeaderValue::from_static("120"),
                    ),
                ],
                body: Vec::new(),
                signed: false,
                content_type: "application/json",
                expect: Expect::AllowedOrigin(inputs.origin.to_owned()),
            },
            Self::Dropbox => get(
                vec![("challenge", value.clone(), false)],
                Expect::Echo {
                    value,
                    plain: false,
                },
            ),
            Self::Meta => {
                let token = inputs.verify_token.ok_or_else(|| {
                    anyhow::anyhow!(
                        "Meta's handshake needs --verify-token (or --verify-token-env), the \
                         token set in the app's webhook settings"
                    )
                })?;
                let token = std::str::from_utf8(token.expose())
                    .map_err(|_| anyhow::anyhow!("the verify token is not UTF-8 text"))?;
                // Meta's challenges are decimal numbers (`hub.challenge=1158201444`).
                let value = u64::from_str_radix(&value[..12], 16)?.to_string();
                get(
                    vec![
                        ("hub.mode", "subscribe".to_owned(), false),
                        ("hub.challenge", value.clone(), false),
                        ("hub.verify_token", token.to_owned(), true),
                    ],
                    Expect::Echo {
                        value,
                        plain: false,
                    },
                )
            }
            Self::MicrosoftGraph => Challenge {
                method: Method::POST,
                query: vec![("validationToken", value.clone(), false)],
                headers: Vec::new(),
                body: Vec::new(),
                signed: false,
                content_type: "text/plain; charset=utf-8",
                expect: Expect::Echo { value, plain: true },
            },
            Self::Okta => {
                let mut challenge = get(
                    Vec::new(),
                    Expect::Json {
                        pointer: "/verification",
                        value: value.clone(),
                        or_plain: false,
                    },
                );
                challenge.headers.push((
                    HeaderName::from_static("x-okta-verification-challenge"),
                    HeaderValue::try_from(value)?,
                ));
                challenge
            }
            Self::Slack => json_post(
                json!({
                    "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
                    "challenge": value,
                    "type": "url_verification",
                }),
                Expect::Json {
                    pointer: "/challenge",
                    value: value.clone(),
                    or_plain: true,
                },
            ),
            Self::Zoom => {
                let secret = inputs.secret.ok_or_else(|| {
                    anyhow::anyhow!("Zoom's handshake needs --secret or --secret-env")
                })?;
                json_post(
                    json!({
                        "payload": { "plainToken": value },
                        "event_ts": inputs.unix_ms,
                        "event": "endpoint.url_validation",
                    }),
                    Expect::Zoom {
                        encrypted: zoom_token(secret, &value),
                        plain: value,
                    },
                )
            }
        })
    }
}

/// The header in which Asana hands over a new webhook's secret, and wants it back.
const ASANA_SECRET: &str = "x-hook-secret";

/// hex HMAC-SHA256 of `plain` keyed with Zoom's secret token.
fn zoom_token(secret: &Secret, plain: &str) -> String {
    let format = HmacHeader {
        header: HeaderName::from_static("x-zm-signature"),
        prefix: None,
        encoding: SignatureEncoding::Hex,
    };
    sign::hmac_sha256(&format, secret.expose(), plain.as_bytes())
}

impl Expect {
    /// Whether an answer of `status`, `headers` and `body` is the one required; if not, why.
    pub(super) fn check(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), String> {
        if status != StatusCode::OK {
            return Err(format!("the answer is {status}, not 200 OK"));
        }
        let text = String::from_utf8_lossy(body);
        let json = || serde_json::from_slice::<Value>(body).ok();
        let field = |json: &Value, pointer: &str| {
            json.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        match self {
            Self::Echo { value, plain } => {
                if text != value.as_str() {
                    return Err("the body is not the challenge echoed".to_owned());
                }
                let content_type = headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                if *plain && !content_type.starts_with("text/plain") {
                    return Err(format!(
                        "the answer is `{content_type}`, not text/plain as required"
                    ));
                }
                Ok(())
            }
            Self::Json {
                pointer,
                value,
                or_plain,
            } => {
                if *or_plain && text == value.as_str() {
                    return Ok(());
                }
                match json().as_ref().and_then(|json| field(json, pointer)) {
                    Some(sent) if sent == *value => Ok(()),
                    Some(_) => Err(format!("{pointer} is not the challenge sent")),
                    None => Err(format!("the body has no {pointer}")),
                }
            }
            Self::Zoom { plain, encrypted } => {
                let json = json().ok_or("the body is not JSON")?;
                if field(&json, "/plainToken").as_ref() != Some(plain) {
                    return Err("plainToken is not the one sent".to_owned());
                }
                match field(&json, "/encryptedToken") {
                    Some(sent) if sent == *encrypted => Ok(()),
                    Some(_) => Err(
                        "encryptedToken is not the HMAC-SHA256 of plainToken with this secret \
                         token"
                            .to_owned(),
                    ),
                    None => Err("the body has no encryptedToken".to_owned()),
                }
            }
            Self::HeaderEcho { name, value } => {
                let sent = headers.get(*name).map(HeaderValue::as_bytes);
                let echoed = sent.is_some_and(|sent| Secret::new(sent).ct_eq(value));
                if echoed {
                    Ok(())
                } else {
                    Err(format!("the answer does not carry the {name} sent"))
                }
            }
            Self::Pong => {
                let pong = json().is_some_and(|json| json["type"] == 1);
                if pong {
                    Ok(())
                } else {
                    Err(r#"the body is not a PONG, {"type": 1}"#.to_owned())
                }
            }
            Self::Ok => Ok(()),
            Self::AllowedOrigin(origin) => {
                let allowed = headers
                    .get("webhook-allowed-origin")
                    .and_then(|value| value.to_str().ok())
                    .ok_or("the answer has no WebHook-Allowed-Origin")?;
                if allowed == "*" || allowed.eq_ignore_ascii_case(origin) {
                    Ok(())
                } else {
                    Err(format!(
                        "WebHook-Allowed-Origin is `{allowed}`, not this origin"
                    ))
                }
            }
        }
    }
}
