//! Averages beyond the mean of everything ([`crate::Average`]): the mean of
//! the last N samples ([`MovingAverage`], the original mmstats'
//! `MovingAverage(N)`) and the mean over a time window ([`WindowAverage`]).
//!
//! Both publish their result in a latch cell, so a reader gets a sum and a
//! count that belong together; the writer's working state (the last N
//! samples, or the sub-windows) follows the latch cell in the value area,
//! where readers may ignore it.
//!
//! Layouts (word offsets from `value_offset`; B = buffers):
//!
//! ```text
//! moving_average (kind 9, param N):
//!   latch cell, copy_words 3: sum (f64 bits), count in window (u64), total samples (u64)
//!   then N words: the last N samples (f64 bits), a ring the writer owns
//! window_average (kind 10, param K):
//!   latch cell, copy_words 4: sum (f64 bits), count (u64), total samples (u64),
//!                             as_of (writer's clock at the last update)
//!   then 1 word: the window length W, in the writer's clock ticks (constant)
//!   then 3·K words: K sub-windows of W/K ticks (epoch, sum bits, count), the writer's
//! ```

use core::cell::Cell;

use crate::latch::LatchWriter;
use crate::sync::{Ordering, Word};

/// The mean of the last N samples, with one writer (`Send`, not `Sync`).
///
/// The window sum is kept incrementally and recomputed from the window
/// every N samples, so rounding errors never accumulate for long.
#[derive(Debug)]
pub struct MovingAverage<'a> {
    latch: LatchWriter<'a>,
    window: &'a [Word],
    position: Cell<usize>,
    filled: Cell<usize>,
    sum: Cell<f64>,
    total: Cell<u64>,
    since_exact: Cell<usize>,
}

impl<'a> MovingAverage<'a> {
    /// Takes the writer's side: `latch` (copy_words 3) and the window
    /// words that follow it; writes the empty average.
    pub(crate) fn init(latch: LatchWriter<'a>, window: &'a [Word]) -> Self {
        latch.init(&[0f64.to_bits(), 0, 0]);
        for word in window {
            // Relaxed: publishing the field orders it before any reader.
            word.store(0, Ordering::Relaxed);
        }
        Self {
            latch,
            window,
            position: Cell::new(0),
            filled: Cell::new(0),
            sum: Cell::new(0.0),
            total: Cell::new(0),
            since_exact: Cell::new(0),
        }
    }

    /// Window size N.
    #[must_use]
    pub const fn window(&self) -> usize {
        self.window.len()
    }

    /// Adds a sample; the oldest of a full window drops out.
    pub fn add(&self, sample: f64) {
        let size = self.window.len();
        let position = self.position.get();
        let Some(slot) = self.window.get(position) else {
            return;
        };
        let mut sum = self.sum.get();
        let mut filled = self.filled.get();
        if filled == size {
            // Relaxed: this writer's own last store to the word.
            sum -= f64::from_bits(slot.load(Ordering::Relaxed));
        } else {
            filled += 1;
        }
        // Relaxed: the window is the writer's working state; readers only
        // use the latch cell.
        slot.store(sample.to_bits(), Ordering::Relaxed);
        sum += sample;
        let since = self.since_exact.get() + 1;
        if since >= size {
            sum = self
                .window
                .iter()
                .take(filled)
                .map(|word| f64::from_bits(word.load(Ordering::Relaxed)))
                .sum();
            self.since_exact.set(0);
        } else {
            self.since_exact.set(since);
        }
        self.position.set(if position + 1 == size {
            0
        } else {
            position + 1
        });
        self.filled.set(filled);
        self.sum.set(sum);
        let total = self.total.get().wrapping_add(1);
        self.total.set(total);
        self.latch
            .write(3, |index| [sum.to_bits(), filled as u64, total][index]);
    }

    /// The mean of the window, or `None` before the first sample.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        let filled = self.filled.get();
        (filled > 0).then(|| self.sum.get() / filled as f64)
    }

    /// Samples added so far.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total.get()
    }
}

