#!/usr/bin/env bash
# The end-to-end load benchmark: builds in release mode and measures, in one run on this
# machine, bare axum (the ceiling), the SDK endpoint in memory, and the SDK endpoint on sled with
# durable acknowledgement, and the reference receiver relaying through its durable outbox to a
# local downstream. Every request is a unique, validly signed Standard Webhooks delivery.
# Table on stdout; JSON in target/bench/e2e.json. Options pass through to bench-e2e:
#   --rounds N (3)  --secs S (10)  --connections C (64)  --size BYTES (1024)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p end-to-end --bin bench-e2e
cargo build --release -p reference-receiver --bin reference-receiver
exec target/release/bench-e2e "$@"
