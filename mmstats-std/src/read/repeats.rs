//! The rule for a repeated name and labels (docs/FORMAT.md §4.2): of the
//! live fields of a region with the same name and labels, the one in the
//! lowest slot is shown; each other one is reported as a
//! [`FieldProblem::Duplicate`] and not shown.

use std::collections::HashMap;

use mmstats_nostd::{FieldInfo, Labels, NAME_MAX};

use crate::value::FieldProblem;

/// Applies the repeat rule to the live fields of one region, met in slot
/// order: [`RepeatFilter::check`] says whether a field repeats one met
/// before. Every reader of this crate (and `mmdump --image`) uses it, so
/// that every subcommand shows the same field.
///
/// Every field of every read passes through here (100,000 per scrape of a
/// big host), so the common case allocates nothing: fields are keyed by a
/// 64-bit FNV-1a fingerprint of their name and label bytes, and the entry
/// kept for it holds the name and labels inline to tell a real repeat from
/// a fingerprint collision. The maps keep std's keyed hasher: names come
/// from files anyone may write, and FNV fingerprints can be made to
/// collide, so an unkeyed hash would let a file make every look-up slow.
/// Fields whose fingerprint collides go to an exact map, one look-up each.
#[derive(Debug, Default)]
pub struct RepeatFilter {
    first: HashMap<u64, Seen>,
    collided: HashMap<(String, Labels), usize>,
}

/// The first field met with a fingerprint.
#[derive(Debug)]
struct Seen {
    name: heapless::String<NAME_MAX>,
    labels: Labels,
    index: usize,
}

/// FNV-1a over the name, a separator no name holds, and the label bytes.
fn fingerprint(name: &str, labels: &Labels) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let separator: &[u8] = &[0xff];
    for &b in name
        .as_bytes()
        .iter()
        .chain(separator)
        .chain(labels.as_bytes())
    {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
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
        let repeat = |first: usize| FieldProblem::Duplicate {
            index: info.index,
            name: info.name.to_string(),
            labels: info.labels.clone(),
            first,
        };
        let key = fingerprint(&info.name, &info.labels);
        match self.first.get(&key) {
            None => {
                self.first.insert(
                    key,
                    Seen {
                        name: info.name.clone(),
                        labels: info.labels.clone(),
                        index: info.index,
                    },
                );
                None
            }
            Some(seen) if seen.name == info.name && seen.labels == info.labels => {
                Some(repeat(seen.index))
            }
            // Another field with the same fingerprint: told apart exactly.
            Some(_) => match self
                .collided
                .get(&(info.name.to_string(), info.labels.clone()))
            {
                Some(&first) => Some(repeat(first)),
                None => {
                    self.collided
                        .insert((info.name.to_string(), info.labels.clone()), info.index);
                    None
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(index: usize, name: &str, labels: &[(&str, &str)]) -> FieldInfo {
        let memory: Vec<mmstats_nostd::Word> =
            (0..512).map(|_| mmstats_nostd::Word::new(0)).collect();
        let mut region = mmstats_nostd::Region::create(
            &memory,
            &mmstats_nostd::RegionOptions {
                labels: true,
                ..mmstats_nostd::RegionOptions::default()
            },
        )
        .unwrap();
        let _c = region
            .counter(mmstats_nostd::FieldSpec::new(name).labels(labels))
            .unwrap();
        let view = mmstats_nostd::RegionView::open(memory.as_slice()).unwrap();
        let mut info = view.entry(0).unwrap().unwrap();
        info.index = index;
        info
    }

    #[test]
    fn the_first_of_a_name_and_labels_is_shown_and_repeats_name_it() {
        let mut filter = RepeatFilter::new();
        assert_eq!(filter.check(&info(0, "a", &[("k", "1")])), None);
        assert_eq!(filter.check(&info(1, "a", &[("k", "2")])), None);
        assert_eq!(filter.check(&info(2, "a", &[])), None);
        assert!(matches!(
            filter.check(&info(3, "a", &[("k", "1")])),
            Some(FieldProblem::Duplicate {
                index: 3,
                first: 0,
                ..
            })
        ));
        assert!(matches!(
            filter.check(&info(4, "a", &[])),
            Some(FieldProblem::Duplicate {
                index: 4,
                first: 2,
                ..
            })
        ));
    }

    #[test]
    fn a_fingerprint_collision_is_told_apart_exactly() {
        let mut filter = RepeatFilter::new();
        let (a, b) = (info(0, "a", &[]), info(1, "b", &[]));
        // As if `a` had been met with `b`'s fingerprint.
        filter.first.insert(
            fingerprint(&b.name, &b.labels),
            Seen {
                name: a.name.clone(),
                labels: a.labels.clone(),
                index: 0,
            },
        );
        assert_eq!(filter.check(&b), None, "b does not repeat a");
        assert_eq!(filter.collided.len(), 1);
        assert!(matches!(
            filter.check(&info(2, "b", &[])),
            Some(FieldProblem::Duplicate {
                index: 2,
                first: 1,
                ..
            })
        ));
    }
}
