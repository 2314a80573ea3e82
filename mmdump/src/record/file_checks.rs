//! The checks on the database's path and file before SQLite opens it, and
//! the writer's lock (the module docs of [`super`], "Safety of the file").

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use rusqlite::Connection;

use super::{
    APPLICATION_ID, LockHolder, SCHEMA_VERSION, StoreError, UnsafePath, io_error, sqlite_error,
    unsafe_path,
};

/// What a file that is not a regular file is, in words.
fn kind_of(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_symlink() {
        Some("a symbolic link")
    } else if file_type.is_fifo() {
        Some("a FIFO")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_dir() {
        Some("a directory")
    } else {
        Some("not a file")
    }
}

fn caller_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The directory `path` is in must be owned by the caller or root and
/// writable by no one else (see the module docs).
pub(super) fn check_directory(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // Followed: the directory's own path may go through links (/var/run).
    let meta = std::fs::metadata(dir).map_err(io_error(dir, "stat the directory"))?;
    let caller = caller_uid();
    if meta.uid() != caller && meta.uid() != 0 {
        return Err(unsafe_path(
            dir,
            UnsafePath::ForeignOwner {
                owner: meta.uid(),
                caller,
            },
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_path(
            dir,
            UnsafePath::WritableByOthers {
                mode: meta.mode() & 0o7777,
            },
        ));
    }
    Ok(())
}

/// Opens the database file for SQLite to use (see the module docs): a
/// regular file, never a link, FIFO or device, created 0600 if missing
/// and `writable`; owned by the caller if `writable`. Only the writer's
/// descriptor can be read or locked (a reader's is `O_PATH`).
pub(super) fn open_database(path: &Path, writable: bool) -> Result<File, StoreError> {
    const FLAGS: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    let seen = match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            if meta.file_type().is_symlink() {
                return Err(unsafe_path(path, UnsafePath::SymbolicLink));
            }
            if let Some(kind) = kind_of(meta.file_type()) {
                return Err(unsafe_path(path, UnsafePath::NotRegularFile(kind)));
            }
            Some(meta)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && writable => None,
        Err(source) => return Err(io_error(path, "stat")(source)),
    };
    let mut options = std::fs::OpenOptions::new();
    // A reader opens with O_PATH: only to fstat it. Closing a descriptor
    // of the file would drop every fcntl lock this process holds on it
    // (SQLite's, of a recorder in the same `mmdump serve --record`), but
    // not an O_PATH one. The writer needs a real one for its flock, and
    // keeps it until its connection is closed.
    let flags = if writable {
        FLAGS
    } else {
        FLAGS | libc::O_PATH
    };
    options.read(true).write(writable).custom_flags(flags);
    if seen.is_none() {
        options.create_new(true).mode(0o600);
    }
    let file = options.open(path).map_err(|source| {
        if source.raw_os_error() == Some(libc::ELOOP) {
            unsafe_path(path, UnsafePath::SymbolicLink)
        } else {
            io_error(path, if seen.is_some() { "open" } else { "create" })(source)
        }
    })?;
    let meta = file.metadata().map_err(io_error(path, "fstat"))?;
    if let Some(kind) = kind_of(meta.file_type()) {
        return Err(unsafe_path(path, UnsafePath::NotRegularFile(kind)));
    }
    if seen.is_some_and(|seen| (seen.dev(), seen.ino()) != (meta.dev(), meta.ino())) {
        return Err(unsafe_path(path, UnsafePath::Replaced));
    }
    let caller = caller_uid();
    if writable && meta.uid() != caller {
        return Err(unsafe_path(
            path,
            UnsafePath::ForeignOwner {
                owner: meta.uid(),
                caller,
            },
        ));
    }
    Ok(file)
}

/// `<db>-journal` and `<db>-wal`, if present, must be regular files
/// (owned by the caller, if `writable`): SQLite would open them.
pub(super) fn check_companions(path: &Path, writable: bool) -> Result<(), StoreError> {
    let caller = caller_uid();
    for suffix in ["-journal", "-wal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let companion = Path::new(&name);
        let meta = match std::fs::symlink_metadata(companion) {
            Ok(meta) => meta,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(io_error(companion, "stat")(source)),
        };
        if meta.file_type().is_symlink() {
            return Err(unsafe_path(companion, UnsafePath::SymbolicLink));
        }
        if let Some(kind) = kind_of(meta.file_type()) {
            return Err(unsafe_path(companion, UnsafePath::NotRegularFile(kind)));
        }
        if writable && meta.uid() != caller {
            return Err(unsafe_path(
                companion,
                UnsafePath::ForeignOwner {
                    owner: meta.uid(),
                    caller,
                },
            ));
        }
    }
    Ok(())
}

/// After SQLite opened `path`: it must still name `file`.
pub(super) fn check_same_file(file: &File, path: &Path) -> Result<(), StoreError> {
    let opened = file.metadata().map_err(io_error(path, "fstat"))?;
    let now = std::fs::symlink_metadata(path).map_err(io_error(path, "stat"))?;
    if (now.dev(), now.ino()) == (opened.dev(), opened.ino()) {
        Ok(())
    } else {
        Err(unsafe_path(path, UnsafePath::Replaced))
    }
}

/// Takes the recorder's exclusive lock on the database (see the module
/// docs): `flock`, which is apart from SQLite's own `fcntl` locks.
pub(super) fn lock_database(file: &File, path: &Path) -> Result<(), StoreError> {
    match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(StoreError::Locked {
            path: path.to_owned(),
            holder: lock_holder(file),
        }),
        Err(errno) => Err(io_error(path, "lock")(errno.into())),
    }
}

