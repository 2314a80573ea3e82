//! `mmdump trace`: event rings (live, or archives written by `mmdump tail
//! --archive`) as Chrome trace-event JSON, which Perfetto and
//! `chrome://tracing` open.
//!
//! One track per writer thread: the process is the stats file's writer
//! (its pid, from the file name, else a number of our own; a
//! `process_name` metadata event names the program), the thread is the
//! record's thread id (`thread_name`: `tid N`). A span (enter and exit
//! records of one ring with the same span id) is a complete event
//! (`ph: "X"`, `ts` and `dur` in microseconds); a span still open at the
//! end of the input is one too, ending at its track's last record, with
//! `args.unfinished`. Any other record is an instant event (`ph: "i"`,
//! thread scope): its text, or `event N`, as the name, and its values in
//! `args`. Times are relative to the earliest record, whose wall-clock
//! time (ns since the Unix epoch) is `otherData.start_unix_ns`, so that
//! microseconds keep their fractions.
//!
//! Bounded by what is really there: the records are those the rings or
//! the archives hold; open spans are at most [`MAX_OPEN_SPANS`] (the
//! oldest are closed as unfinished beyond that); an archive line that is
//! not a record is skipped and counted in `otherData.skipped_lines`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use crate::tail::{Follower, Start, TailEvent, TailOptions, TailPayload, TailRecord};

/// Spans entered and not exited that are kept open at once.
pub const MAX_OPEN_SPANS: usize = 100_000;

/// Longest archive line read (longer lines are skipped).
const MAX_LINE: usize = 64 * 1024;

/// Why records could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum TraceError {
    /// An archive could not be opened or read.
    Archive {
        /// The archive.
        path: PathBuf,
        /// What failed.
        error: io::Error,
    },
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Archive { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for TraceError {}

/// Records read from rings or archives, and archive lines skipped.
#[derive(Debug, Default)]
pub struct Records {
    /// The records, in the order read.
    pub records: Vec<TailRecord>,
    /// Archive lines that were not records.
    pub skipped_lines: u64,
}

/// What the rings of `options.paths` hold now (oldest first).
#[must_use]
pub fn read_rings(mut options: TailOptions) -> Records {
    options.start = Start::Oldest;
    options.spans = false;
    let mut follower = Follower::new(options);
    let mut records = Vec::new();
    follower.poll(&mut |event| {
        if let TailEvent::Record(record) = event {
            records.push(record);
        }
    });
    Records {
        records,
        skipped_lines: 0,
    }
}

/// Appends the records of the archive at `path` (JSON lines of `mmdump
/// tail --archive`) to `into`.
pub fn read_archive(path: &Path, into: &mut Records) -> Result<(), TraceError> {
    let fail = |error| TraceError::Archive {
        path: path.to_owned(),
        error,
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut reader = io::BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(fail)?;
        if read == 0 {
            return Ok(());
        }
        if line.len() > MAX_LINE && !line.ends_with(b"\n") {
            // Too long: skip to the end of this line.
            let mut rest = Vec::new();
            loop {
                rest.clear();
                let more = (&mut reader)
                    .take(MAX_LINE as u64)
                    .read_until(b'\n', &mut rest)
                    .map_err(fail)?;
                if more == 0 || rest.ends_with(b"\n") {
                    break;
                }
            }
            into.skipped_lines += 1;
            continue;
        }
        match serde_json::from_slice::<Json>(&line)
            .ok()
            .and_then(|json| record_of(&json))
        {
            Some(record) => into.records.push(record),
            None => {
                if !line.iter().all(u8::is_ascii_whitespace) {
                    into.skipped_lines += 1;
                }
            }
        }
    }
}

/// A record line of an archive (`"type": "record"`), if it is one.
fn record_of(json: &Json) -> Option<TailRecord> {
    if json["type"] != "record" {
        return None;
    }
    let payload = &json["payload"];
    let payload = if let Some(text) = payload["text"].as_str() {
        TailPayload::Text(text.to_owned())
    } else if let Some(values) = payload["values"].as_array() {
        TailPayload::Values(values.iter().filter_map(Json::as_u64).collect())
    } else if payload["span_enter"].is_object() {
        TailPayload::SpanEnter {
            span: payload["span_enter"]["span"].as_u64()?,
            name: payload["span_enter"]["name"].as_str()?.to_owned(),
        }
    } else if payload["span_exit"].is_object() {
        TailPayload::SpanExit {
            span: payload["span_exit"]["span"].as_u64()?,
        }
    } else {
        TailPayload::Unknown {
            kind: payload["unknown_kind"]
                .as_u64()
                .and_then(|k| u8::try_from(k).ok())
                .unwrap_or(0),
        }
    };
    // `tail --json` writes a ring's labels as an object of strings, and
    // only for a labelled ring.
    let pairs: Vec<(&str, &str)> = json["labels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    Some(TailRecord {
        path: PathBuf::from(json["path"].as_str()?),
        ring: json["ring"].as_str()?.to_owned(),
        labels: mmstats::Labels::from_pairs(&pairs).ok()?,
        seq: json["seq"].as_u64()?,
        timestamp_ns: json["timestamp_ns"].as_u64()?,
        thread: json["thread"].as_u64()?,
        event: u32::try_from(json["event"].as_u64()?).ok()?,
        payload,
    })
}

