//! The JSON API and history charts.
//!
//! - `/api/v1/stats?include=&exclude=&file=&pid=&aggregate=`: the document
//!   `mmdump --json [-I ...] [-X ...] [-f ...] [-p ...] [-a MODE]` prints
//!   (schema 1), built by the same functions ([`stats_document`]).
//! - `/api/v1/live[?aggregate=per-file]`: the last `mmdump watch --json`
//!   frame of the server's sampler (combined by the server's rule, or per
//!   file), with values, rates and moving averages.
//! - `/api/v1/info`: the server's settings (for the dashboard).
//! - `/api/v1/series`: the recorded series; `/api/v1/history?name=&since=
//!   &until=&points=`: one series' history, `[t_ms, value, min, max,
//!   rate, tier]` per point, or a string's changes.
//! - `/chart.svg`, `/chart.png` `?name=...&since=&until=&show=&width=
//!   &height=`: the chart `mmdump trend` draws.

use std::path::Path;

use serde_json::{Value as Json, json};

use crate::dump::aggregate::{AggregateMode, aggregate};
use crate::dump::{self, Report, collect_selected};
use crate::glob::NamePattern;
use crate::record::{StoreError, TrendReader, parse_duration};
use crate::trend::{self, ChartFormat, ChartOptions, Show};

use super::query::{FILTER_KEYS, Params, QueryError};
use super::{App, Body, Response, bad_request};

/// The `mmdump --json` document of `report`: schema 1, with an
/// `aggregate` object when `mode` combines files.
#[must_use]
pub fn stats_document(report: &Report, mode: AggregateMode) -> Json {
    let mut document = dump::to_json(report);
    if mode != AggregateMode::PerFile {
        let files: Vec<_> = report.files.iter().collect();
        let combined = aggregate(&files, mode, &Default::default());
        let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
        if let Some(object) = document.as_object_mut() {
            object.insert("aggregate".into(), dump::aggregate_json(&combined, &paths));
        }
    }
    document
}

/// `/api/v1/stats`.
pub(super) fn stats(app: &App, query: Option<&str>) -> Result<Response, Response> {
    let mut keys = FILTER_KEYS.to_vec();
    keys.push("aggregate");
    let params = Params::parse(query, &keys).map_err(bad_request(true))?;
    let selection = params.selection().map_err(bad_request(true))?;
    let mode = params
        .aggregate()
        .map_err(bad_request(true))?
        .unwrap_or(AggregateMode::PerFile);
    // The server's own filters, then the request's.
    let mut report = collect_selected(&app.config().inputs, &app.config().selection);
    selection.apply(&mut report);
    Ok(Response::json(200, &stats_document(&report, mode)))
}

/// `/api/v1/live`.
pub(super) fn live(app: &App, query: Option<&str>) -> Result<Response, Response> {
    let params = Params::parse(query, &["aggregate"]).map_err(bad_request(true))?;
    let per_file = match params.aggregate().map_err(bad_request(true))? {
        None => false,
        Some(AggregateMode::PerFile) => true,
        Some(mode) if mode == app.mode() => false,
        Some(mode) => {
            return Err(Response::error(
                400,
                &format!(
                    "the live view is combined by {} (the server's --aggregate) or per-file, not {mode}",
                    app.mode()
                ),
                true,
            ));
        }
    };
    match app.live().frame(per_file) {
        Some(frame) => {
            let mut body = frame.as_bytes().to_vec();
            body.push(b'\n');
            Ok(Response::new(200, "application/json", Body::Owned(body)))
        }
        None => Err(Response::error(
            503,
            "the first read has not finished yet",
            true,
        )),
    }
}

