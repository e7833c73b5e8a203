#!/usr/bin/env bash
# The crash test against the release binary: concurrent load, kill -9 at random moments,
# restart on the same sled directory, then check that every delivery answered 2xx is still
# known (resent: `duplicate`; an older event for its entity: `stale`) and was relayed.
#
#   tests/scripts/crash-test.sh                          # 10 kills, 32 workers, 0.5-3 s between kills
#   tests/scripts/crash-test.sh --kills 50 --workers 64 --alive-ms 100-1000 --seed 42
#
# Prints: kills, sent, attempts, acknowledged, lost (must be 0), out of order (must be 0).
# Exits non-zero if anything acknowledged was lost. Needs only the Rust toolchain.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
cargo build --release -p reference-receiver --bin reference-receiver
cargo build --release -p end-to-end --bin crash-test
target="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
exec "$target/release/crash-test" --binary "$target/release/reference-receiver" "$@"
