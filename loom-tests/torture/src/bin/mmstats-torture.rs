//! `mmstats-torture`: the cross-process torture test of the latch cells.
//!
//! `mmstats-torture run` (the default) starts a writer process and reader
//! processes (this same binary, re-executed with the `writer` and `reader`
//! roles), lets them run, kills the writer with `SIGKILL` in mid-stream,
//! and has the readers check the values it left behind; it repeats that
//! for `--cycles` cycles, under a watchdog, and prints reads, retries,
//! torn values (must be 0) and reads per second. Exit code 0 only if no
//! value was torn, every reader read, and every value was consistent and
//! stable after every kill. See `mmstats_torture` for what is checked.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use mmstats_torture::{self as torture, AVERAGE_FIELDS, ReaderTally, TEXT_FIELDS};

/// Cross-process torture test: one writer rewriting multi-word values as
/// fast as it can, reader processes verifying every value, and a SIGKILL
/// of the writer in mid-stream.
#[derive(Parser, Debug)]
#[command(name = "mmstats-torture", version)]
struct Cli {
    #[command(subcommand)]
    role: Option<Role>,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// Run the whole test (the default, with default settings).
    Run(RunArgs),
    /// The writer process (started by `run`).
    Writer {
        /// Directory for the stats file.
        #[arg(long)]
        dir: PathBuf,
        /// Stop by itself after this many seconds (a safety net).
        #[arg(long, default_value_t = 600)]
        max_seconds: u64,
    },
    /// A reader process (started by `run`).
    Reader {
        /// The writer's stats file.
        #[arg(long)]
        path: PathBuf,
    },
}

#[derive(clap::Args, Debug, Clone)]
struct RunArgs {
    /// Seconds the readers read while the writer runs, per cycle.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Writer lifetimes, each ended by SIGKILL.
    #[arg(long, default_value_t = 1)]
    cycles: u32,
    /// Reader processes.
    #[arg(long, default_value_t = 2)]
    readers: usize,
    /// Stop (after the current cycle) once the readers verified this many
    /// values in all; 0 means run every cycle.
    #[arg(long, default_value_t = 0)]
    target_reads: u64,
    /// Directory for the stats files (default: a new directory in
    /// /dev/shm, or in the temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Kill everything and fail if the whole run takes longer than this
    /// many seconds (default: twice the planned time plus a minute).
    #[arg(long)]
    watchdog: Option<u64>,
}

impl Default for RunArgs {
    fn default() -> Self {
        Self {
            seconds: 5.0,
            cycles: 1,
            readers: 2,
            target_reads: 0,
            dir: None,
            watchdog: None,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.role.unwrap_or(Role::Run(RunArgs::default())) {
        Role::Run(args) => exit_code(run(&args)),
        Role::Writer { dir, max_seconds } => {
            exit_code(torture::run_writer(&dir, max_seconds).map(|()| true))
        }
        Role::Reader { path } => exit_code(torture::run_reader(&path).map(|tally| tally.torn == 0)),
    }
}

/// Success only for `Ok(true)`; an error is printed.
fn exit_code<E: std::fmt::Display>(result: Result<bool, E>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("mmstats-torture: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Why a run stopped before it could say PASS or FAIL.
#[derive(Debug)]
#[non_exhaustive]
enum TortureRunError {
    /// The directory for the stats files could not be created.
    Dir(std::io::Error),
    /// A writer or reader process could not be started.
    Spawn {
        role: &'static str,
        source: std::io::Error,
    },
    /// A child process was started without its stdout pipe.
    NoStdout { role: &'static str },
    /// Talking to, killing or waiting for a child process failed.
    Child {
        role: &'static str,
        source: std::io::Error,
    },
    /// The writer's first line was not `ready PATH`.
    WriterNotReady { line: String },
    /// The writer exited by itself before the SIGKILL.
    WriterExitedEarly,
}

impl std::fmt::Display for TortureRunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(error) => write!(f, "cannot create the directory: {error}"),
            Self::Spawn { role, source } => write!(f, "cannot start a {role}: {source}"),
            Self::NoStdout { role } => write!(f, "the {role} has no stdout"),
            Self::Child { role, source } => write!(f, "{role}: {source}"),
            Self::WriterNotReady { line } => write!(f, "writer said {line:?} instead of ready"),
            Self::WriterExitedEarly => write!(f, "the writer exited before it was killed"),
        }
    }
}

impl std::error::Error for TortureRunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Dir(error) => Some(error),
            Self::Spawn { source, .. } | Self::Child { source, .. } => Some(source),
            Self::NoStdout { .. } | Self::WriterNotReady { .. } | Self::WriterExitedEarly => None,
        }
    }
}

