//! Writer handles, one per field, returned by [`crate::Region`].
//!
//! Single-writer handles ([`Counter`], [`Gauge`], [`FloatGauge`], [`Flag`],
//! [`Timestamp`], [`Text`], [`Average`]) are `Send` but not `Sync`, and not
//! `Clone`: the type system keeps one writer per field, which is what lets
//! an update be a `Relaxed` load and store instead of a locked
//! read-modify-write. [`SharedCounter`], [`SharedGauge`] and
//! [`SharedFloatGauge`] are `Sync` and use `fetch_add` (a compare-and-swap
//! for the float) for fields that many threads update.
//!
//! Why `Relaxed` is enough for every single-word store here: each word is an
//! independent value; no reader infers anything about other memory from it,
//! and with a single writer a load-modify-store cannot lose an update.

use core::cell::Cell;
use core::marker::PhantomData;

use crate::latch::LatchWriter;
use crate::sync::{Ordering, Word};

/// Makes a type `!Sync` while leaving it `Send`.
type NotSync = PhantomData<Cell<()>>;

/// A monotonic `u64` counter with one writer.
#[derive(Debug)]
pub struct Counter<'a> {
    word: &'a Word,
    _one_writer: NotSync,
}

impl<'a> Counter<'a> {
    pub(crate) const fn new(word: &'a Word) -> Self {
        Self {
            word,
            _one_writer: PhantomData,
        }
    }

    /// Adds one.
    #[inline]
    pub fn incr(&self) {
        self.add(1);
    }

    /// Adds `n` (wrapping at 2^64).
    #[inline]
    pub fn add(&self, n: u64) {
        // Relaxed load and store: see the module docs. The load reads this
        // writer's own last store, so no update is lost.
        let current = self.word.load(Ordering::Relaxed);
        self.word.store(current.wrapping_add(n), Ordering::Relaxed);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.word.load(Ordering::Relaxed)
    }

    /// The word holding the value, for a writer in another language that
    /// updates it exactly as this handle does (the C ABI's inline cells,
    /// `mmstats-capi`): a `Relaxed` load and store by this field's one
    /// writer. The word is an atomic, so using it cannot race; writing it
    /// from anywhere but the field's one writer loses updates.
    #[must_use]
    pub const fn value_word(&self) -> &'a Word {
        self.word
    }
}

/// A monotonic `u64` counter that many threads may update at once.
///
/// `Sync`: share it by reference. Deliberately not `Clone`, so a wrapper
/// that owns the memory (the std crate's handles) can hand out references
/// to it without letting one escape.
#[derive(Debug)]
pub struct SharedCounter<'a> {
    word: &'a Word,
}

impl<'a> SharedCounter<'a> {
    pub(crate) const fn new(word: &'a Word) -> Self {
        Self { word }
    }

    /// Adds one.
    #[inline]
    pub fn incr(&self) {
        self.add(1);
    }

    /// Adds `n` (wrapping at 2^64).
    #[inline]
    pub fn add(&self, n: u64) {
        // Relaxed read-modify-write: atomicity of the add is what keeps
        // concurrent increments from being lost; no other memory is
        // ordered by this value.
        self.word.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.word.load(Ordering::Relaxed)
    }
}

/// A signed `i64` gauge with one writer.
#[derive(Debug)]
pub struct Gauge<'a> {
    word: &'a Word,
    _one_writer: NotSync,
}

impl<'a> Gauge<'a> {
    pub(crate) const fn new(word: &'a Word) -> Self {
        Self {
            word,
            _one_writer: PhantomData,
        }
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, value: i64) {
        // Relaxed: see the module docs.
        self.word.store(value as u64, Ordering::Relaxed);
    }

    /// Adds `delta` (wrapping).
    #[inline]
    pub fn add(&self, delta: i64) {
        // Relaxed load and store by the only writer: see the module docs.
        let current = self.word.load(Ordering::Relaxed);
        self.word
            .store(current.wrapping_add(delta as u64), Ordering::Relaxed);
    }

    /// Subtracts `delta` (wrapping).
    #[inline]
    pub fn sub(&self, delta: i64) {
        self.add(delta.wrapping_neg());
    }

    /// Adds one.
    #[inline]
    pub fn incr(&self) {
        self.add(1);
    }

    /// Subtracts one.
    #[inline]
    pub fn decr(&self) {
        self.add(-1);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> i64 {
        self.word.load(Ordering::Relaxed) as i64
    }

    /// The word holding the value, for a writer in another language that
    /// updates it exactly as this handle does (the C ABI's inline cells,
    /// `mmstats-capi`): a `Relaxed` load and store by this field's one
    /// writer. The word is an atomic, so using it cannot race; writing it
    /// from anywhere but the field's one writer loses updates.
    #[must_use]
    pub const fn value_word(&self) -> &'a Word {
        self.word
    }
}

