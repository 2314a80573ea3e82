//! `mmdump`: read mmstats files (format 2 and legacy v1).
//!
//! Exit codes: 0 when every file was read, 1 when any file (or field)
//! could not be read (the others are still printed), a value asked for is
//! absent, or a file could not be removed; 2 for a usage error.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use mmdump::demo::Demo;
use mmdump::dump::aggregate::{AggregateMode, aggregate};
use mmdump::dump::clean::{Action, CleanOptions};
use mmdump::dump::munin::{MuninCommand, MuninPlugin, PLUGIN_PREFIX};
use mmdump::dump::screen::{self, ScreenOptions};
use mmdump::dump::select::Selection;
use mmdump::dump::style::{ColorChoice, Style};
use mmdump::dump::watch::{LineOptions, LineWriter, Stat, WatchConfig, Watcher, frame_json};
use mmdump::dump::{self, Report};
use mmdump::glob::NamePattern;
use serde_json::json;

const EXIT_CODES: &str = "\
Exit codes: 0 success; 1 a file or field could not be read (the rest is
still printed), a value asked for is absent, or a file could not be
removed; 2 usage error.

Name patterns (-I, -X, tree queries) match dotted names level by level:
'*' stays within a level, '**' spans any number of levels, and a pattern
selects the whole subtree it names ('-I web' keeps web.requests and
web.stats.status.2XX; -I 'web.*.status.*'; -X sys; '**.errors').

Environment: MMSTATS_DIR (where files are; default /dev/shm/mmstats),
NO_COLOR (no colour). Linked as mmstats_NAME, the binary is a munin
plugin (see `mmdump munin --help`).";

/// Read the stats that programs publish in shared memory with mmstats.
///
/// With no subcommand, dumps every field of every stats file: those in
/// $MMSTATS_DIR (default /dev/shm/mmstats, plus /dev/shm/mmstats.* shared
/// memory objects), or the files, directories and wildcard patterns given.
/// Legacy v1 files of the original Python mmstats are read too.
#[derive(Parser, Debug)]
#[command(
    name = "mmdump",
    version,
    args_conflicts_with_subcommands = true,
    after_help = EXIT_CODES
)]
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
    #[arg(long, value_name = "ADDR", requires = "image", value_parser = mmdump::image::parse_address)]
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
    List(ListArgs),
    /// Show dotted names as a tree (web > stats > status > 2XX), optionally
    /// only those a wildcard query selects ('web.*.status.*', '**.errors').
    Tree(TreeArgs),
    /// Print one value, raw, for scripts (exit code 1 if no file has it).
    ///
    /// Several files with the field are combined (--aggregate, default
    /// sum: counters summed); --aggregate per-file prints "value TAB path"
    /// lines.
    Get(GetArgs),
    /// Show values and rates live, refreshed every interval.
    ///
    /// On a terminal: a full-screen table (value, change per second over
    /// the last interval, average per second since the writer started,
    /// moving averages over the last 10 and 100 intervals, recent history).
    /// Keys: q quit, +/- interval, u hide/show fields that never changed,
    /// a cycle aggregation, arrows/PgUp/PgDn scroll, h help.
    ///
    /// Otherwise (or with --lines): vmstat-like lines, a header of column
    /// names then one line per interval; counters show their rate per
    /// second (the first line: the average since their writer started),
    /// gauges their value. --json writes one JSON document per interval.
    ///
    /// Files that appear are picked up, files that vanish dropped; a
    /// restarted writer starts its rates over (never a negative rate), and
    /// summed counters keep the last values of vanished files.
    Watch(WatchArgs),
    /// Remove stats files whose writer is provably dead.
    ///
    /// Dead means: nobody holds the file's writer lock, and no process
    /// with the recorded pid and process start time runs in this boot (a
    /// reused pid does not count as the writer). Files of other users,
    /// symbolic links, unreadable or foreign files, files whose writer
    /// cannot be judged, and closed files (unless --closed) are kept.
    Clean(CleanArgs),
    /// Run as a munin plugin (config, autoconf, suggest, or fetch).
    ///
    /// Usually not called by name: link the binary into munin's plugin
    /// directory as mmstats_SELECTOR, where SELECTOR is a field-name
    /// subtree with levels separated by "__" (mmstats_worker__status
    /// graphs worker.status.*; mmstats_ graphs everything). Files are
    /// combined (counters summed: munin DERIVE fields; gauges by
    /// env.aggregate, default sum). Plugin settings (env.NAME in munin's
    /// plugin configuration): MMSTATS_DIR, paths, include, exclude, files,
    /// aggregate, title, category. With MUNIN_PLUGSTATE set, the last
    /// values of exited processes are kept there so sums never go back.
    Munin(MuninArgs),
    /// Start a demo writer (a simulated web server with a few worker
    /// threads) and show its live values once a second.
    Demo(DemoArgs),
    /// Follow event rings live: print each record (text or JSON lines),
    /// report records the writer overwrote before they were read ("missed
    /// 1,024 events"), turn spans into durations, archive to a file.
    Tail(TailArgs),
    /// Serve the stats over HTTP: Prometheus /metrics, a JSON API and a
    /// live dashboard.
    ///
    /// Endpoints: / (dashboard), /metrics (Prometheus text, or
    /// OpenMetrics when the Accept header asks), /api/v1/stats (the
    /// `mmdump --json` document; query parameters include, exclude, file,
    /// pid, aggregate), /api/v1/live (values and rates), /api/v1/history
    /// and /chart.svg (with --record or --history), /healthz.
    ///
    /// Read-only: no endpoint writes or deletes anything, and request
    /// parameters only select among the files found. Binds 127.0.0.1:9459
    /// unless --listen says otherwise; while bound to loopback, only
    /// requests to a loopback host name are answered (--allow-host adds
    /// names). Files of the same program (and pid or thread, with
    /// --label) are combined: counters summed, never going backwards when
    /// a process exits; gauges by --aggregate. See docs/SERVE.md.
    #[cfg(feature = "serve")]
    Serve(ServeArgs),
    /// Record every field into an SQLite database at an interval, for
    /// `mmdump trend` and the dashboard's history.
    ///
    /// Files are combined as `watch -a MODE` combines them (counters
    /// summed, with the last values of exited writers kept). Old samples
    /// are folded into minutes, then hours, and deleted after
    /// --keep-hours; the database never grows past --max-size (the
    /// oldest history goes first). Stops on Ctrl-C or SIGTERM, or after
    /// --count samples or --duration.
    #[cfg(feature = "serve")]
    Record(RecordArgs),
    /// Draw recorded history as a chart (SVG or PNG).
    ///
    /// Each NAME selects the recorded series it names and those below it
    /// (as -I does: 'worker.status' charts 2XX, 4XX and 5XX). Counters are
    /// charted as their rate per second, other kinds as their value
    /// (--show changes it). --list lists what is recorded.
    #[cfg(feature = "serve")]
    Trend(TrendArgs),
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