/// `map_err` for a failed exchange with the child `role`.
fn child_error(role: &'static str) -> impl Fn(std::io::Error) -> TortureRunError {
    move |source| TortureRunError::Child { role, source }
}

/// Child pids the watchdog kills if the run overstays.
type Children = Arc<Mutex<Vec<u32>>>;

fn spawn(role: &'static str, args: &[&str], children: &Children) -> Result<Child, TortureRunError> {
    let spawn_error = |source| TortureRunError::Spawn { role, source };
    let child = Command::new(std::env::current_exe().map_err(spawn_error)?)
        .arg(role)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    children
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(child.id());
    Ok(child)
}

fn start_watchdog(limit: Duration, children: Children) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("mmstats-torture: watchdog: no result after {limit:?}; killing everything");
        let pids = children
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for pid in pids {
            if let Some(pid) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        std::process::exit(3);
    });
}

/// A reader process and its pipes.
struct ReaderChild {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

/// What one cycle gave.
#[derive(Default)]
struct CycleTotals {
    tally: ReaderTally,
    readers_ok: bool,
    seconds: f64,
}

fn run_cycle(
    args: &RunArgs,
    dir: &Path,
    children: &Children,
) -> Result<CycleTotals, TortureRunError> {
    let mut writer = spawn("writer", &["--dir", &dir.to_string_lossy()], children)?;
    let mut line = String::new();
    BufReader::new(
        writer
            .stdout
            .take()
            .ok_or(TortureRunError::NoStdout { role: "writer" })?,
    )
    .read_line(&mut line)
    .map_err(child_error("writer"))?;
    let path = PathBuf::from(
        line.trim()
            .strip_prefix("ready ")
            .ok_or_else(|| TortureRunError::WriterNotReady { line: line.clone() })?,
    );
    let mut readers = Vec::new();
    for _ in 0..args.readers {
        let mut child = spawn("reader", &["--path", &path.to_string_lossy()], children)?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(
            child
                .stdout
                .take()
                .ok_or(TortureRunError::NoStdout { role: "reader" })?,
        );
        readers.push(ReaderChild {
            child,
            stdin,
            stdout,
        });
    }
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(args.seconds));
    if writer.try_wait().map_err(child_error("writer"))?.is_some() {
        return Err(TortureRunError::WriterExitedEarly);
    }
    // SIGKILL, in the middle of whatever write the writer is doing.
    writer.kill().map_err(child_error("writer"))?;
    writer.wait().map_err(child_error("writer"))?;
    let seconds = started.elapsed().as_secs_f64();
    let mut totals = CycleTotals {
        tally: ReaderTally {
            post_kill_stable: true,
            writer_seen_dead: true,
            ..ReaderTally::default()
        },
        readers_ok: true,
        seconds,
    };
    for reader in &mut readers {
        if let Some(mut stdin) = reader.stdin.take() {
            writeln!(stdin, "killed").map_err(child_error("reader"))?;
        }
    }
    for mut reader in readers {
        let mut line = String::new();
        reader
            .stdout
            .read_line(&mut line)
            .map_err(child_error("reader"))?;
        let status = reader.child.wait().map_err(child_error("reader"))?;
        match ReaderTally::from_line(line.trim()) {
            Some(tally) => {
                let total = &mut totals.tally;
                total.reads += tally.reads;
                total.retries += tally.retries;
                total.gave_up += tally.gave_up;
                total.torn += tally.torn;
                total.max_round = total.max_round.max(tally.max_round);
                total.post_kill_reads += tally.post_kill_reads;
                total.post_kill_stable &= tally.post_kill_stable;
                total.writer_seen_dead &= tally.writer_seen_dead;
                total.micros = total.micros.max(tally.micros);
                total.ring_records += tally.ring_records;
                total.ring_missed += tally.ring_missed;
                totals.readers_ok &= status.success() && tally.reads > 0;
            }
            None => {
                eprintln!("mmstats-torture: a reader failed ({status}): {line:?}");
                totals.readers_ok = false;
            }
        }
    }
    // The killed writer could not remove its file.
    let _ = std::fs::remove_file(&path);
    Ok(totals)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn run(args: &RunArgs) -> Result<bool, TortureRunError> {
    let (dir, made_dir) = match &args.dir {
        Some(dir) => (dir.clone(), false),
        None => {
            let base = if Path::new("/dev/shm").is_dir() {
                PathBuf::from("/dev/shm")
            } else {
                std::env::temp_dir()
            };
            let dir = base.join(format!("mmstats-torture-{}", std::process::id()));
            std::fs::create_dir(&dir).map_err(TortureRunError::Dir)?;
            (dir, true)
        }
    };
    let children: Children = Arc::new(Mutex::new(Vec::new()));
    let planned = args.seconds * f64::from(args.cycles);
    let limit = args.watchdog.map_or_else(
        || Duration::from_secs_f64(planned * 2.0 + 60.0),
        Duration::from_secs,
    );
    start_watchdog(limit, Arc::clone(&children));

    let texts: Vec<String> = TEXT_FIELDS
        .iter()
        .map(|(_, capacity, buffers)| format!("{capacity} B x{buffers}"))
        .collect();
    let averages: Vec<String> = AVERAGE_FIELDS
        .iter()
        .map(|(_, buffers)| format!("x{buffers}"))
        .collect();
    println!(
        "mmstats-torture: up to {} cycles of {} s, {} reader processes; strings {}; averages {}; \
         a histogram; an event ring of {} records",
        args.cycles,
        args.seconds,
        args.readers,
        texts.join(", "),
        averages.join(", "),
        torture::RING_CAPACITY
    );
    let mut all = ReaderTally {
        post_kill_stable: true,
        writer_seen_dead: true,
        ..ReaderTally::default()
    };
    let mut ok = true;
    let mut seconds = 0.0;
    let mut kills = 0;
    for cycle in 1..=args.cycles {
        let totals = run_cycle(args, &dir, &children)?;
        let t = &totals.tally;
        kills += 1;
        println!(
            "cycle {cycle}: writer reached round {} ({}/s) before SIGKILL; readers: {} reads \
             ({}/s), {} retries, {} gave up, {} torn, {} ring records verified ({} overwritten \
             first); after SIGKILL: {} reads, {}, {}",
            thousands(t.max_round),
            thousands((t.max_round as f64 / totals.seconds) as u64),
            thousands(t.reads),
            thousands((t.reads as f64 / totals.seconds) as u64),
            thousands(t.retries),
            thousands(t.gave_up),
            t.torn,
            thousands(t.ring_records),
            thousands(t.ring_missed),
            thousands(t.post_kill_reads),
            if t.post_kill_stable {
                "every value consistent and stable"
            } else {
                "VALUES INCONSISTENT OR CHANGING"
            },
            if t.writer_seen_dead {
                "writer seen dead"
            } else {
                "WRITER NOT SEEN DEAD"
            },
        );
        ok &= totals.readers_ok && t.torn == 0 && t.post_kill_stable && t.writer_seen_dead;
        all.reads += t.reads;
        all.retries += t.retries;
        all.gave_up += t.gave_up;
        all.torn += t.torn;
        all.post_kill_reads += t.post_kill_reads;
        all.ring_records += t.ring_records;
        all.ring_missed += t.ring_missed;
        all.post_kill_stable &= t.post_kill_stable;
        all.writer_seen_dead &= t.writer_seen_dead;
        seconds += totals.seconds;
        if args.target_reads > 0 && all.reads >= args.target_reads {
            break;
        }
    }
    ok &= all.reads > 0;
    println!(
        "total: {} verified reads in {:.1} s ({} reads/s), {} retries, {} gave up, torn {}; \
         {} ring records verified, {} overwritten first; {} SIGKILLs, {} reads after them, \
         last values {}",
        thousands(all.reads),
        seconds,
        thousands((all.reads as f64 / seconds.max(1e-9)) as u64),
        thousands(all.retries),
        thousands(all.gave_up),
        all.torn,
        thousands(all.ring_records),
        thousands(all.ring_missed),
        kills,
        thousands(all.post_kill_reads),
        if all.post_kill_stable {
            "consistent"
        } else {
            "INCONSISTENT"
        },
    );
    println!("{}", if ok { "PASS" } else { "FAIL" });
    if made_dir {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(ok)
}
