//! Issue 15's tool-side figures, for the `report` binary (and the
//! `serve-report` binary, which prints only these):
//!
//! - `mmdump serve` against Debian's `prometheus-node-exporter` (its
//!   textfile collector) exporting the same 100,000 samples (100 files x
//!   1,000 counters, one writer thread per file, served with `--label
//!   thread`): resident memory (`VmRSS`)
//!   idle, after scrape 10 and after the last scrape, and scrape time,
//!   both servers scraped in turn over plain HTTP/1.0;
//! - `mmdump get NAME` against a full `mmdump --json` of one file of
//!   100,000 counters.
//!
//! Ratios are given as min/median/max over rounds: a round of the scrape
//! comparison is a run of consecutive scrapes of both servers; a round of
//! get-vs-dump is a run of both commands in turn. node_exporter is
//! looked for on `PATH` (`prometheus-node-exporter`, then
//! `node_exporter`); without it the report says so and gives serve's
//! figures alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mmstats::StatsFile;

/// Files, and counters per file, of the serve comparison.
pub const SERVE_FILES: usize = 100;
/// Counters per file of the serve comparison.
pub const SERVE_FIELDS: usize = 1_000;
/// Counters of the one file of the get-vs-dump comparison.
pub const GET_FIELDS: usize = 100_000;

/// What to measure.
#[derive(Clone, Debug)]
pub struct ServeReportOptions {
    /// The scrape after which RSS is first compared (10).
    pub early_scrape: usize,
    /// The last scrape (1,000 for the full report; CI uses fewer).
    pub last_scrape: usize,
    /// Rounds the scrapes (and the get/dump runs) are split into.
    pub rounds: usize,
    /// Runs of each command per get-vs-dump round.
    pub get_runs_per_round: usize,
}

impl ServeReportOptions {
    /// The counts for a report with `budget` per case: the full 10 and
    /// 1,000 scrapes from 200 ms up, else 10 and 30 (CI's tiny budget).
    #[must_use]
    pub fn for_budget(budget: Duration) -> Self {
        let full = budget >= Duration::from_millis(200);
        Self {
            early_scrape: 10,
            last_scrape: if full { 1_000 } else { 30 },
            rounds: 5,
            get_runs_per_round: if full { 5 } else { 2 },
        }
    }
}

/// Prints both comparisons (the `report` binary's one call).
pub fn print(budget: Duration) {
    print_with(&ServeReportOptions::for_budget(budget));
}

/// Prints both comparisons with explicit counts.
pub fn print_with(options: &ServeReportOptions) {
    println!("\n### mmdump serve vs prometheus-node-exporter, and get vs dump\n");
    match mmdump_binary() {
        Ok(mmdump) => {
            match serve_vs_node_exporter(&mmdump, options) {
                Ok(()) => {}
                Err(reason) => println!("serve comparison: not measured ({reason})"),
            }
            match get_vs_dump(&mmdump, options) {
                Ok(()) => {}
                Err(reason) => println!("get vs dump: not measured ({reason})"),
            }
        }
        Err(reason) => println!("serve and get: not measured ({reason})"),
    }
}

