//! Making the file: where it lives ([`Place`]), reclaiming a name a dead
//! writer left, creating it owner-only under a hidden name, sizing and
//! reserving it, and renaming it into place.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};

use crate::error::{CreateError, Occupant};
use crate::os;

/// Permission bits and group of a new file.
#[derive(Clone, Copy, Debug)]
pub(super) struct Access {
    pub(super) mode: u32,
    pub(super) group: Option<u32>,
}

/// A created, not yet published file: removed on drop unless taken.
pub(super) struct Unpublished {
    pub(super) file: Option<File>,
    pub(super) place: Option<Place>,
}

impl Unpublished {
    pub(super) fn file(&self) -> &File {
        self.file.as_ref().expect("taken only by into_parts")
    }

    pub(super) fn place(&self) -> &Place {
        self.place.as_ref().expect("taken only by into_parts")
    }

    pub(super) fn into_parts(mut self) -> (File, Place) {
        let file = self.file.take().expect("taken once");
        let place = self.place.take().expect("taken once");
        (file, place)
    }
}

impl Drop for Unpublished {
    fn drop(&mut self) {
        if let (Some(file), Some(place)) = (&self.file, &self.place) {
            place.remove(file);
        }
    }
}

/// Where the file lives and how to give it its public name and remove it.
#[derive(Debug)]
pub(super) enum Place {
    Dir {
        dir: OwnedFd,
        dir_path: PathBuf,
        temp: OsString,
        name: OsString,
        published: AtomicBool,
    },
    Shm {
        name: String,
    },
}

pub(super) enum PublishError {
    Taken(Occupant),
    Io(io::Error),
}

impl Place {
    pub(super) fn path(&self) -> PathBuf {
        match self {
            Self::Dir { dir_path, name, .. } => dir_path.join(name),
            Self::Shm { name } => shm_path(name),
        }
    }

    /// Renames the temporary file to its public name, never replacing an
    /// existing file (a closed or dead writer's file is removed first).
    pub(super) fn publish(&self) -> Result<(), PublishError> {
        let Self::Dir {
            dir,
            temp,
            name,
            published,
            ..
        } = self
        else {
            return Ok(());
        };
        let mut occupant = Occupant::Unstable;
        // Two tries: a reclaimed name may be taken again by another process
        // in between; a third round would be a name that keeps changing.
        for _ in 0..2 {
            match rename_noreplace(dir, temp, name) {
                Ok(()) => {
                    published.store(true, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    match reclaim(dir.as_fd(), name.as_os_str()) {
                        Ok(()) => {}
                        Err(found) => return Err(PublishError::Taken(found)),
                    }
                    occupant = Occupant::Unstable;
                }
                Err(e) => return Err(PublishError::Io(e)),
            }
        }
        Err(PublishError::Taken(occupant))
    }

    /// Unlinks the file if it is still the one `ours` refers to.
    pub(super) fn remove(&self, ours: &File) {
        let Ok(mine) = rustix::fs::fstat(ours) else {
            return;
        };
        match self {
            Self::Dir {
                dir,
                temp,
                name,
                published,
                ..
            } => {
                let current = if published.load(Ordering::Relaxed) {
                    name
                } else {
                    temp
                };
                if let Ok(there) =
                    rustix::fs::statat(dir, current.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                    && (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)
                {
                    let _ = rustix::fs::unlinkat(dir, current.as_os_str(), AtFlags::empty());
                }
            }
            Self::Shm { name } => {
                // Where shm objects are visible as files, make sure the
                // name still refers to our object before unlinking it.
                let same = shm_dir()
                    .and_then(|dir| {
                        rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW).ok()
                    })
                    .is_none_or(|there| (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino));
                if same {
                    let _ = rustix::shm::unlink(format!("/{name}"));
                }
            }
        }
    }
}

/// The path under which a shm object of this name is visible (Linux).
fn shm_path(name: &str) -> PathBuf {
    Path::new("/dev/shm").join(name)
}

/// `renameat2(2)` with `RENAME_NOREPLACE`, or `linkat(2)` plus
/// `unlinkat(2)` where the file system does not support it.
fn rename_noreplace(dir: &OwnedFd, from: &OsString, to: &OsString) -> io::Result<()> {
    match rustix::fs::renameat_with(
        dir,
        from.as_os_str(),
        dir,
        to.as_os_str(),
        rustix::fs::RenameFlags::NOREPLACE,
    ) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            rustix::fs::linkat(dir, from.as_os_str(), dir, to.as_os_str(), AtFlags::empty())?;
            rustix::fs::unlinkat(dir, from.as_os_str(), AtFlags::empty())?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Makes `name` in `dir` free again if it is a stats file of this user
/// whose writer has closed it or is gone; otherwise says what is there.
///
/// The name is opened without following a link, without blocking (a FIFO
/// opens at once for reading and is then refused) and without becoming a
/// controlling terminal, and judged on that descriptor: its type, its
/// owner, and its writer's lock. Every writer holds a shared `flock` on
/// its file from creation to close, so a lock nobody holds means no writer
/// (a reused pid, as in containers where pid 1 repeats, changes nothing).
/// The name is unlinked only if it still refers to the judged inode: in a
/// directory that only this user (or root) may write to, nobody else can
/// swap it in between; in a sticky directory such as `/dev/shm` nobody
/// else may rename or remove this user's files.
fn reclaim(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> Result<(), Occupant> {
    let fd = match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        // Gone meanwhile: the name is free.
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(rustix::io::Errno::LOOP) => return Err(Occupant::SymbolicLink),
        // A FIFO or socket of another user we may not open, a device...:
        // look without opening.
        Err(_) => {
            return Err(
                match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => occupant_of(&stat).unwrap_or(Occupant::Unstable),
                    Err(_) => Occupant::Unstable,
                },
            );
        }
    };
    let file = File::from(fd);
    let stat = rustix::fs::fstat(&file).map_err(|_| Occupant::Unstable)?;
    if let Some(occupant) = occupant_of(&stat) {
        return Err(occupant);
    }
    // A lock can be held for a moment by a forked child of the writer's
    // process that has not yet reached `exec` (it shares the open file):
    // look again a few times over about 50 ms before calling it live.
    let mut lock = crate::liveness::probe_lock(&file);
    for pause_ms in [1, 4, 15, 30] {
        if lock != crate::liveness::LockProbe::Held {
            break;
        }
        std::thread::sleep(Duration::from_millis(pause_ms));
        lock = crate::liveness::probe_lock(&file);
    }
    let reclaimable = match lock {
        crate::liveness::LockProbe::Held => return Err(Occupant::LiveWriter),
        crate::liveness::LockProbe::Free => true,
        // No flock on this file system: fall back on the region's own
        // state, pid and start time.
        crate::liveness::LockProbe::Unsupported => matches!(
            crate::liveness::writer_liveness(&file),
            crate::liveness::Liveness::Dead | crate::liveness::Liveness::Closed
        ),
    };
    if !reclaimable {
        return Err(Occupant::LiveWriter);
    }
    if !is_stats_file(&file, stat.st_size) {
        return Err(Occupant::NotStats);
    }
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(there) if (there.st_dev, there.st_ino) == (stat.st_dev, stat.st_ino) => {
            match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
                Err(_) => Err(Occupant::Unstable),
            }
        }
        Err(rustix::io::Errno::NOENT) => Ok(()),
        _ => Err(Occupant::Unstable),
    }
}

