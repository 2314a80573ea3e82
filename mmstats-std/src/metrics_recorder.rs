//! A recorder for the [`metrics`](https://docs.rs/metrics) facade
//! (feature `metrics`): once installed, every `counter!`, `gauge!` and
//! `histogram!` in the program (and in its libraries) publishes into a
//! stats file, with no mmstats API at the call sites.
//!
//! **What.** Each `metrics` key becomes fields of one [`StatsFile`]:
//!
//! | `metrics`      | field(s)                                                     |
//! |----------------|--------------------------------------------------------------|
//! | counter        | one single-writer counter per *lane* (see below), label `lane="0"`, `"1"`, ...; readers sum the lanes |
//! | gauge          | one shared `f64` gauge (`set` is a store, `increment`/`decrement` a compare-and-swap) |
//! | histogram      | one log-linear histogram per lane (label `lane`), `u64` values |
//!
//! The key's labels become the fields' format labels (at most 7 besides
//! `lane`, keys of at most 32 bytes, values of at most 64; a key with more,
//! or with a label of its own named `lane`, is refused, see below), and `describe_*` gives the fields' description (cut to 80
//! bytes) and unit. A description counts only if it comes **before** the
//! metric is first registered (the field table is written once); describe
//! at start-up, as the `metrics` docs advise.
//!
//! **Histograms** record `f64` values into `u64` buckets: when the unit
//! given by `describe_histogram` is seconds, milliseconds or microseconds,
//! values are scaled to **nanoseconds** (the field's unit is then
//! nanoseconds, so `histogram!("latency").record(d.as_secs_f64())` keeps
//! nanosecond resolution); for any other unit (or none) the value is
//! recorded as it is, rounded to the nearest integer. Negative values and
//! NaN record 0; values above 2^64 record `u64::MAX` (in the top bucket).
//!
//! **Why lanes.** `metrics` handles are `Send + Sync` and cloned across
//! threads, and a locked `fetch_add` on one shared word costs about as much
//! as `metrics-exporter-prometheus`'s own atomic, and more when threads
//! contend for the cache line. So each thread that touches a counter gets
//! its own *lane*: a single-writer field of the file that only that thread
//! writes, with a plain load and store (no locked instruction, and no
//! cache line shared between threads: each lane is padded to 128 bytes). The lane lives in a thread-local table
//! indexed by the metric's id; the increment is a thread-local lookup, a
//! bounds check and the store. Readers sum the lanes (`mmdump` shows each,
//! Prometheus sums them with `sum without (lane)`). We chose lanes that
//! are fields over process-local stripes flushed by a thread because a
//! reader then sees every increment at once, with no flusher to run.
//!
//! Lanes are bounded: at most [`MAX_LANES`] per metric. When a thread
//! exits, its lanes go back to the metric's pool and the next new thread
//! takes them over (with their counts: a lane only ever grows), so thread
//! churn does not grow the file. A thread that finds all lanes taken uses
//! the metric's *shared* lane (label `lane="shared"`): a `fetch_add`
//! counter, or for a histogram a histogram behind a mutex. Counter
//! `absolute(v)` also goes to the shared lane (raising it to `v`; mixing
//! `absolute` and `increment` on one counter sums both).
//!
//! **Bounded.** Registration takes a lock (it is rare); updates never do
//! (except the shared histogram lane above). Every metric and lane is a
//! field of the file, so the file's capacity (the builder's `size`) bounds
//! them: a metric or lane that gets no field (the file is full, or the
//! name or labels are not valid for the format) is *refused*: its updates
//! are discarded, it is counted in the field `metrics.refused` and in
//! [`MmstatsRecorder::refused`], and nothing panics.
//!
//! **When not to use it.** When you write new code, mmstats' own handles
//! ([`StatsFile::counter`], ...) are cheaper still (no facade call, no
//! thread-local lookup) and put no `lane` label on the fields. When a
//! metric's key is built per request from unbounded values (user ids),
//! the file fills up: the `metrics` facade makes that easy; refuse it at
//! the call site.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! let stats = mmstats::StatsFile::builder("web").dir(dir.path()).create()?;
//! let recorder = mmstats::metrics_recorder::MmstatsRecorder::new(stats.clone())?;
//! // A program calls `recorder.install()?` once; a test uses it locally:
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::describe_counter!("requests", "requests served");
//!     metrics::counter!("requests", "method" => "GET").increment(3);
//!     metrics::gauge!("load").set(0.5);
//! });
//! let read = mmstats::read_file(stats.path())?;
//! let requests = read.fields.iter().find(|f| f.name == "requests").unwrap();
//! assert_eq!(requests.value, mmstats::FieldValue::Counter(3));
//! assert_eq!(requests.labels.get("method"), Some("GET"));
//! assert_eq!(requests.labels.get("lane"), Some("0"));
//! assert_eq!(requests.description, "requests served");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use ::metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString,
};
use mmstats_nostd::{FieldSpec, Padding, Unit, truncate_utf8};

