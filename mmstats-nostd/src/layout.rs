//! The byte layout of format 2: the prologue, field-table entries and the
//! constants a reader checks. `docs/FORMAT.md` is the normative text; the
//! compile-time assertions at the bottom of this file pin every offset it
//! lists.
//!
//! These structs are plain data ([`bytemuck::Pod`]): the writer builds one
//! in local memory and stores it into the region word by word with atomic
//! stores; the reader loads the words atomically into local memory and casts
//! them back. No reference to a struct inside shared memory ever exists.

use bytemuck::{Pod, Zeroable};

/// The first eight bytes of every format-2 region: `\x89MMSTAT2`.
///
/// Byte 0 is `0x89`, so a format-2 region is never mistaken for a legacy
/// v1 file, whose byte 0 is the version `0x01`.
pub const MAGIC: [u8; 8] = *b"\x89MMSTAT2";

/// Written in the writer's byte order at offset 8; a reader that loads it
/// as `0x0403_0201` knows every number in the region is byte-swapped.
pub const BYTE_ORDER_MARK: u32 = 0x0102_0304;

/// Major version: a reader refuses any other.
pub const MAJOR: u16 = 2;
/// Minor version: additions only (new kinds, units, flags, longer headers).
/// 2.1 added retired and reused slots, histograms, moving and windowed
/// averages, and event rings; 2.2 added field labels (entry offset 42 and
/// entry bytes 256 on, [`crate::labels`]).
pub const MINOR: u16 = 2;

/// Length in bytes of the prologue this writer emits (`header_len`).
pub const PROLOGUE_LEN: usize = 256;
/// Length in bytes of the fixed part of a field-table entry (`entry_len`
/// of a region without room for labels).
pub const ENTRY_LEN: usize = 256;
/// `entry_len` of a region with room for labels (2.2): the 256 fixed bytes
/// plus [`LABEL_BYTES_MAX`](crate::labels::LABEL_BYTES_MAX) label bytes.
pub const ENTRY_LEN_LABELS: usize = ENTRY_LEN + crate::labels::LABEL_BYTES_MAX;
/// Offset, inside an entry, of its label bytes (2.2).
pub const LABELS_OFFSET: usize = ENTRY_LEN;
/// Words of label bytes in an entry of [`ENTRY_LEN_LABELS`] bytes.
pub const LABEL_WORDS: usize = crate::labels::LABEL_BYTES_MAX / 8;
/// Prologue length in words.
pub const PROLOGUE_WORDS: usize = PROLOGUE_LEN / 8;
/// Entry length in words.
pub const ENTRY_WORDS: usize = ENTRY_LEN / 8;

/// Longest field name, in bytes of UTF-8.
pub const NAME_MAX: usize = 120;
/// Longest one-line description, in bytes of UTF-8.
pub const DESC_MAX: usize = 80;
/// Most copies a latch cell may have.
pub const MAX_BUFFERS: usize = 16;
/// Longest string value, in bytes.
pub const MAX_STRING_CAPACITY: usize = 4096;
/// Most words one copy of any value may span (a string at
/// [`MAX_STRING_CAPACITY`]: a length word plus 512 data words).
pub const MAX_COPY_WORDS: usize = 1 + MAX_STRING_CAPACITY / 8;

/// `state` word: the region is being built; trust nothing else.
pub const STATE_INITIALISING: u64 = 0;
/// `state` word: the region is complete and its writer may be running.
pub const STATE_READY: u64 = 1;
/// `state` word: the writer closed the region; the values are final.
pub const STATE_CLOSED: u64 = 2;

/// Entry `state`: the slot is free or being (re)written; skip it.
pub const ENTRY_FREE: u64 = 0;
/// Entry `state`: the slot holds a field readers should show.
pub const ENTRY_LIVE: u64 = 1;
/// Entry `state`, low byte: the field was retired; the upper 56 bits hold
/// the writer's reuse deadline (format 2.1). Readers skip the slot.
pub const ENTRY_RETIRED: u64 = 2;
/// Bits of the entry `state` word that hold the state code.
pub const ENTRY_STATE_MASK: u64 = 0xff;
/// Shift of the reuse deadline in a retired entry's `state` word.
pub const ENTRY_DEADLINE_SHIFT: u32 = 8;
/// Largest reuse deadline a retired entry can hold (56 bits; deadlines
/// compare modulo 2^56).
pub const ENTRY_DEADLINE_MAX: u64 = (1 << 56) - 1;

