//! What the fuzz targets check, callable from the fuzz targets (this
//! crate's `fuzz_targets/`) and from ordinary `cargo test` on stable
//! (`mmstats-std/tests/fuzz_corpus.rs` includes this file and replays every
//! input checked in under `fuzz/corpus/`).
//!
//! Each check panics when it finds a bug, and only then:
//! - [`region_bytes`]: the format-2 reader on arbitrary bytes gives values
//!   or typed errors, the same ones over a copied image and over live
//!   atomic words, and the same ones when read twice;
//! - [`legacy_bytes`]: the legacy v1 parser on arbitrary bytes returns
//!   fields or an error, never panics; inputs not starting with the legacy
//!   version byte are instead decoded as records, written out as a legacy
//!   file and parsed back, which must give exactly those records;
//! - [`writer_ops`]: an arbitrary sequence of writer operations (create a
//!   region, add fields of every kind, update them, change the label
//!   prefix, close, re-create) leaves the region reading back exactly what
//!   a simple model of those operations says, after every operation.

use arbitrary::{Arbitrary, Unstructured};
use mmstats_nostd::layout::{
    ENTRY_LEN, EntryRecord, FLAG_CONSTANT, FLAG_PAD_64, FLAG_PAD_128, FLAG_SHARED, PROLOGUE_WORDS,
    Prologue,
};
use mmstats_nostd::sync::Ordering;
use mmstats_nostd::{
    AddFieldError, Average, ByteImage, Counter, CreateError, FieldSpec, Flag, FloatGauge, Gauge,
    Kind, MAX_COPY_WORDS, MAX_STRING_CAPACITY, NAME_MAX, Padding, Region, RegionOptions,
    RegionState, RegionView, SharedCounter, SharedGauge, Text, Timestamp, Unit, Value, Word,
    WordSource,
};

/// Largest region (in words) a writer scenario creates.
pub const MAX_SCENARIO_WORDS: usize = 4096;

// ---------------------------------------------------------------------
// Format-2 reader on arbitrary bytes.
// ---------------------------------------------------------------------

/// A value copied out of a region; floats by their bits so that NaNs
/// compare equal to themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owned {
    /// A counter.
    Counter(u64),
    /// A gauge.
    Gauge(i64),
    /// A float, as bits.
    Float(u64),
    /// A boolean.
    Bool(bool),
    /// A timestamp.
    Timestamp(u64),
    /// A string.
    Text(String),
    /// An average: sum as bits, count.
    Average(u64, u64),
    /// A format-2.1 kind (histogram, moving or window average, event
    /// ring), by its kind name; `writer_ops` does not create them yet.
    Other(&'static str),
}

impl From<Value<'_>> for Owned {
    fn from(value: Value<'_>) -> Self {
        match value {
            Value::Counter(v) => Self::Counter(v),
            Value::Gauge(v) => Self::Gauge(v),
            Value::Float(v) => Self::Float(v.to_bits()),
            Value::Bool(v) => Self::Bool(v),
            Value::Timestamp(v) => Self::Timestamp(v),
            Value::Text(v) => Self::Text(v.to_owned()),
            Value::Average { sum, count } => Self::Average(sum.to_bits(), count),
            Value::Histogram(_) => Self::Other("histogram"),
            Value::MovingAverage { .. } => Self::Other("moving_average"),
            Value::WindowAverage { .. } => Self::Other("window_average"),
            Value::EventRing { .. } => Self::Other("event_ring"),
        }
    }
}

/// One entry as a reader got it: its name and value (or why not), `None`
/// for a slot that is not live, or why the entry was refused.
pub type EntryReading = Result<Option<(String, Result<Owned, String>)>, String>;

/// Everything a reader gets out of one region, errors included, as text
/// where the error types differ.
#[derive(Debug, PartialEq, Eq)]
pub struct Reading {
    /// The prologue, or why it was refused.
    pub prologue: Result<Prologue, String>,
    /// The field count, or why it was refused.
    pub count: Option<Result<usize, String>>,
    /// Per entry: the entry (or why refused) and its value (or why not).
    pub fields: Vec<EntryReading>,
    /// `still_valid` after reading.
    pub still_valid: Option<bool>,
}

