#!/usr/bin/env python3
"""Shows that the loom models catch a weakened memory ordering.

For each mutant below (one ordering of mmstats-nostd removed or weakened),
copies the workspace to a scratch directory, applies the mutation, runs the
loom model that should catch it, and reports whether it did. Every mutant
must be caught (the model fails); the unmutated code must pass.

    python3 loom-tests/scripts/mutants.py [--keep SCRATCH_DIR] [NAME...]

Slow (a loom build per mutant, about a minute each on 2 cores), so CI does
not run it; docs/VERIFICATION.md records its last output.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name: (file, old text, occurrence (0-based), new text, test binary, filter)
MUTANTS = {
    "latch-writer-release-fence": (
        "mmstats-nostd/src/latch.rs", "fence(Ordering::Release);", 0, "",
        "latch", "two_buffers_one_reader"),
    "latch-seq-store-relaxed": (
        "mmstats-nostd/src/latch.rs", "self.seq.store(next, Ordering::Release);", 0,
        "self.seq.store(next, Ordering::Relaxed);", "latch", "two_buffers_one_reader"),
    "latch-reader-first-fence": (
        "mmstats-nostd/src/latch.rs", "source.acquire_fence();", 0, "",
        "latch", "two_buffers_one_reader"),
    "latch-reader-second-fence": (
        "mmstats-nostd/src/latch.rs", "source.acquire_fence();", 1, "",
        "latch", "two_buffers_one_reader"),
    "field-count-store-relaxed": (
        "mmstats-nostd/src/region.rs",
        "self.words[FIELD_COUNT_WORD].store(self.count as u64, Ordering::Release);", 0,
        "self.words[FIELD_COUNT_WORD].store(self.count as u64, Ordering::Relaxed);",
        "publication", ""),
    "field-count-acquire-fence": (
        "mmstats-nostd/src/reader.rs",
        "        self.source.acquire_fence();\n        if count > self.prologue.table_capacity", 0,
        "        if count > self.prologue.table_capacity", "publication", ""),
    "ready-store-relaxed": (
        "mmstats-nostd/src/region.rs",
        "words[STATE_WORD].store(STATE_READY, Ordering::Release);", 0,
        "words[STATE_WORD].store(STATE_READY, Ordering::Relaxed);",
        "prologue", "reader_never_trusts"),
    "open-acquire-fence": (
        "mmstats-nostd/src/reader.rs",
        "        source.acquire_fence();\n        let mut words = [0u64; PROLOGUE_WORDS];", 0,
        "        let mut words = [0u64; PROLOGUE_WORDS];", "prologue", "reader_never_trusts"),
    "recreate-release-fence": (
        "mmstats-nostd/src/region.rs",
        "        fence(Ordering::Release);\n        for (index, value) in prologue", 0,
        "        for (index, value) in prologue", "prologue", "recreation"),
    "still-valid-second-fence": (
        "mmstats-nostd/src/reader.rs",
        "        self.source.acquire_fence();\n        matches!(state", 0,
        "        matches!(state", "prologue", "recreation"),
    "shared-counter-not-atomic": (
        "mmstats-nostd/src/handles.rs",
        "        self.word.fetch_add(n, Ordering::Relaxed);", 0,
        "        let old = self.word.load(Ordering::Relaxed);\n"
        "        self.word.store(old.wrapping_add(n), Ordering::Relaxed);",
        "shared_counter", ""),
}


def replace_nth(text, old, n, new):
    start = -1
    for _ in range(n + 1):
        start = text.find(old, start + 1)
        if start < 0:
            raise SystemExit(f"mutation text not found: {old!r} (occurrence {n})")
    return text[:start] + new + text[start + len(old):]


def run_model(scratch, test, name_filter):
    env = dict(os.environ, RUSTFLAGS="--cfg loom", LOOM_MAX_PREEMPTIONS="3",
               CARGO_TARGET_DIR=os.path.join(scratch, "target", "loom"))
    command = ["cargo", "test", "-q", "-p", "loom-tests", "--release", "--test", test]
    if name_filter:
        command += ["--", name_filter]
    started = time.monotonic()
    result = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True,
                            timeout=1800)
    return result.returncode == 0, time.monotonic() - started, result.stdout + result.stderr


def main():
    args = sys.argv[1:]
    keep = None
    if args[:1] == ["--keep"]:
        keep, args = args[1], args[2:]
    names = args or list(MUTANTS)
    scratch = keep or tempfile.mkdtemp(prefix="mmstats-mutants-")
    src_copy = os.path.join(scratch, "src")
    if not os.path.exists(src_copy):
        shutil.copytree(ROOT, src_copy, ignore=shutil.ignore_patterns("target", ".git"))
    failures = 0
    for name in names:
        path, old, occurrence, new, test, name_filter = MUTANTS[name]
        full = os.path.join(src_copy, path)
        with open(os.path.join(ROOT, path)) as original:
            pristine = original.read()
        with open(full, "w") as mutated:
            mutated.write(replace_nth(pristine, old, occurrence, new))
        try:
            passed, seconds, output = run_model(src_copy, test, name_filter)
        finally:
            with open(full, "w") as restored:
                restored.write(pristine)
        if passed:
            verdict = "SURVIVED (not caught!)"
        elif "panicked" in output and "error[E" not in output:
            verdict = "caught"
        else:
            verdict = "BROKEN (did not build or run)"
        if verdict != "caught":
            failures += 1
        print(f"{name:28} {test + ':' + (name_filter or '*'):34} {verdict} ({seconds:.0f} s)",
              flush=True)
        if verdict != "caught" and os.environ.get("MUTANTS_VERBOSE"):
            print(output)
    passed, seconds, _ = run_model(src_copy, "latch", "")
    print(f"{'(no mutation)':28} {'latch:*':34} {'passes' if passed else 'FAILS'} ({seconds:.0f} s)")
    if not keep:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(1 if failures or not passed else 0)


if __name__ == "__main__":
    main()
