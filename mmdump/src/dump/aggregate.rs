//! Aggregation of same-named fields across files (the threads and
//! processes of one program), and the ledger that keeps summed counters
//! from going backwards when a file goes away.
//!
//! The rules, per kind (`docs/MMDUMP.md` states them for users):
//!
//! | kind | `sum` | `avg` | `min` | `max` |
//! |---|---|---|---|---|
//! | counter | sum | sum | sum | sum |
//! | gauge, int, uint, float | sum | mean (a float) | smallest | largest |
//! | average | pooled: Σsum / Σcount | pooled | smallest mean | largest mean |
//! | timestamp | latest | latest | earliest | latest |
//! | bool | number true (a gauge) | fraction true (a float) | all true | any true |
//! | string | the newest writer's | the newest writer's | smallest | largest |
//!
//! Fields are combined when their name, labels and kind agree: the same
//! name with other labels (`web.conn.bytes_in{conn="1"}` and
//! `{conn="2"}`) is another row, never summed into this one.
//!
//! Counters are summed in every mode: a sum of counters is itself a
//! counter (rates work, and it only grows while no file goes away).
//! Unset timestamps (0) and averages without samples are left out; the
//! identity fields `sys.pid`, `sys.tid` and `sys.uid` are not aggregated.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use mmstats::{Field, FieldValue, FileStats, Labels};

/// How fields of several files are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateMode {
    /// No aggregation: every file on its own.
    PerFile,
    /// Sum gauges (counters are always summed).
    Sum,
    /// Mean of gauges.
    Avg,
    /// Smallest gauge.
    Min,
    /// Largest gauge.
    Max,
}

impl AggregateMode {
    /// Every mode, in the order the watch view cycles through them.
    pub const ALL: [Self; 5] = [Self::PerFile, Self::Sum, Self::Avg, Self::Min, Self::Max];

    /// The name used on the command line and in output.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::PerFile => "per-file",
            Self::Sum => "sum",
            Self::Avg => "avg",
            Self::Min => "min",
            Self::Max => "max",
        }
    }

    /// The next mode in [`AggregateMode::ALL`], wrapping.
    #[must_use]
    pub fn next(self) -> Self {
        let at = Self::ALL.iter().position(|&m| m == self).unwrap_or(0);
        Self::ALL[(at + 1) % Self::ALL.len()]
    }
}

impl fmt::Display for AggregateMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AggregateMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == text)
            .ok_or_else(|| format!("unknown aggregation {text:?} (sum, avg, min, max, per-file)"))
    }
}

/// Fields never aggregated: they identify a thread or process.
pub const IDENTITY_FIELDS: [&str; 3] = ["sys.pid", "sys.tid", "sys.uid"];

/// A field combined over files.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateField {
    /// The combined field (name, unit and description of the first file
    /// that has it).
    pub field: Field,
    /// How many files contributed.
    pub files: usize,
}

/// Fields of several files, combined.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// The rule used for gauges.
    pub mode: AggregateMode,
    /// Files combined.
    pub file_count: usize,
    /// The combined fields, in order of first appearance.
    pub fields: Vec<AggregateField>,
}

/// When a file was created (format 2: the prologue; legacy: `sys.created`),
/// in ns since the Unix epoch, if known.
#[must_use]
pub fn created_ns(file: &FileStats) -> Option<u64> {
    match &file.region {
        Some(region) if region.created_ns != 0 => Some(region.created_ns),
        Some(_) => None,
        None => file
            .fields
            .iter()
            .find_map(|f| match (f.name.as_str(), &f.value) {
                ("sys.created", FieldValue::Float(secs)) if *secs > 0.0 => {
                    Some((*secs * 1e9) as u64)
                }
                ("sys.created", FieldValue::UInt(secs)) if *secs > 0 => {
                    Some(secs.saturating_mul(1_000_000_000))
                }
                ("sys.created", FieldValue::Int(secs)) if *secs > 0 => {
                    Some((*secs as u64).saturating_mul(1_000_000_000))
                }
                _ => None,
            }),
    }
}

