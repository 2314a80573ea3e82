//! Histograms: log-linear buckets (HDR-style) with a bounded relative
//! error, recorded by one writer with relaxed loads and stores, and the
//! reader's statistics (count, sum, min, max, mean, quantiles).
//!
//! # Buckets
//!
//! A histogram has a *precision* of `m` bits (1 to 12) and a *top* exponent
//! `t` (`m ≤ t ≤ 63`). With `S = 2^m`:
//!
//! - values `0 .. S` each have their own bucket (`index = v`);
//! - every octave `[2^e, 2^(e+1))` with `m ≤ e ≤ t` is cut into `S` buckets
//!   of width `2^(e-m)`: `index = (e - m + 1)·S + (v >> (e - m)) - S`;
//! - there are `(t - m + 2)·S` buckets; values of `2^(t+1)` and above are
//!   counted in the last bucket (and in `max`).
//!
//! A bucket's width is at most `2^-m` times its lower bound, so reporting a
//! quantile as its bucket's midpoint is within a relative error of
//! `2^-(m+1)` of the exact value (see [`HistogramShape::relative_error`]):
//! 1/64 ≈ 1.6 % at the default precision of 5 bits. Covering 1 ns to one hour
//! (`t = 41`) at 5 bits takes 1216 buckets (9.7 KiB).
//!
//! # Words and consistency
//!
//! ```text
//! word 0      : count   (records so far; u64, wraps)
//! word 1      : sum     (sum of the values; u64, wraps)
//! word 2      : min     (u64::MAX before the first record)
//! word 3      : max     (0 before the first record)
//! word 4 + i  : bucket i (records that fell in it)
//! ```
//!
//! Every word is an independent atomic, written by its one writer with
//! `Relaxed` stores in the order bucket, count, sum, min, max. A reader
//! loads each word once: every word it returns is a value the writer stored
//! (no torn words, counts never go backwards), but a snapshot taken while
//! the writer records is not one instant: a record made during the scan may
//! be in its bucket and not yet in `count` or `sum`, or the other way round.
//! The buckets are scanned in a few microseconds, so the difference is the
//! handful of records made meanwhile. Quantiles are computed from the
//! buckets alone (their own total), so they are always self-consistent.

use core::cell::Cell;
use core::marker::PhantomData;

use crate::layout::{MAX_HISTOGRAM_BUCKETS, MAX_HISTOGRAM_PRECISION};
use crate::sync::{Ordering, Word};

/// Words before the buckets: count, sum, min, max.
pub const SUMMARY_WORDS: usize = 4;
/// Precision used unless a field says otherwise: 5 bits, 32 buckets per
/// octave, quantiles within 1/64 (1.5625 %).
pub const DEFAULT_PRECISION: u8 = 5;
/// Largest value recorded exactly unless a field says otherwise: one hour
/// in nanoseconds.
pub const DEFAULT_HIGHEST: u64 = 3_600_000_000_000;

/// The bucket layout of a histogram: precision and range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HistogramShape {
    precision: u8,
    top: u8,
}

/// Why a histogram shape was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HistogramShapeError {
    /// Precision must be 1 to [`MAX_HISTOGRAM_PRECISION`] bits.
    Precision,
    /// The shape needs more than [`MAX_HISTOGRAM_BUCKETS`] buckets.
    TooManyBuckets,
}

impl HistogramShape {
    /// The smallest shape with `precision` bits that records every value up
    /// to `highest` in its own bucket (a range is at least `2^(precision+1)`).
    pub const fn new(precision: u8, highest: u64) -> Result<Self, HistogramShapeError> {
        if precision == 0 || precision > MAX_HISTOGRAM_PRECISION {
            return Err(HistogramShapeError::Precision);
        }
        let log = if highest == 0 {
            0
        } else {
            63 - highest.leading_zeros() as u8
        };
        let top = if log < precision { precision } else { log };
        let shape = Self { precision, top };
        if shape.buckets() > MAX_HISTOGRAM_BUCKETS {
            return Err(HistogramShapeError::TooManyBuckets);
        }
        Ok(shape)
    }

