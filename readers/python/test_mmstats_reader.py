"""Unit tests of the Python reader that need no Rust: the legacy fixtures
written by the original Python mmstats, the float notation of
FORMAT.md section 13, error messages, and a hand-built format-2 region in
both byte orders.

    python3 -m unittest discover -s readers/python -v

The comparison with mmdump --json on files of the Rust writer is
mmstats-std/tests/python_reader.rs.
"""

import json
import os
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmstats_reader  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "..", "mmstats-std", "tests", "fixtures", "legacy-v1")


def entry(order, name, kind, value_offset, value_len, buffers, copy_words,
          param=0, unit=0, desc=b""):
    raw = bytearray(256)
    struct.pack_into(order + "QQQIHHIHHHHIQ", raw, 0, 1, 1, value_offset, value_len,
                     kind, unit, 0, buffers, len(name), len(desc), 0, copy_words, param)
    raw[56:56 + len(name)] = name
    raw[176:176 + len(desc)] = desc
    return bytes(raw)


def region(order, state=1):
    """A region of 1024 bytes: a counter `hits` = 42 (unit events,
    description "requests") and a string `ver` with 2 copies holding
    "v1.2" in copy 1 (sequence 1); the worked example of FORMAT.md
    section 11, in either byte order."""
    buf = bytearray(1024)
    buf[0:8] = mmstats_reader.MAGIC
    struct.pack_into(order + "IHHIIQQQQQQQQQQQQQQQ", buf, 8, 0x01020304, 2, 0, 256, 256,
                     1024, state, 1, 1234, 5678, 1700000000 * 10**9, 0, 256, 2, 2,
                     768, 256, 0x1122334455667788, 48, 0)
    buf[256:512] = entry(order, b"hits", 1, 768, 8, 1, 1, unit=8, desc=b"requests")
    buf[512:768] = entry(order, b"ver", 6, 776, 40, 2, 2, param=8)
    struct.pack_into(order + "Q", buf, 768, 42)
    struct.pack_into(order + "Q", buf, 776, 1)          # seq: copy 1 is current
    struct.pack_into(order + "Q", buf, 800, 4)          # copy 1: length 4
    buf[808:812] = b"v1.2"
    return bytes(buf)


class FloatNotation(unittest.TestCase):
    def test_matches_mmdump(self):
        cases = {0.5: "0.5", 100.0: "100.0", 1e15: "1000000000000000.0", 1e16: "1e+16",
                 1e21: "1e+21", 1.5e-7: "1.5e-7", 1e-5: "0.00001", 1e-6: "1e-6",
                 -0.0: "-0.0", 0.1: "0.1", 2.5e-300: "2.5e-300",
                 1.7976931348623157e308: "1.7976931348623157e+308",
                 123456789.125: "123456789.125", 5e-324: "5e-324"}
        for value, text in cases.items():
            self.assertEqual(mmstats_reader.format_float(value), text, repr(value))
            self.assertEqual(float(text), value)

    def test_strings_escape_like_serde_json(self):
        out = mmstats_reader.to_json([], [('a"b\\c\n\x01\x7f\u00e9\u2028', "x")])
        self.assertEqual(out, '{"errors":[{"error":"x","path":"a\\"b\\\\c\\n\\u0001\x7f\u00e9\u2028"}],'
                              '"files":[],"schema":1}')


class Legacy(unittest.TestCase):
    def check_fixture(self, name):
        path = os.path.join(FIXTURES, name + ".mmstats")
        with open(os.path.join(FIXTURES, name + ".expected.json")) as f:
            expected = json.load(f)
        stats = mmstats_reader.read_file(path)
        self.assertEqual(stats.format, "legacy-v1")
        values = {f.name: f.value for f in stats.fields}
        for label, value in expected.items():
            self.assertIn(label, values)
            self.assertEqual(values[label], value, label)
            self.assertEqual(type(values[label]), type(value), label)

    def test_fixtures_written_by_the_original_mmstats(self):
        for name in ("web", "timers", "python-all"):
            self.check_fixture(name)

    def test_big_endian_fallback(self):
        data = b"\x01" + struct.pack(">H", 3) + b"big" + struct.pack(">H", 1) + b"I" + b"\xff" \
            + struct.pack(">I", 4000000000)
        fields = mmstats_reader.parse_legacy(data)
        self.assertEqual([(f.name, f.kind, f.value) for f in fields], [("big", "uint", 4000000000)])

    def test_errors_name_the_offset(self):
        with self.assertRaisesRegex(mmstats_reader.Error,
                                    'record at byte 1: unknown type signature "Z"'):
            mmstats_reader.parse_legacy(b"\x01\x01\x00x\x01\x00Z\xff\x00")
        with self.assertRaisesRegex(mmstats_reader.Error, "neither 0xff, 0 nor 1"):
            mmstats_reader.parse_legacy(b"\x01\x01\x00x\x01\x00Q\x07" + bytes(16))


class Format2(unittest.TestCase):
    def read(self, data):
        with tempfile.NamedTemporaryFile(suffix=".mmstats") as f:
            f.write(data)
            f.flush()
            stats = mmstats_reader.read_file(f.name)
            return stats

    def test_worked_example_in_both_byte_orders(self):
        for order in "<>":
            stats = self.read(region(order))
            self.assertEqual(stats.format, "mmstats-2")
            self.assertEqual(stats.pid, 1234)
            self.assertEqual([(f.name, f.kind, f.value, f.unit, f.description) for f in stats.fields],
                             [("hits", "counter", 42, "events", "requests"),
                              ("ver", "string", "v1.2", "", "")])
            self.assertEqual(stats.region["generation"], 1)

    def test_not_ready_and_truncated(self):
        with self.assertRaisesRegex(mmstats_reader.Error, "still being initialised"):
            self.read(region("<", state=0))
        with self.assertRaisesRegex(mmstats_reader.Error, "truncated: header says 1024 bytes"):
            self.read(region("<")[:1000])
        with self.assertRaisesRegex(mmstats_reader.Error, "shorter than the 256-byte"):
            self.read(region("<")[:100])

    def test_torn_sequence_is_retried_then_reported(self):
        data = bytearray(region("<"))
        reg = mmstats_reader.Region(data, len(data))
        loads = [0]
        original = reg.word

        def lapping_word(index):
            if index == 776 // 8:
                loads[0] += 1
                return loads[0]  # every load sees a newer write
            return original(index)

        reg.word = lapping_word
        ver = reg.entry(1)
        with self.assertRaisesRegex(mmstats_reader.Error, "during each of 1000 read attempts"):
            reg.read(ver)

    def test_corrupt_entry_is_a_field_problem(self):
        data = bytearray(region("<"))
        struct.pack_into("<H", data, 512 + 38, 200)  # name_len of entry 1
        stats = self.read(bytes(data))
        self.assertEqual([f.name for f in stats.fields], ["hits"])
        self.assertEqual(stats.problems, ["field 1 is corrupt: name length out of range"])


if __name__ == "__main__":
    unittest.main()
