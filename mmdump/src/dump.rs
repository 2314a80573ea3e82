//! What `mmdump` does, as a library: find stats files, read them, and
//! render text, JSON or a listing. The binary only parses arguments.
//!
//! The subcommands beyond the one-shot dump live in submodules:
//! [`select`] (include/exclude/file/pid filters), [`aggregate`] (combining
//! files), [`tree`], [`rates`] and [`watch`] (live view), [`clean`]
//! (removing files of dead writers) and [`munin`] (plugin mode).

pub mod aggregate;
pub mod clean;
pub mod json;
pub mod munin;
pub mod rates;
pub mod screen;
pub mod select;
pub mod style;
pub mod tree;
pub mod watch;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde_json::{Value as Json, json};

use crate::glob;
use mmstats::trust::{self, DirTrustError};
use mmstats::{DEFAULT_DIR, DIR_ENV, EXTENSION, SHM_PREFIX, default_dir};
use mmstats::{
    Field, FieldValue, FileStats, Liveness, ReadFileError, open_for_reading, open_for_reading_at,
    read_open_file, read_open_file_matching,
};

use self::aggregate::Aggregate;
use self::select::Selection;
use self::style::{Paint, Style};

/// Version of the JSON document `mmdump --json` writes. Keys may be added
/// within a version; none is removed or renamed.
pub const JSON_SCHEMA: u64 = 1;

/// Files read and files that failed.
#[derive(Debug, Default)]
pub struct Report {
    /// Files read (possibly with per-field problems).
    pub files: Vec<FileStats>,
    /// Files that could not be read, with the reason.
    pub errors: Vec<(PathBuf, String)>,
}

impl Report {
    /// Whether anything failed (a file, or a field of a file).
    #[must_use]
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.files.iter().any(|f| !f.problems.is_empty())
    }
}

/// The stats files named by `inputs` (files, directories, or file-name
/// wildcards), or in the default directory if there are none. Paths that
/// match nothing, and directories that cannot be listed (a symbolic link
/// in their path, permission denied), are returned as errors naming them
/// and the reason. A directory that another user owns, or that others may
/// write to without the sticky bit, is read on, with a warning on
/// standard error (once per process): see [`mmstats::trust`].
#[must_use]
pub fn discover(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let (found, errors) = find(inputs, DirPolicy::Warn);
    (found.into_iter().map(|f| f.path).collect(), errors)
}

/// What [`find`] does with a directory that fails the trust check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DirPolicy {
    /// Read it, with a warning (readers).
    Warn,
    /// Refuse it, with an error; files given by name are also reached
    /// through their trusted parent (`mmdump clean`).
    Refuse,
}

/// A file [`find`] found.
#[derive(Debug)]
pub(crate) struct Found {
    /// Its path.
    pub(crate) path: PathBuf,
    /// The directory it was listed in, if reached through one, and its
    /// name there: open it relative to that descriptor, not by path.
    pub(crate) dir: Option<(Rc<OwnedFd>, OsString)>,
}

impl Found {
    /// Opens the file as [`mmstats::read`] does, relative to its directory's
    /// descriptor when it has one.
    pub(crate) fn open(&self) -> Result<(fs::File, u64), ReadFileError> {
        match &self.dir {
            Some((dir, name)) => open_for_reading_at(&**dir, name, &self.path),
            None => open_for_reading(&self.path),
        }
    }

    /// Reads the file (either format).
    fn read(&self) -> Result<FileStats, ReadFileError> {
        let (file, len) = self.open()?;
        read_open_file(&self.path, file, len)
    }

    /// Reads the file (either format), keeping only the fields whose
    /// name `keep` accepts (every entry still validated).
    fn read_matching(&self, keep: &dyn Fn(&str) -> bool) -> Result<FileStats, ReadFileError> {
        let (file, len) = self.open()?;
        read_open_file_matching(&self.path, file, len, keep)
    }
}

