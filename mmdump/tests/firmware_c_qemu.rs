//! End to end on an emulated Cortex-M3, for firmware written in C: build
//! `examples/firmware-c` (its Makefile: `libmmstats.a` for
//! `thumbv7m-none-eabi` without std, then `arm-none-eabi-gcc`), boot it in
//! `qemu-system-arm` (board `lm3s6965evb`), wait for its main loop to
//! finish, halt the CPU and save its RAM through QMP, and read the stats
//! out of the RAM image with `mmdump --image --base 0x20000000`: every
//! value the loop wrote, exactly, and the SysTick counter (written by the
//! interrupt handler through an inline cell) moving between two dumps.
//!
//! Skips, with the reason printed, when `qemu-system-arm`,
//! `arm-none-eabi-gcc`, `make` or the `thumbv7m-none-eabi` target is
//! missing, unless `MMSTATS_REQUIRE_QEMU=1` (CI's
//! `.ci/steps/83-firmware-c.sh` sets it), in which case that is a failure.
//! `MMSTATS_FIRMWARE_C_ELF` names a prebuilt firmware to boot instead of
//! building it; `MMSTATS_QEMU` another QEMU binary. Everything runs under
//! a watchdog; QEMU is killed whatever happens.

mod qemu_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use qemu_common::{
    BUILD_WATCHDOG, Board, RAM_BASE, RAM_LEN, RUN_WATCHDOG, counter, mmdump_image, qemu_present,
    run, skip, the_one_region, value,
};
use serde_json::{Value, json};

/// Iterations of the firmware's main loop (`LOOPS` in main.c).
const LOOPS: u64 = 100_000;

/// Whether `tool --version` runs.
fn runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The firmware ELF: prebuilt, or built now. `Err` is a reason to skip.
fn firmware(build: &Path) -> Result<PathBuf, String> {
    if let Some(elf) = std::env::var_os("MMSTATS_FIRMWARE_C_ELF") {
        let elf = PathBuf::from(elf);
        assert!(
            elf.is_file(),
            "MMSTATS_FIRMWARE_C_ELF={} is not a file",
            elf.display()
        );
        return Ok(elf);
    }
    for (tool, package) in [("arm-none-eabi-gcc", "gcc-arm-none-eabi"), ("make", "make")] {
        if !runs(tool) {
            return Err(format!(
                "{tool} is not installed (apt-get install {package})"
            ));
        }
    }
    // The library is built in a target directory of its own beside the
    // workspace's (target/<profile>/deps/<test> -> target/firmware-c),
    // which the cargo running this test does not lock.
    let exe = std::env::current_exe().unwrap();
    let target_dir = exe
        .ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<test>")
        .join("firmware-c");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/firmware-c");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = run(
        Command::new("make")
            .arg("-C")
            .arg(&example)
            .arg(format!("BUILD={}", build.display()))
            .env("CARGO", cargo)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("MAKEFLAGS"),
        BUILD_WATCHDOG,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stderr.contains("target may not be installed")
            || stderr.contains("can't find crate for `core`")
        {
            return Err("the thumbv7m-none-eabi target is not installed \
                        (rustup target add thumbv7m-none-eabi)"
                .into());
        }
        panic!(
            "building the C firmware failed:\n{}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    Ok(build.join("firmware-c.elf"))
}

/// The field `name` with exactly `labels`.
fn field<'a>(region: &'a Value, name: &str, labels: &Value) -> &'a Value {
    region["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name && (f.get("labels").unwrap_or(&json!({})) == labels))
        .unwrap_or_else(|| panic!("{name} {labels} missing from {region}"))
}