/// `/timeline`: the last `seconds` (default 10, at most 3,600) of spans
/// and events of every event ring the server reads, one row per thread
/// (the page `mmdump trace --html` writes; no script, no external asset).
/// The rings are read once per request, as `mmdump trace` reads them: at
/// most what they hold.
pub(super) fn timeline(app: &App, query: Option<&str>) -> Result<Response, Response> {
    let params = Params::parse(query, &["seconds"]).map_err(bad_request(false))?;
    let seconds = match params.one("seconds").map_err(bad_request(false))? {
        None => 10.0,
        Some(text) => match text.parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => s,
            _ => {
                return Err(Response::error(
                    400,
                    "seconds must be a number above 0 and at most 3600",
                    false,
                ));
            }
        },
    };
    let config = app.config();
    let records = crate::trace::read_rings(crate::tail::TailOptions {
        paths: config.inputs.clone(),
        selection: config.selection.clone(),
        ..crate::tail::TailOptions::default()
    });
    let trace = crate::trace::chrome_trace(&records);
    Ok(Response::new(
        200,
        "text/html; charset=utf-8",
        Body::Owned(crate::trace::timeline_html(&trace, seconds * 1e6).into_bytes()),
    ))
}

/// `/api/v1/info`.
pub(super) fn info(app: &App, query: Option<&str>) -> Result<Response, Response> {
    Params::parse(query, &[]).map_err(bad_request(true))?;
    let config = app.config();
    Ok(Response::json(
        200,
        &json!({
            "schema": dump::JSON_SCHEMA,
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": app.uptime().as_secs_f64(),
            "mode": app.mode().name(),
            "namespace": config.metrics.names.namespace,
            "history": config.history.is_some(),
            "record_error": app.live().record_error(),
            "ticks": app.live().ticks(),
        }),
    ))
}

fn open_history(app: &App) -> Result<TrendReader, Response> {
    let Some(path) = &app.config().history else {
        return Err(Response::error(
            404,
            "no trend history: start the server with --record FILE (or --history FILE)",
            true,
        ));
    };
    TrendReader::open(path).map_err(|error| match error {
        // Recording has not written its first sample yet.
        StoreError::NotTrendDatabase { .. } | StoreError::Io { .. } => {
            Response::error(503, &format!("trend history not available: {error}"), true)
        }
        other => Response::error(500, &other.to_string(), true),
    })
}

fn store_error(error: &StoreError) -> Response {
    Response::error(500, &error.to_string(), true)
}

/// `/api/v1/series`.
pub(super) fn series(app: &App, query: Option<&str>) -> Result<Response, Response> {
    Params::parse(query, &[]).map_err(bad_request(true))?;
    let reader = open_history(app)?;
    let series = reader.query().series().map_err(|e| store_error(&e))?;
    let list: Vec<Json> = series
        .iter()
        .map(|s| json!({"name": s.name, "kind": s.kind, "unit": s.unit}))
        .collect();
    Ok(Response::json(200, &json!({ "series": list })))
}

