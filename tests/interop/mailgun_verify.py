"""Mailgun's own check of a webhook's signature, for the end-to-end interop tests
(tests/e2e/catalogue_interop.rs): `SecurityGuard.verify_webhook` of Mailgun's Python SDK
(`mailgun`, pinned in requirements.txt; mailgun.js has no such check). Reads JSON on stdin:
  {signing_key, timestamp, token, signature}  -> {valid}
The SDK judges the timestamp's age (15 minutes by default) against this machine's clock.
"""

import json
import sys

from mailgun.security import SecurityGuard

request = json.load(sys.stdin)
try:
    valid = SecurityGuard.verify_webhook(
        signing_key=request["signing_key"],
        token=request["token"],
        timestamp=request["timestamp"],
        signature=request["signature"],
    )
except (TypeError, ValueError):
    # The SDK raises on a timestamp or signature it cannot read: a refusal all the same.
    valid = False
json.dump({"valid": bool(valid)}, sys.stdout)
