//! The `--json` documents of `mmdump` (schema 1, docs/FORMAT.md §13). This
//! module owns their shape: [`write_json`] streams the dump document straight
//! to the output, without building a `serde_json::Value` tree first (a
//! fraction of the allocations), and [`to_json`] gives the same document as a
//! tree (for `serve`'s `/api` and `image --json`) by serializing the same
//! `Document`: one definition, two sinks. Keys come out in byte order. A
//! format-2.1 value and the `aggregate` object, which are rarer, go through
//! the tree builders below ([`json_field`], [`aggregate_json`]).

use std::io::{self, Write};
use std::path::Path;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value as Json, json};

use super::aggregate::Aggregate;
use super::{Report, age_secs};
use mmstats::histogram::{HistogramSnapshot, SHOWN_QUANTILES};
use mmstats::{Field, FieldValue, FileStats, Labels, Liveness};

/// Version of the JSON document `mmdump --json` writes. Keys may be added
/// within a version; none is removed or renamed.
pub const JSON_SCHEMA: u64 = 1;

/// Writes the schema-1 document for `report` (plus the `aggregate` object
/// when given) and a newline.
pub fn write_json(
    out: &mut impl Write,
    report: &Report,
    aggregate: Option<(&Aggregate, &[&Path])>,
) -> io::Result<()> {
    let document = Document { report, aggregate };
    serde_json::to_writer(&mut *out, &document).map_err(io::Error::from)?;
    writeln!(out)
}

/// The JSON document of `mmdump --json` (schema 1) as a tree:
/// `{"errors": [...], "files": [...], "schema": 1}`, the same document
/// [`write_json`] writes.
#[must_use]
pub fn to_json(report: &Report) -> Json {
    let document = Document {
        report,
        aggregate: None,
    };
    // Serializing into a `Value` cannot fail: every map key is a string
    // and every float goes through `JsonFloat`.
    serde_json::to_value(&document).expect("the dump document is valid JSON")
}

/// The schema-1 dump document: written by [`write_json`], built by
/// [`to_json`].
struct Document<'r> {
    report: &'r Report,
    aggregate: Option<(&'r Aggregate, &'r [&'r Path])>,
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some((aggregate, paths)) = self.aggregate {
            map.serialize_entry("aggregate", &aggregate_json(aggregate, paths))?;
        }
        map.serialize_entry("errors", &Errors(self.report))?;
        map.serialize_entry("files", &Files(&self.report.files))?;
        map.serialize_entry("schema", &JSON_SCHEMA)?;
        map.end()
    }
}

/// Files that failed, then every file's field problems (FORMAT.md §13).
struct Errors<'r>(&'r Report);

impl Serialize for Errors<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for (path, error) in &self.0.errors {
            seq.serialize_element(&ErrorEntry {
                path: &path.display().to_string(),
                error: &error.to_string(),
            })?;
        }
        for file in &self.0.files {
            let path = file.path.display().to_string();
            for problem in &file.problems {
                seq.serialize_element(&ErrorEntry {
                    path: &path,
                    error: &problem.to_string(),
                })?;
            }
        }
        seq.end()
    }
}

struct ErrorEntry<'e> {
    path: &'e str,
    error: &'e str,
}

impl Serialize for ErrorEntry<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("error", self.error)?;
        map.serialize_entry("path", self.path)?;
        map.end()
    }
}

struct Files<'r>(&'r [FileStats]);

impl Serialize for Files<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for file in self.0 {
            seq.serialize_element(&FileOut(file))?;
        }
        seq.end()
    }
}

struct FileOut<'f>(&'f FileStats);

impl Serialize for FileOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let file = self.0;
        let mut map = serializer.serialize_map(None)?;
        if let Some(region) = &file.region {
            map.serialize_entry("created_ns", &region.created_ns)?;
        }
        map.serialize_entry("fields", &Fields(&file.fields))?;
        map.serialize_entry("format", file.format.name())?;
        if let Some(region) = &file.region {
            map.serialize_entry("generation", &region.generation)?;
            map.serialize_entry("heartbeat_ns", &region.heartbeat_ns)?;
        }
        map.serialize_entry("path", &file.path.display().to_string())?;
        map.serialize_entry("pid", &file.pid)?;
        map.serialize_entry("writer", file.liveness.name())?;
        map.end()
    }
}

