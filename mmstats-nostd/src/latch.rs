//! Latch cells: multi-word values that a reader in another process reads
//! whole, without locks and without ever making the writer wait.
//!
//! A latch cell is a sequence word followed by `N >= 2` copies of the value:
//!
//! ```text
//! word 0          : seq   (number of completed writes)
//! words 1 ..      : copy 0, copy 1, ..., copy N-1   (copy_words each)
//! ```
//!
//! Write number `k` (the first is 1) fills copy `k % N`, then stores
//! `seq = k`. Copy 0 holds the initial value, published with the field.
//! A reader loads `seq = s1`, reads copy `s1 % N`, loads `seq = s2`, and
//! keeps the copy if `s2 - s1 <= N - 2`: copy `s1 % N` is next overwritten
//! by write `s1 + N`, which starts only after `seq = s1 + N - 1` is stored,
//! so while fewer than `N - 1` writes completed during the read, nothing
//! touched the copy it read. With `N = 2` that is the kernel's
//! `seqcount_latch` (retry on any completed write); with more copies a
//! reader retries only when the writer laps it. A reader gives up after a
//! bounded number of tries with [`LatchError::WriterTooFast`].
//!
//! A writer killed in the middle of write `k` leaves `seq = k - 1` and copy
//! `(k - 1) % N` untouched, so readers keep getting the last complete value.
//!
//! Every word is an atomic. The orderings, and why each is enough:
//! - writer: `fence(Release)`, then the copy's words with `Relaxed` stores,
//!   then `seq` with a `Release` store;
//! - reader: `seq` (`Relaxed` load, then `fence(Acquire)`), the copy's words
//!   (`Relaxed`), `fence(Acquire)`, `seq` again (`Relaxed`).
//!
//! The reasons are at each access below.

use core::cell::Cell;

use crate::layout::ByteOrder;
use crate::source::WordSource;
use crate::sync::{Ordering, Word, fence};

/// The writer's side of one latch cell. Not `Sync`: a latch has one writer.
///
/// The writer's only private state is where the next copy starts; the
/// number of completed writes is the cell's own sequence word, which only
/// this writer stores and so loads back unchanged. Keeping no shadow of it
/// saves a store per write (a write is the copy's words plus two stores).
#[derive(Debug)]
pub struct LatchWriter<'a> {
    seq: &'a Word,
    copies: &'a [Word],
    buffers: usize,
    copy_words: usize,
    /// Word offset in `copies` of the copy the next write fills,
    /// `(sequence + 1) % buffers * copy_words`, kept incrementally to spare
    /// a division.
    next_start: Cell<usize>,
}

/// Why a latch cell could not be set up over a slice of words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatchShapeError;

impl<'a> LatchWriter<'a> {
    /// Takes the writer's side of the latch in `words`, which must be
    /// exactly `1 + buffers * copy_words` long, with `buffers` in
    /// `2..=MAX_BUFFERS` and `copy_words >= 1`.
    ///
    /// Call [`LatchWriter::init`] before publishing the cell.
    pub fn new(
        words: &'a [Word],
        buffers: usize,
        copy_words: usize,
    ) -> Result<Self, LatchShapeError> {
        if !(2..=crate::layout::MAX_BUFFERS).contains(&buffers) || copy_words == 0 {
            return Err(LatchShapeError);
        }
        let total = buffers
            .checked_mul(copy_words)
            .and_then(|w| w.checked_add(1))
            .ok_or(LatchShapeError)?;
        if words.len() != total {
            return Err(LatchShapeError);
        }
        let (seq, copies) = words.split_first().ok_or(LatchShapeError)?;
        // Relaxed: the cell is not published yet, or this is its one
        // writer; the next write continues the sequence the word holds, so
        // that it fills the copy readers will look for.
        let next = seq.load(Ordering::Relaxed).wrapping_add(1);
        let next_copy = usize::try_from(next % buffers as u64).unwrap_or(0);
        Ok(Self {
            seq,
            copies,
            buffers,
            copy_words,
            next_start: Cell::new(next_copy * copy_words),
        })
    }

    /// Sets `seq = 0` and copy 0 to `initial` (zero-filled to `copy_words`),
    /// the other copies to zero. For a cell not yet visible to readers:
    /// the stores are `Relaxed` because publishing the field (a `Release`
    /// store of the field count) orders them before any reader's loads.
    pub fn init(&self, initial: &[u64]) {
        self.seq.store(0, Ordering::Relaxed);
        for (index, word) in self.copies.iter().enumerate() {
            let value = if index < self.copy_words {
                initial.get(index).copied().unwrap_or(0)
            } else {
                0
            };
            word.store(value, Ordering::Relaxed);
        }
        // buffers >= 2 (checked in `new`): write 1 fills copy 1.
        self.next_start.set(self.copy_words);
    }

