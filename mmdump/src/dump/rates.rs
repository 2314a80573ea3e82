//! Rates of counters between reads: the change per second over the last
//! interval, moving averages over the last 10 and 100 intervals, and the
//! history a sparkline draws.
//!
//! A rate is only ever computed from two reads of the *same* writer: the
//! caller keys series by file identity (path, generation, pid, creation
//! time), so a restarted writer starts a new series, and a counter that
//! goes backwards anyway (a region re-initialised in place) makes that
//! interval unknown instead of negative. The first read of a file gives no
//! rate at all, so a file discovered with a large count never shows as a
//! spike.

use std::collections::VecDeque;

/// Intervals the short moving average spans.
pub const SHORT_WINDOW: usize = 10;
/// Intervals the long moving average spans (and the most kept).
pub const LONG_WINDOW: usize = 100;

/// The intervals of one series.
#[derive(Clone, Debug, Default)]
pub struct RateSeries {
    /// Newest last: (delta, seconds), or `None` for an interval whose
    /// change is unknown (a reset).
    intervals: VecDeque<Option<(f64, f64)>>,
}

impl RateSeries {
    /// An empty series.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an interval of `seconds` in which the value grew by `delta`
    /// (`None`: unknown).
    pub fn push(&mut self, delta: Option<f64>, seconds: f64) {
        let interval = delta.filter(|_| seconds > 0.0).map(|d| (d, seconds));
        if self.intervals.len() == LONG_WINDOW {
            self.intervals.pop_front();
        }
        self.intervals.push_back(interval);
    }

    /// Change per second over the last interval.
    #[must_use]
    pub fn rate(&self) -> Option<f64> {
        self.intervals
            .back()
            .copied()
            .flatten()
            .map(|(delta, secs)| delta / secs)
    }

    /// Change per second over the last `n` intervals (the known ones;
    /// fewer if fewer were seen), weighted by their length.
    #[must_use]
    pub fn moving(&self, n: usize) -> Option<f64> {
        let (delta, secs) = self
            .intervals
            .iter()
            .rev()
            .take(n)
            .flatten()
            .fold((0.0, 0.0), |(d, s), &(delta, secs)| (d + delta, s + secs));
        (secs > 0.0).then(|| delta / secs)
    }

    /// Intervals seen, up to [`LONG_WINDOW`].
    #[must_use]
    pub fn len(&self) -> usize {
        self.intervals.len()
    }

    /// Whether no interval was seen.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// The rate of each interval kept, oldest first.
    pub fn history(&self) -> impl Iterator<Item = Option<f64>> + '_ {
        self.intervals.iter().map(|i| i.map(|(d, s)| d / s))
    }
}

/// A counter of one writer, read again and again.
#[derive(Clone, Debug, Default)]
pub struct CounterTrack {
    last: Option<u64>,
    /// Its intervals.
    pub series: RateSeries,
    /// Intervals in which it went backwards (re-initialised in place).
    pub resets: u64,
}

impl CounterTrack {
    /// A counter not read yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a read `seconds` after the previous one; returns the growth
    /// since then (`None` on the first read, or when the value went
    /// backwards).
    pub fn observe(&mut self, value: u64, seconds: f64) -> Option<u64> {
        let delta = match self.last {
            Some(previous) if value >= previous => Some(value - previous),
            Some(_) => {
                self.resets += 1;
                None
            }
            None => None,
        };
        if self.last.is_some() {
            self.series.push(delta.map(|d| d as f64), seconds);
        }
        self.last = Some(value);
        delta
    }

    /// The last value read.
    #[must_use]
    pub const fn last(&self) -> Option<u64> {
        self.last
    }
}