struct Fields<'f>(&'f [Field]);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for field in self.0 {
            seq.serialize_element(&FieldOut(field))?;
        }
        seq.end()
    }
}

struct FieldOut<'f>(&'f Field);

impl Serialize for FieldOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        let average = match f.value {
            FieldValue::Counter(_)
            | FieldValue::Gauge(_)
            | FieldValue::Float(_)
            | FieldValue::Bool(_)
            | FieldValue::Timestamp(_)
            | FieldValue::Text(_)
            | FieldValue::Int(_)
            | FieldValue::UInt(_) => None,
            FieldValue::Average { sum, count } => Some((sum, count)),
            // Format-2.1 kinds carry more keys: the tree builder has them.
            _ => return json_field(f).serialize(serializer),
        };
        let mut map = serializer.serialize_map(None)?;
        if let Some((_, count)) = average {
            map.serialize_entry("count", &count)?;
        }
        if !f.description.is_empty() {
            map.serialize_entry("description", &f.description)?;
        }
        map.serialize_entry("kind", f.value.kind_name())?;
        if !f.labels.is_empty() {
            map.serialize_entry("labels", &LabelsOut(&f.labels))?;
        }
        map.serialize_entry("name", &f.name)?;
        if let Some((sum, _)) = average {
            map.serialize_entry("sum", &JsonFloat(sum))?;
        }
        if !f.unit.is_empty() {
            map.serialize_entry("unit", &f.unit)?;
        }
        map.serialize_entry("value", &ValueOut(&f.value))?;
        map.end()
    }
}

/// A field's labels as a JSON object, `{"conn": "1234"}` (keys in their
/// stored, sorted order; values unescaped: JSON escapes them).
struct LabelsOut<'l>(&'l Labels);

impl Serialize for LabelsOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0.iter() {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The `"labels"` member of a field (added only when it has labels).
#[must_use]
pub fn json_labels(labels: &Labels) -> Json {
    Json::Object(
        labels
            .iter()
            .map(|(key, value)| (key.to_owned(), json!(value)))
            .collect(),
    )
}

/// A float as FORMAT.md §13 says: a number, or "NaN", "+Inf", "-Inf".
struct JsonFloat(f64);

impl Serialize for JsonFloat {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0;
        if value.is_nan() {
            serializer.serialize_str("NaN")
        } else if value.is_infinite() {
            serializer.serialize_str(if value > 0.0 { "+Inf" } else { "-Inf" })
        } else {
            serializer.serialize_f64(value)
        }
    }
}

/// The `value` of a format-2.0 or legacy field.
struct ValueOut<'v>(&'v FieldValue);

impl Serialize for ValueOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            FieldValue::Counter(v) | FieldValue::UInt(v) | FieldValue::Timestamp(v) => {
                serializer.serialize_u64(*v)
            }
            FieldValue::Gauge(v) | FieldValue::Int(v) => serializer.serialize_i64(*v),
            FieldValue::Float(v) => JsonFloat(*v).serialize(serializer),
            FieldValue::Bool(v) => serializer.serialize_bool(*v),
            FieldValue::Text(v) => serializer.serialize_str(v),
            FieldValue::Average { sum, count } => JsonFloat(if *count == 0 {
                0.0
            } else {
                sum / *count as f64
            })
            .serialize(serializer),
            other => json_value_of(other).serialize(serializer),
        }
    }
}

/// A float as JSON: a number, or "NaN", "+Inf", "-Inf" (JSON has none).
pub(crate) fn json_float(value: f64) -> Json {
    if value.is_nan() {
        json!("NaN")
    } else if value.is_infinite() {
        json!(if value > 0.0 { "+Inf" } else { "-Inf" })
    } else {
        json!(value)
    }
}

