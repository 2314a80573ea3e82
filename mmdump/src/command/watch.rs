//! `mmdump watch`: values and rates live, full-screen on a terminal,
//! lines or JSON otherwise.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mmdump::dump::screen::{self, ScreenOptions};
use mmdump::dump::style::Style;
use mmdump::dump::watch::{LineOptions, LineWriter, WatchConfig, Watcher, frame_json};

use super::{MmdumpError, ReportedFailures, UsageError};
use crate::cli::WatchArgs;

/// `mmdump watch`.
pub(crate) fn watch(args: &WatchArgs) -> Result<(), MmdumpError> {
    if !(args.interval.is_finite() && args.interval >= 0.1) {
        return Err(UsageError::IntervalTooShort { flag: "--interval" }.into());
    }
    if args.count == Some(0) {
        return Err(UsageError::ZeroCount { flag: "--count" }.into());
    }
    let stop = mmdump::signals::stop_flag();
    let mut watcher = Watcher::new(WatchConfig {
        inputs: args.paths.clone(),
        selection: args.filter.selection(),
        mode: args.aggregate,
    });
    let interval = Duration::from_secs_f64(args.interval);
    let terminal = io::stdout().is_terminal();
    if terminal && !args.lines && !args.json {
        screen::run(
            &mut watcher,
            &ScreenOptions {
                interval,
                count: args.count,
                hide_unchanged: args.hide_unchanged,
                style: Style::detect(args.color.choice, true),
            },
            stop,
        )?;
        return Ok(());
    }
    let mut lines = LineWriter::new(LineOptions {
        stats: args.columns.clone(),
        header_every: args.header_every,
        timestamps: args.timestamps,
    });
    let mut out = io::stdout().lock();
    let started = Instant::now();
    let mut reads = 0u64;
    // Each distinct failure is reported once, not at every read.
    let mut reported = ReportedFailures::default();
    loop {
        let frame = watcher.tick();
        reads += 1;
        if args.json {
            writeln!(out, "{}", frame_json(&frame))?;
        } else {
            lines.write(&mut out, &frame)?;
        }
        out.flush()?;
        reported.say_new(&frame.errors);
        if args.count.is_some_and(|count| reads >= count) {
            return Ok(());
        }
        // Reads are scheduled on a fixed grid so that lines do not drift.
        let deadline = started + interval.mul_f64(reads as f64);
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(100)));
        }
    }
}
