//! Event rings: a single producer appends fixed-size records (time, thread,
//! event id, a few words or a short string) without ever waiting,
//! overwriting the oldest; readers in other processes follow it, never
//! return a torn record, and count exactly how many records they missed.
//!
//! # Layout (kind 11)
//!
//! ```text
//! value word 0          : head  (records appended so far = last sequence number)
//! value words 1 .. 8    : reserved, 0
//! value words 8 + s·R ..: record slot s (s = 0 .. C-1), R = 4 + P words:
//!     word 0  seq        sequence number of the record in the slot (from 1);
//!                        seq | 2^63 while it is being written; 0 never written
//!     word 1  timestamp  ns since the Unix epoch (std) or the writer's clock
//!     word 2  thread     thread id
//!     word 3  meta       bits 0-31 event id, 32-39 payload kind, 40-55 length
//!     word 4 ..          P payload words
//! ```
//!
//! Record `n` lives in slot `(n - 1) mod C`. Payload kinds: 0 values (`len`
//! words), 1 text (`len` bytes of UTF-8 in memory order), 2 span enter
//! (payload word 0 is the span id, then `len` bytes of name), 3 span exit
//! (payload word 0 is the span id).
//!
//! # Protocol
//!
//! Writer, record `n`: store `seq = n | 2^63` (relaxed); **release fence**;
//! store words 1 .. R (relaxed); store `seq = n` (**release**); store
//! `head = n` (**release**). Never waits, never reads shared memory.
//!
//! Reader, wanting record `n ≤ head` (head loaded, then an **acquire
//! fence**): load the slot's `seq`, **acquire fence**; if it is not `n`,
//! the writer lapped the reader: the record is gone. Otherwise copy words
//! 1 .. R, **acquire fence**, load `seq` again: if it is still `n`, the copy
//! is the record; else the writer overwrote it meanwhile. A lapped reader
//! reloads `head = h` and resumes at `max(n + 1, h + 1 - C)`, counting every
//! sequence number it skips as missed, so delivered + missed is exactly the
//! number of records appended since the reader started.
//!
//! Why the copy is whole: every store of a new record into the slot comes
//! after the writer's release fence, which follows its `seq = m | 2^63`
//! store (`m > n`). If any word the reader copied came from such a store,
//! the reader's acquire fence before its second load of `seq` makes that
//! load see `m | 2^63` or later, never `n`. The sequence numbers never
//! repeat, so there is no ABA.

use core::cell::Cell;
use core::marker::PhantomData;

use crate::layout::{ByteOrder, MAX_RING_PAYLOAD_WORDS, MAX_RING_RECORDS};
use crate::source::WordSource;
use crate::sync::{Ordering, Word, fence};

/// Words before the first record: the head and seven reserved words (so
/// records of 8 words stay on 64-byte lines when the value is aligned).
pub const HEADER_WORDS: usize = 8;
/// Words of a record before its payload.
pub const RECORD_HEADER_WORDS: usize = 4;
/// Payload words unless a field says otherwise: 8-word (64-byte) records.
pub const DEFAULT_PAYLOAD_WORDS: u8 = 4;
/// Bit set in a slot's `seq` while the writer fills it.
pub const WRITING: u64 = 1 << 63;

/// Payload kind code: `len` `u64` values.
pub const PAYLOAD_VALUES: u8 = 0;
/// Payload kind code: `len` bytes of UTF-8.
pub const PAYLOAD_TEXT: u8 = 1;
/// Payload kind code: a span starts; word 0 is its id, then `len` bytes of name.
pub const PAYLOAD_SPAN_ENTER: u8 = 2;
/// Payload kind code: a span ends; word 0 is its id.
pub const PAYLOAD_SPAN_EXIT: u8 = 3;

/// Capacity and record size of an event ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RingShape {
    capacity: usize,
    payload_words: usize,
}

impl RingShape {
    /// A ring of `capacity` records (1 to 2^20) of `payload_words` payload
    /// words (1 to 32) each.
    #[must_use]
    pub const fn new(capacity: usize, payload_words: usize) -> Option<Self> {
        if capacity == 0
            || capacity > MAX_RING_RECORDS
            || payload_words == 0
            || payload_words > MAX_RING_PAYLOAD_WORDS
        {
            return None;
        }
        Some(Self {
            capacity,
            payload_words,
        })
    }

