//! The field description C callers fill in (shared by both layers).

use core::ffi::c_char;

/// What a field measures (the format's unit codes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mmstats_unit {
    /// No unit (a plain count or number).
    MMSTATS_UNIT_NONE = 0,
    /// Bytes.
    MMSTATS_UNIT_BYTES = 1,
    /// Seconds.
    MMSTATS_UNIT_SECONDS = 2,
    /// Milliseconds.
    MMSTATS_UNIT_MILLISECONDS = 3,
    /// Microseconds.
    MMSTATS_UNIT_MICROSECONDS = 4,
    /// Nanoseconds.
    MMSTATS_UNIT_NANOSECONDS = 5,
    /// A ratio, 1.0 meaning 100%.
    MMSTATS_UNIT_RATIO = 6,
    /// Percent.
    MMSTATS_UNIT_PERCENT = 7,
    /// Events.
    MMSTATS_UNIT_EVENTS = 8,
    /// Hertz.
    MMSTATS_UNIT_HERTZ = 9,
    /// Degrees Celsius.
    MMSTATS_UNIT_CELSIUS = 10,
    /// Volts.
    MMSTATS_UNIT_VOLTS = 11,
    /// Amperes.
    MMSTATS_UNIT_AMPERES = 12,
    /// Watts.
    MMSTATS_UNIT_WATTS = 13,
    /// Bits.
    MMSTATS_UNIT_BITS = 14,
}

/// One label: `key="value"` (format 2.2). Keys are `[A-Za-z_][A-Za-z0-9_]*`
/// (at most 32 bytes), values 1 to 64 bytes of UTF-8 without control
/// characters; at most 8 labels per field.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmstats_label {
    /// NUL-terminated UTF-8; read during the call only.
    pub key: *const c_char,
    /// NUL-terminated UTF-8; read during the call only.
    pub value: *const c_char,
}

/// How to add a field. Zero-initialise it (`mmstats_field_spec s = {0};`),
/// set `name`, and set what else you need: every zero means "the default".
/// The library reads the spec and the strings it points to during the call
/// only; the caller keeps ownership.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmstats_field_spec {
    /// Field name, NUL-terminated UTF-8 (required; appended to the prefix).
    pub name: *const c_char,
    /// One line for people, at most 80 bytes; NULL for none.
    pub description: *const c_char,
    /// The unit (`mmstats_unit` code; 0 = none).
    pub unit: u32,
    /// Number of labels in `labels` (0 to 8).
    pub label_count: u32,
    /// `label_count` labels; may be NULL when `label_count` is 0.
    pub labels: *const mmstats_label,
    /// Strings: capacity in bytes (at most 4096; 0 = the default, 64).
    pub capacity: u32,
    /// Histograms: precision in bits (1 to 12; 0 = the default, 5).
    pub precision: u32,
    /// Histograms: the largest value with a bucket of its own (0 = the
    /// default, one hour in nanoseconds).
    pub highest: u64,
}
