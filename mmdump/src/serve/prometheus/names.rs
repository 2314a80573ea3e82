//! Metric names: sanitizing, base units and the unit suffix rules.

use super::*;

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
pub(super) fn help_of(field: &Field, base: &BaseUnit) -> String {
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
