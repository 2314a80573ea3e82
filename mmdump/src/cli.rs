//! The command line: clap's description of every subcommand and flag.
//! Parsing only; each subcommand runs in `command/<name>.rs`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
#[cfg(feature = "serve")]
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mmdump::dump::aggregate::AggregateMode;
use mmdump::dump::munin::PLUGIN_PREFIX;
use mmdump::dump::select::Selection;
use mmdump::dump::style::ColorChoice;
use mmdump::dump::watch::Stat;
use mmdump::glob::NamePattern;

pub(crate) const EXIT_CODES: &str = "\
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
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    /// Scan a memory image instead (a RAM dump, a core file, a raw image;
    /// `-` reads standard input) for format-2 regions at every 8-byte
    /// boundary, and print each with its offset. Repeatable.
    #[arg(long, value_name = "FILE", conflicts_with = "paths")]
    pub(crate) image: Vec<PathBuf>,
    /// With --image: the address of the image's first byte in the
    /// target's memory (0x20000000 or decimal), to print each region's
    /// address.
    #[arg(long, value_name = "ADDR", requires = "image", value_parser = mmdump::image::parse_address)]
    pub(crate) base: Option<u64>,
    #[command(flatten)]
    pub(crate) dump: DumpArgs,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Print every field of every file (the default): a header line per
    /// file, then aligned "name value kind unit" lines.
    Dump(DumpArgs),
    /// One line per file: format, writer pid, whether the writer is alive
    /// (judged by its lock, or pid plus process start time), age, fields.
    List(ListArgs),
    /// Show dotted names as a tree (web > stats > status > 2XX), optionally
    /// only those a wildcard query selects ('web.*.status.*', '**.errors').
    Tree(TreeArgs),
    /// Print values, raw, for scripts: one line per name, in the order
    /// given (exit code 1 if no file has one of them; the others are
    /// still printed).
    ///
    /// Several files with the field are combined (--aggregate, default
    /// sum: counters summed); --aggregate per-file prints "value TAB path"
    /// lines. A name with several label sets needs one named
    /// ('web.conn.bytes_in{conn="1234"}') or an explicit --aggregate,
    /// which combines the label sets too.
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
    /// Export event rings as Chrome trace-event JSON (Perfetto,
    /// chrome://tracing): one track per writer thread, spans as complete
    /// events, other records as instants. Reads what the rings of the
    /// stats files hold now, or archives written by `tail --archive`.
    Trace(TraceArgs),
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
    /// Send the samples serve would show to a Prometheus remote-write
    /// receiver, at an interval.
    ///
    /// For hosts no Prometheus can scrape (behind NAT, short-lived jobs):
    /// the same families, names and labels as serve's /metrics, sent by
    /// remote write 1.0 (protobuf, snappy) to Prometheus
    /// (--web.enable-remote-write-receiver: URL .../api/v1/write), Mimir,
    /// Thanos receive or VictoriaMetrics. Requests wait in a bounded
    /// queue while the receiver is away (oldest dropped first, counted in
    /// mmdump_push_dropped_samples_total) and are retried with backoff on
    /// 5xx and 429. Only http:// (put a TLS proxy in front for https).
    /// Stops on Ctrl-C or SIGTERM, or after --count reads.
    #[cfg(feature = "push")]
    Push(PushArgs),
}

#[derive(Args, Debug)]
pub(crate) struct TraceArgs {
    /// Stats files, directories or wildcard patterns whose rings to read;
    /// default: the stats directory (unless --archive is given).
    pub(crate) paths: Vec<PathBuf>,
    /// Only rings whose field name matches this wildcard pattern.
    #[arg(long)]
    pub(crate) ring: Option<String>,
    /// Read this archive of `mmdump tail --archive` (JSON lines); may be
    /// given more than once.
    #[arg(long)]
    pub(crate) archive: Vec<PathBuf>,
    /// Write the trace to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub(crate) output: Option<PathBuf>,
    /// Write a self-contained HTML timeline (spans per thread as bars, no
    /// script) of the last --seconds instead of the JSON.
    #[arg(long)]
    pub(crate) html: bool,
    /// With --html: the seconds drawn, ending at the last record.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) seconds: f64,
}