/// A sparkline of `values` (oldest first), at most `width` cells, newest
/// on the right. Unknown values are blanks. `from_zero` scales from 0 (for
/// rates) instead of from the smallest value (for gauges).
#[must_use]
pub fn sparkline(values: &[Option<f64>], width: usize, from_zero: bool, unicode: bool) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    const ASCII: [char; 8] = ['_', '.', '-', '~', '=', '+', '*', '#'];
    let cells = if unicode { &BLOCKS } else { &ASCII };
    let shown = &values[values.len().saturating_sub(width)..];
    let known = shown.iter().flatten().copied().filter(|v| v.is_finite());
    let (low, high) = known.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let low = if from_zero { low.min(0.0) } else { low };
    shown
        .iter()
        .map(|v| match v {
            Some(v) if v.is_finite() => {
                if high > low {
                    let at = ((v - low) / (high - low) * 7.0).round() as usize;
                    cells[at.min(7)]
                } else if high > 0.0 || !from_zero {
                    cells[3]
                } else {
                    cells[0]
                }
            }
            _ => ' ',
        })
        .collect()
}

/// A rate for a narrow column: no decimals from 1000 up, one from 10 up,
/// two below; `-` when unknown.
#[must_use]
pub fn format_rate(rate: Option<f64>) -> String {
    match rate {
        None => "-".into(),
        Some(r) if !r.is_finite() => "-".into(),
        Some(r) if r.abs() >= 1e12 => format!("{r:.3e}"),
        Some(r) if r.abs() >= 1000.0 => format!("{r:.0}"),
        Some(r) if r.abs() >= 10.0 => format!("{r:.1}"),
        Some(r) => format!("{r:.2}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_moving_averages() {
        let mut counter = CounterTrack::new();
        assert_eq!(counter.observe(1000, 0.0), None, "first read: no rate");
        assert!(counter.series.is_empty());
        for step in 1..=20u64 {
            // 100 per second for ten intervals, then 300 per second.
            let per = if step <= 10 { 100 } else { 300 };
            let value = counter.last().unwrap() + per / 2;
            assert_eq!(counter.observe(value, 0.5), Some(per / 2));
        }
        assert_eq!(counter.series.rate(), Some(300.0));
        assert_eq!(counter.series.moving(SHORT_WINDOW), Some(300.0));
        assert_eq!(counter.series.moving(LONG_WINDOW), Some(200.0));
        assert_eq!(counter.series.len(), 20);
    }

    #[test]
    fn a_counter_going_backwards_gives_no_rate() {
        let mut counter = CounterTrack::new();
        counter.observe(5000, 0.0);
        counter.observe(6000, 1.0);
        assert_eq!(counter.observe(10, 1.0), None);
        assert_eq!(counter.series.rate(), None);
        assert_eq!(counter.resets, 1);
        // The reset interval is left out of the averages, not counted as 0.
        assert_eq!(counter.series.moving(SHORT_WINDOW), Some(1000.0));
        counter.observe(110, 1.0);
        assert_eq!(counter.series.rate(), Some(100.0));
        assert_eq!(counter.series.moving(SHORT_WINDOW), Some(550.0));
    }

    #[test]
    fn only_the_last_hundred_intervals_are_kept() {
        let mut series = RateSeries::new();
        for _ in 0..150 {
            series.push(Some(1.0), 1.0);
        }
        assert_eq!(series.len(), LONG_WINDOW);
        series.push(None, 1.0);
        assert_eq!(series.rate(), None);
        assert_eq!(series.moving(LONG_WINDOW), Some(1.0));
    }

    #[test]
    fn sparklines_scale_to_their_values() {
        let values = [Some(0.0), Some(50.0), None, Some(100.0)];
        assert_eq!(sparkline(&values, 10, true, true), "▁▅ █");
        assert_eq!(sparkline(&values, 2, true, false), " #");
        assert_eq!(sparkline(&[Some(5.0), Some(5.0)], 4, false, true), "▄▄");
        assert_eq!(sparkline(&[Some(0.0)], 4, true, true), "▁");
    }

    #[test]
    fn rates_format_for_narrow_columns() {
        assert_eq!(format_rate(None), "-");
        assert_eq!(format_rate(Some(12345.6)), "12346");
        assert_eq!(format_rate(Some(12.34)), "12.3");
        assert_eq!(format_rate(Some(0.5)), "0.50");
        assert_eq!(format_rate(Some(f64::NAN)), "-");
    }
}
