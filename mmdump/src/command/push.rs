//! `mmdump push`: remote write to a Prometheus-compatible receiver.

use std::io::{self, Read};
use std::path::Path;

use mmdump::push::client::Endpoint;
use mmdump::push::{PushConfig, run};

use super::{MmdumpError, UsageError};
use crate::cli::PushArgs;

/// The largest bearer-token file read (tokens are far smaller; a larger
/// file is not a token).
const MAX_SECRET_BYTES: u64 = 64 * 1024;

fn read_secret(path: &Path) -> Result<String, MmdumpError> {
    let secret_error = |source| MmdumpError::SecretFile {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(secret_error)?;
    let mut text = String::new();
    file.take(MAX_SECRET_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(secret_error)?;
    if text.len() as u64 > MAX_SECRET_BYTES {
        return Err(secret_error(io::Error::new(
            io::ErrorKind::InvalidData,
            "larger than 64 KiB: not a token",
        )));
    }
    let token = text.trim();
    if token.is_empty() || token.chars().any(char::is_control) {
        return Err(secret_error(io::Error::new(
            io::ErrorKind::InvalidData,
            "empty, or more than one line",
        )));
    }
    Ok(token.to_owned())
}

fn parse_header(text: &str) -> Result<(String, String), UsageError> {
    let bad = || UsageError::BadHeader {
        header: text.to_owned(),
    };
    let (name, value) = text.split_once(':').ok_or_else(bad)?;
    let (name, value) = (name.trim(), value.trim());
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) || value.chars().any(char::is_control) {
        return Err(bad());
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// `mmdump push`.
pub(crate) fn push(args: &PushArgs) -> Result<(), MmdumpError> {
    let metrics = super::serve::metrics_options(&args.export)?;
    if args.interval < std::time::Duration::from_millis(100) {
        return Err(UsageError::IntervalTooShort { flag: "--interval" }.into());
    }
    if args.max_series == 0 {
        return Err(UsageError::ZeroCount {
            flag: "--max-series",
        }
        .into());
    }
    if args.count == Some(0) {
        return Err(UsageError::ZeroCount { flag: "--count" }.into());
    }
    let endpoint = Endpoint::parse(&args.url).map_err(UsageError::PushUrl)?;
    let mut headers = args
        .header
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(path) = &args.bearer_token_file {
        headers.push((
            "authorization".to_owned(),
            format!("Bearer {}", read_secret(path)?),
        ));
    }
    let config = PushConfig {
        endpoint,
        inputs: args.paths.clone(),
        selection: args.filter.selection(),
        metrics,
        interval: args.interval,
        timeout: args.timeout.max(std::time::Duration::from_millis(100)),
        max_queue_bytes: usize::try_from(args.max_queue).unwrap_or(usize::MAX),
        max_series: args.max_series,
        headers,
        count: args.count,
    };
    let stop = mmdump::signals::stop_flag();
    let totals = run(&config, stop).map_err(MmdumpError::Push)?;
    eprintln!("mmdump push: {totals}");
    if totals.unsent_samples > 0 || totals.refused_samples > 0 || totals.dropped_samples > 0 {
        return Err(MmdumpError::Incomplete);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_name_colon_value() {
        assert_eq!(
            parse_header("X-Scope-OrgID: team-a").unwrap(),
            ("X-Scope-OrgID".to_owned(), "team-a".to_owned())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert!(parse_header("X: a\r\nInjected: b").is_err());
    }
}