/// A signed `i64` gauge that many threads may update at once (`Sync`; not
/// `Clone`, as for [`SharedCounter`]).
#[derive(Debug)]
pub struct SharedGauge<'a> {
    word: &'a Word,
}

impl<'a> SharedGauge<'a> {
    pub(crate) const fn new(word: &'a Word) -> Self {
        Self { word }
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, value: i64) {
        // Relaxed: an independent value (module docs).
        self.word.store(value as u64, Ordering::Relaxed);
    }

    /// Adds `delta` (wrapping; two's complement makes `fetch_add` signed).
    #[inline]
    pub fn add(&self, delta: i64) {
        // Relaxed read-modify-write: atomic, orders nothing else.
        self.word.fetch_add(delta as u64, Ordering::Relaxed);
    }

    /// Subtracts `delta` (wrapping).
    #[inline]
    pub fn sub(&self, delta: i64) {
        self.add(delta.wrapping_neg());
    }

    /// Adds one.
    #[inline]
    pub fn incr(&self) {
        self.add(1);
    }

    /// Subtracts one.
    #[inline]
    pub fn decr(&self) {
        self.add(-1);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> i64 {
        self.word.load(Ordering::Relaxed) as i64
    }
}

/// An `f64` gauge with one writer.
#[derive(Debug)]
pub struct FloatGauge<'a> {
    word: &'a Word,
    _one_writer: NotSync,
}

impl<'a> FloatGauge<'a> {
    pub(crate) const fn new(word: &'a Word) -> Self {
        Self {
            word,
            _one_writer: PhantomData,
        }
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, value: f64) {
        // Relaxed: see the module docs.
        self.word.store(value.to_bits(), Ordering::Relaxed);
    }

    /// Adds `delta`.
    #[inline]
    pub fn add(&self, delta: f64) {
        self.set(self.get() + delta);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> f64 {
        f64::from_bits(self.word.load(Ordering::Relaxed))
    }

    /// The word holding the value, for a writer in another language that
    /// updates it exactly as this handle does (the C ABI's inline cells,
    /// `mmstats-capi`): a `Relaxed` load and store by this field's one
    /// writer. The word is an atomic, so using it cannot race; writing it
    /// from anywhere but the field's one writer loses updates.
    #[must_use]
    pub const fn value_word(&self) -> &'a Word {
        self.word
    }
}

/// An `f64` gauge that many threads may update at once (`Sync`; not
/// `Clone`, as for [`SharedCounter`]): `set` is a store, `add` a
/// compare-and-swap loop on the value's bits.
#[derive(Debug)]
pub struct SharedFloatGauge<'a> {
    word: &'a Word,
}

impl<'a> SharedFloatGauge<'a> {
    pub(crate) const fn new(word: &'a Word) -> Self {
        Self { word }
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, value: f64) {
        // Relaxed: an independent value (module docs).
        self.word.store(value.to_bits(), Ordering::Relaxed);
    }

    /// Adds `delta` (atomically: concurrent adds are never lost).
    #[inline]
    pub fn add(&self, delta: f64) {
        // Relaxed compare-and-swap: the swap is atomic, which is all that
        // keeps concurrent adds from being lost; it orders nothing else.
        let mut current = self.word.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + delta).to_bits();
            match self.word.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> f64 {
        f64::from_bits(self.word.load(Ordering::Relaxed))
    }
}

/// A boolean with one writer.
#[derive(Debug)]
pub struct Flag<'a> {
    word: &'a Word,
    _one_writer: NotSync,
}

impl<'a> Flag<'a> {
    pub(crate) const fn new(word: &'a Word) -> Self {
        Self {
            word,
            _one_writer: PhantomData,
        }
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, value: bool) {
        // Relaxed: see the module docs.
        self.word.store(u64::from(value), Ordering::Relaxed);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> bool {
        self.word.load(Ordering::Relaxed) != 0
    }
}

/// A point in time (nanoseconds since the Unix epoch) with one writer.
///
/// `no_std` has no clock: pass the time in. The std crate adds `set_now`.
#[derive(Debug)]
pub struct Timestamp<'a> {
    word: &'a Word,
    _one_writer: NotSync,
}

impl<'a> Timestamp<'a> {
    pub(crate) const fn new(word: &'a Word) -> Self {
        Self {
            word,
            _one_writer: PhantomData,
        }
    }

    /// Sets the time, in nanoseconds since the Unix epoch (0: unset).
    #[inline]
    pub fn set_ns(&self, unix_ns: u64) {
        // Relaxed: see the module docs.
        self.word.store(unix_ns, Ordering::Relaxed);
    }

