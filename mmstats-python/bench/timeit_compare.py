"""timeit of the hot paths: the new package (mmstats on the Rust library)
against the original mmstats 0.8 and a plain Python attribute.

    python3 timeit_compare.py --compare [--original-python CMD] [--original-path DIR]

runs the three cases, each in its own interpreter, and prints a table; one
case alone prints one JSON line:

    python3 timeit_compare.py --case new        # the package in this interpreter
    python3 timeit_compare.py --case plain      # a plain object, the reference
    python2 timeit_compare.py --case original   # mmstats 0.8 on PYTHONPATH

Each operation runs NUMBER (1e6) times per round, ROUNDS (7) rounds; the
report gives the time per operation of the best, median and worst round.
The original is Python 2 code (`async` as a parameter name, `unicode`): it
does not import under Python 3, so it runs under Python 2.7 (pyenv:
``PYENV_VERSION=2.7.18 python2``, installed with
``python2 -m pip install --target DIR mmstats==0.8.0``).

Written for Python 2.7 and 3 alike (no f-strings).
"""

from __future__ import print_function

import json
import os
import platform
import subprocess
import sys
import tempfile
import timeit

NUMBER = 1000000
ROUNDS = 7

# The operations: the counter increment and a field assignment (the
# issue's `status2xx`, an unsigned 32-bit field; a double for floats), and
# one of a name that is no field.
OPERATIONS = [
    ("incr", "s.requests.incr()"),
    ("assign_uint", "s.status2xx = 5"),
    ("assign_double", "s.last_hit = 1.5"),
    # An attribute that is no field (the instance's __dict__): the price of
    # the model's own __setattr__, which keeps CPython from specialising it.
    ("assign_other", "s.other = 5"),
]
PLAIN_OPERATIONS = {
    "incr": "s.requests += 1",
    "assign_uint": "s.status2xx = 5",
    "assign_double": "s.last_hit = 1.5",
    "assign_other": "s.other = 5",
}


def make_stats(case, directory):
    if case == "plain":
        class Plain(object):
            pass
        s = Plain()
        s.requests = 0
        s.status2xx = 0
        s.last_hit = 0.0
        return s, Plain
    import mmstats

    class WebStats(mmstats.MmStats):
        requests = mmstats.CounterField(label="requests")
        status2xx = mmstats.UIntField(label="status.2XX")
        last_hit = mmstats.DoubleField(label="timers.last_hit")

    return WebStats(path=directory, label_prefix="bench."), mmstats


def run_case(case):
    directory = tempfile.mkdtemp(prefix="mmstats-bench-")
    os.chmod(directory, 0o700)
    s, module = make_stats(case, directory)
    results = {}
    for name, stmt in OPERATIONS:
        if case == "plain":
            stmt = PLAIN_OPERATIONS[name]
        timer = timeit.Timer(stmt, setup="from __main__ import s", timer=timeit.default_timer)
        # `from __main__ import s` needs s in __main__.
        sys.modules["__main__"].s = s
        rounds = sorted(t / NUMBER * 1e9 for t in timer.repeat(ROUNDS, NUMBER))
        results[name] = {
            "min_ns": round(rounds[0], 1),
            "median_ns": round(rounds[len(rounds) // 2], 1),
            "max_ns": round(rounds[-1], 1),
        }
    if case == "plain":
        # The floor of any attribute assignment that runs C code: CPython's
        # own C data descriptor (a getset), doing next to nothing.
        def function():
            pass
        sys.modules["__main__"].f = function
        timer = timeit.Timer("f.__defaults__ = None", setup="from __main__ import f")
        rounds = sorted(t / NUMBER * 1e9 for t in timer.repeat(ROUNDS, NUMBER))
        results["c_descriptor_assign"] = {
            "min_ns": round(rounds[0], 1),
            "median_ns": round(rounds[len(rounds) // 2], 1),
            "max_ns": round(rounds[-1], 1),
        }
    version = getattr(module, "__version__", None) if case != "plain" else None
    if case != "plain":
        s.remove()
    os.rmdir(directory)
    print(json.dumps({
        "case": case,
        "python": platform.python_version(),
        "package": version,
        "number": NUMBER,
        "rounds": ROUNDS,
        "results": results,
    }))


def machine():
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except IOError:
        pass
    return "%s, %d CPUs, %s" % (model, os.cpu_count() if hasattr(os, "cpu_count") else 0,
                               platform.platform())


def compare(original_python, original_path):
    me = os.path.abspath(__file__)
    load_before = os.getloadavg()
    runs = {}
    commands = [
        ("new", [sys.executable, me, "--case", "new"], None),
        ("plain", [sys.executable, me, "--case", "plain"], None),
        ("original", original_python + [me, "--case", "original"], original_path),
    ]
    for case, command, path in commands:
        env = dict(os.environ)
        if path:
            env["PYTHONPATH"] = path
        out = subprocess.run(command, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit("%s failed:\n%s" % (" ".join(command), out.stderr))
        runs[case] = json.loads(out.stdout.strip().splitlines()[-1])
    load_after = os.getloadavg()
    print("machine: %s" % machine())
    print("load average before/after: %.2f / %.2f" % (load_before[0], load_after[0]))
    print("timeit: %d operations per round, %d rounds; ns per operation (min / median / max)"
          % (NUMBER, ROUNDS))
    header = "%-14s %-30s %-30s %-30s %s" % (
        "operation", "original %s (py %s)" % (runs["original"]["package"], runs["original"]["python"]),
        "new %s (py %s)" % (runs["new"]["package"], runs["new"]["python"]),
        "plain attribute (py %s)" % runs["plain"]["python"], "speed-up (median)")
    print(header)
    for name, _ in OPERATIONS:
        cells = []
        for case in ("original", "new", "plain"):
            r = runs[case]["results"][name]
            cells.append("%.1f / %.1f / %.1f" % (r["min_ns"], r["median_ns"], r["max_ns"]))
        speedup = runs["original"]["results"][name]["median_ns"] / runs["new"]["results"][name]["median_ns"]
        print("%-14s %-30s %-30s %-30s %.1fx" % (name, cells[0], cells[1], cells[2], speedup))
    floor = runs["plain"]["results"]["c_descriptor_assign"]
    print("reference: a C data descriptor of CPython (function.__defaults__ = None): "
          "%.1f / %.1f / %.1f" % (floor["min_ns"], floor["median_ns"], floor["max_ns"]))
    print(json.dumps(runs, sort_keys=True))


def main(argv):
    if "--case" in argv:
        run_case(argv[argv.index("--case") + 1])
        return
    if "--compare" in argv:
        original_python = ["python2"]
        original_path = os.environ.get("MMSTATS_ORIGINAL_PATH", "")
        if "--original-python" in argv:
            original_python = argv[argv.index("--original-python") + 1].split()
        if "--original-path" in argv:
            original_path = argv[argv.index("--original-path") + 1]
        compare(original_python, original_path)
        return
    print(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
