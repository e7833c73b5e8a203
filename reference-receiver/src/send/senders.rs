//! Every sender `send --as` imitates, one [`Profile`] each, alphabetically: the catalogue's
//! providers under their catalogue names, and the senders without a scheme of their own
//! (`basic`, `cloudevents`, `plain`, `sonar`, `token`).
//!
//! Each entry follows the sender's published documentation: its documented example event as
//! the sample (in `samples/`), the event, id and timestamp headers it adds, its `User-Agent`
//! where it documents one, and its signature header. Adding a sender is one entry and one
//! sample file.

use receiver_sdk::verify::sign;

use super::handshake::Handshake;
use super::sender::{IdForm, Profile, Sample, SecretUse, Signing, Unit, WhsecKey};

const fn any(event: &'static str, template: &'static str) -> Sample {
    Sample::Any { event, template }
}

/// The `webhook-*` headers of Standard Webhooks and `svix-*` ones of Svix, with the signature.
const WEBHOOK_HEADERS: &[(&str, &str)] =
    &[("webhook-id", "{{id}}"), ("webhook-timestamp", "{{unix}}")];
const SVIX_HEADERS: &[(&str, &str)] = &[("svix-id", "{{id}}"), ("svix-timestamp", "{{unix}}")];
const WEBHOOK_SIGNATURE: &[Signing] = &[Signing::StandardWebhooks {
    header: "webhook-signature",
    key: WhsecKey::Base64,
}];
const SVIX_SIGNATURE: &[Signing] = &[Signing::StandardWebhooks {
    header: "svix-signature",
    key: WhsecKey::Base64,
}];
const SVIX_AGENT: Option<&str> = Some("Svix-Webhooks/1.66.0 (sender-reference)");
const MSG_ID: Option<IdForm> = Some(IdForm::Hex("msg_", 12));

/// Twilio's JSON deliveries (an Event Streams webhook sink's CloudEvents): the body's SHA-256
/// goes into the URL as `bodySHA256`, and the signature covers that URL alone. Its form
/// deliveries, the default, are this with a form sample.
const TWILIO_JSON: Profile = Profile {
    name: "twilio",
    help: "",
    sample: any(
        "com.twilio.messaging.message.delivered",
        include_str!("samples/twilio.json"),
    ),
    id: Some(IdForm::Uuid),
    // As captured from Twilio's webhook requests (beside `I-Twilio-Idempotency-Token`) in
    // public receivers' request dumps.
    user_agent: Some("TwilioProxy/1.1"),
    headers: &[("i-twilio-idempotency-token", "{{id}}")],
    signatures: &[Signing::Request {
        header: "x-twilio-signature",
        sign: |secret, request| sign::twilio(secret, request.url, request.body),
    }],
    url: Some(|url, body| {
        let hash = sign::twilio_body_sha256(body);
        url.query_pairs_mut().append_pair("bodySHA256", &hash);
    }),
    ..Profile::BASE
};

/// GitHub signs with SHA-256 and, for older receivers, SHA-1, in two headers.
const GITHUB_SIGNATURES: &[Signing] = &[
    Signing::Body {
        header: "x-hub-signature-256",
        sign: |secret, body| sign::github(secret, body),
    },
    Signing::Body {
        header: "x-hub-signature",
        sign: |secret, body| sign::github_sha1(secret, body),
    },
];
const GITHUB_HEADERS: &[(&str, &str)] = &[
    ("x-github-event", "{{event}}"),
    ("x-github-delivery", "{{id}}"),
    ("x-github-hook-id", "1"),
    ("x-github-hook-installation-target-type", "repository"),
    ("x-github-hook-installation-target-id", "1296269"),
];
const GITHUB_SAMPLES: Sample = Sample::PerEvent(&[
    ("issues", include_str!("samples/github-issues.json")),
    ("ping", include_str!("samples/github-ping.json")),
]);

