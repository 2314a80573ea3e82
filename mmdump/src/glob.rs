//! Wildcard matching for file names ([`matches()`]) and for dotted field
//! names ([`NamePattern`]).
//!
//! In a file-name pattern `*` matches any run of characters, `?` one
//! character, `[abc]`, `[a-z]` and `[!abc]` one character of (or not of) a
//! set. Matching is on whole strings and never backtracks exponentially
//! (the classic two-pointer algorithm: linear space, worst case quadratic
//! time).
//!
//! A field-name pattern is matched level by level, the levels being the
//! parts of a name between dots (`web.stats.status.2XX` has four): `*`,
//! `?` and `[...]` work as above but never cross a dot, and a level that is
//! exactly `**` matches any number of levels, none included.
//! `web.*.status.*` matches `web.stats.status.2XX`; `**.errors` matches
//! `errors`, `db.errors` and `web.pool.errors`.
//!
//! A field-name pattern may end in a label part written as text output
//! shows labels: `web.conn.*{conn="12*"}`. Each `key="wildcard"` in it
//! must hold for the field (the key present, its value matching the
//! wildcard as a file name would); labels the pattern does not mention
//! may be anything, and a pattern without a label part ignores labels.
//! `{}` selects only fields without labels. Values are quoted with `\\`, `\"` and `\n` escaped as in the output,
//! or bare when they hold no `,`, `}`, `"` or `\\` (`{conn=12*}`).

use mmstats::Labels;

/// Whether `text` matches the wildcard `pattern`.
#[must_use]
pub fn matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, text index).
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some('?') => {
                p += 1;
                t += 1;
                continue;
            }
            Some('[') => {
                if let Some((hit, next)) = class(&pattern, p, text[t]) {
                    if hit {
                        p = next;
                        t += 1;
                        continue;
                    }
                } else if text[t] == '[' {
                    // An unterminated `[` is a literal.
                    p += 1;
                    t += 1;
                    continue;
                }
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((after, from)) => {
                p = after;
                t = from + 1;
                star = Some((after, from + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `pattern[open] == '['`.
/// Returns (matched, index after the class), or `None` if unterminated.
fn class(pattern: &[char], open: usize, c: char) -> Option<(bool, usize)> {
    let mut i = open + 1;
    let negate = matches!(pattern.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let &current = pattern.get(i)?;
        if current == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&'-') && pattern.get(i + 2).is_some_and(|&e| e != ']') {
            let end = pattern[i + 2];
            hit |= current <= c && c <= end;
            i += 3;
        } else {
            hit |= current == c;
            i += 1;
        }
    }
}

/// Whether `text` contains a wildcard character.
#[must_use]
pub fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// One level of a [`NamePattern`].
#[derive(Clone, Debug, PartialEq, Eq)]
enum Level {
    /// `**`: any number of levels.
    AnyLevels,
    /// A file-name-style wildcard for one level.
    Glob(String),
}

/// One condition of a pattern's label part: the label `key` is present
/// and its value matches the wildcard `value`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LabelCondition {
    key: String,
    value: String,
}

/// Splits `pattern` into its name part and its label part, when it ends
/// in one that parses (`name{k="v",...}`); the first `{` that starts a
/// well-formed label part wins, so a legacy name holding braces that do
/// not is all name.
fn split_labels(pattern: &str) -> Option<(&str, Vec<LabelCondition>)> {
    if !pattern.ends_with('}') {
        return None;
    }
    pattern
        .match_indices('{')
        .find_map(|(at, _)| parse_labels(&pattern[at + 1..]).map(|labels| (&pattern[..at], labels)))
}

/// Parses `key="value",...}` (the text after `{`, through the closing
/// `}` that ends it); `None` if it is not exactly that.
fn parse_labels(text: &str) -> Option<Vec<LabelCondition>> {
    let mut conditions = Vec::new();
    let mut chars = text.chars().peekable();
    if chars.peek() == Some(&'}') {
        chars.next();
        return chars.next().is_none().then_some(conditions);
    }
    loop {
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next() != Some('=') || !mmstats_nostd::labels::is_valid_key(&key) {
            return None;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => value.push(match chars.next()? {
                        '\\' => '\\',
                        '"' => '"',
                        'n' => '\n',
                        _ => return None,
                    }),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if matches!(c, ',' | '}') {
                    break;
                }
                if matches!(c, '"' | '\\') {
                    return None;
                }
                value.push(c);
                chars.next();
            }
        }
        conditions.push(LabelCondition { key, value });
        match chars.next()? {
            ',' => {}
            '}' => return chars.next().is_none().then_some(conditions),
            _ => return None,
        }
    }
}

/// A compiled pattern over dotted field names, with an optional label
/// part (see the module docs).
///
/// ```
/// use mmdump::glob::NamePattern;
///
/// let pattern = NamePattern::new("web.*.status.*");
/// assert!(pattern.matches("web.stats.status.2XX"));
/// assert!(!pattern.matches("web.status.2XX"));
/// // `selects` also accepts a name below a match: the whole subtree.
/// assert!(NamePattern::new("web.stats").selects("web.stats.status.2XX"));
/// assert!(NamePattern::new("**.errors").matches("web.pool.errors"));
/// // A label part: only fields whose `conn` label matches `12*`.
/// let conns = NamePattern::new(r#"web.conn.*{conn="12*"}"#);
/// let conn = |value| mmstats::Labels::from_pairs(&[("conn", value)]).unwrap();
/// assert!(conns.selects_field("web.conn.bytes_in", &conn("1234")));
/// assert!(!conns.selects_field("web.conn.bytes_in", &conn("99")));
/// assert!(!conns.selects("web.conn.bytes_in"), "no labels, no match");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamePattern {
    text: String,
    /// The text before the label part (all of `text` without one).
    name: String,
    levels: Vec<Level>,
    /// The label part's conditions: `None` without a label part (labels
    /// are not looked at), empty for `{}` (only fields without labels).
    labels: Option<Vec<LabelCondition>>,
}

