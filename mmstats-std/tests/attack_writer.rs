//! Attacks on a writer's names and disk (issue 11, attacks 2, 6 and 7): a
//! FIFO, symbolic link, device node, another user's file or a file that
//! is not a stats file planted at every name a writer uses (final,
//! temporary, shm object); a full tmpfs; a kept file of a closed writer and
//! a dead writer's copy whose pid is alive again. Each creation answers at
//! once with an error that says what is there, or reclaims the name; no
//! creation hangs, dies of `SIGBUS`, or leaves a file behind.
//!
//! Tests that need root (device nodes, another user's files, mounting a
//! tmpfs) say why they skip, or fail when `MMSTATS_REQUIRE_ATTACKS=1`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

mod attack_common;

use attack_common::{Tmpfs, attacker, is_root, skip};
use mmstats::{CreateError, Occupant, StatsFile, StatsFileBuilder};

/// Runs `f` on its own thread (so that the names it computes are that
/// thread's) and fails if it does not return within 10 s: a hang is the
/// attack succeeding.
fn within_deadline<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what}: no answer within 10 s (the writer hangs)"))
}

/// What a planted name holds.
#[derive(Clone, Copy, Debug)]
enum Plant {
    Fifo,
    Symlink,
    Device,
    OtherUsersFile,
    UsersOwnFile,
}

impl Plant {
    fn expected(self, attacker_uid: u32) -> Occupant {
        match self {
            Self::Fifo => Occupant::Fifo,
            Self::Symlink => Occupant::SymbolicLink,
            Self::Device => Occupant::Device,
            Self::OtherUsersFile => Occupant::OtherUser { uid: attacker_uid },
            Self::UsersOwnFile => Occupant::NotStats,
        }
    }

    /// Plants at `at`; `victim` is what a symlink points to.
    fn plant(self, at: &Path, victim: &Path, attacker: (u32, u32)) {
        match self {
            Self::Fifo => rustix::fs::mknodat(
                rustix::fs::CWD,
                at,
                rustix::fs::FileType::Fifo,
                rustix::fs::Mode::from_raw_mode(0o666),
                0,
            )
            .unwrap(),
            Self::Symlink => std::os::unix::fs::symlink(victim, at).unwrap(),
            Self::Device => rustix::fs::mknodat(
                rustix::fs::CWD,
                at,
                rustix::fs::FileType::CharacterDevice,
                rustix::fs::Mode::from_raw_mode(0o666),
                rustix::fs::makedev(1, 3),
            )
            .unwrap(),
            Self::OtherUsersFile => {
                fs::write(at, b"\x89MMSTAT2 planted by another user").unwrap();
                std::os::unix::fs::chown(at, Some(attacker.0), Some(attacker.1)).unwrap();
            }
            Self::UsersOwnFile => fs::write(at, b"notes the user wrote").unwrap(),
        }
    }

    fn needs_root(self) -> bool {
        matches!(self, Self::Device | Self::OtherUsersFile)
    }
}

/// Which of the writer's names is planted.
#[derive(Clone, Copy, Debug)]
enum Name {
    Final,
    Temporary,
    Shm,
}

fn builder(name: Name, dir: &Path, file: &str) -> StatsFileBuilder {
    let builder = StatsFile::builder(file).size(16 * 1024);
    match name {
        Name::Shm => builder.shm(),
        Name::Final | Name::Temporary => builder.dir(dir),
    }
}

