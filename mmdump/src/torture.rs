//! The cross-process torture test behind the `mmstats-torture` binary.
//!
//! A *writer* process publishes multi-word values (strings of 200 bytes
//! and of the 4096-byte maximum, and averages, each with 2 and with 3
//! latch copies) and rewrites all of them as fast as it can, every value a
//! self-checking pattern of its round number `k`. *Reader* processes map
//! the file read-only, read every value through [`RegionView`] (the public
//! reader of `mmstats-nostd`), and check each one against the pattern its
//! own content names: a value mixing two writes fails the check (it is
//! *torn*). The parent kills the writer with `SIGKILL` in mid-stream, and
//! the readers then check that every value is still readable, consistent,
//! and no longer changes, and that [`mmstats::read_file`] calls the writer
//! dead.
//!
//! Format 2.1 kinds join in: each round also records one value into a
//! histogram and appends one record to an event ring. A ring record's
//! payload is a pattern of its own sequence number (the round), so a torn
//! or misplaced record fails its check; readers follow the ring with a
//! [`RingCursor`] and count what they get and what the writer overwrote
//! first. A histogram's words are independent (FORMAT.md §5.4), so while
//! the writer runs readers check only that its count and bucket total
//! never go back; after the kill (a quiescent point) the count equals the
//! bucket total and the writer's round (or the round before), and the
//! sum, minimum and maximum are exactly those of the values of rounds 1 to
//! count.
//!
//! Readers retry a value themselves (one attempt per
//! [`RegionView::read`] call) so that retries can be counted; like
//! `mmdump` they give up after [`DEFAULT_MAX_TRIES`] attempts.

use std::fs::File;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mmstats_nostd::{
    DEFAULT_MAX_TRIES, FieldInfo, FieldSpec, MAX_COPY_WORDS, Payload, ReadError, RegionView,
    RingCursor, RingEvent, Value,
};

use mmstats::ReadMap;
use mmstats::events::EventRing;
use mmstats::{Average, Counter, Histogram, StatsFile, Text};
use mmstats::{FieldValue, Liveness, read_file};

/// A text field of the torture test: name, capacity, latch copies.
pub const TEXT_FIELDS: [(&str, usize, u16); 4] = [
    ("torture.text200.b2", 200, 2),
    ("torture.text200.b3", 200, 3),
    ("torture.text4096.b2", 4096, 2),
    ("torture.text4096.b3", 4096, 3),
];
/// An average field of the torture test: name, latch copies.
pub const AVERAGE_FIELDS: [(&str, u16); 2] = [("torture.avg.b2", 2), ("torture.avg.b3", 3)];
/// The counter holding the writer's round number.
pub const ROUND_FIELD: &str = "torture.round";
/// The histogram that gets [`histogram_value_for`] of every round.
pub const HISTOGRAM_FIELD: &str = "torture.histogram";
/// The event ring that gets one record per round, [`ring_payload_for`].
pub const RING_FIELD: &str = "torture.ring";
/// Records the ring holds (readers are lapped now and then).
pub const RING_CAPACITY: usize = 1024;
/// Event id of the ring's records.
pub const RING_EVENT: u32 = 0x7047;

/// A value that does not match the pattern it claims to be part of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Torn {
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Torn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// SplitMix64's output function: a cheap, well-mixed hash of `x`.
#[must_use]
pub const fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The string written in round `k` to a field of `capacity` bytes (at
/// least 32), into `out`: `k` as 16 hex digits, then 8-byte words of
/// printable ASCII (`'0'..='o'`) derived from `k`, the capacity and the
/// word's position, cut to a length between `capacity - 15` and
/// `capacity` that also depends on `k`. Two rounds' words differ with
/// probability 1 - 2^-48, so a copy mixing two writes is caught.
pub fn text_for(k: u64, capacity: usize, out: &mut Vec<u8>) {
    out.clear();
    let len = capacity - (mix(k ^ capacity as u64) % 16) as usize;
    out.extend_from_slice(format!("{k:016x}").as_bytes());
    let base = mix(k) ^ ((capacity as u64) << 48);
    let mut word = 2u64;
    while out.len() < len {
        // Six bits per byte, moved into '0'..='o': printable, one word at
        // a time.
        let bits = (mix(base ^ word) & 0x3F3F_3F3F_3F3F_3F3F) + 0x3030_3030_3030_3030;
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&bits.to_le_bytes()[..take]);
        word += 1;
    }
}