/// Reads everything from `source` the way `mmdump` does, checking the
/// reader's promises about what it returns.
pub fn read_everything<S: WordSource + ?Sized>(source: &S) -> Reading {
    let view = match RegionView::open(source) {
        Ok(view) => view,
        Err(error) => {
            return Reading {
                prologue: Err(error.to_string()),
                count: None,
                fields: Vec::new(),
                still_valid: None,
            };
        }
    };
    let prologue = *view.prologue();
    // What `open` promised: the bounds it checked hold.
    assert!(prologue.region_len <= source.word_len() as u64 * 8);
    assert!(prologue.field_count <= prologue.table_capacity);
    let count = view.field_count().map_err(|e| e.to_string());
    let mut fields = Vec::new();
    let mut scratch = [0u64; MAX_COPY_WORDS];
    if let Ok(count) = count {
        for index in 0..count {
            let entry = view.entry(index).map_err(|e| e.to_string());
            fields.push(entry.map(|entry| {
                entry.map(|field| {
                    // What `entry` promised about a field it returns.
                    assert!(!field.name.is_empty() && field.name.len() <= NAME_MAX);
                    assert!(!field.name.chars().any(char::is_control));
                    assert!((1..=16).contains(&field.buffers));
                    let words = if field.buffers == 1 {
                        field.copy_words
                    } else {
                        1 + field.buffers * field.copy_words
                    };
                    let value_end = field.value_word + words;
                    assert!(
                        value_end as u64 * 8 <= prologue.region_len,
                        "entry {index} points past the region"
                    );
                    let value = view
                        .read(&field, &mut scratch, 4)
                        .map(Owned::from)
                        .map_err(|e| e.to_string());
                    if let Ok(Owned::Text(text)) = &value {
                        assert!(text.len() as u64 <= field.param);
                    }
                    (field.name.to_string(), value)
                })
            }));
        }
    }
    Reading {
        prologue: Ok(prologue),
        count: Some(count),
        fields,
        still_valid: Some(view.still_valid()),
    }
}

/// The format-2 reader on arbitrary bytes: never a panic, and the same
/// result over a copied image, over live atomic words holding the same
/// bytes, and on a second reading.
pub fn region_bytes(data: &[u8]) {
    let image = ByteImage::new(data);
    let from_image = read_everything(&image);
    assert_eq!(
        from_image,
        read_everything(&image),
        "reading is not repeatable"
    );

    let words: Vec<Word> = data
        .chunks_exact(8)
        .map(|chunk| {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            Word::new(u64::from_ne_bytes(word))
        })
        .collect();
    let from_words = read_everything(&words[..]);
    assert_eq!(from_image, from_words, "image and live words disagree");
}

// ---------------------------------------------------------------------
// Legacy v1 parser.
// ---------------------------------------------------------------------

/// One record of a structured legacy file.
#[derive(Arbitrary, Debug)]
pub struct LegacyRecord {
    label: String,
    value: LegacyValue,
    /// `None`: unbuffered; `Some(i)`: buffered, filling copy `i & 1` next.
    buffer: Option<u8>,
    /// The stale value of a buffered record.
    stale: u64,
}

/// A legacy value of each signature the parser knows.
#[derive(Arbitrary, Debug)]
pub enum LegacyValue {
    /// `b`
    I8(i8),
    /// `B`
    U8(u8),
    /// `?`
    Bool(bool),
    /// `h`
    I16(i16),
    /// `H`
    U16(u16),
    /// `i`
    I32(i32),
    /// `I`
    U32(u32),
    /// `l` or `q`
    I64(i64, bool),
    /// `L` or `Q`
    U64(u64, bool),
    /// `f`
    F32(f32),
    /// `d`
    F64(f64),
    /// `Ns`: capacity and text (NUL-free, cut to the capacity).
    Str(u8, String),
}

impl LegacyValue {
    fn signature(&self) -> String {
        match self {
            Self::I8(_) => "b".into(),
            Self::U8(_) => "B".into(),
            Self::Bool(_) => "?".into(),
            Self::I16(_) => "h".into(),
            Self::U16(_) => "H".into(),
            Self::I32(_) => "i".into(),
            Self::U32(_) => "I".into(),
            Self::I64(_, long) => if *long { "l" } else { "q" }.into(),
            Self::U64(_, long) => if *long { "L" } else { "Q" }.into(),
            Self::F32(_) => "f".into(),
            Self::F64(_) => "d".into(),
            Self::Str(capacity, _) => format!("{}s", capacity.max(&1)),
        }
    }

