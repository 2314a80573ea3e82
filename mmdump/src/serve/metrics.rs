//! `/metrics`: every stats file as Prometheus metric families.
//!
//! Files are grouped by their labels: `program` always (the file's
//! `sys.program`, else the program part of its name), `pid` and `thread`
//! when asked for. The files of a group are combined with issue 5's
//! aggregation ([`aggregate_owned`]): counters summed, gauges by the configured
//! mode, so two files with the same labels never give a duplicate series;
//! a field's own labels keep it apart (each label set is combined, and
//! held by the ledger, on its own) and become the series' further labels.
//! Each group keeps a [`CounterLedger`]: when one of its files goes away
//! (a process or thread exits and removes its file, or `mmdump clean`
//! removes it), its last counter values stay in the group's sums, so an
//! exported counter never goes backwards. A group without a `pid` label
//! (a program) keeps its ledger for as long as the server runs; a group
//! labelled by pid (or thread) ends with its process (or thread), and its
//! series end with it.
//!
//! The exporter's own metrics (`mmdump_serve_*`) say how many files were
//! read, which could not be (one `mmdump_serve_file_error_info` per file,
//! with the path and reason: a corrupt file is an error entry, never a
//! failed scrape), how many exited files are held in the sums, how many
//! families were left out because no name was free for them, and how
//! many label sets the series bound (`max_series_per_family`) left out.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use crate::dump::aggregate::{AggregateMode, CounterLedger, aggregate_owned};
use crate::dump::select::Selection;
use crate::dump::{Report, collect_selected};
use mmstats::{FieldValue, FileStats};

use super::prometheus::{
    Family, Format, Labels, Merger, Metric, MetricType, MetricValue, NameOptions, Number,
    SeriesCut, encode, limit_series,
};

/// How fields become metrics.
#[derive(Clone, Debug)]
pub struct MetricsOptions {
    /// Names and strings.
    pub names: NameOptions,
    /// Label each series with the writer's pid.
    pub pid_label: bool,
    /// Label each series with the writer's thread id.
    pub thread_label: bool,
    /// The rule for gauges of files with the same labels (counters are
    /// always summed); never [`AggregateMode::PerFile`].
    pub mode: AggregateMode,
    /// Most label sets (series; a histogram's buckets count as one) one
    /// family exports; the rest are counted in
    /// `mmdump_serve_family_dropped_series` and logged once per family.
    pub max_series_per_family: usize,
}

/// The default of [`MetricsOptions::max_series_per_family`].
pub const DEFAULT_MAX_SERIES_PER_FAMILY: usize = 1000;

/// Families whose cut is logged by name (one line each, once); past
/// this many, one more line says further ones are not named.
const MAX_LOGGED_FAMILIES: usize = 1000;

/// Label values of a group of files.
pub type GroupLabels = Vec<(String, String)>;

/// Distinct filter sets whose ledgers are kept (oldest forgotten first).
const MAX_QUERIES: usize = 32;

/// The ledgers of one filter set: per group of files.
#[derive(Debug, Default)]
struct QueryLedgers {
    groups: BTreeMap<GroupLabels, CounterLedger>,
    /// Files retired so far (of groups still kept).
    retired_files: BTreeMap<GroupLabels, usize>,
    /// Per group, counter name -> (unit, description) last seen: a
    /// counter held only by files gone keeps its name, unit conversion
    /// and help.
    counter_meta: BTreeMap<GroupLabels, HashMap<String, (String, String)>>,
}

#[derive(Debug, Default)]
struct LedgerBook {
    queries: HashMap<String, QueryLedgers>,
    /// Query keys, least recently used first.
    order: VecDeque<String>,
}

impl LedgerBook {
    fn get(&mut self, key: &str) -> &mut QueryLedgers {
        if let Some(at) = self.order.iter().position(|k| k == key) {
            self.order.remove(at);
        } else if self.order.len() == MAX_QUERIES
            && let Some(oldest) = self.order.pop_front()
        {
            self.queries.remove(&oldest);
        }
        self.order.push_back(key.to_owned());
        self.queries.entry(key.to_owned()).or_default()
    }
}

