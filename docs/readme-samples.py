#!/usr/bin/env python3
"""Regenerates the README's mmdump samples from real output of the current code.

Run from the repository root:  python3 docs/readme-samples.py

It builds mmdump and mmstats-demo (release), starts `mmstats-demo --workers 2`
in the default stats directory (and, just before the `mmdump clean` sample, a
second demo that it kills with SIGKILL, so that `clean --dry-run` has dead
files to show; they are cleaned right after), then, for every
```text block of README.md whose lines starting with `$ ` are all mmdump
commands run in the foreground, runs each command with `sh -c` and writes
the block anew: the command lines followed by what they printed. Other
blocks (munin-run, serve, record, the live watch screen) are left alone and
listed at the end. Refuses to run if the stats directory already holds
stats files, so that the samples show only the demo's.
"""

import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATS_DIR = os.environ.get("MMSTATS_DIR", "/dev/shm/mmstats")


def build():
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "mmdump", "--bin", "mmdump", "--bin", "mmstats-demo"],
        cwd=ROOT,
        check=True,
    )
    return os.path.join(ROOT, "target", "release")


def start_demo(bin_dir):
    demo = subprocess.Popen(
        [os.path.join(bin_dir, "mmstats-demo"), "--workers", "2"],
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in demo.stdout:
        if line.strip() == "ready":
            return demo
    raise SystemExit("mmstats-demo did not start")


def runnable(commands):
    return commands and all(
        c.startswith("mmdump ") and not c.rstrip().endswith("&") for c in commands
    )


def run(command, bin_dir):
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"], LANG="C.UTF-8")
    env.pop("NO_COLOR", None)
    out = subprocess.run(
        ["sh", "-c", "exec 2>&1; " + command], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return out.stdout


def main():
    if os.path.isdir(STATS_DIR) and any(n.endswith(".mmstats") for n in os.listdir(STATS_DIR)):
        raise SystemExit(f"{STATS_DIR} already holds stats files: the samples would show them")
    bin_dir = build()
    demo = start_demo(bin_dir)
    time.sleep(3)
    path = os.path.join(ROOT, "README.md")
    text = open(path, encoding="utf-8").read()
    skipped = []

    def regenerate(match):
        body = match.group(1)
        commands = [line[2:] for line in body.splitlines() if line.startswith("$ ")]
        if not runnable(commands):
            if commands:
                skipped.append(commands[0])
            return match.group(0)
        lines = []
        cleaning = commands[0].startswith("mmdump clean")
        if cleaning:
            # Files for clean to find: a second demo, killed at once.
            dead = start_demo(bin_dir)
            os.kill(dead.pid, signal.SIGKILL)
            dead.wait()
        for command in commands:
            lines.append("$ " + command)
            lines.append(run(command, bin_dir).rstrip("\n"))
        if cleaning:
            run("mmdump clean", bin_dir)
        return "```text\n" + "\n".join(lines) + "\n```"

    try:
        text = re.sub(r"```text\n(.*?)```", regenerate, text, flags=re.S)
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait()
        # The killed demo's files: removed as an operator would.
        subprocess.run([os.path.join(bin_dir, "mmdump"), "clean"], capture_output=True)
    open(path, "w", encoding="utf-8").write(text)
    for command in skipped:
        print(f"left alone: $ {command}", file=sys.stderr)


if __name__ == "__main__":
    main()