    /// The shape an entry's `param` encodes (bits 0–7 precision, bits 8–15
    /// top exponent, the rest zero), if valid.
    #[must_use]
    pub const fn from_param(param: u64) -> Option<Self> {
        let precision = (param & 0xff) as u8;
        let top = ((param >> 8) & 0xff) as u8;
        if param >> 16 != 0
            || precision == 0
            || precision > MAX_HISTOGRAM_PRECISION
            || top < precision
            || top > 63
        {
            return None;
        }
        let shape = Self { precision, top };
        if shape.buckets() > MAX_HISTOGRAM_BUCKETS {
            return None;
        }
        Some(shape)
    }

    /// The entry `param` for this shape.
    #[must_use]
    pub const fn param(self) -> u64 {
        self.precision as u64 | (self.top as u64) << 8
    }

    /// Sub-bucket bits `m`.
    #[must_use]
    pub const fn precision(self) -> u8 {
        self.precision
    }

    /// Top exponent `t`: values below `2^(t+1)` have their own bucket.
    #[must_use]
    pub const fn top(self) -> u8 {
        self.top
    }

    /// Number of buckets, `(t - m + 2)·2^m`.
    #[must_use]
    pub const fn buckets(self) -> usize {
        ((self.top - self.precision) as usize + 2) << self.precision
    }

    /// The largest value with a bucket of its own, `2^(t+1) - 1`.
    #[must_use]
    pub const fn highest(self) -> u64 {
        if self.top >= 63 {
            u64::MAX
        } else {
            (1u64 << (self.top + 1)) - 1
        }
    }

    /// The bound on the relative error of a reported quantile, `2^-(m+1)`,
    /// for quantiles at or below [`HistogramShape::highest`].
    #[must_use]
    pub fn relative_error(self) -> f64 {
        1.0 / (1u64 << (self.precision + 1)) as f64
    }

    /// The bucket of `value` (values past the range go to the last bucket).
    #[inline]
    #[must_use]
    pub const fn index_of(self, value: u64) -> usize {
        let index = self.unclamped_index(value);
        let last = self.buckets() - 1;
        if index > last { last } else { index }
    }

    /// The bucket `value` would have if the range had no top.
    #[inline]
    const fn unclamped_index(self, value: u64) -> usize {
        // Without a branch: `value | 2^m` has its top bit at the octave
        // exponent `e` of `value` (m for values below 2^m), so `shift = e - m`
        // is 0 for those, and `(shift << m) + (value >> shift)` is `value`
        // for them and `(e - m + 1)·2^m + (v >> (e - m)) - 2^m` (module docs)
        // for the others.
        let m = self.precision as u32;
        let exponent = 63 - (value | 1u64 << m).leading_zeros();
        let shift = exponent - m;
        ((shift as usize) << m) + (value >> shift) as usize
    }

    /// The smallest and largest value of bucket `index` (inclusive). The
    /// last bucket also holds every value past its upper bound.
    #[must_use]
    pub const fn bounds(self, index: usize) -> (u64, u64) {
        let m = self.precision as u32;
        let sub = 1usize << m;
        if index < sub {
            return (index as u64, index as u64);
        }
        let group = index >> m; // >= 1
        let shift = (group - 1) as u32;
        let lower = ((sub + (index & (sub - 1))) as u64) << shift;
        let width = 1u64 << shift;
        (lower, lower + (width - 1))
    }
}

impl Default for HistogramShape {
    fn default() -> Self {
        Self {
            precision: DEFAULT_PRECISION,
            top: 41, // floor(log2(DEFAULT_HIGHEST))
        }
    }
}

/// A histogram with one writer. `Send`, not `Sync`.
///
/// Recording is a handful of `Relaxed` loads and stores: no locked
/// instruction, no allocation, no waiting.
#[derive(Debug)]
pub struct Histogram<'a> {
    summary: &'a [Word; SUMMARY_WORDS],
    buckets: &'a [Word],
    shape: HistogramShape,
    _one_writer: PhantomData<Cell<()>>,
}

