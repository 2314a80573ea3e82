//! `mmdump munin`: the munin plugin protocol.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use mmdump::dump::munin::{MuninCommand, MuninPlugin};

use super::{MmdumpError, UsageError, exit_code, report_errors};
use crate::cli::FilterArgs;

/// `mmdump munin`, or the binary linked as `mmstats_SELECTOR`.
pub(crate) fn munin(plugin: &str, command: &str, filter: &FilterArgs) -> Result<(), MmdumpError> {
    let command: MuninCommand = match command.parse() {
        Ok(command) => command,
        Err(error) => return Err(UsageError::Munin(error).into()),
    };
    let mut plugin = match MuninPlugin::new(plugin, |name| std::env::var(name).ok()) {
        Ok(plugin) => plugin,
        Err(error) => return Err(UsageError::Munin(error).into()),
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
    exit_code(&report)
}
