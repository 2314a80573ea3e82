//! The rule for a repeated name and labels (docs/FORMAT.md §4.2): of the
//! live fields of a region with the same name and labels, the one in the
//! lowest slot is shown; each other one is reported as a
//! [`FieldProblem::Duplicate`] and not shown.

use std::collections::HashMap;

use mmstats_nostd::{FieldInfo, Labels};

use crate::value::FieldProblem;

/// Applies the repeat rule to the live fields of one region, met in slot
/// order: [`RepeatFilter::check`] says whether a field repeats one met
/// before. Every reader of this crate (and `mmdump --image`) uses it, so
/// that every subcommand shows the same field.
#[derive(Debug, Default)]
pub struct RepeatFilter {
    first: HashMap<(String, Labels), usize>,
}

impl RepeatFilter {
    /// A filter that has met no field yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// `None` for the first field of its name and labels (show it), else
    /// the problem to report instead of showing it. Call it with every
    /// live entry, in ascending slot order, whether or not its value can
    /// be read.
    pub fn check(&mut self, info: &FieldInfo) -> Option<FieldProblem> {
        let key = (info.name.to_string(), info.labels.clone());
        match self.first.get(&key) {
            Some(&first) => Some(FieldProblem::Duplicate {
                index: info.index,
                name: key.0,
                labels: key.1,
                first,
            }),
            None => {
                self.first.insert(key, info.index);
                None
            }
        }
    }
}
