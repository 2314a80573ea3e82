//! `mmdump clean` against real writers and hand-made files, under a
//! watchdog: a dead writer's files go, a live writer's stay, a file whose
//! pid now belongs to another process (pid reuse) goes, and nothing it
//! cannot prove dead or does not own is touched.

mod mmdump_common;

use std::path::Path;

use mmdump_common::{Made, boot_id, mmdump, own_start_time, run, start_demo, write_region};
use mmstats_nostd::RegionOptions;
use serde_json::Value;

fn clean_json(args: &[&str], dir: &Path) -> (Value, Option<i32>) {
    let output = run(mmdump().arg("clean").arg("--json").args(args).arg(dir));
    let document = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    (document, output.status.code())
}

/// The action and reason `clean` reported for `path`.
fn verdict(document: &Value, path: &Path) -> (String, String) {
    let file = document["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path.display().to_string())
        .unwrap_or_else(|| panic!("{} not judged: {document}", path.display()));
    (
        file["action"].as_str().unwrap().to_owned(),
        file["reason"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn a_dead_writers_files_go_and_a_live_writers_stay() {
    let dir = tempfile::tempdir().unwrap();
    let (mut dead, dead_paths) = start_demo(dir.path(), 1);
    let (_live, live_paths) = start_demo(dir.path(), 1);
    // Killed hard: its files stay behind with its pid in them.
    dead.0.kill().unwrap();
    dead.0.wait().unwrap();
    assert!(dead_paths.iter().all(|p| p.exists()));

    let (dry, code) = clean_json(&["--dry-run"], dir.path());
    assert_eq!(code, Some(0));
    assert_eq!(dry["dry_run"], true);
    for path in &dead_paths {
        let (action, reason) = verdict(&dry, path);
        assert_eq!(action, "would remove", "{reason}");
        assert!(reason.contains("dead"), "{reason}");
        assert!(path.exists(), "a dry run removes nothing");
    }
    for path in &live_paths {
        let (action, reason) = verdict(&dry, path);
        assert_eq!(action, "kept");
        assert!(reason.contains("alive"), "{reason}");
    }

    let text = run(mmdump().arg("clean").arg(dir.path()));
    assert!(text.status.success(), "{text:?}");
    let text = String::from_utf8(text.stdout).unwrap();
    assert_eq!(text.matches("removed").count(), dead_paths.len(), "{text}");
    assert!(dead_paths.iter().all(|p| !p.exists()), "{text}");
    assert!(live_paths.iter().all(|p| p.exists()), "{text}");

    // --quiet prints only removals: nothing left to remove.
    let quiet = run(mmdump().args(["clean", "-q"]).arg(dir.path()));
    assert!(quiet.stdout.is_empty(), "{quiet:?}");
}

#[test]
fn an_exited_writer_not_yet_reaped_is_dead() {
    let dir = tempfile::tempdir().unwrap();
    let (mut zombie, paths) = start_demo(dir.path(), 1);
    // Killed but not waited for: a zombie keeps its pid and start time.
    zombie.0.kill().ok();
    let stat = format!("/proc/{}/stat", zombie.0.id());
    let deadline = std::time::Instant::now() + mmdump_common::WATCHDOG;
    loop {
        let text = std::fs::read_to_string(&stat).unwrap();
        if text[text.rfind(')').unwrap() + 1..]
            .trim_start()
            .starts_with('Z')
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no zombie: {text}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (document, code) = clean_json(&[], dir.path());
    assert_eq!(code, Some(0), "{document}");
    for path in &paths {
        let (action, reason) = verdict(&document, path);
        assert_eq!(action, "removed", "{reason}");
        assert!(!path.exists());
    }
    drop(zombie);
}

#[test]
fn a_reused_pid_does_not_keep_a_file_alive() {
    let dir = tempfile::tempdir().unwrap();
    // This test process is alive; a file that names its pid with another
    // start time was written by an earlier process that had the same pid.
    let me = u64::from(std::process::id());
    let start = own_start_time();
    let options = |start_time: u64| RegionOptions {
        generation: 1,
        pid: me,
        start_time,
        boot_id: boot_id(),
        created_ns: mmstats::os::now_ns(),
        ..RegionOptions::default()
    };
    let reused = dir.path().join("reused-1-1.mmstats");
    write_region(
        &reused,
        Made {
            options: options(start + 12_345),
            ..Made::default()
        },
    );
    // Same pid and the right start time, but no lock: the writer is alive
    // (another implementation that takes no lock), so it stays.
    let alive = dir.path().join("alive-1-1.mmstats");
    write_region(
        &alive,
        Made {
            options: options(start),
            ..Made::default()
        },
    );
    // A pid that runs but no start time recorded: cannot be proved dead.
    let no_start = dir.path().join("nostart-1-1.mmstats");
    write_region(
        &no_start,
        Made {
            options: options(0),
            ..Made::default()
        },
    );
    // Written in another boot.
    let old_boot = dir.path().join("oldboot-1-1.mmstats");
    write_region(
        &old_boot,
        Made {
            options: RegionOptions {
                boot_id: boot_id() ^ 0xdead,
                ..options(start)
            },
            ..Made::default()
        },
    );
    // Closed by a writer that is gone: kept unless --closed.
    let closed = dir.path().join("closed-1-1.mmstats");
    write_region(
        &closed,
        Made {
            options: options(start + 1),
            closed: true,
            ..Made::default()
        },
    );
    // Not a stats file at all.
    let foreign = dir.path().join("foreign.mmstats");
    std::fs::write(&foreign, b"hello, not a region").unwrap();

    let (dry, _) = clean_json(&["-n"], dir.path());
    let (action, reason) = verdict(&dry, &reused);
    assert_eq!(action, "would remove");
    assert!(reason.contains("reused"), "{reason}");
    let (action, reason) = verdict(&dry, &alive);
    assert_eq!(action, "kept");
    assert!(reason.contains("alive"), "{reason}");
    let (action, reason) = verdict(&dry, &no_start);
    assert_eq!(action, "kept");
    assert!(reason.contains("no start time"), "{reason}");
    let (action, reason) = verdict(&dry, &old_boot);
    assert_eq!(action, "would remove");
    assert!(reason.contains("boot"), "{reason}");
    let (action, reason) = verdict(&dry, &closed);
    assert_eq!(action, "kept");
    assert!(reason.contains("--closed"), "{reason}");
    assert_eq!(verdict(&dry, &foreign).0, "kept");

    let (done, code) = clean_json(&[], dir.path());
    assert_eq!(code, Some(0), "{done}");
    assert!(!reused.exists() && !old_boot.exists());
    assert!(alive.exists() && no_start.exists() && closed.exists() && foreign.exists());

    let (_, code) = clean_json(&["--closed"], dir.path());
    assert_eq!(code, Some(0));
    assert!(!closed.exists());
    assert!(alive.exists() && no_start.exists() && foreign.exists());
}

#[test]
fn symlinks_and_other_users_files_are_never_touched() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let dead = RegionOptions {
        generation: 1,
        pid: u64::from(i32::MAX as u32) - 7, // far above any pid_max
        start_time: 1,
        boot_id: boot_id(),
        ..RegionOptions::default()
    };
    let target = elsewhere.path().join("target-1-1.mmstats");
    write_region(
        &target,
        Made {
            options: dead,
            ..Made::default()
        },
    );
    let link = dir.path().join("link-1-1.mmstats");
    std::os::unix::fs::symlink(&target, &link).unwrap();

    // Named directly or found in the directory, a link is kept.
    let (document, _) = clean_json(&[], &link);
    let (action, reason) = verdict(&document, &link);
    assert_eq!(action, "kept");
    assert!(reason.contains("symbolic link"), "{reason}");
    let (document, _) = clean_json(&[], dir.path());
    assert_eq!(verdict(&document, &link).0, "kept");
    assert!(link.symlink_metadata().is_ok() && target.exists());

    // The dead target itself goes when named.
    let (document, _) = clean_json(&["--dry-run"], elsewhere.path());
    assert_eq!(verdict(&document, &target).0, "would remove");

    if rustix::process::geteuid().is_root() {
        let theirs = dir.path().join("theirs-1-1.mmstats");
        write_region(
            &theirs,
            Made {
                options: dead,
                ..Made::default()
            },
        );
        rustix::fs::chown(&theirs, Some(rustix::fs::Uid::from_raw(65534)), None).unwrap();
        let (document, _) = clean_json(&[], dir.path());
        let (action, reason) = verdict(&document, &theirs);
        assert_eq!(action, "kept");
        assert!(reason.contains("owned by uid 65534"), "{reason}");
        assert!(theirs.exists());
        let (document, _) = clean_json(&["--all-users"], dir.path());
        assert_eq!(verdict(&document, &theirs).0, "removed");
        assert!(!theirs.exists());
    } else {
        eprintln!("skipped the other-user case: not running as root");
    }
}

#[test]
fn pid_and_file_selectors_narrow_what_clean_judges() {
    let dir = tempfile::tempdir().unwrap();
    let made = |pid: u64| Made {
        options: RegionOptions {
            generation: 1,
            pid,
            start_time: 1,
            boot_id: boot_id(),
            ..RegionOptions::default()
        },
        ..Made::default()
    };
    let a = dir.path().join("a-1-1.mmstats");
    let b = dir.path().join("b-1-1.mmstats");
    write_region(&a, made(u64::from(i32::MAX as u32) - 1));
    write_region(&b, made(u64::from(i32::MAX as u32) - 2));
    let (document, _) = clean_json(&["-n", "-p", &(i32::MAX - 1).to_string()], dir.path());
    assert_eq!(document["files"].as_array().unwrap().len(), 1);
    assert_eq!(verdict(&document, &a).0, "would remove");
    let (document, _) = clean_json(&["-n", "-f", "b-*"], dir.path());
    assert_eq!(document["files"].as_array().unwrap().len(), 1);
    assert_eq!(verdict(&document, &b).0, "would remove");
}