/// The process holding a `flock` on `file`, from `/proc/locks` (read at
/// most 1 MiB of it).
fn lock_holder(file: &File) -> Option<LockHolder> {
    let meta = file.metadata().ok()?;
    let dev = meta.dev();
    let id = format!(
        "{:02x}:{:02x}:{}",
        rustix::fs::major(dev),
        rustix::fs::minor(dev),
        meta.ino()
    );
    let mut locks = String::new();
    File::open("/proc/locks")
        .ok()?
        .take(1 << 20)
        .read_to_string(&mut locks)
        .ok()?;
    // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; waiters have "->".
    let pid = locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().take(7).collect();
        match fields.as_slice() {
            [_, "FLOCK", _, "WRITE", pid, file, ..] if *file == id => pid.parse::<u32>().ok(),
            _ => None,
        }
    })?;
    let mut name = String::new();
    let name = File::open(format!("/proc/{pid}/comm"))
        .and_then(|comm| comm.take(64).read_to_string(&mut name))
        .ok()
        .map(|_| name.trim().to_owned())
        .filter(|name| !name.is_empty());
    Some(LockHolder { pid, name })
}

/// Checks that an open database is a trend database (or empty).
pub(super) fn check_identity(
    conn: &Connection,
    path: &Path,
    writable: bool,
) -> Result<(), StoreError> {
    let app: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|source| StoreError::NotTrendDatabase {
            path: path.to_owned(),
            reason: source.to_string(),
        })?;
    let version: i32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sqlite_error(path, "read the schema version"))?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(sqlite_error(path, "read the schema"))?;
    if app == 0 && version == 0 && tables == 0 {
        return if writable {
            Ok(())
        } else {
            Err(StoreError::NotTrendDatabase {
                path: path.to_owned(),
                reason: "empty (nothing recorded yet)".into(),
            })
        };
    }
    if app != APPLICATION_ID {
        return Err(StoreError::NotTrendDatabase {
            path: path.to_owned(),
            reason: format!("application id {app:#x}, not {APPLICATION_ID:#x}"),
        });
    }
    if version != SCHEMA_VERSION {
        return Err(StoreError::NotTrendDatabase {
            path: path.to_owned(),
            reason: format!("schema version {version}, this mmdump reads {SCHEMA_VERSION}"),
        });
    }
    Ok(())
}