    /// The current value, in nanoseconds since the Unix epoch.
    #[must_use]
    pub fn get_ns(&self) -> u64 {
        self.word.load(Ordering::Relaxed)
    }
}

/// A bounded UTF-8 string with one writer, in a latch cell.
#[derive(Debug)]
pub struct Text<'a> {
    latch: LatchWriter<'a>,
    capacity: usize,
}

impl<'a> Text<'a> {
    pub(crate) const fn new(latch: LatchWriter<'a>, capacity: usize) -> Self {
        Self { latch, capacity }
    }

    /// Capacity in bytes.
    #[must_use]
    pub const fn capacity(&self) -> usize {
        self.capacity
    }

    /// Sets the string, cut to the capacity at a character boundary.
    /// Returns the number of bytes stored.
    pub fn set(&self, value: &str) -> usize {
        let bytes = truncate_utf8(value, self.capacity).as_bytes();
        let len = bytes.len();
        // Word 0: length; then the bytes packed in memory order, so the
        // string reads the same whatever the machine's byte order.
        self.latch.write_with(|copy| {
            copy.store(0, len as u64);
            let whole = bytes.chunks_exact(8);
            let tail = whole.remainder();
            let mut index = 1;
            for chunk in whole {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                copy.store(index, u64::from_ne_bytes(word));
                index += 1;
            }
            if !tail.is_empty() {
                let mut word = [0u8; 8];
                word[..tail.len()].copy_from_slice(tail);
                copy.store(index, u64::from_ne_bytes(word));
            }
        });
        len
    }
}

/// The longest prefix of `value` that fits in `max` bytes and ends on a
/// character boundary.
#[must_use]
pub fn truncate_utf8(value: &str, max: usize) -> &str {
    if value.len() <= max {
        return value;
    }
    let mut end = max;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// A running average (sum and count, read together) with one writer.
#[derive(Debug)]
pub struct Average<'a> {
    latch: LatchWriter<'a>,
    sum: Cell<f64>,
    count: Cell<u64>,
}

impl<'a> Average<'a> {
    pub(crate) const fn new(latch: LatchWriter<'a>) -> Self {
        Self {
            latch,
            sum: Cell::new(0.0),
            count: Cell::new(0),
        }
    }

    /// Adds one sample.
    #[inline]
    pub fn add(&self, sample: f64) {
        self.set(self.sum.get() + sample, self.count.get().wrapping_add(1));
    }

    /// Replaces the sum and count.
    #[inline]
    pub fn set(&self, sum: f64, count: u64) {
        self.sum.set(sum);
        self.count.set(count);
        self.latch
            .write(2, |index| if index == 0 { sum.to_bits() } else { count });
    }

    /// Sum and count written last by this handle.
    #[must_use]
    pub fn get(&self) -> (f64, u64) {
        (self.sum.get(), self.count.get())
    }

    /// The mean of the samples, or `None` before the first.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        let (sum, count) = self.get();
        (count > 0).then(|| sum / count as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::truncate_utf8;
    use crate::sync::{Ordering, Word};
    use crate::{Region, RegionOptions};

    /// `value_word` is the word the handle updates: a store to it is what
    /// `get` reads, and `add`/`set` show in it (the C ABI's inline cells
    /// rely on both).
    #[test]
    fn value_word_is_the_word_the_handle_updates() {
        let memory: std::vec::Vec<Word> = (0..1024).map(|_| Word::new(0)).collect();
        let mut region = Region::create(&memory, &RegionOptions::default()).unwrap();
        let counter = region.counter("hits").unwrap();
        let gauge = region.gauge("depth").unwrap();
        let float = region.float_gauge("temp").unwrap();
        counter.add(5);
        assert_eq!(counter.value_word().load(Ordering::Relaxed), 5);
        counter.value_word().store(u64::MAX, Ordering::Relaxed);
        counter.incr();
        assert_eq!(counter.get(), 0);
        gauge.set(-2);
        assert_eq!(gauge.value_word().load(Ordering::Relaxed), (-2i64) as u64);
        float.set(1.5);
        assert_eq!(float.value_word().load(Ordering::Relaxed), 1.5f64.to_bits());
        // Three fields, three distinct words inside the region.
        let words = [counter.value_word(), gauge.value_word(), float.value_word()];
        for (i, word) in words.iter().enumerate() {
            assert!(memory.iter().any(|m| core::ptr::eq(m, *word)));
            for other in &words[i + 1..] {
                assert!(!core::ptr::eq(*word, *other));
            }
        }
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_utf8("hello", 10), "hello");
        assert_eq!(truncate_utf8("hello", 3), "hel");
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("€", 2), "");
    }
}