/// Entry flag: many threads update this field with atomic read-modify-write.
pub const FLAG_SHARED: u32 = 1 << 0;
/// Entry flag: the value starts on a 64-byte boundary and owns its lines.
pub const FLAG_PAD_64: u32 = 1 << 1;
/// Entry flag: the value starts on a 128-byte boundary and owns its lines.
pub const FLAG_PAD_128: u32 = 1 << 2;
/// Entry flag: the value is set once when the field is created.
pub const FLAG_CONSTANT: u32 = 1 << 3;
/// Entry flag (2.1): the slot may be retired and reused for another field;
/// informational (readers check `state` and `id` around every read anyway).
pub const FLAG_DYNAMIC: u32 = 1 << 4;

/// Largest histogram (2.1): buckets, not counting the four summary words.
pub const MAX_HISTOGRAM_BUCKETS: usize = 16_384;
/// Largest sub-bucket precision of a histogram, in bits.
pub const MAX_HISTOGRAM_PRECISION: u8 = 12;
/// Largest window of a moving average over the last N samples.
pub const MAX_MOVING_SAMPLES: usize = 4096;
/// Most sub-windows of a time-window average.
pub const MAX_WINDOW_SLOTS: usize = 1024;
/// Most payload words of an event-ring record.
pub const MAX_RING_PAYLOAD_WORDS: usize = 32;
/// Most records an event ring may hold.
pub const MAX_RING_RECORDS: usize = 1 << 20;

/// The fixed prologue at offset 0 of every region (256 bytes).
///
/// Numbers are in the writer's byte order (see [`BYTE_ORDER_MARK`]).
/// Words marked *atomic* change while the region is live.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Prologue {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`BYTE_ORDER_MARK`] in the writer's byte order.
    pub byte_order: u32,
    /// [`MAJOR`].
    pub major: u16,
    /// [`MINOR`].
    pub minor: u16,
    /// Bytes from offset 0 to the end of the prologue (at least 256).
    pub header_len: u32,
    /// Bytes per field-table entry (at least 256).
    pub entry_len: u32,
    /// Bytes of the whole region.
    pub region_len: u64,
    /// *Atomic.* [`STATE_INITIALISING`], [`STATE_READY`] or
    /// [`STATE_CLOSED`]; written last, with release ordering.
    pub state: u64,
    /// Changes each time the region is (re)initialised.
    pub generation: u64,
    /// Process id of the writer (0: unknown).
    pub pid: u64,
    /// The writer's process start time, as the OS reports it (Linux:
    /// field 22 of `/proc/PID/stat`, clock ticks after boot; 0: unknown).
    pub start_time: u64,
    /// Creation time, nanoseconds since the Unix epoch (0: unknown).
    pub created_ns: u64,
    /// *Atomic.* Last heartbeat, nanoseconds since the Unix epoch (0: the
    /// writer does not beat).
    pub heartbeat_ns: u64,
    /// Byte offset of the field table.
    pub table_offset: u64,
    /// Entries the table has room for.
    pub table_capacity: u64,
    /// *Atomic.* Entries published; written with release ordering after
    /// the entry and its initial value are complete.
    pub field_count: u64,
    /// Byte offset of the value area.
    pub data_offset: u64,
    /// Bytes in the value area.
    pub data_len: u64,
    /// 64-bit hash of the boot the writer ran in (Linux: FNV-1a of
    /// `/proc/sys/kernel/random/boot_id`; 0: unknown).
    pub boot_id: u64,
    /// *Atomic.* Bytes of the value area handed out so far.
    pub data_used: u64,
    /// Region flags; none are defined in 2.0 (must be 0).
    pub flags: u64,
    /// Zero; room for minor versions.
    pub reserved: [u64; 14],
}

/// Word index of [`Prologue::state`].
pub const STATE_WORD: usize = 4;
/// Word index of [`Prologue::generation`].
pub const GENERATION_WORD: usize = 5;
/// Word index of [`Prologue::heartbeat_ns`].
pub const HEARTBEAT_WORD: usize = 9;
/// Word index of [`Prologue::field_count`].
pub const FIELD_COUNT_WORD: usize = 12;
/// Word index of [`Prologue::data_used`].
pub const DATA_USED_WORD: usize = 16;

