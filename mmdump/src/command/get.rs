//! `mmdump get NAME...`: values, raw, for scripts, one line per name in
//! the order given (or "value TAB path" lines per file with
//! `--aggregate per-file`).
//!
//! A NAME is an exact field name, optionally with a label part as name
//! patterns take it (`web.conn.bytes_in{conn="1234"}`, or `{}` for the
//! field without labels; see [`mmdump::glob`]). Files are combined by `--aggregate` (sum by
//! default), each label set on its own; a NAME that still has several
//! label sets is refused, unless `--aggregate` was given, which then
//! combines the label sets too (`get -a sum web.conn.bytes_in`: the bytes
//! of every connection).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use mmdump::dump;
use mmdump::dump::aggregate::{AggregateMode, aggregate};
use mmdump::dump::select::Selection;
use mmdump::glob::NamePattern;
use mmstats::{FileStats, Labels};

use super::{MmdumpError, exit_code, report_errors};
use crate::cli::GetArgs;

/// Label sets a refusal names (the count says how many there are).
const LABEL_SETS_SHOWN: usize = 3;

/// A label set in a message: as text output shows it, `{}` for none (the
/// form a NAME takes to ask for the field without labels).
fn shown_labels(labels: &Labels) -> String {
    if labels.is_empty() {
        "{}".to_owned()
    } else {
        dump::display_labels(labels)
    }
}

/// `mmdump get`.
pub(crate) fn get(args: &GetArgs) -> Result<(), MmdumpError> {
    let (names, paths) = args.names_and_paths();
    let wanted: Vec<NamePattern> = names.iter().map(|name| NamePattern::new(name)).collect();
    let selection = Selection {
        // The name exactly (read as a pattern of its subtree, then
        // narrowed to the name itself below).
        include: wanted.clone(),
        ..args.filter.selection()
    };
    let report = dump::collect_selected(&paths, &selection);
    let mut out = BufWriter::new(io::stdout().lock());
    // Said after the values and the files' own errors, as each name is
    // met: a name that fails does not stop the others.
    let mut failures = Vec::new();
    for (name, pattern) in names.iter().zip(&wanted) {
        if let Err(message) = write_one(&mut out, args, name, pattern, &paths, &report.files)? {
            failures.push(message);
        }
    }
    out.flush()?;
    report_errors(&report);
    for message in &failures {
        eprintln!("mmdump: {message}");
    }
    if failures.is_empty() {
        exit_code(&report)
    } else {
        Err(MmdumpError::Incomplete)
    }
}

/// Why a name has no value to print.
enum NoValue<'a> {
    /// No file (of those selected) has a field of that name.
    Absent { name: &'a str, in_default_dir: bool },
    /// Files disagree on the field's kind: it cannot be combined.
    MixedKinds { name: &'a str },
    /// The field identifies a writer (sys.pid): never combined.
    Identity { name: &'a str },
    /// The name has several label sets and no `--aggregate` says how to
    /// combine them.
    LabelSets {
        name: &'a str,
        /// How many.
        count: usize,
        /// The first few, as text output shows them.
        some: Vec<String>,
    },
}

impl std::fmt::Display for NoValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Absent {
                name,
                in_default_dir,
            } => write!(
                f,
                "no field named {} in {}",
                dump::printable(name),
                if *in_default_dir {
                    mmstats::default_dir().display().to_string()
                } else {
                    "the files given".to_owned()
                }
            ),
            Self::MixedKinds { name } => write!(
                f,
                "{} has different kinds in different files; use --aggregate per-file",
                dump::printable(name)
            ),
            Self::Identity { name } => write!(
                f,
                "{} identifies a writer and is not combined; use --aggregate per-file",
                dump::printable(name)
            ),
            Self::LabelSets { name, count, some } => write!(
                f,
                "{} has {count} label sets ({}{}); name one (get '{}{}') or combine \
                 them with --aggregate sum (or avg, min, max, per-file)",
                dump::printable(name),
                some.join(", "),
                if *count > some.len() { ", ..." } else { "" },
                dump::printable(name),
                some.first().map_or("", String::as_str),
            ),
        }
    }
}

/// Writes the value (or the per-file values) of `name`; `Ok(Err(why))`
/// when there is none to write.
fn write_one<'a>(
    out: &mut impl Write,
    args: &GetArgs,
    name: &'a str,
    pattern: &NamePattern,
    paths: &[PathBuf],
    files: &[FileStats],
) -> io::Result<Result<(), NoValue<'a>>> {
    // Exactly the name, not its subtree; the label part as patterns have it.
    let with_name: Vec<FileStats> = files
        .iter()
        .filter_map(|file| {
            let fields: Vec<_> = file
                .fields
                .iter()
                .filter(|f| f.name == pattern.name_part() && pattern.labels_match(&f.labels))
                .cloned()
                .collect();
            (!fields.is_empty()).then(|| FileStats {
                fields,
                ..file.clone()
            })
        })
        .collect();
    if with_name.is_empty() {
        return Ok(Err(NoValue::Absent {
            name,
            in_default_dir: paths.is_empty(),
        }));
    }
    let render = |value: &mmstats::FieldValue| {
        if args.json {
            dump::json_value_of(value).to_string()
        } else {
            dump::raw_value(value)
        }
    };
    let mode = args.aggregate.unwrap_or(AggregateMode::Sum);
    if mode == AggregateMode::PerFile {
        for file in &with_name {
            for field in &file.fields {
                write!(out, "{}\t{}", render(&field.value), file.path.display())?;
                if !field.labels.is_empty() {
                    write!(out, "\t{}", dump::display_labels(&field.labels))?;
                }
                writeln!(out)?;
            }
        }
        return Ok(Ok(()));
    }
    let refs: Vec<_> = with_name.iter().collect();
    let mut combined = aggregate(&refs, mode, &Default::default());
    let mut label_sets: Vec<&Labels> = combined.fields.iter().map(|f| &f.field.labels).collect();
    label_sets.sort();
    label_sets.dedup();
    if label_sets.len() > 1 {
        if args.aggregate.is_none() {
            return Ok(Err(NoValue::LabelSets {
                name,
                count: label_sets.len(),
                some: label_sets
                    .iter()
                    .take(LABEL_SETS_SHOWN)
                    .map(|labels| shown_labels(labels))
                    .collect(),
            }));
        }
        // Asked for: the label sets are combined as files are.
        let unlabelled: Vec<FileStats> = with_name
            .iter()
            .map(|file| {
                let mut file = file.clone();
                for field in &mut file.fields {
                    field.labels = Labels::new();
                }
                file
            })
            .collect();
        let refs: Vec<_> = unlabelled.iter().collect();
        combined = aggregate(&refs, mode, &Default::default());
    }
    if combined.fields.len() > 1 {
        return Ok(Err(NoValue::MixedKinds { name }));
    }
    match combined.fields.first() {
        Some(field) => writeln!(out, "{}", render(&field.field.value))?,
        None => {
            return Ok(Err(NoValue::Identity { name }));
        }
    }
    Ok(Ok(()))
}
