//! URL query parameters: decoded, bounded and checked before anything
//! else looks at them.
//!
//! Parameters only ever *select among* what the server already found:
//! `include`/`exclude` are field-name patterns, `file` a wildcard matched
//! against the names of discovered files, `pid` a number. None of them is
//! ever used as a path. Still, a value holding `..` (a parent directory),
//! a NUL or another control character is refused with 400, as is an
//! unknown parameter (a typo would otherwise select everything), so a
//! mistake or a probe gets a clear answer.

use std::fmt;

use crate::dump::aggregate::AggregateMode;
use crate::dump::select::Selection;
use crate::glob::NamePattern;

/// Most parameters one request may carry.
pub const MAX_PARAMS: usize = 64;
/// Longest value, in bytes, after decoding.
pub const MAX_VALUE_BYTES: usize = 512;

/// Why a query string was refused (the 400 response says it).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryError {
    /// More than [`MAX_PARAMS`] parameters.
    TooMany,
    /// A parameter this endpoint does not take.
    Unknown(String),
    /// A value longer than [`MAX_VALUE_BYTES`].
    TooLong(String),
    /// A value holding `..`.
    ParentReference(String),
    /// A value holding a control character.
    ControlCharacter(String),
    /// A value that does not parse (`pid=abc`, `aggregate=median`).
    Invalid {
        /// The parameter.
        key: String,
        /// Why.
        reason: String,
    },
    /// A parameter given twice that may be given once.
    Repeated(String),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooMany => write!(f, "more than {MAX_PARAMS} query parameters"),
            Self::Unknown(key) => write!(f, "unknown query parameter {key:?}"),
            Self::TooLong(key) => {
                write!(
                    f,
                    "query parameter {key:?} is longer than {MAX_VALUE_BYTES} bytes"
                )
            }
            Self::ParentReference(key) => write!(
                f,
                "query parameter {key:?} holds \"..\": parameters select among discovered files and fields, never paths"
            ),
            Self::ControlCharacter(key) => {
                write!(f, "query parameter {key:?} holds a control character")
            }
            Self::Invalid { key, reason } => write!(f, "query parameter {key:?}: {reason}"),
            Self::Repeated(key) => write!(f, "query parameter {key:?} may be given once"),
        }
    }
}

impl std::error::Error for QueryError {}

/// Decoded parameters, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes `query` (the part of the URL after `?`), accepting only the
    /// keys in `allowed`.
    pub fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Self, QueryError> {
        let mut params = Vec::new();
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if params.len() == MAX_PARAMS {
                return Err(QueryError::TooMany);
            }
            let key = key.into_owned();
            if !allowed.contains(&key.as_str()) {
                return Err(QueryError::Unknown(key));
            }
            if value.len() > MAX_VALUE_BYTES {
                return Err(QueryError::TooLong(key));
            }
            if value.contains("..") {
                return Err(QueryError::ParentReference(key));
            }
            if value.chars().any(char::is_control) {
                return Err(QueryError::ControlCharacter(key));
            }
            params.push((key, value.into_owned()));
        }
        Ok(Self(params))
    }

    /// Every value of `key`, in order.
    pub fn all<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a str> + 'a {
        let key = key.to_owned();
        self.0
            .iter()
            .filter(move |(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The one value of `key`, if given (given twice: an error).
    pub fn one<'a>(&'a self, key: &str) -> Result<Option<&'a str>, QueryError> {
        let mut values = self.all(key);
        let first = values.next();
        if values.next().is_some() {
            return Err(QueryError::Repeated(key.to_owned()));
        }
        Ok(first)
    }

    /// The filters `include`, `exclude`, `file` and `pid` as a selection.
    pub fn selection(&self) -> Result<Selection, QueryError> {
        let pids = self
            .all("pid")
            .map(|p| {
                p.parse::<u64>().map_err(|_| QueryError::Invalid {
                    key: "pid".into(),
                    reason: format!("{p:?} is not a process id"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Selection {
            include: self.all("include").map(NamePattern::new).collect(),
            exclude: self.all("exclude").map(NamePattern::new).collect(),
            files: self.all("file").map(str::to_owned).collect(),
            pids,
        })
    }

    /// The `aggregate` parameter, if given.
    pub fn aggregate(&self) -> Result<Option<AggregateMode>, QueryError> {
        self.one("aggregate")?
            .map(|mode| {
                mode.parse().map_err(|reason| QueryError::Invalid {
                    key: "aggregate".into(),
                    reason,
                })
            })
            .transpose()
    }

    /// A canonical form of the filters (sorted), naming a filter set.
    #[must_use]
    pub fn filter_key(&self) -> String {
        let mut pairs: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "include" | "exclude" | "file" | "pid"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.sort();
        pairs.dedup();
        pairs.join("\0")
    }
}

/// The filter parameters every data endpoint takes.
pub const FILTER_KEYS: [&str; 4] = ["include", "exclude", "file", "pid"];

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 5] = ["include", "exclude", "file", "pid", "aggregate"];

    #[test]
    fn filters_decode() {
        let params = Params::parse(
            Some("include=web&include=worker.status.%2A&exclude=sys&file=mmstats-demo-*&pid=7&aggregate=max"),
            &KEYS,
        )
        .unwrap();
        let selection = params.selection().unwrap();
        assert_eq!(selection.include.len(), 2);
        assert!(selection.name_selected("worker.status.2XX"));
        assert!(!selection.name_selected("sys.pid"));
        assert_eq!(selection.files, vec!["mmstats-demo-*"]);
        assert_eq!(selection.pids, vec![7]);
        assert_eq!(params.aggregate().unwrap(), Some(AggregateMode::Max));
        assert_eq!(
            params.filter_key(),
            Params::parse(
                Some("pid=7&file=mmstats-demo-*&exclude=sys&include=worker.status.*&include=web"),
                &KEYS
            )
            .unwrap()
            .filter_key()
        );
    }

    #[test]
    fn bad_parameters_are_refused() {
        let parse = |q: &str| Params::parse(Some(q), &KEYS);
        assert_eq!(
            parse("file=../../etc/passwd"),
            Err(QueryError::ParentReference("file".into()))
        );
        assert_eq!(
            parse("include=%2E%2E"),
            Err(QueryError::ParentReference("include".into()))
        );
        assert_eq!(parse("path=/etc"), Err(QueryError::Unknown("path".into())));
        assert_eq!(
            parse("file=a%00b"),
            Err(QueryError::ControlCharacter("file".into()))
        );
        assert_eq!(
            parse(&format!("include={}", "a".repeat(MAX_VALUE_BYTES + 1))),
            Err(QueryError::TooLong("include".into()))
        );
        assert_eq!(
            parse(&"pid=1&".repeat(MAX_PARAMS + 1)),
            Err(QueryError::TooMany)
        );
        assert!(matches!(
            parse("pid=abc").unwrap().selection(),
            Err(QueryError::Invalid { .. })
        ));
        assert!(matches!(
            parse("aggregate=median").unwrap().aggregate(),
            Err(QueryError::Invalid { .. })
        ));
        assert_eq!(
            parse("aggregate=sum&aggregate=max").unwrap().aggregate(),
            Err(QueryError::Repeated("aggregate".into()))
        );
        assert_eq!(Params::parse(None, &KEYS).unwrap(), Params::default());
    }
}
