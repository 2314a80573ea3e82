//! `mmdump serve`: Prometheus /metrics, the JSON API and the dashboard.

use std::io::{self, Write};
use std::time::Duration;

use mmdump::dump::aggregate::AggregateMode;
use mmdump::dump::watch::WatchConfig;

use super::{MmdumpError, UsageError};
use crate::cli::{ExportArgs, MetricLabel, ServeArgs};

/// How fields become metrics, as `serve` and `push` are told, checked.
pub(crate) fn metrics_options(
    args: &ExportArgs,
) -> Result<mmdump::serve::metrics::MetricsOptions, MmdumpError> {
    if args.aggregate == AggregateMode::PerFile {
        return Err(UsageError::ServeNeedsCombining.into());
    }
    if !args.namespace.is_empty()
        && !mmdump::serve::prometheus::is_valid_metric_name(&args.namespace)
    {
        return Err(UsageError::BadNamespace.into());
    }
    if args.max_series_per_family == 0 {
        return Err(UsageError::ZeroCount {
            flag: "--max-series-per-family",
        }
        .into());
    }
    Ok(mmdump::serve::metrics::MetricsOptions {
        names: mmdump::serve::prometheus::NameOptions {
            namespace: args.namespace.clone(),
            strings: !args.no_strings,
        },
        pid_label: args.label.contains(&MetricLabel::Pid),
        thread_label: args.label.contains(&MetricLabel::Thread),
        mode: args.aggregate,
        max_series_per_family: args.max_series_per_family,
    })
}

/// `mmdump serve`.
pub(crate) fn serve(args: &ServeArgs) -> Result<(), MmdumpError> {
    use mmdump::serve::{App, Limits, ServeConfig, http::Server, live};

    let metrics = metrics_options(&args.export)?;
    if args.max_connections == 0 {
        return Err(UsageError::ZeroCount {
            flag: "--max-connections",
        }
        .into());
    }
    if args.max_pending_per_client == 0 {
        return Err(UsageError::ZeroCount {
            flag: "--max-pending-per-client",
        }
        .into());
    }
    if args.record_interval < Duration::from_millis(100) {
        return Err(UsageError::IntervalTooShort {
            flag: "--record-interval",
        }
        .into());
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
            let store = mmdump::record::TrendStore::open(path, args.retention.retention())?;
            Some(mmdump::record::Recorder::new(store, args.record_interval))
        }
        None => None,
    };
    let server = Server::bind(args.listen).map_err(|source| MmdumpError::Listen {
        address: args.listen,
        source,
    })?;
    let selection = args.filter.selection();
    let config = ServeConfig {
        // The address bound (the port chosen, with port 0), which the
        // Host check compares ports with.
        listen: server.local_addr(),
        inputs: args.paths.clone(),
        selection: selection.clone(),
        metrics,
        history: args.record.clone().or_else(|| args.history.clone()),
        limits,
        allowed_hosts: args.allow_host.clone(),
    };
    let view = live::LiveView::default();
    let _sampler = live::Sampler::start(
        WatchConfig {
            inputs: args.paths.clone(),
            selection,
            mode: args.export.aggregate,
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
    Ok(())
}
