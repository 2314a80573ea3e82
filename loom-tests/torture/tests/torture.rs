//! A short run of the `mmstats-torture` binary (the long runs are in
//! `docs/VERIFICATION.md`): a writer process, reader processes verifying
//! every value, a SIGKILL of the writer in mid-stream, under a watchdog.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WATCHDOG: Duration = Duration::from_secs(90);

#[test]
fn short_torture_run_finds_no_torn_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mmstats-torture"))
        .args(["run", "--seconds", "1", "--cycles", "2", "--readers", "2"])
        .arg("--dir")
        .arg(dir.path())
        .args(["--watchdog", "80"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WATCHDOG;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mmstats-torture did not finish within {WATCHDOG:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("torn 0;"), "{stdout}");
    assert_eq!(
        stdout.matches("every value consistent and stable").count(),
        2
    );
    assert_eq!(stdout.matches("writer seen dead").count(), 2);
    assert!(stdout.trim_end().ends_with("PASS"), "{stdout}");
    let total = stdout
        .lines()
        .find_map(|line| line.strip_prefix("total: "))
        .expect("a total line");
    let reads: u64 = total
        .split_whitespace()
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(reads > 0, "{stdout}");
    // The killed writers' files were cleaned up.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
