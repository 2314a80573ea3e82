//! `mmdump watch`: reads the selected files again and again and turns the
//! reads into rates.
//!
//! [`Watcher::tick`] reads every file once and returns a [`Frame`]: per
//! file (or per aggregated name) rows with the value, the change per
//! second over the last interval, the average rate since the writer
//! started, moving averages over the last 10 and 100 intervals, and the
//! recent history. The frame is drawn by the terminal view
//! ([`super::screen`]), as vmstat-like lines ([`LineWriter`]) or as JSON
//! lines ([`frame_json`]).
//!
//! Files are looked for again at every tick: new files are picked up,
//! vanished ones dropped. A file whose path now names another file (its
//! inode changed), or whose region was re-initialised (new generation),
//! counts as a new writer: its rates start over. Summed counters keep the
//! last values of files that went away ([`CounterLedger`]), and an
//! aggregated rate is the sum of the per-file rates, so neither a writer
//! exiting nor one appearing makes a negative rate or a spike.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use mmstats::os;
use mmstats::{
    Field, FieldValue, FileStats, Format, Labels, Liveness, ReadFailure, RegionReader, read_file,
};

use super::aggregate::{AggregateMode, CounterLedger, aggregate, created_ns, file_identity};
use super::rates::{CounterTrack, LONG_WINDOW, RateSeries, SHORT_WINDOW, format_rate};
use super::select::Selection;
use super::{
    FileError, JSON_SCHEMA, discover, display_name, format_unix_ns, json_labels, json_value_of,
    keep_first_of_duplicates, printable,
};

/// How often a writer's liveness is judged (a lock probe and a look at the
/// process table) while watching.
const LIVENESS_EVERY: Duration = Duration::from_secs(1);

/// What to watch.
#[derive(Clone, Debug)]
pub struct WatchConfig {
    /// Files, directories or wildcard patterns (default: the stats
    /// directory).
    pub inputs: Vec<PathBuf>,
    /// Filters.
    pub selection: Selection,
    /// How files are combined.
    pub mode: AggregateMode,
}

/// How a file is read.
#[derive(Debug)]
enum Reader {
    /// A format-2 file, mapped once.
    Region(RegionReader),
    /// A legacy file, read whole each time.
    Legacy,
}

#[derive(Debug)]
struct Source {
    reader: Reader,
    /// Device and inode of the file read.
    file_id: Option<(u64, u64)>,
    /// The last good read.
    stats: Option<FileStats>,
    /// Whether `stats` is from this tick.
    fresh: bool,
    /// When the last good read was, for this file's own intervals.
    read_at: Option<Instant>,
    /// Seconds between the last two good reads.
    seconds: f64,
    liveness: Liveness,
    liveness_at: Option<Instant>,
    /// Why the last read failed, when an earlier one worked.
    last_failure: Option<String>,
}

/// One series of a file's field, or of an aggregated field.
#[derive(Debug, Default)]
struct Track {
    /// Counters (and averages, by their sample count).
    counter: Option<CounterTrack>,
    /// Rates of an aggregated counter.
    series: RateSeries,
    /// Recent values, for gauges' sparklines.
    values: VecDeque<Option<f64>>,
    first: Option<FieldValue>,
    changed: bool,
}

impl Track {
    fn note_value(&mut self, value: &FieldValue) {
        match &self.first {
            None => self.first = Some(value.clone()),
            Some(first) if first != value => self.changed = true,
            Some(_) => {}
        }
        if self.values.len() == LONG_WINDOW {
            self.values.pop_front();
        }
        self.values.push_back(value.as_f64());
    }
}

/// The rows of one file, or of the aggregate.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The file (`None`: the aggregate of every file).
    pub file: Option<GroupFile>,
    /// Its rows.
    pub rows: Vec<Row>,
}

/// The file a group shows.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupFile {
    /// Its path.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// Writer pid.
    pub pid: Option<u64>,
    /// Writer liveness (judged about once a second).
    pub liveness: Liveness,
    /// Why the last read failed, if it did (the rows are then the last
    /// good values).
    pub error: Option<String>,
}

