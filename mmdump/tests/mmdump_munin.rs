//! `mmdump` as a munin plugin, run by Debian's real `munin-run` through
//! a symlink named after the fields it graphs, against a live writer.
//! Skipped (with the reason printed) when munin-run is missing, unless
//! MMSTATS_REQUIRE_MUNIN is set; CI installs munin-node and sets it.

mod mmdump_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mmdump_common::{mmdump, run, start_demo, terminate, tool_or_skip};

struct Munin {
    munin_run: PathBuf,
    plugins: PathBuf,
    config: PathBuf,
}

impl Munin {
    fn run(&self, plugin: &str, args: &[&str]) -> String {
        let output = run(Command::new(&self.munin_run)
            .arg("--servicedir")
            .arg(&self.plugins)
            .arg("--sconffile")
            .arg(&self.config)
            .arg(plugin)
            .args(args));
        assert!(
            output.status.success(),
            "munin-run {plugin} {args:?}: {output:?}"
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

/// `NAME.value N` from a fetch.
fn value(fetch: &str, name: &str) -> Option<u64> {
    fetch
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}.value ")))
        .map(|v| v.parse().unwrap())
}

#[test]
fn munin_run_runs_the_plugin_through_its_symlink() {
    let Some(munin_run) = tool_or_skip("munin-run", "MMSTATS_REQUIRE_MUNIN") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let stats = work.path().join("stats");
    let plugins = work.path().join("plugins");
    let state = work.path().join("state");
    for dir in [&stats, &plugins, &state] {
        std::fs::create_dir(dir).unwrap();
    }
    let binary = Path::new(env!("CARGO_BIN_EXE_mmdump"));
    for name in [
        "mmstats_worker__status",
        "mmstats_web__ticks",
        "mmstats_web__conn",
    ] {
        std::os::unix::fs::symlink(binary, plugins.join(name)).unwrap();
    }
    let config = work.path().join("plugin.conf");
    let user = if rustix::process::geteuid().is_root() {
        "user root\n"
    } else {
        ""
    };
    std::fs::write(
        &config,
        format!(
            "[mmstats_*]\n{user}env.MMSTATS_DIR {}\nenv.MUNIN_PLUGSTATE {}\n",
            stats.display(),
            state.display()
        ),
    )
    .unwrap();
    let munin = Munin {
        munin_run,
        plugins,
        config,
    };
    let (demo, _) = start_demo(&stats, 2);
    std::thread::sleep(Duration::from_millis(300));

    assert_eq!(munin.run("mmstats_worker__status", &["autoconf"]), "yes\n");
    let config = munin.run("mmstats_worker__status", &["config"]);
    for line in [
        "graph_title mmstats worker.status",
        "graph_category mmstats",
        "worker_status_2XX.label 2XX",
        "worker_status_2XX.type DERIVE",
        "worker_status_2XX.min 0",
        "worker_status_5XX.label 5XX",
    ] {
        assert!(
            config.lines().any(|l| l == line),
            "{line:?} missing:\n{config}"
        );
    }
    assert!(!config.contains("requests"), "only the subtree:\n{config}");

    let fetch = munin.run("mmstats_worker__status", &[]);
    let ok = value(&fetch, "worker_status_2XX").expect("a 2XX value");
    assert!(ok > 0, "{fetch}");
    // The sum of both workers' files, as `mmdump get` sees it a moment later.
    let get = run(mmdump().args(["get", "worker.status.2XX"]).arg(&stats));
    let later: u64 = String::from_utf8(get.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(ok <= later, "fetch {ok}, get later {later}");

    let suggest = munin.run("mmstats_worker__status", &["suggest"]);
    assert!(suggest.lines().any(|l| l == "worker__status"), "{suggest}");

    // The demo's connections are one name with a `conn` label each:
    // munin sums the label values, so config and fetch list the same two
    // fields however the connections come and go.
    let fields = |text: &str, suffix: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.split_once(' ').map(|(key, _)| key))
            .filter_map(|key| key.strip_suffix(suffix))
            .map(str::to_owned)
            .collect()
    };
    let conn_config = munin.run("mmstats_web__conn", &["config"]);
    let configured = fields(&conn_config, ".label");
    assert_eq!(
        configured,
        ["web_conn_requests", "web_conn_bytes"],
        "{conn_config}"
    );
    for _ in 0..3 {
        let fetch = munin.run("mmstats_web__conn", &[]);
        assert_eq!(fields(&fetch, ".value"), configured, "{fetch}");
        std::thread::sleep(Duration::from_millis(250));
    }

    // Ticks grow by 1000 a second; munin graphs the derivative.
    let before = value(&munin.run("mmstats_web__ticks", &[]), "web_ticks").unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let after = value(&munin.run("mmstats_web__ticks", &[]), "web_ticks").unwrap();
    assert!(
        (700..=1500).contains(&(after - before)),
        "{before} then {after}"
    );

    // The writer exits and removes its files: the sum munin sees does not
    // go back (the plugin keeps the last values in its state directory).
    terminate(demo);
    let gone = value(&munin.run("mmstats_web__ticks", &[]), "web_ticks")
        .expect("kept after the writer left");
    assert!(gone >= after, "{after} then {gone}");
}

/// The `X` of every `X.label` line (config) or `X.value` line (fetch).
fn ids(output: &str, suffix: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(key, _)| key.strip_suffix(suffix))
        .map(str::to_owned)
        .collect()
}

