//! `mmdump trace`: rings or archives as Chrome trace-event JSON.

use std::io::{self, Write};

use super::MmdumpError;
use crate::cli::TraceArgs;

/// `mmdump trace`.
pub(crate) fn trace(args: TraceArgs) -> Result<(), MmdumpError> {
    use mmdump::tail::TailOptions;
    use mmdump::trace::{Records, chrome_trace, read_archive, read_rings, timeline_html};
    let mut records = if args.paths.is_empty() && !args.archive.is_empty() {
        Records::default()
    } else {
        read_rings(TailOptions {
            paths: args.paths,
            ring: args.ring,
            ..TailOptions::default()
        })
    };
    for archive in &args.archive {
        read_archive(archive, &mut records).map_err(|error| io::Error::other(error.to_string()))?;
    }
    let trace = chrome_trace(&records);
    // A file named with -o is written whole, then renamed into place
    // (created O_EXCL | O_NOFOLLOW, mode 0600: a trace shows what the
    // program did); otherwise standard output.
    let mut out: Vec<u8> = Vec::new();
    if args.html {
        let window_us = if args.seconds.is_finite() && args.seconds > 0.0 {
            args.seconds * 1e6
        } else {
            f64::MAX
        };
        out.write_all(timeline_html(&trace, window_us).as_bytes())?;
    } else {
        serde_json::to_writer(&mut out, &trace).map_err(io::Error::other)?;
        writeln!(out)?;
    }
    match &args.output {
        Some(path) => super::write_new_file(path, &out, 0o600)?,
        None => {
            let mut stdout = io::stdout().lock();
            stdout.write_all(&out)?;
            stdout.flush()?;
        }
    }
    Ok(())
}