/// Which entries of a directory [`list_dir`] keeps.
#[derive(Clone, Copy)]
enum Listing<'p> {
    /// Stats files (`*.mmstats`, not hidden) whose names match.
    Stats(&'p str),
    /// Any entry whose name matches.
    Any(&'p str),
}

impl Listing<'_> {
    fn keeps(self, name: &str) -> bool {
        match self {
            Self::Stats(pattern) => {
                !name.starts_with('.')
                    && name.ends_with(&format!(".{EXTENSION}"))
                    && glob::matches(pattern, name)
            }
            Self::Any(pattern) => name != "." && name != ".." && glob::matches(pattern, name),
        }
    }
}

/// [`discover`], keeping the directory each file was listed in.
pub(crate) fn find(inputs: &[PathBuf], policy: DirPolicy) -> (Vec<Found>, Vec<(PathBuf, String)>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    let list = |dir: &Path,
                listing: Listing<'_>,
                missing_ok,
                found: &mut Vec<Found>,
                errors: &mut Vec<_>| {
        if let Err(error) = list_dir(dir, listing, policy, missing_ok, found) {
            errors.push(error);
        }
    };
    if inputs.is_empty() {
        // A missing default directory is only "no stats files" (the
        // binary says which).
        let dir = default_dir();
        list(&dir, Listing::Stats("*"), true, &mut found, &mut errors);
        if std::env::var_os(DIR_ENV).is_none() && dir == Path::new(DEFAULT_DIR) {
            let pattern = format!("{SHM_PREFIX}*");
            list(
                Path::new("/dev/shm"),
                Listing::Stats(&pattern),
                true,
                &mut found,
                &mut errors,
            );
        }
    }
    for input in inputs {
        let parent = input
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = input.file_name().map(|n| n.to_string_lossy().into_owned());
        match fs::symlink_metadata(input) {
            Ok(meta) if meta.is_dir() => {
                list(input, Listing::Stats("*"), false, &mut found, &mut errors)
            }
            Ok(_) if policy == DirPolicy::Warn => found.push(Found {
                path: input.clone(),
                dir: None,
            }),
            // Through its parent, which must be trusted.
            Ok(_) => match (open_dir(parent, policy, false), input.file_name()) {
                (Ok(Some(dir)), Some(name)) => found.push(Found {
                    path: input.clone(),
                    dir: Some((dir, name.to_owned())),
                }),
                (Err(error), _) => errors.push(error),
                (Ok(None), _) | (_, None) => {
                    errors.push((input.clone(), "no such file or directory".into()));
                }
            },
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                match name.filter(|n| glob::has_wildcard(n)) {
                    Some(pattern) => {
                        let before = found.len();
                        list(
                            parent,
                            Listing::Any(&pattern),
                            false,
                            &mut found,
                            &mut errors,
                        );
                        if found.len() == before {
                            errors.push((input.clone(), "no file matches this pattern".into()));
                        }
                    }
                    None => errors.push((input.clone(), "no such file or directory".into())),
                }
            }
            // Permission denied on a parent, say: not "no such file".
            Err(error) => errors.push((input.clone(), error.to_string())),
        }
    }
    found.dedup_by(|a, b| a.path == b.path);
    (found, errors)
}

