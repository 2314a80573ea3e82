//! Legacy v1 files written by the original Python mmstats read back with
//! exactly the values in their `.expected.json`: the fixtures from
//! `../shared/fixtures/legacy-v1` (checked in here, and also read from
//! `../shared` when it is present), and one written by mmstats 0.8.0 with
//! every field kind (see `fixtures/legacy-v1/generate.py`).

use std::path::{Path, PathBuf};

use mmstats::{FieldValue, Format, read_file};
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mmstats-std/tests/fixtures/legacy-v1")
}

fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/legacy-v1")
}

/// Compares a value read by mmdump with the JSON value Python recorded.
fn same(value: &FieldValue, expected: &Value) -> bool {
    match (value, expected) {
        (FieldValue::Int(v), Value::Number(n)) => n.as_i64() == Some(*v),
        (FieldValue::UInt(v), Value::Number(n)) => n.as_u64() == Some(*v),
        (FieldValue::Float(v), Value::Number(n)) => n.as_f64() == Some(*v),
        (FieldValue::Bool(v), Value::Bool(b)) => v == b,
        (FieldValue::Text(v), Value::String(s)) => v == s,
        _ => false,
    }
}

fn check(file: &Path, expected: &Path, exhaustive: bool) {
    let stats = read_file(file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.format, Format::LegacyV1);
    let expected: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(expected).unwrap()).unwrap();
    for (name, want) in &expected {
        let field = stats
            .fields
            .iter()
            .find(|f| &f.name == name)
            .unwrap_or_else(|| panic!("{}: no field {name}", file.display()));
        assert!(
            same(&field.value, want),
            "{}: {name} is {:?}, expected {want}",
            file.display(),
            field.value
        );
    }
    if exhaustive {
        assert_eq!(stats.fields.len(), expected.len(), "no extra fields");
    }
}

#[test]
fn checked_in_fixtures_match_their_expected_values() {
    for name in ["web", "timers"] {
        let dir = fixture_dir();
        check(
            &dir.join(format!("{name}.mmstats")),
            &dir.join(format!("{name}.expected.json")),
            true,
        );
    }
}

#[test]
fn shared_fixtures_match_when_present() {
    let dir = shared_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "{} not present; the checked-in copies are tested above",
            dir.display()
        );
        return;
    };
    let mut checked = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "mmstats") {
            check(&path, &path.with_extension("expected.json"), true);
            checked += 1;
        }
    }
    assert!(checked >= 2, "expected the web and timers fixtures");
}

#[test]
fn python_mmstats_every_kind_fixture() {
    let dir = fixture_dir();
    check(
        &dir.join("python-all.mmstats"),
        &dir.join("python-all.expected.json"),
        false,
    );
    let stats = read_file(dir.join("python-all.mmstats")).unwrap();
    let text = stats.fields.iter().find(|f| f.name == "py.text").unwrap();
    assert_eq!(
        text.value,
        FieldValue::Text("héllo wörld".into()),
        "non-ASCII, and overwritten by a shorter string"
    );
}

#[test]
fn mmdump_json_prints_the_fixture_values_exactly() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mmdump"))
        .arg("--json")
        .arg(fixture_dir().join("web.mmstats"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["schema"], 1);
    let file = &document["files"][0];
    assert_eq!(file["format"], "legacy-v1");
    let fields = file["fields"].as_array().unwrap();
    let get = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["value"].clone())
            .unwrap()
    };
    // Above 2^53: printed as an exact integer, not a float.
    assert_eq!(
        get("web.stats.bytes.out").as_u64(),
        Some(9_223_372_036_854_775_813)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("9223372036854775813"),
        "exact digits in the text"
    );
    assert_eq!(get("web.stats.version"), "v1.2");
    assert_eq!(get("web.stats.ok"), true);
    assert_eq!(get("web.stats.load"), 0.75);
}
