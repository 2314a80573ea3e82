//! Attack 5 of issue 11: `SIGBUS` from stats files truncated under a
//! reader. Anyone who may write to the stats directory can truncate a file
//! that `mmdump` has mapped; touching the vanished pages raises `SIGBUS`.
//!
//! - More protected mappings than the old fixed table had room for (1024):
//!   `mmdump watch` and `mmdump serve` over 1,100 files (serve maps each
//!   twice) must survive every file being truncated to zero, report the
//!   files as truncated, and keep answering.
//! - One process with 1,100 readers open truncates all their files: every
//!   read is an error saying so, none kills the process.
//! - A program that installs its own `SIGBUS` handler after the library's
//!   gets a typed error from its reads instead of dying unprotected; one
//!   that follows the `mmstats::sigbus` contract (calls
//!   `mmstats::sigbus::handle` first, says so with `set_chained`) stays
//!   protected.
//!
//! The in-process attacks run in a child: this test binary again, with
//! `ATTACK_CHILD` naming the attack, under a watchdog.

mod attack_common;
mod mmdump_common;
#[cfg(feature = "serve")]
mod serve_common;

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use attack_common::skip;
use mmdump_common::{ChildGuard, WATCHDOG, mmdump, run};
use mmstats::RegionReader;
use mmstats_nostd::{Region, RegionOptions, Word};
use serde_json::Value;

/// More files than the old handler's fixed table (1024 slots) had room
/// for.
const FILES: usize = 1100;

/// Names the attack a re-executed child runs.
const CHILD_ENV: &str = "ATTACK_CHILD";

/// Raises this process's open-file limit (inherited by children) to at
/// least `wanted`; false if the hard limit does not allow it.
fn raise_open_file_limit(wanted: u64) -> bool {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_none_or(|current| current >= wanted) {
        return true;
    }
    if limit.maximum.is_some_and(|maximum| maximum < wanted) {
        return false;
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(wanted),
            maximum: limit.maximum,
        },
    )
    .is_ok()
}

/// A directory in memory (as stats directories are) for the files.
fn stats_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mmstats-attack-sigbus")
        .tempdir_in(if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        })
        .unwrap()
}

/// Writes `count` closed two-page regions with a counter `c` into `dir`.
fn write_files(dir: &Path, count: usize) -> Vec<PathBuf> {
    (0..count)
        .map(|index| {
            let words: Vec<Word> = (0..1024).map(|_| Word::new(0)).collect();
            let mut region = Region::create(&words, &RegionOptions::default()).unwrap();
            region.counter("c").unwrap().add(index as u64);
            region.close();
            let bytes: Vec<u8> = words
                .iter()
                .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
                .collect();
            let path = dir.join(format!("f{index:04}.mmstats"));
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect()
}

/// Truncates every file to zero bytes, in place (same inode).
fn truncate_all(paths: &[PathBuf]) {
    for path in paths {
        OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap()
            .set_len(0)
            .unwrap();
    }
}

/// Runs the attack `name` in a child (this binary, only that test) and
/// returns its output; the watchdog kills it if it hangs.
fn run_child(name: &str) -> Output {
    let exe = std::env::current_exe().unwrap();
    run(Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name))
}

/// Whether this process is the child re-executed for the attack `name`.
fn is_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v == name)
}

/// Describes how a child ended, for assertion messages.
fn described(output: &Output) -> String {
    use std::os::unix::process::ExitStatusExt;
    format!(
        "status {:?} (signal {:?})\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        output.status.signal(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn watch_survives_truncation_of_more_than_1024_mapped_files() {
    if !raise_open_file_limit(4 * FILES as u64) {
        return skip("the open-file hard limit is below 4400");
    }
    let dir = stats_dir();
    let paths = write_files(dir.path(), FILES);
    let frames = 12;
    let mut child = mmdump()
        .args(["watch", "--json", "-a", "per-file", "-i", "0.4"])
        .args(["-c", &frames.to_string()])
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut child = ChildGuard(child);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let deadline = Instant::now() + WATCHDOG;
    let mut lines: Vec<Value> = Vec::new();
    let mut truncated = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                let frame: Value = serde_json::from_str(&line).unwrap();
                // Once every file is mapped and read, pull them all away.
                if !truncated && frame["file_count"] == FILES {
                    truncate_all(&paths);
                    truncated = true;
                }
                lines.push(frame);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                assert!(Instant::now() < deadline, "watch hung");
            }
        }
    }
    let status = child.0.wait().unwrap();
    let stderr = errors.join().unwrap();
    assert!(
        status.success(),
        "mmdump watch over {FILES} truncated files ended with {status:?} after {} frames; stderr:\n{stderr}",
        lines.len()
    );
    assert!(truncated, "watch never showed all {FILES} files");
    assert_eq!(lines.len(), frames, "watch printed every frame");
    // The last frame shows every file, each with the truncation as its
    // error (the values read before stay; nothing read since is trusted).
    let last = lines.last().unwrap();
    let groups = last["groups"].as_array().unwrap();
    let flagged = groups
        .iter()
        .filter(|g| {
            g["error"]
                .as_str()
                .is_some_and(|e| e.contains("truncated while being read"))
        })
        .count();
    assert_eq!(
        flagged, FILES,
        "every truncated file is reported: {flagged} of {FILES}"
    );
}

