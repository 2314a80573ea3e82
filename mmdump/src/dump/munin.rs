//! `mmdump munin`: a munin plugin.
//!
//! Symlink the `mmdump` binary into munin's plugin directory under a name
//! `mmstats_SELECTOR`; munin runs it with `config` (the graph's
//! description) or with no argument (fetch: the values). `SELECTOR` names
//! the subtree of field names to graph, its levels separated by a double
//! underscore, since munin plugin names cannot hold dots:
//!
//! | plugin name | graphs |
//! |---|---|
//! | `mmstats_` | every numeric field |
//! | `mmstats_web` | `web` and everything below it (`web.requests`, `web.stats.status.2XX`) |
//! | `mmstats_worker__status` | `worker.status.*` (`worker.status.2XX`, …) |
//! | `mmstats_web__bytes_out` | `web.bytes_out` |
//!
//! Values of every selected file are combined (`sum` by default, see
//! [`super::aggregate`]); counters become munin `DERIVE` fields with
//! minimum 0 (munin graphs their rate), everything else numeric a `GAUGE`.
//! Munin reads numbers only: a field is graphed only if it has one
//! (averages and histograms their mean, `U` while empty; bools 0 or 1);
//! strings, timestamps and event rings are left out.
//!
//! **A stable set of fields.** Munin keeps one RRD file per field and
//! expects `config` and fetch to list the same fields, run after run.
//! Fields told apart only by their labels (format 2.2: per-connection
//! fields such as `web.conn.bytes_in{conn="1234"}`) are therefore combined
//! across label values into one munin field per name, with the same rule
//! as files (counters summed, gauges by `aggregate`). A **bool** combined
//! is never above 1: with `sum` or `max` it is 1 when any is true, with
//! `min` when all are, with `avg` the share that is. With the setting
//! `graph_per_label KEY` (and a munin that announces multigraph support,
//! `MUNIN_CAP_MULTIGRAPH=1`), the plugin also writes one graph below the
//! combined one per value of the label `KEY` (`mmstats_web.status_200`),
//! for labels with few values (a status code, a shard), not per
//! connection. When munin announces `MUNIN_CAP_DIRTYCONFIG=1`, `config`
//! also prints the values from the same read, so the two cannot differ. Settings come from munin's plugin
//! configuration as environment variables: `MMSTATS_DIR` (where the files
//! are), `paths` (files, directories or wildcards, space-separated,
//! instead), `include` and `exclude` (extra name patterns), `files` (file
//! name wildcards), `aggregate` (`sum`, `avg`, `min`, `max`), `title`,
//! `category` (default `mmstats`), `graph_per_label` (a label key).
//!
//! When munin gives the plugin a state directory (`MUNIN_PLUGSTATE`), the
//! plugin keeps a [`CounterLedger`] there, so that summed counters do not
//! go backwards when a process exits between two fetches: the last values
//! it saw of a vanished file stay in the sums.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::glob::NamePattern;
use mmstats::{Field, FieldValue, FileStats};

use super::aggregate::{Aggregate, AggregateMode, CounterLedger, aggregate};
use super::select::Selection;
use super::{Report, collect_selected, discover};

/// What munin asks of a plugin (its first argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MuninCommand {
    /// No argument: print the values.
    Fetch,
    /// `config`: describe the graph.
    Config,
    /// `autoconf`: say whether the plugin can work here.
    Autoconf,
    /// `suggest`: list plugin-name suffixes worth linking.
    Suggest,
}

/// Why munin's command or the plugin's name and settings were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MuninError {
    /// A command other than config, autoconf, suggest or none.
    UnknownCommand {
        /// The command given.
        command: String,
    },
    /// `include` names nothing under the plugin name's subtree.
    IncludeOutsideSubtree {
        /// The `include` setting.
        include: String,
        /// The subtree the plugin's name selects.
        subtree: String,
    },
    /// An `aggregate` setting that names no mode.
    UnknownAggregation {
        /// The setting.
        text: String,
    },
    /// `aggregate per-file`: munin wants a fixed set of fields.
    PerFile,
    /// `graph_per_label` that is no label key.
    BadLabelKey {
        /// The setting.
        key: String,
    },
    /// `graph_per_label` while munin does not announce multigraph support.
    NoMultigraph,
}