use crate::error::AddFieldError;
use crate::handles::Stat;
use crate::publish::{SharedCounter, SharedFloatGauge, StatsFile};

/// Lanes (single-writer fields) per metric; threads beyond share one.
pub const MAX_LANES: usize = 16;

/// Bytes of a field description (the format's limit).
const DESCRIPTION_MAX: usize = 80;

/// Ids of metrics, process-wide: the index of a metric's lane in every
/// thread's table. Relaxed: only uniqueness matters.
static NEXT_METRIC_ID: AtomicUsize = AtomicUsize::new(0);

/// Why [`MmstatsRecorder::install`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstallError {
    /// The program already installed a global `metrics` recorder.
    AlreadyInstalled,
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyInstalled => f.write_str("a global metrics recorder is already installed"),
        }
    }
}

impl std::error::Error for InstallError {}

/// The `metrics` recorder that publishes into a [`StatsFile`] (module
/// docs). Cheap to clone (an `Arc`).
#[derive(Clone, Debug)]
pub struct MmstatsRecorder {
    inner: Arc<RecorderInner>,
}

#[derive(Debug)]
struct RecorderInner {
    file: StatsFile,
    refused: Refused,
    state: Mutex<RecorderState>,
}

/// Fields the recorder could not add: published and kept here.
#[derive(Debug)]
struct Refused {
    field: SharedCounter,
}

impl Refused {
    fn count(&self) {
        self.field.incr();
    }
}

#[derive(Debug, Default)]
struct RecorderState {
    /// `describe_*`: unit and description by metric name.
    described: HashMap<String, (Option<::metrics::Unit>, String)>,
    counters: HashMap<Key, Counter>,
    gauges: HashMap<Key, Gauge>,
    histograms: HashMap<Key, Histogram>,
}

impl MmstatsRecorder {
    /// A recorder publishing into `file` (adds its `metrics.refused`
    /// counter there).
    pub fn new(file: StatsFile) -> Result<Self, AddFieldError> {
        let field = file.shared_counter(
            FieldSpec::new("metrics.refused")
                .describe("metrics and lanes the metrics recorder found no room for"),
        )?;
        Ok(Self {
            inner: Arc::new(RecorderInner {
                file,
                refused: Refused { field },
                state: Mutex::new(RecorderState::default()),
            }),
        })
    }

    /// Installs this recorder as the program's global `metrics` recorder.
    pub fn install(&self) -> Result<(), InstallError> {
        ::metrics::set_global_recorder(self.clone()).map_err(|_| InstallError::AlreadyInstalled)
    }

    /// Metrics and lanes refused so far (module docs, "Bounded").
    #[must_use]
    pub fn refused(&self) -> u64 {
        self.inner.refused.field.get()
    }

    /// The file the recorder publishes into.
    #[must_use]
    pub fn file(&self) -> &StatsFile {
        &self.inner.file
    }

    fn lock(&self) -> MutexGuard<'_, RecorderState> {
        // The maps stay consistent when a registration panics (an insert
        // is the last step), so a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn describe(&self, key: KeyName, unit: Option<::metrics::Unit>, description: SharedString) {
        let description = truncate_utf8(&description, DESCRIPTION_MAX).to_owned();
        self.lock()
            .described
            .insert(key.as_str().to_owned(), (unit, description));
    }

    /// What a new metric's fields are: name, labels, unit, description.
    fn spec_of(&self, state: &RecorderState, key: &Key) -> MetricSpec {
        let (unit, description) = state
            .described
            .get(key.name())
            .cloned()
            .unwrap_or((None, String::new()));
        MetricSpec {
            name: key.name().to_owned(),
            labels: key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect(),
            unit,
            description,
        }
    }
}

