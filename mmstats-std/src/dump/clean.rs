//! `mmdump clean`: removes stats files whose writer is provably dead.
//!
//! A file is removed only when all of these hold:
//!
//! - it is a regular file, reached without following a symbolic link
//!   (the file is opened `O_NOFOLLOW`; symbolic links are never removed);
//! - it belongs to the user running `mmdump` (its owner is the effective
//!   uid; `--all-users` lets root pass this check);
//! - it is a format-2 region (legacy v1 files only with `--legacy`, see
//!   below) whose prologue validates;
//! - no process holds its writer lock (`mmdump` takes the lock itself,
//!   exclusively, and keeps it until the file is removed, so a writer
//!   cannot be holding it meanwhile);
//! - the process table says the writer is gone: no process has the
//!   recorded pid, or the process that has it started at another time
//!   (the pid was reused), or the file was written in another boot. A
//!   file without a recorded start time (`start_time` 0) is never judged
//!   dead by a running pid;
//! - the region is not closed, unless `--closed` is given (a closed file
//!   still on disk was kept on purpose by its writer);
//! - right before the unlink, its name still refers to the same inode.
//!
//! Anything else is kept, with the reason. Legacy v1 files record a pid
//! but no start time and take no lock: with `--legacy`, one is removed
//! only when no process with its pid exists at all.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use mmstats_nostd::layout::MAGIC;
use mmstats_nostd::{RegionState, RegionView};
use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags};

use crate::legacy::LEGACY_VERSION;
use crate::map::ReadMap;
use crate::os::{self, ProcessCheck};
use crate::read::{FieldValue, open_for_reading, read_file};

use super::discover;
use super::select::Selection;

/// Settings of a clean-up.
#[derive(Clone, Debug, Default)]
pub struct CleanOptions {
    /// Judge and report, remove nothing.
    pub dry_run: bool,
    /// Also remove closed files whose writer is gone.
    pub closed: bool,
    /// Also judge legacy v1 files (by pid alone).
    pub legacy: bool,
    /// Let root remove files of other users.
    pub all_users: bool,
}

/// What happened to a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Removed.
    Removed,
    /// Would be removed (dry run).
    WouldRemove,
    /// Kept: not provably dead, or not ours to remove.
    Kept,
    /// Judged dead, but removing failed.
    Failed(String),
}

impl Action {
    /// The word shown in `mmdump clean` output.
    #[must_use]
    pub const fn word(&self) -> &'static str {
        match self {
            Self::Removed => "removed",
            Self::WouldRemove => "would remove",
            Self::Kept => "kept",
            Self::Failed(_) => "failed",
        }
    }
}

/// The verdict on one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The file.
    pub path: PathBuf,
    /// What was done.
    pub action: Action,
    /// Why.
    pub reason: String,
}

/// Judges every file `inputs` names (see [`discover`]) that `selection`
/// selects by name and pid, and removes the dead ones unless it is a dry
/// run. Returns one outcome per file, and the inputs that named nothing.
#[must_use]
pub fn clean(
    inputs: &[PathBuf],
    selection: &Selection,
    options: &CleanOptions,
) -> (Vec<Outcome>, Vec<(PathBuf, String)>) {
    let (paths, errors) = discover(inputs);
    let outcomes = paths
        .into_iter()
        .filter(|p| selection.path_selected(p))
        .filter_map(|path| clean_one(&path, selection, options))
        .collect();
    (outcomes, errors)
}

/// Why a file is kept (the `Err` of [`judge`]).
type Keep = String;

/// Judges and maybe removes one file; `None` if the pid selector rejects it.
fn clean_one(path: &Path, selection: &Selection, options: &CleanOptions) -> Option<Outcome> {
    let kept = |reason: String| Outcome {
        path: path.to_owned(),
        action: Action::Kept,
        reason,
    };
    let (file, _) = match open_for_reading(path) {
        Ok(opened) => opened,
        Err(error) => return Some(kept(error.reason.to_string())),
    };
    let verdict = judge(path, &file, options);
    let (pid, verdict) = match verdict {
        Ok((pid, reason)) => (pid, Ok(reason)),
        Err((pid, reason)) => (pid, Err(reason)),
    };
    if !selection.pid_selected(pid) {
        return None;
    }
    let reason = match verdict {
        Ok(reason) => reason,
        Err(reason) => return Some(kept(reason)),
    };
    if options.dry_run {
        return Some(Outcome {
            path: path.to_owned(),
            action: Action::WouldRemove,
            reason,
        });
    }
    Some(match remove(path, &file) {
        Ok(()) => Outcome {
            path: path.to_owned(),
            action: Action::Removed,
            reason,
        },
        Err(error) => Outcome {
            path: path.to_owned(),
            action: Action::Failed(error.to_string()),
            reason,
        },
    })
}

