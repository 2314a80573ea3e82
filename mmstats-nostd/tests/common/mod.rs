//! Helpers shared by the integration tests.
#![allow(dead_code)]

use core::sync::atomic::Ordering;
use mmstats_nostd::{
    DEFAULT_MAX_TRIES, MAX_COPY_WORDS, ReadError, RegionView, Value, Word, WordSource,
};

/// A value copied out of a region.
#[derive(Clone, Debug, PartialEq)]
pub enum Owned {
    Counter(u64),
    Gauge(i64),
    Float(f64),
    Bool(bool),
    Timestamp(u64),
    Text(String),
    Average(f64, u64),
    /// count, sum, min, max, buckets (trailing zero buckets dropped).
    Histogram(u64, u64, u64, u64, Vec<u64>),
    /// sum, count, total, window.
    MovingAverage(f64, u64, u64, u64),
    /// sum, count, total, as_of, window.
    WindowAverage(f64, u64, u64, u64, u64),
    /// appended, capacity.
    EventRing(u64, usize),
}

impl From<Value<'_>> for Owned {
    fn from(value: Value<'_>) -> Self {
        match value {
            Value::Counter(v) => Self::Counter(v),
            Value::Gauge(v) => Self::Gauge(v),
            Value::Float(v) => Self::Float(v),
            Value::Bool(v) => Self::Bool(v),
            Value::Timestamp(v) => Self::Timestamp(v),
            Value::Text(v) => Self::Text(v.to_owned()),
            Value::Average { sum, count } => Self::Average(sum, count),
            Value::Histogram(h) => {
                let mut buckets = h.buckets.to_vec();
                while buckets.last() == Some(&0) {
                    buckets.pop();
                }
                Self::Histogram(h.count, h.sum, h.min, h.max, buckets)
            }
            Value::MovingAverage {
                sum,
                count,
                total,
                window,
            } => Self::MovingAverage(sum, count, total, window),
            Value::WindowAverage {
                sum,
                count,
                total,
                as_of,
                window,
            } => Self::WindowAverage(sum, count, total, as_of, window),
            Value::EventRing { appended, shape } => Self::EventRing(appended, shape.capacity()),
        }
    }
}

/// Every live field of a region, by name, or the first error met.
pub fn read_all<S: WordSource + ?Sized>(
    view: &RegionView<'_, S>,
) -> Result<Vec<(String, Owned)>, String> {
    let mut scratch = vec![0u64; MAX_COPY_WORDS];
    let count = view.field_count().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for index in 0..count {
        let Some(field) = view.entry(index).map_err(|e| e.to_string())? else {
            continue;
        };
        if scratch.len() < field.scratch_words() {
            scratch.resize(field.scratch_words(), 0);
        }
        match view.read(&field, &mut scratch, DEFAULT_MAX_TRIES) {
            Ok(value) => out.push((field.name.to_string(), Owned::from(value))),
            Err(ReadError::UnknownKind { .. }) => {}
            Err(other) => return Err(other.to_string()),
        }
    }
    Ok(out)
}

/// The region's bytes as this machine stores them.
pub fn to_bytes(words: &[Word]) -> Vec<u8> {
    words
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
        .collect()
}

/// A fresh zeroed word vector.
pub fn words(count: usize) -> Vec<Word> {
    (0..count).map(|_| Word::new(0)).collect()
}

/// Deterministic xorshift64* generator for reproducible corruption tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
