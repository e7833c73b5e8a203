// Checks a signature header our SDK wrote with a sender's own published library, for senders
// whose library verifies but does not sign. Reads {scheme, secret, body, signature} as JSON on
// stdin and prints {"valid": true|false}.
import { readFileSync } from "node:fs";
import { Paddle } from "@paddle/paddle-node-sdk";

const { scheme, secret, body, signature } = JSON.parse(readFileSync(0, "utf8"));
let valid;
switch (scheme) {
  case "paddle":
    valid = await new Paddle("pdl_sdbx_apikey_unused").webhooks.isSignatureValid(
      body,
      secret,
      signature,
    );
    break;
  default:
    console.error(`unknown scheme ${scheme}`);
    process.exit(2);
}
process.stdout.write(JSON.stringify({ valid }));
