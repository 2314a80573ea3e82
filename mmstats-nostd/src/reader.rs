//! The reader's side: validate a region, list its fields, read values.
//!
//! Every byte is treated as hostile. [`RegionView::open`] checks the
//! prologue, [`RegionView::entry`] checks an entry before anything uses its
//! offsets, and every load is bounds-checked by the [`WordSource`], so any
//! input gives values or a typed error: never a panic, never a read outside
//! the source. `docs/FORMAT.md` ("What a reader checks") lists the checks in
//! order; this file implements that list.
//!
//! Slots of a 2.1 region can be retired and reused (see [`crate::slot`]):
//! [`RegionView::entry`] and [`RegionView::read`] check the slot's `state`
//! and `id` before and after they load, so an entry and a value always
//! belong to the same field. A [`FieldInfo`] may be kept between reads:
//! `read` reports [`ReadError::SlotChanged`] once its slot holds another
//! field (or none), and the caller reads the entry again.
//!
//! # Bounded by what is really there
//!
//! A region's counts are claims, and a hostile or sparse file can claim
//! anything its length allows: four billion fields in a 1 TiB file that
//! holds 100 KiB of real data, the rest holes that read as zeros (and that
//! a reader faulting them in turns into real memory on tmpfs). A reader
//! therefore refuses, as an error for the region, a region longer than
//! [`MAX_READER_REGION_LEN`], more published fields than
//! [`MAX_READER_FIELDS`], and a published entry whose words are all zero
//! ([`OpenError::EmptyEntry`], [`EntryError::Empty`]): a writer stores an
//! entry (whose name is never empty) before it publishes the count that
//! covers it, so an all-zero entry below the count is a hole, never a
//! field. [`RegionView::field_count`] checks the last published entry,
//! so a forged count fails before anyone walks the table, and
//! [`RegionView::slot`] and [`RegionView::entry`] check each entry, so a
//! walk stops at the first hole: the entries a reader touches are the ones
//! a writer really wrote, plus one.

use crate::histogram::{HistogramShape, HistogramView};
use crate::kind::{Kind, Unit};
use crate::labels::{LabelError, Labels};
use crate::latch::{LatchError, LatchLocation, read_latch};
use crate::layout::{
    ByteOrder, DESC_MAX, ENTRY_ID_WORD, ENTRY_STATE_WORD, ENTRY_WORDS, EntryRecord, EntryState,
    FIELD_COUNT_WORD, FLAG_DYNAMIC, GENERATION_WORD, HEARTBEAT_WORD, LABEL_WORDS, LABELS_OFFSET,
    MAGIC, MAJOR, MAX_BUFFERS, NAME_MAX, PROLOGUE_LEN, PROLOGUE_WORDS, Prologue, STATE_CLOSED,
    STATE_INITIALISING, STATE_READY, STATE_WORD,
};
use crate::ring::{RingCursor, RingError, RingEvent, RingLocation, RingPoll, RingShape};
use crate::slot::{SlotRead, read_slot};
use crate::source::WordSource;

/// Attempts a latch read makes before reporting the writer too fast.
pub const DEFAULT_MAX_TRIES: u32 = 1000;

/// Largest copy an entry of a kind this reader does not know may claim;
/// bounds the arithmetic on such entries.
const MAX_UNKNOWN_COPY_WORDS: usize = 1 << 24;

/// Times [`RegionView::entry`] re-reads a slot that changed while it read
/// it before reporting the slot as not live for now.
const ENTRY_TRIES: u32 = 8;

/// Most published fields a reader accepts in one region; a region whose
/// header claims more is refused ([`OpenError::TooManyFields`]). At 256
/// bytes an entry, that is a 64 MiB field table (96 MiB at 384 bytes, with
/// room for labels): room for the 100,000 fields of one file that the
/// benchmarks read.
pub const MAX_READER_FIELDS: usize = 262_144;

/// Longest region a reader accepts, in bytes (1 GiB); a region whose
/// header claims more is refused ([`OpenError::TooLarge`]). The largest
/// value a writer can place (an event ring of the most records of the
/// largest payload) is about 280 MiB.
pub const MAX_READER_REGION_LEN: u64 = 1 << 30;

/// Why a region's prologue was not trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// Fewer bytes than a prologue.
    TooShort {
        /// Bytes available.
        len: usize,
    },
    /// The first eight bytes are not the format-2 magic.
    BadMagic,
    /// The byte-order mark is neither order.
    BadByteOrder {
        /// The mark as loaded.
        mark: u32,
    },
    /// A major version this reader does not implement.
    UnsupportedVersion {
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
    /// The writer has not finished initialising (retry shortly), or is
    /// re-initialising.
    NotReady,
    /// The state word holds no defined state.
    BadState {
        /// The value found.
        state: u64,
    },
    /// A prologue field is inconsistent; the text names it.
    BadHeader {
        /// What is wrong.
        reason: &'static str,
    },
    /// The region says it is longer than the bytes available.
    Truncated {
        /// Length the prologue claims.
        region_len: u64,
        /// Bytes available.
        available: u64,
    },
    /// The header claims a region longer than [`MAX_READER_REGION_LEN`].
    TooLarge {
        /// Length the prologue claims.
        region_len: u64,
        /// The reader's limit.
        limit: u64,
    },
    /// The header publishes more fields than [`MAX_READER_FIELDS`].
    TooManyFields {
        /// Fields the header claims.
        count: u64,
        /// The reader's limit.
        limit: usize,
    },
    /// An entry below the published field count is all zeros: a forged
    /// count, or a hole of a sparse file, never a field a writer stored.
    EmptyEntry {
        /// The empty entry.
        index: usize,
        /// Fields the header claims.
        count: u64,
    },
}

