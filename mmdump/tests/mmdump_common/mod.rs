//! Helpers shared by the `mmdump_*` integration tests: running the real
//! binaries under a watchdog, starting the demo writer, and writing
//! regions with a chosen writer identity into files.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mmstats_nostd::{Region, RegionOptions, Word};

/// Longest any child process may run.
pub const WATCHDOG: Duration = Duration::from_secs(90);

/// Kills the child when dropped (test failure included).
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Kills process `pid` and ends the test process (exit 1) if the test is
/// still running after `limit`: a watchdog for a child the test talks to
/// instead of waiting for (`what` names it in the message).
pub fn kill_after(pid: u32, limit: Duration, what: &'static str) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("watchdog: no result after {limit:?}; killing the {what}");
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        std::process::exit(1);
    });
}

/// Runs a command to completion, killing it if it outlives the watchdog.
pub fn run(command: &mut Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain the pipes on threads so a chatty child cannot block on them.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).unwrap();
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buf).unwrap();
        buf
    });
    let deadline = Instant::now() + WATCHDOG;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {WATCHDOG:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// `mmdump`, with no stats directory from the environment and no colour.
pub fn mmdump() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mmdump"));
    command.env_remove("MMSTATS_DIR").env_remove("NO_COLOR");
    command
}

/// Starts `mmstats-demo` in `dir` and waits for it to list its files.
pub fn start_demo(dir: &Path, workers: usize) -> (ChildGuard, Vec<PathBuf>) {
    let child = Command::new(env!("CARGO_BIN_EXE_mmstats-demo"))
        .arg("--dir")
        .arg(dir)
        .args(["--workers", &workers.to_string(), "--seconds", "80"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut paths = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if line == "ready" {
                let _ = tx.send(paths);
                return;
            }
            paths.push(PathBuf::from(line));
        }
    });
    let paths = rx.recv_timeout(WATCHDOG).expect("demo did not start");
    (guard, paths)
}

/// Stops a child with SIGTERM and waits for it (it removes its files).
pub fn terminate(mut child: ChildGuard) {
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.0.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let deadline = Instant::now() + WATCHDOG;
    while child.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "child ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What to write into a hand-made region file.
#[derive(Clone, Copy, Debug, Default)]
pub struct Made {
    /// Writer pid, start time, boot id, generation, creation time.
    pub options: RegionOptions,
    /// Value of the counter `c`.
    pub counter: u64,
    /// Mark the region closed.
    pub closed: bool,
}

/// Builds a region with `made`'s identity and a counter `c`, and puts it
/// at `path` (written under a temporary name, then renamed over it, as a
/// new writer would: a new inode). Nobody holds its lock.
pub fn write_region(path: &Path, made: Made) {
    let words: Vec<Word> = (0..1024).map(|_| Word::new(0)).collect();
    let mut region = Region::create(&words, &made.options).unwrap();
    region.counter("c").unwrap().add(made.counter);
    region.gauge("g").unwrap().set(7);
    if made.closed {
        region.close();
    }
    let bytes: Vec<u8> = words
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
        .collect();
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, bytes).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

/// This process's start time (field 22 of /proc/self/stat).
pub fn own_start_time() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    after.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// The boot id hash the writer records.
pub fn boot_id() -> u64 {
    mmstats::os::boot_id()
}

/// Whether `tool` is on the PATH; if not, the test is skipped (with the
/// reason printed) unless `require_var` is set, which makes it fail.
pub fn tool_or_skip(tool: &str, require_var: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os(require_var).is_none(),
            "{tool} is not installed but {require_var} is set"
        );
        eprintln!("skipped: {tool} is not installed (set {require_var}=1 to make this a failure)");
    }
    found
}
