//! A [`tracing_subscriber::Layer`] (feature `tracing`): span enter and
//! exit and events go into the calling thread's event ring in a stats
//! file, and span durations feed a histogram per span name, with no
//! mmstats API at the call sites.
//!
//! **What.** Add [`MmstatsLayer`] to a registry
//! (`tracing_subscriber::registry().with(layer)`); then, in the file:
//!
//! - one event ring per thread, `trace.ring{lane="0"}`, `"1"`, ...
//!   (made when a thread first enters a span or emits an event; at most
//!   [`MmstatsLayerBuilder::max_threads`], by default 64): a span's enter
//!   and exit are span records of event code 0 (`mmdump tail --spans`
//!   pairs them and prints the duration), an event is a text record of its
//!   `message` (cut to the ring's payload) with its level as the event
//!   code (1 error, 2 warn, 3 info, 4 debug, 5 trace). Every record has the
//!   thread id and a nanosecond wall-clock timestamp.
//! - one histogram of durations in nanoseconds per span name and lane,
//!   `trace.span_ns{span="name",lane="0"}` (readers sum the lanes, as for
//!   the `metrics` recorder). The span fields named by
//!   [`MmstatsLayerBuilder::label_fields`] become labels too, with the value
//!   they had when the span was created.
//!
//! **Why per thread.** A ring and a histogram have one writer each, so a
//! record is a few plain stores: each thread writes only its own ring and
//! its own histograms, kept in a thread-local table, with no lock and no
//! shared cache line. When a thread exits, its ring and histograms go back
//! to a pool and the next new thread takes them over (records keep their
//! own thread id), so thread churn does not grow the file.
//!
//! **Bounded.** Rings, histograms and the span stack are bounded (threads
//! beyond `max_threads`, span names beyond the file's room or beyond
//! [`KEYS_MAX`] keys a thread, spans nested deeper than 64): what finds no room is not recorded and is counted in
//! the field `trace.dropped` ([`MmstatsLayer::dropped`]); nothing panics.
//!
//! **When not to use it.** For logs to keep (every field of every event),
//! use a log pipeline: a ring keeps the last records only, and an event
//! keeps its message, not its other fields. Label fields with unbounded
//! values (a request id) fill the file: choose fields with few values.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//! # let dir = tempfile::tempdir().unwrap();
//! let stats = mmstats::StatsFile::builder("web").dir(dir.path()).create()?;
//! let layer = mmstats::tracing_layer::MmstatsLayer::builder(stats.clone())
//!     .label_fields(&["method"])
//!     .build()?;
//! let subscriber = tracing_subscriber::registry().with(layer);
//! tracing::subscriber::with_default(subscriber, || {
//!     let span = tracing::info_span!("request", method = "GET");
//!     let _entered = span.enter();
//!     tracing::info!("answered");
//! });
//! let read = mmstats::read_file(stats.path())?;
//! let durations = read.fields.iter().find(|f| f.name == "trace.span_ns").unwrap();
//! assert_eq!(durations.labels.get("span"), Some("request"));
//! assert_eq!(durations.labels.get("method"), Some("GET"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mmstats_nostd::labels::is_valid_value;
use mmstats_nostd::{FieldSpec, Padding, Unit, truncate_utf8};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::error::AddFieldError;
use crate::events::EventRing;
use crate::os;
use crate::publish::{Histogram, SharedCounter, StatsFile};

/// Spans one thread may have entered at once; deeper ones are dropped.
const STACK_MAX: usize = 64;

/// Span keys (name and label values) one thread keeps a histogram for;
/// spans of further keys still go into the ring, their durations are
/// dropped (counted).
pub const KEYS_MAX: usize = 1024;

/// The event code of span records.
pub const SPAN_EVENT: u32 = 0;

/// Ids of layers, process-wide: the index of a layer's slot in every
/// thread's table. Relaxed: only uniqueness matters.
static NEXT_LAYER_ID: AtomicUsize = AtomicUsize::new(0);

