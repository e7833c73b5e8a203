// Signs one delivery with a sender's own published library and prints the headers it would
// send, as JSON. Used by the end-to-end interop tests; reads {scheme, secret, body, id,
// timestamp} as JSON on stdin.
import { readFileSync } from "node:fs";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { sign as githubSign } from "@octokit/webhooks-methods";
import Stripe from "stripe";
import { WorkOS } from "@workos-inc/node";

const input = JSON.parse(readFileSync(0, "utf8"));
const { scheme, secret, body, id, timestamp } = input;
const date = new Date(timestamp * 1000);
let headers;
switch (scheme) {
  case "standard-webhooks":
    headers = new StandardWebhook(secret).sign(id, date, body);
    headers = {
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": headers,
    };
    break;
  case "svix":
    headers = {
      "svix-id": id,
      "svix-timestamp": String(timestamp),
      "svix-signature": new SvixWebhook(secret).sign(id, date, body),
    };
    break;
  case "github":
    headers = { "x-hub-signature-256": await githubSign(secret, body) };
    break;
  case "stripe": {
    const stripe = new Stripe("sk_test_unused");
    headers = {
      "stripe-signature": stripe.webhooks.generateTestHeaderString({
        payload: body,
        secret,
        timestamp,
      }),
    };
    break;
  }
  case "workos": {
    // WorkOS signs `{t}.{body}` with t in milliseconds and sends `t=<ms>, v1=<hex>`.
    const workos = new WorkOS("sk_test_unused");
    const millis = String(timestamp * 1000);
    const signature = await workos.webhooks.computeSignature(millis, body, secret);
    headers = { "workos-signature": `t=${millis}, v1=${signature}` };
    break;
  }
  default:
    console.error(`unknown scheme ${scheme}`);
    process.exit(2);
}
process.stdout.write(JSON.stringify(headers));
