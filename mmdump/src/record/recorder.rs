//! Recording combined frames at an interval ([`Recorder`], for `serve
//! --record`).

use std::time::{Duration, Instant};

use crate::dump::watch::Frame;

use super::{StoreError, StoreNotice, TrendStore};

/// Records combined frames at an interval and maintains the database
/// every minute (used by `serve --record`; `mmdump record` drives a
/// [`TrendStore`] itself the same way).
#[derive(Debug)]
pub struct Recorder {
    store: TrendStore,
    interval: Duration,
    last_record: Option<Instant>,
    last_maintenance: Option<Instant>,
}

/// How often the database is maintained while recording.
pub const MAINTAIN_EVERY: Duration = Duration::from_secs(60);

impl Recorder {
    /// Records into `store` every `interval`.
    #[must_use]
    pub const fn new(store: TrendStore, interval: Duration) -> Self {
        Self {
            store,
            interval,
            last_record: None,
            last_maintenance: None,
        }
    }

    /// Records `frame` if an interval has passed since the last record
    /// (a little early counts: frames come on a grid); maintains the
    /// database when due. Returns the rows stored.
    pub fn offer(&mut self, frame: &Frame) -> Result<usize, StoreError> {
        let now = Instant::now();
        let due = self
            .last_record
            .is_none_or(|at| now.duration_since(at) + Duration::from_millis(100) >= self.interval);
        if !due {
            return Ok(0);
        }
        self.last_record = Some(now);
        let stored = self.store.record_frame(frame)?;
        if self
            .last_maintenance
            .is_none_or(|at| now.duration_since(at) >= MAINTAIN_EVERY)
        {
            self.last_maintenance = Some(now);
            self.store.maintain((frame.time_ns / 1_000_000) as i64)?;
        }
        Ok(stored)
    }

    /// The store.
    #[must_use]
    pub const fn store(&self) -> &TrendStore {
        &self.store
    }

    /// What the store did on its own (a full disk) since the last call.
    pub fn take_notices(&mut self) -> Vec<StoreNotice> {
        self.store.take_notices()
    }
}