impl core::fmt::Display for OpenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooShort { len } => write!(
                f,
                "{len} bytes is shorter than the {PROLOGUE_LEN}-byte format-2 prologue"
            ),
            Self::BadMagic => f.write_str("not a format-2 region (bad magic)"),
            Self::BadByteOrder { mark } => write!(f, "unknown byte-order mark {mark:#010x}"),
            Self::UnsupportedVersion { major, minor } => write!(
                f,
                "format version {major}.{minor} is not supported (this reader reads {MAJOR}.x)"
            ),
            Self::NotReady => f.write_str("region is still being initialised by its writer"),
            Self::BadState { state } => write!(f, "state word holds undefined value {state}"),
            Self::BadHeader { reason } => write!(f, "corrupt header: {reason}"),
            Self::Truncated {
                region_len,
                available,
            } => write!(
                f,
                "truncated: header says {region_len} bytes, only {available} are present"
            ),
            Self::TooLarge { region_len, limit } => write!(
                f,
                "header claims a {region_len}-byte region, more than this reader's limit of {limit} bytes"
            ),
            Self::TooManyFields { count, limit } => write!(
                f,
                "header claims {count} fields, more than this reader's limit of {limit}"
            ),
            Self::EmptyEntry { index, count } => write!(
                f,
                "header claims {count} fields but entry {index} is empty (all zeros: a forged header or a hole in a sparse file)"
            ),
        }
    }
}

impl core::error::Error for OpenError {}

/// Why a field-table entry was not trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryError {
    /// The index is not below the published field count and capacity.
    NoSuchEntry {
        /// Index asked for.
        index: usize,
    },
    /// The entry's words are not all inside the source.
    OutOfBounds {
        /// Entry index.
        index: usize,
    },
    /// An entry field is inconsistent; the text names it.
    Corrupt {
        /// Entry index.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The entry is below the published field count but all its words are
    /// zero (see [`OpenError::EmptyEntry`]): stop walking the table.
    Empty {
        /// Entry index.
        index: usize,
    },
    /// The entry's labels (format 2.2) are malformed or do not fit in the
    /// entry: a problem of this field only.
    BadLabels {
        /// Entry index.
        index: usize,
        /// What is wrong.
        error: LabelError,
    },
}

impl core::fmt::Display for EntryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoSuchEntry { index } => write!(f, "field {index} does not exist"),
            Self::OutOfBounds { index } => write!(f, "field {index} lies outside the region"),
            Self::Corrupt { index, reason } => write!(f, "field {index} is corrupt: {reason}"),
            Self::Empty { index } => write!(
                f,
                "field {index} is empty (all zeros) although the header publishes it"
            ),
            Self::BadLabels { index, error } => {
                write!(f, "field {index} has invalid labels: {error}")
            }
        }
    }
}

impl core::error::Error for EntryError {}

/// Why a value could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadError {
    /// The field's kind is unknown to this reader (skip it).
    UnknownKind {
        /// Kind code.
        code: u16,
    },
    /// A word of the value is outside the source.
    OutOfBounds,
    /// The scratch buffer is smaller than [`FieldInfo::scratch_words`].
    BufferTooSmall,
    /// The writer kept overwriting the value (see [`LatchError`]).
    WriterTooFast {
        /// Attempts made.
        tries: u32,
    },
    /// A string's length word exceeds its capacity.
    BadLength {
        /// Length found.
        len: u64,
        /// Capacity of the field.
        capacity: u64,
    },
    /// A string's bytes are not UTF-8.
    InvalidUtf8,
    /// The field's slot was retired or now holds another field (format
    /// 2.1): read the entry again.
    SlotChanged,
    /// The operation needs another kind (polling a field that is not an
    /// event ring).
    WrongKind {
        /// Kind code of the field.
        code: u16,
    },
    /// An event ring's head went back below the reader's position: the
    /// ring was re-created; start a new cursor.
    RingReset {
        /// Records the ring holds now.
        head: u64,
        /// Sequence number the cursor wanted.
        next: u64,
    },
}

impl core::fmt::Display for ReadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::UnknownKind { code } => write!(f, "unknown kind {code}"),
            Self::OutOfBounds => f.write_str("value lies outside the region"),
            Self::BufferTooSmall => f.write_str("scratch buffer too small for the value"),
            Self::WriterTooFast { tries } => write!(
                f,
                "writer overwrote the value during each of {tries} read attempts"
            ),
            Self::BadLength { len, capacity } => {
                write!(f, "string length {len} exceeds its capacity {capacity}")
            }
            Self::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            Self::SlotChanged => {
                f.write_str("field was retired or its slot reused while it was read")
            }
            Self::WrongKind { code } => write!(f, "field of kind {code} is not an event ring"),
            Self::RingReset { head, next } => write!(
                f,
                "event ring went back to {head} records while the reader was at {next}"
            ),
        }
    }
}

impl core::error::Error for ReadError {}

impl From<RingError> for ReadError {
    fn from(error: RingError) -> Self {
        match error {
            RingError::OutOfBounds => Self::OutOfBounds,
            RingError::BufferTooSmall => Self::BufferTooSmall,
            RingError::Reset { head, next } => Self::RingReset { head, next },
        }
    }
}

