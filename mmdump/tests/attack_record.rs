//! Attacks on `mmdump record` on a shared machine (issue 11, attack 10):
//! a full disk, a second recorder on the same database, and things other
//! than the caller's own regular file planted at the database's path or
//! its journal's. Every child runs under a watchdog.
#![cfg(feature = "serve")]

mod attack_common;
mod mmdump_common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attack_common::{Tmpfs, attacker, is_root, skip};
use mmdump_common::{ChildGuard, mmdump};
use mmstats::StatsFile;

/// A writer with `fields` counters in `dir`, alive while the value is.
fn writer(dir: &Path, fields: usize) -> (StatsFile, Vec<mmstats::Counter>) {
    let stats = StatsFile::builder("wide").dir(dir).create().unwrap();
    let counters = (0..fields)
        .map(|i| {
            let counter = stats
                .counter(format!("field.with.a.long.name.number.{i}").as_str())
                .unwrap();
            counter.add(i as u64);
            counter
        })
        .collect();
    (stats, counters)
}

/// A running `mmdump record` whose stderr lines are collected.
struct Recording {
    child: ChildGuard,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Recording {
    fn start(db: &Path, inputs: &Path, extra: &[&str]) -> Self {
        let mut child = ChildGuard(
            mmdump()
                .arg("record")
                .arg("--db")
                .arg(db)
                .arg(inputs)
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.0.stderr.take().unwrap();
        let lines = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        Self { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    fn running(&mut self) -> bool {
        self.child.0.try_wait().unwrap().is_none()
    }

    /// Waits for the exit, at most `limit`; `None` if it is still running
    /// (then it is killed when dropped).
    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.child.0.id() as i32).unwrap(),
            rustix::process::Signal::INT,
        )
        .unwrap();
        assert!(
            self.wait(Duration::from_secs(20)).is_some(),
            "mmdump record ignored SIGINT: {}",
            self.stderr()
        );
    }
}

/// `mmdump record -c 2` at `db`: its exit status and stderr, or a panic
/// if it runs for more than 15 s (a hang).
fn record_once(db: &Path, inputs: &Path) -> (ExitStatus, String) {
    let mut recording = Recording::start(db, inputs, &["-c", "2", "-i", "0.1s"]);
    let status = recording.wait(Duration::from_secs(15)).unwrap_or_else(|| {
        panic!(
            "mmdump record --db {} hung for 15 s: {}",
            db.display(),
            recording.stderr()
        )
    });
    (status, recording.stderr())
}

fn assert_refused(db: &Path, inputs: &Path, names: &Path, what: &str) {
    let (status, stderr) = record_once(db, inputs);
    assert_eq!(status.code(), Some(1), "{what} not refused: {stderr}");
    assert!(
        stderr.contains(&names.display().to_string()) && stderr.contains(what),
        "the error does not name {} and say {what:?}: {stderr}",
        names.display()
    );
}

/// A directory only the caller can write (as a database's must be).
fn private_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mmstats-attack-record")
        .tempdir()
        .unwrap()
}