impl fmt::Display for MuninError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownCommand { command } => write!(
                f,
                "unknown munin command {command:?} (config, autoconf, suggest, or none to fetch)"
            ),
            Self::IncludeOutsideSubtree { include, subtree } => {
                write!(f, "include ({include}) selects nothing under {subtree}")
            }
            Self::UnknownAggregation { text } => write!(
                f,
                "unknown aggregation {text:?} (sum, avg, min, max, per-file)"
            ),
            Self::PerFile => f.write_str(
                "aggregate per-file does not suit munin (files come and go); use sum, avg, min or max",
            ),
            Self::BadLabelKey { key } => write!(
                f,
                "graph_per_label {key:?} is not a label key (letters, digits and _, not starting with a digit)"
            ),
            Self::NoMultigraph => f.write_str(
                "graph_per_label needs a munin with multigraph support (MUNIN_CAP_MULTIGRAPH=1 is not set)",
            ),
        }
    }
}

impl std::error::Error for MuninError {}

impl std::str::FromStr for MuninCommand {
    type Err = MuninError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "" | "fetch" => Ok(Self::Fetch),
            "config" => Ok(Self::Config),
            "autoconf" => Ok(Self::Autoconf),
            "suggest" => Ok(Self::Suggest),
            other => Err(MuninError::UnknownCommand {
                command: other.to_owned(),
            }),
        }
    }
}

/// The prefix of plugin names that select this plugin.
pub const PLUGIN_PREFIX: &str = "mmstats_";

/// A configured plugin.
#[derive(Clone, Debug)]
pub struct MuninPlugin {
    /// The plugin's name (`mmstats_web__status`).
    pub name: String,
    /// The subtree its name selects (`None`: everything).
    pub subtree: Option<String>,
    /// Where the files are.
    pub inputs: Vec<PathBuf>,
    /// Filters: the subtree, plus the `include`/`exclude`/`files` settings.
    pub selection: Selection,
    /// How files are combined.
    pub mode: AggregateMode,
    /// Graph title.
    pub title: String,
    /// Graph category.
    pub category: String,
    /// One more graph per value of this label (`graph_per_label`).
    pub graph_per_label: Option<String>,
    /// Whether `config` also prints the values (`MUNIN_CAP_DIRTYCONFIG`).
    pub dirty_config: bool,
}

/// The subtree a plugin name selects: `mmstats_worker__status` gives
/// `worker.status`, `mmstats_` gives `None`.
#[must_use]
pub fn subtree_of(plugin_name: &str) -> Option<String> {
    let selector = plugin_name
        .strip_prefix(PLUGIN_PREFIX)
        .unwrap_or(plugin_name);
    (!selector.is_empty()).then(|| selector.replace("__", "."))
}

/// The plugin-name suffix that selects `subtree` (`worker.status` gives
/// `worker__status`).
#[must_use]
pub fn selector_of(subtree: &str) -> String {
    subtree.replace('.', "__")
}