    /// The shape an entry's `param` encodes (bits 0–31 capacity, bits
    /// 32–39 payload words, the rest zero), if valid.
    #[must_use]
    pub const fn from_param(param: u64) -> Option<Self> {
        if param >> 40 != 0 {
            return None;
        }
        Self::new(
            (param & 0xffff_ffff) as usize,
            ((param >> 32) & 0xff) as usize,
        )
    }

    /// The entry `param` for this shape.
    #[must_use]
    pub const fn param(self) -> u64 {
        self.capacity as u64 | (self.payload_words as u64) << 32
    }

    /// Records the ring holds.
    #[must_use]
    pub const fn capacity(self) -> usize {
        self.capacity
    }

    /// Payload words per record.
    #[must_use]
    pub const fn payload_words(self) -> usize {
        self.payload_words
    }

    /// Words per record (the entry's `copy_words`).
    #[must_use]
    pub const fn record_words(self) -> usize {
        RECORD_HEADER_WORDS + self.payload_words
    }

    /// Words of the whole value: header and records.
    #[must_use]
    pub const fn value_words(self) -> usize {
        HEADER_WORDS + self.capacity * self.record_words()
    }
}

fn meta(event: u32, kind: u8, len: usize) -> u64 {
    u64::from(event) | u64::from(kind) << 32 | ((len as u64) & 0xffff) << 40
}

/// The writer's side of an event ring. `Send`, not `Sync`: one producer.
#[derive(Debug)]
pub struct EventRing<'a> {
    head: &'a Word,
    records: &'a [Word],
    shape: RingShape,
    /// Sequence number of the next record (local shadow of head + 1).
    next: Cell<u64>,
    /// Its slot, kept incrementally.
    slot: Cell<usize>,
    next_span: Cell<u64>,
    _one_writer: PhantomData<Cell<()>>,
}

impl<'a> EventRing<'a> {
    /// Takes the writer's side of an empty ring in `words` (exactly
    /// `shape.value_words()` long) and zeroes it (`Relaxed`: publishing the
    /// field orders it before any reader).
    pub fn init(words: &'a [Word], shape: RingShape) -> Option<Self> {
        if words.len() != shape.value_words() {
            return None;
        }
        for word in words {
            word.store(0, Ordering::Relaxed);
        }
        let (head, rest) = words.split_first()?;
        let records = rest.get(HEADER_WORDS - 1..)?;
        Some(Self {
            head,
            records,
            shape,
            next: Cell::new(1),
            slot: Cell::new(0),
            next_span: Cell::new(1),
            _one_writer: PhantomData,
        })
    }

    /// Capacity and record size.
    #[must_use]
    pub const fn shape(&self) -> RingShape {
        self.shape
    }

    /// Records appended so far.
    #[must_use]
    pub fn appended(&self) -> u64 {
        self.next.get() - 1
    }

    /// Appends a record whose payload words are `payload(0) ..
    /// payload(P - 1)`; returns its sequence number. Never waits.
    #[inline]
    pub fn append_raw(
        &self,
        timestamp: u64,
        thread: u64,
        meta_word: u64,
        mut payload: impl FnMut(usize) -> u64,
    ) -> u64 {
        let seq = self.next.get();
        let slot = self.slot.get();
        let start = slot * self.shape.record_words();
        if let Some(record) = self.records.get(start..start + self.shape.record_words()) {
            // Relaxed: the fence below orders it before the payload.
            record[0].store(seq | WRITING, Ordering::Relaxed);
            // Release fence: a reader whose copy holds any word stored below
            // and that then fences (acquire) sees the marker above (or
            // later) in its second load of `seq`, so it drops the copy.
            fence(Ordering::Release);
            // Relaxed: ordered by the fence above and the release below.
            record[1].store(timestamp, Ordering::Relaxed);
            record[2].store(thread, Ordering::Relaxed);
            record[3].store(meta_word, Ordering::Relaxed);
            for (index, word) in record[RECORD_HEADER_WORDS..].iter().enumerate() {
                word.store(payload(index), Ordering::Relaxed);
            }
            // Release: a reader that loads `seq` (and fences acquire) sees
            // the whole record above.
            record[0].store(seq, Ordering::Release);
            // Release: a reader that loads the new head (and fences
            // acquire) sees the record's final `seq` store and its words.
            self.head.store(seq, Ordering::Release);
        }
        self.next.set(seq + 1);
        self.slot.set(if slot + 1 == self.shape.capacity() {
            0
        } else {
            slot + 1
        });
        seq
    }