#[test]
fn record_survives_a_full_disk() {
    let Some(disk) = Tmpfs::mount("2m") else {
        return;
    };
    let stats_dir = private_dir();
    let (_writer, _fields) = writer(stats_dir.path(), 400);
    let db = disk.path().join("trend.db");
    // The size bound (128 MiB) is far above the disk: the disk fills.
    let mut recording = Recording::start(&db, stats_dir.path(), &["-i", "0.1s"]);
    let free = || {
        rustix::fs::statvfs(disk.path())
            .map(|s| s.f_bavail * s.f_frsize)
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !recording.stderr().contains("file system is full") {
        assert!(
            recording.running(),
            "mmdump record exited (free {} bytes): {}",
            free(),
            recording.stderr()
        );
        assert!(
            Instant::now() < deadline,
            "the disk did not fill in 60 s (free {} bytes): {}",
            free(),
            recording.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Still recording, seconds after the disk filled.
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        recording.running(),
        "mmdump record exited after the disk filled: {}",
        recording.stderr()
    );
    recording.stop();
    let stderr = recording.stderr();
    eprintln!("{stderr}");
    assert!(stderr.contains("deleted"), "pruning not logged: {stderr}");
    let now_ms = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()) as i64;
    let reader = mmdump::record::TrendReader::open(&db).unwrap();
    let summary = reader.query().summary().unwrap();
    assert!(
        summary.len() >= 400,
        "every field still has a series: {}",
        summary.len()
    );
    let newest = summary.iter().filter_map(|s| s.last_ms).max().unwrap();
    assert!(
        now_ms - newest < 3_000,
        "the newest sample is {} ms old",
        now_ms - newest
    );
}

#[test]
fn second_recorder_on_one_database_is_refused() {
    let stats_dir = private_dir();
    let dir = private_dir();
    let (_writer, _fields) = writer(stats_dir.path(), 3);
    let db = dir.path().join("trend.db");
    let mut first = Recording::start(&db, stats_dir.path(), &["-i", "0.2s"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !first.stderr().contains("sampling every") {
        assert!(first.running(), "{}", first.stderr());
        assert!(
            Instant::now() < deadline,
            "the first recorder did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, stderr) = record_once(&db, stats_dir.path());
    assert_eq!(
        status.code(),
        Some(1),
        "second recorder not refused: {stderr}"
    );
    let holder = format!("pid {}", first.child.0.id());
    assert!(
        stderr.contains(&db.display().to_string()) && stderr.contains(&holder),
        "the error does not name the database and the holder ({holder}): {stderr}"
    );
    assert!(first.running(), "the first recorder stopped");
    first.stop();
    // Once the first has gone, the database is free again.
    let (status, stderr) = record_once(&db, stats_dir.path());
    assert!(status.success(), "{stderr}");
}

#[test]
fn fifo_device_or_symlink_at_the_database_path_is_refused() {
    let stats_dir = private_dir();
    let dir = private_dir();
    let (_writer, _fields) = writer(stats_dir.path(), 3);
    let fifo = dir.path().join("fifo.db");
    rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from(0o600)).unwrap();
    assert_refused(&fifo, stats_dir.path(), &fifo, "a FIFO");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(dir.path().join("elsewhere.db"), &link).unwrap();
    assert_refused(&link, stats_dir.path(), &link, "a symbolic link");
    assert!(!dir.path().join("elsewhere.db").exists(), "link followed");
    if !is_root() {
        return skip("mknod of a character device needs root");
    }
    let device = dir.path().join("null.db");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &device,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from(0o600),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    assert_refused(&device, stats_dir.path(), &device, "a character device");
}

#[test]
fn planted_journal_fifo_does_not_hang_the_recorder() {
    let stats_dir = private_dir();
    let dir = private_dir();
    let (_writer, _fields) = writer(stats_dir.path(), 3);
    let db = dir.path().join("trend.db");
    let (status, stderr) = record_once(&db, stats_dir.path());
    assert!(status.success(), "{stderr}");
    let journal = dir.path().join("trend.db-journal");
    rustix::fs::mkfifoat(rustix::fs::CWD, &journal, rustix::fs::Mode::from(0o600)).unwrap();
    assert_refused(&db, stats_dir.path(), &journal, "a FIFO");
    assert!(
        std::fs::symlink_metadata(&journal).is_ok(),
        "the planted journal was removed, not reported"
    );
}

#[test]
fn database_owned_by_another_user_is_refused() {
    if !is_root() {
        return skip("giving a file to another user needs root");
    }
    let Some(uid) = attacker().map(|(uid, _)| uid) else {
        return skip("no attack user (useradd failed)");
    };
    let stats_dir = private_dir();
    let dir = private_dir();
    let (_writer, _fields) = writer(stats_dir.path(), 3);
    let db = dir.path().join("planted.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o666)).unwrap();
    rustix::fs::chown(&db, Some(rustix::fs::Uid::from_raw(uid)), None).unwrap();
    assert_refused(&db, stats_dir.path(), &db, &format!("owned by uid {uid}"));
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "written to");
}

#[test]
fn database_in_a_directory_others_can_write_is_refused() {
    let stats_dir = private_dir();
    let dir = private_dir();
    let (_writer, _fields) = writer(stats_dir.path(), 3);
    // Like /tmp: anyone could plant the database's journal there.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let db = dir.path().join("trend.db");
    assert_refused(&db, stats_dir.path(), dir.path(), "writable by other users");
    assert!(!db.exists(), "created anyway");
}