/// One field-table entry (256 bytes). Immutable once published, unless its
/// slot is retired and reused (format 2.1, [`crate::slot`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct EntryRecord {
    /// *Atomic (2.1).* [`ENTRY_LIVE`] for a field readers show; anything
    /// else ([`ENTRY_FREE`], [`ENTRY_RETIRED`] with a deadline): skip it.
    pub state: u64,
    /// *Atomic (2.1).* Registration id, never used twice in one generation
    /// of the region; not 0 while live, 0 while the slot is rewritten.
    pub id: u64,
    /// Byte offset of the value from the start of the region.
    pub value_offset: u64,
    /// Bytes reserved for the value, padding included.
    pub value_len: u32,
    /// Kind code (see [`crate::Kind`]).
    pub kind: u16,
    /// Unit code (see [`crate::Unit`]).
    pub unit: u16,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// 1 for a single-word value; 2 to 16 for a latch cell.
    pub buffers: u16,
    /// Bytes of `name` in use (1 to [`NAME_MAX`]).
    pub name_len: u16,
    /// Bytes of `desc` in use (0 to [`DESC_MAX`]).
    pub desc_len: u16,
    /// Bytes of label encoding at entry offset [`LABELS_OFFSET`] (2.2;
    /// reserved and 0 in 2.0 and 2.1).
    pub labels_len: u16,
    /// Words in one copy of the value.
    pub copy_words: u32,
    /// Kind-specific parameter (string: capacity in bytes).
    pub param: u64,
    /// UTF-8 name, label prefix included, zero-padded.
    pub name: [u8; NAME_MAX],
    /// UTF-8 one-line description, zero-padded.
    pub desc: [u8; DESC_MAX],
}

/// Word index, inside an entry, of [`EntryRecord::state`].
pub const ENTRY_STATE_WORD: usize = 0;
/// Word index, inside an entry, of [`EntryRecord::id`].
pub const ENTRY_ID_WORD: usize = 1;

/// An entry's `state` word, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryState {
    /// [`ENTRY_FREE`]: never used, or being rewritten.
    Free,
    /// [`ENTRY_LIVE`].
    Live,
    /// [`ENTRY_RETIRED`], with the writer's reuse deadline (its own clock).
    Retired {
        /// Earliest time (writer's clock, modulo 2^56) the slot may be reused.
        deadline: u64,
    },
    /// Anything else (a later minor version, or corruption): skip the slot.
    Other(u64),
}

impl EntryState {
    /// Decodes a `state` word (already in this machine's byte order).
    #[must_use]
    pub const fn from_word(word: u64) -> Self {
        match word {
            ENTRY_FREE => Self::Free,
            ENTRY_LIVE => Self::Live,
            _ if word & ENTRY_STATE_MASK == ENTRY_RETIRED => Self::Retired {
                deadline: word >> ENTRY_DEADLINE_SHIFT,
            },
            other => Self::Other(other),
        }
    }

    /// The `state` word of a slot retired with this reuse deadline (cut to
    /// 56 bits).
    #[must_use]
    pub const fn retired_word(deadline: u64) -> u64 {
        ENTRY_RETIRED | ((deadline & ENTRY_DEADLINE_MAX) << ENTRY_DEADLINE_SHIFT)
    }
}

/// Whether `now` has reached `deadline`, both in the writer's clock cut to
/// 56 bits, comparing modulo 2^56 (serial-number arithmetic): correct as long
/// as the reuse delay is below 2^55 ticks.
#[must_use]
pub const fn deadline_passed(now: u64, deadline: u64) -> bool {
    let elapsed =
        (now & ENTRY_DEADLINE_MAX).wrapping_sub(deadline & ENTRY_DEADLINE_MAX) & ENTRY_DEADLINE_MAX;
    elapsed < (1 << 55)
}

/// The byte order of a region relative to the machine reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// Same as this machine.
    Native,
    /// Opposite of this machine: every number must be byte-swapped.
    Swapped,
}