impl<'a> Histogram<'a> {
    /// Takes the writer's side of the histogram in `words`, which must be
    /// exactly `4 + shape.buckets()` long, and writes the empty histogram
    /// (`Relaxed`: publishing the field orders it before any reader).
    pub(crate) fn init(words: &'a [Word], shape: HistogramShape) -> Option<Self> {
        if words.len() != SUMMARY_WORDS + shape.buckets() {
            return None;
        }
        let (summary, buckets) = words.split_first_chunk::<SUMMARY_WORDS>()?;
        for (index, word) in words.iter().enumerate() {
            word.store(if index == 2 { u64::MAX } else { 0 }, Ordering::Relaxed);
        }
        Some(Self {
            summary,
            buckets,
            shape,
            _one_writer: PhantomData,
        })
    }

    /// The bucket layout.
    #[must_use]
    pub const fn shape(&self) -> HistogramShape {
        self.shape
    }

    /// Records one value.
    #[inline]
    pub fn record(&self, value: u64) {
        self.record_n(value, 1);
    }

    /// Records `value` `n` times (a pre-aggregated batch). `n = 0`
    /// records nothing (not even into `min` and `max`).
    #[inline]
    pub fn record_n(&self, value: u64, n: u64) {
        if n == 0 {
            return;
        }
        // The bucket of `value`, clamped to the last bucket: the words hold
        // exactly the shape's buckets (checked in `init`), so clamping to
        // the slice is `index_of`'s clamp, without recomputing the bucket
        // count from the shape on every record.
        let index = self
            .shape
            .unclamped_index(value)
            .min(self.buckets.len().saturating_sub(1));
        if let Some(bucket) = self.buckets.get(index) {
            // Relaxed load and store by the only writer: each word is an
            // independent value (module docs), so no ordering is needed and
            // the load sees this writer's own last store.
            let current = bucket.load(Ordering::Relaxed);
            bucket.store(current.wrapping_add(n), Ordering::Relaxed);
        }
        // The summary words are loaded back from the region rather than
        // kept in shadows: this writer is their only writer, so each load
        // returns its own last store, and a shadow would cost a second store
        // per word. Relaxed for the same reason as the bucket.
        self.store(0, self.load(0).wrapping_add(n));
        self.store(1, self.load(1).wrapping_add(value.wrapping_mul(n)));
        if value < self.load(2) {
            self.store(2, value);
        }
        if value > self.load(3) {
            self.store(3, value);
        }
    }

    #[inline]
    fn load(&self, word: usize) -> u64 {
        // Relaxed: this writer's own last store (see `record_n`).
        self.summary[word].load(Ordering::Relaxed)
    }

    #[inline]
    fn store(&self, word: usize, value: u64) {
        // Relaxed: see `record_n`.
        self.summary[word].store(value, Ordering::Relaxed);
    }

    /// Records made so far (this writer's count).
    #[must_use]
    pub fn count(&self) -> u64 {
        self.load(0)
    }

    /// Sum of the values recorded so far (wrapping).
    #[must_use]
    pub fn sum(&self) -> u64 {
        self.load(1)
    }
}

/// A histogram as a reader loaded it: see the module docs for what a
/// snapshot taken during recording may show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistogramView<'b> {
    /// Bucket layout.
    pub shape: HistogramShape,
    /// The writer's record count.
    pub count: u64,
    /// Sum of the values (wrapping).
    pub sum: u64,
    /// Smallest value (`u64::MAX` before the first record).
    pub min: u64,
    /// Largest value (0 before the first record).
    pub max: u64,
    /// Bucket counts, in this machine's byte order.
    pub buckets: &'b [u64],
}