/// A field in a frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Field name.
    pub name: String,
    /// Field labels (a row is one name and label set).
    pub labels: Labels,
    /// Unit name ("" for none).
    pub unit: String,
    /// The value now.
    pub value: FieldValue,
    /// Whether rate columns apply: a counter, or an average (by its sample
    /// count).
    pub rated: bool,
    /// Change per second over the last interval.
    pub rate: Option<f64>,
    /// Average change per second since the writer started.
    pub average: Option<f64>,
    /// Change per second over the last 10 intervals.
    pub short: Option<f64>,
    /// Change per second over the last 100 intervals.
    pub long: Option<f64>,
    /// Recent rates (rated fields) or values (others), oldest first.
    pub history: Vec<Option<f64>>,
    /// Whether the value ever changed while watched.
    pub changed: bool,
    /// Files combined into this row (1 per file).
    pub files: usize,
}

/// Everything one read of the watched files gave.
#[derive(Debug)]
pub struct Frame {
    /// Wall-clock time of the read, ns since the Unix epoch.
    pub time_ns: u64,
    /// Seconds since the previous read (0 for the first).
    pub interval: f64,
    /// Reads so far, this one included.
    pub tick: u64,
    /// How files were combined.
    pub mode: AggregateMode,
    /// Files read (or held with their last values).
    pub file_count: usize,
    /// Files that went away while watching whose counters are still in
    /// the sums.
    pub retired_files: usize,
    /// Per file, or one aggregate group.
    pub groups: Vec<Group>,
    /// Files that could not be read at all.
    pub errors: Vec<(PathBuf, FileError)>,
}

/// Reads the watched files again and again.
#[derive(Debug)]
pub struct Watcher {
    config: WatchConfig,
    sources: BTreeMap<PathBuf, Source>,
    ledger: CounterLedger,
    retired_files: usize,
    /// (file identity, field name, labels) -> track.
    per_file: HashMap<(String, String, Labels), Track>,
    /// (field name, labels, kind) -> track of the aggregate.
    aggregated: HashMap<(String, Labels, &'static str), Track>,
    last_tick: Option<Instant>,
    /// Seconds between the last two ticks.
    interval: f64,
    ticks: u64,
}

impl Watcher {
    /// A watcher that has read nothing yet.
    #[must_use]
    pub fn new(config: WatchConfig) -> Self {
        Self {
            config,
            sources: BTreeMap::new(),
            ledger: CounterLedger::new(),
            retired_files: 0,
            per_file: HashMap::new(),
            aggregated: HashMap::new(),
            last_tick: None,
            interval: 0.0,
            ticks: 0,
        }
    }

    /// How files are combined.
    #[must_use]
    pub const fn mode(&self) -> AggregateMode {
        self.config.mode
    }

    /// Changes how files are combined; the aggregate's history starts over.
    pub fn set_mode(&mut self, mode: AggregateMode) {
        if mode != self.config.mode {
            self.config.mode = mode;
            self.aggregated.clear();
        }
    }

    /// Reads every watched file once.
    pub fn tick(&mut self) -> Frame {
        let now = Instant::now();
        let interval = self
            .last_tick
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        self.last_tick = Some(now);
        self.interval = interval;
        self.ticks += 1;
        let time_ns = os::now_ns();
        let errors = self.refresh_sources(now);

        // The ledger: counters of files that went away stay in the sums.
        for source in self.sources.values() {
            match (&source.stats, source.fresh) {
                (Some(stats), true) => self.ledger.observe(stats),
                (Some(stats), false) => self.ledger.keep(&file_identity(stats)),
                (None, _) => {}
            }
        }
        self.retired_files += self.ledger.finish();

        let groups = self.per_file_groups(time_ns);
        let groups = if self.config.mode == AggregateMode::PerFile {
            groups
        } else {
            vec![self.aggregate_group(&groups)]
        };
        Frame {
            time_ns,
            interval,
            tick: self.ticks,
            mode: self.config.mode,
            file_count: self.sources.values().filter(|s| s.stats.is_some()).count(),
            retired_files: self.retired_files,
            groups,
            errors,
        }
    }