/// What one scrape found.
#[derive(Clone, Debug, PartialEq)]
pub struct Scrape {
    /// Every family, the exporter's own first merged in, sorted by name.
    pub families: Vec<Family>,
    /// Files that could not be read (path, reason), and files read with
    /// field problems.
    pub errors: Vec<(PathBuf, String)>,
    /// Family names left out because no name of their own was free (see
    /// [`super::prometheus::Merger::finish`]).
    pub dropped: Vec<String>,
    /// Families that had more label sets than
    /// [`MetricsOptions::max_series_per_family`].
    pub cut: Vec<SeriesCut>,
    /// Files read.
    pub files: usize,
    /// Files gone whose last counter values are held in the sums.
    pub retired_files: usize,
}

/// Turns stats files into metric families, scrape after scrape.
#[derive(Debug)]
pub struct Exporter {
    inputs: Vec<PathBuf>,
    base: Selection,
    options: MetricsOptions,
    ledgers: Mutex<LedgerBook>,
    /// Families whose cut has been logged (at most
    /// [`MAX_LOGGED_FAMILIES`]), and whether the line saying further ones
    /// go unnamed has been written.
    logged_cuts: Mutex<(std::collections::HashSet<String>, bool)>,
}

/// The program a file belongs to: its `sys.program` string, else the
/// `{program}` of a file named `{program}-{pid}-{tid}[-{name}].mmstats`,
/// else the file's name without its extension.
#[must_use]
pub fn program_of(file: &FileStats) -> String {
    let from_field = file.fields.iter().find_map(|f| match (&*f.name, &f.value) {
        ("sys.program", FieldValue::Text(t)) if !t.is_empty() => Some(t.clone()),
        _ => None,
    });
    from_field.unwrap_or_else(|| name_parts(&file.path).0)
}

/// The writer's thread id: `sys.tid`, else from the file name.
#[must_use]
pub fn thread_of(file: &FileStats) -> Option<u64> {
    file.fields
        .iter()
        .find_map(|f| match (&*f.name, &f.value) {
            ("sys.tid", FieldValue::Gauge(t) | FieldValue::Int(t)) => u64::try_from(*t).ok(),
            ("sys.tid", FieldValue::UInt(t)) => Some(*t),
            _ => None,
        })
        .or_else(|| name_parts(&file.path).2)
}

/// `(program, pid, tid)` from a file named
/// `{program}-{pid}-{tid}[-{name}].mmstats`; the program is the whole
/// stem when the name has no such numbers.
fn name_parts(path: &Path) -> (String, Option<u64>, Option<u64>) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(&format!(".{}", mmstats::EXTENSION))
        .unwrap_or(&name);
    let parts: Vec<&str> = stem.split('-').collect();
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // The rightmost pair of numbers after at least one program part.
    let found = (1..parts.len().saturating_sub(1))
        .rev()
        .find(|&i| numeric(parts[i]) && numeric(parts[i + 1]));
    match found {
        Some(i) => (
            parts[..i].join("-"),
            parts[i].parse().ok(),
            parts[i + 1].parse().ok(),
        ),
        None => (stem.to_owned(), None, None),
    }
}

impl Exporter {
    /// An exporter of the files `inputs` names (see
    /// [`crate::dump::discover`]) that `base` selects.
    #[must_use]
    pub fn new(inputs: Vec<PathBuf>, base: Selection, options: MetricsOptions) -> Self {
        Self {
            inputs,
            base,
            options,
            ledgers: Mutex::new(LedgerBook::default()),
            logged_cuts: Mutex::default(),
        }
    }

    /// The options.
    #[must_use]
    pub const fn options(&self) -> &MetricsOptions {
        &self.options
    }

    /// The labels of a file's group.
    fn labels_of(&self, file: &FileStats) -> GroupLabels {
        let mut labels = vec![("program".to_owned(), program_of(file))];
        if self.options.pid_label {
            let pid = file.pid.or_else(|| name_parts(&file.path).1);
            labels.push((
                "pid".to_owned(),
                pid.map_or_else(String::new, |p| p.to_string()),
            ));
        }
        if self.options.thread_label {
            labels.push((
                "thread".to_owned(),
                thread_of(file).map_or_else(String::new, |t| t.to_string()),
            ));
        }
        labels
    }