    /// Number of copies.
    #[must_use]
    pub const fn buffers(&self) -> usize {
        self.buffers
    }

    /// Words in one copy.
    #[must_use]
    pub const fn copy_words(&self) -> usize {
        self.copy_words
    }

    /// Completed writes so far.
    #[must_use]
    pub fn sequence(&self) -> u64 {
        // Relaxed: this writer is the only one storing `seq`, so the load
        // returns its own last store; no other memory is inferred from it.
        self.seq.load(Ordering::Relaxed)
    }

    /// Publishes a new value: words `0..n` of the next copy become
    /// `word_at(0) .. word_at(n - 1)` (`n` is capped at `copy_words`; words
    /// past `n` keep stale contents, so a kind that writes fewer words must
    /// say in its first word how many count). Never waits.
    #[inline]
    pub fn write(&self, n: usize, mut word_at: impl FnMut(usize) -> u64) {
        self.write_with(|copy| {
            for (index, slot) in copy.slots.iter().take(n).enumerate() {
                // Relaxed: ordering comes from the fences around `fill` in
                // `write_with`.
                slot.store(word_at(index), Ordering::Relaxed);
            }
        });
    }

    /// Publishes a new value from the words `words` yields, in order (at
    /// most `copy_words` are taken; the rest of the copy keeps stale
    /// contents, as for [`LatchWriter::write`]). Never waits.
    #[inline]
    pub fn write_words(&self, words: impl IntoIterator<Item = u64>) {
        self.write_with(|copy| {
            for (index, value) in words.into_iter().enumerate().take(copy.len()) {
                copy.store(index, value);
            }
        });
    }

    /// Publishes a new value that `fill` stores into the next copy through
    /// [`CopyWriter::store`]; words it does not store keep stale contents.
    /// Never waits. The fastest way to write many words.
    #[inline]
    pub fn write_with(&self, fill: impl FnOnce(&CopyWriter<'_>)) {
        // Relaxed: `seq` is stored by this writer only, so this is its own
        // last store (coherence); nothing else is read on the strength of it.
        let next = self.seq.load(Ordering::Relaxed).wrapping_add(1);
        let start = self.next_start.get();

        // Release fence before the data stores: if a reader's (Relaxed)
        // load of any word below reads this write's value, this fence
        // synchronises with the reader's acquire fence that precedes its
        // second load of `seq`, so that load sees at least `next - 1` (the
        // store that published the previous write, sequenced before this
        // fence). That is what lets the reader notice that this write is
        // overwriting the copy it read (see the module docs).
        fence(Ordering::Release);
        let slots = self
            .copies
            .get(start..start + self.copy_words)
            .unwrap_or_default();
        fill(&CopyWriter { slots });
        // Release: a reader that loads `next` and then fences (acquire)
        // sees every store above, i.e. the whole copy it is told to read.
        self.seq.store(next, Ordering::Release);

        let following = start + self.copy_words;
        self.next_start.set(if following == self.copies.len() {
            0
        } else {
            following
        });
    }
}

/// The copy a [`LatchWriter::write_with`] call fills.
#[derive(Debug)]
pub struct CopyWriter<'c> {
    slots: &'c [Word],
}

impl CopyWriter<'_> {
    /// Words in the copy.
    #[inline]
    #[must_use]
    pub const fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the copy has no words (never, for a valid cell).
    #[inline]
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Stores word `index` of the copy (ignored past the end).
    #[inline]
    pub fn store(&self, index: usize, value: u64) {
        if let Some(slot) = self.slots.get(index) {
            // Relaxed: ordering comes from the fences around `fill` in
            // `write_with`.
            slot.store(value, Ordering::Relaxed);
        }
    }
}

/// Why a latch read returned no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LatchError {
    /// The cell's words are not all inside the source.
    OutOfBounds,
    /// The output buffer is shorter than one copy.
    BufferTooSmall,
    /// The writer completed `buffers - 1` or more writes during each of
    /// `tries` attempts; try again later, or give the field more buffers.
    WriterTooFast {
        /// Attempts made.
        tries: u32,
    },
}

impl core::fmt::Display for LatchError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfBounds => f.write_str("latch cell lies outside the region"),
            Self::BufferTooSmall => f.write_str("buffer smaller than one copy of the value"),
            Self::WriterTooFast { tries } => write!(
                f,
                "writer overwrote the value during each of {tries} read attempts"
            ),
        }
    }
}

impl core::error::Error for LatchError {}

/// A consistent copy, as [`read_latch`] found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatchRead {
    /// Words of the copy placed at the start of the output buffer.
    pub words: usize,
    /// The write number of the copy (0: the initial value).
    pub sequence: u64,
    /// Attempts that had to be discarded before this one.
    pub retries: u32,
}

