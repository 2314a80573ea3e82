//! Dynamic fields: field-table slots that are retired and reused (format
//! 2.1), and the protocol that keeps a reader from ever mixing two fields
//! that used the same slot.
//!
//! An entry's `state` word says whether readers show the slot (1 live; 0
//! free or being rewritten; 2 retired, with the writer's reuse deadline in
//! the upper 56 bits), and its `id` word acts as the slot's sequence
//! number: every field that uses the slot gets a registration id never
//! used before in the region's generation, and the id is 0 while the slot
//! is being rewritten. It is a seqlock whose sequence values never repeat.
//!
//! Writer, reusing a retired slot for a new field ([`SlotWriter::begin_rewrite`],
//! then the caller's stores, then [`SlotWriter::publish`]):
//!
//! 1. store `state = 0` and `id = 0` (relaxed);
//! 2. a **release fence**;
//! 3. store the new value's initial words and the entry's other words
//!    (relaxed);
//! 4. store `state = 1` (release), then `id = new id` (**release**).
//!
//! Retiring ([`Slot::retire`]): store `state = 2 | deadline << 8`
//! (**release**), after the handle's last update of the value.
//!
//! Reader ([`read_slot`]): load `id = i1`, an **acquire fence**, load
//! `state`; skip the slot unless `i1 ≠ 0` and `state = 1`; read the entry
//! and the value; an **acquire fence**; load `state` and `id = i2`; keep
//! what was read only if `state = 1` and `i2 = i1`.
//!
//! Why it works. (a) If `i1` is the id a writer published (a release store,
//! after everything of step 3), the fence after loading it makes the
//! entry and the initial value of that field visible. (b) If any word read
//! came from a later rewrite of the slot (stored after that rewrite's
//! release fence), the reader's second acquire fence makes its second load
//! of `id` see that rewrite's `id = 0` or a later id, never `i1`: ids do
//! not repeat. (c) Updates of the value by the live field's handle are
//! ordinary updates, atomic word by word or latched. So a kept read is
//! one field's entry with that same field's value.
//!
//! The writer chooses slots to reuse only after their deadline (the reuse
//! delay), so that observers polling now and then see the field go before
//! its slot shows another one; correctness does not depend on the delay.
//! The retire store is a release and the writer's scan for reusable slots
//! loads with acquire, so the old handle's last value stores happen before
//! the new field's initial value, even if another thread retired it.

use core::ops::Deref;

use crate::layout::{
    ByteOrder, ENTRY_FREE, ENTRY_ID_WORD, ENTRY_LIVE, ENTRY_STATE_WORD, EntryState,
};
use crate::source::WordSource;
use crate::sync::{Ordering, Word, fence};

/// The writer's side of one slot's `state` and `id` words.
#[derive(Clone, Copy, Debug)]
pub struct SlotWriter<'a> {
    state: &'a Word,
    id: &'a Word,
}

impl<'a> SlotWriter<'a> {
    /// The slot whose entry starts at `entry[0]` (at least two words).
    #[must_use]
    pub fn new(entry: &'a [Word]) -> Option<Self> {
        Some(Self {
            state: entry.get(ENTRY_STATE_WORD)?,
            id: entry.get(ENTRY_ID_WORD)?,
        })
    }

    /// The slot's state, as this writer last stored it.
    #[must_use]
    pub fn state(&self) -> EntryState {
        // Acquire: pairs with the Release store of `retire`, which may have
        // run on another thread (see the module docs).
        EntryState::from_word(self.state.load(Ordering::Acquire))
    }

    /// Steps 1 and 2 of a rewrite: the slot stops being live, then a
    /// release fence orders that before every store the caller makes next.
    pub fn begin_rewrite(&self) {
        // Relaxed: the fence below orders both before the rewrite.
        self.state.store(ENTRY_FREE, Ordering::Relaxed);
        self.id.store(0, Ordering::Relaxed);
        // Release fence: a reader that loads any word stored after this
        // fence, then fences (acquire), sees `id = 0` or a newer id in its
        // second load of `id` and drops what it read (module docs, (b)).
        fence(Ordering::Release);
    }