impl From<LatchError> for ReadError {
    fn from(error: LatchError) -> Self {
        match error {
            LatchError::OutOfBounds => Self::OutOfBounds,
            LatchError::BufferTooSmall => Self::BufferTooSmall,
            LatchError::WriterTooFast { tries } => Self::WriterTooFast { tries },
        }
    }
}

/// The region's state word, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionState {
    /// Being (re)initialised.
    Initialising,
    /// Live.
    Ready,
    /// Closed by its writer.
    Closed,
    /// Not a defined state.
    Invalid(u64),
}

impl RegionState {
    const fn from_word(word: u64) -> Self {
        match word {
            STATE_INITIALISING => Self::Initialising,
            STATE_READY => Self::Ready,
            STATE_CLOSED => Self::Closed,
            other => Self::Invalid(other),
        }
    }
}

/// A validated field-table entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldInfo {
    /// Position in the field table.
    pub index: usize,
    /// Registration id.
    pub id: u64,
    /// Name, label prefix included.
    pub name: heapless::String<NAME_MAX>,
    /// Labels (format 2.2; empty for older regions and unlabelled fields).
    /// A field is identified by its name and its labels together.
    pub labels: Labels,
    /// One-line description.
    pub description: heapless::String<DESC_MAX>,
    /// The kind, if this reader knows the code.
    pub kind: Option<Kind>,
    /// The kind code as stored.
    pub kind_code: u16,
    /// The unit, if this reader knows the code.
    pub unit: Option<Unit>,
    /// The unit code as stored.
    pub unit_code: u16,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// 1 for a single word, else the number of latch copies.
    pub buffers: usize,
    /// Words per copy.
    pub copy_words: usize,
    /// Kind-specific parameter (string capacity, histogram shape, ...).
    pub param: u64,
    /// Word index of the value in the source.
    pub value_word: usize,
    /// Words the value occupies (checked to lie in the value area).
    pub value_words: usize,
    /// Word index of the entry in the source (its `state`; `id` follows).
    pub entry_word: usize,
}

impl FieldInfo {
    /// Words of scratch space [`RegionView::read`] needs for this field
    /// (a histogram's summary and buckets; a ring record for
    /// [`RegionView::poll_ring`]).
    #[must_use]
    pub const fn scratch_words(&self) -> usize {
        self.copy_words
    }

    /// Whether the field is dynamic (its slot may be retired and reused).
    #[must_use]
    pub const fn is_dynamic(&self) -> bool {
        self.flags & FLAG_DYNAMIC != 0
    }

    /// A histogram's bucket layout.
    #[must_use]
    pub const fn histogram_shape(&self) -> Option<HistogramShape> {
        match self.kind {
            Some(Kind::Histogram) => HistogramShape::from_param(self.param),
            _ => None,
        }
    }

    /// An event ring's capacity and record size.
    #[must_use]
    pub const fn ring_shape(&self) -> Option<RingShape> {
        match self.kind {
            Some(Kind::EventRing) => RingShape::from_param(self.param),
            _ => None,
        }
    }
}

/// A value read from a region. Strings borrow the caller's scratch buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'b> {
    /// [`Kind::Counter`].
    Counter(u64),
    /// [`Kind::Gauge`].
    Gauge(i64),
    /// [`Kind::Float`].
    Float(f64),
    /// [`Kind::Bool`].
    Bool(bool),
    /// [`Kind::Timestamp`], nanoseconds since the Unix epoch.
    Timestamp(u64),
    /// [`Kind::String`].
    Text(&'b str),
    /// [`Kind::Average`].
    Average {
        /// Sum of the samples.
        sum: f64,
        /// Number of samples.
        count: u64,
    },
    /// [`Kind::Histogram`]; the buckets borrow the scratch buffer.
    Histogram(HistogramView<'b>),
    /// [`Kind::MovingAverage`]: the mean of the last `window` samples is
    /// `sum / count`.
    MovingAverage {
        /// Sum of the samples in the window.
        sum: f64,
        /// Samples in the window (at most `window`).
        count: u64,
        /// Samples ever added.
        total: u64,
        /// Window size N.
        window: u64,
    },
    /// [`Kind::WindowAverage`]: the mean over the last `window` ticks, as
    /// of `as_of`, is `sum / count`.
    WindowAverage {
        /// Sum of the samples in the window.
        sum: f64,
        /// Samples in the window.
        count: u64,
        /// Samples ever recorded.
        total: u64,
        /// Writer's clock at the last update (std: monotonic nanoseconds).
        as_of: u64,
        /// Window length, in the writer's clock ticks.
        window: u64,
    },
    /// [`Kind::EventRing`]: how far it got; follow it with
    /// [`RegionView::poll_ring`].
    EventRing {
        /// Records appended so far.
        appended: u64,
        /// Capacity and record size.
        shape: RingShape,
    },
}

impl Value<'static> {
    /// The value of a single-word kind whose word (already in this
    /// machine's byte order) is `word`; `None` for a multi-word kind.
    #[inline]
    #[must_use]
    pub const fn from_word(kind: Kind, word: u64) -> Option<Self> {
        Some(match kind {
            Kind::Counter => Self::Counter(word),
            Kind::Gauge => Self::Gauge(word as i64),
            Kind::Float => Self::Float(f64::from_bits(word)),
            Kind::Bool => Self::Bool(word != 0),
            Kind::Timestamp => Self::Timestamp(word),
            _ => return None,
        })
    }
}

