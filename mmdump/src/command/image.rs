//! `mmdump --image`: find regions in a memory image.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use super::MmdumpError;

/// `mmdump --image FILE... [--base ADDR] [--json]`.
pub(crate) fn image(paths: &[PathBuf], base: Option<u64>, json: bool) -> Result<(), MmdumpError> {
    let report = mmdump::image::collect(paths, base);
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        writeln!(out, "{}", mmdump::image::to_json(&report))?;
    } else {
        mmdump::image::write_text(&mut out, &report)?;
    }
    out.flush()?;
    for line in report.error_lines() {
        eprintln!("mmdump: {line}");
    }
    if report.has_errors() {
        Err(MmdumpError::Incomplete)
    } else {
        Ok(())
    }
}