/// Why the file `stat` describes can never be reclaimed, if it cannot.
fn occupant_of(stat: &rustix::fs::Stat) -> Option<Occupant> {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => {}
        FileType::Symlink => return Some(Occupant::SymbolicLink),
        FileType::Fifo => return Some(Occupant::Fifo),
        FileType::CharacterDevice | FileType::BlockDevice => return Some(Occupant::Device),
        FileType::Directory => return Some(Occupant::Directory),
        FileType::Socket => return Some(Occupant::Socket),
        FileType::Unknown => return Some(Occupant::Unstable),
    }
    if u64::from(stat.st_uid) != os::euid() {
        return Some(Occupant::OtherUser { uid: stat.st_uid });
    }
    None
}

/// Whether an open regular file holds a stats file of either format (or
/// is empty or shorter than a prologue: a writer that died while creating
/// it, before the first byte was written).
fn is_stats_file(file: &File, len: i64) -> bool {
    if len < 8 {
        return true;
    }
    let mut head = [0u8; 8];
    match rustix::io::pread(file, &mut head, 0) {
        Ok(8) => head == mmstats_nostd::layout::MAGIC || head[0] == crate::value::LEGACY_VERSION,
        _ => false,
    }
}

/// Opens the directory, creating what is missing (mode 0700, or 0750 for
/// a group), if it and every directory on the way to it are trusted: no
/// symbolic link, owned by root or this user, not writable by others
/// without the sticky bit ([`crate::trust`]). The file is then created
/// relative to this descriptor; the path is never looked up again.
fn open_dir(dir: &Path, access: Access) -> Result<OwnedFd, CreateError> {
    let create = match access.group {
        Some(gid) => crate::trust::CreateDir::for_group(gid),
        None => crate::trust::CreateDir::private(),
    };
    crate::trust::open_trusted_dir(dir, Some(create)).map_err(CreateError::Directory)
}

