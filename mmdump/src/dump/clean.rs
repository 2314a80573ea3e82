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
//! - right before the unlink, its name still refers to the same inode
//!   (see below).
//!
//! Anything else is kept, with the reason. Legacy v1 files record a pid
//! but no start time and take no lock: with `--legacy`, one is removed
//! only when no process with its pid exists at all.
//!
//! **Race-free removal.** Whoever may rename entries in a directory can
//! swap two names (`renameat2(RENAME_EXCHANGE)`) between any check and
//! the unlink, so that a live writer's file sits under the name just
//! judged dead. So `clean` works only in directories that pass
//! [`mmstats::trust`]'s rules (owned by root or the caller, not writable by
//! others without the sticky bit, no symbolic link on the way): it refuses
//! any other, naming it, with exit code 1. It lists and opens each file
//! relative to the directory's descriptor (`openat` with `O_NOFOLLOW |
//! O_NONBLOCK | O_NOCTTY`), judges that open file (`fstat`, lock, pid and
//! start time), and then does not unlink by name: it moves the name
//! (`renameat2(RENAME_NOREPLACE)`) into a fresh private directory of its
//! own (mode 0700, made beside the file for this one removal), checks
//! there that the entry is the very inode it judged, and only then unlinks
//! it, in a directory nobody else may write to. If the inode differs (the
//! names were swapped meanwhile) the entry is moved back and the file
//! reported as failed, exit code 1. Root's `--all-users` does not widen
//! the directory rule: clean a directory of another user as that user.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::FileError;
use mmstats_nostd::layout::MAGIC;
use mmstats_nostd::{RegionState, RegionView};
use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, RenameFlags, Stat};

use mmstats::ReadMap;
use mmstats::legacy::LEGACY_VERSION;
use mmstats::os::{self, ProcessCheck};
use mmstats::{FieldValue, read_open_file};

use super::select::Selection;
use super::{DirPolicy, Found, find};

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

/// Judges every file `inputs` names (see [`discover`](super::discover))
/// that `selection` selects by name and pid, and removes the dead ones
/// unless it is a dry run. Returns one outcome per file, and the inputs
/// that named nothing or lie in a directory it does not trust.
#[must_use]
pub fn clean(
    inputs: &[PathBuf],
    selection: &Selection,
    options: &CleanOptions,
) -> (Vec<Outcome>, Vec<(PathBuf, FileError)>) {
    let (found, errors) = find(inputs, DirPolicy::Refuse);
    let outcomes = found
        .iter()
        .filter(|f| selection.path_selected(&f.path))
        .filter_map(|f| clean_one(f, selection, options))
        .collect();
    (outcomes, errors)
}

/// Why a file is kept (the `Err` of [`judge`]).
type Keep = String;

/// Judges and maybe removes one file; `None` if the pid selector rejects it.
fn clean_one(found: &Found, selection: &Selection, options: &CleanOptions) -> Option<Outcome> {
    let path = found.path.as_path();
    let kept = |reason: String| Outcome {
        path: path.to_owned(),
        action: Action::Kept,
        reason,
    };
    let Some((dir, name)) = &found.dir else {
        return Some(kept("not reached through a trusted directory".into()));
    };
    let (file, len) = match found.open() {
        Ok(opened) => opened,
        Err(error) => return Some(kept(error.reason.to_string())),
    };
    let verdict = judge(path, &file, len, options);
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
    Some(match remove(dir, name, &file) {
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
    len: u64,
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
        return judge_legacy(path, file, len, options);
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
    file: &File,
    len: u64,
    options: &CleanOptions,
) -> Result<(Option<u64>, String), (Option<u64>, Keep)> {
    let file = file
        .try_clone()
        .map_err(|e| (None, format!("cannot read it: {e}")))?;
    let stats = read_open_file(path, file, len)
        .map_err(|e| (None, format!("cannot read it: {}", e.reason)))?;
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

/// Removes the entry `name` of `dir`, the file open as `file`, only if it
/// is that file: moved first into a private directory of this process's
/// (see the module documentation), checked there, unlinked there.
fn remove(dir: &OwnedFd, name: &OsStr, file: &File) -> io::Result<()> {
    let mine = rustix::fs::fstat(file)?;
    let judged = |stat: &Stat| (stat.st_dev, stat.st_ino) == (mine.st_dev, mine.st_ino);
    let there = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if !judged(&there) {
        return Err(io::Error::other(
            "the name now refers to another file; left alone",
        ));
    }
    // Process-local (no other process sees it): a fresh name per removal.
    static REMOVALS: AtomicU64 = AtomicU64::new(0);
    let private = format!(
        ".mmdump-clean-{}-{}",
        std::process::id(),
        REMOVALS.fetch_add(1, Ordering::Relaxed)
    );
    rustix::fs::mkdirat(dir, private.as_str(), Mode::from_raw_mode(0o700))?;
    let result = move_and_unlink(dir, name, &private, judged);
    // Empty unless a swapped entry could not be put back (then it stays
    // there, and the error says where).
    let _ = rustix::fs::unlinkat(dir, private.as_str(), AtFlags::REMOVEDIR);
    result
}

/// Moves `name` from `dir` into its subdirectory `private` (just made),
/// and unlinks it there if `judged` says it is the judged inode; else
/// moves it back.
fn move_and_unlink(
    dir: &OwnedFd,
    name: &OsStr,
    private: &str,
    judged: impl Fn(&Stat) -> bool,
) -> io::Result<()> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let quarantine = rustix::fs::openat(dir, private, flags, Mode::empty())?;
    let stat = rustix::fs::fstat(&quarantine)?;
    if stat.st_uid != rustix::process::geteuid().as_raw() || stat.st_mode & 0o077 != 0 {
        return Err(io::Error::other(format!(
            "{private}, made to remove it privately, is not this user's own: left alone"
        )));
    }
    rustix::fs::renameat_with(dir, name, &quarantine, name, RenameFlags::NOREPLACE)?;
    // Nobody else may write in `quarantine`: what is there stays there.
    let moved = rustix::fs::statat(&quarantine, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if judged(&moved) {
        rustix::fs::unlinkat(&quarantine, name, AtFlags::empty())?;
        return Ok(());
    }
    match rustix::fs::renameat_with(&quarantine, name, dir, name, RenameFlags::NOREPLACE) {
        Ok(()) => Err(io::Error::other(
            "another file was swapped under the name while it was being removed: \
             put back and left alone",
        )),
        Err(error) => Err(io::Error::other(format!(
            "another file was swapped under the name while it was being removed, and \
             putting it back failed ({error}): it is now in {private}"
        ))),
    }
}