/// A field's name, labels and kind: fields are combined when all agree.
type GroupKey = (String, Labels, &'static str);

/// The key of a counter in [`CounterLedger`] and in the `retired` map of
/// [`aggregate`]: the name alone for a field without labels (so ledgers
/// saved before labels read the same), else the name, a NUL and the label
/// bytes (`conn=1234` then NUL, per label). No name holds a NUL (format 2
/// refuses control characters), so keys of different fields differ.
#[must_use]
pub fn counter_key(name: &str, labels: &Labels) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    // Label bytes are UTF-8 (ASCII keys, UTF-8 values, NUL separators).
    format!("{name}\0{}", String::from_utf8_lossy(labels.as_bytes()))
}

/// The name and labels a [`counter_key`] was made of (a key whose tail is
/// not a label set is all name).
#[must_use]
pub fn split_counter_key(key: &str) -> (String, Labels) {
    if let Some((name, tail)) = key.split_once('\0')
        && let Ok(labels) = Labels::from_bytes(tail.as_bytes())
    {
        return (name.to_owned(), labels);
    }
    (key.to_owned(), Labels::new())
}

/// Combines same-named fields of `files` by `mode` (see the module docs),
/// adding `retired` counter values (of files that went away, see
/// [`CounterLedger`]; keyed by [`counter_key`]) to the counters of the
/// same name and labels.
#[must_use]
pub fn aggregate(
    files: &[&FileStats],
    mode: AggregateMode,
    retired: &BTreeMap<String, u64>,
) -> Aggregate {
    // (name, labels, kind) -> the values with their file's creation time.
    let mut order: Vec<GroupKey> = Vec::new();
    let mut groups: HashMap<GroupKey, (Field, Vec<(u64, FieldValue)>)> = HashMap::new();
    for file in files {
        let created = created_ns(file).unwrap_or(0);
        for field in &file.fields {
            if IDENTITY_FIELDS.contains(&field.name.as_str()) {
                continue;
            }
            let key = (
                field.name.clone(),
                field.labels.clone(),
                field.value.kind_name(),
            );
            let entry = groups.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                (field.clone(), Vec::new())
            });
            entry.1.push((created, field.value.clone()));
        }
    }
    let mut fields: Vec<AggregateField> = order
        .into_iter()
        .map(|key| {
            let (mut field, values) = groups.remove(&key).expect("grouped above");
            let files = values.len();
            field.value = combine(mode, &values);
            AggregateField { field, files }
        })
        .collect();
    add_retired(&mut fields, retired);
    Aggregate {
        mode,
        file_count: files.len(),
        fields,
    }
}

/// [`aggregate`] of files the caller gives up, which saves copying every
/// field when there is only one file (a scrape labelled by pid or thread
/// has a group per file: 100,000 fields a scrape on a big host).
///
/// A format-2 file read by the `mmstats` readers (or `--image`) never
/// holds two fields of one name and label set (the repeat rule,
/// docs/FORMAT.md §4.2), so each of its fields is a group of its own and
/// is moved as it is, its value passed through [`combine`] alone. Legacy
/// files, which may repeat a name, and several files take [`aggregate`].
#[must_use]
pub fn aggregate_owned(
    mut files: Vec<FileStats>,
    mode: AggregateMode,
    retired: &BTreeMap<String, u64>,
) -> Aggregate {
    if files.len() != 1 || files[0].region.is_none() {
        let refs: Vec<&FileStats> = files.iter().collect();
        return aggregate(&refs, mode, retired);
    }
    let file = files.pop().expect("one file");
    let created = created_ns(&file).unwrap_or(0);
    let mut fields: Vec<AggregateField> = file
        .fields
        .into_iter()
        .filter(|field| !IDENTITY_FIELDS.contains(&field.name.as_str()))
        .map(|mut field| {
            let value = std::mem::replace(&mut field.value, FieldValue::Counter(0));
            field.value = combine(mode, &[(created, value)]);
            AggregateField { field, files: 1 }
        })
        .collect();
    add_retired(&mut fields, retired);
    Aggregate {
        mode,
        file_count: 1,
        fields,
    }
}

