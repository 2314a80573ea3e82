//! Attacks on `mmdump clean` (issue 11, attack 3): swapping names under it
//! so it deletes a live writer's file, and making it work in a directory
//! whose owner (another user) can rearrange the names at will.

mod attack_common;
mod mmdump_common;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use attack_common::{attacker, open_tempdir, their_dir};
use mmdump::dump::clean::{Action, CleanOptions, clean};
use mmdump::dump::select::Selection;
use mmdump_common::{Made, boot_id, mmdump, own_start_time, run, write_region};
use mmstats::StatsFile;
use mmstats_nostd::RegionOptions;
use rustix::fs::{Mode, OFlags, RenameFlags};

/// A region whose recorded writer is this process's pid with another
/// start time: an earlier process that had the pid, provably dead.
fn dead_region() -> Made {
    Made {
        options: RegionOptions {
            generation: 1,
            pid: u64::from(std::process::id()),
            start_time: own_start_time() + 12_345,
            boot_id: boot_id(),
            created_ns: mmstats::os::now_ns(),
            ..RegionOptions::default()
        },
        ..Made::default()
    }
}

fn open_fd(path: &Path) -> OwnedFd {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap()
}

fn links(fd: &OwnedFd) -> u64 {
    rustix::fs::fstat(fd).unwrap().st_nlink
}

