//! Trusted directories: which stats directories to believe, checked the
//! way OpenSSH's `StrictModes` checks a home directory.
//!
//! A name in a directory means only what the directory's writers let it
//! mean: whoever may create, rename or remove entries there can plant a
//! file for a reader, squat a writer's name, or swap two names under
//! `mmdump clean`. So before a writer publishes, a reader believes, or
//! `clean` removes anything in a directory, `open_trusted_dir` walks
//! its path from `/`, one component at a time, with
//! `openat(parent, component, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)`
//! (`O_PATH` for the components above the last, so a directory one may
//! search but not list can still be crossed), and `fstat`s each
//! descriptor it got. Every component must be
//!
//! - a directory reached without following a symbolic link;
//! - owned by root or by the effective user (a directory of another user
//!   is that user's to rearrange, sticky bit or not);
//! - not writable by group or others, unless the sticky bit is set (root's
//!   1777 `/tmp` and `/dev/shm` are fine: there, others cannot rename or
//!   remove what they do not own).
//!
//! The path is made absolute (the current directory joined in front); a
//! `..` component goes back over the component before it only if that one
//! is a real directory (checked without following it): `..` after a
//! symbolic link would lead wherever the link points, and is refused. Missing components are created, when asked,
//! with `mkdirat` (the given mode, then `fchmod` so the umask does not
//! change it, and `fchown` to the given group), and then checked like the
//! others: a directory squatted before us fails the owner check. The caller
//! gets the descriptor of the last component and works relative to it, so
//! nothing is looked up by that name again.
//!
//! Writers and `clean` refuse a directory that fails (`open_trusted_dir`).
//! Readers (`open_dir_for_reading`) only warn when the owner or mode is
//! wrong and read on through the descriptor (what they show may be
//! planted, and they say so); a symbolic link, a non-directory, a missing
//! directory or one they may not list is an error naming the component.
//! Cost: one `openat` and one `fstat` per path component; memory: the
//! path.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// How `open_trusted_dir` creates a missing directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateDir {
    /// Permission bits of a created directory (applied with `fchmod`, so
    /// the umask does not narrow them).
    pub mode: u32,
    /// Group given to a created directory, if any.
    pub gid: Option<u32>,
}

impl CreateDir {
    /// Mode 0700, the creator's group: only its user may look.
    #[must_use]
    pub const fn private() -> Self {
        Self {
            mode: 0o700,
            gid: None,
        }
    }

    /// Mode 0750, group `gid`: the group may list and read, not write.
    #[must_use]
    pub const fn for_group(gid: u32) -> Self {
        Self {
            mode: 0o750,
            gid: Some(gid),
        }
    }
}

impl Default for CreateDir {
    fn default() -> Self {
        Self::private()
    }
}

/// Why a directory is not trusted, or could not be opened. Every variant
/// names the path component at fault (which may be a parent of the
/// directory asked for).
#[derive(Debug)]
#[non_exhaustive]
pub enum DirTrustError {
    /// The path has a `..` component after a symbolic link or something
    /// that is not a directory (it could lead anywhere).
    ParentComponent {
        /// The path as given.
        path: PathBuf,
    },
    /// The component is a symbolic link (never followed).
    SymbolicLink {
        /// The component.
        dir: PathBuf,
    },
    /// The component is not a directory.
    NotADirectory {
        /// The component.
        dir: PathBuf,
    },
    /// Another user, not root, owns the component: it may rearrange the
    /// entries.
    OwnedByOtherUser {
        /// The component.
        dir: PathBuf,
        /// Its owner.
        uid: u32,
    },
    /// Group or others may write to the component, and it lacks the
    /// sticky bit: they may rename or remove any entry.
    WritableByOthers {
        /// The component.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// This user may not search or list the component.
    PermissionDenied {
        /// The component.
        dir: PathBuf,
    },
    /// The component does not exist (and was not to be created).
    Missing {
        /// The component.
        dir: PathBuf,
    },
    /// Another system call failed.
    Io {
        /// The component.
        dir: PathBuf,
        /// What was being done.
        operation: &'static str,
        /// The system's reason.
        source: io::Error,
    },
}

impl DirTrustError {
    /// The path component at fault.
    #[must_use]
    pub fn dir(&self) -> &Path {
        match self {
            Self::ParentComponent { path: dir }
            | Self::SymbolicLink { dir }
            | Self::NotADirectory { dir }
            | Self::OwnedByOtherUser { dir, .. }
            | Self::WritableByOthers { dir, .. }
            | Self::PermissionDenied { dir }
            | Self::Missing { dir }
            | Self::Io { dir, .. } => dir,
        }
    }