    /// Finds files, drops vanished and replaced ones, opens new ones and
    /// reads them all; returns the files that could not be opened.
    fn refresh_sources(&mut self, now: Instant) -> Vec<(PathBuf, FileError)> {
        let (paths, mut errors) = discover(&self.config.inputs);
        let wanted: Vec<PathBuf> = paths
            .into_iter()
            .filter(|p| self.config.selection.path_selected(p))
            .collect();
        let present: HashSet<&PathBuf> = wanted.iter().collect();
        self.sources.retain(|path, _| present.contains(path));
        for path in &wanted {
            let on_disk = fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()));
            let replaced = self
                .sources
                .get(path)
                .is_some_and(|s| on_disk.is_some() && s.file_id.is_some() && s.file_id != on_disk);
            if replaced {
                self.sources.remove(path);
            }
            if !self.sources.contains_key(path) {
                match open_source(path) {
                    Ok(source) => {
                        self.sources.insert(path.clone(), source);
                    }
                    Err(reason) => {
                        errors.push((path.clone(), FileError::Read(reason)));
                        continue;
                    }
                }
            }
            let source = self.sources.get_mut(path).expect("inserted above");
            source.fresh = false;
            let read = match &mut source.reader {
                Reader::Region(reader) => reader.read_values().map(|mut stats| {
                    let due = source
                        .liveness_at
                        .is_none_or(|at| now.duration_since(at) >= LIVENESS_EVERY);
                    if due {
                        source.liveness = reader.liveness();
                        source.liveness_at = Some(now);
                    }
                    stats.liveness = source.liveness;
                    stats
                }),
                Reader::Legacy => read_file(path).map(|mut stats| {
                    keep_first_of_duplicates(&mut stats);
                    stats
                }),
            };
            match read {
                Ok(mut stats) => {
                    let read_at = Instant::now();
                    source.seconds = source
                        .read_at
                        .map_or(0.0, |t| read_at.duration_since(t).as_secs_f64());
                    source.read_at = Some(read_at);
                    self.config.selection.filter_fields(&mut stats);
                    source.liveness = stats.liveness;
                    source.stats = Some(stats);
                    source.fresh = true;
                    source.last_failure = None;
                }
                Err(error) => {
                    if source.stats.is_none() {
                        errors.push((path.clone(), FileError::Read(error.reason)));
                    } else {
                        source.last_failure = Some(format!("last read failed: {}", error.reason));
                    }
                }
            }
        }
        // A pid selector needs the pid, known only after a read.
        let selection = &self.config.selection;
        self.sources.retain(|_, s| {
            s.stats
                .as_ref()
                .is_none_or(|stats| selection.pid_selected(stats.pid))
        });
        errors
    }

    /// Updates the per-file tracks and returns one group per file.
    fn per_file_groups(&mut self, time_ns: u64) -> Vec<Group> {
        let mut groups = Vec::new();
        let mut live_keys: HashSet<(String, String, Labels)> = HashSet::new();
        for (path, source) in &self.sources {
            let Some(stats) = &source.stats else { continue };
            let identity = file_identity(stats);
            let seconds = source.seconds;
            let age = created_ns(stats)
                .filter(|&c| c != 0 && time_ns > c)
                .map(|c| (time_ns - c) as f64 / 1e9);
            let mut rows = Vec::with_capacity(stats.fields.len());
            for field in &stats.fields {
                let key = (identity.clone(), field.name.clone(), field.labels.clone());
                let track = self.per_file.entry(key.clone()).or_default();
                live_keys.insert(key);
                if source.fresh {
                    track.note_value(&field.value);
                    if let Some(count) = rated_count(&field.value) {
                        track
                            .counter
                            .get_or_insert_with(CounterTrack::new)
                            .observe(count, seconds);
                    }
                }
                rows.push(row(field, track, age, 1));
            }
            groups.push(Group {
                file: Some(GroupFile {
                    path: path.clone(),
                    format: stats.format,
                    pid: stats.pid,
                    liveness: source.liveness,
                    error: source
                        .last_failure
                        .clone()
                        .or_else(|| stats.problems.first().map(ToString::to_string)),
                }),
                rows,
            });
        }
        self.per_file.retain(|key, _| live_keys.contains(key));
        groups
    }

    /// Combines the per-file groups into one.
    fn aggregate_group(&mut self, per_file: &[Group]) -> Group {
        let files: Vec<&FileStats> = self
            .sources
            .values()
            .filter_map(|s| s.stats.as_ref())
            .collect();
        let combined = aggregate(&files, self.config.mode, self.ledger.retired());
        let interval = self.interval;
        // Per name and label set: the sum of the files' rates and average
        // rates.
        let mut sums: HashMap<(&str, &Labels, &'static str), [Option<f64>; 2]> = HashMap::new();
        for row in per_file.iter().flat_map(|g| &g.rows) {
            let entry = sums
                .entry((row.name.as_str(), &row.labels, row.value.kind_name()))
                .or_default();
            for (slot, value) in entry.iter_mut().zip([row.rate, row.average]) {
                if let Some(value) = value {
                    *slot = Some(slot.unwrap_or(0.0) + value);
                }
            }
        }
        let mut rows = Vec::with_capacity(combined.fields.len());
        let mut live = HashSet::new();
        for field in &combined.fields {
            let kind = field.field.value.kind_name();
            let key = (field.field.name.clone(), field.field.labels.clone(), kind);
            live.insert(key.clone());
            let [mut rate, average] = sums
                .get(&(field.field.name.as_str(), &field.field.labels, kind))
                .copied()
                .unwrap_or_default();
            if field.files == 0 {
                // Only vanished files' last values: the sum stands still.
                rate = Some(0.0);
            }
            let track = self.aggregated.entry(key).or_default();
            track.note_value(&field.field.value);
            let rated = rated_count(&field.field.value).is_some();
            if rated && self.ticks > 1 {
                track.series.push(rate.map(|r| r * interval), interval);
            }
            rows.push(Row {
                name: field.field.name.clone(),
                labels: field.field.labels.clone(),
                unit: field.field.unit.clone(),
                value: field.field.value.clone(),
                rated,
                rate: rated.then(|| track.series.rate()).flatten(),
                average: rated.then_some(average).flatten(),
                short: rated.then(|| track.series.moving(SHORT_WINDOW)).flatten(),
                long: rated.then(|| track.series.moving(LONG_WINDOW)).flatten(),
                history: if rated {
                    track.series.history().collect()
                } else {
                    track.values.iter().copied().collect()
                },
                changed: track.changed,
                files: field.files,
            });
        }
        self.aggregated.retain(|key, _| live.contains(key));
        Group { file: None, rows }
    }
}

