//! `mmdump --image`: regions found in memory images (any 8-byte-aligned
//! offset, either byte order, among random bytes, from a file, a pipe or a
//! live stats file), reported with their offset and address; truncated and
//! damaged candidates reported as errors; random images yield nothing.
//! Every mmdump run is under a watchdog.

#[path = "../../mmstats-nostd/tests/support/foreign.rs"]
mod foreign;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use core::sync::atomic::Ordering;
use mmstats::{StatsFile, Unit};
use mmstats_nostd::layout::{BYTE_ORDER_MARK, MAGIC};
use mmstats_nostd::{FieldSpec, Region, RegionOptions, Word};
use serde_json::Value;

const WATCHDOG: Duration = Duration::from_secs(60);

/// Runs mmdump with `args`, feeding `stdin`, killing it after the watchdog.
fn mmdump(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mmdump"))
        .args(args)
        .env_remove("MMSTATS_DIR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let deadline = Instant::now() + WATCHDOG;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mmdump {args:?} did not finish within {WATCHDOG:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// A firmware-like region as bytes in this machine's order.
fn region_bytes(tag: u64) -> Vec<u8> {
    let memory: Vec<Word> = (0..512).map(|_| Word::new(0)).collect();
    let mut region = Region::create(
        &memory,
        &RegionOptions {
            table_capacity: 8,
            ..RegionOptions::default()
        },
    )
    .unwrap();
    region.set_prefix("fw.").unwrap();
    region.counter("loops").unwrap().add(tag);
    region.gauge("queue").unwrap().set(-3);
    region
        .float_gauge(FieldSpec::new("temp").unit(Unit::Celsius))
        .unwrap()
        .set(21.5);
    region
        .text(FieldSpec::new("state").capacity(24))
        .unwrap()
        .set("running");
    region.average("reading").unwrap().add(3.0);
    region.flag("healthy").unwrap().set(true);
    memory
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
        .collect()
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        bytes.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_ne_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn field<'a>(file: &'a Value, name: &str) -> &'a Value {
    file["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {file}"))
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

#[test]
fn regions_in_a_ram_image_are_found_with_offset_and_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut image = random_bytes(1, 1 << 20);
    let (first, second) = (0x1_0008, 0x8_0000);
    image[first..first + 4096].copy_from_slice(&region_bytes(7));
    image[second..second + 4096].copy_from_slice(&region_bytes(9));
    let path = write(dir.path(), "ram.bin", &image);

    let output = mmdump(&["--image", &path, "--base", "0x20000000", "--json"], None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document = json(&output);
    assert_eq!(document["schema"], 1);
    assert_eq!(document["errors"].as_array().unwrap().len(), 0);
    let files = document["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["path"], path.as_str());
    assert_eq!(files[0]["format"], "mmstats-2");
    assert_eq!(files[0]["writer"], "unknown");
    assert_eq!(files[0]["offset"], first);
    assert_eq!(files[0]["address"], 0x2000_0000 + first as u64);
    assert_eq!(files[1]["offset"], second);
    assert_eq!(field(&files[0], "fw.loops")["value"], 7);
    assert_eq!(field(&files[1], "fw.loops")["value"], 9);
    assert_eq!(field(&files[0], "fw.queue")["value"], -3);
    assert_eq!(field(&files[0], "fw.temp")["value"], 21.5);
    assert_eq!(field(&files[0], "fw.temp")["unit"], "celsius");
    assert_eq!(field(&files[0], "fw.state")["value"], "running");
    assert_eq!(field(&files[0], "fw.reading")["count"], 1);
    assert_eq!(field(&files[0], "fw.healthy")["value"], true);
    let images = document["images"].as_array().unwrap();
    assert_eq!(images[0]["bytes"], 1 << 20);
    assert_eq!(images[0]["base"], 0x2000_0000);
    assert_eq!(images[0]["regions"], 2);

    let text = mmdump(&["--image", &path, "--base", "0x20000000"], None);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!("==> {path} [offset 0x10008, address 0x20010008]")),
        "{text}"
    );
    assert!(text.contains("fw.state"), "{text}");
    assert!(text.contains("running"), "{text}");
    assert!(text.contains("1 MiB scanned in"), "{text}");
    assert!(text.contains(": 2 regions"), "{text}");

    // Without --base, the offset only.
    let text = mmdump(&["--image", &path], None);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!("==> {path} [offset 0x80000]")),
        "{text}"
    );
}

#[test]
fn a_big_endian_image_reads_the_same_values() {
    let dir = tempfile::tempdir().unwrap();
    let native = region_bytes(0x0102_0304_0506_0708);
    let swapped = foreign::foreign(&native);
    assert_ne!(native, swapped);
    let mut image = random_bytes(2, 64 * 1024);
    image[4096..8192].copy_from_slice(&swapped);
    let swapped_path = write(dir.path(), "swapped.bin", &image);
    let native_path = write(dir.path(), "native.bin", &native);

    let swapped = json(&mmdump(&["--image", &swapped_path, "--json"], None));
    let native = json(&mmdump(&["--image", &native_path, "--json"], None));
    let (swapped, native) = (&swapped["files"][0], &native["files"][0]);
    assert_eq!(swapped["fields"], native["fields"]);
    assert_eq!(
        field(swapped, "fw.loops")["value"],
        0x0102_0304_0506_0708u64
    );
    assert_eq!(swapped["offset"], 4096);
    let (this, other) = if cfg!(target_endian = "little") {
        ("little", "big")
    } else {
        ("big", "little")
    };
    assert_eq!(native["byte_order"], this);
    assert_eq!(swapped["byte_order"], other);
}

