//! One field's families, and the labels a field brings.

use super::*;

/// The families one field becomes, each with one metric labelled
/// `labels` and then the field's own labels ([`field_labels`]; a string's
/// info metric adds a `value` label last). Nothing for a
/// field that has no Prometheus form (an unset timestamp gives a family
/// without metrics).
#[must_use]
pub fn families_of(
    field: &Field,
    labels: &[(String, String)],
    options: &NameOptions,
) -> Vec<Family> {
    families_of_shared(field, &Labels::from(labels), options)
}

/// [`families_of`] with a label set shared by every metric made (a
/// scrape passes its group's set once for all of the group's fields).
#[must_use]
pub fn families_of_shared(field: &Field, group: &Labels, options: &NameOptions) -> Vec<Family> {
    // The group's labels, then the field's own (renamed by
    // [`field_label_names`]); an unlabelled field shares the group's set.
    let own;
    let labels = if field.labels.is_empty() {
        group
    } else {
        let mut all = group.to_vec();
        all.extend(field_labels(&field.labels));
        own = Labels::from(all);
        &own
    };
    let ns = options.namespace.as_str();
    let single = |kind: MetricType, unit: &str, value: MetricValue| {
        let name = metric_name(ns, &field.name, unit, kind);
        Family {
            name: name.family,
            kind,
            unit: name.unit_suffix,
            help: help_of(field, &BaseUnit::of(unit)),
            metrics: vec![Metric {
                labels: Arc::clone(labels),
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
                        labels: Arc::clone(labels),
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
            let labels = Labels::from(labels);
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
                    labels: Arc::clone(labels),
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
pub(super) fn power_of_two_buckets(
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

/// Label names the exporter writes itself (`program`, `pid`, `thread` on
/// every series, `le` on histogram buckets, `value` on info metrics, and
/// `quantile`, which Prometheus reserves for summaries): a field label of
/// one of these names is renamed (see [`field_label_names`]).
pub const EXPORTER_LABELS: [&str; 6] = ["program", "pid", "thread", "le", "quantile", "value"];

/// The prefix a field label's name gets when it would clash.
pub const FIELD_LABEL_PREFIX: &str = "field_";

/// The Prometheus label names of a field's label keys (given in their
/// stored order, sorted by key), by one rule (`docs/SERVE.md`):
///
/// 1. Sanitized: every character outside `[A-Za-z0-9_]` becomes `_`, an
///    empty key becomes `label`, a key starting with a digit gets a
///    leading `_`. (The format already restricts keys to
///    `[A-Za-z_][A-Za-z0-9_]*`, so this only matters for files that
///    broke the rule.)
/// 2. A name that starts with `__` (reserved by Prometheus), is one of
///    [`EXPORTER_LABELS`], or equals a name given to an earlier key gets
///    [`FIELD_LABEL_PREFIX`] in front, again until it is none of these
///    (`pid` becomes `field_pid`; a field with both `field_pid` and `pid`
///    gets `field_pid` and `field_field_pid`).
///
/// At most [`mmstats::Labels`]' 8 keys, each prefixed at most 9 times:
/// bounded work whatever a file holds.
#[must_use]
pub fn field_label_names<'k>(keys: impl IntoIterator<Item = &'k str>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for key in keys {
        let mut name: String = key
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if name.is_empty() {
            name.push_str("label");
        }
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            name.insert(0, '_');
        }
        while name.starts_with("__")
            || EXPORTER_LABELS.contains(&name.as_str())
            || names.contains(&name)
        {
            name.insert_str(0, FIELD_LABEL_PREFIX);
        }
        names.push(name);
    }
    names
}

/// A field's labels as Prometheus labels: names by
/// [`field_label_names`], values as stored (escaped when written).
#[must_use]
pub fn field_labels(labels: &mmstats::Labels) -> Vec<(String, String)> {
    let names = field_label_names(labels.iter().map(|(key, _)| key));
    names
        .into_iter()
        .zip(labels.iter().map(|(_, value)| value.to_owned()))
        .collect()
}
