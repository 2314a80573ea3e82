#!/usr/bin/env bash
# The attack suite of docs/SECURITY.md (mmdump/tests/attack_*.rs) with
# nothing skipped: a throwaway unprivileged user for the "another user's
# directory/file" attacks, root for device nodes and small tmpfs mounts.
# `cargo test --workspace` runs the same tests but lets those that need
# root or a second user skip (printing why); MMSTATS_REQUIRE_ATTACKS=1
# turns every such skip into a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" -ne 0 ]; then
    echo "35-attacks: must run as root (a second user, mknod, mount -t tmpfs)" >&2
    exit 1
fi
user=mmstats-attacker
if ! id -u "$user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
fi
export MMSTATS_ATTACK_USER="$user" MMSTATS_REQUIRE_ATTACKS=1
cargo test -p mmdump --test 'attack_*'
