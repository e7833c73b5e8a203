// The senders that sign the URL, through their own published libraries: `sign` prints the
// headers (and the URL, which Twilio extends with bodySHA256 for JSON) the sender would send;
// `verify` prints whether the library accepts a signature our SDK wrote. Reads JSON on stdin:
// {op, provider, secret, url, method, body, json, algorithm, timestamp, signature}.
import { readFileSync } from "node:fs";
import twilio from "twilio";
import { WebhooksHelper } from "square";
import { Signature } from "@hubspot/api-client";

const input = JSON.parse(readFileSync(0, "utf8"));
const { op, provider, secret, body, signature } = input;
const method = input.method || "POST";

// A form body as Express's urlencoded parser hands it to Twilio's library: a name sent
// several times becomes an array.
function formParams(text) {
  const params = {};
  for (const [name, value] of new URLSearchParams(text)) {
    if (name in params) {
      params[name] = [].concat(params[name], value);
    } else {
      params[name] = value;
    }
  }
  return params;
}

// The URL Twilio signs for this body: for JSON, with bodySHA256 added to the query.
function twilioUrl() {
  if (!input.json) {
    return input.url;
  }
  const hash = twilio.getExpectedBodyHash(body);
  return input.url + (input.url.includes("?") ? "&" : "?") + "bodySHA256=" + hash;
}

let output;
if (op === "sign") {
  switch (provider) {
    case "twilio": {
      const url = twilioUrl();
      const params = input.json ? null : formParams(body);
      // A SharedKey webhook names HMAC_SHA256 in its settings header; the default is HMAC_SHA1.
      const algorithm = input.algorithm || twilio.HMAC_SHA1;
      const headers = {
        "x-twilio-signature": twilio.getExpectedTwilioSignature(secret, url, params, algorithm),
      };
      if (input.algorithm) {
        headers["x-twilio-webhooks-signature-settings"] = `key=webhooks_sharedkey_1,algorithm=${algorithm}`;
      }
      output = { url, headers };
      break;
    }
    case "hubspot": {
      const timestamp = String(input.timestamp);
      const options = { clientSecret: secret, url: input.url, requestBody: body, timestamp };
      output = {
        url: input.url,
        headers: {
          "x-hubspot-signature-v3": Signature.getSignature(method, "v3", options),
          "x-hubspot-request-timestamp": timestamp,
        },
      };
      break;
    }
    default:
      console.error(`${provider} has no signer here`);
      process.exit(2);
  }
} else if (op === "verify") {
  let valid;
  switch (provider) {
    case "twilio":
      valid = input.json
        ? twilio.validateRequestWithBody(secret, signature, input.url, body, input.algorithm)
        : twilio.validateRequest(secret, signature, input.url, formParams(body), input.algorithm);
      break;
    case "square":
      valid = await WebhooksHelper.verifySignature({
        requestBody: body,
        signatureHeader: signature,
        signatureKey: secret,
        notificationUrl: input.url,
      });
      break;
    case "hubspot":
      try {
        valid = Signature.isValid({
          signatureVersion: "v3",
          signature,
          clientSecret: secret,
          method,
          url: input.url,
          requestBody: body,
          timestamp: Number(input.timestamp),
        });
      } catch {
        // isValid throws for a timestamp older than five minutes.
        valid = false;
      }
      break;
    default:
      console.error(`${provider} has no verifier here`);
      process.exit(2);
  }
  output = { valid };
} else {
  console.error(`unknown op ${op}`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(output));
