//! `mmdump list`: one line per file (format, writer, liveness, age).

use std::io::{self, BufWriter, Write};

use mmdump::dump;

use super::{MmdumpError, exit_code, note_if_empty, report_errors};
use crate::cli::ListArgs;

/// `mmdump list`.
pub(crate) fn list(args: &ListArgs) -> Result<(), MmdumpError> {
    let report = dump::collect_selected(&args.paths, &args.filter.selection());
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        writeln!(out, "{}", dump::list_json(&report))?;
    } else {
        dump::write_list(&mut out, &report)?;
    }
    out.flush()?;
    report_errors(&report);
    note_if_empty(&report, &args.paths, args.json);
    exit_code(&report)
}