/// A validated view of one region in a [`WordSource`].
#[derive(Debug)]
pub struct RegionView<'s, S: WordSource + ?Sized> {
    source: &'s S,
    base: usize,
    order: ByteOrder,
    prologue: Prologue,
}

impl<'s, S: WordSource + ?Sized> RegionView<'s, S> {
    /// Validates the region starting at word 0 of `source`.
    pub fn open(source: &'s S) -> Result<Self, OpenError> {
        Self::open_at(source, 0)
    }

    /// Validates the region starting at word `base` of `source` (a region
    /// found inside a larger memory image).
    pub fn open_at(source: &'s S, base: usize) -> Result<Self, OpenError> {
        let available_words = source.word_len().saturating_sub(base);
        if available_words < PROLOGUE_WORDS {
            return Err(OpenError::TooShort {
                len: available_words * 8,
            });
        }
        let load = |index: usize| {
            base.checked_add(index)
                .and_then(|at| source.load(at))
                .ok_or(OpenError::TooShort {
                    len: available_words * 8,
                })
        };
        if load(0)? != u64::from_ne_bytes(MAGIC) {
            return Err(OpenError::BadMagic);
        }
        // The generation first, then an acquire fence, then the state: if
        // the generation loaded is a re-creation's (a word stored after the
        // writer's release fence), the state load sees that re-creation's
        // "initialising" or its READY, never the old READY.
        let raw_generation = load(GENERATION_WORD)?;
        source.acquire_fence();
        // The state word, then an acquire fence, then the rest: if the
        // state says READY, the fence pairs with the writer's Release store
        // of it and every prologue word below is the complete one.
        let raw_state = load(STATE_WORD)?;
        // "Initialising" is 0 in either byte order: stop before loading a
        // prologue that is being written (whatever it holds, nothing in it
        // can be trusted yet). Besides saving the loads, this keeps the
        // loom model of a reader meeting a region under construction small.
        if raw_state == STATE_INITIALISING {
            return Err(OpenError::NotReady);
        }
        source.acquire_fence();
        let mut words = [0u64; PROLOGUE_WORDS];
        for (index, slot) in words.iter_mut().enumerate() {
            *slot = load(index)?;
        }
        words[STATE_WORD] = raw_state;
        // A generation that moved while the words were loaded: the region
        // is being re-created under us (retry).
        if words[GENERATION_WORD] != raw_generation {
            return Err(OpenError::NotReady);
        }
        let mut prologue = Prologue::from_words(words);
        let order = ByteOrder::from_mark(prologue.byte_order).ok_or(OpenError::BadByteOrder {
            mark: prologue.byte_order,
        })?;
        if order == ByteOrder::Swapped {
            prologue.swap_numbers();
        }
        if prologue.major != MAJOR {
            return Err(OpenError::UnsupportedVersion {
                major: prologue.major,
                minor: prologue.minor,
            });
        }
        match RegionState::from_word(prologue.state) {
            RegionState::Ready | RegionState::Closed => {}
            RegionState::Initialising => return Err(OpenError::NotReady),
            RegionState::Invalid(state) => return Err(OpenError::BadState { state }),
        }
        check_prologue(&prologue, available_words as u64 * 8)?;
        let view = Self {
            source,
            base,
            order,
            prologue,
        };
        // A re-creation that began after the state load may have rewritten
        // some of the words above (mixing two prologues that each pass the
        // checks): the same check as after reading values catches it, with
        // the generation loaded first as the reference.
        if view.still_valid() {
            Ok(view)
        } else {
            Err(OpenError::NotReady)
        }
    }

    /// The prologue as read at open time (numbers in this machine's order).
    #[must_use]
    pub const fn prologue(&self) -> &Prologue {
        &self.prologue
    }

    /// The byte order of the region relative to this machine.
    #[must_use]
    pub const fn byte_order(&self) -> ByteOrder {
        self.order
    }

    /// Word index in the source where the region starts.
    #[must_use]
    pub const fn base(&self) -> usize {
        self.base
    }

    fn load_fixed(&self, word: usize) -> Option<u64> {
        self.base
            .checked_add(word)
            .and_then(|at| self.source.load(at))
            .map(|raw| self.order.fix(raw))
    }

    /// The state word, loaded now.
    #[must_use]
    pub fn state(&self) -> RegionState {
        self.load_fixed(STATE_WORD)
            .map_or(RegionState::Invalid(u64::MAX), RegionState::from_word)
    }

    /// The heartbeat word, loaded now (nanoseconds since the Unix epoch).
    #[must_use]
    pub fn heartbeat_ns(&self) -> u64 {
        self.load_fixed(HEARTBEAT_WORD).unwrap_or(0)
    }

    /// Whether everything read since [`RegionView::open`] still belongs to
    /// the same region: the state is ready or closed and the generation has
    /// not moved. Call it after reading values; if it says no, reopen.
    #[must_use]
    pub fn still_valid(&self) -> bool {
        // Acquire: pairs with the Release fence a writer issues after
        // marking a region "initialising" and before rewriting it; if any
        // value read before this point came from a rewrite, the loads
        // below see the new state or generation.
        self.source.acquire_fence();
        let state = self.state();
        // Acquire again, between the two loads: if the state load read the
        // READY of a re-creation (a Release store), the new generation,
        // stored before it, is visible to the load below. Without this
        // fence the generation may be loaded stale next to the new READY,
        // and values of the re-created region pass for the old one (the
        // loom model `recreation_is_noticed_by_still_valid` finds that
        // interleaving).
        self.source.acquire_fence();
        matches!(state, RegionState::Ready | RegionState::Closed)
            && self.load_fixed(GENERATION_WORD) == Some(self.prologue.generation)
    }