#[cfg(feature = "serve")]
#[test]
fn serve_survives_truncation_of_more_than_1024_mapped_files() {
    use serve_common::{get, serve, wait_for};
    if !raise_open_file_limit(4 * FILES as u64) {
        return skip("the open-file hard limit is below 4400");
    }
    let dir = stats_dir();
    let paths = write_files(dir.path(), FILES);
    let dir_arg = dir.path().to_str().unwrap();
    let mut served = serve(&[dir_arg]);
    // Both live views (combined and per-file) map every file: 2,200
    // mappings in all.
    let all_read = wait_for(WATCHDOG, || {
        let reply = get(served.address, "/api/v1/live?aggregate=per-file");
        (reply.status == 200 && reply.json()["file_count"] == FILES).then_some(())
    });
    assert!(all_read.is_some(), "serve never showed all {FILES} files");
    truncate_all(&paths);
    // The next ticks read the truncated files; serve must live through
    // them and report them.
    let reported = wait_for(WATCHDOG, || {
        if let Some(status) = served.child.0.try_wait().unwrap() {
            panic!("mmdump serve died after the truncation: {status:?}");
        }
        let reply = get(served.address, "/api/v1/live?aggregate=per-file");
        let frame = reply.json();
        let flagged = frame["groups"]
            .as_array()?
            .iter()
            .filter(|g| {
                g["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("truncated while being read"))
            })
            .count();
        (flagged == FILES).then_some(())
    });
    assert!(
        reported.is_some(),
        "serve did not report all {FILES} files truncated"
    );
    let metrics = get(served.address, "/metrics");
    assert_eq!(metrics.status, 200, "{}", metrics.text());
    assert!(
        served.child.0.try_wait().unwrap().is_none(),
        "mmdump serve is still running"
    );
}

#[test]
fn one_process_survives_truncation_of_more_than_1024_mapped_files() {
    const NAME: &str = "one_process_survives_truncation_of_more_than_1024_mapped_files";
    if is_child(NAME) {
        let dir = stats_dir();
        let paths = write_files(dir.path(), FILES);
        let mut readers: Vec<RegionReader> = paths
            .iter()
            .map(|p| RegionReader::open(p).unwrap())
            .collect();
        for reader in &mut readers {
            reader.read_values().unwrap();
        }
        truncate_all(&paths);
        let mut truncated = 0;
        for reader in &mut readers {
            match reader.read_values() {
                Err(error) if error.to_string().contains("truncated while being read") => {
                    truncated += 1;
                }
                other => println!("[unexpected] {other:?}"),
            }
        }
        println!("[truncated reads] {truncated}");
        return;
    }
    if !raise_open_file_limit(2 * FILES as u64) {
        return skip("the open-file hard limit is below 2200");
    }
    let output = run_child(NAME);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && text.contains(&format!("[truncated reads] {FILES}\n")),
        "{}",
        described(&output)
    );
}

/// Whether the test program's own `SIGBUS` handler ran.
static OWN_HANDLER_RAN: AtomicBool = AtomicBool::new(false);

/// Sets `SIGBUS` to `action`.
fn set_sigbus(action: usize, flags: libc::c_int) {
    // SAFETY: an all-zero sigaction is a valid value (SIG_DFL, empty
    // mask); the fields are then set to a valid handler and flags.
    let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
    new.sa_sigaction = action;
    new.sa_flags = flags;
    // SAFETY: `new` is a valid sigaction; the old one is not wanted.
    let result = unsafe { libc::sigaction(libc::SIGBUS, &raw const new, std::ptr::null_mut()) };
    assert_eq!(result, 0, "sigaction");
}