/// Adds the `retired` counter values to the counters of the same name and
/// labels in `fields`, and appends the counters only retired files had
/// (still part of the total).
fn add_retired(fields: &mut Vec<AggregateField>, retired: &BTreeMap<String, u64>) {
    if retired.is_empty() {
        return;
    }
    let mut present: std::collections::HashSet<String> = std::collections::HashSet::new();
    for f in fields.iter_mut() {
        if let FieldValue::Counter(sum) = &mut f.field.value {
            let key = counter_key(&f.field.name, &f.field.labels);
            if let Some(extra) = retired.get(&key) {
                *sum = sum.wrapping_add(*extra);
            }
            present.insert(key);
        }
    }
    for (key, value) in retired {
        if !present.contains(key) {
            let (name, labels) = split_counter_key(key);
            fields.push(AggregateField {
                field: Field {
                    name,
                    labels,
                    unit: String::new(),
                    description: String::new(),
                    value: FieldValue::Counter(*value),
                },
                files: 0,
            });
        }
    }
}

/// Combines values of one kind (all `values` have the same kind).
fn combine(mode: AggregateMode, values: &[(u64, FieldValue)]) -> FieldValue {
    let first = &values[0].1;
    match first {
        FieldValue::Counter(_) => FieldValue::Counter(
            values
                .iter()
                .filter_map(|(_, v)| match v {
                    FieldValue::Counter(c) => Some(*c),
                    _ => None,
                })
                .fold(0u64, u64::wrapping_add),
        ),
        FieldValue::Gauge(_) | FieldValue::Int(_) => {
            let ints: Vec<i64> = values
                .iter()
                .filter_map(|(_, v)| match v {
                    FieldValue::Gauge(g) | FieldValue::Int(g) => Some(*g),
                    _ => None,
                })
                .collect();
            let wrap = |v: i64| match first {
                FieldValue::Int(_) => FieldValue::Int(v),
                _ => FieldValue::Gauge(v),
            };
            match mode {
                AggregateMode::Sum | AggregateMode::PerFile => {
                    let sum: i128 = ints.iter().map(|&v| i128::from(v)).sum();
                    wrap(sum.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
                }
                AggregateMode::Avg => FieldValue::Float(
                    ints.iter().map(|&v| v as f64).sum::<f64>() / ints.len() as f64,
                ),
                AggregateMode::Min => wrap(ints.iter().copied().min().unwrap_or(0)),
                AggregateMode::Max => wrap(ints.iter().copied().max().unwrap_or(0)),
            }
        }
        FieldValue::UInt(_) => {
            let uints: Vec<u64> = values
                .iter()
                .filter_map(|(_, v)| match v {
                    FieldValue::UInt(u) => Some(*u),
                    _ => None,
                })
                .collect();
            match mode {
                AggregateMode::Sum | AggregateMode::PerFile => {
                    let sum: u128 = uints.iter().map(|&v| u128::from(v)).sum();
                    FieldValue::UInt(sum.min(u128::from(u64::MAX)) as u64)
                }
                AggregateMode::Avg => FieldValue::Float(
                    uints.iter().map(|&v| v as f64).sum::<f64>() / uints.len() as f64,
                ),
                AggregateMode::Min => FieldValue::UInt(uints.iter().copied().min().unwrap_or(0)),
                AggregateMode::Max => FieldValue::UInt(uints.iter().copied().max().unwrap_or(0)),
            }
        }
        FieldValue::Float(_) => {
            let floats: Vec<f64> = values
                .iter()
                .filter_map(|(_, v)| match v {
                    FieldValue::Float(f) => Some(*f),
                    _ => None,
                })
                .collect();
            FieldValue::Float(match mode {
                AggregateMode::Sum | AggregateMode::PerFile => floats.iter().sum(),
                AggregateMode::Avg => floats.iter().sum::<f64>() / floats.len() as f64,
                AggregateMode::Min => floats.iter().copied().fold(f64::INFINITY, f64::min),
                AggregateMode::Max => floats.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            })
        }
        FieldValue::Bool(_) => {
            let bools: Vec<bool> = values
                .iter()
                .filter_map(|(_, v)| match v {
                    FieldValue::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect();
            let trues = bools.iter().filter(|&&b| b).count();
            match mode {
                AggregateMode::Sum | AggregateMode::PerFile => FieldValue::Gauge(trues as i64),
                AggregateMode::Avg => FieldValue::Float(trues as f64 / bools.len() as f64),
                AggregateMode::Min => FieldValue::Bool(trues == bools.len()),
                AggregateMode::Max => FieldValue::Bool(trues > 0),
            }
        }
        FieldValue::Timestamp(_) => {
            let set = values.iter().filter_map(|(_, v)| match v {
                FieldValue::Timestamp(t) if *t != 0 => Some(*t),
                _ => None,
            });
            FieldValue::Timestamp(match mode {
                AggregateMode::Min => set.min().unwrap_or(0),
                _ => set.max().unwrap_or(0),
            })
        }
        FieldValue::Text(_) => {
            let texts = values.iter().filter_map(|(created, v)| match v {
                FieldValue::Text(t) => Some((*created, t)),
                _ => None,
            });
            let chosen = match mode {
                AggregateMode::Min => texts.min_by(|a, b| a.1.cmp(b.1)),
                AggregateMode::Max => texts.max_by(|a, b| a.1.cmp(b.1)),
                // The newest writer's (the last file among equals, files
                // being in path order).
                _ => texts.max_by_key(|(created, _)| *created),
            };
            FieldValue::Text(chosen.map(|(_, t)| t.clone()).unwrap_or_default())
        }
        FieldValue::Average { .. } => {
            let averages: Vec<(f64, u64)> = values
                .iter()
                .filter_map(|(_, v)| match v {
                    FieldValue::Average { sum, count } => Some((*sum, *count)),
                    _ => None,
                })
                .collect();
            let mean = |&(sum, count): &(f64, u64)| sum / count as f64;
            let sampled = averages.iter().filter(|(_, count)| *count > 0);
            let pick = match mode {
                AggregateMode::Sum | AggregateMode::Avg | AggregateMode::PerFile => {
                    let (sum, count) =
                        averages.iter().fold((0.0, 0u64), |(s, c), &(sum, count)| {
                            (s + sum, c.saturating_add(count))
                        });
                    return FieldValue::Average { sum, count };
                }
                AggregateMode::Min => sampled.min_by(|a, b| mean(a).total_cmp(&mean(b))),
                AggregateMode::Max => sampled.max_by(|a, b| mean(a).total_cmp(&mean(b))),
            };
            let (sum, count) = pick.copied().unwrap_or((0.0, 0));
            FieldValue::Average { sum, count }
        }
        // Histograms of the same shape merge into the histogram of every
        // file's samples, whatever the mode (a quantile of quantiles means
        // nothing); one of another shape cannot be merged and is left out.
        FieldValue::Histogram(first_histogram) => {
            let mut merged = first_histogram.clone();
            for (_, value) in &values[1..] {
                if let FieldValue::Histogram(other) = value {
                    let _ = merged.merge(other);
                }
            }
            FieldValue::Histogram(merged)
        }
        // Windowed averages: the windows' sums and counts add up (the mean
        // over every file's window), as for averages; totals add up.
        FieldValue::MovingAverage { window, .. } => {
            let (mut sum, mut count, mut total) = (0.0, 0u64, 0u64);
            for (_, value) in values {
                if let FieldValue::MovingAverage {
                    sum: s,
                    count: c,
                    total: t,
                    ..
                } = value
                {
                    sum += s;
                    count = count.saturating_add(*c);
                    total = total.saturating_add(*t);
                }
            }
            FieldValue::MovingAverage {
                sum,
                count,
                total,
                window: *window,
            }
        }
        FieldValue::WindowAverage { window, .. } => {
            let (mut sum, mut count, mut total, mut as_of) = (0.0, 0u64, 0u64, 0u64);
            for (_, value) in values {
                if let FieldValue::WindowAverage {
                    sum: s,
                    count: c,
                    total: t,
                    as_of: at,
                    ..
                } = value
                {
                    sum += s;
                    count = count.saturating_add(*c);
                    total = total.saturating_add(*t);
                    as_of = as_of.max(*at);
                }
            }
            FieldValue::WindowAverage {
                sum,
                count,
                total,
                as_of,
                window: *window,
            }
        }
        // Rings: records appended add up; capacity and payload are the
        // first file's (they are per ring, not summable). Follow the rings
        // themselves with `mmdump tail`.
        FieldValue::EventRing {
            capacity,
            payload_words,
            ..
        } => FieldValue::EventRing {
            appended: values
                .iter()
                .filter_map(|(_, v)| match v {
                    FieldValue::EventRing { appended, .. } => Some(*appended),
                    _ => None,
                })
                .fold(0u64, u64::saturating_add),
            capacity: *capacity,
            payload_words: *payload_words,
        },
    }
}

/// Who a file's values belong to: the path plus the writer's generation,
/// pid, process start time and creation time, separated by NUL (which no
/// path holds). A writer restarted into the same path gets a new identity.
#[must_use]
pub fn file_identity(file: &FileStats) -> String {
    let (generation, start_time) = file.region.map_or((0, 0), |r| (r.generation, r.start_time));
    format!(
        "{}\0{generation:x}\0{}\0{start_time}\0{}",
        file.path.display(),
        file.pid.unwrap_or(0),
        created_ns(file).unwrap_or(0)
    )
}

/// The last counter values of every file seen, and the sum of the last
/// values of files that went away, so that counters summed over files
/// never go backwards when a process exits (or is cleaned up).
///
/// Use: [`CounterLedger::observe`] each file read now,
/// [`CounterLedger::keep`] each file that is still there but could not be
/// read, then [`CounterLedger::finish`], which retires every file not
/// mentioned since the last `finish`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterLedger {
    /// Per file identity: counter ([`counter_key`]) -> last value.
    live: BTreeMap<String, BTreeMap<String, u64>>,
    /// Counter ([`counter_key`]) -> sum of the last values of retired
    /// files.
    retired: BTreeMap<String, u64>,
    #[serde(skip)]
    seen: Vec<String>,
}

impl CounterLedger {
    /// An empty ledger.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the counters of a file read now.
    pub fn observe(&mut self, file: &FileStats) {
        let identity = file_identity(file);
        let counters = file
            .fields
            .iter()
            .filter_map(|f| match f.value {
                FieldValue::Counter(v) => Some((counter_key(&f.name, &f.labels), v)),
                _ => None,
            })
            .collect();
        self.live.insert(identity.clone(), counters);
        self.seen.push(identity);
    }

    /// Marks a file as still present although it could not be read now:
    /// its last values stay live.
    pub fn keep(&mut self, identity: &str) {
        self.seen.push(identity.to_owned());
    }

    /// Marks every file held for `path` as still present (the file is
    /// there but could not be read now, so its identity is unknown).
    pub fn keep_path(&mut self, path: &std::path::Path) {
        let prefix = format!("{}\0", path.display());
        let held: Vec<String> = self
            .live
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        self.seen.extend(held);
    }

    /// Retires every file neither observed nor kept since the last call;
    /// returns how many were retired.
    pub fn finish(&mut self) -> usize {
        let seen: std::collections::HashSet<String> = self.seen.drain(..).collect();
        let gone: Vec<String> = self
            .live
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for identity in &gone {
            if let Some(counters) = self.live.remove(identity) {
                for (name, value) in counters {
                    let total = self.retired.entry(name).or_insert(0);
                    *total = total.wrapping_add(value);
                }
            }
        }
        gone.len()
    }

    /// Counter ([`counter_key`]) -> sum of the last values of files that
    /// went away.
    #[must_use]
    pub fn retired(&self) -> &BTreeMap<String, u64> {
        &self.retired
    }

    /// Files whose last values are held.
    #[must_use]
    pub fn live_files(&self) -> usize {
        self.live.len()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use mmstats::{Format, Liveness};

    fn file(path: &str, fields: &[(&str, FieldValue)]) -> FileStats {
        FileStats {
            path: PathBuf::from(path),
            format: Format::LegacyV1,
            pid: Some(1),
            liveness: Liveness::Unknown,
            region: None,
            fields: fields
                .iter()
                .map(|(name, value)| Field {
                    name: (*name).to_owned(),
                    labels: Labels::new(),
                    unit: String::new(),
                    description: String::new(),
                    value: value.clone(),
                })
                .collect(),
            problems: Vec::new(),
        }
    }

    fn value(agg: &Aggregate, name: &str) -> FieldValue {
        agg.fields
            .iter()
            .find(|f| f.field.name == name && f.field.labels.is_empty())
            .unwrap_or_else(|| panic!("{name} missing"))
            .field
            .value
            .clone()
    }

    #[test]
    fn each_kind_follows_its_rule() {
        let a = file(
            "/a",
            &[
                ("c", FieldValue::Counter(10)),
                ("g", FieldValue::Gauge(-4)),
                ("f", FieldValue::Float(1.5)),
                ("b", FieldValue::Bool(true)),
                ("t", FieldValue::Timestamp(100)),
                ("s", FieldValue::Text("v1".into())),
                (
                    "avg",
                    FieldValue::Average {
                        sum: 10.0,
                        count: 1,
                    },
                ),
                ("sys.pid", FieldValue::Gauge(1)),
                ("sys.created", FieldValue::UInt(100)),
            ],
        );
        let b = file(
            "/b",
            &[
                ("c", FieldValue::Counter(5)),
                ("g", FieldValue::Gauge(8)),
                ("f", FieldValue::Float(2.5)),
                ("b", FieldValue::Bool(false)),
                ("t", FieldValue::Timestamp(0)),
                ("s", FieldValue::Text("v2".into())),
                (
                    "avg",
                    FieldValue::Average {
                        sum: 20.0,
                        count: 4,
                    },
                ),
                ("sys.pid", FieldValue::Gauge(2)),
                ("sys.created", FieldValue::UInt(200)),
            ],
        );
        let files = [&a, &b];
        let none = BTreeMap::new();
        let sum = aggregate(&files, AggregateMode::Sum, &none);
        assert_eq!(sum.file_count, 2);
        assert_eq!(value(&sum, "c"), FieldValue::Counter(15));
        assert_eq!(value(&sum, "g"), FieldValue::Gauge(4));
        assert_eq!(value(&sum, "f"), FieldValue::Float(4.0));
        assert_eq!(value(&sum, "b"), FieldValue::Gauge(1));
        assert_eq!(value(&sum, "t"), FieldValue::Timestamp(100));
        assert_eq!(value(&sum, "s"), FieldValue::Text("v2".into()), "newest");
        assert_eq!(
            value(&sum, "avg"),
            FieldValue::Average {
                sum: 30.0,
                count: 5
            }
        );
        assert!(!sum.fields.iter().any(|f| f.field.name == "sys.pid"));

        let avg = aggregate(&files, AggregateMode::Avg, &none);
        assert_eq!(value(&avg, "c"), FieldValue::Counter(15), "counters sum");
        assert_eq!(value(&avg, "g"), FieldValue::Float(2.0));
        assert_eq!(value(&avg, "b"), FieldValue::Float(0.5));

        let min = aggregate(&files, AggregateMode::Min, &none);
        assert_eq!(value(&min, "c"), FieldValue::Counter(15));
        assert_eq!(value(&min, "g"), FieldValue::Gauge(-4));
        assert_eq!(value(&min, "b"), FieldValue::Bool(false));
        assert_eq!(
            value(&min, "t"),
            FieldValue::Timestamp(100),
            "unset left out"
        );
        assert_eq!(value(&min, "s"), FieldValue::Text("v1".into()));
        assert_eq!(
            value(&min, "avg"),
            FieldValue::Average {
                sum: 20.0,
                count: 4
            },
            "mean 5 < 10"
        );

        let max = aggregate(&files, AggregateMode::Max, &none);
        assert_eq!(value(&max, "g"), FieldValue::Gauge(8));
        assert_eq!(value(&max, "f"), FieldValue::Float(2.5));
        assert_eq!(value(&max, "b"), FieldValue::Bool(true));
        assert_eq!(
            value(&max, "avg"),
            FieldValue::Average {
                sum: 10.0,
                count: 1
            }
        );
    }

    #[test]
    fn retired_counters_keep_sums_from_going_backwards() {
        let a = file("/a", &[("c", FieldValue::Counter(100))]);
        let b = file("/b", &[("c", FieldValue::Counter(50))]);
        let mut ledger = CounterLedger::new();
        ledger.observe(&a);
        ledger.observe(&b);
        assert_eq!(ledger.finish(), 0);
        let before = aggregate(&[&a, &b], AggregateMode::Sum, ledger.retired());
        assert_eq!(value(&before, "c"), FieldValue::Counter(150));

        // `a` exits; `b` goes on.
        let b2 = file("/b", &[("c", FieldValue::Counter(60))]);
        ledger.observe(&b2);
        assert_eq!(ledger.finish(), 1);
        let after = aggregate(&[&b2], AggregateMode::Sum, ledger.retired());
        assert_eq!(value(&after, "c"), FieldValue::Counter(160));

        // `b` cannot be read once: its values stay live, nothing retires.
        ledger.keep(&file_identity(&b2));
        assert_eq!(ledger.finish(), 0);
        // Unreadable by path: kept too.
        ledger.keep_path(std::path::Path::new("/b"));
        assert_eq!(ledger.finish(), 0);
        // Every file gone: the total is still there.
        assert_eq!(ledger.finish(), 1);
        let gone = aggregate(&[], AggregateMode::Sum, ledger.retired());
        assert_eq!(value(&gone, "c"), FieldValue::Counter(160));

        let json = serde_json::to_string(&ledger).unwrap();
        let back: CounterLedger = serde_json::from_str(&json).unwrap();
        assert_eq!(back.retired(), ledger.retired());
    }

    fn labelled(path: &str, fields: &[(&str, &str, FieldValue)]) -> FileStats {
        let mut stats = file(path, &[]);
        stats.fields = fields
            .iter()
            .map(|(name, conn, value)| Field {
                name: (*name).to_owned(),
                labels: if conn.is_empty() {
                    Labels::new()
                } else {
                    Labels::from_pairs(&[("conn", conn)]).unwrap()
                },
                unit: String::new(),
                description: String::new(),
                value: value.clone(),
            })
            .collect();
        stats
    }

    fn labelled_value(agg: &Aggregate, name: &str, conn: &str) -> (FieldValue, usize) {
        let found = agg
            .fields
            .iter()
            .find(|f| f.field.name == name && f.field.labels.get("conn") == Some(conn))
            .unwrap_or_else(|| panic!("{name}{{conn={conn}}} missing"));
        (found.field.value.clone(), found.files)
    }

    #[test]
    fn label_sets_stay_apart_across_files() {
        let a = labelled(
            "/a",
            &[
                ("bytes", "1", FieldValue::Counter(10)),
                ("bytes", "2", FieldValue::Counter(20)),
                ("bytes", "", FieldValue::Counter(1)),
                ("open", "1", FieldValue::Gauge(3)),
            ],
        );
        let b = labelled(
            "/b",
            &[
                ("bytes", "1", FieldValue::Counter(5)),
                ("open", "1", FieldValue::Gauge(4)),
            ],
        );
        let sum = aggregate(&[&a, &b], AggregateMode::Sum, &BTreeMap::new());
        assert_eq!(sum.fields.len(), 4, "{:?}", sum.fields);
        assert_eq!(
            labelled_value(&sum, "bytes", "1"),
            (FieldValue::Counter(15), 2)
        );
        assert_eq!(
            labelled_value(&sum, "bytes", "2"),
            (FieldValue::Counter(20), 1)
        );
        assert_eq!(labelled_value(&sum, "open", "1"), (FieldValue::Gauge(7), 2));
        let unlabelled = sum
            .fields
            .iter()
            .find(|f| f.field.name == "bytes" && f.field.labels.is_empty())
            .unwrap();
        assert_eq!(unlabelled.field.value, FieldValue::Counter(1));

        // A file that goes away leaves each label set's own total.
        let mut ledger = CounterLedger::new();
        ledger.observe(&a);
        ledger.observe(&b);
        ledger.finish();
        ledger.observe(&b);
        assert_eq!(ledger.finish(), 1);
        let after = aggregate(&[&b], AggregateMode::Sum, ledger.retired());
        assert_eq!(
            labelled_value(&after, "bytes", "1"),
            (FieldValue::Counter(15), 1)
        );
        assert_eq!(
            labelled_value(&after, "bytes", "2"),
            (FieldValue::Counter(20), 0),
            "only the retired file had it"
        );
        assert_eq!(value(&after, "bytes"), FieldValue::Counter(1));
        let json = serde_json::to_string(&ledger).unwrap();
        let back: CounterLedger = serde_json::from_str(&json).unwrap();
        assert_eq!(back.retired(), ledger.retired());
    }

    #[test]
    #[cfg_attr(miri, ignore)] // file-backed mmap
    fn one_owned_file_aggregates_as_borrowed() {
        let dir = tempfile::tempdir().unwrap();
        let stats = mmstats::StatsFile::builder("one")
            .dir(dir.path())
            .size(1 << 20)
            .create()
            .unwrap();
        stats.counter("requests").unwrap().add(7);
        stats.gauge("inflight").unwrap().set(-3);
        stats.float_gauge("load").unwrap().set(0.5);
        stats.text("version").unwrap().set("v1");
        stats.histogram("latency").unwrap().record(40);
        stats
            .counter(mmstats::FieldSpec::new("bytes").labels(&[("conn", "1")]))
            .unwrap()
            .add(9);
        let read = mmstats::read_file(stats.path()).unwrap();
        assert!(read.region.is_some() && read.fields.len() > 6);
        let retired: BTreeMap<String, u64> = [
            ("requests".to_owned(), 100),
            ("gone".to_owned(), 5),
            (
                counter_key("bytes", &Labels::from_pairs(&[("conn", "1")]).unwrap()),
                1,
            ),
        ]
        .into();
        for mode in AggregateMode::ALL {
            for retired in [BTreeMap::new(), retired.clone()] {
                let borrowed = aggregate(&[&read], mode, &retired);
                let owned = aggregate_owned(vec![read.clone()], mode, &retired);
                assert_eq!(owned, borrowed, "{mode:?}, {} retired", retired.len());
            }
        }
        // A legacy file (which may repeat a name) and several files take
        // the general path.
        let legacy = file(
            "/l",
            &[("c", FieldValue::Counter(1)), ("c", FieldValue::Counter(2))],
        );
        let owned = aggregate_owned(vec![legacy], AggregateMode::Sum, &BTreeMap::new());
        assert_eq!(owned.fields.len(), 1);
        assert_eq!(value(&owned, "c"), FieldValue::Counter(3));
        let two = aggregate_owned(vec![read.clone(), read], AggregateMode::Sum, &retired);
        assert_eq!(value(&two, "requests"), FieldValue::Counter(114));
        assert_eq!(value(&two, "gone"), FieldValue::Counter(5));
    }

    #[test]
    fn counter_keys_round_trip() {
        let labels = Labels::from_pairs(&[("conn", "1"), ("app", "w")]).unwrap();
        let key = counter_key("web.bytes", &labels);
        assert_eq!(split_counter_key(&key), ("web.bytes".into(), labels));
        assert_eq!(counter_key("web.bytes", &Labels::new()), "web.bytes");
        assert_eq!(
            split_counter_key("web.bytes"),
            ("web.bytes".into(), Labels::new())
        );
        // A tail that is no label set stays part of the name.
        assert_eq!(
            split_counter_key("a\0junk"),
            ("a\0junk".into(), Labels::new())
        );
    }

    #[test]
    fn modes_parse_and_cycle() {
        for mode in AggregateMode::ALL {
            assert_eq!(mode.name().parse::<AggregateMode>().unwrap(), mode);
        }
        assert!("median".parse::<AggregateMode>().is_err());
        assert_eq!(AggregateMode::Max.next(), AggregateMode::PerFile);
    }
}