    /// What is wrong, without the component's name.
    #[must_use]
    pub fn reason(&self) -> String {
        match self {
            Self::ParentComponent { .. } => {
                "has a `..` component after a symbolic link or a non-directory (refused)".into()
            }
            Self::SymbolicLink { .. } => "is a symbolic link (not followed)".into(),
            Self::NotADirectory { .. } => "is not a directory".into(),
            Self::OwnedByOtherUser { uid, .. } => format!(
                "is owned by uid {uid}, neither root nor you (uid {}): its owner may plant, \
                 swap or remove entries",
                rustix::process::geteuid().as_raw()
            ),
            Self::WritableByOthers { mode, .. } => format!(
                "has mode {:04o}: group or others may write to it and it lacks the sticky bit",
                mode & 0o7777
            ),
            Self::PermissionDenied { .. } => {
                "permission denied: this user may not search or list it".into()
            }
            Self::Missing { .. } => "does not exist".into(),
            Self::Io {
                operation, source, ..
            } => format!("{operation} failed: {source}"),
        }
    }

    /// Whether the directory was opened but its owner or mode is wrong (a
    /// reader may still read it, with a warning).
    #[must_use]
    pub const fn is_untrusted_owner_or_mode(&self) -> bool {
        matches!(
            self,
            Self::OwnedByOtherUser { .. } | Self::WritableByOthers { .. }
        )
    }

    /// The reason as said of `asked`, the directory the caller wanted:
    /// the reason alone if `asked` is the component at fault, else the
    /// component and the reason.
    #[must_use]
    pub fn reason_for(&self, asked: &Path) -> String {
        let same = asked == self.dir() || absolute_lexical(asked).is_some_and(|a| a == self.dir());
        if same {
            self.reason()
        } else {
            format!("{} {}", self.dir().display(), self.reason())
        }
    }
}

impl fmt::Display for DirTrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.dir().display(), self.reason())
    }
}

impl std::error::Error for DirTrustError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Opens the directory `path` if every component of it is trusted (see
/// the module documentation), creating missing components as `create`
/// says (or failing with [`DirTrustError::Missing`] if `None`). The
/// descriptor is opened `O_RDONLY | O_DIRECTORY`: list it with
/// `rustix::fs::Dir::read_from`, open entries with `openat`.
pub fn open_trusted_dir(path: &Path, create: Option<CreateDir>) -> Result<OwnedFd, DirTrustError> {
    walk(path, create, Strictness::Refuse).map(|(fd, _)| fd)
}

/// Opens the directory `path` for a reader: like `open_trusted_dir`
/// (never creating), but a component with a wrong owner or mode does not
/// stop the walk; the first such problem is returned beside the
/// descriptor, for a warning.
pub fn open_dir_for_reading(
    path: &Path,
) -> Result<(OwnedFd, Option<DirTrustError>), DirTrustError> {
    walk(path, None, Strictness::Note)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// A wrong owner or mode is an error.
    Refuse,
    /// A wrong owner or mode is noted and the walk goes on.
    Note,
}

/// `path` made absolute against the current directory, `.` components
/// dropped, and each `..` taking back the component before it, which must
/// be a real directory (`lstat(2)`: a `..` after a symbolic link names the
/// link target's parent, not what the text says). `None` if a `..` follows
/// anything else, or the current directory is unknown.
fn absolute_lexical(path: &Path) -> Option<PathBuf> {
    let base = if path.is_absolute() {
        PathBuf::from("/")
    } else {
        std::env::current_dir().ok()?
    };
    let mut absolute = base;
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                let real_dir = std::fs::symlink_metadata(&absolute).is_ok_and(|m| m.is_dir());
                if !real_dir {
                    return None;
                }
                absolute.pop();
            }
            Component::Normal(name) => absolute.push(name),
        }
    }
    Some(absolute)
}

fn walk(
    path: &Path,
    create: Option<CreateDir>,
    strictness: Strictness,
) -> Result<(OwnedFd, Option<DirTrustError>), DirTrustError> {
    let absolute = absolute_lexical(path).ok_or_else(|| {
        if path.components().any(|c| c == Component::ParentDir) {
            DirTrustError::ParentComponent {
                path: path.to_owned(),
            }
        } else {
            DirTrustError::Io {
                dir: path.to_owned(),
                operation: "find the current directory",
                source: io::Error::other("the current directory is unknown"),
            }
        }
    })?;
    let names: Vec<_> = absolute
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect();
    let mut here = PathBuf::from("/");
    let base = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    // Components above the last are only crossed: O_PATH needs search
    // permission on them, not read permission.
    let flags_for = |last: bool| base | if last { OFlags::RDONLY } else { OFlags::PATH };
    let mut fd = rustix::fs::open("/", flags_for(names.is_empty()), Mode::empty())
        .map_err(|e| open_error(&here, e))?;
    let mut noted = None;
    check(&fd, &here, strictness, &mut noted)?;
    for (index, name) in names.iter().enumerate() {
        here.push(name);
        let last = index + 1 == names.len();
        let next = match rustix::fs::openat(&fd, *name, flags_for(last), Mode::empty()) {
            Ok(next) => next,
            Err(Errno::NOENT) if create.is_some() => {
                create_component(&fd, name, &here, create.unwrap_or_default())?
            }
            Err(Errno::NOTDIR) => {
                return Err(
                    match rustix::fs::statat(&fd, *name, AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
                            DirTrustError::SymbolicLink { dir: here }
                        }
                        _ => DirTrustError::NotADirectory { dir: here },
                    },
                );
            }
            Err(error) => return Err(open_error(&here, error)),
        };
        check(&next, &here, strictness, &mut noted)?;
        fd = next;
    }
    Ok((fd, noted))
}