    /// Number of published entries, loaded now.
    pub fn field_count(&self) -> Result<usize, OpenError> {
        let count = self
            .load_fixed(FIELD_COUNT_WORD)
            .ok_or(OpenError::TooShort {
                len: self.source.word_len().saturating_sub(self.base) * 8,
            })?;
        // Acquire: pairs with the writer's Release store of the count, so
        // entries below it (and their initial values) are complete.
        self.source.acquire_fence();
        if count > self.prologue.table_capacity {
            return Err(OpenError::BadHeader {
                reason: "field count exceeds table capacity",
            });
        }
        let limited = usize::try_from(count)
            .ok()
            .filter(|&n| n <= MAX_READER_FIELDS)
            .ok_or(OpenError::TooManyFields {
                count,
                limit: MAX_READER_FIELDS,
            })?;
        // The last published entry, checked before anyone walks the table:
        // a count forged past the entries really written points at zeros.
        if let Some(last) = limited.checked_sub(1) {
            match self.entry_is_empty(last) {
                Ok(false) => {}
                Ok(true) => return Err(OpenError::EmptyEntry { index: last, count }),
                Err(_) => {
                    return Err(OpenError::BadHeader {
                        reason: "field table extends past the end of the region",
                    });
                }
            }
        }
        Ok(limited)
    }