/// Plants `plant` at the `name` a writer of `file` on this thread will
/// use, creates it, and checks the answer and what is left.
fn attack(plant: Plant, name: Name, file: &'static str) {
    if plant.needs_root() && !is_root() {
        return skip(&format!("planting a {plant:?} needs root"));
    }
    let ids = if matches!(plant, Plant::OtherUsersFile) {
        match attacker() {
            Some(ids) => ids,
            None => return skip("no second user (MMSTATS_ATTACK_USER) could be had"),
        }
    } else {
        (0, 0)
    };
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().to_owned();
    let victim = dir_path.join("victim");
    fs::write(&victim, b"precious").unwrap();
    let result = within_deadline(&format!("{plant:?} at the {name:?} name"), move || {
        // The same builder on the same thread always picks the same name:
        // learn it, then plant there.
        let probe = builder(name, &dir_path, file).create().unwrap();
        let published = probe.path();
        drop(probe);
        let at: PathBuf = match name {
            Name::Final | Name::Shm => published.clone(),
            Name::Temporary => {
                let base = published
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                dir_path.join(format!(".{base}.tmp"))
            }
        };
        plant.plant(&at, &victim, ids);
        let outcome = builder(name, &dir_path, file).create();
        let left = fs::symlink_metadata(&at).map(|m| m.file_type());
        let _ = fs::remove_file(&at);
        (outcome, published, left.ok())
    });
    let (outcome, published, left) = result;
    match outcome {
        Err(CreateError::NameTaken { path, occupant }) => {
            assert_eq!(occupant, plant.expected(ids.0), "{plant:?} at {name:?}");
            assert!(
                path == published || path.to_string_lossy().ends_with(".tmp"),
                "the error names the planted path, not {}",
                path.display()
            );
            let message = CreateError::NameTaken { path, occupant }.to_string();
            assert!(message.contains("taken by"), "{message}");
        }
        other => panic!("{plant:?} at the {name:?} name: expected NameTaken, got {other:?}"),
    }
    assert!(left.is_some(), "the planted {plant:?} is left alone");
    assert_eq!(fs::read(dir.path().join("victim")).unwrap(), b"precious");
    // Nothing else is left: no temporary file, no published file.
    let mut rest: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    rest.sort();
    assert_eq!(rest, ["victim"], "{plant:?} at {name:?}");
}

#[test]
fn fifo_at_the_shm_name_does_not_hang_create() {
    attack(Plant::Fifo, Name::Shm, "fifo-shm");
}

#[test]
fn fifo_at_the_final_name_is_named() {
    attack(Plant::Fifo, Name::Final, "fifo-final");
}

#[test]
fn fifo_at_the_temporary_name_is_named() {
    attack(Plant::Fifo, Name::Temporary, "fifo-temp");
}

#[test]
fn symlink_at_the_shm_name_is_not_followed() {
    attack(Plant::Symlink, Name::Shm, "link-shm");
}

#[test]
fn symlink_at_the_final_name_is_not_followed() {
    attack(Plant::Symlink, Name::Final, "link-final");
}

#[test]
fn symlink_at_the_temporary_name_is_not_followed() {
    attack(Plant::Symlink, Name::Temporary, "link-temp");
}

#[test]
fn device_at_the_shm_name_is_not_opened() {
    attack(Plant::Device, Name::Shm, "dev-shm");
}

#[test]
fn device_at_the_final_name_is_not_opened() {
    attack(Plant::Device, Name::Final, "dev-final");
}

#[test]
fn device_at_the_temporary_name_is_not_opened() {
    attack(Plant::Device, Name::Temporary, "dev-temp");
}

#[test]
fn another_users_file_at_the_final_name_is_named() {
    attack(Plant::OtherUsersFile, Name::Final, "other-final");
}

#[test]
fn another_users_file_at_the_shm_name_is_named() {
    attack(Plant::OtherUsersFile, Name::Shm, "other-shm");
}

#[test]
fn a_users_own_file_at_the_final_name_is_never_removed() {
    attack(Plant::UsersOwnFile, Name::Final, "own-final");
}

/// `keep(true)` leaves a closed file; the next writer of the same pid and
/// thread (a restarted container's pid 1, or simply the same program
/// again) takes the name back.
#[test]
fn kept_file_of_a_closed_writer_does_not_block_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    within_deadline("re-creating a kept file's name", move || {
        for round in 0..3u64 {
            let file = StatsFile::builder("kept")
                .dir(&path)
                .keep(true)
                .create()
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            file.counter("round").unwrap().add(round);
            drop(file);
        }
    });
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "one kept file, no temporary: {names:?}");
    let read = mmstats::read_file(dir.path().join(&names[0])).unwrap();
    let round = read.fields.iter().find(|f| f.name == "round").unwrap();
    assert_eq!(round.value, mmstats::FieldValue::Counter(2));
}

