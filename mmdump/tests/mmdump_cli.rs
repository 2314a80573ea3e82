//! The one-shot subcommands of the real `mmdump` binary: filters on every
//! subcommand, aggregation, `tree` with wildcard queries, `get` for
//! scripts, colour rules, help and exit codes.

mod mmdump_common;

use std::path::{Path, PathBuf};

use mmdump_common::{mmdump, run};
use mmstats::{FieldSpec, StatsFile, Unit};
use serde_json::Value;

/// Two kept files of one "program", as two threads would write them.
fn two_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for (name, requests, inflight, version) in [("a", 100, 3, "v1"), ("b", 50, -1, "v2")] {
        let file = StatsFile::builder(name)
            .dir(dir)
            .keep(true)
            .size(64 * 1024)
            .create()
            .unwrap();
        file.counter("web.requests").unwrap().add(requests);
        file.counter("web.stats.status.2XX")
            .unwrap()
            .add(requests - 10);
        file.counter("web.stats.status.5XX").unwrap().add(10);
        file.counter("db.errors").unwrap().add(1);
        file.gauge("web.inflight").unwrap().set(inflight);
        file.counter(FieldSpec::new("web.bytes").unit(Unit::Bytes))
            .unwrap()
            .add(requests * 1000);
        file.text("web.version").unwrap().set(version);
        paths.push(file.path());
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    paths
}