impl Recorder for MmstatsRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<::metrics::Unit>, text: SharedString) {
        self.describe(key, unit, text);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<::metrics::Unit>, text: SharedString) {
        self.describe(key, unit, text);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<::metrics::Unit>, text: SharedString) {
        self.describe(key, unit, text);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        let mut state = self.lock();
        if let Some(counter) = state.counters.get(key) {
            return counter.clone();
        }
        let spec = self.spec_of(&state, key);
        let counter = match Laned::<CounterLanes>::new(&self.inner, spec) {
            Some(laned) => Counter::from_arc(laned),
            None => {
                self.inner.refused.count();
                Counter::noop()
            }
        };
        state.counters.insert(key.clone(), counter.clone());
        counter
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        let mut state = self.lock();
        if let Some(gauge) = state.gauges.get(key) {
            return gauge.clone();
        }
        let spec = self.spec_of(&state, key);
        let gauge = match spec.register::<SharedFloatGauge>(&self.inner.file, None, None) {
            Ok(field) => Gauge::from_arc(Arc::new(FloatGaugeFn(field))),
            Err(_) => {
                self.inner.refused.count();
                Gauge::noop()
            }
        };
        state.gauges.insert(key.clone(), gauge.clone());
        gauge
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        let mut state = self.lock();
        if let Some(histogram) = state.histograms.get(key) {
            return histogram.clone();
        }
        let spec = self.spec_of(&state, key);
        let histogram = match Laned::<HistogramLanes>::new(&self.inner, spec) {
            Some(laned) => Histogram::from_arc(laned),
            None => {
                self.inner.refused.count();
                Histogram::noop()
            }
        };
        state.histograms.insert(key.clone(), histogram.clone());
        histogram
    }
}

/// The fields of one metric, before the lane label.
#[derive(Debug, Clone)]
struct MetricSpec {
    name: String,
    labels: Vec<(String, String)>,
    unit: Option<::metrics::Unit>,
    description: String,
}

impl MetricSpec {
    /// Adds one field of this metric, with label `lane` if given.
    fn register<T: Stat>(
        &self,
        file: &StatsFile,
        lane: Option<&str>,
        unit: Option<Unit>,
    ) -> Result<T, AddFieldError> {
        let mut pairs: Vec<(&str, &str)> = self
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(lane) = lane {
            pairs.push(("lane", lane));
        }
        let unit = unit.unwrap_or_else(|| self.unit.map_or(Unit::None, unit_of));
        // A lane on its own 128-byte pair of lines, so that threads
        // writing their lanes never share a cache line (nor an adjacent-line
        // prefetch pair); a gauge is padded as well (many threads set it).
        file.add(
            FieldSpec::new(&self.name)
                .describe(&self.description)
                .unit(unit)
                .labels(&pairs)
                .padding(Padding::Line128),
        )
    }

    /// For a histogram: the factor from the described unit to the
    /// recorded one, and the recorded unit (module docs).
    fn histogram_scale(&self) -> (f64, Option<Unit>) {
        use ::metrics::Unit as M;
        match self.unit {
            Some(M::Seconds) => (1e9, Some(Unit::Nanoseconds)),
            Some(M::Milliseconds) => (1e6, Some(Unit::Nanoseconds)),
            Some(M::Microseconds) => (1e3, Some(Unit::Nanoseconds)),
            _ => (1.0, None),
        }
    }
}

/// The format's unit for a `metrics` unit (`None` where it has none).
fn unit_of(unit: ::metrics::Unit) -> Unit {
    use ::metrics::Unit as M;
    match unit {
        M::Count => Unit::Events,
        M::Percent => Unit::Percent,
        M::Seconds => Unit::Seconds,
        M::Milliseconds => Unit::Milliseconds,
        M::Microseconds => Unit::Microseconds,
        M::Nanoseconds => Unit::Nanoseconds,
        M::Bytes => Unit::Bytes,
        _ => Unit::None,
    }
}

/// A `metrics` histogram value as the `u64` recorded (module docs).
fn histogram_value(value: f64, scale: f64) -> u64 {
    let scaled = value * scale;
    if scaled.is_nan() || scaled <= 0.0 {
        0
    } else {
        // `as` saturates at u64::MAX.
        scaled.round() as u64
    }
}

/// A gauge: one shared float field.
struct FloatGaugeFn(SharedFloatGauge);

impl GaugeFn for FloatGaugeFn {
    fn increment(&self, value: f64) {
        self.0.add(value);
    }

