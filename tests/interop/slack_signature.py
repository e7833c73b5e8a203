"""Slack's own request signing, for the end-to-end interop tests
(tests/e2e/catalogue_interop.rs, reference-receiver/tests/it/send.rs):
`slack_sdk.signature.SignatureVerifier` of Slack's Python SDK (`slack_sdk`, pinned in
requirements.txt). Reads JSON on stdin:
  {op: "verify", signing_secret, body, timestamp, signature}  -> {valid}
  {op: "sign", signing_secret, body, timestamp}               -> {signature}
`is_valid` judges the timestamp's age (five minutes) against this machine's clock.
"""

import json
import sys

from slack_sdk.signature import SignatureVerifier

request = json.load(sys.stdin)
verifier = SignatureVerifier(signing_secret=request["signing_secret"])
if request["op"] == "verify":
    answer = {
        "valid": verifier.is_valid(
            body=request["body"],
            timestamp=request["timestamp"],
            signature=request["signature"],
        )
    }
elif request["op"] == "sign":
    answer = {
        "signature": verifier.generate_signature(
            timestamp=request["timestamp"], body=request["body"]
        )
    }
else:
    sys.exit(f"unknown op {request['op']}")
json.dump(answer, sys.stdout)
