#!/usr/bin/env bash
# The cross-process torture test (loom-tests/torture/), short version:
# 3 writer lifetimes of 8 s, each ended by SIGKILL, 2 reader processes
# verifying every value.
# The long run (>= 10^8 verified reads) is recorded in docs/VERIFICATION.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release -p mmstats-torture
timeout 180 target/release/mmstats-torture run --seconds 8 --cycles 3 --readers 2 --watchdog 150