    /// Appends an event with up to `P` values (extra values are cut).
    #[inline]
    pub fn event(&self, timestamp: u64, thread: u64, event: u32, values: &[u64]) -> u64 {
        let len = values.len().min(self.shape.payload_words());
        self.append_raw(
            timestamp,
            thread,
            meta(event, PAYLOAD_VALUES, len),
            |index| {
                values
                    .get(index)
                    .copied()
                    .filter(|_| index < len)
                    .unwrap_or(0)
            },
        )
    }

    /// Appends an event with a short text (cut at a character boundary to
    /// `8·P` bytes).
    #[inline]
    pub fn text(&self, timestamp: u64, thread: u64, event: u32, text: &str) -> u64 {
        let bytes = crate::handles::truncate_utf8(text, 8 * self.shape.payload_words()).as_bytes();
        self.append_raw(
            timestamp,
            thread,
            meta(event, PAYLOAD_TEXT, bytes.len()),
            |index| pack(bytes, index),
        )
    }

    /// Appends a span-enter record named `name` (cut to `8·(P-1)` bytes)
    /// and returns the span's id for [`EventRing::exit`].
    #[inline]
    pub fn enter(&self, timestamp: u64, thread: u64, event: u32, name: &str) -> u64 {
        let span = self.next_span.get();
        self.next_span.set(span.wrapping_add(1));
        let room = 8 * (self.shape.payload_words() - 1);
        let bytes = crate::handles::truncate_utf8(name, room).as_bytes();
        self.append_raw(
            timestamp,
            thread,
            meta(event, PAYLOAD_SPAN_ENTER, bytes.len()),
            |index| {
                if index == 0 {
                    span
                } else {
                    pack(bytes, index - 1)
                }
            },
        );
        span
    }

    /// Appends the span-exit record of `span` (from [`EventRing::enter`]).
    #[inline]
    pub fn exit(&self, timestamp: u64, thread: u64, event: u32, span: u64) -> u64 {
        self.append_raw(
            timestamp,
            thread,
            meta(event, PAYLOAD_SPAN_EXIT, 0),
            |index| if index == 0 { span } else { 0 },
        )
    }
}

/// Word `index` of `bytes` packed 8 to a word in memory order, zero-padded.
fn pack(bytes: &[u8], index: usize) -> u64 {
    let start = index * 8;
    let mut chunk = [0u8; 8];
    if start < bytes.len() {
        let end = (start + 8).min(bytes.len());
        chunk[..end - start].copy_from_slice(&bytes[start..end]);
    }
    u64::from_ne_bytes(chunk)
}

/// The payload of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload<'b> {
    /// Values, in this machine's byte order.
    Values(&'b [u64]),
    /// A short text.
    Text(&'b str),
    /// A span started.
    SpanEnter {
        /// Its id (unique per ring writer).
        span: u64,
        /// Its name.
        name: &'b str,
    },
    /// A span ended.
    SpanExit {
        /// Its id.
        span: u64,
    },
    /// A payload kind this reader does not know (a later minor version).
    Unknown {
        /// Kind code.
        kind: u8,
        /// Length field.
        len: u16,
    },
    /// A length past the payload, or text that is not UTF-8.
    Invalid,
}

/// A record, as a reader copied it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRecord<'b> {
    /// Sequence number (1 for the first record the ring ever held).
    pub seq: u64,
    /// Timestamp (ns since the Unix epoch for the std writer).
    pub timestamp: u64,
    /// Thread id.
    pub thread: u64,
    /// Event id.
    pub event: u32,
    /// Payload.
    pub payload: Payload<'b>,
}

/// What [`RingCursor::poll`] hands to its callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingEvent<'b> {
    /// The next record.
    Record(EventRecord<'b>),
    /// This many records, in sequence before the next one delivered, were
    /// overwritten before the reader could copy them.
    Missed(u64),
}

/// Where a ring's words are, for a reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingLocation {
    /// Word index of the head word in the source.
    pub head_word: usize,
    /// Capacity and record size.
    pub shape: RingShape,
    /// Byte order of the region.
    pub order: ByteOrder,
}

