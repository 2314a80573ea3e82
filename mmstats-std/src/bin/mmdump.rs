//! `mmdump`: read mmstats files (format 2 and legacy v1).
//!
//! Exit codes: 0 when every file was read, 1 when any file (or field)
//! could not be read (the others are still printed), 2 for a usage error.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mmstats::demo::Demo;
use mmstats::dump::{self, Report};

/// Read the stats that programs publish in shared memory with mmstats.
///
/// With no subcommand, dumps every field of every stats file: those in
/// $MMSTATS_DIR (default /dev/shm/mmstats, plus /dev/shm/mmstats.* shared
/// memory objects), or the files, directories and wildcard patterns given.
/// Legacy v1 files of the original Python mmstats are read too.
#[derive(Parser, Debug)]
#[command(name = "mmdump", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    dump: DumpArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print every field of every file (the default): a header line per
    /// file, then aligned "name value kind unit" lines.
    Dump(DumpArgs),
    /// One line per file: format, writer pid, whether the writer is alive
    /// (judged by its lock, or pid plus process start time), age, fields.
    List(DumpArgs),
    /// Start a demo writer (a simulated web server with a few worker
    /// threads) and show its live values once a second.
    Demo(DemoArgs),
    /// Follow event rings live: print each record (text or JSON lines),
    /// report records the writer overwrote before they were read ("missed
    /// 1,024 events"), turn spans into durations, archive to a file.
    Tail(TailArgs),
}

#[derive(Args, Debug)]
struct TailArgs {
    /// Stats files, directories or wildcard patterns; default: the stats
    /// directory. New files are picked up as they appear.
    paths: Vec<PathBuf>,
    /// Only rings whose field name matches this wildcard pattern.
    #[arg(long)]
    ring: Option<String>,
    /// Print JSON lines instead of text.
    #[arg(long)]
    json: bool,
    /// Print span durations (from span enter and exit records) instead of
    /// the records themselves.
    #[arg(long)]
    spans: bool,
    /// Also append every event to this file as JSON lines (created 0600;
    /// never truncated; symbolic links refused).
    #[arg(long)]
    archive: Option<PathBuf>,
    /// Skip the records already in the rings; show only new ones.
    #[arg(long)]
    new: bool,
    /// Print what the rings hold now and exit.
    #[arg(long)]
    once: bool,
    /// Stop after this many records.
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    seconds: Option<u64>,
    /// Milliseconds between polls.
    #[arg(long, default_value_t = 100)]
    interval_ms: u64,
}

#[derive(Args, Debug)]
struct DumpArgs {
    /// Stats files, directories or wildcard patterns (quoted, such as
    /// '/dev/shm/mmstats/web-*'); default: the stats directory.
    paths: Vec<PathBuf>,
    /// Print one JSON document (schema 1) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Seconds to run (0: until interrupted).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Worker threads, each with its own stats file.
    #[arg(long, default_value_t = 3)]
    workers: usize,
    /// Directory for the demo's files (default: the stats directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => dump(&cli.dump, false),
        Some(Command::Dump(args)) => dump(&args, false),
        Some(Command::List(args)) => dump(&args, true),
        Some(Command::Demo(args)) => demo(&args),
        Some(Command::Tail(args)) => tail(args),
    };
    match result {
        Ok(code) => code,
        // A closed pipe (`mmdump | head`) is the reader saying it has
        // enough: not an error.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mmdump: {error}");
            ExitCode::FAILURE
        }
    }
}

fn report_errors(report: &Report) {
    for (path, error) in &report.errors {
        eprintln!(
            "mmdump: {}: {}",
            dump::printable(&path.display().to_string()),
            error
        );
    }
    for file in &report.files {
        for problem in &file.problems {
            eprintln!(
                "mmdump: {}: {}",
                dump::printable(&file.path.display().to_string()),
                dump::printable(problem)
            );
        }
    }
}

fn dump(args: &DumpArgs, list: bool) -> io::Result<ExitCode> {
    let report = dump::collect(&args.paths);
    let mut out = BufWriter::new(io::stdout().lock());
    match (list, args.json) {
        (false, false) => dump::write_text(&mut out, &report)?,
        (true, false) => dump::write_list(&mut out, &report)?,
        (false, true) => writeln!(out, "{}", dump::to_json(&report))?,
        (true, true) => writeln!(out, "{}", dump::list_json(&report))?,
    }
    out.flush()?;
    report_errors(&report);
    if report.files.is_empty() && report.errors.is_empty() && args.paths.is_empty() && !args.json {
        eprintln!(
            "mmdump: no stats files in {} (run `mmdump demo` to see some)",
            mmstats::default_dir().display()
        );
    }
    Ok(if report.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn tail(args: TailArgs) -> io::Result<ExitCode> {
    use mmstats::tail::{RunOptions, Start, TailOptions};
    let options = RunOptions {
        tail: TailOptions {
            paths: args.paths,
            ring: args.ring,
            start: if args.new {
                Start::Newest
            } else {
                Start::Oldest
            },
            spans: args.spans,
            ..TailOptions::default()
        },
        json: args.json,
        archive: args.archive,
        interval: Duration::from_millis(args.interval_ms.max(1)),
        once: args.once,
        max_records: args.count,
        duration: args.seconds.map(Duration::from_secs),
    };
    let stop = mmstats::signals::stop_flag();
    let mut out = BufWriter::new(io::stdout().lock());
    let (_, ok) = mmstats::tail::run(&options, stop, &mut out, &mut io::stderr())?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn demo(args: &DemoArgs) -> io::Result<ExitCode> {
    let stop = mmstats::signals::stop_flag();
    let demo = Demo::start(args.dir.clone(), args.workers).map_err(io::Error::other)?;
    let mut out = BufWriter::new(io::stdout().lock());
    writeln!(
        out,
        "demo writer publishing {} files; reading them back once a second{}",
        demo.paths().len(),
        if args.seconds == 0 {
            " (Ctrl-C stops)"
        } else {
            ""
        }
    )?;
    out.flush()?;
    let main_file = demo.paths()[..1].to_vec();
    let mut second = 0;
    while (args.seconds == 0 || second < args.seconds)
        && !stop.load(std::sync::atomic::Ordering::Relaxed)
    {
        std::thread::sleep(Duration::from_secs(1));
        second += 1;
        writeln!(out, "\n--- after {second}s ---")?;
        dump::write_text(&mut out, &dump::collect(&main_file))?;
        out.flush()?;
    }
    writeln!(out, "\n--- every demo file, last read ---")?;
    let report = dump::collect(demo.paths());
    dump::write_text(&mut out, &report)?;
    out.flush()?;
    report_errors(&report);
    demo.stop();
    Ok(if report.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
