//! The writer's side of a region: create it in a slice of words, then add
//! fields, each returning a handle.

use crate::handles::{
    Average, Counter, Flag, FloatGauge, Gauge, SharedCounter, SharedGauge, Text, Timestamp,
};
use crate::kind::{Kind, Shape, Unit};
use crate::latch::LatchWriter;
use crate::layout::{
    self, DATA_USED_WORD, DESC_MAX, ENTRY_LEN, ENTRY_LIVE, ENTRY_WORDS, EntryRecord,
    FIELD_COUNT_WORD, GENERATION_WORD, HEARTBEAT_WORD, MAX_BUFFERS, MAX_STRING_CAPACITY, NAME_MAX,
    PROLOGUE_LEN, PROLOGUE_WORDS, Prologue, STATE_CLOSED, STATE_INITIALISING, STATE_READY,
    STATE_WORD,
};
use crate::sync::{Ordering, Word, fence};

/// Where a value is placed in the value area.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Padding {
    /// Packed after the previous value, 8-byte aligned.
    #[default]
    None,
    /// On its own 64-byte line(s): no false sharing on most CPUs.
    Line64,
    /// On its own 128-byte pair of lines: no false sharing with adjacent-line
    /// prefetch (Intel) or 128-byte lines (Apple M-series, POWER).
    Line128,
}

impl Padding {
    const fn words(self) -> usize {
        match self {
            Self::None => 1,
            Self::Line64 => 8,
            Self::Line128 => 16,
        }
    }

    const fn flag(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Line64 => layout::FLAG_PAD_64,
            Self::Line128 => layout::FLAG_PAD_128,
        }
    }
}

/// Copies a latch cell gets unless the field says otherwise: with three, a
/// reader retries only if the writer completes two writes during its read.
pub const DEFAULT_BUFFERS: u16 = 3;
/// Capacity of a string field unless it says otherwise.
pub const DEFAULT_STRING_CAPACITY: usize = 64;

/// Everything about a field except its value: name, unit, description and
/// placement. Build one from a name and adjust it:
///
/// ```
/// use mmstats_nostd::{FieldSpec, Padding, Unit};
/// let spec = FieldSpec::new("bytes_out")
///     .unit(Unit::Bytes)
///     .describe("bytes sent to clients")
///     .padding(Padding::Line64);
/// assert_eq!(spec.name, "bytes_out");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec<'s> {
    /// Name, appended to the region's label prefix.
    pub name: &'s str,
    /// What it measures.
    pub unit: Unit,
    /// One line for people (at most 80 bytes).
    pub description: &'s str,
    /// Placement in the value area.
    pub padding: Padding,
    /// Copies for a latched kind (2 to 16); ignored by single-word kinds.
    pub buffers: u16,
    /// Bytes for a string kind; ignored by the others.
    pub capacity: usize,
    /// Marks the value as set once (informational for readers).
    pub constant: bool,
}

impl<'s> FieldSpec<'s> {
    /// A field with this name and every other setting at its default.
    #[must_use]
    pub const fn new(name: &'s str) -> Self {
        Self {
            name,
            unit: Unit::None,
            description: "",
            padding: Padding::None,
            buffers: DEFAULT_BUFFERS,
            capacity: DEFAULT_STRING_CAPACITY,
            constant: false,
        }
    }

    /// Replaces the name.
    #[must_use]
    pub const fn name(mut self, name: &'s str) -> Self {
        self.name = name;
        self
    }

    /// Sets the unit.
    #[must_use]
    pub const fn unit(mut self, unit: Unit) -> Self {
        self.unit = unit;
        self
    }

    /// Sets the one-line description.
    #[must_use]
    pub const fn describe(mut self, description: &'s str) -> Self {
        self.description = description;
        self
    }

    /// Sets the placement.
    #[must_use]
    pub const fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// Sets the number of latch copies (2 to 16).
    #[must_use]
    pub const fn buffers(mut self, buffers: u16) -> Self {
        self.buffers = buffers;
        self
    }

    /// Sets a string's capacity in bytes (at most 4096).
    #[must_use]
    pub const fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Marks the value as set once.
    #[must_use]
    pub const fn constant(mut self) -> Self {
        self.constant = true;
        self
    }
}

impl<'s> From<&'s str> for FieldSpec<'s> {
    fn from(name: &'s str) -> Self {
        Self::new(name)
    }
}

