//! [`HistogramTimer`]: records durations, in nanoseconds, into a
//! histogram field.

use std::time::Duration;

use mmstats_nostd::{FieldSpec, Unit};

use crate::error::AddFieldError;
use crate::handles::Stat;
use crate::histogram::InstantClock;
use crate::publish::{Handle, StatsFile};

/// Times work and records each duration, in nanoseconds, into a histogram
/// (unit nanoseconds; default range 1 ns to one hour at 5 bits, quantiles
/// within 1/64). Readers see count, sum, min, max, mean and quantiles.
///
/// The older [`crate::Timer`] publishes only the mean duration (an
/// average in seconds); use this one for latency distributions.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let stats = mmstats::StatsFile::builder("t").dir(dir.path()).create().unwrap();
/// let timer = stats.histogram_timer("render.ns").unwrap();
/// let answer = timer.time(|| 6 * 7);
/// {
///     let _guard = timer.start(); // records when dropped
/// }
/// timer.record(std::time::Duration::from_micros(250));
/// assert_eq!((answer, timer.count()), (42, 3));
/// ```
#[derive(Debug)]
pub struct HistogramTimer {
    timer: Handle<mmstats_nostd::HistogramTimer<'static, InstantClock>>,
}

impl Stat for HistogramTimer {
    fn register(file: &StatsFile, spec: FieldSpec<'_>) -> Result<Self, AddFieldError> {
        let spec = spec.unit(Unit::Nanoseconds);
        Ok(Self {
            timer: file.with_region(&spec, |region, spec| {
                region.histogram_timer(spec, InstantClock::new())
            })?,
        })
    }
}

impl HistogramTimer {
    /// Runs `work` and records how long it took.
    #[inline]
    pub fn time<R>(&self, work: impl FnOnce() -> R) -> R {
        self.timer.time(work)
    }

    /// Starts timing; the duration is recorded when the guard drops.
    #[inline]
    #[must_use = "the duration is recorded when the guard is dropped"]
    pub fn start(&self) -> mmstats_nostd::histogram::TimerGuard<'_, 'static, InstantClock> {
        self.timer.start()
    }

    /// Records a duration measured elsewhere.
    #[inline]
    pub fn record(&self, duration: Duration) {
        self.timer
            .record(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Durations recorded so far.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.timer.histogram().count()
    }
}

impl StatsFile {
    /// Adds a timer that records durations into a histogram, in
    /// nanoseconds (readers see count, mean and quantiles).
    pub fn histogram_timer<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<HistogramTimer, AddFieldError> {
        self.add(spec)
    }
}