/// Checks a string read from a field of `capacity` bytes against the
/// pattern of the round its first 16 characters name; returns that round.
/// `expected` is scratch space.
pub fn check_text(text: &str, capacity: usize, expected: &mut Vec<u8>) -> Result<u64, Torn> {
    let k = text
        .get(..16)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or_else(|| Torn {
            reason: format!("string does not start with a round number: {:.40?}", text),
        })?;
    if k == 0 {
        // Round 0 is the initial, empty value; it has no header.
        return Err(Torn {
            reason: "round 0 claimed by a non-empty string".into(),
        });
    }
    text_for(k, capacity, expected);
    if text.as_bytes() == expected.as_slice() {
        Ok(k)
    } else {
        let at = text
            .bytes()
            .zip(expected.iter())
            .position(|(a, &b)| a != b)
            .unwrap_or(text.len().min(expected.len()));
        Err(Torn {
            reason: format!(
                "{capacity}-byte string claims round {k} but differs from it at byte {at} \
                 (length {}, expected {})",
                text.len(),
                expected.len()
            ),
        })
    }
}

/// The value recorded into the histogram in round `k`: spread over many
/// buckets (0 to 2^20).
#[must_use]
pub const fn histogram_value_for(k: u64) -> u64 {
    mix(k) >> 44
}

/// The payload of the ring record appended in round `k` (its sequence
/// number).
#[must_use]
pub const fn ring_payload_for(k: u64) -> [u64; 4] {
    [k, mix(k), !k, k.rotate_left(29) ^ 0x5A5A_5A5A_5A5A_5A5A]
}

/// Checks a ring record: its payload is the pattern of its sequence
/// number.
pub fn check_ring_record(seq: u64, event: u32, payload: &Payload<'_>) -> Result<(), Torn> {
    let expected = ring_payload_for(seq);
    match payload {
        Payload::Values(values) if event == RING_EVENT && *values == expected.as_slice() => Ok(()),
        other => Err(Torn {
            reason: format!("ring record {seq} (event {event:#x}) holds {other:?}"),
        }),
    }
}

/// Count, sum, minimum and maximum of the histogram values of rounds 1 to
/// `rounds`.
#[must_use]
pub fn histogram_summary_for(rounds: u64) -> (u64, u64, u64, u64) {
    (1..=rounds).fold((rounds, 0, u64::MAX, 0), |(n, sum, min, max), k| {
        let v = histogram_value_for(k);
        (n, sum.wrapping_add(v), min.min(v), max.max(v))
    })
}

/// The sum and count written in round `k`.
#[must_use]
pub fn average_for(k: u64) -> (f64, u64) {
    (k as f64 * 1.5, k)
}

/// Checks an average against the pattern of the round its count names;
/// returns that round.
pub fn check_average(sum: f64, count: u64) -> Result<u64, Torn> {
    if average_for(count).0.to_bits() == sum.to_bits() {
        Ok(count)
    } else {
        Err(Torn {
            reason: format!("average sum {sum} does not belong with count {count}"),
        })
    }
}

/// The writer's handles.
struct WriterFields {
    round: Counter,
    texts: Vec<(Text, usize)>,
    averages: Vec<Average>,
    histogram: Histogram,
    ring: EventRing,
}

