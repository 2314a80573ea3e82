#!/usr/bin/env bash
# The Python package (mmstats-python/: PyO3, abi3, maturin): format and
# clippy of its own workspace, a build into a virtual environment under
# target/ (`maturin develop`, debug: the tests need no speed), then pytest:
# every field type written from Python is read back through
# `mmdump dump --json` and the standard-library reader. Nothing is skipped:
# a missing python3, venv module or an older Python fails the step.
set -euo pipefail
cd "$(dirname "$0")/../.."

started=$(date +%s)
if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 is missing (the Python package needs CPython >= 3.10)" >&2
    exit 1
fi
python3 --version
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "CPython >= 3.10 needed (abi3-py310)")'

echo "--- format and clippy (mmstats-python is its own workspace)"
cargo fmt --manifest-path mmstats-python/Cargo.toml --check
CARGO_TARGET_DIR=target/python cargo clippy --manifest-path mmstats-python/Cargo.toml \
    --all-targets -- -D warnings

echo "--- virtual environment with maturin and pytest"
venv=target/python-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade 'maturin>=1.5,<2' pytest
"$venv/bin/maturin" --version
"$venv/bin/python" -m pytest --version

echo "--- build and install the package (maturin develop)"
(cd mmstats-python && VIRTUAL_ENV="$PWD/../$venv" CARGO_TARGET_DIR=../target/python \
    "../$venv/bin/maturin" develop --quiet)

echo "--- pytest, read back by mmdump and readers/python"
cargo build -p mmdump
MMDUMP="$PWD/target/debug/mmdump" "$venv/bin/python" -m pytest -q mmstats-python/tests

echo "python writer step took $(( $(date +%s) - started )) s"
