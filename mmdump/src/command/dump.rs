//! `mmdump` and `mmdump dump`: every field of every file, as text or JSON,
//! per file or combined.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;

use mmdump::dump::aggregate::{AggregateMode, aggregate};
use mmdump::dump::style::Style;
use mmdump::dump::{self};

use super::{MmdumpError, exit_code, note_if_empty, report_errors};
use crate::cli::DumpArgs;

/// `mmdump [dump]`: every field of every file.
pub(crate) fn dump(args: &DumpArgs) -> Result<(), MmdumpError> {
    let report = dump::collect_selected(&args.paths, &args.filter.selection());
    let style = Style::detect(args.color.choice, io::stdout().is_terminal());
    let mut out = BufWriter::new(io::stdout().lock());
    let files: Vec<_> = report.files.iter().collect();
    match (args.aggregate, args.json) {
        (AggregateMode::PerFile, false) => dump::write_text_styled(&mut out, &report, &style)?,
        (AggregateMode::PerFile, true) => dump::json::write_json(&mut out, &report, None)?,
        (mode, false) => {
            let combined = aggregate(&files, mode, &Default::default());
            dump::write_aggregate_text(&mut out, &combined, &style)?;
        }
        (mode, true) => {
            let combined = aggregate(&files, mode, &Default::default());
            let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
            dump::json::write_json(&mut out, &report, Some((&combined, &paths)))?;
        }
    }
    out.flush()?;
    report_errors(&report);
    note_if_empty(&report, &args.paths, args.json);
    exit_code(&report)
}