/// The mean of the samples of the last `W` clock ticks, with one writer
/// (`Send`, not `Sync`). `no_std` has no clock: pass the time in (the std
/// crate uses monotonic nanoseconds).
///
/// The window is cut into K sub-windows of `W / K` ticks; the published
/// mean covers the current sub-window and the K − 1 before it, so it spans
/// between `W − W/K` and `W` ticks. Call [`WindowAverage::tick`] now and
/// then if samples may stop, so that old ones drop out.
#[derive(Debug)]
pub struct WindowAverage<'a> {
    latch: LatchWriter<'a>,
    slots: &'a [Word],
    width: u64,
    epoch: Cell<u64>,
    started: Cell<bool>,
    sum: Cell<f64>,
    count: Cell<u64>,
    total: Cell<u64>,
}

impl<'a> WindowAverage<'a> {
    /// Takes the writer's side: `latch` (copy_words 4), the window-length
    /// word and `3·K` sub-window words; writes the empty average.
    pub(crate) fn init(
        latch: LatchWriter<'a>,
        length: &'a Word,
        slots: &'a [Word],
        window: u64,
    ) -> Self {
        latch.init(&[0f64.to_bits(), 0, 0, 0]);
        // Relaxed: publishing the field orders these before any reader.
        length.store(window, Ordering::Relaxed);
        for word in slots {
            word.store(0, Ordering::Relaxed);
        }
        let count = (slots.len() / 3).max(1) as u64;
        Self {
            latch,
            slots,
            width: (window / count).max(1),
            epoch: Cell::new(0),
            started: Cell::new(false),
            sum: Cell::new(0.0),
            count: Cell::new(0),
            total: Cell::new(0),
        }
    }

    /// Ticks per sub-window.
    #[must_use]
    pub const fn resolution(&self) -> u64 {
        self.width
    }

    /// Adds a sample taken at `now` (writer's clock).
    pub fn record(&self, sample: f64, now: u64) {
        self.advance(now);
        let index = (self.epoch.get() % (self.slots.len() / 3) as u64) as usize * 3;
        if let Some(slot) = self.slots.get(index..index + 3) {
            // Relaxed load and store of the writer's own working words.
            let sum = f64::from_bits(slot[1].load(Ordering::Relaxed)) + sample;
            slot[1].store(sum.to_bits(), Ordering::Relaxed);
            let count = slot[2].load(Ordering::Relaxed) + 1;
            slot[2].store(count, Ordering::Relaxed);
        }
        self.sum.set(self.sum.get() + sample);
        self.count.set(self.count.get() + 1);
        self.total.set(self.total.get().wrapping_add(1));
        self.publish(now);
    }

    /// Drops samples that left the window by `now` and publishes the mean.
    pub fn tick(&self, now: u64) {
        self.advance(now);
        self.publish(now);
    }