fn json_value(value: &FieldValue) -> Json {
    match value {
        FieldValue::Counter(v) | FieldValue::UInt(v) | FieldValue::Timestamp(v) => json!(v),
        FieldValue::Gauge(v) | FieldValue::Int(v) => json!(v),
        FieldValue::Float(v) => json_float(*v),
        FieldValue::Bool(v) => json!(v),
        FieldValue::Text(v) => json!(v),
        FieldValue::Average { sum, count } => json_float(if *count == 0 {
            0.0
        } else {
            sum / *count as f64
        }),
        // Format-2.1 kinds: see newer_kind_value.
        other => newer_kind_value(other).unwrap_or(Json::Null),
    }
}

/// A field as schema-1 JSON.
#[must_use]
pub fn json_field(f: &Field) -> Json {
    let mut field = json!({
        "name": f.name,
        "kind": f.value.kind_name(),
        "value": json_value(&f.value),
    });
    let object = field.as_object_mut().expect("a JSON object");
    if !f.labels.is_empty() {
        object.insert("labels".into(), json_labels(&f.labels));
    }
    if !f.unit.is_empty() {
        object.insert("unit".into(), json!(f.unit));
    }
    // Format-2.2 labels, as an object of strings (absent when none).
    if !f.labels.is_empty() {
        let labels: serde_json::Map<String, Json> = f
            .labels
            .iter()
            .map(|(key, value)| (key.to_owned(), json!(value)))
            .collect();
        object.insert("labels".into(), Json::Object(labels));
    }
    if !f.description.is_empty() {
        object.insert("description".into(), json!(f.description));
    }
    if let FieldValue::Average { sum, count } = f.value {
        object.insert("sum".into(), json_float(sum));
        object.insert("count".into(), json!(count));
    }
    // Format-2.1 kinds: histogram statistics and `buckets`, window and
    // moving-average parts, ring geometry.
    json_extra(&f.value, object);
    field
}

/// The `"aggregate"` object added to schema-1 documents by
/// `--aggregate`: `{"mode", "file_count", "paths", "fields": [field +
/// "files"]}`.
#[must_use]
pub fn aggregate_json(aggregate: &Aggregate, paths: &[&Path]) -> Json {
    let fields: Vec<Json> = aggregate
        .fields
        .iter()
        .map(|f| {
            let mut field = json_field(&f.field);
            field
                .as_object_mut()
                .expect("a JSON object")
                .insert("files".into(), json!(f.files));
            field
        })
        .collect();
    json!({
        "mode": aggregate.mode.name(),
        "file_count": aggregate.file_count,
        "paths": paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "fields": fields,
    })
}

/// A JSON value as `mmdump` writes it (see docs/FORMAT.md §13).
#[must_use]
pub fn json_value_of(value: &FieldValue) -> Json {
    json_value(value)
}

/// The JSON document of `mmdump list --json`.
#[must_use]
pub fn list_json(report: &Report) -> Json {
    let now = mmstats::os::now_ns();
    let files: Vec<Json> = report
        .files
        .iter()
        .map(|f| {
            json!({
                "path": f.path.display().to_string(),
                "format": f.format.name(),
                "pid": f.pid,
                "writer": f.liveness.name(),
                "alive": f.liveness == Liveness::Alive,
                "age_seconds": age_secs(f, now),
                "field_count": f.fields.len(),
            })
        })
        .collect();
    let errors: Vec<Json> = report
        .errors
        .iter()
        .map(
            |(path, error)| json!({"path": path.display().to_string(), "error": error.to_string()}),
        )
        .collect();
    json!({"schema": JSON_SCHEMA, "files": files, "errors": errors})
}

