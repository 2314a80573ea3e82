//! Writer operations against a model ([`writer_ops`], [`run_scenario`]).

use arbitrary::{Arbitrary, Unstructured};
use core::sync::atomic::Ordering;
use mmstats_nostd::layout::{
    ENTRY_LEN, ENTRY_LEN_LABELS, FLAG_CONSTANT, FLAG_DYNAMIC, FLAG_PAD_64, FLAG_PAD_128,
    FLAG_SHARED, PROLOGUE_WORDS,
};
use mmstats_nostd::{
    AddFieldError, Average, ByteImage, Counter, CreateError, EventRing, FieldInfo, FieldSpec, Flag,
    FloatGauge, Gauge, Histogram, Kind, Labels, MAX_COPY_WORDS, MAX_STRING_CAPACITY, MovingAverage,
    NAME_MAX, Padding, ReadError, Region, RegionOptions, RegionState, RegionView, RingCursor,
    SharedCounter, SharedGauge, Slot, Text, Timestamp, Unit, WindowAverage, Word, WordSource,
};

use crate::MAX_SCENARIO_WORDS;
use crate::region_reader::{Owned, OwnedEvent, OwnedPayload};

/// A writer scenario: a region of `words` words (at most
/// [`MAX_SCENARIO_WORDS`]) with `table_capacity` entries (0: automatic),
/// the writer's clock at the start (for dynamic fields and window
/// averages; it advances with the operations and may wrap), then
/// operations.
#[derive(Arbitrary, Debug)]
pub struct Scenario {
    words: u16,
    table_capacity: u8,
    clock: u64,
    ops: Vec<Op>,
}

/// One writer operation.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// Add a field.
    Add(AddField),
    /// Add a dynamic field with [`Region::dynamic`], `dt` ticks after the
    /// last clock reading; with `second`, the closure tries to add a
    /// second field too (refused; the first is retired at once).
    AddDynamic {
        /// Clock advance.
        dt: u16,
        /// The field.
        add: AddField,
        /// A second field the closure tries to add.
        second: Option<AddField>,
    },
    /// [`Region::dynamic`] with a closure that adds nothing.
    DynamicEmpty,
    /// Retire the dynamic field in slot `field % slots` (if it is a live
    /// dynamic field), `dt` ticks after the last clock reading.
    Retire {
        /// Which slot.
        field: u8,
        /// Clock advance.
        dt: u16,
    },
    /// Set the reuse delay (small values mostly, any value sometimes).
    SetReuseDelay(u64),
    /// Update the field in slot `field % slots` (if live).
    Update {
        /// Which slot.
        field: u8,
        /// How.
        update: Update,
    },
    /// Poll the event ring in slot `field % slots` (if it is a live ring)
    /// with one of its two readers (one started at the oldest record, one
    /// at the newest), taking at most `max` records.
    Poll {
        /// Which slot.
        field: u8,
        /// Which reader.
        newest: bool,
        /// Records at most.
        max: u8,
    },
    /// Change the label prefix.
    SetPrefix(String),
    /// Store a heartbeat.
    Heartbeat(u64),
    /// Mark the region closed.
    Close,
    /// Create the region again over the same words (new generation, no
    /// fields); every handle is dropped first.
    Recreate,
}

/// A field to add.
#[derive(Arbitrary, Debug)]
pub struct AddField {
    kind: AddKind,
    name: String,
    unit: u8,
    description: String,
    padding: u8,
    buffers: u8,
    capacity: u16,
}

/// The kind of a field to add, with the initial value of constants and
/// the parameters of the 2.1 kinds.
#[derive(Arbitrary, Debug)]
pub enum AddKind {
    /// `Region::counter`
    Counter,
    /// `Region::shared_counter`
    SharedCounter,
    /// `Region::gauge`
    Gauge,
    /// `Region::shared_gauge`
    SharedGauge,
    /// `Region::constant_gauge`
    ConstantGauge(i64),
    /// `Region::float_gauge`
    Float,
    /// `Region::flag`
    Flag,
    /// `Region::timestamp`
    Timestamp,
    /// `Region::constant_timestamp`
    ConstantTimestamp(u64),
    /// `Region::text`
    Text,
    /// `Region::constant_text`
    ConstantText(String),
    /// `Region::average`
    Average,
    /// `Region::histogram`: precision (mostly 1 to 13), highest value
    /// (`bits >> shift`).
    Histogram {
        /// Precision in bits.
        precision: u8,
        /// Bits of the highest value.
        bits: u64,
        /// Right shift of `bits`.
        shift: u8,
    },
    /// `Region::moving_average` (window from the capacity).
    MovingAverage,
    /// `Region::window_average`: window length (`bits >> shift`) and
    /// sub-windows.
    WindowAverage {
        /// Bits of the window length.
        bits: u64,
        /// Right shift of `bits`.
        shift: u8,
        /// Sub-windows.
        slots: u16,
    },
    /// `Region::event_ring` (records from the capacity).
    EventRing {
        /// Payload words per record.
        payload_words: u8,
    },
}

/// Number of [`AddKind`] variants.
pub const ADD_KINDS: usize = 16;

/// An update; each kind takes what it can use of it. `dt` advances the
/// writer's clock for a window average (above 0xF000, the clock reads
/// `dt & 0xFFF` ticks back instead, once).
#[derive(Arbitrary, Debug)]
pub struct Update {
    op: u8,
    int: u64,
    float: f64,
    text: String,
    dt: u16,
}

