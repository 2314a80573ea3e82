//! Following event rings live: what `mmdump tail` does, as a library.
//!
//! A [`Follower`] finds the event rings (kind 11, `docs/FORMAT.md` §5.7) of
//! the stats files it is given, polls them, and hands out [`TailEvent`]s:
//! records, gaps ("missed 1,024 events", counted exactly from sequence
//! numbers when the writer lapped the reader), span durations (from
//! span-enter and span-exit records), and problems. It never writes to a
//! region and never slows a writer down. New files and new rings are picked
//! up as they appear; a ring that is retired or re-created is reported and
//! followed again from its start.
//!
//! [`format_text`] and [`to_json`] render events as text lines or JSON lines;
//! [`Archive`] appends JSON lines to a file for later analysis; [`run`] is
//! the whole `mmdump tail` loop.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! use mmdump::tail::{Follower, Start, TailEvent, TailOptions};
//! let stats = mmstats::StatsFile::builder("srv").dir(dir.path()).create().unwrap();
//! let events = stats.event_ring("events").unwrap();
//! events.event(7, &[1, 2]);
//!
//! let mut follower = Follower::new(TailOptions {
//!     paths: vec![stats.path()],
//!     start: Start::Oldest,
//!     ..TailOptions::default()
//! });
//! let mut seen = Vec::new();
//! follower.poll(&mut |event| seen.push(event));
//! let TailEvent::Record(record) = &seen[0] else { panic!("{seen:?}") };
//! assert_eq!((record.ring.as_str(), record.event), ("events", 7));
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mmstats_nostd::layout::EntryState;
use mmstats_nostd::{
    EntryError, FieldInfo, Kind, OpenError, Payload, ReadError, RingCursor, RingEvent,
};
use rustix::fs::{Mode, OFlags};
use serde_json::{Value as Json, json};

use crate::dump::select::Selection;
use crate::dump::{discover, format_unix_ns, printable};
use crate::summary::{format_count, format_quantity};
use mmstats::{ReadFailure, ReadFileError, RegionReader};

/// Where a follower starts in rings that exist when it starts (rings that
/// appear later are always read from their oldest record).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Start {
    /// The oldest record still in the ring.
    #[default]
    Oldest,
    /// Only records appended from now on.
    Newest,
    /// Sequence number 1: records already overwritten are reported as
    /// missed, so delivered + missed counts every record the ring held.
    First,
}

/// What to follow and how.
#[derive(Clone, Debug)]
pub struct TailOptions {
    /// Stats files, directories or wildcard patterns; empty: the stats
    /// directory (as for `mmdump`).
    pub paths: Vec<PathBuf>,
    /// Only rings whose name matches this wildcard pattern.
    pub ring: Option<String>,
    /// Only files this selects (by name and writer pid), and only rings
    /// whose names it selects (`-I`, `-X`), as for `mmdump`.
    pub selection: Selection,
    /// Where to start in rings that exist already.
    pub start: Start,
    /// Turn span-enter and span-exit records into span durations.
    pub spans: bool,
    /// Most records taken from one ring per poll (keeps polls short).
    pub batch: u64,
    /// Look for new files this often.
    pub rediscover: Duration,
    /// Most spans waiting for their exit record (older ones are dropped,
    /// so a lost exit record cannot make memory grow).
    pub max_open_spans: usize,
}

impl Default for TailOptions {
    fn default() -> Self {
        Self {
            paths: Vec::new(),
            ring: None,
            selection: Selection::everything(),
            start: Start::Oldest,
            spans: false,
            batch: 4096,
            rediscover: Duration::from_secs(1),
            max_open_spans: 65_536,
        }
    }
}

/// A record's payload, copied out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailPayload {
    /// Values.
    Values(Vec<u64>),
    /// A short text.
    Text(String),
    /// A span started.
    SpanEnter {
        /// Its id.
        span: u64,
        /// Its name.
        name: String,
    },
    /// A span ended.
    SpanExit {
        /// Its id.
        span: u64,
    },
    /// A payload kind this reader does not know.
    Unknown {
        /// Kind code.
        kind: u8,
    },
    /// A payload that is not valid (length past the payload, bad UTF-8).
    Invalid,
}

impl TailPayload {
    fn from_payload(payload: Payload<'_>) -> Self {
        match payload {
            Payload::Values(values) => Self::Values(values.to_vec()),
            Payload::Text(text) => Self::Text(text.to_owned()),
            Payload::SpanEnter { span, name } => Self::SpanEnter {
                span,
                name: name.to_owned(),
            },
            Payload::SpanExit { span } => Self::SpanExit { span },
            Payload::Unknown { kind, .. } => Self::Unknown { kind },
            Payload::Invalid => Self::Invalid,
        }
    }
}