/// Runs the writer: creates the stats file in `dir`, prints `ready PATH`
/// on stdout, then rewrites every value, round after round, until killed
/// or until `max_seconds` have passed (a safety net should its parent
/// vanish).
pub fn run_writer(dir: &Path, max_seconds: u64) -> Result<(), Box<dyn std::error::Error>> {
    let file = StatsFile::builder("torture")
        .dir(dir)
        .size(256 * 1024)
        .table_capacity(16)
        .create()?;
    let fields = WriterFields {
        round: file.counter(ROUND_FIELD)?,
        texts: TEXT_FIELDS
            .iter()
            .map(|&(name, capacity, buffers)| {
                file.text(FieldSpec::new(name).capacity(capacity).buffers(buffers))
                    .map(|text| (text, capacity))
            })
            .collect::<Result<_, _>>()?,
        averages: AVERAGE_FIELDS
            .iter()
            .map(|&(name, buffers)| file.average(FieldSpec::new(name).buffers(buffers)))
            .collect::<Result<_, _>>()?,
        histogram: file.histogram(
            FieldSpec::new(HISTOGRAM_FIELD)
                .precision(4)
                .highest(1 << 20),
        )?,
        ring: file.event_ring(
            FieldSpec::new(RING_FIELD)
                .capacity(RING_CAPACITY)
                .payload_words(4),
        )?,
    };
    let mut out = io::stdout().lock();
    writeln!(out, "ready {}", file.path().display())?;
    out.flush()?;
    drop(out);

    let started = Instant::now();
    let mut text = Vec::with_capacity(4096);
    let mut k = 0u64;
    loop {
        k += 1;
        fields.round.incr();
        for (handle, capacity) in &fields.texts {
            text_for(k, *capacity, &mut text);
            handle.set(std::str::from_utf8(&text)?);
        }
        let (sum, count) = average_for(k);
        for average in &fields.averages {
            average.set(sum, count);
        }
        fields.histogram.record(histogram_value_for(k));
        fields.ring.event(RING_EVENT, &ring_payload_for(k));
        if k.is_multiple_of(4096) && started.elapsed().as_secs() >= max_seconds {
            return Ok(());
        }
    }
}

/// What one reader process counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReaderTally {
    /// Values read and verified while the writer ran.
    pub reads: u64,
    /// Attempts discarded because the writer overwrote the copy.
    pub retries: u64,
    /// Values not read because every one of 1000 attempts was overwritten.
    pub gave_up: u64,
    /// Values that failed their check (must be 0).
    pub torn: u64,
    /// Highest round seen in any value.
    pub max_round: u64,
    /// Values read and verified after the writer was killed.
    pub post_kill_reads: u64,
    /// Whether every value stayed the same after the kill.
    pub post_kill_stable: bool,
    /// Whether `read_file` called the writer dead after the kill.
    pub writer_seen_dead: bool,
    /// Microseconds spent reading while the writer ran.
    pub micros: u64,
    /// Event-ring records delivered and verified.
    pub ring_records: u64,
    /// Event-ring records the writer overwrote before they were read
    /// (counted exactly: delivered + missed = records appended since the
    /// reader started following).
    pub ring_missed: u64,
}

impl ReaderTally {
    /// The one-line form a reader prints and the parent parses.
    #[must_use]
    pub fn to_line(&self) -> String {
        format!(
            "result reads={} retries={} gave_up={} torn={} max_round={} post_kill_reads={} \
             post_kill_stable={} writer_seen_dead={} micros={} ring_records={} ring_missed={}",
            self.reads,
            self.retries,
            self.gave_up,
            self.torn,
            self.max_round,
            self.post_kill_reads,
            self.post_kill_stable,
            self.writer_seen_dead,
            self.micros,
            self.ring_records,
            self.ring_missed
        )
    }

