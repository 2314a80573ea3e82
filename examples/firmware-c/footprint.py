#!/usr/bin/env python3
"""Flash and RAM of the C firmware, by where the bytes come from.

    footprint.py ELF MAP

Totals come from `arm-none-eabi-size -A ELF` (flash: vector table, code,
read-only data, unwind index and the load image of .data; RAM: .data and
.bss, the stack not included). The split comes from the linker map: every
input section placed in those output sections, by object (the C files),
libmmstats.a (the Rust library: mmstats-nostd, the ABI, core and
compiler-builtins) or libgcc.a. The two must agree; the script fails if
they do not.
"""
import re
import subprocess
import sys
from collections import defaultdict

FLASH = {".vector_table", ".text", ".rodata", ".ARM.extab", ".ARM.exidx"}
RAM = {".data", ".bss"}


def sizes(elf):
    out = subprocess.run(
        ["arm-none-eabi-size", "-A", elf], check=True, capture_output=True, text=True
    ).stdout
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            found[parts[0]] = int(parts[1])
    return found


def origin(path):
    if "libmmstats.a" in path:
        return "libmmstats.a"
    if "libgcc.a" in path:
        return "libgcc.a"
    return path.rsplit("/", 1)[-1]


def split(map_file):
    """(flash, ram) bytes per origin, from the map's memory map part."""
    flash, ram = defaultdict(int), defaultdict(int)
    text = open(map_file, encoding="utf-8", errors="replace").read()
    text = text.split("Linker script and memory map", 1)[1]
    section = None
    pending = False  # an input section name alone on its line
    for line in text.splitlines():
        if re.match(r"^\.[A-Za-z_.]+", line):
            section = line.split()[0]
            continue
        fields = line.split()
        if not fields or section not in FLASH | RAM:
            continue
        if fields[0] in ("*fill*",):
            continue
        # ` .text.name  0xADDR  0xSIZE  FILE` or, wrapped, `0xADDR 0xSIZE FILE`
        if fields[0].startswith(".") or fields[0].startswith("COMMON"):
            if len(fields) == 1:
                pending = True
                continue
            fields = fields[1:]
        elif not pending:
            continue
        pending = False
        if len(fields) >= 3 and fields[0].startswith("0x") and fields[1].startswith("0x"):
            size = int(fields[1], 16)
            who = origin(" ".join(fields[2:]))
            if section in FLASH:
                flash[who] += size
            else:
                ram[who] += size
                if section == ".data":
                    flash[who] += size
    return flash, ram


def main():
    elf, map_file = sys.argv[1], sys.argv[2]
    totals = sizes(elf)
    flash_total = sum(totals.get(s, 0) for s in FLASH) + totals.get(".data", 0)
    ram_total = sum(totals.get(s, 0) for s in RAM)
    flash, ram = split(map_file)
    print(f"{'from':<16} {'flash':>8} {'RAM':>8}")
    for who in sorted(set(flash) | set(ram), key=lambda w: -flash.get(w, 0)):
        print(f"{who:<16} {flash.get(who, 0):>8} {ram.get(who, 0):>8}")
    print(f"{'total (size -A)':<16} {flash_total:>8} {ram_total:>8}")
    # Alignment padding is the only difference the map can leave out.
    for what, total, parts in (("flash", flash_total, flash), ("RAM", ram_total, ram)):
        if not 0 <= total - sum(parts.values()) <= 64:
            sys.exit(f"{what}: the map accounts for {sum(parts.values())} of {total} bytes")


if __name__ == "__main__":
    main()
