//! `mmdump tree`: dotted names shown as a tree (`web.stats.status.2XX`
//! under `web` > `stats` > `status`), levels sorted by name, values
//! aligned in one column.

use std::collections::BTreeMap;
use std::io::{self, Write};

use mmstats::Field;

use super::style::{Paint, Style, width};
use super::{display_value, printable};

/// One level of the tree.
#[derive(Debug, Default)]
struct Node {
    /// The field named by the path to this node, if there is one (a name
    /// can be both a field and a level above others: `a` and `a.b`).
    leaf: Option<Leaf>,
    children: BTreeMap<String, Node>,
}

#[derive(Debug)]
struct Leaf {
    value: String,
    kind: &'static str,
    unit: String,
}

/// Builds a tree of `fields` and writes it.
pub fn write_tree<'f>(
    out: &mut impl Write,
    fields: impl IntoIterator<Item = &'f Field>,
    style: &Style,
) -> io::Result<()> {
    let mut root = Node::default();
    for field in fields {
        let mut node = &mut root;
        for level in field.name.split('.') {
            node = node.children.entry(printable(level)).or_default();
        }
        node.leaf = Some(Leaf {
            value: display_value(&field.value),
            kind: field.value.kind_name(),
            unit: printable(&field.unit),
        });
    }
    let mut lines = Vec::new();
    for (name, child) in &root.children {
        layout(name, child, "", None, style, &mut lines);
    }
    let label_width = lines.iter().map(|l| width(&l.label)).max().unwrap_or(0);
    let value_width = lines
        .iter()
        .filter_map(|l| l.leaf.map(|leaf| width(&leaf.value)))
        .max()
        .unwrap_or(0);
    for line in lines {
        let pad = label_width - width(&line.label);
        let text = match line.leaf {
            None => format!("{}{}", line.prefix, style.paint(Paint::Bold, &line.name)),
            Some(leaf) => {
                let row = format!(
                    "{}{}{:pad$}  {:<value_width$}  {} {}",
                    line.prefix,
                    line.name,
                    "",
                    leaf.value,
                    style.paint(Paint::Dim, &format!("{:<9}", leaf.kind)),
                    leaf.unit
                );
                row.trim_end().to_owned()
            }
        };
        writeln!(out, "{text}")?;
    }
    Ok(())
}

struct Line<'t> {
    /// Branch drawing before the name.
    prefix: String,
    name: String,
    /// Prefix and name: what the value column is aligned after.
    label: String,
    leaf: Option<&'t Leaf>,
}

/// Lays out `node` (named `name`) and its subtree. `indent` is the drawing
/// for the levels above; `last` says whether the node is its parent's last
/// child (`None` at the top level).
fn layout<'t>(
    name: &str,
    node: &'t Node,
    indent: &str,
    last: Option<bool>,
    style: &Style,
    lines: &mut Vec<Line<'t>>,
) {
    let (branch, below) = match (last, style.unicode) {
        (None, _) => ("", ""),
        (Some(false), true) => ("├── ", "│   "),
        (Some(true), true) => ("└── ", "    "),
        (Some(false), false) => ("|-- ", "|   "),
        (Some(true), false) => ("`-- ", "    "),
    };
    let prefix = format!("{indent}{branch}");
    lines.push(Line {
        label: format!("{prefix}{name}"),
        prefix,
        name: name.to_owned(),
        leaf: node.leaf.as_ref(),
    });
    let indent = format!("{indent}{below}");
    let count = node.children.len();
    for (at, (child_name, child)) in node.children.iter().enumerate() {
        layout(
            child_name,
            child,
            &indent,
            Some(at + 1 == count),
            style,
            lines,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmstats::FieldValue;

    fn field(name: &str, value: u64) -> Field {
        Field {
            name: name.into(),
            labels: mmstats::Labels::new(),
            unit: String::new(),
            description: String::new(),
            value: FieldValue::Counter(value),
        }
    }

    #[test]
    fn dotted_names_become_a_tree() {
        let fields = [
            field("web.stats.status.2XX", 5),
            field("web.stats.status.5XX", 1),
            field("web.requests", 6),
            field("db", 2),
            field("db.errors", 3),
        ];
        let style = Style {
            color: false,
            unicode: true,
        };
        let mut out = Vec::new();
        write_tree(&mut out, &fields, &style).unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = "\
db               2  counter
└── errors       3  counter
web
├── requests     6  counter
└── stats
    └── status
        ├── 2XX  5  counter
        └── 5XX  1  counter
";
        assert_eq!(text, expected);

        let ascii = Style {
            color: false,
            unicode: false,
        };
        let mut out = Vec::new();
        write_tree(&mut out, &fields[..2], &ascii).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("    |-- 2XX"));
    }
}
