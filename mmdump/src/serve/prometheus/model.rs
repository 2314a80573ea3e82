//! The model: formats, metric types, numbers, values, metrics and families.

use super::*;

/// Which text format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text exposition format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format a scraper asks for with its `Accept` header: OpenMetrics
    /// when it accepts `application/openmetrics-text` at least as much as
    /// `text/plain` (Prometheus sends `application/openmetrics-text;
    /// version=1.0.0,...;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`),
    /// else the Prometheus text format.
    #[must_use]
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Self::Prometheus;
        };
        let mut open_metrics: Option<f64> = None;
        let mut text: Option<f64> = None;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut quality = 1.0;
            let mut version: Option<String> = None;
            for parameter in parts {
                let Some((key, value)) = parameter.split_once('=') else {
                    continue;
                };
                match key.trim().to_ascii_lowercase().as_str() {
                    "q" => quality = value.trim().parse().unwrap_or(0.0),
                    "version" => version = Some(value.trim().to_owned()),
                    _ => {}
                }
            }
            let slot = match media.as_str() {
                // Only the 1.0.0 text (or an unversioned request) is written.
                "application/openmetrics-text"
                    if version.as_deref().is_none_or(|v| v == "1.0.0") =>
                {
                    &mut open_metrics
                }
                "text/plain" | "text/*" | "*/*" => &mut text,
                _ => continue,
            };
            *slot = Some(slot.map_or(quality, |q: f64| q.max(quality)));
        }
        match (open_metrics, text) {
            (Some(om), text) if om > 0.0 && om >= text.unwrap_or(0.0) => Self::OpenMetrics,
            _ => Self::Prometheus,
        }
    }
}

/// The type of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricType {
    /// A monotonic count: samples end in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A sum and a count (`_sum`, `_count`), no quantiles.
    Summary,
    /// Cumulative buckets (`_bucket{le=...}`), a sum and a count.
    Histogram,
    /// A constant 1 whose labels carry the information (`_info`).
    Info,
}

impl MetricType {
    /// The word in a `# TYPE` line of `format`.
    #[must_use]
    pub const fn word(self, format: Format) -> &'static str {
        match (self, format) {
            (Self::Counter, _) => "counter",
            (Self::Gauge, _) | (Self::Info, Format::Prometheus) => "gauge",
            (Self::Summary, _) => "summary",
            (Self::Histogram, _) => "histogram",
            (Self::Info, Format::OpenMetrics) => "info",
        }
    }

    /// The suffixes of the sample names this type writes after the family
    /// name (both formats), and of the names it reserves.
    const fn reserved_suffixes(self) -> &'static [&'static str] {
        match self {
            Self::Counter => &["", "_total", "_created"],
            Self::Gauge => &[""],
            Self::Summary => &["", "_sum", "_count", "_created"],
            Self::Histogram => &["", "_bucket", "_sum", "_count", "_created"],
            Self::Info => &["", "_info"],
        }
    }
}

/// A number as written in a sample: integers exactly, floats in the
/// shortest form that reads back to the same value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// An exact integer.
    Int(i128),
    /// A float (`NaN`, `+Inf`, `-Inf` included).
    Float(f64),
}

impl Number {
    /// `value × scale`, exact when the scale is 1.
    #[must_use]
    pub fn scaled_u64(value: u64, scale: f64) -> Self {
        if scale == 1.0 {
            Self::Int(i128::from(value))
        } else {
            Self::Float(value as f64 * scale)
        }
    }

    /// `value × scale`, exact when the scale is 1.
    #[must_use]
    pub fn scaled_i64(value: i64, scale: f64) -> Self {
        if scale == 1.0 {
            Self::Int(i128::from(value))
        } else {
            Self::Float(value as f64 * scale)
        }
    }

    pub(super) fn write(self, out: &mut String) {
        match self {
            Self::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Self::Float(v) => write_float(out, v),
        }
    }
}

pub(super) fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value == value.trunc() && value.abs() < 1e15 {
        // Integral floats as integers with ".0" dropped: "3" not "3.0"
        // (both parse; this is what Prometheus' own clients write).
        let _ = write!(out, "{}", value as i64);
    } else if value.abs() >= 1e15 || value.abs() < 1e-4 {
        // Shortest round-trip digits with an exponent ("1e300", "2.5e-7"),
        // which Go's ParseFloat and the OpenMetrics grammar accept.
        let _ = write!(out, "{value:e}");
    } else {
        // Shortest round-trip form ("0.25", "1234.5").
        let _ = write!(out, "{value}");
    }
}

/// The value of one metric (one label set) of a family.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricValue {
    /// A counter's value.
    Counter(Number),
    /// A gauge's value.
    Gauge(Number),
    /// An info metric (its value is always 1).
    Info,
    /// A summary without quantiles.
    Summary {
        /// Sum of the observations.
        sum: f64,
        /// Number of observations.
        count: u64,
    },
    /// A histogram.
    Histogram {
        /// `(upper bound, cumulative count)` in increasing bound order; a
        /// `+Inf` bucket holding `count` is added if missing.
        buckets: Vec<(f64, u64)>,
        /// Sum of the observations.
        sum: f64,
        /// Number of observations.
        count: u64,
    },
}

/// Label names and values, in output order (names already valid). Shared:
/// every metric of a group of files holds the same set, so a scrape of
/// 100,000 fields keeps one copy per group, not one per sample.
pub type Labels = Arc<[(String, String)]>;

/// One label set of a family and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// Label names and values, in output order (names already valid).
    pub labels: Labels,
    /// The value.
    pub value: MetricValue,
}

/// A metric family: the metrics sharing a name, type, unit and help.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// The family name (OpenMetrics' MetricFamily name: a counter's
    /// without `_total`, an info's without `_info`).
    pub name: String,
    /// Its type.
    pub kind: MetricType,
    /// Its unit when the name ends in it (`# UNIT` in OpenMetrics).
    pub unit: Option<&'static str>,
    /// The help text (any text; escaped when written).
    pub help: String,
    /// Its metrics.
    pub metrics: Vec<Metric>,
}

impl Family {
    /// The names of the samples (and reserved names) this family writes,
    /// for detecting two families that would clash.
    #[must_use]
    pub fn claimed_names(&self) -> Vec<String> {
        self.kind
            .reserved_suffixes()
            .iter()
            .map(|suffix| format!("{}{suffix}", self.name))
            .collect()
    }
}
