// The catalogue's HMAC senders, checked with each sender's own published library: whether the
// library accepts a delivery (its body and headers, as our SDK signed it), and, where the
// library exposes its signing function, the headers it would send. Used by the end-to-end
// interop tests (tests/e2e/catalogue_interop.rs); reads JSON on stdin:
//   {op: "verify", scheme, secret, body, headers}   -> {valid}
//   {op: "sign", scheme, secret, body, timestamp}   -> {headers}
// `headers` maps lower-case header names to values. Libraries that judge a timestamp's age
// (Mux, Linear) judge it against this machine's clock.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// Each library is loaded only when its scheme is asked for: loading all of them for every
// check would cost more than the checks.
const require = createRequire(import.meta.url);
const mux = async (secret) => {
  const { default: Mux } = await import("@mux/mux-node");
  return new Mux({ tokenId: "unused", tokenSecret: "unused", webhookSecret: secret });
};
// GitHub's legacy sha1 header, as Octokit signed and verified it until 4.1.0 (5.0.0 dropped
// sha1), pinned under an alias beside the current release.
const octokitSha1 = () => import("octokit-webhooks-methods-sha1");
const coinbase = () => require("coinbase-commerce-node").Webhook;
const zoom = async (secret) => {
  const { AwsLambdaReceiver } = await import("@zoom/rivet/users");
  return new AwsLambdaReceiver({ webhooksSecretToken: secret });
};

const input = JSON.parse(readFileSync(0, "utf8"));
const { op, scheme, secret, body } = input;
const headers = input.headers ?? {};

// Zoom's receiver logs each event with console.debug; stdout carries only our answer.
console.debug = () => {};

/** Whether `check` returns true without throwing: libraries signal a bad signature either way. */
async function accepts(check) {
  try {
    return (await check()) !== false;
  } catch {
    return false;
  }
}

async function verify() {
  switch (scheme) {
    case "mux": {
      const client = await mux(secret);
      return accepts(() => client.webhooks.verifySignature(body, headers, secret));
    }
    case "github-sha1": {
      const { verify } = await octokitSha1();
      return accepts(() => verify(secret, body, headers["x-hub-signature"]));
    }
    case "razorpay":
      return accepts(() =>
        require("razorpay").validateWebhookSignature(
          body,
          headers["x-razorpay-signature"],
          secret,
        ),
      );
    case "line": {
      const { validateSignature } = await import("@line/bot-sdk");
      return accepts(() => validateSignature(body, secret, headers["x-line-signature"]));
    }
    case "coinbase-commerce":
      return accepts(() =>
        coinbase().verifySigHeader(body, headers["x-cc-webhook-signature"], secret),
      );
    case "linear": {
      // verify() checks the signature, then the body's webhookTimestamp (a minute either way).
      const { LinearWebhookClient } = await import("@linear/sdk/webhooks");
      const client = new LinearWebhookClient(secret);
      return accepts(() => client.verify(Buffer.from(body), headers["linear-signature"]));
    }
    case "shopify": {
      // The whole of Shopify's check: the HMAC of the raw body, then the headers it requires.
      const { shopifyValidates } = await import("./shopify.mjs");
      return shopifyValidates(secret, "https://receiver.test/webhooks", headers, body);
    }
    case "polar": {
      // validateEvent checks the signature and its five-minute window, then the event type;
      // 2026-10 is the newest API version @polar-sh/sdk 1.0.1 ships.
      const { webhooks } = await import("@polar-sh/sdk/2026-10");
      return accepts(() => webhooks.validateEvent(body, headers, secret));
    }
    case "zoom": {
      // Zoom's Lambda receiver answers 200 to what it verifies and 400 to what it does not.
      const receiver = await zoom(secret);
      receiver.init({ eventEmitter: { emit: async () => {} } });
      const answer = await receiver.start()({ body, headers, isBase64Encoded: false }, {});
      return answer.statusCode === 200;
    }
    case "twitch": {
      // Twurple's own check of an EventSub message (the HMAC of id, timestamp and body).
      const { EventSubMiddleware } = await import("@twurple/eventsub-http");
      return accepts(() =>
        EventSubMiddleware.prototype._verifyData.call(
          { _secret: secret },
          headers["twitch-eventsub-message-id"],
          headers["twitch-eventsub-message-timestamp"],
          body,
          headers["twitch-eventsub-message-signature"],
        ),
      );
    }
    default:
      console.error(`unknown scheme ${scheme}`);
      process.exit(2);
  }
}

async function sign() {
  const { timestamp } = input;
  switch (scheme) {
    case "mux": {
      const client = await mux(secret);
      const signature = await client.webhooks.computeSignature(`${timestamp}.${body}`, secret);
      return { "mux-signature": `t=${timestamp},v1=${signature}` };
    }
    case "coinbase-commerce":
      return { "x-cc-webhook-signature": coinbase().computeSignature(body, secret) };
    case "github-sha1": {
      const { sign } = await octokitSha1();
      return { "x-hub-signature": await sign({ secret, algorithm: "sha1" }, body) };
    }
    case "shopify": {
      // Shopify's test helper signs a webhook body as Shopify does.
      const { getHmac } = await import("@shopify/shopify-api/test-helpers");
      return { "x-shopify-hmac-sha256": getHmac(body, secret) };
    }
    case "polar": {
      // Polar's SDK only verifies; Polar sends Standard Webhooks keyed as validateEvent keys
      // it: the secret's UTF-8 bytes, which the Standard Webhooks library takes as base64.
      const { Webhook } = await import("standardwebhooks");
      const id = "msg_polar_1";
      const key = Buffer.from(secret, "utf8").toString("base64");
      const signature = new Webhook(key).sign(id, new Date(timestamp * 1000), body);
      return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature };
    }
    case "zoom-url-validation": {
      // What Zoom's receiver answers to a signed endpoint.url_validation.
      const receiver = await zoom(secret);
      const answer = await receiver.start()({ body, headers, isBase64Encoded: false }, {});
      return { status: String(answer.statusCode), body: answer.body };
    }
    default:
      console.error(`unknown scheme ${scheme}`);
      process.exit(2);
  }
}

let output;
if (op === "verify") {
  output = { valid: await verify() };
} else if (op === "sign") {
  output = { headers: await sign() };
} else {
  console.error(`unknown op ${op}`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(output));
