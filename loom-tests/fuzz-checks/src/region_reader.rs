//! The format-2 reader on arbitrary bytes ([`region_bytes`]), and what
//! a reading copies out of a region ([`read_everything`]).

use mmstats_nostd::layout::Prologue;
use mmstats_nostd::{
    ByteImage, MAX_COPY_WORDS, NAME_MAX, Payload, RegionView, RingCursor, RingEvent, Value, Word,
    WordSource,
};

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
    /// A histogram: its shape (the entry's `param`), summary words and
    /// every bucket count.
    Histogram {
        /// The shape as the entry's `param` encodes it.
        param: u64,
        /// Records.
        count: u64,
        /// Sum of the values (wrapping).
        sum: u64,
        /// Smallest value (`u64::MAX` before the first record).
        min: u64,
        /// Largest value (0 before the first record).
        max: u64,
        /// Every bucket, in order.
        buckets: Vec<u64>,
    },
    /// A moving average: sum as bits, samples in the window, samples ever
    /// added, window size.
    MovingAverage {
        /// Sum of the window, as bits.
        sum: u64,
        /// Samples in the window.
        count: u64,
        /// Samples ever added.
        total: u64,
        /// Window size N.
        window: u64,
    },
    /// A window average: sum as bits, count, samples ever recorded, the
    /// writer's clock at its last update, window length.
    WindowAverage {
        /// Sum of the window, as bits.
        sum: u64,
        /// Samples in the window.
        count: u64,
        /// Samples ever recorded.
        total: u64,
        /// The writer's clock at the last update.
        as_of: u64,
        /// Window length in ticks.
        window: u64,
    },
    /// An event ring: records appended, capacity, payload words.
    EventRing {
        /// Records appended.
        appended: u64,
        /// Records it holds.
        capacity: usize,
        /// Payload words per record.
        payload_words: usize,
    },
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
            Value::Histogram(view) => Self::Histogram {
                param: view.shape.param(),
                count: view.count,
                sum: view.sum,
                min: view.min,
                max: view.max,
                buckets: view.buckets.to_vec(),
            },
            Value::MovingAverage {
                sum,
                count,
                total,
                window,
            } => Self::MovingAverage {
                sum: sum.to_bits(),
                count,
                total,
                window,
            },
            Value::WindowAverage {
                sum,
                count,
                total,
                as_of,
                window,
            } => Self::WindowAverage {
                sum: sum.to_bits(),
                count,
                total,
                as_of,
                window,
            },
            Value::EventRing { appended, shape } => Self::EventRing {
                appended,
                capacity: shape.capacity(),
                payload_words: shape.payload_words(),
            },
        }
    }
}

/// An event-ring record's payload, copied out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedPayload {
    /// Values.
    Values(Vec<u64>),
    /// A short text.
    Text(String),
    /// A span started.
    SpanEnter(u64, String),
    /// A span ended.
    SpanExit(u64),
    /// A payload kind the reader does not know: kind, length.
    Unknown(u8, u16),
    /// A length past the payload, or text that is not UTF-8.
    Invalid,
}

/// What a ring reader got: a record (sequence number, timestamp, thread,
/// event id, payload) or a count of missed records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedEvent {
    /// A record.
    Record {
        /// Sequence number.
        seq: u64,
        /// Timestamp.
        timestamp: u64,
        /// Thread id.
        thread: u64,
        /// Event id.
        event: u32,
        /// Payload.
        payload: OwnedPayload,
    },
    /// Records overwritten before the reader got to them.
    Missed(u64),
}

impl From<RingEvent<'_>> for OwnedEvent {
    fn from(event: RingEvent<'_>) -> Self {
        match event {
            RingEvent::Missed(n) => Self::Missed(n),
            RingEvent::Record(record) => Self::Record {
                seq: record.seq,
                timestamp: record.timestamp,
                thread: record.thread,
                event: record.event,
                payload: match record.payload {
                    Payload::Values(values) => OwnedPayload::Values(values.to_vec()),
                    Payload::Text(text) => OwnedPayload::Text(text.to_owned()),
                    Payload::SpanEnter { span, name } => {
                        OwnedPayload::SpanEnter(span, name.to_owned())
                    }
                    Payload::SpanExit { span } => OwnedPayload::SpanExit(span),
                    Payload::Unknown { kind, len } => OwnedPayload::Unknown(kind, len),
                    Payload::Invalid => OwnedPayload::Invalid,
                },
            },
        }
    }
}

