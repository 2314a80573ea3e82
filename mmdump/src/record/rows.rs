//! What the store takes and the queries give: sample rows, series, points
//! and the sizes and counts maintenance reports.

use crate::dump::watch::Row;
use mmstats::FieldValue;

/// One field of one sample.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleRow<'a> {
    /// Field name.
    pub name: &'a str,
    /// Kind name (as `mmdump` names kinds).
    pub kind: &'static str,
    /// Unit name ("" for none).
    pub unit: &'a str,
    /// The value as a number (None for strings).
    pub value: Option<f64>,
    /// Change per second over the last interval, if known.
    pub rate: Option<f64>,
    /// A string's value.
    pub text: Option<&'a str>,
}

impl<'a> SampleRow<'a> {
    /// The sample of a `watch` row.
    #[must_use]
    pub fn of_row(row: &'a Row) -> Self {
        let (value, text) = match &row.value {
            FieldValue::Text(text) => (None, Some(text.as_str())),
            FieldValue::Timestamp(0) => (None, None),
            FieldValue::Timestamp(ns) => (Some(*ns as f64 / 1e9), None),
            other => (other.as_f64(), None),
        };
        Self {
            name: &row.name,
            kind: row.value.kind_name(),
            unit: &row.unit,
            value: value.filter(|v| v.is_finite()),
            rate: if row.rated {
                row.rate.filter(|r| r.is_finite())
            } else {
                None
            },
            text,
        }
    }
}

/// A recorded series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesInfo {
    /// Its id in the database.
    pub id: i64,
    /// Field name.
    pub name: String,
    /// Kind name.
    pub kind: String,
    /// Unit name.
    pub unit: String,
}

impl SeriesInfo {
    /// Whether a chart shows its rate by default (counters, and averages
    /// by their sample rate, are charted as rates).
    #[must_use]
    pub fn rated(&self) -> bool {
        matches!(self.kind.as_str(), "counter")
    }
}

/// What is stored of a series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesSummary {
    /// The series.
    pub info: SeriesInfo,
    /// Rows stored (every tier; strings: changes).
    pub rows: u64,
    /// The first time stored, ms since the epoch.
    pub first_ms: Option<i64>,
    /// The last time stored, ms since the epoch.
    pub last_ms: Option<i64>,
}

/// One point of a series' history.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Time, ms since the Unix epoch (a bucket's start).
    pub t_ms: i64,
    /// The value (a bucket's mean).
    pub value: Option<f64>,
    /// Smallest value in the bucket.
    pub min: Option<f64>,
    /// Largest value in the bucket.
    pub max: Option<f64>,
    /// Rate per second (a bucket's mean).
    pub rate: Option<f64>,
    /// The tier it came from (0 raw, 1 minutes, 2 hours).
    pub tier: u8,
}

/// Sizes of the database's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreSize {
    /// The database file.
    pub db_bytes: u64,
    /// Its rollback journal (present only while a transaction runs).
    pub journal_bytes: u64,
    /// Bytes in use inside the database (pages not on the free list).
    pub used_bytes: u64,
}

/// What [`TrendStore::maintain`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Raw samples folded into minutes.
    pub folded_raw: usize,
    /// Minute buckets folded into hours.
    pub folded_minutes: usize,
    /// Rows deleted because of their age.
    pub expired: usize,
    /// Rows deleted to stay under the size bound.
    pub pruned: usize,
}