pub(super) const SENDERS: &[Profile] = &[
    Profile {
        name: "asana",
        help: "Asana: X-Hook-Signature (hex HMAC-SHA256), keyed with the X-Hook-Secret; \
               --handshake sends that X-Hook-Secret (--secret, or a fresh one)",
        sample: any("changed", include_str!("samples/asana.json")),
        signatures: &[Signing::Body {
            header: "x-hook-signature",
            sign: |secret, body| sign::asana(secret, body),
        }],
        handshake: Some(Handshake::Asana),
        ..Profile::BASE
    },
    Profile {
        name: "basic",
        help: "HTTP Basic auth from --user and --password",
        sample: any("UPDATE", include_str!("samples/integration.json")),
        signatures: &[Signing::Basic],
        secret: SecretUse::Unused,
        ..Profile::BASE
    },
    Profile {
        name: "bitbucket",
        help: "Bitbucket Cloud: X-Event-Key, X-Hub-Signature (sha256=)",
        sample: any("repo:push", include_str!("samples/bitbucket.json")),
        id: Some(IdForm::Uuid),
        user_agent: Some("Bitbucket-Webhooks/2.0"),
        headers: &[
            ("x-event-key", "{{event}}"),
            ("x-request-uuid", "{{id}}"),
            ("x-hook-uuid", "{{uuid}}"),
            ("x-attempt-number", "1"),
        ],
        signatures: &[Signing::Body {
            header: "x-hub-signature",
            sign: |secret, body| sign::bitbucket(secret, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "calendly",
        help: "Calendly: Calendly-Webhook-Signature (t=,v1=)",
        sample: any("invitee.created", include_str!("samples/calendly.json")),
        signatures: &[Signing::Timed {
            header: "calendly-webhook-signature",
            unit: Unit::Seconds,
            sign: |secret, at, body| sign::calendly(secret, at, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "clerk",
        help: "Clerk (through Svix): svix-id, svix-timestamp, svix-signature (whsec_ secret)",
        sample: any("user.created", include_str!("samples/clerk.json")),
        id: MSG_ID,
        user_agent: SVIX_AGENT,
        headers: SVIX_HEADERS,
        signatures: SVIX_SIGNATURE,
        ..Profile::BASE
    },
    Profile {
        name: "cloudevents",
        help: "A CloudEvents sender in binary mode (ce-* headers), unsigned; --handshake sends \
               the webhook spec's OPTIONS",
        sample: any(
            "com.example.order.shipped",
            include_str!("samples/cloudevents.json"),
        ),
        id: Some(IdForm::Uuid),
        headers: &[
            ("ce-specversion", "1.0"),
            ("ce-type", "{{event}}"),
            ("ce-source", "https://eventemitter.example.com/orders"),
            ("ce-id", "{{id}}"),
            ("ce-time", "{{iso}}"),
        ],
        secret: SecretUse::Unused,
        handshake: Some(Handshake::CloudEvents),
        ..Profile::BASE
    },
    Profile {
        name: "coinbase-commerce",
        help: "Coinbase Commerce: X-CC-Webhook-Signature (hex HMAC-SHA256)",
        sample: any(
            "charge:confirmed",
            include_str!("samples/coinbase-commerce.json"),
        ),
        id: Some(IdForm::Uuid),
        // As receivers quote Coinbase Commerce's deliveries (captured headers beside
        // `X-Cc-Webhook-Signature`); Coinbase's documentation names no User-Agent.
        user_agent: Some("weipay-webhooks"),
        signatures: &[Signing::Body {
            header: "x-cc-webhook-signature",
            sign: |secret, body| sign::coinbase_commerce(secret, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "discord",
        help: "Discord interactions: X-Signature-Ed25519, X-Signature-Timestamp; --secret is an \
               Ed25519 seed (hex), the public key to configure is printed; --handshake sends \
               the signed PING",
        sample: any("blep", include_str!("samples/discord.json")),
        id: Some(IdForm::Hex("", 8)),
        user_agent: Some("Discord-Interactions/1.0 (+https://discord.com)"),
        headers: &[("x-signature-timestamp", "{{unix}}")],
        signatures: &[Signing::Discord],
        handshake: Some(Handshake::Discord),
        ..Profile::BASE
    },
    Profile {
        name: "dropbox",
        help: "Dropbox: X-Dropbox-Signature (hex HMAC-SHA256, the app secret); --handshake \
               sends GET ?challenge=",
        sample: any("list_folder", include_str!("samples/dropbox.json")),
        user_agent: Some("DropboxWebhooks/1.0"),
        signatures: &[Signing::Body {
            header: "x-dropbox-signature",
            sign: |secret, body| sign::dropbox(secret, body),
        }],
        handshake: Some(Handshake::Dropbox),
        ..Profile::BASE
    },
    Profile {
        name: "github",
        help: "GitHub: X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256 (and the legacy \
               X-Hub-Signature) with a secret",
        sample: GITHUB_SAMPLES,
        id: Some(IdForm::Uuid),
        // GitHub appends a build id; ours says who really sent it.
        user_agent: Some("GitHub-Hookshot/reference-receiver"),
        headers: GITHUB_HEADERS,
        signatures: GITHUB_SIGNATURES,
        secret: SecretUse::Optional,
        ..Profile::BASE
    },
    Profile {
        name: "github-sha1",
        help: "GitHub as legacy receivers check it (X-Hub-Signature, sha1=); sends both headers",
        sample: GITHUB_SAMPLES,
        id: Some(IdForm::Uuid),
        user_agent: Some("GitHub-Hookshot/reference-receiver"),
        headers: GITHUB_HEADERS,
        signatures: GITHUB_SIGNATURES,
        ..Profile::BASE
    },
    Profile {
        name: "gitlab",
        help: "GitLab: X-Gitlab-Event, X-Gitlab-Token (the secret token, sent as it is)",
        sample: any("Issue Hook", include_str!("samples/gitlab.json")),
        id: Some(IdForm::Uuid),
        user_agent: Some("GitLab/17.6.0"),
        headers: &[
            ("x-gitlab-event", "{{event}}"),
            ("x-gitlab-event-uuid", "{{id}}"),
            ("x-gitlab-webhook-uuid", "{{uuid}}"),
            ("x-gitlab-instance", "https://gitlab.example.com"),
        ],
        signatures: &[Signing::Token {
            header: "x-gitlab-token",
        }],
        ..Profile::BASE
    },
    Profile {
        name: "hubspot",
        help: "HubSpot v3: X-HubSpot-Signature-v3 over the method, the URL posted to, the body \
               and X-HubSpot-Request-Timestamp (ms), keyed with the client secret",
        sample: any(
            "contact.propertyChange",
            include_str!("samples/hubspot.json"),
        ),
        // As captured from HubSpot's webhook deliveries (with `X-HubSpot-Signature-v3`) in
        // public receivers' request dumps; HubSpot's documentation names no User-Agent.
        user_agent: Some(
            "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio-http-client) \
             - WebhooksExecutorDaemon-executor",
        ),
        headers: &[("x-hubspot-request-timestamp", "{{unix_ms}}")],
        signatures: &[Signing::Request {
            header: "x-hubspot-signature-v3",
            sign: |secret, request| {
                let at = request.header("x-hubspot-request-timestamp");
                let at = at.parse().unwrap_or_default();
                sign::hubspot(secret, "POST", request.url, request.body, at)
            },
        }],
        ..Profile::BASE
    },
    Profile {
        name: "intercom",
        help: "Intercom: X-Hub-Signature (sha1=, keyed with the client secret)",
        sample: any(
            "conversation.user.created",
            include_str!("samples/intercom.json"),
        ),
        id: Some(IdForm::Hex("", 8)),
        signatures: &[Signing::Body {
            header: "x-hub-signature",
            sign: |secret, body| sign::intercom(secret, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "lemon-squeezy",
        help: "Lemon Squeezy: X-Event-Name, X-Signature (hex HMAC-SHA256)",
        sample: any("order_created", include_str!("samples/lemon-squeezy.json")),
        headers: &[("x-event-name", "{{event}}")],
        signatures: &[Signing::Body {
            header: "x-signature",
            sign: |secret, body| sign::lemon_squeezy(secret, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "line",
        help: "LINE Messaging API: x-line-signature (base64, the channel secret)",
        sample: any("message", include_str!("samples/line.json")),
        id: Some(IdForm::UpperHex("01", 12)),
        user_agent: Some("LineBotWebhook/2.0"),
        signatures: &[Signing::Body {
            header: "x-line-signature",
            sign: |secret, body| sign::line(secret, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "linear",
        help: "Linear: Linear-Event, Linear-Delivery, Linear-Signature (hex HMAC-SHA256)",
        sample: any("Issue", include_str!("samples/linear.json")),
        id: Some(IdForm::Uuid),
        user_agent: Some("Linear-Webhook"),
        headers: &[("linear-event", "{{event}}"), ("linear-delivery", "{{id}}")],
        signatures: &[Signing::Body {
            header: "linear-signature",
            sign: |secret, body| sign::linear(secret, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "mailgun",
        help: "Mailgun: the body's signature object (timestamp, token, hex HMAC-SHA256), keyed \
               with the webhook signing key",
        sample: any("delivered", include_str!("samples/mailgun.json")),
        id: Some(IdForm::Hex("", 11)),
        in_body: Some(|key, body| {
            let field = |name: &str| body["signature"][name].as_str().map(str::to_owned);
            let (Some(timestamp), Some(token)) = (field("timestamp"), field("token")) else {
                anyhow::bail!("a Mailgun body needs signature.timestamp and signature.token");
            };
            let timestamp = timestamp
                .parse()
                .map_err(|_| anyhow::anyhow!("signature.timestamp is not unix seconds"))?;
            body["signature"]["signature"] = sign::mailgun(key, timestamp, &token).into();
            Ok(())
        }),
        ..Profile::BASE
    },
    Profile {
        name: "meta",
        help: "Meta (WhatsApp, Facebook, Instagram): X-Hub-Signature-256 and X-Hub-Signature \
               (the app secret); --handshake sends the hub.challenge GET with --verify-token",
        sample: any("messages", include_str!("samples/meta.json")),
        user_agent: Some("facebookexternalua"),
        signatures: &[
            Signing::Body {
                header: "x-hub-signature-256",
                sign: |secret, body| sign::meta(secret, body),
            },
            // The same `sha1=` form as GitHub's legacy header, also over the body.
            Signing::Body {
                header: "x-hub-signature",
                sign: |secret, body| sign::github_sha1(secret, body),
            },
        ],
        handshake: Some(Handshake::Meta),
        ..Profile::BASE
    },
    Profile {
        name: "microsoft-graph",
        help: "Microsoft Graph change notifications: --secret is the subscription's clientState, \
               written into each notification; --handshake sends ?validationToken=",
        sample: any("created", include_str!("samples/microsoft-graph.json")),
        id: Some(IdForm::Uuid),
        secret: SecretUse::Optional,
        in_body: Some(|client_state, body| {
            let client_state = std::str::from_utf8(client_state)
                .map_err(|_| anyhow::anyhow!("the clientState is not UTF-8 text"))?;
            let Some(notifications) = body["value"].as_array_mut() else {
                anyhow::bail!("a Microsoft Graph body is {{\"value\": [notifications]}}");
            };
            for notification in notifications {
                notification["clientState"] = client_state.into();
            }
            Ok(())
        }),
        handshake: Some(Handshake::MicrosoftGraph),
        ..Profile::BASE
    },
    Profile {
        name: "mux",
        help: "Mux: Mux-Signature (t=,v1=)",
        sample: any("video.asset.ready", include_str!("samples/mux.json")),
        id: Some(IdForm::Uuid),
        signatures: &[Signing::Timed {
            header: "mux-signature",
            unit: Unit::Seconds,
            sign: |secret, at, body| sign::mux(secret, at, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "okta",
        help: "Okta event hooks: Authorization (the configured secret, sent as it is); \
               --handshake sends X-Okta-Verification-Challenge",
        sample: any("user.session.start", include_str!("samples/okta.json")),
        id: Some(IdForm::Uuid),
        // Okta documents its event hooks' Accept, Content-Type and Authorization headers and no
        // User-Agent, and none was found quoted: ours is sent rather than an invented one.
        user_agent: None,
        signatures: &[Signing::Token {
            header: "authorization",
        }],
        handshake: Some(Handshake::Okta),
        ..Profile::BASE
    },
    Profile {
        name: "openai",
        help: "OpenAI: webhook-id, webhook-timestamp, webhook-signature (whsec_ secret)",
        sample: any("response.completed", include_str!("samples/openai.json")),
        id: Some(IdForm::Hex("wh_", 16)),
        user_agent: Some("OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"),
        headers: WEBHOOK_HEADERS,
        signatures: WEBHOOK_SIGNATURE,
        ..Profile::BASE
    },
    Profile {
        name: "paddle",
        help: "Paddle Billing: Paddle-Signature (ts=;h1=)",
        sample: any("transaction.completed", include_str!("samples/paddle.json")),
        id: Some(IdForm::Hex("evt_", 13)),
        signatures: &[Signing::Timed {
            header: "paddle-signature",
            unit: Unit::Seconds,
            sign: |secret, at, body| sign::paddle(secret, at, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "pagerduty",
        help: "PagerDuty v3: X-PagerDuty-Signature (v1=), X-Webhook-Id",
        sample: any("incident.triggered", include_str!("samples/pagerduty.json")),
        id: Some(IdForm::Uuid),
        user_agent: Some("PagerDuty-Webhook/V3.0"),
        headers: &[
            ("x-webhook-id", "{{id}}"),
            ("x-webhook-subscription", "PY1OQ9N"),
        ],
        signatures: &[Signing::Body {
            header: "x-pagerduty-signature",
            sign: |secret, body| sign::pagerduty(secret, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "plain",
        help: "No authentication",
        sample: any("UPDATE", include_str!("samples/integration.json")),
        secret: SecretUse::Unused,
        ..Profile::BASE
    },
    Profile {
        name: "polar",
        help: "Polar: webhook-id, webhook-timestamp, webhook-signature (the secret as Polar \
               shows it)",
        sample: any("order.created", include_str!("samples/polar.json")),
        id: MSG_ID,
        headers: WEBHOOK_HEADERS,
        signatures: &[Signing::StandardWebhooks {
            header: "webhook-signature",
            key: WhsecKey::Raw,
        }],
        ..Profile::BASE
    },
    Profile {
        name: "razorpay",
        help: "Razorpay: X-Razorpay-Event-Id, X-Razorpay-Signature (hex HMAC-SHA256)",
        sample: any("payment.captured", include_str!("samples/razorpay.json")),
        id: Some(IdForm::Hex("", 7)),
        user_agent: Some("Razorpay-Webhook/v1"),
        headers: &[("x-razorpay-event-id", "{{id}}")],
        signatures: &[Signing::Body {
            header: "x-razorpay-signature",
            sign: |secret, body| sign::razorpay(secret, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "resend",
        help: "Resend (through Svix): svix-id, svix-timestamp, svix-signature (whsec_ secret)",
        sample: any("email.delivered", include_str!("samples/resend.json")),
        id: MSG_ID,
        user_agent: SVIX_AGENT,
        headers: SVIX_HEADERS,
        signatures: SVIX_SIGNATURE,
        ..Profile::BASE
    },
    Profile {
        name: "sendgrid",
        help: "SendGrid Event Webhook: X-Twilio-Email-Event-Webhook-Signature (ECDSA P-256); \
               --secret is a PKCS#8 private key, the public key to configure is printed",
        sample: any("delivered", include_str!("samples/sendgrid.json")),
        id: Some(IdForm::Hex("", 11)),
        user_agent: Some("SendGrid Event API"),
        headers: &[("x-twilio-email-event-webhook-timestamp", "{{unix}}")],
        signatures: &[Signing::SendGrid],
        ..Profile::BASE
    },
    Profile {
        name: "sentry",
        help: "Sentry integrations: Sentry-Hook-Resource, Sentry-Hook-Signature (the client \
               secret)",
        sample: any("created", include_str!("samples/sentry.json")),
        id: Some(IdForm::Uuid),
        // Sentry documents its four Sentry-Hook headers and no User-Agent, and none was found
        // quoted: ours is sent rather than an invented one.
        user_agent: None,
        headers: &[
            ("sentry-hook-resource", "issue"),
            ("sentry-hook-timestamp", "{{unix}}"),
            ("request-id", "{{id}}"),
        ],
        signatures: &[Signing::Body {
            header: "sentry-hook-signature",
            sign: |secret, body| sign::sentry(secret, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "shopify",
        help: "Shopify: X-Shopify-Topic, X-Shopify-Webhook-Id, X-Shopify-Hmac-Sha256",
        sample: any("orders/create", include_str!("samples/shopify.json")),
        id: Some(IdForm::Uuid),
        user_agent: Some("Shopify-Captain-Hook"),
        headers: &[
            ("x-shopify-topic", "{{event}}"),
            ("x-shopify-shop-domain", "example.myshopify.com"),
            ("x-shopify-api-version", "2024-10"),
            ("x-shopify-webhook-id", "{{id}}"),
            ("x-shopify-event-id", "{{uuid}}"),
            ("x-shopify-triggered-at", "{{iso_ms}}"),
        ],
        signatures: &[Signing::Body {
            header: "x-shopify-hmac-sha256",
            sign: |secret, body| sign::shopify(secret, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "slack",
        help: "Slack: X-Slack-Request-Timestamp, X-Slack-Signature; --handshake sends the \
               signed url_verification",
        sample: any("app_mention", include_str!("samples/slack.json")),
        id: Some(IdForm::UpperHex("Ev", 5)),
        user_agent: Some("Slackbot 1.0 (+https://api.slack.com/robots)"),
        headers: &[("x-slack-request-timestamp", "{{unix}}")],
        signatures: &[Signing::Timed {
            header: "x-slack-signature",
            unit: Unit::Seconds,
            sign: |secret, at, body| sign::slack(secret, at, body),
        }],
        handshake: Some(Handshake::Slack),
        ..Profile::BASE
    },
    Profile {
        name: "sonar",
        help: "Sonar: no signature (the URL is the secret); its HEAD probe with --head",
        sample: any("account.status", include_str!("samples/sonar.json")),
        secret: SecretUse::Unused,
        ..Profile::BASE
    },
    Profile {
        name: "square",
        help: "Square: x-square-hmacsha256-signature (base64 HMAC-SHA256 of the URL posted to \
               and the body), keyed with the subscription's signature key",
        sample: any("payment.updated", include_str!("samples/square.json")),
        id: Some(IdForm::Uuid),
        // Square documents its notifications' square-* metadata headers and no User-Agent, and
        // none was found quoted from a real delivery: ours is sent rather than an invented one.
        user_agent: None,
        signatures: &[Signing::Request {
            header: "x-square-hmacsha256-signature",
            sign: |secret, request| sign::square(secret, request.url, request.body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "standard-webhooks",
        help: "Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature (whsec_ \
               secret)",
        sample: any(
            "invoice.paid",
            include_str!("samples/standard-webhooks.json"),
        ),
        id: MSG_ID,
        headers: WEBHOOK_HEADERS,
        signatures: WEBHOOK_SIGNATURE,
        ..Profile::BASE
    },
    Profile {
        name: "standard-webhooks-v1a",
        help: "Standard Webhooks signed with Ed25519 (v1a); --secret is a whsk_ secret key, the \
               whpk_ key to configure is printed",
        sample: any(
            "invoice.paid",
            include_str!("samples/standard-webhooks.json"),
        ),
        id: MSG_ID,
        headers: WEBHOOK_HEADERS,
        signatures: &[Signing::StandardWebhooksV1a {
            header: "webhook-signature",
        }],
        ..Profile::BASE
    },
    Profile {
        name: "stripe",
        help: "Stripe: Stripe-Signature (t=,v1=; the whole whsec_ secret is the key)",
        sample: any(
            "payment_intent.succeeded",
            include_str!("samples/stripe.json"),
        ),
        id: Some(IdForm::Hex("evt_", 12)),
        user_agent: Some("Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
        signatures: &[Signing::Timed {
            header: "stripe-signature",
            unit: Unit::Seconds,
            sign: |secret, at, body| sign::stripe(secret, at, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "superoffice",
        help: "SuperOffice: X-SuperOffice-Event and -EventId, X-SuperOffice-Signature with a \
               secret; --test sends its registration test",
        sample: any("contact.changed", include_str!("samples/superoffice.json")),
        id: Some(IdForm::Uuid),
        headers: &[
            ("x-superoffice-event", "{{event}}"),
            ("x-superoffice-eventid", "{{id}}"),
        ],
        signatures: &[Signing::Body {
            header: "x-superoffice-signature",
            sign: |secret, body| sign::superoffice(secret, body),
        }],
        secret: SecretUse::Optional,
        test: Some(("x-hook-test", "true")),
        ..Profile::BASE
    },
    Profile {
        name: "svix",
        help: "Svix: svix-id, svix-timestamp, svix-signature (whsec_ secret)",
        sample: any(
            "invoice.paid",
            include_str!("samples/standard-webhooks.json"),
        ),
        id: MSG_ID,
        user_agent: SVIX_AGENT,
        headers: SVIX_HEADERS,
        signatures: SVIX_SIGNATURE,
        ..Profile::BASE
    },
    Profile {
        name: "token",
        help: "A static token in a header (--header; by default Authorization: Bearer)",
        sample: any("UPDATE", include_str!("samples/integration.json")),
        signatures: &[Signing::ChosenToken],
        ..Profile::BASE
    },
    Profile {
        name: "trello",
        help: "Trello: X-Trello-Webhook (base64 HMAC-SHA1 of the body and the URL posted to), \
               keyed with the application's secret; --handshake sends its HEAD",
        sample: any("updateCard", include_str!("samples/trello.json")),
        id: Some(IdForm::Hex("", 12)),
        signatures: &[Signing::Request {
            header: "x-trello-webhook",
            sign: |secret, request| sign::trello(secret, request.url, request.body),
        }],
        handshake: Some(Handshake::Trello),
        ..Profile::BASE
    },
    Profile {
        name: "twilio",
        help: "Twilio: X-Twilio-Signature (base64 HMAC-SHA1 of the URL posted to and the form \
               parameters), keyed with the auth token; a form body, so the endpoint needs \
               accept_form_bodies; --json sends a JSON body, its hash in the URL (bodySHA256)",
        sample: any("delivered", include_str!("samples/twilio.form")),
        content_type: "application/x-www-form-urlencoded",
        // A form is signed with its parameters, so the URL is posted to as given.
        url: None,
        json: Some(&TWILIO_JSON),
        ..TWILIO_JSON
    },
    Profile {
        name: "twitch",
        help: "Twitch EventSub: Twitch-Eventsub-Message-Id, -Timestamp and -Signature (sha256= \
               over id, timestamp and body); --handshake sends the signed \
               webhook_callback_verification",
        sample: any("channel.follow", include_str!("samples/twitch.json")),
        id: Some(IdForm::Uuid),
        headers: &[
            ("twitch-eventsub-message-id", "{{id}}"),
            ("twitch-eventsub-message-retry", "0"),
            ("twitch-eventsub-message-type", "notification"),
            ("twitch-eventsub-message-timestamp", "{{iso_us}}"),
            ("twitch-eventsub-subscription-type", "{{event}}"),
            ("twitch-eventsub-subscription-version", "2"),
        ],
        signatures: &[Signing::Request {
            header: "twitch-eventsub-message-signature",
            sign: |secret, request| {
                let id = request.header("twitch-eventsub-message-id");
                let at = request.header("twitch-eventsub-message-timestamp");
                sign::twitch(secret, id, at, request.body)
            },
        }],
        handshake: Some(Handshake::Twitch),
        ..Profile::BASE
    },
    Profile {
        name: "typeform",
        help: "Typeform: Typeform-Signature (sha256=, base64)",
        sample: any("form_response", include_str!("samples/typeform.json")),
        id: Some(IdForm::UpperHex("01", 12)),
        user_agent: Some("Typeform Webhooks"),
        signatures: &[Signing::Body {
            header: "typeform-signature",
            sign: |secret, body| sign::typeform(secret, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "vercel",
        help: "Vercel: x-vercel-signature (hex HMAC-SHA1)",
        sample: any("deployment.succeeded", include_str!("samples/vercel.json")),
        id: Some(IdForm::Hex("", 10)),
        // Vercel documents x-vercel-signature and no User-Agent, and none was found quoted:
        // ours is sent rather than an invented one.
        user_agent: None,
        signatures: &[Signing::Body {
            header: "x-vercel-signature",
            sign: |secret, body| sign::vercel(secret, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "workos",
        help: "WorkOS: WorkOS-Signature (t=<ms>, v1=)",
        sample: any("user.created", include_str!("samples/workos.json")),
        id: Some(IdForm::UpperHex("event_01", 12)),
        signatures: &[Signing::Timed {
            header: "workos-signature",
            unit: Unit::Milliseconds,
            sign: |secret, at, body| sign::workos(secret, at, body),
        }],
        ..Profile::BASE
    },
    Profile {
        name: "zoom",
        help: "Zoom: x-zm-request-timestamp, x-zm-signature (v0=; the secret token); \
               --handshake sends the signed endpoint.url_validation",
        sample: any("meeting.started", include_str!("samples/zoom.json")),
        // As Zoom's own sample receiver (zoom/webhook-sample) shows a delivery's headers.
        user_agent: Some("Zoom Marketplace/1.0a"),
        headers: &[("x-zm-request-timestamp", "{{unix}}")],
        signatures: &[Signing::Timed {
            header: "x-zm-signature",
            unit: Unit::Seconds,
            sign: |secret, at, body| sign::zoom(secret, at, body),
        }],
        handshake: Some(Handshake::Zoom),
        ..Profile::BASE
    },
];
