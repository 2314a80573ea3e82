//! `mmdump trend`: chart recorded history (SVG or PNG), or list it.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use mmdump::dump;
use mmdump::glob::NamePattern;

use super::{MmdumpError, UsageError};
use crate::cli::TrendArgs;

/// `mmdump trend`.
pub(crate) fn trend(args: &TrendArgs) -> Result<(), MmdumpError> {
    use mmdump::record::TrendReader;
    use mmdump::trend::{ChartFormat, ChartOptions};

    let reader = TrendReader::open(&args.db)?;
    let query = reader.query();
    let mut out = BufWriter::new(io::stdout().lock());
    if args.list {
        let summary = query.summary()?;
        let when = |t: Option<i64>| {
            t.map_or_else(
                || "-".to_owned(),
                |ms| dump::format_unix_ns(ms.max(0) as u64 * 1_000_000)[..19].to_owned() + "Z",
            )
        };
        writeln!(
            out,
            "{:<40} {:<9} {:<12} {:>6}  FIRST                 LAST",
            "NAME", "KIND", "UNIT", "ROWS"
        )?;
        for series in summary {
            writeln!(
                out,
                "{:<40} {:<9} {:<12} {:>6}  {}  {}",
                dump::printable(&series.info.name),
                series.info.kind,
                series.info.unit,
                series.rows,
                when(series.first_ms),
                when(series.last_ms)
            )?;
        }
        out.flush()?;
        return Ok(());
    }
    let format = match (
        args.format,
        args.output.as_deref().and_then(ChartFormat::from_path),
    ) {
        (Some(format), _) | (None, Some(format)) => format,
        (None, None) if args.output.is_some() => {
            return Err(UsageError::ChartFormatUnknown.into());
        }
        (None, None) => ChartFormat::Svg,
    };
    if args.output.is_none() && format == ChartFormat::Png && io::stdout().is_terminal() {
        return Err(UsageError::PngOnTerminal.into());
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
    let image = image.map_err(MmdumpError::Chart)?;
    match &args.output {
        Some(path) => {
            write_new_file(path, &image)?;
        }
        None => {
            out.write_all(&image)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same
/// directory (created `O_EXCL`, mode 0644: a chart is for sharing), then
/// renamed into place; a symbolic link at `path` is replaced, never
/// followed.
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
