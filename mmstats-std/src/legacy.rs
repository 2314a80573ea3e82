//! Reader for legacy "v1" files written by the original Python mmstats.
//!
//! Layout (see `docs/FORMAT.md`, "Legacy v1"): byte 0 is the version `0x01`;
//! records follow back to back with no alignment, numbers in the writer's
//! byte order (little-endian on every platform the original ran on; a
//! big-endian file is recognised when only that reading parses). A record:
//!
//! | bytes | contents |
//! |-------|----------|
//! | 2     | label length `L` (0 ends the records) |
//! | `L`   | label, UTF-8 |
//! | 2     | type-signature length `T` |
//! | `T`   | a Python `struct` code: `b B ? h H i I l L q Q f d`, or `Ns` |
//! | 1     | write buffer: `0xFF` unbuffered, else the index the writer fills next |
//! | ...   | one value (unbuffered) or two (buffered; the reader takes `index ^ 1`) |
//!
//! `l`/`L` are 8 bytes (the original's 64-bit CPython, native sizes).
//! Strings end at the first NUL; bytes after it may be stale. The end of
//! the file also ends the records.
//!
//! Legacy writers never synchronised with readers, so the file is read with
//! one `read(2)` into private memory and parsed there.

use std::fmt;

use crate::value::FieldValue;

/// A field of a legacy file.
#[derive(Clone, Debug, PartialEq)]
pub struct LegacyField {
    /// Label.
    pub name: String,
    /// The Python `struct` type signature, as stored.
    pub signature: String,
    /// The value.
    pub value: FieldValue,
}

/// Why a legacy file could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyError {
    /// Byte offset of the record (or field) at fault.
    pub offset: usize,
    /// What is wrong.
    pub reason: LegacyFault,
}

/// What is wrong with a legacy record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegacyFault {
    /// The file does not start with [`LEGACY_VERSION`].
    NotLegacyVersion,
    /// The label runs past the end of the file.
    LabelPastEnd,
    /// The record ends before its type signature.
    NoTypeSignature,
    /// The type signature runs past the end of the file.
    TypeSignaturePastEnd,
    /// The type signature is not UTF-8 text.
    TypeSignatureNotText,
    /// A type signature this reader does not know.
    UnknownTypeSignature(String),
    /// The record ends before its write-buffer byte.
    NoWriteBufferByte,
    /// A write-buffer byte other than 0xff, 0 or 1.
    BadWriteBufferByte(u8),
    /// The value's size overflows.
    ValueTooLarge,
    /// The value runs past the end of the file.
    ValuePastEnd,
}

impl fmt::Display for LegacyFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotLegacyVersion => f.write_str("first byte is not the legacy version 0x01"),
            Self::LabelPastEnd => f.write_str("label runs past the end of the file"),
            Self::NoTypeSignature => f.write_str("record ends before its type signature"),
            Self::TypeSignaturePastEnd => {
                f.write_str("type signature runs past the end of the file")
            }
            Self::TypeSignatureNotText => f.write_str("type signature is not text"),
            Self::UnknownTypeSignature(signature) => {
                write!(f, "unknown type signature {signature:?}")
            }
            Self::NoWriteBufferByte => f.write_str("record ends before its write-buffer byte"),
            Self::BadWriteBufferByte(byte) => {
                write!(f, "write-buffer byte {byte:#04x} is neither 0xff, 0 nor 1")
            }
            Self::ValueTooLarge => f.write_str("value too large"),
            Self::ValuePastEnd => f.write_str("value runs past the end of the file"),
        }
    }
}

impl fmt::Display for LegacyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "legacy v1 record at byte {}: {}",
            self.offset, self.reason
        )
    }
}

impl std::error::Error for LegacyError {}

pub use crate::value::LEGACY_VERSION;

/// Parses a legacy v1 file. Tries little-endian, then big-endian, and
/// reports the little-endian error if neither parses.
pub fn parse(bytes: &[u8]) -> Result<Vec<LegacyField>, LegacyError> {
    match parse_with(bytes, Endian::Little) {
        Ok(fields) => Ok(fields),
        Err(little) => parse_with(bytes, Endian::Big).map_err(|_| little),
    }
}

