//! [`RegionReader`]: a format-2 file kept open for repeated reads, its
//! field cache, and the [`Snapshot`] a poll fills.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use mmstats_nostd::layout::EntryState;
use mmstats_nostd::{
    DEFAULT_MAX_TRIES, EntryError, FieldInfo, Kind, MAX_COPY_WORDS, MAX_READER_REGION_LEN,
    OpenError, ReadError, RegionView, Value,
};

use crate::liveness::{self, Liveness};
use crate::map::{LiveWords, ReadMap};
use crate::os;
use crate::value::{Field, FieldProblem, FieldValue, Format};

use super::error::{ReadFailure, ReadFileError, failure, io_failure};
use super::file_stats::{FileStats, RegionInfo};
use super::open::open_for_reading;
use super::repeats::RepeatFilter;

/// A format-2 file kept open for repeated reads: the field table is parsed
/// once and extended as fields are added; each [`RegionReader::read`] loads
/// only the values (and new entries).
#[derive(Debug)]
pub struct RegionReader {
    path: PathBuf,
    file: File,
    map: ReadMap,
    cache: FieldCache,
}

/// What [`FieldCache::visit_values`] hands each live field's value to.
trait ValueVisitor {
    /// A value read in full.
    fn value(&mut self, slot: usize, id: u64, value: Value<'_>);

    /// Room for `n` more values.
    fn reserve(&mut self, _n: usize) {}

    /// A single-word value from the fast path (the word in this machine's
    /// byte order, `kind` a single-word kind).
    #[inline]
    fn word(&mut self, slot: usize, id: u64, kind: Kind, word: u64) {
        if let Some(value) = Value::from_word(kind, word) {
            self.value(slot, id, value);
        }
    }
}

/// Collects `(slot, value)` pairs for a full read.
struct CollectFields(Vec<(usize, FieldValue)>);

impl ValueVisitor for CollectFields {
    fn value(&mut self, slot: usize, _: u64, value: Value<'_>) {
        self.0.push((slot, FieldValue::from_value(value)));
    }
}

/// Fills a [`Snapshot`].
struct FillSnapshot<'s> {
    values: &'s mut Vec<SnapshotValue>,
    others: &'s mut Vec<FieldValue>,
}

impl ValueVisitor for FillSnapshot<'_> {
    fn reserve(&mut self, n: usize) {
        self.values.reserve(n);
    }

    fn value(&mut self, slot: usize, id: u64, value: Value<'_>) {
        let value = match value {
            Value::Counter(v) => Sample::Counter(v),
            Value::Gauge(v) => Sample::Gauge(v),
            Value::Float(v) => Sample::Float(v),
            Value::Bool(v) => Sample::Bool(v),
            Value::Timestamp(v) => Sample::Timestamp(v),
            other => {
                self.others.push(FieldValue::from_value(other));
                Sample::Other(self.others.len() - 1)
            }
        };
        self.values.push(SnapshotValue { slot, id, value });
    }

    #[inline]
    fn word(&mut self, slot: usize, id: u64, kind: Kind, word: u64) {
        let value = match kind {
            Kind::Counter => Sample::Counter(word),
            Kind::Gauge => Sample::Gauge(word as i64),
            Kind::Float => Sample::Float(f64::from_bits(word)),
            Kind::Bool => Sample::Bool(word != 0),
            Kind::Timestamp => Sample::Timestamp(word),
            _ => return,
        };
        self.values.push(SnapshotValue { slot, id, value });
    }
}

/// What a [`RegionReader`] remembers of the field table between reads.
#[derive(Debug)]
struct FieldCache {
    generation: u64,
    entries: Vec<CachedEntry>,
    /// An entry was read, reset or dropped since `shadowed` was computed.
    changed: bool,
    /// Slots whose live field has the name and labels of a live field in
    /// a lower slot (FORMAT.md §4.1: the lowest slot wins), each with that
    /// slot; ascending. Their values are not shown.
    shadowed: Vec<(usize, usize)>,
    /// Per entry, what a poll needs of it, packed: a cached, live,
    /// non-dynamic single-word field is read from here alone.
    hot: Vec<HotEntry>,
    scratch: Vec<u64>,
}

