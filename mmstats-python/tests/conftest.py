"""Fixtures: a private stats directory per test, and the two readers every
written value is checked through: ``mmdump dump --json`` (the binary named
by $MMDUMP; the CI step builds it) and the standard-library reader
``readers/python/mmstats_reader.py``."""

import json
import os
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "readers", "python"))

import mmstats_reader  # noqa: E402


@pytest.fixture
def stats_dir(monkeypatch):
    """A fresh 0700 directory, also the default one ($MMSTATS_DIR)."""
    with tempfile.TemporaryDirectory(prefix="mmstats-py-") as path:
        monkeypatch.setenv("MMSTATS_DIR", path)
        yield path


def _mmdump():
    path = os.environ.get("MMDUMP")
    if not path:
        pytest.fail("set MMDUMP to the mmdump binary (cargo build -p mmdump; "
                    "MMDUMP=target/debug/mmdump)")
    if not os.access(path, os.X_OK):
        pytest.fail("MMDUMP=%s is not an executable" % path)
    return path


class Read:
    """One file as both readers see it: ``fields`` maps names to the field
    objects of mmdump's JSON, ``reader`` to the reader's JSON objects."""

    def __init__(self, path):
        out = subprocess.run([_mmdump(), "dump", "--json", path],
                             capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr
        document = json.loads(out.stdout)
        assert document["errors"] == [], document["errors"]
        (file_doc,) = document["files"]
        self.file = file_doc
        self.fields = {f["name"]: f for f in file_doc["fields"]}
        stats = mmstats_reader.read_file(path)
        assert stats.problems == [], stats.problems
        reader_doc = mmstats_reader.file_json(stats)
        self.reader = {f["name"]: f for f in reader_doc["fields"]}
        self.reader_file = reader_doc

    def __getitem__(self, name):
        """The field in mmdump's JSON, checked equal to the reader's."""
        assert name in self.fields, sorted(self.fields)
        assert self.reader[name] == self.fields[name], (self.reader[name], self.fields[name])
        return self.fields[name]


@pytest.fixture
def read():
    return Read