impl HistogramView<'_> {
    /// Total of the bucket counts (what quantiles are computed over).
    #[must_use]
    pub fn total(&self) -> u64 {
        self.buckets
            .iter()
            .fold(0u64, |total, &count| total.saturating_add(count))
    }

    /// Mean of the values (`sum / count`), if any were recorded.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// Smallest value, if any were recorded.
    #[must_use]
    pub const fn min_value(&self) -> Option<u64> {
        if self.count == 0 || self.min > self.max {
            None
        } else {
            Some(self.min)
        }
    }

    /// Largest value, if any were recorded.
    #[must_use]
    pub const fn max_value(&self) -> Option<u64> {
        if self.count == 0 || self.min > self.max {
            None
        } else {
            Some(self.max)
        }
    }

    /// The `q`-quantile (`q` in 0 to 1; 0.99 for p99), within
    /// [`HistogramShape::relative_error`] of the exact nearest-rank
    /// quantile, or `None` for an empty histogram.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<u64> {
        quantile(self.shape, self.buckets, self.min, self.max, q)
    }

    /// The buckets that hold records: `(lower, upper, count)`, ascending.
    pub fn nonzero_buckets(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        let shape = self.shape;
        self.buckets
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count > 0)
            .map(move |(index, &count)| {
                let (lower, upper) = shape.bounds(index);
                (lower, upper, count)
            })
    }
}

/// The `q`-quantile of `buckets` laid out as `shape`: the midpoint of the
/// bucket that holds the value of rank `ceil(q·total)` (at least 1), clamped
/// to `[min, max]` when `min ≤ max`; in the last bucket, if `max` lies past
/// its range, `max`. `None` if every bucket is empty.
///
/// The exact nearest-rank quantile lies in that bucket, whose width is at
/// most `2^-m` of its lower bound, so the result is within `2^-(m+1)` of it
/// (clamping only moves it closer).
#[must_use]
pub fn quantile(shape: HistogramShape, buckets: &[u64], min: u64, max: u64, q: f64) -> Option<u64> {
    let total = buckets
        .iter()
        .fold(0u64, |total, &count| total.saturating_add(count));
    if total == 0 {
        return None;
    }
    let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
    // ceil without std: f64 -> u64 truncates, so add one when it cut.
    let scaled = q * total as f64;
    let mut rank = scaled as u64;
    if (rank as f64) < scaled {
        rank += 1;
    }
    let rank = rank.clamp(1, total);
    let mut seen = 0u64;
    for (index, &count) in buckets.iter().enumerate() {
        seen = seen.saturating_add(count);
        if seen >= rank {
            let (lower, upper) = shape.bounds(index);
            if index + 1 == buckets.len() && min <= max && max > upper {
                // Values past the range went here: all that is known of
                // them is the maximum, which bounds the quantile.
                return Some(max);
            }
            let mid = lower + (upper - lower) / 2;
            return Some(if min <= max { mid.clamp(min, max) } else { mid });
        }
    }
    None
}

/// A source of time for timers: a monotonic clock in whatever unit the
/// histogram records (nanoseconds, or a cycle counter on firmware).
///
/// Any `Fn() -> u64` is a clock:
///
/// ```
/// use mmstats_nostd::histogram::Clock;
/// let ticks = || 42u64;
/// assert_eq!(ticks.now(), 42);
/// ```
pub trait Clock {
    /// The current time, in ticks. Durations are differences of two calls
    /// (wrapping), so the clock must not go backwards.
    fn now(&self) -> u64;
}

impl<F: Fn() -> u64> Clock for F {
    #[inline]
    fn now(&self) -> u64 {
        self()
    }
}

/// Times work and records each duration (in the clock's ticks) into a
/// histogram.
///
/// ```
/// use mmstats_nostd::{FieldSpec, Region, RegionBuffer, RegionOptions, Unit};
/// static STATS: RegionBuffer<2048> = RegionBuffer::new();
/// let mut region = Region::create(STATS.words(), &RegionOptions::default()).unwrap();
/// let cycles = core::cell::Cell::new(0u64);
/// let clock = || { cycles.set(cycles.get() + 100); cycles.get() };
/// let timer = region
///     .histogram_timer(FieldSpec::new("loop.cycles").precision(3).highest(1 << 20), clock)
///     .unwrap();
/// timer.time(|| ());             // records 100 ticks
/// { let _guard = timer.start(); } // records on drop
/// timer.record(250);              // a duration measured elsewhere
/// assert_eq!(timer.histogram().count(), 3);
/// ```
#[derive(Debug)]
pub struct HistogramTimer<'a, C> {
    histogram: Histogram<'a>,
    clock: C,
}