    /// Parses [`ReaderTally::to_line`].
    #[must_use]
    pub fn from_line(line: &str) -> Option<Self> {
        let mut tally = Self::default();
        let rest = line.strip_prefix("result ")?;
        for pair in rest.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            let number = || value.parse::<u64>().ok();
            match key {
                "reads" => tally.reads = number()?,
                "retries" => tally.retries = number()?,
                "gave_up" => tally.gave_up = number()?,
                "torn" => tally.torn = number()?,
                "max_round" => tally.max_round = number()?,
                "post_kill_reads" => tally.post_kill_reads = number()?,
                "post_kill_stable" => tally.post_kill_stable = value.parse().ok()?,
                "writer_seen_dead" => tally.writer_seen_dead = value.parse().ok()?,
                "micros" => tally.micros = number()?,
                "ring_records" => tally.ring_records = number()?,
                "ring_missed" => tally.ring_missed = number()?,
                _ => return None,
            }
        }
        Some(tally)
    }
}

/// The fields a reader checks, found by name.
struct ReaderFields {
    round: FieldInfo,
    texts: Vec<(FieldInfo, usize)>,
    averages: Vec<FieldInfo>,
    histogram: FieldInfo,
    ring: FieldInfo,
}

/// A reader following the ring: its cursor, the sequence number it
/// started at, and the totals.
struct RingFollower {
    cursor: RingCursor,
    first: Option<u64>,
    delivered: u64,
    missed: u64,
    last: u64,
}

/// The histogram's quiescent checks (after the kill): the count equals the
/// bucket total and the writer's round or the one before; sum, minimum and
/// maximum are those of rounds 1 to count.
fn check_quiescent_histogram(value: &Value<'_>, round: u64) -> Result<(), Torn> {
    let Value::Histogram(view) = value else {
        return Err(Torn {
            reason: format!("histogram read as {value:?}"),
        });
    };
    let total = view.total();
    if view.count != total || !(round.saturating_sub(1)..=round).contains(&view.count) {
        return Err(Torn {
            reason: format!(
                "after the kill the histogram holds {} records in its count and {total} in its \
                 buckets; the writer reached round {round}",
                view.count
            ),
        });
    }
    let expected = histogram_summary_for(view.count);
    let (min, max) = if view.count == 0 {
        (u64::MAX, 0)
    } else {
        (expected.2, expected.3)
    };
    if (view.sum, view.min, view.max) != (expected.1, min, max) {
        return Err(Torn {
            reason: format!(
                "after the kill the histogram's sum/min/max {}/{}/{} are not those of rounds 1 to \
                 {}: {}/{min}/{max}",
                view.sum, view.min, view.max, view.count, expected.1
            ),
        });
    }
    Ok(())
}

/// One pass over every field: the round each value belongs to (the
/// counter's value for the counter), in field order, or the first failure.
enum Pass {
    Rounds(Vec<u64>),
    Torn(Torn),
}

