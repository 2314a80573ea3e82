#!/usr/bin/env bash
# mmdump's tests that need real tools: Debian's munin-run (package
# munin-node) runs the munin plugin, tmux gives the watch view a real
# pseudo-terminal. `cargo test --workspace` skips them (printing why) when
# the tools are missing; here they are installed and the tests re-run with
# MMSTATS_REQUIRE_MUNIN=1 and MMSTATS_REQUIRE_TMUX=1, so absence fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

have_tools() {
    command -v tmux >/dev/null && { command -v munin-run >/dev/null || [ -x /usr/sbin/munin-run ]; }
}

if ! have_tools; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null; then
        SUDO=(sudo)
    else
        echo "50-mmdump: munin-node and tmux are missing and cannot be installed (not root, no sudo)" >&2
        exit 1
    fi
    # Install without starting munin-node's daemon (it would listen on
    # every interface): deny service starts unless a policy already exists.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    status=0
    "${SUDO[@]}" apt-get update -q && "${SUDO[@]}" apt-get install -y -q --no-install-recommends munin-node tmux || status=$?
    if [ "$made_policy" -eq 1 ]; then
        "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
    fi
    if [ "$status" -ne 0 ]; then
        echo "50-mmdump: installing munin-node and tmux failed" >&2
        exit "$status"
    fi
fi
have_tools || { echo "50-mmdump: munin-run or tmux still missing" >&2; exit 1; }

MMSTATS_REQUIRE_MUNIN=1 MMSTATS_REQUIRE_TMUX=1 \
    cargo test -p mmdump --test mmdump_munin --test mmdump_tty