    /// Step 4: the slot is live again under registration id `id` (not 0).
    pub fn publish(&self, id: u64) {
        // Release: a 2.0 reader, which checks only `state`, gets the
        // rewritten entry with it as far as its own protocol allows.
        self.state.store(ENTRY_LIVE, Ordering::Release);
        // Release, and last: a reader that loads this id (and fences
        // acquire) sees the whole rewrite and `state = 1` (module docs, (a)).
        self.id.store(id, Ordering::Release);
    }

    /// Retires the slot with a reuse deadline (writer's clock, cut to 56
    /// bits).
    pub fn retire(&self, deadline: u64) {
        // Release: the retired field's last value stores (sequenced before
        // this) happen before the reuse of the slot, whose scan loads this
        // word with acquire; a reader needs no ordering to skip the slot.
        self.state
            .store(EntryState::retired_word(deadline), Ordering::Release);
    }
}

/// What [`read_slot`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotRead<R> {
    /// The slot was live under `id` before and after, and `value` was read
    /// in between.
    Live {
        /// Registration id.
        id: u64,
        /// What the closure read.
        value: R,
    },
    /// The slot was not live (free, being rewritten, retired, or a state
    /// this reader does not know) when the read began.
    NotLive(EntryState),
    /// The slot's id or state changed while it was read: discard and retry
    /// (the entry may now describe another field).
    Changed,
    /// The slot's words are outside the source.
    OutOfBounds,
}

/// Reads a slot under the protocol of the module docs: `read` gets the
/// registration id and loads the entry and/or value; its result is kept
/// only if the slot stayed live under the same id. `entry_word` is the
/// word index of the entry in the source. If `expect` is given, a slot
/// whose id is another is reported as [`SlotRead::Changed`] without calling
/// `read`.
pub fn read_slot<S: WordSource + ?Sized, R>(
    source: &S,
    entry_word: usize,
    order: ByteOrder,
    expect: Option<u64>,
    read: impl FnOnce(u64) -> R,
) -> SlotRead<R> {
    let Some(id_word) = entry_word.checked_add(ENTRY_ID_WORD) else {
        return SlotRead::OutOfBounds;
    };
    let load = |index: usize| source.load(index).map(|raw| order.fix(raw));
    let Some(first_id) = load(id_word) else {
        return SlotRead::OutOfBounds;
    };
    // Acquire: pairs with the writer's Release store of the id (module
    // docs, (a)): the entry and value of that field are visible below.
    source.acquire_fence();
    let Some(state) = load(entry_word) else {
        return SlotRead::OutOfBounds;
    };
    let state = EntryState::from_word(state);
    if state != EntryState::Live || first_id == 0 {
        return SlotRead::NotLive(if state == EntryState::Live {
            EntryState::Free
        } else {
            state
        });
    }
    if expect.is_some_and(|expected| expected != first_id) {
        return SlotRead::Changed;
    }
    let value = read(first_id);
    // Acquire: pairs with the Release fence of any later rewrite (module
    // docs, (b)): if `read` saw one of its stores, the loads below see its
    // `id = 0` or a newer id.
    source.acquire_fence();
    match (load(entry_word), load(id_word)) {
        (Some(ENTRY_LIVE), Some(id)) if id == first_id => SlotRead::Live { id, value },
        (Some(_), Some(_)) => SlotRead::Changed,
        _ => SlotRead::OutOfBounds,
    }
}

/// A dynamic field's slot, for retiring it.
#[derive(Debug)]
pub struct Slot<'a> {
    writer: SlotWriter<'a>,
    index: usize,
    id: u64,
    delay: u64,
}

impl<'a> Slot<'a> {
    pub(crate) const fn new(writer: SlotWriter<'a>, index: usize, id: u64, delay: u64) -> Self {
        Self {
            writer,
            index,
            id,
            delay,
        }
    }

