//! The senders' side: header values signed exactly as each real sender signs them, so tests and
//! tools can produce deliveries that a [`Verifier`](super::Verifier) accepts.
//!
//! Each function returns the value of the one header that carries the signature; the other
//! headers a scheme needs (ids, timestamps) are the caller's, as the arguments show.
//!
//! ```
//! use receiver_sdk::verify::sign;
//!
//! // GitHub's documented example.
//! assert_eq!(
//!     sign::github("It's a Secret to Everybody", b"Hello, World!"),
//!     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
//! );
//! ```

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::standard::decode_secret;
use super::{
    ecdsa, ed25519, slack, HmacHeader, KeyProblem, MacKey, SecretError, SignatureEncoding, Tag,
};

fn tag(secret: &[u8], parts: &[&[u8]]) -> Tag {
    MacKey::new(secret).tag(parts)
}

/// The `webhook-signature` value (`v1,<base64>`) for a Standard Webhooks / Svix delivery with
/// this `webhook-id` and `webhook-timestamp` (unix seconds).
///
/// `secret` is written as in configuration: `whsec_` and base64, the prefix optional.
///
/// ```
/// use receiver_sdk::verify::sign;
///
/// let value = sign::standard_webhooks(
///     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
///     "msg_p5jXN8AQM9LWM0D4loKWxJek",
///     1614265330,
///     br#"{"test": 2432232314}"#,
/// )?;
/// assert_eq!(value, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// # Ok::<(), receiver_sdk::verify::SecretError>(())
/// ```
pub fn standard_webhooks(
    secret: &str,
    id: &str,
    timestamp: u64,
    body: &[u8],
) -> Result<String, SecretError> {
    let key = decode_secret(secret).ok_or(SecretError::InvalidBase64Secret { index: 0 })?;
    if key.is_empty() {
        return Err(SecretError::EmptySecret { index: 0 });
    }
    let timestamp = timestamp.to_string();
    let tag = tag(
        &key,
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    Ok(format!("v1,{}", STANDARD.encode(tag)))
}

/// The value of `format.header` for an HMAC-SHA256 of `body` keyed with `secret`.
pub fn hmac_sha256(format: &HmacHeader, secret: impl AsRef<[u8]>, body: &[u8]) -> String {
    let tag = tag(secret.as_ref(), &[body]);
    let encoded = match format.encoding {
        SignatureEncoding::Hex => hex::encode(tag),
        SignatureEncoding::Base64 => STANDARD.encode(tag),
    };
    match &format.prefix {
        Some(prefix) => format!("{prefix}{encoded}"),
        None => encoded,
    }
}

/// The `X-Hub-Signature-256` value (`sha256=<hex>`) GitHub sends.
pub fn github(secret: impl AsRef<[u8]>, body: &[u8]) -> String {
    hmac_sha256(&HmacHeader::github(), secret, body)
}

/// The `X-Shopify-Hmac-Sha256` value (base64) Shopify sends.
pub fn shopify(secret: impl AsRef<[u8]>, body: &[u8]) -> String {
    hmac_sha256(&HmacHeader::shopify(), secret, body)
}

/// The `X-SuperOffice-Signature` value (base64) SuperOffice sends; `secret` is the webhook's
/// secret string, whose UTF-8 bytes are the key.
pub fn superoffice(secret: impl AsRef<[u8]>, body: &[u8]) -> String {
    hmac_sha256(&HmacHeader::superoffice(), secret, body)
}

/// The `Stripe-Signature` value (`t=<timestamp>,v1=<hex>`) for a delivery at `timestamp` (unix
/// seconds); `secret` is the whole signing secret, `whsec_` included.
pub fn stripe(secret: impl AsRef<[u8]>, timestamp: u64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    let tag = tag(secret.as_ref(), &[timestamp.as_bytes(), b".", body]);
    format!("t={timestamp},v1={}", hex::encode(tag))
}

/// The `X-Slack-Signature` value (`v0=<hex>`) for a delivery whose
/// `X-Slack-Request-Timestamp` is `timestamp` (unix seconds).
pub fn slack(secret: impl AsRef<[u8]>, timestamp: u64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    let version = slack::VERSION;
    let tag = tag(
        secret.as_ref(),
        &[version.as_bytes(), b":", timestamp.as_bytes(), b":", body],
    );
    format!("{version}={}", hex::encode(tag))
}

/// The `Authorization` value (`Basic <base64(user:password)>`) for HTTP Basic auth.
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// The signature header's value for `scheme` (see [`HmacScheme`](super::HmacScheme)), keyed
/// with `secret`: `timestamp` is written as the sender writes it (for WorkOS, milliseconds)
/// and is ignored by schemes without one; a signed header's value is taken from `headers`.
pub fn hmac_scheme(
    scheme: &super::HmacScheme,
    secret: impl AsRef<[u8]>,
    timestamp: Option<u64>,
    headers: &http::HeaderMap,
    body: &[u8],
) -> String {
    // No request line: a scheme that signs one gets an empty URL, as a POST.
    let request = super::SignedRequest::new(&http::Method::POST, "", headers, body);
    hmac_request(scheme, secret, timestamp, &request)
}

/// [`hmac_scheme`] for a scheme that signs the request's method or URL
/// ([`SignedPart::Method`](super::SignedPart::Method),
/// [`SignedPart::Url`](super::SignedPart::Url)): the signature header's value for `request`.
pub fn hmac_request(
    scheme: &super::HmacScheme,
    secret: impl AsRef<[u8]>,
    timestamp: Option<u64>,
    request: &super::SignedRequest<'_>,
) -> String {
    let timestamp = timestamp.map(|timestamp| timestamp.to_string());
    let header = |name: &http::HeaderName| {
        let value = request.headers.get(name).map(http::HeaderValue::as_bytes);
        String::from_utf8_lossy(value.unwrap_or_default()).into_owned()
    };
    let line = (request.method.as_str(), request.url);
    let (secret, timestamp) = (secret.as_ref(), timestamp.as_deref());
    super::catalogue::signature_value(scheme, secret, line, request.body, timestamp, header)
}

/// The signature of a scheme over the request line, the body and perhaps a timestamp, with no
/// signed header.
fn catalogue_request(
    scheme: super::HmacScheme,
    secret: &[u8],
    (method, url): (&str, &str),
    body: &[u8],
    timestamp: Option<u64>,
) -> String {
    let timestamp = timestamp.map(|timestamp| timestamp.to_string());
    let none = |_: &http::HeaderName| String::new();
    let timestamp = timestamp.as_deref();
    super::catalogue::signature_value(&scheme, secret, (method, url), body, timestamp, none)
}

/// The `X-Twilio-Signature` value Twilio sends for a delivery of `body` to `url` (the full URL
/// configured in Twilio, query included), keyed with the auth token: base64 HMAC-SHA1 of the
/// URL followed by the form parameters of `body` sorted by name.
///
/// For a body that is not a form (JSON), Twilio adds `bodySHA256=` and the body's
/// [`twilio_body_sha256`] to the URL and signs the URL alone; pass that URL here and the body
/// is not signed, as Twilio does.
///
/// ```
/// use receiver_sdk::verify::sign;
///
/// // The example of Twilio's webhook security documentation.
/// let body = b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234\
///              &From=%2B12349013030&To=%2B18005551212";
/// let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
/// assert_eq!(sign::twilio("12345", url, body), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
/// ```
pub fn twilio(auth_token: impl AsRef<[u8]>, url: &str, body: &[u8]) -> String {
    twilio_with(
        super::catalogue::schemes::twilio(),
        auth_token.as_ref(),
        url,
        body,
    )
}

/// [`twilio`] for a webhook signed with a SharedKey whose
/// `X-Twilio-Webhooks-Signature-Settings` names `algorithm=HMAC_SHA256`: the same string,
/// HMAC-SHA256 keyed with the SharedKey secret.
pub fn twilio_sha256(shared_key: impl AsRef<[u8]>, url: &str, body: &[u8]) -> String {
    let scheme = super::HmacScheme {
        algorithm: super::HmacAlgorithm::Sha256,
        ..super::catalogue::schemes::twilio()
    };
    twilio_with(scheme, shared_key.as_ref(), url, body)
}

fn twilio_with(scheme: super::HmacScheme, secret: &[u8], url: &str, body: &[u8]) -> String {
    let form = if super::catalogue::twilio_body_hash(url).is_some() {
        &b""[..]
    } else {
        body
    };
    catalogue_request(scheme, secret, ("POST", url), form, None)
}

/// The hex SHA-256 of `body`, which Twilio puts in the `bodySHA256` query parameter of the URL
/// it signs when the body is not a form.
pub fn twilio_body_sha256(body: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(body))
}