/// Filters on field names and on files.
#[derive(Args, Debug, Clone, Default)]
struct FilterArgs {
    /// Only fields this name pattern selects (repeatable).
    #[arg(short = 'I', long = "include", value_name = "PATTERN")]
    include: Vec<String>,
    /// Leave out fields this name pattern selects (repeatable).
    #[arg(short = 'X', long = "exclude", value_name = "PATTERN")]
    exclude: Vec<String>,
    #[command(flatten)]
    files: FileFilterArgs,
}

/// Filters on files.
#[derive(Args, Debug, Clone, Default)]
struct FileFilterArgs {
    /// Only files whose name matches this wildcard (a pattern with a '/'
    /// matches the whole path; repeatable).
    #[arg(short = 'f', long = "file", value_name = "GLOB")]
    file: Vec<String>,
    /// Only files written by this process id (repeatable).
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pid: Vec<u64>,
}

impl FilterArgs {
    fn selection(&self) -> Selection {
        Selection {
            include: self.include.iter().map(|p| NamePattern::new(p)).collect(),
            exclude: self.exclude.iter().map(|p| NamePattern::new(p)).collect(),
            ..self.files.selection()
        }
    }
}

impl FileFilterArgs {
    fn selection(&self) -> Selection {
        Selection {
            files: self.file.clone(),
            pids: self.pid.clone(),
            ..Selection::default()
        }
    }
}

#[derive(Args, Debug)]
struct DumpArgs {
    /// Stats files, directories or wildcard patterns (quoted, such as
    /// '/dev/shm/mmstats/web-*'); default: the stats directory.
    paths: Vec<PathBuf>,
    /// Print one JSON document (schema 1) instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    filter: FilterArgs,
    /// Combine same-named fields of all files: sum, avg, min or max
    /// (counters are always summed; the mode is the rule for gauges), or
    /// per-file (the default).
    #[arg(short = 'a', long, value_name = "MODE", default_value_t = AggregateMode::PerFile)]
    aggregate: AggregateMode,
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Args, Debug)]
struct ListArgs {
    /// Stats files, directories or wildcard patterns; default: the stats
    /// directory.
    paths: Vec<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    filter: FilterArgs,
}

