//! The writer's side of a region: create it in a slice of words, then add
//! fields, each returning a handle. Fields added inside
//! [`Region::dynamic`] can be retired and their slots reused (format 2.1;
//! the protocol is in [`crate::slot`]).

use crate::averages::{MovingAverage, WindowAverage};
use crate::handles::{
    Average, Counter, Flag, FloatGauge, Gauge, SharedCounter, SharedFloatGauge, SharedGauge, Text,
    Timestamp,
};
use crate::histogram::{Clock, Histogram, HistogramShape, HistogramShapeError, HistogramTimer};
use crate::kind::{Kind, Shape, Unit};
use crate::labels::{LabelError, Labels};
use crate::latch::LatchWriter;
use crate::layout::{
    self, DATA_USED_WORD, DESC_MAX, ENTRY_LEN, ENTRY_LEN_LABELS, ENTRY_LIVE, ENTRY_WORDS,
    EntryRecord, EntryState, FIELD_COUNT_WORD, GENERATION_WORD, HEARTBEAT_WORD, LABEL_WORDS,
    MAX_BUFFERS, MAX_MOVING_SAMPLES, MAX_STRING_CAPACITY, MAX_WINDOW_SLOTS, NAME_MAX, PROLOGUE_LEN,
    PROLOGUE_WORDS, Prologue, STATE_CLOSED, STATE_INITIALISING, STATE_READY, STATE_WORD,
    deadline_passed,
};
use crate::ring::{EventRing, RingShape};
use crate::slot::{Dynamic, Slot, SlotWriter};
use crate::sync::{Ordering, Word, fence};

/// Where a value is placed in the value area.
///
/// The default, [`Padding::DEFAULT`], puts every value on cache lines of
/// its own, so that fields whose handles go to different threads never
/// share a line (no false sharing); [`Padding::Packed`] is the opt-out for
/// firmware and for files with very many fields that one thread writes.
/// Lines are counted from the start of the region: give a region created
/// over your own buffer an alignment of 128 bytes (mapped files are
/// page-aligned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Packed after the previous value, 8-byte aligned: no bytes beyond the
    /// value, but values of different fields may share a cache line, so two
    /// threads writing neighbouring fields slow each other down.
    Packed,
    /// On its own 64-byte line(s): no false sharing on most CPUs. Costs up
    /// to 56 bytes per single-word value.
    Line64,
    /// On its own 128-byte pair of lines: no false sharing with adjacent-line
    /// prefetch (Intel) or 128-byte lines (Apple M-series, POWER). Costs up
    /// to 120 bytes per single-word value.
    Line128,
}

impl Padding {
    /// The placement of a field that does not say otherwise.
    pub const DEFAULT: Self = Self::Line64;

    const fn words(self) -> usize {
        match self {
            Self::Packed => 1,
            Self::Line64 => 8,
            Self::Line128 => 16,
        }
    }

    const fn flag(self) -> u32 {
        match self {
            Self::Packed => 0,
            Self::Line64 => layout::FLAG_PAD_64,
            Self::Line128 => layout::FLAG_PAD_128,
        }
    }
}

impl Default for Padding {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Copies a latch cell gets unless the field says otherwise: with three, a
/// reader retries only if the writer completes two writes during its read.
pub const DEFAULT_BUFFERS: u16 = 3;
/// Capacity of a string field unless it says otherwise (also the records
/// of an event ring and the samples of a moving average).
pub const DEFAULT_STRING_CAPACITY: usize = 64;
/// Window of a time-window average unless it says otherwise: 60 s in
/// nanoseconds (the std crate's clock).
pub const DEFAULT_WINDOW: u64 = 60_000_000_000;
/// Sub-windows of a time-window average unless it says otherwise.
pub const DEFAULT_WINDOW_SLOTS: u16 = 20;

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
    /// Bytes for a string; records for an event ring; samples for a
    /// moving average; ignored by the others.
    pub capacity: usize,
    /// Marks the value as set once (informational for readers).
    pub constant: bool,
    /// Histogram precision in bits (1 to 12): quantiles within `2^-(p+1)`.
    pub precision: u8,
    /// Largest value a histogram records in its own bucket.
    pub highest: u64,
    /// Length of a time-window average, in the writer's clock ticks.
    pub window: u64,
    /// Sub-windows of a time-window average (1 to 1024).
    pub slots: u16,
    /// Payload words of each event-ring record (1 to 32).
    pub payload_words: u8,
    /// Labels, as (key, value) pairs in any order (format 2.2; the region
    /// needs [`RegionOptions::labels`]). Checked and sorted when the field
    /// is added ([`Labels::from_pairs`]).
    pub labels: &'s [(&'s str, &'s str)],
}

