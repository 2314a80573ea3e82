"""Unit tests of the Python reader that need no Rust: the legacy fixtures
written by the original Python mmstats, the float notation of
FORMAT.md section 13, error messages, a hand-built format-2 region in
both byte orders, and format 2.1 (histogram buckets and quantiles, the
slot protocol, the checked-in region with every kind).

    python3 -m unittest discover -s readers/python -v

The comparison with mmdump --json on files of the Rust writer is
mmdump/tests/python_reader.rs.
"""

import json
import os
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmstats_reader  # noqa: E402

SEED_REGION = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "..", "fuzz", "corpus", "region_reader")
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



def labelled_region(order, labels):
    """A format-2.2 region with 384-byte entries: one counter `c` per item
    of `labels` (stored label bytes), values 1, 2, ... (as
    mmstats-nostd/tests/labels_compat.rs builds it)."""
    n = len(labels)
    data_offset = 256 + n * 384
    length = data_offset + 8 * n
    buf = bytearray(length)
    buf[0:8] = mmstats_reader.MAGIC
    struct.pack_into(order + "IHHIIQQQQQQQQQQQQQQQ", buf, 8, 0x01020304, 2, 2, 256, 384,
                     length, 1, 1, 0, 0, 0, 0, 256, n, n, data_offset, 8 * n, 0, 8 * n, 0)
    for index, raw_labels in enumerate(labels):
        at = 256 + index * 384
        raw = bytearray(entry(order, b"c", 1, data_offset + 8 * index, 8, 1, 1))
        struct.pack_into(order + "QQ", raw, 0, 1, index + 1)
        struct.pack_into(order + "H", raw, 42, len(raw_labels))
        buf[at:at + 256] = raw
        buf[at + 256:at + 256 + len(raw_labels)] = raw_labels
        struct.pack_into(order + "Q", buf, data_offset + 8 * index, index + 1)
    return bytes(buf)


class Labels(unittest.TestCase):
    """Format 2.2 labels (FORMAT.md sections 4.1 and 4.2)."""

    def read(self, data):
        with tempfile.NamedTemporaryFile(suffix=".mmstats") as f:
            f.write(data)
            f.flush()
            return mmstats_reader.read_file(f.name)

    def test_labels_are_read_in_both_byte_orders(self):
        for order in "<>":
            stats = self.read(labelled_region(order, [b"app=web\0conn=1\0", b"conn=2\0", b""]))
            self.assertEqual([(f.name, f.labels, f.value) for f in stats.fields],
                             [("c", [("app", "web"), ("conn", "1")], 1),
                              ("c", [("conn", "2")], 2),
                              ("c", [], 3)])
            self.assertEqual(stats.problems, [])
            text = mmstats_reader.to_text([stats], [])
            self.assertIn('c{app="web",conn="1"}  1  counter', text)

    def test_bad_labels_are_a_field_problem(self):
        stats = self.read(labelled_region("<", [b"conn=1", b"b=1\0a=1\0", b"conn=3\0"]))
        self.assertEqual([f.value for f in stats.fields], [3])
        self.assertEqual(stats.problems, [
            "field 0 has invalid labels: label bytes are not key=value pairs ending in a zero byte",
            "field 1 has invalid labels: labels are not sorted by key",
        ])

    def test_the_lowest_slot_of_a_repeated_name_and_labels_is_shown(self):
        stats = self.read(labelled_region("<", [b"conn=1\0", b"conn=2\0", b"conn=1\0"]))
        self.assertEqual([(f.labels, f.value) for f in stats.fields],
                         [([("conn", "1")], 1), ([("conn", "2")], 2)])
        self.assertEqual(stats.problems, [
            'field 2 (c{conn="1"}) repeats field 0, which is shown instead'])

    def test_the_labelled_worked_example_of_format_md(self):
        doc = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "docs", "FORMAT.md"), encoding="utf-8").read()
        block = doc.split("<!-- hex-labels:start -->")[1].split("<!-- hex-labels:end -->")[0]
        lines = block.split("```text\n")[1].split("```")[0].splitlines()
        data, fold = bytearray(), False
        for line in lines:
            if line == "*":
                fold = True
                continue
            offset = int(line[:4], 16)
            if fold:  # runs of zero lines were folded
                data.extend(bytes(offset - len(data)))
                fold = False
            if len(line) > 4:
                data.extend(bytes.fromhex(line[6:56].split("|")[0]))
        stats = self.read(bytes(data))
        self.assertEqual([(f.name, f.labels, f.value) for f in stats.fields],
                         [("rx", [("conn", "1234")], 7)])

    def test_labels_escape_backslash_and_quote(self):
        self.assertEqual(mmstats_reader.labels_text([("k", 'a\\b"c')]), '{k="a\\\\b\\"c"}')
        self.assertEqual(mmstats_reader.labels_text([]), "")