    /// Reads every selected file now and returns its families. `query`
    /// narrows the selection further (a scrape's URL parameters); `key`
    /// names that narrowing, so that each filter set keeps its own ledgers.
    pub fn scrape(&self, query: &Selection, key: &str) -> Scrape {
        let started = Instant::now();
        // Files are selected first; fields after the labels are known (a
        // filter such as `-X sys` must not hide `sys.program`).
        let file_selection = Selection {
            files: self
                .base
                .files
                .iter()
                .chain(&query.files)
                .cloned()
                .collect(),
            pids: self.base.pids.iter().chain(&query.pids).copied().collect(),
            ..Selection::default()
        };
        let report: Report = collect_selected(&self.inputs, &file_selection);
        // Both the base's and the query's file selectors must pass.
        let mut grouped: BTreeMap<GroupLabels, Vec<FileStats>> = BTreeMap::new();
        let mut files = 0;
        for mut file in report.files {
            if !(self.base.file_selected(&file) && query.file_selected(&file)) {
                continue;
            }
            let labels = self.labels_of(&file);
            self.base.filter_fields(&mut file);
            query.filter_fields(&mut file);
            files += 1;
            grouped.entry(labels).or_default().push(file);
        }
        let mut errors: Vec<(PathBuf, String)> = report
            .errors
            .into_iter()
            .map(|(path, error)| (path, error.to_string()))
            .collect();
        for group in grouped.values() {
            for file in group {
                for problem in &file.problems {
                    errors.push((file.path.clone(), problem.to_string()));
                }
            }
        }

        let mut merger;
        let retired_files;
        {
            let mut book = self
                .ledgers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let ledgers = book.get(key);
            for (labels, group) in &grouped {
                let ledger = ledgers.groups.entry(labels.clone()).or_default();
                let meta = ledgers.counter_meta.entry(labels.clone()).or_default();
                for file in group {
                    ledger.observe(file);
                    for field in &file.fields {
                        // Only a unit or help worth keeping is kept (an
                        // empty one is what a counter without either gets
                        // anyway), and the name is copied only when new.
                        let worth_keeping =
                            !(field.unit.is_empty() && field.description.is_empty());
                        if matches!(field.value, FieldValue::Counter(_))
                            && worth_keeping
                            && !meta.contains_key(&field.name)
                        {
                            meta.insert(
                                field.name.clone(),
                                (field.unit.clone(), field.description.clone()),
                            );
                        }
                    }
                }
            }
            for (labels, ledger) in &mut ledgers.groups {
                // A file that exists but could not be read now keeps its
                // last values (it may be a writer re-creating its region).
                for (path, _) in &errors {
                    ledger.keep_path(path);
                }
                let retired = ledger.finish();
                *ledgers.retired_files.entry(labels.clone()).or_default() += retired;
            }
            let pid_labelled = self.options.pid_label || self.options.thread_label;
            ledgers
                .groups
                .retain(|labels, _| !pid_labelled || grouped.contains_key(labels));
            let kept = &ledgers.groups;
            ledgers
                .retired_files
                .retain(|labels, _| kept.contains_key(labels));
            ledgers
                .counter_meta
                .retain(|labels, _| kept.contains_key(labels));
            retired_files = ledgers.retired_files.values().sum();
            // The exporter's own families first (they win a name clash),
            // then each field's, merged as they are made.
            merger = Merger::default();
            for family in self.own_families(files, &errors, retired_files, started) {
                merger.add_reserved(family);
            }
            for (labels, ledger) in &ledgers.groups {
                // Each group is read once more, here: its files are given up.
                let group = grouped.remove(labels).unwrap_or_default();
                let combined = aggregate_owned(group, self.options.mode, ledger.retired());
                let meta = ledgers.counter_meta.get(labels);
                let shared: Labels = labels.as_slice().into();
                for field in &combined.fields {
                    let field = &field.field;
                    // A counter held only by files gone has its name's
                    // last unit and help.
                    let bare = matches!(field.value, FieldValue::Counter(_))
                        && field.unit.is_empty()
                        && field.description.is_empty();
                    let held = match meta.filter(|_| bare).and_then(|m| m.get(&field.name)) {
                        Some((unit, description)) => Some(mmstats::Field {
                            unit: unit.clone(),
                            description: description.clone(),
                            ..field.clone()
                        }),
                        _ => None,
                    };
                    merger.add_field(held.as_ref().unwrap_or(field), &shared, &self.options.names);
                }
            }
        }
        let (mut merged, dropped) = merger.finish();
        let cut = limit_series(&mut merged, self.options.max_series_per_family.max(1));
        self.log_cuts(&cut);
        // The dropped counts are known only after merging and cutting:
        // fill them in.
        let dropped_series: usize = cut.iter().map(|c| c.dropped).sum();
        for family in &mut merged {
            match family.name.as_str() {
                "mmdump_serve_dropped_families" => {
                    if let Some(metric) = family.metrics.first_mut() {
                        metric.value = MetricValue::Gauge(Number::Int(dropped.len() as i128));
                    }
                }
                "mmdump_serve_dropped_series" => {
                    if let Some(metric) = family.metrics.first_mut() {
                        metric.value = MetricValue::Gauge(Number::Int(dropped_series as i128));
                    }
                }
                "mmdump_serve_family_dropped_series" => {
                    // One series per family cut, itself bounded.
                    family.metrics = cut
                        .iter()
                        .take(self.options.max_series_per_family.max(1))
                        .map(|c| Metric {
                            labels: Labels::from([("family".to_owned(), c.family.clone())]),
                            value: MetricValue::Gauge(Number::Int(c.dropped as i128)),
                        })
                        .collect();
                }
                _ => {}
            }
        }
        Scrape {
            families: merged,
            errors,
            dropped,
            cut,
            files,
            retired_files,
        }
    }

