//! The Prometheus text exposition format (version 0.0.4) and OpenMetrics
//! 1.0 text, written by hand: metric families, names that follow
//! Prometheus' conventions, escaping, and content negotiation.
//!
//! Why not an encoding crate: `prometheus-client` writes OpenMetrics only
//! and wants metrics registered up front under names it suffixes itself;
//! the `prometheus` crate writes the 0.0.4 format only, through its own
//! registry types. An exporter of fields discovered at scrape time needs
//! both formats from one model, so the two small, well-specified text
//! formats are written here, with tests for every escape and suffix rule
//! and `promtool check metrics` plus a real Prometheus server in the
//! integration tests.
//!
//! ## The model
//!
//! A [`Family`] has a base name, a [`MetricType`], an optional unit, a
//! help text and [`Metric`]s (label sets with a [`MetricValue`]). The
//! base name is the OpenMetrics family name: without `_total` for a
//! counter and without `_info` for an info metric. [`families_of`] maps
//! one mmstats field to its families, with a `match` on the field's value:
//! that is the one place a new kind of field (a histogram) plugs in.
//!
//! ## Names (see `docs/SERVE.md`)
//!
//! `namespace` + `_` + the field's name with every character outside
//! `[A-Za-z0-9_]` made `_` (runs of `_` collapsed), then the unit: values
//! in milliseconds, microseconds or nanoseconds are converted to seconds,
//! bits to bytes and percent to a ratio; a name word that names the
//! field's unit (`ms`, `millis`, `usec`, `pct`, ...) is replaced by the
//! base unit (`latency_ms` becomes `latency_seconds`), and the base unit is
//! appended unless a word of the name already is it (`bytes_out` stays).
//! Counters end in `_total`, timestamps in `_timestamp_seconds`, strings
//! are info metrics (`_info`, the string in the `value` label).

use std::fmt::Write as _;

use mmstats::{Field, FieldValue};

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

    fn write(self, out: &mut String) {
        match self {
            Self::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Self::Float(v) => write_float(out, v),
        }
    }
}