class LegacyPid(unittest.TestCase):
    def test_a_pid_under_a_label_prefix_is_the_pid(self):
        for label, pid in ((b"myapp.sys.pid", 0x7FFFFFF0), (b"sys.pid", 0x7FFFFFF0),
                           (b"myapp.notsys.pid", None)):
            data = (b"\x01" + struct.pack("<H", len(label)) + label + struct.pack("<H", 1)
                    + b"q\xff" + struct.pack("<q", 0x7FFFFFF0) + b"\0\0")
            with tempfile.NamedTemporaryFile(suffix=".mmstats") as f:
                f.write(data)
                f.flush()
                stats = mmstats_reader.read_file(f.name)
            self.assertEqual(stats.pid, pid, label)
            self.assertEqual(stats.writer, "dead" if pid else "unknown", label)


class Histogram(unittest.TestCase):
    """FORMAT.md section 5.4, checked against its own definitions."""

    def index_of(self, m, t, v):
        s = 1 << m
        if v < s:
            index = v
        else:
            e = v.bit_length() - 1
            index = (e - m + 1) * s + (v >> (e - m)) - s
        return min(index, ((t - m + 2) << m) - 1)

    def test_buckets_tile_the_range_and_hold_their_values(self):
        for m, t in [(1, 1), (2, 6), (3, 9), (5, 41), (1, 63)]:
            _, _, buckets = mmstats_reader.histogram_shape(m | t << 8)
            expected_low = 0
            for index in range(buckets):
                low, high = mmstats_reader.bucket_bounds(m, index)
                self.assertEqual(low, expected_low, (m, t, index))
                self.assertLessEqual(low, high)
                for v in {low, high, (low + high) // 2}:
                    self.assertEqual(self.index_of(m, t, v), index, (m, t, v))
                # Width at most 2^-m of the lower bound (section 5.4).
                if low:
                    self.assertLessEqual((high - low + 1) << m, max(low, 1 << m))
                expected_low = high + 1
            self.assertEqual(expected_low, 1 << (t + 1), "the last bucket ends at 2^(t+1)")

    def test_quantiles_are_bucket_midpoints_clamped_to_min_and_max(self):
        m = 2
        buckets = [0] * 24
        values = [0, 3, 4, 7, 9, 100, 127, 128, 5000, 12, 12, 12]
        for v in values:
            buckets[self.index_of(m, 6, v)] += 1
        q = lambda x: mmstats_reader.histogram_quantile(m, buckets, 0, 5000, x)  # noqa: E731
        self.assertEqual(q(0.0), 0)
        self.assertEqual(q(0.5), 12)  # rank 6: bucket [12, 13], midpoint 12
        self.assertEqual(q(1.0), 5000)  # the last bucket, max past its range
        self.assertEqual(mmstats_reader.histogram_quantile(m, [0] * 24, 0, 0, 0.5), None)
        # Clamped: a single value 10 in bucket [10, 11] is reported as 10.
        one = [0] * 24
        one[self.index_of(m, 6, 11)] = 1
        self.assertEqual(mmstats_reader.histogram_quantile(m, one, 11, 11, 0.99), 11)

    def test_shapes_are_validated(self):
        self.assertEqual(mmstats_reader.histogram_shape(5 | 41 << 8), (5, 41, 1216))
        for bad in [0, 13 | 20 << 8, 5 | 4 << 8, 5 | 64 << 8, 12 | 63 << 8, 5 | 41 << 8 | 1 << 16]:
            self.assertIsNone(mmstats_reader.histogram_shape(bad), bad)
        self.assertEqual(mmstats_reader.ring_shape(64 | 4 << 32), (64, 4))
        for bad in [4, 0 | 4 << 32, (1 << 20) + 1 | 4 << 32, 64 | 33 << 32, 64 | 4 << 32 | 1 << 40]:
            self.assertIsNone(mmstats_reader.ring_shape(bad), bad)


class Format21(unittest.TestCase):
    def read(self, name):
        return mmstats_reader.read_file(os.path.join(SEED_REGION, name))

    def test_every_kind_reused_and_retired_slots(self):
        """The checked-in region of the fuzz targets (written by the Rust
        writer, see seed_region in loom-tests/fuzz-checks/src/seeds.rs):
        every kind of 2.1, a retired slot and two reused ones, in both
        byte orders."""
        for name in ["seed-every-kind", "seed-every-kind-swapped"]:
            stats = self.read(name)
            self.assertEqual(stats.problems, [])
            fields = {f.name: f for f in stats.fields}
            self.assertEqual(len(stats.fields), 11, name)
            self.assertNotIn("seed.conn.5.since", fields, "retired")
            self.assertNotIn("seed.conn.1.bytes", fields, "retired, slot reused")
            self.assertEqual(fields["seed.conn.3.bytes"].value, 99)
            self.assertIs(fields["seed.conn.4.tls"].value, True)
            rtt = fields["seed.rtt"]
            self.assertEqual((rtt.kind, rtt.value), ("histogram", 12))
            self.assertEqual(rtt.extra["sum"], 0 + 3 + 4 + 7 + 9 + 100 + 127 + 128 + 5000 + 36)
            self.assertEqual((rtt.extra["min"], rtt.extra["max"]), (0, 5000))
            self.assertEqual(rtt.extra["buckets"][-1], [112, 127, 3])
            self.assertEqual(rtt.extra["highest"], 127)
            self.assertEqual(rtt.extra["quantiles"]["p50"], 12)
            last4 = fields["seed.last4"]
            self.assertEqual((last4.value, last4.extra["count"], last4.extra["total"]),
                             ((3 + 4 + 5 + 6.5) / 4, 4, 6))
            window = fields["seed.per100"]
            self.assertEqual((window.value, window.extra["as_of"], window.extra["window"]),
                             (30.0, 1100, 100))
            ring = fields["seed.events"]
            self.assertEqual((ring.value, ring.extra), (6, {"capacity": 4, "payload_words": 2}))

    def test_slot_changed_during_a_read_is_noticed(self):
        with open(os.path.join(SEED_REGION, "seed-every-kind"), "rb") as f:
            data = bytearray(f.read())
        reg = mmstats_reader.Region(data, len(data))
        e = reg.entry(9)
        self.assertEqual(e["name"], "seed.conn.3.bytes")
        original = reg.word
        loads = []

        def reused_meanwhile(index):
            # The id word of slot 9 changes after the first check.
            if index == e["entry_word"] + 1:
                loads.append(index)
                return e["id"] if len(loads) == 1 else e["id"] + 100
            return original(index)

        reg.word = reused_meanwhile
        with self.assertRaises(mmstats_reader.SlotChanged):
            reg.read(e)
        # A retired slot (state low byte 2, deadline above) is not live.
        reg.word = original
        self.assertIsNone(reg.entry(11))
        # An entry whose id is 0 is being rewritten: not live either.
        struct.pack_into("=Q", data, e["entry_word"] * 8 + 8, 0)
        self.assertIsNone(mmstats_reader.Region(data, len(data)).entry(9))

    def test_a_bad_histogram_shape_is_a_field_problem(self):
        with open(os.path.join(SEED_REGION, "seed-every-kind"), "rb") as f:
            data = bytearray(f.read())
        reg = mmstats_reader.Region(data, len(data))
        at = reg.entry(5)["entry_word"] * 8
        struct.pack_into("=Q", data, at + 48, 13 | 20 << 8)  # precision 13
        with tempfile.NamedTemporaryFile(suffix=".mmstats") as f:
            f.write(bytes(data))
            f.flush()
            stats = mmstats_reader.read_file(f.name)
        self.assertEqual(stats.problems,
                         ["field 5 is corrupt: histogram precision or range out of range"])
        self.assertEqual(len(stats.fields), 10)


if __name__ == "__main__":
    unittest.main()
