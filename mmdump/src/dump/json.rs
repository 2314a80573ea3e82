//! `mmdump --json` written straight to the output, without building a
//! `serde_json::Value` tree first: the same bytes as
//! `super::to_json(report).to_string()` (keys in byte order, docs/FORMAT.md
//! §13), for a fraction of the allocations. A format-2.1 value and the
//! `aggregate` object, which are rarer, go through the tree builders.

use std::io::{self, Write};
use std::path::Path;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::aggregate::Aggregate;
use super::{JSON_SCHEMA, Report, aggregate_json, json_field};
use mmstats::{Field, FieldValue, FileStats};

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
                error,
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
            other => super::json_value_of(other).serialize(serializer),
        }
    }
}
