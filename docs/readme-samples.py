#!/usr/bin/env python3
"""Regenerates the README's mmdump samples from real output of the current code.

Run from the repository root:  python3 docs/readme-samples.py

It builds mmdump and mmstats-demo (release), starts `mmstats-demo --workers 2`
in the default stats directory (and, just before the `mmdump clean` sample, a
second demo that it kills with SIGKILL, so that `clean --dry-run` has dead
files to show; they are cleaned right after), then, for every
```text block of README.md whose lines start with `$ `, runs each command
and writes the block anew: the command lines followed by what they
printed. Commands run with `sh -c` in a scratch directory, with the
release binaries first on PATH:

- `mmdump ...`, `curl ...` and pipelines of them run in the foreground;
- a command ending in `&` runs in the background until the block ends
  (`mmdump serve`'s first line, where it says it listens, is its output;
  after `mmdump record` the script waits a few seconds so there is history);
  a path under /var/lib/mmstats/ is replaced by one in the scratch directory;
- `ln -s .../mmdump /etc/munin/plugins/NAME` links the binary into a scratch
  plugin directory instead, and `munin-run ...` runs Debian's munin-run on
  that directory with a plugin configuration naming the stats directory.

A block whose commands are none of these is left alone and listed at the
end. Refuses to run if the stats directory already holds stats files, so
that the samples show only the demo's.
"""

import os
import re
import signal
import shutil
import subprocess
import sys
import tempfile
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


FOREGROUND = ("mmdump ", "mmdump\n", "curl ")


def runnable(commands):
    def one(c):
        c = c.rstrip()
        return (
            c.startswith(FOREGROUND)
            or c.startswith("munin-run ")
            or (c.startswith("ln -s ") and "/etc/munin/plugins/" in c)
        )

    return commands and all(one(c) for c in commands)


def environment(bin_dir):
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"], LANG="C.UTF-8")
    env.pop("NO_COLOR", None)
    return env


def run(command, bin_dir, cwd=ROOT):
    out = subprocess.run(
        ["sh", "-c", "exec 2>&1; " + command],
        cwd=cwd,
        env=environment(bin_dir),
        capture_output=True,
        text=True,
    )
    return out.stdout


class Block:
    """The scratch state of one README block: a working directory, a munin
    plugin directory and the background processes to stop at its end."""

    def __init__(self, bin_dir):
        self.bin_dir = bin_dir
        self.scratch = tempfile.mkdtemp(prefix="readme-samples-")
        self.plugins = os.path.join(self.scratch, "plugins")
        os.mkdir(self.plugins)
        self.conf = os.path.join(self.scratch, "plugin.conf")
        # A state directory of its own: munin-run's default one may hold a
        # ledger of earlier runs, whose exited writers it would still sum.
        state = os.path.join(self.scratch, "state")
        os.mkdir(state)
        user = "user root\n" if os.geteuid() == 0 else ""
        with open(self.conf, "w") as f:
            f.write(f"[mmstats_*]\n{user}env.MMSTATS_DIR {STATS_DIR}\nenv.MUNIN_PLUGSTATE {state}\n")
        self.background = []

    def command(self, command):
        command = command.rstrip()
        if command.startswith("ln -s "):
            name = os.path.basename(command.split()[-1])
            os.symlink(os.path.join(self.bin_dir, "mmdump"), os.path.join(self.plugins, name))
            return ""
        if command.startswith("munin-run "):
            munin_run = shutil.which("munin-run") or "/usr/sbin/munin-run"
            args = command.split()[1:]
            out = subprocess.run(
                [munin_run, "--servicedir", self.plugins, "--sconffile", self.conf, *args],
                env=environment(self.bin_dir),
                capture_output=True,
                text=True,
            )
            return out.stdout + out.stderr
        command = command.replace("/var/lib/mmstats/", self.scratch + "/")
        if command.endswith("&"):
            process = subprocess.Popen(
                ["sh", "-c", "exec " + command[:-1]],
                cwd=self.scratch,
                env=environment(self.bin_dir),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            self.background.append(process)
            if " serve" in command:
                return process.stdout.readline()
            # History to show.
            time.sleep(5)
            return ""
        return run(command, self.bin_dir, cwd=self.scratch)

    def close(self):
        for process in self.background:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.scratch, ignore_errors=True)


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
        block = Block(bin_dir)
        try:
            for command in commands:
                lines.append("$ " + command)
                output = block.command(command).rstrip("\n")
                if output:
                    lines.append(output)
        finally:
            block.close()
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
