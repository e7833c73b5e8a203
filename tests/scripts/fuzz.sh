#!/usr/bin/env bash
# Fuzz the SDK's parsers with cargo-fuzz (libFuzzer): each target in fuzz/ for a bounded time.
#
#   tests/scripts/fuzz.sh                 # every target, 60 s each
#   FUZZ_SECONDS=600 tests/scripts/fuzz.sh envelope
#
# Needs a nightly toolchain (libFuzzer's sanitizer flags are nightly-only) and cargo-fuzz,
# which this script installs from crates.io if it is missing. Without nightly it falls back to
# the SDK's proptest suites with many more cases (PROPTEST_CASES), which cover the same parsers
# less deeply; it says so when it does.
#
# A crash leaves its input in fuzz/artifacts/<target>/; reproduce it with
#   cd tests/fuzz && cargo +nightly fuzz run <target> artifacts/<target>/<file>
# and keep it as a regression test in the SDK before fixing it.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(signature_headers timestamp envelope)
fi

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz.sh: no nightly toolchain, so no libFuzzer; running the proptest suites instead" >&2
    cd "$root"
    PROPTEST_CASES="${PROPTEST_CASES:-200000}" \
        cargo test --release -p receiver-sdk -- proptest envelope::proptests verify::
    exit 0
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd "$root/tests/fuzz"
cargo +nightly fuzz build
status=0
for target in "${targets[@]}"; do
    corpus="corpus/$target"
    mkdir -p "$corpus"
    seeds=()
    if [ -d "seeds/$target" ]; then
        seeds=("seeds/$target")
    fi
    log="$(mktemp)"
    echo "== $target: ${seconds}s"
    if cargo +nightly fuzz run "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        result="ok"
    else
        result="CRASH (see fuzz/artifacts/$target and $log)"
        status=1
    fi
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    echo "$target: ${runs:-?} executions in ${seconds}s, corpus $(ls "$corpus" | wc -l) inputs: $result"
    if [ "$result" != "ok" ]; then
        grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5
    else
        rm -f "$log"
    fi
done
exit $status