/// Identity of the writer and the region, stored in the prologue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RegionOptions {
    /// Field-table entries; 0 picks one entry per 320 bytes of region
    /// (a 256-byte entry plus 64 bytes of values on average).
    pub table_capacity: usize,
    /// Generation; 0 continues the generation found in the buffer (plus
    /// one) if it already holds a region, else starts at 1.
    pub generation: u64,
    /// Writer's process id (0: unknown).
    pub pid: u64,
    /// Writer's process start time as the OS reports it (0: unknown).
    pub start_time: u64,
    /// Hash of the boot the writer runs in (0: unknown).
    pub boot_id: u64,
    /// Creation time, nanoseconds since the Unix epoch (0: unknown).
    pub created_ns: u64,
}

/// Why a region could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateError {
    /// The buffer cannot hold the prologue, the table and one value word.
    TooSmall {
        /// Bytes needed at least.
        needed: usize,
        /// Bytes given.
        available: usize,
    },
}

impl core::fmt::Display for CreateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooSmall { needed, available } => write!(
                f,
                "buffer of {available} bytes is too small for a region (need at least {needed})"
            ),
        }
    }
}

impl core::error::Error for CreateError {}

/// Why a field could not be added. Nothing was written to the region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddFieldError {
    /// The name (with the label prefix) is empty.
    EmptyName,
    /// The name (with the label prefix) is longer than 120 bytes.
    NameTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The name holds a control character.
    InvalidName,
    /// The description is longer than 80 bytes or holds a control character.
    InvalidDescription,
    /// Latched kinds need 2 to 16 buffers.
    InvalidBuffers {
        /// The number asked for.
        buffers: u16,
    },
    /// Strings hold at most 4096 bytes.
    CapacityTooLarge {
        /// The capacity asked for.
        capacity: usize,
    },
    /// The field table is full.
    TableFull {
        /// Entries it holds.
        capacity: usize,
    },
    /// The value area is full.
    DataFull {
        /// Bytes the value needed, padding included.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
}

impl core::fmt::Display for AddFieldError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::EmptyName => f.write_str("field name is empty"),
            Self::NameTooLong { len } => {
                write!(f, "field name is {len} bytes long; the limit is {NAME_MAX}")
            }
            Self::InvalidName => f.write_str("field name holds a control character"),
            Self::InvalidDescription => write!(
                f,
                "description is longer than {DESC_MAX} bytes or holds a control character"
            ),
            Self::InvalidBuffers { buffers } => write!(
                f,
                "{buffers} buffers asked for; latched fields need 2 to {MAX_BUFFERS}"
            ),
            Self::CapacityTooLarge { capacity } => write!(
                f,
                "string capacity {capacity} exceeds the limit of {MAX_STRING_CAPACITY} bytes"
            ),
            Self::TableFull { capacity } => {
                write!(f, "field table is full ({capacity} fields)")
            }
            Self::DataFull { needed, available } => write!(
                f,
                "value area is full: the field needs {needed} bytes, {available} are left"
            ),
        }
    }
}

impl core::error::Error for AddFieldError {}

/// A region being written: the prologue is published, fields are appended.
///
/// Handles borrow the words (lifetime `'a`), not the `Region`, so fields can
/// be added while earlier handles are in use. A buffer must have one
/// `Region` at a time: two would hand out the same words twice (memory-safe,
/// since every access is atomic, but the values would be nonsense).
#[derive(Debug)]
pub struct Region<'a> {
    words: &'a [Word],
    table_word: usize,
    capacity: usize,
    data_end: usize,
    next_free: usize,
    count: usize,
    generation: u64,
    prefix: heapless::String<NAME_MAX>,
}