pub(super) fn create_in_dir(
    dir: &Path,
    name: &str,
    access: Access,
    size: usize,
) -> Result<(File, Place), CreateError> {
    let dir_fd = open_dir(dir, access)?;
    let temp = OsString::from(format!(".{name}.tmp"));
    let path = dir.join(&temp);
    let flags = OFlags::CREATE
        | OFlags::EXCL
        | OFlags::NOFOLLOW
        | OFlags::NOCTTY
        | OFlags::RDWR
        | OFlags::CLOEXEC;
    let create = || {
        rustix::fs::openat(
            &dir_fd,
            temp.as_os_str(),
            flags,
            Mode::from_raw_mode(access.mode),
        )
    };
    let fd = match create() {
        // A temporary name is private to this pid and thread: one left
        // behind was made by a process that died while creating it (or
        // by a writer of the same pid in another pid namespace, whose lock
        // is then held).
        Err(rustix::io::Errno::EXIST) => match reclaim(dir_fd.as_fd(), temp.as_os_str()) {
            Ok(()) => create(),
            Err(occupant) => return Err(CreateError::NameTaken { path, occupant }),
        },
        other => other,
    }
    .map_err(|e| CreateError::Io {
        path: path.clone(),
        operation: "create (O_EXCL | O_NOFOLLOW)",
        source: e.into(),
    })?;
    let file = File::from(fd);
    let place = Place::Dir {
        dir: dir_fd,
        dir_path: dir.to_owned(),
        temp,
        name: OsString::from(name),
        published: AtomicBool::new(false),
    };
    prepare(file, place, path, size, access)
}

pub(super) fn create_shm(
    name: &str,
    access: Access,
    size: usize,
) -> Result<(File, Place), CreateError> {
    let path = shm_path(name);
    let flags = rustix::shm::OFlags::CREATE | rustix::shm::OFlags::EXCL | rustix::shm::OFlags::RDWR;
    let create = || rustix::shm::open(format!("/{name}"), flags, Mode::from_raw_mode(access.mode));
    let fd = match create() {
        Err(rustix::io::Errno::EXIST) => {
            // Judge what is there through the directory shm objects live
            // in (Linux: `/dev/shm`), never by reopening the name with a
            // call that could follow a link or wait on a FIFO.
            let reclaimed = match shm_dir() {
                Some(dir) => reclaim(dir.as_fd(), std::ffi::OsStr::new(name)),
                None => Err(Occupant::Unstable),
            };
            match reclaimed {
                Ok(()) => create(),
                Err(occupant) => return Err(CreateError::NameTaken { path, occupant }),
            }
        }
        other => other,
    }
    .map_err(|e| CreateError::Io {
        path: path.clone(),
        operation: "shm_open (O_EXCL)",
        source: e.into(),
    })?;
    let file = File::from(fd);
    let place = Place::Shm {
        name: name.to_owned(),
    };
    prepare(file, place, path, size, access)
}

/// The directory POSIX shared-memory objects appear in, opened without
/// following a link.
fn shm_dir() -> Option<OwnedFd> {
    rustix::fs::open(
        "/dev/shm",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

/// Takes the writer's lock, reserves the file's pages, and fixes its mode
/// against the umask; on failure removes the file.
///
/// The lock comes first, so that a file under a writer's name without a
/// held lock is always a dead or closed writer's. The pages are reserved
/// with `fallocate(2)` (`posix_fallocate(3)`'s system call): a full disk
/// or tmpfs is then an error here, not a `SIGBUS` at some later store into
/// a page the file system cannot supply. The cost: a region's memory is
/// taken at creation, not as pages are first touched.
fn prepare(
    file: File,
    place: Place,
    path: PathBuf,
    size: usize,
    access: Access,
) -> Result<(File, Place), CreateError> {
    let steps = || -> Result<(), CreateError> {
        let io = |operation: &'static str| {
            let path = path.clone();
            move |e: rustix::io::Errno| CreateError::Io {
                path,
                operation,
                source: e.into(),
            }
        };
        rustix::fs::flock(&file, FlockOperation::NonBlockingLockShared).map_err(io("flock"))?;
        reserve(&file, size as u64).map_err(|e| {
            if e == rustix::io::Errno::NOSPC || e == rustix::io::Errno::DQUOT {
                CreateError::NoSpace {
                    path: path.clone(),
                    bytes: size as u64,
                    source: e.into(),
                }
            } else {
                io("fallocate")(e)
            }
        })?;
        if let Some(gid) = access.group {
            rustix::fs::fchown(&file, None, Some(rustix::process::Gid::from_raw(gid)))
                .map_err(io("fchown to the stats group"))?;
        }
        // The umask may have cleared bits the caller asked for.
        rustix::fs::fchmod(&file, Mode::from_raw_mode(access.mode)).map_err(io("fchmod"))
    };
    match steps() {
        Ok(()) => Ok((file, place)),
        Err(error) => {
            place.remove(&file);
            Err(error)
        }
    }
}

/// Sizes the file to `len` bytes with every page allocated: `fallocate(2)`
/// where the file system supports it, else `ftruncate(2)` and zeros
/// written over the whole length (which allocates the blocks just as well).
fn reserve(file: &File, len: u64) -> Result<(), rustix::io::Errno> {
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {
            rustix::fs::ftruncate(file, len)?;
            let zeros = [0u8; 64 * 1024];
            let mut at = 0u64;
            while at < len {
                let chunk = usize::try_from((len - at).min(zeros.len() as u64)).unwrap_or(0);
                let wrote = rustix::io::pwrite(file, &zeros[..chunk], at)?;
                if wrote == 0 {
                    return Err(rustix::io::Errno::NOSPC);
                }
                at += wrote as u64;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}