    /// Whether entry `index` is all zeros (32 loads; only ever asked of an
    /// entry that is not live, or of the last published one).
    fn entry_is_empty(&self, index: usize) -> Result<bool, EntryError> {
        let first = self.entry_word(index)?;
        for offset in 0..ENTRY_WORDS {
            let word = first
                .checked_add(offset)
                .and_then(|at| self.load_fixed(at))
                .ok_or(EntryError::OutOfBounds { index })?;
            if word != 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The state and registration id of slot `index`, loaded now (no
    /// validation of the rest of the entry).
    pub fn slot(&self, index: usize) -> Result<(EntryState, u64), EntryError> {
        let entry_word = self.entry_word(index)?;
        let state = self
            .load_fixed(entry_word + ENTRY_STATE_WORD)
            .ok_or(EntryError::OutOfBounds { index })?;
        let id = self
            .load_fixed(entry_word + ENTRY_ID_WORD)
            .ok_or(EntryError::OutOfBounds { index })?;
        // A free slot with id 0 is being rewritten, or is a hole: the rest
        // of a rewritten entry still holds a name, a hole holds nothing.
        if state == 0 && id == 0 && self.entry_is_empty(index)? {
            return Err(EntryError::Empty { index });
        }
        Ok((EntryState::from_word(state), id))
    }

    /// Word index (from the region's start) of entry `index`.
    fn entry_word(&self, index: usize) -> Result<usize, EntryError> {
        if index as u64 >= self.prologue.table_capacity {
            return Err(EntryError::NoSuchEntry { index });
        }
        let p = &self.prologue;
        // Checked by check_prologue: the table fits in the region, so this
        // arithmetic cannot overflow.
        let first = (p.table_offset + index as u64 * u64::from(p.entry_len)) / 8;
        usize::try_from(first).map_err(|_| EntryError::OutOfBounds { index })
    }

    /// The entry at `index`, validated. `Ok(None)` for a slot that is not
    /// live (free, retired, being rewritten, or rewritten again and again
    /// while this reads it). Call [`RegionView::field_count`] first:
    /// entries at or past the count are refused.
    ///
    /// The entry is read under the slot protocol ([`crate::slot`]): the
    /// words returned all belong to one field.
    pub fn entry(&self, index: usize) -> Result<Option<FieldInfo>, EntryError> {
        let first = self.entry_word(index)?;
        let entry_word = self
            .base
            .checked_add(first)
            .ok_or(EntryError::OutOfBounds { index })?;
        for _ in 0..ENTRY_TRIES {
            let read = read_slot(self.source, entry_word, self.order, None, |_| {
                let mut words = [0u64; ENTRY_WORDS + LABEL_WORDS];
                for (offset, slot) in words[..ENTRY_WORDS].iter_mut().enumerate() {
                    *slot = self.source.load(entry_word + offset)?;
                }
                // The label bytes are part of the entry, so they are read
                // under the same slot check. At most LABEL_WORDS loads,
                // and only words inside this entry's `entry_len`; a longer
                // claim is refused by check_entry.
                let label_words = self.label_words(&words);
                for offset in 0..label_words {
                    words[ENTRY_WORDS + offset] =
                        self.source.load(entry_word + ENTRY_WORDS + offset)?;
                }
                Some(words)
            });
            match read {
                SlotRead::Live {
                    value: Some(words), ..
                } => return self.check_entry(index, entry_word, words).map(Some),
                SlotRead::Live { value: None, .. } | SlotRead::OutOfBounds => {
                    return Err(EntryError::OutOfBounds { index });
                }
                SlotRead::NotLive(_) => {
                    if self.entry_is_empty(index)? {
                        return Err(EntryError::Empty { index });
                    }
                    return Ok(None);
                }
                SlotRead::Changed => {}
            }
        }
        Ok(None)
    }

    /// The entry's `labels_len`, in this machine's order.
    fn labels_len(&self, words: &[u64; ENTRY_WORDS + LABEL_WORDS]) -> usize {
        // Word 5 holds desc_len, labels_len and copy_words; decoding the
        // record is the one place that knows where in the word it is.
        let mut fixed = [0u64; ENTRY_WORDS];
        fixed.copy_from_slice(&words[..ENTRY_WORDS]);
        let mut entry = EntryRecord::from_words(fixed);
        if self.order == ByteOrder::Swapped {
            entry.swap_numbers();
        }
        usize::from(entry.labels_len)
    }

    /// Words of label bytes to load after the fixed entry: what
    /// `labels_len` asks for, cut to what the entry and the limit hold.
    fn label_words(&self, words: &[u64; ENTRY_WORDS + LABEL_WORDS]) -> usize {
        let room = (self.prologue.entry_len as usize).saturating_sub(LABELS_OFFSET) / 8;
        self.labels_len(words)
            .div_ceil(8)
            .min(room)
            .min(LABEL_WORDS)
    }

    /// The checks of `docs/FORMAT.md` §8 on one live entry's words.
    fn check_entry(
        &self,
        index: usize,
        entry_word: usize,
        words: [u64; ENTRY_WORDS + LABEL_WORDS],
    ) -> Result<FieldInfo, EntryError> {
        let corrupt = |reason| EntryError::Corrupt { index, reason };
        let p = &self.prologue;
        let mut fixed = [0u64; ENTRY_WORDS];
        fixed.copy_from_slice(&words[..ENTRY_WORDS]);
        let mut entry = EntryRecord::from_words(fixed);
        if self.order == ByteOrder::Swapped {
            entry.swap_numbers();
        }

        let name_len = usize::from(entry.name_len);
        if name_len == 0 || name_len > NAME_MAX {
            return Err(corrupt("name length out of range"));
        }
        let name = core::str::from_utf8(&entry.name[..name_len])
            .map_err(|_| corrupt("name is not UTF-8"))?;
        if name.chars().any(char::is_control) {
            return Err(corrupt("name holds a control character"));
        }
        let desc_len = usize::from(entry.desc_len);
        if desc_len > DESC_MAX {
            return Err(corrupt("description length out of range"));
        }
        let description = core::str::from_utf8(&entry.desc[..desc_len])
            .map_err(|_| corrupt("description is not UTF-8"))?;
        if description.chars().any(char::is_control) {
            return Err(corrupt("description holds a control character"));
        }

        let labels_len = usize::from(entry.labels_len);
        if labels_len > 0 {
            let room = (p.entry_len as usize).saturating_sub(LABELS_OFFSET);
            if labels_len > room || labels_len > LABEL_WORDS * 8 {
                return Err(EntryError::BadLabels {
                    index,
                    error: LabelError::TooLong { len: labels_len },
                });
            }
        }
        let mut label_bytes = [0u8; LABEL_WORDS * 8];
        for (chunk, word) in label_bytes.chunks_exact_mut(8).zip(&words[ENTRY_WORDS..]) {
            // Byte strings are stored in memory order, never swapped.
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        let labels = Labels::from_bytes(&label_bytes[..labels_len])
            .map_err(|error| EntryError::BadLabels { index, error })?;

        let buffers = usize::from(entry.buffers);
        if buffers == 0 || buffers > MAX_BUFFERS {
            return Err(corrupt("buffer count out of range"));
        }
        let copy_words = entry.copy_words as usize;
        let kind = Kind::from_code(entry.kind);
        let value_words = match kind {
            Some(kind) => kind
                .check_entry(buffers, copy_words, entry.param)
                .map_err(corrupt)?,
            None => {
                if copy_words == 0 || copy_words > MAX_UNKNOWN_COPY_WORDS {
                    return Err(corrupt("copy size out of range"));
                }
                // Bounded above: buffers <= 16 and copy_words <= 2^24.
                if buffers == 1 {
                    copy_words
                } else {
                    1 + buffers * copy_words
                }
            }
        };
        let value_bytes = value_words as u64 * 8;
        if !entry.value_offset.is_multiple_of(8) {
            return Err(corrupt("value offset is not 8-byte aligned"));
        }
        if value_bytes > u64::from(entry.value_len) {
            return Err(corrupt("value is longer than its reserved length"));
        }
        let data_end = p.data_offset + p.data_len;
        let value_end = entry
            .value_offset
            .checked_add(u64::from(entry.value_len))
            .ok_or(corrupt("value offset overflows"))?;
        if entry.value_offset < p.data_offset || value_end > data_end {
            return Err(corrupt("value lies outside the value area"));
        }
        let value_word = usize::try_from(entry.value_offset / 8)
            .ok()
            .and_then(|w| w.checked_add(self.base))
            .ok_or(EntryError::OutOfBounds { index })?;

        let mut info = FieldInfo {
            index,
            id: entry.id,
            name: heapless::String::new(),
            labels,
            description: heapless::String::new(),
            kind,
            kind_code: entry.kind,
            unit: Unit::from_code(entry.unit),
            unit_code: entry.unit,
            flags: entry.flags,
            buffers,
            copy_words,
            param: entry.param,
            value_word,
            value_words,
            entry_word,
        };
        // Both fit: their lengths were checked against the capacities.
        info.name
            .push_str(name)
            .map_err(|_| corrupt("name length out of range"))?;
        info.description
            .push_str(description)
            .map_err(|_| corrupt("description length out of range"))?;
        Ok(info)
    }

    /// Reads the value of `field` (from [`RegionView::entry`] on this
    /// view), using `scratch` for multi-word kinds (at least
    /// [`FieldInfo::scratch_words`] words). Retries a latch read at most
    /// `max_tries` times ([`DEFAULT_MAX_TRIES`] is a good choice).
    ///
    /// The slot's state and id are checked around the read:
    /// [`ReadError::SlotChanged`] means the field was retired or its slot
    /// reused since `field` was read; read the entry again.
    pub fn read<'b>(
        &self,
        field: &FieldInfo,
        scratch: &'b mut [u64],
        max_tries: u32,
    ) -> Result<Value<'b>, ReadError> {
        let kind = field.kind.ok_or(ReadError::UnknownKind {
            code: field.kind_code,
        })?;
        match read_slot(
            self.source,
            field.entry_word,
            self.order,
            Some(field.id),
            |_| self.read_value(field, kind, scratch, max_tries),
        ) {
            SlotRead::Live { value, .. } => value,
            SlotRead::NotLive(_) | SlotRead::Changed => Err(ReadError::SlotChanged),
            SlotRead::OutOfBounds => Err(ReadError::OutOfBounds),
        }
    }

    /// The word at `index` of the source (an absolute index, such as
    /// [`FieldInfo::value_word`]), in this machine's byte order: a
    /// `Relaxed` load, bounds-checked.
    #[inline]
    #[must_use]
    pub fn load_word(&self, index: usize) -> Option<u64> {
        self.source.load(index).map(|raw| self.order.fix(raw))
    }

    /// Reads the value of a field from an entry the caller cached, without
    /// the slot checks of [`RegionView::read`] when the field is not
    /// dynamic: a slot without the dynamic flag is never retired or reused
    /// within a generation (`docs/FORMAT.md` §6.1), so its cached entry stays
    /// true and one load (or one latch read) is all a value costs. A dynamic
    /// field goes through [`RegionView::read`]. Check
    /// [`RegionView::still_valid`] after a batch of reads, as always.
    pub fn read_cached<'b>(
        &self,
        field: &FieldInfo,
        scratch: &'b mut [u64],
        max_tries: u32,
    ) -> Result<Value<'b>, ReadError> {
        if field.is_dynamic() {
            return self.read(field, scratch, max_tries);
        }
        let kind = field.kind.ok_or(ReadError::UnknownKind {
            code: field.kind_code,
        })?;
        self.read_value(field, kind, scratch, max_tries)
    }

