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
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::glob;
use mmstats::trust::{self, DirTrustError};
use mmstats::{DEFAULT_DIR, DIR_ENV, EXTENSION, SHM_PREFIX, default_dir};
use mmstats::{
    Field, FieldProblem, FieldValue, FileStats, Format, Labels, Liveness, ReadFailure,
    ReadFileError, open_for_reading, open_for_reading_at, read_open_file, read_open_file_matching,
};

use self::aggregate::Aggregate;
use self::select::Selection;
use self::style::{Paint, Style};

pub use self::json::{
    JSON_SCHEMA, aggregate_json, json_field, json_labels, json_value_of, list_json, to_json,
};

/// Files read and files that failed.
#[derive(Debug, Default)]
pub struct Report {
    /// Files read (possibly with per-field problems).
    pub files: Vec<FileStats>,
    /// Files (or directories) that could not be read, with the reason.
    pub errors: Vec<(PathBuf, FileError)>,
}

/// Why a file or directory named (or listed) could not be read at all; the
/// path goes beside it (`Report::errors`), and `{path}: {error}` is the
/// line users see.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// Nothing by that name.
    Missing,
    /// A name with wildcards that matched no file.
    NoMatch,
    /// Asking what the path is failed (permission denied on a parent,
    /// say: not "no such file").
    Inspect(io::Error),
    /// The directory was opened but could not be listed.
    CannotList(rustix::io::Errno),
    /// The directory could not be opened by the rules of
    /// [`mmstats::trust`], or (`refused`) it was not trusted and the
    /// command refuses to work in it.
    Directory {
        /// The directory asked for (the error may name one of its parents).
        asked: PathBuf,
        /// Why.
        error: DirTrustError,
        /// Whether the command refuses untrusted directories (`clean`).
        refused: bool,
    },
    /// The file could not be opened or read.
    Read(ReadFailure),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("no such file or directory"),
            Self::NoMatch => f.write_str("no file matches this pattern"),
            Self::Inspect(error) => error.fmt(f),
            Self::CannotList(error) => write!(f, "cannot list it: {error}"),
            Self::Directory {
                asked,
                error,
                refused,
            } => {
                let reason = error.reason_for(asked);
                if *refused {
                    write!(f, "refusing to work in this directory: {reason}")
                } else {
                    f.write_str(&reason)
                }
            }
            Self::Read(reason) => reason.fmt(f),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Inspect(error) => Some(error),
            Self::CannotList(error) => Some(error),
            Self::Directory { error, .. } => Some(error),
            Self::Read(_) | Self::Missing | Self::NoMatch => None,
        }
    }
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
pub fn discover(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, FileError)>) {
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
pub(crate) fn find(
    inputs: &[PathBuf],
    policy: DirPolicy,
) -> (Vec<Found>, Vec<(PathBuf, FileError)>) {
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
                    errors.push((input.clone(), FileError::Missing));
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
                            errors.push((input.clone(), FileError::NoMatch));
                        }
                    }
                    None => errors.push((input.clone(), FileError::Missing)),
                }
            }
            // Permission denied on a parent, say: not "no such file".
            Err(error) => errors.push((input.clone(), FileError::Inspect(error))),
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
) -> Result<(), (PathBuf, FileError)> {
    let Some(fd) = open_dir(dir, policy, missing_ok)? else {
        return Ok(());
    };
    let cannot_list = |e: rustix::io::Errno| (dir.to_owned(), FileError::CannotList(e));
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
) -> Result<Option<Rc<OwnedFd>>, (PathBuf, FileError)> {
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
        Err(error) => Err((
            dir.to_owned(),
            FileError::Directory {
                asked: dir.to_owned(),
                error,
                refused: policy == DirPolicy::Refuse,
            },
        )),
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
    let keep = |name: &str| selection.name_may_be_selected(name);
    for file in found.iter().filter(|f| selection.path_selected(&f.path)) {
        let read = if selection.filters_names() {
            file.read_matching(&keep)
        } else {
            file.read()
        };
        match read {
            Ok(mut stats) => {
                keep_first_of_duplicates(&mut stats);
                report.files.push(stats);
            }
            Err(error) => report
                .errors
                .push((error.path, FileError::Read(error.reason))),
        }
    }
    selection.apply(&mut report);
    // A directory that could not be listed may hold selected files: its
    // error stays, whatever the selection (else the reader is blind).
    report.errors.splice(0..0, unlisted);
    report
}