/// Where a latch cell is and what it looks like, for [`read_latch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatchLocation {
    /// Word index of the sequence word in the source.
    pub seq_index: usize,
    /// Number of copies (2 to `MAX_BUFFERS`).
    pub buffers: usize,
    /// Words per copy.
    pub copy_words: usize,
    /// Byte order of the region (applies to the sequence word).
    pub order: ByteOrder,
}

/// Reads one consistent copy of a latch cell into `out`, trying at most
/// `max_tries` times (at least once).
///
/// `words_wanted` gets the copy's first word as stored (not byte-swapped)
/// and returns how many words of the copy to read (clamped to
/// `1..=copy_words`); a string uses it to read only its used bytes.
/// The words placed in `out` are as stored: byte-swap numbers if
/// `location.order` says so.
pub fn read_latch<S: WordSource + ?Sized>(
    source: &S,
    location: LatchLocation,
    max_tries: u32,
    out: &mut [u64],
    mut words_wanted: impl FnMut(u64) -> usize,
) -> Result<LatchRead, LatchError> {
    let LatchLocation {
        seq_index,
        buffers,
        copy_words,
        order,
    } = location;
    if buffers < 2 || copy_words == 0 {
        return Err(LatchError::OutOfBounds);
    }
    if out.len() < copy_words {
        return Err(LatchError::BufferTooSmall);
    }
    let tries = max_tries.max(1);
    // `buffers - 2` completed writes during a read are harmless (module docs).
    let tolerated = (buffers - 2) as u64;
    for attempt in 0..tries {
        let s1 = order.fix(source.load(seq_index).ok_or(LatchError::OutOfBounds)?);
        // Acquire (as a fence, since loads on read-only maps must be
        // Relaxed): pairs with the writer's Release store of `s1`, so the
        // copy's words written before that store are visible below.
        source.acquire_fence();
        let copy = usize::try_from(s1 % buffers as u64).map_err(|_| LatchError::OutOfBounds)?;
        let start = copy
            .checked_mul(copy_words)
            .and_then(|w| w.checked_add(seq_index + 1))
            .ok_or(LatchError::OutOfBounds)?;
        let first = source.load(start).ok_or(LatchError::OutOfBounds)?;
        out[0] = first;
        let n = words_wanted(first).clamp(1, copy_words);
        for (offset, slot) in out.iter_mut().enumerate().take(n).skip(1) {
            // Relaxed: validated by the sequence check below.
            *slot = source.load(start + offset).ok_or(LatchError::OutOfBounds)?;
        }
        // Acquire: pairs with the writer's Release fence placed before its
        // data stores; if any load above read a newer write's data, the
        // load of `seq` below sees that write's predecessor or later, and
        // the check fails.
        source.acquire_fence();
        let s2 = order.fix(source.load(seq_index).ok_or(LatchError::OutOfBounds)?);
        // wrapping_sub: a sequence that went backwards (a hostile or
        // re-initialised region) becomes huge and is retried, not trusted.
        if s2.wrapping_sub(s1) <= tolerated {
            return Ok(LatchRead {
                words: n,
                sequence: s1,
                retries: attempt,
            });
        }
    }
    Err(LatchError::WriterTooFast { tries })
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::sync::zero_word;

    fn cell(buffers: usize, copy_words: usize) -> Vec<Word> {
        (0..1 + buffers * copy_words).map(|_| zero_word()).collect()
    }

    fn location(buffers: usize, copy_words: usize) -> LatchLocation {
        LatchLocation {
            seq_index: 0,
            buffers,
            copy_words,
            order: ByteOrder::Native,
        }
    }

    #[test]
    fn shape_is_checked() {
        let words = cell(2, 3);
        assert!(LatchWriter::new(&words, 2, 3).is_ok());
        assert_eq!(LatchWriter::new(&words, 1, 3).unwrap_err(), LatchShapeError);
        assert_eq!(LatchWriter::new(&words, 4, 2).unwrap_err(), LatchShapeError);
        assert_eq!(
            LatchWriter::new(&words[..6], 2, 3).unwrap_err(),
            LatchShapeError
        );
        assert_eq!(LatchWriter::new(&words, 2, 0).unwrap_err(), LatchShapeError);
    }

    #[test]
    fn initial_value_then_each_write_is_read_back() {
        for buffers in 2..=5 {
            let words = cell(buffers, 2);
            let writer = LatchWriter::new(&words, buffers, 2).unwrap();
            writer.init(&[7, 8]);
            let mut out = [0u64; 2];
            let read = read_latch(&words[..], location(buffers, 2), 1, &mut out, |_| 2).unwrap();
            assert_eq!((out, read.sequence), ([7, 8], 0));
            for k in 1..=20u64 {
                writer.write(2, |i| k * 10 + i as u64);
                let read =
                    read_latch(&words[..], location(buffers, 2), 1, &mut out, |_| 2).unwrap();
                assert_eq!(out, [k * 10, k * 10 + 1]);
                assert_eq!(read.sequence, k);
                assert_eq!(writer.sequence(), k);
            }
        }
    }

    #[test]
    fn a_writer_continues_the_sequence_the_cell_holds() {
        let words = cell(3, 1);
        let first = LatchWriter::new(&words, 3, 1).unwrap();
        first.init(&[0]);
        for k in 1..=5 {
            first.write(1, |_| k);
        }
        // A second writer over the same words (a handle made again) goes on
        // from write 5: write 6 fills copy 6 % 3 = 0, where readers look.
        let again = LatchWriter::new(&words, 3, 1).unwrap();
        assert_eq!(again.sequence(), 5);
        again.write(1, |_| 66);
        let mut out = [0u64; 1];
        let read = read_latch(&words[..], location(3, 1), 1, &mut out, |_| 1).unwrap();
        assert_eq!((read.sequence, out[0]), (6, 66));
        assert_eq!(words[1].load(Ordering::Relaxed), 66, "copy 0 holds write 6");
    }

    #[test]
    fn partial_write_reads_only_wanted_words() {
        let words = cell(2, 4);
        let writer = LatchWriter::new(&words, 2, 4).unwrap();
        writer.init(&[]);
        writer.write(2, |i| [1, 99][i]);
        let mut out = [0u64; 4];
        let read = read_latch(&words[..], location(2, 4), 1, &mut out, |first| {
            1 + first as usize
        })
        .unwrap();
        assert_eq!(read.words, 2);
        assert_eq!(&out[..2], &[1, 99]);
    }

    #[test]
    fn sequence_that_moved_by_buffers_minus_one_is_rejected() {
        // Simulate a writer lapping the reader: the sequence moves between
        // the reader's two loads only if some other thread writes; here we
        // instead corrupt it to a value that went backwards.
        let words = cell(2, 1);
        let writer = LatchWriter::new(&words, 2, 1).unwrap();
        writer.init(&[5]);
        let mut out = [0u64; 1];
        words[0].store(3, Ordering::Relaxed);
        // seq 3 -> copy 1, which is zero; consistent, since seq did not move.
        let read = read_latch(&words[..], location(2, 1), 3, &mut out, |_| 1).unwrap();
        assert_eq!((read.sequence, out[0]), (3, 0));
    }

    #[test]
    fn reads_out_of_bounds_are_errors() {
        let words = cell(2, 2);
        let mut out = [0u64; 2];
        let mut loc = location(2, 2);
        loc.seq_index = 3;
        assert_eq!(
            read_latch(&words[..], loc, 1, &mut out, |_| 2),
            Err(LatchError::OutOfBounds)
        );
        assert_eq!(
            read_latch(&words[..], location(2, 2), 1, &mut out[..1], |_| 2),
            Err(LatchError::BufferTooSmall)
        );
        // A huge sequence word picks copy seq % buffers, still in bounds.
        words[0].store(u64::MAX, Ordering::Relaxed);
        assert!(read_latch(&words[..], location(2, 2), 1, &mut out, |_| 2).is_ok());
    }

    #[test]
    fn concurrent_reader_never_sees_a_mixed_copy() {
        for buffers in [2usize, 3] {
            let words = cell(buffers, 8);
            let writer = LatchWriter::new(&words, buffers, 8).unwrap();
            writer.init(&[0; 8]);
            let done = core::sync::atomic::AtomicBool::new(false);
            let done_flag = &done;
            std::thread::scope(|scope| {
                scope.spawn(move || {
                    // Fewer under miri, which interprets every access
                    // (and still explores weak-memory reorderings).
                    let writes = if cfg!(miri) { 2_000 } else { 200_000u64 };
                    for k in 1..=writes {
                        writer.write(8, |_| k);
                    }
                    done_flag.store(true, core::sync::atomic::Ordering::Release);
                });
                let mut out = [0u64; 8];
                let mut good = 0u64;
                let mut last = 0;
                while !done.load(core::sync::atomic::Ordering::Acquire) {
                    match read_latch(&words[..], location(buffers, 8), 64, &mut out, |_| 8) {
                        Ok(read) => {
                            assert!(out.iter().all(|&w| w == out[0]), "torn copy {out:?}");
                            assert_eq!(out[0], read.sequence, "copy matches its sequence");
                            assert!(read.sequence >= last, "sequence went backwards");
                            last = read.sequence;
                            good += 1;
                        }
                        Err(LatchError::WriterTooFast { .. }) => {}
                        Err(other) => panic!("{other}"),
                    }
                }
                assert!(good > 0);
            });
        }
    }
}