    /// Copies the records an event ring received since `cursor` last
    /// polled it (at most `max`), in order, into `f`, with
    /// [`RingEvent::Missed`] for every stretch the writer overwrote first.
    /// `scratch` holds one record ([`FieldInfo::scratch_words`]).
    ///
    /// [`ReadError::SlotChanged`] means the ring was retired or its slot
    /// reused (records handed to `f` in this call may then belong to the
    /// new field); [`ReadError::RingReset`] that the ring was re-created.
    pub fn poll_ring(
        &self,
        field: &FieldInfo,
        cursor: &mut RingCursor,
        scratch: &mut [u64],
        max: u64,
        f: impl FnMut(RingEvent<'_>),
    ) -> Result<RingPoll, ReadError> {
        let shape = field.ring_shape().ok_or(ReadError::WrongKind {
            code: field.kind_code,
        })?;
        let location = RingLocation {
            head_word: field.value_word,
            shape,
            order: self.order,
        };
        match read_slot(
            self.source,
            field.entry_word,
            self.order,
            Some(field.id),
            |_| cursor.poll(self.source, location, scratch, max, f),
        ) {
            SlotRead::Live { value, .. } => value.map_err(ReadError::from),
            SlotRead::NotLive(_) | SlotRead::Changed => Err(ReadError::SlotChanged),
            SlotRead::OutOfBounds => Err(ReadError::OutOfBounds),
        }
    }

    fn read_value<'b>(
        &self,
        field: &FieldInfo,
        kind: Kind,
        scratch: &'b mut [u64],
        max_tries: u32,
    ) -> Result<Value<'b>, ReadError> {
        let load = |word: usize| {
            self.source
                .load(word)
                .map(|raw| self.order.fix(raw))
                .ok_or(ReadError::OutOfBounds)
        };
        let single = || load(field.value_word);
        let location = LatchLocation {
            seq_index: field.value_word,
            buffers: field.buffers,
            copy_words: field.copy_words,
            order: self.order,
        };
        let order = self.order;
        // The first `N` words of a consistent latch copy, byte-swapped.
        let fixed = |scratch: &[u64], n: usize| -> Result<[u64; 4], ReadError> {
            let mut out = [0u64; 4];
            for (slot, word) in out
                .iter_mut()
                .zip(scratch.get(..n).ok_or(ReadError::BufferTooSmall)?)
            {
                *slot = order.fix(*word);
            }
            Ok(out)
        };
        Ok(match kind {
            Kind::Counter | Kind::Gauge | Kind::Float | Kind::Bool | Kind::Timestamp => {
                Value::from_word(kind, single()?).ok_or(ReadError::WrongKind {
                    code: field.kind_code,
                })?
            }
            Kind::Average => {
                let scratch = self.read_copy(location, max_tries, scratch, |_| 2)?;
                let [sum, count, ..] = fixed(scratch, 2)?;
                Value::Average {
                    sum: f64::from_bits(sum),
                    count,
                }
            }
            Kind::String => {
                let capacity = field.param;
                let scratch = self.read_copy(location, max_tries, scratch, |first| {
                    let len = order.fix(first).min(capacity);
                    1 + (len as usize).div_ceil(8)
                })?;
                let len = order.fix(scratch[0]);
                if len > capacity {
                    return Err(ReadError::BadLength { len, capacity });
                }
                let len = len as usize;
                let words: &'b [u64] = scratch
                    .get(1..1 + len.div_ceil(8))
                    .ok_or(ReadError::BufferTooSmall)?;
                let bytes = bytemuck::cast_slice::<u64, u8>(words)
                    .get(..len)
                    .ok_or(ReadError::BufferTooSmall)?;
                Value::Text(core::str::from_utf8(bytes).map_err(|_| ReadError::InvalidUtf8)?)
            }
            Kind::Histogram => {
                let shape = field.histogram_shape().ok_or(ReadError::OutOfBounds)?;
                let words = scratch
                    .get_mut(..field.copy_words)
                    .ok_or(ReadError::BufferTooSmall)?;
                for (offset, word) in words.iter_mut().enumerate() {
                    // Relaxed, one load per word: see crate::histogram for
                    // what a snapshot taken during recording may show.
                    *word = load(field.value_word + offset)?;
                }
                let words: &'b [u64] = words;
                let (summary, buckets) = words.split_at(crate::histogram::SUMMARY_WORDS);
                Value::Histogram(HistogramView {
                    shape,
                    count: summary[0],
                    sum: summary[1],
                    min: summary[2],
                    max: summary[3],
                    buckets,
                })
            }
            Kind::MovingAverage => {
                let scratch = self.read_copy(location, max_tries, scratch, |_| 3)?;
                let [sum, count, total, _] = fixed(scratch, 3)?;
                Value::MovingAverage {
                    sum: f64::from_bits(sum),
                    count,
                    total,
                    window: field.param,
                }
            }
            Kind::WindowAverage => {
                let scratch = self.read_copy(location, max_tries, scratch, |_| 4)?;
                let [sum, count, total, as_of] = fixed(scratch, 4)?;
                // The window length follows the latch cell; it never changes.
                let window = load(field.value_word + 1 + field.buffers * field.copy_words)?;
                Value::WindowAverage {
                    sum: f64::from_bits(sum),
                    count,
                    total,
                    as_of,
                    window,
                }
            }
            Kind::EventRing => Value::EventRing {
                appended: single()?,
                shape: field.ring_shape().ok_or(ReadError::OutOfBounds)?,
            },
        })
    }
}

