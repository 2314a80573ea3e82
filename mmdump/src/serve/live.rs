//! The dashboard's live data: a sampler thread reads every selected file
//! once a second with `mmdump watch`'s [`Watcher`] (values, rates, moving
//! averages, restarts handled as `watch` handles them) and keeps the last
//! frame as JSON for `/api/v1/live`, combined and per file. With
//! `serve --record`, the same combined frames are written to the trend
//! database.
//!
//! **Only while watched.** Without `--record`, the sampler reads only
//! while someone asks for `/api/v1/live` (the dashboard polls it once a
//! second): the first ask wakes it (that ask gets 503 until the first
//! read is done), and [`IDLE_AFTER`] without one puts it back to sleep,
//! dropping its watchers and frames. A server that is only scraped by
//! Prometheus thus holds no copy of the files' fields between scrapes
//! and spends no time reading them every second (at 100,000 fields the
//! two watchers' state and frames were hundreds of MB).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::dump::aggregate::AggregateMode;
use crate::dump::watch::{Frame, WatchConfig, Watcher, frame_json};
use crate::record::Recorder;

/// How long the sampler goes on reading after the last ask for a frame
/// (without `--record`).
pub const IDLE_AFTER: Duration = Duration::from_secs(60);

/// How often a sleeping sampler looks for an ask (and for its stop).
const WAKE_CHECK: Duration = Duration::from_millis(50);

/// The last frames, serialised once per tick and shared by every request.
#[derive(Debug, Default)]
struct Frames {
    combined: Option<Arc<String>>,
    per_file: Option<Arc<String>>,
    /// Why the last record into the trend database failed, if it did.
    record_error: Option<String>,
    ticks: u64,
    /// When a frame was last asked for.
    last_asked: Option<Instant>,
}

/// What the sampler publishes; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct LiveView {
    frames: Arc<Mutex<Frames>>,
}

impl LiveView {
    /// The last frame as `mmdump watch --json` writes it: combined by the
    /// server's mode, or per file. `None` before the first tick.
    /// Asking wakes a sleeping sampler (see the module docs).
    #[must_use]
    pub fn frame(&self, per_file: bool) -> Option<Arc<String>> {
        let mut frames = self.frames.lock().unwrap_or_else(PoisonError::into_inner);
        frames.last_asked = Some(Instant::now());
        if per_file {
            frames.per_file.clone()
        } else {
            frames.combined.clone()
        }
    }

    /// Ticks so far.
    #[must_use]
    pub fn ticks(&self) -> u64 {
        self.frames
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ticks
    }

    /// Whether a frame was asked for within `window`.
    fn asked_within(&self, window: Duration) -> bool {
        self.frames
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_asked
            .is_some_and(|at| at.elapsed() < window)
    }

    /// Forgets the frames (the sampler went to sleep).
    fn clear(&self) {
        let mut frames = self.frames.lock().unwrap_or_else(PoisonError::into_inner);
        frames.combined = None;
        frames.per_file = None;
    }

    /// The last recording error, if the last record failed.
    #[must_use]
    pub fn record_error(&self) -> Option<String> {
        self.frames
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record_error
            .clone()
    }
}

/// The sampler thread; stops when dropped.
#[derive(Debug)]
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Starts reading `config`'s files every `interval` into `view`;
    /// `config.mode` is the combined view's rule (per-file is read too).
    /// Each combined frame is offered to `recorder`.
    pub fn start(
        config: WatchConfig,
        interval: Duration,
        view: LiveView,
        mut recorder: Option<Recorder>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_thread = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("mmdump-sampler".into())
            .spawn(move || {
                let mode = if config.mode == AggregateMode::PerFile {
                    AggregateMode::Sum
                } else {
                    config.mode
                };
                let new_watchers = || {
                    let combined = Watcher::new(WatchConfig {
                        mode,
                        ..config.clone()
                    });
                    let per_file = Watcher::new(WatchConfig {
                        mode: AggregateMode::PerFile,
                        ..config.clone()
                    });
                    (combined, per_file)
                };
                let mut watchers: Option<(Watcher, Watcher)> = None;
                let mut started = Instant::now();
                let mut ticks = 0u64;
                let mut record_log = crate::record::LogLimiter::new(crate::record::LOG_EVERY);
                while !stop_thread.load(Ordering::Relaxed) {
                    if recorder.is_none() && !view.asked_within(IDLE_AFTER) {
                        if watchers.take().is_some() {
                            view.clear();
                        }
                        std::thread::sleep(WAKE_CHECK);
                        continue;
                    }
                    let (combined, per_file) = watchers.get_or_insert_with(|| {
                        // A new grid from now: the first read at once.
                        started = Instant::now();
                        ticks = 0;
                        new_watchers()
                    });
                    let frame: Frame = combined.tick();
                    let combined_json = Arc::new(frame_json(&frame).to_string());
                    let per_file_json = Arc::new(frame_json(&per_file.tick()).to_string());
                    let record_error = recorder
                        .as_mut()
                        .and_then(|r| r.offer(&frame).err().map(|e| e.to_string()));
                    // Logged at most once per LOG_EVERY (a full disk fails
                    // every interval); the dashboard shows the last one.
                    if let Some(error) = &record_error
                        && let Some(held_back) = record_log.admit()
                    {
                        let note = if held_back == 0 {
                            String::new()
                        } else {
                            format!(" ({held_back} more like it held back)")
                        };
                        eprintln!("mmdump serve: recording: {error}{note}");
                    }
                    for notice in recorder
                        .as_mut()
                        .map(Recorder::take_notices)
                        .unwrap_or_default()
                    {
                        eprintln!("mmdump serve: recording: {notice}");
                    }
                    {
                        let mut frames = view.frames.lock().unwrap_or_else(PoisonError::into_inner);
                        frames.combined = Some(combined_json);
                        frames.per_file = Some(per_file_json);
                        frames.record_error = record_error;
                        frames.ticks += 1;
                    }
                    ticks += 1;
                    // A fixed grid, as `watch` keeps, so rates do not drift.
                    let deadline = started + interval.mul_f64(ticks as f64);
                    while !stop_thread.load(Ordering::Relaxed) {
                        let now = Instant::now();
                        if now >= deadline {
                            break;
                        }
                        std::thread::sleep((deadline - now).min(WAKE_CHECK));
                    }
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