impl<'s> FieldSpec<'s> {
    /// A field with this name and every other setting at its default.
    #[must_use]
    pub const fn new(name: &'s str) -> Self {
        Self {
            name,
            unit: Unit::None,
            description: "",
            padding: Padding::DEFAULT,
            buffers: DEFAULT_BUFFERS,
            capacity: DEFAULT_STRING_CAPACITY,
            constant: false,
            precision: crate::histogram::DEFAULT_PRECISION,
            highest: crate::histogram::DEFAULT_HIGHEST,
            window: DEFAULT_WINDOW,
            slots: DEFAULT_WINDOW_SLOTS,
            payload_words: crate::ring::DEFAULT_PAYLOAD_WORDS,
            labels: &[],
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

    /// Sets a string's capacity in bytes (at most 4096), an event ring's
    /// records, or a moving average's window of samples.
    #[must_use]
    pub const fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets a histogram's precision in bits (1 to 12).
    #[must_use]
    pub const fn precision(mut self, bits: u8) -> Self {
        self.precision = bits;
        self
    }

    /// Sets the largest value a histogram records in its own bucket.
    #[must_use]
    pub const fn highest(mut self, value: u64) -> Self {
        self.highest = value;
        self
    }

    /// Sets a time-window average's length, in the writer's clock ticks.
    #[must_use]
    pub const fn window(mut self, ticks: u64) -> Self {
        self.window = ticks;
        self
    }

    /// Sets a time-window average's number of sub-windows.
    #[must_use]
    pub const fn slots(mut self, slots: u16) -> Self {
        self.slots = slots;
        self
    }

    /// Sets the payload words of an event ring's records.
    #[must_use]
    pub const fn payload_words(mut self, words: u8) -> Self {
        self.payload_words = words;
        self
    }

    /// Sets the labels ((key, value) pairs, any order; format 2.2).
    #[must_use]
    pub const fn labels(mut self, labels: &'s [(&'s str, &'s str)]) -> Self {
        self.labels = labels;
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
    /// (a 256-byte entry plus 64 bytes of values on average; 448 bytes
    /// with room for labels).
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
    /// Room for labels (format 2.2): entries of
    /// [`ENTRY_LEN_LABELS`](crate::layout::ENTRY_LEN_LABELS) bytes instead
    /// of 256. Without it, adding a field with labels fails with
    /// [`AddFieldError::NoLabelRoom`].
    pub labels: bool,
}

/// Why a region could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CreateError {
    /// The buffer cannot hold the prologue, the table and one value word.
    TooSmall {
        /// Bytes needed at least.
        needed: usize,
        /// Bytes given.
        available: usize,
    },
    /// The buffer is longer than readers accept
    /// ([`crate::MAX_READER_REGION_LEN`]): they would refuse the region.
    TooLarge {
        /// Bytes given.
        len: usize,
    },
    /// The table capacity asked for is above what readers accept
    /// ([`crate::MAX_READER_FIELDS`]).
    TooManyFields {
        /// The capacity asked for.
        capacity: usize,
    },
}

impl core::fmt::Display for CreateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooSmall { needed, available } => write!(
                f,
                "buffer of {available} bytes is too small for a region (need at least {needed})"
            ),
            Self::TooLarge { len } => write!(
                f,
                "a region of {len} bytes is longer than readers accept ({} bytes)",
                crate::MAX_READER_REGION_LEN
            ),
            Self::TooManyFields { capacity } => write!(
                f,
                "a table of {capacity} fields is more than readers accept ({})",
                crate::MAX_READER_FIELDS
            ),
        }
    }
}

impl core::error::Error for CreateError {}

