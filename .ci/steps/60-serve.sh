#!/usr/bin/env bash
# mmdump serve's tests that need real tools: Debian's prometheus (the
# server scrapes `mmdump serve`, promtool checks its exposition) and
# chromium (the dashboard in a headless browser). `cargo test --workspace`
# skips them (printing why) when the tools are missing; here they are
# installed and the tests re-run with MMSTATS_REQUIRE_PROMETHEUS=1 and
# MMSTATS_REQUIRE_CHROMIUM=1, so absence fails. The library is also
# checked without its `serve` feature (a program that only publishes).
set -euo pipefail
cd "$(dirname "$0")/../.."

have_tools() {
    command -v prometheus >/dev/null && command -v promtool >/dev/null && command -v chromium >/dev/null
}

if ! have_tools; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null; then
        SUDO=(sudo)
    else
        echo "60-serve: prometheus and chromium are missing and cannot be installed (not root, no sudo)" >&2
        exit 1
    fi
    # Install without starting the prometheus daemon system-wide (it would
    # listen on every interface): deny service starts unless a policy
    # already exists.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    status=0
    "${SUDO[@]}" apt-get update -q && "${SUDO[@]}" apt-get install -y -q --no-install-recommends prometheus chromium fonts-dejavu-core || status=$?
    if [ "$made_policy" -eq 1 ]; then
        "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
    fi
    if [ "$status" -ne 0 ]; then
        echo "60-serve: installing prometheus and chromium failed" >&2
        exit "$status"
    fi
    # Should a service manager have started the packaged daemon anyway,
    # stop it: the tests run their own Prometheus on 127.0.0.1.
    if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
        "${SUDO[@]}" systemctl stop prometheus || true
    fi
fi
have_tools || { echo "60-serve: prometheus, promtool or chromium still missing" >&2; exit 1; }
prometheus --version 2>&1 | head -1
chromium --version 2>/dev/null || true

cargo check -p mmdump --no-default-features --all-targets

MMSTATS_REQUIRE_PROMETHEUS=1 MMSTATS_REQUIRE_CHROMIUM=1 \
    cargo test -p mmdump --test serve_prometheus --test serve_dashboard --test push_remote_write -- --nocapture
