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
    let Some(head) = family_head(field, options) else {
        return Vec::new();
    };
    vec![Family {
        name: head.name,
        kind: head.kind,
        unit: head.unit,
        help: head.help,
        metrics: metric_of(field, group).into_iter().collect(),
    }]
}

/// A family without its metrics: what [`family_head`] makes of a field.
#[derive(Clone, Debug, PartialEq)]
pub struct FamilyHead {
    /// The family name ([`Family::name`]).
    pub name: String,
    /// Its type.
    pub kind: MetricType,
    /// Its unit when the name ends in it.
    pub unit: Option<&'static str>,
    /// The help text.
    pub help: String,
}

/// The family a field's metric belongs to, `None` for a field without a
/// Prometheus form (a string when `options.strings` is off). It depends
/// on the field's name, unit, description and kind only (never on its
/// value or labels), which is what lets [`Merger::add_field`] make it once
/// per name rather than once per field.
#[must_use]
pub fn family_head(field: &Field, options: &NameOptions) -> Option<FamilyHead> {
    let ns = options.namespace.as_str();
    let head = |name: &str, kind: MetricType, unit: &str, help_unit: &str| {
        let name = metric_name(ns, name, unit, kind);
        FamilyHead {
            name: name.family,
            kind,
            unit: name.unit_suffix,
            help: help_of(field, &BaseUnit::of(help_unit)),
        }
    };
    let unit = field.unit.as_str();
    Some(match &field.value {
        FieldValue::Counter(_) => head(&field.name, MetricType::Counter, unit, unit),
        FieldValue::Gauge(_)
        | FieldValue::Int(_)
        | FieldValue::UInt(_)
        | FieldValue::Float(_)
        | FieldValue::MovingAverage { .. }
        | FieldValue::WindowAverage { .. } => head(&field.name, MetricType::Gauge, unit, unit),
        FieldValue::Bool(_) => head(&field.name, MetricType::Gauge, "", ""),
        FieldValue::Timestamp(_) => {
            let clean = sanitize(&field.name);
            let is_time = clean.rsplit('_').next().is_some_and(|w| {
                w.eq_ignore_ascii_case("timestamp") || w.eq_ignore_ascii_case("time")
            });
            if is_time {
                head(&field.name, MetricType::Gauge, "seconds", "")
            } else {
                let renamed = format!("{}_timestamp", field.name);
                head(&renamed, MetricType::Gauge, "seconds", "")
            }
        }
        FieldValue::Text(_) => {
            if !options.strings {
                return None;
            }
            head(&field.name, MetricType::Info, "", "")
        }
        FieldValue::Average { .. } => head(&field.name, MetricType::Summary, unit, unit),
        FieldValue::Histogram(_) => head(&field.name, MetricType::Histogram, unit, unit),
        FieldValue::EventRing { .. } => {
            let renamed = format!("{}.appended", field.name);
            head(&renamed, MetricType::Counter, "", "")
        }
    })
}

/// The one metric a field gives its family ([`family_head`]): labelled
/// `group`, then the field's own labels ([`field_labels`]; a string's info
/// metric adds a `value` label last). `None` for an unset timestamp (its
/// family is exported without metrics).
#[must_use]
pub fn metric_of(field: &Field, group: &Labels) -> Option<Metric> {
    // The group's labels, then the field's own (renamed by
    // [`field_label_names`]); an unlabelled field shares the group's set.
    let labels = if field.labels.is_empty() {
        Arc::clone(group)
    } else {
        let mut all = group.to_vec();
        all.extend(field_labels(&field.labels));
        Labels::from(all)
    };
    let scale = BaseUnit::of(&field.unit).scale;
    let value = match &field.value {
        FieldValue::Counter(v) => MetricValue::Counter(Number::scaled_u64(*v, scale)),
        FieldValue::Gauge(v) | FieldValue::Int(v) => {
            MetricValue::Gauge(Number::scaled_i64(*v, scale))
        }
        FieldValue::UInt(v) => MetricValue::Gauge(Number::scaled_u64(*v, scale)),
        FieldValue::Float(v) => MetricValue::Gauge(Number::Float(v * scale)),
        FieldValue::Bool(v) => MetricValue::Gauge(Number::Int(i128::from(u8::from(*v)))),
        FieldValue::Timestamp(0) => return None,
        FieldValue::Timestamp(ns_since_epoch) => {
            MetricValue::Gauge(Number::Float(*ns_since_epoch as f64 / 1e9))
        }
        FieldValue::Text(text) => {
            let mut labels = labels.to_vec();
            labels.push(("value".to_owned(), text.clone()));
            return Some(Metric {
                labels: Labels::from(labels),
                value: MetricValue::Info,
            });
        }
        FieldValue::Average { sum, count } => MetricValue::Summary {
            sum: sum * scale,
            count: *count,
        },
        FieldValue::Histogram(histogram) => MetricValue::Histogram {
            buckets: power_of_two_buckets(histogram, scale),
            sum: histogram.sum as f64 * scale,
            count: histogram.count,
        },
        FieldValue::MovingAverage { sum, count, .. }
        | FieldValue::WindowAverage { sum, count, .. } => {
            MetricValue::Gauge(Number::Float(if *count == 0 {
                0.0
            } else {
                sum / *count as f64 * scale
            }))
        }
        FieldValue::EventRing { appended, .. } => {
            MetricValue::Counter(Number::Int(i128::from(*appended)))
        }
    };
    Some(Metric { labels, value })
}

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