/// The count a rate is computed from: a counter's value, an average's
/// sample count.
fn rated_count(value: &FieldValue) -> Option<u64> {
    match value {
        FieldValue::Counter(v) => Some(*v),
        FieldValue::Average { count, .. } => Some(*count),
        _ => None,
    }
}

fn row(field: &Field, track: &Track, age: Option<f64>, files: usize) -> Row {
    let rated = rated_count(&field.value);
    let series = track.counter.as_ref().map(|c| &c.series);
    Row {
        name: field.name.clone(),
        labels: field.labels.clone(),
        unit: field.unit.clone(),
        value: field.value.clone(),
        rated: rated.is_some(),
        rate: series.and_then(RateSeries::rate),
        average: rated
            .zip(age)
            .filter(|(_, age)| *age > 0.0)
            .map(|(count, age)| count as f64 / age),
        short: series.and_then(|s| s.moving(SHORT_WINDOW)),
        long: series.and_then(|s| s.moving(LONG_WINDOW)),
        history: match series {
            Some(series) => series.history().collect(),
            None => track.values.iter().copied().collect(),
        },
        changed: track.changed,
        files,
    }
}

/// Opens `path` to be read again and again; `Err` says why it could not
/// be read at all.
fn open_source(path: &Path) -> Result<Source, ReadFailure> {
    let first = read_file(path).map_err(|e| e.reason)?;
    let reader = match first.format {
        Format::Mmstats2 => Reader::Region(RegionReader::open(path).map_err(|e| e.reason)?),
        Format::LegacyV1 => Reader::Legacy,
    };
    let file_id = match &reader {
        Reader::Region(reader) => reader.file_id().ok(),
        Reader::Legacy => fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino())),
    };
    Ok(Source {
        reader,
        file_id,
        stats: None,
        fresh: false,
        read_at: None,
        seconds: 0.0,
        liveness: first.liveness,
        liveness_at: Some(Instant::now()),
        last_failure: None,
    })
}

/// A statistic of a counter shown by the line output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    /// The value.
    Value,
    /// Change per second over the last interval.
    Rate,
    /// Average change per second since the writer started.
    Average,
    /// Change per second over the last 10 intervals.
    Short,
    /// Change per second over the last 100 intervals.
    Long,
}

