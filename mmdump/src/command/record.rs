//! `mmdump record`: sample every field into an SQLite database.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mmdump::dump::aggregate::AggregateMode;
use mmdump::dump::watch::{WatchConfig, Watcher};

use super::{MmdumpError, ReportedFailures, UsageError};
use crate::cli::RecordArgs;

/// `mmdump record`.
pub(crate) fn record(args: &RecordArgs) -> Result<(), MmdumpError> {
    use mmdump::record::{LOG_EVERY, LogLimiter, MAINTAIN_EVERY, TrendStore};

    if args.aggregate == AggregateMode::PerFile {
        return Err(UsageError::RecordNeedsCombining.into());
    }
    if args.interval < Duration::from_millis(100) {
        return Err(UsageError::IntervalTooShort { flag: "--interval" }.into());
    }
    if args.count == Some(0) {
        return Err(UsageError::ZeroCount { flag: "--count" }.into());
    }
    let mut store = TrendStore::open(&args.db, args.retention.retention())?;
    let stop = mmdump::signals::stop_flag();
    let mut watcher = Watcher::new(WatchConfig {
        inputs: args.paths.clone(),
        selection: args.filter.selection(),
        mode: args.aggregate,
    });
    let started = Instant::now();
    let mut last_maintenance = Instant::now();
    let mut samples = 0u64;
    let mut rows = 0usize;
    // Each distinct failure is reported once, not at every sample.
    let mut reported = ReportedFailures::default();
    // A failing database (a full disk, an I/O error) is logged at most
    // once per LOG_EVERY, and recording goes on.
    let mut errors = LogLimiter::new(LOG_EVERY);
    let mut notices = LogLimiter::new(LOG_EVERY);
    let held_back = |n: u64| {
        if n == 0 {
            String::new()
        } else {
            format!(" ({n} more like it held back)")
        }
    };
    let mut log_error = |error: &mmdump::record::StoreError| {
        if let Some(n) = errors.admit() {
            eprintln!("mmdump record: {error}{}", held_back(n));
        }
    };
    if !args.quiet {
        eprintln!(
            "mmdump record: sampling every {:?} into {} (Ctrl-C stops)",
            args.interval,
            args.db.display()
        );
    }
    loop {
        let frame = watcher.tick();
        match store.record_frame(&frame) {
            Ok(stored) => rows += stored,
            Err(error) => log_error(&error),
        }
        for notice in store.take_notices() {
            if let Some(n) = notices.admit() {
                eprintln!(
                    "mmdump record: {}: {notice}{}",
                    args.db.display(),
                    held_back(n)
                );
            }
        }
        samples += 1;
        reported.say_new(&frame.errors);
        if samples == 1 || last_maintenance.elapsed() >= MAINTAIN_EVERY {
            if let Err(error) = store.maintain((frame.time_ns / 1_000_000) as i64) {
                log_error(&error);
            }
            last_maintenance = Instant::now();
        }
        let done = args.count.is_some_and(|count| samples >= count)
            || args.duration.is_some_and(|d| started.elapsed() >= d);
        if done {
            break;
        }
        let deadline = started + args.interval.mul_f64(samples as f64);
        let mut stopped = false;
        loop {
            if stop.load(Ordering::Relaxed) {
                stopped = true;
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(100)));
        }
        if stopped {
            break;
        }
    }
    if !args.quiet {
        let size = store.size()?;
        eprintln!(
            "mmdump record: {samples} samples, {rows} values stored; {} is {} bytes",
            args.db.display(),
            size.db_bytes
        );
    }
    Ok(())
}
