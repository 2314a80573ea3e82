#!/usr/bin/env bash
# cargo-fuzz: every target for a short, bounded time from the checked-in
# corpus (new inputs go to a scratch directory, not into the repository).
# The checks are the crate mmstats-fuzz-checks (loom-tests/fuzz-checks/),
# which fuzz/ depends on by path; the whole corpus is also replayed on
# stable by `cargo test --workspace` (its tests/fuzz_corpus.rs, or
# `cargo test -p mmstats-fuzz-checks`). Long runs: docs/VERIFICATION.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER_TARGET="${FUZZ_SECONDS:-25}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Stable toolchain without a sanitizer (RUSTC_BOOTSTRAP lets cargo-fuzz
# pass its -Z flags); debug assertions and overflow checks on.
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none -a
for target in $(cargo fuzz list); do
    mkdir -p "$scratch/$target"
    log="$scratch/$target.log"
    if ! cargo fuzz run -s none -a "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 80 "$log"
        echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz $target: $runs executions in ${SECONDS_PER_TARGET} s, no failure"
done
