//! Hostile format-2.1 files: truncations and corruptions of a file with
//! every new kind and retired and live dynamic slots never panic the
//! reader, `tail`'s follower or `mmdump`, and errors name the file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mmdump::tail::{Follower, TailOptions};
use mmstats::{FieldSpec, StatsFile, read_file};

/// A kept, closed file with one field of every 2.1 kind, a retired dynamic
/// slot and a live one, as bytes.
fn sample(dir: &Path) -> (PathBuf, Vec<u8>) {
    let file = StatsFile::builder("sample21")
        .dir(dir)
        .keep(true)
        .size(32 * 1024)
        .table_capacity(16)
        .reuse_delay(Duration::ZERO)
        .create()
        .unwrap();
    let histogram = file
        .histogram(FieldSpec::new("h").precision(2).highest(1 << 20))
        .unwrap();
    for v in [1, 100, 10_000] {
        histogram.record(v);
    }
    file.moving_average(FieldSpec::new("m").capacity(3))
        .unwrap()
        .add(1.0);
    file.window_average(FieldSpec::new("w").slots(2))
        .unwrap()
        .record(2.0);
    let ring = file
        .event_ring(FieldSpec::new("r").capacity(4).payload_words(2))
        .unwrap();
    ring.event(1, &[1, 2]);
    ring.text(2, "texte");
    drop(ring.span(3, "span"));
    drop(file.dynamic_group("gone.").counter("c").unwrap());
    let live = file.dynamic_group("live.").gauge("g").unwrap();
    live.set(4);
    // Copied while `live.g` is live (dropping its handle retires it); no
    // writer is writing meanwhile, so the copy is a consistent image.
    let bytes = std::fs::read(file.path()).unwrap();
    drop((histogram, live, file));
    let path = dir.join("sample-copy.mmstats");
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

fn follow_once(path: &Path) {
    let mut follower = Follower::new(TailOptions {
        paths: vec![path.to_owned()],
        ..TailOptions::default()
    });
    follower.poll(&mut |_| {});
}

#[test]
fn the_sample_reads_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = sample(dir.path());
    let read = read_file(&path).unwrap();
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    let names: Vec<&str> = read.fields.iter().map(|f| f.name.as_str()).collect();
    for name in ["h", "m", "w", "r", "live.g"] {
        assert!(names.contains(&name), "{names:?}");
    }
    assert!(!names.contains(&"gone.c"));
    let mut records = 0;
    Follower::new(TailOptions {
        paths: vec![path],
        ..TailOptions::default()
    })
    .poll(&mut |event| {
        if matches!(event, mmdump::tail::TailEvent::Record(_)) {
            records += 1;
        }
    });
    assert_eq!(records, 4);
}

#[test]
fn every_truncation_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = sample(dir.path());
    let victim = dir.path().join("victim.mmstats");
    let lengths = (0..8192)
        .step_by(8)
        .chain((8192..bytes.len()).step_by(1024));
    for len in lengths {
        std::fs::write(&victim, &bytes[..len]).unwrap();
        let error = read_file(&victim).expect_err("a truncated file must not read");
        assert_eq!(error.path, victim);
        follow_once(&victim);
    }
}

#[test]
fn random_corruption_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = sample(dir.path());
    let victim = dir.path().join("victim.mmstats");
    let mut state = 0x2121_5eed_0bad_f00du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Words of the prologue, the table (16 entries) and the first values.
    let hot = 256 + 16 * 256 + 2048;
    for round in 0..1500 {
        let mut copy = bytes.clone();
        if round % 2 == 0 {
            for _ in 0..1 + next() % 4 {
                let at = (next() % hot as u64) as usize;
                copy[at] ^= 1 << (next() % 8);
            }
        } else {
            let word = (16 + next() % (hot as u64 / 8 - 16)) as usize;
            let value = match next() % 4 {
                0 => u64::MAX,
                1 => next() >> (next() % 64),
                2 => 1 << (next() % 64),
                _ => next(),
            };
            copy[word * 8..word * 8 + 8].copy_from_slice(&value.to_ne_bytes());
        }
        std::fs::write(&victim, &copy).unwrap();
        let _ = read_file(&victim);
        follow_once(&victim);
    }
}

#[test]
fn mmdump_tail_reports_a_bad_file_and_follows_the_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = sample(dir.path());
    let watched = dir.path().join("watched");
    std::fs::create_dir(&watched).unwrap();
    let good = watched.join("good.mmstats");
    std::fs::write(&good, &bytes).unwrap();
    let bad = watched.join("bad.mmstats");
    std::fs::write(&bad, &bytes[..300]).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mmdump"))
        .args(["tail", "--once", "--json"])
        .arg(&watched)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let records = lines.iter().filter(|l| l["type"] == "record").count();
    assert_eq!(records, 4, "{stdout}");
    assert!(
        lines
            .iter()
            .filter(|l| l["type"] == "record")
            .all(|l| l["path"] == good.display().to_string())
    );
    let error = lines.iter().find(|l| l["type"] == "error").unwrap();
    assert_eq!(error["path"], bad.display().to_string());
    assert!(
        error["error"].as_str().unwrap().contains("truncated"),
        "{error}"
    );
}
