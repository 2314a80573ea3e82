//! Status codes, their names and messages.

use core::ffi::{CStr, c_char, c_int};

/// What a call did: `MMSTATS_OK` (0) or why it failed. Every function of
/// the ABI that can fail returns one; on failure no output is written.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum mmstats_status {
    /// Success.
    MMSTATS_OK = 0,
    /// A required pointer argument (handle, spec, name, output) was NULL.
    MMSTATS_NULL_ARGUMENT = 1,
    /// A string argument is not UTF-8.
    MMSTATS_INVALID_UTF8 = 2,
    /// A handle's storage does not hold a live handle of this kind (never
    /// filled by a successful call, or of another kind).
    MMSTATS_BAD_HANDLE = 3,
    /// The buffer of words is not 8-byte aligned.
    MMSTATS_MISALIGNED = 4,
    /// The buffer cannot hold the region header, the table and one value.
    MMSTATS_REGION_TOO_SMALL = 5,
    /// The buffer, or the table asked for, is larger than readers accept.
    MMSTATS_REGION_TOO_LARGE = 6,
    /// A field name is empty, too long or holds a control character, or a
    /// description is too long.
    MMSTATS_INVALID_NAME = 7,
    /// A field with this name and these labels exists already (hosted).
    MMSTATS_DUPLICATE_NAME = 8,
    /// The region's field table or value area is full.
    MMSTATS_FULL = 9,
    /// A label key or value is invalid, or there are too many labels.
    MMSTATS_INVALID_LABELS = 10,
    /// The field has labels but the region was made without label room.
    MMSTATS_NO_LABEL_ROOM = 11,
    /// A field parameter (unit, capacity, precision, highest) is out of range.
    MMSTATS_INVALID_PARAMETER = 12,
    /// The stats file's name is taken by another live writer (hosted).
    MMSTATS_NAME_TAKEN = 13,
    /// The directory is not one the library trusts to publish in (hosted).
    MMSTATS_UNTRUSTED_DIRECTORY = 14,
    /// An I/O call failed or the disk is full (hosted).
    MMSTATS_IO = 15,
    /// An output buffer is too small (the needed length is reported).
    MMSTATS_BUFFER_TOO_SMALL = 16,
    /// The group name is not known to the system (hosted).
    MMSTATS_UNKNOWN_GROUP = 17,
}

impl mmstats_status {
    /// Every status, by code.
    pub(crate) const ALL: [Self; 18] = [
        Self::MMSTATS_OK,
        Self::MMSTATS_NULL_ARGUMENT,
        Self::MMSTATS_INVALID_UTF8,
        Self::MMSTATS_BAD_HANDLE,
        Self::MMSTATS_MISALIGNED,
        Self::MMSTATS_REGION_TOO_SMALL,
        Self::MMSTATS_REGION_TOO_LARGE,
        Self::MMSTATS_INVALID_NAME,
        Self::MMSTATS_DUPLICATE_NAME,
        Self::MMSTATS_FULL,
        Self::MMSTATS_INVALID_LABELS,
        Self::MMSTATS_NO_LABEL_ROOM,
        Self::MMSTATS_INVALID_PARAMETER,
        Self::MMSTATS_NAME_TAKEN,
        Self::MMSTATS_UNTRUSTED_DIRECTORY,
        Self::MMSTATS_IO,
        Self::MMSTATS_BUFFER_TOO_SMALL,
        Self::MMSTATS_UNKNOWN_GROUP,
    ];

    fn from_code(code: c_int) -> Option<Self> {
        usize::try_from(code)
            .ok()
            .and_then(|index| Self::ALL.get(index).copied())
    }