/// The part of a cached entry a poll reads for every field (16 bytes,
/// where a `FieldInfo` is over 300: at 100,000 fields a snapshot is bound
/// by the bytes it moves, so every one counts).
#[derive(Clone, Copy, Debug, Default)]
struct HotEntry {
    /// Registration id of the cached field.
    id: u64,
    /// Its value word (a value beyond word 2^32, 32 GiB into a region,
    /// takes the full path).
    word: u32,
    /// `Some` for a live, non-dynamic, single-word field: read it with one
    /// load and no slot checks; `None`: take the full path.
    single: Option<Kind>,
}

const _: () = assert!(core::mem::size_of::<HotEntry>() == 16);

impl HotEntry {
    fn of(cached: &CachedEntry) -> Self {
        match &cached.entry {
            Ok(Some(info)) => {
                let word = u32::try_from(info.value_word).ok();
                Self {
                    id: cached.id,
                    word: word.unwrap_or(0),
                    single: info.kind.filter(|kind| {
                        word.is_some()
                            && cached.id != 0
                            && !info.is_dynamic()
                            && matches!(kind.shape(info.param), mmstats_nostd::Shape::Single)
                    }),
                }
            }
            _ => Self::default(),
        }
    }
}

/// Every live field's value, as [`RegionReader::snapshot`] read it.
/// Single-word values are stored inline ([`Sample`] is `Copy`), the others
/// in [`Snapshot::others`], so that polling many counters moves and frees
/// little memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// The region's generation when read.
    pub generation: u64,
    /// Values, in field-table order.
    pub values: Vec<SnapshotValue>,
    /// Values of multi-word kinds, which [`Sample::Other`] indexes.
    pub others: Vec<FieldValue>,
    /// Fields that could not be read, with the reason.
    pub problems: Vec<FieldProblem>,
}

impl Snapshot {
    /// The value of `value` as a [`FieldValue`].
    #[must_use]
    pub fn field_value(&self, value: &SnapshotValue) -> Option<FieldValue> {
        Some(match value.value {
            Sample::Counter(v) => FieldValue::Counter(v),
            Sample::Gauge(v) => FieldValue::Gauge(v),
            Sample::Float(v) => FieldValue::Float(v),
            Sample::Bool(v) => FieldValue::Bool(v),
            Sample::Timestamp(v) => FieldValue::Timestamp(v),
            Sample::Other(index) => self.others.get(index)?.clone(),
        })
    }

    fn clear(&mut self) {
        self.values.clear();
        self.others.clear();
        self.problems.clear();
    }
}

/// One value of a [`Snapshot`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SnapshotValue {
    /// Field-table slot ([`RegionReader::field`] describes it).
    pub slot: usize,
    /// Registration id of the field the value belongs to.
    pub id: u64,
    /// The value.
    pub value: Sample,
}

/// A value in a [`Snapshot`]: a single-word kind inline, any other kind
/// an index into [`Snapshot::others`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sample {
    /// Counter.
    Counter(u64),
    /// Gauge.
    Gauge(i64),
    /// Float gauge.
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// Nanoseconds since the Unix epoch.
    Timestamp(u64),
    /// Index of the value in [`Snapshot::others`].
    Other(usize),
}

/// An entry as last read, with the registration id it was read under: a
/// slot whose id moved (format 2.1: retired and reused) is read again.
#[derive(Debug)]
struct CachedEntry {
    /// 0: not read yet (no live field has id 0).
    id: u64,
    entry: Result<Option<FieldInfo>, EntryError>,
}