impl NamePattern {
    /// Compiles `pattern`.
    #[must_use]
    pub fn new(pattern: &str) -> Self {
        let (name, labels) = match split_labels(pattern) {
            Some((name, labels)) => (name, Some(labels)),
            None => (pattern, None),
        };
        let mut levels: Vec<Level> = Vec::new();
        for level in name.split('.') {
            if level == "**" {
                // `**.**` is the same as `**`; collapsing keeps the table small.
                if levels.last() != Some(&Level::AnyLevels) {
                    levels.push(Level::AnyLevels);
                }
            } else {
                levels.push(Level::Glob(level.to_owned()));
            }
        }
        Self {
            text: pattern.to_owned(),
            name: name.to_owned(),
            levels,
            labels,
        }
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern holds no wildcard: it names one field.
    #[must_use]
    pub fn is_literal(&self) -> bool {
        !has_wildcard(&self.text)
    }

    /// The pattern's name part: all of it but the label part.
    #[must_use]
    pub fn name_part(&self) -> &str {
        &self.name
    }

    /// Whether the pattern has a label part (`{conn="1"}`, or `{}`).
    #[must_use]
    pub fn has_labels(&self) -> bool {
        self.labels.is_some()
    }

    /// Whether `labels` meet the label part: every condition of it, or
    /// none at all for `{}`; anything without a label part.
    #[must_use]
    pub fn labels_match(&self, labels: &Labels) -> bool {
        match &self.labels {
            None => true,
            Some(conditions) if conditions.is_empty() => labels.is_empty(),
            Some(conditions) => conditions.iter().all(|condition| {
                labels
                    .get(&condition.key)
                    .is_some_and(|value| matches(&condition.value, value))
            }),
        }
    }

    /// Whether `name`, without labels, matches the pattern as a whole
    /// (a pattern with a label part matches no field without labels).
    #[must_use]
    pub fn matches(&self, name: &str) -> bool {
        self.matches_field(name, &Labels::new())
    }

    /// Whether the field `name` with `labels` matches the pattern as a
    /// whole.
    #[must_use]
    pub fn matches_field(&self, name: &str, labels: &Labels) -> bool {
        self.labels_match(labels)
            && self
                .literal_hit(name, false)
                .unwrap_or_else(|| self.table(name).last().copied().unwrap_or(false))
    }

    /// Whether `name` (without labels) or one of the names above it (`a`
    /// and `a.b` for `a.b.c`) matches: the pattern names `name`'s subtree.
    #[must_use]
    pub fn selects(&self, name: &str) -> bool {
        self.selects_field(name, &Labels::new())
    }

    /// Whether the field `name` with `labels` is in the subtree the
    /// pattern names, and its labels meet the label part.
    #[must_use]
    pub fn selects_field(&self, name: &str, labels: &Labels) -> bool {
        self.labels_match(labels) && self.selects_name(name)
    }

    /// Whether `name` is in the subtree the name part names, whatever the
    /// label part says: a field of that name may be selected.
    #[must_use]
    pub fn selects_name(&self, name: &str) -> bool {
        self.literal_hit(name, true)
            .unwrap_or_else(|| self.table(name).iter().skip(1).any(|&hit| hit))
    }

    /// For a pattern without wildcards, whether it names `name` (or, with
    /// `subtree`, a name above it) by comparing levels in place: no
    /// allocation, which matters for `mmdump get NAME` among 100,000
    /// fields. `None` for a pattern with wildcards.
    fn literal_hit(&self, name: &str, subtree: bool) -> Option<bool> {
        let mut levels = self.levels.iter();
        let mut parts = name.split('.');
        loop {
            match (levels.next(), parts.next()) {
                (None, None) => return Some(true),
                (None, Some(_)) => return Some(subtree),
                (Some(Level::Glob(glob)), part) if !has_wildcard(glob) => {
                    if part != Some(glob.as_str()) {
                        // Finish checking the pattern is literal first.
                        return levels
                            .all(|l| matches!(l, Level::Glob(g) if !has_wildcard(g)))
                            .then_some(false);
                    }
                }
                _ => return None,
            }
        }
    }

    /// Dynamic programming over levels: returns, for each `j`, whether the
    /// whole pattern matches the first `j` levels of `name`. Time is
    /// pattern levels × name levels level matches; no backtracking.
    fn table(&self, name: &str) -> Vec<bool> {
        let parts: Vec<&str> = name.split('.').collect();
        // row[j]: the pattern levels seen so far match parts[..j].
        let mut row = vec![false; parts.len() + 1];
        row[0] = true;
        for level in &self.levels {
            let mut next = vec![false; parts.len() + 1];
            for j in 0..=parts.len() {
                next[j] = match level {
                    Level::AnyLevels => row[j] || (j > 0 && next[j - 1]),
                    Level::Glob(glob) => j > 0 && row[j - 1] && matches(glob, parts[j - 1]),
                };
            }
            row = next;
        }
        row
    }
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn literal_patterns_agree_with_the_level_table() {
        let names = [
            "a", "a.b", "a.b.c", "ab", "a.bc", "b.a", "", "a..b", "x.a.b",
        ];
        for pattern in [
            "a", "a.b", "a.b.c", "ab", "b", "a..b", "a.b*", "**.b", "a.*",
        ] {
            let p = NamePattern::new(pattern);
            for name in names {
                let table = p.table(name);
                assert_eq!(
                    p.selects(name),
                    table.iter().skip(1).any(|&hit| hit),
                    "{pattern} selects {name}"
                );
                assert_eq!(
                    p.matches(name),
                    table.last().copied().unwrap_or(false),
                    "{pattern} matches {name}"
                );
            }
        }
    }

    use super::*;

    #[test]
    fn dotted_patterns_match_level_by_level() {
        let p = NamePattern::new("web.*.status.*");
        assert!(p.matches("web.stats.status.2XX"));
        assert!(!p.matches("web.status.2XX"));
        assert!(!p.matches("web.a.b.status.2XX"), "* never crosses a dot");
        assert!(!p.matches("web.stats.status.2XX.extra"));
        assert!(p.selects("web.stats.status.2XX.extra"));

        let any = NamePattern::new("**.errors");
        for name in ["errors", "db.errors", "web.pool.errors"] {
            assert!(any.matches(name), "{name}");
        }
        assert!(!any.matches("errors.total"));
        assert!(any.selects("errors.total"));
        assert!(!any.matches("web.errors_total"));

        let mid = NamePattern::new("web.**.2XX");
        assert!(mid.matches("web.2XX"));
        assert!(mid.matches("web.a.b.c.2XX"));
        assert!(!mid.matches("worker.a.2XX"));

        assert!(NamePattern::new("**").matches("a.b.c"));
        assert!(NamePattern::new("*").selects("a.b.c"));
        assert!(!NamePattern::new("*").matches("a.b.c"));
        assert!(NamePattern::new("web.status.[24]XX").matches("web.status.4XX"));
        assert!(!NamePattern::new("web.status.[24]XX").matches("web.status.5XX"));
        assert!(NamePattern::new("sys").selects("sys.pid"));
        assert!(!NamePattern::new("sys").selects("system.pid"));
        assert!(NamePattern::new("web.requests").is_literal());
        assert!(!NamePattern::new("web.*").is_literal());
    }

    #[test]
    fn label_parts_select_label_values() {
        let labels = |pairs: &[(&str, &str)]| mmstats::Labels::from_pairs(pairs).unwrap();
        let p = NamePattern::new(r#"web.conn.*{conn="12*"}"#);
        assert!(p.has_labels());
        assert_eq!(p.name_part(), "web.conn.*");
        assert!(p.matches_field("web.conn.bytes_in", &labels(&[("conn", "1234")])));
        assert!(p.matches_field(
            "web.conn.bytes_in",
            &labels(&[("conn", "12"), ("dir", "in")])
        ));
        assert!(!p.matches_field("web.conn.bytes_in", &labels(&[("conn", "99")])));
        assert!(!p.matches_field("web.conn.bytes_in", &labels(&[("peer", "12")])));
        assert!(!p.matches("web.conn.bytes_in"));
        assert!(!p.matches_field("web.other.x", &labels(&[("conn", "1234")])));
        // Subtrees as without labels.
        let sub = NamePattern::new("web{conn=1}");
        assert!(sub.selects_field("web.conn.bytes_in", &labels(&[("conn", "1")])));
        assert!(!sub.selects_field("web.conn.bytes_in", &labels(&[("conn", "10")])));
        // No label part: labels are not looked at.
        let plain = NamePattern::new("web.conn");
        assert!(!plain.has_labels());
        assert!(plain.selects_field("web.conn.bytes_in", &labels(&[("conn", "1")])));
        // Several conditions, escapes as the output writes them.
        let two = NamePattern::new(r#"x{a="q\"\\",b="*"}"#);
        assert!(two.matches_field("x", &labels(&[("a", "q\"\\"), ("b", "z")])));
        assert!(!two.matches_field("x", &labels(&[("a", "q\"\\")])));
        // Not a label part: all name.
        // `{}`: no labels at all.
        let none = NamePattern::new("web.conn{}");
        assert!(none.has_labels());
        assert!(none.selects("web.conn.bytes_in"));
        assert!(!none.selects_field("web.conn.bytes_in", &labels(&[("conn", "1")])));
        for text in [
            "a{b",
            "a{}x",
            "a{=1}",
            "a{b=\"1}",
            "a{b=1,}",
            "a{1b=2}",
            r#"a{b="\q"}"#,
        ] {
            let p = NamePattern::new(text);
            assert!(!p.has_labels(), "{text}");
            assert!(p.matches(text), "{text}");
        }
        assert!(NamePattern::new("a{}").matches("a"));
        assert_eq!(NamePattern::new("a{}").name_part(), "a");
    }

    #[test]
    fn dotted_patterns_do_not_blow_up() {
        // Smaller under miri, which interprets every step of the match.
        let (segments, stars) = if cfg!(miri) { (200, 10) } else { (2000, 50) };
        let name = vec!["a"; segments].join(".");
        let pattern = "**.b";
        assert!(!NamePattern::new(pattern).matches(&name));
        let many = vec!["**.a"; stars].join(".");
        assert!(NamePattern::new(&many).matches(&name));
        assert!(!NamePattern::new(&format!("{many}.b")).matches(&name));
    }

    #[test]
    fn wildcards() {
        assert!(matches("*", ""));
        assert!(matches("*.mmstats", "web-1-1.mmstats"));
        assert!(!matches("*.mmstats", "web-1-1.mmstats.tmp"));
        assert!(matches("web-?-*", "web-1-22"));
        assert!(!matches("web-?-*", "web-12-2x"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(matches("[a-c]x", "bx"));
        assert!(!matches("[!a-c]x", "bx"));
        assert!(matches("[]]", "]"));
        assert!(matches("[x", "[x"));
        assert!(matches("é*", "éclair"));
    }

    #[test]
    fn no_exponential_blowup() {
        // Exponential backtracking would not finish this in any test run.
        let text = "a".repeat(5000);
        assert!(!matches("*a*a*a*a*a*a*a*b", &text));
        assert!(matches("*a*a*a*a*a*a*a*a", &text));
    }
}