#[derive(Args, Debug)]
pub(crate) struct TailArgs {
    /// Stats files, directories or wildcard patterns; default: the stats
    /// directory. New files are picked up as they appear.
    pub(crate) paths: Vec<PathBuf>,
    /// Only rings whose field name matches this wildcard pattern.
    #[arg(long)]
    pub(crate) ring: Option<String>,
    // -I/-X select rings by name; -f/-p select files.
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Print span durations (from span enter and exit records) instead of
    /// the records themselves.
    #[arg(long)]
    pub(crate) spans: bool,
    /// Also append every event to this file as JSON lines (created 0600;
    /// never truncated; symbolic links refused).
    #[arg(long)]
    pub(crate) archive: Option<PathBuf>,
    /// Skip the records already in the rings; show only new ones.
    #[arg(long)]
    pub(crate) new: bool,
    /// Print what the rings hold now and exit.
    #[arg(long)]
    pub(crate) once: bool,
    /// Stop after this many records.
    #[arg(long)]
    pub(crate) count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub(crate) seconds: Option<u64>,
    /// Milliseconds between polls.
    #[arg(long, default_value_t = 100)]
    pub(crate) interval_ms: u64,
}

/// Filters on field names and on files.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct FilterArgs {
    /// Only fields this name pattern selects (repeatable).
    #[arg(short = 'I', long = "include", value_name = "PATTERN")]
    pub(crate) include: Vec<String>,
    /// Leave out fields this name pattern selects (repeatable).
    #[arg(short = 'X', long = "exclude", value_name = "PATTERN")]
    pub(crate) exclude: Vec<String>,
    #[command(flatten)]
    pub(crate) files: FileFilterArgs,
}

/// Whether output is coloured (`dump`, `tree`, `watch`).
#[derive(Args, Debug, Clone, Copy)]
pub(crate) struct ColorArgs {
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long = "color", value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub(crate) choice: ColorChoice,
}

/// Filters on files.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct FileFilterArgs {
    /// Only files whose name matches this wildcard (a pattern with a '/'
    /// matches the whole path; repeatable).
    #[arg(short = 'f', long = "file", value_name = "GLOB")]
    pub(crate) file: Vec<String>,
    /// Only files written by this process id (repeatable).
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub(crate) pid: Vec<u64>,
}

impl FilterArgs {
    pub(crate) fn selection(&self) -> Selection {
        Selection {
            include: self.include.iter().map(|p| NamePattern::new(p)).collect(),
            exclude: self.exclude.iter().map(|p| NamePattern::new(p)).collect(),
            ..self.files.selection()
        }
    }
}

impl GetArgs {
    /// The names asked for and the paths to read, told apart as the
    /// argument's help says.
    pub(crate) fn names_and_paths(&self) -> (Vec<String>, Vec<PathBuf>) {
        let mut names = Vec::new();
        let mut paths = Vec::new();
        for (index, arg) in self.args.iter().enumerate() {
            // A '/' inside a label part (`x{path="/a"}`) does not make a
            // path.
            let labelled = arg
                .to_str()
                .is_some_and(|text| NamePattern::new(text).has_labels());
            let is_path = index > 0
                && ((arg.as_encoded_bytes().contains(&b'/') && !labelled)
                    || Path::new(arg).exists());
            match arg.to_str() {
                Some(name) if !is_path => names.push(name.to_owned()),
                // The first is a name, even one no field can have.
                None if index == 0 => names.push(arg.to_string_lossy().into_owned()),
                // A name is text: anything else can only be a path.
                _ => paths.push(PathBuf::from(arg)),
            }
        }
        (names, paths)
    }
}