/// Why a poll stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RingError {
    /// A word of the ring is outside the source.
    OutOfBounds,
    /// The scratch buffer is shorter than a record.
    BufferTooSmall,
    /// The head went backwards: the ring was re-created. Start a new cursor.
    Reset {
        /// Head found.
        head: u64,
        /// Next sequence number the cursor wanted.
        next: u64,
    },
}

impl core::fmt::Display for RingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfBounds => f.write_str("event ring lies outside the region"),
            Self::BufferTooSmall => f.write_str("buffer smaller than one ring record"),
            Self::Reset { head, next } => write!(
                f,
                "event ring went back to {head} records while the reader was at {next}: it was re-created"
            ),
        }
    }
}

impl core::error::Error for RingError {}

/// Totals of one [`RingCursor::poll`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingPoll {
    /// Records handed to the callback.
    pub delivered: u64,
    /// Records overwritten before they could be copied.
    pub missed: u64,
    /// The ring's head when the poll ended.
    pub head: u64,
}

/// Where a reader is in a ring: the sequence number it wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingCursor {
    /// Next sequence number wanted; 0 until the first poll places it.
    next: u64,
    from_oldest: bool,
}

impl RingCursor {
    /// Starts at the oldest record still in the ring.
    #[must_use]
    pub const fn oldest() -> Self {
        Self {
            next: 0,
            from_oldest: true,
        }
    }

    /// Starts with the first record appended after the first poll.
    #[must_use]
    pub const fn newest() -> Self {
        Self {
            next: 0,
            from_oldest: false,
        }
    }

    /// Starts at sequence number `next` (resuming a saved position).
    #[must_use]
    pub const fn at(next: u64) -> Self {
        Self {
            next: if next == 0 { 1 } else { next },
            from_oldest: true,
        }
    }

    /// The sequence number wanted next (0 before the first poll).
    #[must_use]
    pub const fn next(&self) -> u64 {
        self.next
    }