    /// The value's bytes (little-endian), and what a reader must return.
    fn encode(&self) -> (Vec<u8>, mmstats::FieldValue) {
        use mmstats::FieldValue as F;
        match self {
            Self::I8(v) => (v.to_le_bytes().to_vec(), F::Int((*v).into())),
            Self::U8(v) => (v.to_le_bytes().to_vec(), F::UInt((*v).into())),
            Self::Bool(v) => (vec![u8::from(*v)], F::Bool(*v)),
            Self::I16(v) => (v.to_le_bytes().to_vec(), F::Int((*v).into())),
            Self::U16(v) => (v.to_le_bytes().to_vec(), F::UInt((*v).into())),
            Self::I32(v) => (v.to_le_bytes().to_vec(), F::Int((*v).into())),
            Self::U32(v) => (v.to_le_bytes().to_vec(), F::UInt((*v).into())),
            Self::I64(v, _) => (v.to_le_bytes().to_vec(), F::Int(*v)),
            Self::U64(v, _) => (v.to_le_bytes().to_vec(), F::UInt(*v)),
            Self::F32(v) => (v.to_le_bytes().to_vec(), F::Float(f64::from(*v))),
            Self::F64(v) => (v.to_le_bytes().to_vec(), F::Float(*v)),
            Self::Str(capacity, text) => {
                let capacity = usize::from(*capacity.max(&1));
                let clean: String = text.chars().filter(|&c| c != '\0').collect();
                let kept = mmstats_nostd::truncate_utf8(&clean, capacity);
                let mut bytes = kept.as_bytes().to_vec();
                bytes.resize(capacity, 0);
                (bytes, F::Text(kept.to_owned()))
            }
        }
    }
}

/// The legacy v1 parser: on arbitrary bytes it returns fields or an error;
/// on inputs that do not start with the version byte, a structured round
/// trip (see the module docs).
pub fn legacy_bytes(data: &[u8]) {
    let first = mmstats::legacy::parse(data);
    assert_eq!(
        legacy_key(&first),
        legacy_key(&mmstats::legacy::parse(data)),
        "parsing is not repeatable"
    );
    if let Ok(fields) = &first {
        // Each record takes at least 2 + 1 + 2 + 1 + 1 + 1 bytes.
        assert!(fields.len() <= data.len() / 8 + 1);
    }
    if data.first() == Some(&mmstats::legacy::LEGACY_VERSION) {
        return;
    }
    let Ok(records) = Vec::<LegacyRecord>::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    legacy_round_trip(&records);
}

/// A parse result in a form that compares floats by their bits (so that a
/// NaN equals itself).
fn legacy_key(
    parsed: &Result<Vec<mmstats::legacy::LegacyField>, mmstats::legacy::LegacyError>,
) -> Result<Vec<(String, String, String)>, String> {
    match parsed {
        Ok(fields) => Ok(fields
            .iter()
            .map(|field| {
                let value = match &field.value {
                    mmstats::FieldValue::Float(v) => format!("float bits {:#x}", v.to_bits()),
                    other => format!("{other:?}"),
                };
                (field.name.clone(), field.signature.clone(), value)
            })
            .collect()),
        Err(error) => Err(error.to_string()),
    }
}