impl FileFilterArgs {
    pub(crate) fn selection(&self) -> Selection {
        Selection {
            files: self.file.clone(),
            pids: self.pid.clone(),
            ..Selection::default()
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct DumpArgs {
    /// Stats files, directories or wildcard patterns (quoted, such as
    /// '/dev/shm/mmstats/web-*'); default: the stats directory.
    pub(crate) paths: Vec<PathBuf>,
    /// Print one JSON document (schema 1) instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Combine same-named fields of all files: sum, avg, min or max
    /// (counters are always summed; the mode is the rule for gauges), or
    /// per-file (the default).
    #[arg(short = 'a', long, value_name = "MODE", default_value_t = AggregateMode::PerFile)]
    pub(crate) aggregate: AggregateMode,
    #[command(flatten)]
    pub(crate) color: ColorArgs,
}

#[derive(Args, Debug)]
pub(crate) struct ListArgs {
    /// Stats files, directories or wildcard patterns; default: the stats
    /// directory.
    pub(crate) paths: Vec<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct TreeArgs {
    /// Name pattern: show only the subtrees it selects ('web.*.status.*',
    /// '**.errors'). An argument that names an existing file or directory,
    /// or holds a '/', is taken as a path instead.
    pub(crate) query: Option<String>,
    /// Stats files, directories or wildcard patterns.
    pub(crate) paths: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Combine files into one tree: sum, avg, min, max, or per-file (the
    /// default: a tree per file).
    #[arg(short = 'a', long, value_name = "MODE", default_value_t = AggregateMode::PerFile)]
    pub(crate) aggregate: AggregateMode,
    #[command(flatten)]
    pub(crate) color: ColorArgs,
}

#[derive(Args, Debug)]
pub(crate) struct GetArgs {
    /// Fields' full names (web.requests), then stats files, directories
    /// or wildcard patterns: the first argument is a name; a later one
    /// that holds a '/' or names an existing file or directory is a path.
    #[arg(required = true, value_name = "NAME")]
    pub(crate) args: Vec<OsString>,
    #[command(flatten)]
    pub(crate) filter: FileFilterArgs,
    /// How several files' values are combined: sum (the default), avg,
    /// min, max, or per-file ("value TAB path" lines, then TAB and the
    /// labels for a labelled field). Given explicitly, it also combines
    /// the label sets of a name.
    #[arg(short = 'a', long, value_name = "MODE")]
    pub(crate) aggregate: Option<AggregateMode>,
    /// Print the value as JSON (strings quoted, exact integers).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct WatchArgs {
    /// Stats files, directories or wildcard patterns.
    pub(crate) paths: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Combine files: sum (the default), avg, min, max, or per-file.
    #[arg(short = 'a', long, value_name = "MODE", default_value_t = AggregateMode::Sum)]
    pub(crate) aggregate: AggregateMode,
    /// Seconds between reads (0.1 and up).
    #[arg(short = 'i', long, value_name = "SECONDS", default_value_t = 1.0)]
    pub(crate) interval: f64,
    /// Stop after this many reads.
    #[arg(short = 'c', long, value_name = "N")]
    pub(crate) count: Option<u64>,
    /// Print lines even on a terminal.
    #[arg(long)]
    pub(crate) lines: bool,
    /// Print one JSON document per read (never the terminal view).
    #[arg(long)]
    pub(crate) json: bool,
    /// Lines mode: repeat the header every N lines (0: only when columns
    /// change).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub(crate) header_every: usize,
    /// Lines mode: start each line with the time (UTC).
    #[arg(short = 't', long)]
    pub(crate) timestamps: bool,
    /// Lines mode: what to show of each counter, comma-separated, from
    /// value, rate, avg, ma10, ma100.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "rate"
    )]
    pub(crate) columns: Vec<Stat>,
    /// Terminal view: start with fields that never changed hidden.
    #[arg(long)]
    pub(crate) hide_unchanged: bool,
    #[command(flatten)]
    pub(crate) color: ColorArgs,
}

#[derive(Args, Debug)]
pub(crate) struct CleanArgs {
    /// Stats files, directories or wildcard patterns; default: the stats
    /// directory and /dev/shm/mmstats.* objects.
    pub(crate) paths: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) filter: FileFilterArgs,
    /// Say what would be removed; remove nothing.
    #[arg(short = 'n', long)]
    pub(crate) dry_run: bool,
    /// Also remove closed files whose writer is gone (a writer that closes
    /// its file and keeps it means to keep it).
    #[arg(long)]
    pub(crate) closed: bool,
    /// Also judge legacy v1 files, by pid alone (they record no start
    /// time): removed only when no process has their pid.
    #[arg(long)]
    pub(crate) legacy: bool,
    /// As root, also remove other users' files.
    #[arg(long)]
    pub(crate) all_users: bool,
    /// Only print files removed (or that would be).
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Print one JSON document.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct MuninArgs {
    /// config, autoconf, suggest, or nothing (or fetch) for the values.
    pub(crate) command: Option<String>,
    /// The plugin name that selects the fields (as if linked under it).
    #[arg(long, value_name = "NAME", default_value = PLUGIN_PREFIX)]
    pub(crate) plugin: String,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
}

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Seconds to run (0: until interrupted).
    #[arg(long, default_value_t = 5)]
    pub(crate) seconds: u64,
    /// Worker threads, each with its own stats file.
    #[arg(long, default_value_t = 3)]
    pub(crate) workers: usize,
    /// Directory for the demo's files (default: the stats directory).
    #[arg(long, conflicts_with = "shm")]
    pub(crate) dir: Option<PathBuf>,
    /// Publish POSIX shared-memory objects (`/dev/shm/mmstats.*.mmstats`)
    /// instead of files in a directory.
    #[arg(long)]
    pub(crate) shm: bool,
}

/// How long trend history is kept.
#[cfg(feature = "serve")]
#[derive(Args, Debug, Clone)]
pub(crate) struct RetentionArgs {
    /// Keep every sample this long (then minute averages).
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = mmdump::record::parse_duration)]
    pub(crate) keep_raw: Duration,
    /// Keep minute averages this long (then hour averages).
    #[arg(long, value_name = "DURATION", default_value = "8d", value_parser = mmdump::record::parse_duration)]
    pub(crate) keep_minutes: Duration,
    /// Keep hour averages this long.
    #[arg(long, value_name = "DURATION", default_value = "400d", value_parser = mmdump::record::parse_duration)]
    pub(crate) keep_hours: Duration,
    /// The database file never grows past this size (K, M, G); the oldest
    /// history is deleted first.
    #[arg(long, value_name = "SIZE", default_value = "128M", value_parser = mmdump::record::parse_size)]
    pub(crate) max_size: u64,
}

