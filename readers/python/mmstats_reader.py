#!/usr/bin/env python3
"""Read mmstats files (format 2.1, 2.0 and legacy v1) with the Python 3
standard library only.

Format 2.1: every read of an entry or a value is made under the slot
protocol of FORMAT.md section 6.1 (the slot's state and id checked before
and after; slots not live are skipped; a value whose slot changed while it
was read is read again from the entry), and histograms, moving and window
averages and event rings (kinds 8 to 11) are decoded into the keys
``mmdump --json`` prints for them (section 13).

Written from docs/FORMAT.md (not from the Rust code), as a second, independent
reader of the format. Its command line prints the same JSON document as
``mmdump --json`` (schema 1, FORMAT.md section 13), byte for byte on files
that read cleanly:

    python3 mmstats_reader.py [--json | --text] [PATH ...]

PATH is a stats file, a directory (its ``*.mmstats`` files) or a file-name
wildcard; with none, the stats directory (``$MMSTATS_DIR``, default
``/dev/shm/mmstats`` plus ``/dev/shm/mmstats.*`` shared-memory objects).
Exit status: 0 if everything was read, 1 if a file or field could not be
read (the rest is still printed), 2 for a usage error.

As a library::

    import mmstats_reader
    stats = mmstats_reader.read_file("/dev/shm/mmstats/web-1-1.mmstats")
    for field in stats.fields:
        print(field.name, field.kind, field.value)

Limits of a Python reader (FORMAT.md section 1): Python has no atomics and no
fences. Each live word is loaded with one native, aligned 8-byte ``memcpy``
(``struct`` with the native ``@`` format), which is a single load on 64-bit
machines, and latch copies are checked with the sequence numbers of section 7.
On x86-64 (loads are not reordered with loads) that is enough; on weaker
machines a torn copy is still caught unless the hardware reorders the loads
around the sequence checks. A file truncated while it is mapped kills a
Python process with SIGBUS (the Rust reader survives it); the reader checks
the file's length before mapping it.
"""

import errno
import fcntl
import fnmatch
import json
import math
import mmap
import os
import stat
import struct
import sys
import time

MAGIC = b"\x89MMSTAT2"
LEGACY_VERSION = 0x01
BYTE_ORDER_MARK = 0x01020304
MAJOR = 2
PROLOGUE_LEN = 256
ENTRY_RECORD_LEN = 256
LABELS_OFFSET = 256  # format 2.2: label bytes after the fixed entry
LABEL_BYTES_MAX = 128
LABELS_MAX = 8
LABEL_KEY_MAX = 32
LABEL_VALUE_MAX = 64
NAME_MAX = 120
DESC_MAX = 80
MAX_BUFFERS = 16
MAX_STRING_CAPACITY = 4096
MAX_COPY_WORDS = 1 + MAX_STRING_CAPACITY // 8
MAX_UNKNOWN_COPY_WORDS = 1 << 24
MAX_TRIES = 1000
ENTRY_TRIES = 8  # rereads of an entry whose slot changes while it is read
SLOT_TRIES = 3  # rereads of an entry whose slot changed during a value read
MAX_HISTOGRAM_PRECISION = 12
MAX_HISTOGRAM_BUCKETS = 16384
MAX_MOVING_SAMPLES = 4096
MAX_WINDOW_SLOTS = 1024
MAX_RING_RECORDS = 1 << 20
MAX_RING_PAYLOAD_WORDS = 32
RING_HEADER_WORDS = 8
RECORD_HEADER_WORDS = 4
RING_WRITING = 1 << 63
SHOWN_QUANTILES = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)]
LEGACY_MAX_BYTES = 64 << 20
U64 = (1 << 64) - 1

STATE_INITIALISING, STATE_READY, STATE_CLOSED = 0, 1, 2
ENTRY_LIVE = 1

KINDS = {1: "counter", 2: "gauge", 3: "float", 4: "bool", 5: "timestamp",
         6: "string", 7: "average", 8: "histogram", 9: "moving_average",
         10: "window_average", 11: "event_ring"}
UNITS = ["", "bytes", "seconds", "milliseconds", "microseconds", "nanoseconds",
         "ratio", "percent", "events", "hertz", "celsius", "volts", "amperes",
         "watts", "bits"]

# Prologue: (name, offset, struct code) after magic and byte order.
PROLOGUE_FIELDS = [
    ("major", 12, "H"), ("minor", 14, "H"), ("header_len", 16, "I"),
    ("entry_len", 20, "I"), ("region_len", 24, "Q"), ("state", 32, "Q"),
    ("generation", 40, "Q"), ("pid", 48, "Q"), ("start_time", 56, "Q"),
    ("created_ns", 64, "Q"), ("heartbeat_ns", 72, "Q"), ("table_offset", 80, "Q"),
    ("table_capacity", 88, "Q"), ("field_count", 96, "Q"), ("data_offset", 104, "Q"),
    ("data_len", 112, "Q"), ("boot_id", 120, "Q"), ("data_used", 128, "Q"),
    ("flags", 136, "Q"),
]
STATE_WORD, GENERATION_WORD, HEARTBEAT_WORD, FIELD_COUNT_WORD = 4, 5, 9, 12