fn mean(sum: f64, count: u64) -> f64 {
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// The JSON `value` of a 2.1 kind (`None` for the other kinds): a
/// histogram's count, an average's mean, a ring's records appended.
#[must_use]
pub fn newer_kind_value(value: &FieldValue) -> Option<Json> {
    Some(match value {
        FieldValue::Histogram(histogram) => json!(histogram.count),
        FieldValue::MovingAverage { sum, count, .. }
        | FieldValue::WindowAverage { sum, count, .. } => json_float(mean(*sum, *count)),
        FieldValue::EventRing { appended, .. } => json!(appended),
        _ => return None,
    })
}

/// The JSON of a histogram's statistics and buckets (the keys of
/// `docs/FORMAT.md` §13).
#[must_use]
pub fn histogram_json(histogram: &HistogramSnapshot) -> Map<String, Json> {
    let mut object = Map::new();
    object.insert("count".into(), json!(histogram.count));
    object.insert("sum".into(), json!(histogram.sum));
    object.insert("min".into(), json!(histogram.min_value()));
    object.insert("max".into(), json!(histogram.max_value()));
    object.insert(
        "mean".into(),
        histogram.mean().map_or(Json::Null, json_float),
    );
    let quantiles: Map<String, Json> = SHOWN_QUANTILES
        .iter()
        .map(|(name, q)| ((*name).to_owned(), json!(histogram.quantile(*q))))
        .collect();
    object.insert(
        "quantiles".into(),
        if histogram.total() == 0 {
            Json::Null
        } else {
            Json::Object(quantiles)
        },
    );
    object.insert("precision".into(), json!(histogram.shape.precision()));
    object.insert("highest".into(), json!(histogram.shape.highest()));
    object.insert(
        "relative_error".into(),
        json!(histogram.shape.relative_error()),
    );
    object.insert(
        "buckets".into(),
        json!(
            histogram
                .nonzero_buckets()
                .into_iter()
                .map(|(lower, upper, count)| json!([lower, upper, count]))
                .collect::<Vec<_>>()
        ),
    );
    object
}

/// Adds the keys of a 2.1 kind to a field's JSON object (nothing for the
/// other kinds).
pub fn json_extra(value: &FieldValue, object: &mut Map<String, Json>) {
    match value {
        FieldValue::Histogram(histogram) => object.extend(histogram_json(histogram)),
        FieldValue::MovingAverage {
            sum,
            count,
            total,
            window,
        } => {
            object.insert("sum".into(), json_float(*sum));
            object.insert("count".into(), json!(count));
            object.insert("total".into(), json!(total));
            object.insert("window".into(), json!(window));
        }
        FieldValue::WindowAverage {
            sum,
            count,
            total,
            as_of,
            window,
        } => {
            object.insert("sum".into(), json_float(*sum));
            object.insert("count".into(), json!(count));
            object.insert("total".into(), json!(total));
            object.insert("window".into(), json!(window));
            object.insert("as_of".into(), json!(as_of));
        }
        FieldValue::EventRing {
            capacity,
            payload_words,
            ..
        } => {
            object.insert("capacity".into(), json!(capacity));
            object.insert("payload_words".into(), json!(payload_words));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value_text::test_histogram as histogram;

    #[test]
    fn histogram_json_has_statistics_and_buckets() {
        let json = histogram_json(&histogram(&[10, 10, 2000]));
        assert_eq!(json["count"], 3);
        assert_eq!(json["min"], 10);
        assert_eq!(json["max"], 2000);
        assert_eq!(json["quantiles"]["p50"], 10);
        assert_eq!(json["precision"], 5);
        let buckets = json["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), 2);
        assert_eq!(buckets[0], json!([10, 10, 2]));
        assert_eq!(buckets[1][2], 1);
        assert!(buckets[1][0].as_u64().unwrap() <= 2000);
        assert!(buckets[1][1].as_u64().unwrap() >= 2000);
        let empty = histogram_json(&histogram(&[]));
        assert_eq!(empty["quantiles"], Json::Null);
        assert_eq!(empty["min"], Json::Null);
    }

    #[test]
    fn newer_kinds_have_their_json() {
        let ring = FieldValue::EventRing {
            appended: 2048,
            capacity: 1024,
            payload_words: 4,
        };
        assert_eq!(newer_kind_value(&ring), Some(json!(2048)));
        let moving = FieldValue::MovingAverage {
            sum: 30.0,
            count: 3,
            total: 9,
            window: 3,
        };
        let mut object = Map::new();
        json_extra(&moving, &mut object);
        assert_eq!(object["total"], 9);
        assert_eq!(newer_kind_value(&moving), Some(json!(10.0)));
        assert_eq!(newer_kind_value(&FieldValue::Counter(1)), None);
    }

    #[test]
    fn floats_that_json_cannot_hold_become_strings() {
        assert_eq!(json_float(f64::NAN), json!("NaN"));
        assert_eq!(json_float(f64::NEG_INFINITY), json!("-Inf"));
        assert_eq!(json_float(0.5), json!(0.5));
    }
}