impl CachedEntry {
    /// Reads entry `index` now.
    fn read<S: mmstats_nostd::WordSource + ?Sized>(
        view: &RegionView<'_, S>,
        index: usize,
        slot_id: u64,
    ) -> Self {
        match view.entry(index) {
            Ok(Some(info)) => Self {
                id: info.id,
                entry: Ok(Some(info)),
            },
            Ok(None) => Self {
                id: 0,
                entry: Ok(None),
            },
            Err(error) => Self {
                id: slot_id,
                entry: Err(error),
            },
        }
    }
}

impl RegionReader {
    /// Opens and maps a format-2 file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadFileError> {
        let path = path.as_ref();
        let (file, len) = open_for_reading(path)?;
        Self::from_file(path, file, len)
    }

    pub(super) fn from_file(path: &Path, file: File, len: u64) -> Result<Self, ReadFileError> {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len < mmstats_nostd::layout::PROLOGUE_LEN {
            return Err(failure(
                path,
                ReadFailure::Region(OpenError::TooShort { len }),
            ));
        }
        // A region longer than the limit is refused by its header check;
        // mapping no more than the limit keeps a file of any length (a
        // sparse terabyte) from costing more address space than that.
        let len = len.min(usize::try_from(MAX_READER_REGION_LEN).unwrap_or(usize::MAX));
        let map =
            ReadMap::shared(&file, len).map_err(|error| {
                match crate::map::protection_error(&error) {
                    Some(unprotected) => failure(path, ReadFailure::SigbusUnprotected(unprotected)),
                    None => io_failure(path, "mmap")(error),
                }
            })?;
        Ok(Self {
            path: path.to_owned(),
            file,
            map,
            cache: FieldCache {
                generation: 0,
                entries: Vec::new(),
                changed: true,
                shadowed: Vec::new(),
                hot: Vec::new(),
                scratch: vec![0; MAX_COPY_WORDS],
            },
        })
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads every field now.
    pub fn read(&mut self) -> Result<FileStats, ReadFileError> {
        self.read_with(true)
    }

    /// Reads every field now without judging the writer's liveness (no
    /// lock probe, no process-table look-up): the cheap read for tools
    /// that read many files many times a second. The result's `liveness`
    /// is [`Liveness::Unknown`]; ask [`RegionReader::liveness`] when needed.
    pub fn read_values(&mut self) -> Result<FileStats, ReadFileError> {
        self.read_with(false)
    }

    /// Whether the writer is alive now (lock probe, then pid, start time
    /// and boot id), [`Liveness::Unknown`] if the region cannot be opened.
    #[must_use]
    pub fn liveness(&self) -> Liveness {
        if self.map.protected().is_err() {
            return Liveness::Unknown;
        }
        let words = self.map.words();
        let judged = match RegionView::open(&words) {
            Ok(view) => {
                let p = view.prologue();
                liveness::judge(
                    view.state(),
                    liveness::probe_lock(&self.file),
                    os::check_process(p.pid, p.start_time, p.boot_id),
                )
            }
            Err(_) => Liveness::Unknown,
        };
        if self.map.faulted() {
            Liveness::Unknown
        } else {
            judged
        }
    }

    /// The device and inode numbers of the open file (`fstat(2)`): a path
    /// that now names another file was replaced.
    pub fn file_id(&self) -> io::Result<(u64, u64)> {
        let stat = rustix::fs::fstat(&self.file)?;
        Ok((stat.st_dev, stat.st_ino))
    }

    fn read_with(&mut self, judge_liveness: bool) -> Result<FileStats, ReadFileError> {
        // A writer still initialising (a shm object, which has no private
        // name while it is built) gets a few milliseconds; a region
        // re-initialised under us is read again.
        self.check_protected()?;
        let mut last = ReadFailure::Unstable;
        for attempt in 0..20 {
            let result = self.try_read(judge_liveness);
            // Whatever was read after a page vanished is zeros, not data:
            // that overrides any value or validation error.
            if self.map.faulted() {
                return Err(failure(&self.path, ReadFailure::TruncatedWhileReading));
            }
            match result {
                Ok(stats) => return Ok(stats),
                Err(ReadFailure::Region(OpenError::NotReady)) => {
                    last = ReadFailure::Region(OpenError::NotReady);
                    std::thread::sleep(std::time::Duration::from_millis(1 << attempt.min(3)));
                }
                Err(ReadFailure::Unstable) => last = ReadFailure::Unstable,
                Err(other) => return Err(failure(&self.path, other)),
            }
        }
        Err(failure(&self.path, last))
    }

    /// Refuses to read a mapping a truncation would kill the process
    /// through (see [`crate::sigbus`]).
    fn check_protected(&self) -> Result<(), ReadFileError> {
        self.map
            .protected()
            .map_err(|error| failure(&self.path, ReadFailure::SigbusUnprotected(error)))
    }

    fn try_read(&mut self, judge_liveness: bool) -> Result<FileStats, ReadFailure> {
        let words = self.map.words();
        let view = RegionView::open(&words).map_err(ReadFailure::Region)?;
        let p = *view.prologue();
        let mut values = CollectFields(Vec::new());
        let mut problems = Vec::new();
        let count = self.cache.visit_values(&view, &mut problems, &mut values)?;
        let fields = values
            .0
            .into_iter()
            .filter(|(slot, _)| !self.cache.is_shadowed(*slot))
            .filter_map(|(slot, value)| {
                let info = self.cache.field(slot)?;
                Some(Field {
                    name: info.name.to_string(),
                    labels: info.labels.clone(),
                    unit: unit_name(info),
                    description: info.description.to_string(),
                    value,
                })
            })
            .collect();
        if !view.still_valid() {
            return Err(ReadFailure::Unstable);
        }
        let region = RegionInfo::from_view(&view, count);
        let state = region.state;
        let liveness = if judge_liveness {
            liveness::judge(
                state,
                liveness::probe_lock(&self.file),
                os::check_process(p.pid, p.start_time, p.boot_id),
            )
        } else {
            Liveness::Unknown
        };
        Ok(FileStats {
            path: self.path.clone(),
            format: Format::Mmstats2,
            pid: (p.pid != 0).then_some(p.pid),
            liveness,
            region: Some(region),
            fields,
            problems,
        })
    }

    /// Reads every live field's value into `into`, reusing its memory:
    /// the fast path for readers that poll (no names or descriptions are
    /// copied; [`RegionReader::field`] gives them by slot). Strings and
    /// histograms still allocate their contents.
    pub fn snapshot(&mut self, into: &mut Snapshot) -> Result<(), ReadFileError> {
        self.check_protected()?;
        let mut last = ReadFailure::Unstable;
        for attempt in 0..20 {
            into.clear();
            let result = self.try_snapshot(into);
            if self.map.faulted() {
                return Err(failure(&self.path, ReadFailure::TruncatedWhileReading));
            }
            match result {
                Ok(()) => return Ok(()),
                Err(ReadFailure::Region(OpenError::NotReady)) => {
                    last = ReadFailure::Region(OpenError::NotReady);
                    std::thread::sleep(std::time::Duration::from_millis(1 << attempt.min(3)));
                }
                Err(ReadFailure::Unstable) => last = ReadFailure::Unstable,
                Err(other) => return Err(failure(&self.path, other)),
            }
        }
        Err(failure(&self.path, last))
    }

    fn try_snapshot(&mut self, into: &mut Snapshot) -> Result<(), ReadFailure> {
        let words = self.map.words();
        let view = RegionView::open(&words).map_err(ReadFailure::Region)?;
        into.generation = view.prologue().generation;
        let mut fill = FillSnapshot {
            values: &mut into.values,
            others: &mut into.others,
        };
        self.cache
            .visit_values(&view, &mut into.problems, &mut fill)?;
        if !self.cache.shadowed.is_empty() {
            let cache = &self.cache;
            into.values.retain(|value| !cache.is_shadowed(value.slot));
        }
        if view.still_valid() {
            Ok(())
        } else {
            Err(ReadFailure::Unstable)
        }
    }

    /// The field in `slot` as last read (name, kind, unit, description).
    #[must_use]
    pub fn field(&self, slot: usize) -> Option<&FieldInfo> {
        self.cache.field(slot)
    }

    /// Bytes mapped.
    #[must_use]
    pub fn mapped_len(&self) -> usize {
        self.map.len()
    }

    /// Runs `f` on a validated view of the region (waiting a few
    /// milliseconds for a writer still initialising), and reports a file
    /// truncated meanwhile: what `f` read then is zeros, not data.
    pub fn with_view<R>(
        &mut self,
        f: impl FnOnce(&RegionView<'_, LiveWords<'_>>) -> R,
    ) -> Result<R, ReadFileError> {
        self.check_protected()?;
        let mut f = Some(f);
        for attempt in 0..20 {
            let words = self.map.words();
            let result = match RegionView::open(&words) {
                Ok(view) => Ok(f.take().map(|f| f(&view))),
                Err(error) => Err(error),
            };
            if self.map.faulted() {
                return Err(failure(&self.path, ReadFailure::TruncatedWhileReading));
            }
            match result {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => break,
                Err(OpenError::NotReady) => {
                    std::thread::sleep(std::time::Duration::from_millis(1 << attempt.min(3)));
                }
                Err(error) => return Err(failure(&self.path, ReadFailure::Region(error))),
            }
        }
        Err(failure(
            &self.path,
            ReadFailure::Region(OpenError::NotReady),
        ))
    }
}