/// The `x-square-hmacsha256-signature` value Square sends for a delivery of `body` to
/// `notification_url` (the subscription's URL, as configured), keyed with the signature key.
pub fn square(signature_key: impl AsRef<[u8]>, notification_url: &str, body: &[u8]) -> String {
    let scheme = super::catalogue::schemes::square();
    let line = ("POST", notification_url);
    catalogue_request(scheme, signature_key.as_ref(), line, body, None)
}

/// The `X-HubSpot-Signature-v3` value HubSpot sends for a request with `method` to `uri` (the
/// full URL) whose `X-HubSpot-Request-Timestamp` is `timestamp_ms` (milliseconds since the unix
/// epoch), keyed with the app's client secret. The escapes HubSpot decodes before signing
/// (`%3A`, `%2F`, ...) are decoded in `uri` first, so either form of it may be passed.
pub fn hubspot(
    client_secret: impl AsRef<[u8]>,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp_ms: u64,
) -> String {
    let scheme = super::catalogue::schemes::hubspot();
    let line = (method, uri);
    catalogue_request(
        scheme,
        client_secret.as_ref(),
        line,
        body,
        Some(timestamp_ms),
    )
}

/// The `X-Trello-Webhook` value Trello sends for a delivery of `body` to `callback_url` (exactly
/// as given when the webhook was created), keyed with the application's secret.
pub fn trello(secret: impl AsRef<[u8]>, callback_url: &str, body: &[u8]) -> String {
    let scheme = super::catalogue::schemes::trello();
    catalogue_request(scheme, secret.as_ref(), ("POST", callback_url), body, None)
}

