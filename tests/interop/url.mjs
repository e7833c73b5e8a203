// The senders that sign the URL, through their own published libraries: `sign` prints the
// headers (and the URL, which Twilio extends with bodySHA256 for JSON) the sender would send;
// `verify` prints whether the library accepts a signature our SDK wrote; `twilio-forms` signs
// URL forms of each of `received` and says which twilio's library accepts at that URL. Reads
// JSON on stdin: {op, provider, secret, url, method, body, json, algorithm, timestamp,
// signature, received}.
import { readFileSync } from "node:fs";
import querystring from "node:querystring";
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

// For the Twilio URL forms sweep: candidate URLs a back end may have signed for `received`,
// built with Node's own `new URL()` and `querystring` (what twilio's library normalises
// with), each with its kind; "other" ones are URLs that no form of `received` is.
function twilioCandidates(received) {
  const ports = (url) => {
    const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
    if (!match) return [url];
    const [, scheme, authority, rest] = match;
    const at = authority.lastIndexOf("@") + 1;
    const hostAndPort = authority.slice(at);
    const colon = hostAndPort.indexOf(":", hostAndPort.lastIndexOf("]") + 1);
    const host = authority.slice(0, at) + (colon === -1 ? hostAndPort : hostAndPort.slice(0, colon));
    const port = scheme.toLowerCase() === "https://" ? ":443" : ":80";
    return [url, scheme + host + rest, scheme + host + port + rest];
  };
  const legacy = (url) => {
    const at = url.indexOf("?");
    if (at === -1 || at === url.length - 1) return url;
    return url.slice(0, at) + "?" + querystring.stringify(querystring.parse(url.slice(at + 1)));
  };
  const candidates = ports(received).map((url) => ({ kind: "as-received", url }));
  let normalised;
  try {
    normalised = new URL(received).toString();
  } catch {
    normalised = null;
  }
  if (normalised !== null) {
    for (const url of ports(normalised)) {
      candidates.push({ kind: "normalised", url });
      candidates.push({ kind: "legacy", url: legacy(url) });
    }
    // Not a form the library tries, though it may equal one.
    candidates.push({ kind: "raw-legacy", url: legacy(received) });
  }
  candidates.push({ kind: "other", url: received + "x" });
  candidates.push({ kind: "other", url: received.replace("/sms", "/voice") });
  candidates.push({ kind: "other", url: received.replace("://", "://other.") });
  return candidates;
}

let output;
if (op === "twilio-forms") {
  // For each received URL and each candidate: the signature twilio's library makes over the
  // candidate, and whether its validateRequest accepts that signature at the received URL.
  output = [];
  for (const received of input.received) {
    for (const { kind, url } of twilioCandidates(received)) {
      const params = formParams(body);
      const signature = twilio.getExpectedTwilioSignature(secret, url, params);
      let valid;
      try {
        valid = twilio.validateRequest(secret, signature, received, params);
      } catch {
        // `new URL()` throws for what is not a URL: the library accepts nothing then.
        valid = false;
      }
      output.push({ received, kind, signed: url, signature, valid });
    }
  }
} else if (op === "sign") {
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
