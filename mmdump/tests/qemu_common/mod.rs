//! What the QEMU firmware tests share (`firmware_qemu.rs`, the Rust
//! example; `firmware_c_qemu.rs`, the C one): the board, running commands
//! under a watchdog, skipping (or failing when `MMSTATS_REQUIRE_QEMU=1`),
//! QEMU's machine protocol (QMP) to halt the CPU and save its RAM, and
//! `mmdump --image` on the saved RAM.

#![allow(dead_code)] // Each test file uses its own part.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Start of the LM3S6965's SRAM, and its size.
pub const RAM_BASE: u64 = 0x2000_0000;
pub const RAM_LEN: u64 = 64 * 1024;
/// Budget for building a firmware (a first build compiles the Rust
/// dependencies for the target).
pub const BUILD_WATCHDOG: Duration = Duration::from_secs(900);
/// Budget for the emulation and the dumps.
pub const RUN_WATCHDOG: Duration = Duration::from_secs(120);

/// Kills the child when dropped (test failure included).
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a command to completion, killing it after `limit`.
pub fn run(command: &mut Command, limit: Duration) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let mut guard = ChildGuard(child);
    // Drain the pipes on threads so a chatty child cannot block on them.
    let mut stdout = guard.0.stdout.take().unwrap();
    let mut stderr = guard.0.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut bytes);
        bytes
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{command:?} did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Skips the test with `reason`, or fails it when QEMU is required.
pub fn skip(reason: &str) {
    if std::env::var_os("MMSTATS_REQUIRE_QEMU").is_some_and(|v| v == "1") {
        panic!("MMSTATS_REQUIRE_QEMU=1 but {reason}");
    }
    eprintln!(
        "skipping the QEMU firmware test: {reason} (set MMSTATS_REQUIRE_QEMU=1 to fail instead)"
    );
}

pub fn qemu_binary() -> String {
    std::env::var("MMSTATS_QEMU").unwrap_or_else(|_| "qemu-system-arm".into())
}

/// Whether `qemu-system-arm` (or `MMSTATS_QEMU`) runs; `Err` is a reason
/// to skip.
pub fn qemu_present() -> Result<(), String> {
    let qemu = qemu_binary();
    match Command::new(&qemu).arg("--version").output() {
        Ok(output) if output.status.success() => Ok(()),
        _ => Err(format!(
            "{qemu} is not installed (apt-get install qemu-system-arm)"
        )),
    }
}

/// A firmware running on QEMU's `lm3s6965evb` (Cortex-M3), with its QMP
/// connection; QEMU is killed when this is dropped.
pub struct Board {
    pub qemu: ChildGuard,
    pub qmp: Qmp,
}

impl Board {
    /// Boots `elf`, with the QMP socket in `dir`, and connects by
    /// `deadline`.
    pub fn boot(elf: &Path, dir: &Path, deadline: Instant) -> Self {
        let socket = dir.join("qmp.sock");
        let qemu = Command::new(qemu_binary())
            .args(["-machine", "lm3s6965evb", "-cpu", "cortex-m3"])
            .args(["-display", "none", "-serial", "null", "-monitor", "none"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", socket.display()))
            .arg("-kernel")
            .arg(elf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let qemu = ChildGuard(qemu);
        let qmp = Qmp::connect(&socket, deadline);
        Self { qemu, qmp }
    }

    /// Quits QEMU and waits for it.
    pub fn quit(mut self) {
        self.qmp.execute("quit", json!({}));
        let _ = self.qemu.0.wait();
    }
}

/// A QMP connection: one JSON object per line each way.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    pub fn connect(socket: &Path, deadline: Instant) -> Self {
        let stream = loop {
            match UnixStream::connect(socket) {
                Ok(stream) => break stream,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "QMP socket never came up: {error}"
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_secs(1))))
            .unwrap();
        let mut qmp = Self {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        let greeting = qmp.next_message();
        assert!(
            greeting.get("QMP").is_some(),
            "not a QMP greeting: {greeting}"
        );
        qmp.execute("qmp_capabilities", json!({}));
        qmp
    }

    fn next_message(&mut self) -> Value {
        let mut line = String::new();
        let read = self.reader.read_line(&mut line).expect("reading QMP");
        assert!(read > 0, "QEMU closed the QMP connection");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad QMP line {line:?}: {e}"))
    }

    /// Runs a command and returns its `return` value (events are skipped).
    pub fn execute(&mut self, command: &str, arguments: Value) -> Value {
        let request = json!({"execute": command, "arguments": arguments});
        writeln!(self.writer, "{request}").unwrap();
        loop {
            let message = self.next_message();
            if let Some(error) = message.get("error") {
                panic!("QMP {command} failed: {error}");
            }
            if let Some(value) = message.get("return") {
                return value.clone();
            }
        }
    }

    /// Halts the CPU, saves the RAM to `file`, lets the CPU run again.
    pub fn dump_ram(&mut self, file: &Path) {
        self.execute("stop", json!({}));
        self.execute(
            "pmemsave",
            json!({"val": RAM_BASE, "size": RAM_LEN, "filename": file.display().to_string()}),
        );
        self.execute("cont", json!({}));
    }
}

/// `mmdump --image FILE --base 0x20000000 --json`, parsed.
pub fn mmdump_image(file: &Path) -> (Output, Value) {
    let output = run(
        Command::new(env!("CARGO_BIN_EXE_mmdump"))
            .arg("--image")
            .arg(file)
            .args(["--base", "0x20000000", "--json"]),
        RUN_WATCHDOG,
    );
    let document = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "mmdump printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, document)
}

/// [`mmdump_image`] of a RAM dump that must hold exactly one region and
/// no errors: that region's document.
pub fn the_one_region(file: &Path) -> Value {
    let (output, document) = mmdump_image(file);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(document["schema"], 1);
    assert_eq!(
        document["errors"].as_array().unwrap().len(),
        0,
        "{document}"
    );
    let files = document["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "one region in RAM: {document}");
    files[0].clone()
}

pub fn value<'a>(region: &'a Value, name: &str) -> &'a Value {
    region["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .map(|f| &f["value"])
        .unwrap_or_else(|| panic!("{name} missing from {region}"))
}

pub fn counter(region: &Value, name: &str) -> u64 {
    value(region, name)
        .as_u64()
        .unwrap_or_else(|| panic!("{name} is not a counter"))
}
