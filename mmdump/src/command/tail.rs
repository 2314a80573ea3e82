//! `mmdump tail`: follow event rings live.

use std::io::{self, BufWriter};
use std::time::Duration;

use super::MmdumpError;
use crate::cli::TailArgs;

/// `mmdump tail`.
pub(crate) fn tail(args: TailArgs) -> Result<(), MmdumpError> {
    use mmdump::tail::{RunOptions, Start, TailOptions};
    let options = RunOptions {
        tail: TailOptions {
            paths: args.paths,
            ring: args.ring,
            selection: args.filter.selection(),
            start: if args.new {
                Start::Newest
            } else {
                Start::Oldest
            },
            spans: args.spans,
            ..TailOptions::default()
        },
        json: args.json,
        archive: args.archive,
        interval: Duration::from_millis(args.interval_ms.max(1)),
        once: args.once,
        max_records: args.count,
        duration: args.seconds.map(Duration::from_secs),
    };
    let stop = mmdump::signals::stop_flag();
    let mut out = BufWriter::new(io::stdout().lock());
    let (_, ok) = mmdump::tail::run(&options, stop, &mut out, &mut io::stderr())?;
    if ok {
        Ok(())
    } else {
        Err(MmdumpError::Incomplete)
    }
}
