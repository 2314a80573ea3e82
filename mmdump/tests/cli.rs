//! The `mmdump` binary against a live writer in another process (the
//! `mmstats-demo` binary), under a watchdog: every child is killed if the
//! test takes too long or fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const WATCHDOG: Duration = Duration::from_secs(60);

/// Kills the child when dropped (test failure included).
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a command to completion, killing it if it outlives the watchdog.
fn run(command: &mut Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WATCHDOG;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} did not finish within {WATCHDOG:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn mmdump() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mmdump"));
    command.env_remove("MMSTATS_DIR");
    command
}

/// Starts `mmstats-demo` in `dir` and waits for it to list its files.
fn start_demo(dir: &Path) -> (ChildGuard, Vec<PathBuf>) {
    let child = Command::new(env!("CARGO_BIN_EXE_mmstats-demo"))
        .arg("--dir")
        .arg(dir)
        .args(["--workers", "2", "--seconds", "60"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut paths = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
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

fn requests(document: &Value, file: &Path) -> u64 {
    let file = document["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == file.display().to_string())
        .unwrap_or_else(|| panic!("{} not in {document}", file.display()));
    file["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "web.requests")
        .unwrap()["value"]
        .as_u64()
        .unwrap()
}

#[test]
fn mmdump_reads_live_changing_values_from_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let (mut demo, paths) = start_demo(dir.path());
    assert_eq!(paths.len(), 3, "main file and two workers");

    let first = run(mmdump().arg("--json").arg(dir.path()));
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let first: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(first["schema"], 1);
    assert_eq!(first["files"].as_array().unwrap().len(), 3);
    assert_eq!(first["errors"].as_array().unwrap().len(), 0);
    for file in first["files"].as_array().unwrap() {
        assert_eq!(file["format"], "mmstats-2");
        assert_eq!(file["pid"], demo.0.id());
        assert_eq!(file["writer"], "alive");
    }

    std::thread::sleep(Duration::from_millis(300));
    let second = run(mmdump().arg("--json").arg(dir.path()));
    let second: Value = serde_json::from_slice(&second.stdout).unwrap();
    let (before, after) = (requests(&first, &paths[0]), requests(&second, &paths[0]));
    assert!(after > before, "requests must grow: {before} then {after}");

    // The text form shows the same files with a header each.
    let text = run(mmdump().arg(dir.path()));
    let text = String::from_utf8(text.stdout).unwrap();
    assert_eq!(text.matches("==> ").count(), 3);
    assert!(text.contains("web.requests"));
    assert!(text.contains("worker.status.2XX"));

    // `list` says the writer is alive, then dead once it is killed hard.
    let list = run(mmdump().arg("list").arg(dir.path()));
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.starts_with("PATH"), "{list}");
    assert_eq!(list.matches("alive").count(), 3, "{list}");
    demo.0.kill().unwrap();
    demo.0.wait().unwrap();
    let after_kill = run(mmdump().args(["list", "--json"]).arg(dir.path()));
    let after_kill: Value = serde_json::from_slice(&after_kill.stdout).unwrap();
    for file in after_kill["files"].as_array().unwrap() {
        assert_eq!(file["writer"], "dead", "{file}");
        assert_eq!(file["alive"], false);
    }
}

#[test]
fn demo_stopped_by_sigterm_removes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let (demo, paths) = start_demo(dir.path());
    assert!(paths.iter().all(|p| p.exists()));
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(demo.0.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let deadline = Instant::now() + WATCHDOG;
    while paths.iter().any(|p| p.exists()) {
        assert!(Instant::now() < deadline, "files not removed after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn exit_codes_help_and_version() {
    let help = run(mmdump().arg("--help"));
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    for word in ["list", "demo", "--json", "MMSTATS_DIR"] {
        assert!(help.contains(word), "--help lacks {word}");
    }
    let version = run(mmdump().arg("--version"));
    assert!(
        String::from_utf8(version.stdout)
            .unwrap()
            .contains(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(run(mmdump().arg("--no-such-flag")).status.code(), Some(2));
    let missing = run(mmdump().arg("/nonexistent/file.mmstats"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/file.mmstats"));
}

#[test]
fn an_empty_directory_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(mmdump().env("MMSTATS_DIR", dir.path()));
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no stats files"));
    let json = run(mmdump().env("MMSTATS_DIR", dir.path()).arg("--json"));
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["files"].as_array().unwrap().len(), 0);
}

#[test]
fn a_closed_pipe_is_not_a_crash() {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../mmstats-std/tests/fixtures/legacy-v1");
    let mut child = mmdump()
        .arg(&fixtures)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}

#[test]
fn wildcards_select_files() {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../mmstats-std/tests/fixtures/legacy-v1");
    let output = run(mmdump().arg("--json").arg(fixtures.join("w*.mmstats")));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert!(files[0]["path"].as_str().unwrap().ends_with("web.mmstats"));
    let none = run(mmdump().arg(fixtures.join("zz*.mmstats")));
    assert_eq!(none.status.code(), Some(1));
}