/// Writes `records` as a little-endian legacy file, parses it, and checks
/// that every record comes back as written.
pub fn legacy_round_trip(records: &[LegacyRecord]) {
    let mut file = vec![mmstats::legacy::LEGACY_VERSION];
    let mut expected = Vec::new();
    for record in records {
        // Labels are 1 to 65535 bytes; the parser decodes them lossily,
        // so any text goes in.
        let label = if record.label.is_empty() {
            "x"
        } else {
            mmstats_nostd::truncate_utf8(&record.label, usize::from(u16::MAX))
        };
        if label.is_empty() {
            continue;
        }
        let signature = record.value.signature();
        let (bytes, value) = record.value.encode();
        file.extend_from_slice(&(label.len() as u16).to_le_bytes());
        file.extend_from_slice(label.as_bytes());
        file.extend_from_slice(&(signature.len() as u16).to_le_bytes());
        file.extend_from_slice(signature.as_bytes());
        match record.buffer {
            None => {
                file.push(0xFF);
                file.extend_from_slice(&bytes);
            }
            Some(index) => {
                // The writer fills copy `index` next; the last complete
                // value is in the other copy.
                let index = index & 1;
                file.push(index);
                let mut stale = record.stale.to_le_bytes().to_vec();
                stale.resize(bytes.len(), 0xAB);
                let (copy0, copy1) = if index == 0 {
                    (&stale, &bytes)
                } else {
                    (&bytes, &stale)
                };
                file.extend_from_slice(copy0);
                file.extend_from_slice(copy1);
            }
        }
        expected.push((label.to_owned(), signature, value));
    }
    file.extend_from_slice(&[0, 0]);
    let parsed = mmstats::legacy::parse(&file)
        .unwrap_or_else(|e| panic!("a well-formed legacy file was refused: {e}"));
    assert_eq!(parsed.len(), expected.len(), "record count");
    for (field, (label, signature, value)) in parsed.iter().zip(&expected) {
        assert_eq!(&field.name, label);
        assert_eq!(&field.signature, signature);
        let same = match (&field.value, value) {
            (mmstats::FieldValue::Float(a), mmstats::FieldValue::Float(b)) => {
                a.to_bits() == b.to_bits()
            }
            (a, b) => a == b,
        };
        assert!(same, "{label}: read {:?}, wrote {value:?}", field.value);
    }
}

// ---------------------------------------------------------------------
// Writer operations against a model.
// ---------------------------------------------------------------------

/// A writer scenario: a region of `words` words (at most
/// [`MAX_SCENARIO_WORDS`]) with `table_capacity` entries (0: automatic),
/// then operations.
#[derive(Arbitrary, Debug)]
pub struct Scenario {
    words: u16,
    table_capacity: u8,
    ops: Vec<Op>,
}

/// One writer operation.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// Add a field.
    Add(AddField),
    /// Update the field `field % count` (if any).
    Update {
        /// Which field.
        field: u8,
        /// How.
        update: Update,
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

/// The kind of a field to add, with the initial value of constants.
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
}

/// An update; each kind takes what it can use of it.
#[derive(Arbitrary, Debug)]
pub struct Update {
    op: u8,
    int: u64,
    float: f64,
    text: String,
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
    Constant,
}

/// What the model knows of a field.
#[derive(Clone, Debug)]
struct ModelField {
    name: String,
    description: String,
    kind: Kind,
    unit: u16,
    flags: u32,
    buffers: usize,
    param: u64,
    value: Owned,
}

/// The model of a region: what a reader must see.
#[derive(Debug)]
struct Model {
    generation: u64,
    closed: bool,
    heartbeat: u64,
    prefix: String,
    capacity: usize,
    data_end: usize,
    next_free: usize,
    fields: Vec<ModelField>,
}

/// What a scenario exercised, so that a replayed corpus can be shown to
/// cover every kind and operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Regions created (re-creations included).
    pub regions: usize,
    /// Fields added, by [`AddKind`] variant (in declaration order).
    pub added: [usize; 12],
    /// Adds refused, as the model predicted.
    pub refused: usize,
    /// Updates applied.
    pub updates: usize,
    /// Label prefixes set.
    pub prefixes: usize,
    /// Closes.
    pub closes: usize,
    /// Re-creations.
    pub recreates: usize,
}