fn munin_setup(extra_config: &str) -> (tempfile::TempDir, PathBuf, Munin) {
    let munin_run = tool_or_skip("munin-run", "MMSTATS_REQUIRE_MUNIN").expect("checked by caller");
    let work = tempfile::tempdir().unwrap();
    let stats = work.path().join("stats");
    let plugins = work.path().join("plugins");
    // A state directory of the test's own: munin-run's default one is
    // shared by every run, and the ledger in it would count the writers of
    // earlier runs as exited (their last values kept in the sums).
    let state = work.path().join("state");
    for dir in [&stats, &plugins, &state] {
        std::fs::create_dir(dir).unwrap();
    }
    let binary = Path::new(env!("CARGO_BIN_EXE_mmdump"));
    for name in ["mmstats_web", "mmstats_http"] {
        std::os::unix::fs::symlink(binary, plugins.join(name)).unwrap();
    }
    let config = work.path().join("plugin.conf");
    let user = if rustix::process::geteuid().is_root() {
        "user root\n"
    } else {
        ""
    };
    std::fs::write(
        &config,
        format!(
            "[mmstats_*]\n{user}env.MMSTATS_DIR {}\nenv.MUNIN_PLUGSTATE {}\n{extra_config}",
            stats.display(),
            state.display()
        ),
    )
    .unwrap();
    let munin = Munin {
        munin_run,
        plugins,
        config,
    };
    (work, stats, munin)
}

#[test]
fn munin_gets_numbers_only_and_the_same_fields_in_config_and_fetch() {
    if tool_or_skip("munin-run", "MMSTATS_REQUIRE_MUNIN").is_none() {
        return;
    }
    let (_work, stats, munin) = munin_setup("");
    // Two writers of the same program: two `web.healthy` bools, and
    // connections that open and close every tick.
    let (first, _) = start_demo(&stats, 1);
    let (second, _) = start_demo(&stats, 1);
    std::thread::sleep(Duration::from_millis(500));
    let mut seen: Option<Vec<String>> = None;
    for round in 0..3 {
        let config = munin.run("mmstats_web", &["config"]);
        let fetch = munin.run("mmstats_web", &[]);
        let configured = ids(&config, ".label");
        let fetched = ids(&fetch, ".value");
        println!("round {round}: {fetched:?}");
        assert_eq!(configured, fetched, "config:\n{config}\nfetch:\n{fetch}");
        if let Some(before) = &seen {
            assert_eq!(before, &fetched, "the field set is stable");
        }
        for line in fetch.lines() {
            let (_, value) = line.split_once(".value ").unwrap();
            assert!(
                value == "U" || value.parse::<f64>().is_ok(),
                "not a number: {line}"
            );
        }
        let healthy = fetch
            .lines()
            .find_map(|l| l.strip_prefix("web_healthy.value "))
            .expect("web.healthy is graphed");
        assert_eq!(healthy, "1", "a bool combined over two files: {fetch}");
        assert!(!fetched.iter().any(|id| id.contains("events")), "{fetch}");
        assert!(
            !fetched.iter().any(|id| id
                .strip_prefix("web_conn_")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))),
            "connections are label values, not field names: {fetch}"
        );
        assert!(
            fetched.iter().any(|id| id.starts_with("web_conn_")),
            "{fetch}"
        );
        seen = Some(fetched);
        std::thread::sleep(Duration::from_millis(1200));
    }
    terminate(first);
    terminate(second);
}

#[test]
fn graph_per_label_writes_a_multigraph_per_label_value() {
    if tool_or_skip("munin-run", "MMSTATS_REQUIRE_MUNIN").is_none() {
        return;
    }
    let (_work, stats, munin) = munin_setup("\n[mmstats_http]\nenv.graph_per_label status\n");
    let file = mmstats::StatsFile::builder("http")
        .dir(&stats)
        .create()
        .unwrap();
    let ok = file
        .with_labels(&[("status", "200")])
        .unwrap()
        .counter("http.responses")
        .unwrap();
    let failed = file
        .with_labels(&[("status", "500")])
        .unwrap()
        .counter("http.responses")
        .unwrap();
    ok.add(7);
    failed.add(2);
    let config = munin.run("mmstats_http", &["config"]);
    println!("{config}");
    for line in [
        "multigraph mmstats_http",
        "multigraph mmstats_http.status_200",
        "multigraph mmstats_http.status_500",
        "graph_title mmstats http status=500",
        "http_responses.type DERIVE",
    ] {
        assert!(
            config.lines().any(|l| l == line),
            "{line:?} missing:\n{config}"
        );
    }
    let fetch = munin.run("mmstats_http", &[]);
    println!("{fetch}");

    let values: Vec<&str> = fetch
        .lines()
        .filter(|l| !l.starts_with("multigraph"))
        .collect();
    // The combined graph, then one per status.
    assert_eq!(
        values,
        [
            "http_responses.value 9",
            "http_responses.value 7",
            "http_responses.value 2"
        ],
        "{fetch}"
    );
}
