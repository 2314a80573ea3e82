//! [`run`]: the whole `mmdump tail` loop.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::value_text::format_count;

use super::{Archive, Follower, TailEvent, TailOptions, TailTotals, format_text, to_json};

/// How `mmdump tail` prints and when it stops.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// What to follow.
    pub tail: TailOptions,
    /// JSON lines instead of text.
    pub json: bool,
    /// Also append every event to this archive (JSON lines).
    pub archive: Option<PathBuf>,
    /// Pause between polls.
    pub interval: Duration,
    /// Read what is there once and stop.
    pub once: bool,
    /// Stop after this many records.
    pub max_records: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            tail: TailOptions::default(),
            json: false,
            archive: None,
            interval: Duration::from_millis(100),
            once: false,
            max_records: None,
            duration: None,
        }
    }
}

/// Follows rings until `stop` is set (or a limit of `options` is reached),
/// writing events to `out` and notes to `notes`. Returns the totals; the
/// caller exits with failure if a file could not be read.
pub fn run(
    options: &RunOptions,
    stop: &AtomicBool,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> io::Result<(TailTotals, bool)> {
    let mut follower = Follower::new(options.tail.clone());
    let mut archive = options.archive.as_ref().map(Archive::open).transpose()?;
    let started = Instant::now();
    let mut problems = false;
    let mut announced = false;
    // Records written out (a poll may find more than `max_records`).
    let mut written = 0u64;
    let limit = options.max_records.unwrap_or(u64::MAX);
    loop {
        let mut pending: io::Result<()> = Ok(());
        let spans = options.tail.spans;
        follower.poll(&mut |event| {
            if pending.is_err() || written >= limit {
                return;
            }
            if matches!(event, TailEvent::Record(_)) {
                written += 1;
            }
            problems |= matches!(event, TailEvent::Problem { .. });
            let line = if options.json {
                Some(to_json(&event).to_string())
            } else {
                format_text(&event, spans)
            };
            pending = (|| {
                if let Some(line) = line {
                    writeln!(out, "{line}")?;
                }
                if let Some(archive) = archive.as_mut() {
                    archive.append(&event)?;
                }
                Ok(())
            })();
        });
        pending?;
        out.flush()?;
        if let Some(archive) = archive.as_mut() {
            archive.flush()?;
        }
        let totals = follower.totals();
        if !announced
            && totals.rings == 0
            && (options.once || started.elapsed() > Duration::from_secs(1))
        {
            writeln!(notes, "mmdump tail: no event rings found (yet)")?;
            announced = true;
        }
        let done = options.once
            || stop.load(Ordering::Relaxed)
            || written >= limit
            || options
                .duration
                .is_some_and(|limit| started.elapsed() >= limit);
        if done {
            if totals.missed > 0 {
                writeln!(
                    notes,
                    "mmdump tail: {} records, {} missed (the writer overwrote them first)",
                    format_count(totals.records),
                    format_count(totals.missed)
                )?;
            }
            return Ok((
                TailTotals {
                    records: written.min(totals.records),
                    ..totals
                },
                !problems,
            ));
        }
        std::thread::sleep(options.interval);
    }
}