/// The handle of a field the scenario may update.
enum Handle<'a> {
    Counter(Counter<'a>),
    SharedCounter(SharedCounter<'a>),
    Gauge(Gauge<'a>),
    SharedGauge(SharedGauge<'a>),
    Float(FloatGauge<'a>),
    Flag(Flag<'a>),
    Timestamp(Timestamp<'a>),
    Text(Text<'a>),
    Average(Average<'a>),
    Histogram(Histogram<'a>),
    MovingAverage(MovingAverage<'a>),
    WindowAverage(WindowAverage<'a>),
    EventRing(EventRing<'a>),
    Constant,
}

/// A slot of the table as the writer holds it: the handle of its live
/// field, and the slot of a dynamic one (to retire it).
struct SlotHandle<'a> {
    handle: Option<Handle<'a>>,
    slot: Option<Slot<'a>>,
}

/// The model of a window average: every sample with the sub-window it
/// went to.
#[derive(Clone, Debug)]
struct ModelWindow {
    width: u64,
    slots: u64,
    current: Option<u64>,
    samples: Vec<(u64, i64)>,
}

impl ModelWindow {
    /// Moves to the sub-window of `now` unless that is not later than the
    /// current one (a clock going back keeps the current sub-window).
    fn advance(&mut self, now: u64) {
        let epoch = now / self.width;
        if self.current.is_none_or(|current| epoch > current) {
            self.current = Some(epoch);
        }
    }

    /// The samples of the current sub-window and the `K - 1` before it.
    fn visible(&self) -> (i64, u64) {
        let Some(current) = self.current else {
            return (0, 0);
        };
        let inside = self
            .samples
            .iter()
            .filter(|(epoch, _)| *epoch <= current && current - *epoch < self.slots);
        inside.fold((0, 0), |(sum, count), (_, sample)| {
            (sum + sample, count + 1)
        })
    }
}

/// The model of an event ring: every record appended, and two readers.
#[derive(Debug)]
struct ModelRing {
    capacity: u64,
    payload_words: usize,
    records: Vec<OwnedEvent>,
    next_span: u64,
    /// (the reader's cursor, the model's next wanted sequence number, 0
    /// until the first poll; from the oldest record?)
    readers: [(RingCursor, u64, bool); 2],
}

/// What the model knows of a field.
#[derive(Debug)]
struct ModelField {
    id: u64,
    name: String,
    labels: Labels,
    description: String,
    kind: Kind,
    unit: u16,
    flags: u32,
    buffers: usize,
    param: u64,
    value: Owned,
    /// Moving average: the samples, oldest first (integers, so that sums
    /// are exact in any order).
    moving: Vec<i64>,
    window: Option<ModelWindow>,
    ring: Option<ModelRing>,
}

/// A slot of the model's table.
#[derive(Debug)]
struct ModelSlot {
    /// Word of the value and words reserved for it (`value_len / 8`).
    start: usize,
    area: usize,
    /// The field (also kept while retired, for its stale entry).
    field: ModelField,
    /// `Some(deadline)` once retired.
    retired: Option<u64>,
    dynamic: bool,
    /// The reuse delay when the field was added: the one its retirement
    /// uses (`Slot` keeps it), even if the region's delay changed since.
    delay: u64,
}

/// The model of a region: what a reader must see.
#[derive(Debug)]
struct Model {
    /// The region has room for labels.
    labels: bool,
    generation: u64,
    closed: bool,
    heartbeat: u64,
    prefix: String,
    capacity: usize,
    data_start: usize,
    data_end: usize,
    next_free: usize,
    next_id: u64,
    reuse_delay: u64,
    clock: u64,
    slots: Vec<ModelSlot>,
    /// Entries of retired fields as a reader saw them while they were
    /// live: reading them must fail with `SlotChanged` from then on.
    stale: Vec<FieldInfo>,
}

/// What a scenario exercised, so that a replayed corpus can be shown to
/// cover every kind and operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Regions created (re-creations included).
    pub regions: usize,
    /// Fields added, by [`AddKind`] variant (in declaration order).
    pub added: [usize; ADD_KINDS],
    /// Adds refused, as the model predicted.
    pub refused: usize,
    /// Dynamic fields added.
    pub dynamic: usize,
    /// Dynamic fields that reused a retired slot.
    pub reused: usize,
    /// Of those, reuses that kept the slot's value words.
    pub reused_words: usize,
    /// Dynamic adds refused because the region was full (typed error).
    pub full: usize,
    /// Dynamic adds refused because a closure added no field or two.
    pub not_one_field: usize,
    /// Fields retired.
    pub retired: usize,
    /// Reads of retired or reused fields' stale entries (all refused).
    pub stale_reads: usize,
    /// Updates applied.
    pub updates: usize,
    /// Histogram records, moving- and window-average samples and ring
    /// appends.
    pub samples: [usize; 4],
    /// Ring polls, records they delivered, and polls that missed records.
    pub polls: [usize; 3],
    /// Label prefixes set.
    pub prefixes: usize,
    /// Closes.
    pub closes: usize,
    /// Re-creations.
    pub recreates: usize,
    /// Checks of a live field with labels (format 2.2) read back.
    pub labelled: usize,
}

impl Coverage {
    /// Adds `other` to this tally.
    pub fn merge(&mut self, other: &Self) {
        fn add<const N: usize>(mine: &mut [usize; N], theirs: [usize; N]) {
            for (mine, theirs) in mine.iter_mut().zip(theirs) {
                *mine += theirs;
            }
        }
        self.regions += other.regions;
        add(&mut self.added, other.added);
        self.refused += other.refused;
        self.dynamic += other.dynamic;
        self.reused += other.reused;
        self.reused_words += other.reused_words;
        self.full += other.full;
        self.not_one_field += other.not_one_field;
        self.retired += other.retired;
        self.stale_reads += other.stale_reads;
        self.updates += other.updates;
        add(&mut self.samples, other.samples);
        add(&mut self.polls, other.polls);
        self.prefixes += other.prefixes;
        self.closes += other.closes;
        self.recreates += other.recreates;
        self.labelled += other.labelled;
    }
}

/// Runs the scenario that `data` decodes to (as libFuzzer's `arbitrary`
/// support would decode it) and checks the region after every operation.
pub fn writer_ops(data: &[u8]) -> Coverage {
    Scenario::arbitrary_take_rest(Unstructured::new(data))
        .map(|scenario| run_scenario(&scenario))
        .unwrap_or_default()
}

/// The longest prefix of `text` of at most `max` bytes ending on a
/// character boundary (the model's own, not the crate's).
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The model's prediction of `Region::create`: the table capacity, and the
/// word where the value area starts.
fn model_create(
    len: usize,
    table_capacity: usize,
    labels: bool,
) -> Result<(usize, usize), CreateError> {
    let entry_len = if labels { ENTRY_LEN_LABELS } else { ENTRY_LEN };
    if len as u64 * 8 > mmstats_nostd::MAX_READER_REGION_LEN {
        return Err(CreateError::TooLarge { len: len * 8 });
    }
    if table_capacity > mmstats_nostd::MAX_READER_FIELDS {
        return Err(CreateError::TooManyFields {
            capacity: table_capacity,
        });
    }
    let capacity = if table_capacity == 0 {
        (len.saturating_sub(PROLOGUE_WORDS) * 8 / (entry_len + 64))
            .clamp(1, mmstats_nostd::MAX_READER_FIELDS)
    } else {
        table_capacity
    };
    let data_start = PROLOGUE_WORDS + capacity * (entry_len / 8);
    if data_start >= len {
        return Err(CreateError::TooSmall {
            needed: (data_start + 1) * 8,
            available: len * 8,
        });
    }
    Ok((capacity, data_start))
}

/// FORMAT.md §4: a reuse deadline has passed when `now - deadline`,
/// modulo 2^56, is below 2^55.
fn model_deadline_passed(now: u64, deadline: u64) -> bool {
    const MASK: u64 = (1 << 56) - 1;
    (now.wrapping_sub(deadline) & MASK) < 1 << 55
}

/// Runs a scenario, checking the region against the model after every
/// operation.
pub fn run_scenario(scenario: &Scenario) -> Coverage {
    let mut coverage = Coverage::default();
    let len = usize::from(scenario.words) % (MAX_SCENARIO_WORDS + 1);
    let table_capacity = usize::from(scenario.table_capacity % 16);
    // Room for labels (format 2.2) from a bit the capacity does not use,
    // so that the corpus decodes to the same operations as before.
    let labels = scenario.table_capacity & 0x80 != 0;
    let words: Vec<Word> = (0..len).map(|_| Word::new(0)).collect();
    let options = RegionOptions {
        table_capacity,
        labels,
        pid: 99,
        created_ns: 5,
        ..RegionOptions::default()
    };
    let predicted = model_create(len, table_capacity, labels);
    let mut region = match (Region::create(&words, &options), predicted) {
        (Ok(region), Ok((capacity, data_start))) => {
            assert_eq!(region.table_capacity(), capacity);
            assert_eq!(region.data_free(), (len - data_start) * 8);
            region
        }
        (Err(error), Err(expected)) => {
            assert_eq!(error, expected);
            return coverage;
        }
        (made, expected) => panic!("create gave {made:?}, the model expected {expected:?}"),
    };
    let (capacity, data_start) = predicted.unwrap_or_default();
    let mut model = Model {
        labels,
        generation: 1,
        closed: false,
        heartbeat: 0,
        prefix: String::new(),
        capacity,
        data_start,
        data_end: len,
        next_free: data_start,
        next_id: 1,
        reuse_delay: 0,
        clock: scenario.clock,
        slots: Vec::new(),
        stale: Vec::new(),
    };
    let mut handles: Vec<SlotHandle<'_>> = Vec::new();
    coverage.regions += 1;
    check_region(&words, &region, &model, &mut coverage);
    for op in &scenario.ops {
        match op {
            Op::Add(add) => match add_field(&mut region, &mut model, &mut handles, add) {
                Ok(kind) => coverage.added[kind] += 1,
                Err(_) => coverage.refused += 1,
            },
            Op::AddDynamic { dt, add, second } => {
                model.clock = model.clock.wrapping_add(u64::from(*dt));
                add_dynamic(
                    &mut region,
                    &mut model,
                    &mut handles,
                    add,
                    second.as_ref(),
                    &mut coverage,
                );
            }
            Op::DynamicEmpty => {
                let made = region.dynamic(model.clock, |_| Ok(()));
                assert_eq!(made.err(), Some(AddFieldError::DynamicNeedsOneField));
                coverage.not_one_field += 1;
            }
            Op::Retire { field, dt } => {
                model.clock = model.clock.wrapping_add(u64::from(*dt));
                if !handles.is_empty() {
                    let index = usize::from(*field) % handles.len();
                    let slot = &mut model.slots[index];
                    if slot.dynamic && slot.retired.is_none() {
                        let stale = live_entry(&words, index);
                        let held = &mut handles[index];
                        held.handle = None;
                        held.slot
                            .take()
                            .expect("a live dynamic slot")
                            .retire(model.clock);
                        slot.retired = Some(model.clock.wrapping_add(slot.delay));
                        model.stale.push(stale);
                        coverage.retired += 1;
                    }
                }
            }
            Op::SetReuseDelay(ticks) => {
                let ticks = if ticks & 1 == 0 {
                    (ticks >> 1) % 512
                } else {
                    *ticks
                };
                region.set_reuse_delay(ticks);
                model.reuse_delay = ticks.min((1 << 55) - 1);
                assert_eq!(region.reuse_delay(), model.reuse_delay);
            }
            Op::Update { field, update } => {
                if !handles.is_empty() {
                    let index = usize::from(*field) % handles.len();
                    if let Some(handle) = &handles[index].handle {
                        let slot = &mut model.slots[index];
                        apply_update(
                            handle,
                            &mut slot.field,
                            update,
                            &mut model.clock,
                            &mut coverage,
                        );
                        coverage.updates += 1;
                    }
                }
            }
            Op::Poll { field, newest, max } => {
                if !handles.is_empty() {
                    let index = usize::from(*field) % handles.len();
                    let slot = &mut model.slots[index];
                    if slot.retired.is_none()
                        && let Some(ring) = &mut slot.field.ring
                    {
                        poll_ring(
                            &words,
                            index,
                            ring,
                            usize::from(*newest),
                            *max,
                            &mut coverage,
                        );
                    }
                }
            }
            Op::SetPrefix(prefix) => {
                let result = region.set_prefix(prefix);
                let expected = if prefix.len() > NAME_MAX {
                    Err(AddFieldError::NameTooLong { len: prefix.len() })
                } else if prefix.chars().any(char::is_control) {
                    Err(AddFieldError::InvalidName)
                } else {
                    model.prefix.clone_from(prefix);
                    Ok(())
                };
                assert_eq!(result, expected, "set_prefix({prefix:?})");
                assert_eq!(region.prefix(), model.prefix);
                coverage.prefixes += 1;
            }
            Op::Heartbeat(ns) => {
                region.heartbeat(*ns);
                model.heartbeat = *ns;
            }
            Op::Close => {
                region.close();
                model.closed = true;
                coverage.closes += 1;
            }
            Op::Recreate => {
                handles.clear();
                region = Region::create(&words, &options).expect("it fitted before");
                model.generation += 1;
                model.closed = false;
                model.heartbeat = 0;
                model.prefix.clear();
                model.next_free = data_start;
                model.next_id = 1;
                model.reuse_delay = 0;
                model.slots.clear();
                // Ids start again at 1 in the new generation: the region's
                // generation (still_valid), not the slot, tells them apart.
                model.stale.clear();
                assert_eq!(region.generation(), model.generation);
                coverage.regions += 1;
                coverage.recreates += 1;
            }
        }
        check_region(&words, &region, &model, &mut coverage);
    }
    coverage
}

/// The entry of the live field in slot `index`, as a reader sees it.
fn live_entry(words: &[Word], index: usize) -> FieldInfo {
    RegionView::open(words)
        .expect("live region opens")
        .entry(index)
        .expect("a valid entry")
        .expect("a live field")
}

/// What the model expects of a field to add: its shape, flags, initial
/// value and the words its value needs, or the error the kind's own
/// checks give before any other.
struct Expected {
    kind: Kind,
    shared: bool,
    constant: bool,
    buffers: usize,
    param: u64,
    value_words: usize,
    initial: Owned,
    window: Option<ModelWindow>,
    ring: Option<(u64, usize)>,
}

/// The kind's own checks (before the name), then its shape.
fn expect_kind(add: &AddField, buffers: u16, capacity: usize) -> Result<Expected, AddFieldError> {
    let single = |kind, shared, constant, initial| {
        Ok(Expected {
            kind,
            shared,
            constant,
            buffers: 1,
            param: 0,
            value_words: 1,
            initial,
            window: None,
            ring: None,
        })
    };
    let latched = |kind, param: u64, copy_words: usize, extra: usize, initial| {
        if !(2..=16).contains(&buffers) {
            return Err(AddFieldError::InvalidBuffers { buffers });
        }
        Ok(Expected {
            kind,
            shared: false,
            constant: false,
            buffers: usize::from(buffers),
            param,
            value_words: 1 + usize::from(buffers) * copy_words + extra,
            initial,
            window: None,
            ring: None,
        })
    };
    let invalid = |reason| Err(AddFieldError::InvalidParameter { reason });
    match &add.kind {
        AddKind::Counter => single(Kind::Counter, false, false, Owned::Counter(0)),
        AddKind::SharedCounter => single(Kind::Counter, true, false, Owned::Counter(0)),
        AddKind::Gauge => single(Kind::Gauge, false, false, Owned::Gauge(0)),
        AddKind::SharedGauge => single(Kind::Gauge, true, false, Owned::Gauge(0)),
        AddKind::ConstantGauge(v) => single(Kind::Gauge, false, true, Owned::Gauge(*v)),
        AddKind::Float => single(Kind::Float, false, false, Owned::Float(0)),
        AddKind::Flag => single(Kind::Bool, false, false, Owned::Bool(false)),
        AddKind::Timestamp => single(Kind::Timestamp, false, false, Owned::Timestamp(0)),
        AddKind::ConstantTimestamp(v) => single(Kind::Timestamp, false, true, Owned::Timestamp(*v)),
        AddKind::Text => {
            if capacity > MAX_STRING_CAPACITY {
                return Err(AddFieldError::CapacityTooLarge { capacity });
            }
            let initial = Owned::Text(String::new());
            latched(
                Kind::String,
                capacity as u64,
                1 + capacity.div_ceil(8),
                0,
                initial,
            )
        }
        AddKind::ConstantText(value) => {
            let capacity = value.len().min(MAX_STRING_CAPACITY);
            let initial = Owned::Text(cut(value, capacity).to_owned());
            let mut expected = latched(
                Kind::String,
                capacity as u64,
                1 + capacity.div_ceil(8),
                0,
                initial,
            )?;
            expected.constant = true;
            Ok(expected)
        }
        AddKind::Average => latched(Kind::Average, 0, 2, 0, Owned::Average(0, 0)),
        AddKind::Histogram {
            precision,
            bits,
            shift,
        } => {
            // FORMAT.md §5.4: m = precision, t = max(m, floor(log2 highest)),
            // (t - m + 2) * 2^m buckets, at most 16 384.
            let m = u32::from(precision % 14);
            let highest = bits >> (shift % 64);
            if !(1..=12).contains(&m) {
                return invalid("histogram precision must be 1 to 12 bits");
            }
            let log = if highest == 0 { 0 } else { highest.ilog2() };
            let t = log.max(m);
            let buckets = ((t - m + 2) as usize) << m;
            if buckets > 16_384 {
                return invalid(
                    "histogram needs more than 16384 buckets (lower its precision or range)",
                );
            }
            Ok(Expected {
                kind: Kind::Histogram,
                shared: false,
                constant: false,
                buffers: 1,
                param: u64::from(m) | u64::from(t) << 8,
                value_words: 4 + buckets,
                initial: Owned::Histogram {
                    param: u64::from(m) | u64::from(t) << 8,
                    count: 0,
                    sum: 0,
                    min: u64::MAX,
                    max: 0,
                    buckets: vec![0; buckets],
                },
                window: None,
                ring: None,
            })
        }
        AddKind::MovingAverage => {
            if capacity == 0 || capacity > 4096 {
                return invalid("moving-average window must be 1 to 4096 samples");
            }
            let initial = Owned::MovingAverage {
                sum: 0,
                count: 0,
                total: 0,
                window: capacity as u64,
            };
            latched(Kind::MovingAverage, capacity as u64, 3, capacity, initial)
        }
        AddKind::WindowAverage { bits, shift, slots } => {
            let slots = usize::from(slots % 1100);
            let window = bits >> (shift % 64);
            if slots == 0 || slots > 1024 {
                return invalid("window average needs 1 to 1024 sub-windows");
            }
            if window == 0 {
                return invalid("window length must be at least one tick");
            }
            let initial = Owned::WindowAverage {
                sum: 0,
                count: 0,
                total: 0,
                as_of: 0,
                window,
            };
            let mut expected =
                latched(Kind::WindowAverage, slots as u64, 4, 1 + 3 * slots, initial)?;
            expected.window = Some(ModelWindow {
                width: (window / slots as u64).max(1),
                slots: slots as u64,
                current: None,
                samples: Vec::new(),
            });
            Ok(expected)
        }
        AddKind::EventRing { payload_words } => {
            let payload_words = usize::from(*payload_words % 36);
            if capacity == 0 || capacity > 1 << 20 || payload_words == 0 || payload_words > 32 {
                return invalid("event ring needs 1 to 2^20 records of 1 to 32 payload words");
            }
            let param = capacity as u64 | (payload_words as u64) << 32;
            Ok(Expected {
                kind: Kind::EventRing,
                shared: false,
                constant: false,
                buffers: 1,
                param,
                value_words: 8 + capacity * (4 + payload_words),
                initial: Owned::EventRing {
                    appended: 0,
                    capacity,
                    payload_words,
                },
                window: None,
                ring: Some((capacity as u64, payload_words)),
            })
        }
    }
}

/// Where a field goes: (slot index, value start, value words reserved,
/// reusing a slot, fresh value words).
type Placement = (usize, usize, usize, bool, bool);

/// The model's choice of slot and value words, or the error: FORMAT.md §6.1
/// and `Region::dynamic`'s documented order (a retired slot past its delay
/// whose words fit, the smallest; a new slot; a retired slot with new
/// words). `now` is `Some` for a dynamic field.
fn place(
    model: &Model,
    now: Option<u64>,
    value_words: usize,
    align: usize,
) -> Result<Placement, AddFieldError> {
    let reserved = value_words.div_ceil(align) * align;
    let fresh_start = model.next_free.div_ceil(align) * align;
    let data_fits = fresh_start + reserved <= model.data_end;
    let data_full = AddFieldError::DataFull {
        needed: reserved * 8,
        available: (model.data_end - model.next_free) * 8,
    };
    let table_room = model.slots.len() < model.capacity;
    let Some(now) = now else {
        if !table_room {
            return Err(AddFieldError::TableFull {
                capacity: model.capacity,
            });
        }
        if !data_fits {
            return Err(data_full);
        }
        return Ok((model.slots.len(), fresh_start, reserved, false, true));
    };
    let mut fitting: Option<(usize, usize, usize)> = None;
    let mut any = None;
    let mut waiting = 0;
    for (index, slot) in model.slots.iter().enumerate() {
        let Some(deadline) = slot.retired else {
            continue;
        };
        if !model_deadline_passed(now, deadline) {
            waiting += 1;
            continue;
        }
        any.get_or_insert(index);
        if slot.start % align == 0
            && slot.area >= reserved
            && fitting.is_none_or(|(_, _, best)| slot.area < best)
        {
            fitting = Some((index, slot.start, slot.area));
        }
    }
    if let Some((index, start, area)) = fitting {
        Ok((index, start, area, true, false))
    } else if table_room && data_fits {
        Ok((model.slots.len(), fresh_start, reserved, false, true))
    } else if let (Some(index), true) = (any, data_fits) {
        Ok((index, fresh_start, reserved, true, true))
    } else if table_room || any.is_some() {
        Err(data_full)
    } else if waiting > 0 {
        Err(AddFieldError::TableFullPendingReuse {
            capacity: model.capacity,
            waiting,
        })
    } else {
        Err(AddFieldError::TableFull {
            capacity: model.capacity,
        })
    }
}

/// Labels (format 2.2), from the bits of `padding` that `padding_of` does
/// not use (so that the corpus decodes to the same operations): mostly
/// none; one or two valid labels; an invalid key; too many bytes.
fn labels_of(add: &AddField) -> &'static [(&'static str, &'static str)] {
    const LONG: &str = "0123456789012345678901234567890123456789012345678901234567890123";
    match add.padding / 3 % 8 {
        4 => &[("conn", "1")],
        5 => &[("conn", "2"), ("app", "web")],
        6 => &[("9lives", "x")],
        7 => &[("a", LONG), ("b", LONG)],
        _ => &[],
    }
}

fn padding_of(add: &AddField) -> Padding {
    match add.padding % 3 {
        0 => Padding::None,
        1 => Padding::Line64,
        _ => Padding::Line128,
    }
}

fn unit_of(add: &AddField) -> Unit {
    Unit::from_code(u16::from(add.unit % 16)).unwrap_or(Unit::None)
}

/// Mostly valid buffer counts and capacities, sometimes not.
fn buffers_and_capacity(add: &AddField) -> (u16, usize) {
    let buffers = if add.buffers >= 200 {
        u16::from(add.buffers % 20)
    } else {
        2 + u16::from(add.buffers % 4)
    };
    let capacity = if add.capacity >= 60_000 {
        usize::from(add.capacity - 60_000)
    } else if matches!(add.kind, AddKind::EventRing { .. }) {
        // Small rings (0 is invalid), so that readers get lapped.
        usize::from(add.capacity % 20)
    } else {
        usize::from(add.capacity % 300)
    };
    (buffers, capacity)
}

fn variant_of(kind: &AddKind) -> usize {
    match kind {
        AddKind::Counter => 0,
        AddKind::SharedCounter => 1,
        AddKind::Gauge => 2,
        AddKind::SharedGauge => 3,
        AddKind::ConstantGauge(_) => 4,
        AddKind::Float => 5,
        AddKind::Flag => 6,
        AddKind::Timestamp => 7,
        AddKind::ConstantTimestamp(_) => 8,
        AddKind::Text => 9,
        AddKind::ConstantText(_) => 10,
        AddKind::Average => 11,
        AddKind::Histogram { .. } => 12,
        AddKind::MovingAverage => 13,
        AddKind::WindowAverage { .. } => 14,
        AddKind::EventRing { .. } => 15,
    }
}

/// Adds `add` with the region's own methods.
fn make<'a>(region: &mut Region<'a>, add: &AddField) -> Result<Handle<'a>, AddFieldError> {
    let (buffers, capacity) = buffers_and_capacity(add);
    let spec = FieldSpec::new(&add.name)
        .unit(unit_of(add))
        .describe(&add.description)
        .padding(padding_of(add))
        .buffers(buffers)
        .capacity(capacity)
        .labels(labels_of(add));
    match &add.kind {
        AddKind::Counter => region.counter(spec).map(Handle::Counter),
        AddKind::SharedCounter => region.shared_counter(spec).map(Handle::SharedCounter),
        AddKind::Gauge => region.gauge(spec).map(Handle::Gauge),
        AddKind::SharedGauge => region.shared_gauge(spec).map(Handle::SharedGauge),
        AddKind::ConstantGauge(v) => region.constant_gauge(spec, *v).map(|()| Handle::Constant),
        AddKind::Float => region.float_gauge(spec).map(Handle::Float),
        AddKind::Flag => region.flag(spec).map(Handle::Flag),
        AddKind::Timestamp => region.timestamp(spec).map(Handle::Timestamp),
        AddKind::ConstantTimestamp(v) => region
            .constant_timestamp(spec, *v)
            .map(|()| Handle::Constant),
        AddKind::Text => region.text(spec).map(Handle::Text),
        AddKind::ConstantText(v) => region.constant_text(spec, v).map(|()| Handle::Constant),
        AddKind::Average => region.average(spec).map(Handle::Average),
        AddKind::Histogram {
            precision,
            bits,
            shift,
        } => region
            .histogram(spec.precision(precision % 14).highest(bits >> (shift % 64)))
            .map(Handle::Histogram),
        AddKind::MovingAverage => region.moving_average(spec).map(Handle::MovingAverage),
        AddKind::WindowAverage { bits, shift, slots } => region
            .window_average(spec.window(bits >> (shift % 64)).slots(slots % 1100))
            .map(Handle::WindowAverage),
        AddKind::EventRing { payload_words } => region
            .event_ring(spec.payload_words(payload_words % 36))
            .map(Handle::EventRing),
    }
}

/// The model's checks of a field, in the writer's order: the kind's own,
/// then name and description.
fn expect_valid(model: &Model, add: &AddField) -> Result<Expected, AddFieldError> {
    let (buffers, capacity) = buffers_and_capacity(add);
    let expected = expect_kind(add, buffers, capacity)?;
    let full_name = format!("{}{}", model.prefix, add.name);
    if full_name.is_empty() {
        Err(AddFieldError::EmptyName)
    } else if full_name.len() > NAME_MAX {
        Err(AddFieldError::NameTooLong {
            len: full_name.len(),
        })
    } else if full_name.chars().any(char::is_control) {
        Err(AddFieldError::InvalidName)
    } else if add.description.len() > 80 || add.description.chars().any(char::is_control) {
        Err(AddFieldError::InvalidDescription)
    } else {
        match Labels::from_pairs(labels_of(add)) {
            Err(error) => Err(AddFieldError::InvalidLabels(error)),
            Ok(labels) if !labels.is_empty() && !model.labels => Err(AddFieldError::NoLabelRoom),
            Ok(_) => Ok(expected),
        }
    }
}

/// The model's prediction for adding `add`: its expectation and placement.
fn predict(
    model: &Model,
    add: &AddField,
    now: Option<u64>,
) -> Result<(Expected, Placement), AddFieldError> {
    let expected = expect_valid(model, add)?;
    let align = match padding_of(add) {
        Padding::None => 1,
        Padding::Line64 => 8,
        Padding::Line128 => 16,
    };
    let placement = place(model, now, expected.value_words, align)?;
    Ok((expected, placement))
}

/// Puts a field the region accepted into the model (and its handle into
/// `handles`). Returns whether it reused a slot, and whether it kept that
/// slot's value words.
fn insert<'a>(
    model: &mut Model,
    handles: &mut Vec<SlotHandle<'a>>,
    add: &AddField,
    (expected, (index, start, area, reuse, fresh)): (Expected, Placement),
    now: Option<u64>,
    held: SlotHandle<'a>,
) -> (bool, bool) {
    let flags = if expected.shared { FLAG_SHARED } else { 0 }
        | if expected.constant { FLAG_CONSTANT } else { 0 }
        | if now.is_some() { FLAG_DYNAMIC } else { 0 }
        | match padding_of(add) {
            Padding::None => 0,
            Padding::Line64 => FLAG_PAD_64,
            Padding::Line128 => FLAG_PAD_128,
        };
    if fresh {
        model.next_free = start + area;
    }
    let field = ModelField {
        id: model.next_id,
        name: format!("{}{}", model.prefix, add.name),
        labels: Labels::from_pairs(labels_of(add)).unwrap_or_default(),
        description: add.description.clone(),
        kind: expected.kind,
        unit: unit_of(add).code(),
        flags,
        buffers: expected.buffers,
        param: expected.param,
        value: expected.initial,
        moving: Vec::new(),
        window: expected.window,
        ring: expected.ring.map(|(capacity, payload_words)| ModelRing {
            capacity,
            payload_words,
            records: Vec::new(),
            next_span: 1,
            readers: [
                (RingCursor::oldest(), 0, true),
                (RingCursor::newest(), 0, false),
            ],
        }),
    };
    model.next_id += 1;
    let slot = ModelSlot {
        start,
        area,
        field,
        retired: None,
        dynamic: now.is_some(),
        delay: model.reuse_delay,
    };
    if reuse {
        model.slots[index] = slot;
        handles[index] = held;
    } else {
        assert_eq!(index, model.slots.len(), "a new slot comes last");
        model.slots.push(slot);
        handles.push(held);
    }
    (reuse, reuse && !fresh)
}

/// Adds a field that is not dynamic. Returns the index of its [`AddKind`]
/// variant, or the error (which the model predicted).
fn add_field<'a>(
    region: &mut Region<'a>,
    model: &mut Model,
    handles: &mut Vec<SlotHandle<'a>>,
    add: &AddField,
) -> Result<usize, AddFieldError> {
    let expected = predict(model, add, None);
    match (make(region, add), expected) {
        (Ok(handle), Ok(expected)) => {
            let held = SlotHandle {
                handle: Some(handle),
                slot: None,
            };
            insert(model, handles, add, expected, None, held);
            Ok(variant_of(&add.kind))
        }
        (Err(error), Err(expected)) => {
            assert_eq!(error, expected, "adding {add:?}");
            Err(error)
        }
        (made, expected) => panic!(
            "adding {add:?} gave {:?}, the model expected {:?}",
            made.map(|_| ()),
            expected.map(|(_, placement)| placement)
        ),
    }
}

/// Adds a dynamic field at the model's clock (and, with `second`, has the
/// closure try a second one, which must be refused and retire the first).
fn add_dynamic<'a>(
    region: &mut Region<'a>,
    model: &mut Model,
    handles: &mut Vec<SlotHandle<'a>>,
    add: &AddField,
    second: Option<&AddField>,
    coverage: &mut Coverage,
) {
    let now = model.clock;
    let expected = predict(model, add, Some(now));
    // The second field's own checks come first; if it passes them, the
    // region refuses it for being a second field.
    let expected_second = second.map(|second| {
        expect_valid(model, second)
            .err()
            .unwrap_or(AddFieldError::DynamicNeedsOneField)
    });
    let made = region.dynamic(now, |region| {
        let handle = make(region, add)?;
        if let Some(second) = second {
            make(region, second)?;
        }
        Ok(handle)
    });
    match (made, expected, expected_second) {
        (Ok(dynamic), Ok(expected), None) => {
            let (handle, slot) = dynamic.into_parts();
            let (index, _, _, _, _) = expected.1;
            assert_eq!((slot.index(), slot.id()), (index, model.next_id));
            let held = SlotHandle {
                handle: Some(handle),
                slot: Some(slot),
            };
            let (reused, kept) = insert(model, handles, add, expected, Some(now), held);
            coverage.added[variant_of(&add.kind)] += 1;
            coverage.dynamic += 1;
            coverage.reused += usize::from(reused);
            coverage.reused_words += usize::from(kept);
        }
        (Err(error), Ok(expected), Some(second_error)) => {
            // The first field was added, then retired at once.
            assert_eq!(error, second_error, "second field of {add:?}");
            let (index, ..) = expected.1;
            let held = SlotHandle {
                handle: None,
                slot: None,
            };
            insert(model, handles, add, expected, Some(now), held);
            model.slots[index].retired = Some(now.wrapping_add(model.reuse_delay));
            coverage.not_one_field += 1;
            coverage.retired += 1;
        }
        (Err(error), Err(expected), _) => {
            assert_eq!(error, expected, "adding dynamic {add:?}");
            coverage.refused += 1;
            if error.is_full() {
                coverage.full += 1;
            }
        }
        (made, expected, second) => panic!(
            "adding dynamic {add:?} (second {second:?}) gave {:?}, the model expected {:?}",
            made.map(|_| ()),
            expected.map(|(_, placement)| placement)
        ),
    }
}

/// `computed`, or `stored` if both are NaN: the payload of a NaN that
/// arithmetic produces is not specified (Rust lets `a + b` return either
/// operand's payload), so the model takes the stored one. Values that are
/// set rather than computed are compared bit for bit.
fn nan_from(computed: f64, stored: f64) -> f64 {
    if computed.is_nan() && stored.is_nan() {
        stored
    } else {
        computed
    }
}

/// FORMAT.md §5.4: the bucket of `value`.
fn model_bucket(param: u64, buckets: usize, value: u64) -> usize {
    let m = (param & 0xff) as u32;
    let s = 1u64 << m;
    let index = if value < s {
        value
    } else {
        let e = value.ilog2();
        u64::from(e - m + 1) * s + (value >> (e - m)) - s
    };
    (index as usize).min(buckets - 1)
}

/// The event-ring payload the model expects for an update.
fn ring_append(handle: &EventRing<'_>, ring: &mut ModelRing, update: &Update) -> OwnedEvent {
    let Update {
        op,
        int,
        float,
        text,
        dt,
        ..
    } = update;
    let (timestamp, thread) = (*int, float.to_bits());
    let event = u32::from(*dt) | u32::from(*op) << 16;
    let seq = ring.records.len() as u64 + 1;
    let p = ring.payload_words;
    let payload = match op % 4 {
        0 => {
            let values: Vec<u64> = (0..u32::from(op >> 2) % 40)
                .map(|i| int.rotate_left(i) ^ u64::from(i))
                .collect();
            assert_eq!(handle.event(timestamp, thread, event, &values), seq);
            OwnedPayload::Values(values[..values.len().min(p)].to_vec())
        }
        1 => {
            assert_eq!(handle.text(timestamp, thread, event, text), seq);
            OwnedPayload::Text(cut(text, 8 * p).to_owned())
        }
        2 => {
            let span = ring.next_span;
            ring.next_span = span.wrapping_add(1);
            assert_eq!(handle.enter(timestamp, thread, event, text), span);
            OwnedPayload::SpanEnter(span, cut(text, 8 * (p - 1)).to_owned())
        }
        _ => {
            assert_eq!(handle.exit(timestamp, thread, event, *int), seq);
            OwnedPayload::SpanExit(*int)
        }
    };
    assert_eq!(handle.appended(), seq);
    OwnedEvent::Record {
        seq,
        timestamp,
        thread,
        event,
        payload,
    }
}

fn apply_update(
    handle: &Handle<'_>,
    field: &mut ModelField,
    update: &Update,
    clock: &mut u64,
    coverage: &mut Coverage,
) {
    let Update {
        op,
        int,
        float,
        text,
        dt,
    } = update;
    let (op, int, float) = (*op, *int, *float);
    match (handle, &mut field.value) {
        (Handle::Counter(h), Owned::Counter(v)) => {
            if op % 2 == 0 {
                h.incr();
                *v = v.wrapping_add(1);
            } else {
                h.add(int);
                *v = v.wrapping_add(int);
            }
            assert_eq!(h.get(), *v);
        }
        (Handle::SharedCounter(h), Owned::Counter(v)) => {
            if op % 2 == 0 {
                h.incr();
                *v = v.wrapping_add(1);
            } else {
                h.add(int);
                *v = v.wrapping_add(int);
            }
            assert_eq!(h.get(), *v);
        }
        (Handle::Gauge(h), Owned::Gauge(v)) => {
            let delta = int as i64;
            match op % 5 {
                0 => {
                    h.set(delta);
                    *v = delta;
                }
                1 => {
                    h.add(delta);
                    *v = v.wrapping_add(delta);
                }
                2 => {
                    h.sub(delta);
                    *v = v.wrapping_sub(delta);
                }
                3 => {
                    h.incr();
                    *v = v.wrapping_add(1);
                }
                _ => {
                    h.decr();
                    *v = v.wrapping_sub(1);
                }
            }
            assert_eq!(h.get(), *v);
        }
        (Handle::SharedGauge(h), Owned::Gauge(v)) => {
            let delta = int as i64;
            match op % 5 {
                0 => {
                    h.set(delta);
                    *v = delta;
                }
                1 => {
                    h.add(delta);
                    *v = v.wrapping_add(delta);
                }
                2 => {
                    h.sub(delta);
                    *v = v.wrapping_sub(delta);
                }
                3 => {
                    h.incr();
                    *v = v.wrapping_add(1);
                }
                _ => {
                    h.decr();
                    *v = v.wrapping_sub(1);
                }
            }
            assert_eq!(h.get(), *v);
        }
        (Handle::Float(h), Owned::Float(bits)) => {
            let new = if op % 2 == 0 {
                h.set(float);
                float
            } else {
                h.add(float);
                nan_from(f64::from_bits(*bits) + float, h.get())
            };
            *bits = new.to_bits();
            assert_eq!(h.get().to_bits(), *bits);
        }
        (Handle::Flag(h), Owned::Bool(v)) => {
            *v = int & 1 == 1;
            h.set(*v);
            assert_eq!(h.get(), *v);
        }
        (Handle::Timestamp(h), Owned::Timestamp(v)) => {
            h.set_ns(int);
            *v = int;
            assert_eq!(h.get_ns(), *v);
        }
        (Handle::Text(h), Owned::Text(v)) => {
            let kept = cut(text, field.param as usize);
            assert_eq!(h.set(text), kept.len(), "bytes stored");
            kept.clone_into(v);
        }
        (Handle::Average(h), Owned::Average(sum, count)) => {
            if op % 2 == 0 {
                h.add(float);
                *sum = nan_from(f64::from_bits(*sum) + float, h.get().0).to_bits();
                *count = count.wrapping_add(1);
            } else {
                h.set(float, int);
                *sum = float.to_bits();
                *count = int;
            }
            let (got_sum, got_count) = h.get();
            assert_eq!((got_sum.to_bits(), got_count), (*sum, *count));
        }
        (
            Handle::Histogram(h),
            Owned::Histogram {
                param,
                count,
                sum,
                min,
                max,
                buckets,
            },
        ) => {
            // Values of every magnitude; 0 to 3 records at once.
            let value = int >> (op % 64);
            let n = u64::from(op >> 6);
            if n == 1 {
                h.record(value);
            } else {
                h.record_n(value, n);
            }
            if n > 0 {
                let index = model_bucket(*param, buckets.len(), value);
                buckets[index] = buckets[index].wrapping_add(n);
                *count = count.wrapping_add(n);
                *sum = sum.wrapping_add(value.wrapping_mul(n));
                *min = (*min).min(value);
                *max = (*max).max(value);
            }
            assert_eq!((h.count(), h.sum()), (*count, *sum));
            coverage.samples[0] += 1;
        }
        (
            Handle::MovingAverage(h),
            Owned::MovingAverage {
                sum,
                count,
                total,
                window,
            },
        ) => {
            // Integer samples: their sums are exact in any order.
            let sample = i64::from(int as i32);
            h.add(sample as f64);
            field.moving.push(sample);
            let excess = field.moving.len().saturating_sub(*window as usize);
            field.moving.drain(..excess);
            *total = total.wrapping_add(1);
            *count = field.moving.len() as u64;
            *sum = (field.moving.iter().sum::<i64>() as f64).to_bits();
            assert_eq!(h.total(), *total);
            assert_eq!(
                h.mean().map(f64::to_bits),
                Some((f64::from_bits(*sum) / *count as f64).to_bits())
            );
            coverage.samples[1] += 1;
        }
        (
            Handle::WindowAverage(h),
            Owned::WindowAverage {
                sum,
                count,
                total,
                as_of,
                ..
            },
        ) => {
            let model = field.window.as_mut().expect("a window model");
            let now = if *dt > 0xF000 {
                clock.wrapping_sub(u64::from(dt & 0xFFF))
            } else {
                *clock = clock.wrapping_add(u64::from(*dt));
                *clock
            };
            model.advance(now);
            if op % 2 == 0 {
                let sample = i64::from(int as i32);
                h.record(sample as f64, now);
                let current = model.current.expect("advanced");
                model.samples.push((current, sample));
                *total = total.wrapping_add(1);
                coverage.samples[2] += 1;
            } else {
                h.tick(now);
            }
            let (window_sum, window_count) = model.visible();
            *sum = (window_sum as f64).to_bits();
            *count = window_count;
            *as_of = now;
            assert_eq!(
                h.mean().map(f64::to_bits),
                (window_count > 0).then(|| (window_sum as f64 / window_count as f64).to_bits())
            );
        }
        (Handle::EventRing(h), Owned::EventRing { appended, .. }) => {
            let ring = field.ring.as_mut().expect("a ring model");
            let record = ring_append(h, ring, update);
            ring.records.push(record);
            *appended += 1;
            coverage.samples[3] += 1;
        }
        (Handle::Constant, _) => {}
        (_, value) => panic!("handle and model disagree on the kind of {value:?}"),
    }
}

/// The events a reader following `ring` from `next` (0: not placed yet)
/// must get from one poll of at most `max` records: FORMAT.md §5.7.
fn expected_poll(
    records: &[OwnedEvent],
    capacity: u64,
    next: &mut u64,
    from_oldest: bool,
    max: u64,
) -> (Vec<OwnedEvent>, (u64, u64, u64)) {
    let head = records.len() as u64;
    if *next == 0 {
        *next = if from_oldest {
            (head + 1).saturating_sub(capacity).max(1)
        } else {
            head + 1
        };
    }
    let (mut events, mut delivered, mut missed) = (Vec::new(), 0, 0);
    while *next <= head && delivered < max {
        if *next + capacity <= head {
            // Overwritten by record next + C: resume at the oldest kept.
            let resume = (*next + 1).max(head + 1 - capacity);
            events.push(OwnedEvent::Missed(resume - *next));
            missed += resume - *next;
            *next = resume;
            continue;
        }
        events.push(records[(*next - 1) as usize].clone());
        delivered += 1;
        *next += 1;
    }
    (events, (delivered, missed, head))
}

/// Polls the ring in slot `index` with one of its readers, over the live
/// words and over a copy, and checks what it gets against the model.
fn poll_ring(
    words: &[Word],
    index: usize,
    ring: &mut ModelRing,
    reader: usize,
    max: u8,
    coverage: &mut Coverage,
) {
    let max = if max == u8::MAX {
        u64::MAX
    } else {
        u64::from(max % 16)
    };
    let view = RegionView::open(words).expect("live region opens");
    let info = view.entry(index).expect("valid").expect("live");
    let bytes: Vec<u8> = words
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
        .collect();
    let image = ByteImage::new(&bytes);
    let image_view = RegionView::open(&image).expect("image opens");
    let mut scratch = vec![0u64; info.scratch_words()];
    let ModelRing {
        capacity,
        records,
        readers,
        ..
    } = ring;
    let (cursor, next, from_oldest) = &mut readers[reader];
    let mut image_cursor = *cursor;
    let mut got = Vec::new();
    let poll = view
        .poll_ring(&info, cursor, &mut scratch, max, |e| {
            got.push(OwnedEvent::from(e))
        })
        .expect("a live ring polls");
    let mut from_image = Vec::new();
    let image_poll = image_view
        .poll_ring(&info, &mut image_cursor, &mut scratch, max, |e| {
            from_image.push(OwnedEvent::from(e));
        })
        .expect("a copied ring polls");
    let (expected, totals) = expected_poll(records, *capacity, next, *from_oldest, max);
    assert_eq!(got, expected, "ring {index}, reader {reader}");
    assert_eq!((poll.delivered, poll.missed, poll.head), totals);
    assert_eq!(
        (from_image, image_poll),
        (got, poll),
        "image and live words disagree"
    );
    assert_eq!(image_cursor, *cursor);
    coverage.polls[0] += 1;
    coverage.polls[1] += poll.delivered as usize;
    coverage.polls[2] += usize::from(poll.missed > 0);
}

/// Checks the region against the model, over the live words and over a
/// copied image of them.
fn check_region(words: &[Word], region: &Region<'_>, model: &Model, coverage: &mut Coverage) {
    assert_eq!(region.field_count(), model.slots.len());
    assert_eq!(
        region.data_free(),
        (model.data_end - model.next_free) * 8,
        "free space"
    );
    assert!(model.next_free >= model.data_start);
    check_view(
        &RegionView::open(words).expect("live region opens"),
        model,
        coverage,
    );
    let bytes: Vec<u8> = words
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
        .collect();
    let image = ByteImage::new(&bytes);
    check_view(
        &RegionView::open(&image).expect("image opens"),
        model,
        coverage,
    );
}

fn check_view<S: WordSource + ?Sized>(
    view: &RegionView<'_, S>,
    model: &Model,
    coverage: &mut Coverage,
) {
    let p = view.prologue();
    assert_eq!(p.generation, model.generation);
    assert_eq!((p.pid, p.created_ns), (99, 5));
    assert_eq!(p.table_capacity, model.capacity as u64);
    assert_eq!(
        view.state(),
        if model.closed {
            RegionState::Closed
        } else {
            RegionState::Ready
        }
    );
    assert_eq!(view.heartbeat_ns(), model.heartbeat);
    assert_eq!(view.field_count().unwrap(), model.slots.len());
    let mut scratch = vec![0u64; MAX_COPY_WORDS];
    for (index, slot) in model.slots.iter().enumerate() {
        let entry = view
            .entry(index)
            .unwrap_or_else(|e| panic!("entry {index}: {e}"));
        if slot.retired.is_some() {
            // A retired field is gone, whatever its slot held.
            assert_eq!(entry, None, "retired slot {index} still shows a field");
            continue;
        }
        let expected = &slot.field;
        let field = entry.unwrap_or_else(|| panic!("entry {index} is not live"));
        assert_eq!(field.id, expected.id, "id of {}", expected.name);
        assert_eq!(field.name.as_str(), expected.name);
        assert_eq!(field.labels, expected.labels, "labels of {}", expected.name);
        if !expected.labels.is_empty() {
            coverage.labelled += 1;
        }
        assert_eq!(field.description.as_str(), expected.description);
        assert_eq!(field.kind, Some(expected.kind));
        assert_eq!(field.unit_code, expected.unit);
        assert_eq!(field.flags, expected.flags, "flags of {}", expected.name);
        assert_eq!(field.buffers, expected.buffers);
        assert_eq!(field.param, expected.param);
        assert_eq!(field.value_word, slot.start, "value of {}", expected.name);
        if scratch.len() < field.scratch_words() {
            scratch.resize(field.scratch_words(), 0);
        }
        let value = view
            .read(&field, &mut scratch, 1)
            .unwrap_or_else(|e| panic!("reading {}: {e}", expected.name));
        assert_eq!(
            Owned::from(value),
            expected.value,
            "value of {}",
            expected.name
        );
    }
    // Entries read while their field was live: the field was retired (and
    // maybe its slot reused), so no read may return a value for them.
    for stale in &model.stale {
        if scratch.len() < stale.scratch_words() {
            scratch.resize(stale.scratch_words(), 0);
        }
        assert_eq!(
            view.read(stale, &mut scratch, 1).map(|_| ()),
            Err(ReadError::SlotChanged),
            "stale entry {} ({})",
            stale.index,
            stale.name
        );
        if stale.ring_shape().is_some() {
            let mut cursor = RingCursor::oldest();
            let mut delivered = 0;
            let poll = view.poll_ring(stale, &mut cursor, &mut scratch, u64::MAX, |_| {
                delivered += 1
            });
            assert_eq!(poll, Err(ReadError::SlotChanged));
            // Records handed over during a poll that ends in SlotChanged
            // may belong to the new field (documented); a retired slot
            // that was not reused hands over none.
            if model.slots[stale.index].retired.is_some() {
                assert_eq!(delivered, 0);
            }
        }
        coverage.stale_reads += 1;
    }
    assert!(view.still_valid());
}
