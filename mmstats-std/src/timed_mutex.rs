//! [`TimedMutex`]: a `std::sync::Mutex` that publishes how long threads
//! wait for it and hold it, and when they contend for it.
//!
//! **What.** [`StatsFile::timed_mutex`] adds three fields named after the
//! lock: `{name}.wait_ns` and `{name}.hold_ns`, histograms in nanoseconds,
//! and `{name}.contention`, an event ring with one record per contended
//! acquisition (event code [`CONTENDED`], payload: the wait in ns), with the
//! thread id and time of each.
//!
//! **How it stays cheap.** The stats live *inside* the mutex, beside the
//! value: whoever holds the lock is their only writer, so a histogram
//! record is a few plain stores with no atomic of their own (the mutex
//! orders one holder's writes before the next holder's). An acquisition
//! first tries the lock: when that succeeds (no contention), the wait is
//! recorded as 0 without reading the clock, and the hold time is timed
//! for 1 acquisition in [`HOLD_SAMPLE`] only; an acquisition that had to
//! wait reads the clock before and after waiting, records its wait, a
//! ring record, and its hold time. So `hold_ns` is a sample (every
//! contended hold and 1 in 16 of the others), and `wait_ns` counts every
//! acquisition.
//!
//! **Poisoning.** A panic while holding the lock does not poison it for
//! the others (as in `parking_lot`): [`TimedMutex::lock`] returns the guard
//! whatever happened before; if the value may be half-updated after a
//! panic, check it.
//!
//! **When not to use it.** For a lock held for nanoseconds on the hottest
//! path, even the uncontended extra (a histogram record and a sample
//! count) is measurable: use it where you want to know whether the lock is
//! a problem.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! let stats = mmstats::StatsFile::builder("srv").dir(dir.path()).create()?;
//! let queue = stats.timed_mutex("queue", Vec::<u32>::new())?;
//! queue.lock().push(7);
//! assert_eq!(queue.lock().len(), 1);
//! let read = mmstats::read_file(stats.path())?;
//! let wait = read.fields.iter().find(|f| f.name == "queue.wait_ns").unwrap();
//! let mmstats::FieldValue::Histogram(wait) = &wait.value else { unreachable!() };
//! assert_eq!(wait.total(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use mmstats_nostd::{FieldSpec, Unit};

use crate::error::AddFieldError;
use crate::events::EventRing;
use crate::os;
use crate::publish::{Histogram, StatsFile};

/// Uncontended acquisitions whose hold time is timed: 1 in this many.
pub const HOLD_SAMPLE: u32 = 16;

/// The event code of a contention record.
pub const CONTENDED: u32 = 1;

/// Records of the contention ring.
const CONTENTION_RECORDS: usize = 128;

/// A mutex that publishes its wait and hold times (module docs).
#[derive(Debug)]
pub struct TimedMutex<T> {
    inner: Mutex<Timed<T>>,
}

/// The value and its lock's stats, written by the holder only.
#[derive(Debug)]
struct Timed<T> {
    value: T,
    wait: Histogram,
    hold: Histogram,
    contention: EventRing,
    /// Uncontended acquisitions until the next timed hold.
    until_sample: u32,
}

/// Access to the value; records the hold time (when timed) on drop.
#[derive(Debug)]
pub struct TimedMutexGuard<'m, T> {
    guard: MutexGuard<'m, Timed<T>>,
    /// `CLOCK_MONOTONIC` ns when the lock was taken, if this hold is timed.
    held_since: Option<u64>,
}

impl<T> TimedMutex<T> {
    /// Takes the lock, waiting if another thread holds it.
    pub fn lock(&self) -> TimedMutexGuard<'_, T> {
        match self.inner.try_lock() {
            Ok(mut guard) => {
                let timed = &mut *guard;
                timed.wait.record(0);
                let held_since = if timed.until_sample == 0 {
                    timed.until_sample = HOLD_SAMPLE - 1;
                    Some(os::monotonic_ns())
                } else {
                    timed.until_sample -= 1;
                    None
                };
                TimedMutexGuard { guard, held_since }
            }
            Err(TryLockError::WouldBlock) => self.lock_contended(),
            Err(TryLockError::Poisoned(poisoned)) => TimedMutexGuard {
                guard: poisoned.into_inner(),
                held_since: None,
            },
        }
    }

    #[cold]
    fn lock_contended(&self) -> TimedMutexGuard<'_, T> {
        let start = os::monotonic_ns();
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let now = os::monotonic_ns();
        let waited = now.saturating_sub(start);
        guard.wait.record(waited);
        guard.contention.event(CONTENDED, &[waited]);
        TimedMutexGuard {
            guard,
            held_since: Some(now),
        }
    }

    /// The value, for the only owner (no locking, nothing recorded).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self
            .inner
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .value
    }
}

impl<T> Deref for TimedMutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard.value
    }
}

impl<T> DerefMut for TimedMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard.value
    }
}

impl<T> Drop for TimedMutexGuard<'_, T> {
    fn drop(&mut self) {
        if let Some(since) = self.held_since {
            let held = os::monotonic_ns().saturating_sub(since);
            self.guard.hold.record(held);
        }
        // The std guard unlocks after this.
    }
}

impl StatsFile {
    /// A mutex around `value` publishing `{name}.wait_ns`,
    /// `{name}.hold_ns` and `{name}.contention` (see [`TimedMutex`]).
    pub fn timed_mutex<T>(&self, name: &str, value: T) -> Result<TimedMutex<T>, AddFieldError> {
        let wait = self.histogram(
            FieldSpec::new(&format!("{name}.wait_ns"))
                .unit(Unit::Nanoseconds)
                .describe("time to take the lock"),
        )?;
        let hold = self.histogram(
            FieldSpec::new(&format!("{name}.hold_ns"))
                .unit(Unit::Nanoseconds)
                .describe("time the lock was held (contended, and 1 in 16 others)"),
        )?;
        let contention = self.event_ring(
            FieldSpec::new(&format!("{name}.contention"))
                .describe("acquisitions that waited (payload: wait ns)")
                .capacity(CONTENTION_RECORDS)
                .payload_words(1),
        )?;
        Ok(TimedMutex {
            inner: Mutex::new(Timed {
                value,
                wait,
                hold,
                contention,
                until_sample: 0,
            }),
        })
    }
}