#[derive(Args, Debug)]
struct TreeArgs {
    /// Name pattern: show only the subtrees it selects ('web.*.status.*',
    /// '**.errors'). An argument that names an existing file or directory,
    /// or holds a '/', is taken as a path instead.
    query: Option<String>,
    /// Stats files, directories or wildcard patterns.
    paths: Vec<PathBuf>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Combine files into one tree: sum, avg, min, max, or per-file (the
    /// default: a tree per file).
    #[arg(short = 'a', long, value_name = "MODE", default_value_t = AggregateMode::PerFile)]
    aggregate: AggregateMode,
    /// Colour: auto, always, never.
    #[arg(long, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Args, Debug)]
struct GetArgs {
    /// The field's full name (web.requests).
    name: String,
    /// Stats files, directories or wildcard patterns.
    paths: Vec<PathBuf>,
    #[command(flatten)]
    filter: FileFilterArgs,
    /// How several files' values are combined: sum, avg, min, max, or
    /// per-file ("value TAB path" lines).
    #[arg(short = 'a', long, value_name = "MODE", default_value_t = AggregateMode::Sum)]
    aggregate: AggregateMode,
    /// Print the value as JSON (strings quoted, exact integers).
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct WatchArgs {
    /// Stats files, directories or wildcard patterns.
    paths: Vec<PathBuf>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Combine files: sum (the default), avg, min, max, or per-file.
    #[arg(short = 'a', long, value_name = "MODE", default_value_t = AggregateMode::Sum)]
    aggregate: AggregateMode,
    /// Seconds between reads (0.1 and up).
    #[arg(short = 'i', long, value_name = "SECONDS", default_value_t = 1.0)]
    interval: f64,
    /// Stop after this many reads.
    #[arg(short = 'c', long, value_name = "N")]
    count: Option<u64>,
    /// Print lines even on a terminal.
    #[arg(long)]
    lines: bool,
    /// Print one JSON document per read (never the terminal view).
    #[arg(long)]
    json: bool,
    /// Lines mode: repeat the header every N lines (0: only when columns
    /// change).
    #[arg(long, value_name = "N", default_value_t = 20)]
    header_every: usize,
    /// Lines mode: start each line with the time (UTC).
    #[arg(short = 't', long)]
    timestamps: bool,
    /// Lines mode: what to show of each counter, comma-separated, from
    /// value, rate, avg, ma10, ma100.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "rate"
    )]
    columns: Vec<Stat>,
    /// Terminal view: start with fields that never changed hidden.
    #[arg(long)]
    hide_unchanged: bool,
    /// Colour: auto, always, never.
    #[arg(long, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Args, Debug)]
struct CleanArgs {
    /// Stats files, directories or wildcard patterns; default: the stats
    /// directory and /dev/shm/mmstats.* objects.
    paths: Vec<PathBuf>,
    #[command(flatten)]
    filter: FileFilterArgs,
    /// Say what would be removed; remove nothing.
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Also remove closed files whose writer is gone (a writer that closes
    /// its file and keeps it means to keep it).
    #[arg(long)]
    closed: bool,
    /// Also judge legacy v1 files, by pid alone (they record no start
    /// time): removed only when no process has their pid.
    #[arg(long)]
    legacy: bool,
    /// As root, also remove other users' files.
    #[arg(long)]
    all_users: bool,
    /// Only print files removed (or that would be).
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct MuninArgs {
    /// config, autoconf, suggest, or nothing (or fetch) for the values.
    command: Option<String>,
    /// The plugin name that selects the fields (as if linked under it).
    #[arg(long, value_name = "NAME", default_value = PLUGIN_PREFIX)]
    plugin: String,
    #[command(flatten)]
    filter: FilterArgs,
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
    #[arg(long, conflicts_with = "shm")]
    dir: Option<PathBuf>,
    /// Publish POSIX shared-memory objects (`/dev/shm/mmstats.*.mmstats`)
    /// instead of files in a directory.
    #[arg(long)]
    shm: bool,
}

/// How long trend history is kept.
#[cfg(feature = "serve")]
#[derive(Args, Debug, Clone)]
struct RetentionArgs {
    /// Keep every sample this long (then minute averages).
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = mmdump::record::parse_duration)]
    keep_raw: Duration,
    /// Keep minute averages this long (then hour averages).
    #[arg(long, value_name = "DURATION", default_value = "8d", value_parser = mmdump::record::parse_duration)]
    keep_minutes: Duration,
    /// Keep hour averages this long.
    #[arg(long, value_name = "DURATION", default_value = "400d", value_parser = mmdump::record::parse_duration)]
    keep_hours: Duration,
    /// The database file never grows past this size (K, M, G); the oldest
    /// history is deleted first.
    #[arg(long, value_name = "SIZE", default_value = "128M", value_parser = mmdump::record::parse_size)]
    max_size: u64,
}

#[cfg(feature = "serve")]
impl RetentionArgs {
    fn retention(&self) -> mmdump::record::Retention {
        mmdump::record::Retention {
            raw: self.keep_raw,
            minutes: self.keep_minutes,
            hours: self.keep_hours,
            max_bytes: self.max_size,
        }
    }
}

/// A metric label `--label` can add.
#[cfg(feature = "serve")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum MetricLabel {
    /// The writer's process id.
    Pid,
    /// The writer's thread id.
    Thread,
}

#[cfg(feature = "serve")]
#[derive(Args, Debug)]
struct ServeArgs {
    /// Stats files, directories or wildcard patterns; default: the stats
    /// directory. Nothing else is ever opened.
    paths: Vec<PathBuf>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = mmdump::serve::DEFAULT_LISTEN)]
    listen: std::net::SocketAddr,
    /// How gauges of files with the same labels are combined: sum, avg,
    /// min or max (counters are always summed).
    #[arg(short = 'a', long, value_name = "MODE", default_value_t = AggregateMode::Sum)]
    aggregate: AggregateMode,
    /// Prefix of every metric name ("" for none).
    #[arg(long, value_name = "PREFIX", default_value = "mmstats")]
    namespace: String,
    /// Also label metrics by pid or thread (repeatable), instead of
    /// combining a program's files.
    #[arg(long, value_name = "LABEL")]
    label: Vec<MetricLabel>,
    /// Leave strings out of /metrics (they are info metrics with the
    /// string in a "value" label; a string that changes often makes many
    /// series).
    #[arg(long)]
    no_strings: bool,
    /// Also record every field into this SQLite database (as `mmdump
    /// record` does) and serve its history.
    #[arg(long, value_name = "FILE", conflicts_with = "history")]
    record: Option<PathBuf>,
    /// Time between recorded samples (0.1s and up).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = mmdump::record::parse_duration)]
    record_interval: Duration,
    #[command(flatten)]
    retention: RetentionArgs,
    /// Serve the history recorded in this database by `mmdump record`.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// While bound to loopback, also answer requests to this host name
    /// (repeatable).
    #[arg(long, value_name = "NAME")]
    allow_host: Vec<String>,
    /// Connections open at once: at the cap, the oldest one still waiting
    /// for a request head is dropped for a new one (503 when all are being
    /// answered).
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_connections: usize,
    /// Connections one client address may hold while they wait for a
    /// request head (beyond, its oldest waiting one is dropped).
    #[arg(long, value_name = "N", default_value_t = 32)]
    max_pending_per_client: usize,
    /// Largest request head (request line and headers).
    #[arg(long, value_name = "SIZE", default_value = "16K", value_parser = mmdump::record::parse_size)]
    max_header_size: u64,
    /// Time a client has to send its request head.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = mmdump::record::parse_duration)]
    header_timeout: Duration,
    /// Time an answer may take to compute.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = mmdump::record::parse_duration)]
    request_timeout: Duration,
    /// Longest a connection is kept open.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = mmdump::record::parse_duration)]
    connection_lifetime: Duration,
}

