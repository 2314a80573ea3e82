//! Attacks through the stats directory (issue 11): a directory another
//! user owns or a symbolic link in its path (attack 4: writers must refuse
//! it, readers warn or refuse and go on), and a reader that may not read
//! the directory or a file being told "no stats files" (attack 9, silent
//! blindness).

mod attack_common;
mod mmdump_common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use attack_common::{attacker, open_tempdir, their_dir};
use mmdump_common::{Made, mmdump, run, write_region};
use mmstats::StatsFile;
use rustix::fs::Mode;

fn stats_file(path: &Path) {
    write_region(path, Made::default());
}

/// `mmdump`, run as `user`.
fn mmdump_as((uid, gid): (u32, u32)) -> Command {
    let mut command = mmdump();
    command.uid(uid).gid(gid);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn shows(output: &Output, path: &Path) -> bool {
    text(&output.stdout).contains(&path.display().to_string())
}

/// Attack 4, reader side: a directory another user owns (0755: theirs to
/// fill; 1777: theirs to rearrange, sticky or not). Its files may be
/// planted: the reader says so, naming the directory, and still shows them.
#[test]
#[cfg_attr(miri, ignore)]
fn reader_warns_about_a_directory_of_another_user() {
    let Some(attacker) = attacker() else { return };
    let root = open_tempdir();
    for mode in [0o755, 0o1777] {
        let theirs = root.path().join(format!("theirs-{mode:o}"));
        their_dir(&theirs, attacker, mode);
        let planted = theirs.join("planted-1-1.mmstats");
        stats_file(&planted);
        let output = run(mmdump().arg("list").arg(&theirs));
        let stderr = text(&output.stderr);
        assert!(shows(&output, &planted), "mode {mode:o}: {output:?}");
        assert!(
            stderr.contains("warning")
                && stderr.contains(&theirs.display().to_string())
                && stderr.contains(&format!("owned by uid {}", attacker.0)),
            "mode {mode:o}: {stderr}"
        );
    }
}

/// Attack 4, reader side: a symbolic link in the path of a directory
/// (planted by whoever may write where it sits) is not followed: the
/// reader names it, exits 1, and the other directories still print.
#[test]
#[cfg_attr(miri, ignore)]
fn reader_refuses_a_symlinked_component_and_goes_on() {
    let root = tempfile::tempdir().unwrap();
    let good = root.path().join("good");
    let real = root.path().join("real/stats");
    std::fs::create_dir_all(&good).unwrap();
    std::fs::create_dir_all(&real).unwrap();
    let shown = good.join("good-1-1.mmstats");
    let hidden = real.join("elsewhere-1-1.mmstats");
    stats_file(&shown);
    stats_file(&hidden);
    let link = root.path().join("link");
    std::os::unix::fs::symlink(root.path().join("real"), &link).unwrap();
    let output = run(mmdump().arg("list").arg(&good).arg(link.join("stats")));
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(shows(&output, &shown), "{output:?}");
    assert!(!text(&output.stdout).contains("elsewhere"), "{output:?}");
    assert!(
        stderr.contains(&link.display().to_string()) && stderr.contains("symbolic link"),
        "{stderr}"
    );
}

/// Attack 4, writer side: a writer must not publish into a directory
/// another user owns (they could replace, squat or remove its file).
#[test]
#[cfg_attr(miri, ignore)]
fn writer_refuses_a_directory_of_another_user() {
    let Some(attacker) = attacker() else { return };
    let root = open_tempdir();
    for mode in [0o755, 0o1777] {
        let theirs = root.path().join(format!("theirs-{mode:o}"));
        their_dir(&theirs, attacker, mode);
        let result = StatsFile::builder("victim").dir(&theirs).create();
        let error = result.err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains(&theirs.display().to_string())),
            "mode {mode:o}: the writer published there ({error:?})"
        );
        let left: Vec<_> = std::fs::read_dir(&theirs).unwrap().collect();
        assert!(left.is_empty(), "mode {mode:o}: {left:?}");
    }
}