/// Appends the entries of `dir` that `listing` keeps to `found`, sorted,
/// after opening `dir` by the rules of [`mmstats::trust`] (as `policy`
/// says). `Err` names the directory and why it was not listed.
fn list_dir(
    dir: &Path,
    listing: Listing<'_>,
    policy: DirPolicy,
    missing_ok: bool,
    found: &mut Vec<Found>,
) -> Result<(), (PathBuf, String)> {
    let Some(fd) = open_dir(dir, policy, missing_ok)? else {
        return Ok(());
    };
    let cannot_list = |e: rustix::io::Errno| (dir.to_owned(), format!("cannot list it: {e}"));
    let mut names = Vec::new();
    // The entries there really are: bounded by the directory, not by
    // anything a file claims.
    for entry in rustix::fs::Dir::read_from(&*fd).map_err(cannot_list)? {
        let entry = entry.map_err(cannot_list)?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if listing.keeps(&name.to_string_lossy()) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    found.extend(names.into_iter().map(|name| Found {
        path: dir.join(&name),
        dir: Some((Rc::clone(&fd), name)),
    }));
    Ok(())
}

/// Opens `dir` by the rules of [`mmstats::trust`], as `policy` says: `None`
/// if it is missing and `missing_ok`; `Err` names it and the reason.
fn open_dir(
    dir: &Path,
    policy: DirPolicy,
    missing_ok: bool,
) -> Result<Option<Rc<OwnedFd>>, (PathBuf, String)> {
    let opened = match policy {
        DirPolicy::Refuse => trust::open_trusted_dir(dir, None),
        DirPolicy::Warn => trust::open_dir_for_reading(dir).map(|(fd, noted)| {
            if let Some(problem) = noted {
                warn_untrusted_once(dir, &problem);
            }
            fd
        }),
    };
    match opened {
        Ok(fd) => Ok(Some(Rc::new(fd))),
        Err(DirTrustError::Missing { .. }) if missing_ok => Ok(None),
        Err(error) => {
            let reason = error.reason_for(dir);
            Err((
                dir.to_owned(),
                match policy {
                    DirPolicy::Refuse => format!("refusing to work in this directory: {reason}"),
                    DirPolicy::Warn => reason,
                },
            ))
        }
    }
}

/// Reads every file `inputs` names (see [`discover`]).
#[must_use]
pub fn collect(inputs: &[PathBuf]) -> Report {
    collect_selected(inputs, &Selection::everything())
}

/// Reads the files `inputs` names (see [`discover`]) that `selection`
/// selects, keeping only the selected fields. Files whose name the
/// selection rejects are not even opened; the others are opened relative
/// to the directory they were listed in.
#[must_use]
pub fn collect_selected(inputs: &[PathBuf], selection: &Selection) -> Report {
    let (found, unlisted) = find(inputs, DirPolicy::Warn);
    let mut report = Report::default();
    // Fields the selection leaves out are never copied out of the file
    // (`mmdump get NAME` of one field among 100,000); `apply` below then
    // finds them gone already.
    let keep = |name: &str| selection.name_selected(name);
    for file in found.iter().filter(|f| selection.path_selected(&f.path)) {
        let read = if selection.filters_names() {
            file.read_matching(&keep)
        } else {
            file.read()
        };
        match read {
            Ok(stats) => report.files.push(stats),
            Err(error) => report.errors.push((error.path, error.reason.to_string())),
        }
    }
    selection.apply(&mut report);
    // A directory that could not be listed may hold selected files: its
    // error stays, whatever the selection (else the reader is blind).
    report.errors.splice(0..0, unlisted);
    report
}

/// Prints `problem` (found in `dir`, by `open_dir_for_reading`) on
/// standard error as a warning, once per directory per process (readers
/// that poll, like `mmdump watch`, would repeat it every second).
pub(crate) fn warn_untrusted_once(dir: &Path, problem: &DirTrustError) {
    static WARNED: std::sync::Mutex<std::collections::BTreeSet<std::path::PathBuf>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let first = WARNED
        .lock()
        .map(|mut warned| warned.insert(dir.to_owned()))
        .unwrap_or(true);
    if first {
        eprintln!(
            "mmstats: warning: {}: not a trusted directory: {}; reading it anyway, \
             but its files may be planted",
            printable(&dir.display().to_string()),
            printable(&problem.reason_for(dir))
        );
    }
}

/// Text that is safe to print on a terminal: control characters (escape
/// sequences a hostile file could carry) are shown escaped.
#[must_use]
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A value as `mmdump` prints it.
#[must_use]
pub fn display_value(value: &FieldValue) -> String {
    match value {
        FieldValue::Timestamp(0) => "unset".into(),
        FieldValue::Timestamp(ns) => format_unix_ns(*ns),
        FieldValue::Text(text) => printable(text),
        other => other.to_string(),
    }
}

/// `2026-11-21T23:30:07.123456789Z` for nanoseconds since the Unix epoch.
#[must_use]
pub fn format_unix_ns(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let nanos = ns % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A duration in seconds as `3d4h`, `5m3s`, `42s`.
#[must_use]
pub fn format_age(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{}s", secs / 60, secs % 60),
        3600..=86_399 => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// The `==> path (format, pid N, writer alive)` line above a file.
#[must_use]
pub fn header(file: &FileStats, style: &Style) -> String {
    let mut parts = vec![file.format.name().to_owned()];
    if let Some(pid) = file.pid {
        parts.push(format!("pid {pid}"));
    }
    let liveness = file.liveness.name();
    let liveness = match file.liveness {
        Liveness::Alive => style.paint(Paint::Green, liveness),
        Liveness::Dead => style.paint(Paint::Red, liveness),
        _ => style.paint(Paint::Yellow, liveness),
    };
    parts.push(format!("writer {liveness}"));
    format!(
        "{} ({})",
        style.paint(
            Paint::Bold,
            &format!("==> {}", printable(&file.path.display().to_string()))
        ),
        parts.join(", ")
    )
}

/// Writes aligned `name value kind unit` lines.
fn write_field_rows<'f>(
    out: &mut impl Write,
    fields: impl Iterator<Item = (&'f Field, Option<usize>)>,
    age_secs: Option<f64>,
) -> io::Result<()> {
    let rows: Vec<[String; 5]> = fields
        .map(|(f, files)| {
            [
                printable(&f.name),
                crate::summary::value_text(&f.value, &f.unit, age_secs)
                    .unwrap_or_else(|| display_value(&f.value)),
                f.value.kind_name().to_owned(),
                printable(&f.unit),
                files.map_or_else(String::new, |n| format!("({n} files)")),
            ]
        })
        .collect();
    let name_width = rows.iter().map(|r| r[0].chars().count()).max().unwrap_or(0);
    let value_width = rows.iter().map(|r| r[1].chars().count()).max().unwrap_or(0);
    let unit_width = rows.iter().map(|r| r[3].chars().count()).max().unwrap_or(0);
    for [name, value, kind, unit, files] in rows {
        let line = if files.is_empty() {
            format!("{name:<name_width$}  {value:<value_width$}  {kind:<9} {unit}")
        } else {
            format!(
                "{name:<name_width$}  {value:<value_width$}  {kind:<9} {unit:<unit_width$} {files}"
            )
        };
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Writes the text dump: per file a header line, then aligned
/// `name value kind unit` lines.
pub fn write_text(out: &mut impl Write, report: &Report) -> io::Result<()> {
    write_text_styled(out, report, &Style::plain())
}

/// [`write_text`] with colour as `style` says.
pub fn write_text_styled(out: &mut impl Write, report: &Report, style: &Style) -> io::Result<()> {
    for (index, file) in report.files.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", header(file, style))?;
        // Format-2.1 kinds (histograms with their rate over the file's age,
        // moving and window averages, event rings) are shown by
        // crate::summary.
        let age = crate::summary::file_age_secs(file);
        write_field_rows(out, file.fields.iter().map(|f| (f, None)), age)?;
        for problem in &file.problems {
            writeln!(
                out,
                "{}",
                style.paint(
                    Paint::Red,
                    &format!("!! {}", printable(&problem.to_string()))
                )
            )?;
        }
    }
    Ok(())
}

/// The line above aggregated fields.
#[must_use]
pub fn aggregate_header(aggregate: &Aggregate, style: &Style) -> String {
    style.paint(
        Paint::Bold,
        &format!(
            "==> {} of {} file{} (counters summed, gauges by {})",
            aggregate.mode,
            aggregate.file_count,
            if aggregate.file_count == 1 { "" } else { "s" },
            aggregate.mode
        ),
    )
}

/// Writes aggregated fields: a header line, then aligned
/// `name value kind unit (N files)` lines.
pub fn write_aggregate_text(
    out: &mut impl Write,
    aggregate: &Aggregate,
    style: &Style,
) -> io::Result<()> {
    writeln!(out, "{}", aggregate_header(aggregate, style))?;
    // Rates over a file's age mean nothing for a sum of files.
    write_field_rows(
        out,
        aggregate.fields.iter().map(|f| (&f.field, Some(f.files))),
        None,
    )
}

/// A value as `mmdump get` prints it, for scripts: integers in digits, a
/// float in the shortest form that reads back exactly, a boolean as
/// `true`/`false`, a timestamp in ns since the epoch, an average as its
/// mean, a string as it is.
#[must_use]
pub fn raw_value(value: &FieldValue) -> String {
    match value {
        FieldValue::Average { sum, count } => {
            if *count == 0 {
                "0".into()
            } else {
                (sum / *count as f64).to_string()
            }
        }
        other => other.to_string(),
    }
}

/// A float as JSON: a number, or "NaN", "+Inf", "-Inf" (JSON has none).
fn json_float(value: f64) -> Json {
    if value.is_nan() {
        json!("NaN")
    } else if value.is_infinite() {
        json!(if value > 0.0 { "+Inf" } else { "-Inf" })
    } else {
        json!(value)
    }
}

fn json_value(value: &FieldValue) -> Json {
    match value {
        FieldValue::Counter(v) | FieldValue::UInt(v) | FieldValue::Timestamp(v) => json!(v),
        FieldValue::Gauge(v) | FieldValue::Int(v) => json!(v),
        FieldValue::Float(v) => json_float(*v),
        FieldValue::Bool(v) => json!(v),
        FieldValue::Text(v) => json!(v),
        FieldValue::Average { sum, count } => json_float(if *count == 0 {
            0.0
        } else {
            sum / *count as f64
        }),
        // Format-2.1 kinds: see crate::summary.
        other => crate::summary::json_value(other).unwrap_or(Json::Null),
    }
}

/// A field as schema-1 JSON.
#[must_use]
pub fn json_field(f: &Field) -> Json {
    let mut field = json!({
        "name": f.name,
        "kind": f.value.kind_name(),
        "value": json_value(&f.value),
    });
    let object = field.as_object_mut().expect("a JSON object");
    if !f.unit.is_empty() {
        object.insert("unit".into(), json!(f.unit));
    }
    if !f.description.is_empty() {
        object.insert("description".into(), json!(f.description));
    }
    if let FieldValue::Average { sum, count } = f.value {
        object.insert("sum".into(), json_float(sum));
        object.insert("count".into(), json!(count));
    }
    // Format-2.1 kinds: histogram statistics and `buckets`, window and
    // moving-average parts, ring geometry.
    crate::summary::json_extra(&f.value, object);
    field
}

/// The `"aggregate"` object added to schema-1 documents by
/// `--aggregate`: `{"mode", "file_count", "paths", "fields": [field +
/// "files"]}`.
#[must_use]
pub fn aggregate_json(aggregate: &Aggregate, paths: &[&Path]) -> Json {
    let fields: Vec<Json> = aggregate
        .fields
        .iter()
        .map(|f| {
            let mut field = json_field(&f.field);
            field
                .as_object_mut()
                .expect("a JSON object")
                .insert("files".into(), json!(f.files));
            field
        })
        .collect();
    json!({
        "mode": aggregate.mode.name(),
        "file_count": aggregate.file_count,
        "paths": paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "fields": fields,
    })
}

/// A JSON value as `mmdump` writes it (see docs/FORMAT.md §13).
#[must_use]
pub fn json_value_of(value: &FieldValue) -> Json {
    json_value(value)
}

fn json_file(file: &FileStats) -> Json {
    let fields: Vec<Json> = file.fields.iter().map(json_field).collect();
    let mut out = json!({
        "path": file.path.display().to_string(),
        "format": file.format.name(),
        "pid": file.pid,
        "writer": file.liveness.name(),
        "fields": fields,
    });
    if let Some(region) = &file.region {
        let object = out.as_object_mut().expect("a JSON object");
        object.insert("generation".into(), json!(region.generation));
        object.insert("created_ns".into(), json!(region.created_ns));
        object.insert("heartbeat_ns".into(), json!(region.heartbeat_ns));
    }
    out
}

/// The JSON document of `mmdump --json` (schema 1):
/// `{"schema": 1, "files": [...], "errors": [...]}`.
#[must_use]
pub fn to_json(report: &Report) -> Json {
    let mut errors: Vec<Json> = report
        .errors
        .iter()
        .map(|(path, error)| json!({"path": path.display().to_string(), "error": error}))
        .collect();
    for file in &report.files {
        for problem in &file.problems {
            errors.push(
                json!({"path": file.path.display().to_string(), "error": problem.to_string()}),
            );
        }
    }
    json!({
        "schema": JSON_SCHEMA,
        "files": report.files.iter().map(json_file).collect::<Vec<_>>(),
        "errors": errors,
    })
}

/// Seconds since the file's creation, if known.
fn age_secs(file: &FileStats, now_ns: u64) -> Option<u64> {
    let created = match &file.region {
        Some(region) => region.created_ns,
        None => file
            .fields
            .iter()
            .find_map(|f| match (f.name.as_str(), &f.value) {
                ("sys.created", FieldValue::Float(secs)) if *secs > 0.0 => {
                    Some((*secs * 1e9) as u64)
                }
                ("sys.created", FieldValue::UInt(secs)) => Some(secs.saturating_mul(1_000_000_000)),
                _ => None,
            })?,
    };
    (created != 0).then(|| now_ns.saturating_sub(created) / 1_000_000_000)
}

/// Writes `mmdump list`: one line per file.
pub fn write_list(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let now = mmstats::os::now_ns();
    let rows: Vec<[String; 6]> = report
        .files
        .iter()
        .map(|f| {
            [
                printable(&f.path.display().to_string()),
                f.format.name().to_owned(),
                f.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                f.liveness.name().to_owned(),
                age_secs(f, now).map_or_else(|| "-".into(), format_age),
                f.fields.len().to_string(),
            ]
        })
        .collect();
    let head = ["PATH", "FORMAT", "PID", "WRITER", "AGE", "FIELDS"].map(String::from);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&head).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&head).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}

/// The JSON document of `mmdump list --json`.
#[must_use]
pub fn list_json(report: &Report) -> Json {
    let now = mmstats::os::now_ns();
    let files: Vec<Json> = report
        .files
        .iter()
        .map(|f| {
            json!({
                "path": f.path.display().to_string(),
                "format": f.format.name(),
                "pid": f.pid,
                "writer": f.liveness.name(),
                "alive": f.liveness == Liveness::Alive,
                "age_seconds": age_secs(f, now),
                "field_count": f.fields.len(),
            })
        })
        .collect();
    let errors: Vec<Json> = report
        .errors
        .iter()
        .map(|(path, error)| json!({"path": path.display().to_string(), "error": error}))
        .collect();
    json!({"schema": JSON_SCHEMA, "files": files, "errors": errors})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_correctly() {
        assert_eq!(format_unix_ns(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_unix_ns(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(
            format_unix_ns(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("ok"), "ok");
        assert_eq!(printable("a\x1b[31mb\n"), "a\\u{1b}[31mb\\n");
    }

    #[test]
    fn ages_read_well() {
        assert_eq!(format_age(5), "5s");
        assert_eq!(format_age(303), "5m3s");
        assert_eq!(format_age(7260), "2h1m");
        assert_eq!(format_age(90_000), "1d1h");
    }

    #[test]
    fn floats_that_json_cannot_hold_become_strings() {
        assert_eq!(json_float(f64::NAN), json!("NaN"));
        assert_eq!(json_float(f64::NEG_INFINITY), json!("-Inf"));
        assert_eq!(json_float(0.5), json!(0.5));
    }
}