#[derive(Clone, Copy)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Self::Little => u16::from_le_bytes(b),
            Self::Big => u16::from_be_bytes(b),
        }
    }

    /// Interprets up to 8 bytes as an unsigned integer.
    fn unsigned(self, bytes: &[u8]) -> u64 {
        let mut wide = [0u8; 8];
        match self {
            Self::Little => {
                wide[..bytes.len()].copy_from_slice(bytes);
                u64::from_le_bytes(wide)
            }
            Self::Big => {
                wide[8 - bytes.len()..].copy_from_slice(bytes);
                u64::from_be_bytes(wide)
            }
        }
    }

    /// Interprets up to 8 bytes as a two's-complement signed integer.
    fn signed(self, bytes: &[u8]) -> i64 {
        let bits = bytes.len() * 8;
        let raw = self.unsigned(bytes);
        if bits == 64 {
            raw as i64
        } else {
            let shift = 64 - bits;
            ((raw << shift) as i64) >> shift
        }
    }
}

/// The value type a signature names, and its size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
    Signed(usize),
    Unsigned(usize),
    Bool,
    F32,
    F64,
    Str(usize),
}

impl Code {
    fn size(self) -> usize {
        match self {
            Self::Signed(n) | Self::Unsigned(n) | Self::Str(n) => n,
            Self::Bool => 1,
            Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    fn parse(signature: &str) -> Option<Self> {
        // An optional byte-order/size prefix of Python's struct module.
        let signature = signature.trim_start_matches(['@', '=', '<', '>', '!']);
        let digits = signature.len()
            - signature
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        let (count, code) = signature.split_at(digits);
        let count: Option<usize> = if count.is_empty() {
            None
        } else {
            count.parse().ok()
        };
        let scalar = |code| count.is_none_or(|n| n == 1).then_some(code);
        match code {
            "s" => Some(Self::Str(count.unwrap_or(1))),
            "b" => scalar(Self::Signed(1)),
            "B" => scalar(Self::Unsigned(1)),
            "?" => scalar(Self::Bool),
            "h" => scalar(Self::Signed(2)),
            "H" => scalar(Self::Unsigned(2)),
            "i" => scalar(Self::Signed(4)),
            "I" => scalar(Self::Unsigned(4)),
            "l" | "q" => scalar(Self::Signed(8)),
            "L" | "Q" => scalar(Self::Unsigned(8)),
            "f" => scalar(Self::F32),
            "d" => scalar(Self::F64),
            _ => None,
        }
    }

    fn decode(self, bytes: &[u8], endian: Endian) -> FieldValue {
        match self {
            Self::Signed(_) => FieldValue::Int(endian.signed(bytes)),
            Self::Unsigned(_) => FieldValue::UInt(endian.unsigned(bytes)),
            Self::Bool => FieldValue::Bool(bytes[0] != 0),
            Self::F32 => {
                FieldValue::Float(f64::from(f32::from_bits(endian.unsigned(bytes) as u32)))
            }
            Self::F64 => FieldValue::Float(f64::from_bits(endian.unsigned(bytes))),
            Self::Str(_) => {
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                FieldValue::Text(String::from_utf8_lossy(&bytes[..end]).into_owned())
            }
        }
    }
}

/// A cursor that never reads past the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let taken = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(taken)
    }
}

