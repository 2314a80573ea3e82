//! Labels (format 2.2) end to end through files, the duplicate rule of
//! readers, and the legacy pid under a label prefix.

use mmstats::{
    AddFieldError, FieldProblem, FieldSpec, FieldValue, LabelError, Liveness, RegionReader,
    Snapshot, StatsFile, read_file,
};
use mmstats_nostd::{Region, RegionOptions};

/// (name, labels as readers show them, value) of every counter.
fn counters(stats: &mmstats::FileStats) -> Vec<(String, String, u64)> {
    stats
        .fields
        .iter()
        .filter_map(|f| match f.value {
            FieldValue::Counter(v) => Some((f.name.clone(), f.labels.to_string(), v)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_label_set_is_a_dynamic_group_and_names_are_shared() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("lab")
        .dir(dir.path())
        .prefix("web.")
        .reuse_delay(std::time::Duration::ZERO)
        .create()
        .unwrap();
    let app = file.with_labels(&[("app", "shop")]).unwrap();
    assert!(!app.is_dynamic_group());
    let total = app.counter("requests").unwrap();
    let one = file.dynamic_labels(&[("conn", "1")]).unwrap();
    let two = file.dynamic_labels(&[("conn", "2")]).unwrap();
    assert!(one.is_dynamic_group());
    assert_eq!(one.labels().get("conn"), Some("1"));
    let bytes_one = one.counter("conn.bytes_in").unwrap();
    let bytes_two = two.counter("conn.bytes_in").unwrap();
    // Labels of the view and of the field are merged and sorted.
    let tagged = one
        .counter(FieldSpec::new("conn.errors").labels(&[("code", "500")]))
        .unwrap();
    total.add(3);
    bytes_one.add(10);
    bytes_two.add(20);
    tagged.add(1);
    let read = read_file(file.path()).unwrap();
    assert_eq!(
        counters(&read),
        vec![
            ("web.requests".into(), r#"{app="shop"}"#.into(), 3),
            ("web.conn.bytes_in".into(), r#"{conn="1"}"#.into(), 10),
            ("web.conn.bytes_in".into(), r#"{conn="2"}"#.into(), 20),
            (
                "web.conn.errors".into(),
                r#"{code="500",conn="1"}"#.into(),
                1
            ),
        ]
    );
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    assert_eq!(read.region.unwrap().version, (2, 2));

    // The same name and labels twice: refused; another label value: fine.
    assert_eq!(
        one.counter("conn.bytes_in").unwrap_err(),
        AddFieldError::DuplicateName(r#"web.conn.bytes_in{conn="1"}"#.into())
    );
    // A connection that closed frees its name and labels for a new one.
    drop(bytes_one);
    let again = one.counter("conn.bytes_in").unwrap();
    again.add(5);
    let read = read_file(file.path()).unwrap();
    assert!(counters(&read).contains(&("web.conn.bytes_in".into(), r#"{conn="1"}"#.into(), 5)));

    // Typed errors for bad labels.
    assert_eq!(
        file.with_labels(&[("bad-key", "x")]).unwrap_err(),
        LabelError::InvalidKey
    );
    assert_eq!(
        one.with_labels(&[("conn", "3")]).unwrap_err(),
        LabelError::DuplicateKey,
        "a view cannot give a key twice"
    );
    assert_eq!(
        one.counter(FieldSpec::new("x").labels(&[("conn", "9")]))
            .unwrap_err(),
        AddFieldError::Region(mmstats_nostd::AddFieldError::InvalidLabels(
            LabelError::DuplicateKey
        ))
    );
}

#[test]
fn a_file_without_label_room_refuses_labelled_fields() {
    let dir = tempfile::tempdir().unwrap();
    let file = StatsFile::builder("plain")
        .dir(dir.path())
        .labels(false)
        .create()
        .unwrap();
    let view = file.with_labels(&[("k", "v")]).unwrap();
    assert_eq!(
        view.counter("c").unwrap_err(),
        AddFieldError::Region(mmstats_nostd::AddFieldError::NoLabelRoom)
    );
    assert!(file.counter("c").is_ok());
}

/// A region with three counters of one name and labels (slots 0, 2, 3)
/// and one with other labels (slot 1), as a writer that does not check
/// could make it, in a file.
fn duplicates_file(dir: &std::path::Path) -> std::path::PathBuf {
    let memory: Vec<mmstats_nostd::Word> = (0..1024).map(|_| mmstats_nostd::Word::new(0)).collect();
    let mut region = Region::create(
        &memory,
        &RegionOptions {
            labels: true,
            generation: 1,
            ..RegionOptions::default()
        },
    )
    .unwrap();
    let labels: &[(&str, &str)] = &[("conn", "1")];
    for (n, labels) in [labels, &[("conn", "2")], labels, labels]
        .into_iter()
        .enumerate()
    {
        region
            .counter(FieldSpec::new("c").labels(labels))
            .unwrap()
            .add(n as u64 + 1);
    }
    let bytes: Vec<u8> = memory
        .iter()
        .flat_map(|w| w.load(std::sync::atomic::Ordering::Relaxed).to_ne_bytes())
        .collect();
    let path = dir.join("dups.mmstats");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn readers_show_the_lowest_slot_of_a_repeated_name_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = duplicates_file(dir.path());
    let read = read_file(&path).unwrap();
    assert_eq!(
        counters(&read),
        vec![
            ("c".into(), r#"{conn="1"}"#.into(), 1),
            ("c".into(), r#"{conn="2"}"#.into(), 2),
        ]
    );
    let repeats: Vec<(usize, usize)> = read
        .problems
        .iter()
        .filter_map(|p| match p {
            FieldProblem::Duplicate { index, first, .. } => Some((*index, *first)),
            _ => None,
        })
        .collect();
    assert_eq!(repeats, vec![(2, 0), (3, 0)]);
    assert_eq!(
        read.problems[0].to_string(),
        r#"field 2 (c{conn="1"}) repeats field 0, which is shown instead"#
    );

    // The polling path follows the same rule, poll after poll.
    let mut reader = RegionReader::open(&path).unwrap();
    let mut snapshot = Snapshot::default();
    for _ in 0..2 {
        reader.snapshot(&mut snapshot).unwrap();
        let slots: Vec<usize> = snapshot.values.iter().map(|v| v.slot).collect();
        assert_eq!(slots, vec![0, 1]);
        assert_eq!(snapshot.problems.len(), 2);
    }
}

/// A legacy v1 file with one unbuffered `q` field named `label`.
fn legacy_file(dir: &std::path::Path, label: &str, value: i64) -> std::path::PathBuf {
    let mut bytes = vec![0x01u8];
    bytes.extend_from_slice(&(label.len() as u16).to_le_bytes());
    bytes.extend_from_slice(label.as_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.push(b'q');
    bytes.push(0xFF);
    bytes.extend_from_slice(&value.to_le_bytes());
    bytes.extend_from_slice(&0u16.to_le_bytes());
    let path = dir.join(format!("{label}.mmstats"));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_legacy_pid_under_a_label_prefix_is_the_pid() {
    let dir = tempfile::tempdir().unwrap();
    // A pid no process has (above the kernel's pid_max limit of 2^22).
    let gone = 0x7FFF_FFF0_i64;
    let prefixed = read_file(legacy_file(dir.path(), "myapp.sys.pid", gone)).unwrap();
    assert_eq!(prefixed.pid, Some(gone as u64));
    assert_eq!(prefixed.liveness, Liveness::Dead);
    let plain = read_file(legacy_file(dir.path(), "sys.pid", gone)).unwrap();
    assert_eq!(plain.pid, Some(gone as u64));
    // Only a whole `sys.pid` level counts.
    let other = read_file(legacy_file(dir.path(), "myapp.notsys.pid", gone)).unwrap();
    assert_eq!(other.pid, None);
    assert_eq!(other.liveness, Liveness::Unknown);
}