/// What polling a ring from its oldest record gave: the events and the
/// poll's totals (delivered, missed, head), or why it stopped.
pub type RingReading = Result<(Vec<OwnedEvent>, (u64, u64, u64)), String>;

/// One entry as a reader got it: its name, value (or why not) and, for an
/// event ring, what a reader following it from its oldest record got;
/// `None` for a slot that is not live; or why the entry was refused.
pub type EntryReading =
    Result<Option<(String, Result<Owned, String>, Option<RingReading>)>, String>;

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
    if let Ok(count) = count {
        for index in 0..count {
            let entry = view.entry(index).map_err(|e| e.to_string());
            fields.push(entry.map(|entry| {
                entry.map(|field| {
                    // What `entry` promised about a field it returns.
                    assert!(!field.name.is_empty() && field.name.len() <= NAME_MAX);
                    assert!(!field.name.chars().any(char::is_control));
                    assert!((1..=16).contains(&field.buffers));
                    assert!(field.id != 0, "a live entry has a registration id");
                    let value_end = field.value_word + field.value_words;
                    assert!(
                        value_end as u64 * 8 <= prologue.region_len,
                        "entry {index} points past the region"
                    );
                    let main = if field.buffers == 1 {
                        field.copy_words
                    } else {
                        1 + field.buffers * field.copy_words
                    };
                    assert!(main <= field.value_words, "entry {index}: value words");
                    // Scratch as `mmdump` sizes it: enough for any kind.
                    let mut scratch = vec![0u64; field.scratch_words().max(MAX_COPY_WORDS)];
                    let value = view
                        .read(&field, &mut scratch, 4)
                        .map(Owned::from)
                        .map_err(|e| e.to_string());
                    match &value {
                        Ok(Owned::Text(text)) => assert!(text.len() as u64 <= field.param),
                        Ok(Owned::Histogram { buckets, .. }) => {
                            assert_eq!(
                                buckets.len() + 4,
                                field.copy_words,
                                "entry {index}: histogram buckets"
                            );
                        }
                        _ => {}
                    }
                    let ring = field.ring_shape().map(|shape| {
                        let mut events = Vec::new();
                        let mut cursor = RingCursor::oldest();
                        view.poll_ring(&field, &mut cursor, &mut scratch, 64, |event| {
                            events.push(OwnedEvent::from(event));
                        })
                        .map(|poll| {
                            // What `poll_ring` promised: every event it
                            // counted was handed over, in order.
                            let delivered = events
                                .iter()
                                .filter(|e| matches!(e, OwnedEvent::Record { .. }))
                                .count() as u64;
                            let missed: u64 = events
                                .iter()
                                .map(|e| match e {
                                    OwnedEvent::Missed(n) => *n,
                                    OwnedEvent::Record { .. } => 0,
                                })
                                .sum();
                            assert_eq!((poll.delivered, poll.missed), (delivered, missed));
                            assert!(poll.delivered <= 64);
                            let mut last = 0;
                            for event in &events {
                                if let OwnedEvent::Record { seq, payload, .. } = event {
                                    assert!(*seq > last, "ring records out of order");
                                    assert!(*seq < 1 << 63, "a record being written");
                                    last = *seq;
                                    if let OwnedPayload::Values(values) = payload {
                                        assert!(values.len() <= shape.payload_words());
                                    }
                                    if let OwnedPayload::Text(text) = payload {
                                        assert!(text.len() <= 8 * shape.payload_words());
                                    }
                                }
                            }
                            (events, (poll.delivered, poll.missed, poll.head))
                        })
                        .map_err(|e| e.to_string())
                    });
                    (field.name.to_string(), value, ring)
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
