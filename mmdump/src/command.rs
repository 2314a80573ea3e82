//! The subcommands, one module each, and what they share: the one error
//! type `main` turns into a message and an exit code, and the reporting
//! of files that could not be read.

use std::collections::HashSet;
use std::error::Error;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use mmdump::dump::{FileError, Report, printable, problem_text};

pub(crate) mod clean;
pub(crate) mod demo;
pub(crate) mod dump;
pub(crate) mod get;
pub(crate) mod image;
pub(crate) mod list;
pub(crate) mod munin;
#[cfg(feature = "push")]
pub(crate) mod push;
#[cfg(feature = "serve")]
pub(crate) mod record;
#[cfg(feature = "serve")]
pub(crate) mod serve;
pub(crate) mod tail;
pub(crate) mod trace;
pub(crate) mod tree;
#[cfg(feature = "serve")]
pub(crate) mod trend;
pub(crate) mod watch;

/// Why a subcommand failed: the one error `main` maps to a message on
/// standard error and an exit code (2 for usage errors, 1 otherwise).
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum MmdumpError {
    /// The arguments do not make sense together (exit code 2).
    Usage(UsageError),
    /// Some files, fields or values could not be read, were absent, or
    /// could not be removed; each was said on standard error as it was
    /// met, and the rest was still printed (exit code 1, no more said).
    Incomplete,
    /// Reading or writing failed (a closed standard output, exit code 0:
    /// the reader has enough, as with `mmdump | head`).
    Io(io::Error),
    #[cfg(feature = "serve")]
    /// `serve` could not listen on its address.
    Listen {
        address: std::net::SocketAddr,
        source: io::Error,
    },
    /// The demo writer could not create its files.
    Demo(mmstats::CreateError),
    /// The trend database could not be opened, read or written (a bad
    /// retention setting is a usage error, exit code 2).
    #[cfg(feature = "serve")]
    Store(mmdump::record::StoreError),
    /// No chart could be drawn (bad chart options: exit code 2).
    #[cfg(feature = "serve")]
    Chart(mmdump::trend::ChartError),
    /// `push` could not start.
    #[cfg(feature = "push")]
    Push(mmdump::push::PushError),
    /// A secret file (`push --bearer-token-file`) could not be read.
    #[cfg(feature = "push")]
    SecretFile { path: PathBuf, source: io::Error },
}

/// Arguments that do not make sense together (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum UsageError {
    /// A seconds option below 0.1.
    IntervalTooShort { flag: &'static str },
    /// A count option of 0.
    ZeroCount { flag: &'static str },
    #[cfg(feature = "serve")]
    /// `serve` with --aggregate per-file.
    ServeNeedsCombining,
    #[cfg(feature = "serve")]
    /// `record` with --aggregate per-file.
    RecordNeedsCombining,
    #[cfg(feature = "serve")]
    /// `serve --namespace` that is no metric name.
    BadNamespace,
    #[cfg(feature = "serve")]
    /// `trend -o FILE` whose extension names no chart format, and no
    /// --format.
    ChartFormatUnknown,
    #[cfg(feature = "serve")]
    /// `trend` asked for a PNG on a terminal.
    PngOnTerminal,
    /// A munin command, plugin name or setting the munin module refused.
    Munin(mmdump::dump::munin::MuninError),
    /// `push --url` that cannot be used.
    #[cfg(feature = "push")]
    PushUrl(mmdump::push::client::UrlError),
    /// `push --header` that is not `Name: value`.
    #[cfg(feature = "push")]
    BadHeader { header: String },
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IntervalTooShort { flag } => write!(f, "{flag} must be at least 0.1 seconds"),
            Self::ZeroCount { flag } => write!(f, "{flag} must be at least 1"),
            #[cfg(feature = "serve")]
            Self::ServeNeedsCombining => f.write_str(
                "serve combines files with the same labels: --aggregate sum, avg, min or max (use --label pid --label thread to keep files apart)",
            ),
            #[cfg(feature = "serve")]
            Self::RecordNeedsCombining => {
                f.write_str("record combines files: --aggregate sum, avg, min or max")
            }
            #[cfg(feature = "serve")]
            Self::BadNamespace => f.write_str(
                "--namespace must be letters, digits and underscores, not starting with a digit",
            ),
            #[cfg(feature = "serve")]
            Self::ChartFormatUnknown => {
                f.write_str("say the format with --format svg|png or an .svg/.png file name")
            }
            #[cfg(feature = "serve")]
            Self::PngOnTerminal => f.write_str("a PNG is not for the terminal: give -o FILE.png"),
            Self::Munin(error) => error.fmt(f),
            #[cfg(feature = "push")]
            Self::PushUrl(error) => write!(f, "--url: {error}"),
            #[cfg(feature = "push")]
            Self::BadHeader { header } => write!(
                f,
                "--header {header:?}: give \"Name: value\" with a valid header name and a value without control characters"
            ),
        }
    }
}

impl Error for UsageError {}

impl fmt::Display for MmdumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(error) => error.fmt(f),
            Self::Incomplete => f.write_str("not everything could be read"),
            Self::Io(error) => error.fmt(f),
            #[cfg(feature = "serve")]
            Self::Listen { address, source } => write!(f, "cannot listen on {address}: {source}"),
            Self::Demo(error) => error.fmt(f),
            #[cfg(feature = "serve")]
            Self::Store(error) => error.fmt(f),
            #[cfg(feature = "serve")]
            Self::Chart(error) => error.fmt(f),
            #[cfg(feature = "push")]
            Self::Push(error) => error.fmt(f),
            #[cfg(feature = "push")]
            Self::SecretFile { path, source } => {
                write!(f, "{}: {source}", printable(&path.to_string_lossy()))
            }
        }
    }
}