impl<S: WordSource + ?Sized> RegionView<'_, S> {
    /// One consistent copy of a latch cell, in `scratch`.
    fn read_copy<'b>(
        &self,
        location: LatchLocation,
        max_tries: u32,
        scratch: &'b mut [u64],
        words_wanted: impl FnMut(u64) -> usize,
    ) -> Result<&'b [u64], ReadError> {
        read_latch(self.source, location, max_tries, scratch, words_wanted)?;
        Ok(scratch)
    }
}

/// The prologue checks of `docs/FORMAT.md`, after magic, byte order,
/// version and state.
fn check_prologue(p: &Prologue, available: u64) -> Result<(), OpenError> {
    let bad = |reason| Err(OpenError::BadHeader { reason });
    // The reader's own limits first: a claim past them is refused whatever
    // the rest of the header says (and however long the file is).
    if p.region_len > MAX_READER_REGION_LEN {
        return Err(OpenError::TooLarge {
            region_len: p.region_len,
            limit: MAX_READER_REGION_LEN,
        });
    }
    if p.field_count > MAX_READER_FIELDS as u64 {
        return Err(OpenError::TooManyFields {
            count: p.field_count,
            limit: MAX_READER_FIELDS,
        });
    }
    if (p.header_len as usize) < PROLOGUE_LEN || !p.header_len.is_multiple_of(8) {
        return bad("header length below 256 or not a multiple of 8");
    }
    if (p.entry_len as usize) < ENTRY_WORDS * 8 || !p.entry_len.is_multiple_of(8) {
        return bad("entry length below 256 or not a multiple of 8");
    }
    if !p.region_len.is_multiple_of(8) || p.region_len < u64::from(p.header_len) {
        return bad("region length shorter than the header or not a multiple of 8");
    }
    if p.region_len > available {
        return Err(OpenError::Truncated {
            region_len: p.region_len,
            available,
        });
    }
    if p.table_offset < u64::from(p.header_len) || !p.table_offset.is_multiple_of(8) {
        return bad("field table overlaps the header or is misaligned");
    }
    let table_end = p
        .table_capacity
        .checked_mul(u64::from(p.entry_len))
        .and_then(|len| len.checked_add(p.table_offset));
    let Some(table_end) = table_end.filter(|&end| end <= p.region_len) else {
        return bad("field table extends past the end of the region");
    };
    if p.data_offset < table_end || !p.data_offset.is_multiple_of(8) {
        return bad("value area overlaps the field table or is misaligned");
    }
    match p.data_offset.checked_add(p.data_len) {
        Some(end) if end <= p.region_len => {}
        _ => return bad("value area extends past the end of the region"),
    }
    if p.field_count > p.table_capacity {
        return bad("field count exceeds table capacity");
    }
    Ok(())
}
