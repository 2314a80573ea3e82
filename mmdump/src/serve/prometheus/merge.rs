//! Merging families: the order-independent clash rule and the series bound.

use super::*;

/// Families merged by name: metrics of families with the same name, type
/// and unit are joined (the smallest help text wins, so the result does
/// not depend on the order the files were read in). Families that would
/// clash (the same name with another type or unit, or a sample name that
/// another family writes: a gauge `x_total` and a counter `x`) are given
/// names of their own by [`Merger::finish`]'s rule; only a family for
/// which no name is free is dropped. Returns the merged families sorted
/// by name, and the names dropped.
#[must_use]
pub fn merge(families: Vec<Family>) -> (Vec<Family>, Vec<String>) {
    let mut merger = Merger::default();
    for family in families {
        merger.add(family);
    }
    merger.finish()
}

/// [`merge`], one family at a time: a scrape adds each field's families
/// as it makes them, so only the merged families are ever held (at
/// 100,000 samples of 1,000 names, 1,000 families, not 100,000).
#[derive(Debug, Default)]
pub struct Merger {
    merged: Vec<Family>,
    /// Whether `merged[i]` came from [`Merger::add_reserved`].
    reserved: Vec<bool>,
    /// Name -> indexes in `merged` of the families of that name (one per
    /// type and unit: the same name, type and unit make one family).
    index: std::collections::HashMap<String, Vec<usize>>,
    /// Field name -> the families [`Merger::add_field`] made for fields of
    /// that name, so that the next field of the same name, unit,
    /// description and kind (the next file's, at 100 files of 1,000 names
    /// 99 in 100 fields) only adds its metric. Keyed by std's keyed hasher:
    /// names come from files anyone may write.
    heads: std::collections::HashMap<String, Vec<HeadSeen>>,
}

/// A family [`Merger::add_field`] made (or found none for) and what it
/// was made of, besides the field's name.
#[derive(Debug)]
struct HeadSeen {
    unit: String,
    description: String,
    kind: &'static str,
    /// Its index in `merged`; `None`: the field has no Prometheus form.
    at: Option<usize>,
}

/// `a == b`, without calling `memcmp` for two empty strings: an empty
/// `String`'s pointer is dangling, and glibc's AVX-512 `memcmp` makes a
/// masked load from it even for length 0, which costs a fault-suppression
/// assist of hundreds of cycles. Units and descriptions are mostly empty:
/// comparing them with `==` took a third of a 100,000-field scrape.
fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// At most this many kinds, units and descriptions are remembered per
/// field name; fields beyond them take the full path each time (only a
/// file made for it gives one name more than a few).
const MAX_HEADS_PER_NAME: usize = 8;

/// How many numbered names ([`Merger::finish`]) a clashing family tries
/// before it is dropped.
pub(super) const MAX_NUMBERED_NAMES: usize = 8;

impl Merger {
    /// Adds `family` (see [`merge`] for the rules).
    pub fn add(&mut self, family: Family) {
        let _ = self.insert(family, false);
    }

    /// Adds one of the exporter's own families: it keeps its name in
    /// every clash (fields' families give way).
    pub fn add_reserved(&mut self, family: Family) {
        let _ = self.insert(family, true);
    }

    /// Adds the family of one field's metric ([`family_head`],
    /// [`metric_of`]), labelled `group` and then the field's own labels:
    /// what `merger.add` of each of [`families_of_shared`]'s families does,
    /// without making the family again for a name already met with the
    /// same unit, description and kind (the family depends on nothing
    /// else).
    pub fn add_field(&mut self, field: &Field, group: &Labels, options: &NameOptions) {
        let kind = field.value.kind_name();
        let known = self.heads.get(field.name.as_str()).and_then(|seen| {
            seen.iter()
                .find(|h| {
                    h.kind == kind
                        && same_text(&h.unit, &field.unit)
                        && same_text(&h.description, &field.description)
                })
                .map(|h| h.at)
        });
        let at = match known {
            Some(Some(at)) => {
                if let Some(metric) = metric_of(field, group) {
                    self.merged[at].metrics.push(metric);
                }
                return;
            }
            Some(None) => return,
            None => family_head(field, options).map(|head| {
                self.insert(
                    Family {
                        name: head.name,
                        kind: head.kind,
                        unit: head.unit,
                        help: head.help,
                        metrics: metric_of(field, group).into_iter().collect(),
                    },
                    false,
                )
            }),
        };
        let seen = self.heads.entry(field.name.clone()).or_default();
        if seen.len() < MAX_HEADS_PER_NAME {
            seen.push(HeadSeen {
                unit: field.unit.clone(),
                description: field.description.clone(),
                kind,
                at,
            });
        }
    }

    /// Merges `family` in; returns its index in `merged` (of the family it
    /// joined, or of its own).
    fn insert(&mut self, family: Family, reserved: bool) -> usize {
        let merged = &mut self.merged;
        let kinds = &self.reserved;
        // The exporter's own families never take in a field's (a field
        // named like one is renamed instead).
        let same = self.index.get(family.name.as_str()).and_then(|all| {
            all.iter().copied().find(|&at| {
                merged[at].kind == family.kind
                    && merged[at].unit == family.unit
                    && kinds[at] == reserved
            })
        });
        if let Some(at) = same {
            let existing = &mut merged[at];
            existing.metrics.extend(family.metrics);
            if family.help < existing.help {
                existing.help = family.help;
            }
            return at;
        }
        let at = merged.len();
        self.index.entry(family.name.clone()).or_default().push(at);
        merged.push(family);
        self.reserved.push(reserved);
        at
    }