    /// Logs (to stderr) each family cut by the series bound, once per
    /// family name for as long as the exporter runs.
    fn log_cuts(&self, cut: &[SeriesCut]) {
        if cut.is_empty() {
            return;
        }
        let mut logged = self
            .logged_cuts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (names, overflowed) = &mut *logged;
        for c in cut {
            if names.contains(&c.family) {
                continue;
            }
            if names.len() == MAX_LOGGED_FAMILIES {
                if !*overflowed {
                    *overflowed = true;
                    eprintln!(
                        "mmdump: more than {MAX_LOGGED_FAMILIES} families exceed --max-series-per-family; further ones are not named here (see mmdump_serve_family_dropped_series)"
                    );
                }
                return;
            }
            eprintln!(
                "mmdump: family {} has {} label sets; exporting the first {} (--max-series-per-family), {} left out and counted in mmdump_serve_family_dropped_series",
                c.family,
                c.had,
                c.had - c.dropped,
                c.dropped
            );
            names.insert(c.family.clone());
        }
    }

    /// The exporter's own families.
    fn own_families(
        &self,
        files: usize,
        errors: &[(PathBuf, String)],
        retired_files: usize,
        started: Instant,
    ) -> Vec<Family> {
        let gauge = |name: &str, help: &str, value: Number| Family {
            name: name.to_owned(),
            kind: MetricType::Gauge,
            unit: name.ends_with("_seconds").then_some("seconds"),
            help: help.to_owned(),
            metrics: vec![Metric {
                labels: Labels::from([]),
                value: MetricValue::Gauge(value),
            }],
        };
        let count = |n: usize| Number::Int(n as i128);
        vec![
            gauge(
                "mmdump_serve_files",
                "Stats files read by this scrape.",
                count(files),
            ),
            gauge(
                "mmdump_serve_file_errors",
                "Stats files (or fields of files) that could not be read by this scrape.",
                count(errors.len()),
            ),
            Family {
                name: "mmdump_serve_file_error".to_owned(),
                kind: MetricType::Info,
                unit: None,
                help: "A stats file (or a field of one) that could not be read, and why."
                    .to_owned(),
                metrics: errors
                    .iter()
                    .map(|(path, error)| Metric {
                        labels: Labels::from([
                            ("path".to_owned(), path.display().to_string()),
                            ("error".to_owned(), error.clone()),
                        ]),
                        value: MetricValue::Info,
                    })
                    .collect(),
            },
            gauge(
                "mmdump_serve_retired_files",
                "Stats files gone whose last counter values are kept in the sums.",
                count(retired_files),
            ),
            gauge(
                "mmdump_serve_dropped_families",
                "Metric families left out because their name clashed and none of the names the clash rule gives was free (see docs/SERVE.md).",
                count(0),
            ),
            gauge(
                "mmdump_serve_dropped_series",
                "Label sets left out by this scrape because their family had more than --max-series-per-family.",
                count(0),
            ),
            Family {
                name: "mmdump_serve_family_dropped_series".to_owned(),
                kind: MetricType::Gauge,
                unit: None,
                help: "Per family over --max-series-per-family: the label sets left out by this scrape."
                    .to_owned(),
                metrics: Vec::new(),
            },
            gauge(
                "mmdump_serve_scrape_duration_seconds",
                "Time this scrape took to read the stats files.",
                Number::Float(started.elapsed().as_secs_f64()),
            ),
        ]
    }

