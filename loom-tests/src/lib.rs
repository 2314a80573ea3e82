//! Loom models of mmstats' latch cells, field publication, prologue state
//! and shared counters, run on `mmstats-nostd`'s own code through its
//! `sync` module (which switches to loom's atomics under `--cfg loom`).
//!
//! The models live in `tests/`; run them with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p loom-tests --release
//! ```
//!
//! This library only holds what the models share. Without `--cfg loom` it
//! is empty, so `cargo test --workspace` builds nothing here.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use mmstats_nostd::Word;

/// Preemptions a model explores unless `LOOM_MAX_PREEMPTIONS` says
/// otherwise (CI sets 3).
pub const DEFAULT_PREEMPTIONS: usize = 3;

/// A loom model builder: the preemption bound is `LOOM_MAX_PREEMPTIONS`
/// (or [`DEFAULT_PREEMPTIONS`]) capped at `cap`, so that a model with many
/// operations per thread stays within minutes; branches per execution are
/// raised for models that walk a whole prologue or entry.
#[must_use]
pub fn builder(cap: usize) -> loom::model::Builder {
    let mut builder = loom::model::Builder::new();
    let bound = builder.preemption_bound.unwrap_or(DEFAULT_PREEMPTIONS);
    builder.preemption_bound = Some(bound.min(cap));
    builder.max_branches = builder.max_branches.max(20_000);
    builder
}

/// `count` zeroed words that live for the rest of the process.
///
/// Handles borrow their region's words, and loom threads must be
/// `'static`, so each execution leaks its (small) region. Loom's atomics
/// belong to the execution that made them; a leaked one is just memory.
#[must_use]
pub fn leaked_words(count: usize) -> &'static [Word] {
    let words: Vec<Word> = (0..count).map(|_| Word::new(0)).collect();
    Box::leak(words.into_boxed_slice())
}

/// Counts the executions of one model, for the figures in
/// `docs/VERIFICATION.md` (printed with `--nocapture`).
#[derive(Debug)]
pub struct Executions {
    name: &'static str,
    count: AtomicUsize,
    started: std::time::Instant,
}

impl Executions {
    /// Starts counting for the model `name`.
    #[must_use]
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            count: AtomicUsize::new(0),
            started: std::time::Instant::now(),
        }
    }

    /// Records one execution (call at the top of the model closure).
    pub fn tick(&self) {
        // Relaxed: a plain tally, read after the model has finished.
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Executions {
    fn drop(&mut self) {
        eprintln!(
            "loom model {}: {} executions in {:.1?}",
            self.name,
            self.count.load(Ordering::Relaxed),
            self.started.elapsed()
        );
    }
}