    /// Copies every record appended since the last poll (at most `max`),
    /// in order, handing each to `f`, and reports overwritten stretches as
    /// [`RingEvent::Missed`]. `scratch` must hold a record
    /// (`shape.record_words()` words). Never writes to the source.
    pub fn poll<S: WordSource + ?Sized>(
        &mut self,
        source: &S,
        ring: RingLocation,
        scratch: &mut [u64],
        max: u64,
        mut f: impl FnMut(RingEvent<'_>),
    ) -> Result<RingPoll, RingError> {
        let shape = ring.shape;
        let record_words = shape.record_words();
        let capacity = shape.capacity() as u64;
        if scratch.len() < record_words {
            return Err(RingError::BufferTooSmall);
        }
        let load = |index: usize| {
            source
                .load(index)
                .map(|raw| ring.order.fix(raw))
                .ok_or(RingError::OutOfBounds)
        };
        let last = ring
            .head_word
            .checked_add(shape.value_words() - 1)
            .ok_or(RingError::OutOfBounds)?;
        if last >= source.word_len() {
            return Err(RingError::OutOfBounds);
        }
        // A sequence number never has bit 63 set (it marks a slot being
        // written), so a head of 2^63 or more is corrupt: read it as
        // 2^63 - 1. Without this a hostile head of 2^64 - 1 saturated
        // `next` and handed over the same record again and again.
        let mut head = load(ring.head_word)?.min(WRITING - 1);
        // Acquire: pairs with the writer's Release store of `head`, so the
        // records up to it (their final `seq` and words) are visible.
        source.acquire_fence();
        if self.next == 0 {
            self.next = if self.from_oldest {
                head.saturating_add(1).saturating_sub(capacity).max(1)
            } else {
                head.saturating_add(1)
            };
        }
        if head.saturating_add(1) < self.next {
            return Err(RingError::Reset {
                head,
                next: self.next,
            });
        }
        let mut poll = RingPoll::default();
        // Bounded: every round moves `next` on, and a writer that laps the
        // reader round after round ends the poll after a while.
        let mut rounds = max.saturating_add(64);
        while self.next <= head && poll.delivered < max && rounds > 0 {
            rounds -= 1;
            let wanted = self.next;
            let slot = ((wanted - 1) % capacity) as usize;
            let base = ring.head_word + HEADER_WORDS + slot * record_words;
            let first = load(base)?;
            // Acquire: if `first` is the record's final Release store, the
            // words below are that record's (or later ones, caught next).
            source.acquire_fence();
            let mut whole = first == wanted;
            if whole {
                for (offset, word) in scratch[1..record_words].iter_mut().enumerate() {
                    // Relaxed (as stored, swapped below): validated by the
                    // second load of `seq`.
                    *word = source
                        .load(base + 1 + offset)
                        .ok_or(RingError::OutOfBounds)?;
                }
                // Acquire: pairs with the writer's Release fence before it
                // overwrites a slot; see the module docs.
                source.acquire_fence();
                whole = load(base)? == wanted;
            }
            if !whole {
                // Lapped: this record and maybe more are gone. Resume at the
                // oldest record that may still be intact.
                let now = load(ring.head_word)?.min(WRITING - 1);
                source.acquire_fence();
                head = head.max(now);
                // Saturating: a hostile head near 2^64 must not overflow.
                let resume = wanted
                    .saturating_add(1)
                    .max(head.saturating_add(1).saturating_sub(capacity));
                let missed = resume - wanted;
                poll.missed = poll.missed.saturating_add(missed);
                self.next = resume;
                f(RingEvent::Missed(missed));
                continue;
            }
            scratch[0] = wanted;
            for word in &mut scratch[1..RECORD_HEADER_WORDS] {
                *word = ring.order.fix(*word);
            }
            let record = decode(&mut scratch[..record_words], ring.order);
            self.next = wanted.saturating_add(1);
            poll.delivered += 1;
            f(RingEvent::Record(record));
        }
        poll.head = head;
        Ok(poll)
    }
}

/// The first `len` bytes of `words` (memory order) as UTF-8.
fn text(words: &[u64], len: usize) -> Option<&str> {
    let bytes: &[u8] = bytemuck::cast_slice(words);
    core::str::from_utf8(bytes.get(..len)?).ok()
}

/// Decodes a record copied into `words` (header words already in this
/// machine's order; payload words as stored).
fn decode(words: &mut [u64], order: ByteOrder) -> EventRecord<'_> {
    let (header, payload) = words.split_at_mut(RECORD_HEADER_WORDS);
    let meta = header[3];
    let event = meta as u32;
    let kind = (meta >> 32) as u8;
    let len = ((meta >> 40) & 0xffff) as usize;
    let payload = match kind {
        PAYLOAD_VALUES => {
            for word in payload.iter_mut() {
                *word = order.fix(*word);
            }
            payload.get(..len).map_or(Payload::Invalid, Payload::Values)
        }
        PAYLOAD_TEXT => text(payload, len).map_or(Payload::Invalid, Payload::Text),
        PAYLOAD_SPAN_ENTER | PAYLOAD_SPAN_EXIT => match payload.split_first_mut() {
            Some((span, rest)) => {
                let span = order.fix(*span);
                if kind == PAYLOAD_SPAN_EXIT {
                    Payload::SpanExit { span }
                } else {
                    text(rest, len)
                        .map_or(Payload::Invalid, |name| Payload::SpanEnter { span, name })
                }
            }
            None => Payload::Invalid,
        },
        other => Payload::Unknown {
            kind: other,
            len: len as u16,
        },
    };
    EventRecord {
        seq: header[0],
        timestamp: header[1],
        thread: header[2],
        event,
        payload,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn ring(capacity: usize, payload: usize) -> (Vec<Word>, RingShape) {
        let shape = RingShape::new(capacity, payload).unwrap();
        (
            (0..shape.value_words()).map(|_| Word::new(0)).collect(),
            shape,
        )
    }

    fn location(shape: RingShape) -> RingLocation {
        RingLocation {
            head_word: 0,
            shape,
            order: ByteOrder::Native,
        }
    }

    #[derive(Debug, PartialEq)]
    enum Seen {
        Values(u64, std::vec::Vec<u64>),
        Text(u64, std::string::String),
        Enter(u64, u64, std::string::String),
        Exit(u64, u64),
        Missed(u64),
        Other,
    }

    fn drain(words: &[Word], shape: RingShape, cursor: &mut RingCursor) -> (RingPoll, Vec<Seen>) {
        let mut seen = Vec::new();
        let mut scratch = [0u64; 64];
        let poll = cursor
            .poll(words, location(shape), &mut scratch, u64::MAX, |event| {
                seen.push(match event {
                    RingEvent::Missed(n) => Seen::Missed(n),
                    RingEvent::Record(r) => match r.payload {
                        Payload::Values(v) => Seen::Values(r.seq, v.to_vec()),
                        Payload::Text(t) => Seen::Text(r.seq, t.into()),
                        Payload::SpanEnter { span, name } => Seen::Enter(r.seq, span, name.into()),
                        Payload::SpanExit { span } => Seen::Exit(r.seq, span),
                        _ => Seen::Other,
                    },
                });
            })
            .unwrap();
        (poll, seen)
    }

    #[test]
    fn a_hostile_head_never_repeats_a_record() {
        // Regression (found by the `region_reader` fuzz target): head and
        // slot sequence numbers of 2^64 - 1 made the cursor deliver that
        // "record" until `max` ran out, and sequence numbers with bit 63
        // set (a slot being written) passed as complete records.
        let (words, shape) = ring(4, 2);
        for word in &words {
            word.store(u64::MAX, Ordering::Relaxed);
        }
        for cursor in [
            RingCursor::oldest(),
            RingCursor::newest(),
            RingCursor::at(1),
        ] {
            let mut cursor = cursor;
            let mut seen = Vec::new();
            let mut scratch = [0u64; 8];
            let poll = cursor
                .poll(&words[..], location(shape), &mut scratch, 64, |event| {
                    if let RingEvent::Record(record) = event {
                        seen.push(record.seq);
                    }
                })
                .unwrap();
            assert!(seen.is_empty(), "no slot holds a complete record: {seen:?}");
            assert_eq!(poll.head, WRITING - 1);
            assert!(poll.delivered + poll.missed <= poll.head);
        }
        // A head at 2^63 - 1 and a slot holding that very record: it is
        // delivered once.
        let (words, shape) = ring(4, 2);
        let writer = EventRing::init(&words, shape).unwrap();
        writer.event(1, 1, 1, &[5]);
        let last = WRITING - 1;
        let slot = ((last - 1) % 4) as usize * shape.record_words();
        words[HEADER_WORDS + slot].store(last, Ordering::Relaxed);
        words[0].store(u64::MAX, Ordering::Relaxed);
        let mut cursor = RingCursor::at(last - 1);
        let mut seen = Vec::new();
        let mut scratch = [0u64; 8];
        cursor
            .poll(&words[..], location(shape), &mut scratch, 64, |event| {
                if let RingEvent::Record(record) = event {
                    seen.push(record.seq);
                }
            })
            .unwrap();
        assert_eq!(seen, [last]);
        assert_eq!(cursor.next(), WRITING);
    }

    #[test]
    fn shapes_encode_and_refuse_bad_params() {
        let shape = RingShape::new(1000, 4).unwrap();
        assert_eq!(RingShape::from_param(shape.param()), Some(shape));
        assert_eq!(shape.record_words(), 8);
        assert_eq!(shape.value_words(), 8 + 8000);
        assert_eq!(RingShape::new(0, 4), None);
        assert_eq!(RingShape::new(4, 0), None);
        assert_eq!(RingShape::new(4, 33), None);
        assert_eq!(RingShape::new(MAX_RING_RECORDS + 1, 1), None);
        assert_eq!(RingShape::from_param(shape.param() | 1 << 40), None);
    }

    #[test]
    fn records_round_trip_in_order() {
        let (words, shape) = ring(8, 2);
        let writer = EventRing::init(&words, shape).unwrap();
        let mut cursor = RingCursor::oldest();
        let (poll, seen) = drain(&words, shape, &mut cursor);
        assert_eq!((poll.delivered, poll.missed, seen.len()), (0, 0, 0));
        assert_eq!(writer.event(10, 1, 7, &[1, 2, 3]), 1, "cut to 2 values");
        writer.text(11, 1, 8, "hello, wörld! and more");
        let span = writer.enter(12, 1, 9, "request");
        writer.exit(13, 1, 9, span);
        let (poll, seen) = drain(&words, shape, &mut cursor);
        assert_eq!((poll.delivered, poll.missed, poll.head), (4, 0, 4));
        assert_eq!(
            seen,
            [
                Seen::Values(1, std::vec![1, 2]),
                Seen::Text(2, "hello, wörld! a".into()),
                Seen::Enter(3, 1, "request".into()),
                Seen::Exit(4, 1),
            ]
        );
        let (poll, _) = drain(&words, shape, &mut cursor);
        assert_eq!(poll.delivered, 0, "nothing new");
    }

    #[test]
    fn a_lapped_reader_counts_exactly_what_it_missed() {
        let (words, shape) = ring(4, 1);
        let writer = EventRing::init(&words, shape).unwrap();
        let mut cursor = RingCursor::oldest();
        for n in 1..=3 {
            writer.event(n, 0, 0, &[n * 100]);
        }
        let (poll, _) = drain(&words, shape, &mut cursor);
        assert_eq!(poll.delivered, 3);
        for n in 4..=13 {
            writer.event(n, 0, 0, &[n * 100]);
        }
        let (poll, seen) = drain(&words, shape, &mut cursor);
        // Records 4..=9 were overwritten; 10..=13 are still there.
        assert_eq!((poll.delivered, poll.missed), (4, 6));
        assert_eq!(seen[0], Seen::Missed(6));
        assert_eq!(seen[1], Seen::Values(10, std::vec![1000]));
        assert_eq!(cursor.next(), 14);
    }

    #[test]
    fn cursors_start_where_asked() {
        let (words, shape) = ring(4, 1);
        let writer = EventRing::init(&words, shape).unwrap();
        for n in 1..=6 {
            writer.event(n, 0, 0, &[n]);
        }
        let (poll, seen) = drain(&words, shape, &mut RingCursor::oldest());
        assert_eq!((poll.delivered, poll.missed), (4, 0));
        assert_eq!(seen[0], Seen::Values(3, std::vec![3]));
        let mut newest = RingCursor::newest();
        assert_eq!(drain(&words, shape, &mut newest).0.delivered, 0);
        writer.event(7, 0, 0, &[7]);
        assert_eq!(
            drain(&words, shape, &mut newest).1,
            [Seen::Values(7, std::vec![7])]
        );
        // Seven records in a ring of four: 1 to 3 are gone.
        let (poll, _) = drain(&words, shape, &mut RingCursor::at(1));
        assert_eq!((poll.delivered, poll.missed), (4, 3));
    }

    #[test]
    fn a_ring_that_went_backwards_is_reported() {
        let (words, shape) = ring(4, 1);
        let writer = EventRing::init(&words, shape).unwrap();
        writer.event(1, 0, 0, &[1]);
        writer.event(2, 0, 0, &[2]);
        let mut cursor = RingCursor::oldest();
        drain(&words, shape, &mut cursor);
        EventRing::init(&words, shape).unwrap();
        let mut scratch = [0u64; 8];
        assert_eq!(
            cursor.poll(&words[..], location(shape), &mut scratch, 10, |_| {}),
            Err(RingError::Reset { head: 0, next: 3 })
        );
        assert_eq!(
            cursor.poll(&words[..3], location(shape), &mut scratch, 10, |_| {}),
            Err(RingError::OutOfBounds)
        );
        assert_eq!(
            cursor.poll(&words[..], location(shape), &mut scratch[..2], 10, |_| {}),
            Err(RingError::BufferTooSmall)
        );
    }

    #[test]
    fn hostile_records_are_invalid_not_panics() {
        let (words, shape) = ring(2, 1);
        let writer = EventRing::init(&words, shape).unwrap();
        writer.event(1, 0, 0, &[1]);
        // Length past the payload, then an unknown kind.
        words[HEADER_WORDS + 3].store(meta(0, PAYLOAD_VALUES, 9), Ordering::Relaxed);
        let (_, seen) = drain(&words, shape, &mut RingCursor::oldest());
        assert_eq!(seen, [Seen::Other]);
        words[HEADER_WORDS + 3].store(meta(0, 77, 1), Ordering::Relaxed);
        let mut scratch = [0u64; 8];
        let mut kinds = Vec::new();
        RingCursor::oldest()
            .poll(&words[..], location(shape), &mut scratch, 10, |e| {
                if let RingEvent::Record(EventRecord {
                    payload: Payload::Unknown { kind, len },
                    ..
                }) = e
                {
                    kinds.push((kind, len));
                }
            })
            .unwrap();
        assert_eq!(kinds, [(77, 1)]);
        // A slot whose seq is behind the head (corrupt) counts as missed.
        words[HEADER_WORDS].store(0, Ordering::Relaxed);
        let (poll, _) = drain(&words, shape, &mut RingCursor::oldest());
        assert_eq!((poll.delivered, poll.missed), (0, 1));
    }
}