fn open_error(dir: &Path, error: Errno) -> DirTrustError {
    let dir = dir.to_owned();
    match error {
        Errno::NOENT => DirTrustError::Missing { dir },
        Errno::LOOP => DirTrustError::SymbolicLink { dir },
        Errno::NOTDIR => DirTrustError::NotADirectory { dir },
        Errno::ACCESS | Errno::PERM => DirTrustError::PermissionDenied { dir },
        other => DirTrustError::Io {
            dir,
            operation: "open",
            source: other.into(),
        },
    }
}

/// Creates the missing component `name` of `parent` (whose path is
/// `here`) as `create` says, and opens it.
fn create_component(
    parent: &OwnedFd,
    name: &std::ffi::OsStr,
    here: &Path,
    create: CreateDir,
) -> Result<OwnedFd, DirTrustError> {
    let io_error = |operation: &'static str| {
        move |e: Errno| DirTrustError::Io {
            dir: here.to_owned(),
            operation,
            source: e.into(),
        }
    };
    let mode = Mode::from_raw_mode(create.mode & 0o7777);
    let created = match rustix::fs::mkdirat(parent, name, mode) {
        Ok(()) => true,
        // Made by someone else meanwhile: checked below like any other.
        Err(Errno::EXIST) => false,
        Err(Errno::ACCESS | Errno::PERM) => {
            return Err(DirTrustError::PermissionDenied {
                dir: here.to_owned(),
            });
        }
        Err(error) => return Err(io_error("mkdir")(error)),
    };
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd =
        rustix::fs::openat(parent, name, flags, Mode::empty()).map_err(|e| open_error(here, e))?;
    if created {
        // Through the descriptor, after checking it is a directory we own
        // (a name swapped in between is not changed).
        let stat = rustix::fs::fstat(&fd).map_err(io_error("fstat"))?;
        let ours = stat.st_uid == rustix::process::geteuid().as_raw();
        if ours && FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            rustix::fs::fchmod(&fd, mode).map_err(io_error("fchmod"))?;
            if let Some(gid) = create.gid {
                let gid = rustix::fs::Gid::from_raw(gid);
                rustix::fs::fchown(&fd, None, Some(gid)).map_err(io_error("fchown"))?;
            }
        }
    }
    Ok(fd)
}