#[cfg(feature = "serve")]
impl RetentionArgs {
    pub(crate) fn retention(&self) -> mmdump::record::Retention {
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
pub(crate) enum MetricLabel {
    /// The writer's process id.
    Pid,
    /// The writer's thread id.
    Thread,
}

#[cfg(feature = "serve")]
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Stats files, directories or wildcard patterns; default: the stats
    /// directory. Nothing else is ever opened.
    pub(crate) paths: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = mmdump::serve::DEFAULT_LISTEN)]
    pub(crate) listen: std::net::SocketAddr,
    #[command(flatten)]
    pub(crate) export: ExportArgs,
    /// Also record every field into this SQLite database (as `mmdump
    /// record` does) and serve its history.
    #[arg(long, value_name = "FILE", conflicts_with = "history")]
    pub(crate) record: Option<PathBuf>,
    /// Time between recorded samples (0.1s and up).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = mmdump::record::parse_duration)]
    pub(crate) record_interval: Duration,
    #[command(flatten)]
    pub(crate) retention: RetentionArgs,
    /// Serve the history recorded in this database by `mmdump record`.
    #[arg(long, value_name = "FILE")]
    pub(crate) history: Option<PathBuf>,
    /// While bound to loopback, also answer requests to this host name
    /// (repeatable).
    #[arg(long, value_name = "NAME")]
    pub(crate) allow_host: Vec<String>,
    /// Connections open at once: at the cap, the oldest one still waiting
    /// for a request head is dropped for a new one (503 when all are being
    /// answered).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub(crate) max_connections: usize,
    /// Connections one client address may hold while they wait for a
    /// request head (beyond, its oldest waiting one is dropped).
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub(crate) max_pending_per_client: usize,
    /// Largest request head (request line and headers).
    #[arg(long, value_name = "SIZE", default_value = "16K", value_parser = mmdump::record::parse_size)]
    pub(crate) max_header_size: u64,
    /// Time a client has to send its request head.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = mmdump::record::parse_duration)]
    pub(crate) header_timeout: Duration,
    /// Time an answer may take to compute.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = mmdump::record::parse_duration)]
    pub(crate) request_timeout: Duration,
    /// Longest a connection is kept open.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = mmdump::record::parse_duration)]
    pub(crate) connection_lifetime: Duration,
}

