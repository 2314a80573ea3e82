//! The Prometheus remote write 1.0 wire format: a `WriteRequest` protobuf
//! message, compressed with Snappy's block format.
//!
//! The messages are declared here with `prost`'s derive (the four messages
//! of `prometheus/prompb/{remote,types}.proto` that 1.0 uses, with their
//! field numbers), so no `protoc` is needed at build time. Snappy is the
//! `snap` crate's raw (block) encoder: remote write does not use the framed
//! stream format.
//!
//! Specification: <https://prometheus.io/docs/specs/remote_write_spec/>.
//! What it asks and where it is met:
//! - labels of a series sorted by name, `__name__` among them, no empty
//!   values, no repeated names ([`TimeSeries::new`]);
//! - samples of a series in time order (one sample per series per push
//!   here; a series' batches are sent in the order taken, see
//!   [`super::queue`]);
//! - `Content-Encoding: snappy`, `Content-Type: application/x-protobuf`,
//!   `X-Prometheus-Remote-Write-Version: 0.1.0` ([`super::client`]).

use prost::Message;

use crate::serve::prometheus::{Family, MetricType, MetricValue, Number, bound_label};

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// The series, each with its samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Type, help and unit of the families (optional in 1.0; receivers may
    /// ignore it).
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Sorted by name; `__name__` holds the metric name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// In time order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value (never empty: an empty value means no label).
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    /// `MetricType`: 0 unknown, 1 counter, 2 gauge, 3 histogram, 4
    /// gauge histogram, 5 summary, 6 info, 7 stateset.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The family name as the samples use it (a counter's with `_total`).
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// Help text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// Unit (may be empty).
    #[prost(string, tag = "5")]
    pub unit: String,
}

impl TimeSeries {
    /// A series named `name` with `labels` (an `extra` label such as `le`
    /// after them) and one sample. Labels with empty values are left out,
    /// as the specification asks; the rest are sorted by name.
    #[must_use]
    pub fn new(
        name: &str,
        labels: &[(String, String)],
        extra: Option<(&str, &str)>,
        value: f64,
        timestamp_ms: i64,
    ) -> Self {
        let mut all: Vec<Label> = Vec::with_capacity(labels.len() + 2);
        all.push(Label {
            name: "__name__".to_owned(),
            value: name.to_owned(),
        });
        let pairs = labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain(extra);
        for (label, value) in pairs {
            if !value.is_empty() {
                all.push(Label {
                    name: label.to_owned(),
                    value: value.to_owned(),
                });
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        // A later duplicate name would make the series invalid; keep the
        // first (families never repeat a label name, so this is a guard).
        all.dedup_by(|b, a| a.name == b.name);
        Self {
            labels: all,
            samples: vec![Sample {
                value,
                timestamp: timestamp_ms,
            }],
        }
    }

    /// The value of label `name`, if the series has it.
    #[must_use]
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_str())
    }
}

fn number(n: Number) -> f64 {
    match n {
        #[allow(clippy::cast_precision_loss)] // remote write carries doubles
        Number::Int(v) => v as f64,
        Number::Float(v) => v,
    }
}

/// The series of `families` at `timestamp_ms`, as the text exposition
/// names them: a counter's samples end in `_total`, a summary's and a
/// histogram's in `_sum`, `_count` (and `_bucket` with `le`), an info
/// metric's in `_info` with value 1.
#[must_use]
#[allow(clippy::cast_precision_loss)] // counts are sent as doubles, as Prometheus stores them
pub fn series_of(families: &[Family], timestamp_ms: i64) -> Vec<TimeSeries> {
    let mut out = Vec::new();
    for family in families {
        let name = |suffix: &str| format!("{}{suffix}", family.name);
        for metric in &family.metrics {
            let labels = &metric.labels;
            match &metric.value {
                MetricValue::Counter(n) => out.push(TimeSeries::new(
                    &name("_total"),
                    labels,
                    None,
                    number(*n),
                    timestamp_ms,
                )),
                MetricValue::Gauge(n) => out.push(TimeSeries::new(
                    &family.name,
                    labels,
                    None,
                    number(*n),
                    timestamp_ms,
                )),
                MetricValue::Info => out.push(TimeSeries::new(
                    &name("_info"),
                    labels,
                    None,
                    1.0,
                    timestamp_ms,
                )),
                MetricValue::Summary { sum, count } => {
                    out.push(TimeSeries::new(
                        &name("_sum"),
                        labels,
                        None,
                        *sum,
                        timestamp_ms,
                    ));
                    out.push(TimeSeries::new(
                        &name("_count"),
                        labels,
                        None,
                        *count as f64,
                        timestamp_ms,
                    ));
                }
                MetricValue::Histogram {
                    buckets,
                    sum,
                    count,
                } => {
                    let bucket = name("_bucket");
                    let mut saw_inf = false;
                    for &(bound, cumulative) in buckets {
                        saw_inf |= bound == f64::INFINITY;
                        let le = bound_label(bound);
                        out.push(TimeSeries::new(
                            &bucket,
                            labels,
                            Some(("le", &le)),
                            cumulative as f64,
                            timestamp_ms,
                        ));
                    }
                    if !saw_inf {
                        out.push(TimeSeries::new(
                            &bucket,
                            labels,
                            Some(("le", "+Inf")),
                            *count as f64,
                            timestamp_ms,
                        ));
                    }
                    out.push(TimeSeries::new(
                        &name("_sum"),
                        labels,
                        None,
                        *sum,
                        timestamp_ms,
                    ));
                    out.push(TimeSeries::new(
                        &name("_count"),
                        labels,
                        None,
                        *count as f64,
                        timestamp_ms,
                    ));
                }
            }
        }
    }
    out
}

