#!/usr/bin/env bash
# Benchmarks (issue 4): `.ci/run` already builds every criterion bench with
# `cargo bench --no-run`; this runs the one-table report on a tiny budget so
# it cannot rot. No timing is asserted: CI machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p mmdump --bin mmdump
cargo run --release -p mmstats-benches --bin report -- --budget-ms 5 --rounds 3