impl std::str::FromStr for Stat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "value" => Ok(Self::Value),
            "rate" => Ok(Self::Rate),
            "avg" => Ok(Self::Average),
            "ma10" => Ok(Self::Short),
            "ma100" => Ok(Self::Long),
            other => Err(format!(
                "unknown statistic {other:?} (value, rate, avg, ma10, ma100)"
            )),
        }
    }
}

/// Settings of the vmstat-like line output.
#[derive(Clone, Debug)]
pub struct LineOptions {
    /// What each counter shows, in order (one column each).
    pub stats: Vec<Stat>,
    /// Repeat the header after this many lines (0: only when the columns
    /// change).
    pub header_every: usize,
    /// Start each line with the time (UTC).
    pub timestamps: bool,
}

/// Writes frames as vmstat-like lines: a header of column names, then one
/// line per read. Counters show their rate per second (the first line,
/// which has no interval yet, shows the average since each writer
/// started, as vmstat's first line shows averages since boot); gauges,
/// floats, booleans (0/1) and averages (the mean) show their value;
/// strings and timestamps are left out. Per-file columns are named
/// `name@PID-TID` (see `file_labels`). A read with nothing to show writes
/// nothing.
#[derive(Debug)]
pub struct LineWriter {
    options: LineOptions,
    columns: Vec<String>,
    widths: Vec<usize>,
    since_header: usize,
}

impl LineWriter {
    /// A writer that has written nothing yet.
    #[must_use]
    pub fn new(options: LineOptions) -> Self {
        Self {
            options,
            columns: Vec::new(),
            widths: Vec::new(),
            since_header: 0,
        }
    }

    /// Writes one frame (a header first when due).
    pub fn write(&mut self, out: &mut impl Write, frame: &Frame) -> io::Result<()> {
        let mut cells: Vec<(String, String)> = Vec::new();
        if self.options.timestamps {
            let mut time = format_unix_ns(frame.time_ns);
            // Seconds are enough: 2026-01-02T03:04:05Z.
            time.replace_range(19..time.len() - 1, "");
            cells.push(("time".into(), time));
        }
        let labels = file_labels(frame);
        for (group, suffix) in frame.groups.iter().zip(&labels) {
            for row in &group.rows {
                let name = format!("{}{suffix}", display_name(&row.name, &row.labels));
                if row.rated && matches!(row.value, FieldValue::Counter(_)) {
                    for stat in &self.options.stats {
                        let (header, value) = match stat {
                            Stat::Value => (name.clone(), cell_value(&row.value)),
                            Stat::Rate => (
                                format!("{name}/s"),
                                format_rate(if frame.tick == 1 {
                                    row.average
                                } else {
                                    row.rate
                                }),
                            ),
                            Stat::Average => (format!("{name}:avg/s"), format_rate(row.average)),
                            Stat::Short => (format!("{name}:ma10/s"), format_rate(row.short)),
                            Stat::Long => (format!("{name}:ma100/s"), format_rate(row.long)),
                        };
                        cells.push((header, value));
                    }
                } else if !matches!(row.value, FieldValue::Text(_) | FieldValue::Timestamp(_)) {
                    cells.push((name, cell_value(&row.value)));
                }
            }
        }
        if cells.len() == usize::from(self.options.timestamps) {
            // Nothing to show (no file yet, or nothing numeric selected).
            return Ok(());
        }
        let columns: Vec<String> = cells.iter().map(|(h, _)| h.clone()).collect();
        let due = self.options.header_every > 0 && self.since_header >= self.options.header_every;
        if columns != self.columns || due {
            self.widths = cells
                .iter()
                .map(|(h, v)| h.chars().count().max(v.chars().count()).max(10))
                .collect();
            let header: Vec<String> = columns
                .iter()
                .zip(&self.widths)
                .map(|(h, &w)| format!("{h:>w$}"))
                .collect();
            writeln!(out, "{}", header.join(" "))?;
            self.columns = columns;
            self.since_header = 0;
        }
        let line: Vec<String> = cells
            .iter()
            .zip(&self.widths)
            .map(|((_, v), &w)| format!("{v:>w$}"))
            .collect();
        writeln!(out, "{}", line.join(" "))?;
        self.since_header += 1;
        Ok(())
    }
}

