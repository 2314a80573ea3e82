//! Histograms for std programs: an owned snapshot a reader keeps and
//! merges ([`HistogramSnapshot`]), and [`InstantClock`], the clock of
//! [`crate::HistogramTimer`] (which lives with the other writing handles).
//!
//! The bucket layout, the writer and the error bound are those of
//! `mmstats_nostd::histogram` (`docs/FORMAT.md` §5.4).

use std::fmt;
use std::time::Instant;

use mmstats_nostd::histogram::{Clock, quantile};
use mmstats_nostd::{HistogramShape, HistogramView};

/// The quantiles `mmdump` shows: p50, p90, p99 and p99.9.
pub const SHOWN_QUANTILES: [(&str, f64); 4] =
    [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)];

/// A histogram copied out of a region (see `docs/FORMAT.md` §5.4 for what a
/// snapshot taken while the writer records may show).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Bucket layout.
    pub shape: HistogramShape,
    /// The writer's record count.
    pub count: u64,
    /// Sum of the values (wrapping).
    pub sum: u64,
    /// Smallest value (`u64::MAX` when empty).
    pub min: u64,
    /// Largest value (0 when empty).
    pub max: u64,
    /// Bucket counts.
    pub buckets: Vec<u64>,
}

/// Two histograms with different bucket layouts cannot be merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// Layout of the histogram merged into.
    pub ours: HistogramShape,
    /// Layout of the other.
    pub theirs: HistogramShape,
}

impl fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "histograms differ: precision {} up to {} against precision {} up to {}",
            self.ours.precision(),
            self.ours.highest(),
            self.theirs.precision(),
            self.theirs.highest()
        )
    }
}

impl std::error::Error for ShapeMismatch {}

impl HistogramSnapshot {
    /// An empty histogram of this layout.
    #[must_use]
    pub fn empty(shape: HistogramShape) -> Self {
        Self {
            shape,
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
            buckets: vec![0; shape.buckets()],
        }
    }

    /// Copies a reader's view.
    #[must_use]
    pub fn from_view(view: &HistogramView<'_>) -> Self {
        Self {
            shape: view.shape,
            count: view.count,
            sum: view.sum,
            min: view.min,
            max: view.max,
            buckets: view.buckets.to_vec(),
        }
    }

    /// A borrowed view, for the statistics of `mmstats_nostd`.
    #[must_use]
    pub fn view(&self) -> HistogramView<'_> {
        HistogramView {
            shape: self.shape,
            count: self.count,
            sum: self.sum,
            min: self.min,
            max: self.max,
            buckets: &self.buckets,
        }
    }

    /// The `q`-quantile (0 to 1), within [`HistogramShape::relative_error`]
    /// of the exact value; `None` when empty.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<u64> {
        quantile(self.shape, &self.buckets, self.min, self.max, q)
    }

    /// Mean of the values; `None` when empty.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        self.view().mean()
    }

    /// Smallest value; `None` when empty.
    #[must_use]
    pub fn min_value(&self) -> Option<u64> {
        self.view().min_value()
    }

    /// Largest value; `None` when empty.
    #[must_use]
    pub fn max_value(&self) -> Option<u64> {
        self.view().max_value()
    }

    /// Total of the bucket counts.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.view().total()
    }

    /// The non-empty buckets: `(lower, upper, count)`, ascending.
    #[must_use]
    pub fn nonzero_buckets(&self) -> Vec<(u64, u64, u64)> {
        self.view().nonzero_buckets().collect()
    }

    /// Adds `other` (the same layout) into this one: the histogram of both
    /// sets of values, as when summing the files of several threads.
    pub fn merge(&mut self, other: &Self) -> Result<(), ShapeMismatch> {
        if self.shape != other.shape || self.buckets.len() != other.buckets.len() {
            return Err(ShapeMismatch {
                ours: self.shape,
                theirs: other.shape,
            });
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine = mine.saturating_add(*theirs);
        }
        self.count = self.count.wrapping_add(other.count);
        self.sum = self.sum.wrapping_add(other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        Ok(())
    }
}

impl fmt::Display for HistogramSnapshot {
    /// `n=… mean=… min=… p50=… p90=… p99=… p99.9=… max=…` (plain numbers
    /// in the field's unit), or `n=0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n={}", self.count)?;
        let (Some(mean), Some(min), Some(max)) = (self.mean(), self.min_value(), self.max_value())
        else {
            return Ok(());
        };
        write!(f, " mean={mean:.1} min={min}")?;
        for (name, q) in SHOWN_QUANTILES {
            if let Some(value) = self.quantile(q) {
                write!(f, " {name}={value}")?;
            }
        }
        write!(f, " max={max}")
    }
}

/// Monotonic nanoseconds since this clock was made (`Instant`).
#[derive(Clone, Copy, Debug)]
pub struct InstantClock {
    base: Instant,
}

impl InstantClock {
    /// A clock starting now.
    #[must_use]
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
        }
    }
}

impl Default for InstantClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for InstantClock {
    #[inline]
    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(values: &[u64]) -> HistogramSnapshot {
        let shape = HistogramShape::new(3, 1 << 20).unwrap();
        let mut h = HistogramSnapshot::empty(shape);
        for &v in values {
            h.buckets[shape.index_of(v)] += 1;
            h.count += 1;
            h.sum += v;
            h.min = h.min.min(v);
            h.max = h.max.max(v);
        }
        h
    }

    #[test]
    fn merging_adds_buckets_and_summaries() {
        let mut a = snapshot(&[1, 2, 3]);
        let b = snapshot(&[1000, 2000]);
        a.merge(&b).unwrap();
        assert_eq!(a, snapshot(&[1, 2, 3, 1000, 2000]));
        let other = HistogramSnapshot::empty(HistogramShape::new(4, 100).unwrap());
        let error = a.merge(&other).unwrap_err();
        assert!(error.to_string().contains("precision 3"), "{error}");
    }

    #[test]
    fn display_gives_count_mean_and_quantiles() {
        assert_eq!(snapshot(&[]).to_string(), "n=0");
        assert_eq!(
            snapshot(&[4, 4, 4, 4]).to_string(),
            "n=4 mean=4.0 min=4 p50=4 p90=4 p99=4 p99.9=4 max=4"
        );
    }

    #[test]
    fn the_clock_is_monotonic_nanoseconds() {
        let clock = InstantClock::new();
        let a = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(clock.now() >= a + 2_000_000);
    }
}