    fn decrement(&self, value: f64) {
        self.0.add(-value);
    }

    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

/// A kind of metric kept in lanes.
trait LaneKind: Sized + 'static {
    /// A lane one thread writes.
    type Own: Stat + Send;
    /// The lane threads share when every own lane is taken.
    type Shared: Send + Sync;
    /// How a value is recorded (a histogram's scale).
    type Scale: Copy + Send + Sync + fmt::Debug;

    fn scale(spec: &MetricSpec) -> (Self::Scale, Option<Unit>);
    fn shared(spec: &MetricSpec, file: &StatsFile, unit: Option<Unit>) -> Option<Self::Shared>;
    /// This thread's table of lanes of this kind.
    fn table(lanes: &ThreadLanes) -> &RefCell<Vec<Option<Lane<Self>>>>;
}

struct CounterLanes;
struct HistogramLanes;

impl LaneKind for CounterLanes {
    type Own = crate::Counter;
    type Shared = SharedCounter;
    type Scale = ();

    fn scale(_: &MetricSpec) -> ((), Option<Unit>) {
        ((), None)
    }

    fn shared(spec: &MetricSpec, file: &StatsFile, unit: Option<Unit>) -> Option<SharedCounter> {
        spec.register(file, Some("shared"), unit).ok()
    }

    fn table(lanes: &ThreadLanes) -> &RefCell<Vec<Option<Lane<Self>>>> {
        &lanes.counters
    }
}

impl LaneKind for HistogramLanes {
    type Own = crate::Histogram;
    type Shared = Mutex<crate::Histogram>;
    type Scale = f64;

    fn scale(spec: &MetricSpec) -> (f64, Option<Unit>) {
        spec.histogram_scale()
    }

    fn shared(
        spec: &MetricSpec,
        file: &StatsFile,
        unit: Option<Unit>,
    ) -> Option<Mutex<crate::Histogram>> {
        spec.register(file, Some("shared"), unit)
            .ok()
            .map(Mutex::new)
    }

    fn table(lanes: &ThreadLanes) -> &RefCell<Vec<Option<Lane<Self>>>> {
        &lanes.histograms
    }
}

/// One metric kept in lanes: its spec, its pool of free lanes and its
/// shared lane.
struct Laned<K: LaneKind> {
    /// Index of this metric in every thread's lane table.
    id: usize,
    spec: MetricSpec,
    scale: K::Scale,
    unit: Option<Unit>,
    recorder: Arc<RecorderInner>,
    /// This metric's own `Arc` (the one its `metrics` handle holds), for
    /// the lanes to keep: `metrics` calls update with `&self`.
    this: Weak<Self>,
    pool: Mutex<LanePool<K::Own>>,
    shared: OnceLock<Option<K::Shared>>,
}

struct LanePool<T> {
    /// Lanes made so far (the next lane's label).
    made: usize,
    /// Lanes whose thread exited, for the next thread.
    free: Vec<T>,
}

/// A thread's lane of one metric.
enum Lane<K: LaneKind> {
    /// Its own lane, given back to the metric's pool when the thread exits.
    Own(OwnLane<K>),
    /// The shared lane (every own lane was taken).
    Shared(Arc<Laned<K>>),
    /// No lane could be made: updates are discarded (counted as refused).
    Refused,
}

struct OwnLane<K: LaneKind> {
    lane: Option<K::Own>,
    home: Arc<Laned<K>>,
}

impl<K: LaneKind> Drop for OwnLane<K> {
    fn drop(&mut self) {
        if let Some(lane) = self.lane.take() {
            self.home.lock_pool().free.push(lane);
        }
    }
}

/// Every lane of the calling thread, by metric id.
#[derive(Default)]
struct ThreadLanes {
    counters: RefCell<Vec<Option<Lane<CounterLanes>>>>,
    histograms: RefCell<Vec<Option<Lane<HistogramLanes>>>>,
}

thread_local! {
    static LANES: ThreadLanes = ThreadLanes::default();
}

impl<K: LaneKind> Laned<K> {
    /// A metric with its first lane made now, so that a full file refuses
    /// the metric at registration; `None` if it cannot be.
    fn new(recorder: &Arc<RecorderInner>, spec: MetricSpec) -> Option<Arc<Self>> {
        let (scale, unit) = K::scale(&spec);
        let first: K::Own = spec.register(&recorder.file, Some("0"), unit).ok()?;
        Some(Arc::new_cyclic(|this| Self {
            this: this.clone(),
            id: NEXT_METRIC_ID.fetch_add(1, Ordering::Relaxed),
            spec,
            scale,
            unit,
            recorder: Arc::clone(recorder),
            pool: Mutex::new(LanePool {
                made: 1,
                free: vec![first],
            }),
            shared: OnceLock::new(),
        }))
    }