impl<'a> Region<'a> {
    /// Creates a region over `words` (its whole length) and publishes an
    /// empty field table.
    ///
    /// If the words already hold a region, its state goes to
    /// "initialising" first, so readers that have it open drop what they
    /// read, and the generation moves on.
    pub fn create(words: &'a [Word], options: &RegionOptions) -> Result<Self, CreateError> {
        let len = words.len();
        let capacity = if options.table_capacity == 0 {
            (len.saturating_sub(PROLOGUE_WORDS) * 8 / (ENTRY_LEN + 64)).max(1)
        } else {
            options.table_capacity
        };
        let data_start = capacity
            .checked_mul(ENTRY_WORDS)
            .and_then(|w| w.checked_add(PROLOGUE_WORDS))
            .unwrap_or(usize::MAX);
        if data_start >= len {
            return Err(CreateError::TooSmall {
                needed: data_start.saturating_add(1).saturating_mul(8),
                available: len * 8,
            });
        }

        let generation = if options.generation != 0 {
            options.generation
        } else {
            previous_generation(words).wrapping_add(1).max(1)
        };

        let mut prologue = Prologue {
            magic: layout::MAGIC,
            byte_order: layout::BYTE_ORDER_MARK,
            major: layout::MAJOR,
            minor: layout::MINOR,
            header_len: PROLOGUE_LEN as u32,
            entry_len: ENTRY_LEN as u32,
            region_len: (len * 8) as u64,
            state: STATE_INITIALISING,
            generation,
            pid: options.pid,
            start_time: options.start_time,
            created_ns: options.created_ns,
            heartbeat_ns: 0,
            table_offset: PROLOGUE_LEN as u64,
            table_capacity: capacity as u64,
            field_count: 0,
            data_offset: (data_start * 8) as u64,
            data_len: ((len - data_start) * 8) as u64,
            boot_id: options.boot_id,
            data_used: 0,
            flags: 0,
            reserved: [0; 14],
        };
        prologue.state = STATE_INITIALISING;

        // Relaxed: the state word alone says "do not trust this region";
        // the fence below orders it before the rewrite.
        words[STATE_WORD].store(STATE_INITIALISING, Ordering::Relaxed);
        // Release fence: a reader that sees any word rewritten below and
        // then fences (acquire) before re-checking the state and generation
        // sees "initialising" or the new generation, so it discards what it
        // read of the old region.
        fence(Ordering::Release);
        for (index, value) in prologue.to_words().into_iter().enumerate() {
            if index != STATE_WORD {
                // Relaxed: published by the Release store of the state.
                words[index].store(value, Ordering::Relaxed);
            }
        }
        // Release, and last: a reader that loads READY (and fences acquire)
        // sees the whole prologue above.
        words[STATE_WORD].store(STATE_READY, Ordering::Release);

        Ok(Self {
            words,
            table_word: PROLOGUE_WORDS,
            capacity,
            data_end: len,
            next_free: data_start,
            count: 0,
            generation,
            prefix: heapless::String::new(),
        })
    }

    /// Sets the label prefix put before the name of every field added
    /// from now on (for example `"web.stats."`). At most 120 bytes.
    pub fn set_prefix(&mut self, prefix: &str) -> Result<(), AddFieldError> {
        let mut new = heapless::String::new();
        new.push_str(prefix)
            .map_err(|_| AddFieldError::NameTooLong { len: prefix.len() })?;
        if prefix.chars().any(char::is_control) {
            return Err(AddFieldError::InvalidName);
        }
        self.prefix = new;
        Ok(())
    }

    /// The label prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The region's generation.
    #[must_use]
    pub const fn generation(&self) -> u64 {
        self.generation
    }

    /// Fields published so far.
    #[must_use]
    pub const fn field_count(&self) -> usize {
        self.count
    }

    /// Field-table capacity.
    #[must_use]
    pub const fn table_capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of value area still free (before padding).
    #[must_use]
    pub const fn data_free(&self) -> usize {
        (self.data_end - self.next_free) * 8
    }

