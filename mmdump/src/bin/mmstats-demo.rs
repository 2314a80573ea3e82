//! `mmstats-demo`: a demo writer that publishes a simulated web server's
//! stats until it is stopped (Ctrl-C, SIGTERM, or `--seconds`). Prints the
//! path of each file it publishes, then `ready`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Parser;
use mmdump::demo::Demo;
use mmstats::Location;

/// Publish a simulated web server's stats for mmdump to read.
#[derive(Parser, Debug)]
#[command(name = "mmstats-demo", version)]
struct Cli {
    /// Directory for the files (default: $MMSTATS_DIR or /dev/shm/mmstats).
    #[arg(long, conflicts_with = "shm")]
    dir: Option<PathBuf>,
    /// Publish POSIX shared-memory objects (`/dev/shm/mmstats.*.mmstats`)
    /// instead of files in a directory.
    #[arg(long)]
    shm: bool,
    /// Worker threads, each with its own stats file.
    #[arg(long, default_value_t = 3)]
    workers: usize,
    /// Seconds to run (0: until interrupted).
    #[arg(long, default_value_t = 0)]
    seconds: u64,
}

fn location(shm: bool, dir: Option<PathBuf>) -> Option<Location> {
    if shm {
        Some(Location::Shm)
    } else {
        dir.map(Location::Dir)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stop = mmdump::signals::stop_flag();
    let demo = match Demo::start(location(cli.shm, cli.dir), cli.workers) {
        Ok(demo) => demo,
        Err(error) => {
            eprintln!("mmstats-demo: {error}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        for path in demo.paths() {
            let _ = writeln!(out, "{}", path.display());
        }
        let _ = writeln!(out, "ready");
        let _ = out.flush();
    }
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed)
        && (cli.seconds == 0 || started.elapsed() < Duration::from_secs(cli.seconds))
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    demo.stop();
    ExitCode::SUCCESS
}
