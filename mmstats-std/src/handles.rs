//! The [`Stat`] trait behind [`StatsFile::add`] and [`crate::stats!`], the
//! typed adders of [`StatsFile`] (`counter`, `gauge`, ...), [`Timer`] and
//! [`WindowAverage`]. [`Handle`] itself lives with [`StatsFile`].

use std::time::{Duration, Instant};

use mmstats_nostd::{FieldSpec, Unit};

use crate::error::AddFieldError;
use crate::publish::{
    Average, Counter, Flag, FloatGauge, Gauge, Handle, Histogram, MovingAverage, SharedCounter,
    SharedFloatGauge, SharedGauge, StatsFile, Text, Timestamp,
};
/// A handle type that can be registered in a [`StatsFile`]; used by
/// [`StatsFile::add`] and [`crate::stats!`].
pub trait Stat: Sized {
    /// Adds a field described by `spec` and returns its handle.
    fn register(file: &StatsFile, spec: FieldSpec<'_>) -> Result<Self, AddFieldError>;
}

macro_rules! stat_via {
    ($($handle:ident => $method:ident),* $(,)?) => {
        $(
            impl Stat for Handle<mmstats_nostd::$handle<'static>> {
                fn register(file: &StatsFile, spec: FieldSpec<'_>) -> Result<Self, AddFieldError> {
                    file.with_region(&spec, |region, spec| region.$method(spec))
                }
            }
        )*
    };
}

stat_via! {
    Counter => counter,
    SharedCounter => shared_counter,
    Gauge => gauge,
    SharedGauge => shared_gauge,
    FloatGauge => float_gauge,
    SharedFloatGauge => shared_float_gauge,
    Flag => flag,
    Timestamp => timestamp,
    Text => text,
    Average => average,
    Histogram => histogram,
    MovingAverage => moving_average,
}

/// The mean over a time window (see [`mmstats_nostd::WindowAverage`]),
/// timed with `CLOCK_MONOTONIC` nanoseconds, so readers on the machine can
/// tell how old the window is. Window length and resolution come from the
/// spec ([`FieldSpec::window`], in nanoseconds; [`FieldSpec::slots`]).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let stats = mmstats::StatsFile::builder("t").dir(dir.path()).create().unwrap();
/// use std::time::Duration;
/// let load = stats
///     .window_average(mmstats::FieldSpec::new("load.1m").window(60_000_000_000))
///     .unwrap();
/// load.record(0.5);
/// load.record(1.5);
/// assert_eq!(load.mean(), Some(1.0));
/// ```
#[derive(Debug)]
pub struct WindowAverage {
    average: Handle<mmstats_nostd::WindowAverage<'static>>,
}

impl Stat for WindowAverage {
    fn register(file: &StatsFile, spec: FieldSpec<'_>) -> Result<Self, AddFieldError> {
        Ok(Self {
            average: file.with_region(&spec, |region, spec| region.window_average(spec))?,
        })
    }
}

impl WindowAverage {
    /// Adds a sample taken now.
    pub fn record(&self, sample: f64) {
        self.average.record(sample, crate::os::monotonic_ns());
    }

    /// Lets samples older than the window drop out, without a new sample
    /// (call it now and then if samples may stop).
    pub fn tick(&self) {
        self.average.tick(crate::os::monotonic_ns());
    }

    /// The mean over the window as last published.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        self.average.mean()
    }

    /// Whether the field is dynamic.
    #[must_use]
    pub fn is_dynamic(&self) -> bool {
        self.average.is_dynamic()
    }
}

/// Times work and publishes the mean duration, in seconds (an average
/// field with unit seconds: readers see the mean, the count and the sum).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let stats = mmstats::StatsFile::builder("t").dir(dir.path()).create().unwrap();
/// let timer = stats.timer("render").unwrap();
/// let answer = timer.time(|| 6 * 7);
/// {
///     let _guard = timer.start(); // records when dropped
/// }
/// timer.record(std::time::Duration::from_millis(3));
/// assert_eq!((answer, timer.count()), (42, 3));
/// ```
#[derive(Debug)]
pub struct Timer {
    average: Handle<mmstats_nostd::Average<'static>>,
}

impl Stat for Timer {
    fn register(file: &StatsFile, spec: FieldSpec<'_>) -> Result<Self, AddFieldError> {
        let spec = spec.unit(Unit::Seconds);
        Ok(Self {
            average: file.with_region(&spec, |region, spec| region.average(spec))?,
        })
    }
}

impl Timer {
    /// Runs `work` and records how long it took.
    pub fn time<R>(&self, work: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let result = work();
        self.record(start.elapsed());
        result
    }

    /// Starts timing; the duration is recorded when the guard drops.
    #[must_use = "the duration is recorded when the guard is dropped"]
    pub fn start(&self) -> TimerGuard<'_> {
        TimerGuard {
            timer: self,
            start: Instant::now(),
        }
    }

    /// Records a duration measured elsewhere.
    pub fn record(&self, duration: Duration) {
        self.average.add(duration.as_secs_f64());
    }

    /// Durations recorded so far.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.average.get().1
    }

    /// Mean duration so far.
    #[must_use]
    pub fn mean(&self) -> Option<Duration> {
        self.average
            .mean()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
    }
}

/// Records the time since [`Timer::start`] when dropped.
#[derive(Debug)]
pub struct TimerGuard<'t> {
    timer: &'t Timer,
    start: Instant,
}

