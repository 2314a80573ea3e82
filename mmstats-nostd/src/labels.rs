//! Field labels (format 2.2): a bounded, sorted set of `key=value` pairs
//! stored after the first 256 bytes of an entry (`docs/FORMAT.md` §4.1).
//!
//! A field's identity is its name *and* its labels: `web.conn.bytes_in`
//! with `conn="1234"` and the same name with `conn="1235"` are two fields
//! of one family. [`Labels`] is the one encoding both sides use: a writer
//! builds it with [`Labels::from_pairs`] (which validates and sorts), a
//! reader with [`Labels::from_bytes`] (which validates the stored bytes and
//! refuses anything a writer would not have produced).
//!
//! Encoding: each label is `key`, `=`, `value`, then one zero byte; labels
//! sorted by key (byte order), keys unique. Keys match
//! `[A-Za-z_][A-Za-z0-9_]*` and are at most [`LABEL_KEY_MAX`] bytes; values
//! are 1 to [`LABEL_VALUE_MAX`] bytes of UTF-8 without control characters;
//! at most [`LABELS_MAX`] labels and [`LABEL_BYTES_MAX`] bytes in all.

/// Most labels one field may carry.
pub const LABELS_MAX: usize = 8;
/// Longest label key, in bytes.
pub const LABEL_KEY_MAX: usize = 32;
/// Longest label value, in bytes of UTF-8.
pub const LABEL_VALUE_MAX: usize = 64;
/// Most bytes of encoded labels (`key=value\0` each) one entry holds: the
/// 128 bytes an entry of 384 bytes has past its first 256.
pub const LABEL_BYTES_MAX: usize = 128;

/// Why a set of labels was refused (by a writer building it, or a reader
/// checking stored bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LabelError {
    /// More than [`LABELS_MAX`] labels.
    TooMany {
        /// Labels given (or found, up to one past the limit).
        count: usize,
    },
    /// A key is empty, longer than [`LABEL_KEY_MAX`] bytes, or not
    /// `[A-Za-z_][A-Za-z0-9_]*`.
    InvalidKey,
    /// A value is empty, longer than [`LABEL_VALUE_MAX`] bytes, not UTF-8,
    /// or holds a control character.
    InvalidValue,
    /// Two labels have the same key.
    DuplicateKey,
    /// The encoding is longer than [`LABEL_BYTES_MAX`] bytes.
    TooLong {
        /// Bytes the encoding needs (or claims).
        len: usize,
    },
    /// Stored labels are not sorted by key.
    Unsorted,
    /// Stored label bytes are not `key=value\0` pairs.
    Malformed,
}

impl LabelError {
    /// A short reason, for errors that carry a static text.
    #[must_use]
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::TooMany { .. } => "more than 8 labels",
            Self::InvalidKey => "a label key is empty, too long or not [A-Za-z_][A-Za-z0-9_]*",
            Self::InvalidValue => {
                "a label value is empty, too long, not UTF-8 or holds a control character"
            }
            Self::DuplicateKey => "two labels have the same key",
            Self::TooLong { .. } => "labels take more than 128 bytes",
            Self::Unsorted => "labels are not sorted by key",
            Self::Malformed => "label bytes are not key=value pairs ending in a zero byte",
        }
    }
}

impl core::fmt::Display for LabelError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooMany { count } => {
                write!(f, "{count} labels; the limit is {LABELS_MAX}")
            }
            Self::TooLong { len } => write!(
                f,
                "labels take {len} bytes encoded; the limit is {LABEL_BYTES_MAX}"
            ),
            other => f.write_str(other.reason()),
        }
    }
}

impl core::error::Error for LabelError {}

/// Whether `key` is a valid label key.
#[must_use]
pub fn is_valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            bytes.len() <= LABEL_KEY_MAX
                && (first.is_ascii_alphabetic() || *first == b'_')
                && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
        None => false,
    }
}

/// Whether `value` is a valid label value.
#[must_use]
pub fn is_valid_value(value: &str) -> bool {
    !value.is_empty() && value.len() <= LABEL_VALUE_MAX && !value.chars().any(char::is_control)
}

/// A validated label set in its stored encoding (at most
/// [`LABEL_BYTES_MAX`] bytes, no heap). Equal label sets have equal bytes,
/// so `==` and `Hash` compare sets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels {
    bytes: heapless::Vec<u8, LABEL_BYTES_MAX>,
}

