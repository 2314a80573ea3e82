//! End to end on an emulated Cortex-M3, the way a firmware author works:
//! build `examples/firmware-cortex-m`, boot it in `qemu-system-arm`
//! (board `lm3s6965evb`), let it run, halt the CPU and save its 64 KiB of
//! RAM through QEMU's machine protocol (QMP `stop` + `pmemsave`, what a
//! debugger's "halt, dump memory" does), then read the stats out of the RAM
//! image with `mmdump --image --base 0x20000000`. Two dumps, so counters
//! must have moved between them.
//!
//! Skips, with the reason printed, when `qemu-system-arm` or the
//! `thumbv7m-none-eabi` target is missing, unless `MMSTATS_REQUIRE_QEMU=1`
//! (CI's `.ci/steps/80-embedded.sh` sets it), in which case that is a
//! failure. `MMSTATS_FIRMWARE_ELF` names a prebuilt firmware to boot
//! instead of building it; `MMSTATS_QEMU` another QEMU binary.
//! Everything runs under a watchdog; QEMU is killed whatever happens.

mod qemu_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use qemu_common::{
    BUILD_WATCHDOG, Board, RAM_BASE, RAM_LEN, RUN_WATCHDOG, counter, mmdump_image, qemu_present,
    run, skip, the_one_region, value,
};
use serde_json::Value;

/// The firmware ELF: prebuilt, or built now. `Err` is a reason to skip.
fn firmware() -> Result<PathBuf, String> {
    if let Some(elf) = std::env::var_os("MMSTATS_FIRMWARE_ELF") {
        let elf = PathBuf::from(elf);
        assert!(
            elf.is_file(),
            "MMSTATS_FIRMWARE_ELF={} is not a file",
            elf.display()
        );
        return Ok(elf);
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/firmware-cortex-m");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // From the example's directory, so that its .cargo/config.toml picks
    // the target; host-only settings of the outer build stay out.
    let output = run(
        Command::new(cargo)
            .current_dir(&example)
            .args(["build", "--release", "--bin", "firmware-cortex-m"])
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET"),
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
        panic!("building the firmware failed:\n{stderr}");
    }
    Ok(example.join("target/thumbv7m-none-eabi/release/firmware-cortex-m"))
}

#[test]
fn firmware_stats_are_read_from_a_qemu_ram_dump() {
    if let Err(reason) = qemu_present() {
        return skip(&reason);
    }
    let elf = match firmware() {
        Ok(elf) => elf,
        Err(reason) => return skip(&reason),
    };

    let dir = tempfile::tempdir().unwrap();
    let deadline = Instant::now() + RUN_WATCHDOG;
    let mut board = Board::boot(&elf, dir.path(), deadline);
    let qmp = &mut board.qmp;

    // Dump until the firmware is up and its SysTick has fired a while;
    // then once more, later, to see the counters move.
    let first_file = dir.path().join("ram-1.bin");
    let first = loop {
        assert!(Instant::now() < deadline, "firmware never came up");
        std::thread::sleep(Duration::from_millis(200));
        qmp.dump_ram(&first_file);
        let (output, document) = mmdump_image(&first_file);
        let Some(region) = document["files"].get(0) else {
            continue;
        };
        if value(region, "fw.state") == "running" && counter(region, "fw.ticks") >= 50 {
            assert!(output.status.success(), "{output:?}");
            break region.clone();
        }
    };
    std::thread::sleep(Duration::from_millis(500));
    let second_file = dir.path().join("ram-2.bin");
    qmp.dump_ram(&second_file);
    board.quit();

    let second = &the_one_region(&second_file);

    // Where: inside the SRAM, at the buffer's 128-byte alignment, the
    // address being the base plus the offset.
    let offset = second["offset"].as_u64().unwrap();
    let address = second["address"].as_u64().unwrap();
    assert_eq!(address, RAM_BASE + offset);
    assert!(
        offset < RAM_LEN && offset.is_multiple_of(128),
        "offset {offset:#x}"
    );
    assert_eq!(first["address"], second["address"]);
    assert_eq!(second["byte_order"], "little");
    assert_eq!(second["writer"], "unknown");
    assert_eq!(second["pid"], Value::Null, "firmware has no pid");

    // What: the strings, and counters that moved between the dumps
    // (fw.ticks is written by the SysTick interrupt handler).
    assert_eq!(value(second, "fw.build"), "firmware-cortex-m 0.1.0");
    assert_eq!(value(second, "fw.state"), "running");
    assert_eq!(value(second, "fw.healthy"), true);
    for name in ["fw.loops", "fw.ticks", "fw.sensor.samples"] {
        let (before, after) = (counter(&first, name), counter(second, name));
        assert!(before > 0, "{name} never moved: {before}");
        assert!(after > before, "{name} did not move: {before} then {after}");
    }
    let samples = counter(second, "fw.sensor.samples");
    let temp = value(second, "fw.temp").as_f64().unwrap();
    assert!((20.0..30.0).contains(&temp), "fw.temp {temp}");
    let depth = value(second, "fw.queue.depth").as_i64().unwrap();
    assert!((0..16).contains(&depth), "fw.queue.depth {depth}");
    let reading = second["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "fw.sensor.reading")
        .unwrap();
    let mean = reading["value"].as_f64().unwrap();
    assert!((3.0..3.3).contains(&mean), "fw.sensor.reading {mean}");
    // The CPU may halt between the two updates of one sample.
    let count = reading["count"].as_u64().unwrap();
    assert!(
        count == samples || count + 1 == samples,
        "{count} vs {samples}"
    );
    assert_eq!(reading["unit"], "volts");

    // The text form says where the region is.
    let text = run(
        Command::new(env!("CARGO_BIN_EXE_mmdump"))
            .arg("--image")
            .arg(&second_file)
            .args(["--base", "0x20000000"]),
        RUN_WATCHDOG,
    );
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!("[offset {offset:#x}, address {address:#x}]")),
        "{text}"
    );
    assert!(text.contains("fw.ticks"), "{text}");
    eprintln!(
        "QEMU firmware: region at {address:#x}; fw.loops {} -> {}, fw.ticks {} -> {}",
        counter(&first, "fw.loops"),
        counter(second, "fw.loops"),
        counter(&first, "fw.ticks"),
        counter(second, "fw.ticks"),
    );
}
