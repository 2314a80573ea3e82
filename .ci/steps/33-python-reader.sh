#!/usr/bin/env bash
# The Python 3 reader (standard library only): its own unit tests, then the
# comparison with mmdump --json on files of the Rust writer, which must
# not be skipped here.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v python3 >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends python3
fi
python3 --version
python3 -m unittest discover -s readers/python -v
MMSTATS_REQUIRE_PYTHON=1 cargo test -p mmdump --test python_reader