impl ByteOrder {
    /// Classifies a byte-order mark loaded in this machine's order.
    #[must_use]
    pub const fn from_mark(mark: u32) -> Option<Self> {
        if mark == BYTE_ORDER_MARK {
            Some(Self::Native)
        } else if mark == BYTE_ORDER_MARK.swap_bytes() {
            Some(Self::Swapped)
        } else {
            None
        }
    }

    /// Brings a word loaded from the region into this machine's order.
    #[inline]
    #[must_use]
    pub const fn fix(self, word: u64) -> u64 {
        match self {
            Self::Native => word,
            Self::Swapped => word.swap_bytes(),
        }
    }

    /// Whether the region is little-endian, given this machine's order.
    #[must_use]
    pub const fn region_is_little_endian(self) -> bool {
        cfg!(target_endian = "little") == matches!(self, Self::Native)
    }
}

impl Prologue {
    /// The prologue as the 32 words a writer stores, in order.
    #[must_use]
    pub fn to_words(&self) -> [u64; PROLOGUE_WORDS] {
        bytemuck::cast(*self)
    }

    /// The prologue from 32 words loaded from a region.
    #[must_use]
    pub fn from_words(words: [u64; PROLOGUE_WORDS]) -> Self {
        bytemuck::cast(words)
    }

    /// Byte-swaps every number (not `magic`), turning a prologue written
    /// on a machine of the other byte order into this machine's order.
    pub fn swap_numbers(&mut self) {
        self.byte_order = self.byte_order.swap_bytes();
        self.major = self.major.swap_bytes();
        self.minor = self.minor.swap_bytes();
        self.header_len = self.header_len.swap_bytes();
        self.entry_len = self.entry_len.swap_bytes();
        for word in [
            &mut self.region_len,
            &mut self.state,
            &mut self.generation,
            &mut self.pid,
            &mut self.start_time,
            &mut self.created_ns,
            &mut self.heartbeat_ns,
            &mut self.table_offset,
            &mut self.table_capacity,
            &mut self.field_count,
            &mut self.data_offset,
            &mut self.data_len,
            &mut self.boot_id,
            &mut self.data_used,
            &mut self.flags,
        ] {
            *word = word.swap_bytes();
        }
        for word in &mut self.reserved {
            *word = word.swap_bytes();
        }
    }
}

impl EntryRecord {
    /// The entry as the 32 words a writer stores, in order.
    #[must_use]
    pub fn to_words(&self) -> [u64; ENTRY_WORDS] {
        bytemuck::cast(*self)
    }

    /// The entry from 32 words loaded from a region.
    #[must_use]
    pub fn from_words(words: [u64; ENTRY_WORDS]) -> Self {
        bytemuck::cast(words)
    }

    /// Byte-swaps every number (not `name` or `desc`).
    pub fn swap_numbers(&mut self) {
        self.state = self.state.swap_bytes();
        self.id = self.id.swap_bytes();
        self.value_offset = self.value_offset.swap_bytes();
        self.value_len = self.value_len.swap_bytes();
        self.kind = self.kind.swap_bytes();
        self.unit = self.unit.swap_bytes();
        self.flags = self.flags.swap_bytes();
        self.buffers = self.buffers.swap_bytes();
        self.name_len = self.name_len.swap_bytes();
        self.desc_len = self.desc_len.swap_bytes();
        self.labels_len = self.labels_len.swap_bytes();
        self.copy_words = self.copy_words.swap_bytes();
        self.param = self.param.swap_bytes();
    }
}

// Compile-time pins of every offset docs/FORMAT.md lists. A change here is a
// format change: bump the version and update the spec in the same commit.
macro_rules! pin {
    ($ty:ty, $field:ident, $offset:expr) => {
        const _: () = assert!(core::mem::offset_of!($ty, $field) == $offset);
    };
}
const _: () = assert!(core::mem::size_of::<Prologue>() == PROLOGUE_LEN);
pin!(Prologue, magic, 0);
pin!(Prologue, byte_order, 8);
pin!(Prologue, major, 12);
pin!(Prologue, minor, 14);
pin!(Prologue, header_len, 16);
pin!(Prologue, entry_len, 20);
pin!(Prologue, region_len, 24);
pin!(Prologue, state, STATE_WORD * 8);
pin!(Prologue, generation, GENERATION_WORD * 8);
pin!(Prologue, pid, 48);
pin!(Prologue, start_time, 56);
pin!(Prologue, created_ns, 64);
pin!(Prologue, heartbeat_ns, HEARTBEAT_WORD * 8);
pin!(Prologue, table_offset, 80);
pin!(Prologue, table_capacity, 88);
pin!(Prologue, field_count, FIELD_COUNT_WORD * 8);
pin!(Prologue, data_offset, 104);
pin!(Prologue, data_len, 112);
pin!(Prologue, boot_id, 120);
pin!(Prologue, data_used, DATA_USED_WORD * 8);
pin!(Prologue, flags, 136);
pin!(Prologue, reserved, 144);