/// The column suffix of each group: nothing for the aggregate, else
/// `@PID-TID` taken from a file named `{program}-{pid}-{tid}…`, or `@` and
/// the file name without `.mmstats` when that is not unique (one thread
/// with several files).
fn file_labels(frame: &Frame) -> Vec<String> {
    let stems: Vec<Option<String>> = frame
        .groups
        .iter()
        .map(|g| {
            g.file.as_ref().map(|f| {
                let name = f
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                name.strip_suffix(&format!(".{}", mmstats::EXTENSION))
                    .unwrap_or(&name)
                    .to_owned()
            })
        })
        .collect();
    let short = |stem: &str| -> Option<String> {
        let parts: Vec<&str> = stem.split('-').collect();
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        (1..parts.len().saturating_sub(1))
            .rev()
            .find(|&i| numeric(parts[i]) && numeric(parts[i + 1]))
            .map(|i| format!("{}-{}", parts[i], parts[i + 1]))
    };
    let shorts: Vec<Option<String>> = stems.iter().map(|s| s.as_deref().and_then(short)).collect();
    let unique = {
        let mut seen = HashSet::new();
        shorts.iter().flatten().all(|s| seen.insert(s.clone()))
    };
    stems
        .iter()
        .zip(&shorts)
        .map(|(stem, short)| match (stem, short) {
            (None, _) => String::new(),
            (Some(_), Some(short)) if unique => format!("@{}", printable(short)),
            (Some(stem), _) => format!("@{}", printable(stem)),
        })
        .collect()
}

/// A value in a line column.
fn cell_value(value: &FieldValue) -> String {
    match value {
        FieldValue::Bool(b) => u8::from(*b).to_string(),
        FieldValue::Float(f) => format_float(*f),
        FieldValue::Average { .. } => format_float(value.as_f64().unwrap_or(0.0)),
        other => other.to_string(),
    }
}

fn format_float(value: f64) -> String {
    if value.is_finite() && value.abs() < 1e12 {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{value:e}")
    }
}

fn json_rate(rate: Option<f64>) -> Json {
    match rate {
        Some(r) if r.is_finite() => json!(r),
        _ => Json::Null,
    }
}

/// A frame as one JSON document (`mmdump watch --json` writes one per
/// line): `{"schema": 1, "time_ns", "interval_s", "tick", "mode",
/// "file_count", "retired_files", "groups": [{"path", "pid", "writer",
/// "error", "fields": [{"name", "labels", "kind", "value", "unit", "rate",
/// "avg_rate", "ma10", "ma100", "changed", "files"}]}], "errors"}`.
/// An aggregate group has `"path": null`; rates are `null` when unknown.
#[must_use]
pub fn frame_json(frame: &Frame) -> Json {
    let groups: Vec<Json> = frame
        .groups
        .iter()
        .map(|group| {
            let fields: Vec<Json> = group
                .rows
                .iter()
                .map(|row| {
                    let mut field = json!({
                        "name": row.name,
                        "kind": row.value.kind_name(),
                        "value": json_value_of(&row.value),
                        "changed": row.changed,
                        "files": row.files,
                    });
                    let object = field.as_object_mut().expect("a JSON object");
                    if !row.labels.is_empty() {
                        object.insert("labels".into(), json_labels(&row.labels));
                    }
                    if !row.unit.is_empty() {
                        object.insert("unit".into(), json!(row.unit));
                    }
                    if row.rated {
                        object.insert("rate".into(), json_rate(row.rate));
                        object.insert("avg_rate".into(), json_rate(row.average));
                        object.insert("ma10".into(), json_rate(row.short));
                        object.insert("ma100".into(), json_rate(row.long));
                    }
                    field
                })
                .collect();
            match &group.file {
                Some(file) => json!({
                    "path": file.path.display().to_string(),
                    "format": file.format.name(),
                    "pid": file.pid,
                    "writer": file.liveness.name(),
                    "error": file.error,
                    "fields": fields,
                }),
                None => json!({"path": null, "fields": fields}),
            }
        })
        .collect();
    json!({
        "schema": JSON_SCHEMA,
        "time_ns": frame.time_ns,
        "interval_s": frame.interval,
        "tick": frame.tick,
        "mode": frame.mode.name(),
        "file_count": frame.file_count,
        "retired_files": frame.retired_files,
        "groups": groups,
        "errors": frame
            .errors
            .iter()
            .map(|(path, error)| json!({"path": path.display().to_string(), "error": error.to_string()}))
            .collect::<Vec<_>>(),
    })
}