    /// The mean over the window as last published, or `None` if empty.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        let count = self.count.get();
        (count > 0).then(|| self.sum.get() / count as f64)
    }

    fn publish(&self, now: u64) {
        let words = [
            self.sum.get().to_bits(),
            self.count.get(),
            self.total.get(),
            now,
        ];
        self.latch.write(4, |index| words[index]);
    }

    /// Moves to the sub-window of `now`: clears it if it is new, and
    /// recomputes the sum and count from the sub-windows still inside the
    /// window (O(K), once per sub-window). A clock that goes back keeps
    /// the current sub-window.
    fn advance(&self, now: u64) {
        let epoch = now / self.width;
        if self.started.get() && epoch <= self.epoch.get() {
            return;
        }
        self.started.set(true);
        self.epoch.set(epoch);
        let k = (self.slots.len() / 3) as u64;
        let current = ((epoch % k) * 3) as usize;
        let (mut sum, mut count) = (0.0, 0);
        for (index, slot) in self.slots.chunks_exact(3).enumerate() {
            // Relaxed: the writer's own working words.
            if index * 3 == current {
                slot[0].store(epoch, Ordering::Relaxed);
                slot[1].store(0f64.to_bits(), Ordering::Relaxed);
                slot[2].store(0, Ordering::Relaxed);
                continue;
            }
            let slot_epoch = slot[0].load(Ordering::Relaxed);
            if slot_epoch <= epoch && slot_epoch + k > epoch {
                sum += f64::from_bits(slot[1].load(Ordering::Relaxed));
                count += slot[2].load(Ordering::Relaxed);
            }
        }
        self.sum.set(sum);
        self.count.set(count);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::latch::{LatchLocation, read_latch};
    use crate::layout::ByteOrder;

    fn words(n: usize) -> Vec<Word> {
        (0..n).map(|_| Word::new(0)).collect()
    }

    fn read(words: &[Word], copy_words: usize) -> Vec<u64> {
        let mut out = std::vec![0u64; copy_words];
        let location = LatchLocation {
            seq_index: 0,
            buffers: 2,
            copy_words,
            order: ByteOrder::Native,
        };
        read_latch(words, location, 10, &mut out, |_| copy_words).unwrap();
        out
    }

    #[test]
    fn moving_average_covers_the_last_n_samples() {
        let memory = words(1 + 2 * 3 + 4);
        let (latch_words, window) = memory.split_at(7);
        let average = MovingAverage::init(LatchWriter::new(latch_words, 2, 3).unwrap(), window);
        assert_eq!(average.mean(), None);
        for sample in 1..=10 {
            average.add(f64::from(sample));
        }
        // The last four: 7, 8, 9, 10.
        assert_eq!(average.mean(), Some(8.5));
        let published = read(latch_words, 3);
        assert_eq!(f64::from_bits(published[0]), 34.0);
        assert_eq!(&published[1..], &[4, 10]);
        assert_eq!(average.total(), 10);
    }

    #[test]
    fn moving_average_forgets_rounding_errors_and_nans() {
        let memory = words(1 + 2 * 3 + 3);
        let (latch_words, window) = memory.split_at(7);
        let average = MovingAverage::init(LatchWriter::new(latch_words, 2, 3).unwrap(), window);
        average.add(1e300);
        average.add(f64::NAN);
        for _ in 0..5 {
            average.add(0.1);
        }
        let mean = average.mean().unwrap();
        assert!((mean - 0.1).abs() < 1e-12, "{mean}");
    }

    #[test]
    fn window_average_drops_old_sub_windows() {
        // Window 100 ticks in 4 sub-windows of 25.
        let memory = words(1 + 2 * 4 + 1 + 12);
        let (latch_words, rest) = memory.split_at(9);
        let (length, slots) = rest.split_first().unwrap();
        let average = WindowAverage::init(
            LatchWriter::new(latch_words, 2, 4).unwrap(),
            length,
            slots,
            100,
        );
        assert_eq!(average.resolution(), 25);
        average.record(10.0, 1000);
        average.record(20.0, 1010);
        assert_eq!(average.mean(), Some(15.0));
        average.record(30.0, 1060);
        assert_eq!(average.mean(), Some(20.0));
        // 1000 and 1010 are in sub-window 40; at 1100 (sub-window 44) it
        // left the window (41..=44), 1060 (42) stays.
        average.tick(1100);
        assert_eq!(average.mean(), Some(30.0));
        let published = read(latch_words, 4);
        assert_eq!(f64::from_bits(published[0]), 30.0);
        assert_eq!(&published[1..], &[1, 3, 1100]);
        average.tick(5000);
        assert_eq!(average.mean(), None);
        // A clock going back records into the current sub-window.
        average.record(4.0, 10);
        assert_eq!(average.mean(), Some(4.0));
        assert_eq!(length.load(Ordering::Relaxed), 100);
    }
}