const _: () = assert!(core::mem::size_of::<EntryRecord>() == ENTRY_LEN);
pin!(EntryRecord, state, ENTRY_STATE_WORD * 8);
pin!(EntryRecord, id, 8);
pin!(EntryRecord, value_offset, 16);
pin!(EntryRecord, value_len, 24);
pin!(EntryRecord, kind, 28);
pin!(EntryRecord, unit, 30);
pin!(EntryRecord, flags, 32);
pin!(EntryRecord, buffers, 36);
pin!(EntryRecord, name_len, 38);
pin!(EntryRecord, desc_len, 40);
pin!(EntryRecord, labels_len, 42);
pin!(EntryRecord, copy_words, 44);
pin!(EntryRecord, param, 48);
pin!(EntryRecord, name, 56);
pin!(EntryRecord, desc, 56 + NAME_MAX);
const _: () = assert!(56 + NAME_MAX + DESC_MAX == ENTRY_LEN);
const _: () = assert!(ENTRY_LEN_LABELS == 384 && ENTRY_LEN_LABELS.is_multiple_of(8));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_mark_classifies_both_orders_and_rejects_others() {
        assert_eq!(
            ByteOrder::from_mark(BYTE_ORDER_MARK),
            Some(ByteOrder::Native)
        );
        assert_eq!(
            ByteOrder::from_mark(BYTE_ORDER_MARK.swap_bytes()),
            Some(ByteOrder::Swapped)
        );
        assert_eq!(ByteOrder::from_mark(0), None);
        assert_eq!(ByteOrder::from_mark(0x0102_0403), None);
    }

    #[test]
    fn magic_cannot_be_a_legacy_file() {
        assert_ne!(MAGIC[0], 0x01);
    }

    #[test]
    fn swapping_twice_restores_a_prologue() {
        let mut p = Prologue::zeroed();
        p.magic = MAGIC;
        p.byte_order = BYTE_ORDER_MARK;
        p.major = MAJOR;
        p.region_len = 0x0102_0304_0506_0708;
        let original = p;
        p.swap_numbers();
        assert_eq!(p.magic, MAGIC, "magic is bytes, never swapped");
        assert_eq!(p.region_len, 0x0807_0605_0403_0201);
        assert_ne!(p, original);
        p.swap_numbers();
        assert_eq!(p, original);
    }

    #[test]
    fn entry_states_decode_and_deadlines_wrap() {
        assert_eq!(EntryState::from_word(0), EntryState::Free);
        assert_eq!(EntryState::from_word(1), EntryState::Live);
        assert_eq!(
            EntryState::from_word(EntryState::retired_word(1234)),
            EntryState::Retired { deadline: 1234 }
        );
        assert_eq!(
            EntryState::from_word(EntryState::retired_word(u64::MAX)),
            EntryState::Retired {
                deadline: ENTRY_DEADLINE_MAX
            }
        );
        assert_eq!(EntryState::from_word(0x101), EntryState::Other(0x101));
        assert_eq!(EntryState::from_word(3), EntryState::Other(3));
        assert!(deadline_passed(10, 10));
        assert!(deadline_passed(11, 10));
        assert!(!deadline_passed(9, 10));
        // Across the 56-bit wrap.
        assert!(deadline_passed(3, ENTRY_DEADLINE_MAX - 2));
        assert!(!deadline_passed(ENTRY_DEADLINE_MAX - 2, 3));
    }

    #[test]
    fn words_round_trip() {
        let mut e = EntryRecord::zeroed();
        e.name[..3].copy_from_slice(b"abc");
        e.kind = 7;
        assert_eq!(EntryRecord::from_words(e.to_words()), e);
    }
}
