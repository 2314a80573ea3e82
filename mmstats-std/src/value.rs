//! What a reader copies out of a stats file, whatever its format: the
//! [`Format`], each [`Field`] and its [`FieldValue`], and the version byte
//! of legacy files.

use std::fmt;

use mmstats_nostd::{EntryError, FieldInfo, Labels, ReadError, Value};

use crate::histogram::HistogramSnapshot;

/// The version byte that starts a legacy v1 file.
pub const LEGACY_VERSION: u8 = 0x01;

/// The format of a stats file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Format 2 (this project).
    Mmstats2,
    /// Legacy v1 (the original Python mmstats).
    LegacyV1,
}

impl Format {
    /// The name used in `mmdump` output and JSON.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Mmstats2 => "mmstats-2",
            Self::LegacyV1 => "legacy-v1",
        }
    }
}

/// A value copied out of a stats file.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// Monotonic counter.
    Counter(u64),
    /// Signed gauge.
    Gauge(i64),
    /// Float (format-2 float gauge, or a legacy `f`/`d` field).
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// Nanoseconds since the Unix epoch.
    Timestamp(u64),
    /// String.
    Text(String),
    /// Sum and count.
    Average {
        /// Sum of the samples.
        sum: f64,
        /// Number of samples.
        count: u64,
    },
    /// Legacy signed integer.
    Int(i64),
    /// Legacy unsigned integer.
    UInt(u64),
    /// Histogram (format 2.1).
    Histogram(HistogramSnapshot),
    /// Mean of the last `window` samples (format 2.1).
    MovingAverage {
        /// Sum of the samples in the window.
        sum: f64,
        /// Samples in the window.
        count: u64,
        /// Samples ever added.
        total: u64,
        /// Window size N.
        window: u64,
    },
    /// Mean over a time window (format 2.1).
    WindowAverage {
        /// Sum of the samples in the window.
        sum: f64,
        /// Samples in the window.
        count: u64,
        /// Samples ever recorded.
        total: u64,
        /// Writer's clock at the last update (std: monotonic ns).
        as_of: u64,
        /// Window length in the writer's clock ticks (std: ns).
        window: u64,
    },
    /// Event ring (format 2.1): how far it got. Follow it with
    /// `mmstats_nostd::RegionView::poll_ring` (`mmdump tail` does).
    EventRing {
        /// Records appended so far.
        appended: u64,
        /// Records the ring holds.
        capacity: u64,
        /// Payload words per record.
        payload_words: u64,
    },
}

impl FieldValue {
    /// The kind name shown by `mmdump` and in its JSON.
    #[must_use]
    pub const fn kind_name(&self) -> &'static str {
        match self {
            Self::Counter(_) => "counter",
            Self::Gauge(_) => "gauge",
            Self::Float(_) => "float",
            Self::Bool(_) => "bool",
            Self::Timestamp(_) => "timestamp",
            Self::Text(_) => "string",
            Self::Average { .. } => "average",
            Self::Int(_) => "int",
            Self::UInt(_) => "uint",
            Self::Histogram(_) => "histogram",
            Self::MovingAverage { .. } => "moving_average",
            Self::WindowAverage { .. } => "window_average",
            Self::EventRing { .. } => "event_ring",
        }
    }

    /// The value as a number, where it is one (an average gives its mean;
    /// a boolean 0 or 1; a histogram its count; an event ring the records
    /// appended; a string nothing).
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::Counter(v) | Self::UInt(v) | Self::Timestamp(v) => Some(v as f64),
            Self::Gauge(v) | Self::Int(v) => Some(v as f64),
            Self::Float(v) => Some(v),
            Self::Bool(v) => Some(f64::from(u8::from(v))),
            Self::Average { sum, count }
            | Self::MovingAverage { sum, count, .. }
            | Self::WindowAverage { sum, count, .. } => {
                Some(if count == 0 { 0.0 } else { sum / count as f64 })
            }
            Self::Histogram(ref histogram) => Some(histogram.count as f64),
            Self::EventRing { appended, .. } => Some(appended as f64),
            Self::Text(_) => None,
        }
    }

    /// The owned form of a value read by `mmstats-nostd`'s `RegionView`.
    #[must_use]
    pub fn from_value(value: Value<'_>) -> Self {
        match value {
            Value::Counter(v) => Self::Counter(v),
            Value::Gauge(v) => Self::Gauge(v),
            Value::Float(v) => Self::Float(v),
            Value::Bool(v) => Self::Bool(v),
            Value::Timestamp(v) => Self::Timestamp(v),
            Value::Text(v) => Self::Text(v.to_owned()),
            Value::Average { sum, count } => Self::Average { sum, count },
            Value::Histogram(view) => Self::Histogram(HistogramSnapshot::from_view(&view)),
            Value::MovingAverage {
                sum,
                count,
                total,
                window,
            } => Self::MovingAverage {
                sum,
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
                sum,
                count,
                total,
                as_of,
                window,
            },
            Value::EventRing { appended, shape } => Self::EventRing {
                appended,
                capacity: shape.capacity() as u64,
                payload_words: shape.payload_words() as u64,
            },
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Counter(v) | Self::UInt(v) | Self::Timestamp(v) => write!(f, "{v}"),
            Self::Gauge(v) | Self::Int(v) => write!(f, "{v}"),
            Self::Float(v) => write!(f, "{v}"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::Text(v) => f.write_str(v),
            Self::Average { sum, count } => {
                if *count == 0 {
                    f.write_str("0 (no samples)")
                } else {
                    write!(f, "{} (n={count})", sum / *count as f64)
                }
            }
            Self::Histogram(histogram) => histogram.fmt(f),
            Self::MovingAverage {
                sum, count, window, ..
            } => {
                if *count == 0 {
                    f.write_str("0 (no samples)")
                } else {
                    write!(f, "{} (last {count} of {window})", sum / *count as f64)
                }
            }
            Self::WindowAverage { sum, count, .. } => {
                if *count == 0 {
                    f.write_str("0 (no samples in the window)")
                } else {
                    write!(f, "{} (n={count} in the window)", sum / *count as f64)
                }
            }
            Self::EventRing {
                appended, capacity, ..
            } => write!(f, "{appended} events (ring of {capacity})"),
        }
    }
}