fn catalogue_body(scheme: super::HmacScheme, secret: &[u8], body: &[u8]) -> String {
    hmac_scheme(&scheme, secret, None, &http::HeaderMap::new(), body)
}

fn catalogue_timed(scheme: super::HmacScheme, secret: &[u8], at: u64, body: &[u8]) -> String {
    hmac_scheme(&scheme, secret, Some(at), &http::HeaderMap::new(), body)
}

/// Signers for the catalogue's senders whose signature covers the body alone.
macro_rules! body_signers {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(secret: impl AsRef<[u8]>, body: &[u8]) -> String {
            catalogue_body(super::catalogue::schemes::$name(), secret.as_ref(), body)
        }
    )*};
}

/// Signers for the catalogue's senders that sign a timestamp with the body.
macro_rules! timed_signers {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(secret: impl AsRef<[u8]>, timestamp: u64, body: &[u8]) -> String {
            catalogue_timed(super::catalogue::schemes::$name(), secret.as_ref(), timestamp, body)
        }
    )*};
}

body_signers! {
    /// The `X-Hook-Signature` value (hex) Asana sends.
    asana;
    /// The `X-Hub-Signature` value (`sha256=<hex>`) Bitbucket Cloud sends.
    bitbucket;
    /// The `X-CC-Webhook-Signature` value (hex) Coinbase Commerce sends.
    coinbase_commerce;
    /// The `X-Dropbox-Signature` value (hex) Dropbox sends.
    dropbox;
    /// The legacy `X-Hub-Signature` value (`sha1=<hex>`) GitHub sends.
    github_sha1;
    /// The `X-Hub-Signature` value (`sha1=<hex>`) Intercom sends.
    intercom;
    /// The `X-Signature` value (hex) Lemon Squeezy sends.
    lemon_squeezy;
    /// The `x-line-signature` value (base64) LINE sends.
    line;
    /// The `Linear-Signature` value (hex) Linear sends.
    linear;
    /// The `X-Hub-Signature-256` value (`sha256=<hex>`) Meta sends.
    meta;
    /// The `X-PagerDuty-Signature` value (`v1=<hex>`, one secret) PagerDuty sends.
    pagerduty;
    /// The `X-Razorpay-Signature` value (hex) Razorpay sends.
    razorpay;
    /// The `Sentry-Hook-Signature` value (hex) Sentry sends.
    sentry;
    /// The `Typeform-Signature` value (`sha256=<base64>`) Typeform sends.
    typeform;
    /// The `x-vercel-signature` value (hex of HMAC-SHA1) Vercel sends.
    vercel;
}

