//! The reader's side: validate a region, list its fields, read values.
//!
//! Every byte is treated as hostile. [`RegionView::open`] checks the
//! prologue, [`RegionView::entry`] checks an entry before anything uses its
//! offsets, and every load is bounds-checked by the [`WordSource`], so any
//! input gives values or a typed error: never a panic, never a read outside
//! the source. `docs/FORMAT.md` ("What a reader checks") lists the checks in
//! order; this file implements that list.

use crate::kind::{Kind, Shape, Unit};
use crate::latch::{LatchError, LatchLocation, read_latch};
use crate::layout::{
    ByteOrder, DESC_MAX, ENTRY_LIVE, ENTRY_WORDS, EntryRecord, FIELD_COUNT_WORD, GENERATION_WORD,
    HEARTBEAT_WORD, MAGIC, MAJOR, MAX_BUFFERS, MAX_COPY_WORDS, MAX_STRING_CAPACITY, NAME_MAX,
    PROLOGUE_LEN, PROLOGUE_WORDS, Prologue, STATE_CLOSED, STATE_INITIALISING, STATE_READY,
    STATE_WORD,
};
use crate::source::WordSource;

/// Attempts a latch read makes before reporting the writer too fast.
pub const DEFAULT_MAX_TRIES: u32 = 1000;

/// Largest copy an entry of a kind this reader does not know may claim;
/// bounds the arithmetic on such entries.
const MAX_UNKNOWN_COPY_WORDS: usize = 1 << 24;

/// Why a region's prologue was not trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
        }
    }
}

impl core::error::Error for OpenError {}

/// Why a field-table entry was not trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

impl core::fmt::Display for EntryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoSuchEntry { index } => write!(f, "field {index} does not exist"),
            Self::OutOfBounds { index } => write!(f, "field {index} lies outside the region"),
            Self::Corrupt { index, reason } => write!(f, "field {index} is corrupt: {reason}"),
        }
    }
}

impl core::error::Error for EntryError {}

/// Why a value could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
        }
    }
}

impl core::error::Error for ReadError {}

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
    /// Kind-specific parameter (string capacity).
    pub param: u64,
    /// Word index of the value in the source.
    pub value_word: usize,
}

impl FieldInfo {
    /// Words of scratch space [`RegionView::read`] needs for this field.
    #[must_use]
    pub const fn scratch_words(&self) -> usize {
        self.copy_words
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
        // The state word first, then an acquire fence, then the rest: if
        // the state says READY, the fence pairs with the writer's Release
        // store of it and every prologue word below is the complete one.
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
        Ok(Self {
            source,
            base,
            order,
            prologue,
        })
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
        usize::try_from(count).map_err(|_| OpenError::BadHeader {
            reason: "field count does not fit in memory",
        })
    }

    /// The entry at `index`, validated. `Ok(None)` for a slot that is not
    /// live. Call [`RegionView::field_count`] first: entries at or past the
    /// count are refused.
    pub fn entry(&self, index: usize) -> Result<Option<FieldInfo>, EntryError> {
        if index as u64 >= self.prologue.table_capacity {
            return Err(EntryError::NoSuchEntry { index });
        }
        let corrupt = |reason| EntryError::Corrupt { index, reason };
        let p = &self.prologue;
        // Checked by check_prologue: the table fits in the region, so this
        // arithmetic cannot overflow.
        let first = (p.table_offset + index as u64 * u64::from(p.entry_len)) / 8;
        let first = usize::try_from(first).map_err(|_| EntryError::OutOfBounds { index })?;
        let mut words = [0u64; ENTRY_WORDS];
        for (offset, slot) in words.iter_mut().enumerate() {
            *slot = self
                .base
                .checked_add(first + offset)
                .and_then(|at| self.source.load(at))
                .ok_or(EntryError::OutOfBounds { index })?;
        }
        let mut entry = EntryRecord::from_words(words);
        if self.order == ByteOrder::Swapped {
            entry.swap_numbers();
        }
        if entry.state != ENTRY_LIVE {
            return Ok(None);
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

        let buffers = usize::from(entry.buffers);
        if buffers == 0 || buffers > MAX_BUFFERS {
            return Err(corrupt("buffer count out of range"));
        }
        let copy_words = entry.copy_words as usize;
        let kind = Kind::from_code(entry.kind);
        let copy_limit = if kind.is_some() {
            MAX_COPY_WORDS
        } else {
            MAX_UNKNOWN_COPY_WORDS
        };
        if copy_words == 0 || copy_words > copy_limit {
            return Err(corrupt("copy size out of range"));
        }
        if let Some(kind) = kind {
            if kind == Kind::String && entry.param > MAX_STRING_CAPACITY as u64 {
                return Err(corrupt("string capacity out of range"));
            }
            let fits = match kind.shape(entry.param) {
                Shape::Single => buffers == 1 && copy_words == 1,
                Shape::Latched {
                    copy_words: expected,
                } => buffers >= 2 && copy_words == expected,
            };
            if !fits {
                return Err(corrupt("value shape does not match its kind"));
            }
        }
        // Bounded above: buffers <= 16 and copy_words <= 2^24.
        let value_words = if buffers == 1 {
            copy_words
        } else {
            1 + buffers * copy_words
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
        };
        // Both fit: their lengths were checked against the capacities.
        info.name
            .push_str(name)
            .map_err(|_| corrupt("name length out of range"))?;
        info.description
            .push_str(description)
            .map_err(|_| corrupt("description length out of range"))?;
        Ok(Some(info))
    }

    /// Reads the value of `field` (from [`RegionView::entry`] on this
    /// view), using `scratch` for multi-word kinds. Retries a latch read
    /// at most `max_tries` times ([`DEFAULT_MAX_TRIES`] is a good choice).
    pub fn read<'b>(
        &self,
        field: &FieldInfo,
        scratch: &'b mut [u64],
        max_tries: u32,
    ) -> Result<Value<'b>, ReadError> {
        let kind = field.kind.ok_or(ReadError::UnknownKind {
            code: field.kind_code,
        })?;
        let single = || {
            self.source
                .load(field.value_word)
                .map(|raw| self.order.fix(raw))
                .ok_or(ReadError::OutOfBounds)
        };
        let location = LatchLocation {
            seq_index: field.value_word,
            buffers: field.buffers,
            copy_words: field.copy_words,
            order: self.order,
        };
        let order = self.order;
        Ok(match kind {
            Kind::Counter => Value::Counter(single()?),
            Kind::Gauge => Value::Gauge(single()? as i64),
            Kind::Float => Value::Float(f64::from_bits(single()?)),
            Kind::Bool => Value::Bool(single()? != 0),
            Kind::Timestamp => Value::Timestamp(single()?),
            Kind::Average => {
                let scratch = self.read_copy(location, max_tries, scratch, |_| 2)?;
                let [sum, count] = scratch
                    .get(..2)
                    .and_then(|words| <[u64; 2]>::try_from(words).ok())
                    .ok_or(ReadError::BufferTooSmall)?;
                Value::Average {
                    sum: f64::from_bits(order.fix(sum)),
                    count: order.fix(count),
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