/// Attack 3: while `clean` runs, the directory's owner swaps a live
/// writer's file and a dead file's names (`RENAME_EXCHANGE`) in a tight
/// loop. 1,000 rounds: each round plants a dead file under whichever of the
/// two names is free and cleans until it is gone. The live file must stay
/// linked throughout; the dead files must go.
#[test]
#[cfg_attr(miri, ignore)]
fn rename_exchange_race_never_removes_a_live_file() {
    const ROUNDS: usize = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let live = StatsFile::builder("live").dir(dir.path()).create().unwrap();
    live.counter("c").unwrap().incr();
    let live_fd = open_fd(&live.path());
    let names: [PathBuf; 2] = [live.path(), dir.path().join("swap-1-1-dead.mmstats")];
    let staging = dir.path().join(".staging");
    let dir_fd = open_fd(dir.path());

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapper = {
        let (stop, swaps) = (Arc::clone(&stop), Arc::clone(&swaps));
        let names = names.clone();
        std::thread::spawn(move || {
            // Relaxed: the flag only ends the loop; nothing is published
            // through it.
            while !stop.load(Ordering::Relaxed) {
                if rustix::fs::renameat_with(
                    rustix::fs::CWD,
                    &names[0],
                    rustix::fs::CWD,
                    &names[1],
                    RenameFlags::EXCHANGE,
                )
                .is_ok()
                {
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let deadline = Instant::now() + Duration::from_secs(240);
    let mut cleaned = 0;
    for round in 0..ROUNDS {
        // The dead file goes under the free name (while one name is free
        // the swapper's exchanges fail, so the names hold still).
        write_region(&staging, dead_region());
        let dead_fd = open_fd(&staging);
        let placed = names.iter().any(|name| {
            rustix::fs::renameat_with(
                &dir_fd,
                ".staging",
                rustix::fs::CWD,
                name,
                RenameFlags::NOREPLACE,
            )
            .is_ok()
        });
        assert!(placed, "round {round}: neither name is free");
        let mut attempts = 0;
        while links(&dead_fd) > 0 {
            let (outcomes, errors) = clean(
                &[dir.path().to_owned()],
                &Selection::everything(),
                &CleanOptions::default(),
            );
            assert!(errors.is_empty(), "round {round}: {errors:?}");
            assert!(
                links(&live_fd) > 0,
                "round {round}: clean removed the live writer's file: {outcomes:?}"
            );
            for outcome in &outcomes {
                assert!(
                    !(outcome.action == Action::Removed && outcome.reason.contains("alive")),
                    "{outcome:?}"
                );
            }
            attempts += 1;
            assert!(
                attempts < 200,
                "round {round}: the dead file is never removed"
            );
            assert!(Instant::now() < deadline, "round {round}: out of time");
        }
        cleaned += 1;
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    assert_eq!(cleaned, ROUNDS);
    assert!(links(&live_fd) > 0);
    assert!(
        swaps.load(Ordering::Relaxed) > 0,
        "the swapper never swapped: the race was not run"
    );
    eprintln!(
        "{ROUNDS} rounds, {} swaps, live file intact",
        swaps.load(Ordering::Relaxed)
    );
}

/// Attack 3 with attack 4: the directory belongs to another user (0755 or
/// 1777): its owner can swap any two names in it between clean's check and
/// its unlink. `clean` must refuse to work there, naming the directory,
/// exit 1, and remove nothing.
#[test]
#[cfg_attr(miri, ignore)]
fn clean_refuses_a_directory_of_another_user() {
    let Some(attacker) = attacker() else { return };
    let root = open_tempdir();
    for (mode, flags) in [(0o755, &["--all-users"][..]), (0o1777, &[][..])] {
        let theirs = root.path().join(format!("theirs-{mode:o}"));
        their_dir(&theirs, attacker, mode);
        // A dead file root owns: clean would remove it, were the directory
        // trusted.
        let dead = theirs.join("victim-1-1.mmstats");
        write_region(&dead, dead_region());
        let output = run(mmdump().arg("clean").args(flags).arg(&theirs));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "mode {mode:o}: {output:?}");
        assert!(dead.exists(), "mode {mode:o}: clean removed a file there");
        assert!(
            stderr.contains(&theirs.display().to_string()) && stderr.contains("owned by uid"),
            "mode {mode:o}: {stderr}"
        );
    }
}

/// Attack 4 on clean: a symbolic link in the path (planted by whoever owns
/// the directory holding it) would lead clean into another directory.
#[test]
#[cfg_attr(miri, ignore)]
fn clean_refuses_a_symlinked_component() {
    let root = tempfile::tempdir().unwrap();
    let real = root.path().join("real");
    std::fs::create_dir_all(real.join("stats")).unwrap();
    let dead = real.join("stats/victim-1-1.mmstats");
    write_region(&dead, dead_region());
    std::os::unix::fs::symlink(&real, root.path().join("link")).unwrap();
    let through = root.path().join("link/stats");
    let output = run(mmdump().arg("clean").arg(&through));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        dead.exists(),
        "clean followed the link and removed the file"
    );
    assert!(
        stderr.contains(&root.path().join("link").display().to_string())
            && stderr.contains("symbolic link"),
        "{stderr}"
    );
}

/// Readers probing one file at the same moment (every reader judges
/// liveness by taking the lock for a moment) never take each other for a
/// live writer, and never take a live writer for a dead one: four
/// threads, 2,000 judgements each, of a dead file and of a live one.
#[test]
#[cfg_attr(miri, ignore)]
fn concurrent_probes_never_fool_liveness() {
    use mmstats::{Liveness, read_file};
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("probed-1-1.mmstats");
    write_region(&dead, dead_region());
    let live = StatsFile::builder("probed")
        .dir(dir.path())
        .create()
        .unwrap();
    let live_path = live.path();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (dead, live) = (dead.clone(), live_path.clone());
            std::thread::spawn(move || {
                let mut wrong = Vec::new();
                for round in 0..2_000 {
                    let seen = read_file(&dead).unwrap().liveness;
                    if seen != Liveness::Dead {
                        wrong.push(format!("round {round}: dead file judged {seen:?}"));
                    }
                    let seen = read_file(&live).unwrap().liveness;
                    if seen != Liveness::Alive {
                        wrong.push(format!("round {round}: live file judged {seen:?}"));
                    }
                }
                wrong
            })
        })
        .collect();
    let wrong: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert!(
        wrong.is_empty(),
        "{} wrong judgements: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    drop(live);
}