/// A crash reporter's handler, installed after the library's: notes the
/// crash, restores the default action and returns, so the fault repeats
/// and kills the process.
extern "C" fn crash_reporter(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    OWN_HANDLER_RAN.store(true, Ordering::Relaxed);
    set_sigbus(libc::SIG_DFL, 0);
}

#[test]
fn a_handler_installed_after_the_library_gives_a_typed_error_not_a_crash() {
    const NAME: &str = "a_handler_installed_after_the_library_gives_a_typed_error_not_a_crash";
    if is_child(NAME) {
        let dir = stats_dir();
        let paths = write_files(dir.path(), 2);
        let mut reader = RegionReader::open(&paths[0]).unwrap();
        reader.read_values().unwrap();
        set_sigbus(crash_reporter as *const () as usize, libc::SA_SIGINFO);
        // Past the library's bound on how long a replacement may go
        // unnoticed by reads already open.
        std::thread::sleep(Duration::from_millis(
            5 * mmstats::sigbus::RECHECK_INTERVAL_MS,
        ));
        truncate_all(&paths[..1]);
        match reader.read_values() {
            Ok(_) => println!("[read] values"),
            Err(error) => println!("[read] {error}"),
        }
        match RegionReader::open(&paths[1]) {
            Ok(_) => println!("[open] ok"),
            Err(error) => println!("[open] {error}"),
        }
        println!(
            "[own handler ran] {}",
            OWN_HANDLER_RAN.load(Ordering::Relaxed)
        );
        return;
    }
    let output = run_child(NAME);
    let text = String::from_utf8_lossy(&output.stdout);
    let replaced = "SIGBUS handler replaced; see mmstats::sigbus contract";
    assert!(output.status.success(), "{}", described(&output));
    assert!(
        text.lines()
            .any(|l| l.contains("[read] ") && l.contains(replaced)),
        "the read of the truncated file says the handler was replaced: {}",
        described(&output)
    );
    assert!(
        text.lines()
            .any(|l| l.contains("[open] ") && l.contains(replaced)),
        "a new reader says the handler was replaced: {}",
        described(&output)
    );
    assert!(
        text.contains("[own handler ran] false"),
        "nothing was read unprotected: {}",
        described(&output)
    );
}

/// A program's own handler that follows the `mmstats::sigbus` contract:
/// the library's faults first, then its own business (here: a crash).
extern "C" fn chaining_handler(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    _: *mut libc::c_void,
) {
    // SAFETY: `info` is the siginfo the kernel passed this handler.
    if unsafe { mmstats::sigbus::handle(signal, info) } {
        return;
    }
    OWN_HANDLER_RAN.store(true, Ordering::Relaxed);
    set_sigbus(libc::SIG_DFL, 0);
}

#[test]
fn a_handler_that_chains_to_the_library_stays_protected() {
    const NAME: &str = "a_handler_that_chains_to_the_library_stays_protected";
    if is_child(NAME) {
        let dir = stats_dir();
        let paths = write_files(dir.path(), 2);
        let mut reader = RegionReader::open(&paths[0]).unwrap();
        reader.read_values().unwrap();
        mmstats::sigbus::set_chained();
        set_sigbus(chaining_handler as *const () as usize, libc::SA_SIGINFO);
        std::thread::sleep(Duration::from_millis(50));
        truncate_all(&paths[..1]);
        match reader.read_values() {
            Ok(_) => println!("[read] values"),
            Err(error) => println!("[read] {error}"),
        }
        let mut second = RegionReader::open(&paths[1]).unwrap();
        second.read_values().unwrap();
        truncate_all(&paths[1..]);
        match second.read_values() {
            Ok(_) => println!("[second read] values"),
            Err(error) => println!("[second read] {error}"),
        }
        println!(
            "[own handler ran] {}",
            OWN_HANDLER_RAN.load(Ordering::Relaxed)
        );
        return;
    }
    let output = run_child(NAME);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", described(&output));
    for marker in ["[read] ", "[second read] "] {
        assert!(
            text.lines()
                .any(|l| l.contains(marker) && l.contains("truncated while being read")),
            "{marker}: the truncation is reported: {}",
            described(&output)
        );
    }
    assert!(
        text.contains("[own handler ran] false"),
        "the library's faults never reached the program's own part: {}",
        described(&output)
    );
}