/// Applies the duplicate rule of format 2 (FORMAT.md §4.1: of fields with
/// the same name and labels, the lowest slot is shown, each other is a
/// [`FieldProblem::Duplicate`]) to a legacy file, whose reader keeps
/// every record: every subcommand then shows the same single field. A
/// format-2 file has had the rule applied by its reader already and is
/// left alone.
pub fn keep_first_of_duplicates(file: &mut FileStats) {
    if file.format != Format::LegacyV1 {
        return;
    }
    let mut first: std::collections::HashMap<(String, Labels), usize> =
        std::collections::HashMap::new();
    let mut index = 0usize;
    let mut problems = Vec::new();
    file.fields.retain(|field| {
        let at = index;
        index += 1;
        match first.entry((field.name.clone(), field.labels.clone())) {
            std::collections::hash_map::Entry::Occupied(lowest) => {
                problems.push(FieldProblem::Duplicate {
                    index: at,
                    name: field.name.clone(),
                    labels: field.labels.clone(),
                    first: *lowest.get(),
                });
                false
            }
            std::collections::hash_map::Entry::Vacant(free) => {
                free.insert(at);
                true
            }
        }
    });
    file.problems.extend(problems);
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

/// Text that is safe to print on a terminal, and unambiguous: control
/// characters (escape sequences a hostile file could carry) are shown
/// escaped (`\n`, `\t`, `\u{1b}`), and so is the backslash itself (`\\`),
/// so that a name holding a backslash and an `n` never reads as one
/// holding a newline. This is the one escaping rule of text output: names,
/// strings, units, paths and messages go through it, and label values
/// through it too ([`display_labels`], which also escapes `"`).
#[must_use]
pub fn printable(text: &str) -> String {
    if !text.chars().any(|c| c == '\\' || c.is_control()) {
        return text.to_owned();
    }
    let mut shown = String::with_capacity(text.len() + 8);
    push_escaped(&mut shown, text, false);
    shown
}

/// Appends `text` to `out` escaped as [`printable`] says, and `"` as `\"`
/// too when `quote` (inside a quoted label value).
fn push_escaped(out: &mut String, text: &str, quote: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' if quote => out.push_str("\\\""),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
}

/// A label set as text output shows it: `{conn="1234",dir="in"}`, keys in
/// their stored (sorted) order, values quoted and escaped as [`printable`]
/// does, plus `"` as `\"`; nothing for no labels. For the values a writer
/// can store (no control characters) this is exactly the library's
/// `Display` of [`Labels`], the Prometheus form.
#[must_use]
pub fn display_labels(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let mut shown = String::from("{");
    for (n, (key, value)) in labels.iter().enumerate() {
        if n > 0 {
            shown.push(',');
        }
        // Keys are `[A-Za-z_][A-Za-z0-9_]*`: nothing to escape.
        shown.push_str(key);
        shown.push_str("=\"");
        push_escaped(&mut shown, value, true);
        shown.push('"');
    }
    shown.push('}');
    shown
}

/// A field's name with its labels, as text output shows it:
/// `web.conn.bytes_in{conn="1234"}` (just the name, escaped, when it has
/// none).
#[must_use]
pub fn display_name(name: &str, labels: &Labels) -> String {
    let mut shown = printable(name);
    shown.push_str(&display_labels(labels));
    shown
}

/// A field problem as text output shows it, escaped as [`printable`] says:
/// a duplicate names its field as [`display_name`] does (not escaped
/// twice).
#[must_use]
pub fn problem_text(problem: &FieldProblem) -> String {
    match problem {
        FieldProblem::Duplicate {
            index,
            name,
            labels,
            first,
        } => format!(
            "field {index} ({}) repeats field {first}, which is shown instead",
            display_name(name, labels)
        ),
        other => printable(&other.to_string()),
    }
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
                display_name(&f.name, &f.labels),
                crate::value_text::value_text(&f.value, &f.unit, age_secs)
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
        // crate::value_text.
        let age = crate::value_text::file_age_secs(file);
        write_field_rows(out, file.fields.iter().map(|f| (f, None)), age)?;
        for problem in &file.problems {
            writeln!(
                out,
                "{}",
                style.paint(Paint::Red, &format!("!! {}", problem_text(problem)))
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

/// Seconds since the file's creation, if known.
fn age_secs(file: &FileStats, now_ns: u64) -> Option<u64> {
    aggregate::created_ns(file).map(|created| now_ns.saturating_sub(created) / 1_000_000_000)
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
    fn a_backslash_is_escaped_so_no_name_reads_as_another() {
        // A name holding `\` and `n` and one holding a newline differ.
        assert_eq!(printable("a\\nb"), "a\\\\nb");
        assert_eq!(printable("a\nb"), "a\\nb");
        assert_ne!(printable("a\\nb"), printable("a\nb"));
        assert_eq!(printable("tab\there"), "tab\\there");
        assert_eq!(printable("C:\\x"), "C:\\\\x");
    }

    #[test]
    fn labels_are_shown_quoted_and_escaped() {
        let labels = Labels::from_pairs(&[("conn", "1234"), ("app", "a\"b\\c")]).unwrap();
        assert_eq!(display_labels(&labels), r#"{app="a\"b\\c",conn="1234"}"#);
        // The same text as the library's own form, for every storable value.
        assert_eq!(display_labels(&labels), labels.to_string());
        assert_eq!(display_labels(&Labels::new()), "");
        assert_eq!(
            display_name("web.conn.bytes_in", &labels),
            r#"web.conn.bytes_in{app="a\"b\\c",conn="1234"}"#
        );
        assert_eq!(display_name("a\nb", &Labels::new()), "a\\nb");
        let duplicate = FieldProblem::Duplicate {
            index: 3,
            name: "x\\y".into(),
            labels: Labels::from_pairs(&[("k", "v\\w")]).unwrap(),
            first: 1,
        };
        assert_eq!(
            problem_text(&duplicate),
            r#"field 3 (x\\y{k="v\\w"}) repeats field 1, which is shown instead"#
        );
    }

    #[test]
    fn legacy_duplicates_keep_the_first_record() {
        let field = |name: &str, value: u64| Field {
            name: name.into(),
            labels: Labels::new(),
            unit: String::new(),
            description: String::new(),
            value: FieldValue::UInt(value),
        };
        let mut file = FileStats {
            path: PathBuf::from("/x"),
            format: Format::LegacyV1,
            pid: None,
            liveness: mmstats::Liveness::Unknown,
            region: None,
            fields: vec![field("a", 1), field("b", 2), field("a", 3), field("a", 4)],
            problems: Vec::new(),
        };
        keep_first_of_duplicates(&mut file);
        let kept: Vec<(&str, &FieldValue)> = file
            .fields
            .iter()
            .map(|f| (f.name.as_str(), &f.value))
            .collect();
        assert_eq!(
            kept,
            [("a", &FieldValue::UInt(1)), ("b", &FieldValue::UInt(2))]
        );
        let problems: Vec<String> = file.problems.iter().map(problem_text).collect();
        assert_eq!(
            problems,
            [
                "field 2 (a) repeats field 0, which is shown instead",
                "field 3 (a) repeats field 0, which is shown instead"
            ]
        );
        // A format-2 file is its reader's business: left alone.
        let mut region = file.clone();
        region.format = Format::Mmstats2;
        region.fields.push(field("a", 5));
        keep_first_of_duplicates(&mut region);
        assert_eq!(region.fields.len(), 3);
    }

    #[test]
    fn ages_read_well() {
        assert_eq!(format_age(5), "5s");
        assert_eq!(format_age(303), "5m3s");
        assert_eq!(format_age(7260), "2h1m");
        assert_eq!(format_age(90_000), "1d1h");
    }
}