impl<'a, C: Clock> HistogramTimer<'a, C> {
    /// A timer recording into `histogram`, reading `clock`.
    pub const fn new(histogram: Histogram<'a>, clock: C) -> Self {
        Self { histogram, clock }
    }

    /// Runs `work` and records how many ticks it took.
    #[inline]
    pub fn time<R>(&self, work: impl FnOnce() -> R) -> R {
        let start = self.clock.now();
        let result = work();
        self.record(self.clock.now().wrapping_sub(start));
        result
    }

    /// Starts timing; the duration is recorded when the guard drops.
    #[inline]
    #[must_use = "the duration is recorded when the guard is dropped"]
    pub fn start(&self) -> TimerGuard<'_, 'a, C> {
        TimerGuard {
            timer: self,
            start: self.clock.now(),
        }
    }

    /// Records a duration measured elsewhere, in ticks.
    #[inline]
    pub fn record(&self, ticks: u64) {
        self.histogram.record(ticks);
    }

    /// The histogram.
    #[must_use]
    pub const fn histogram(&self) -> &Histogram<'a> {
        &self.histogram
    }

    /// The clock.
    #[must_use]
    pub const fn clock(&self) -> &C {
        &self.clock
    }
}

/// Records the time since [`HistogramTimer::start`] when dropped.
#[derive(Debug)]
pub struct TimerGuard<'t, 'a, C: Clock> {
    timer: &'t HistogramTimer<'a, C>,
    start: u64,
}

impl<C: Clock> TimerGuard<'_, '_, C> {
    /// Ticks since the guard was made.
    #[must_use]
    pub fn elapsed(&self) -> u64 {
        self.timer.clock.now().wrapping_sub(self.start)
    }
}

