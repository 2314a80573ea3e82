//! `mmdump trend`: chart recorded history (SVG or PNG), or list it.

use std::io::{self, BufWriter, IsTerminal, Write};
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
            super::write_new_file(path, &image, 0o644)?;
        }
        None => {
            out.write_all(&image)?;
            out.flush()?;
        }
    }
    Ok(())
}
