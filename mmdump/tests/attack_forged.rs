//! Attack 1 of issue 11: forged headers. A valid stats file is copied and
//! its prologue forged to claim far more than the file holds: billions of
//! fields, a terabyte region, all but a few hundred KiB of it holes of a
//! sparse file. Every `mmdump` subcommand must name the forged file in an
//! error within seconds, stay under a memory bound, and keep showing the
//! good file beside it.
//!
//! Each child runs under a watchdog that kills it (and fails the test)
//! when it runs longer than [`DEADLINE`] or when its resident memory,
//! sampled every few milliseconds, passes [`RESIDENT_LIMIT_KIB`]: an
//! attack that makes the reader allocate, or fault in the holes of the
//! sparse file (which costs real memory on tmpfs), fails the test instead
//! of taking the machine down. No address-space limit: mapping a large
//! sparse file costs address space only, and a limit would turn the
//! attack into a plain `mmap` failure that hides what the reader does.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mmstats::StatsFile;

/// A child that runs longer than this has hung (or is walking holes).
const DEADLINE: Duration = Duration::from_secs(10);

/// Resident memory (`VmRSS`, file pages mapped included) a child may
/// reach; a reader of two small files needs a few MiB.
const RESIDENT_LIMIT_KIB: u64 = 256 << 10;

/// Word indices of prologue fields (`mmstats_nostd::layout::Prologue`).
const HEADER_LEN_WORD: usize = 2;
const REGION_LEN_WORD: usize = 3;
const TABLE_OFFSET_WORD: usize = 10;
const TABLE_CAPACITY_WORD: usize = 11;
const FIELD_COUNT_WORD: usize = 12;
const DATA_OFFSET_WORD: usize = 13;
const DATA_LEN_WORD: usize = 14;
const ENTRY_WORDS: usize = 32;
const ENTRY_VALUE_OFFSET_WORD: usize = 2;

/// What the forged prologue claims.
#[derive(Clone, Copy, Debug)]
enum Forgery {
    /// Field count and table capacity `fields`, the value area moved past
    /// the table: every prologue check passes.
    Fields { fields: u64 },
    /// Only the table capacity, with the region grown to hold it.
    Capacity { capacity: u64 },
    /// Only the region and value-area length.
    RegionLen { region_len: u64 },
}

/// A good file and a forged one in a fresh directory on tmpfs.
struct Scene {
    dir: tempfile::TempDir,
    good: PathBuf,
    forged: PathBuf,
}

fn words_of(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

fn bytes_of(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

impl Scene {
    fn new(forgery: Forgery) -> Self {
        let base = if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        };
        let dir = tempfile::Builder::new()
            .prefix("attack-forged")
            .tempdir_in(base)
            .unwrap();
        let good = {
            let stats = StatsFile::builder("good")
                .dir(dir.path())
                .keep(true)
                .create()
                .unwrap();
            stats.counter("good.requests").unwrap().add(4242);
            stats.event_ring("good.events").unwrap().event(7, &[1, 2]);
            stats.path()
        };
        let victim = {
            let stats = StatsFile::builder("victim")
                .dir(dir.path())
                .keep(true)
                .create()
                .unwrap();
            stats.counter("victim.hits").unwrap().add(3);
            stats.text("victim.state").unwrap().set("up");
            stats.histogram("victim.latency").unwrap().record(17);
            stats.event_ring("victim.events").unwrap().event(9, &[5]);
            stats.path()
        };
        let forged = dir.path().join("forged.mmstats");
        forge(&victim, &forged, forgery);
        fs::remove_file(&victim).unwrap();
        Self { dir, good, forged }
    }

    fn forged_name(&self) -> String {
        self.forged.display().to_string()
    }
}

/// Writes `to`: the file `from` with its prologue forged as `forgery`
/// says, sparse beyond the bytes really written.
fn forge(from: &Path, to: &Path, forgery: Forgery) {
    let mut words = words_of(&fs::read(from).unwrap());
    let header_len = words[HEADER_LEN_WORD] & 0xffff_ffff;
    assert_eq!(header_len, 256);
    let table_offset = words[TABLE_OFFSET_WORD];
    let old_data = words[DATA_OFFSET_WORD];
    let data_len = words[DATA_LEN_WORD];
    let count = words[FIELD_COUNT_WORD];
    let values = bytes_of(&words[(old_data / 8) as usize..((old_data + data_len) / 8) as usize]);
    let table = (table_offset / 8) as usize;
    let (new_data, region_len) = match forgery {
        Forgery::Fields { fields } => {
            words[FIELD_COUNT_WORD] = fields;
            words[TABLE_CAPACITY_WORD] = fields;
            let new_data = table_offset + fields * 256;
            (new_data, new_data + data_len)
        }
        Forgery::Capacity { capacity } => {
            words[TABLE_CAPACITY_WORD] = capacity;
            let new_data = table_offset + capacity * 256;
            (new_data, new_data + data_len)
        }
        Forgery::RegionLen { region_len } => {
            words[DATA_LEN_WORD] = region_len - old_data;
            (old_data, region_len)
        }
    };
    // The entries follow their values to the new value area.
    for entry in 0..count as usize {
        words[table + entry * ENTRY_WORDS + ENTRY_VALUE_OFFSET_WORD] += new_data - old_data;
    }
    words[DATA_OFFSET_WORD] = new_data;
    words[REGION_LEN_WORD] = region_len;
    let head = bytes_of(&words[..table + count as usize * ENTRY_WORDS]);
    let file = File::create(to).unwrap();
    file.write_all_at(&head, 0).unwrap();
    file.write_all_at(&values, new_data).unwrap();
    file.set_len(region_len).unwrap();
}

/// What a child did before it ended or was stopped.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// Peak resident memory (VmHWM) seen while it ran, KiB.
    peak_kib: u64,
}