impl<C: Clock> Drop for TimerGuard<'_, '_, C> {
    fn drop(&mut self) {
        self.timer.record(self.elapsed());
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    #[test]
    fn shapes_encode_and_refuse_bad_params() {
        let shape = HistogramShape::new(5, DEFAULT_HIGHEST).unwrap();
        assert_eq!(shape, HistogramShape::default());
        assert_eq!(shape.top(), 41);
        assert_eq!(shape.buckets(), 1216);
        assert_eq!(HistogramShape::from_param(shape.param()), Some(shape));
        assert!(shape.highest() >= DEFAULT_HIGHEST);
        assert_eq!(HistogramShape::from_param(0), None);
        assert_eq!(
            HistogramShape::from_param(5 | 4 << 8),
            None,
            "top < precision"
        );
        assert_eq!(HistogramShape::from_param(5 | 64 << 8), None);
        assert_eq!(HistogramShape::from_param(5 | 41 << 8 | 1 << 16), None);
        assert_eq!(
            HistogramShape::new(0, 10),
            Err(HistogramShapeError::Precision)
        );
        assert_eq!(
            HistogramShape::new(12, u64::MAX),
            Err(HistogramShapeError::TooManyBuckets)
        );
        let full = HistogramShape::new(7, u64::MAX).unwrap();
        assert_eq!(full.highest(), u64::MAX);
        assert_eq!(full.index_of(u64::MAX), full.buckets() - 1);
        // A tiny range still spans its precision.
        assert_eq!(HistogramShape::new(4, 3).unwrap().top(), 4);
    }

    #[test]
    fn every_value_lies_in_its_bucket_and_buckets_tile_the_range() {
        for precision in [1u8, 2, 3, 5, 8] {
            let shape = HistogramShape::new(precision, 1 << 30).unwrap();
            let mut expected_lower = 0u64;
            for index in 0..shape.buckets() {
                let (lower, upper) = shape.bounds(index);
                assert_eq!(lower, expected_lower, "contiguous at {index}");
                assert!(upper >= lower);
                assert_eq!(shape.index_of(lower), index);
                assert_eq!(shape.index_of(upper), index);
                // Width at most 2^-m of the lower bound (exact below 2^m).
                let width = upper - lower + 1;
                assert!(width == 1 || width * (1 << precision) <= lower);
                expected_lower = upper + 1;
            }
            assert_eq!(expected_lower - 1, shape.highest());
            assert_eq!(shape.index_of(shape.highest() + 1), shape.buckets() - 1);
        }
    }

    fn words(n: usize) -> Vec<Word> {
        (0..n).map(|_| Word::new(0)).collect()
    }

    #[test]
    fn recording_fills_summary_and_buckets() {
        let shape = HistogramShape::new(2, 100).unwrap();
        let memory = words(SUMMARY_WORDS + shape.buckets());
        let histogram = Histogram::init(&memory, shape).unwrap();
        assert!(Histogram::init(&memory[1..], shape).is_none());
        histogram.record(5);
        histogram.record(7);
        histogram.record_n(1000, 2);
        let loaded: Vec<u64> = memory.iter().map(|w| w.load(Ordering::Relaxed)).collect();
        assert_eq!(&loaded[..4], &[4, 5 + 7 + 2000, 5, 1000]);
        let view = HistogramView {
            shape,
            count: loaded[0],
            sum: loaded[1],
            min: loaded[2],
            max: loaded[3],
            buckets: &loaded[4..],
        };
        assert_eq!(view.total(), 4);
        assert_eq!(view.quantile(0.0), Some(5));
        assert_eq!(view.quantile(0.25), Some(5));
        // 1000 is past the range (highest 127): clamped to max.
        assert_eq!(view.quantile(1.0), Some(1000));
        assert_eq!(view.mean(), Some(2012.0 / 4.0));
        let nonzero: Vec<_> = view.nonzero_buckets().collect();
        assert_eq!(nonzero.len(), 3);
        assert_eq!(nonzero[0].2, 1);
    }

    #[test]
    fn recording_zero_times_records_nothing() {
        // Regression (found by the `writer_ops` fuzz target): a batch of
        // zero records moved `min` and `max`, so a later snapshot showed a
        // maximum that was never recorded.
        let shape = HistogramShape::new(2, 100).unwrap();
        let memory = words(SUMMARY_WORDS + shape.buckets());
        let histogram = Histogram::init(&memory, shape).unwrap();
        histogram.record_n(1000, 0);
        let loaded: Vec<u64> = memory.iter().map(|w| w.load(Ordering::Relaxed)).collect();
        assert_eq!(&loaded[..4], &[0, 0, u64::MAX, 0], "still empty");
        histogram.record(60);
        histogram.record_n(3, 0);
        histogram.record_n(27_238_303, 0);
        let loaded: Vec<u64> = memory.iter().map(|w| w.load(Ordering::Relaxed)).collect();
        assert_eq!(&loaded[..4], &[1, 60, 60, 60]);
        assert_eq!(loaded[4..].iter().sum::<u64>(), 1);
        assert_eq!((histogram.count(), histogram.sum()), (1, 60));
    }

    #[test]
    fn empty_histogram_has_no_statistics() {
        let shape = HistogramShape::new(3, 1000).unwrap();
        let buckets = std::vec![0u64; shape.buckets()];
        let view = HistogramView {
            shape,
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
            buckets: &buckets,
        };
        assert_eq!(view.quantile(0.5), None);
        assert_eq!(view.mean(), None);
        assert_eq!(view.min_value(), None);
        assert_eq!(view.max_value(), None);
    }

    #[test]
    fn timer_records_clock_differences() {
        let shape = HistogramShape::new(4, 1 << 16).unwrap();
        let memory = words(SUMMARY_WORDS + shape.buckets());
        let ticks = Cell::new(0u64);
        let clock = || {
            ticks.set(ticks.get() + 7);
            ticks.get()
        };
        let timer = HistogramTimer::new(Histogram::init(&memory, shape).unwrap(), clock);
        assert_eq!(timer.time(|| 5), 5);
        {
            let guard = timer.start();
            assert_eq!(guard.elapsed(), 7);
        }
        timer.record(3);
        assert_eq!(timer.histogram().count(), 3);
        assert_eq!(timer.histogram().sum(), 7 + 14 + 3);
    }
}