    /// An `Arc` of this metric (field `this`). `&self` comes from the
    /// live `Arc` of a `metrics` handle, so the upgrade succeeds; were it
    /// ever not to, the caller drops the update rather than panic.
    fn arc(&self) -> Option<Arc<Self>> {
        self.this.upgrade()
    }

    fn lock_pool(&self) -> MutexGuard<'_, LanePool<K::Own>> {
        // A pool is a Vec and a count, consistent between statements.
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `update` on the calling thread's lane of this metric, taking
    /// one first if the thread has none.
    #[inline]
    fn with_lane(&self, update: impl Fn(&Lane<K>)) {
        let done = LANES.try_with(|lanes| {
            let table = K::table(lanes).borrow();
            match table.get(self.id) {
                Some(Some(lane)) => {
                    update(lane);
                    true
                }
                _ => false,
            }
        });
        if done != Ok(true) {
            match self.arc() {
                Some(this) => this.take_lane(update),
                None => self.recorder.refused.count(),
            }
        }
    }

    /// The slow path: a lane from the pool, a new lane, or the shared one.
    #[cold]
    fn take_lane(self: &Arc<Self>, update: impl Fn(&Lane<K>)) {
        let lane = self.new_lane();
        update(&lane);
        let mut lane = Some(lane);
        // If the thread is exiting (its table is gone), `lane` stays here
        // and its drop gives an own lane back to the pool.
        let _ = LANES.try_with(|lanes| {
            let mut table = K::table(lanes).borrow_mut();
            if table.len() <= self.id {
                table.resize_with(self.id + 1, || None);
            }
            table[self.id] = lane.take();
        });
    }

    fn new_lane(self: &Arc<Self>) -> Lane<K> {
        let mut pool = self.lock_pool();
        if let Some(lane) = pool.free.pop() {
            return Lane::Own(OwnLane {
                lane: Some(lane),
                home: Arc::clone(self),
            });
        }
        if pool.made < MAX_LANES {
            let label = pool.made.to_string();
            match self
                .spec
                .register::<K::Own>(&self.recorder.file, Some(&label), self.unit)
            {
                Ok(lane) => {
                    pool.made += 1;
                    return Lane::Own(OwnLane {
                        lane: Some(lane),
                        home: Arc::clone(self),
                    });
                }
                Err(_) => self.recorder.refused.count(),
            }
        }
        drop(pool);
        let shared = self
            .shared
            .get_or_init(|| K::shared(&self.spec, &self.recorder.file, self.unit));
        if shared.is_some() {
            Lane::Shared(Arc::clone(self))
        } else {
            self.recorder.refused.count();
            Lane::Refused
        }
    }
}

impl CounterFn for Laned<CounterLanes> {
    #[inline]
    fn increment(&self, value: u64) {
        self.with_lane(|lane| add_counter(lane, value));
    }

    fn absolute(&self, value: u64) {
        let this = self;
        let shared = this
            .shared
            .get_or_init(|| CounterLanes::shared(&this.spec, &this.recorder.file, this.unit));
        match shared {
            Some(shared) => {
                let current = shared.get();
                if value > current {
                    shared.add(value - current);
                }
            }
            None => this.recorder.refused.count(),
        }
    }
}

fn add_counter(lane: &Lane<CounterLanes>, value: u64) {
    match lane {
        Lane::Own(own) => {
            if let Some(lane) = &own.lane {
                lane.add(value);
            }
        }
        Lane::Shared(home) => {
            if let Some(Some(shared)) = home.shared.get() {
                shared.add(value);
            }
        }
        Lane::Refused => {}
    }
}

fn record_histogram(lane: &Lane<HistogramLanes>, value: u64) {
    match lane {
        Lane::Own(own) => {
            if let Some(lane) = &own.lane {
                lane.record(value);
            }
        }
        Lane::Shared(home) => {
            if let Some(Some(shared)) = home.shared.get() {
                shared
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .record(value);
            }
        }
        Lane::Refused => {}
    }
}

impl HistogramFn for Laned<HistogramLanes> {
    fn record(&self, value: f64) {
        let value = histogram_value(value, self.scale);
        self.with_lane(|lane| record_histogram(lane, value));
    }
}