    /// The merged families sorted by name, and the names dropped.
    ///
    /// Names are given in a fixed order, whatever order the families came
    /// in: the exporter's own first, then by name, type (counter, gauge,
    /// summary, histogram, info) and unit. A family keeps its name when
    /// neither it nor any sample name it writes (`_total`, `_bucket`, ...)
    /// is taken by a family before it. Every family that could not keep
    /// its name is then renamed, in the same order: a word for its type
    /// (`cumulative` for a counter, `current` for a gauge, `average` for
    /// a summary, `distribution` for a histogram, `text` for an info) is
    /// added before its unit (`mmstats_worker_latency_seconds`, a
    /// histogram clashing with a summary, becomes
    /// `mmstats_worker_latency_distribution_seconds`), or, when that is
    /// taken, the word and a number from 2 to 9
    /// (`..._distribution_2_seconds`). The help text says so. A family with
    /// no free name among those is dropped (returned), which only files
    /// made to clash can cause.
    #[must_use]
    pub fn finish(self) -> (Vec<Family>, Vec<String>) {
        let Self {
            merged, reserved, ..
        } = self;
        let mut order: Vec<usize> = (0..merged.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&merged[a], &merged[b]);
            reserved[b]
                .cmp(&reserved[a])
                .then_with(|| x.name.cmp(&y.name))
                .then_with(|| x.kind.cmp(&y.kind))
                .then_with(|| x.unit.cmp(&y.unit))
        });
        // Hashed, not ordered: a scrape of 100,000 fields checks ~300,000
        // names here.
        let mut claimed: std::collections::HashSet<String> =
            std::collections::HashSet::with_capacity(merged.len() * 3);
        let mut keeps = vec![false; merged.len()];
        for &at in &order {
            let names = merged[at].claimed_names();
            if names.iter().all(|n| !claimed.contains(n)) {
                claimed.extend(names);
                keeps[at] = true;
            }
        }
        let mut slots: Vec<Option<Family>> = merged.into_iter().map(Some).collect();
        let mut out: Vec<Family> = Vec::with_capacity(slots.len());
        let mut dropped = Vec::new();
        for &at in &order {
            let Some(mut family) = slots[at].take() else {
                continue;
            };
            if !keeps[at] {
                let original = family.name.clone();
                let renamed = clash_names(&family).find(|candidate| {
                    let probe = Family {
                        name: candidate.clone(),
                        kind: family.kind,
                        unit: family.unit,
                        help: String::new(),
                        metrics: Vec::new(),
                    };
                    probe.claimed_names().iter().all(|n| !claimed.contains(n))
                });
                let Some(name) = renamed else {
                    dropped.push(original);
                    continue;
                };
                family.name = name;
                claimed.extend(family.claimed_names());
                let _ = write!(
                    family.help,
                    " [exported as {}: {original} is another family's name]",
                    family.name
                );
            }
            out.push(family);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        for family in &mut out {
            family.metrics.sort_by(|a, b| a.labels.cmp(&b.labels));
            // Two metrics with the same labels would be a duplicate series:
            // keep the first.
            family.metrics.dedup_by(|b, a| a.labels == b.labels);
        }
        dropped.sort();
        dropped.dedup();
        (out, dropped)
    }
}

/// The word a clashing family's new name gets from its type. Not the
/// type's own name: Prometheus' linter (`promtool check metrics`) refuses
/// names holding `_counter`, `_gauge`, `_summary` or `_histogram`.
pub(super) const fn clash_word(kind: MetricType) -> &'static str {
    match kind {
        MetricType::Counter => "cumulative",
        MetricType::Gauge => "current",
        // Summaries come from averages.
        MetricType::Summary => "average",
        MetricType::Histogram => "distribution",
        // Info metrics come from strings.
        MetricType::Info => "text",
    }
}

/// The names a clashing family tries, in order (see [`Merger::finish`]).
pub(super) fn clash_names(family: &Family) -> impl Iterator<Item = String> + '_ {
    let unit = family
        .unit
        .map(|u| format!("_{u}"))
        .filter(|suffix| family.name.ends_with(suffix.as_str()))
        .unwrap_or_default();
    let stem = &family.name[..family.name.len() - unit.len()];
    let word = clash_word(family.kind);
    std::iter::once(format!("{stem}_{word}{unit}"))
        .chain((2..2 + MAX_NUMBERED_NAMES).map(move |n| format!("{stem}_{word}_{n}{unit}")))
}

/// The series bound of one family: the label sets it keeps, and how many
/// it left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesCut {
    /// The family's name.
    pub family: String,
    /// Label sets (metrics) it had.
    pub had: usize,
    /// Label sets left out.
    pub dropped: usize,
}

/// Keeps at most `max` label sets (metrics) per family: the first `max`
/// in the order [`Merger::finish`] leaves them (sorted by label names and
/// values), so the same ones are kept scrape after scrape. Returns the
/// families cut, in name order.
pub fn limit_series(families: &mut [Family], max: usize) -> Vec<SeriesCut> {
    let mut cuts = Vec::new();
    for family in families {
        if family.metrics.len() > max {
            cuts.push(SeriesCut {
                family: family.name.clone(),
                had: family.metrics.len(),
                dropped: family.metrics.len() - max,
            });
            family.metrics.truncate(max);
        }
    }
    cuts
}
