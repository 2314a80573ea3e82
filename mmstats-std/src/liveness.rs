//! Whether a file's writer is alive: its `flock` probe, its process
//! check, and the [`Liveness`] they add up to. Readers report it; writers
//! use it to reclaim a name a dead writer left.

use std::fs::File;

use mmstats_nostd::{RegionState, RegionView};
use rustix::fs::FlockOperation;

use crate::map::ReadMap;
use crate::os::{self, ProcessCheck};

/// Whether the writer of a file is alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Its lock is held, or its pid runs with the recorded start time.
    Alive,
    /// No lock is held and no process with its pid and start time runs in
    /// this boot.
    Dead,
    /// The writer closed the region.
    Closed,
    /// Cannot tell (no start time recorded, no procfs, ...).
    Unknown,
}

impl Liveness {
    /// Lower-case name for output.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Alive => "alive",
            Self::Dead => "dead",
            Self::Closed => "closed",
            Self::Unknown => "unknown",
        }
    }
}

/// Whether some process holds the writer lock of an open stats file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockProbe {
    Held,
    Free,
    Unsupported,
}

/// Probes the writer's `flock` (`flock(2)` with `LOCK_EX | LOCK_NB`, then
/// `LOCK_UN`): a writer holds a shared lock for as long as it has the file.
///
/// Other readers probe the same file, and a probe holds a lock for a few
/// microseconds, which must not be taken for a live writer. So a refused
/// exclusive probe is followed by a shared one, then by an upgrade of that
/// shared lock to an exclusive one:
///
/// - shared refused: another prober holds the exclusive lock (writers never
///   take it): pause and probe again;
/// - upgrade granted: nobody else holds any lock: free;
/// - upgrade refused: somebody else holds a shared lock: a writer, or a
///   prober between its own two steps. Only a writer keeps it: held once
///   this is seen in two rounds, after a pause that differs between
///   processes (so that two probers do not keep meeting).
///
/// At most five rounds; the pauses (about 20 ms in all at worst) are paid
/// only while probes collide or, once (about 100 µs), for a live writer.
pub(crate) fn probe_lock(file: &File) -> LockProbe {
    let jitter_us = 50 + u64::from(std::process::id() % 7) * 15;
    let mut writer_seen = false;
    for round in 0..5u64 {
        let pause = std::time::Duration::from_micros(jitter_us << round.min(6));
        match rustix::fs::flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {
                let _ = rustix::fs::flock(file, FlockOperation::Unlock);
                return LockProbe::Free;
            }
            Err(rustix::io::Errno::WOULDBLOCK) => {}
            Err(_) => return LockProbe::Unsupported,
        }
        match rustix::fs::flock(file, FlockOperation::NonBlockingLockShared) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                std::thread::sleep(pause);
                continue;
            }
            Err(_) => return LockProbe::Unsupported,
        }
        // Not atomic (flock(2) drops the shared lock first), which is
        // fine: either way the lock is given up below.
        let upgraded = rustix::fs::flock(file, FlockOperation::NonBlockingLockExclusive);
        let _ = rustix::fs::flock(file, FlockOperation::Unlock);
        match upgraded {
            Ok(()) => return LockProbe::Free,
            Err(rustix::io::Errno::WOULDBLOCK) if writer_seen => return LockProbe::Held,
            Err(rustix::io::Errno::WOULDBLOCK) => {
                writer_seen = true;
                std::thread::sleep(pause);
            }
            Err(_) => return LockProbe::Unsupported,
        }
    }
    LockProbe::Held
}

pub(crate) fn judge(state: RegionState, lock: LockProbe, process: ProcessCheck) -> Liveness {
    if state == RegionState::Closed {
        return Liveness::Closed;
    }
    match (lock, process) {
        (LockProbe::Held, _) | (_, ProcessCheck::Running) => Liveness::Alive,
        (_, ProcessCheck::Gone) => Liveness::Dead,
        _ => Liveness::Unknown,
    }
}

/// Liveness of the writer of an open format-2 file (anything else:
/// [`Liveness::Unknown`]).
pub(crate) fn writer_liveness(file: &File) -> Liveness {
    let Ok(stat) = rustix::fs::fstat(file) else {
        return Liveness::Unknown;
    };
    let Ok(map) = ReadMap::shared(file, (stat.st_size.max(0) as usize).min(1 << 30)) else {
        return Liveness::Unknown;
    };
    let words = map.words();
    match RegionView::open(&words) {
        Ok(view) => {
            let p = view.prologue();
            judge(
                view.state(),
                probe_lock(file),
                os::check_process(p.pid, p.start_time, p.boot_id),
            )
        }
        Err(_) => Liveness::Unknown,
    }
}
