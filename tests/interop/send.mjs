// Checks a delivery `reference-receiver send --as <provider>` sent, as it was captured, with
// the provider's own published library. Reads {provider, key, headers, body, url} as JSON on
// stdin (`key` is the secret, or for the public-key senders the public key `send` printed;
// header names in lower case; `url` the URL posted to, which Twilio, Square and HubSpot sign)
// and prints {"valid": true|false}.
import { readFileSync } from "node:fs";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { verify as githubVerify } from "@octokit/webhooks-methods";
import Stripe from "stripe";
import { Paddle } from "@paddle/paddle-node-sdk";
import { WorkOS } from "@workos-inc/node";
import { verifyKey } from "discord-interactions";
import sendgrid from "@sendgrid/eventwebhook";
import twilio from "twilio";
import { WebhooksHelper } from "square";
import { Signature } from "@hubspot/api-client";
import { EventSubMiddleware } from "@twurple/eventsub-http";

const { provider, key, headers, body, url } = JSON.parse(readFileSync(0, "utf8"));

// The libraries that throw on a bad signature count a throw as invalid.
async function accepts(check) {
  try {
    return (await check()) !== false;
  } catch {
    return false;
  }
}

let valid;
switch (provider) {
  case "svix":
  case "clerk":
  case "resend":
    valid = await accepts(() => new SvixWebhook(key).verify(body, headers));
    break;
  case "standard-webhooks":
  case "openai":
    valid = await accepts(() => new StandardWebhook(key).verify(body, headers));
    break;
  case "polar": {
    // Polar's own SDK: the signature, its five-minute window and a known event type.
    const { webhooks } = await import("@polar-sh/sdk/2026-10");
    valid = await accepts(() => webhooks.validateEvent(body, headers, key));
    break;
  }
  case "shopify": {
    const { shopifyValidates } = await import("./shopify.mjs");
    valid = await shopifyValidates(key, url, headers, body);
    break;
  }
  case "stripe":
    valid = await accepts(() =>
      new Stripe("sk_test_unused").webhooks.constructEvent(body, headers["stripe-signature"], key),
    );
    break;
  case "github":
    valid = await accepts(() => githubVerify(key, body, headers["x-hub-signature-256"]));
    break;
  case "paddle":
    valid = await accepts(() =>
      new Paddle("pdl_sdbx_apikey_unused").webhooks.isSignatureValid(
        body,
        key,
        headers["paddle-signature"],
      ),
    );
    break;
  case "workos":
    valid = await accepts(() =>
      new WorkOS("sk_test_unused").webhooks.verifyHeader({
        payload: body,
        sigHeader: headers["workos-signature"],
        secret: key,
      }),
    );
    break;
  case "discord":
    valid = await accepts(() =>
      verifyKey(body, headers["x-signature-ed25519"], headers["x-signature-timestamp"], key),
    );
    break;
  case "sendgrid": {
    const webhook = new sendgrid.EventWebhook();
    valid = await accepts(() =>
      webhook.verifySignature(
        webhook.convertPublicKeyToECDSA(key),
        body,
        headers["x-twilio-email-event-webhook-signature"],
        headers["x-twilio-email-event-webhook-timestamp"],
      ),
    );
    break;
  }
  case "twilio":
    // A JSON body is checked whole against the bodySHA256 in the signed URL; a form's
    // parameters as Express's urlencoded parser hands them to Twilio's library.
    valid = await accepts(() =>
      headers["content-type"].startsWith("application/json")
        ? twilio.validateRequestWithBody(key, headers["x-twilio-signature"], url, body)
        : twilio.validateRequest(
            key,
            headers["x-twilio-signature"],
            url,
            Object.fromEntries(new URLSearchParams(body)),
          ),
    );
    break;
  case "square":
    valid = await accepts(() =>
      WebhooksHelper.verifySignature({
        requestBody: body,
        signatureHeader: headers["x-square-hmacsha256-signature"],
        signatureKey: key,
        notificationUrl: url,
      }),
    );
    break;
  case "hubspot":
    // isValid also throws for a timestamp older than five minutes.
    valid = await accepts(() =>
      Signature.isValid({
        signatureVersion: "v3",
        signature: headers["x-hubspot-signature-v3"],
        clientSecret: key,
        method: "POST",
        url,
        requestBody: body,
        timestamp: Number(headers["x-hubspot-request-timestamp"]),
      }),
    );
    break;
  case "twitch":
    // Twurple's own check of an EventSub message (the HMAC of id, timestamp and body).
    valid = await accepts(() =>
      EventSubMiddleware.prototype._verifyData.call(
        { _secret: key },
        headers["twitch-eventsub-message-id"],
        headers["twitch-eventsub-message-timestamp"],
        body,
        headers["twitch-eventsub-message-signature"],
      ),
    );
    break;
  default:
    console.error(`no library for ${provider}`);
    process.exit(2);
}
process.stdout.write(JSON.stringify({ valid }));