/// A dead writer's file whose recorded pid and start time are alive (the
/// pid was reused by a process that looks the same, as in containers): the
/// lock nobody holds says no writer has it.
#[test]
fn dead_writers_file_with_a_live_pid_does_not_block_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    within_deadline("re-creating a dead writer's name", move || {
        let file = StatsFile::builder("reused").dir(&path).create().unwrap();
        let published = file.path();
        // A copy of a live file records this very pid and start time, but
        // nobody holds the copy's lock.
        let bytes = fs::read(&published).unwrap();
        drop(file);
        fs::write(&published, &bytes).unwrap();
        fs::set_permissions(&published, fs::Permissions::from_mode(0o600)).unwrap();
        let again = StatsFile::builder("reused")
            .dir(&path)
            .create()
            .unwrap_or_else(|e| panic!("a dead writer's copy blocks the name: {e}"));
        assert_eq!(again.path(), published);
    });
}

/// A failed creation removes what it made: here the region is too small
/// for the table asked for.
#[test]
fn failed_creation_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let error = StatsFile::builder("small")
        .dir(dir.path())
        .size(4096)
        .table_capacity(1000)
        .keep(true)
        .create()
        .expect_err("1000 entries do not fit in 4 KiB");
    assert!(matches!(error, CreateError::Region { .. }), "{error:?}");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Fills the file system at `dir` with a file until it refuses a byte.
fn fill(dir: &Path) {
    use std::io::Write;
    let mut filler = fs::File::create(dir.join("filler")).unwrap();
    let block = vec![0x5au8; 64 * 1024];
    loop {
        match filler.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let small = [0x5au8; 512];
    while filler.write(&small).is_ok_and(|n| n > 0) {}
}

/// A region larger than the tmpfs: a typed no-space error naming the
/// file, and neither the temporary nor the final name left behind.
#[test]
fn full_tmpfs_is_a_no_space_error_not_sigbus() {
    let Some(fs_dir) = Tmpfs::mount("1m") else {
        return;
    };
    let error = StatsFile::builder("big")
        .dir(fs_dir.path())
        .size(4 << 20)
        .create()
        .expect_err("4 MiB do not fit in a 1 MiB tmpfs");
    match &error {
        CreateError::NoSpace { path, bytes, .. } => {
            assert!(path.starts_with(fs_dir.path()), "{}", path.display());
            assert_eq!(*bytes, 4 << 20);
        }
        other => panic!("expected NoSpace, got {other:?}"),
    }
    assert!(error.to_string().contains("no space"), "{error}");
    assert_eq!(fs::read_dir(fs_dir.path()).unwrap().count(), 0);
}

/// A file created on a tmpfs that then fills up: its pages were reserved
/// at creation, so every store into the region still lands (without the
/// reservation the first store into an untouched page dies of SIGBUS).
#[test]
fn stores_into_a_region_survive_the_disk_filling_up() {
    let Some(fs_dir) = Tmpfs::mount("2m") else {
        return;
    };
    let file = StatsFile::builder("filled")
        .dir(fs_dir.path())
        .size(512 * 1024)
        .table_capacity(128)
        .default_fields(false)
        .create()
        .unwrap();
    fill(fs_dir.path());
    // Spread fields over the whole region: each 4 KB string lands in
    // pages nobody has touched yet.
    let mut written = 0;
    for i in 0.. {
        match file.text(mmstats::FieldSpec::new(&format!("t{i}")).capacity(4000)) {
            Ok(text) => {
                text.set(&"x".repeat(3999));
                written += 1;
            }
            Err(e) if e.is_full() => break,
            Err(e) => panic!("{e}"),
        }
    }
    // Each string takes its latch copies: about 12 KiB, so 40 of them
    // cover nearly all of the 512 KiB region's pages.
    assert!(written >= 30, "only {written} strings fit");
    let read = mmstats::read_file(file.path()).unwrap();
    assert_eq!(read.fields.len(), written);
}

/// A group for monitoring users: the file is 0640 and belongs to it, the
/// directory the writer made is 0750 and belongs to it too.
#[test]
fn group_readable_files_for_a_monitoring_user() {
    let dir = tempfile::tempdir().unwrap();
    let stats_dir = dir.path().join("stats");
    let gid = rustix::process::getgid().as_raw();
    let file = StatsFile::builder("grouped")
        .dir(&stats_dir)
        .group(gid.to_string())
        .create()
        .unwrap();
    let meta = fs::metadata(file.path()).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o640);
    assert_eq!(meta.gid(), gid);
    let dir_meta = fs::metadata(&stats_dir).unwrap();
    assert_eq!(dir_meta.mode() & 0o777, 0o750);
    assert_eq!(dir_meta.gid(), gid);
    match StatsFile::builder("x")
        .dir(&stats_dir)
        .group("no-such-group-here")
        .create()
    {
        Err(CreateError::UnknownGroup { name }) => assert_eq!(name, "no-such-group-here"),
        other => panic!("expected UnknownGroup, got {other:?}"),
    }
}

