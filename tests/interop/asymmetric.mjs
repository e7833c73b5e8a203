// The public-key senders, both ways: signs one delivery with Node's own crypto (OpenSSL), or
// checks a signature with the sender's official verifying library (discord-interactions,
// @sendgrid/eventwebhook; Node's crypto for Standard Webhooks v1a, which its libraries on npm
// do not verify yet). Used by the end-to-end interop tests; reads JSON on stdin:
//   {op: "sign", scheme, private_key, body, id, timestamp}        -> {signature}
//   {op: "verify", scheme, public_key, body, id, timestamp, signature} -> {valid}
// Keys are written as the receiver is configured: Discord hex seeds and keys, `whsk_`/`whpk_`
// base64 for Standard Webhooks, base64 DER (PKCS#8 / SubjectPublicKeyInfo) for SendGrid.
import { readFileSync } from "node:fs";
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { verifyKey } from "discord-interactions";
import sendgrid from "@sendgrid/eventwebhook";

const input = JSON.parse(readFileSync(0, "utf8"));
const { op, scheme, body, id, timestamp } = input;

// Ed25519 keys from their raw 32 bytes, wrapped in the fixed DER prefixes of RFC 8410.
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

function ed25519Private(seed) {
  const key = Buffer.concat([PKCS8_ED25519, seed]);
  return createPrivateKey({ key, format: "der", type: "pkcs8" });
}

function ed25519Public(raw) {
  const key = Buffer.concat([SPKI_ED25519, raw]);
  return createPublicKey({ key, format: "der", type: "spki" });
}

const whsk = (text) => Buffer.from(text.replace(/^whsk_/, ""), "base64");
const whpk = (text) => Buffer.from(text.replace(/^whpk_/, ""), "base64");

let output;
if (op === "sign") {
  const key = input.private_key;
  switch (scheme) {
    case "discord": {
      const message = Buffer.from(String(timestamp) + body);
      output = sign(null, message, ed25519Private(Buffer.from(key, "hex"))).toString("hex");
      break;
    }
    case "standard-webhooks-v1a": {
      const message = Buffer.from(`${id}.${timestamp}.${body}`);
      output = "v1a," + sign(null, message, ed25519Private(whsk(key))).toString("base64");
      break;
    }
    case "sendgrid": {
      const privateKey = createPrivateKey({
        key: Buffer.from(key, "base64"),
        format: "der",
        type: "pkcs8",
      });
      output = sign("sha256", Buffer.from(String(timestamp) + body), privateKey).toString("base64");
      break;
    }
    default:
      console.error(`unknown scheme ${scheme}`);
      process.exit(2);
  }
  output = { signature: output };
} else if (op === "verify") {
  const { public_key: key, signature } = input;
  switch (scheme) {
    case "discord":
      output = await verifyKey(body, signature, String(timestamp), key);
      break;
    case "standard-webhooks-v1a": {
      const message = Buffer.from(`${id}.${timestamp}.${body}`);
      const encoded = signature.replace(/^v1a,/, "");
      output = verify(null, message, ed25519Public(whpk(key)), Buffer.from(encoded, "base64"));
      break;
    }
    case "sendgrid": {
      const webhook = new sendgrid.EventWebhook();
      const publicKey = webhook.convertPublicKeyToECDSA(key);
      output = webhook.verifySignature(publicKey, body, signature, String(timestamp));
      break;
    }
    default:
      console.error(`unknown scheme ${scheme}`);
      process.exit(2);
  }
  output = { valid: output };
} else {
  console.error(`unknown op ${op}`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(output));