/// min/median/max of `values`, formatted with `digits` decimals.
fn spread(values: &[f64], digits: usize) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.as_slice() {
        [] => "-".into(),
        s => format!(
            "{:.digits$} / {:.digits$} / {:.digits$}",
            s[0],
            s[s.len() / 2],
            s[s.len() - 1]
        ),
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A process's resident set in bytes (`VmRSS` of `/proc/PID/status`).
#[must_use]
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One `GET path` over a new HTTP/1.0 connection (so that neither
/// server answers chunked: the body runs to the connection's end);
/// returns the body.
fn http_get(address: SocketAddr, path: &str) -> Result<Vec<u8>, String> {
    let mut stream = TcpStream::connect(address).map_err(|e| format!("connect {address}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\nAccept: text/plain\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("reading from {address}: {e}"))?;
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no response head")?;
    let head = String::from_utf8_lossy(&response[..head_end]);
    if !(head.starts_with("HTTP/1.") && head.get(8..13) == Some(" 200 ")) {
        return Err(format!(
            "{address}{path}: {}",
            head.lines().next().unwrap_or("")
        ));
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Err(format!("{address}{path}: chunked answers are not read"));
    }
    Ok(response.split_off(head_end + 4))
}

/// Sample lines (not comments) of a text exposition.
fn samples_in(body: &[u8]) -> usize {
    body.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && l[0] != b'#')
        .count()
}

/// A child killed (and reaped) when dropped.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn rss(&self) -> Result<u64, String> {
        rss_bytes(self.child.id()).ok_or_else(|| "no VmRSS".to_owned())
    }
}

/// Kept stats files: `SERVE_FILES` of `SERVE_FIELDS` counters, each
/// created by its own thread, so that `serve --label thread` exports one
/// series per counter per file (without the label, files of one program
/// are summed into one series per counter).
fn serve_files(dir: &Path) -> Vec<StatsFile> {
    (0..SERVE_FILES)
        .map(|i| {
            let dir = dir.to_owned();
            std::thread::spawn(move || {
                let file = StatsFile::builder(&format!("srv{i}"))
                    .dir(dir)
                    .size((SERVE_FIELDS + 16) * (256 + 8) + 64 * 1024)
                    .table_capacity(SERVE_FIELDS + 8)
                    .create()
                    .expect("a stats file");
                for index in 0..SERVE_FIELDS {
                    file.counter(format!("field.{index}").as_str())
                        .expect("room for the field")
                        .add((index * (i + 1)) as u64);
                }
                file
            })
            .join()
            .expect("the file-making thread")
        })
        .collect()
}

fn start_serve(mmdump: &Path, dir: &Path) -> Result<Server, String> {
    let mut child = Command::new(mmdump)
        .args(["serve", "--label", "thread", "--listen", "127.0.0.1:0"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", mmdump.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    // "mmdump serve: listening on http://127.0.0.1:PORT/ (...)"
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok());
    let mut server = Server {
        child,
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    match address {
        Some(address) => {
            server.address = address;
            Ok(server)
        }
        None => Err(format!("serve said {line:?}")),
    }
}

fn node_exporter_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["prometheus-node-exporter", "node_exporter"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn start_node_exporter(binary: &Path, textfile_dir: &Path) -> Result<Server, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let child = Command::new(binary)
        .arg("--collector.disable-defaults")
        .arg("--collector.textfile")
        .arg(format!(
            "--collector.textfile.directory={}",
            textfile_dir.display()
        ))
        .arg(format!("--web.listen-address={address}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))?;
    let server = Server { child, address };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(address).is_err() {
        if Instant::now() > deadline {
            return Err("node_exporter did not listen within 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(server)
}

/// One server's figures over the scrapes.
#[derive(Default)]
struct Figures {
    idle: u64,
    early: u64,
    last: u64,
    /// Seconds per scrape, in order.
    times: Vec<f64>,
    /// RSS at the end of each round.
    round_rss: Vec<u64>,
    samples: usize,
}

fn scrape_timed(server: &Server, figures: &mut Figures) -> Result<(), String> {
    let started = Instant::now();
    let body = http_get(server.address, "/metrics")?;
    figures.times.push(started.elapsed().as_secs_f64());
    if figures.samples == 0 {
        figures.samples = samples_in(&body);
    }
    Ok(())
}

fn serve_vs_node_exporter(mmdump: &Path, options: &ServeReportOptions) -> Result<(), String> {
    let dir = crate::bench_dir();
    let _files = serve_files(dir.path());
    let serve = start_serve(mmdump, dir.path())?;
    // The same samples for node_exporter: serve's own exposition without
    // its `mmdump_serve_*` families, in a textfile directory.
    let node = match node_exporter_binary() {
        Some(binary) => {
            let body = http_get(serve.address, "/metrics")?;
            let text = String::from_utf8(body).map_err(|e| e.to_string())?;
            let mut kept = String::with_capacity(text.len());
            for line in text.lines() {
                let own = line.starts_with("mmdump_serve_")
                    || line.starts_with("# HELP mmdump_serve_")
                    || line.starts_with("# TYPE mmdump_serve_");
                if !own {
                    kept.push_str(line);
                    kept.push('\n');
                }
            }
            let textfile_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            std::fs::write(textfile_dir.path().join("mmstats.prom"), kept)
                .map_err(|e| e.to_string())?;
            let server = start_node_exporter(&binary, textfile_dir.path())?;
            Some((binary, server, textfile_dir))
        }
        None => None,
    };
    // Idle: started, one scrape (the textfile copy) behind, 2 s of the
    // dashboard sampler's ticks.
    std::thread::sleep(Duration::from_secs(2));
    let mut serve_figures = Figures {
        idle: serve.rss()?,
        ..Figures::default()
    };
    let mut node_figures = Figures::default();
    if let Some((_, server, _)) = &node {
        node_figures.idle = server.rss()?;
    }
    let last = options.last_scrape.max(options.early_scrape).max(1);
    let rounds = options.rounds.clamp(1, last);
    // Rounds of `per_round` scrapes; the last `last % rounds` scrapes
    // count for RSS only.
    let per_round = last / rounds;
    for scrape in 1..=last {
        eprint!("scraping serve and node_exporter: {scrape}/{last}   \r");
        scrape_timed(&serve, &mut serve_figures)?;
        if let Some((_, server, _)) = &node {
            scrape_timed(server, &mut node_figures)?;
        }
        if scrape == options.early_scrape {
            serve_figures.early = serve.rss()?;
            if let Some((_, server, _)) = &node {
                node_figures.early = server.rss()?;
            }
        }
        if scrape % per_round == 0 && serve_figures.round_rss.len() < rounds {
            serve_figures.round_rss.push(serve.rss()?);
            if let Some((_, server, _)) = &node {
                node_figures.round_rss.push(server.rss()?);
            }
        }
    }
    eprintln!("{:<60}", "");
    serve_figures.last = serve.rss()?;
    if let Some((_, server, _)) = &node {
        node_figures.last = server.rss()?;
    }

    println!(
        "{SERVE_FILES} files x {SERVE_FIELDS} counters; serve exports {} samples; \
         scrapes: RSS after scrape {} and {last}, {rounds} rounds of {} scrapes",
        serve_figures.samples, options.early_scrape, per_round
    );
    match &node {
        Some((binary, _, _)) => println!(
            "node_exporter: {} (textfile collector, the same samples: {})",
            binary.display(),
            node_figures.samples
        ),
        None => println!(
            "node_exporter: NOT INSTALLED (no prometheus-node-exporter or node_exporter on PATH): \
             serve's figures alone, no ratios"
        ),
    }
    println!(
        "\n| {:<26} | {:>9} | {:>15} | {:>15} | {:>16} |",
        "server",
        "idle MiB",
        format!("scrape {} MiB", options.early_scrape),
        format!("scrape {last} MiB"),
        "median scrape ms"
    );
    println!(
        "|{:-<28}|{:->11}|{:->15}|{:->15}|{:->17}|",
        "", "", "", "", ""
    );
    let row = |name: &str, f: &Figures| {
        println!(
            "| {:<26} | {:>9.1} | {:>15.1} | {:>15.1} | {:>16.2} |",
            name,
            mib(f.idle),
            mib(f.early),
            mib(f.last),
            median(&f.times) * 1e3
        );
    };
    row("mmdump serve", &serve_figures);
    if node.is_some() {
        row("prometheus-node-exporter", &node_figures);
    }
    println!(
        "\nserve RSS, scrape {last} / scrape {}: {:.3} (goal: within 1.10)",
        options.early_scrape,
        serve_figures.last as f64 / serve_figures.early.max(1) as f64
    );
    if node.is_some() {
        let mut speed = Vec::new();
        let mut memory = Vec::new();
        for round in 0..rounds {
            let range = round * per_round..(round + 1) * per_round;
            speed.push(
                median(&node_figures.times[range.clone()]) / median(&serve_figures.times[range]),
            );
            memory
                .push(serve_figures.round_rss[round] as f64 / node_figures.round_rss[round] as f64);
        }
        println!(
            "serve RSS / node_exporter RSS, min/median/max over rounds: {} (goal: at most 0.50)",
            spread(&memory, 3)
        );
        println!(
            "node_exporter scrape time / serve scrape time, min/median/max over rounds: {} \
             (goal: at least 2.5)",
            spread(&speed, 2)
        );
    }
    Ok(())
}

/// Median seconds of `runs` runs of `mmdump args...` (each checked).
fn time_runs(mmdump: &Path, args: &[&std::ffi::OsStr], runs: usize) -> Result<f64, String> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let output = Command::new(mmdump)
            .args(args)
            .output()
            .map_err(|e| format!("running {}: {e}", mmdump.display()))?;
        times.push(started.elapsed().as_secs_f64());
        if !output.status.success() || output.stdout.is_empty() {
            return Err(format!(
                "mmdump {:?} failed: {}",
                args,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    Ok(median(&times))
}

fn get_vs_dump(mmdump: &Path, options: &ServeReportOptions) -> Result<(), String> {
    let dir = crate::bench_dir();
    let file = crate::region_with_counters(dir.path(), "get100k", GET_FIELDS);
    let path = file.path().as_os_str().to_owned();
    let name = format!("field.{}", GET_FIELDS / 2);
    let expected = format!("{}\n", GET_FIELDS / 2);
    // The answer is checked once: get prints the one value.
    let output = Command::new(mmdump)
        .arg("get")
        .arg(&name)
        .arg(&path)
        .output()
        .map_err(|e| e.to_string())?;
    if output.stdout != expected.as_bytes() {
        return Err(format!(
            "mmdump get {name} printed {:?}, not {expected:?}",
            String::from_utf8_lossy(&output.stdout)
        ));
    }
    let get_args = [std::ffi::OsStr::new("get"), name.as_ref(), &path];
    let dump_args = [std::ffi::OsStr::new("--json"), &path];
    let mut ratios = Vec::new();
    let mut gets = Vec::new();
    let mut dumps = Vec::new();
    for round in 0..options.rounds.max(1) {
        eprint!("timing get and dump: round {}   \r", round + 1);
        let get = time_runs(mmdump, &get_args, options.get_runs_per_round.max(1))?;
        let dump = time_runs(mmdump, &dump_args, options.get_runs_per_round.max(1))?;
        gets.push(get * 1e3);
        dumps.push(dump * 1e3);
        ratios.push(get / dump);
    }
    eprintln!("{:<60}", "");
    println!(
        "\nmmdump get {name} vs mmdump --json, one file of {GET_FIELDS} counters, \
         {} rounds of {} runs each (processes, end to end)",
        ratios.len(),
        options.get_runs_per_round.max(1)
    );
    println!("get ms, min/median/max over rounds: {}", spread(&gets, 2));
    println!("dump ms, min/median/max over rounds: {}", spread(&dumps, 2));
    println!(
        "get / dump, min/median/max over rounds: {} (goal: at most 0.10)",
        spread(&ratios, 3)
    );
    Ok(())
}

/// The release `mmdump` beside the running binary, built first if
/// missing (when run through cargo).
pub fn mmdump_binary() -> Result<PathBuf, String> {
    let here = std::env::current_exe().map_err(|e| e.to_string())?;
    let binary = here.with_file_name("mmdump");
    if !binary.exists() {
        let cargo = std::env::var_os("CARGO").ok_or("mmdump is not built and cargo is unknown")?;
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "-q",
                "-p",
                "mmdump",
                "--bin",
                "mmdump",
            ])
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("building mmdump failed".into());
        }
    }
    if binary.exists() {
        Ok(binary)
    } else {
        Err(format!("no {}", binary.display()))
    }
}
