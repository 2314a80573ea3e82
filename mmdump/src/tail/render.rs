//! Events as text lines ([`format_text`]) or JSON lines ([`to_json`]).

use std::path::Path;

use serde_json::{Value as Json, json};

use crate::dump::{display_name, format_unix_ns, json_labels, printable};
use crate::value_text::{format_count, format_quantity};

use super::{TailEvent, TailPayload};

fn file_label(path: &Path) -> String {
    printable(&path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    ))
}

fn payload_text(payload: &TailPayload) -> String {
    match payload {
        TailPayload::Values(values) => format!("values={values:?}"),
        TailPayload::Text(text) => format!("text=\"{}\"", printable(text)),
        TailPayload::SpanEnter { span, name } => {
            format!("enter span={span} \"{}\"", printable(name))
        }
        TailPayload::SpanExit { span } => format!("exit span={span}"),
        TailPayload::Unknown { kind } => format!("payload of unknown kind {kind}"),
        TailPayload::Invalid => "invalid payload".to_owned(),
    }
}

/// An event as one text line (no newline), or `None` for a record that
/// `spans` mode shows as a span instead (span enter and exit records).
///
/// ```text
/// 2026-11-21T23:30:07.123456789Z web-1-1.mmstats:events #42 tid=1234 event=7 values=[1, 2]
/// !! web-1-1.mmstats:events: missed 1,024 events
/// 2026-11-21T23:30:07.125000000Z web-1-1.mmstats:events tid=1234 span "request" took 1.88ms
/// ```
#[must_use]
pub fn format_text(event: &TailEvent, spans: bool) -> Option<String> {
    Some(match event {
        TailEvent::Record(record) => {
            if spans
                && matches!(
                    record.payload,
                    TailPayload::SpanEnter { .. } | TailPayload::SpanExit { .. }
                )
            {
                return None;
            }
            format!(
                "{} {}:{} #{} tid={} event={} {}",
                format_unix_ns(record.timestamp_ns),
                file_label(&record.path),
                display_name(&record.ring, &record.labels),
                record.seq,
                record.thread,
                record.event,
                payload_text(&record.payload)
            )
        }
        TailEvent::Missed {
            count: 0,
            path,
            ring,
            labels,
        } => format!(
            "!! {}:{}: the ring was re-created; following it from its start",
            file_label(path),
            display_name(ring, labels)
        ),
        TailEvent::Missed {
            path,
            ring,
            labels,
            count,
        } => format!(
            "!! {}:{}: missed {} event{}",
            file_label(path),
            display_name(ring, labels),
            format_count(*count),
            if *count == 1 { "" } else { "s" }
        ),
        TailEvent::Span(span) => format!(
            "{} {}:{} tid={} span \"{}\" took {} (event={})",
            format_unix_ns(span.end_ns),
            file_label(&span.path),
            display_name(&span.ring, &span.labels),
            span.thread,
            printable(&span.name),
            format_quantity(span.duration_ns() as f64, "nanoseconds"),
            span.event
        ),
        TailEvent::RingEnded {
            path,
            ring,
            labels,
            reason,
        } => format!(
            "-- {}:{}: {}",
            file_label(path),
            display_name(ring, labels),
            printable(reason)
        ),
        TailEvent::Problem { path, message } => format!(
            "!! {}: {}",
            printable(&path.display().to_string()),
            printable(message)
        ),
    })
}

/// An event as one JSON object (a line of `mmdump tail --json` and of an
/// archive). Every object has `"type"`: `record`, `gap`, `span`,
/// `ring_ended` or `error`, and `path` and (but for errors) `ring`, with
/// `labels` (an object, as in `mmdump --json`) when the ring has labels.
#[must_use]
pub fn to_json(event: &TailEvent) -> Json {
    let mut json = event_json(event);
    let labels = match event {
        TailEvent::Record(record) => &record.labels,
        TailEvent::Span(span) => &span.labels,
        TailEvent::Missed { labels, .. } | TailEvent::RingEnded { labels, .. } => labels,
        TailEvent::Problem { .. } => return json,
    };
    if !labels.is_empty()
        && let Some(object) = json.as_object_mut()
    {
        object.insert("labels".into(), json_labels(labels));
    }
    json
}

/// [`to_json`] but for the labels.
fn event_json(event: &TailEvent) -> Json {
    match event {
        TailEvent::Record(record) => {
            let payload = match &record.payload {
                TailPayload::Values(values) => json!({"values": values}),
                TailPayload::Text(text) => json!({"text": text}),
                TailPayload::SpanEnter { span, name } => {
                    json!({"span_enter": {"span": span, "name": name}})
                }
                TailPayload::SpanExit { span } => json!({"span_exit": {"span": span}}),
                TailPayload::Unknown { kind } => json!({"unknown_kind": kind}),
                TailPayload::Invalid => json!({"invalid": true}),
            };
            json!({
                "type": "record",
                "path": record.path.display().to_string(),
                "ring": record.ring,
                "seq": record.seq,
                "timestamp_ns": record.timestamp_ns,
                "thread": record.thread,
                "event": record.event,
                "payload": payload,
            })
        }
        TailEvent::Missed {
            path, ring, count, ..
        } => json!({
            "type": "gap",
            "path": path.display().to_string(),
            "ring": ring,
            "missed": count,
        }),
        TailEvent::Span(span) => json!({
            "type": "span",
            "path": span.path.display().to_string(),
            "ring": span.ring,
            "thread": span.thread,
            "span": span.span,
            "event": span.event,
            "name": span.name,
            "start_ns": span.start_ns,
            "end_ns": span.end_ns,
            "duration_ns": span.duration_ns(),
        }),
        TailEvent::RingEnded {
            path, ring, reason, ..
        } => json!({
            "type": "ring_ended",
            "path": path.display().to_string(),
            "ring": ring,
            "reason": reason,
        }),
        TailEvent::Problem { path, message } => json!({
            "type": "error",
            "path": path.display().to_string(),
            "error": message,
        }),
    }
}