fn parse_with(bytes: &[u8], endian: Endian) -> Result<Vec<LegacyField>, LegacyError> {
    if bytes.first() != Some(&LEGACY_VERSION) {
        return Err(LegacyError {
            offset: 0,
            reason: LegacyFault::NotLegacyVersion,
        });
    }
    let mut cursor = Cursor { bytes, at: 1 };
    let mut fields = Vec::new();
    loop {
        let start = cursor.at;
        let fail = |reason: LegacyFault| LegacyError {
            offset: start,
            reason,
        };
        let Some(len) = cursor.take(2) else { break };
        let label_len = endian.u16([len[0], len[1]]);
        if label_len == 0 {
            break;
        }
        let label = cursor
            .take(usize::from(label_len))
            .ok_or_else(|| fail(LegacyFault::LabelPastEnd))?;
        let sig_len = cursor
            .take(2)
            .ok_or_else(|| fail(LegacyFault::NoTypeSignature))?;
        let sig_len = endian.u16([sig_len[0], sig_len[1]]);
        let signature = cursor
            .take(usize::from(sig_len))
            .ok_or_else(|| fail(LegacyFault::TypeSignaturePastEnd))?;
        let signature =
            std::str::from_utf8(signature).map_err(|_| fail(LegacyFault::TypeSignatureNotText))?;
        let code = Code::parse(signature)
            .ok_or_else(|| fail(LegacyFault::UnknownTypeSignature(signature.to_owned())))?;
        let buffer = cursor
            .take(1)
            .ok_or_else(|| fail(LegacyFault::NoWriteBufferByte))?[0];
        let copies = match buffer {
            0xFF => 1,
            0 | 1 => 2,
            other => {
                return Err(fail(LegacyFault::BadWriteBufferByte(other)));
            }
        };
        let size = code.size();
        let values = cursor
            .take(
                size.checked_mul(copies)
                    .ok_or_else(|| fail(LegacyFault::ValueTooLarge))?,
            )
            .ok_or_else(|| fail(LegacyFault::ValuePastEnd))?;
        // Buffered: the index names the buffer being filled next, so the
        // last complete value is in the other one.
        let chosen = if copies == 1 {
            0
        } else {
            usize::from(buffer ^ 1)
        };
        let value = code.decode(&values[chosen * size..(chosen + 1) * size], endian);
        fields.push(LegacyField {
            name: String::from_utf8_lossy(label).into_owned(),
            signature: signature.to_owned(),
            value,
        });
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: &str, signature: &str, buffer: u8, values: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(label.len() as u16).to_le_bytes());
        out.extend_from_slice(label.as_bytes());
        out.extend_from_slice(&(signature.len() as u16).to_le_bytes());
        out.extend_from_slice(signature.as_bytes());
        out.push(buffer);
        out.extend_from_slice(values);
        out
    }

    #[test]
    fn buffered_values_take_the_other_index() {
        let mut file = vec![LEGACY_VERSION];
        let values: Vec<u8> = [5u64.to_le_bytes(), 9u64.to_le_bytes()].concat();
        file.extend(record("a", "Q", 0, &values));
        file.extend(record("b", "Q", 1, &values));
        file.resize(64, 0);
        let fields = parse(&file).unwrap();
        assert_eq!(fields[0].value, FieldValue::UInt(9));
        assert_eq!(fields[1].value, FieldValue::UInt(5));
    }

    #[test]
    fn strings_stop_at_nul_and_decode_utf8() {
        let mut file = vec![LEGACY_VERSION];
        let mut text = "naïve €".as_bytes().to_vec();
        text.extend_from_slice(b"\0stale");
        text.resize(16, 0);
        file.extend(record("s", "16s", 0xFF, &text));
        assert_eq!(
            parse(&file).unwrap()[0].value,
            FieldValue::Text("naïve €".into())
        );
    }

    #[test]
    fn signed_sizes_sign_extend() {
        let mut file = vec![LEGACY_VERSION];
        file.extend(record("b", "b", 0xFF, &[0xFB]));
        file.extend(record("h", "h", 0xFF, &(-300i16).to_le_bytes()));
        file.extend(record("i", "i", 0xFF, &(-42i32).to_le_bytes()));
        file.extend(record("f", "f", 0xFF, &0.5f32.to_le_bytes()));
        let values: Vec<_> = parse(&file).unwrap().into_iter().map(|f| f.value).collect();
        assert_eq!(
            values,
            [
                FieldValue::Int(-5),
                FieldValue::Int(-300),
                FieldValue::Int(-42),
                FieldValue::Float(0.5)
            ]
        );
    }

    #[test]
    fn big_endian_files_are_recognised() {
        let mut file = vec![LEGACY_VERSION];
        file.extend_from_slice(&3u16.to_be_bytes());
        file.extend_from_slice(b"big");
        file.extend_from_slice(&1u16.to_be_bytes());
        file.extend_from_slice(b"I");
        file.push(0xFF);
        file.extend_from_slice(&4_000_000_000u32.to_be_bytes());
        let fields = parse(&file).unwrap();
        assert_eq!(fields[0].value, FieldValue::UInt(4_000_000_000));
    }

    #[test]
    fn damage_is_an_error_with_an_offset() {
        let mut file = vec![LEGACY_VERSION];
        file.extend(record("x", "Z", 0xFF, &[0]));
        let error = parse(&file).unwrap_err();
        assert_eq!(error.offset, 1);
        assert_eq!(error.reason, LegacyFault::UnknownTypeSignature("Z".into()));
        assert!(
            error.to_string().contains("unknown type signature \"Z\""),
            "{error}"
        );

        let mut file = vec![LEGACY_VERSION];
        file.extend(record("x", "Q", 0, &[1, 2, 3]));
        assert_eq!(parse(&file).unwrap_err().reason, LegacyFault::ValuePastEnd);

        let mut file = vec![LEGACY_VERSION];
        file.extend(record("x", "Q", 7, &[0; 16]));
        assert_eq!(
            parse(&file).unwrap_err().reason,
            LegacyFault::BadWriteBufferByte(7)
        );
    }

    #[test]
    fn every_truncation_parses_or_errors() {
        let mut file = vec![LEGACY_VERSION];
        file.extend(record("web.a", "Q", 0, &[1; 16]));
        file.extend(record("web.s", "8s", 0xFF, b"abc\0\0\0\0\0"));
        for len in 0..file.len() {
            let _ = parse(&file[..len]);
        }
    }
}
