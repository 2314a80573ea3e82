//! What the attack suite's tests share: skipping (or failing, in CI) where
//! an attack cannot run, the second user attacks run as, directories of
//! that user, and small tmpfs mounts.

#![allow(dead_code)] // Each test file uses its own part.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether every attack must run (CI sets `MMSTATS_REQUIRE_ATTACKS=1`):
/// then a missing privilege fails the test instead of skipping it.
pub fn required() -> bool {
    std::env::var_os("MMSTATS_REQUIRE_ATTACKS").is_some_and(|v| v == "1")
}

/// Says why a test cannot run here, or fails it when attacks are required.
pub fn skip(reason: &str) {
    assert!(!required(), "MMSTATS_REQUIRE_ATTACKS=1 but {reason}");
    eprintln!("skipped: {reason} (set MMSTATS_REQUIRE_ATTACKS=1 to fail instead)");
}

/// Whether this process may act as another user, mount and `mknod`.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The uid and gid of the unprivileged user attacks run as:
/// `$MMSTATS_ATTACK_USER`, or `mmstats-attacker`, created if missing. `None`
/// (after [`skip`]) when not root or when no such user can be had.
pub fn attacker() -> Option<(u32, u32)> {
    if !is_root() {
        skip("acting as a second user needs root");
        return None;
    }
    let name = std::env::var("MMSTATS_ATTACK_USER").unwrap_or_else(|_| {
        // "Already exists" is fine; any other failure shows in `id`.
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .arg("mmstats-attacker")
            .stderr(Stdio::null())
            .status();
        "mmstats-attacker".into()
    });
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, &name]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    match (id("-u"), id("-g")) {
        (Some(uid), Some(gid)) => Some((uid, gid)),
        _ => {
            skip(&format!("no user {name} (useradd failed?)"));
            None
        }
    }
}

/// Makes `path` a directory owned by `uid`:`gid` with `mode`.
pub fn their_dir(path: &Path, (uid, gid): (u32, u32), mode: u32) {
    std::fs::create_dir_all(path).unwrap();
    rustix::fs::chown(
        path,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .unwrap();
    rustix::fs::chmod(path, rustix::fs::Mode::from_raw_mode(mode)).unwrap();
}

/// A tempdir that other users may enter (tempfile makes them 0700).
pub fn open_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rustix::fs::chmod(dir.path(), rustix::fs::Mode::from_raw_mode(0o755)).unwrap();
    dir
}

/// A tmpfs of `size` (`mount -o size=`) mounted on a fresh tempdir for one
/// test, unmounted when dropped. `None` (after [`skip`]) when not root or
/// when the mount is refused.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(size: &str) -> Option<Self> {
        if !is_root() {
            skip("mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .stderr(Stdio::piped())
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Self { dir }),
            Ok(out) => {
                skip(&format!(
                    "mount -t tmpfs was refused: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
                None
            }
            Err(e) => {
                skip(&format!("no mount command: {e}"));
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn path_buf(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
