//! Hostile files: every truncation of a valid file, random corruption, a
//! file truncated or removed while a reader has it mapped, FIFOs, symbolic
//! links, foreign files. The reader returns errors naming the file, never
//! panics, hangs or crashes, and mmdump still prints the good files.

use std::path::{Path, PathBuf};
use std::process::Command;

use mmstats::{FieldSpec, FieldValue, ReadFailure, RegionReader, StatsFile, read_file};

/// A kept, closed stats file with one field of every kind, as bytes.
fn sample(dir: &Path) -> (PathBuf, Vec<u8>) {
    let file = StatsFile::builder("sample")
        .dir(dir)
        .keep(true)
        .size(16 * 1024)
        .create()
        .unwrap();
    file.counter("c").unwrap().add(1);
    file.gauge("g").unwrap().set(-1);
    file.text(FieldSpec::new("t").capacity(24))
        .unwrap()
        .set("text");
    file.average("a").unwrap().add(1.5);
    let path = file.path();
    drop(file);
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

#[test]
fn every_truncation_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = sample(dir.path());
    let victim = dir.path().join("victim.mmstats");
    // Every length up to the end of the field table and values, then
    // page-sized steps (the tail of the region is zeros).
    let lengths = (0..4096).chain((4096..bytes.len()).step_by(512));
    for len in lengths {
        std::fs::write(&victim, &bytes[..len]).unwrap();
        let error = read_file(&victim).expect_err("a truncated file must not read");
        assert_eq!(error.path, victim);
        assert!(error.to_string().starts_with(&victim.display().to_string()));
    }
}

#[test]
fn random_corruption_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = sample(dir.path());
    let victim = dir.path().join("victim.mmstats");
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut copy = bytes.clone();
        for _ in 0..1 + next() % 4 {
            // Mostly in the prologue, table and values (first 4 KiB).
            let at = (next() % 4096) as usize;
            copy[at] ^= 1 << (next() % 8);
        }
        std::fs::write(&victim, &copy).unwrap();
        let _ = read_file(&victim);
    }
}

#[test]
fn a_file_truncated_while_mapped_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("shrink")
        .dir(dir.path())
        .keep(true)
        .create()
        .unwrap();
    file.counter("c").unwrap().add(7);
    let path = file.path();
    // The writer goes first: a writer whose own file is truncated under it
    // would fault on its next store (only its owner can do that: mode 0600).
    drop(file);
    let mut reader = RegionReader::open(&path).unwrap();
    let before = reader.read().unwrap();
    assert_eq!(
        before.fields.iter().find(|f| f.name == "c").unwrap().value,
        FieldValue::Counter(7)
    );
    // Someone truncates the file: every page of the mapping is now past
    // the end, and touching it raises SIGBUS.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let error = reader.read().expect_err("the mapping is gone");
    assert!(
        matches!(error.reason, ReadFailure::TruncatedWhileReading),
        "{error}"
    );
    assert_eq!(error.path, path);
}

#[test]
fn a_file_removed_while_mapped_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("gone").dir(dir.path()).create().unwrap();
    let counter = file.counter("c").unwrap();
    let mut reader = RegionReader::open(file.path()).unwrap();
    std::fs::remove_file(file.path()).unwrap();
    counter.add(3);
    let read = reader.read().unwrap();
    assert_eq!(
        read.fields.iter().find(|f| f.name == "c").unwrap().value,
        FieldValue::Counter(3)
    );
}

#[test]
fn fifos_symlinks_and_foreign_files_are_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.mmstats");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    assert!(matches!(
        read_file(&fifo).unwrap_err().reason,
        ReadFailure::NotRegular
    ));

    let (real, _) = sample(dir.path());
    let link = dir.path().join("link.mmstats");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert!(matches!(
        read_file(&link).unwrap_err().reason,
        ReadFailure::SymbolicLink
    ));

    let foreign = dir.path().join("foreign.mmstats");
    std::fs::write(&foreign, b"PK\x03\x04 not stats at all").unwrap();
    assert!(matches!(
        read_file(&foreign).unwrap_err().reason,
        ReadFailure::NotStats { .. }
    ));

    let empty = dir.path().join("empty.mmstats");
    std::fs::write(&empty, b"").unwrap();
    assert!(read_file(&empty).is_err());

    let missing = dir.path().join("missing.mmstats");
    assert!(matches!(
        read_file(&missing).unwrap_err().reason,
        ReadFailure::Vanished
    ));
}

#[test]
fn a_foreign_major_version_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut bytes) = sample(dir.path());
    bytes[12..14].copy_from_slice(&9u16.to_ne_bytes());
    let victim = dir.path().join("v9.mmstats");
    std::fs::write(&victim, &bytes).unwrap();
    let message = read_file(&victim).unwrap_err().to_string();
    assert!(
        message.contains("version 9.2 is not supported"),
        "{message}"
    );
}

#[test]
fn mmdump_reports_bad_files_and_prints_the_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bytes) = sample(dir.path());
    let bad = dir.path().join("bad.mmstats");
    std::fs::write(&bad, &bytes[..300]).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mmdump"))
        .args(["--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed file makes the exit code 1"
    );
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let files = document["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["path"], good.display().to_string());
    let errors = document["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["path"], bad.display().to_string());
    assert!(errors[0]["error"].as_str().unwrap().contains("truncated"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&bad.display().to_string()), "{stderr}");
}
