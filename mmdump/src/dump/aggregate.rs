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
//! Counters are summed in every mode: a sum of counters is itself a
//! counter (rates work, and it only grows while no file goes away).
//! Unset timestamps (0) and averages without samples are left out; the
//! identity fields `sys.pid`, `sys.tid` and `sys.uid` are not aggregated.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use mmstats::{Field, FieldValue, FileStats};

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

/// A field's name and kind: fields are combined when both agree.
type GroupKey = (String, &'static str);

/// Combines same-named fields of `files` by `mode` (see the module docs),
/// adding `retired` counter values (of files that went away, see
/// [`CounterLedger`]) to the counters of the same name.
#[must_use]
pub fn aggregate(
    files: &[&FileStats],
    mode: AggregateMode,
    retired: &BTreeMap<String, u64>,
) -> Aggregate {
    // (name, kind) -> the values with their file's creation time.
    let mut order: Vec<GroupKey> = Vec::new();
    let mut groups: HashMap<GroupKey, (Field, Vec<(u64, FieldValue)>)> = HashMap::new();
    for file in files {
        let created = created_ns(file).unwrap_or(0);
        for field in &file.fields {
            if IDENTITY_FIELDS.contains(&field.name.as_str()) {
                continue;
            }
            let key = (field.name.clone(), field.value.kind_name());
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
            if let (FieldValue::Counter(sum), Some(extra)) = (&mut field.value, retired.get(&key.0))
            {
                *sum = sum.wrapping_add(*extra);
            }
            AggregateField { field, files }
        })
        .collect();
    // Counters only retired files had: still part of the total.
    for (name, value) in retired {
        let present = fields
            .iter()
            .any(|f| f.field.name == *name && matches!(f.field.value, FieldValue::Counter(_)));
        if !present {
            fields.push(AggregateField {
                field: Field {
                    name: name.clone(),
                    labels: mmstats::Labels::new(),
                    unit: String::new(),
                    description: String::new(),
                    value: FieldValue::Counter(*value),
                },
                files: 0,
            });
        }
    }
    Aggregate {
        mode,
        file_count: files.len(),
        fields,
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
    /// Per file identity: counter name -> last value.
    live: BTreeMap<String, BTreeMap<String, u64>>,
    /// Counter name -> sum of the last values of retired files.
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
                FieldValue::Counter(v) => Some((f.name.clone(), v)),
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

    /// Counter name -> sum of the last values of files that went away.
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
                    labels: mmstats::Labels::new(),
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
            .find(|f| f.field.name == name)
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

    #[test]
    fn modes_parse_and_cycle() {
        for mode in AggregateMode::ALL {
            assert_eq!(mode.name().parse::<AggregateMode>().unwrap(), mode);
        }
        assert!("median".parse::<AggregateMode>().is_err());
        assert_eq!(AggregateMode::Max.next(), AggregateMode::PerFile);
    }
}
