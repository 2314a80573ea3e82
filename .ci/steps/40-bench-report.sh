#!/usr/bin/env bash
# Benchmarks (issue 4): `.ci/run` already builds every criterion bench with
# `cargo bench --no-run`; this runs the one-table report on a tiny budget so
# it cannot rot. No timing is asserted: CI machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The report compares `mmdump serve` with Debian's node_exporter (issue
# 15): installed here, quietly and only if missing, so CI reports it.
if ! command -v prometheus-node-exporter >/dev/null && ! command -v node_exporter >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else SUDO=(false); fi
    # No daemon started system-wide: deny service starts unless a policy
    # already exists.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ] && "${SUDO[@]}" true 2>/dev/null; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get update -qq >/dev/null &&
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
            prometheus-node-exporter >/dev/null ||
        echo "40-bench-report: installing prometheus-node-exporter failed; the report says so" >&2
    if [ "$made_policy" -eq 1 ]; then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi
fi
cargo build --release -p mmdump --bin mmdump
cargo run --release -p mmstats-benches --bin report -- --budget-ms 5