timed_signers! {
    /// The `Calendly-Webhook-Signature` value (`t=<unix>,v1=<hex>`) for a delivery at
    /// `timestamp` (unix seconds).
    calendly;
    /// The `Mux-Signature` value (`t=<unix>,v1=<hex>`) for a delivery at `timestamp` (unix
    /// seconds).
    mux;
    /// The `Paddle-Signature` value (`ts=<unix>;h1=<hex>`) for a delivery at `timestamp` (unix
    /// seconds).
    paddle;
    /// The `WorkOS-Signature` value (`t=<ms>,v1=<hex>`) for a delivery at `timestamp`, in
    /// milliseconds since the unix epoch as WorkOS writes it.
    workos;
    /// The `x-zm-signature` value (`v0=<hex>`) for a delivery whose `x-zm-request-timestamp`
    /// is `timestamp` (unix seconds).
    zoom;
}

/// The `Twitch-Eventsub-Message-Signature` value (`sha256=<hex>`) for an EventSub message
/// whose `Twitch-Eventsub-Message-Id` is `message_id` and whose
/// `Twitch-Eventsub-Message-Timestamp` is `timestamp`, written as Twitch writes it (RFC 3339,
/// such as `2023-07-19T10:11:12.123456789Z`).
pub fn twitch(secret: impl AsRef<[u8]>, message_id: &str, timestamp: &str, body: &[u8]) -> String {
    super::catalogue::signature_value(
        &super::catalogue::schemes::twitch(),
        secret.as_ref(),
        ("", ""),
        body,
        Some(timestamp),
        |_| message_id.to_owned(),
    )
}

/// The `signature` Mailgun sends beside `timestamp` (unix seconds) and `token`: the hex
/// HMAC-SHA256 of the two concatenated, keyed with the webhook signing key.
pub fn mailgun(signing_key: impl AsRef<[u8]>, timestamp: u64, token: &str) -> String {
    let timestamp = timestamp.to_string();
    hex::encode(tag(
        signing_key.as_ref(),
        &[timestamp.as_bytes(), token.as_bytes()],
    ))
}

/// A Microsoft Graph change notification body (`{"value": [..]}`), one `updated` item per
/// `resources` entry, each carrying `client_state` as Graph echoes it.
pub fn microsoft_graph(client_state: &str, resources: &[&str]) -> String {
    let value: Vec<serde_json::Value> = resources
        .iter()
        .enumerate()
        .map(|(index, resource)| {
            serde_json::json!({
                "subscriptionId": "00000000-0000-0000-0000-000000000001",
                "clientState": client_state,
                "changeType": "updated",
                "resource": resource,
                "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z",
                "tenantId": "00000000-0000-0000-0000-000000000002",
                "resourceData": { "id": format!("item-{index}") },
            })
        })
        .collect();
    serde_json::json!({ "value": value }).to_string()
}