impl Labels {
    /// No labels.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            bytes: heapless::Vec::new(),
        }
    }

    /// Validates `pairs` (key, value) and sorts them by key.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, LabelError> {
        if pairs.len() > LABELS_MAX {
            return Err(LabelError::TooMany { count: pairs.len() });
        }
        let mut order = [0usize; LABELS_MAX];
        for (slot, index) in order.iter_mut().zip(0..pairs.len()) {
            *slot = index;
        }
        let order = &mut order[..pairs.len()];
        order.sort_unstable_by(|&a, &b| pairs[a].0.cmp(pairs[b].0));
        let mut labels = Self::new();
        let mut previous: Option<&str> = None;
        let mut len = 0usize;
        for &index in order.iter() {
            let (key, value) = pairs[index];
            if !is_valid_key(key) {
                return Err(LabelError::InvalidKey);
            }
            if !is_valid_value(value) {
                return Err(LabelError::InvalidValue);
            }
            if previous == Some(key) {
                return Err(LabelError::DuplicateKey);
            }
            previous = Some(key);
            len += key.len() + value.len() + 2;
        }
        if len > LABEL_BYTES_MAX {
            return Err(LabelError::TooLong { len });
        }
        for &index in order.iter() {
            let (key, value) = pairs[index];
            // Cannot fail: the total was checked above.
            let pushed = labels.bytes.extend_from_slice(key.as_bytes()).is_ok()
                && labels.bytes.push(b'=').is_ok()
                && labels.bytes.extend_from_slice(value.as_bytes()).is_ok()
                && labels.bytes.push(0).is_ok();
            if !pushed {
                return Err(LabelError::TooLong { len });
            }
        }
        Ok(labels)
    }

    /// Checks stored label bytes (`labels_len` bytes from an entry): the
    /// exact encoding [`Labels::from_pairs`] produces, nothing else. Work
    /// is bounded by `bytes.len()`, which is refused above
    /// [`LABEL_BYTES_MAX`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LabelError> {
        if bytes.len() > LABEL_BYTES_MAX {
            return Err(LabelError::TooLong { len: bytes.len() });
        }
        let mut count = 0usize;
        let mut previous: Option<&[u8]> = None;
        let mut rest = bytes;
        while !rest.is_empty() {
            let end = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or(LabelError::Malformed)?;
            let (label, after) = rest.split_at(end);
            rest = &after[1..];
            let eq = label
                .iter()
                .position(|&b| b == b'=')
                .ok_or(LabelError::Malformed)?;
            let (key, value) = (&label[..eq], &label[eq + 1..]);
            let key_text = core::str::from_utf8(key).map_err(|_| LabelError::InvalidKey)?;
            if !is_valid_key(key_text) {
                return Err(LabelError::InvalidKey);
            }
            let value_text = core::str::from_utf8(value).map_err(|_| LabelError::InvalidValue)?;
            if !is_valid_value(value_text) {
                return Err(LabelError::InvalidValue);
            }
            if let Some(previous) = previous {
                match previous.cmp(key) {
                    core::cmp::Ordering::Less => {}
                    core::cmp::Ordering::Equal => return Err(LabelError::DuplicateKey),
                    core::cmp::Ordering::Greater => return Err(LabelError::Unsorted),
                }
            }
            previous = Some(key);
            count += 1;
            if count > LABELS_MAX {
                return Err(LabelError::TooMany { count });
            }
        }
        let mut labels = Self::new();
        labels
            .bytes
            .extend_from_slice(bytes)
            .map_err(|_| LabelError::TooLong { len: bytes.len() })?;
        Ok(labels)
    }

    /// The stored encoding (`key=value\0` each, sorted by key).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether there are no labels.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Number of labels.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.iter().filter(|&&b| b == 0).count()
    }

    /// The (key, value) pairs, sorted by key.
    #[must_use]
    pub fn iter(&self) -> LabelIter<'_> {
        LabelIter { rest: &self.bytes }
    }

    /// The value of `key`, if the set has it.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

impl<'l> IntoIterator for &'l Labels {
    type Item = (&'l str, &'l str);
    type IntoIter = LabelIter<'l>;

    fn into_iter(self) -> LabelIter<'l> {
        self.iter()
    }
}

/// Shows the set as `{key="value",...}` (empty for no labels), values with
/// `\` and `"` escaped as Prometheus does (values hold no control
/// characters).
impl core::fmt::Display for Labels {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (n, (key, value)) in self.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            write!(f, "{key}=\"")?;
            for c in value.chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '"' => f.write_str("\\\"")?,
                    other => write!(f, "{other}")?,
                }
            }
            f.write_str("\"")?;
        }
        f.write_str("}")
    }
}

