#!/usr/bin/env bash
# The library's optional integrations (issue 14): the `metrics` recorder and
# the `tracing` layer are behind features that `cargo test --workspace`
# does not enable. Their unit, integration and doc tests, clippy with the
# features, and the cross-process test (the facades example as its own
# process, read by `mmdump --json`, `mmdump tail` and `mmdump trace`).
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo test -p mmstats --features metrics,tracing
cargo clippy -p mmstats --features metrics,tracing --all-targets -- -D warnings
cargo test -p mmdump --test facades_cross_process