impl Coverage {
    /// Adds `other` to this tally.
    pub fn merge(&mut self, other: &Self) {
        self.regions += other.regions;
        for (mine, theirs) in self.added.iter_mut().zip(other.added) {
            *mine += theirs;
        }
        self.refused += other.refused;
        self.updates += other.updates;
        self.prefixes += other.prefixes;
        self.closes += other.closes;
        self.recreates += other.recreates;
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
fn model_create(len: usize, table_capacity: usize) -> Result<(usize, usize), CreateError> {
    let capacity = if table_capacity == 0 {
        (len.saturating_sub(PROLOGUE_WORDS) * 8 / (ENTRY_LEN + 64)).max(1)
    } else {
        table_capacity
    };
    let data_start = PROLOGUE_WORDS + capacity * (ENTRY_LEN / 8);
    if data_start >= len {
        return Err(CreateError::TooSmall {
            needed: (data_start + 1) * 8,
            available: len * 8,
        });
    }
    Ok((capacity, data_start))
}

/// Runs a scenario, checking the region against the model after every
/// operation.
pub fn run_scenario(scenario: &Scenario) -> Coverage {
    let mut coverage = Coverage::default();
    let len = usize::from(scenario.words) % (MAX_SCENARIO_WORDS + 1);
    let table_capacity = usize::from(scenario.table_capacity % 16);
    let words: Vec<Word> = (0..len).map(|_| Word::new(0)).collect();
    let options = RegionOptions {
        table_capacity,
        pid: 99,
        created_ns: 5,
        ..RegionOptions::default()
    };
    let predicted = model_create(len, table_capacity);
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
        generation: 1,
        closed: false,
        heartbeat: 0,
        prefix: String::new(),
        capacity,
        data_end: len,
        next_free: data_start,
        fields: Vec::new(),
    };
    let mut handles: Vec<Handle<'_>> = Vec::new();
    coverage.regions += 1;
    check_region(&words, &region, &model);
    for op in &scenario.ops {
        match op {
            Op::Add(add) => match add_field(&mut region, &mut model, &mut handles, add) {
                Some(kind) => coverage.added[kind] += 1,
                None => coverage.refused += 1,
            },
            Op::Update { field, update } => {
                if !handles.is_empty() {
                    let index = usize::from(*field) % handles.len();
                    apply_update(&handles[index], &mut model.fields[index], update);
                    coverage.updates += 1;
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
                model.fields.clear();
                assert_eq!(region.generation(), model.generation);
                coverage.regions += 1;
                coverage.recreates += 1;
            }
        }
        check_region(&words, &region, &model);
    }
    coverage
}

/// Adds the field; returns the index of its [`AddKind`] variant if it was
/// added, `None` if it was refused (as the model predicted).
fn add_field<'a>(
    region: &mut Region<'a>,
    model: &mut Model,
    handles: &mut Vec<Handle<'a>>,
    add: &AddField,
) -> Option<usize> {
    let variant = match &add.kind {
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
    };
    let padding = match add.padding % 3 {
        0 => Padding::None,
        1 => Padding::Line64,
        _ => Padding::Line128,
    };
    let unit = Unit::from_code(u16::from(add.unit % 16)).unwrap_or(Unit::None);
    // Mostly valid buffer counts and capacities, sometimes not.
    let buffers = if add.buffers >= 200 {
        u16::from(add.buffers % 20)
    } else {
        2 + u16::from(add.buffers % 4)
    };
    let capacity = if add.capacity >= 60_000 {
        usize::from(add.capacity - 60_000)
    } else {
        usize::from(add.capacity % 300)
    };
    let spec = FieldSpec::new(&add.name)
        .unit(unit)
        .describe(&add.description)
        .padding(padding)
        .buffers(buffers)
        .capacity(capacity);

    // What the model expects: the kind's shape, flags and initial value.
    let (kind, shared, constant, latched_copy_words, param, initial) = match &add.kind {
        AddKind::Counter => (Kind::Counter, false, false, None, 0, Owned::Counter(0)),
        AddKind::SharedCounter => (Kind::Counter, true, false, None, 0, Owned::Counter(0)),
        AddKind::Gauge => (Kind::Gauge, false, false, None, 0, Owned::Gauge(0)),
        AddKind::SharedGauge => (Kind::Gauge, true, false, None, 0, Owned::Gauge(0)),
        AddKind::ConstantGauge(v) => (Kind::Gauge, false, true, None, 0, Owned::Gauge(*v)),
        AddKind::Float => (Kind::Float, false, false, None, 0, Owned::Float(0)),
        AddKind::Flag => (Kind::Bool, false, false, None, 0, Owned::Bool(false)),
        AddKind::Timestamp => (Kind::Timestamp, false, false, None, 0, Owned::Timestamp(0)),
        AddKind::ConstantTimestamp(v) => {
            (Kind::Timestamp, false, true, None, 0, Owned::Timestamp(*v))
        }
        AddKind::Text => {
            let words = 1 + capacity.div_ceil(8);
            let initial = Owned::Text(String::new());
            (
                Kind::String,
                false,
                false,
                Some(words),
                capacity as u64,
                initial,
            )
        }
        AddKind::ConstantText(value) => {
            let capacity = value.len().min(MAX_STRING_CAPACITY);
            let initial = Owned::Text(cut(value, capacity).to_owned());
            let words = 1 + capacity.div_ceil(8);
            (
                Kind::String,
                false,
                true,
                Some(words),
                capacity as u64,
                initial,
            )
        }
        AddKind::Average => (
            Kind::Average,
            false,
            false,
            Some(2),
            0,
            Owned::Average(0, 0),
        ),
    };
    let full_name = format!("{}{}", model.prefix, add.name);
    let value_words = latched_copy_words.map_or(1, |w| 1 + usize::from(buffers) * w);
    let align = match padding {
        Padding::None => 1,
        Padding::Line64 => 8,
        Padding::Line128 => 16,
    };
    let start = model.next_free.div_ceil(align) * align;
    let reserved = value_words.div_ceil(align) * align;
    let expected = if kind == Kind::String && param > MAX_STRING_CAPACITY as u64 {
        Err(AddFieldError::CapacityTooLarge { capacity })
    } else if latched_copy_words.is_some() && !(2..=16).contains(&buffers) {
        Err(AddFieldError::InvalidBuffers { buffers })
    } else if full_name.is_empty() {
        Err(AddFieldError::EmptyName)
    } else if full_name.len() > NAME_MAX {
        Err(AddFieldError::NameTooLong {
            len: full_name.len(),
        })
    } else if full_name.chars().any(char::is_control) {
        Err(AddFieldError::InvalidName)
    } else if add.description.len() > 80 || add.description.chars().any(char::is_control) {
        Err(AddFieldError::InvalidDescription)
    } else if model.fields.len() >= model.capacity {
        Err(AddFieldError::TableFull {
            capacity: model.capacity,
        })
    } else if start + reserved > model.data_end {
        Err(AddFieldError::DataFull {
            needed: reserved * 8,
            available: (model.data_end - model.next_free) * 8,
        })
    } else {
        Ok(())
    };

    let made: Result<Handle<'a>, AddFieldError> = match &add.kind {
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
    };
    match (made, expected) {
        (Ok(handle), Ok(())) => {
            handles.push(handle);
            model.next_free = start + reserved;
            let flags = if shared { FLAG_SHARED } else { 0 }
                | if constant { FLAG_CONSTANT } else { 0 }
                | match padding {
                    Padding::None => 0,
                    Padding::Line64 => FLAG_PAD_64,
                    Padding::Line128 => FLAG_PAD_128,
                };
            model.fields.push(ModelField {
                name: full_name,
                description: add.description.clone(),
                kind,
                unit: unit.code(),
                flags,
                buffers: latched_copy_words.map_or(1, |_| usize::from(buffers)),
                param,
                value: initial,
            });
            Some(variant)
        }
        (Err(error), Err(expected)) => {
            assert_eq!(error, expected, "adding {add:?}");
            None
        }
        (made, expected) => panic!(
            "adding {add:?} gave {:?}, the model expected {expected:?}",
            made.map(|_| ())
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

fn apply_update(handle: &Handle<'_>, field: &mut ModelField, update: &Update) {
    let Update {
        op,
        int,
        float,
        text,
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
        (Handle::Constant, _) => {}
        (_, value) => panic!("handle and model disagree on the kind of {value:?}"),
    }
}

/// Checks the region against the model, over the live words and over a
/// copied image of them.
fn check_region(words: &[Word], region: &Region<'_>, model: &Model) {
    assert_eq!(region.field_count(), model.fields.len());
    assert_eq!(
        region.data_free(),
        (model.data_end - model.next_free) * 8,
        "free space"
    );
    check_view(&RegionView::open(words).expect("live region opens"), model);
    let bytes: Vec<u8> = words
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
        .collect();
    let image = ByteImage::new(&bytes);
    check_view(&RegionView::open(&image).expect("image opens"), model);
}

fn check_view<S: WordSource + ?Sized>(view: &RegionView<'_, S>, model: &Model) {
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
    assert_eq!(view.field_count().unwrap(), model.fields.len());
    let mut scratch = [0u64; MAX_COPY_WORDS];
    for (index, expected) in model.fields.iter().enumerate() {
        let field = view
            .entry(index)
            .unwrap_or_else(|e| panic!("entry {index}: {e}"))
            .unwrap_or_else(|| panic!("entry {index} is not live"));
        assert_eq!(field.id, index as u64 + 1);
        assert_eq!(field.name.as_str(), expected.name);
        assert_eq!(field.description.as_str(), expected.description);
        assert_eq!(field.kind, Some(expected.kind));
        assert_eq!(field.unit_code, expected.unit);
        assert_eq!(field.flags, expected.flags, "flags of {}", expected.name);
        assert_eq!(field.buffers, expected.buffers);
        assert_eq!(field.param, expected.param);
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
    assert!(view.still_valid());
}

// ---------------------------------------------------------------------
// Seeds.
// ---------------------------------------------------------------------

/// A region with one field of every kind and a few updates, as bytes in
/// this machine's order: a seed for the reader target.
#[must_use]
pub fn seed_region() -> Vec<u8> {
    let words: Vec<Word> = (0..256).map(|_| Word::new(0)).collect();
    let mut region = Region::create(
        &words,
        &RegionOptions {
            table_capacity: 5,
            generation: 3,
            pid: 1234,
            start_time: 5678,
            boot_id: 0x1122_3344_5566_7788,
            created_ns: 1_700_000_000_000_000_000,
        },
    )
    .expect("fits");
    region.set_prefix("seed.").expect("valid");
    region.counter("hits").expect("fits").add(42);
    region
        .gauge(FieldSpec::new("temp").unit(Unit::Celsius).describe("die"))
        .expect("fits")
        .set(-5);
    region
        .text(FieldSpec::new("ver").capacity(12).buffers(2))
        .expect("fits")
        .set("v1.2-ü");
    let average = region.average("lat").expect("fits");
    average.add(1.5);
    average.add(2.5);
    region
        .float_gauge(FieldSpec::new("load").padding(Padding::Line64))
        .expect("fits")
        .set(0.75);
    words
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
        .collect()
}

/// `native` (a region in this machine's order) as a machine of the other
/// byte order would have stored it: every number swapped, byte strings
/// left alone.
#[must_use]
pub fn swap_region(native: &[u8]) -> Vec<u8> {
    let image = ByteImage::new(native);
    let view = RegionView::open(&image).expect("a valid region");
    let count = view.field_count().expect("a valid count");
    let fields: Vec<_> = (0..count)
        .filter_map(|i| view.entry(i).ok().flatten())
        .collect();
    let mut out = native.to_vec();
    let swap_word = |out: &mut [u8], at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&out[at..at + 8]);
        out[at..at + 8].copy_from_slice(&u64::from_ne_bytes(word).swap_bytes().to_ne_bytes());
    };
    let words_at = |bytes: &[u8], at: usize| -> [u64; 32] {
        let mut words = [0u64; 32];
        for (index, word) in words.iter_mut().enumerate() {
            let mut chunk = [0u8; 8];
            chunk.copy_from_slice(&bytes[at + index * 8..at + index * 8 + 8]);
            *word = u64::from_ne_bytes(chunk);
        }
        words
    };
    let put_words = |out: &mut [u8], at: usize, words: [u64; 32]| {
        for (index, word) in words.iter().enumerate() {
            out[at + index * 8..at + index * 8 + 8].copy_from_slice(&word.to_ne_bytes());
        }
    };
    let mut prologue = Prologue::from_words(words_at(native, 0));
    prologue.swap_numbers();
    put_words(&mut out, 0, prologue.to_words());
    let table = view.prologue().table_offset as usize;
    for index in 0..count {
        let at = table + index * ENTRY_LEN;
        let mut entry = EntryRecord::from_words(words_at(native, at));
        entry.swap_numbers();
        put_words(&mut out, at, entry.to_words());
    }
    for field in &fields {
        let start = field.value_word * 8;
        match field.kind {
            Some(Kind::String) => {
                swap_word(&mut out, start);
                for copy in 0..field.buffers {
                    swap_word(&mut out, start + 8 + copy * field.copy_words * 8);
                }
            }
            Some(Kind::Average) => {
                for word in 0..1 + field.buffers * field.copy_words {
                    swap_word(&mut out, start + word * 8);
                }
            }
            _ => swap_word(&mut out, start),
        }
    }
    out
}

/// Deterministic pseudo-random bytes (xorshift64*), for seeds of the
/// structured targets.
#[must_use]
pub fn seed_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}