/// Iterator over the (key, value) pairs of [`Labels`].
#[derive(Clone, Debug)]
pub struct LabelIter<'l> {
    rest: &'l [u8],
}

impl<'l> Iterator for LabelIter<'l> {
    type Item = (&'l str, &'l str);

    fn next(&mut self) -> Option<Self::Item> {
        // The bytes were validated when the set was built, so every label
        // ends in a zero byte and holds an `=`; anything else ends the walk.
        let end = self.rest.iter().position(|&b| b == 0)?;
        let label = &self.rest[..end];
        self.rest = &self.rest[end + 1..];
        let eq = label.iter().position(|&b| b == b'=')?;
        let key = core::str::from_utf8(&label[..eq]).ok()?;
        let value = core::str::from_utf8(&label[eq + 1..]).ok()?;
        Some((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_sorted_and_round_trip_through_bytes() {
        let labels = Labels::from_pairs(&[("conn", "1234"), ("app", "web")]).unwrap();
        assert_eq!(labels.as_bytes(), b"app=web\0conn=1234\0");
        assert_eq!(labels.len(), 2);
        let pairs: heapless::Vec<(&str, &str), 8> = labels.iter().collect();
        assert_eq!(pairs.as_slice(), &[("app", "web"), ("conn", "1234")]);
        assert_eq!(labels.get("conn"), Some("1234"));
        assert_eq!(labels.get("nope"), None);
        assert_eq!(Labels::from_bytes(labels.as_bytes()).unwrap(), labels);
        assert!(Labels::from_pairs(&[]).unwrap().is_empty());
        assert_eq!(Labels::from_bytes(b"").unwrap(), Labels::new());
    }

    #[test]
    fn writers_get_typed_errors() {
        assert_eq!(
            Labels::from_pairs(&[("1x", "a")]),
            Err(LabelError::InvalidKey)
        );
        assert_eq!(
            Labels::from_pairs(&[("", "a")]),
            Err(LabelError::InvalidKey)
        );
        assert_eq!(
            Labels::from_pairs(&[("a-b", "a")]),
            Err(LabelError::InvalidKey)
        );
        assert_eq!(
            Labels::from_pairs(&[(&"k".repeat(33), "a")]),
            Err(LabelError::InvalidKey)
        );
        assert!(Labels::from_pairs(&[(&"k".repeat(32), "a")]).is_ok());
        assert_eq!(
            Labels::from_pairs(&[("k", "")]),
            Err(LabelError::InvalidValue)
        );
        assert_eq!(
            Labels::from_pairs(&[("k", "a\nb")]),
            Err(LabelError::InvalidValue)
        );
        assert_eq!(
            Labels::from_pairs(&[("k", &"v".repeat(65))]),
            Err(LabelError::InvalidValue)
        );
        assert_eq!(
            Labels::from_pairs(&[("k", "a"), ("k", "b")]),
            Err(LabelError::DuplicateKey)
        );
        let nine = [("a", "1"); 9];
        assert_eq!(
            Labels::from_pairs(&nine),
            Err(LabelError::TooMany { count: 9 })
        );
        let long = "v".repeat(62);
        assert_eq!(
            Labels::from_pairs(&[("a", &long), ("b", &long)]),
            Err(LabelError::TooLong { len: 130 })
        );
    }

    #[test]
    fn hostile_bytes_are_refused() {
        for (bytes, error) in [
            (&b"a=1"[..], LabelError::Malformed),
            (b"a1\0", LabelError::Malformed),
            (b"=1\0", LabelError::InvalidKey),
            (b"a=\0", LabelError::InvalidValue),
            (b"a=\x01\0", LabelError::InvalidValue),
            (b"a=\xff\0", LabelError::InvalidValue),
            (b"b=1\0a=1\0", LabelError::Unsorted),
            (b"a=1\0a=2\0", LabelError::DuplicateKey),
            (b"\0", LabelError::Malformed),
            (
                b"a=1\0b=1\0c=1\0d=1\0e=1\0f=1\0g=1\0h=1\0i=1\0",
                LabelError::TooMany { count: 9 },
            ),
        ] {
            assert_eq!(Labels::from_bytes(bytes), Err(error), "{bytes:?}");
        }
        assert_eq!(
            Labels::from_bytes(&[b'a'; 129]),
            Err(LabelError::TooLong { len: 129 })
        );
        // A value may hold `=`: the first one splits.
        let labels = Labels::from_bytes(b"q=a=b\0").unwrap();
        assert_eq!(labels.get("q"), Some("a=b"));
    }
}