/// The name of a field's unit as readers print it (`unit(N)` for a code
/// this version does not know).
#[must_use]
pub fn unit_name(info: &FieldInfo) -> String {
    match info.unit {
        Some(unit) => unit.name().to_owned(),
        None => format!("unit({})", info.unit_code),
    }
}

impl FieldCache {
    /// The field in `slot` as last read.
    fn field(&self, slot: usize) -> Option<&FieldInfo> {
        self.entries
            .get(slot)
            .and_then(|cached| cached.entry.as_ref().ok())
            .and_then(Option::as_ref)
    }

    /// Calls `visit(slot, id, value)` with every live field's value,
    /// refreshing the cached entries first (new fields, retired or reused
    /// slots, a new generation). Returns the field count. Per-field
    /// problems go to `problems`; the caller checks `still_valid` after.
    fn visit_values<S: mmstats_nostd::WordSource + ?Sized>(
        &mut self,
        view: &RegionView<'_, S>,
        problems: &mut Vec<FieldProblem>,
        visit: &mut impl ValueVisitor,
    ) -> Result<usize, ReadFailure> {
        let p = view.prologue();
        if p.generation != self.generation {
            self.entries.clear();
            self.hot.clear();
            self.generation = p.generation;
            self.changed = true;
        }
        let count = view.field_count().map_err(ReadFailure::Region)?;
        // Never sized from the count: the cache grows by one entry as the
        // walk reaches it, and the walk stops at the first empty entry.
        if count < self.entries.len() {
            self.changed = true;
        }
        self.entries.truncate(count);
        self.hot.truncate(count);
        let scratch = &mut self.scratch;
        visit.reserve(self.entries.len());
        for index in 0..count {
            if index == self.entries.len() {
                self.entries.push(CachedEntry {
                    id: 0,
                    entry: Ok(None),
                });
                self.hot.push(HotEntry::default());
            }
            // The fast path of a poll: a cached field that is not dynamic is
            // never retired or reused in this generation (FORMAT.md §4,
            // flag bit 4), and a single-word value is one load.
            let hot = &mut self.hot[index];
            if let Some(kind) = hot.single {
                match view.load_word(hot.word as usize) {
                    Some(word) => visit.word(index, hot.id, kind, word),
                    None => problems.push(FieldProblem::ValueOutsideRegion { index }),
                }
                continue;
            }
            let cached = &mut self.entries[index];
            if let Ok(Some(info)) = &cached.entry
                && cached.id != 0
                && !info.is_dynamic()
            {
                if scratch.len() < info.scratch_words() {
                    scratch.resize(info.scratch_words(), 0);
                }
                match view.read_cached(info, scratch, DEFAULT_MAX_TRIES) {
                    Ok(value) => visit.value(index, info.id, value),
                    Err(ReadError::UnknownKind { .. }) => {}
                    Err(error) => {
                        problems.push(FieldProblem::value(info, error));
                    }
                }
                continue;
            }
            // Format 2.1: a slot may have been retired or reused since the
            // entry was cached. Its state and id say which field it holds
            // now; `read` checks them again around the value.
            let slot_id = match view.slot(index) {
                Ok((EntryState::Live, id)) if id != 0 => id,
                Ok(_) => {
                    // Not live now: forget the field it held, so that the
                    // duplicate rule only weighs fields live in this walk.
                    if cached.id != 0 || !matches!(cached.entry, Ok(None)) {
                        *cached = CachedEntry {
                            id: 0,
                            entry: Ok(None),
                        };
                        *hot = HotEntry::default();
                        self.changed = true;
                    }
                    continue;
                }
                // A hole below the count: the header claims entries that
                // were never written. The file is refused, the walk ends.
                Err(EntryError::Empty { index }) => {
                    return Err(ReadFailure::Region(OpenError::EmptyEntry {
                        index,
                        count: count as u64,
                    }));
                }
                Err(error) => {
                    problems.push(FieldProblem::Entry(error));
                    continue;
                }
            };
            if cached.id != slot_id {
                *cached = CachedEntry::read(view, index, slot_id);
                *hot = HotEntry::of(cached);
                self.changed = true;
            }
            // A slot reused again and again while it is read is skipped
            // this time (it is churning; the next read will show it).
            for _ in 0..3 {
                let info = match &cached.entry {
                    Ok(Some(info)) => info,
                    Ok(None) => break,
                    Err(reason) => {
                        problems.push(FieldProblem::Entry(*reason));
                        break;
                    }
                };
                if scratch.len() < info.scratch_words() {
                    scratch.resize(info.scratch_words(), 0);
                }
                match view.read(info, scratch, DEFAULT_MAX_TRIES) {
                    Ok(value) => {
                        visit.value(index, info.id, value);
                        break;
                    }
                    // A kind from a newer minor version: skipped, as the
                    // format says, and not an error.
                    Err(ReadError::UnknownKind { .. }) => break,
                    // Retired or reused since the entry was read.
                    Err(ReadError::SlotChanged) => {
                        *cached = CachedEntry::read(view, index, 0);
                        *hot = HotEntry::of(cached);
                        self.changed = true;
                    }
                    Err(error) => {
                        problems.push(FieldProblem::value(info, error));
                        break;
                    }
                }
            }
        }
        if self.changed {
            self.shadowed = self.find_shadowed();
            self.changed = false;
        }
        for &(slot, first) in &self.shadowed {
            if let Some(info) = self.field(slot) {
                problems.push(FieldProblem::Duplicate {
                    index: slot,
                    name: info.name.to_string(),
                    labels: info.labels.clone(),
                    first,
                });
            }
        }
        Ok(count)
    }

    /// The slots whose field repeats the name and labels of a field in a
    /// lower slot, with that slot (computed only when an entry changed).
    fn find_shadowed(&self) -> Vec<(usize, usize)> {
        let mut repeats = RepeatFilter::new();
        self.entries
            .iter()
            .filter(|cached| cached.id != 0)
            .filter_map(|cached| cached.entry.as_ref().ok()?.as_ref())
            .filter_map(|info| match repeats.check(info) {
                Some(FieldProblem::Duplicate { index, first, .. }) => Some((index, first)),
                _ => None,
            })
            .collect()
    }

    /// Whether the field in `slot` repeats one in a lower slot (its value
    /// is not shown).
    fn is_shadowed(&self, slot: usize) -> bool {
        !self.shadowed.is_empty()
            && self
                .shadowed
                .binary_search_by_key(&slot, |&(s, _)| s)
                .is_ok()
    }
}
