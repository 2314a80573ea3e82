#!/usr/bin/env bash
# The C ABI (mmstats-capi): static and shared libraries, the committed
# header is what cbindgen makes now, the C unit tests (the ABI and the
# inline cells) under AddressSanitizer and UBSan, the example read back by `mmdump --json`, and the no_std
# static library for Cortex-M.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "--- build libmmstats.a and libmmstats.so"
cargo build -p mmstats-capi
test -f target/debug/libmmstats.a
test -f target/debug/libmmstats.so

echo "--- header is current"
if ! command -v cbindgen >/dev/null 2>&1; then
    cargo install cbindgen --locked
fi
(cd mmstats-capi && cbindgen --quiet --config cbindgen.toml --output include/mmstats.h)
git diff --exit-code -- mmstats-capi/include/mmstats.h

echo "--- C unit tests under ASan/UBSan"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cflags=(-std=c11 -Wall -Wextra -Werror -g -fsanitize=address,undefined
    -fno-sanitize-recover=undefined -Immstats-capi/include)
libs=(target/debug/libmmstats.a -lpthread -ldl -lm)
cc "${cflags[@]}" mmstats-capi/tests/c/test_abi.c "${libs[@]}" -o "$work/test_abi"
mkdir -m 700 "$work/stats"
"$work/test_abi" "$work/stats"
# The inline cells (mmstats_inline.h), with the __atomic builtins and with
# the library's portable calls.
cc "${cflags[@]}" mmstats-capi/tests/c/test_cells.c "${libs[@]}" -o "$work/test_cells"
"$work/test_cells" "$work/stats"
cc "${cflags[@]}" -DMMSTATS_CELL_PORTABLE mmstats-capi/tests/c/test_cells.c "${libs[@]}" \
    -o "$work/test_cells_portable"
"$work/test_cells_portable" "$work/stats"
cargo build -p mmdump

echo "--- example, read back by mmdump --json"
cc "${cflags[@]}" mmstats-capi/examples/counter.c "${libs[@]}" -o "$work/counter"
path=$("$work/counter" "$work/stats" 1000)
cargo build -p mmdump
json=$(target/debug/mmdump dump --json "$path")
echo "$json" | grep -q '"example.requests"' || { echo "no example.requests in: $json"; exit 1; }
echo "$json" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
fields = doc["files"][0]["fields"]
by = {f["name"]: f for f in fields}
assert by["example.requests"]["value"] == 1000, by["example.requests"]
assert by["example.status"]["value"] == "done", by["example.status"]
print("mmdump read", len(fields), "fields from the C writer")
'

echo "--- the C firmware region, read back by mmdump --image"
target/debug/mmdump --image "$work/stats/firmware.img" --json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
fields = doc["files"][0]["fields"]
by = {f["name"]: f for f in fields}
assert by["fw.packets"]["value"] == 42, by["fw.packets"]
assert by["fw.queue"]["value"] == -3, by["fw.queue"]
assert by["fw.temperature"]["value"] == 21.5, by["fw.temperature"]
assert by["fw.state"]["value"] == "ok", by["fw.state"]
assert by["fw.latency"]["count"] == 4, by["fw.latency"]
print("mmdump --image read", len(fields), "fields from the C firmware region")
'

echo "--- the shared library links too"
cc -std=c11 -Wall -Werror -Immstats-capi/include mmstats-capi/examples/counter.c \
    -Ltarget/debug -lmmstats -Wl,-rpath,"$PWD/target/debug" -o "$work/counter_shared"
"$work/counter_shared" "$work/stats" 10 >/dev/null

echo "--- no_std static library for thumbv7em-none-eabihf"
rustup target add thumbv7em-none-eabihf >/dev/null 2>&1 || true
cargo build -p mmstats-capi --no-default-features --target thumbv7em-none-eabihf --release
test -f target/thumbv7em-none-eabihf/release/libmmstats.a
