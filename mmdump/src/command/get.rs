//! `mmdump get NAME...`: values, raw, for scripts, one line per name in
//! the order given (or "value TAB path" lines per file with
//! `--aggregate per-file`).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use mmdump::dump;
use mmdump::dump::aggregate::{AggregateMode, aggregate};
use mmdump::dump::select::Selection;
use mmdump::glob::NamePattern;
use mmstats::FileStats;

use super::{MmdumpError, exit_code, report_errors};
use crate::cli::GetArgs;

/// `mmdump get`.
pub(crate) fn get(args: &GetArgs) -> Result<(), MmdumpError> {
    let (names, paths) = args.names_and_paths();
    let selection = Selection {
        include: names.iter().map(|name| NamePattern::new(name)).collect(),
        ..args.filter.selection()
    };
    let report = dump::collect_selected(&paths, &selection);
    let mut out = BufWriter::new(io::stdout().lock());
    // Said after the values and the files' own errors, as each name is
    // met: a name that fails does not stop the others.
    let mut failures = Vec::new();
    for name in &names {
        if let Err(message) = write_one(&mut out, args, name, &paths, &report.files)? {
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
        }
    }
}

/// Writes the value (or the per-file values) of `name`; `Ok(Err(why))`
/// when there is none to write.
fn write_one<'a>(
    out: &mut impl Write,
    args: &GetArgs,
    name: &'a str,
    paths: &[PathBuf],
    files: &[FileStats],
) -> io::Result<Result<(), NoValue<'a>>> {
    // Exactly the name, not its subtree.
    let with_name: Vec<FileStats> = files
        .iter()
        .filter_map(|file| {
            let fields: Vec<_> = file
                .fields
                .iter()
                .filter(|f| f.name == name)
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
    if args.aggregate == AggregateMode::PerFile {
        for file in &with_name {
            writeln!(
                out,
                "{}\t{}",
                render(&file.fields[0].value),
                file.path.display()
            )?;
        }
        return Ok(Ok(()));
    }
    let refs: Vec<_> = with_name.iter().collect();
    let combined = aggregate(&refs, args.aggregate, &Default::default());
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