/// Why a field could not be added. Nothing was written to the region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
    /// The field table is full, but retired slots will be reusable once
    /// their reuse delay has passed.
    TableFullPendingReuse {
        /// Entries the table holds.
        capacity: usize,
        /// Retired slots still in their reuse delay.
        waiting: usize,
    },
    /// A histogram, moving average, window average or event ring parameter
    /// is out of range; the text names it.
    InvalidParameter {
        /// What is wrong.
        reason: &'static str,
    },
    /// [`Region::dynamic`] must add exactly one field.
    DynamicNeedsOneField,
    /// The field's labels are invalid (format 2.2).
    InvalidLabels(LabelError),
    /// The field has labels but the region was created without room for
    /// them ([`RegionOptions::labels`]).
    NoLabelRoom,
}

impl AddFieldError {
    /// Whether the region is out of room (table or value area), as opposed
    /// to the field being invalid: the case for an overflow fallback.
    #[must_use]
    pub const fn is_full(&self) -> bool {
        matches!(
            self,
            Self::TableFull { .. } | Self::DataFull { .. } | Self::TableFullPendingReuse { .. }
        )
    }
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
            Self::TableFullPendingReuse { capacity, waiting } => write!(
                f,
                "field table is full ({capacity} fields); {waiting} retired slots become reusable when their reuse delay has passed"
            ),
            Self::InvalidParameter { reason } => write!(f, "invalid field parameter: {reason}"),
            Self::DynamicNeedsOneField => {
                f.write_str("a dynamic field must be added by exactly one call")
            }
            Self::InvalidLabels(error) => write!(f, "invalid labels: {error}"),
            Self::NoLabelRoom => {
                f.write_str("the field has labels but the region has no room for labels")
            }
        }
    }
}

impl core::error::Error for AddFieldError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::InvalidLabels(error) => Some(error),
            _ => None,
        }
    }
}

