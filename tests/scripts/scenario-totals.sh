#!/usr/bin/env bash
# Runs the fault scenarios (tests/e2e/scenarios.rs) and adds up the figures each one prints:
# scenarios, deliveries, attempts, acknowledged, gave up, lost.
set -euo pipefail
cd "$(dirname "$0")/../.."
log="$(mktemp)"
cargo test -p end-to-end --test e2e scenarios:: -- --nocapture >"$log" 2>&1 || {
    grep -E 'panicked|FAILED|failed' "$log" | head -20
    exit 1
}
grep '^scenario ' "$log" | sort
grep '^scenario ' "$log" | awk -F'[:,] *' '
    {
        n++
        for (i = 2; i <= NF; i++) {
            split($i, kv, " ")
            value = kv[length(kv)]
            key = $i; sub(" *[0-9]+$", "", key)
            total[key] += value
        }
    }
    END {
        printf "totals: scenarios %d, deliveries %d, attempts %d, acknowledged %d, gave up %d, lost %d\n",
            n, total["deliveries"], total["attempts"], total["acknowledged"], total["gave up"], total["lost"]
    }'
rm -f "$log"
