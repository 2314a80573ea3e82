//! A reader process: every value read, verified against its pattern,
//! while the writer runs and after its `SIGKILL`.

use std::fs::File;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mmstats_nostd::{
    DEFAULT_MAX_TRIES, EntryError, FieldInfo, MAX_COPY_WORDS, OpenError, ReadError, RegionView,
    RingCursor, RingEvent, Value,
};

use mmstats::ReadMap;
use mmstats::{FieldValue, Liveness, read_file};

use crate::{
    AVERAGE_FIELDS, HISTOGRAM_FIELD, RING_FIELD, ROUND_FIELD, TEXT_FIELDS, Torn, check_average,
    check_ring_record, check_text, histogram_summary_for,
};

/// Why a reader process could not read the writer's file.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReaderRunError {
    /// The stats file could not be opened, measured or mapped.
    Map(io::Error),
    /// The file is larger than this machine's address space.
    TooLarge(u64),
    /// The region could not be opened, or its field count read.
    Open(OpenError),
    /// An entry of the field table could not be read.
    Entry(EntryError),
    /// The region lacks one of the torture test's fields.
    MissingField(&'static str),
    /// The tally could not be written to stdout.
    Stdout(io::Error),
}

impl std::fmt::Display for ReaderRunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Map(error) => write!(f, "cannot open or map the stats file: {error}"),
            Self::TooLarge(len) => write!(f, "the stats file is too large to map: {len} bytes"),
            Self::Open(error) => write!(f, "cannot open the region: {error}"),
            Self::Entry(error) => write!(f, "cannot read a field entry: {error}"),
            Self::MissingField(name) => write!(f, "the region has no field {name}"),
            Self::Stdout(error) => write!(f, "cannot write to stdout: {error}"),
        }
    }
}

impl std::error::Error for ReaderRunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Map(error) | Self::Stdout(error) => Some(error),
            Self::Open(error) => Some(error),
            Self::Entry(error) => Some(error),
            Self::TooLarge(_) | Self::MissingField(_) => None,
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
pub fn run_reader(path: &Path) -> Result<ReaderTally, ReaderRunError> {
    let file = File::open(path).map_err(ReaderRunError::Map)?;
    let file_len = file.metadata().map_err(ReaderRunError::Map)?.len();
    let len = usize::try_from(file_len).map_err(|_| ReaderRunError::TooLarge(file_len))?;
    let map = ReadMap::shared(&file, len).map_err(ReaderRunError::Map)?;
    let words = map.words();
    let view = RegionView::open(&words).map_err(ReaderRunError::Open)?;
    let count = view.field_count().map_err(ReaderRunError::Open)?;
    let mut found: Vec<FieldInfo> = Vec::new();
    for index in 0..count {
        if let Some(field) = view.entry(index).map_err(ReaderRunError::Entry)? {
            found.push(field);
        }
    }
    let take = |name: &'static str| {
        found
            .iter()
            .find(|f| f.name.as_str() == name)
            .cloned()
            .ok_or(ReaderRunError::MissingField(name))
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
    writeln!(out, "{}", tally.to_line()).map_err(ReaderRunError::Stdout)?;
    out.flush().map_err(ReaderRunError::Stdout)?;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram_value_for;

    #[test]
    fn a_reader_names_why_it_cannot_read() {
        let dir = std::env::temp_dir().join(format!("mmstats-torture-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.mmstats");
        assert!(matches!(run_reader(&missing), Err(ReaderRunError::Map(_))));
        let junk = dir.join("junk.mmstats");
        std::fs::write(&junk, [0x5Au8; 4096]).unwrap();
        assert!(matches!(run_reader(&junk), Err(ReaderRunError::Open(_))));
        std::fs::remove_dir_all(&dir).unwrap();
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