impl Error for MmdumpError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Usage(error) => Some(error),
            Self::Incomplete => None,
            Self::Io(error) => Some(error),
            #[cfg(feature = "serve")]
            Self::Listen { source, .. } => Some(source),
            Self::Demo(error) => Some(error),
            #[cfg(feature = "serve")]
            Self::Store(error) => Some(error),
            #[cfg(feature = "serve")]
            Self::Chart(error) => Some(error),
            #[cfg(feature = "push")]
            Self::Push(error) => Some(error),
            #[cfg(feature = "push")]
            Self::SecretFile { source, .. } => Some(source),
        }
    }
}

impl From<io::Error> for MmdumpError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

impl From<UsageError> for MmdumpError {
    fn from(error: UsageError) -> Self {
        Self::Usage(error)
    }
}

#[cfg(feature = "serve")]
impl From<mmdump::record::StoreError> for MmdumpError {
    fn from(error: mmdump::record::StoreError) -> Self {
        Self::Store(error)
    }
}

impl MmdumpError {
    /// Says what went wrong on standard error (unless it was said
    /// already) and gives the exit code.
    pub(crate) fn report(&self) -> ExitCode {
        let code = self.exit_status();
        if code != 0 && !matches!(self, Self::Incomplete) {
            eprintln!("mmdump: {self}");
        }
        ExitCode::from(code)
    }

    /// 2 for a usage error, 0 for a closed standard output, else 1.
    fn exit_status(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            // A closed pipe (`mmdump | head`) is the reader saying it has
            // enough: not an error.
            Self::Io(error) if error.kind() == io::ErrorKind::BrokenPipe => 0,
            #[cfg(feature = "serve")]
            Self::Store(mmdump::record::StoreError::Config(_)) => 2,
            #[cfg(feature = "serve")]
            Self::Chart(mmdump::trend::ChartError::Options(_)) => 2,
            _ => 1,
        }
    }
}

/// The file failures of a watch or record loop already said, so that each
/// distinct one is said once, not at every read.
#[derive(Default)]
pub(crate) struct ReportedFailures(HashSet<(PathBuf, String)>);

impl ReportedFailures {
    /// Says on standard error the failures in `errors` not said before.
    pub(crate) fn say_new(&mut self, errors: &[(PathBuf, FileError)]) {
        for (path, error) in errors {
            if self.0.insert((path.clone(), error.to_string())) {
                eprintln!(
                    "mmdump: {}: {}",
                    printable(&path.display().to_string()),
                    error
                );
            }
        }
    }
}

/// Says on standard error which files, and which fields of files, could
/// not be read.
pub(crate) fn report_errors(report: &Report) {
    for (path, error) in &report.errors {
        eprintln!(
            "mmdump: {}: {}",
            printable(&path.display().to_string()),
            error
        );
    }
    for file in &report.files {
        for problem in &file.problems {
            eprintln!(
                "mmdump: {}: {}",
                printable(&file.path.display().to_string()),
                problem_text(problem)
            );
        }
    }
}

/// `Incomplete` when a file or field of `report` could not be read.
pub(crate) fn exit_code(report: &Report) -> Result<(), MmdumpError> {
    if report.has_errors() {
        Err(MmdumpError::Incomplete)
    } else {
        Ok(())
    }
}

/// Says there are no stats files, when the default directory was read
/// without error and held none. A directory that could not be read is an
/// error (in `report`, exit code 1), never "no stats files"; a missing one
/// is said to be missing.
pub(crate) fn note_if_empty(report: &Report, paths: &[PathBuf], json: bool) {
    if report.files.is_empty() && report.errors.is_empty() && paths.is_empty() && !json {
        let dir = mmstats::default_dir();
        let shown = printable(&dir.display().to_string());
        match std::fs::symlink_metadata(&dir) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => eprintln!(
                "mmdump: no stats files: {shown} does not exist (run `mmdump demo` to see some)"
            ),
            _ => eprintln!("mmdump: no stats files in {shown} (run `mmdump demo` to see some)"),
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same
/// directory (created `O_EXCL | O_NOFOLLOW` with `mode`: 0644 for a chart,
/// which is for sharing; 0600 for a trace), then renamed into place; a
/// symbolic link at `path` is replaced, never followed.
pub(crate) fn write_new_file(path: &std::path::Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;

    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
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
        .mode(mode)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_and_say_what_they_always_said() {
        let error = MmdumpError::from(UsageError::IntervalTooShort { flag: "--interval" });
        assert_eq!(error.exit_status(), 2);
        assert_eq!(error.to_string(), "--interval must be at least 0.1 seconds");
        assert!(error.source().is_some());
        let error = MmdumpError::from(UsageError::ZeroCount { flag: "--count" });
        assert_eq!(error.to_string(), "--count must be at least 1");
    }

    #[test]
    fn failures_exit_1_and_a_closed_pipe_0() {
        assert_eq!(MmdumpError::Incomplete.exit_status(), 1);
        let io = |kind| MmdumpError::from(io::Error::from(kind));
        assert_eq!(io(io::ErrorKind::PermissionDenied).exit_status(), 1);
        assert_eq!(io(io::ErrorKind::BrokenPipe).exit_status(), 0);
    }
}