impl From<LabelError> for AddFieldError {
    fn from(error: LabelError) -> Self {
        Self::InvalidLabels(error)
    }
}

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
    /// Words per entry: [`ENTRY_WORDS`], or more with room for labels.
    entry_words: usize,
    data_end: usize,
    next_free: usize,
    count: usize,
    generation: u64,
    prefix: heapless::String<NAME_MAX>,
    /// Registration id of the next field (ids are never reused).
    next_id: u64,
    /// Ticks between retiring a slot and reusing it.
    reuse_delay: u64,
    /// `Some(now)` while [`Region::dynamic`] runs its closure.
    dynamic_now: Option<u64>,
    /// The slot of the field added inside [`Region::dynamic`].
    last_slot: Option<Slot<'a>>,
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
        // Readers refuse regions and tables above their limits (a forged
        // header's claims are bounded the same way): never make one.
        if (len as u64).saturating_mul(8) > crate::MAX_READER_REGION_LEN {
            return Err(CreateError::TooLarge {
                len: len.saturating_mul(8),
            });
        }
        if options.table_capacity > crate::MAX_READER_FIELDS {
            return Err(CreateError::TooManyFields {
                capacity: options.table_capacity,
            });
        }
        let entry_len = if options.labels {
            ENTRY_LEN_LABELS
        } else {
            ENTRY_LEN
        };
        let entry_words = entry_len / 8;
        let capacity = if options.table_capacity == 0 {
            (len.saturating_sub(PROLOGUE_WORDS) * 8 / (entry_len + 64))
                .clamp(1, crate::MAX_READER_FIELDS)
        } else {
            options.table_capacity
        };
        let data_start = capacity
            .checked_mul(entry_words)
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
            entry_len: entry_len as u32,
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
            entry_words,
            data_end: len,
            next_free: data_start,
            count: 0,
            generation,
            prefix: heapless::String::new(),
            next_id: 1,
            reuse_delay: 0,
            dynamic_now: None,
            last_slot: None,
        })
    }

    /// Sets how long a retired slot stays unused before it may hold another
    /// field, in the ticks of the clock passed to [`Region::dynamic`] and
    /// [`Dynamic::retire`] (default 0; below 2^55). Observers that poll
    /// less often than this see a field go before its slot shows another.
    /// A dynamic field keeps the delay in force when it was added: a change
    /// applies to fields added from then on.
    pub fn set_reuse_delay(&mut self, ticks: u64) {
        self.reuse_delay = ticks.min(layout::ENTRY_DEADLINE_MAX >> 1);
    }

    /// The reuse delay, in ticks.
    #[must_use]
    pub const fn reuse_delay(&self) -> u64 {
        self.reuse_delay
    }

    /// Adds a *dynamic* field: `add` adds exactly one field (with any of
    /// the methods below) and the result can be retired with
    /// [`Dynamic::retire`], after which its slot, and its value words if the
    /// next field has the same size, are reused by a later dynamic field.
    /// `now` is the writer's clock (`no_std` has none; any monotonic tick
    /// count in the unit of [`Region::set_reuse_delay`]).
    ///
    /// Slots are chosen in this order: a retired slot whose reuse delay has
    /// passed and whose value area fits (the smallest such); a new slot; a
    /// retired slot with a new value area. When none is left the error is
    /// [`AddFieldError::TableFull`], [`AddFieldError::TableFullPendingReuse`]
    /// or [`AddFieldError::DataFull`] ([`AddFieldError::is_full`]), and
    /// nothing was written.
    ///
    /// ```
    /// use mmstats_nostd::{Region, RegionBuffer, RegionOptions};
    /// static STATS: RegionBuffer<1024> = RegionBuffer::new();
    /// let mut region = Region::create(STATS.words(), &RegionOptions::default()).unwrap();
    /// region.set_reuse_delay(10);
    /// let conn = region.dynamic(0, |r| r.counter("conn.7.bytes")).unwrap();
    /// conn.add(512);
    /// conn.retire(5); // reusable from tick 15 on
    /// let next = region.dynamic(20, |r| r.counter("conn.8.bytes")).unwrap();
    /// assert_eq!(next.slot().index(), 0, "the slot of conn.7 was reused");
    /// # next.retire(21);
    /// ```
    pub fn dynamic<T>(
        &mut self,
        now: u64,
        add: impl FnOnce(&mut Self) -> Result<T, AddFieldError>,
    ) -> Result<Dynamic<'a, T>, AddFieldError> {
        self.dynamic_now = Some(now);
        self.last_slot = None;
        let made = add(self);
        self.dynamic_now = None;
        match (made, self.last_slot.take()) {
            (Ok(field), Some(slot)) => Ok(Dynamic::new(field, slot)),
            (Ok(_), None) => Err(AddFieldError::DynamicNeedsOneField),
            (Err(error), slot) => {
                // The closure added a field and then failed on another: the
                // first is retired at once rather than left live forever.
                if let Some(slot) = slot {
                    slot.retire(now);
                }
                Err(error)
            }
        }
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

    /// Whether fields may carry labels ([`RegionOptions::labels`]).
    #[must_use]
    pub const fn has_label_room(&self) -> bool {
        self.entry_words > ENTRY_WORDS
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

    /// Adds an `f64` gauge that many threads may update at once.
    pub fn shared_float_gauge<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<SharedFloatGauge<'a>, AddFieldError> {
        let word = self.add_single(&spec.into(), Kind::Float, layout::FLAG_SHARED, 0)?;
        Ok(SharedFloatGauge::new(word))
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
        let latch = self.add_latched(spec, Kind::String, capacity as u64, |latch, _| {
            latch.init(&[]);
            let text = Text::new(latch, capacity);
            if !initial.is_empty() {
                text.set(initial);
            }
            Some(text)
        })?;
        Ok(latch)
    }

    /// Adds a running average (sum and count, read together).
    pub fn average<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<Average<'a>, AddFieldError> {
        self.add_latched(&spec.into(), Kind::Average, 0, |latch, _| {
            latch.init(&[0f64.to_bits(), 0]);
            Some(Average::new(latch))
        })
    }

    /// Adds a histogram of `u64` values: precision and range from the spec
    /// ([`FieldSpec::precision`], [`FieldSpec::highest`]; defaults 5 bits,
    /// one hour in nanoseconds: 1216 buckets, quantiles within 1/64).
    pub fn histogram<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<Histogram<'a>, AddFieldError> {
        let spec = spec.into();
        let shape = HistogramShape::new(spec.precision, spec.highest).map_err(|error| {
            AddFieldError::InvalidParameter {
                reason: match error {
                    HistogramShapeError::Precision => "histogram precision must be 1 to 12 bits",
                    HistogramShapeError::TooManyBuckets => {
                        "histogram needs more than 16384 buckets (lower its precision or range)"
                    }
                },
            }
        })?;
        let mut made = None;
        self.append(&spec, Kind::Histogram, 0, 1, shape.param(), |words| {
            made = Histogram::init(words, shape);
        })?;
        made.ok_or(AddFieldError::InvalidParameter {
            reason: "histogram shape",
        })
    }

    /// Adds a histogram and a timer that records durations into it, read
    /// from `clock` (see [`crate::histogram::HistogramTimer`]).
    pub fn histogram_timer<'s, C: Clock>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
        clock: C,
    ) -> Result<HistogramTimer<'a, C>, AddFieldError> {
        Ok(HistogramTimer::new(self.histogram(spec)?, clock))
    }

    /// Adds the mean of the last N samples, N = [`FieldSpec::capacity`]
    /// (1 to 4096; default 64).
    pub fn moving_average<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<MovingAverage<'a>, AddFieldError> {
        let spec = spec.into();
        let samples = spec.capacity;
        if samples == 0 || samples > MAX_MOVING_SAMPLES {
            return Err(AddFieldError::InvalidParameter {
                reason: "moving-average window must be 1 to 4096 samples",
            });
        }
        self.add_latched(&spec, Kind::MovingAverage, samples as u64, |latch, rest| {
            Some(MovingAverage::init(latch, rest))
        })
    }

    /// Adds the mean over a time window of [`FieldSpec::window`] ticks
    /// (default 60 s in nanoseconds) in [`FieldSpec::slots`] sub-windows
    /// (1 to 1024; default 20).
    pub fn window_average<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<WindowAverage<'a>, AddFieldError> {
        let spec = spec.into();
        let slots = usize::from(spec.slots);
        if slots == 0 || slots > MAX_WINDOW_SLOTS {
            return Err(AddFieldError::InvalidParameter {
                reason: "window average needs 1 to 1024 sub-windows",
            });
        }
        if spec.window == 0 {
            return Err(AddFieldError::InvalidParameter {
                reason: "window length must be at least one tick",
            });
        }
        let window = spec.window;
        self.add_latched(&spec, Kind::WindowAverage, slots as u64, |latch, rest| {
            let (length, slots) = rest.split_first()?;
            Some(WindowAverage::init(latch, length, slots, window))
        })
    }

    /// Adds an event ring of [`FieldSpec::capacity`] records (default 64)
    /// of [`FieldSpec::payload_words`] payload words (1 to 32; default 4).
    pub fn event_ring<'s>(
        &mut self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<EventRing<'a>, AddFieldError> {
        let spec = spec.into();
        let shape = RingShape::new(spec.capacity, usize::from(spec.payload_words)).ok_or(
            AddFieldError::InvalidParameter {
                reason: "event ring needs 1 to 2^20 records of 1 to 32 payload words",
            },
        )?;
        let mut made = None;
        self.append(&spec, Kind::EventRing, 0, 1, shape.param(), |words| {
            made = EventRing::init(words, shape);
        })?;
        made.ok_or(AddFieldError::InvalidParameter {
            reason: "event ring shape",
        })
    }

    fn add_single(
        &mut self,
        spec: &FieldSpec<'_>,
        kind: Kind,
        flags: u32,
        initial: u64,
    ) -> Result<&'a Word, AddFieldError> {
        let words = self.append(spec, kind, flags, 1, 0, |words| {
            // Relaxed: published by the Release store of the field count,
            // or of the slot's id when a slot is reused.
            words[0].store(initial, Ordering::Relaxed);
        })?;
        Ok(&words[0])
    }

    /// Adds a latched kind; `init` gets the latch and the words that
    /// follow it in the value (the kind's working state, if any).
    fn add_latched<T>(
        &mut self,
        spec: &FieldSpec<'_>,
        kind: Kind,
        param: u64,
        init: impl FnOnce(LatchWriter<'a>, &'a [Word]) -> Option<T>,
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
        self.append(spec, kind, 0, buffers, param, |words| {
            // The shape was checked above, so the cell is inside `words`.
            if let Some((cell, rest)) = words.split_at_checked(1 + buffers * copy_words)
                && let Ok(latch) = LatchWriter::new(cell, buffers, copy_words)
            {
                made = init(latch, rest);
            }
        })?;
        made.ok_or(AddFieldError::InvalidBuffers {
            buffers: spec.buffers,
        })
    }

    /// Validates, finds a slot and value words (a new slot, or a retired
    /// one inside [`Region::dynamic`]), lets `init` write the initial value,
    /// writes the entry and publishes it. Nothing is written if validation
    /// fails. `copy_words` comes from the kind's shape.
    fn append(
        &mut self,
        spec: &FieldSpec<'_>,
        kind: Kind,
        flags: u32,
        buffers: usize,
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
        let labels = Labels::from_pairs(spec.labels)?;
        if !labels.is_empty() && !self.has_label_room() {
            return Err(AddFieldError::NoLabelRoom);
        }
        let copy_words = match kind.shape(param) {
            Shape::Single => 1,
            Shape::Latched { copy_words } | Shape::Block { copy_words } => copy_words,
        };
        // The same check a reader makes, so the writer never publishes an
        // entry readers would call corrupt.
        let value_words = kind
            .check_entry(buffers, copy_words, param)
            .map_err(|reason| AddFieldError::InvalidParameter { reason })?;
        let dynamic = self.dynamic_now;
        if dynamic.is_some() && self.last_slot.is_some() {
            return Err(AddFieldError::DynamicNeedsOneField);
        }

        let align = spec.padding.words();
        let reserved = value_words.div_ceil(align) * align;
        let fresh_start = self.next_free.div_ceil(align) * align;
        let fresh_end = fresh_start.saturating_add(reserved);
        let data_fits = fresh_end <= self.data_end;
        let data_full = AddFieldError::DataFull {
            needed: reserved * 8,
            available: self.data_free(),
        };

        // Where the field goes: (slot index, value start, value words
        // reserved, reusing a slot?, new value words?).
        let (index, start, area, reuse, fresh) = match dynamic {
            Some(now) => {
                let found = self.find_reusable(now, reserved, align);
                if let Some((index, start, area)) = found.fitting {
                    (index, start, area, true, false)
                } else if self.count < self.capacity && data_fits {
                    (self.count, fresh_start, reserved, false, true)
                } else if let (Some(index), true) = (found.any, data_fits) {
                    // The old value words of this slot stay unused.
                    (index, fresh_start, reserved, true, true)
                } else if self.count < self.capacity || found.any.is_some() {
                    return Err(data_full);
                } else if found.waiting > 0 {
                    return Err(AddFieldError::TableFullPendingReuse {
                        capacity: self.capacity,
                        waiting: found.waiting,
                    });
                } else {
                    return Err(AddFieldError::TableFull {
                        capacity: self.capacity,
                    });
                }
            }
            None => {
                if self.count >= self.capacity {
                    return Err(AddFieldError::TableFull {
                        capacity: self.capacity,
                    });
                }
                if !data_fits {
                    return Err(data_full);
                }
                (self.count, fresh_start, reserved, false, true)
            }
        };
        let id = self.next_id;
        let entry_start = self.table_word + index * self.entry_words;
        let entry_words = &self.words[entry_start..entry_start + self.entry_words];
        let slot = SlotWriter::new(entry_words);
        let value = &self.words[start..start + value_words];

        let mut entry = EntryRecord {
            state: ENTRY_LIVE,
            id,
            value_offset: (start * 8) as u64,
            value_len: (area * 8) as u32,
            kind: kind.code(),
            unit: spec.unit.code(),
            flags: flags
                | spec.padding.flag()
                | if spec.constant {
                    layout::FLAG_CONSTANT
                } else {
                    0
                }
                | if dynamic.is_some() {
                    layout::FLAG_DYNAMIC
                } else {
                    0
                },
            buffers: buffers as u16,
            name_len: name.len() as u16,
            desc_len: spec.description.len() as u16,
            labels_len: labels.as_bytes().len() as u16,
            copy_words: copy_words as u32,
            param,
            name: [0; NAME_MAX],
            desc: [0; DESC_MAX],
        };
        entry.name[..name.len()].copy_from_slice(name.as_bytes());
        entry.desc[..spec.description.len()].copy_from_slice(spec.description.as_bytes());
        // The label bytes as words in memory order, zero-padded (a reused
        // slot's old labels are overwritten too).
        let mut label_words = [0u64; LABEL_WORDS];
        for (word, chunk) in label_words.iter_mut().zip(labels.as_bytes().chunks(8)) {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            *word = u64::from_ne_bytes(bytes);
        }
        let record = entry.to_words();
        let all_words = record
            .iter()
            .chain(label_words.iter())
            .copied()
            .take(self.entry_words);

        if reuse {
            let Some(slot) = slot else {
                unreachable!("an entry has more than two words");
            };
            // The slot protocol (crate::slot): not live, id 0, release fence;
            // then the new value and entry; then live and the new id.
            slot.begin_rewrite();
            init(value);
            for (offset, (word, value)) in entry_words.iter().zip(all_words).enumerate() {
                if offset != layout::ENTRY_STATE_WORD && offset != layout::ENTRY_ID_WORD {
                    // Relaxed: ordered by the fence of begin_rewrite and
                    // published by the Release store of the id.
                    word.store(value, Ordering::Relaxed);
                }
            }
            slot.publish(id);
        } else {
            init(value);
            for (word, value) in entry_words.iter().zip(all_words) {
                // Relaxed: published by the Release store of the field count.
                word.store(value, Ordering::Relaxed);
            }
            self.count += 1;
        }
        if fresh {
            self.next_free = fresh_end;
        }
        self.next_id += 1;
        // Relaxed: informational; readers use entries, not this word.
        self.words[DATA_USED_WORD].store(
            ((self.next_free - self.data_start()) * 8) as u64,
            Ordering::Relaxed,
        );
        if !reuse {
            // Release: a reader that loads the new count (and fences
            // acquire) sees the entry and the initial value written above.
            self.words[FIELD_COUNT_WORD].store(self.count as u64, Ordering::Release);
        }
        if dynamic.is_some()
            && let Some(slot) = slot
        {
            self.last_slot = Some(Slot::new(slot, index, id, self.reuse_delay));
        }
        Ok(value)
    }

    /// Scans the table for retired slots (only inside [`Region::dynamic`]).
    fn find_reusable(&self, now: u64, reserved: usize, align: usize) -> Reusable {
        let mut found = Reusable::default();
        for index in 0..self.count {
            let entry_start = self.table_word + index * self.entry_words;
            // Just the entry: a slice to the end of the region would make
            // miri's borrow tracker retag every word after it, per slot.
            let Some(slot) = SlotWriter::new(&self.words[entry_start..entry_start + 2]) else {
                continue;
            };
            // An acquire load (SlotWriter::state): pairs with the Release
            // store of the retire, so the retired handle's last value stores
            // happen before this writer rewrites the value.
            let EntryState::Retired { deadline } = slot.state() else {
                continue;
            };
            if !deadline_passed(now, deadline) {
                found.waiting += 1;
                continue;
            }
            found.any.get_or_insert(index);
            // Relaxed: this writer's own stores (entry words of a retired
            // slot do not change).
            let offset = self.words[entry_start + 2].load(Ordering::Relaxed);
            let len_word = self.words[entry_start + 3]
                .load(Ordering::Relaxed)
                .to_ne_bytes();
            let len = u32::from_ne_bytes([len_word[0], len_word[1], len_word[2], len_word[3]]);
            let start = (offset / 8) as usize;
            let area = len as usize / 8;
            if start.is_multiple_of(align)
                && area >= reserved
                && found.fitting.is_none_or(|(_, _, best)| area < best)
            {
                found.fitting = Some((index, start, area));
            }
        }
        found
    }

    fn data_start(&self) -> usize {
        self.table_word + self.capacity * self.entry_words
    }
}

/// What [`Region::find_reusable`] found.
#[derive(Default)]
struct Reusable {
    /// The smallest retired slot, past its delay, whose value area fits:
    /// (index, value start, value words).
    fitting: Option<(usize, usize, usize)>,
    /// Any retired slot past its delay.
    any: Option<usize>,
    /// Retired slots still in their delay.
    waiting: usize,
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