/// Reads a value with one attempt per [`RegionView::read`] call, counting
/// discarded attempts, and checks it with `check` (which returns the round
/// the value belongs to). `Ok(None)`: every attempt was overwritten.
fn read_checked<S: mmstats_nostd::WordSource + ?Sized>(
    view: &RegionView<'_, S>,
    field: &FieldInfo,
    scratch: &mut [u64],
    tally: &mut ReaderTally,
    mut check: impl FnMut(Value<'_>) -> Result<u64, Torn>,
) -> Result<Option<u64>, Torn> {
    for _ in 0..DEFAULT_MAX_TRIES {
        match view.read(field, scratch, 1) {
            Ok(value) => {
                return check(value).map(Some).map_err(|torn| Torn {
                    reason: format!("{}: {torn}", field.name),
                });
            }
            Err(ReadError::WriterTooFast { .. }) => tally.retries += 1,
            Err(other) => {
                return Err(Torn {
                    reason: format!("{}: {other}", field.name),
                });
            }
        }
    }
    tally.gave_up += 1;
    Ok(None)
}

fn one_pass<S: mmstats_nostd::WordSource + ?Sized>(
    view: &RegionView<'_, S>,
    fields: &ReaderFields,
    scratch: &mut [u64],
    expected: &mut Vec<u8>,
    ring: &mut RingFollower,
    tally: &mut ReaderTally,
) -> Pass {
    let mut rounds = Vec::with_capacity(3 + fields.texts.len() + fields.averages.len());
    let mut push = |result: Result<Option<u64>, Torn>| match result {
        // 0 stands for "not read this time" (and for the initial value).
        Ok(round) => {
            rounds.push(round.unwrap_or(0));
            None
        }
        Err(torn) => Some(torn),
    };
    let round = read_checked(view, &fields.round, scratch, tally, |value| match value {
        Value::Counter(k) => Ok(k),
        other => Err(Torn {
            reason: format!("read as {other:?}"),
        }),
    });
    if let Some(torn) = push(round) {
        return Pass::Torn(torn);
    }
    for (field, capacity) in &fields.texts {
        let result = read_checked(view, field, scratch, tally, |value| match value {
            Value::Text("") => Ok(0),
            Value::Text(text) => check_text(text, *capacity, expected),
            other => Err(Torn {
                reason: format!("read as {other:?}"),
            }),
        });
        if let Some(torn) = push(result) {
            return Pass::Torn(torn);
        }
    }
    for field in &fields.averages {
        let result = read_checked(view, field, scratch, tally, |value| match value {
            Value::Average { sum: 0.0, count: 0 } => Ok(0),
            Value::Average { sum, count } => check_average(sum, count),
            other => Err(Torn {
                reason: format!("read as {other:?}"),
            }),
        });
        if let Some(torn) = push(result) {
            return Pass::Torn(torn);
        }
    }
    // The histogram: its words are independent, so while the writer runs
    // only "count never goes back" (checked with the other rounds) holds.
    let histogram = read_checked(
        view,
        &fields.histogram,
        scratch,
        tally,
        |value| match value {
            Value::Histogram(snapshot) => Ok(snapshot.count.max(snapshot.total())),
            other => Err(Torn {
                reason: format!("read as {other:?}"),
            }),
        },
    );
    if let Some(torn) = push(histogram) {
        return Pass::Torn(torn);
    }
    // The ring: every record delivered is the pattern of its sequence
    // number, sequence numbers go up, and misses are counted.
    let mut record_words = [0u64; 8];
    let mut failure = None;
    let (delivered_before, missed_before) = (ring.delivered, ring.missed);
    // The sequence number the next event must start at (unknown until the
    // cursor placed itself at the oldest record on its first poll).
    let mut expect = ring.first.map(|_| ring.last + 1);
    let polled = view.poll_ring(
        &fields.ring,
        &mut ring.cursor,
        &mut record_words,
        4096,
        |event| match event {
            RingEvent::Record(record) => {
                if expect.is_some_and(|seq| seq != record.seq) {
                    failure.get_or_insert(Torn {
                        reason: format!("ring record {} where {expect:?} was due", record.seq),
                    });
                }
                expect = Some(record.seq + 1);
                if let Err(torn) = check_ring_record(record.seq, record.event, &record.payload) {
                    failure.get_or_insert(torn);
                }
            }
            RingEvent::Missed(n) => expect = expect.map(|seq| seq + n),
        },
    );
    let poll = match polled {
        Ok(poll) => poll,
        Err(error) => {
            return Pass::Torn(Torn {
                reason: format!("{}: {error}", fields.ring.name),
            });
        }
    };
    if let Some(torn) = failure {
        return Pass::Torn(torn);
    }
    ring.delivered += poll.delivered;
    ring.missed += poll.missed;
    let next = ring.cursor.next();
    if ring.first.is_none() && next > 0 {
        ring.first = Some(next - poll.delivered - poll.missed);
    }
    ring.last = next.saturating_sub(1);
    tally.ring_records += ring.delivered - delivered_before;
    tally.ring_missed += ring.missed - missed_before;
    rounds.push(ring.last);
    Pass::Rounds(rounds)
}

/// Runs a reader on the stats file at `path` until its standard input
/// says `killed` (the parent killed the writer) or closes; then checks
/// the values after the kill, prints [`ReaderTally::to_line`], and returns
/// the tally.
pub fn run_reader(path: &Path) -> Result<ReaderTally, Box<dyn std::error::Error>> {
    let file = File::open(path)?;
    let len = usize::try_from(file.metadata()?.len())?;
    let map = ReadMap::shared(&file, len)?;
    let words = map.words();
    let view = RegionView::open(&words).map_err(|e| format!("{}: {e}", path.display()))?;
    let count = view.field_count()?;
    let mut found: Vec<FieldInfo> = Vec::new();
    for index in 0..count {
        if let Some(field) = view.entry(index)? {
            found.push(field);
        }
    }
    let take = |name: &str| {
        found
            .iter()
            .find(|f| f.name.as_str() == name)
            .cloned()
            .ok_or_else(|| format!("{}: no field {name}", path.display()))
    };
    let fields = ReaderFields {
        round: take(ROUND_FIELD)?,
        texts: TEXT_FIELDS
            .iter()
            .map(|&(name, capacity, _)| take(name).map(|f| (f, capacity)))
            .collect::<Result<_, _>>()?,
        averages: AVERAGE_FIELDS
            .iter()
            .map(|&(name, _)| take(name))
            .collect::<Result<_, _>>()?,
        histogram: take(HISTOGRAM_FIELD)?,
        ring: take(RING_FIELD)?,
    };
    let mut ring = RingFollower {
        cursor: RingCursor::oldest(),
        first: None,
        delivered: 0,
        missed: 0,
        last: 0,
    };

    let killed = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&killed);
    std::thread::spawn(move || {
        // Any line, or the end of input, means "the writer is dead, or
        // the parent is": stop the main phase.
        let mut line = String::new();
        let _ = io::stdin().lock().read_line(&mut line);
        // Release: pairs with the Acquire load in the reading loop.
        flag.store(true, Ordering::Release);
    });

    let mut tally = ReaderTally::default();
    let mut scratch = vec![0u64; MAX_COPY_WORDS.max(fields.histogram.scratch_words())];
    let mut expected = Vec::with_capacity(4096);
    let mut last = vec![0u64; 3 + fields.texts.len() + fields.averages.len()];
    let started = Instant::now();
    while !killed.load(Ordering::Acquire) {
        match one_pass(
            &view,
            &fields,
            &mut scratch,
            &mut expected,
            &mut ring,
            &mut tally,
        ) {
            Pass::Rounds(rounds) => {
                for (index, (&now, before)) in rounds.iter().zip(last.iter_mut()).enumerate() {
                    if now == 0 && *before > 0 {
                        // Gave up on this value this time.
                        continue;
                    }
                    if now < *before {
                        tally.torn += 1;
                        eprintln!("reader: field {index} went back from round {before} to {now}");
                    }
                    *before = (*before).max(now);
                    tally.max_round = tally.max_round.max(now);
                }
                tally.reads += rounds.len() as u64;
            }
            Pass::Torn(torn) => {
                tally.torn += 1;
                eprintln!("reader: TORN: {torn}");
            }
        }
        if !view.still_valid() {
            tally.torn += 1;
            eprintln!("reader: region no longer valid");
        }
    }
    tally.micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);

    // The writer is dead: every value must read, check, and stay put.
    let mut stable = true;
    let mut settled: Option<Vec<u64>> = None;
    let post_started = Instant::now();
    let mut passes = 0;
    while passes < 200 || post_started.elapsed() < Duration::from_millis(300) {
        passes += 1;
        match one_pass(
            &view,
            &fields,
            &mut scratch,
            &mut expected,
            &mut ring,
            &mut tally,
        ) {
            Pass::Rounds(rounds) => {
                tally.post_kill_reads += rounds.len() as u64;
                if rounds.iter().zip(&last).any(|(now, before)| now < before) {
                    stable = false;
                    eprintln!("reader: after the kill a value went back: {rounds:?} < {last:?}");
                }
                match &settled {
                    None => settled = Some(rounds),
                    Some(first) if *first != rounds => {
                        stable = false;
                        eprintln!("reader: after the kill values changed: {first:?} -> {rounds:?}");
                    }
                    Some(_) => {}
                }
            }
            Pass::Torn(torn) => {
                tally.torn += 1;
                stable = false;
                eprintln!("reader: TORN after the kill: {torn}");
            }
        }
        if passes > 100_000 {
            break;
        }
    }
    // Quiescent checks: the histogram is whole, and the ring was followed
    // to its head with every record accounted for.
    let round = settled.as_ref().map_or(0, |rounds| rounds[0]);
    match view.read(&fields.histogram, &mut scratch, 1) {
        Ok(value) => {
            if let Err(torn) = check_quiescent_histogram(&value, round) {
                tally.torn += 1;
                stable = false;
                eprintln!("reader: {torn}");
            }
        }
        Err(error) => {
            tally.torn += 1;
            stable = false;
            eprintln!("reader: histogram after the kill: {error}");
        }
    }
    match view.read(&fields.ring, &mut scratch, 1) {
        Ok(Value::EventRing { appended, .. }) => {
            let followed = ring.first.map_or(0, |first| ring.last + 1 - first);
            let wanted = ring.first.map_or(0, |first| appended + 1 - first);
            if ring.last != appended
                || ring.delivered + ring.missed != followed
                || followed != wanted
                || !(round.saturating_sub(1)..=round).contains(&appended)
            {
                tally.torn += 1;
                stable = false;
                eprintln!(
                    "reader: ring after the kill: head {appended}, followed to {}, {} delivered + \
                     {} missed, writer's round {round}",
                    ring.last, ring.delivered, ring.missed
                );
            }
        }
        other => {
            tally.torn += 1;
            stable = false;
            eprintln!("reader: ring after the kill: {other:?}");
        }
    }
    tally.post_kill_stable = stable && settled.is_some();

    // The public file reader agrees: same values, writer dead.
    match read_file(path) {
        Ok(stats) => {
            tally.writer_seen_dead = stats.liveness == Liveness::Dead;
            for (field, capacity) in &fields.texts {
                let value = stats.fields.iter().find(|f| f.name == field.name.as_str());
                let Some(FieldValue::Text(text)) = value.map(|f| &f.value) else {
                    tally.torn += 1;
                    eprintln!("reader: read_file lost {}", field.name);
                    continue;
                };
                if !text.is_empty()
                    && let Err(torn) = check_text(text, *capacity, &mut expected)
                {
                    tally.torn += 1;
                    eprintln!("reader: read_file: TORN: {torn}");
                }
            }
        }
        Err(error) => {
            tally.torn += 1;
            eprintln!("reader: read_file after the kill: {error}");
        }
    }
    let mut out = io::stdout().lock();
    writeln!(out, "{}", tally.to_line())?;
    out.flush()?;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_check_and_name_their_round() {
        let mut bytes = Vec::new();
        let mut scratch = Vec::new();
        for capacity in [200, 4096] {
            for k in [1, 2, 3, 1 << 40, u64::MAX] {
                text_for(k, capacity, &mut bytes);
                let text = std::str::from_utf8(&bytes).unwrap();
                assert!(text.len() <= capacity && text.len() > capacity - 16);
                assert!(text.bytes().all(|b| b.is_ascii_graphic()));
                assert_eq!(check_text(text, capacity, &mut scratch), Ok(k));
            }
        }
        assert_eq!(check_average(7.5, 5), Ok(5));
    }

    #[test]
    fn a_value_mixing_two_writes_is_caught() {
        let (mut one, mut two, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        for capacity in [200, 4096] {
            for (a, b) in [(1, 2), (1, 3), (100, 102), (7, 7 + (1 << 32))] {
                text_for(a, capacity, &mut one);
                text_for(b, capacity, &mut two);
                let (one, two) = (
                    std::str::from_utf8(&one).unwrap(),
                    std::str::from_utf8(&two).unwrap(),
                );
                let n = one.len().min(two.len());
                // Every 8-byte word boundary: the head of one write, the
                // tail of the other (what a torn latch copy would hold).
                for split in (8..n).step_by(8) {
                    if one[..split] == two[..split] {
                        // The heads agree (the high hex digits of the
                        // round): this "mix" is simply the other write.
                        continue;
                    }
                    let mixed = format!("{}{}", &one[..split], &two[split..n]);
                    assert!(
                        check_text(&mixed, capacity, &mut scratch).is_err(),
                        "rounds {a}/{b} split at {split} passed"
                    );
                }
                // The other's length word with this one's bytes.
                if one.len() != two.len() {
                    let cut = &one[..one.len().min(two.len())];
                    if cut.len() != one.len() {
                        assert!(check_text(cut, capacity, &mut scratch).is_err());
                    }
                }
            }
        }
        let (sum, _) = average_for(10);
        assert!(check_average(sum, 11).is_err());
        // A ring record whose payload belongs to another sequence number,
        // or mixes two, is caught.
        let good = ring_payload_for(41);
        assert!(check_ring_record(41, RING_EVENT, &Payload::Values(&good)).is_ok());
        assert!(check_ring_record(42, RING_EVENT, &Payload::Values(&good)).is_err());
        let next = ring_payload_for(42);
        for split in 1..4 {
            let mut mixed = good;
            mixed[split..].copy_from_slice(&next[split..]);
            assert!(check_ring_record(41, RING_EVENT, &Payload::Values(&mixed)).is_err());
        }
        assert!(check_ring_record(41, RING_EVENT + 1, &Payload::Values(&good)).is_err());
        assert!(check_text("not a round", 200, &mut scratch).is_err());
    }

    #[test]
    fn a_histogram_after_the_kill_must_hold_exactly_its_rounds() {
        let shape = mmstats_nostd::HistogramShape::new(4, 1 << 20).unwrap();
        let mut buckets = vec![0u64; shape.buckets()];
        for k in 1..=10 {
            buckets[shape.index_of(histogram_value_for(k))] += 1;
        }
        let (count, sum, min, max) = histogram_summary_for(10);
        fn view(
            shape: mmstats_nostd::HistogramShape,
            (count, sum, min, max): (u64, u64, u64, u64),
            buckets: &[u64],
        ) -> Value<'_> {
            Value::Histogram(mmstats_nostd::HistogramView {
                shape,
                count,
                sum,
                min,
                max,
                buckets,
            })
        }
        let check = |count, sum, buckets: &[u64], round| {
            check_quiescent_histogram(&view(shape, (count, sum, min, max), buckets), round)
        };
        assert!(check(count, sum, &buckets, 10).is_ok());
        assert!(check(count, sum, &buckets, 11).is_ok());
        assert!(check(count, sum, &buckets, 12).is_err());
        assert!(check(count + 1, sum, &buckets, 11).is_err());
        assert!(check(count, sum + 1, &buckets, 10).is_err());
        buckets[0] += 1;
        assert!(check(count, sum, &buckets, 10).is_err());
    }

    #[test]
    fn tally_lines_round_trip() {
        let tally = ReaderTally {
            reads: 10,
            retries: 2,
            gave_up: 0,
            torn: 0,
            max_round: 99,
            post_kill_reads: 7,
            post_kill_stable: true,
            writer_seen_dead: true,
            micros: 123,
            ring_records: 5000,
            ring_missed: 17,
        };
        assert_eq!(ReaderTally::from_line(&tally.to_line()), Some(tally));
        assert_eq!(ReaderTally::from_line("garbage"), None);
    }
}