fn mmdump() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mmdump"));
    command
        .env_remove("MMSTATS_DIR")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// `VmRSS` and `VmHWM` of a running child, KiB.
fn memory_kib(child: &Child) -> (u64, u64) {
    let Ok(status) = fs::read_to_string(format!("/proc/{}/status", child.id())) else {
        return (0, 0);
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Samples the child's memory: kills it and fails when it passes the
/// limit; returns the peak seen so far.
fn watch_memory(what: &str, child: &mut Child, peak: &mut u64) {
    let (resident, high_water) = memory_kib(child);
    *peak = (*peak).max(resident).max(high_water);
    if *peak > RESIDENT_LIMIT_KIB {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{what}: resident memory reached {peak} KiB, over {RESIDENT_LIMIT_KIB} KiB (killed)"
        );
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// Runs `command` to its end; a child still running at [`DEADLINE`] is
/// killed and fails the test.
fn finish(what: &str, command: &mut Command) -> Ran {
    let mut child = command.spawn().unwrap();
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let started = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        watch_memory(what, &mut child, &mut peak);
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {DEADLINE:?} (killed)");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Ran {
        code: status.code(),
        stdout: stdout.recv().unwrap_or_default(),
        stderr: stderr.recv().unwrap_or_default(),
        peak_kib: peak,
    }
}

/// Runs `command` for `run_for`, asserts it is still alive then (a
/// follower must not die of one forged file), and stops it.
fn run_briefly(what: &str, command: &mut Command, run_for: Duration) -> Ran {
    let mut child = command.spawn().unwrap();
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let started = Instant::now();
    let mut peak = 0;
    while started.elapsed() < run_for {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "{what}: died with {status} within {run_for:?}: {}{}",
                stdout.recv().unwrap_or_default(),
                stderr.recv().unwrap_or_default()
            );
        }
        watch_memory(what, &mut child, &mut peak);
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ran {
        code: None,
        stdout: stdout.recv_timeout(DEADLINE).unwrap_or_default(),
        stderr: stderr.recv_timeout(DEADLINE).unwrap_or_default(),
        peak_kib: peak,
    }
}

fn assert_names_forged(what: &str, scene: &Scene, ran: &Ran) {
    let name = scene.forged_name();
    assert!(
        ran.stderr.contains(&name) || ran.stdout.contains(&name),
        "{what}: no error names {name}: {ran:?}"
    );
    assert!(
        ran.peak_kib < RESIDENT_LIMIT_KIB,
        "{what}: peak resident memory {} KiB: {ran:?}",
        ran.peak_kib
    );
}

fn assert_error_for_forged(what: &str, scene: &Scene, ran: &Ran) {
    assert_names_forged(what, scene, ran);
    let text = format!("{}{}", ran.stdout, ran.stderr);
    assert!(
        !text.contains("memory allocation of"),
        "{what}: aborted on an allocation: {ran:?}"
    );
}

/// Every subcommand against the scene: the forged file gets an error that
/// names it, the good file still prints.
fn attack_every_subcommand(forgery: Forgery) {
    let scene = Scene::new(forgery);
    let dir = scene.dir.path();
    let good_value = "4242";

    // The dump-like commands: exit code 1, the good file printed.
    for args in [vec!["list"], vec!["dump"], vec!["--json"], vec!["tree"]] {
        let what = format!("mmdump {}", args.join(" "));
        let ran = finish(&what, mmdump().args(&args).arg(dir));
        assert_error_for_forged(&what, &scene, &ran);
        assert_eq!(ran.code, Some(1), "{what}: exit code: {ran:?}");
        let good_shown = if args == ["list"] {
            scene
                .good
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        } else {
            good_value.to_owned()
        };
        assert!(
            ran.stdout.contains(&good_shown),
            "{what}: the good file is missing: {ran:?}"
        );
    }

    let what = "mmdump get good.requests";
    let ran = finish(what, mmdump().args(["get", "good.requests"]).arg(dir));
    assert_error_for_forged(what, &scene, &ran);
    assert!(ran.stdout.contains(good_value), "{what}: {ran:?}");

    let what = "mmdump munin fetch";
    let ran = finish(
        what,
        mmdump()
            .args(["munin", "--plugin", "mmstats_good", "fetch"])
            .env("MMSTATS_DIR", dir),
    );
    assert_error_for_forged(what, &scene, &ran);
    assert!(ran.stdout.contains(good_value), "{what}: {ran:?}");

    let what = "mmdump watch --count 2";
    let ran = finish(
        what,
        mmdump()
            .args(["watch", "--lines", "--count", "2", "--interval", "0.2"])
            .arg(dir),
    );
    assert_error_for_forged(what, &scene, &ran);
    assert!(ran.stdout.contains("good.requests"), "{what}: {ran:?}");

    let what = "mmdump tail --once";
    let ran = finish(what, mmdump().args(["tail", "--once"]).arg(dir));
    assert_error_for_forged(what, &scene, &ran);
    assert!(ran.stdout.contains("good.events"), "{what}: {ran:?}");

    let what = "mmdump tail (following)";
    let ran = run_briefly(
        what,
        mmdump().args(["tail", "--interval-ms", "20"]).arg(dir),
        Duration::from_secs(2),
    );
    assert_error_for_forged(what, &scene, &ran);
    assert!(ran.stdout.contains("good.events"), "{what}: {ran:?}");

    let db = dir.join("record.db");
    let what = "mmdump record --count 1";
    let ran = finish(
        what,
        mmdump()
            .args(["record", "--count", "1", "--db"])
            .arg(&db)
            .arg(dir),
    );
    assert_error_for_forged(what, &scene, &ran);
    assert!(db.exists(), "{what}: no database: {ran:?}");

    serve_keeps_serving(&scene, good_value);

    // The forged file as a memory image, beside the good one.
    let what = "mmdump --image";
    let ran = finish(
        what,
        mmdump()
            .arg("--image")
            .arg(&scene.forged)
            .arg("--image")
            .arg(&scene.good),
    );
    assert_error_for_forged(what, &scene, &ran);
    assert!(ran.stdout.contains(good_value), "{what}: {ran:?}");
}

/// `mmdump serve` keeps answering, with the good file's value, while the
/// forged file sits beside it.
fn serve_keeps_serving(scene: &Scene, good_value: &str) {
    let what = "mmdump serve";
    let mut child = mmdump()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg(scene.dir.path())
        .spawn()
        .unwrap();
    let stderr = drain(child.stderr.take().unwrap());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    let kill = |child: &mut Child| {
        let _ = child.kill();
        let _ = child.wait();
    };
    let Ok(line) = rx.recv_timeout(DEADLINE) else {
        kill(&mut child);
        panic!("{what}: did not say where it listens: {:?}", stderr.recv());
    };
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    let started = Instant::now();
    let mut peak = 0;
    let mut body = String::new();
    // Several scrapes over a second: the server reads the files again.
    for _ in 0..5 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what}: died with {status}: {:?}", stderr.recv());
        }
        body = get(&address, "/metrics").unwrap_or_else(|error| {
            kill(&mut child);
            panic!("{what}: /metrics failed: {error}");
        });
        for _ in 0..100 {
            watch_memory(what, &mut child, &mut peak);
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let files = get(&address, "/api/v1/files").unwrap_or_default();
    let alive = child.try_wait().unwrap().is_none();
    kill(&mut child);
    let ran = Ran {
        code: None,
        stdout: format!("{body}\n{files}"),
        stderr: stderr.recv_timeout(DEADLINE).unwrap_or_default(),
        peak_kib: peak,
    };
    assert!(alive, "{what}: died: {ran:?}");
    assert!(started.elapsed() < DEADLINE, "{what}: too slow: {ran:?}");
    assert!(ran.stdout.contains(good_value), "{what}: {ran:?}");
    assert_error_for_forged(what, scene, &ran);
}

/// A bare HTTP/1.1 GET, with a deadline on every read.
fn get(address: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(DEADLINE))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

#[test]
fn forged_field_count_of_four_billion_in_a_sparse_terabyte() {
    attack_every_subcommand(Forgery::Fields { fields: 1 << 32 });
}

#[test]
fn forged_field_count_filling_a_sparse_gibibyte() {
    // As many entries as fit in 1 GiB with the value area behind them.
    attack_every_subcommand(Forgery::Fields {
        fields: ((1 << 30) - (1 << 20)) / 256,
    });
}

#[test]
fn forged_field_count_at_the_reader_limit_over_holes() {
    attack_every_subcommand(Forgery::Fields {
        fields: mmstats_nostd::MAX_READER_FIELDS as u64,
    });
}

#[test]
fn forged_table_capacity_of_four_billion_in_a_sparse_terabyte() {
    attack_every_subcommand(Forgery::Capacity { capacity: 1 << 32 });
}

#[test]
fn forged_region_len_of_a_sparse_terabyte() {
    attack_every_subcommand(Forgery::RegionLen {
        region_len: 1 << 40,
    });
}
