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
    /// Scan a memory image instead (a RAM dump, a core file, a raw image;
    /// `-` reads standard input) for format-2 regions at every 8-byte
    /// boundary, and print each with its offset. Repeatable.
    #[arg(long, value_name = "FILE", conflicts_with = "paths")]
    image: Vec<PathBuf>,
    /// With --image: the address of the image's first byte in the
    /// target's memory (0x20000000 or decimal), to print each region's
    /// address.
    #[arg(long, value_name = "ADDR", requires = "image", value_parser = mmstats::image::parse_address)]
    base: Option<u64>,
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
        None if !cli.image.is_empty() => image(&cli.image, cli.base, cli.dump.json),
        None => dump(&cli.dump, false),
        Some(Command::Dump(args)) => dump(&args, false),
        Some(Command::List(args)) => dump(&args, true),
        Some(Command::Demo(args)) => demo(&args),
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

/// `mmdump --image FILE... [--base ADDR] [--json]`.
fn image(paths: &[PathBuf], base: Option<u64>, json: bool) -> io::Result<ExitCode> {
    let report = mmstats::image::collect(paths, base);
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        writeln!(out, "{}", mmstats::image::to_json(&report))?;
    } else {
        mmstats::image::write_text(&mut out, &report)?;
    }
    out.flush()?;
    for line in report.error_lines() {
        eprintln!("mmdump: {line}");
    }
    Ok(if report.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