    /// Position in the field table.
    #[must_use]
    pub const fn index(&self) -> usize {
        self.index
    }

    /// Registration id of the field.
    #[must_use]
    pub const fn id(&self) -> u64 {
        self.id
    }

    /// Retires the field at `now` (writer's clock): readers stop showing
    /// it, and the writer may reuse the slot from `now + delay` on.
    pub fn retire(self, now: u64) {
        self.writer.retire(now.wrapping_add(self.delay));
    }
}

/// A field that can be retired: its handle plus its slot. Derefs to the
/// handle. Retire it with [`Dynamic::retire`] when it is no longer needed
/// (dropping it without retiring leaves the field live for good).
#[derive(Debug)]
#[must_use = "a dynamic field stays live until it is retired"]
pub struct Dynamic<'a, T> {
    field: T,
    slot: Slot<'a>,
}

impl<'a, T> Dynamic<'a, T> {
    pub(crate) const fn new(field: T, slot: Slot<'a>) -> Self {
        Self { field, slot }
    }

    /// The slot (index and registration id).
    #[must_use]
    pub const fn slot(&self) -> &Slot<'a> {
        &self.slot
    }

    /// Retires the field at `now` (the writer's clock, in the unit of the
    /// region's reuse delay) and drops its handle.
    pub fn retire(self, now: u64) {
        let Self { field, slot } = self;
        // The handle goes first: nothing may write the value after retiring.
        drop(field);
        slot.retire(now);
    }

    /// Splits into the handle and the slot, for a wrapper that retires the
    /// slot itself (the std crate's handles do, on drop). The caller must
    /// stop using the handle before retiring the slot: after that, the
    /// slot and its value may belong to another field.
    pub fn into_parts(self) -> (T, Slot<'a>) {
        (self.field, self.slot)
    }
}

impl<T> Deref for Dynamic<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.field
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn entry() -> Vec<Word> {
        (0..4).map(|_| Word::new(0)).collect()
    }

    fn read(words: &[Word], expect: Option<u64>) -> SlotRead<u64> {
        read_slot(words, 0, ByteOrder::Native, expect, |_| {
            words[2].load(Ordering::Relaxed)
        })
    }

    #[test]
    fn a_published_slot_reads_and_a_rewritten_one_does_not() {
        let words = entry();
        let slot = SlotWriter::new(&words).unwrap();
        assert_eq!(read(&words, None), SlotRead::NotLive(EntryState::Free));
        slot.begin_rewrite();
        words[2].store(42, Ordering::Relaxed);
        slot.publish(7);
        assert_eq!(read(&words, None), SlotRead::Live { id: 7, value: 42 });
        assert_eq!(read(&words, Some(7)), SlotRead::Live { id: 7, value: 42 });
        assert_eq!(read(&words, Some(6)), SlotRead::Changed);
        slot.retire(99);
        assert_eq!(slot.state(), EntryState::Retired { deadline: 99 });
        assert_eq!(
            read(&words, None),
            SlotRead::NotLive(EntryState::Retired { deadline: 99 })
        );
        // Live state with id 0 is a slot in the middle of a rewrite.
        words[0].store(ENTRY_LIVE, Ordering::Relaxed);
        words[1].store(0, Ordering::Relaxed);
        assert_eq!(read(&words, None), SlotRead::NotLive(EntryState::Free));
        assert_eq!(
            read_slot(&words[..1], 0, ByteOrder::Native, None, |_| 0),
            SlotRead::OutOfBounds
        );
    }

    #[test]
    fn a_change_during_the_read_is_caught() {
        let words = entry();
        let slot = SlotWriter::new(&words).unwrap();
        slot.begin_rewrite();
        slot.publish(1);
        let result = read_slot(&words[..], 0, ByteOrder::Native, None, |_| {
            // The writer retires and reuses the slot mid-read.
            slot.retire(0);
            slot.begin_rewrite();
            slot.publish(2);
        });
        assert_eq!(result, SlotRead::Changed);
    }
}
