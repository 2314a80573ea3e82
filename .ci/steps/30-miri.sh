#!/usr/bin/env bash
# miri, with strict provenance (no pointer is ever made from an integer):
# every test of the no_std core (unit, integration and doc tests; a few use
# smaller sizes under cfg(miri)), and the std crate's unit tests that need
# no file system: the anonymous mapping seen as atomic words, the legacy
# parser, wildcards, mmdump's formatting, and the SIGBUS handler's
# growable table of mappings (without a signal). File-backed mappings, procfs
# and the cross-process tests cannot run under miri's isolation.
set -euo pipefail
cd "$(dirname "$0")/../.."

rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || true
rustup component add --toolchain nightly miri rust-src
cargo +nightly miri setup

export MIRIFLAGS="-Zmiri-strict-provenance"
cargo +nightly miri test -p mmstats-nostd
cargo +nightly miri test -p mmstats --lib -- map:: legacy:: sigbus::tests::
cargo +nightly miri test -p mmdump --lib -- glob:: dump::
