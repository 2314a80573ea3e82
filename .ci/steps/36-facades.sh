#!/usr/bin/env bash
# The library's optional integrations (issue 14): the `metrics` recorder and
# the `tracing` layer are behind features that `cargo test -p mmstats` does
# not enable. Their unit, integration and doc tests, clippy with and
# without the features, and the cross-process test: the facades example as
# its own process, read by `mmdump --json`, `mmdump tail` and `mmdump
# trace`, whose HTML timeline headless Chromium must draw (chromium is
# installed here if missing, and MMSTATS_REQUIRE_CHROMIUM=1 makes its
# absence a failure).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null; then
        SUDO=(sudo)
    else
        echo "36-facades: chromium is missing and cannot be installed (not root, no sudo)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
fi

cargo test -p mmstats --features metrics,tracing
cargo clippy -p mmstats --features metrics,tracing --all-targets -- -D warnings
cargo clippy -p mmstats --all-targets -- -D warnings
MMSTATS_REQUIRE_CHROMIUM=1 cargo test -p mmdump --test facades_cross_process -- --nocapture
