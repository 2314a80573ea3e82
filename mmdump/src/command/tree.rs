//! `mmdump tree`: dotted names as a tree, optionally only a query's.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use mmdump::dump::aggregate::{AggregateMode, aggregate};
use mmdump::dump::style::Style;
use mmdump::dump::{self};
use mmdump::glob::NamePattern;

use super::{MmdumpError, exit_code, report_errors};
use crate::cli::TreeArgs;

/// `mmdump tree`.
pub(crate) fn tree(mut args: TreeArgs) -> Result<(), MmdumpError> {
    if let Some(query) = args.query.take() {
        // A '/' inside a label part (`x{path="/a"}`) does not make a path.
        let labelled = NamePattern::new(&query).has_labels();
        if (query.contains('/') && !labelled) || Path::new(&query).exists() {
            args.paths.insert(0, PathBuf::from(query));
        } else {
            args.query = Some(query);
        }
    }
    let mut selection = args.filter.selection();
    if let Some(query) = &args.query {
        selection.include.push(NamePattern::new(query));
    }
    let report = dump::collect_selected(&args.paths, &selection);
    let style = Style::detect(args.color.choice, io::stdout().is_terminal());
    let mut out = BufWriter::new(io::stdout().lock());
    if args.aggregate == AggregateMode::PerFile {
        for (index, file) in report.files.iter().enumerate() {
            if index > 0 {
                writeln!(out)?;
            }
            writeln!(out, "{}", dump::header(file, &style))?;
            dump::tree::write_tree(&mut out, &file.fields, &style)?;
        }
    } else {
        let files: Vec<_> = report.files.iter().collect();
        let combined = aggregate(&files, args.aggregate, &Default::default());
        writeln!(out, "{}", dump::aggregate_header(&combined, &style))?;
        dump::tree::write_tree(&mut out, combined.fields.iter().map(|f| &f.field), &style)?;
    }
    out.flush()?;
    report_errors(&report);
    if report.files.is_empty() && args.query.is_some() && report.errors.is_empty() {
        eprintln!(
            "mmdump: no field matches {}",
            args.query.unwrap_or_default()
        );
        return Err(MmdumpError::Incomplete);
    }
    exit_code(&report)
}
