//! The catalogue's HMAC senders, one function each, as each sender's documentation describes
//! its scheme. The [`sign`](crate::verify::sign) helpers sign with these same descriptions.

use std::borrow::Cow;

use http::HeaderName;

use super::{
    HmacAlgorithm, HmacScheme, SignatureLayout, SignedPart, SignedTimestamp, TimestampSource,
    TimestampUnit,
};
use crate::verify::SignatureEncoding;

/// Asana: `X-Hook-Signature`, hex HMAC-SHA256 of the body, keyed with the `X-Hook-Secret` of
/// the webhook's handshake.
pub(in crate::verify) fn asana() -> HmacScheme {
    body(HmacAlgorithm::Sha256, "x-hook-signature", None)
}

/// Bitbucket Cloud: `X-Hub-Signature: sha256=<hex>` of the body.
pub(in crate::verify) fn bitbucket() -> HmacScheme {
    body(HmacAlgorithm::Sha256, "x-hub-signature", Some("sha256="))
}

/// Calendly: `Calendly-Webhook-Signature: t=<unix>,v1=<hex>` over `{t}.{body}`.
pub(in crate::verify) fn calendly() -> HmacScheme {
    timestamp_list(
        "calendly-webhook-signature",
        ',',
        "t",
        "v1",
        ".",
        TimestampUnit::Seconds,
    )
}

/// Coinbase Commerce: `X-CC-Webhook-Signature`, hex HMAC-SHA256 of the body with the shared
/// secret.
pub(in crate::verify) fn coinbase_commerce() -> HmacScheme {
    body(HmacAlgorithm::Sha256, "x-cc-webhook-signature", None)
}

/// Dropbox: `X-Dropbox-Signature`, hex HMAC-SHA256 of the body with the app secret.
pub(in crate::verify) fn dropbox() -> HmacScheme {
    body(HmacAlgorithm::Sha256, "x-dropbox-signature", None)
}

/// GitHub's legacy header: `X-Hub-Signature: sha1=<hex>` of the body.
pub(in crate::verify) fn github_sha1() -> HmacScheme {
    body(HmacAlgorithm::Sha1, "x-hub-signature", Some("sha1="))
}

/// Intercom: `X-Hub-Signature: sha1=<hex>` of the body, keyed with the app's client secret.
pub(in crate::verify) fn intercom() -> HmacScheme {
    body(HmacAlgorithm::Sha1, "x-hub-signature", Some("sha1="))
}

/// HubSpot (signature v3): `X-HubSpot-Signature-v3`, base64 HMAC-SHA256 of
/// `{method}{uri}{body}{X-HubSpot-Request-Timestamp}`, the timestamp in milliseconds, keyed
/// with the app's client secret. HubSpot's documentation has the URI's escapes of
/// `: / ? @ ! $ ' ( ) * , ;` decoded before signing; `@hubspot/api-client`'s
/// `Signature.isValid` decodes nothing itself and signs the `url` its caller passes, so the
/// decoding is the receiver's, done here.
pub(in crate::verify) fn hubspot() -> HmacScheme {
    HmacScheme {
        algorithm: HmacAlgorithm::Sha256,
        message: vec![
            SignedPart::Method,
            SignedPart::Url {
                decoded: Cow::Borrowed(HUBSPOT_DECODED),
            },
            SignedPart::Body,
            SignedPart::Timestamp,
        ]
        .into(),
        header: HeaderName::from_static("x-hubspot-signature-v3"),
        layout: SignatureLayout::Plain { prefix: None },
        encoding: SignatureEncoding::Base64,
        timestamp: Some(SignedTimestamp {
            source: TimestampSource::Header(HeaderName::from_static("x-hubspot-request-timestamp")),
            unit: TimestampUnit::Milliseconds,
        }),
    }
}

/// The characters whose percent-escapes HubSpot's v3 validation decodes in the URI.
const HUBSPOT_DECODED: &str = ":/?@!$'()*,;";

/// Lemon Squeezy: `X-Signature`, hex HMAC-SHA256 of the body with the webhook's signing secret.
pub(in crate::verify) fn lemon_squeezy() -> HmacScheme {
    body(HmacAlgorithm::Sha256, "x-signature", None)
}

/// LINE Messaging API: `x-line-signature`, base64 HMAC-SHA256 of the body with the channel
/// secret.
pub(in crate::verify) fn line() -> HmacScheme {
    HmacScheme {
        encoding: SignatureEncoding::Base64,
        ..body(HmacAlgorithm::Sha256, "x-line-signature", None)
    }
}