fn stdout(command: &mut std::process::Command) -> String {
    let output = run(command);
    assert!(output.status.success(), "{command:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn filters_select_fields_and_files_in_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let paths = two_files(dir.path());

    let text = stdout(
        mmdump()
            .args(["-I", "web.stats", "-X", "**.5XX"])
            .arg(dir.path()),
    );
    assert_eq!(text.matches("==> ").count(), 2, "{text}");
    assert!(text.contains("web.stats.status.2XX"), "{text}");
    assert!(
        !text.contains("5XX") && !text.contains("web.requests"),
        "{text}"
    );

    let json: Value = serde_json::from_str(&stdout(
        mmdump()
            .args(["--json", "-I", "web.*.status.*", "-f", "*-a.mmstats"])
            .arg(dir.path()),
    ))
    .unwrap();
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{json}");
    assert_eq!(files[0]["path"], paths[0].display().to_string());
    let names: Vec<&str> = files[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web.stats.status.2XX", "web.stats.status.5XX"]);

    // By pid: both files are ours; another pid selects nothing.
    let me = std::process::id().to_string();
    let list = stdout(mmdump().args(["list", "-p", &me]).arg(dir.path()));
    assert_eq!(list.lines().count(), 3, "{list}");
    let list = stdout(mmdump().args(["list", "-p", "1"]).arg(dir.path()));
    assert_eq!(list.lines().count(), 1, "only the header: {list}");
    let list = stdout(
        mmdump()
            .args(["list", "--json", "-I", "db"])
            .arg(dir.path()),
    );
    let list: Value = serde_json::from_str(&list).unwrap();
    for file in list["files"].as_array().unwrap() {
        assert_eq!(file["field_count"], 1, "{file}");
    }
}

#[test]
fn aggregation_follows_the_stated_rules() {
    let dir = tempfile::tempdir().unwrap();
    two_files(dir.path());
    let field = |document: &Value, name: &str| -> Value {
        document["aggregate"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {document}"))
            .clone()
    };
    let by = |mode: &str| -> Value {
        serde_json::from_str(&stdout(
            mmdump()
                .args(["--json", "--aggregate", mode])
                .arg(dir.path()),
        ))
        .unwrap()
    };
    let sum = by("sum");
    assert_eq!(sum["schema"], 1);
    assert_eq!(sum["files"].as_array().unwrap().len(), 2, "files stay");
    assert_eq!(sum["aggregate"]["mode"], "sum");
    assert_eq!(sum["aggregate"]["file_count"], 2);
    assert_eq!(field(&sum, "web.requests")["value"], 150);
    assert_eq!(field(&sum, "web.requests")["files"], 2);
    assert_eq!(field(&sum, "web.inflight")["value"], 2);
    assert_eq!(
        field(&sum, "web.version")["value"],
        "v2",
        "the newest writer's"
    );
    assert!(
        !sum["aggregate"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "sys.pid"),
        "identity fields are not combined"
    );
    let avg = by("avg");
    assert_eq!(field(&avg, "web.requests")["value"], 150, "counters sum");
    assert_eq!(field(&avg, "web.inflight")["value"], 1.0);
    let min = by("min");
    assert_eq!(field(&min, "web.inflight")["value"], -1);
    assert_eq!(field(&min, "web.version")["value"], "v1");
    let max = by("max");
    assert_eq!(field(&max, "web.inflight")["value"], 3);

    let text = stdout(
        mmdump()
            .args(["-a", "sum", "-I", "web.requests"])
            .arg(dir.path()),
    );
    assert!(text.starts_with("==> sum of 2 files"), "{text}");
    assert!(text.contains("web.requests  150  counter"), "{text}");
    assert!(text.contains("(2 files)"), "{text}");

    let bad = run(mmdump().args(["--aggregate", "median"]).arg(dir.path()));
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn tree_shows_levels_and_answers_wildcard_queries() {
    let dir = tempfile::tempdir().unwrap();
    let paths = two_files(dir.path());
    let tree = stdout(
        mmdump()
            .env("LANG", "C.UTF-8")
            .args(["tree", "-a", "sum", "-X", "sys"])
            .arg(dir.path()),
    );
    let expected_start = "\
==> sum of 2 files (counters summed, gauges by sum)
db
└── errors       2       counter
web
├── bytes        150000  counter   bytes
├── inflight     2       gauge
├── requests     150     counter
├── stats
│   └── status
│       ├── 2XX  130     counter
│       └── 5XX  20      counter
└── version      v2      string
";
    assert_eq!(tree, expected_start);

    let query = stdout(
        mmdump()
            .env("LANG", "C")
            .args(["tree", "web.*.status.*"])
            .arg(&paths[0]),
    );
    assert!(
        query.contains("|-- 2XX") && query.contains("`-- 5XX"),
        "{query}"
    );
    // The tree below the file's header line (whose path has a hash that
    // may hold any letters).
    let below: String = query
        .lines()
        .filter(|line| !line.starts_with("==>"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !below.contains("requests") && !below.contains("db"),
        "{query}"
    );
    let errors = stdout(mmdump().args(["tree", "**.errors"]).arg(&paths[1]));
    assert!(
        errors.contains("db\n") && errors.contains("errors"),
        "{errors}"
    );
    assert!(!errors.contains("web"), "{errors}");

    let none = run(mmdump().args(["tree", "nothing.*"]).arg(dir.path()));
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no field matches"));
}

#[test]
fn get_prints_one_raw_value_or_fails() {
    let dir = tempfile::tempdir().unwrap();
    let paths = two_files(dir.path());
    assert_eq!(
        stdout(mmdump().args(["get", "web.requests"]).arg(dir.path())),
        "150\n"
    );
    assert_eq!(
        stdout(mmdump().args(["get", "web.requests"]).arg(&paths[1])),
        "50\n"
    );
    assert_eq!(
        stdout(
            mmdump()
                .args(["get", "web.inflight", "-a", "max"])
                .arg(dir.path())
        ),
        "3\n"
    );
    assert_eq!(
        stdout(
            mmdump()
                .args(["get", "web.version", "--json", "-a", "min"])
                .arg(dir.path())
        ),
        "\"v1\"\n"
    );
    let per_file = stdout(
        mmdump()
            .args(["get", "web.requests", "-a", "per-file"])
            .arg(dir.path()),
    );
    assert_eq!(
        per_file,
        format!("100\t{}\n50\t{}\n", paths[0].display(), paths[1].display())
    );
    // Exactly the name: a level above a field is not a field.
    let absent = run(mmdump().args(["get", "web.stats"]).arg(dir.path()));
    assert_eq!(absent.status.code(), Some(1));
    assert!(absent.stdout.is_empty());
    assert!(String::from_utf8_lossy(&absent.stderr).contains("no field named web.stats"));
    let pid = run(mmdump().args(["get", "sys.pid"]).arg(dir.path()));
    assert_eq!(pid.status.code(), Some(1), "identities are not summed");
    let usage = run(mmdump().arg("get"));
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn colour_only_when_asked_and_never_with_no_color() {
    let dir = tempfile::tempdir().unwrap();
    two_files(dir.path());
    let piped = stdout(mmdump().arg(dir.path()));
    assert!(!piped.contains('\x1b'), "no colour into a pipe");
    let forced = stdout(mmdump().args(["--color", "always"]).arg(dir.path()));
    assert!(forced.contains("\x1b[1m==> "), "{forced}");
    let never = stdout(mmdump().args(["--color", "never"]).arg(dir.path()));
    assert!(!never.contains('\x1b'));
}

#[test]
fn help_explains_every_subcommand() {
    let help = stdout(mmdump().arg("--help"));
    for word in [
        "dump",
        "list",
        "tree",
        "get",
        "watch",
        "clean",
        "munin",
        "demo",
        "Exit codes",
        "NO_COLOR",
        "MMSTATS_DIR",
    ] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    for (subcommand, words) in [
        (
            "watch",
            &[
                "--interval",
                "--count",
                "--header-every",
                "--timestamps",
                "q quit",
            ][..],
        ),
        ("clean", &["--dry-run", "start time", "--closed"][..]),
        ("munin", &["mmstats_", "__", "MUNIN_PLUGSTATE"][..]),
        ("tree", &["**.errors"][..]),
        ("get", &["per-file"][..]),
    ] {
        let help = stdout(mmdump().args([subcommand, "--help"]));
        for word in words {
            assert!(
                help.contains(word),
                "{subcommand} --help lacks {word}:\n{help}"
            );
        }
    }
}

#[test]
fn get_prints_one_line_per_name_in_the_order_given() {
    let dir = tempfile::tempdir().unwrap();
    let paths = two_files(dir.path());
    assert_eq!(
        stdout(
            mmdump()
                .args([
                    "get",
                    "web.inflight",
                    "web.requests",
                    "web.version",
                    "-a",
                    "max"
                ])
                .arg(dir.path())
        ),
        "3\n150\nv2\n"
    );
    // A name no file has is said, and the others still printed.
    let partly = run(mmdump()
        .args(["get", "web.requests", "no.such", "web.inflight"])
        .arg(dir.path()));
    assert_eq!(partly.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&partly.stdout), "150\n2\n");
    let stderr = String::from_utf8_lossy(&partly.stderr);
    assert!(stderr.contains("no field named no.such"), "{stderr}");
    assert!(!stderr.contains("web.requests"), "{stderr}");
    assert_eq!(
        stdout(
            mmdump()
                .args(["get", "web.requests", "db.errors", "-a", "per-file"])
                .arg(dir.path())
        ),
        format!(
            "100\t{a}\n50\t{b}\n1\t{a}\n1\t{b}\n",
            a = paths[0].display(),
            b = paths[1].display()
        )
    );
    // Several paths after several names; the file filter still applies.
    let only_b = paths[1].file_name().unwrap().to_str().unwrap();
    assert_eq!(
        stdout(
            mmdump()
                .args(["get", "web.requests", "web.inflight", "-f", only_b])
                .arg(&paths[0])
                .arg(&paths[1])
        ),
        "50\n-1\n"
    );
}

#[test]
fn tail_takes_the_shared_filters() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for name in ["ta", "tb"] {
        let file = StatsFile::builder(name)
            .dir(dir.path())
            .keep(true)
            .size(64 * 1024)
            .create()
            .unwrap();
        for ring in ["r.one", "r.two"] {
            file.event_ring(FieldSpec::new(ring).capacity(4).payload_words(2))
                .unwrap()
                .event(1, &[1, 2]);
        }
        files.push(file);
    }
    let records = |args: &[&str]| -> Vec<Value> {
        let output = run(mmdump()
            .args(["tail", "--once", "--json"])
            .args(args)
            .arg(dir.path()));
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|line| line["type"] == "record")
            .collect()
    };
    assert_eq!(records(&[]).len(), 4);
    let tb = files[1].path();
    let only_tb = records(&["-f", tb.file_name().unwrap().to_str().unwrap()]);
    assert_eq!(only_tb.len(), 2, "{only_tb:?}");
    assert!(
        only_tb
            .iter()
            .all(|r| r["path"] == tb.display().to_string())
    );
    let one = records(&["-I", "r.one"]);
    assert_eq!(one.len(), 2, "{one:?}");
    assert!(one.iter().all(|r| r["ring"] == "r.one"));
    let two = records(&["-X", "r.one"]);
    assert!(two.len() == 2 && two.iter().all(|r| r["ring"] == "r.two"));
    let ours = std::process::id().to_string();
    assert_eq!(records(&["-p", &ours]).len(), 4);
    assert!(records(&["-p", "1"]).is_empty(), "pid 1 wrote none of them");
}