/// The event code of an event of `level` (module docs).
#[must_use]
pub fn level_code(level: Level) -> u32 {
    match level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// Settings of an [`MmstatsLayer`].
#[derive(Debug)]
pub struct MmstatsLayerBuilder {
    file: StatsFile,
    label_fields: Vec<&'static str>,
    ring_capacity: usize,
    payload_words: u8,
    max_threads: usize,
}

impl MmstatsLayerBuilder {
    /// Span fields whose values become labels of the duration histograms
    /// (at most 6: the format allows 8 labels, `span` and `lane` take two).
    #[must_use]
    pub fn label_fields(mut self, fields: &[&'static str]) -> Self {
        self.label_fields = fields.iter().copied().take(6).collect();
        self
    }

    /// Records each thread's ring holds (default 256: about 24 KiB a thread with
    /// the default payload).
    #[must_use]
    pub const fn ring_capacity(mut self, records: usize) -> Self {
        self.ring_capacity = records;
        self
    }

    /// Payload words of each record (default 8: span names and event
    /// messages up to 56 and 64 bytes).
    #[must_use]
    pub const fn payload_words(mut self, words: u8) -> Self {
        self.payload_words = words;
        self
    }

    /// Threads with a ring (default 64); threads beyond record nothing.
    #[must_use]
    pub const fn max_threads(mut self, threads: usize) -> Self {
        self.max_threads = threads;
        self
    }

    /// The layer (adds its `trace.dropped` counter to the file).
    pub fn build(self) -> Result<MmstatsLayer, AddFieldError> {
        let dropped = self.file.shared_counter(
            FieldSpec::new("trace.dropped")
                .describe("span and event records the tracing layer found no room for"),
        )?;
        Ok(MmstatsLayer {
            inner: Arc::new(LayerInner {
                id: NEXT_LAYER_ID.fetch_add(1, Ordering::Relaxed),
                settings: self,
                dropped,
                pool: Mutex::new(SlotPool {
                    made: 0,
                    free: Vec::new(),
                }),
            }),
        })
    }
}

/// The layer (module docs). Cheap to clone (an `Arc`).
#[derive(Clone, Debug)]
pub struct MmstatsLayer {
    inner: Arc<LayerInner>,
}

impl MmstatsLayer {
    /// A layer publishing into `file`, with the default settings changed
    /// through the builder.
    #[must_use]
    pub fn builder(file: StatsFile) -> MmstatsLayerBuilder {
        MmstatsLayerBuilder {
            file,
            label_fields: Vec::new(),
            ring_capacity: 256,
            payload_words: 8,
            max_threads: 64,
        }
    }

    /// Records and histograms dropped for want of room (module docs).
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.get()
    }
}

#[derive(Debug)]
struct LayerInner {
    id: usize,
    settings: MmstatsLayerBuilder,
    dropped: SharedCounter,
    pool: Mutex<SlotPool>,
}

#[derive(Debug)]
struct SlotPool {
    /// Thread slots made so far (the next one's lane label).
    made: usize,
    /// Slots whose thread exited, for the next thread.
    free: Vec<ThreadSlot>,
}

impl LayerInner {
    fn lock_pool(&self) -> MutexGuard<'_, SlotPool> {
        // A Vec and a count, consistent between statements.
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot for a thread that has none: from the pool, or new.
    fn take_slot(&self) -> Option<ThreadSlot> {
        let mut pool = self.lock_pool();
        if let Some(slot) = pool.free.pop() {
            return Some(slot);
        }
        if pool.made >= self.settings.max_threads {
            return None;
        }
        let lane = pool.made.to_string();
        let ring = self
            .settings
            .file
            .event_ring(
                FieldSpec::new("trace.ring")
                    .describe("spans and events of one thread (tracing layer)")
                    .capacity(self.settings.ring_capacity)
                    .payload_words(self.settings.payload_words)
                    .labels(&[("lane", &lane)])
                    .padding(Padding::Line128),
            )
            .ok()?;
        pool.made += 1;
        Some(ThreadSlot {
            lane,
            ring,
            histograms: Vec::new(),
            index: HashMap::new(),
            last: None,
            stack: Vec::with_capacity(STACK_MAX),
        })
    }
}

/// What one thread writes: its ring, its histograms, its entered spans.
#[derive(Debug)]
struct ThreadSlot {
    lane: String,
    ring: EventRing,
    /// `None`: the histogram found no room (not retried).
    histograms: Vec<Option<Histogram>>,
    /// Where each key's histogram is in `histograms` (at most
    /// [`KEYS_MAX`] keys).
    index: HashMap<Arc<SpanKey>, usize>,
    /// The key used last and its index: a span entered and exited again
    /// and again skips the hash.
    last: Option<(Arc<SpanKey>, usize)>,
    stack: Vec<Entered>,
}

/// A span the thread entered and has not exited.
#[derive(Debug)]
struct Entered {
    id: u64,
    ring_span: u64,
    start_ns: u64,
    key: Arc<SpanKey>,
}

/// What a span's histogram is: its name and label values.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SpanKey {
    name: &'static str,
    labels: Vec<(&'static str, String)>,
}

/// A thread's slot of one layer, given back to the pool when the thread
/// exits.
struct SlotGuard {
    slot: Option<ThreadSlot>,
    home: Arc<LayerInner>,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Some(mut slot) = self.slot.take() {
            slot.stack.clear();
            self.home.lock_pool().free.push(slot);
        }
    }
}