/// The program and pid of a stats file named
/// `{program}-{pid}-{tid}-{name}.mmstats`, if it is named so.
fn program_and_pid(path: &Path) -> Option<(String, u64)> {
    let stem = path.file_name()?.to_str()?;
    let parts: Vec<&str> = stem.split('-').collect();
    // The first two all-digit parts after a non-empty program are the pid
    // and the tid (a program name may hold '-').
    (1..parts.len().saturating_sub(1)).find_map(|at| {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if digits(parts[at]) && digits(parts[at + 1]) {
            Some((parts[..at].join("-"), parts[at].parse().ok()?))
        } else {
            None
        }
    })
}

/// A span entered and not yet exited.
struct Open {
    name: String,
    start_ns: u64,
    track: (u64, u64),
    ring: String,
    /// Order of entering, to close the oldest first when over the bound.
    order: u64,
}

/// The Chrome trace-event document of `records` (module docs).
#[must_use]
pub fn chrome_trace(records: &Records) -> Json {
    let start = records
        .records
        .iter()
        .map(|r| r.timestamp_ns)
        .min()
        .unwrap_or(0);
    let micros = |ns: u64| ns.saturating_sub(start) as f64 / 1000.0;

    // Processes by file: the writer's pid when the name says it (unique
    // per path), else numbers above any pid.
    let mut processes: BTreeMap<PathBuf, (u64, String)> = BTreeMap::new();
    let mut next_synthetic = 1u64 << 32;
    for record in &records.records {
        if !processes.contains_key(&record.path) {
            let (program, pid) = program_and_pid(&record.path).unwrap_or_else(|| {
                next_synthetic += 1;
                (record.path.display().to_string(), next_synthetic)
            });
            processes.insert(record.path.clone(), (pid, program));
        }
    }
    let pid_of = |path: &Path| processes.get(path).map_or(0, |(pid, _)| *pid);

    let mut events: Vec<Json> = Vec::new();
    let mut threads: BTreeMap<(u64, u64), ()> = BTreeMap::new();
    let mut last_ns: HashMap<(u64, u64), u64> = HashMap::new();
    // Open spans by (path, ring, span id).
    let mut open: HashMap<(PathBuf, String, u64), Open> = HashMap::new();
    let mut order = 0u64;
    let complete = |events: &mut Vec<Json>, span: &Open, end_ns: u64, unfinished: bool| {
        let mut args = json!({"ring": span.ring});
        if unfinished {
            args["unfinished"] = json!(true);
        }
        events.push(json!({
            "name": span.name,
            "cat": "span",
            "ph": "X",
            "ts": micros(span.start_ns),
            "dur": end_ns.saturating_sub(span.start_ns) as f64 / 1000.0,
            "pid": span.track.0,
            "tid": span.track.1,
            "args": args,
        }));
    };
    for record in &records.records {
        let track = (pid_of(&record.path), record.thread);
        threads.insert(track, ());
        let last = last_ns.entry(track).or_insert(record.timestamp_ns);
        *last = (*last).max(record.timestamp_ns);
        match &record.payload {
            TailPayload::SpanEnter { span, name } => {
                if open.len() >= MAX_OPEN_SPANS {
                    let oldest = open
                        .iter()
                        .min_by_key(|(_, o)| o.order)
                        .map(|(key, _)| key.clone());
                    if let Some(span) = oldest.and_then(|key| open.remove(&key)) {
                        let end = last_ns.get(&span.track).copied().unwrap_or(span.start_ns);
                        complete(&mut events, &span, end, true);
                    }
                }
                order += 1;
                open.insert(
                    (record.path.clone(), record.ring.clone(), *span),
                    Open {
                        name: name.clone(),
                        start_ns: record.timestamp_ns,
                        track,
                        ring: record.ring.clone(),
                        order,
                    },
                );
            }
            TailPayload::SpanExit { span } => {
                if let Some(entered) =
                    open.remove(&(record.path.clone(), record.ring.clone(), *span))
                {
                    complete(&mut events, &entered, record.timestamp_ns, false);
                }
            }
            payload => {
                let (name, args) = match payload {
                    TailPayload::Text(text) => (text.clone(), json!({"event": record.event})),
                    TailPayload::Values(values) => (
                        format!("event {}", record.event),
                        json!({"event": record.event, "values": values}),
                    ),
                    _ => (
                        format!("event {}", record.event),
                        json!({"event": record.event}),
                    ),
                };
                let mut args = args;
                args["ring"] = json!(record.ring);
                events.push(json!({
                    "name": name,
                    "cat": "event",
                    "ph": "i",
                    "s": "t",
                    "ts": micros(record.timestamp_ns),
                    "pid": track.0,
                    "tid": track.1,
                    "args": args,
                }));
            }
        }
    }
    let mut unfinished: Vec<Open> = open.into_values().collect();
    unfinished.sort_by_key(|o| o.order);
    for span in &unfinished {
        let end = last_ns.get(&span.track).copied().unwrap_or(span.start_ns);
        complete(&mut events, span, end, true);
    }
    // Viewers want a track's events in time order; at equal times the
    // longer (enclosing) span first, so nesting reads right.
    events.sort_by(|a, b| {
        let ts = |e: &Json| e["ts"].as_f64().unwrap_or(0.0);
        let dur = |e: &Json| e["dur"].as_f64().unwrap_or(0.0);
        ts(a).total_cmp(&ts(b)).then(dur(b).total_cmp(&dur(a)))
    });

    let mut metadata: Vec<Json> = Vec::new();
    for (pid, program) in processes.values() {
        metadata.push(json!({
            "name": "process_name", "ph": "M", "pid": pid, "tid": 0,
            "args": {"name": program},
        }));
    }
    for (pid, tid) in threads.keys() {
        metadata.push(json!({
            "name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
            "args": {"name": format!("tid {tid}")},
        }));
    }
    metadata.extend(events);
    json!({
        "traceEvents": metadata,
        "displayTimeUnit": "ns",
        "otherData": {
            "start_unix_ns": start,
            "records": records.records.len(),
            "skipped_lines": records.skipped_lines,
        },
    })
}