/// Checks one opened component (see the module documentation).
fn check(
    fd: &OwnedFd,
    here: &Path,
    strictness: Strictness,
    noted: &mut Option<DirTrustError>,
) -> Result<(), DirTrustError> {
    let stat = rustix::fs::fstat(fd).map_err(|e| DirTrustError::Io {
        dir: here.to_owned(),
        operation: "fstat",
        source: e.into(),
    })?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
        return Err(DirTrustError::NotADirectory {
            dir: here.to_owned(),
        });
    }
    let me = rustix::process::geteuid().as_raw();
    let problem = if stat.st_uid != 0 && stat.st_uid != me {
        Some(DirTrustError::OwnedByOtherUser {
            dir: here.to_owned(),
            uid: stat.st_uid,
        })
    } else if stat.st_mode & 0o022 != 0 && stat.st_mode & 0o1000 == 0 {
        Some(DirTrustError::WritableByOthers {
            dir: here.to_owned(),
            mode: stat.st_mode,
        })
    } else {
        None
    };
    match (problem, strictness) {
        (None, _) => Ok(()),
        (Some(problem), Strictness::Refuse) => Err(problem),
        (Some(problem), Strictness::Note) => {
            noted.get_or_insert(problem);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A tempdir whose own mode is 0700 (tempfile's default), under /tmp.
    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_private_directory_is_trusted_and_its_descriptor_lists_it() {
        let dir = tempdir();
        std::fs::write(dir.path().join("a.mmstats"), b"x").unwrap();
        let fd = open_trusted_dir(dir.path(), None).unwrap();
        let names: Vec<String> = rustix::fs::Dir::read_from(&fd)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"a.mmstats".to_owned()), "{names:?}");
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn missing_components_are_created_with_the_mode_despite_the_umask() {
        let dir = tempdir();
        let deep = dir.path().join("one").join("two");
        let error = open_trusted_dir(&deep, None).unwrap_err();
        assert!(matches!(error, DirTrustError::Missing { .. }), "{error}");
        assert_eq!(error.dir(), dir.path().join("one"));
        let wide = CreateDir {
            mode: 0o755,
            gid: None,
        };
        let old = rustix::process::umask(Mode::from_raw_mode(0o077));
        let made = open_trusted_dir(&deep, Some(wide));
        rustix::process::umask(old);
        made.unwrap();
        assert_eq!(mode_of(&deep), 0o755);
        assert_eq!(mode_of(&dir.path().join("one")), 0o755);
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_symbolic_link_component_is_refused() {
        let dir = tempdir();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        for path in [dir.path().join("link"), dir.path().join("link/below")] {
            let error = open_trusted_dir(&path, Some(CreateDir::private())).unwrap_err();
            assert!(
                matches!(error, DirTrustError::SymbolicLink { .. }),
                "{error}"
            );
            assert_eq!(error.dir(), dir.path().join("link"));
            assert!(error.to_string().contains("symbolic link"), "{error}");
        }
        assert!(!dir.path().join("real/below").exists());
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_file_component_is_not_a_directory() {
        let dir = tempdir();
        std::fs::write(dir.path().join("file"), b"").unwrap();
        let error = open_trusted_dir(&dir.path().join("file"), None).unwrap_err();
        assert!(
            matches!(error, DirTrustError::NotADirectory { .. }),
            "{error}"
        );
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn writable_by_others_is_refused_unless_sticky() {
        let dir = tempdir();
        for (mode, trusted) in [
            (0o777, false),
            (0o770, false),
            (0o1777, true),
            (0o755, true),
        ] {
            set_mode(dir.path(), mode);
            let result = open_trusted_dir(dir.path(), None);
            assert_eq!(result.is_ok(), trusted, "mode {mode:o}: {result:?}");
            if let Err(error) = result {
                assert!(matches!(error, DirTrustError::WritableByOthers { .. }));
                assert!(error.reason().contains(&format!("{mode:04o}")), "{error}");
            }
        }
        // A reader gets the descriptor and the problem.
        set_mode(dir.path(), 0o777);
        let (_, noted) = open_dir_for_reading(dir.path()).unwrap();
        assert!(matches!(
            noted,
            Some(DirTrustError::WritableByOthers { .. })
        ));
        set_mode(dir.path(), 0o700);
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_parent_component_goes_back_over_real_directories_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::fs::create_dir(dir.path().join("stats")).unwrap();
        std::os::unix::fs::symlink("/usr/lib", dir.path().join("link")).unwrap();
        let via_real = dir.path().join("real/../stats");
        let fd = open_trusted_dir(&via_real, None).unwrap();
        let direct = rustix::fs::stat(dir.path().join("stats")).unwrap();
        let opened = rustix::fs::fstat(&fd).unwrap();
        assert_eq!(
            (opened.st_dev, opened.st_ino),
            (direct.st_dev, direct.st_ino)
        );
        let error = open_trusted_dir(&dir.path().join("link/../stats"), None).unwrap_err();
        assert!(
            matches!(error, DirTrustError::ParentComponent { .. }),
            "{error}"
        );
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_relative_path_is_walked_from_the_root() {
        // The current directory of the test is the package directory.
        let fd = open_dir_for_reading(Path::new("src"));
        assert!(fd.is_ok(), "{fd:?}");
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn another_users_directory_is_refused_sticky_or_not() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root to chown a directory to another user");
            assert!(
                std::env::var_os("MMSTATS_REQUIRE_ATTACKS").is_none(),
                "MMSTATS_REQUIRE_ATTACKS is set but this test needs root"
            );
            return;
        }
        let dir = tempdir();
        let theirs = dir.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        rustix::fs::chown(&theirs, Some(rustix::fs::Uid::from_raw(4242)), None).unwrap();
        for mode in [0o755, 0o1777, 0o700] {
            set_mode(&theirs, mode);
            let error = open_trusted_dir(&theirs, None).unwrap_err();
            assert!(
                matches!(error, DirTrustError::OwnedByOtherUser { uid: 4242, .. }),
                "mode {mode:o}: {error}"
            );
            // And below it, even if the component there is ours.
            let below = theirs.join("ours");
            let _ = std::fs::create_dir(&below);
            let error = open_trusted_dir(&below, None).unwrap_err();
            assert_eq!(error.dir(), theirs);
        }
        // A squatted name: made by them before us, refused when we come
        // to create it.
        let error = open_trusted_dir(&theirs, Some(CreateDir::private())).unwrap_err();
        assert!(matches!(error, DirTrustError::OwnedByOtherUser { .. }));
    }
}