/// One record of a ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailRecord {
    /// The stats file.
    pub path: PathBuf,
    /// The ring's field name.
    pub ring: String,
    /// Sequence number in the ring (from 1).
    pub seq: u64,
    /// Timestamp (std writers: ns since the Unix epoch).
    pub timestamp_ns: u64,
    /// Writer's thread id.
    pub thread: u64,
    /// Event id.
    pub event: u32,
    /// Payload.
    pub payload: TailPayload,
}

/// A span whose enter and exit records were both seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanDuration {
    /// The stats file.
    pub path: PathBuf,
    /// The ring.
    pub ring: String,
    /// Thread of the enter record.
    pub thread: u64,
    /// Span id.
    pub span: u64,
    /// Event id of the enter record.
    pub event: u32,
    /// Name given at enter.
    pub name: String,
    /// Timestamp of the enter record.
    pub start_ns: u64,
    /// Timestamp of the exit record.
    pub end_ns: u64,
}

impl SpanDuration {
    /// `end - start`, in nanoseconds (0 if the clock went back).
    #[must_use]
    pub const fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// What a [`Follower`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailEvent {
    /// A record.
    Record(TailRecord),
    /// The writer overwrote `count` records before the follower could copy
    /// them (they come, in sequence, before the next record delivered).
    Missed {
        /// The stats file.
        path: PathBuf,
        /// The ring.
        ring: String,
        /// Records lost.
        count: u64,
    },
    /// A span ended (with `TailOptions::spans`).
    Span(SpanDuration),
    /// A ring was retired, re-created or its file went away: following it
    /// stopped (a new ring in its place is followed from its start).
    RingEnded {
        /// The stats file.
        path: PathBuf,
        /// The ring.
        ring: String,
        /// Why.
        reason: String,
    },
    /// A file could not be read.
    Problem {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Totals since a follower started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TailTotals {
    /// Records delivered.
    pub records: u64,
    /// Records missed (overwritten before they could be copied).
    pub missed: u64,
    /// Rings being followed now.
    pub rings: usize,
}

struct FollowedRing {
    index: usize,
    id: u64,
    info: FieldInfo,
    cursor: RingCursor,
    scratch: Vec<u64>,
}

struct FollowedFile {
    reader: RegionReader,
    state: FileState,
}

struct FileState {
    generation: u64,
    rings: Vec<FollowedRing>,
    /// Whether rings present now should start at `TailOptions::start`
    /// (true only for files found at the first discovery).
    first_look: bool,
    /// The file was not found by the last discovery: drain it and drop it.
    gone: bool,
}

/// A span waiting for its exit: file, ring, thread, span id.
type SpanKey = (PathBuf, String, u64, u64);
/// What its enter record said: event id, name, timestamp.
type OpenSpan = (u32, String, u64);

/// Follows the event rings of a set of stats files.
pub struct Follower {
    options: TailOptions,
    files: BTreeMap<PathBuf, FollowedFile>,
    /// Paths already reported as unreadable (reported once).
    reported: BTreeSet<PathBuf>,
    discovered_at: Option<Instant>,
    first_discovery: bool,
    open_spans: HashMap<SpanKey, OpenSpan>,
    span_order: VecDeque<SpanKey>,
    totals: TailTotals,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .field("totals", &self.totals)
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// A follower; nothing is read before the first [`Follower::poll`].
    #[must_use]
    pub fn new(options: TailOptions) -> Self {
        Self {
            options,
            files: BTreeMap::new(),
            reported: BTreeSet::new(),
            discovered_at: None,
            first_discovery: true,
            open_spans: HashMap::new(),
            span_order: VecDeque::new(),
            totals: TailTotals::default(),
        }
    }

    /// Totals so far.
    #[must_use]
    pub fn totals(&self) -> TailTotals {
        TailTotals {
            rings: self.files.values().map(|f| f.state.rings.len()).sum(),
            ..self.totals
        }
    }

    /// Reads every ring once (up to `TailOptions::batch` records each) and
    /// hands what it found to `sink`, in order per ring. Returns the
    /// number of records delivered.
    pub fn poll(&mut self, sink: &mut dyn FnMut(TailEvent)) -> u64 {
        if self
            .discovered_at
            .is_none_or(|at| at.elapsed() >= self.options.rediscover)
        {
            self.discover(sink);
        }
        let mut delivered = 0;
        let mut events = Vec::new();
        let mut dropped = Vec::new();
        for (path, file) in &mut self.files {
            let FollowedFile { reader, state } = file;
            // A table that turns out forged (an empty entry below the
            // count) is an error for the file, like one that fails to open.
            let result = reader
                .with_view(|view| poll_file(path, state, view, &self.options, &mut events))
                .and_then(|polled| {
                    polled.map_err(|error| ReadFileError {
                        path: path.clone(),
                        reason: ReadFailure::Region(error),
                    })
                });
            match result {
                Ok(n) => {
                    delivered += n;
                    if state.gone && n == 0 {
                        dropped.push(path.clone());
                    }
                }
                Err(error) => {
                    for ring in state.rings.drain(..) {
                        events.push(TailEvent::RingEnded {
                            path: path.clone(),
                            ring: ring.info.name.to_string(),
                            reason: error.reason.to_string(),
                        });
                    }
                    events.push(TailEvent::Problem {
                        path: path.clone(),
                        message: error.reason.to_string(),
                    });
                    dropped.push(path.clone());
                }
            }
        }
        for path in dropped {
            if let Some(file) = self.files.remove(&path) {
                for ring in file.state.rings {
                    events.push(TailEvent::RingEnded {
                        path: path.clone(),
                        ring: ring.info.name.to_string(),
                        reason: "the file is gone".into(),
                    });
                }
            }
        }
        for event in events {
            match &event {
                TailEvent::Record(record) => {
                    self.totals.records += 1;
                    if self.options.spans {
                        self.track_span(record, sink);
                    }
                }
                TailEvent::Missed { count, .. } => self.totals.missed += count,
                _ => {}
            }
            sink(event);
        }
        delivered
    }

    fn discover(&mut self, sink: &mut dyn FnMut(TailEvent)) {
        self.discovered_at = Some(Instant::now());
        let (mut paths, mut errors) = discover(&self.options.paths);
        paths.retain(|path| self.options.selection.path_selected(path));
        errors.retain(|(path, _)| self.options.selection.path_selected(path));
        for (path, message) in errors {
            if self.reported.insert(path.clone()) {
                sink(TailEvent::Problem {
                    path,
                    message: message.to_string(),
                });
            }
        }
        let found: BTreeSet<&PathBuf> = paths.iter().collect();
        for (path, file) in &mut self.files {
            file.state.gone = !found.contains(path);
        }
        for path in &paths {
            if self.files.contains_key(path) || self.reported.contains(path) {
                continue;
            }
            match RegionReader::open(path) {
                Ok(reader) => {
                    self.files.insert(
                        path.clone(),
                        FollowedFile {
                            reader,
                            state: FileState {
                                generation: 0,
                                rings: Vec::new(),
                                first_look: self.first_discovery,
                                gone: false,
                            },
                        },
                    );
                }
                // Not a format-2 file (legacy v1, foreign): no rings.
                Err(error)
                    if matches!(
                        error.reason,
                        ReadFailure::Region(mmstats_nostd::OpenError::BadMagic)
                            | ReadFailure::Region(mmstats_nostd::OpenError::TooShort { .. })
                    ) =>
                {
                    self.reported.insert(path.clone());
                }
                Err(error) => {
                    self.reported.insert(path.clone());
                    sink(TailEvent::Problem {
                        path: path.clone(),
                        message: error.reason.to_string(),
                    });
                }
            }
        }
        self.first_discovery = false;
    }

    fn track_span(&mut self, record: &TailRecord, sink: &mut dyn FnMut(TailEvent)) {
        match &record.payload {
            TailPayload::SpanEnter { span, name } => {
                let key = (
                    record.path.clone(),
                    record.ring.clone(),
                    record.thread,
                    *span,
                );
                if self.open_spans.len() >= self.options.max_open_spans {
                    while let Some(oldest) = self.span_order.pop_front() {
                        if self.open_spans.remove(&oldest).is_some() {
                            break;
                        }
                    }
                }
                self.open_spans.insert(
                    key.clone(),
                    (record.event, name.clone(), record.timestamp_ns),
                );
                self.span_order.push_back(key);
            }
            TailPayload::SpanExit { span } => {
                let key = (
                    record.path.clone(),
                    record.ring.clone(),
                    record.thread,
                    *span,
                );
                if let Some((event, name, start_ns)) = self.open_spans.remove(&key) {
                    sink(TailEvent::Span(SpanDuration {
                        path: record.path.clone(),
                        ring: record.ring.clone(),
                        thread: record.thread,
                        span: *span,
                        event,
                        name,
                        start_ns,
                        end_ns: record.timestamp_ns,
                    }));
                }
                if self.span_order.len() > 2 * self.open_spans.len() + 64 {
                    let open = &self.open_spans;
                    self.span_order.retain(|key| open.contains_key(key));
                }
            }
            _ => {}
        }
    }
}

/// Polls the rings of one file (finding new rings, dropping retired ones).
/// The table walk is bounded like every reader's: at most
/// [`mmstats_nostd::MAX_READER_FIELDS`] entries, ending with an error at
/// the first empty one (a forged count over a sparse file); each ring
/// poll copies at most `TailOptions::batch` records.
fn poll_file<S: mmstats_nostd::WordSource + ?Sized>(
    path: &Path,
    file: &mut FileState,
    view: &mmstats_nostd::RegionView<'_, S>,
    options: &TailOptions,
    events: &mut Vec<TailEvent>,
) -> Result<u64, OpenError> {
    let ended = |ring: &FollowedRing, reason: &str| TailEvent::RingEnded {
        path: path.to_owned(),
        ring: ring.info.name.to_string(),
        reason: reason.to_owned(),
    };
    if !options.selection.pid_selected(Some(view.prologue().pid)) {
        // Another writer's file (or one whose writer changed): followed
        // again if a selected writer takes it over.
        for ring in file.rings.drain(..) {
            events.push(ended(&ring, "the file's writer is not selected"));
        }
        return Ok(0);
    }
    let generation = view.prologue().generation;
    if generation != file.generation {
        for ring in file.rings.drain(..) {
            events.push(ended(&ring, "the file was re-created"));
        }
        file.generation = generation;
    }
    // New rings, and rings whose slot now holds another field.
    let count = view.field_count()?;
    let start = if file.first_look {
        options.start
    } else {
        Start::Oldest
    };
    file.first_look = false;
    let mut index = 0;
    while index < count {
        let live = match view.slot(index) {
            Ok((EntryState::Live, id)) if id != 0 => Some(id),
            Err(EntryError::Empty { index }) => {
                return Err(OpenError::EmptyEntry {
                    index,
                    count: count as u64,
                });
            }
            _ => None,
        };
        let known = file.rings.iter().position(|ring| ring.index == index);
        match (known, live) {
            (Some(position), Some(id)) if file.rings[position].id == id => {}
            (known, live) => {
                if let Some(position) = known {
                    let ring = file.rings.remove(position);
                    events.push(ended(&ring, "the ring was retired"));
                }
                if live.is_some()
                    && let Ok(Some(info)) = view.entry(index)
                    && info.kind == Some(Kind::EventRing)
                    && options
                        .ring
                        .as_deref()
                        .is_none_or(|pattern| crate::glob::matches(pattern, &info.name))
                    && options.selection.field_selected(&info.name, &info.labels)
                {
                    file.rings.push(FollowedRing {
                        index,
                        id: info.id,
                        cursor: match start {
                            Start::Oldest => RingCursor::oldest(),
                            Start::Newest => RingCursor::newest(),
                            Start::First => RingCursor::at(1),
                        },
                        scratch: vec![0; info.scratch_words()],
                        info,
                    });
                }
            }
        }
        index += 1;
    }
    let mut delivered = 0;
    let mut retired = Vec::new();
    for (position, ring) in file.rings.iter_mut().enumerate() {
        let name = ring.info.name.to_string();
        let result = view.poll_ring(
            &ring.info,
            &mut ring.cursor,
            &mut ring.scratch,
            options.batch,
            |event| {
                events.push(match event {
                    RingEvent::Missed(count) => TailEvent::Missed {
                        path: path.to_owned(),
                        ring: name.clone(),
                        count,
                    },
                    RingEvent::Record(record) => TailEvent::Record(TailRecord {
                        path: path.to_owned(),
                        ring: name.clone(),
                        seq: record.seq,
                        timestamp_ns: record.timestamp,
                        thread: record.thread,
                        event: record.event,
                        payload: TailPayload::from_payload(record.payload),
                    }),
                });
            },
        );
        match result {
            Ok(poll) => delivered += poll.delivered,
            Err(ReadError::RingReset { .. }) => {
                ring.cursor = RingCursor::oldest();
                events.push(TailEvent::Missed {
                    path: path.to_owned(),
                    ring: name,
                    count: 0,
                });
            }
            Err(ReadError::SlotChanged) => retired.push(position),
            Err(error) => {
                events.push(TailEvent::Problem {
                    path: path.to_owned(),
                    message: format!("{name}: {error}"),
                });
                retired.push(position);
            }
        }
    }
    for position in retired.into_iter().rev() {
        let ring = file.rings.remove(position);
        events.push(ended(&ring, "the ring was retired"));
    }
    Ok(delivered)
}

fn file_label(path: &Path) -> String {
    printable(&path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    ))
}

fn payload_text(payload: &TailPayload) -> String {
    match payload {
        TailPayload::Values(values) => format!("values={values:?}"),
        TailPayload::Text(text) => format!("text=\"{}\"", printable(text)),
        TailPayload::SpanEnter { span, name } => {
            format!("enter span={span} \"{}\"", printable(name))
        }
        TailPayload::SpanExit { span } => format!("exit span={span}"),
        TailPayload::Unknown { kind } => format!("payload of unknown kind {kind}"),
        TailPayload::Invalid => "invalid payload".to_owned(),
    }
}

/// An event as one text line (no newline), or `None` for a record that
/// `spans` mode shows as a span instead (span enter and exit records).
///
/// ```text
/// 2026-11-21T23:30:07.123456789Z web-1-1.mmstats:events #42 tid=1234 event=7 values=[1, 2]
/// !! web-1-1.mmstats:events: missed 1,024 events
/// 2026-11-21T23:30:07.125000000Z web-1-1.mmstats:events tid=1234 span "request" took 1.88ms
/// ```
#[must_use]
pub fn format_text(event: &TailEvent, spans: bool) -> Option<String> {
    Some(match event {
        TailEvent::Record(record) => {
            if spans
                && matches!(
                    record.payload,
                    TailPayload::SpanEnter { .. } | TailPayload::SpanExit { .. }
                )
            {
                return None;
            }
            format!(
                "{} {}:{} #{} tid={} event={} {}",
                format_unix_ns(record.timestamp_ns),
                file_label(&record.path),
                printable(&record.ring),
                record.seq,
                record.thread,
                record.event,
                payload_text(&record.payload)
            )
        }
        TailEvent::Missed {
            count: 0,
            path,
            ring,
        } => format!(
            "!! {}:{}: the ring was re-created; following it from its start",
            file_label(path),
            printable(ring)
        ),
        TailEvent::Missed { path, ring, count } => format!(
            "!! {}:{}: missed {} event{}",
            file_label(path),
            printable(ring),
            format_count(*count),
            if *count == 1 { "" } else { "s" }
        ),
        TailEvent::Span(span) => format!(
            "{} {}:{} tid={} span \"{}\" took {} (event={})",
            format_unix_ns(span.end_ns),
            file_label(&span.path),
            printable(&span.ring),
            span.thread,
            printable(&span.name),
            format_quantity(span.duration_ns() as f64, "nanoseconds"),
            span.event
        ),
        TailEvent::RingEnded { path, ring, reason } => format!(
            "-- {}:{}: {}",
            file_label(path),
            printable(ring),
            printable(reason)
        ),
        TailEvent::Problem { path, message } => format!(
            "!! {}: {}",
            printable(&path.display().to_string()),
            printable(message)
        ),
    })
}

/// An event as one JSON object (a line of `mmdump tail --json` and of an
/// archive). Every object has `"type"`: `record`, `gap`, `span`,
/// `ring_ended` or `error`, and `path` and (but for errors) `ring`.
#[must_use]
pub fn to_json(event: &TailEvent) -> Json {
    match event {
        TailEvent::Record(record) => {
            let payload = match &record.payload {
                TailPayload::Values(values) => json!({"values": values}),
                TailPayload::Text(text) => json!({"text": text}),
                TailPayload::SpanEnter { span, name } => {
                    json!({"span_enter": {"span": span, "name": name}})
                }
                TailPayload::SpanExit { span } => json!({"span_exit": {"span": span}}),
                TailPayload::Unknown { kind } => json!({"unknown_kind": kind}),
                TailPayload::Invalid => json!({"invalid": true}),
            };
            json!({
                "type": "record",
                "path": record.path.display().to_string(),
                "ring": record.ring,
                "seq": record.seq,
                "timestamp_ns": record.timestamp_ns,
                "thread": record.thread,
                "event": record.event,
                "payload": payload,
            })
        }
        TailEvent::Missed { path, ring, count } => json!({
            "type": "gap",
            "path": path.display().to_string(),
            "ring": ring,
            "missed": count,
        }),
        TailEvent::Span(span) => json!({
            "type": "span",
            "path": span.path.display().to_string(),
            "ring": span.ring,
            "thread": span.thread,
            "span": span.span,
            "event": span.event,
            "name": span.name,
            "start_ns": span.start_ns,
            "end_ns": span.end_ns,
            "duration_ns": span.duration_ns(),
        }),
        TailEvent::RingEnded { path, ring, reason } => json!({
            "type": "ring_ended",
            "path": path.display().to_string(),
            "ring": ring,
            "reason": reason,
        }),
        TailEvent::Problem { path, message } => json!({
            "type": "error",
            "path": path.display().to_string(),
            "error": message,
        }),
    }
}

/// A file that events are appended to as JSON lines. Opened with
/// `O_CREAT | O_APPEND | O_NOFOLLOW` and mode 0600: an existing archive is
/// extended, never truncated, and a symbolic link is refused.
#[derive(Debug)]
pub struct Archive {
    path: PathBuf,
    file: io::BufWriter<File>,
}

impl Archive {
    /// Opens (creating if needed) the archive at `path` (`open(2)` with
    /// `O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW`, mode 0600).
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let fd: OwnedFd = rustix::fs::open(
            &path,
            OFlags::WRONLY | OFlags::CREATE | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|error| {
            io::Error::new(
                io::Error::from(error).kind(),
                format!("{}: cannot open archive: {error}", path.display()),
            )
        })?;
        Ok(Self {
            path,
            file: io::BufWriter::new(File::from(fd)),
        })
    }

