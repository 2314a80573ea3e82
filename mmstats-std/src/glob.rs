//! Shell-style wildcard matching for file names and field names.
//!
//! `*` matches any run of characters, `?` one character, `[abc]`, `[a-z]`
//! and `[!abc]` one character of (or not of) a set. Matching is on whole
//! strings and never backtracks exponentially (the classic two-pointer
//! algorithm: linear space, worst case quadratic time).

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

#[cfg(test)]
mod tests {
    use super::*;

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