#[cfg(feature = "serve")]
#[derive(Args, Debug)]
pub(crate) struct RecordArgs {
    /// Stats files, directories or wildcard patterns.
    pub(crate) paths: Vec<PathBuf>,
    /// The SQLite database (created, mode 0600, if missing).
    #[arg(long, value_name = "FILE")]
    pub(crate) db: PathBuf,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Combine files: sum (the default), avg, min or max (counters are
    /// always summed).
    #[arg(short = 'a', long, value_name = "MODE", default_value_t = AggregateMode::Sum)]
    pub(crate) aggregate: AggregateMode,
    /// Time between samples.
    #[arg(short = 'i', long, value_name = "DURATION", default_value = "1s", value_parser = mmdump::record::parse_duration)]
    pub(crate) interval: Duration,
    /// Stop after this many samples.
    #[arg(short = 'c', long, value_name = "N")]
    pub(crate) count: Option<u64>,
    /// Stop after this long.
    #[arg(long, value_name = "DURATION", value_parser = mmdump::record::parse_duration)]
    pub(crate) duration: Option<Duration>,
    #[command(flatten)]
    pub(crate) retention: RetentionArgs,
    /// Print nothing but errors.
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
}

#[cfg(feature = "serve")]
#[derive(Args, Debug)]
pub(crate) struct TrendArgs {
    /// Recorded series to chart (name patterns; each selects its subtree).
    #[arg(required_unless_present = "list")]
    pub(crate) names: Vec<String>,
    /// The SQLite database `mmdump record` (or `serve --record`) wrote.
    #[arg(long, value_name = "FILE")]
    pub(crate) db: PathBuf,
    /// Write the chart here (.svg or .png); default: SVG on standard
    /// output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Image format, when the output's extension does not say it.
    #[arg(long, value_name = "FORMAT")]
    pub(crate) format: Option<mmdump::trend::ChartFormat>,
    /// Start of the chart, this long ago.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = mmdump::record::parse_duration)]
    pub(crate) since: Duration,
    /// End of the chart, this long ago.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = mmdump::record::parse_duration)]
    pub(crate) until: Duration,
    /// What to draw: auto (counters' rates, other kinds' values), value
    /// or rate.
    #[arg(long, value_name = "WHAT", default_value = "auto")]
    pub(crate) show: mmdump::trend::Show,
    /// Width in pixels.
    #[arg(long, default_value_t = 1000)]
    pub(crate) width: u32,
    /// Height in pixels.
    #[arg(long, default_value_t = 500)]
    pub(crate) height: u32,
    /// Title (default: the series' names).
    #[arg(long)]
    pub(crate) title: Option<String>,
    /// List the recorded series instead.
    #[arg(long)]
    pub(crate) list: bool,
}

#[cfg(feature = "push")]
#[derive(Args, Debug)]
pub(crate) struct PushArgs {
    /// Stats files, directories or wildcard patterns; default: the stats
    /// directory.
    pub(crate) paths: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// The receiver's remote-write URL (http://HOST[:PORT]/PATH).
    #[arg(long, value_name = "URL")]
    pub(crate) url: String,
    /// Time between reads of the files.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = mmdump::record::parse_duration)]
    pub(crate) interval: Duration,
    /// Deadline of one request.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = mmdump::record::parse_duration)]
    pub(crate) timeout: Duration,
    /// Compressed requests kept while the receiver is away (the oldest
    /// are dropped past it).
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = mmdump::record::parse_size)]
    pub(crate) max_queue: u64,
    /// Series per request.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub(crate) max_series: usize,
    /// An extra request header, "Name: value" (repeatable; for a tenant
    /// id such as X-Scope-OrgID).
    #[arg(long, value_name = "HEADER")]
    pub(crate) header: Vec<String>,
    /// Send "Authorization: Bearer TOKEN" with the token read from this
    /// file (kept off the command line, where other users see it).
    #[arg(long, value_name = "FILE")]
    pub(crate) bearer_token_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) export: ExportArgs,
    /// Stop after this many reads (each sent before stopping).
    #[arg(long, value_name = "N")]
    pub(crate) count: Option<u64>,
}

/// How fields become metrics, for `serve` and `push` alike.
#[cfg(feature = "serve")]
#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    /// How gauges of files with the same labels are combined: sum, avg,
    /// min or max (counters are always summed).
    #[arg(short = 'a', long, value_name = "MODE", default_value_t = AggregateMode::Sum)]
    pub(crate) aggregate: AggregateMode,
    /// Prefix of every metric name ("" for none).
    #[arg(long, value_name = "PREFIX", default_value = "mmstats")]
    pub(crate) namespace: String,
    /// Also label metrics by pid or thread (repeatable), instead of
    /// combining a program's files.
    #[arg(long, value_name = "LABEL")]
    pub(crate) label: Vec<MetricLabel>,
    /// Leave strings out of /metrics (they are info metrics with the
    /// string in a "value" label; a string that changes often makes many
    /// series).
    #[arg(long)]
    pub(crate) no_strings: bool,
    /// Most label sets (series) one metric family exports; the rest are
    /// counted in mmdump_serve_family_dropped_series and logged once.
    #[arg(long, value_name = "N", default_value_t = mmdump::serve::metrics::DEFAULT_MAX_SERIES_PER_FAMILY)]
    pub(crate) max_series_per_family: usize,
}