/// Linear: `Linear-Signature`, hex HMAC-SHA256 of the body; the body's `webhookTimestamp`
/// (unix milliseconds) says when it was sent. Linear's SDK (`@linear/sdk` 98.0.0,
/// `LinearWebhookClient.verify`) refuses a body whose `webhookTimestamp` is missing or more
/// than a minute from now, and so does this (the catalogue's Linear tolerance is one minute).
pub(in crate::verify) fn linear() -> HmacScheme {
    HmacScheme {
        timestamp: Some(SignedTimestamp {
            source: TimestampSource::BodyField(Cow::Borrowed("webhookTimestamp")),
            unit: TimestampUnit::Milliseconds,
        }),
        ..body(HmacAlgorithm::Sha256, "linear-signature", None)
    }
}

/// Meta (Facebook, Instagram, WhatsApp): `X-Hub-Signature-256: sha256=<hex>` of the body, keyed
/// with the app secret.
pub(in crate::verify) fn meta() -> HmacScheme {
    body(
        HmacAlgorithm::Sha256,
        "x-hub-signature-256",
        Some("sha256="),
    )
}

/// Mux: `Mux-Signature: t=<unix>,v1=<hex>` over `{t}.{body}`.
pub(in crate::verify) fn mux() -> HmacScheme {
    timestamp_list("mux-signature", ',', "t", "v1", ".", TimestampUnit::Seconds)
}

/// Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>]` over `{ts}:{body}`.
pub(in crate::verify) fn paddle() -> HmacScheme {
    timestamp_list(
        "paddle-signature",
        ';',
        "ts",
        "h1",
        ":",
        TimestampUnit::Seconds,
    )
}

/// PagerDuty (v3 webhooks): `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>]` of the body, one
/// signature per active secret.
pub(in crate::verify) fn pagerduty() -> HmacScheme {
    HmacScheme {
        layout: SignatureLayout::List {
            separator: ',',
            signature_key: Cow::Borrowed("v1"),
        },
        ..body(HmacAlgorithm::Sha256, "x-pagerduty-signature", None)
    }
}

/// Razorpay: `X-Razorpay-Signature`, hex HMAC-SHA256 of the body with the webhook secret.
pub(in crate::verify) fn razorpay() -> HmacScheme {
    body(HmacAlgorithm::Sha256, "x-razorpay-signature", None)
}

/// Sentry integrations: `Sentry-Hook-Signature`, hex HMAC-SHA256 of the body with the client
/// secret.
pub(in crate::verify) fn sentry() -> HmacScheme {
    body(HmacAlgorithm::Sha256, "sentry-hook-signature", None)
}

/// Square: `x-square-hmacsha256-signature`, base64 HMAC-SHA256 of the notification URL (as
/// configured for the subscription) followed by the body, keyed with the signature key.
pub(in crate::verify) fn square() -> HmacScheme {
    base64_of(
        HmacAlgorithm::Sha256,
        "x-square-hmacsha256-signature",
        &[SignedPart::URL, SignedPart::Body],
    )
}

/// Trello: `X-Trello-Webhook`, base64 HMAC-SHA1 of the body followed by the callback URL
/// exactly as given when the webhook was created, keyed with the application's secret.
pub(in crate::verify) fn trello() -> HmacScheme {
    base64_of(
        HmacAlgorithm::Sha1,
        "x-trello-webhook",
        &[SignedPart::Body, SignedPart::URL],
    )
}

/// Twitch EventSub: `Twitch-Eventsub-Message-Signature: sha256=<hex>` over the message id,
/// the timestamp and the body, concatenated, from `Twitch-Eventsub-Message-Id` and
/// `Twitch-Eventsub-Message-Timestamp` (RFC 3339, fractional seconds). Twitch asks that
/// messages older than 10 minutes be refused: the catalogue's Twitch tolerance.
pub(in crate::verify) fn twitch() -> HmacScheme {
    HmacScheme {
        algorithm: HmacAlgorithm::Sha256,
        message: vec![
            SignedPart::Header(HeaderName::from_static(TWITCH_MESSAGE_ID)),
            SignedPart::Timestamp,
            SignedPart::Body,
        ]
        .into(),
        header: HeaderName::from_static("twitch-eventsub-message-signature"),
        layout: SignatureLayout::Plain {
            prefix: Some(Cow::Borrowed("sha256=")),
        },
        encoding: SignatureEncoding::Hex,
        timestamp: Some(SignedTimestamp {
            source: TimestampSource::Header(HeaderName::from_static(TWITCH_TIMESTAMP)),
            unit: TimestampUnit::Rfc3339,
        }),
    }
}

/// The header of the id Twitch signs with each EventSub message.
pub(in crate::verify) const TWITCH_MESSAGE_ID: &str = "twitch-eventsub-message-id";