    /// A scrape, encoded in `format`.
    pub fn render(&self, query: &Selection, key: &str, format: Format) -> String {
        encode(&self.scrape(query, key).families, format)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::serve::prometheus::NameOptions;

    fn value_of(scrape: &Scrape, family: &str) -> Option<MetricValue> {
        scrape
            .families
            .iter()
            .find(|f| f.name == family)
            .and_then(|f| f.metrics.first())
            .map(|m| m.value.clone())
    }

    #[test]
    fn a_counter_of_a_vanished_file_keeps_its_name_and_value() {
        use mmstats::{FieldSpec, StatsFile, Unit};
        let dir = tempfile::tempdir().unwrap();
        let exporter = Exporter::new(
            vec![dir.path().to_owned()],
            Selection::default(),
            MetricsOptions {
                names: NameOptions {
                    namespace: "mmstats".into(),
                    strings: true,
                },
                pid_label: false,
                thread_label: false,
                mode: AggregateMode::Sum,
                max_series_per_family: crate::serve::metrics::DEFAULT_MAX_SERIES_PER_FAMILY,
            },
        );
        let everything = Selection::default();
        let first = StatsFile::builder("a").dir(dir.path()).create().unwrap();
        let second = StatsFile::builder("b").dir(dir.path()).create().unwrap();
        for (file, ms) in [(&first, 1500), (&second, 500)] {
            file.counter(
                FieldSpec::new("busy")
                    .unit(Unit::Milliseconds)
                    .describe("time busy"),
            )
            .unwrap()
            .add(ms);
        }
        let both = exporter.scrape(&everything, "");
        assert_eq!(
            value_of(&both, "mmstats_busy_seconds"),
            Some(MetricValue::Counter(Number::Float(2.0)))
        );
        drop(second);
        let one = exporter.scrape(&everything, "");
        assert_eq!(
            value_of(&one, "mmstats_busy_seconds"),
            Some(MetricValue::Counter(Number::Float(2.0))),
            "the exited file's count stays in the sum"
        );
        assert_eq!(one.retired_files, 1);
        drop(first);
        let none = exporter.scrape(&everything, "");
        assert_eq!(none.files, 0);
        let family = none
            .families
            .iter()
            .find(|f| f.name == "mmstats_busy_seconds")
            .expect("same name and unit conversion with no file left");
        assert!(family.help.starts_with("time busy"), "{}", family.help);
        assert_eq!(
            family.metrics[0].value,
            MetricValue::Counter(Number::Float(2.0))
        );
        // Another filter set has its own ledger: it never saw the files.
        let other = exporter.scrape(&everything, "include=x");
        assert!(value_of(&other, "mmstats_busy_seconds").is_none());
    }

    #[test]
    fn label_sets_are_series_summed_per_set_and_bounded() {
        use mmstats::{FieldSpec, StatsFile};
        let dir = tempfile::tempdir().unwrap();
        let exporter = Exporter::new(
            vec![dir.path().to_owned()],
            Selection::default(),
            MetricsOptions {
                names: NameOptions {
                    namespace: "mmstats".into(),
                    strings: true,
                },
                pid_label: false,
                thread_label: false,
                mode: AggregateMode::Sum,
                max_series_per_family: 3,
            },
        );
        let everything = Selection::default();
        // Two files of one program: connections 1 and 2 in the first, 2
        // to 5 in the second.
        let first = StatsFile::builder("a").dir(dir.path()).create().unwrap();
        let second = StatsFile::builder("b").dir(dir.path()).create().unwrap();
        let mut held = [Vec::new(), Vec::new()];
        for (at, file, conns) in [(0, &first, 1..=2), (1, &second, 2..=5)] {
            for conn in conns {
                let id = conn.to_string();
                let view = file.dynamic_labels(&[("conn", &id)]).unwrap();
                let counter = view.counter(FieldSpec::new("conn.bytes")).unwrap();
                counter.add(conn * 10);
                held[at].push((view, counter));
            }
        }
        let series = |scrape: &Scrape| -> Vec<(String, MetricValue)> {
            scrape
                .families
                .iter()
                .find(|f| f.name == "mmstats_conn_bytes")
                .map(|f| {
                    f.metrics
                        .iter()
                        .map(|m| {
                            assert_eq!(m.labels[0].0, "program");
                            (m.labels[1].1.clone(), m.value.clone())
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let gauge = |scrape: &Scrape, name: &str| value_of(scrape, name);
        let counter = |n: i128| MetricValue::Counter(Number::Int(n));
        let scrape = exporter.scrape(&everything, "");
        assert_eq!(
            series(&scrape),
            vec![
                ("1".into(), counter(10)),
                ("2".into(), counter(40)),
                ("3".into(), counter(30)),
            ],
            "summed per label set, the first 3 sets kept"
        );
        assert_eq!(
            scrape.cut,
            vec![SeriesCut {
                family: "mmstats_conn_bytes".into(),
                had: 5,
                dropped: 2
            }]
        );
        assert_eq!(
            gauge(&scrape, "mmdump_serve_dropped_series"),
            Some(MetricValue::Gauge(Number::Int(2)))
        );
        let per_family = scrape
            .families
            .iter()
            .find(|f| f.name == "mmdump_serve_family_dropped_series")
            .unwrap();
        assert_eq!(
            per_family.metrics[0].labels[..],
            [("family".to_owned(), "mmstats_conn_bytes".to_owned())]
        );
        assert_eq!(
            per_family.metrics[0].value,
            MetricValue::Gauge(Number::Int(2))
        );
        assert_eq!(
            gauge(&scrape, "mmdump_serve_dropped_families"),
            Some(MetricValue::Gauge(Number::Int(0)))
        );
        // Logged once per family, however many scrapes.
        exporter.scrape(&everything, "");
        assert_eq!(exporter.logged_cuts.lock().unwrap().0.len(), 1);

        // The second file goes: its connections' counts stay, each in
        // its own series.
        let [_, second_held] = held;
        drop(second_held);
        drop(second);
        let after = exporter.scrape(&everything, "");
        assert_eq!(after.retired_files, 1);
        assert_eq!(
            series(&after),
            vec![
                ("1".into(), counter(10)),
                ("2".into(), counter(40)),
                ("3".into(), counter(30)),
            ]
        );
        assert_eq!(after.cut[0].had, 5, "4 and 5 held by the ledger");
    }

    #[test]
    fn file_names_give_program_pid_and_thread() {
        assert_eq!(
            name_parts(Path::new("/x/mmstats-demo-13111-13113-worker.mmstats")),
            ("mmstats-demo".to_owned(), Some(13111), Some(13113))
        );
        assert_eq!(
            name_parts(Path::new("/x/web-1-2.mmstats")),
            ("web".to_owned(), Some(1), Some(2))
        );
        assert_eq!(
            name_parts(Path::new("/x/odd.mmstats")),
            ("odd".to_owned(), None, None)
        );
        assert_eq!(
            name_parts(Path::new("/dev/shm/mmstats.web-7-8-main")),
            ("mmstats.web".to_owned(), Some(7), Some(8))
        );
    }
}