/// Spans and instants drawn at most by [`timeline_html`] (the latest).
pub const MAX_DRAWN: usize = 20_000;

/// Text for HTML or SVG (names come from the rings: anyone's bytes).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A self-contained HTML page (inline SVG, no script, no external asset)
/// drawing the last `window_us` microseconds of a [`chrome_trace`]
/// document: one row per thread, spans as bars stacked by nesting depth,
/// events as ticks. What `mmdump trace --html` writes.
#[must_use]
pub fn timeline_html(trace: &Json, window_us: f64) -> String {
    use std::fmt::Write as _;
    const WIDTH: f64 = 1200.0;
    const LEFT: f64 = 170.0;
    const ROW: f64 = 18.0;
    let empty = Vec::new();
    let events = trace["traceEvents"].as_array().unwrap_or(&empty);
    let end_of = |e: &Json| e["ts"].as_f64().unwrap_or(0.0) + e["dur"].as_f64().unwrap_or(0.0);
    let end = events
        .iter()
        .filter(|e| e["ph"] != "M")
        .map(end_of)
        .fold(0.0, f64::max);
    let start = (end - window_us).max(0.0);
    let mut names: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut tracks: BTreeMap<(u64, u64), Vec<&Json>> = BTreeMap::new();
    let mut drawn = 0usize;
    // The latest events first, so the bound keeps the newest.
    for event in events.iter().rev() {
        let track = (
            event["pid"].as_u64().unwrap_or(0),
            event["tid"].as_u64().unwrap_or(0),
        );
        if event["ph"] == "M" {
            if event["name"] == "thread_name" {
                names.insert(
                    track,
                    event["args"]["name"].as_str().unwrap_or("").to_owned(),
                );
            }
            continue;
        }
        if end_of(event) < start || drawn >= MAX_DRAWN {
            continue;
        }
        drawn += 1;
        tracks.entry(track).or_default().push(event);
    }
    let span = (end - start).max(1.0);
    let x = |ts: f64| LEFT + (ts.max(start) - start) / span * (WIDTH - LEFT - 10.0);
    let mut rows = String::new();
    let mut y = 30.0;
    for (track, events) in &mut tracks {
        events.reverse();
        events.sort_by(|a, b| {
            let ts = |e: &Json| e["ts"].as_f64().unwrap_or(0.0);
            ts(a)
                .total_cmp(&ts(b))
                .then(end_of(b).total_cmp(&end_of(a)))
        });
        let label = names
            .get(track)
            .cloned()
            .unwrap_or_else(|| format!("tid {}", track.1));
        // Depth of each span: spans still open when it starts.
        let mut open: Vec<f64> = Vec::new();
        let mut bars = String::new();
        let mut depth_max = 0usize;
        for event in events.iter() {
            let ts = event["ts"].as_f64().unwrap_or(0.0);
            while open.last().is_some_and(|e| *e <= ts) {
                open.pop();
            }
            let name = escape(event["name"].as_str().unwrap_or(""));
            let depth = open.len();
            let top = y + depth as f64 * ROW;
            if event["ph"] == "X" {
                let (left, right) = (x(ts), x(end_of(event)));
                let w = (right - left).max(1.0);
                let _ = write!(
                    bars,
                    "<rect class=\"span\" x=\"{left:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" \
                     height=\"{:.1}\"><title>{name} {:.1} µs</title></rect>",
                    ROW - 2.0,
                    event["dur"].as_f64().unwrap_or(0.0)
                );
                if w > 40.0 {
                    let _ = write!(
                        bars,
                        "<text x=\"{:.1}\" y=\"{:.1}\" class=\"name\">{name}</text>",
                        left + 3.0,
                        top + ROW - 6.0
                    );
                }
                open.push(end_of(event));
                depth_max = depth_max.max(depth + 1);
            } else {
                let at = x(ts);
                let _ = write!(
                    bars,
                    "<line class=\"event\" x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"{top:.1}\" \
                     y2=\"{:.1}\"><title>{name}</title></line>",
                    top + ROW - 2.0
                );
                depth_max = depth_max.max(depth + 1);
            }
        }
        let height = depth_max.max(1) as f64 * ROW;
        let _ = write!(
            rows,
            "<text x=\"8\" y=\"{:.1}\" class=\"thread\">{}</text>\
             <line class=\"track\" x1=\"{LEFT}\" x2=\"{WIDTH}\" y1=\"{:.1}\" y2=\"{:.1}\"/>{bars}",
            y + 13.0,
            escape(&label),
            y + height + 4.0,
            y + height + 4.0
        );
        y += height + 12.0;
    }
    let height = y + 10.0;
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mmstats timeline</title>\
         <style>body{{font-family:sans-serif;margin:16px;background:#fff;color:#222}}\
         .span{{fill:#4c78a8;stroke:#fff;stroke-width:0.5}}.event{{stroke:#e45756;stroke-width:2}}\
         .name{{fill:#fff;font-size:11px}}.thread{{font-size:12px}}.track{{stroke:#ddd}}\
         .axis{{font-size:11px;fill:#666}}</style></head><body>\
         <h1 style=\"font-size:18px\">Spans per thread, last {:.3} s</h1>\
         <svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\">\
         <text class=\"axis\" x=\"{LEFT}\" y=\"16\">0 µs</text>\
         <text class=\"axis\" x=\"{:.0}\" y=\"16\" text-anchor=\"end\">{:.0} µs</text>{rows}</svg>\
         <p class=\"axis\">{drawn} spans and events drawn (at most {MAX_DRAWN}); \
         hover a bar for its name and duration.</p></body></html>\n",
        span / 1e6,
        WIDTH - 10.0,
        span
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_program_and_pid() {
        assert_eq!(
            program_and_pid(Path::new("/x/my-app-12-34-main.mmstats")),
            Some(("my-app".into(), 12))
        );
        assert_eq!(program_and_pid(Path::new("/x/stats.mmstats")), None);
    }

    fn record(ts: u64, thread: u64, payload: TailPayload) -> TailRecord {
        TailRecord {
            path: "/d/prog-7-7-x.mmstats".into(),
            ring: "r".into(),
            labels: mmstats::Labels::new(),
            seq: ts,
            timestamp_ns: ts,
            thread,
            event: 0,
            payload,
        }
    }

    #[test]
    fn spans_become_complete_events_and_open_ones_end_at_the_last_record() {
        let records = Records {
            records: vec![
                record(
                    1000,
                    1,
                    TailPayload::SpanEnter {
                        span: 1,
                        name: "outer".into(),
                    },
                ),
                record(
                    1500,
                    1,
                    TailPayload::SpanEnter {
                        span: 2,
                        name: "inner".into(),
                    },
                ),
                record(2500, 1, TailPayload::SpanExit { span: 2 }),
                record(3000, 1, TailPayload::Text("hi".into())),
                record(
                    4000,
                    1,
                    TailPayload::SpanEnter {
                        span: 3,
                        name: "open".into(),
                    },
                ),
                record(9000, 1, TailPayload::SpanExit { span: 1 }),
            ],
            skipped_lines: 0,
        };
        let trace = chrome_trace(&records);
        let events = trace["traceEvents"].as_array().unwrap();
        let find = |name: &str| events.iter().find(|e| e["name"] == name).unwrap();
        assert_eq!(find("outer")["ts"], 0.0);
        assert_eq!(find("outer")["dur"], 8.0);
        assert_eq!(find("inner")["ts"], 0.5);
        assert_eq!(find("inner")["dur"], 1.0);
        assert_eq!(find("hi")["ph"], "i");
        assert_eq!(find("open")["args"]["unfinished"], true);
        assert_eq!(find("open")["dur"], 5.0);
        assert_eq!(find("thread_name")["pid"], 7);
        assert_eq!(trace["otherData"]["start_unix_ns"], 1000);
    }

    #[test]
    fn the_timeline_escapes_names_from_the_rings() {
        let records = Records {
            records: vec![
                record(
                    1000,
                    1,
                    TailPayload::SpanEnter {
                        span: 1,
                        name: "<script>&".into(),
                    },
                ),
                record(9000, 1, TailPayload::SpanExit { span: 1 }),
            ],
            skipped_lines: 0,
        };
        let html = timeline_html(&chrome_trace(&records), f64::MAX);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;&amp;"));
        assert_eq!(html.matches("<rect class=\"span\"").count(), 1);
    }
}