/// Decides whether the open file's writer is provably dead: `Ok` with the
/// reason it is, or `Err` with the reason to keep it; both with the
/// writer's pid when known. On `Ok` for a format-2 file, this process
/// holds the file's lock exclusively (it is released when `file` closes).
#[allow(clippy::type_complexity)]
fn judge(
    path: &Path,
    file: &File,
    options: &CleanOptions,
) -> Result<(Option<u64>, String), (Option<u64>, Keep)> {
    let meta = file
        .metadata()
        .map_err(|e| (None, format!("fstat failed: {e}")))?;
    let me = u64::from(rustix::process::geteuid().as_raw());
    let owner = u64::from(meta.uid());
    if owner != me && !(options.all_users && me == 0) {
        return Err((None, format!("owned by uid {owner}, not by you (uid {me})")));
    }
    let mut head = [0u8; 8];
    let got = {
        use std::os::unix::fs::FileExt;
        file.read_at(&mut head, 0).unwrap_or(0)
    };
    if got >= 1 && head[0] == LEGACY_VERSION {
        return judge_legacy(path, options);
    }
    if got < head.len() || head != MAGIC {
        return Err((None, "not an mmstats file".into()));
    }
    let len = usize::try_from(meta.len())
        .unwrap_or(usize::MAX)
        .min(1 << 30);
    let map = ReadMap::shared(file, len).map_err(|e| (None, format!("mmap failed: {e}")))?;
    let words = map.words();
    let view = RegionView::open(&words).map_err(|e| (None, format!("cannot read it: {e}")))?;
    let prologue = *view.prologue();
    let state = view.state();
    if map.faulted() {
        return Err((None, "truncated while being read".into()));
    }
    let pid = (prologue.pid != 0).then_some(prologue.pid);
    // The lock first: taken exclusively, it is held until the file is
    // removed, so no writer can hold it meanwhile. Writers never take a
    // lock on an existing file, so this cannot block one.
    match rustix::fs::flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            return Err((pid, "alive: a process holds its writer lock".into()));
        }
        Err(error) => {
            return Err((
                pid,
                format!("cannot probe its lock ({error}): not provably dead"),
            ));
        }
    }
    let verdict = match os::check_process(prologue.pid, prologue.start_time, prologue.boot_id) {
        ProcessCheck::Running => Err(format!(
            "alive: pid {} runs with the recorded start time",
            prologue.pid
        )),
        ProcessCheck::Unknown if prologue.pid == 0 => {
            Err("no writer pid recorded: not provably dead".into())
        }
        ProcessCheck::Unknown => Err(format!(
            "pid {} runs, but no start time is recorded to tell it from a reuse",
            prologue.pid
        )),
        ProcessCheck::Gone => Ok(gone_reason(&prologue)),
    };
    match (verdict, state) {
        (Err(reason), _) => Err((pid, reason)),
        (Ok(reason), RegionState::Closed) if !options.closed => Err((
            pid,
            format!("closed and kept by its writer ({reason}); --closed removes it"),
        )),
        (Ok(reason), _) => Ok((pid, reason)),
    }
}

/// Why the process table says the writer of `prologue` is gone.
fn gone_reason(prologue: &mmstats_nostd::layout::Prologue) -> String {
    let this_boot = os::boot_id();
    if prologue.boot_id != 0 && this_boot != 0 && prologue.boot_id != this_boot {
        return format!("dead: pid {} ran in an earlier boot", prologue.pid);
    }
    match os::process_start_time(prologue.pid) {
        None => format!("dead: pid {} is gone, lock free", prologue.pid),
        Some(now) => format!(
            "dead: pid {} was reused (start time {} now, {} recorded), lock free",
            prologue.pid, now, prologue.start_time
        ),
    }
}

fn judge_legacy(
    path: &Path,
    options: &CleanOptions,
) -> Result<(Option<u64>, String), (Option<u64>, Keep)> {
    let stats = read_file(path).map_err(|e| (None, format!("cannot read it: {}", e.reason)))?;
    let pid = stats
        .fields
        .iter()
        .find_map(|f| match (f.name.as_str(), &f.value) {
            ("sys.pid", FieldValue::Int(p)) => u64::try_from(*p).ok(),
            ("sys.pid", FieldValue::UInt(p)) => Some(*p),
            _ => None,
        });
    if !options.legacy {
        return Err((
            pid,
            "legacy v1 file: --legacy judges it by pid alone".into(),
        ));
    }
    let Some(pid) = pid else {
        return Err((None, "legacy v1 file without sys.pid".into()));
    };
    match os::check_process(pid, 0, 0) {
        ProcessCheck::Gone => Ok((Some(pid), format!("dead: legacy writer pid {pid} is gone"))),
        _ => Err((
            Some(pid),
            format!("legacy writer pid {pid} exists (legacy files record no start time)"),
        )),
    }
}

/// Removes `path`, the file open as `file`: only if the name still refers
/// to that file, through its directory opened without following links.
fn remove(path: &Path, file: &File) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("no file name"))?;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir: OwnedFd = rustix::fs::open(
        parent,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let there = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let mine = rustix::fs::fstat(file)?;
    if (there.st_dev, there.st_ino) != (mine.st_dev, mine.st_ino) {
        return Err(io::Error::other(
            "the name now refers to another file; left alone",
        ));
    }
    rustix::fs::unlinkat(&dir, name, AtFlags::empty())?;
    Ok(())
}
