//! Labels (format 2.2) in every `mmdump` reader: files written by the
//! library with per-connection fields (`web.conn.bytes_in{conn="N"}`),
//! read by `dump` (text, JSON, `-a sum`), `list`, `tree`, `get`, `watch`
//! (lines and JSON) and the `-I`/`-X` filters; and the duplicate rule (a
//! hand-made region repeating a name and labels) the same in each of them.

mod mmdump_common;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use mmdump_common::{mmdump, run};
use mmstats::StatsFile;
use mmstats_nostd::{FieldSpec, Region, RegionOptions, Word};
use serde_json::Value as Json;

/// Runs `mmdump` with `args`; returns (success, stdout, stderr).
fn mmdump_in(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = run(mmdump().args(args).env("MMSTATS_DIR", dir));
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn labelled_file(dir: &Path, name: &str) -> StatsFile {
    StatsFile::builder(name)
        .dir(dir)
        .size(1 << 18)
        .reuse_delay(Duration::ZERO)
        .create()
        .unwrap()
}

/// Two files of one program: `web` with connections 1234 and 1235 and an
/// unlabelled counter, `web2` with connection 1234 again. Returns the
/// files and the handles that keep the fields alive.
fn two_writers(dir: &Path) -> (Vec<StatsFile>, Vec<mmstats::Counter>) {
    let web = labelled_file(dir, "web");
    let web2 = labelled_file(dir, "web2");
    let mut handles = Vec::new();
    for (file, conn, bytes) in [(&web, "1234", 512), (&web, "1235", 100), (&web2, "1234", 8)] {
        let view = file.dynamic_labels(&[("conn", conn)]).unwrap();
        let counter = view.counter("web.conn.bytes_in").unwrap();
        counter.add(bytes);
        handles.push(counter);
    }
    let requests = web.counter("web.requests").unwrap();
    requests.add(7);
    handles.push(requests);
    (vec![web, web2], handles)
}

fn json(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn every_reader_shows_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _handles) = two_writers(dir.path());
    let web = files[0].path().to_str().unwrap().to_owned();

    // Text: the name, then the labels as Prometheus writes them.
    let (ok, out, err) = mmdump_in(dir.path(), &["dump", &web]);
    assert!(ok, "{err}");
    let line = |text: &str, start: &str| -> String {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?} in\n{text}"))
            .to_owned()
    };
    let row = line(&out, "web.conn.bytes_in{conn=\"1234\"}");
    assert_eq!(row.split_whitespace().nth(1), Some("512"), "{row}");
    let row = line(&out, "web.conn.bytes_in{conn=\"1235\"}");
    assert_eq!(row.split_whitespace().nth(1), Some("100"), "{row}");
    let row = line(&out, "web.requests ");
    assert_eq!(row.split_whitespace().nth(1), Some("7"), "{row}");

    // JSON: an additive "labels" object, only on labelled fields.
    let (ok, out, err) = mmdump_in(dir.path(), &["dump", "--json", &web]);
    assert!(ok, "{err}");
    let document = json(&out);
    assert_eq!(document["schema"], 1);
    let fields = document["files"][0]["fields"].as_array().unwrap();
    let named: Vec<&Json> = fields
        .iter()
        .filter(|f| f["name"] == "web.conn.bytes_in")
        .collect();
    assert_eq!(named.len(), 2, "two fields of one name: {fields:?}");
    let conn_1234 = named
        .iter()
        .find(|f| f["labels"]["conn"] == "1234")
        .expect("conn 1234");
    assert_eq!(conn_1234["value"], 512);
    assert_eq!(conn_1234["labels"].as_object().unwrap().len(), 1);
    let requests = fields.iter().find(|f| f["name"] == "web.requests").unwrap();
    assert!(requests.get("labels").is_none(), "{requests}");

    // Aggregated over files: each label set its own row.
    let (ok, out, err) = mmdump_in(dir.path(), &["dump", "-a", "sum"]);
    assert!(ok, "{err}");
    let row = line(&out, "web.conn.bytes_in{conn=\"1234\"}");
    assert_eq!(row.split_whitespace().nth(1), Some("520"), "{row}");
    assert!(row.ends_with("(2 files)"), "{row}");
    let row = line(&out, "web.conn.bytes_in{conn=\"1235\"}");
    assert_eq!(row.split_whitespace().nth(1), Some("100"), "{row}");
    assert!(row.ends_with("(1 files)"), "{row}");
    let (ok, out, err) = mmdump_in(dir.path(), &["dump", "-a", "sum", "--json"]);
    assert!(ok, "{err}");
    let document = json(&out);
    let combined = document["aggregate"]["fields"].as_array().unwrap();
    let conn_1234 = combined
        .iter()
        .find(|f| f["name"] == "web.conn.bytes_in" && f["labels"]["conn"] == "1234")
        .unwrap();
    assert_eq!(
        (conn_1234["value"].as_u64(), conn_1234["files"].as_u64()),
        (Some(520), Some(2))
    );

    // Tree: each label set a leaf of its own.
    let (ok, out, err) = mmdump_in(dir.path(), &["tree", "--color", "never", &web]);
    assert!(ok, "{err}");
    let leaf = out
        .lines()
        .find(|l| l.contains("bytes_in{conn=\"1234\"}"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(leaf.split_whitespace().rev().nth(1), Some("512"), "{leaf}");
    assert!(out.contains("bytes_in{conn=\"1235\"}"), "{out}");

    // Filters: a label part in -I and -X.
    let (ok, out, err) = mmdump_in(
        dir.path(),
        &["dump", "-I", "web.conn.*{conn=\"12*\"}", &web],
    );
    assert!(ok, "{err}");
    assert_eq!(out.matches("web.conn.bytes_in{").count(), 2, "{out}");
    assert!(!out.contains("web.requests"), "{out}");
    let (ok, out, err) = mmdump_in(dir.path(), &["dump", "-I", "web.conn{conn=1235}", &web]);
    assert!(ok, "{err}");
    assert!(
        out.contains("{conn=\"1235\"}") && !out.contains("{conn=\"1234\"}"),
        "{out}"
    );
    let (ok, out, err) = mmdump_in(dir.path(), &["dump", "-X", "web{conn=\"1234\"}", &web]);
    assert!(ok, "{err}");
    assert!(
        out.contains("{conn=\"1235\"}") && !out.contains("{conn=\"1234\"}"),
        "{out}"
    );
    assert!(out.contains("web.requests"), "{out}");

    // get: one label set by name; several need -a, which combines them.
    let (ok, out, err) = mmdump_in(dir.path(), &["get", "web.conn.bytes_in{conn=\"1234\"}"]);
    assert!(ok, "{err}");
    assert_eq!(out, "520\n", "summed over the two files");
    let (ok, out, err) = mmdump_in(dir.path(), &["get", "web.conn.bytes_in"]);
    assert!(!ok);
    assert_eq!(out, "");
    assert!(
        err.contains("web.conn.bytes_in has 2 label sets ({conn=\"1234\"}, {conn=\"1235\"})"),
        "{err}"
    );
    let (ok, out, err) = mmdump_in(dir.path(), &["get", "-a", "sum", "web.conn.bytes_in"]);
    assert!(ok, "{err}");
    assert_eq!(out, "620\n");
    let (ok, out, err) = mmdump_in(dir.path(), &["get", "-a", "max", "web.conn.bytes_in", &web]);
    assert!(ok, "{err}");
    assert_eq!(out, "612\n", "counters are summed in every mode");
    let (ok, out, err) = mmdump_in(
        dir.path(),
        &["get", "-a", "per-file", "web.conn.bytes_in", &web],
    );
    assert!(ok, "{err}");
    assert_eq!(
        out,
        format!("512\t{web}\t{{conn=\"1234\"}}\n100\t{web}\t{{conn=\"1235\"}}\n")
    );
    let (ok, out, err) = mmdump_in(dir.path(), &["get", "web.requests"]);
    assert!(ok, "{err}");
    assert_eq!(out, "7\n");

    // watch: lines name the label set; JSON frames carry it.
    let (ok, out, err) = mmdump_in(
        dir.path(),
        &[
            "watch", "--lines", "-c", "1", "-i", "0.1", "-I", "web.conn", &web,
        ],
    );
    assert!(ok, "{err}");
    let header = out.lines().next().unwrap_or_default();
    assert!(
        header.contains("web.conn.bytes_in{conn=\"1234\"}/s"),
        "{out}"
    );
    assert!(
        header.contains("web.conn.bytes_in{conn=\"1235\"}/s"),
        "{out}"
    );
    let (ok, out, err) = mmdump_in(dir.path(), &["watch", "--json", "-c", "2", "-i", "0.1"]);
    assert!(ok, "{err}");
    let frame = json(out.lines().last().unwrap());
    let rows = frame["groups"][0]["fields"].as_array().unwrap();
    let conn_1234 = rows
        .iter()
        .find(|r| r["name"] == "web.conn.bytes_in" && r["labels"]["conn"] == "1234")
        .unwrap_or_else(|| panic!("{frame}"));
    assert_eq!(
        (conn_1234["value"].as_u64(), conn_1234["files"].as_u64()),
        (Some(520), Some(2))
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r["name"] == "web.conn.bytes_in")
            .count(),
        2
    );
    // munin: label values are aggregated, one munin field per name.
    let (_, out, err) = mmdump_in(dir.path(), &["munin", "fetch"]);
    let conn_lines: Vec<&str> = out.lines().filter(|l| l.contains("conn")).collect();
    assert_eq!(conn_lines, ["web_conn_bytes_in.value 620"], "{out}{err}");
    drop(files);
}

