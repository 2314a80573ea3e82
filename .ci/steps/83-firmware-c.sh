#!/usr/bin/env bash
# The Cortex-M example built from C (issue 16; examples/firmware-c,
# docs/C.md, docs/EMBEDDED.md):
# - libmmstats.a for thumbv7m-none-eabi without std, linked with
#   arm-none-eabi-gcc against a C main, start-up code and linker script
#   (installs Debian's gcc-arm-none-eabi if missing; FAILS if it cannot);
# - its footprint: flash and RAM from arm-none-eabi-size, split by origin
#   (the C files, libmmstats.a, libgcc) from the linker map;
# - booted in qemu-system-arm, its RAM dumped and every value read back
#   with `mmdump --image` (mmdump/tests/firmware_c_qemu.rs; installs
#   qemu-system-arm; skips only, with the reason, if the package cannot be
#   installed, as 80-embedded.sh does).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."

say() { printf -- '--- %s\n' "$*"; }

say "toolchain: thumbv7m-none-eabi, arm-none-eabi-gcc"
rustup target add thumbv7m-none-eabi
if ! command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    echo "no arm-none-eabi-gcc: installing Debian's gcc-arm-none-eabi"
    if ! { apt-get update >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y gcc-arm-none-eabi >/dev/null; }; then
        echo "FAILED: the Debian package gcc-arm-none-eabi could not be installed" >&2
        exit 1
    fi
fi
arm-none-eabi-gcc --version | head -n 1

say "build examples/firmware-c (libmmstats.a for thumbv7m-none-eabi, then gcc)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make -C examples/firmware-c BUILD="$work" footprint
elf="$work/firmware-c.elf"
test -f "$elf"

say "QEMU: boot the C firmware, dump its RAM, read it with mmdump --image"
if ! command -v qemu-system-arm >/dev/null 2>&1; then
    if ! { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-system-arm >/dev/null; }; then
        echo "SKIPPED the QEMU run: the Debian package qemu-system-arm could not be installed" >&2
    fi
fi
if command -v qemu-system-arm >/dev/null 2>&1; then
    qemu-system-arm --version | head -n 1
    MMSTATS_REQUIRE_QEMU=1 MMSTATS_FIRMWARE_C_ELF="$elf" \
        cargo test -p mmdump --test firmware_c_qemu -- --nocapture
fi