#[test]
fn a_region_cut_by_the_end_of_the_image_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let region = region_bytes(1);
    let mut image = random_bytes(3, 8192);
    image.extend_from_slice(&region[..1000]);
    let path = write(dir.path(), "cut.bin", &image);

    let output = mmdump(&["--image", &path, "--base", "0x1000", "--json"], None);
    assert_eq!(output.status.code(), Some(1));
    let document = json(&output);
    assert_eq!(document["files"].as_array().unwrap().len(), 0);
    let errors = document["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["path"], path.as_str());
    assert_eq!(errors[0]["offset"], 8192);
    assert_eq!(errors[0]["address"], 0x1000 + 8192);
    assert!(
        errors[0]["error"].as_str().unwrap().contains("truncated"),
        "{errors:?}"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "{path}: candidate at offset 0x2000, address 0x3000"
        )),
        "{stderr}"
    );

    // Every cut point, as text: never a crash, always exit code 1.
    for cut in [8, 16, 255, 256, 257, 2048, 4095] {
        let mut image = random_bytes(4, 512);
        image.extend_from_slice(&region[..cut]);
        let path = write(dir.path(), "cut-n.bin", &image);
        let output = mmdump(&["--image", &path], None);
        assert_eq!(output.status.code(), Some(1), "cut {cut}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains("offset 0x200"), "cut {cut}: {stderr}");
        assert!(!stderr.contains("panicked"), "cut {cut}: {stderr}");
    }
}

#[test]
fn random_images_hold_no_false_regions() {
    let dir = tempfile::tempdir().unwrap();
    // Pure random bytes.
    let path = write(dir.path(), "random.bin", &random_bytes(5, 16 << 20));
    let output = mmdump(&["--image", &path, "--json"], None);
    assert_eq!(output.status.code(), Some(1), "no region is exit code 1");
    let document = json(&output);
    assert_eq!(document["files"].as_array().unwrap().len(), 0);
    assert_eq!(document["images"][0]["damaged"], 0);
    assert_eq!(document["images"][0]["ignored_magic"], 0);
    let errors = document["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("no format-2 region")
    );

    // Random bytes with the magic planted, alone or with a valid mark,
    // followed by garbage: candidates at most, never regions.
    let mut image = random_bytes(6, 4 << 20);
    let mut expected_damaged = 0;
    for (index, at) in (0..image.len() - 16).step_by(8 * 4099).enumerate() {
        image[at..at + 8].copy_from_slice(&MAGIC);
        if index % 2 == 0 {
            image[at + 8..at + 12].copy_from_slice(&BYTE_ORDER_MARK.to_ne_bytes());
            expected_damaged += 1;
        }
    }
    let path = write(dir.path(), "planted.bin", &image);
    let document = json(&mmdump(&["--image", &path, "--json"], None));
    assert_eq!(document["files"].as_array().unwrap().len(), 0);
    assert_eq!(document["images"][0]["damaged"], expected_damaged);
    assert!(document["images"][0]["ignored_magic"].as_u64().unwrap() > 50);
}

#[test]
fn standard_input_and_live_stats_files_are_images_too() {
    let mut image = random_bytes(7, 32 * 1024);
    image[8192..12288].copy_from_slice(&region_bytes(42));
    let output = mmdump(&["--image", "-", "--json"], Some(&image));
    assert!(output.status.success());
    let document = json(&output);
    assert_eq!(document["files"][0]["path"], "-");
    assert_eq!(document["files"][0]["offset"], 8192);
    assert_eq!(field(&document["files"][0], "fw.loops")["value"], 42);

    let dir = tempfile::tempdir().unwrap();
    let stats = StatsFile::builder("live").dir(dir.path()).create().unwrap();
    stats.counter("hits").unwrap().add(5);
    let path = stats.path().display().to_string();
    let document = json(&mmdump(&["--image", &path, "--json"], None));
    assert_eq!(document["files"][0]["offset"], 0);
    assert_eq!(field(&document["files"][0], "hits")["value"], 5);
    assert_eq!(
        field(&document["files"][0], "sys.pid")["value"],
        std::process::id()
    );
}

#[test]
fn usage_errors_and_unreadable_images() {
    // --base needs --image; --image excludes paths; bad addresses.
    assert_eq!(mmdump(&["--base", "0x10"], None).status.code(), Some(2));
    assert_eq!(
        mmdump(&["--image", "a.bin", "some/path"], None)
            .status
            .code(),
        Some(2)
    );
    let bad = mmdump(&["--image", "a.bin", "--base", "0xZZ"], None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("0xZZ"));

    let missing = mmdump(&["--image", "/nonexistent/ram.bin"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/ram.bin"));

    let dir = tempfile::tempdir().unwrap();
    let directory = mmdump(&["--image", &dir.path().display().to_string()], None);
    assert_eq!(directory.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&directory.stderr).contains("not a file or a pipe"));

    // An empty file and a 3-byte file: no region, no crash.
    for len in [0, 3] {
        let path = write(dir.path(), "tiny.bin", &vec![0x89; len]);
        let output = mmdump(&["--image", &path], None);
        assert_eq!(output.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&output.stderr).contains("no format-2 region"));
    }

    // One bad image does not hide a good one.
    let good = write(dir.path(), "good.bin", &region_bytes(3));
    let output = mmdump(
        &["--image", "/nonexistent/x", "--image", &good, "--json"],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let document = json(&output);
    assert_eq!(document["files"].as_array().unwrap().len(), 1);
    assert_eq!(document["errors"][0]["path"], "/nonexistent/x");
}