/// The header of the RFC 3339 time Twitch signs with each EventSub message.
pub(in crate::verify) const TWITCH_TIMESTAMP: &str = "twitch-eventsub-message-timestamp";
/// Twilio: `X-Twilio-Signature`, base64 HMAC-SHA1 of the URL followed by the form parameters
/// sorted by name, keyed with the auth token. The verifier built on it
/// ([`super::twilio`]) also handles the URL's port and JSON bodies (`bodySHA256`).
pub(in crate::verify) fn twilio() -> HmacScheme {
    base64_of(
        HmacAlgorithm::Sha1,
        "x-twilio-signature",
        &[SignedPart::URL, SignedPart::SortedFormParams],
    )
}

/// Typeform: `Typeform-Signature: sha256=<base64>` of the body.
pub(in crate::verify) fn typeform() -> HmacScheme {
    HmacScheme {
        encoding: SignatureEncoding::Base64,
        ..body(HmacAlgorithm::Sha256, "typeform-signature", Some("sha256="))
    }
}

/// Vercel: `x-vercel-signature`, hex HMAC-SHA1 of the body.
pub(in crate::verify) fn vercel() -> HmacScheme {
    body(HmacAlgorithm::Sha1, "x-vercel-signature", None)
}

/// WorkOS: `WorkOS-Signature: t=<unix ms>, v1=<hex>` over `{t}.{body}`, the timestamp in
/// milliseconds.
pub(in crate::verify) fn workos() -> HmacScheme {
    timestamp_list(
        "workos-signature",
        ',',
        "t",
        "v1",
        ".",
        TimestampUnit::Milliseconds,
    )
}

/// Zoom: `x-zm-signature: v0=<hex>` over `v0:{x-zm-request-timestamp}:{body}`.
pub(in crate::verify) fn zoom() -> HmacScheme {
    HmacScheme {
        algorithm: HmacAlgorithm::Sha256,
        message: vec![
            SignedPart::Literal(Cow::Borrowed("v0:")),
            SignedPart::Timestamp,
            SignedPart::Literal(Cow::Borrowed(":")),
            SignedPart::Body,
        ]
        .into(),
        header: HeaderName::from_static("x-zm-signature"),
        layout: SignatureLayout::Plain {
            prefix: Some(Cow::Borrowed("v0=")),
        },
        encoding: SignatureEncoding::Hex,
        timestamp: Some(SignedTimestamp {
            source: TimestampSource::Header(HeaderName::from_static("x-zm-request-timestamp")),
            unit: TimestampUnit::Seconds,
        }),
    }
}

/// An HMAC of the body alone, hex after an optional prefix in `header`: the commonest shape.
fn body(
    algorithm: HmacAlgorithm,
    header: &'static str,
    prefix: Option<&'static str>,
) -> HmacScheme {
    HmacScheme {
        algorithm,
        message: Cow::Borrowed(&[SignedPart::Body]),
        header: HeaderName::from_static(header),
        layout: SignatureLayout::Plain {
            prefix: prefix.map(Cow::Borrowed),
        },
        encoding: SignatureEncoding::Hex,
        timestamp: None,
    }
}

/// A bare base64 HMAC of `message` in `header`: the shape of the senders that sign the URL.
fn base64_of(
    algorithm: HmacAlgorithm,
    header: &'static str,
    message: &'static [SignedPart],
) -> HmacScheme {
    HmacScheme {
        message: Cow::Borrowed(message),
        encoding: SignatureEncoding::Base64,
        ..body(algorithm, header, None)
    }
}

/// HMAC-SHA256 of `{timestamp}{joiner}{body}`, hex, in a `header` that lists the timestamp
/// under `timestamp_key` and the signatures under `signature_key` (Stripe's shape).
fn timestamp_list(
    header: &'static str,
    separator: char,
    timestamp_key: &'static str,
    signature_key: &'static str,
    joiner: &'static str,
    unit: TimestampUnit,
) -> HmacScheme {
    HmacScheme {
        algorithm: HmacAlgorithm::Sha256,
        message: vec![
            SignedPart::Timestamp,
            SignedPart::Literal(Cow::Borrowed(joiner)),
            SignedPart::Body,
        ]
        .into(),
        header: HeaderName::from_static(header),
        layout: SignatureLayout::List {
            separator,
            signature_key: Cow::Borrowed(signature_key),
        },
        encoding: SignatureEncoding::Hex,
        timestamp: Some(SignedTimestamp {
            source: TimestampSource::Key(Cow::Borrowed(timestamp_key)),
            unit,
        }),
    }
}