# Entry: (name, offset, struct code).
ENTRY_FIELDS = [
    ("state", 0, "Q"), ("id", 8, "Q"), ("value_offset", 16, "Q"),
    ("value_len", 24, "I"), ("kind", 28, "H"), ("unit", 30, "H"), ("flags", 32, "I"),
    ("buffers", 36, "H"), ("name_len", 38, "H"), ("desc_len", 40, "H"),
    ("labels_len", 42, "H"), ("copy_words", 44, "I"), ("param", 48, "Q"),
]
ENTRY_NAME, ENTRY_DESC = 56, 176


class Error(Exception):
    """A file or value that could not be read; the text says why."""


class NotReady(Error):
    """The writer is still initialising the region."""


class Unstable(Error):
    """The region was re-initialised while it was being read."""


class SlotChanged(Error):
    """The field was retired, or its slot reused, while it was read (format
    2.1, FORMAT.md section 6.1): read the entry again."""


class Field:
    """A field: name, kind name, value, unit name, description; averages
    also have ``sum`` and ``count``; the kinds of format 2.1 have ``extra``,
    the keys mmdump --json adds for them (FORMAT.md section 13)."""

    def __init__(self, name, kind, value, unit="", description="", average=None,
                 extra=None, labels=()):
        self.name = name
        self.labels = list(labels)  # (key, value) pairs, sorted by key (2.2)
        self.kind = kind
        self.value = value
        self.unit = unit
        self.description = description
        self.average = average  # (sum, count) for averages
        self.extra = extra  # dict of JSON keys for histograms, rings, ...

    def __repr__(self):
        return "Field(%r, %r, %r)" % (self.name, self.kind, self.value)


class FileStats:
    """Everything read from one stats file."""

    def __init__(self, path, fmt, pid, writer, fields, problems, region=None):
        self.path = path
        self.format = fmt  # "mmstats-2" or "legacy-v1"
        self.pid = pid
        self.writer = writer  # "alive", "dead", "closed" or "unknown"
        self.fields = fields
        self.problems = problems  # fields that could not be read
        self.region = region  # prologue facts (format 2)


class LabelError(Error):
    """Label bytes that are not the encoding of FORMAT.md section 4.1."""


def _is_label_key(key):
    return (1 <= len(key) <= LABEL_KEY_MAX
            and (key[0:1].isalpha() or key[0:1] == b"_") and key[0] < 0x80
            and all(c < 0x80 and (chr(c).isalnum() or c == 0x5F) for c in key))


def parse_labels(raw):
    """The (key, value) pairs of stored label bytes (section 4.1), or
    LabelError with the same text as the Rust reader's."""
    if len(raw) > LABEL_BYTES_MAX:
        raise LabelError("labels take %d bytes encoded; the limit is %d"
                         % (len(raw), LABEL_BYTES_MAX))
    pairs, rest, previous = [], raw, None
    while rest:
        end = rest.find(b"\0")
        if end < 0:
            raise LabelError("label bytes are not key=value pairs ending in a zero byte")
        label, rest = rest[:end], rest[end + 1:]
        eq = label.find(b"=")
        if eq < 0:
            raise LabelError("label bytes are not key=value pairs ending in a zero byte")
        key, value = label[:eq], label[eq + 1:]
        if not _is_label_key(key):
            raise LabelError("a label key is empty, too long or not [A-Za-z_][A-Za-z0-9_]*")
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is None or not 1 <= len(value) <= LABEL_VALUE_MAX or is_control(text):
            raise LabelError("a label value is empty, too long, not UTF-8 or holds a "
                             "control character")
        if previous is not None:
            if previous == key:
                raise LabelError("two labels have the same key")
            if previous > key:
                raise LabelError("labels are not sorted by key")
        previous = key
        pairs.append((key.decode("ascii"), text))
        if len(pairs) > LABELS_MAX:
            raise LabelError("%d labels; the limit is %d" % (len(pairs), LABELS_MAX))
    return pairs


def labels_text(pairs):
    """Labels as readers show them: `{key="value",...}`, "" for none;
    backslash and quote escaped."""
    if not pairs:
        return ""
    return "{" + ",".join('%s="%s"' % (k, v.replace("\\", "\\\\").replace('"', '\\"'))
                          for k, v in pairs) + "}"


