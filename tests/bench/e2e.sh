#!/usr/bin/env bash
# The end-to-end load benchmark: builds in release mode and measures, in one run on this
# machine, bare axum (the ceiling), the SDK endpoint in memory, on sled (every 2xx flushed) and
# on fjall (every 2xx fsynced), and the reference receiver relaying through its durable outbox
# to a local downstream. Every request is a unique, validly signed Standard Webhooks delivery
# (the run fails if any is answered stale or duplicate).
# Table on stdout; JSON in target/bench/e2e.json. Options pass through to bench-e2e:
#   --rounds N (3)  --secs S (10)  --connections C (64)  --size BYTES (1024)  --only a,b,...
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p end-to-end --bin bench-e2e
cargo build --release -p reference-receiver --bin reference-receiver
exec target/release/bench-e2e "$@"