/// A time range from `since` and `until` parameters (durations before
/// now; defaults 1 hour and 0), in ms since the epoch.
fn time_range(params: &Params) -> Result<(i64, i64), QueryError> {
    let duration = |key: &str, default: &str| -> Result<i64, QueryError> {
        let text = params.one(key)?.unwrap_or(default);
        let duration = parse_duration(text).map_err(|reason| QueryError::Invalid {
            key: key.to_owned(),
            reason: reason.to_string(),
        })?;
        Ok(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
    };
    let now = (mmstats::os::now_ns() / 1_000_000) as i64;
    let since = duration("since", "1h")?;
    let until = duration("until", "0s")?;
    if since <= until {
        return Err(QueryError::Invalid {
            key: "since".into(),
            reason: "must be further back than until".into(),
        });
    }
    Ok((now.saturating_sub(since), now.saturating_sub(until)))
}

fn number<T>(
    params: &Params,
    key: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, QueryError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(text) = params.one(key)? else {
        return Ok(default);
    };
    let value: T = text.parse().map_err(|_| QueryError::Invalid {
        key: key.to_owned(),
        reason: format!("{text:?} is not a number"),
    })?;
    if !range.contains(&value) {
        return Err(QueryError::Invalid {
            key: key.to_owned(),
            reason: format!("must be within {}..={}", range.start(), range.end()),
        });
    }
    Ok(value)
}

/// `/api/v1/history`.
pub(super) fn history(app: &App, query: Option<&str>) -> Result<Response, Response> {
    let params =
        Params::parse(query, &["name", "since", "until", "points"]).map_err(bad_request(true))?;
    let name = params
        .one("name")
        .map_err(bad_request(true))?
        .ok_or_else(|| Response::error(400, "query parameter \"name\" is required", true))?;
    let (since, until) = time_range(&params).map_err(bad_request(true))?;
    let points: usize = number(&params, "points", 600, 2..=5000).map_err(bad_request(true))?;
    let reader = open_history(app)?;
    let query = reader.query();
    let Some(series) = query.find(name).map_err(|e| store_error(&e))? else {
        return Err(Response::error(
            404,
            &format!("no recorded series named {name:?}"),
            true,
        ));
    };
    let mut document = json!({
        "name": series.name,
        "kind": series.kind,
        "unit": series.unit,
        "since_ms": since,
        "until_ms": until,
    });
    let object = document.as_object_mut().expect("a JSON object");
    if series.kind == "string" {
        let texts = query
            .texts(series.id, since, until, points)
            .map_err(|e| store_error(&e))?;
        object.insert(
            "texts".into(),
            Json::Array(texts.into_iter().map(|(t, v)| json!([t, v])).collect()),
        );
    } else {
        let history = query
            .history(series.id, since, until, points)
            .map_err(|e| store_error(&e))?;
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
        object.insert(
            "points".into(),
            Json::Array(
                history
                    .iter()
                    .map(|p| {
                        json!([
                            p.t_ms,
                            finite(p.value),
                            finite(p.min),
                            finite(p.max),
                            finite(p.rate),
                            p.tier
                        ])
                    })
                    .collect(),
            ),
        );
    }
    Ok(Response::json(200, &document))
}

/// `/chart.svg`, `/chart.png`.
pub(super) fn chart(
    app: &App,
    query: Option<&str>,
    format: ChartFormat,
) -> Result<Response, Response> {
    let params = Params::parse(
        query,
        &["name", "since", "until", "show", "width", "height", "title"],
    )
    .map_err(bad_request(false))?;
    let names: Vec<NamePattern> = params.all("name").map(NamePattern::new).collect();
    if names.is_empty() {
        return Err(Response::error(
            400,
            "query parameter \"name\" is required",
            false,
        ));
    }
    if names.len() > 16 {
        return Err(Response::error(400, "at most 16 names per chart", false));
    }
    let (since_ms, until_ms) = time_range(&params).map_err(bad_request(false))?;
    let show: Show = match params.one("show").map_err(bad_request(false))? {
        None => Show::Auto,
        Some(text) => text.parse().map_err(|reason| {
            bad_request(false)(QueryError::Invalid {
                key: "show".into(),
                reason,
            })
        })?,
    };
    let options = ChartOptions {
        width: number(&params, "width", 900, 100..=4000).map_err(bad_request(false))?,
        height: number(&params, "height", 360, 100..=4000).map_err(bad_request(false))?,
        since_ms,
        until_ms,
        show,
        title: params
            .one("title")
            .map_err(bad_request(false))?
            .map(str::to_owned),
    };
    let reader = open_history(app)?;
    let lines =
        trend::select_series(&reader.query(), &names, &options).map_err(|error| match error {
            trend::ChartError::NoSuchSeries(_) | trend::ChartError::Options(_) => {
                Response::error(404, &error.to_string(), false)
            }
            other => Response::error(500, &other.to_string(), false),
        })?;
    let image = trend::render(&lines, &options, format)
        .map_err(|e| Response::error(500, &e.to_string(), false))?;
    Ok(Response::new(
        200,
        format.content_type(),
        Body::Owned(image),
    ))
}