thread_local! {
    /// This thread's slots, by layer id (`None` inside: no room).
    static SLOTS: RefCell<Vec<Option<SlotGuard>>> = const { RefCell::new(Vec::new()) };
}

impl MmstatsLayer {
    /// Runs `write` on the calling thread's slot, taking one first if the
    /// thread has none; counts a drop if there is no slot.
    #[inline]
    fn with_slot(&self, write: impl FnOnce(&mut ThreadSlot, &LayerInner)) {
        let inner = &*self.inner;
        let done = SLOTS.try_with(|slots| {
            let mut slots = slots.borrow_mut();
            if slots.get(inner.id).is_none_or(Option::is_none) {
                let slot = inner.take_slot();
                if slots.len() <= inner.id {
                    slots.resize_with(inner.id + 1, || None);
                }
                slots[inner.id] = Some(SlotGuard {
                    slot,
                    home: Arc::clone(&self.inner),
                });
            }
            match slots[inner.id].as_mut().and_then(|g| g.slot.as_mut()) {
                Some(slot) => {
                    write(slot, inner);
                    true
                }
                None => false,
            }
        });
        if done != Ok(true) {
            inner.dropped.incr();
        }
    }
}

impl ThreadSlot {
    /// The thread's histogram for `key`, made on first use: the last one
    /// used if `key` is the same span's key (no hashing), else looked up.
    fn histogram(&mut self, key: &Arc<SpanKey>, inner: &LayerInner) -> Option<&Histogram> {
        let at = match &self.last {
            Some((last, at)) if Arc::ptr_eq(last, key) => *at,
            _ => {
                let at = match self.index.get(key) {
                    Some(at) => *at,
                    None if self.index.len() >= KEYS_MAX => {
                        inner.dropped.incr();
                        return None;
                    }
                    None => {
                        let made = self.make_histogram(key, inner);
                        if made.is_none() {
                            inner.dropped.incr();
                        }
                        self.histograms.push(made);
                        let at = self.histograms.len() - 1;
                        self.index.insert(Arc::clone(key), at);
                        at
                    }
                };
                self.last = Some((Arc::clone(key), at));
                at
            }
        };
        self.histograms.get(at).and_then(Option::as_ref)
    }

