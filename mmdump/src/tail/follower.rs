//! [`Follower`]: finds the event rings of the files it is given, polls
//! them, and turns what it reads into [`TailEvent`]s.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Instant;

use mmstats_nostd::layout::EntryState;
use mmstats_nostd::{EntryError, FieldInfo, Kind, OpenError, ReadError, RingCursor, RingEvent};

use crate::dump::discover;
use mmstats::{Labels, ReadFailure, ReadFileError, RegionReader};

use super::{SpanDuration, Start, TailEvent, TailOptions, TailPayload, TailRecord, TailTotals};

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

/// A span waiting for its exit: file, ring (name and labels), thread,
/// span id.
type SpanKey = (PathBuf, String, Labels, u64, u64);
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
    pub(super) open_spans: HashMap<SpanKey, OpenSpan>,
    pub(super) span_order: VecDeque<SpanKey>,
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
                            labels: ring.info.labels.clone(),
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
                        labels: ring.info.labels.clone(),
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
                    record.labels.clone(),
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
                    record.labels.clone(),
                    record.thread,
                    *span,
                );
                if let Some((event, name, start_ns)) = self.open_spans.remove(&key) {
                    sink(TailEvent::Span(SpanDuration {
                        path: record.path.clone(),
                        ring: record.ring.clone(),
                        labels: record.labels.clone(),
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
        labels: ring.info.labels.clone(),
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
        let labels = ring.info.labels.clone();
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
                        labels: labels.clone(),
                        count,
                    },
                    RingEvent::Record(record) => TailEvent::Record(TailRecord {
                        path: path.to_owned(),
                        ring: name.clone(),
                        labels: labels.clone(),
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
                    labels,
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