/// The `X-Signature-Ed25519` value (hex) for a Discord interaction whose
/// `X-Signature-Timestamp` is `timestamp` (unix seconds).
///
/// `private_key` is the 32-byte Ed25519 seed in hex (Discord keeps its own; this is for tests
/// and for senders of your own). [`discord_public_key`] gives the key to configure.
pub fn discord(private_key: &str, timestamp: u64, body: &[u8]) -> Result<String, KeyProblem> {
    use ed25519_dalek::Signer as _;

    let key = ed25519::signing_key(private_key)?;
    let message = [timestamp.to_string().as_bytes(), body].concat();
    Ok(hex::encode(key.sign(&message).to_bytes()))
}

/// The public key (hex, as Discord's developer portal shows it) of a [`discord`] private key.
pub fn discord_public_key(private_key: &str) -> Result<String, KeyProblem> {
    Ok(hex::encode(
        ed25519::signing_key(private_key)?
            .verifying_key()
            .as_bytes(),
    ))
}

/// The `webhook-signature` entry (`v1a,<base64>`) for a Standard Webhooks delivery signed with
/// Ed25519, with this `webhook-id` and `webhook-timestamp` (unix seconds).
///
/// `secret_key` is `whsk_` and the base64 of the 32-byte seed (without the prefix it is
/// refused as [`KeyProblem::Encoding`]); [`standard_webhooks_public_key`] gives the `whpk_` key
/// to configure.
///
/// ```
/// use receiver_sdk::verify::sign;
///
/// // The Standard Webhooks Go library's asymmetric signing test.
/// let value = sign::standard_webhooks_v1a(
///     "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
///     "msg_p5jXN8AQM9LWM0D4loKWxJek",
///     1614265330,
///     br#"{"test": 2432232314}"#,
/// )?;
/// assert_eq!(
///     value,
///     "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
/// );
/// # Ok::<(), receiver_sdk::verify::KeyProblem>(())
/// ```
pub fn standard_webhooks_v1a(
    secret_key: &str,
    id: &str,
    timestamp: u64,
    body: &[u8],
) -> Result<String, KeyProblem> {
    use ed25519_dalek::Signer as _;

    if !secret_key.starts_with("whsk_") {
        return Err(KeyProblem::Encoding);
    }
    let key = ed25519::signing_key(secret_key)?;
    let timestamp = timestamp.to_string();
    let message = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
    Ok(format!(
        "{},{}",
        ed25519::V1A,
        STANDARD.encode(key.sign(&message).to_bytes())
    ))
}

/// The `whpk_` public key of a `whsk_` [`standard_webhooks_v1a`] secret key.
pub fn standard_webhooks_public_key(secret_key: &str) -> Result<String, KeyProblem> {
    if !secret_key.starts_with("whsk_") {
        return Err(KeyProblem::Encoding);
    }
    Ok(ed25519::whpk(&ed25519::signing_key(secret_key)?))
}

/// The `X-Twilio-Email-Event-Webhook-Signature` value (base64 of a DER ECDSA P-256 / SHA-256
/// signature) for a SendGrid Event Webhook batch whose
/// `X-Twilio-Email-Event-Webhook-Timestamp` is `timestamp` (unix seconds).
///
/// `private_key` is a PKCS#8 P-256 key, as base64 DER or a PEM `PRIVATE KEY` block (SendGrid
/// keeps its own; this is for tests and tools). Signatures are deterministic (RFC 6979).
/// [`sendgrid_public_key`] gives the key to configure.
pub fn sendgrid(private_key: &str, timestamp: u64, body: &[u8]) -> Result<String, KeyProblem> {
    use p256::ecdsa::signature::Signer as _;

    let key = ecdsa::signing_key(private_key)?;
    let message = [timestamp.to_string().as_bytes(), body].concat();
    let signature: p256::ecdsa::Signature = key.sign(&message);
    Ok(STANDARD.encode(signature.to_der().as_bytes()))
}

/// The public key (base64 DER SubjectPublicKeyInfo, as SendGrid shows it) of a [`sendgrid`]
/// private key.
pub fn sendgrid_public_key(private_key: &str) -> Result<String, KeyProblem> {
    ecdsa::public_key_text(&ecdsa::signing_key(private_key)?)
}