#[test]
fn c_firmware_stats_are_read_from_a_qemu_ram_dump() {
    if let Err(reason) = qemu_present() {
        return skip(&reason);
    }
    let dir = tempfile::tempdir().unwrap();
    let elf = match firmware(dir.path()) {
        Ok(elf) => elf,
        Err(reason) => return skip(&reason),
    };

    let deadline = Instant::now() + RUN_WATCHDOG;
    let mut board = Board::boot(&elf, dir.path(), deadline);

    // Dump until the main loop is done (fw.state "done"); then once more,
    // later, to see the SysTick counter move.
    let first_file = dir.path().join("ram-1.bin");
    let first = loop {
        assert!(Instant::now() < deadline, "the firmware never finished");
        std::thread::sleep(Duration::from_millis(200));
        board.qmp.dump_ram(&first_file);
        let (output, document) = mmdump_image(&first_file);
        let Some(region) = document["files"].get(0) else {
            continue;
        };
        assert_ne!(value(region, "fw.state"), "error", "a call failed");
        if value(region, "fw.state") == "done" {
            assert!(output.status.success(), "{output:?}");
            break region.clone();
        }
    };
    std::thread::sleep(Duration::from_millis(300));
    let second_file = dir.path().join("ram-2.bin");
    board.qmp.dump_ram(&second_file);
    board.quit();

    let region = &the_one_region(&second_file);

    // Where: in the SRAM, at the buffer's 128-byte alignment.
    let offset = region["offset"].as_u64().unwrap();
    assert_eq!(region["address"].as_u64().unwrap(), RAM_BASE + offset);
    assert!(
        offset < RAM_LEN && offset.is_multiple_of(128),
        "offset {offset:#x}"
    );
    assert_eq!(region["byte_order"], "little");
    assert_eq!(region["writer"], "unknown");
    assert_eq!(region["pid"], Value::Null, "firmware has no pid");

    // What: every value the loop of main.c wrote.
    let none = json!({});
    assert_eq!(value(region, "fw.state"), "done");
    assert_eq!(value(region, "fw.build"), "firmware-c 0.1.0");
    assert_eq!(counter(region, "fw.loops"), LOOPS);
    let rx = field(region, "fw.packets", &json!({"dir": "rx", "port": "0"}));
    assert_eq!(rx["value"], (0..LOOPS).map(|i| i % 3).sum::<u64>());
    assert_eq!(rx["unit"], "events");
    let tx = field(region, "fw.packets", &json!({"dir": "tx", "port": "0"}));
    assert_eq!(tx["value"], LOOPS.div_ceil(4));
    let last = LOOPS - 1;
    let depth = i64::try_from(last % 16).unwrap() - 8;
    assert_eq!(field(region, "fw.queue.depth", &none)["value"], depth);
    let temperature = field(region, "fw.temperature", &none);
    #[allow(clippy::cast_precision_loss)] // last % 100 < 100
    let degrees = 20.0 + (last % 100) as f64 / 10.0;
    assert_eq!(temperature["value"].as_f64().unwrap(), degrees);
    assert_eq!(temperature["unit"], "celsius");
    let supply = field(region, "fw.supply", &none);
    assert_eq!(
        supply["value"].as_f64().unwrap(),
        0.5 * (LOOPS / 1000) as f64
    );
    assert_eq!(supply["unit"], "volts");
    let latency = field(region, "fw.isr.latency", &json!({"core": "0"}));
    assert_eq!(latency["kind"], "histogram");
    assert_eq!(latency["unit"], "microseconds");
    assert_eq!(latency["count"], LOOPS);
    assert_eq!(
        latency["sum"],
        (0..LOOPS).map(|i| 100 + i % 1000).sum::<u64>()
    );
    assert_eq!(latency["min"], 100);
    assert_eq!(latency["max"], 1099);

    // The interrupt handler's counter keeps moving after the loop.
    let (before, after) = (counter(&first, "fw.ticks"), counter(region, "fw.ticks"));
    assert!(before > 0, "fw.ticks never moved");
    assert!(
        after > before,
        "fw.ticks did not move: {before} then {after}"
    );
    eprintln!(
        "QEMU C firmware: region at {:#x}; fw.ticks {before} -> {after}",
        RAM_BASE + offset
    );
}
