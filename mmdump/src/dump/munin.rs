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
//! minimum 0 (munin graphs their rate), everything else numeric a `GAUGE`;
//! strings and timestamps are left out. Settings come from munin's plugin
//! configuration as environment variables: `MMSTATS_DIR` (where the files
//! are), `paths` (files, directories or wildcards, space-separated,
//! instead), `include` and `exclude` (extra name patterns), `files` (file
//! name wildcards), `aggregate` (`sum`, `avg`, `min`, `max`), `title`,
//! `category` (default `mmstats`).
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
use super::{Report, collect_selected, discover, raw_value};

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
        Ok(Self {
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
            MuninCommand::Config => {
                let report = collect_selected(&self.inputs, &self.selection);
                let combined = self.combine(&report, None);
                self.write_config(out, &combined)?;
                Ok(report)
            }
            MuninCommand::Fetch => {
                let report = collect_selected(&self.inputs, &self.selection);
                let combined = self.combine(&report, state_dir);
                for (field, id) in graphed(&combined) {
                    writeln!(out, "{id}.value {}", munin_value(&field.value))?;
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

    /// Combines the files, through the ledger kept in `state_dir` if any.
    fn combine(&self, report: &Report, state_dir: Option<&Path>) -> Aggregate {
        // Label values are aggregated (a field's labels dropped before
        // combining), so that the field set `config` lists does not change
        // as labelled fields (connections) come and go.
        let unlabelled: Vec<FileStats> = report.files.iter().map(without_labels).collect();
        let files: Vec<&FileStats> = unlabelled.iter().collect();
        let Some(dir) = state_dir else {
            return aggregate(&files, self.mode, &Default::default());
        };
        let state = dir.join(format!("{}.mmstats-ledger.json", self.name));
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
        aggregate(&files, self.mode, ledger.retired())
    }

    fn write_config(&self, out: &mut impl Write, combined: &Aggregate) -> io::Result<()> {
        let fields = graphed(combined);
        let all_counters = !fields.is_empty()
            && fields
                .iter()
                .all(|(f, _)| matches!(f.value, FieldValue::Counter(_)));
        let bytes = !fields.is_empty() && fields.iter().all(|(f, _)| f.unit == "bytes");
        writeln!(out, "graph_title {}", one_line(&self.title))?;
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

/// The fields a graph shows (numeric ones), with their munin field names:
/// the name with every character outside `[A-Za-z0-9_]` made `_` (and a
/// leading digit prefixed by `_`), made unique by a `_2`, `_3` … suffix in
/// order of appearance.
fn graphed(combined: &Aggregate) -> Vec<(&Field, String)> {
    let mut used: HashMap<String, usize> = HashMap::new();
    combined
        .fields
        .iter()
        .map(|f| &f.field)
        .filter(|f| !matches!(f.value, FieldValue::Text(_) | FieldValue::Timestamp(_)))
        .map(|field| {
            let base = munin_field_name(&field.name);
            let n = used.entry(base.clone()).or_insert(0);
            *n += 1;
            let id = if *n == 1 { base } else { format!("{base}_{n}") };
            (field, id)
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

/// A value as munin reads it.
fn munin_value(value: &FieldValue) -> String {
    match value {
        FieldValue::Bool(b) => u8::from(*b).to_string(),
        FieldValue::Float(f) if !f.is_finite() => "U".into(),
        other => raw_value(other),
    }
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
/// `file` with every field's labels dropped.
fn without_labels(file: &FileStats) -> FileStats {
    let mut file = file.clone();
    for field in &mut file.fields {
        field.labels = mmstats::Labels::new();
    }
    file
}

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
    fn field_names_suit_munin() {
        assert_eq!(munin_field_name("worker.status.2XX"), "worker_status_2XX");
        assert_eq!(munin_field_name("2XX"), "_2XX");
        assert_eq!(munin_field_name("a-b.c"), "a_b_c");
    }
}
