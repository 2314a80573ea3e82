//! Which files and which fields an `mmdump` subcommand looks at: include
//! and exclude patterns on field names, and file-name and pid selectors.
//!
//! Name patterns are dotted patterns ([`NamePattern`]) and select a
//! subtree: `-I web` keeps `web.requests` and `web.stats.status.2XX`,
//! `-X sys` drops every `sys.*` field, `-I 'web.*.status.*'` keeps the
//! status counters of every `web.X`. A field is kept when no include
//! pattern is given or one selects it, and no exclude pattern selects it.
//! A pattern may end in a label part (`-I 'web.conn.*{conn="12*"}'`,
//! see [`crate::glob`]): then the field's labels must meet it too.

use std::path::Path;

use crate::glob::{self, NamePattern};
use mmstats::{FileStats, Labels};

use super::Report;

/// Filters shared by every subcommand.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Keep only fields one of these selects (all if empty).
    pub include: Vec<NamePattern>,
    /// Drop fields one of these selects.
    pub exclude: Vec<NamePattern>,
    /// Keep only files whose name (or, for a pattern holding `/`, whose
    /// path) matches one of these wildcards (all if empty).
    pub files: Vec<String>,
    /// Keep only files whose writer has one of these pids (all if empty).
    pub pids: Vec<u64>,
}

impl Selection {
    /// Selects everything.
    #[must_use]
    pub fn everything() -> Self {
        Self::default()
    }

    /// Whether names are filtered at all.
    #[must_use]
    pub fn filters_names(&self) -> bool {
        !self.include.is_empty() || !self.exclude.is_empty()
    }

    /// Whether files are filtered by pid.
    #[must_use]
    pub fn filters_pids(&self) -> bool {
        !self.pids.is_empty()
    }

    /// Whether the field `name` (without labels) is selected.
    #[must_use]
    pub fn name_selected(&self, name: &str) -> bool {
        self.field_selected(name, &Labels::new())
    }

    /// Whether some field named `name` may be selected, whatever its
    /// labels: the cheap first test of a read that copies only the fields
    /// asked for; [`Selection::field_selected`] decides once the labels
    /// are read.
    #[must_use]
    pub fn name_may_be_selected(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.selects_name(name)))
            && !self
                .exclude
                .iter()
                .any(|p| !p.has_labels() && p.selects_name(name))
    }

    /// Whether the field `name` with `labels` is selected.
    #[must_use]
    pub fn field_selected(&self, name: &str, labels: &Labels) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.selects_field(name, labels)))
            && !self.exclude.iter().any(|p| p.selects_field(name, labels))
    }

    /// Whether the file at `path` passes the file-name selector.
    #[must_use]
    pub fn path_selected(&self, path: &Path) -> bool {
        if self.files.is_empty() {
            return true;
        }
        let full = path.to_string_lossy();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        self.files.iter().any(|pattern| {
            if pattern.contains('/') {
                glob::matches(pattern, &full)
            } else {
                glob::matches(pattern, &name)
            }
        })
    }

    /// Whether a file with writer pid `pid` passes the pid selector (a file
    /// without a recorded pid passes only when no pid is asked for).
    #[must_use]
    pub fn pid_selected(&self, pid: Option<u64>) -> bool {
        self.pids.is_empty() || pid.is_some_and(|p| self.pids.contains(&p))
    }

    /// Whether the file passes the file and pid selectors.
    #[must_use]
    pub fn file_selected(&self, file: &FileStats) -> bool {
        self.path_selected(&file.path) && self.pid_selected(file.pid)
    }

    /// Keeps the selected fields of a file (the file itself is not judged).
    pub fn filter_fields(&self, file: &mut FileStats) {
        if self.filters_names() {
            file.fields
                .retain(|f| self.field_selected(&f.name, &f.labels));
        }
    }

    /// Applies the selection to a report: drops unselected files and
    /// fields, and files left without any field when names are filtered.
    /// Files that could not be read are dropped when their path is not
    /// selected, or when a pid is asked for (their pid is unknown).
    pub fn apply(&self, report: &mut Report) {
        report
            .errors
            .retain(|(path, _)| self.path_selected(path) && !self.filters_pids());
        report.files.retain(|f| self.file_selected(f));
        for file in &mut report.files {
            self.filter_fields(file);
        }
        if self.filters_names() {
            report
                .files
                .retain(|f| !f.fields.is_empty() || !f.problems.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(include: &[&str], exclude: &[&str]) -> Selection {
        Selection {
            include: include.iter().map(|p| NamePattern::new(p)).collect(),
            exclude: exclude.iter().map(|p| NamePattern::new(p)).collect(),
            ..Selection::default()
        }
    }

    #[test]
    fn include_and_exclude_select_subtrees() {
        let s = selection(&["web"], &["web.stats.debug"]);
        assert!(s.name_selected("web.requests"));
        assert!(s.name_selected("web.stats.status.2XX"));
        assert!(!s.name_selected("web.stats.debug.x"));
        assert!(!s.name_selected("worker.requests"));
        let all_but_sys = selection(&[], &["sys"]);
        assert!(all_but_sys.name_selected("web.requests"));
        assert!(!all_but_sys.name_selected("sys.pid"));
    }

    #[test]
    fn label_parts_include_and_exclude_label_sets() {
        let conn = |value| Labels::from_pairs(&[("conn", value)]).unwrap();
        let s = selection(&[r#"web.conn{conn="12*"}"#], &["web.conn{conn=123}"]);
        assert!(s.field_selected("web.conn.bytes_in", &conn("1234")));
        assert!(!s.field_selected("web.conn.bytes_in", &conn("123")));
        assert!(!s.field_selected("web.conn.bytes_in", &conn("99")));
        assert!(!s.name_selected("web.conn.bytes_in"));
        let all_but_one = selection(&[], &[r#"web.conn{conn="1"}"#]);
        assert!(all_but_one.name_selected("web.conn.bytes_in"));
        assert!(all_but_one.field_selected("web.conn.bytes_in", &conn("2")));
        assert!(!all_but_one.field_selected("web.conn.bytes_in", &conn("1")));
    }

    #[test]
    fn files_are_selected_by_name_path_and_pid() {
        let s = Selection {
            files: vec!["worker-*".into(), "/run/*/x.mmstats".into()],
            pids: vec![7],
            ..Selection::default()
        };
        assert!(s.path_selected(Path::new("/dev/shm/mmstats/worker-1-2.mmstats")));
        assert!(!s.path_selected(Path::new("/dev/shm/mmstats/web-1-2.mmstats")));
        assert!(s.path_selected(Path::new("/run/a/x.mmstats")));
        assert!(s.pid_selected(Some(7)));
        assert!(!s.pid_selected(Some(8)));
        assert!(!s.pid_selected(None));
        assert!(Selection::everything().pid_selected(None));
    }
}