/// The documented way for a monitoring user to read: a group. A second
/// user in the writers' group lists the file; the same user outside the
/// group is told "permission denied" with exit 1, never "no stats files".
#[test]
fn a_monitoring_user_reads_through_the_group_and_no_one_else_does() {
    use std::os::unix::process::CommandExt;
    if !is_root() {
        return skip("running mmdump as a second user needs root");
    }
    let Some((uid, own_gid)) = attacker() else {
        return skip("no second user (MMSTATS_ATTACK_USER) could be had");
    };
    // A group the second user is not in: a fresh gid no one uses.
    let readers_gid = 48_611;
    let top = tempfile::tempdir().unwrap();
    // The second user may cross `top` (search), not list it.
    fs::set_permissions(top.path(), fs::Permissions::from_mode(0o711)).unwrap();
    // A copy of mmdump the second user may run, wherever the build is.
    let mmdump = top.path().join("mmdump");
    fs::copy(env!("CARGO_BIN_EXE_mmdump"), &mmdump).unwrap();
    fs::set_permissions(&mmdump, fs::Permissions::from_mode(0o755)).unwrap();
    let stats_dir = top.path().join("stats");
    let file = StatsFile::builder("grouped")
        .dir(&stats_dir)
        .group(readers_gid.to_string())
        .create()
        .unwrap();
    file.counter("requests").unwrap().add(7);
    let run = |gid: u32| {
        // A child forked meanwhile by another test thread may still hold
        // the copy's write descriptor (until its exec): ETXTBSY, retried.
        for _ in 0..100 {
            match std::process::Command::new(&mmdump)
                .arg(&stats_dir)
                .env_remove("MMSTATS_DIR")
                .uid(uid)
                .gid(gid)
                .output()
            {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other.unwrap(),
            }
        }
        panic!("{}: text file busy for 2 s", mmdump.display());
    };
    let inside = run(readers_gid);
    let stdout = String::from_utf8_lossy(&inside.stdout);
    assert!(inside.status.success(), "{inside:?}");
    assert!(
        stdout.contains("requests") && stdout.contains('7'),
        "{stdout}"
    );
    let outside = run(own_gid);
    let stderr = String::from_utf8_lossy(&outside.stderr);
    assert_eq!(outside.status.code(), Some(1), "{outside:?}");
    assert!(stderr.contains("ermission denied"), "{stderr}");
    assert!(
        stderr.contains(&stats_dir.display().to_string()),
        "{stderr}"
    );
    assert!(!stderr.contains("no stats files"), "{stderr}");
}