/// A field of a stats file.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Full name, label prefix included.
    pub name: String,
    /// Labels (format 2.2; empty for unlabelled fields and legacy files).
    /// A field of a file is identified by its name and labels together.
    pub labels: Labels,
    /// The unit's name ("" for none; `unit(N)` for a code this reader does
    /// not know).
    pub unit: String,
    /// One-line description ("" if none).
    pub description: String,
    /// The value.
    pub value: FieldValue,
}

/// Why one field of a file could not be read (the file's other fields are
/// still read).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldProblem {
    /// The field's single-word value lies outside the region.
    ValueOutsideRegion {
        /// Field-table index.
        index: usize,
    },
    /// The field-table entry was not trusted.
    Entry(EntryError),
    /// The entry is sound but its value could not be read.
    Value {
        /// Field-table index.
        index: usize,
        /// The field's full name.
        name: String,
        /// Why.
        error: ReadError,
    },
    /// The field repeats the name and labels of the live field in a lower
    /// slot, which is the one shown (docs/FORMAT.md §4.1); this one's value
    /// is not.
    Duplicate {
        /// Field-table index of the repeat.
        index: usize,
        /// The name both fields have.
        name: String,
        /// The labels both fields have.
        labels: Labels,
        /// Field-table index of the field shown.
        first: usize,
    },
}

impl FieldProblem {
    /// The value of the field `info` describes could not be read.
    #[must_use]
    pub fn value(info: &FieldInfo, error: ReadError) -> Self {
        Self::Value {
            index: info.index,
            name: info.name.to_string(),
            error,
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ValueOutsideRegion { index } => {
                write!(f, "field {index}: value lies outside the region")
            }
            Self::Entry(error) => write!(f, "{error}"),
            Self::Value { index, name, error } => write!(f, "field {index} ({name}): {error}"),
            Self::Duplicate {
                index,
                name,
                labels,
                first,
            } => write!(
                f,
                "field {index} ({name}{labels}) repeats field {first}, which is shown instead"
            ),
        }
    }
}

impl std::error::Error for FieldProblem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_problems_say_which_field() {
        assert_eq!(
            FieldProblem::ValueOutsideRegion { index: 4 }.to_string(),
            "field 4: value lies outside the region"
        );
        let problem = FieldProblem::Value {
            index: 3,
            name: "a.b".into(),
            error: ReadError::SlotChanged,
        };
        let text = problem.to_string();
        assert!(text.starts_with("field 3 (a.b): "), "{text}");
        assert!(text.len() > "field 3 (a.b): ".len(), "{text}");
    }
}