def is_control(text):
    """Whether text holds a Unicode control character (category Cc)."""
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def rust_debug_str(text):
    """A string quoted as Rust's `{:?}` quotes it (for error messages)."""
    out = ['"']
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\0":
            out.append("\\0")
        elif is_control(c):
            out.append("\\u{%x}" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


# ---------------------------------------------------------------------------
# Format 2
# ---------------------------------------------------------------------------

class Region:
    """A validated format-2 region in a buffer (an mmap or bytes).

    Follows FORMAT.md sections 6 to 8: the state word first, then the rest of
    the prologue, then the checks of section 8, in order.
    """

    def __init__(self, buf, length):
        self.buf = buf
        self.words = length // 8
        available = self.words * 8
        if self.words < PROLOGUE_LEN // 8:
            raise Error("%d bytes is shorter than the 256-byte format-2 prologue" % available)
        if bytes(buf[0:8]) != MAGIC:
            raise Error("not a format-2 region (bad magic)")
        # State first: 0 is "initialising" in either byte order.
        raw_state = self._native(STATE_WORD)
        if raw_state == STATE_INITIALISING:
            raise NotReady("region is still being initialised by its writer")
        head = bytes(buf[0:PROLOGUE_LEN])
        (mark,) = struct.unpack_from("=I", head, 8)
        if mark == BYTE_ORDER_MARK:
            self.order = "<" if sys.byteorder == "little" else ">"
        elif mark == 0x04030201:
            self.order = ">" if sys.byteorder == "little" else "<"
        else:
            raise Error("unknown byte-order mark %#010x" % mark)
        self.swapped = (self.order == "<") != (sys.byteorder == "little")
        p = {}
        for name, offset, code in PROLOGUE_FIELDS:
            (p[name],) = struct.unpack_from(self.order + code, head, offset)
        p["state"] = self._fix(raw_state)
        self.prologue = p
        if p["major"] != MAJOR:
            raise Error("format version %d.%d is not supported (this reader reads 2.x)"
                        % (p["major"], p["minor"]))
        if p["state"] == STATE_INITIALISING:
            raise NotReady("region is still being initialised by its writer")
        if p["state"] not in (STATE_READY, STATE_CLOSED):
            raise Error("state word holds undefined value %d" % p["state"])
        self._check_prologue(available)

    def _check_prologue(self, available):
        p = self.prologue

        def bad(reason):
            raise Error("corrupt header: " + reason)

        if p["header_len"] < PROLOGUE_LEN or p["header_len"] % 8:
            bad("header length below 256 or not a multiple of 8")
        if p["entry_len"] < ENTRY_RECORD_LEN or p["entry_len"] % 8:
            bad("entry length below 256 or not a multiple of 8")
        if p["region_len"] % 8 or p["region_len"] < p["header_len"]:
            bad("region length shorter than the header or not a multiple of 8")
        if p["region_len"] > available:
            raise Error("truncated: header says %d bytes, only %d are present"
                        % (p["region_len"], available))
        if p["table_offset"] < p["header_len"] or p["table_offset"] % 8:
            bad("field table overlaps the header or is misaligned")
        table_end = p["table_capacity"] * p["entry_len"] + p["table_offset"]
        if table_end > U64 or table_end > p["region_len"]:
            bad("field table extends past the end of the region")
        if p["data_offset"] < table_end or p["data_offset"] % 8:
            bad("value area overlaps the field table or is misaligned")
        data_end = p["data_offset"] + p["data_len"]
        if data_end > U64 or data_end > p["region_len"]:
            bad("value area extends past the end of the region")
        if p["field_count"] > p["table_capacity"]:
            bad("field count exceeds table capacity")

    # One live word: a single native 8-byte load (see the module docs).
    def _native(self, index):
        return struct.unpack_from("@Q", self.buf, index * 8)[0]

    def _fix(self, raw):
        if self.swapped:
            return int.from_bytes(raw.to_bytes(8, "little"), "big")
        return raw

    def word(self, index):
        """Word `index`, loaded now, in this machine's order."""
        return self._fix(self._native(index))

    def state(self):
        return self.word(STATE_WORD)

    def heartbeat_ns(self):
        return self.word(HEARTBEAT_WORD)

    def field_count(self):
        count = self.word(FIELD_COUNT_WORD)
        if count > self.prologue["table_capacity"]:
            raise Error("corrupt header: field count exceeds table capacity")
        return count

    def still_valid(self):
        """After reading values: the state is ready or closed, then the
        generation is unchanged (FORMAT.md section 6)."""
        state = self.state()
        return (state in (STATE_READY, STATE_CLOSED)
                and self.word(GENERATION_WORD) == self.prologue["generation"])

    def entry(self, index):
        """Entry `index` as a dict, None if it is not live; raises Error if it
        is corrupt (FORMAT.md section 8, checks 11 to 15)."""
        p = self.prologue
        if index >= p["table_capacity"]:
            raise Error("field %d does not exist" % index)
        at = p["table_offset"] + index * p["entry_len"]
        if at + ENTRY_RECORD_LEN > self.words * 8:
            raise Error("field %d lies outside the region" % index)
        # Format 2.1 slot protocol (section 6.1): id, then state; the entry
        # only if the slot is live; then state and id again, unchanged.
        for _ in range(ENTRY_TRIES):
            first_id = self.word(at // 8 + 1)
            if self.word(at // 8) != ENTRY_LIVE or first_id == 0:
                return None
            # The fixed entry and, in format 2.2, up to 128 label bytes:
            # part of the entry, so read under the same slot check.
            raw = bytes(self.buf[at:at + min(p["entry_len"],
                                             ENTRY_RECORD_LEN + LABEL_BYTES_MAX)])
            if self.word(at // 8) == ENTRY_LIVE and self.word(at // 8 + 1) == first_id:
                break
        else:
            return None  # rewritten again and again while read: not now
        e = {}
        for name, offset, code in ENTRY_FIELDS:
            (e[name],) = struct.unpack_from(self.order + code, raw, offset)
        e["id"] = first_id
        e["entry_word"] = at // 8

        def corrupt(reason):
            raise Error("field %d is corrupt: %s" % (index, reason))
        if not 1 <= e["name_len"] <= NAME_MAX:
            corrupt("name length out of range")
        try:
            name = raw[ENTRY_NAME:ENTRY_NAME + e["name_len"]].decode("utf-8")
        except UnicodeDecodeError:
            corrupt("name is not UTF-8")
        if is_control(name):
            corrupt("name holds a control character")
        if e["desc_len"] > DESC_MAX:
            corrupt("description length out of range")
        try:
            desc = raw[ENTRY_DESC:ENTRY_DESC + e["desc_len"]].decode("utf-8")
        except UnicodeDecodeError:
            corrupt("description is not UTF-8")
        if is_control(desc):
            corrupt("description holds a control character")
        # Section 4.1 (format 2.2): the labels, a problem of this field only.
        labels_len = e["labels_len"]
        try:
            if labels_len and (labels_len > p["entry_len"] - LABELS_OFFSET
                               or labels_len > LABEL_BYTES_MAX):
                raise LabelError("labels take %d bytes encoded; the limit is %d"
                                 % (labels_len, LABEL_BYTES_MAX))
            labels = parse_labels(raw[LABELS_OFFSET:LABELS_OFFSET + labels_len])
        except LabelError as error:
            raise Error("field %d has invalid labels: %s" % (index, error))
        e["labels"] = labels
        buffers, copy_words, kind = e["buffers"], e["copy_words"], KINDS.get(e["kind"])
        param = e["param"]
        if not 1 <= buffers <= MAX_BUFFERS:
            corrupt("buffer count out of range")
        if kind:
            # Section 8, check 14: the kind's parameter, then its shape.
            if kind == "string" and param > MAX_STRING_CAPACITY:
                corrupt("string capacity out of range")
            if kind == "histogram" and histogram_shape(param) is None:
                corrupt("histogram precision or range out of range")
            if kind == "moving_average" and not 1 <= param <= MAX_MOVING_SAMPLES:
                corrupt("moving-average window out of range")
            if kind == "window_average" and not 1 <= param <= MAX_WINDOW_SLOTS:
                corrupt("window-average sub-window count out of range")
            if kind == "event_ring" and ring_shape(param) is None:
                corrupt("event-ring capacity or record size out of range")
            latched = 2 <= buffers
            if kind == "string":
                fits = latched and copy_words == 1 + (param + 7) // 8
            elif kind == "average":
                fits = latched and copy_words == 2
            elif kind == "histogram":
                fits = buffers == 1 and copy_words == 4 + histogram_shape(param)[2]
            elif kind == "moving_average":
                fits = latched and copy_words == 3
            elif kind == "window_average":
                fits = latched and copy_words == 4
            elif kind == "event_ring":
                fits = buffers == 1 and copy_words == RECORD_HEADER_WORDS + ring_shape(param)[1]
            else:
                fits = buffers == 1 and copy_words == 1
            if not fits:
                corrupt("value shape does not match its kind")
        elif not 1 <= copy_words <= MAX_UNKNOWN_COPY_WORDS:
            corrupt("copy size out of range")
        # Section 5.2: the value words.
        value_words = copy_words if buffers == 1 else 1 + buffers * copy_words
        if kind == "moving_average":
            value_words += param
        elif kind == "window_average":
            value_words += 1 + 3 * param
        elif kind == "event_ring":
            value_words = RING_HEADER_WORDS + ring_shape(param)[0] * copy_words
        if e["value_offset"] % 8:
            corrupt("value offset is not 8-byte aligned")
        if value_words * 8 > e["value_len"]:
            corrupt("value is longer than its reserved length")
        value_end = e["value_offset"] + e["value_len"]
        if value_end > U64:
            corrupt("value offset overflows")
        if e["value_offset"] < p["data_offset"] or value_end > p["data_offset"] + p["data_len"]:
            corrupt("value lies outside the value area")
        e.update(index=index, name=name, description=desc, kind_name=kind,
                 value_word=e["value_offset"] // 8, value_words=value_words)
        if e["unit"] < len(UNITS):
            e["unit_name"] = UNITS[e["unit"]]
        else:
            e["unit_name"] = "unit(%d)" % e["unit"]
        return e

    def _latch(self, e, words_wanted):
        """One consistent copy of a latch cell (FORMAT.md section 7): the
        copy's raw bytes and its first word, in this machine's order."""
        seq_index, buffers, copy_words = e["value_word"], e["buffers"], e["copy_words"]
        tolerated = buffers - 2
        for _ in range(MAX_TRIES):
            s1 = self.word(seq_index)
            start = seq_index + 1 + (s1 % buffers) * copy_words
            first = self.word(start)
            n = max(1, min(words_wanted(first), copy_words))
            data = bytes(self.buf[(start + 1) * 8:(start + n) * 8])
            s2 = self.word(seq_index)
            if (s2 - s1) & U64 <= tolerated:
                return first, data
        raise Error("writer overwrote the value during each of %d read attempts" % MAX_TRIES)

    def _histogram(self, e):
        """A histogram (section 5.4): one load per word, no latch; the JSON
        keys of section 13."""
        m, t, _ = histogram_shape(e["param"])
        words = [self._fix(w) for w in
                 struct.unpack_from("@%dQ" % e["copy_words"], self.buf, e["value_word"] * 8)]
        count, total, low, high = words[:4]
        buckets = words[4:]
        empty = count == 0 or low > high
        quantiles = None
        if sum(buckets):
            quantiles = {name: histogram_quantile(m, buckets, low, high, q)
                         for name, q in SHOWN_QUANTILES}
        extra = {
            "count": count, "sum": total,
            "min": None if empty else low, "max": None if empty else high,
            "mean": json_float(total / float(count)) if count else None,
            "quantiles": quantiles,
            "precision": m,
            "highest": U64 if t >= 63 else (1 << (t + 1)) - 1,
            "relative_error": 1.0 / (1 << (m + 1)),
            "buckets": [list(bucket_bounds(m, i)) + [n]
                        for i, n in enumerate(buckets) if n],
        }
        return "histogram", count, None, extra

    def read(self, e):
        """The value of entry `e`: (kind name, value, (sum, count) or None,
        extra JSON keys or None); None for a kind this reader does not know.
        Raises SlotChanged if the slot no longer holds that field (checked
        before and after, FORMAT.md section 6.1)."""
        kind = e["kind_name"]
        if kind is None:
            return None
        state_word, id_word = e["entry_word"], e["entry_word"] + 1
        if self.word(id_word) != e["id"] or self.word(state_word) != ENTRY_LIVE:
            raise SlotChanged("field was retired or its slot reused")
        value = self._read_value(e, kind)
        if self.word(state_word) != ENTRY_LIVE or self.word(id_word) != e["id"]:
            raise SlotChanged("field was retired or its slot reused")
        if len(value) == 3:
            value = value + (None,)
        return value

    def _read_value(self, e, kind):
        if kind in ("counter", "timestamp"):
            return kind, self.word(e["value_word"]), None
        if kind == "gauge":
            v = self.word(e["value_word"])
            return kind, v - (1 << 64) if v >> 63 else v, None
        if kind == "float":
            return kind, bits_to_float(self.word(e["value_word"])), None
        if kind == "bool":
            return kind, self.word(e["value_word"]) != 0, None
        if kind == "average":
            first, data = self._latch(e, lambda first: 2)
            count = self._fix(struct.unpack_from("@Q", data, 0)[0])
            total = bits_to_float(first)
            return kind, (total / float(count) if count else 0.0), (total, count)
        if kind == "histogram":
            return self._histogram(e)
        if kind in ("moving_average", "window_average"):
            n = 3 if kind == "moving_average" else 4
            first, data = self._latch(e, lambda first: n)
            rest = [self._fix(w) for w in struct.unpack_from("@%dQ" % (n - 1), data, 0)]
            total = bits_to_float(first)
            count = rest[0]
            mean = total / float(count) if count else 0.0
            extra = {"sum": json_float(total), "count": count, "total": rest[1]}
            if kind == "moving_average":
                extra["window"] = e["param"]
            else:
                # The window length is the word after the latch cell.
                after = e["value_word"] + 1 + e["buffers"] * e["copy_words"]
                extra["window"] = self.word(after)
                extra["as_of"] = rest[2]
            return kind, mean, None, extra
        if kind == "event_ring":
            capacity, payload_words = ring_shape(e["param"])
            appended = self.word(e["value_word"])
            return kind, appended, None, {"capacity": capacity,
                                          "payload_words": payload_words}
        # string
        capacity = e["param"]
        first, data = self._latch(e, lambda first: 1 + (min(first, capacity) + 7) // 8)
        length = first
        if length > capacity:
            raise Error("string length %d exceeds its capacity %d" % (length, capacity))
        try:
            text = data[:length].decode("utf-8")
        except UnicodeDecodeError:
            raise Error("string is not valid UTF-8")
        return kind, text, None


def histogram_shape(param):
    """(precision m, top exponent t, buckets B) of a histogram's param
    (FORMAT.md section 5.4), or None if invalid."""
    m, t = param & 0xFF, (param >> 8) & 0xFF
    if param >> 16 or not 1 <= m <= MAX_HISTOGRAM_PRECISION or not m <= t <= 63:
        return None
    buckets = (t - m + 2) << m
    if buckets > MAX_HISTOGRAM_BUCKETS:
        return None
    return m, t, buckets


def bucket_bounds(m, index):
    """Smallest and largest value of bucket `index` (section 5.4)."""
    s = 1 << m
    if index < s:
        return index, index
    g = index // s - 1
    lower = (s + index % s) << g
    return lower, lower + (1 << g) - 1


def histogram_quantile(m, buckets, low, high, q):
    """The q-quantile of section 5.4: the integer midpoint of the bucket
    holding rank max(1, ceil(q * total)), clamped to [min, max] when
    min <= max; the maximum if that is the last bucket and max lies past it."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = min(max(int(math.ceil(q * float(total))), 1), total)
    seen = 0
    for index, count in enumerate(buckets):
        seen += count
        if seen >= rank:
            lower, upper = bucket_bounds(m, index)
            if index + 1 == len(buckets) and low <= high and high > upper:
                return high
            mid = lower + (upper - lower) // 2
            return min(max(mid, low), high) if low <= high else mid
    return None


def ring_shape(param):
    """(capacity C, payload words P) of an event ring's param (section
    5.7), or None if invalid."""
    capacity, payload = param & 0xFFFFFFFF, (param >> 32) & 0xFF
    if param >> 40 or not 1 <= capacity <= MAX_RING_RECORDS:
        return None
    if not 1 <= payload <= MAX_RING_PAYLOAD_WORDS:
        return None
    return capacity, payload


def bits_to_float(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def read_region(path, fd, length):
    """Reads a format-2 file: retries while the writer initialises or
    re-initialises the region (20 attempts, as mmdump)."""
    if length < PROLOGUE_LEN:
        raise Error("format 2: %d bytes is shorter than the 256-byte format-2 prologue" % length)
    with mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ) as buf:
        last = "region was re-initialised during every read attempt"
        for attempt in range(20):
            try:
                return _read_region_once(path, fd, buf, length)
            except NotReady as e:
                last = "format 2: %s" % e
                time.sleep((1 << min(attempt, 3)) / 1000.0)
            except Unstable:
                last = "region was re-initialised during every read attempt"
            except Error as e:
                raise Error("format 2: %s" % e)
        raise Error(last)


def _read_region_once(path, fd, buf, length):
    region = Region(buf, length)
    p = region.prologue
    count = region.field_count()
    fields, problems = [], []
    # Section 4.2: a live field repeating the name and labels of one in a
    # lower slot is not shown, and reported after the other problems.
    first_slot, repeats = {}, []
    for index in range(count):
        try:
            e = region.entry(index)
        except Error as error:
            problems.append(str(error))
            continue
        if e is not None:
            identity = (e["name"], tuple(e["labels"]))
            if identity in first_slot:
                repeats.append((index, e, first_slot[identity]))
                continue
            first_slot[identity] = index
        read = None
        # A slot retired or reused while its value is read (section 6.1):
        # read the entry again; one that keeps changing is skipped now.
        for _ in range(SLOT_TRIES):
            if e is None:
                break
            try:
                read = region.read(e)
                break
            except SlotChanged:
                read = None
                try:
                    e = region.entry(index)
                except Error as error:
                    problems.append(str(error))
                    e = None
            except Error as error:
                problems.append("field %d (%s): %s" % (index, e["name"], error))
                e = None
        if read is None:
            continue  # not live, a kind from a newer minor version, or churning
        kind, value, average, extra = read
        fields.append(Field(e["name"], kind, value, e["unit_name"], e["description"],
                            average, extra, e["labels"]))
    for index, e, first in repeats:
        problems.append("field %d (%s%s) repeats field %d, which is shown instead"
                        % (index, e["name"], labels_text(e["labels"]), first))
    if not region.still_valid():
        raise Unstable()
    state = region.state()
    writer = judge(state, probe_lock(fd), check_process(p["pid"], p["start_time"], p["boot_id"]))
    info = {"generation": p["generation"], "created_ns": p["created_ns"],
            "heartbeat_ns": region.heartbeat_ns(), "state": state}
    return FileStats(path, "mmstats-2", p["pid"] or None, writer, fields, problems, info)


# ---------------------------------------------------------------------------
# Writer liveness (FORMAT.md section 9)
# ---------------------------------------------------------------------------

def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & U64
    return h


def boot_id():
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            return fnv1a(f.read().strip())
    except OSError:
        return 0


def process_start_time(pid):
    """Field 22 of /proc/PID/stat (clock ticks after boot), or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            line = f.read()
    except OSError:
        return None
    close = line.rfind(b")")
    if close < 0:
        return None
    rest = line[close + 1:].split()
    try:
        return int(rest[19])
    except (IndexError, ValueError):
        return None


def check_process(pid, start_time, writer_boot):
    """'running', 'gone' or 'unknown' for a writer with this identity."""
    this_boot = boot_id()
    if writer_boot and this_boot and writer_boot != this_boot:
        return "gone"
    if pid == 0 or pid > 0x7FFFFFFF or not os.path.exists("/proc/self/stat"):
        return "unknown"
    now = process_start_time(pid)
    if now is None:
        return "gone"
    if start_time == 0:
        return "unknown"
    return "running" if now == start_time else "gone"


def probe_lock(fd):
    """'held' if a writer holds its shared flock, 'free', or 'unsupported'."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return "held"
    except OSError:
        return "unsupported"
    fcntl.flock(fd, fcntl.LOCK_UN)
    return "free"


def judge(state, lock, process):
    if state == STATE_CLOSED:
        return "closed"
    if lock == "held" or process == "running":
        return "alive"
    if process == "gone":
        return "dead"
    return "unknown"


# ---------------------------------------------------------------------------
# Legacy v1 (FORMAT.md section 12)
# ---------------------------------------------------------------------------

def _legacy_code(signature):
    """(kind, size, struct code) for a Python struct signature, or None."""
    sig = signature.lstrip("@=<>!")
    digits = len(sig) - len(sig.lstrip("0123456789"))
    count_text, code = sig[:digits], sig[digits:]
    count = None
    if count_text:
        count = int(count_text)
        if count > U64:
            count = None
    if code == "s":
        return ("string", 1 if count is None else count, None)
    if count not in (None, 1):
        return None
    table = {"b": ("int", 1, "b"), "B": ("uint", 1, "B"), "?": ("bool", 1, None),
             "h": ("int", 2, "h"), "H": ("uint", 2, "H"), "i": ("int", 4, "i"),
             "I": ("uint", 4, "I"), "l": ("int", 8, "q"), "q": ("int", 8, "q"),
             "L": ("uint", 8, "Q"), "Q": ("uint", 8, "Q"), "f": ("float", 4, "f"),
             "d": ("float", 8, "d")}
    return table.get(code)


def _parse_legacy(data, order):
    if not data or data[0] != LEGACY_VERSION:
        raise Error("legacy v1 record at byte 0: first byte is not the legacy version 0x01")
    at, fields = 1, []
    while True:
        start = at

        def fail(reason):
            raise Error("legacy v1 record at byte %d: %s" % (start, reason))

        if at + 2 > len(data):
            break
        (label_len,) = struct.unpack_from(order + "H", data, at)
        at += 2
        if label_len == 0:
            break
        if at + label_len > len(data):
            fail("label runs past the end of the file")
        label = data[at:at + label_len].decode("utf-8", "replace")
        at += label_len
        if at + 2 > len(data):
            fail("record ends before its type signature")
        (sig_len,) = struct.unpack_from(order + "H", data, at)
        at += 2
        if at + sig_len > len(data):
            fail("type signature runs past the end of the file")
        try:
            signature = data[at:at + sig_len].decode("utf-8")
        except UnicodeDecodeError:
            fail("type signature is not text")
        at += sig_len
        code = _legacy_code(signature)
        if code is None:
            fail("unknown type signature %s" % rust_debug_str(signature))
        if at + 1 > len(data):
            fail("record ends before its write-buffer byte")
        buffer = data[at]
        at += 1
        if buffer == 0xFF:
            copies = 1
        elif buffer in (0, 1):
            copies = 2
        else:
            fail("write-buffer byte %#04x is neither 0xff, 0 nor 1" % buffer)
        kind, size, fmt = code
        if size * copies > U64:
            fail("value too large")
        if at + size * copies > len(data):
            fail("value runs past the end of the file")
        chosen = 0 if copies == 1 else buffer ^ 1
        raw = data[at + chosen * size:at + (chosen + 1) * size]
        at += size * copies
        if kind == "string":
            value = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        elif kind == "bool":
            value = raw[0] != 0
        else:
            (value,) = struct.unpack(order + fmt, raw)
        fields.append(Field(label, kind, value))
    return fields


def parse_legacy(data):
    """Parses a legacy v1 file: little-endian, else big-endian; reports the
    little-endian error if neither parses."""
    try:
        return _parse_legacy(data, "<")
    except Error as little:
        try:
            return _parse_legacy(data, ">")
        except Error:
            raise little


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------

def read_file(path):
    """Reads every field of the stats file at `path` (either format);
    raises Error naming the reason."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise Error("file was removed before it could be read")
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise Error("is a symbolic link (not followed)")
        raise Error("open failed: %s" % os.strerror(e.errno))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Error("not a regular file")
        head = os.pread(fd, 8, 0)
        if head == MAGIC:
            return read_region(path, fd, st.st_size)
        if head[:1] == bytes([LEGACY_VERSION]):
            if st.st_size > LEGACY_MAX_BYTES:
                raise Error("%d bytes is too large for a legacy file" % st.st_size)
            data = os.pread(fd, st.st_size, 0)
            fields = parse_legacy(data)
            pid = None
            for f in fields:
                # `sys.pid`, or after a label prefix (`myapp.sys.pid`), as
                # the original cleanstats recognised it.
                is_pid = f.name == "sys.pid" or f.name.endswith(".sys.pid")
                if is_pid and f.kind in ("int", "uint"):
                    pid = f.value if f.value >= 0 else None
                    break
            writer = "dead" if pid is not None and check_process(pid, 0, 0) == "gone" else "unknown"
            return FileStats(path, "legacy-v1", pid, writer, fields, [])
        raise Error("not an mmstats file (%d bytes; no format-2 magic or legacy version byte)"
                    % st.st_size)
    finally:
        os.close(fd)


def default_dir():
    env = os.environ.get("MMSTATS_DIR")
    if env:
        return env
    if os.path.isdir("/dev/shm"):
        return "/dev/shm/mmstats"
    import tempfile
    return os.path.join(tempfile.gettempdir(), "mmstats-%d" % os.getuid())


def _stats_files_in(directory, pattern):
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(os.path.join(directory, n) for n in names
                  if not n.startswith(".") and n.endswith(".mmstats")
                  and fnmatch.fnmatchcase(n, pattern))


def discover(inputs):
    """(files, errors) for files, directories and wildcard patterns, as
    mmdump finds them."""
    files, errors = [], []
    if not inputs:
        directory = default_dir()
        files.extend(_stats_files_in(directory, "*"))
        if "MMSTATS_DIR" not in os.environ and directory == "/dev/shm/mmstats":
            files.extend(_stats_files_in("/dev/shm", "mmstats.*"))
    for item in inputs:
        try:
            st = os.lstat(item)
        except OSError:
            name = os.path.basename(item)
            if any(c in name for c in "*?["):
                parent = os.path.dirname(item) or "."
                try:
                    found = sorted(os.path.join(parent, n) for n in os.listdir(parent)
                                   if fnmatch.fnmatchcase(n, name))
                except OSError:
                    found = []
                if not found:
                    errors.append((item, "no file matches this pattern"))
                files.extend(found)
            else:
                errors.append((item, "no such file or directory"))
            continue
        if stat.S_ISDIR(st.st_mode):
            files.extend(_stats_files_in(item, "*"))
        else:
            files.append(item)
    deduped = [f for i, f in enumerate(files) if i == 0 or files[i - 1] != f]
    return deduped, errors


def collect(inputs):
    files, errors = discover(inputs)
    read = []
    for path in files:
        try:
            read.append(read_file(path))
        except Error as e:
            errors.append((path, str(e)))
    return read, errors


# ---------------------------------------------------------------------------
# JSON, as mmdump --json writes it (FORMAT.md section 13: compact, keys
# sorted, floats in their shortest round-trip form)
# ---------------------------------------------------------------------------

def format_float(x):
    """A finite float as mmdump writes it (FORMAT.md section 13): the
    shortest digits that round-trip; fixed notation with at least one digit
    after the point for decimal exponents -5 to 15 (12.5, 100.0, 0.00001),
    else d.ddd, `e`, a sign and the exponent (1e+16, 1.5e-7, 2.5e+300)."""
    text = repr(x)
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    mantissa, _, exponent = text.partition("e")
    exponent = int(exponent) if exponent else 0
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + exponent
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits:
        return sign + "0.0"
    length = len(digits)
    k = point - length
    if 0 <= k and point <= 16:
        return sign + digits + "0" * k + ".0"
    if 0 < point <= 16:
        return sign + digits[:point] + "." + digits[point:]
    if -5 < point <= 0:
        return sign + "0." + "0" * (-point) + digits
    exponent = point - 1
    mark = "e+" if exponent >= 0 else "e-"
    if length == 1:
        return sign + digits + mark + str(abs(exponent))
    return sign + digits[0] + "." + digits[1:] + mark + str(abs(exponent))


def json_float(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return float(x)


def json_value(field):
    if field.kind in ("float", "average", "moving_average", "window_average"):
        return json_float(field.value)
    return field.value


def file_json(stats):
    fields = []
    for f in stats.fields:
        item = {"name": f.name, "kind": f.kind, "value": json_value(f)}
        if f.unit:
            item["unit"] = f.unit
        if f.description:
            item["description"] = f.description
        if f.average is not None:
            item["sum"] = json_float(f.average[0])
            item["count"] = f.average[1]
        if f.extra is not None:
            item.update(f.extra)
        fields.append(item)
    out = {"path": stats.path, "format": stats.format, "pid": stats.pid,
           "writer": stats.writer, "fields": fields}
    if stats.region is not None:
        for key in ("generation", "created_ns", "heartbeat_ns"):
            out[key] = stats.region[key]
    return out


def to_json(files, errors):
    """The JSON document of mmdump --json (schema 1) as text."""
    error_list = [{"path": p, "error": e} for p, e in errors]
    for stats in files:
        error_list.extend({"path": stats.path, "error": p} for p in stats.problems)
    document = {"schema": 1, "files": [file_json(f) for f in files], "errors": error_list}
    out = []
    _encode(document, out)
    return "".join(out)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n",
            "\r": "\\r", "\t": "\\t"}


def _encode_str(text):
    """A JSON string as serde_json writes it: only quote, backslash and
    control characters below 0x20 are escaped."""
    out = ['"']
    for c in text:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif ord(c) < 0x20:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _encode(value, out):
    """Compact JSON with sorted keys (serde_json's default `Map` is sorted)."""
    if isinstance(value, dict):
        out.append("{")
        for index, key in enumerate(sorted(value)):
            if index:
                out.append(",")
            out.append(_encode_str(key))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, str):
        out.append(_encode_str(value))
    elif value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, float):
        out.append(format_float(value))
    else:
        out.append(str(int(value)))


def to_text(files, errors):
    lines = []
    for index, stats in enumerate(files):
        if index:
            lines.append("")
        parts = [stats.format]
        if stats.pid is not None:
            parts.append("pid %d" % stats.pid)
        parts.append("writer " + stats.writer)
        lines.append("==> %s (%s)" % (stats.path, ", ".join(parts)))
        for f in stats.fields:
            value = json_value(f)
            lines.append("  %s%s  %s  %s %s" % (f.name, labels_text(f.labels), value, f.kind,
                                                f.unit))
        lines.extend("!! " + p for p in stats.problems)
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    mode, paths = "json", []
    for arg in argv:
        if arg in ("-h", "--help"):
            print(__doc__)
            return 0
        if arg == "--json":
            mode = "json"
        elif arg == "--text":
            mode = "text"
        elif arg.startswith("-") and arg != "-":
            sys.stderr.write("mmstats_reader: unknown option %s\n" % arg)
            return 2
        else:
            paths.append(arg)
    files, errors = collect(paths)
    out = to_json(files, errors) if mode == "json" else to_text(files, errors)
    sys.stdout.write(out + "\n")
    for path, error in errors:
        sys.stderr.write("mmstats_reader: %s: %s\n" % (path, error))
    for stats in files:
        for problem in stats.problems:
            sys.stderr.write("mmstats_reader: %s: %s\n" % (stats.path, problem))
    failed = errors or any(s.problems for s in files)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
