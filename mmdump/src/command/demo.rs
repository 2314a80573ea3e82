//! `mmdump demo`: a demo writer, read back once a second.

use std::io::{self, BufWriter, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;

use mmdump::demo::Demo;
use mmdump::dump;

use super::{MmdumpError, exit_code, report_errors};
use crate::cli::DemoArgs;

/// `mmdump demo`.
pub(crate) fn demo(args: &DemoArgs) -> Result<(), MmdumpError> {
    let stop = mmdump::signals::stop_flag();
    let demo = Demo::start(
        if args.shm {
            Some(mmstats::Location::Shm)
        } else {
            args.dir.clone().map(mmstats::Location::Dir)
        },
        args.workers,
    )
    .map_err(MmdumpError::Demo)?;
    let mut out = BufWriter::new(io::stdout().lock());
    writeln!(
        out,
        "demo writer publishing {} files; reading them back once a second{}",
        demo.paths().len(),
        if args.seconds == 0 {
            " (Ctrl-C stops)"
        } else {
            ""
        }
    )?;
    out.flush()?;
    let main_file = demo.paths()[..1].to_vec();
    let mut second = 0;
    while (args.seconds == 0 || second < args.seconds) && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_secs(1));
        second += 1;
        writeln!(out, "\n--- after {second}s ---")?;
        dump::write_text(&mut out, &dump::collect(&main_file))?;
        out.flush()?;
    }
    writeln!(out, "\n--- every demo file, last read ---")?;
    let report = dump::collect(demo.paths());
    dump::write_text(&mut out, &report)?;
    out.flush()?;
    report_errors(&report);
    demo.stop();
    exit_code(&report)
}