impl Drop for TimerGuard<'_> {
    fn drop(&mut self) {
        self.timer.record(self.start.elapsed());
    }
}

/// The first non-empty line of a doc comment, trimmed and cut to the
/// 80-byte description limit; used by [`crate::stats!`].
#[doc(hidden)]
#[must_use]
pub fn __description(lines: &[&'static str]) -> &'static str {
    let line = lines
        .iter()
        .map(|line| line.trim())
        .find(|line| !line.is_empty())
        .unwrap_or("");
    mmstats_nostd::truncate_utf8(line, 80)
}

/// Declares a struct of stats whose `register` method adds every field to
/// a [`StatsFile`]. A field's doc comment becomes its description; options
/// in braces call the [`FieldSpec`] method of the same name. Registered on
/// a [`StatsFile::dynamic_group`], the fields are dynamic: dropping the
/// struct retires them all (per-connection stats).
///
/// ```
/// use mmstats::{Counter, Gauge, Text, Timer, Unit, stats};
///
/// stats! {
///     /// What the web front end publishes.
///     pub struct WebStats {
///         /// Requests served.
///         requests: Counter,
///         /// Bytes sent to clients.
///         bytes_out: Counter { unit: Unit::Bytes },
///         /// Requests being served now.
///         inflight: Gauge,
///         /// Build version.
///         version: Text { capacity: 32 },
///         /// Time to render a page.
///         render: Timer { name: "render.seconds" },
///     }
/// }
///
/// # let dir = tempfile::tempdir().unwrap();
/// let file = mmstats::StatsFile::builder("web").dir(dir.path()).prefix("web.").create().unwrap();
/// let stats = WebStats::register(&file).unwrap();
/// stats.requests.incr();
/// stats.version.set("v1.2");
/// ```
#[macro_export]
macro_rules! stats {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field_vis:vis $field:ident : $ty:ty $({ $($key:ident : $value:expr),* $(,)? })?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                $(#[doc = $doc])*
                $field_vis $field: $ty,
            )*
        }

        impl $name {
            /// Adds every field to `file` and returns their handles.
            $vis fn register(file: &$crate::StatsFile) -> ::core::result::Result<Self, $crate::AddFieldError> {
                ::core::result::Result::Ok(Self {
                    $(
                        $field: <$ty as $crate::Stat>::register(
                            file,
                            $crate::FieldSpec::new(::core::stringify!($field))
                                .describe($crate::__description(&[$($doc),*]))
                                $($(.$key($value))*)?,
                        )?,
                    )*
                })
            }
        }
    };
}

/// The typed adders: one per handle kind, each [`StatsFile::add`] of it.
impl StatsFile {
    /// Adds a field of any kind (`T` is a handle type such as [`Counter`]).
    pub fn add<'s, T: Stat>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<T, AddFieldError> {
        T::register(self, spec.into())
    }

    /// Adds a counter with one writer.
    pub fn counter<'s>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<Counter, AddFieldError> {
        self.add(spec)
    }

    /// Adds a counter that many threads update (share it by reference or `Arc`).
    pub fn shared_counter<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<SharedCounter, AddFieldError> {
        self.add(spec)
    }

    /// Adds a gauge with one writer.
    pub fn gauge<'s>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<Gauge, AddFieldError> {
        self.add(spec)
    }

    /// Adds a gauge that many threads update.
    pub fn shared_gauge<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<SharedGauge, AddFieldError> {
        self.add(spec)
    }

    /// Adds an `f64` gauge.
    pub fn float_gauge<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<FloatGauge, AddFieldError> {
        self.add(spec)
    }

    /// Adds an `f64` gauge that many threads may update at once.
    pub fn shared_float_gauge<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<SharedFloatGauge, AddFieldError> {
        self.add(spec)
    }

    /// Adds a boolean.
    pub fn flag<'s>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<Flag, AddFieldError> {
        self.add(spec)
    }

    /// Adds a timestamp.
    pub fn timestamp<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<Timestamp, AddFieldError> {
        self.add(spec)
    }

    /// Adds a bounded string.
    pub fn text<'s>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<Text, AddFieldError> {
        self.add(spec)
    }

    /// Adds a running average.
    pub fn average<'s>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<Average, AddFieldError> {
        self.add(spec)
    }

    /// Adds a timer: an average of durations, in seconds (readers see the
    /// mean). For the distribution (quantiles), use
    /// [`StatsFile::histogram_timer`].
    pub fn timer<'s>(&self, spec: impl Into<FieldSpec<'s>>) -> Result<Timer, AddFieldError> {
        self.add(spec)
    }

    /// Adds a histogram of `u64` values (precision and range from the
    /// spec; default 5 bits up to one hour in nanoseconds: quantiles within
    /// 1/64, 1216 buckets, 9.7 KiB).
    pub fn histogram<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<Histogram, AddFieldError> {
        self.add(spec)
    }

    /// Adds the mean of the last N samples, N = the spec's `capacity`
    /// (default 64).
    pub fn moving_average<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<MovingAverage, AddFieldError> {
        self.add(spec)
    }

    /// Adds the mean over a time window (the spec's `window`, in
    /// nanoseconds; default 60 s in 20 sub-windows).
    pub fn window_average<'s>(
        &self,
        spec: impl Into<FieldSpec<'s>>,
    ) -> Result<WindowAverage, AddFieldError> {
        self.add(spec)
    }
}
