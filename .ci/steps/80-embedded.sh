#!/usr/bin/env bash
# Embedded end to end (issue 8; docs/EMBEDDED.md):
# - the core for riscv32imc-unknown-none-elf (no 64-bit atomics, no CAS);
# - the example firmware (thumbv7m-none-eabi): fmt, clippy, build;
# - its footprint: the flash and RAM the stats add to a firmware publishing
#   8 counters, from `llvm-size` on the ELF with and without them; fails
#   above the 4 KiB flash budget;
# - the firmware booted in qemu-system-arm, its RAM dumped and read back
#   with `mmdump --image` (installs qemu-system-arm; skips only, with the
#   reason, if the package cannot be installed);
# - `mmdump --image` timed on a 64 MiB image (printed, not asserted).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
root=$(pwd)

say() { printf -- '--- %s\n' "$*"; }

say "toolchain: targets thumbv7m-none-eabi riscv32imc-unknown-none-elf, llvm-tools"
rustup target add thumbv7m-none-eabi riscv32imc-unknown-none-elf
rustup component add llvm-tools >/dev/null 2>&1 || true

say "core for riscv32imc-unknown-none-elf (portable-atomic, both firmware choices)"
cargo build -p mmstats-nostd --target riscv32imc-unknown-none-elf --release \
    --features portable-atomic-unsafe-assume-single-core
cargo build -p mmstats-nostd --target riscv32imc-unknown-none-elf --release \
    --features portable-atomic-critical-section

firmware=examples/firmware-cortex-m
say "firmware: fmt, clippy, build ($firmware)"
(
    cd "$firmware"
    cargo fmt --check
    cargo clippy --release --all-features -- -D warnings
    cargo build --release
)
elf="$root/$firmware/target/thumbv7m-none-eabi/release/firmware-cortex-m"

say "footprint of the core in a firmware publishing 8 counters"
size_tool=""
sysroot_size="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-size"
for candidate in "$sysroot_size" llvm-size arm-none-eabi-size; do
    if command -v "$candidate" >/dev/null 2>&1; then size_tool=$candidate; break; fi
done
if [ -z "$size_tool" ]; then
    echo "no llvm-size: installing Debian's binutils-arm-none-eabi"
    apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y binutils-arm-none-eabi >/dev/null
    size_tool=arm-none-eabi-size
fi
# flash = vector table + code + read-only data + initialised data;
# RAM = initialised data + zeroed data (stack not included).
# One target directory for the three builds (the dependencies are shared);
# each ELF is copied aside before the next build overwrites it.
measure() {  # measure NAME FEATURES...
    local name=$1; shift
    (cd "$firmware" && cargo build --release --bin footprint --target-dir target/footprint "$@" >&2)
    mkdir -p "$firmware/target/footprint/elves"
    cp "$firmware/target/footprint/thumbv7m-none-eabi/release/footprint" \
        "$firmware/target/footprint/elves/$name.elf"
    "$size_tool" -A "$firmware/target/footprint/elves/$name.elf" | awk -v name="$name" '
        $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" { flash += $2 }
        $1 == ".data" { flash += $2; ram += $2 }
        $1 == ".bss" || $1 == ".uninit" { ram += $2 }
        END { printf "%s %d %d\n", name, flash, ram }'
}
base=$(measure without-stats --no-default-features)
single=$(measure single-core)
locks=$(measure lock-table --no-default-features --features stats)
read -r _ base_flash base_ram <<<"$base"
printf '%-34s %8s %8s %12s %10s\n' "footprint binary (8 counters)" flash RAM "+flash" "+RAM"
for row in "$base" "$single" "$locks"; do
    read -r name flash ram <<<"$row"
    printf '%-34s %8d %8d %12d %10d\n' "$name" "$flash" "$ram" $((flash - base_flash)) $((ram - base_ram))
done
read -r _ single_flash _ <<<"$single"
read -r _ locks_flash _ <<<"$locks"
budget=4096
for added in $((single_flash - base_flash)) $((locks_flash - base_flash)); do
    if [ "$added" -gt "$budget" ]; then
        echo "the stats add $added bytes of flash, over the $budget-byte budget (docs/EMBEDDED.md)" >&2
        exit 1
    fi
done
echo "(bytes; measured with $size_tool -A; budget: +$budget flash)"

say "QEMU: boot the firmware, dump its RAM, read it with mmdump --image"
if ! command -v qemu-system-arm >/dev/null 2>&1; then
    if ! { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-system-arm >/dev/null; }; then
        echo "SKIPPED the QEMU run: the Debian package qemu-system-arm could not be installed" >&2
    fi
fi
if command -v qemu-system-arm >/dev/null 2>&1; then
    qemu-system-arm --version | head -n 1
    MMSTATS_REQUIRE_QEMU=1 MMSTATS_FIRMWARE_ELF="$elf" \
        cargo test -p mmdump --test firmware_qemu -- --nocapture
fi

say "mmdump --image on a 64 MiB image (timing printed, not asserted)"
cargo build --release -p mmdump --bin mmdump
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c $((64 << 20)) /dev/urandom >"$tmp/random.bin"
set +e
"$root/target/release/mmdump" --image "$tmp/random.bin" --base 0x20000000
status=$?
set -e
if [ "$status" -ne 1 ]; then
    echo "a random image must yield no region and exit code 1, got $status" >&2
    exit 1
fi