    /// The words of the region.
    #[must_use]
    pub const fn words(&self) -> &'a [Word] {
        self.words
    }

    /// Records a heartbeat (nanoseconds since the Unix epoch).
    pub fn heartbeat(&self, unix_ns: u64) {
        // Relaxed: an independent value; readers compare it with the clock.
        self.words[HEARTBEAT_WORD].store(unix_ns, Ordering::Relaxed);
    }

    /// Marks the region closed: the writer is gone, the values are final.
    /// Handles keep working (a closed region may still change if they are
    /// used, but readers are told the writer said goodbye).
    pub fn close(&self) {
        // Release: a reader that sees CLOSED also sees every update made
        // before closing.
        self.words[STATE_WORD].store(STATE_CLOSED, Ordering::Release);
    }

    /// Adds a counter with one writer.
    pub fn counter<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<Counter<'a>, AddFieldError> {
        let word = self.add_single(&spec.into(), Kind::Counter, 0, 0)?;
        Ok(Counter::new(word))
    }

    /// Adds a counter that many threads may update.
    pub fn shared_counter<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<SharedCounter<'a>, AddFieldError> {
        let word = self.add_single(&spec.into(), Kind::Counter, layout::FLAG_SHARED, 0)?;
        Ok(SharedCounter::new(word))
    }

    /// Adds a gauge with one writer.
    pub fn gauge<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<Gauge<'a>, AddFieldError> {
        let word = self.add_single(&spec.into(), Kind::Gauge, 0, 0)?;
        Ok(Gauge::new(word))
    }

    /// Adds a gauge with a fixed value (a pid, a build number).
    pub fn constant_gauge<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
        value: i64,
    ) -> Result<(), AddFieldError> {
        self.add_single(&spec.into().constant(), Kind::Gauge, 0, value as u64)
            .map(|_| ())
    }

    /// Adds a gauge that many threads may update.
    pub fn shared_gauge<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<SharedGauge<'a>, AddFieldError> {
        let word = self.add_single(&spec.into(), Kind::Gauge, layout::FLAG_SHARED, 0)?;
        Ok(SharedGauge::new(word))
    }

    /// Adds an `f64` gauge.
    pub fn float_gauge<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<FloatGauge<'a>, AddFieldError> {
        let word = self.add_single(&spec.into(), Kind::Float, 0, 0)?;
        Ok(FloatGauge::new(word))
    }

    /// Adds a boolean.
    pub fn flag<'s>(&mut self, spec: impl Into<FieldSpec<'s>>) -> Result<Flag<'a>, AddFieldError> {
        let word = self.add_single(&spec.into(), Kind::Bool, 0, 0)?;
        Ok(Flag::new(word))
    }

    /// Adds a timestamp.
    pub fn timestamp<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<Timestamp<'a>, AddFieldError> {
        let word = self.add_single(&spec.into(), Kind::Timestamp, 0, 0)?;
        Ok(Timestamp::new(word))
    }

    /// Adds a timestamp with a fixed value (a creation time).
    pub fn constant_timestamp<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
        unix_ns: u64,
    ) -> Result<(), AddFieldError> {
        self.add_single(&spec.into().constant(), Kind::Timestamp, 0, unix_ns)
            .map(|_| ())
    }

    /// Adds a bounded string (capacity from the spec, at most 4096 bytes).
    pub fn text<'s>(&mut self, spec: impl Into<FieldSpec<'s>>) -> Result<Text<'a>, AddFieldError> {
        self.text_with(&spec.into(), "")
    }

    /// Adds a string with a fixed value (a version, a program name).
    pub fn constant_text<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
        value: &str,
    ) -> Result<(), AddFieldError> {
        let spec = spec.into().constant();
        let spec = spec.capacity(value.len().min(MAX_STRING_CAPACITY));
        self.text_with(&spec, value).map(|_| ())
    }

    fn text_with(
        &mut self,
        spec: &FieldSpec<'_>,
        initial: &str,
    ) -> Result<Text<'a>, AddFieldError> {
        if spec.capacity > MAX_STRING_CAPACITY {
            return Err(AddFieldError::CapacityTooLarge {
                capacity: spec.capacity,
            });
        }
        let capacity = spec.capacity;
        let latch = self.add_latched(spec, Kind::String, capacity as u64, |latch| {
            latch.init(&[]);
            let text = Text::new(latch, capacity);
            if !initial.is_empty() {
                text.set(initial);
            }
            text
        })?;
        Ok(latch)
    }

    /// Adds a running average (sum and count, read together).
    pub fn average<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<Average<'a>, AddFieldError> {
        self.add_latched(&spec.into(), Kind::Average, 0, |latch| {
            latch.init(&[0f64.to_bits(), 0]);
            Average::new(latch)
        })
    }

    fn add_single(
        &mut self,
        spec: &FieldSpec<'_>,
        kind: Kind,
        flags: u32,
        initial: u64,
    ) -> Result<&'a Word, AddFieldError> {
        let words = self.append(spec, kind, flags, 1, 1, 0, |words| {
            // Relaxed: published by the Release store of the field count.
            words[0].store(initial, Ordering::Relaxed);
        })?;
        Ok(&words[0])
    }

    fn add_latched<T>(
        &mut self,
        spec: &FieldSpec<'_>,
        kind: Kind,
        param: u64,
        init: impl FnOnce(LatchWriter<'a>) -> T,
    ) -> Result<T, AddFieldError> {
        let Shape::Latched { copy_words } = kind.shape(param) else {
            unreachable!("add_latched is only called with latched kinds");
        };
        let buffers = usize::from(spec.buffers);
        if !(2..=MAX_BUFFERS).contains(&buffers) {
            return Err(AddFieldError::InvalidBuffers {
                buffers: spec.buffers,
            });
        }
        let mut made = None;
        self.append(spec, kind, 0, buffers, copy_words, param, |words| {
            // The shape was checked above, so the writer always fits.
            if let Ok(latch) = LatchWriter::new(words, buffers, copy_words) {
                made = Some(init(latch));
            }
        })?;
        made.ok_or(AddFieldError::InvalidBuffers {
            buffers: spec.buffers,
        })
    }

    /// Validates, allocates, lets `init` write the initial value, writes
    /// the entry and publishes it. Nothing is written if validation fails.
    #[allow(clippy::too_many_arguments)]
    fn append(
        &mut self,
        spec: &FieldSpec<'_>,
        kind: Kind,
        flags: u32,
        buffers: usize,
        copy_words: usize,
        param: u64,
        init: impl FnOnce(&'a [Word]),
    ) -> Result<&'a [Word], AddFieldError> {
        let mut name: heapless::String<NAME_MAX> = heapless::String::new();
        let full_len = self.prefix.len() + spec.name.len();
        if full_len == 0 {
            return Err(AddFieldError::EmptyName);
        }
        if name.push_str(&self.prefix).is_err() || name.push_str(spec.name).is_err() {
            return Err(AddFieldError::NameTooLong { len: full_len });
        }
        if name.chars().any(char::is_control) {
            return Err(AddFieldError::InvalidName);
        }
        if spec.description.len() > DESC_MAX || spec.description.chars().any(char::is_control) {
            return Err(AddFieldError::InvalidDescription);
        }
        if self.count >= self.capacity {
            return Err(AddFieldError::TableFull {
                capacity: self.capacity,
            });
        }

        let value_words = if buffers == 1 {
            copy_words
        } else {
            1 + buffers * copy_words
        };
        let align = spec.padding.words();
        let start = self.next_free.div_ceil(align) * align;
        let reserved = value_words.div_ceil(align) * align;
        let end = start.saturating_add(reserved);
        if end > self.data_end {
            return Err(AddFieldError::DataFull {
                needed: reserved * 8,
                available: self.data_free(),
            });
        }
        let value = &self.words[start..start + value_words];
        init(value);

        let mut entry = EntryRecord {
            state: ENTRY_LIVE,
            id: self.count as u64 + 1,
            value_offset: (start * 8) as u64,
            value_len: (reserved * 8) as u32,
            kind: kind.code(),
            unit: spec.unit.code(),
            flags: flags
                | spec.padding.flag()
                | if spec.constant {
                    layout::FLAG_CONSTANT
                } else {
                    0
                },
            buffers: buffers as u16,
            name_len: name.len() as u16,
            desc_len: spec.description.len() as u16,
            reserved: 0,
            copy_words: copy_words as u32,
            param,
            name: [0; NAME_MAX],
            desc: [0; DESC_MAX],
        };
        entry.name[..name.len()].copy_from_slice(name.as_bytes());
        entry.desc[..spec.description.len()].copy_from_slice(spec.description.as_bytes());

        let entry_start = self.table_word + self.count * ENTRY_WORDS;
        for (word, value) in self.words[entry_start..entry_start + ENTRY_WORDS]
            .iter()
            .zip(entry.to_words())
        {
            // Relaxed: published by the Release store of the field count.
            word.store(value, Ordering::Relaxed);
        }
        self.next_free = end;
        self.count += 1;
        // Relaxed: informational; readers use entries, not this word.
        self.words[DATA_USED_WORD].store(((end - self.data_start()) * 8) as u64, Ordering::Relaxed);
        // Release: a reader that loads the new count (and fences acquire)
        // sees the entry and the initial value written above.
        self.words[FIELD_COUNT_WORD].store(self.count as u64, Ordering::Release);
        Ok(value)
    }

    fn data_start(&self) -> usize {
        self.table_word + self.capacity * ENTRY_WORDS
    }
}

/// The generation of a region already in `words`, or 0.
fn previous_generation(words: &[Word]) -> u64 {
    // Relaxed: a hint only; a torn or stale guess just picks another number.
    let magic = words[0].load(Ordering::Relaxed);
    if magic == u64::from_ne_bytes(layout::MAGIC) {
        words[GENERATION_WORD].load(Ordering::Relaxed)
    } else {
        0
    }
}
