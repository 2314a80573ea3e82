//! `dump::json::write_json` (the streaming writer mmdump uses) writes the
//! same bytes as the tree `dump::to_json` gives (`serve`'s `/api`, `image
//! --json`), and both match a document built here, independently of the
//! streaming serializer, from the per-field tree builder `dump::json_field`
//! and docs/FORMAT.md §13: for every kind, legacy files, errors, field
//! problems and the aggregate object.

use std::path::{Path, PathBuf};

use mmdump::dump::aggregate::{AggregateMode, aggregate};
use mmdump::dump::{self, json::write_json};
use mmstats::{FieldSpec, FileStats, StatsFile, Unit};
use serde_json::{Value as Json, json};

fn report_with_everything(dir: &Path) -> dump::Report {
    let file = StatsFile::builder("all")
        .dir(dir)
        .size(1 << 20)
        .keep(true)
        .create()
        .unwrap();
    file.counter(FieldSpec::new("c").describe("a \"quoted\" description"))
        .unwrap()
        .add(u64::MAX);
    file.gauge("g").unwrap().set(-5);
    let float = file
        .float_gauge(FieldSpec::new("f").unit(Unit::Ratio))
        .unwrap();
    float.set(f64::NAN);
    file.float_gauge("inf").unwrap().set(f64::NEG_INFINITY);
    file.float_gauge("tiny").unwrap().set(1.5e-7);
    file.flag("b").unwrap().set(true);
    file.timestamp("t").unwrap().set_ns(17);
    file.text("s").unwrap().set("tab\there \u{1} é");
    file.average("empty").unwrap();
    file.average("a").unwrap().add(2.5);
    let histogram = file.histogram("h").unwrap();
    histogram.record(100);
    histogram.record(1_000_000);
    file.moving_average(FieldSpec::new("m").window(4))
        .unwrap()
        .add(1.0);
    file.window_average("w").unwrap().record(3.0);
    file.event_ring(FieldSpec::new("r").slots(8))
        .unwrap()
        .event(1, &[2]);
    let path = file.path();
    drop(float);
    drop(file);

    let bad = dir.join("bad.mmstats");
    std::fs::write(&bad, b"\x89MMSTAT2 but cut short").unwrap();
    let legacy: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mmstats-std/tests/fixtures/legacy-v1/web.mmstats");
    let mut report = dump::collect(&[path, bad, legacy, dir.join("missing.mmstats")]);
    report.files[0]
        .problems
        .push(mmstats::FieldProblem::ValueOutsideRegion { index: 99 });
    report
}

/// The schema-1 document as FORMAT.md §13 describes it, built from
/// `json_field` trees (not from the streaming serializer).
fn reference_document(report: &dump::Report) -> Json {
    let mut errors: Vec<Json> = report
        .errors
        .iter()
        .map(
            |(path, error)| json!({"path": path.display().to_string(), "error": error.to_string()}),
        )
        .collect();
    for file in &report.files {
        for problem in &file.problems {
            errors.push(
                json!({"path": file.path.display().to_string(), "error": problem.to_string()}),
            );
        }
    }
    let file_json = |file: &FileStats| {
        let mut out = json!({
            "path": file.path.display().to_string(),
            "format": file.format.name(),
            "pid": file.pid,
            "writer": file.liveness.name(),
            "fields": file.fields.iter().map(dump::json_field).collect::<Vec<_>>(),
        });
        if let Some(region) = &file.region {
            let object = out.as_object_mut().unwrap();
            object.insert("generation".into(), json!(region.generation));
            object.insert("created_ns".into(), json!(region.created_ns));
            object.insert("heartbeat_ns".into(), json!(region.heartbeat_ns));
        }
        out
    };
    json!({
        "schema": dump::JSON_SCHEMA,
        "files": report.files.iter().map(file_json).collect::<Vec<_>>(),
        "errors": errors,
    })
}

#[test]
fn streaming_json_matches_the_tree_builder() {
    let dir = tempfile::tempdir().unwrap();
    let report = report_with_everything(dir.path());
    assert!(!report.errors.is_empty() && report.files.len() == 2);

    let mut streamed = Vec::new();
    write_json(&mut streamed, &report, None).unwrap();
    let streamed = String::from_utf8(streamed).unwrap();
    assert_eq!(streamed, format!("{}\n", dump::to_json(&report)));
    assert_eq!(streamed, format!("{}\n", reference_document(&report)));

    let files: Vec<_> = report.files.iter().collect();
    let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
    let combined = aggregate(&files, AggregateMode::Sum, &Default::default());
    let mut streamed = Vec::new();
    write_json(&mut streamed, &report, Some((&combined, &paths))).unwrap();
    let mut tree = reference_document(&report);
    tree.as_object_mut()
        .unwrap()
        .insert("aggregate".into(), dump::aggregate_json(&combined, &paths));
    assert_eq!(String::from_utf8(streamed).unwrap(), format!("{tree}\n"));
}