    /// Appends one event as a JSON line.
    pub fn append(&mut self, event: &TailEvent) -> io::Result<()> {
        writeln!(self.file, "{}", to_json(event))
    }

    /// Writes buffered lines to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    /// The archive's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// How `mmdump tail` prints and when it stops.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// What to follow.
    pub tail: TailOptions,
    /// JSON lines instead of text.
    pub json: bool,
    /// Also append every event to this archive (JSON lines).
    pub archive: Option<PathBuf>,
    /// Pause between polls.
    pub interval: Duration,
    /// Read what is there once and stop.
    pub once: bool,
    /// Stop after this many records.
    pub max_records: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            tail: TailOptions::default(),
            json: false,
            archive: None,
            interval: Duration::from_millis(100),
            once: false,
            max_records: None,
            duration: None,
        }
    }
}

/// Follows rings until `stop` is set (or a limit of `options` is reached),
/// writing events to `out` and notes to `notes`. Returns the totals; the
/// caller exits with failure if a file could not be read.
pub fn run(
    options: &RunOptions,
    stop: &AtomicBool,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> io::Result<(TailTotals, bool)> {
    let mut follower = Follower::new(options.tail.clone());
    let mut archive = options.archive.as_ref().map(Archive::open).transpose()?;
    let started = Instant::now();
    let mut problems = false;
    let mut announced = false;
    // Records written out (a poll may find more than `max_records`).
    let mut written = 0u64;
    let limit = options.max_records.unwrap_or(u64::MAX);
    loop {
        let mut pending: io::Result<()> = Ok(());
        let spans = options.tail.spans;
        follower.poll(&mut |event| {
            if pending.is_err() || written >= limit {
                return;
            }
            if matches!(event, TailEvent::Record(_)) {
                written += 1;
            }
            problems |= matches!(event, TailEvent::Problem { .. });
            let line = if options.json {
                Some(to_json(&event).to_string())
            } else {
                format_text(&event, spans)
            };
            pending = (|| {
                if let Some(line) = line {
                    writeln!(out, "{line}")?;
                }
                if let Some(archive) = archive.as_mut() {
                    archive.append(&event)?;
                }
                Ok(())
            })();
        });
        pending?;
        out.flush()?;
        if let Some(archive) = archive.as_mut() {
            archive.flush()?;
        }
        let totals = follower.totals();
        if !announced
            && totals.rings == 0
            && (options.once || started.elapsed() > Duration::from_secs(1))
        {
            writeln!(notes, "mmdump tail: no event rings found (yet)")?;
            announced = true;
        }
        let done = options.once
            || stop.load(Ordering::Relaxed)
            || written >= limit
            || options
                .duration
                .is_some_and(|limit| started.elapsed() >= limit);
        if done {
            if totals.missed > 0 {
                writeln!(
                    notes,
                    "mmdump tail: {} records, {} missed (the writer overwrote them first)",
                    format_count(totals.records),
                    format_count(totals.missed)
                )?;
            }
            return Ok((
                TailTotals {
                    records: written.min(totals.records),
                    ..totals
                },
                !problems,
            ));
        }
        std::thread::sleep(options.interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmstats::{FieldSpec, StatsFile};

    fn follow(path: &Path, options: TailOptions) -> Follower {
        Follower::new(TailOptions {
            paths: vec![path.to_owned()],
            ..options
        })
    }

    fn poll(follower: &mut Follower) -> Vec<TailEvent> {
        let mut events = Vec::new();
        follower.poll(&mut |event| events.push(event));
        events
    }

    fn records(events: &[TailEvent]) -> Vec<(u64, TailPayload)> {
        events
            .iter()
            .filter_map(|event| match event {
                TailEvent::Record(record) => Some((record.seq, record.payload.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn records_arrive_in_order_and_gaps_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let stats = StatsFile::builder("t").dir(dir.path()).create().unwrap();
        let ring = stats
            .event_ring(FieldSpec::new("events").capacity(8).payload_words(2))
            .unwrap();
        ring.event(1, &[10]);
        ring.text(2, "hi");
        let mut follower = follow(&stats.path(), TailOptions::default());
        let events = poll(&mut follower);
        assert_eq!(
            records(&events),
            vec![
                (1, TailPayload::Values(vec![10])),
                (2, TailPayload::Text("hi".into()))
            ]
        );
        assert_eq!(poll(&mut follower), vec![]);
        for n in 0..20 {
            ring.event(3, &[n]);
        }
        let events = poll(&mut follower);
        assert_eq!(
            events[0],
            TailEvent::Missed {
                path: stats.path(),
                ring: "events".into(),
                count: 12
            }
        );
        assert_eq!(records(&events).len(), 8);
        assert_eq!(
            follower.totals(),
            TailTotals {
                records: 10,
                missed: 12,
                rings: 1
            }
        );
        let text = format_text(&events[0], false).unwrap();
        assert!(text.ends_with(":events: missed 12 events"), "{text}");
        assert_eq!(to_json(&events[0])["missed"], 12);
    }

    #[test]
    fn newest_skips_what_is_there_and_filters_pick_rings() {
        let dir = tempfile::tempdir().unwrap();
        let stats = StatsFile::builder("t").dir(dir.path()).create().unwrap();
        let a = stats
            .event_ring(FieldSpec::new("a.events").capacity(4))
            .unwrap();
        let b = stats
            .event_ring(FieldSpec::new("b.events").capacity(4))
            .unwrap();
        a.event(1, &[]);
        b.event(1, &[]);
        let mut follower = follow(
            &stats.path(),
            TailOptions {
                start: Start::Newest,
                ring: Some("b.*".into()),
                ..TailOptions::default()
            },
        );
        assert_eq!(poll(&mut follower), vec![]);
        a.event(2, &[]);
        b.event(2, &[5]);
        let events = poll(&mut follower);
        assert_eq!(records(&events), vec![(2, TailPayload::Values(vec![5]))]);
        let TailEvent::Record(record) = &events[0] else {
            panic!()
        };
        assert_eq!(record.ring, "b.events");
        assert_eq!(record.thread, mmstats::os::tid());
    }

    #[test]
    fn spans_become_durations() {
        let dir = tempfile::tempdir().unwrap();
        let stats = StatsFile::builder("t").dir(dir.path()).create().unwrap();
        let ring = stats
            .event_ring(FieldSpec::new("events").capacity(16))
            .unwrap();
        {
            let _outer = ring.span(1, "outer");
            let _inner = ring.span(2, "inner");
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut follower = follow(
            &stats.path(),
            TailOptions {
                spans: true,
                ..TailOptions::default()
            },
        );
        let events = poll(&mut follower);
        let spans: Vec<&SpanDuration> = events
            .iter()
            .filter_map(|event| match event {
                TailEvent::Span(span) => Some(span),
                _ => None,
            })
            .collect();
        assert_eq!(spans.len(), 2);
        assert_eq!((spans[0].name.as_str(), spans[0].event), ("inner", 2));
        assert_eq!(spans[1].name, "outer");
        assert!(spans[0].duration_ns() >= 2_000_000);
        assert!(spans[1].duration_ns() >= spans[0].duration_ns());
        let text = format_text(&TailEvent::Span(spans[1].clone()), true).unwrap();
        assert!(text.contains("span \"outer\" took "), "{text}");
        // Raw enter and exit records are not printed in spans mode.
        assert!(
            events
                .iter()
                .filter(|e| matches!(e, TailEvent::Record(_)))
                .all(|e| format_text(e, true).is_none())
        );
        assert_eq!(to_json(&TailEvent::Span(spans[0].clone()))["type"], "span");
    }

    #[test]
    fn lost_exits_do_not_grow_memory() {
        let dir = tempfile::tempdir().unwrap();
        let stats = StatsFile::builder("t")
            .dir(dir.path())
            .size(1 << 20)
            .table_capacity(16)
            .create()
            .unwrap();
        let ring = stats
            .event_ring(FieldSpec::new("events").capacity(4096))
            .unwrap();
        for n in 0..1000 {
            ring.enter(1, &format!("span{n}"));
        }
        let mut follower = follow(
            &stats.path(),
            TailOptions {
                spans: true,
                max_open_spans: 10,
                ..TailOptions::default()
            },
        );
        poll(&mut follower);
        assert!(follower.open_spans.len() <= 10);
        assert!(follower.span_order.len() <= 1000);
    }

    #[test]
    fn retired_rings_end_and_new_ones_are_followed_from_their_start() {
        let dir = tempfile::tempdir().unwrap();
        let stats = StatsFile::builder("t")
            .dir(dir.path())
            .reuse_delay(Duration::ZERO)
            .create()
            .unwrap();
        let group = stats.dynamic_group("conn.1.");
        let ring = group
            .event_ring(FieldSpec::new("events").capacity(4))
            .unwrap();
        ring.event(1, &[1]);
        let mut follower = follow(
            &stats.path(),
            TailOptions {
                start: Start::Newest,
                ..TailOptions::default()
            },
        );
        assert_eq!(poll(&mut follower), vec![]);
        drop(ring);
        let events = poll(&mut follower);
        assert!(
            matches!(&events[..], [TailEvent::RingEnded { ring, .. }] if ring == "conn.1.events"),
            "{events:?}"
        );
        // The next connection's ring takes the slot; it is new, so it is
        // read from its first record.
        let next = stats
            .dynamic_group("conn.2.")
            .event_ring(FieldSpec::new("events").capacity(4))
            .unwrap();
        next.event(9, &[2]);
        let events = poll(&mut follower);
        assert_eq!(records(&events), vec![(1, TailPayload::Values(vec![2]))]);
    }

    #[test]
    fn archives_append_json_lines_and_refuse_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.jsonl");
        std::fs::write(&path, "{\"type\":\"earlier\"}\n").unwrap();
        let mut archive = Archive::open(&path).unwrap();
        archive
            .append(&TailEvent::Missed {
                path: "/x".into(),
                ring: "r".into(),
                count: 3,
            })
            .unwrap();
        archive.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "appended, not truncated");
        let second: Json = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["type"], "gap");
        use std::os::unix::fs::PermissionsExt;
        let fresh = dir.path().join("fresh.jsonl");
        drop(Archive::open(&fresh).unwrap());
        assert_eq!(
            std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let error = Archive::open(&link).unwrap_err();
        assert!(error.to_string().contains("link.jsonl"), "{error}");
    }

    #[test]
    fn run_stops_after_the_records_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let stats = StatsFile::builder("t").dir(dir.path()).create().unwrap();
        let ring = stats
            .event_ring(FieldSpec::new("events").capacity(8))
            .unwrap();
        ring.text(4, "a\u{1b}[31mb");
        ring.event(5, &[1, 2, 3]);
        ring.event(6, &[]);
        let archive = dir.path().join("a.jsonl");
        let mut out = Vec::new();
        let mut notes = Vec::new();
        let (totals, ok) = run(
            &RunOptions {
                tail: TailOptions {
                    paths: vec![dir.path().to_owned()],
                    ..TailOptions::default()
                },
                archive: Some(archive.clone()),
                max_records: Some(2),
                interval: Duration::from_millis(1),
                ..RunOptions::default()
            },
            &AtomicBool::new(false),
            &mut out,
            &mut notes,
        )
        .unwrap();
        assert!(ok);
        assert_eq!(totals.records, 2);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(":events #1 "), "{text}");
        assert!(text.contains("text=\"a\\u{1b}[31mb\""), "escaped: {text}");
        assert!(text.contains("values=[1, 2, 3]"), "{text}");
        assert!(!text.contains("event=6"), "stopped at the count: {text}");
        assert_eq!(
            std::fs::read_to_string(&archive).unwrap().lines().count(),
            2
        );
    }
}