impl MuninPlugin {
    /// The plugin called `name`, configured from the environment `env`
    /// gives (see the module docs).
    pub fn new(name: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, MuninError> {
        let subtree = subtree_of(name);
        let words = |var: &str| -> Vec<String> {
            env(var)
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let mut selection = Selection {
            include: words("include")
                .iter()
                .map(|p| NamePattern::new(p))
                .collect(),
            exclude: words("exclude")
                .iter()
                .map(|p| NamePattern::new(p))
                .collect(),
            files: words("files"),
            pids: Vec::new(),
        };
        if let Some(subtree) = &subtree {
            // The name's subtree narrows whatever `include` says: both must
            // select a field.
            if selection.include.is_empty() {
                selection.include.push(NamePattern::new(subtree));
            } else {
                let include = std::mem::take(&mut selection.include);
                selection.include = include
                    .into_iter()
                    .filter(|p| {
                        // Keep patterns inside the subtree; a pattern above it
                        // is narrowed to the subtree itself.
                        NamePattern::new(subtree).selects(p.as_str()) || p.selects(subtree)
                    })
                    .map(|p| {
                        if p.selects(subtree) {
                            NamePattern::new(subtree)
                        } else {
                            p
                        }
                    })
                    .collect();
                if selection.include.is_empty() {
                    return Err(MuninError::IncludeOutsideSubtree {
                        include: words("include").join(" "),
                        subtree: subtree.clone(),
                    });
                }
            }
        }
        let mode = match env("aggregate") {
            Some(text) => text
                .parse::<AggregateMode>()
                .map_err(|_| MuninError::UnknownAggregation { text })?,
            None => AggregateMode::Sum,
        };
        if mode == AggregateMode::PerFile {
            return Err(MuninError::PerFile);
        }
        let inputs: Vec<PathBuf> = words("paths").into_iter().map(PathBuf::from).collect();
        let graph_per_label = env("graph_per_label")
            .map(|key| key.trim().to_owned())
            .filter(|key| !key.is_empty());
        if let Some(key) = &graph_per_label {
            if !mmstats_nostd::labels::is_valid_key(key) {
                return Err(MuninError::BadLabelKey { key: key.clone() });
            }
            if env("MUNIN_CAP_MULTIGRAPH").as_deref() != Some("1") {
                return Err(MuninError::NoMultigraph);
            }
        }
        Ok(Self {
            graph_per_label,
            dirty_config: env("MUNIN_CAP_DIRTYCONFIG").as_deref() == Some("1"),
            name: name.to_owned(),
            title: env("title").unwrap_or_else(|| {
                format!("mmstats {}", subtree.as_deref().unwrap_or("(all fields)"))
            }),
            category: env("category").unwrap_or_else(|| "mmstats".into()),
            subtree,
            inputs,
            selection,
            mode,
        })
    }

    /// Runs `command`, writing what munin reads to `out`.
    pub fn run(
        &self,
        command: MuninCommand,
        state_dir: Option<&Path>,
        out: &mut impl Write,
    ) -> io::Result<Report> {
        match command {
            MuninCommand::Autoconf => {
                let (paths, errors) = discover(&self.inputs);
                if let (true, Some((path, error))) = (paths.is_empty(), errors.first()) {
                    writeln!(out, "no ({}: {error})", path.display())?;
                } else if paths.is_empty() {
                    writeln!(out, "no (no mmstats files in {})", self.where_files_are())?;
                } else {
                    writeln!(out, "yes")?;
                }
                Ok(Report::default())
            }
            MuninCommand::Suggest => {
                let report = collect_selected(&self.inputs, &Selection::everything());
                for suggestion in suggestions(&report) {
                    writeln!(out, "{suggestion}")?;
                }
                Ok(report)
            }
            MuninCommand::Config | MuninCommand::Fetch => {
                let report = collect_selected(&self.inputs, &self.selection);
                let config = command == MuninCommand::Config;
                let values = !config || self.dirty_config;
                // The ledger is brought up to date by the reads whose
                // values munin stores.
                let state_dir = if values { state_dir } else { None };
                for graph in self.graphs(&report) {
                    let combined = self.combine(&graph.files, &report, state_dir, &graph.suffix);
                    if let Some(name) = &graph.multigraph {
                        writeln!(out, "multigraph {name}")?;
                    }
                    if config {
                        self.write_config(out, &combined, graph.title.as_deref())?;
                    }
                    if values {
                        for (_, id, value) in graphed(&combined) {
                            writeln!(out, "{id}.value {value}")?;
                        }
                    }
                }
                Ok(report)
            }
        }
    }

    fn where_files_are(&self) -> String {
        if self.inputs.is_empty() {
            mmstats::default_dir().display().to_string()
        } else {
            self.inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }
    }

    /// The graphs to write: the combined one, then (with
    /// `graph_per_label`) one per value of that label, each with the
    /// files' fields it shows, label values merged.
    fn graphs(&self, report: &Report) -> Vec<Graph> {
        let mut graphs = vec![Graph {
            multigraph: self.graph_per_label.as_ref().map(|_| self.name.clone()),
            title: None,
            suffix: String::new(),
            files: report
                .files
                .iter()
                .map(|f| merge_label_values(f, self.mode, |_| true))
                .collect(),
        }];
        let Some(key) = &self.graph_per_label else {
            return graphs;
        };
        let values: std::collections::BTreeSet<&str> = report
            .files
            .iter()
            .flat_map(|f| &f.fields)
            .filter_map(|f| f.labels.get(key))
            .collect();
        for value in values {
            let id = munin_field_name(value);
            graphs.push(Graph {
                multigraph: Some(format!(
                    "{}.{key}_{}",
                    self.name,
                    id.trim_start_matches('_')
                )),
                title: Some(format!("{} {key}={value}", self.title)),
                suffix: format!(".{key}_{id}"),
                files: report
                    .files
                    .iter()
                    .map(|f| {
                        merge_label_values(f, self.mode, |field| {
                            field.labels.get(key) == Some(value)
                        })
                    })
                    .collect(),
            });
        }
        graphs
    }

    /// Combines `files`, through the ledger kept in `state_dir` if any
    /// (one per graph: `suffix` tells them apart).
    fn combine(
        &self,
        files: &[FileStats],
        report: &Report,
        state_dir: Option<&Path>,
        suffix: &str,
    ) -> Aggregate {
        let files: Vec<&FileStats> = files.iter().collect();
        let bools = bool_names(&files);
        let Some(dir) = state_dir else {
            let mut combined = aggregate(&files, self.mode, &Default::default());
            cap_bools(&mut combined, &bools, self.mode);
            return combined;
        };
        let state = dir.join(format!("{}{suffix}.mmstats-ledger.json", self.name));
        let mut ledger: CounterLedger = fs::read(&state)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        for file in &files {
            ledger.observe(file);
        }
        for (path, _) in &report.errors {
            ledger.keep_path(path);
        }
        ledger.finish();
        // Losing the state only loses continuity, never values: ignore
        // failures to save it.
        let _ = save_state(&state, &ledger);
        let mut combined = aggregate(&files, self.mode, ledger.retired());
        cap_bools(&mut combined, &bools, self.mode);
        combined
    }

    fn write_config(
        &self,
        out: &mut impl Write,
        combined: &Aggregate,
        title: Option<&str>,
    ) -> io::Result<()> {
        let fields: Vec<(&Field, String)> = graphed(combined)
            .into_iter()
            .map(|(field, id, _)| (field, id))
            .collect();
        let all_counters = !fields.is_empty()
            && fields
                .iter()
                .all(|(f, _)| matches!(f.value, FieldValue::Counter(_)));
        let bytes = !fields.is_empty() && fields.iter().all(|(f, _)| f.unit == "bytes");
        writeln!(
            out,
            "graph_title {}",
            one_line(title.unwrap_or(&self.title))
        )?;
        writeln!(out, "graph_category {}", one_line(&self.category))?;
        writeln!(
            out,
            "graph_args --base {}{}",
            if bytes { 1024 } else { 1000 },
            if all_counters { " -l 0" } else { "" }
        )?;
        let unit = fields
            .first()
            .map(|(f, _)| f.unit.clone())
            .filter(|u| !u.is_empty() && fields.iter().all(|(f, _)| f.unit == *u));
        let vlabel = match (all_counters, unit) {
            (true, Some(unit)) => format!("{unit} per ${{graph_period}}"),
            (true, None) => "per ${graph_period}".to_owned(),
            (false, Some(unit)) => unit,
            (false, None) => "value".to_owned(),
        };
        writeln!(out, "graph_vlabel {}", one_line(&vlabel))?;
        writeln!(
            out,
            "graph_info Fields {} of the mmstats files in {}, {} over {} file{}.",
            one_line(self.subtree.as_deref().unwrap_or("(all)")),
            one_line(&self.where_files_are()),
            if self.mode == AggregateMode::Sum {
                "summed".to_owned()
            } else {
                format!("counters summed, gauges by {}", self.mode)
            },
            combined.file_count,
            if combined.file_count == 1 { "" } else { "s" }
        )?;
        for (field, id) in &fields {
            let label = self
                .subtree
                .as_deref()
                .and_then(|s| field.name.strip_prefix(s))
                .and_then(|rest| rest.strip_prefix('.'))
                .unwrap_or(&field.name);
            writeln!(out, "{id}.label {}", one_line(label))?;
            if matches!(field.value, FieldValue::Counter(_)) {
                writeln!(out, "{id}.type DERIVE")?;
                writeln!(out, "{id}.min 0")?;
            } else {
                writeln!(out, "{id}.type GAUGE")?;
            }
            let mut info = format!("{} ({})", field.name, field.value.kind_name());
            if !field.description.is_empty() {
                info = format!("{info}: {}", field.description);
            }
            writeln!(out, "{id}.info {}", one_line(&info))?;
        }
        Ok(())
    }
}

/// One graph: the files' fields it shows.
struct Graph {
    /// `multigraph` name, when the plugin writes more than one graph.
    multigraph: Option<String>,
    /// Title, if not the plugin's.
    title: Option<String>,
    /// Tells the graph's ledger file apart.
    suffix: String,
    /// The files, each with only the fields of this graph and its label
    /// values merged.
    files: Vec<FileStats>,
}

/// `file` with only the fields `keep` selects, and fields of one name told
/// apart only by labels merged into one (labels dropped) by `mode`, as
/// files are combined: the stable set of names munin needs.
fn merge_label_values(
    file: &FileStats,
    mode: AggregateMode,
    keep: impl Fn(&Field) -> bool,
) -> FileStats {
    let mut out = file.clone();
    out.fields.clear();
    let mut labelled = file.clone();
    labelled.fields.clear();
    for field in &file.fields {
        if !keep(field) {
            continue;
        }
        if field.labels.is_empty() {
            out.fields.push(field.clone());
        } else {
            let mut bare = field.clone();
            bare.labels = mmstats_nostd::Labels::new();
            labelled.fields.push(bare);
        }
    }
    if !labelled.fields.is_empty() {
        // Bools merged by `aggregate` under `sum` are a count of trues;
        // make each file's merged bool a bool again first.
        let bools = bool_names(&[&labelled]);
        let mut merged = aggregate(&[&labelled], mode, &Default::default());
        cap_bools(&mut merged, &bools, mode);
        for (name, value) in merged
            .fields
            .iter()
            .map(|f| (&f.field.name, &f.field.value))
        {
            if bools.contains(name.as_str())
                && let FieldValue::Gauge(n) = value
            {
                let mut field = merged_field(&merged, name);
                field.value = FieldValue::Bool(*n > 0);
                out.fields.push(field);
            } else {
                out.fields.push(merged_field(&merged, name));
            }
        }
    }
    out
}

fn merged_field(merged: &Aggregate, name: &str) -> Field {
    merged
        .fields
        .iter()
        .find(|f| f.field.name == name)
        .map(|f| f.field.clone())
        .expect("the name comes from these fields")
}

/// Names of fields that are bools in any of `files`.
fn bool_names(files: &[&FileStats]) -> std::collections::HashSet<String> {
    files
        .iter()
        .flat_map(|f| &f.fields)
        .filter(|f| matches!(f.value, FieldValue::Bool(_)))
        .map(|f| f.name.clone())
        .collect()
}

/// A bool combined is never above 1: `sum` (a count of trues) becomes
/// whether any is true, as `max`.
fn cap_bools(
    combined: &mut Aggregate,
    bools: &std::collections::HashSet<String>,
    mode: AggregateMode,
) {
    if !matches!(mode, AggregateMode::Sum | AggregateMode::PerFile) {
        return;
    }
    for field in &mut combined.fields {
        if bools.contains(&field.field.name)
            && let FieldValue::Gauge(n) = field.field.value
        {
            field.field.value = FieldValue::Bool(n > 0);
        }
    }
}

/// The fields a graph shows (those with a number), with their munin field
/// names and values: the name with every character outside
/// `[A-Za-z0-9_]` made `_` (and a leading digit prefixed by `_`), made
/// unique by a `_2`, `_3` … suffix in order of appearance.
fn graphed(combined: &Aggregate) -> Vec<(&Field, String, String)> {
    let mut used: HashMap<String, usize> = HashMap::new();
    combined
        .fields
        .iter()
        .map(|f| &f.field)
        .filter_map(|field| munin_value(&field.value).map(|value| (field, value)))
        .map(|(field, value)| {
            let base = munin_field_name(&field.name);
            let n = used.entry(base.clone()).or_insert(0);
            *n += 1;
            let id = if *n == 1 { base } else { format!("{base}_{n}") };
            (field, id, value)
        })
        .collect()
}

/// A munin field name for a field name.
#[must_use]
pub fn munin_field_name(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        id.insert(0, '_');
    }
    id
}

/// A value as munin reads it: a number, `U` (unknown) for an empty mean
/// or a float that is not finite; `None` for a field without a number
/// (strings, timestamps, event rings), which is not graphed.
#[allow(clippy::cast_precision_loss)] // munin stores doubles
fn munin_value(value: &FieldValue) -> Option<String> {
    let number = |f: f64| {
        if f.is_finite() {
            f.to_string()
        } else {
            "U".to_owned()
        }
    };
    let mean = |sum: f64, count: u64| {
        if count == 0 {
            "U".to_owned()
        } else {
            number(sum / count as f64)
        }
    };
    Some(match value {
        FieldValue::Counter(v) | FieldValue::UInt(v) => v.to_string(),
        FieldValue::Gauge(v) | FieldValue::Int(v) => v.to_string(),
        FieldValue::Float(f) => number(*f),
        FieldValue::Bool(b) => u8::from(*b).to_string(),
        FieldValue::Average { sum, count }
        | FieldValue::MovingAverage { sum, count, .. }
        | FieldValue::WindowAverage { sum, count, .. } => mean(*sum, *count),
        FieldValue::Histogram(h) => mean(h.sum as f64, h.count),
        FieldValue::Text(_) | FieldValue::Timestamp(_) | FieldValue::EventRing { .. } => {
            return None;
        }
    })
}

/// Text on one line (munin's protocol is line-based).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Plugin-name suffixes worth linking: every first and second level of the
/// names of numeric fields, but `sys`.
fn suggestions(report: &Report) -> Vec<String> {
    let mut found = std::collections::BTreeSet::new();
    for field in report.files.iter().flat_map(|f| &f.fields) {
        if matches!(field.value, FieldValue::Text(_) | FieldValue::Timestamp(_)) {
            continue;
        }
        let levels: Vec<&str> = field.name.split('.').collect();
        // sys.pid, sys.uid ... identify writers; nothing to graph.
        if levels[0] == "sys" {
            continue;
        }
        for depth in 1..levels.len().min(3) {
            let subtree = levels[..depth].join(".");
            let selector = selector_of(&subtree);
            if selector
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                found.insert(selector);
            }
        }
    }
    found.into_iter().collect()
}