/// Puts a region at `path` whose fields 1 and 3 repeat field 0 (`c`, no
/// labels) and field 2 (`c{conn="1"}`): values 10 and 30 are shown, 11 and
/// 31 are not.
fn write_duplicates(path: &Path) {
    let words: Vec<Word> = (0..4096).map(|_| Word::new(0)).collect();
    let options = RegionOptions {
        labels: true,
        ..RegionOptions::default()
    };
    let mut region = Region::create(&words, &options).unwrap();
    let conn = [("conn", "1")];
    region.counter("c").unwrap().add(10);
    region.counter("c").unwrap().add(11);
    region
        .counter(FieldSpec::new("c").labels(&conn))
        .unwrap()
        .add(30);
    region
        .counter(FieldSpec::new("c").labels(&conn))
        .unwrap()
        .add(31);
    let bytes: Vec<u8> = words
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_ne_bytes())
        .collect();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_repeated_name_is_one_field_in_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("dups.mmstats");
    write_duplicates(&path);
    let file = path.to_str().unwrap();
    let said_twice = |err: &str| {
        assert!(
            err.contains("field 1 (c) repeats field 0, which is shown instead"),
            "{err}"
        );
        assert!(
            err.contains("field 3 (c{conn=\"1\"}) repeats field 2, which is shown instead"),
            "{err}"
        );
    };

    let (ok, out, err) = mmdump_in(dir.path(), &["dump", file]);
    assert!(!ok, "a duplicate is a problem: exit code 1");
    let values: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("c ") || l.starts_with("c{"))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(values, ["10", "30"], "{out}");
    assert!(out.contains("!! field 1 (c) repeats field 0"), "{out}");
    said_twice(&err);

    let (_, out, err) = mmdump_in(dir.path(), &["dump", "--json", file]);
    let document = json(&out);
    let fields = document["files"][0]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert_eq!(document["errors"].as_array().unwrap().len(), 2, "{out}");
    said_twice(&err);

    for args in [
        vec!["get", "c{}", file],
        vec!["get", "-a", "sum", "c{}", file],
    ] {
        let (ok, out, err) = mmdump_in(dir.path(), &args[..]);
        assert!(!ok, "{args:?}");
        assert_eq!(out, "10\n", "{args:?}: the lowest slot, not a sum of both");
        said_twice(&err);
    }
    let (_, out, _) = mmdump_in(dir.path(), &["get", "c{conn=1}", file]);
    assert_eq!(out, "30\n");
    let (_, out, err) = mmdump_in(dir.path(), &["get", "c", file]);
    assert_eq!(out, "");
    assert!(
        err.contains("c has 2 label sets ({}, {conn=\"1\"}); name one (get 'c{}')"),
        "{err}"
    );
    let (_, out, _) = mmdump_in(dir.path(), &["get", "-a", "sum", "c", file]);
    assert_eq!(out, "40\n", "both label sets, each once");
    let (_, out, _) = mmdump_in(dir.path(), &["get", "-a", "per-file", "c", file]);
    assert_eq!(out, format!("10\t{file}\n30\t{file}\t{{conn=\"1\"}}\n"));

    let (_, out, err) = mmdump_in(dir.path(), &["tree", "--color", "never", file]);
    let leaves: Vec<&str> = out.lines().filter(|l| l.starts_with('c')).collect();
    assert_eq!(leaves.len(), 2, "{out}");
    assert_eq!(leaves[0].split_whitespace().nth(1), Some("10"), "{out}");
    assert_eq!(leaves[1].split_whitespace().nth(1), Some("30"), "{out}");
    said_twice(&err);

    let (_, out, _) = mmdump_in(
        dir.path(),
        &["watch", "--json", "-c", "1", "-a", "per-file", file],
    );
    let frame = json(out.lines().last().unwrap());
    let rows = frame["groups"][0]["fields"].as_array().unwrap();
    let values: Vec<u64> = rows.iter().map(|r| r["value"].as_u64().unwrap()).collect();
    assert_eq!(values, [10, 30], "{frame}");
    assert!(
        frame["groups"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("repeats field 0")),
        "{frame}"
    );
}

#[test]
fn a_backslash_in_a_name_or_string_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let file = labelled_file(dir.path(), "paths");
    let counter = file.counter("dir\\name").unwrap();
    counter.add(1);
    let text = file.text("where").unwrap();
    text.set("C:\\new");
    let view = file.with_labels(&[("path", "a\\b\"c")]).unwrap();
    let labelled = view.counter("x").unwrap();
    labelled.add(2);
    let path = file.path().to_str().unwrap().to_owned();
    let (ok, out, err) = mmdump_in(dir.path(), &["dump", &path]);
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l.starts_with("dir\\\\name ")), "{out}");
    assert!(out.contains("C:\\\\new"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("x{path=\"a\\\\b\\\"c\"} ")),
        "{out}"
    );
    // The label value round-trips through a pattern written as shown.
    let (ok, out, err) = mmdump_in(dir.path(), &["get", "x{path=\"a\\\\b\\\"c\"}", &path]);
    assert!(ok, "{err}");
    assert_eq!(out, "2\n");
    drop((counter, text, labelled));
}