    fn make_histogram(&self, key: &SpanKey, inner: &LayerInner) -> Option<Histogram> {
        if !is_valid_value(key.name) {
            return None;
        }
        let mut labels: Vec<(&str, &str)> = vec![("span", key.name), ("lane", &self.lane)];
        labels.extend(key.labels.iter().map(|(k, v)| (*k, v.as_str())));
        inner
            .settings
            .file
            .histogram(
                FieldSpec::new("trace.span_ns")
                    .describe("span durations (tracing layer)")
                    .unit(Unit::Nanoseconds)
                    .labels(&labels)
                    .padding(Padding::Line128),
            )
            .ok()
    }
}

/// Collects the chosen span fields' values.
struct LabelVisitor<'l> {
    wanted: &'l [&'static str],
    found: Vec<(&'static str, String)>,
}

impl Visit for LabelVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if let Some(name) = self.wanted.iter().find(|w| **w == field.name()) {
            self.found
                .push((name, truncate_utf8(value, LABEL_VALUE_ROOM).to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if let Some(name) = self.wanted.iter().find(|w| **w == field.name()) {
            let mut text = String::new();
            let _ = write!(text, "{value:?}");
            self.found
                .push((name, truncate_utf8(&text, LABEL_VALUE_ROOM).to_owned()));
        }
    }
}

/// Bytes of a label value (the format's limit).
const LABEL_VALUE_ROOM: usize = 64;

/// Writes an event's `message` into a bounded buffer.
struct MessageVisitor {
    text: String,
    room: usize,
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text
                .push_str(truncate_utf8(value, self.room - self.text.len()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let mut bounded = Bounded {
                text: &mut self.text,
                room: self.room,
            };
            let _ = write!(bounded, "{value:?}");
        }
    }
}

/// A `fmt::Write` that stops at `room` bytes (at a character boundary).
struct Bounded<'t> {
    text: &'t mut String,
    room: usize,
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let left = self.room.saturating_sub(self.text.len());
        let cut = truncate_utf8(s, left);
        self.text.push_str(cut);
        if cut.len() < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

impl<S> Layer<S> for MmstatsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let wanted = &self.inner.settings.label_fields;
        let mut visitor = LabelVisitor {
            wanted,
            found: Vec::new(),
        };
        if !wanted.is_empty() {
            attrs.record(&mut visitor);
            visitor.found.sort_unstable();
            // Labels must be valid values; an empty or invalid one is left
            // out rather than refusing the histogram.
            visitor.found.retain(|(_, v)| is_valid_value(v));
        }
        let key = Arc::new(SpanKey {
            name: attrs.metadata().name(),
            labels: visitor.found,
        });
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(key);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let Some(key) = span.extensions().get::<Arc<SpanKey>>().cloned() else {
            return;
        };
        let now = os::now_ns();
        self.with_slot(|slot, inner| {
            if slot.stack.len() >= STACK_MAX {
                inner.dropped.incr();
                return;
            }
            let ring_span = slot.ring.enter_at(now, SPAN_EVENT, key.name);
            slot.stack.push(Entered {
                id: id.into_u64(),
                ring_span,
                start_ns: now,
                key,
            });
        });
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let now = os::now_ns();
        let id = id.into_u64();
        self.with_slot(|slot, inner| {
            // Spans exit in the reverse order of entering, nearly always:
            // look from the top.
            let Some(at) = slot.stack.iter().rposition(|e| e.id == id) else {
                return; // entered before the slot existed, or dropped
            };
            let entered = slot.stack.remove(at);
            slot.ring.exit_at(now, SPAN_EVENT, entered.ring_span);
            if let Some(histogram) = slot.histogram(&entered.key, inner) {
                histogram.record(now.saturating_sub(entered.start_ns));
            }
        });
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let room = 8 * usize::from(self.inner.settings.payload_words);
        let mut visitor = MessageVisitor {
            text: String::with_capacity(room),
            room,
        };
        event.record(&mut visitor);
        let code = level_code(*event.metadata().level());
        self.with_slot(|slot, _| {
            slot.ring.text(code, &visitor.text);
        });
    }
}
