#!/usr/bin/env bash
# Times the counter increment through the C ABI (the checked call and the
# inline cell of mmstats_inline.h) and in Rust (release
# builds); prints min/median/max ns per op over 15 rounds of 10^7.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -p mmstats-capi --release
cargo build -p mmstats-capi --release --example incr_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -std=c11 -O2 -Wall -Werror -Immstats-capi/include mmstats-capi/bench/incr_bench.c \
    target/release/libmmstats.a -lpthread -ldl -lm -o "$work/incr_bench"
mkdir -m 700 "$work/stats"
"$work/incr_bench" "$work/stats"
target/release/examples/incr_bench "$work/stats"