/// Writes the ledger next to `path` and renames it into place.
fn save_state(path: &Path, ledger: &CounterLedger) -> io::Result<()> {
    let temp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&temp)?;
    let written = file
        .write_all(&serde_json::to_vec(ledger).map_err(io::Error::other)?)
        .and_then(|()| fs::rename(&temp, path));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(name: &str, env: &[(&str, &str)]) -> Result<MuninPlugin, MuninError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        MuninPlugin::new(name, |k| env.get(k).cloned())
    }

    #[test]
    fn plugin_names_select_subtrees() {
        assert_eq!(subtree_of("mmstats_"), None);
        assert_eq!(subtree_of("mmstats_web").as_deref(), Some("web"));
        assert_eq!(
            subtree_of("mmstats_worker__status").as_deref(),
            Some("worker.status")
        );
        assert_eq!(
            subtree_of("mmstats_web__bytes_out").as_deref(),
            Some("web.bytes_out")
        );
        assert_eq!(selector_of("worker.status"), "worker__status");
        let p = plugin("mmstats_worker__status", &[]).unwrap();
        assert!(p.selection.name_selected("worker.status.2XX"));
        assert!(!p.selection.name_selected("worker.requests"));
        assert_eq!(p.mode, AggregateMode::Sum);
    }

    #[test]
    fn settings_narrow_and_check() {
        let p = plugin(
            "mmstats_worker",
            &[("include", "worker.status.* web.x"), ("aggregate", "max")],
        )
        .unwrap();
        assert!(p.selection.name_selected("worker.status.2XX"));
        assert!(!p.selection.name_selected("worker.requests"));
        assert!(!p.selection.name_selected("web.x"));
        assert_eq!(p.mode, AggregateMode::Max);
        let outside = plugin("mmstats_worker", &[("include", "web")]).unwrap_err();
        assert_eq!(
            outside.to_string(),
            "include (web) selects nothing under worker"
        );
        assert_eq!(
            plugin("mmstats_", &[("aggregate", "per-file")]).unwrap_err(),
            MuninError::PerFile
        );
        assert_eq!(
            plugin("mmstats_", &[("aggregate", "median")]).unwrap_err(),
            MuninError::UnknownAggregation {
                text: "median".into()
            }
        );
        assert!(matches!(
            "fletch".parse::<MuninCommand>(),
            Err(MuninError::UnknownCommand { .. })
        ));
    }

    #[test]
    fn only_numbers_reach_munin() {
        assert_eq!(munin_value(&FieldValue::Counter(3)).as_deref(), Some("3"));
        assert_eq!(munin_value(&FieldValue::Bool(true)).as_deref(), Some("1"));
        assert_eq!(
            munin_value(&FieldValue::Float(f64::NAN)).as_deref(),
            Some("U")
        );
        assert_eq!(
            munin_value(&FieldValue::Average { sum: 3.0, count: 2 }).as_deref(),
            Some("1.5")
        );
        assert_eq!(
            munin_value(&FieldValue::Average { sum: 0.0, count: 0 }).as_deref(),
            Some("U")
        );
        for no_number in [
            FieldValue::Text("x".into()),
            FieldValue::Timestamp(5),
            FieldValue::EventRing {
                appended: 237,
                capacity: 256,
                payload_words: 2,
            },
        ] {
            assert_eq!(munin_value(&no_number), None, "{no_number:?}");
        }
    }

    #[test]
    fn plugin_settings_for_label_graphs_are_checked() {
        assert_eq!(
            plugin("mmstats_", &[("graph_per_label", "status")]).unwrap_err(),
            MuninError::NoMultigraph
        );
        assert!(matches!(
            plugin(
                "mmstats_",
                &[("graph_per_label", "2x"), ("MUNIN_CAP_MULTIGRAPH", "1")]
            ),
            Err(MuninError::BadLabelKey { .. })
        ));
        let p = plugin(
            "mmstats_",
            &[("graph_per_label", "status"), ("MUNIN_CAP_MULTIGRAPH", "1")],
        )
        .unwrap();
        assert_eq!(p.graph_per_label.as_deref(), Some("status"));
    }

    #[test]
    fn field_names_suit_munin() {
        assert_eq!(munin_field_name("worker.status.2XX"), "worker_status_2XX");
        assert_eq!(munin_field_name("2XX"), "_2XX");
        assert_eq!(munin_field_name("a-b.c"), "a_b_c");
    }
}