/// The metadata of `families` (one entry per family).
#[must_use]
pub fn metadata_of(families: &[Family]) -> Vec<MetricMetadata> {
    families
        .iter()
        .map(|family| {
            let (code, name) = match family.kind {
                MetricType::Counter => (1, format!("{}_total", family.name)),
                MetricType::Gauge => (2, family.name.clone()),
                MetricType::Histogram => (3, family.name.clone()),
                MetricType::Summary => (5, family.name.clone()),
                MetricType::Info => (6, format!("{}_info", family.name)),
            };
            MetricMetadata {
                r#type: code,
                metric_family_name: name,
                help: family.help.clone(),
                unit: family.unit.unwrap_or("").to_owned(),
            }
        })
        .collect()
}

/// A request body: `request` encoded and Snappy-compressed.
///
/// # Errors
/// Only if Snappy refuses the input, which happens for inputs over about
/// 4 GiB (a batch is far smaller: see [`super::queue`]).
pub fn encode(request: &WriteRequest) -> Result<Vec<u8>, snap::Error> {
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec())
}

/// The inverse of [`encode`] (for tests and a receiver).
///
/// # Errors
/// If the body is not Snappy block data or not a `WriteRequest`.
pub fn decode(body: &[u8]) -> Result<WriteRequest, DecodeError> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(DecodeError::Snappy)?;
    WriteRequest::decode(raw.as_slice()).map_err(DecodeError::Protobuf)
}

/// Why a body did not decode.
#[derive(Debug)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not Snappy block data.
    Snappy(snap::Error),
    /// Not a `WriteRequest`.
    Protobuf(prost::DecodeError),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Snappy(e) => write!(f, "not snappy block data: {e}"),
            Self::Protobuf(e) => write!(f, "not a remote-write WriteRequest: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::prometheus::Metric;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn labels_are_sorted_with_the_name_and_empty_values_dropped() {
        let s = TimeSeries::new(
            "web_bytes_total",
            &labels(&[("program", "web"), ("conn", "12"), ("pid", "")]),
            None,
            5.0,
            1000,
        );
        let names: Vec<&str> = s.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "conn", "program"]);
        assert_eq!(s.label("__name__"), Some("web_bytes_total"));
        assert_eq!(
            s.samples,
            [Sample {
                value: 5.0,
                timestamp: 1000
            }]
        );
    }

    #[test]
    fn a_histogram_becomes_cumulative_buckets_sum_and_count() {
        let families = vec![Family {
            name: "lat_seconds".to_owned(),
            kind: MetricType::Histogram,
            unit: Some("seconds"),
            help: "latency".to_owned(),
            metrics: vec![Metric {
                labels: labels(&[("program", "p")]).into(),
                value: MetricValue::Histogram {
                    buckets: vec![(0.5, 2), (1.0, 3)],
                    sum: 1.75,
                    count: 4,
                },
            }],
        }];
        let series = series_of(&families, 7);
        let shown: Vec<(String, Option<String>, f64)> = series
            .iter()
            .map(|s| {
                (
                    s.label("__name__").unwrap().to_owned(),
                    s.label("le").map(str::to_owned),
                    s.samples[0].value,
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("lat_seconds_bucket".to_owned(), Some("0.5".to_owned()), 2.0),
                ("lat_seconds_bucket".to_owned(), Some("1".to_owned()), 3.0),
                (
                    "lat_seconds_bucket".to_owned(),
                    Some("+Inf".to_owned()),
                    4.0
                ),
                ("lat_seconds_sum".to_owned(), None, 1.75),
                ("lat_seconds_count".to_owned(), None, 4.0),
            ]
        );
        let meta = metadata_of(&families);
        assert_eq!(meta[0].r#type, 3);
        assert_eq!(meta[0].unit, "seconds");
    }

    #[test]
    fn counters_end_in_total_and_round_trip_through_snappy() {
        let families = vec![Family {
            name: "hits".to_owned(),
            kind: MetricType::Counter,
            unit: None,
            help: String::new(),
            metrics: vec![Metric {
                labels: labels(&[("program", "p")]).into(),
                value: MetricValue::Counter(Number::Int(42)),
            }],
        }];
        let request = WriteRequest {
            timeseries: series_of(&families, 1_700_000_000_000),
            metadata: metadata_of(&families),
        };
        let body = encode(&request).unwrap();
        // Snappy block format starts with the uncompressed length as a
        // varint, which must equal the protobuf's length.
        let raw_len = request.encode_to_vec().len();
        assert_eq!(usize::from(body[0] & 0x7f), raw_len & 0x7f);
        let back = decode(&body).unwrap();
        assert_eq!(back, request);
        assert_eq!(back.timeseries[0].label("__name__"), Some("hits_total"));
        assert_eq!(back.metadata[0].metric_family_name, "hits_total");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            decode(b"\xff\xff\xff"),
            Err(DecodeError::Snappy(_))
        ));
        let not_proto = snap::raw::Encoder::new().compress_vec(b"\x0a\xff").unwrap();
        assert!(matches!(decode(&not_proto), Err(DecodeError::Protobuf(_))));
    }
}