#[cfg(feature = "serve")]
#[derive(Args, Debug)]
struct RecordArgs {
    /// Stats files, directories or wildcard patterns.
    paths: Vec<PathBuf>,
    /// The SQLite database (created, mode 0600, if missing).
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    #[command(flatten)]
    filter: FilterArgs,
    /// Combine files: sum (the default), avg, min or max (counters are
    /// always summed).
    #[arg(short = 'a', long, value_name = "MODE", default_value_t = AggregateMode::Sum)]
    aggregate: AggregateMode,
    /// Time between samples.
    #[arg(short = 'i', long, value_name = "DURATION", default_value = "1s", value_parser = mmdump::record::parse_duration)]
    interval: Duration,
    /// Stop after this many samples.
    #[arg(short = 'c', long, value_name = "N")]
    count: Option<u64>,
    /// Stop after this long.
    #[arg(long, value_name = "DURATION", value_parser = mmdump::record::parse_duration)]
    duration: Option<Duration>,
    #[command(flatten)]
    retention: RetentionArgs,
    /// Print nothing but errors.
    #[arg(short = 'q', long)]
    quiet: bool,
}

#[cfg(feature = "serve")]
#[derive(Args, Debug)]
struct TrendArgs {
    /// Recorded series to chart (name patterns; each selects its subtree).
    #[arg(required_unless_present = "list")]
    names: Vec<String>,
    /// The SQLite database `mmdump record` (or `serve --record`) wrote.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// Write the chart here (.svg or .png); default: SVG on standard
    /// output.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Image format, when the output's extension does not say it.
    #[arg(long, value_name = "FORMAT")]
    format: Option<mmdump::trend::ChartFormat>,
    /// Start of the chart, this long ago.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = mmdump::record::parse_duration)]
    since: Duration,
    /// End of the chart, this long ago.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = mmdump::record::parse_duration)]
    until: Duration,
    /// What to draw: auto (counters' rates, other kinds' values), value
    /// or rate.
    #[arg(long, value_name = "WHAT", default_value = "auto")]
    show: mmdump::trend::Show,
    /// Width in pixels.
    #[arg(long, default_value_t = 1000)]
    width: u32,
    /// Height in pixels.
    #[arg(long, default_value_t = 500)]
    height: u32,
    /// Title (default: the series' names).
    #[arg(long)]
    title: Option<String>,
    /// List the recorded series instead.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    // Linked under a munin plugin name: munin's calling convention.
    let invoked_as = std::env::args_os()
        .next()
        .and_then(|arg0| {
            Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let result = if invoked_as.starts_with(PLUGIN_PREFIX) {
        let command = std::env::args().nth(1).unwrap_or_default();
        munin(&invoked_as, &command, &FilterArgs::default())
    } else {
        let cli = Cli::parse();
        match cli.command {
            None if !cli.image.is_empty() => image(&cli.image, cli.base, cli.dump.json),
            None => dump(&cli.dump),
            Some(Command::Dump(args)) => dump(&args),
            Some(Command::List(args)) => list(&args),
            Some(Command::Tree(args)) => tree(args),
            Some(Command::Get(args)) => get(&args),
            Some(Command::Watch(args)) => watch(&args),
            Some(Command::Clean(args)) => clean(&args),
            Some(Command::Munin(args)) => munin(
                &args.plugin,
                args.command.as_deref().unwrap_or(""),
                &args.filter,
            ),
            Some(Command::Demo(args)) => demo(&args),
            Some(Command::Tail(args)) => tail(args),
            #[cfg(feature = "serve")]
            Some(Command::Serve(args)) => serve(&args),
            #[cfg(feature = "serve")]
            Some(Command::Record(args)) => record(&args),
            #[cfg(feature = "serve")]
            Some(Command::Trend(args)) => trend(&args),
        }
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

/// A usage error: message on stderr, exit code 2.
fn usage(message: &str) -> io::Result<ExitCode> {
    eprintln!("mmdump: {message}");
    Ok(ExitCode::from(2))
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
                dump::printable(&problem.to_string())
            );
        }
    }
}

fn exit_code(report: &Report) -> ExitCode {
    if report.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Says there are no stats files, when the default directory was read
/// without error and held none. A directory that could not be read is an
/// error (in `report`, exit code 1), never "no stats files"; a missing one
/// is said to be missing.
fn note_if_empty(report: &Report, paths: &[PathBuf], json: bool) {
    if report.files.is_empty() && report.errors.is_empty() && paths.is_empty() && !json {
        let dir = mmstats::default_dir();
        let shown = dump::printable(&dir.display().to_string());
        match std::fs::symlink_metadata(&dir) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => eprintln!(
                "mmdump: no stats files: {shown} does not exist (run `mmdump demo` to see some)"
            ),
            _ => eprintln!("mmdump: no stats files in {shown} (run `mmdump demo` to see some)"),
        }
    }
}

fn dump(args: &DumpArgs) -> io::Result<ExitCode> {
    let report = dump::collect_selected(&args.paths, &args.filter.selection());
    let style = Style::detect(args.color, io::stdout().is_terminal());
    let mut out = BufWriter::new(io::stdout().lock());
    let files: Vec<_> = report.files.iter().collect();
    match (args.aggregate, args.json) {
        (AggregateMode::PerFile, false) => dump::write_text_styled(&mut out, &report, &style)?,
        (AggregateMode::PerFile, true) => dump::json::write_json(&mut out, &report, None)?,
        (mode, false) => {
            let combined = aggregate(&files, mode, &Default::default());
            dump::write_aggregate_text(&mut out, &combined, &style)?;
        }
        (mode, true) => {
            let combined = aggregate(&files, mode, &Default::default());
            let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
            dump::json::write_json(&mut out, &report, Some((&combined, &paths)))?;
        }
    }
    out.flush()?;
    report_errors(&report);
    note_if_empty(&report, &args.paths, args.json);
    Ok(exit_code(&report))
}

fn list(args: &ListArgs) -> io::Result<ExitCode> {
    let report = dump::collect_selected(&args.paths, &args.filter.selection());
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        writeln!(out, "{}", dump::list_json(&report))?;
    } else {
        dump::write_list(&mut out, &report)?;
    }
    out.flush()?;
    report_errors(&report);
    note_if_empty(&report, &args.paths, args.json);
    Ok(exit_code(&report))
}