    /// The status's name and message.
    const fn texts(self) -> (&'static CStr, &'static CStr) {
        match self {
            Self::MMSTATS_OK => (c"MMSTATS_OK", c"success"),
            Self::MMSTATS_NULL_ARGUMENT => (
                c"MMSTATS_NULL_ARGUMENT",
                c"a required pointer argument was NULL",
            ),
            Self::MMSTATS_INVALID_UTF8 => {
                (c"MMSTATS_INVALID_UTF8", c"a string argument is not UTF-8")
            }
            Self::MMSTATS_BAD_HANDLE => (
                c"MMSTATS_BAD_HANDLE",
                c"the handle storage holds no live handle of this kind",
            ),
            Self::MMSTATS_MISALIGNED => {
                (c"MMSTATS_MISALIGNED", c"the buffer is not 8-byte aligned")
            }
            Self::MMSTATS_REGION_TOO_SMALL => (
                c"MMSTATS_REGION_TOO_SMALL",
                c"the buffer cannot hold the header, the table and one value",
            ),
            Self::MMSTATS_REGION_TOO_LARGE => (
                c"MMSTATS_REGION_TOO_LARGE",
                c"the buffer or the table is larger than readers accept",
            ),
            Self::MMSTATS_INVALID_NAME => (
                c"MMSTATS_INVALID_NAME",
                c"the field name or description is empty, too long or holds a control character",
            ),
            Self::MMSTATS_DUPLICATE_NAME => (
                c"MMSTATS_DUPLICATE_NAME",
                c"a field with this name and labels exists already",
            ),
            Self::MMSTATS_FULL => (
                c"MMSTATS_FULL",
                c"the field table or the value area is full",
            ),
            Self::MMSTATS_INVALID_LABELS => (
                c"MMSTATS_INVALID_LABELS",
                c"a label key or value is invalid, or there are too many labels",
            ),
            Self::MMSTATS_NO_LABEL_ROOM => (
                c"MMSTATS_NO_LABEL_ROOM",
                c"the field has labels but the region has no room for labels",
            ),
            Self::MMSTATS_INVALID_PARAMETER => (
                c"MMSTATS_INVALID_PARAMETER",
                c"a field parameter is out of range",
            ),
            Self::MMSTATS_NAME_TAKEN => (
                c"MMSTATS_NAME_TAKEN",
                c"the stats file name is taken by another live writer",
            ),
            Self::MMSTATS_UNTRUSTED_DIRECTORY => (
                c"MMSTATS_UNTRUSTED_DIRECTORY",
                c"the directory is not trusted for publishing",
            ),
            Self::MMSTATS_IO => (c"MMSTATS_IO", c"an I/O call failed"),
            Self::MMSTATS_BUFFER_TOO_SMALL => (
                c"MMSTATS_BUFFER_TOO_SMALL",
                c"the output buffer is too small",
            ),
            Self::MMSTATS_UNKNOWN_GROUP => (
                c"MMSTATS_UNKNOWN_GROUP",
                c"the group is not known to the system",
            ),
        }
    }
}

impl From<mmstats_nostd::AddFieldError> for mmstats_status {
    fn from(error: mmstats_nostd::AddFieldError) -> Self {
        use mmstats_nostd::AddFieldError as E;
        match error {
            E::EmptyName | E::NameTooLong { .. } | E::InvalidName | E::InvalidDescription => {
                Self::MMSTATS_INVALID_NAME
            }
            E::TableFull { .. } | E::DataFull { .. } | E::TableFullPendingReuse { .. } => {
                Self::MMSTATS_FULL
            }
            E::InvalidLabels(_) => Self::MMSTATS_INVALID_LABELS,
            E::NoLabelRoom => Self::MMSTATS_NO_LABEL_ROOM,
            _ => Self::MMSTATS_INVALID_PARAMETER,
        }
    }
}

impl From<mmstats_nostd::CreateError> for mmstats_status {
    fn from(error: mmstats_nostd::CreateError) -> Self {
        match error {
            mmstats_nostd::CreateError::TooSmall { .. } => Self::MMSTATS_REGION_TOO_SMALL,
            _ => Self::MMSTATS_REGION_TOO_LARGE,
        }
    }
}

/// The name of status `code` (`"MMSTATS_FULL"`), or `"MMSTATS_UNKNOWN"` for
/// a code this library does not define.
///
/// Ownership: the returned string is static; never free it.
/// Threading: any thread, any time.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_status_name(code: c_int) -> *const c_char {
    mmstats_status::from_code(code)
        .map_or(c"MMSTATS_UNKNOWN", |status| status.texts().0)
        .as_ptr()
}

/// A one-line English message for status `code`, or `"unknown status"`.
///
/// Ownership: the returned string is static; never free it.
/// Threading: any thread, any time.
#[unsafe(no_mangle)]
pub extern "C" fn mmstats_status_message(code: c_int) -> *const c_char {
    mmstats_status::from_code(code)
        .map_or(c"unknown status", |status| status.texts().1)
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_index_the_table() {
        for (index, status) in mmstats_status::ALL.iter().enumerate() {
            assert_eq!(*status as usize, index);
            assert_eq!(mmstats_status::from_code(index as c_int), Some(*status));
        }
        assert_eq!(mmstats_status::from_code(-1), None);
        assert_eq!(mmstats_status::from_code(18), None);
    }
}
