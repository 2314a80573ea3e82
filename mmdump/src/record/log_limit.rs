//! At most one log line per interval ([`LogLimiter`]).

use std::time::{Duration, Instant};

/// The longest-standing advice on logging errors: at most one line per
/// this long ([`LogLimiter`]).
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Lets a line through at most once per interval, counting those held
/// back (so a recorder failing every second logs one line per 10 s).
#[derive(Debug)]
pub struct LogLimiter {
    every: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl LogLimiter {
    /// At most one line per `every`.
    #[must_use]
    pub const fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            held_back: 0,
        }
    }

    /// Whether a line may be written now: `Some(n)` if so, `n` being the
    /// lines held back since the last one written.
    pub fn admit(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.every)
        {
            self.held_back += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held_back))
    }
}