fn tree(mut args: TreeArgs) -> io::Result<ExitCode> {
    if let Some(query) = args.query.take() {
        if query.contains('/') || Path::new(&query).exists() {
            args.paths.insert(0, PathBuf::from(query));
        } else {
            args.query = Some(query);
        }
    }
    let mut selection = args.filter.selection();
    if let Some(query) = &args.query {
        selection.include.push(NamePattern::new(query));
    }
    let report = dump::collect_selected(&args.paths, &selection);
    let style = Style::detect(args.color, io::stdout().is_terminal());
    let mut out = BufWriter::new(io::stdout().lock());
    if args.aggregate == AggregateMode::PerFile {
        for (index, file) in report.files.iter().enumerate() {
            if index > 0 {
                writeln!(out)?;
            }
            writeln!(out, "{}", dump::header(file, &style))?;
            dump::tree::write_tree(&mut out, &file.fields, &style)?;
        }
    } else {
        let files: Vec<_> = report.files.iter().collect();
        let combined = aggregate(&files, args.aggregate, &Default::default());
        writeln!(out, "{}", dump::aggregate_header(&combined, &style))?;
        dump::tree::write_tree(&mut out, combined.fields.iter().map(|f| &f.field), &style)?;
    }
    out.flush()?;
    report_errors(&report);
    if report.files.is_empty() && args.query.is_some() && report.errors.is_empty() {
        eprintln!(
            "mmdump: no field matches {}",
            args.query.unwrap_or_default()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(exit_code(&report))
}

fn get(args: &GetArgs) -> io::Result<ExitCode> {
    let selection = Selection {
        include: vec![NamePattern::new(&args.name)],
        ..args.filter.selection()
    };
    let mut report = dump::collect_selected(&args.paths, &selection);
    // Exactly the name, not its subtree.
    for file in &mut report.files {
        file.fields.retain(|f| f.name == args.name);
    }
    report.files.retain(|f| !f.fields.is_empty());
    let mut out = BufWriter::new(io::stdout().lock());
    if report.files.is_empty() {
        report_errors(&report);
        eprintln!(
            "mmdump: no field named {} in {}",
            dump::printable(&args.name),
            if args.paths.is_empty() {
                mmstats::default_dir().display().to_string()
            } else {
                "the files given".to_owned()
            }
        );
        return Ok(ExitCode::FAILURE);
    }
    let render = |value: &mmstats::FieldValue| {
        if args.json {
            dump::json_value_of(value).to_string()
        } else {
            dump::raw_value(value)
        }
    };
    if args.aggregate == AggregateMode::PerFile {
        for file in &report.files {
            writeln!(
                out,
                "{}\t{}",
                render(&file.fields[0].value),
                file.path.display()
            )?;
        }
    } else {
        let files: Vec<_> = report.files.iter().collect();
        let combined = aggregate(&files, args.aggregate, &Default::default());
        if combined.fields.len() > 1 {
            report_errors(&report);
            eprintln!(
                "mmdump: {} has different kinds in different files; use --aggregate per-file",
                dump::printable(&args.name)
            );
            return Ok(ExitCode::FAILURE);
        }
        match combined.fields.first() {
            Some(field) => writeln!(out, "{}", render(&field.field.value))?,
            None => {
                eprintln!(
                    "mmdump: {} identifies a writer and is not combined; use --aggregate per-file",
                    dump::printable(&args.name)
                );
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    out.flush()?;
    report_errors(&report);
    Ok(exit_code(&report))
}

fn watch(args: &WatchArgs) -> io::Result<ExitCode> {
    if !(args.interval.is_finite() && args.interval >= 0.1) {
        return usage("--interval must be at least 0.1 seconds");
    }
    if args.count == Some(0) {
        return usage("--count must be at least 1");
    }
    let stop = mmdump::signals::stop_flag();
    let mut watcher = Watcher::new(WatchConfig {
        inputs: args.paths.clone(),
        selection: args.filter.selection(),
        mode: args.aggregate,
    });
    let interval = Duration::from_secs_f64(args.interval);
    let terminal = io::stdout().is_terminal();
    if terminal && !args.lines && !args.json {
        screen::run(
            &mut watcher,
            &ScreenOptions {
                interval,
                count: args.count,
                hide_unchanged: args.hide_unchanged,
                style: Style::detect(args.color, true),
            },
            stop,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut lines = LineWriter::new(LineOptions {
        stats: args.columns.clone(),
        header_every: args.header_every,
        timestamps: args.timestamps,
    });
    let mut out = io::stdout().lock();
    let started = Instant::now();
    let mut reads = 0u64;
    // Each distinct failure is reported once, not at every read.
    let mut reported = std::collections::HashSet::new();
    loop {
        let frame = watcher.tick();
        reads += 1;
        if args.json {
            writeln!(out, "{}", frame_json(&frame))?;
        } else {
            lines.write(&mut out, &frame)?;
        }
        out.flush()?;
        for (path, error) in &frame.errors {
            if reported.insert((path.clone(), error.clone())) {
                eprintln!(
                    "mmdump: {}: {}",
                    dump::printable(&path.display().to_string()),
                    error
                );
            }
        }
        if args.count.is_some_and(|count| reads >= count) {
            return Ok(ExitCode::SUCCESS);
        }
        // Reads are scheduled on a fixed grid so that lines do not drift.
        let deadline = started + interval.mul_f64(reads as f64);
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(ExitCode::SUCCESS);
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(100)));
        }
    }
}

fn clean(args: &CleanArgs) -> io::Result<ExitCode> {
    let options = CleanOptions {
        dry_run: args.dry_run,
        closed: args.closed,
        legacy: args.legacy,
        all_users: args.all_users,
    };
    let (outcomes, errors) = dump::clean::clean(&args.paths, &args.filter.selection(), &options);
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        let files: Vec<_> = outcomes
            .iter()
            .map(|o| {
                json!({
                    "path": o.path.display().to_string(),
                    "action": o.action.word(),
                    "reason": o.reason,
                    "error": match &o.action { Action::Failed(e) => Some(e), _ => None },
                })
            })
            .collect();
        let errors: Vec<_> = errors
            .iter()
            .map(|(p, e)| json!({"path": p.display().to_string(), "error": e}))
            .collect();
        writeln!(
            out,
            "{}",
            json!({"schema": dump::JSON_SCHEMA, "dry_run": args.dry_run, "files": files, "errors": errors})
        )?;
    } else {
        for outcome in &outcomes {
            if args.quiet && outcome.action == Action::Kept {
                continue;
            }
            let extra = match &outcome.action {
                Action::Failed(error) => format!(": {error}"),
                _ => String::new(),
            };
            writeln!(
                out,
                "{:<12}  {}  ({}){extra}",
                outcome.action.word(),
                dump::printable(&outcome.path.display().to_string()),
                dump::printable(&outcome.reason)
            )?;
        }
    }
    out.flush()?;
    for (path, error) in &errors {
        eprintln!(
            "mmdump: {}: {}",
            dump::printable(&path.display().to_string()),
            error
        );
    }
    let failed = outcomes
        .iter()
        .any(|o| matches!(o.action, Action::Failed(_)));
    Ok(if failed || !errors.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn munin(plugin: &str, command: &str, filter: &FilterArgs) -> io::Result<ExitCode> {
    let command: MuninCommand = match command.parse() {
        Ok(command) => command,
        Err(message) => return usage(&message),
    };
    let mut plugin = match MuninPlugin::new(plugin, |name| std::env::var(name).ok()) {
        Ok(plugin) => plugin,
        Err(message) => return usage(&message),
    };
    let extra = filter.selection();
    plugin.selection.include.extend(extra.include);
    plugin.selection.exclude.extend(extra.exclude);
    plugin.selection.files.extend(extra.files);
    plugin.selection.pids.extend(extra.pids);
    let state_dir = std::env::var_os("MUNIN_PLUGSTATE")
        .map(PathBuf::from)
        .filter(|dir| dir.is_dir());
    let mut out = BufWriter::new(io::stdout().lock());
    let report = plugin.run(command, state_dir.as_deref(), &mut out)?;
    out.flush()?;
    report_errors(&report);
    Ok(exit_code(&report))
}

fn tail(args: TailArgs) -> io::Result<ExitCode> {
    use mmdump::tail::{RunOptions, Start, TailOptions};
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
    let stop = mmdump::signals::stop_flag();
    let mut out = BufWriter::new(io::stdout().lock());
    let (_, ok) = mmdump::tail::run(&options, stop, &mut out, &mut io::stderr())?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn demo(args: &DemoArgs) -> io::Result<ExitCode> {
    let stop = mmdump::signals::stop_flag();
    let demo = Demo::start(
        if args.shm {
            Some(mmstats::Location::Shm)
        } else {
            args.dir.clone().map(mmstats::Location::Dir)
        },
        args.workers,
    )
    .map_err(io::Error::other)?;
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
    while (args.seconds == 0 || second < args.seconds) && !stop.load(Ordering::Relaxed) {
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
    Ok(exit_code(&report))
}

/// `mmdump --image FILE... [--base ADDR] [--json]`.
fn image(paths: &[PathBuf], base: Option<u64>, json: bool) -> io::Result<ExitCode> {
    let report = mmdump::image::collect(paths, base);
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        writeln!(out, "{}", mmdump::image::to_json(&report))?;
    } else {
        mmdump::image::write_text(&mut out, &report)?;
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

/// `mmdump serve`.
#[cfg(feature = "serve")]
fn serve(args: &ServeArgs) -> io::Result<ExitCode> {
    use mmdump::serve::{App, Limits, ServeConfig, http::Server, live};

    if args.aggregate == AggregateMode::PerFile {
        return usage(
            "serve combines files with the same labels: --aggregate sum, avg, min or max (use --label pid --label thread to keep files apart)",
        );
    }
    if !args.namespace.is_empty()
        && !mmdump::serve::prometheus::is_valid_metric_name(&args.namespace)
    {
        return usage(
            "--namespace must be letters, digits and underscores, not starting with a digit",
        );
    }
    if args.max_connections == 0 {
        return usage("--max-connections must be at least 1");
    }
    if args.max_pending_per_client == 0 {
        return usage("--max-pending-per-client must be at least 1");
    }
    if args.record_interval < Duration::from_millis(100) {
        return usage("--record-interval must be at least 0.1 seconds");
    }
    let limits = Limits {
        header_bytes: usize::try_from(args.max_header_size)
            .unwrap_or(usize::MAX)
            .max(8192),
        header_timeout: args.header_timeout.max(Duration::from_millis(100)),
        request_timeout: args.request_timeout.max(Duration::from_millis(100)),
        connection_lifetime: args.connection_lifetime.max(Duration::from_secs(1)),
        max_connections: args.max_connections,
        pending_per_client: args.max_pending_per_client,
    };
    let stop = mmdump::signals::stop_flag();
    let recorder = match &args.record {
        Some(path) => {
            let store = mmdump::record::TrendStore::open(path, args.retention.retention())
                .map_err(io::Error::other)?;
            Some(mmdump::record::Recorder::new(store, args.record_interval))
        }
        None => None,
    };
    let server = Server::bind(args.listen)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {}: {e}", args.listen)))?;
    let selection = args.filter.selection();
    let config = ServeConfig {
        // The address bound (the port chosen, with port 0), which the
        // Host check compares ports with.
        listen: server.local_addr(),
        inputs: args.paths.clone(),
        selection: selection.clone(),
        metrics: mmdump::serve::metrics::MetricsOptions {
            names: mmdump::serve::prometheus::NameOptions {
                namespace: args.namespace.clone(),
                strings: !args.no_strings,
            },
            pid_label: args.label.contains(&MetricLabel::Pid),
            thread_label: args.label.contains(&MetricLabel::Thread),
            mode: args.aggregate,
        },
        history: args.record.clone().or_else(|| args.history.clone()),
        limits,
        allowed_hosts: args.allow_host.clone(),
    };
    let view = live::LiveView::default();
    let _sampler = live::Sampler::start(
        WatchConfig {
            inputs: args.paths.clone(),
            selection,
            mode: args.aggregate,
        },
        // Once a second for the dashboard, faster if recording asks.
        args.record_interval
            .clamp(Duration::from_millis(100), Duration::from_secs(1)),
        view.clone(),
        recorder,
    )?;
    let address = server.local_addr();
    {
        let mut out = io::stdout().lock();
        writeln!(
            out,
            "mmdump serve: listening on http://{address}/ (dashboard /, Prometheus /metrics, JSON /api/v1/stats)"
        )?;
        out.flush()?;
    }
    let app = std::sync::Arc::new(App::new(config, view));
    server.run(app, stop)?;
    Ok(ExitCode::SUCCESS)
}

/// `mmdump record`.
#[cfg(feature = "serve")]
fn record(args: &RecordArgs) -> io::Result<ExitCode> {
    use mmdump::record::{LOG_EVERY, LogLimiter, MAINTAIN_EVERY, TrendStore};

    if args.aggregate == AggregateMode::PerFile {
        return usage("record combines files: --aggregate sum, avg, min or max");
    }
    if args.interval < Duration::from_millis(100) {
        return usage("--interval must be at least 0.1 seconds");
    }
    if args.count == Some(0) {
        return usage("--count must be at least 1");
    }
    let mut store = match TrendStore::open(&args.db, args.retention.retention()) {
        Ok(store) => store,
        Err(mmdump::record::StoreError::Config(message)) => return usage(&message),
        Err(error) => return Err(io::Error::other(error)),
    };
    let stop = mmdump::signals::stop_flag();
    let mut watcher = Watcher::new(WatchConfig {
        inputs: args.paths.clone(),
        selection: args.filter.selection(),
        mode: args.aggregate,
    });
    let started = Instant::now();
    let mut last_maintenance = Instant::now();
    let mut samples = 0u64;
    let mut rows = 0usize;
    let mut reported = std::collections::HashSet::new();
    // A failing database (a full disk, an I/O error) is logged at most
    // once per LOG_EVERY, and recording goes on.
    let mut errors = LogLimiter::new(LOG_EVERY);
    let mut notices = LogLimiter::new(LOG_EVERY);
    let held_back = |n: u64| {
        if n == 0 {
            String::new()
        } else {
            format!(" ({n} more like it held back)")
        }
    };
    let mut log_error = |error: &mmdump::record::StoreError| {
        if let Some(n) = errors.admit() {
            eprintln!("mmdump record: {error}{}", held_back(n));
        }
    };
    if !args.quiet {
        eprintln!(
            "mmdump record: sampling every {:?} into {} (Ctrl-C stops)",
            args.interval,
            args.db.display()
        );
    }
    loop {
        let frame = watcher.tick();
        match store.record_frame(&frame) {
            Ok(stored) => rows += stored,
            Err(error) => log_error(&error),
        }
        for notice in store.take_notices() {
            if let Some(n) = notices.admit() {
                eprintln!(
                    "mmdump record: {}: {notice}{}",
                    args.db.display(),
                    held_back(n)
                );
            }
        }
        samples += 1;
        for (path, error) in &frame.errors {
            if reported.insert((path.clone(), error.clone())) {
                eprintln!(
                    "mmdump: {}: {}",
                    dump::printable(&path.display().to_string()),
                    error
                );
            }
        }
        if samples == 1 || last_maintenance.elapsed() >= MAINTAIN_EVERY {
            if let Err(error) = store.maintain((frame.time_ns / 1_000_000) as i64) {
                log_error(&error);
            }
            last_maintenance = Instant::now();
        }
        let done = args.count.is_some_and(|count| samples >= count)
            || args.duration.is_some_and(|d| started.elapsed() >= d);
        if done {
            break;
        }
        let deadline = started + args.interval.mul_f64(samples as f64);
        let mut stopped = false;
        loop {
            if stop.load(Ordering::Relaxed) {
                stopped = true;
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(100)));
        }
        if stopped {
            break;
        }
    }
    if !args.quiet {
        let size = store.size().map_err(io::Error::other)?;
        eprintln!(
            "mmdump record: {samples} samples, {rows} values stored; {} is {} bytes",
            args.db.display(),
            size.db_bytes
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `mmdump trend`.
#[cfg(feature = "serve")]
fn trend(args: &TrendArgs) -> io::Result<ExitCode> {
    use mmdump::record::TrendReader;
    use mmdump::trend::{ChartError, ChartFormat, ChartOptions};

    let reader = match TrendReader::open(&args.db) {
        Ok(reader) => reader,
        Err(error) => {
            eprintln!("mmdump: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let query = reader.query();
    let mut out = BufWriter::new(io::stdout().lock());
    if args.list {
        let summary = query.summary().map_err(io::Error::other)?;
        let when = |t: Option<i64>| {
            t.map_or_else(
                || "-".to_owned(),
                |ms| dump::format_unix_ns(ms.max(0) as u64 * 1_000_000)[..19].to_owned() + "Z",
            )
        };
        writeln!(
            out,
            "{:<40} {:<9} {:<8} {:>8}  FIRST                 LAST",
            "NAME", "KIND", "UNIT", "ROWS"
        )?;
        for series in summary {
            writeln!(
                out,
                "{:<40} {:<9} {:<8} {:>8}  {}  {}",
                dump::printable(&series.info.name),
                series.info.kind,
                series.info.unit,
                series.rows,
                when(series.first_ms),
                when(series.last_ms)
            )?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let format = match (
        args.format,
        args.output.as_deref().and_then(ChartFormat::from_path),
    ) {
        (Some(format), _) | (None, Some(format)) => format,
        (None, None) if args.output.is_some() => {
            return usage("say the format with --format svg|png or an .svg/.png file name");
        }
        (None, None) => ChartFormat::Svg,
    };
    if args.output.is_none() && format == ChartFormat::Png && io::stdout().is_terminal() {
        return usage("a PNG is not for the terminal: give -o FILE.png");
    }
    let now_ms = (mmstats::os::now_ns() / 1_000_000) as i64;
    let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let options = ChartOptions {
        width: args.width,
        height: args.height,
        since_ms: now_ms.saturating_sub(millis(args.since)),
        until_ms: now_ms.saturating_sub(millis(args.until)),
        show: args.show,
        title: args.title.clone(),
    };
    let patterns: Vec<NamePattern> = args.names.iter().map(|n| NamePattern::new(n)).collect();
    let image = mmdump::trend::select_series(&query, &patterns, &options)
        .and_then(|lines| mmdump::trend::render(&lines, &options, format));
    let image = match image {
        Ok(image) => image,
        Err(error @ (ChartError::NoSuchSeries(_) | ChartError::Options(_))) => {
            eprintln!("mmdump: {error}");
            return Ok(ExitCode::from(if matches!(error, ChartError::Options(_)) {
                2
            } else {
                1
            }));
        }
        Err(error) => return Err(io::Error::other(error)),
    };
    match &args.output {
        Some(path) => {
            write_new_file(path, &image)?;
        }
        None => {
            out.write_all(&image)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `path` through a temporary file in the same
/// directory (created `O_EXCL`, mode 0644: a chart is for sharing), then
/// renamed into place; a symbolic link at `path` is replaced, never
/// followed.
#[cfg(feature = "serve")]
fn write_new_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;

    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{}: not a file name", path.display())))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&temp)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", temp.display())))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(error) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(io::Error::new(
            error.kind(),
            format!("{}: {error}", path.display()),
        ));
    }
    Ok(())
}
