#!/usr/bin/env bash
# The scale benchmark: builds in release mode and measures how cost grows, each server in its
# own process against a load generator of unique, validly signed Standard Webhooks deliveries:
#   1. throughput against body size (1 KiB to ~1 MiB) on bare axum, the SDK on memory and the
#      SDK on sled: req/s, MB/s of bodies, p50, p99, ratio to bare, peak RSS;
#   2. throughput against the number of distinct entities (ordering keys) already in the store
#      (1 to 1 M) on the SDK on sled and on memory, answers counted by outcome;
#   3. sled's disk use per million ordering marks (with their delivery ids), after reopening
#      and after purging the delivery ids, and the memory store's RSS growth per million.
# Tables on stdout, progress on stderr; JSON in target/bench/scale.json. About 6 minutes on
# 2 cores with the defaults, excluding the build. Options pass through to bench-scale:
#   --rounds N (1)  --secs S (6)  --connections C (64)
#   --only sizes,entities,disk (all)  --sizes BYTES,... (1024,16384,65536,262144,1000000)
#   --entities N,... (1,1000,100000,1000000)  --size BYTES (1024, the entities sweep's bodies)
#   --marks N (1000000, the disk measurement)
# Example: tests/bench/scale.sh --only entities --entities 1000 --secs 3
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p end-to-end --bin bench-scale
exec target/release/bench-scale "$@"