fn write_float(out: &mut String, value: f64) {
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

/// One label set of a family and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// Label names and values, in output order (names already valid).
    pub labels: Vec<(String, String)>,
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

/// Escapes a label value (both formats) or an OpenMetrics help text:
/// backslash, double quote and line feed.
#[must_use]
pub fn escape_label_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a help text in `format`: the 0.0.4 format escapes backslash
/// and line feed only; OpenMetrics also the double quote.
#[must_use]
pub fn escape_help(text: &str, format: Format) -> String {
    match format {
        Format::OpenMetrics => escape_label_value(text),
        Format::Prometheus => {
            let mut out = String::with_capacity(text.len());
            for c in text.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out
        }
    }
}

/// Whether `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
#[must_use]
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`, not
/// starting with `__`, which Prometheus reserves).
#[must_use]
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

fn write_labels(out: &mut String, labels: &[(String, String)], extra: Option<(&str, &str)>) {
    if labels.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (name, value) in labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain(extra)
    {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(name);
        out.push_str("=\"");
        out.push_str(&escape_label_value(value));
        out.push('"');
    }
    out.push('}');
}

fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(String, String)],
    extra: Option<(&str, &str)>,
    value: Number,
) {
    out.push_str(name);
    out.push_str(suffix);
    write_labels(out, labels, extra);
    out.push(' ');
    value.write(out);
    out.push('\n');
}

/// A histogram bound as an `le` label value: `+Inf`, or the float in
/// shortest form (`0.5`, `1`, `2.5`).
#[must_use]
pub fn bound_label(bound: f64) -> String {
    let mut text = String::new();
    write_float(&mut text, bound);
    text
}

/// Writes `families` in `format` (OpenMetrics ends with `# EOF`).
#[must_use]
pub fn encode(families: &[Family], format: Format) -> String {
    let mut out = String::with_capacity(families.len() * 160);
    for family in families {
        // The 0.0.4 format names a counter family with its `_total` and an
        // info family with its `_info`, since it has no type-specific
        // suffix rules.
        let declared = match (format, family.kind) {
            (Format::Prometheus, MetricType::Counter) => format!("{}_total", family.name),
            (Format::Prometheus, MetricType::Info) => format!("{}_info", family.name),
            _ => family.name.clone(),
        };
        let _ = writeln!(
            out,
            "# HELP {declared} {}",
            escape_help(&family.help, format)
        );
        let _ = writeln!(out, "# TYPE {declared} {}", family.kind.word(format));
        if let (Format::OpenMetrics, Some(unit)) = (format, family.unit) {
            let _ = writeln!(out, "# UNIT {declared} {unit}");
        }
        for metric in &family.metrics {
            let labels = &metric.labels;
            match &metric.value {
                MetricValue::Counter(n) => {
                    write_sample(&mut out, &family.name, "_total", labels, None, *n);
                }
                MetricValue::Gauge(n) => write_sample(&mut out, &family.name, "", labels, None, *n),
                MetricValue::Info => {
                    write_sample(
                        &mut out,
                        &family.name,
                        "_info",
                        labels,
                        None,
                        Number::Int(1),
                    );
                }
                MetricValue::Summary { sum, count } => {
                    write_sample(
                        &mut out,
                        &family.name,
                        "_sum",
                        labels,
                        None,
                        Number::Float(*sum),
                    );
                    write_sample(
                        &mut out,
                        &family.name,
                        "_count",
                        labels,
                        None,
                        Number::Int(i128::from(*count)),
                    );
                }
                MetricValue::Histogram {
                    buckets,
                    sum,
                    count,
                } => {
                    let mut saw_inf = false;
                    for &(bound, cumulative) in buckets {
                        saw_inf |= bound == f64::INFINITY;
                        let le = bound_label(bound);
                        write_sample(
                            &mut out,
                            &family.name,
                            "_bucket",
                            labels,
                            Some(("le", &le)),
                            Number::Int(i128::from(cumulative)),
                        );
                    }
                    if !saw_inf {
                        write_sample(
                            &mut out,
                            &family.name,
                            "_bucket",
                            labels,
                            Some(("le", "+Inf")),
                            Number::Int(i128::from(*count)),
                        );
                    }
                    write_sample(
                        &mut out,
                        &family.name,
                        "_sum",
                        labels,
                        None,
                        Number::Float(*sum),
                    );
                    write_sample(
                        &mut out,
                        &family.name,
                        "_count",
                        labels,
                        None,
                        Number::Int(i128::from(*count)),
                    );
                }
            }
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// How a field's unit is exported: the base unit's name (a suffix of the
/// metric name) and the factor that converts a value to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BaseUnit {
    /// The base unit (`seconds`, `bytes`, `ratio`, ...), if any.
    pub name: Option<&'static str>,
    /// Multiply a value by this to get it in the base unit.
    pub scale: f64,
    /// Words in a field name that mean the field's own unit, replaced by
    /// the base unit's name.
    aliases: &'static [&'static str],
}

impl BaseUnit {
    /// The base unit of a field whose unit is `unit` (as `mmdump` names
    /// units: `milliseconds`, `bytes`, ...; "" for none).
    #[must_use]
    pub fn of(unit: &str) -> Self {
        let (name, scale, aliases): (Option<&'static str>, f64, &'static [&'static str]) =
            match unit {
                "seconds" => (Some("seconds"), 1.0, &["sec", "secs", "second", "seconds"]),
                "milliseconds" => (
                    Some("seconds"),
                    1e-3,
                    &[
                        "ms",
                        "msec",
                        "msecs",
                        "millis",
                        "millisecond",
                        "milliseconds",
                    ],
                ),
                "microseconds" => (
                    Some("seconds"),
                    1e-6,
                    &[
                        "us",
                        "usec",
                        "usecs",
                        "micros",
                        "microsecond",
                        "microseconds",
                    ],
                ),
                "nanoseconds" => (
                    Some("seconds"),
                    1e-9,
                    &["ns", "nsec", "nsecs", "nanos", "nanosecond", "nanoseconds"],
                ),
                "bytes" => (Some("bytes"), 1.0, &["byte", "bytes"]),
                "bits" => (Some("bytes"), 0.125, &["bit", "bits"]),
                "ratio" => (Some("ratio"), 1.0, &["ratio"]),
                "percent" => (Some("ratio"), 0.01, &["pct", "percent", "percentage"]),
                "hertz" => (Some("hertz"), 1.0, &["hz", "hertz"]),
                "celsius" => (Some("celsius"), 1.0, &["celsius"]),
                "volts" => (Some("volts"), 1.0, &["volt", "volts"]),
                "amperes" => (Some("amperes"), 1.0, &["amp", "amps", "ampere", "amperes"]),
                "watts" => (Some("watts"), 1.0, &["watt", "watts"]),
                // "events", none, or a unit this reader does not know: a
                // plain number.
                _ => (None, 1.0, &[]),
            };
        Self {
            name,
            scale,
            aliases,
        }
    }
}

/// `text` with every character outside `[A-Za-z0-9_]` made `_`, runs of
/// `_` collapsed, and `_` trimmed from both ends.
#[must_use]
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '_' };
        if c == '_' && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// A field's family name and how its values are converted.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricName {
    /// The family name (a counter's without `_total`).
    pub family: String,
    /// The base unit, when the name ends in it.
    pub unit_suffix: Option<&'static str>,
    /// Multiply values by this.
    pub scale: f64,
}

/// The family name of the field `field_name` with unit `unit`, of type
/// `kind`, under `namespace` ("" for none). Timestamps are given the
/// `seconds` unit by the caller.
#[must_use]
pub fn metric_name(namespace: &str, field_name: &str, unit: &str, kind: MetricType) -> MetricName {
    let base = BaseUnit::of(unit);
    let clean = sanitize(field_name);
    let mut words: Vec<String> = if clean.is_empty() {
        vec!["field".to_owned()]
    } else {
        clean.split('_').map(str::to_owned).collect()
    };
    // The type's own suffix is added back below.
    let type_word = match kind {
        MetricType::Counter => Some("total"),
        MetricType::Info => Some("info"),
        _ => None,
    };
    if words.len() > 1 && type_word.is_some_and(|w| words.last().is_some_and(|l| l == w)) {
        words.pop();
    }
    if let Some(unit_name) = base.name {
        // A word naming the field's unit becomes the base unit (the last
        // such word only: `ms_total_ms` keeps its first).
        if let Some(at) = words
            .iter()
            .rposition(|w| base.aliases.iter().any(|a| w.eq_ignore_ascii_case(a)))
        {
            words[at] = unit_name.to_owned();
        }
        if !words.iter().any(|w| w == unit_name) {
            words.push(unit_name.to_owned());
        }
    }
    let mut family = words.join("_");
    if !namespace.is_empty() {
        family = format!("{namespace}_{family}");
    }
    if family.starts_with(|c: char| c.is_ascii_digit()) {
        family.insert(0, '_');
    }
    let unit_suffix = base
        .name
        .filter(|unit| family.ends_with(&format!("_{unit}")));
    MetricName {
        family,
        unit_suffix,
        scale: base.scale,
    }
}

/// Options for turning fields into families.
#[derive(Clone, Debug)]
pub struct NameOptions {
    /// Prefix of every family name ("" for none).
    pub namespace: String,
    /// Export strings as info metrics (else leave them out).
    pub strings: bool,
}

/// The help text of a field: its description, then the field's name (and
/// the unit conversion, if any) in brackets.
fn help_of(field: &Field, base: &BaseUnit) -> String {
    let mut help = String::new();
    if !field.description.is_empty() {
        help.push_str(&field.description);
        help.push(' ');
    }
    let _ = write!(help, "(mmstats {}", field.name);
    if let Some(unit) = base.name
        && base.scale != 1.0
    {
        let _ = write!(help, ", {} converted to {unit}", field.unit);
    }
    help.push(')');
    help
}

/// The families one field becomes, each with one metric labelled
/// `labels` (a strings' info metric adds a `value` label). Nothing for a
/// field that has no Prometheus form (an unset timestamp gives a family
/// without metrics).
#[must_use]
pub fn families_of(
    field: &Field,
    labels: &[(String, String)],
    options: &NameOptions,
) -> Vec<Family> {
    let ns = options.namespace.as_str();
    let single = |kind: MetricType, unit: &str, value: MetricValue| {
        let name = metric_name(ns, &field.name, unit, kind);
        Family {
            name: name.family,
            kind,
            unit: name.unit_suffix,
            help: help_of(field, &BaseUnit::of(unit)),
            metrics: vec![Metric {
                labels: labels.to_vec(),
                value,
            }],
        }
    };
    let scale = BaseUnit::of(&field.unit).scale;
    match &field.value {
        FieldValue::Counter(v) => vec![single(
            MetricType::Counter,
            &field.unit,
            MetricValue::Counter(Number::scaled_u64(*v, scale)),
        )],
        FieldValue::Gauge(v) | FieldValue::Int(v) => vec![single(
            MetricType::Gauge,
            &field.unit,
            MetricValue::Gauge(Number::scaled_i64(*v, scale)),
        )],
        FieldValue::UInt(v) => vec![single(
            MetricType::Gauge,
            &field.unit,
            MetricValue::Gauge(Number::scaled_u64(*v, scale)),
        )],
        FieldValue::Float(v) => vec![single(
            MetricType::Gauge,
            &field.unit,
            MetricValue::Gauge(Number::Float(v * scale)),
        )],
        FieldValue::Bool(v) => vec![single(
            MetricType::Gauge,
            "",
            MetricValue::Gauge(Number::Int(i128::from(u8::from(*v)))),
        )],
        FieldValue::Timestamp(ns_since_epoch) => {
            // `_timestamp_seconds`, unless the name already says it is a
            // time (`created_time` gets `_seconds` only).
            let clean = sanitize(&field.name);
            let is_time = clean.rsplit('_').next().is_some_and(|w| {
                w.eq_ignore_ascii_case("timestamp") || w.eq_ignore_ascii_case("time")
            });
            let renamed = Field {
                name: if is_time {
                    field.name.clone()
                } else {
                    format!("{}_timestamp", field.name)
                },
                ..field.clone()
            };
            let name = metric_name(ns, &renamed.name, "seconds", MetricType::Gauge);
            vec![Family {
                name: name.family,
                kind: MetricType::Gauge,
                unit: name.unit_suffix,
                help: help_of(field, &BaseUnit::of("")),
                metrics: if *ns_since_epoch == 0 {
                    // Unset: no sample (1970 would be a lie).
                    Vec::new()
                } else {
                    vec![Metric {
                        labels: labels.to_vec(),
                        value: MetricValue::Gauge(Number::Float(*ns_since_epoch as f64 / 1e9)),
                    }]
                },
            }]
        }
        FieldValue::Text(text) => {
            if !options.strings {
                return Vec::new();
            }
            let mut labels = labels.to_vec();
            labels.push(("value".to_owned(), text.clone()));
            let name = metric_name(ns, &field.name, "", MetricType::Info);
            vec![Family {
                name: name.family,
                kind: MetricType::Info,
                unit: None,
                help: help_of(field, &BaseUnit::of("")),
                metrics: vec![Metric {
                    labels,
                    value: MetricValue::Info,
                }],
            }]
        }
        FieldValue::Average { sum, count } => vec![single(
            MetricType::Summary,
            &field.unit,
            MetricValue::Summary {
                sum: sum * scale,
                count: *count,
            },
        )],
        FieldValue::Histogram(histogram) => vec![single(
            MetricType::Histogram,
            &field.unit,
            MetricValue::Histogram {
                buckets: power_of_two_buckets(histogram, scale),
                sum: histogram.sum as f64 * scale,
                count: histogram.count,
            },
        )],
        // A windowed mean is a gauge (its window says over what).
        FieldValue::MovingAverage { sum, count, .. }
        | FieldValue::WindowAverage { sum, count, .. } => vec![single(
            MetricType::Gauge,
            &field.unit,
            MetricValue::Gauge(Number::Float(if *count == 0 {
                0.0
            } else {
                sum / *count as f64 * scale
            })),
        )],
        // A ring is followed with `mmdump tail`; scrapers get how many
        // records it received.
        FieldValue::EventRing { appended, .. } => {
            let renamed = Field {
                name: format!("{}.appended", field.name),
                unit: String::new(),
                ..field.clone()
            };
            let name = metric_name(ns, &renamed.name, "", MetricType::Counter);
            vec![Family {
                name: name.family,
                kind: MetricType::Counter,
                unit: None,
                help: help_of(field, &BaseUnit::of("")),
                metrics: vec![Metric {
                    labels: labels.to_vec(),
                    value: MetricValue::Counter(Number::Int(i128::from(*appended))),
                }],
            }]
        }
    }
}

/// A histogram's cumulative buckets at a fixed set of bounds: `2^e - 1`
/// (scaled to the base unit) for every power of two the layout reaches.
/// Powers of two are bucket boundaries of the log-linear layout, so each
/// count is exact; the bound set depends only on the layout, so it is the
/// same at every scrape (as `histogram_quantile` and `rate` need), and it
/// stays small (one bucket per power of two, about 42 for 1 ns to 1 h).
fn power_of_two_buckets(
    histogram: &mmstats::histogram::HistogramSnapshot,
    scale: f64,
) -> Vec<(f64, u64)> {
    let buckets = histogram.nonzero_buckets();
    let highest = histogram.shape.highest();
    let mut out = Vec::new();
    let mut cumulative = 0u64;
    let mut next = buckets.iter().peekable();
    for exponent in 0..64u32 {
        let bound = (1u64 << exponent) - 1;
        if exponent > 0 && bound > highest {
            break;
        }
        while let Some(&&(_, upper, count)) = next.peek()
            && upper <= bound
        {
            cumulative = cumulative.saturating_add(count);
            next.next();
        }
        out.push((bound as f64 * scale, cumulative));
    }
    out
}

/// Families merged by name: metrics of same-named families of the same
/// type are joined (the first help wins); a family whose name, or any
/// sample name it writes, is already taken by another family is dropped.
/// Returns the merged families sorted by name, and the names dropped.
#[must_use]
pub fn merge(families: Vec<Family>) -> (Vec<Family>, Vec<String>) {
    let mut merged: Vec<Family> = Vec::with_capacity(families.len());
    let mut index: std::collections::HashMap<String, usize> =
        std::collections::HashMap::with_capacity(families.len());
    // Hashed, not ordered: a scrape of 100,000 fields checks ~300,000
    // names here.
    let mut claimed: std::collections::HashSet<String> =
        std::collections::HashSet::with_capacity(families.len() * 3);
    let mut dropped = Vec::new();
    for family in families {
        if let Some(&at) = index.get(&family.name) {
            let existing = &mut merged[at];
            if existing.kind == family.kind && existing.unit == family.unit {
                existing.metrics.extend(family.metrics);
            } else {
                dropped.push(family.name);
            }
            continue;
        }
        let names = family.claimed_names();
        if names.iter().any(|n| claimed.contains(n)) {
            dropped.push(family.name);
            continue;
        }
        claimed.extend(names);
        index.insert(family.name.clone(), merged.len());
        merged.push(family);
    }
    merged.sort_by(|a, b| a.name.cmp(&b.name));
    for family in &mut merged {
        family.metrics.sort_by(|a, b| a.labels.cmp(&b.labels));
        // Two metrics with the same labels would be a duplicate series:
        // keep the first.
        family.metrics.dedup_by(|b, a| a.labels == b.labels);
    }
    dropped.sort();
    dropped.dedup();
    (merged, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, unit: &str, value: FieldValue) -> Field {
        Field {
            name: name.to_owned(),
            labels: mmstats::Labels::new(),
            unit: unit.to_owned(),
            description: String::new(),
            value,
        }
    }

    fn options() -> NameOptions {
        NameOptions {
            namespace: "mmstats".into(),
            strings: true,
        }
    }

    fn label(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn format_2_1_kinds_become_histograms_gauges_and_counters() {
        let dir = tempfile::tempdir().unwrap();
        let file = mmstats::StatsFile::builder("h")
            .dir(dir.path())
            .size(1 << 20)
            .create()
            .unwrap();
        let timer = file.histogram_timer("latency").unwrap();
        for micros in [1u64, 3, 3, 40, 900, 20_000] {
            timer.record(std::time::Duration::from_micros(micros));
        }
        file.moving_average(mmstats::FieldSpec::new("load").window(4))
            .unwrap()
            .add(0.5);
        file.event_ring(mmstats::FieldSpec::new("events").slots(8))
            .unwrap()
            .event(1, &[2]);
        let read = mmstats::read_file(file.path()).unwrap();
        let families: Vec<Family> = read
            .fields
            .iter()
            .flat_map(|f| families_of(f, &[label("program", "x")], &options()))
            .collect();
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        let by_name = |name: &str| {
            families
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("no {name} in {names:?}"))
        };

        let latency = by_name("mmstats_latency_seconds");
        assert_eq!(latency.kind, MetricType::Histogram);
        let MetricValue::Histogram {
            buckets,
            sum,
            count,
        } = &latency.metrics[0].value
        else {
            panic!("not a histogram: {latency:?}");
        };
        assert_eq!(*count, 6);
        assert!((sum - 0.020_947).abs() < 1e-9, "sum in seconds: {sum}");
        // Fixed bounds 2^e - 1 ns in seconds, cumulative, exact.
        assert!(
            buckets
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
        );
        let at = |ns: u64| {
            buckets
                .iter()
                .find(|(bound, _)| (bound - ns as f64 * 1e-9).abs() < 1e-15)
                .map(|&(_, cumulative)| cumulative)
        };
        assert_eq!(at(1023), Some(1), "values <= 1023 ns");
        assert_eq!(at(4095), Some(3), "1 us and twice 3 us");
        assert_eq!(at(65_535), Some(4));
        assert_eq!(at(1_048_575), Some(5));
        assert_eq!(buckets.last().unwrap().1, 6);
        let text = encode(&families, Format::Prometheus);
        assert!(text.contains("# TYPE mmstats_latency_seconds histogram\n"));
        assert!(text.contains("mmstats_latency_seconds_bucket{program=\"x\",le=\"+Inf\"} 6\n"));

        assert_eq!(by_name("mmstats_load").kind, MetricType::Gauge);
        let events = by_name("mmstats_events_appended");
        assert_eq!(events.kind, MetricType::Counter);
        assert_eq!(
            events.metrics[0].value,
            MetricValue::Counter(Number::Int(1))
        );
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        let name = |field: &str, unit: &str, kind| metric_name("ns", field, unit, kind).family;
        assert_eq!(
            name("web.requests", "", MetricType::Counter),
            "ns_web_requests"
        );
        assert_eq!(
            name("web.requests.total", "", MetricType::Counter),
            "ns_web_requests"
        );
        assert_eq!(name("a-b c/d..e.", "", MetricType::Gauge), "ns_a_b_c_d_e");
        assert_eq!(
            name("latency", "milliseconds", MetricType::Summary),
            "ns_latency_seconds"
        );
        assert_eq!(
            name("latency_ms", "milliseconds", MetricType::Gauge),
            "ns_latency_seconds"
        );
        assert_eq!(
            name("db.wait.usec", "microseconds", MetricType::Counter),
            "ns_db_wait_seconds"
        );
        assert_eq!(
            name("bytes_out", "bytes", MetricType::Counter),
            "ns_bytes_out"
        );
        assert_eq!(name("out", "bytes", MetricType::Counter), "ns_out_bytes");
        assert_eq!(name("link", "bits", MetricType::Counter), "ns_link_bytes");
        assert_eq!(
            name("cpu.pct", "percent", MetricType::Gauge),
            "ns_cpu_ratio"
        );
        assert_eq!(
            name("temp", "celsius", MetricType::Gauge),
            "ns_temp_celsius"
        );
        assert_eq!(name("events", "events", MetricType::Counter), "ns_events");
        assert_eq!(name("x", "unit(99)", MetricType::Gauge), "ns_x");
        assert_eq!(name("build.info", "", MetricType::Info), "ns_build");
        assert_eq!(
            metric_name("", "2fa.tries", "", MetricType::Counter).family,
            "_2fa_tries"
        );
        assert_eq!(metric_name("", "", "", MetricType::Gauge).family, "field");
        let latency = metric_name("ns", "latency", "milliseconds", MetricType::Summary);
        assert_eq!(latency.scale, 1e-3);
        assert_eq!(latency.unit_suffix, Some("seconds"));
        assert_eq!(
            metric_name("ns", "bytes_out", "bytes", MetricType::Counter).unit_suffix,
            None,
            "the unit is a word of the name, not its suffix: no # UNIT"
        );
        for n in ["ns_web_requests", "_2fa", "a:b"] {
            assert!(is_valid_metric_name(n), "{n}");
        }
        for n in ["", "2a", "a-b", "a.b"] {
            assert!(!is_valid_metric_name(n), "{n}");
        }
        assert!(is_valid_label_name("program"));
        assert!(!is_valid_label_name("__name__"));
        assert!(!is_valid_label_name("1x"));
    }

    #[test]
    fn every_kind_maps_to_its_type() {
        let labels = [label("program", "web")];
        let one = |f: Field| {
            let families = families_of(&f, &labels, &options());
            assert_eq!(families.len(), 1, "{f:?}");
            families.into_iter().next().unwrap()
        };
        let counter = one(field("web.requests", "", FieldValue::Counter(42)));
        assert_eq!(counter.kind, MetricType::Counter);
        assert_eq!(
            counter.metrics[0].value,
            MetricValue::Counter(Number::Int(42))
        );
        let ms = one(field("busy", "milliseconds", FieldValue::Counter(1500)));
        assert_eq!(ms.name, "mmstats_busy_seconds");
        assert_eq!(
            ms.metrics[0].value,
            MetricValue::Counter(Number::Float(1.5))
        );
        assert!(
            ms.help.contains("milliseconds converted to seconds"),
            "{}",
            ms.help
        );
        let gauge = one(field("g", "", FieldValue::Gauge(-3)));
        assert_eq!(gauge.metrics[0].value, MetricValue::Gauge(Number::Int(-3)));
        let flag = one(field("up", "", FieldValue::Bool(true)));
        assert_eq!(flag.metrics[0].value, MetricValue::Gauge(Number::Int(1)));
        let stamp = one(field(
            "last_request",
            "",
            FieldValue::Timestamp(1_500_000_000),
        ));
        assert_eq!(stamp.name, "mmstats_last_request_timestamp_seconds");
        assert_eq!(
            stamp.metrics[0].value,
            MetricValue::Gauge(Number::Float(1.5))
        );
        let unset = one(field("started_time", "", FieldValue::Timestamp(0)));
        assert_eq!(unset.name, "mmstats_started_time_seconds");
        assert!(unset.metrics.is_empty(), "an unset timestamp has no sample");
        let text = one(field("web.version", "", FieldValue::Text("1.2".into())));
        assert_eq!(text.kind, MetricType::Info);
        assert_eq!(text.name, "mmstats_web_version");
        assert_eq!(
            text.metrics[0].labels,
            vec![label("program", "web"), label("value", "1.2")]
        );
        let average = one(field(
            "latency",
            "microseconds",
            FieldValue::Average {
                sum: 3000.0,
                count: 2,
            },
        ));
        assert_eq!(average.kind, MetricType::Summary);
        assert_eq!(average.name, "mmstats_latency_seconds");
        assert_eq!(
            average.metrics[0].value,
            MetricValue::Summary {
                sum: 3000.0 * 1e-6,
                count: 2
            }
        );
        let no_strings = NameOptions {
            strings: false,
            ..options()
        };
        assert!(
            families_of(
                &field("s", "", FieldValue::Text("x".into())),
                &labels,
                &no_strings
            )
            .is_empty()
        );
    }

    #[test]
    fn both_formats_are_written() {
        let mut families = Vec::new();
        for f in [
            Field {
                description: "requests \"served\"\\ all\nworkers".into(),
                ..field("web.requests", "", FieldValue::Counter(7))
            },
            field(
                "latency",
                "seconds",
                FieldValue::Average { sum: 0.5, count: 4 },
            ),
            field("version", "", FieldValue::Text("a\"b\\c\nd".into())),
            field("load", "", FieldValue::Float(f64::NAN)),
        ] {
            families.extend(families_of(&f, &[label("program", "p\"q")], &options()));
        }
        let (families, dropped) = merge(families);
        assert!(dropped.is_empty());
        let text = encode(&families, Format::Prometheus);
        assert_eq!(
            text,
            "# HELP mmstats_latency_seconds (mmstats latency)\n\
             # TYPE mmstats_latency_seconds summary\n\
             mmstats_latency_seconds_sum{program=\"p\\\"q\"} 0.5\n\
             mmstats_latency_seconds_count{program=\"p\\\"q\"} 4\n\
             # HELP mmstats_load (mmstats load)\n\
             # TYPE mmstats_load gauge\n\
             mmstats_load{program=\"p\\\"q\"} NaN\n\
             # HELP mmstats_version_info (mmstats version)\n\
             # TYPE mmstats_version_info gauge\n\
             mmstats_version_info{program=\"p\\\"q\",value=\"a\\\"b\\\\c\\nd\"} 1\n\
             # HELP mmstats_web_requests_total requests \"served\"\\\\ all\\nworkers (mmstats web.requests)\n\
             # TYPE mmstats_web_requests_total counter\n\
             mmstats_web_requests_total{program=\"p\\\"q\"} 7\n"
        );
        let open = encode(&families, Format::OpenMetrics);
        assert!(open.contains("# TYPE mmstats_web_requests counter\nmmstats_web_requests_total{"));
        assert!(
            open.contains("# HELP mmstats_web_requests requests \\\"served\\\"\\\\ all\\nworkers")
        );
        assert!(open.contains("# TYPE mmstats_version info\nmmstats_version_info{"));
        assert!(open.contains(
            "# TYPE mmstats_latency_seconds summary\n# UNIT mmstats_latency_seconds seconds\n"
        ));
        assert!(open.ends_with("# EOF\n"));
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn histograms_get_cumulative_buckets_and_inf() {
        let family = Family {
            name: "h_seconds".into(),
            kind: MetricType::Histogram,
            unit: Some("seconds"),
            help: "h".into(),
            metrics: vec![Metric {
                labels: vec![label("program", "x")],
                value: MetricValue::Histogram {
                    buckets: vec![(0.005, 1), (0.5, 3), (2.5, 4)],
                    sum: 3.25,
                    count: 5,
                },
            }],
        };
        let text = encode(&[family], Format::Prometheus);
        assert!(text.contains("h_seconds_bucket{program=\"x\",le=\"0.005\"} 1\n"));
        assert!(text.contains("h_seconds_bucket{program=\"x\",le=\"2.5\"} 4\n"));
        assert!(text.contains("h_seconds_bucket{program=\"x\",le=\"+Inf\"} 5\n"));
        assert!(
            text.contains("h_seconds_sum{program=\"x\"} 3.25\nh_seconds_count{program=\"x\"} 5\n")
        );
    }

    #[test]
    fn clashing_names_are_dropped_and_same_names_merged() {
        let a = families_of(
            &field("web.requests", "", FieldValue::Counter(1)),
            &[label("program", "a")],
            &options(),
        );
        let b = families_of(
            &field("web.requests", "", FieldValue::Counter(2)),
            &[label("program", "b")],
            &options(),
        );
        // Same name, another kind: dropped.
        let c = families_of(
            &field("web-requests", "", FieldValue::Gauge(3)),
            &[label("program", "c")],
            &options(),
        );
        // A gauge named like the counter's sample: dropped.
        let d = families_of(
            &field("web.requests_total", "", FieldValue::Gauge(4)),
            &[],
            &options(),
        );
        let (families, dropped) = merge([a, b, c, d].concat());
        assert_eq!(families.len(), 1);
        assert_eq!(families[0].metrics.len(), 2);
        assert_eq!(
            dropped,
            vec!["mmstats_web_requests", "mmstats_web_requests_total"]
        );
    }

    #[test]
    fn floats_are_written_so_go_reads_them_back() {
        let show = |v: f64| {
            let mut s = String::new();
            write_float(&mut s, v);
            s
        };
        assert_eq!(show(3.0), "3");
        assert_eq!(show(-0.25), "-0.25");
        assert_eq!(show(1e300), "1e300");
        assert_eq!(show(1.5e20), "1.5e20");
        assert_eq!(show(2.5e-7), "2.5e-7");
        assert_eq!(show(1234.5), "1234.5");
        assert_eq!(show(f64::INFINITY), "+Inf");
        assert_eq!(show(f64::NEG_INFINITY), "-Inf");
        assert_eq!(show(f64::NAN), "NaN");
        assert_eq!(bound_label(f64::INFINITY), "+Inf");
        assert_eq!(bound_label(0.25), "0.25");
    }

    #[test]
    fn accept_headers_pick_the_format() {
        let prometheus_2_42 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(
            Format::negotiate(Some(prometheus_2_42)),
            Format::OpenMetrics
        );
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Prometheus);
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4")),
            Format::Prometheus
        );
        assert_eq!(
            Format::negotiate(Some("text/plain;q=0.9, application/openmetrics-text;q=0.5")),
            Format::Prometheus
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; version=0.0.1")),
            Format::Prometheus,
            "only 1.0.0 is written"
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Prometheus
        );
    }
}
