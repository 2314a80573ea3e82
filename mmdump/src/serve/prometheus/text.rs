//! Escaping and the text encodings (0.0.4 and OpenMetrics) of families.

use super::*;

/// Escapes a label value (both formats) or an OpenMetrics help text:
/// backslash, double quote and line feed.
#[must_use]
pub fn escape_label_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_label_value(&mut out, text);
    out
}

/// Appends `text` escaped as [`escape_label_value`] does, without a
/// copy when nothing needs escaping (the encoder's path).
pub(super) fn push_label_value(out: &mut String, text: &str) {
    if !text.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
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

pub(super) fn write_labels(
    out: &mut String,
    labels: &[(String, String)],
    extra: Option<(&str, &str)>,
) {
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
        push_label_value(out, value);
        out.push('"');
    }
    out.push('}');
}

pub(super) fn write_sample(
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
    // About a line per metric (a histogram writes more and grows it):
    // sized up front, a 100,000-sample text is not copied while growing.
    let metrics: usize = families.iter().map(|f| f.metrics.len()).sum();
    let mut out = String::with_capacity(families.len() * 160 + metrics * 96);
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
                    write_sum_and_count(&mut out, &family.name, labels, *sum, *count);
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
                    write_sum_and_count(&mut out, &family.name, labels, *sum, *count);
                }
            }
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// The `_sum` and `_count` samples of a summary or a histogram.
fn write_sum_and_count(
    out: &mut String,
    name: &str,
    labels: &[(String, String)],
    sum: f64,
    count: u64,
) {
    write_sample(out, name, "_sum", labels, None, Number::Float(sum));
    write_sample(
        out,
        name,
        "_count",
        labels,
        None,
        Number::Int(i128::from(count)),
    );
}