/// Attack 4, writer side: a symbolic link above the stats directory.
#[test]
#[cfg_attr(miri, ignore)]
fn writer_refuses_a_symlinked_component() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("real/stats")).unwrap();
    std::os::unix::fs::symlink(root.path().join("real"), root.path().join("link")).unwrap();
    let result = StatsFile::builder("victim")
        .dir(root.path().join("link/stats"))
        .create();
    let error = result.err().map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("symbolic link")),
        "the writer published through the link ({error:?})"
    );
    let left: Vec<_> = std::fs::read_dir(root.path().join("real/stats"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A 0700 stats directory of root's, with a file in it, in a directory
/// the attacker may enter.
fn private_stats_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let root = open_tempdir();
    let stats = root.path().join("stats");
    std::fs::create_dir(&stats).unwrap();
    rustix::fs::chmod(&stats, Mode::from_raw_mode(0o700)).unwrap();
    stats_file(&stats.join("app-1-1.mmstats"));
    (root, stats)
}

fn assert_says_permission_denied(output: &Output, path: &Path, what: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{what}: {output:?}");
    assert!(
        stderr.contains(&path.display().to_string()) && stderr.contains("ermission denied"),
        "{what}: {stderr}"
    );
    assert!(!stderr.contains("mmdump demo"), "{what}: {stderr}");
}

/// Attack 9: a reader that may not list the stats directory is told so,
/// not shown an empty listing with exit 0.
#[test]
#[cfg_attr(miri, ignore)]
fn blind_reader_of_an_unlistable_directory_says_so() {
    let Some(attacker) = attacker() else { return };
    let (_root, stats) = private_stats_dir();
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["dump"],
        &["dump", "--json"],
    ] {
        let output = run(mmdump_as(attacker).args(args).arg(&stats));
        assert_says_permission_denied(&output, &stats, &args.join(" "));
    }
}

/// Attack 9, default directory: `MMSTATS_DIR` names a directory this user
/// may not list; "no stats files (run `mmdump demo`)" with exit 0 would be
/// a lie.
#[test]
#[cfg_attr(miri, ignore)]
fn blind_reader_of_the_default_directory_says_so() {
    let Some(attacker) = attacker() else { return };
    let (_root, stats) = private_stats_dir();
    for args in [&[][..], &["list"], &["list", "--json"], &["tree"]] {
        let output = run(mmdump_as(attacker).env("MMSTATS_DIR", &stats).args(args));
        assert_says_permission_denied(&output, &stats, &format!("mmdump {}", args.join(" ")));
    }
}

/// Attack 9 in munin's plugin mode: the plugin must fail, naming the
/// directory, instead of reporting nothing.
#[test]
#[cfg_attr(miri, ignore)]
fn blind_munin_plugin_says_so() {
    let Some(attacker) = attacker() else { return };
    let (root, stats) = private_stats_dir();
    let plugin = root.path().join("mmstats_app");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_mmdump"), &plugin).unwrap();
    for args in [&[][..], &["config"]] {
        let mut command = Command::new(&plugin);
        command
            .args(args)
            .env("MMSTATS_DIR", &stats)
            .env_remove("MUNIN_PLUGSTATE")
            .uid(attacker.0)
            .gid(attacker.1);
        let output = run(&mut command);
        assert_says_permission_denied(&output, &stats, &format!("plugin {}", args.join(" ")));
    }
    // autoconf answers munin's question (exit 0 by its convention), with
    // the reason.
    let output = run(Command::new(&plugin)
        .arg("autoconf")
        .env("MMSTATS_DIR", &stats)
        .uid(attacker.0)
        .gid(attacker.1));
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("no (") && stdout.contains("ermission denied"),
        "{output:?}"
    );
}

/// Attack 9, one file: a file this user may not open is named with the
/// reason, and the others still print.
#[test]
#[cfg_attr(miri, ignore)]
fn blind_reader_of_an_unreadable_file_says_so() {
    let Some(attacker) = attacker() else { return };
    let root = open_tempdir();
    let secret = root.path().join("secret-1-1.mmstats");
    let open = root.path().join("open-1-1.mmstats");
    stats_file(&secret);
    stats_file(&open);
    rustix::fs::chmod(&secret, Mode::from_raw_mode(0o600)).unwrap();
    rustix::fs::chmod(&open, Mode::from_raw_mode(0o644)).unwrap();
    let output = run(mmdump_as(attacker).arg("list").arg(root.path()));
    assert_says_permission_denied(&output, &secret, "list");
    assert!(shows(&output, &open), "{output:?}");
}

/// "No stats files" only when the directory is really there, readable and
/// empty; a missing directory is said to be missing.
#[test]
#[cfg_attr(miri, ignore)]
fn no_stats_files_only_when_empty_and_missing_said_distinctly() {
    let root = tempfile::tempdir().unwrap();
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = run(mmdump().env("MMSTATS_DIR", &empty).arg("list"));
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stderr.contains(&format!("no stats files in {}", empty.display())),
        "{stderr}"
    );
    let missing = root.path().join("missing");
    let output = run(mmdump().env("MMSTATS_DIR", &missing).arg("list"));
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stderr.contains(&missing.display().to_string()) && stderr.contains("does not exist"),
        "{stderr}"
    );
}

/// Attack 9 with a selection: `--file` or `--pid` filters must not hide
/// that a directory could not be listed (its files might match).
#[test]
#[cfg_attr(miri, ignore)]
fn blind_reader_with_a_selection_says_so() {
    let Some(attacker) = attacker() else { return };
    let (_root, stats) = private_stats_dir();
    for filter in [&["--file", "app*"][..], &["--pid", "1"]] {
        let output = run(mmdump_as(attacker).arg("list").args(filter).arg(&stats));
        assert_says_permission_denied(&output, &stats, &filter.join(" "));
    }
}
