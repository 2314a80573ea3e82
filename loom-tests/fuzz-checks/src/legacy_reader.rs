//! The legacy v1 parser on arbitrary bytes, and a structured round trip
//! ([`legacy_bytes`]).

use arbitrary::{Arbitrary, Unstructured};

/// One record of a structured legacy file.
#[derive(Arbitrary, Debug)]
pub struct LegacyRecord {
    label: String,
    value: LegacyValue,
    /// `None`: unbuffered; `Some(i)`: buffered, filling copy `i & 1` next.
    buffer: Option<u8>,
    /// The stale value of a buffered record.
    stale: u64,
}

/// A legacy value of each signature the parser knows.
#[derive(Arbitrary, Debug)]
pub enum LegacyValue {
    /// `b`
    I8(i8),
    /// `B`
    U8(u8),
    /// `?`
    Bool(bool),
    /// `h`
    I16(i16),
    /// `H`
    U16(u16),
    /// `i`
    I32(i32),
    /// `I`
    U32(u32),
    /// `l` or `q`
    I64(i64, bool),
    /// `L` or `Q`
    U64(u64, bool),
    /// `f`
    F32(f32),
    /// `d`
    F64(f64),
    /// `Ns`: capacity and text (NUL-free, cut to the capacity).
    Str(u8, String),
}

impl LegacyValue {
    fn signature(&self) -> String {
        match self {
            Self::I8(_) => "b".into(),
            Self::U8(_) => "B".into(),
            Self::Bool(_) => "?".into(),
            Self::I16(_) => "h".into(),
            Self::U16(_) => "H".into(),
            Self::I32(_) => "i".into(),
            Self::U32(_) => "I".into(),
            Self::I64(_, long) => if *long { "l" } else { "q" }.into(),
            Self::U64(_, long) => if *long { "L" } else { "Q" }.into(),
            Self::F32(_) => "f".into(),
            Self::F64(_) => "d".into(),
            Self::Str(capacity, _) => format!("{}s", capacity.max(&1)),
        }
    }

    /// The value's bytes (little-endian), and what a reader must return.
    fn encode(&self) -> (Vec<u8>, mmstats::FieldValue) {
        use mmstats::FieldValue as F;
        match self {
            Self::I8(v) => (v.to_le_bytes().to_vec(), F::Int((*v).into())),
            Self::U8(v) => (v.to_le_bytes().to_vec(), F::UInt((*v).into())),
            Self::Bool(v) => (vec![u8::from(*v)], F::Bool(*v)),
            Self::I16(v) => (v.to_le_bytes().to_vec(), F::Int((*v).into())),
            Self::U16(v) => (v.to_le_bytes().to_vec(), F::UInt((*v).into())),
            Self::I32(v) => (v.to_le_bytes().to_vec(), F::Int((*v).into())),
            Self::U32(v) => (v.to_le_bytes().to_vec(), F::UInt((*v).into())),
            Self::I64(v, _) => (v.to_le_bytes().to_vec(), F::Int(*v)),
            Self::U64(v, _) => (v.to_le_bytes().to_vec(), F::UInt(*v)),
            Self::F32(v) => (v.to_le_bytes().to_vec(), F::Float(f64::from(*v))),
            Self::F64(v) => (v.to_le_bytes().to_vec(), F::Float(*v)),
            Self::Str(capacity, text) => {
                let capacity = usize::from(*capacity.max(&1));
                let clean: String = text.chars().filter(|&c| c != '\0').collect();
                let kept = mmstats_nostd::truncate_utf8(&clean, capacity);
                let mut bytes = kept.as_bytes().to_vec();
                bytes.resize(capacity, 0);
                (bytes, F::Text(kept.to_owned()))
            }
        }
    }
}

/// The legacy v1 parser: on arbitrary bytes it returns fields or an error;
/// on inputs that do not start with the version byte, a structured round
/// trip (see the module docs).
pub fn legacy_bytes(data: &[u8]) {
    let first = mmstats::legacy::parse(data);
    assert_eq!(
        legacy_key(&first),
        legacy_key(&mmstats::legacy::parse(data)),
        "parsing is not repeatable"
    );
    if let Ok(fields) = &first {
        // Each record takes at least 2 + 1 + 2 + 1 + 1 + 1 bytes.
        assert!(fields.len() <= data.len() / 8 + 1);
    }
    if data.first() == Some(&mmstats::legacy::LEGACY_VERSION) {
        return;
    }
    let Ok(records) = Vec::<LegacyRecord>::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    legacy_round_trip(&records);
}

/// A parse result in a form that compares floats by their bits (so that a
/// NaN equals itself).
fn legacy_key(
    parsed: &Result<Vec<mmstats::legacy::LegacyField>, mmstats::legacy::LegacyError>,
) -> Result<Vec<(String, String, String)>, String> {
    match parsed {
        Ok(fields) => Ok(fields
            .iter()
            .map(|field| {
                let value = match &field.value {
                    mmstats::FieldValue::Float(v) => format!("float bits {:#x}", v.to_bits()),
                    other => format!("{other:?}"),
                };
                (field.name.clone(), field.signature.clone(), value)
            })
            .collect()),
        Err(error) => Err(error.to_string()),
    }
}

/// Writes `records` as a little-endian legacy file, parses it, and checks
/// that every record comes back as written.
pub fn legacy_round_trip(records: &[LegacyRecord]) {
    let mut file = vec![mmstats::legacy::LEGACY_VERSION];
    let mut expected = Vec::new();
    for record in records {
        // Labels are 1 to 65535 bytes; the parser decodes them lossily,
        // so any text goes in.
        let label = if record.label.is_empty() {
            "x"
        } else {
            mmstats_nostd::truncate_utf8(&record.label, usize::from(u16::MAX))
        };
        if label.is_empty() {
            continue;
        }
        let signature = record.value.signature();
        let (bytes, value) = record.value.encode();
        file.extend_from_slice(&(label.len() as u16).to_le_bytes());
        file.extend_from_slice(label.as_bytes());
        file.extend_from_slice(&(signature.len() as u16).to_le_bytes());
        file.extend_from_slice(signature.as_bytes());
        match record.buffer {
            None => {
                file.push(0xFF);
                file.extend_from_slice(&bytes);
            }
            Some(index) => {
                // The writer fills copy `index` next; the last complete
                // value is in the other copy.
                let index = index & 1;
                file.push(index);
                let mut stale = record.stale.to_le_bytes().to_vec();
                stale.resize(bytes.len(), 0xAB);
                let (copy0, copy1) = if index == 0 {
                    (&stale, &bytes)
                } else {
                    (&bytes, &stale)
                };
                file.extend_from_slice(copy0);
                file.extend_from_slice(copy1);
            }
        }
        expected.push((label.to_owned(), signature, value));
    }
    file.extend_from_slice(&[0, 0]);
    let parsed = mmstats::legacy::parse(&file)
        .unwrap_or_else(|e| panic!("a well-formed legacy file was refused: {e}"));
    assert_eq!(parsed.len(), expected.len(), "record count");
    for (field, (label, signature, value)) in parsed.iter().zip(&expected) {
        assert_eq!(&field.name, label);
        assert_eq!(&field.signature, signature);
        let same = match (&field.value, value) {
            (mmstats::FieldValue::Float(a), mmstats::FieldValue::Float(b)) => {
                a.to_bits() == b.to_bits()
            }
            (a, b) => a == b,
        };
        assert!(same, "{label}: read {:?}, wrote {value:?}", field.value);
    }
}
