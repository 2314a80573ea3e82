//! Every `mmdump` command the documentation shows uses flags that exist.
//!
//! Reads README.md and docs/*.md, takes each command in a fenced code
//! block (a line starting `mmdump ` or `$ mmdump `, or a `cargo run ...
//! --bin mmdump -- ...` line, continuation lines joined), and checks each
//! `--flag` and `-x` it passes against `mmdump <subcommand> --help`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One command shown in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    /// Where: "docs/MMDUMP.md:12".
    place: String,
    /// The subcommand, or None for `mmdump` itself (the dump).
    subcommand: Option<String>,
    /// The flags used, as written (`--json`, `-I`).
    flags: Vec<String>,
}

fn help(subcommand: Option<&str>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mmdump"));
    if let Some(subcommand) = subcommand {
        command.arg(subcommand);
    }
    let output = command.arg("--help").output().unwrap();
    assert!(
        output.status.success(),
        "mmdump {subcommand:?} --help failed"
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The subcommands `mmdump --help` lists.
fn subcommands() -> Vec<String> {
    let top = help(None);
    top.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// The words of `line` that are mmdump's arguments, if it is an mmdump
/// command line.
fn mmdump_words(line: &str) -> Option<Vec<&str>> {
    let line = line.trim_start();
    let line = line.strip_prefix("$ ").unwrap_or(line);
    let rest = if let Some(rest) = line.strip_prefix("mmdump ") {
        rest
    } else if line.starts_with("cargo run") {
        let (cargo, rest) = line.split_once(" -- ")?;
        let words: Vec<&str> = cargo.split_whitespace().collect();
        let is_mmdump = words.windows(2).any(|w| w == ["--bin", "mmdump"])
            || (words.windows(2).any(|w| w == ["-p", "mmdump"]) && !cargo.contains("--bin"));
        if !is_mmdump {
            return None;
        }
        rest
    } else {
        return None;
    };
    let mut words = Vec::new();
    for word in rest.split_whitespace() {
        // Shell: a comment, a pipe, a redirection or a list ends the
        // command.
        if word.starts_with('#')
            || ["|", "||", "&", "&&", ";", ">", ">>", "2>", "<"].contains(&word)
            || word.starts_with('>')
            || word.starts_with("2>")
        {
            break;
        }
        if let Some(last) = word.strip_suffix(';') {
            words.push(last);
            break;
        }
        words.push(word);
    }
    Some(words)
}

/// The mmdump commands shown in the fenced code blocks of `text`.
fn shown_commands(file: &str, text: &str, subcommands: &[String]) -> Vec<Shown> {
    let mut shown = Vec::new();
    let mut in_block = false;
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            pending = None;
            continue;
        }
        if !in_block {
            continue;
        }
        // Join continuation lines (`\` at the end).
        let (start, joined) = match pending.take() {
            Some((start, mut so_far)) => {
                so_far.push(' ');
                so_far.push_str(line.trim());
                (start, so_far)
            }
            None => (index, line.to_owned()),
        };
        if let Some(head) = joined.strip_suffix('\\') {
            pending = Some((start, head.trim_end().to_owned()));
            continue;
        }
        let Some(words) = mmdump_words(&joined) else {
            continue;
        };
        let subcommand = words
            .first()
            .filter(|word| subcommands.iter().any(|s| s == *word))
            .map(|word| (*word).to_owned());
        let flags = words
            .iter()
            .take_while(|word| **word != "--")
            .filter(|word| is_flag(word))
            .map(|word| word.split('=').next().unwrap().to_owned())
            .collect();
        shown.push(Shown {
            place: format!("{file}:{}", start + 1),
            subcommand,
            flags,
        });
    }
    shown
}

fn is_flag(word: &str) -> bool {
    let bytes = word.as_bytes();
    match bytes {
        [b'-', b'-', rest @ ..] => rest.first().is_some_and(u8::is_ascii_alphabetic),
        [b'-', letter] => letter.is_ascii_alphabetic(),
        _ => false,
    }
}

/// Whether `help` (a `--help` text) shows `flag` as an option.
fn help_has_flag(help: &str, flag: &str) -> bool {
    if flag == "--help" || flag == "-h" {
        return true;
    }
    help.match_indices(flag).any(|(at, _)| {
        let before = help[..at].chars().next_back();
        let after = help[at + flag.len()..].chars().next();
        before.is_none_or(|c| c == ' ' || c == '\n')
            && after.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    })
}

/// The flags of `shown` that `mmdump ... --help` does not list, as
/// "place: mmdump SUB --flag" lines.
fn unknown_flags(shown: &[Shown], helps: &mut HashMap<Option<String>, String>) -> Vec<String> {
    let mut unknown = Vec::new();
    for command in shown {
        let help = helps
            .entry(command.subcommand.clone())
            .or_insert_with(|| help(command.subcommand.as_deref()));
        for flag in &command.flags {
            if !help_has_flag(help, flag) {
                unknown.push(format!(
                    "{}: mmdump {} {flag}",
                    command.place,
                    command.subcommand.as_deref().unwrap_or("")
                ));
            }
        }
    }
    unknown
}

fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

#[test]
fn every_flag_the_docs_show_exists() {
    let subcommands = subcommands();
    assert!(subcommands.iter().any(|s| s == "get"), "{subcommands:?}");
    let mut helps = HashMap::new();
    let mut all = Vec::new();
    for path in documents() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        all.extend(shown_commands(&name, &text, &subcommands));
    }
    // The documents do show commands: a parser that found none would pass
    // anything.
    assert!(
        all.len() >= 10,
        "only {} commands found: {all:?}",
        all.len()
    );
    assert!(all.iter().any(|c| !c.flags.is_empty()));
    let unknown = unknown_flags(&all, &mut helps);
    assert!(
        unknown.is_empty(),
        "flags shown in the docs that mmdump does not take:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn a_made_up_flag_is_caught() {
    let subcommands = subcommands();
    let text = "\
Some prose mentioning `mmdump get --not-checked-outside-blocks`.

```sh
$ mmdump get web.requests --json -a per-file | head
mmdump watch -i 1 \\
    --no-such-flag 3
cargo run -p mmdump --bin mmdump -- tree --made-up
mmdump --also-made-up
mmdump get x # --comment-is-not-a-flag
cargo run -p mmdump --bin mmstats-demo -- --demo-flags-are-not-mmdump
```
";
    let shown = shown_commands("test.md", text, &subcommands);
    assert_eq!(shown.len(), 5, "{shown:?}");
    assert_eq!(shown[0].subcommand.as_deref(), Some("get"));
    assert_eq!(shown[0].flags, ["--json", "-a"]);
    assert_eq!(shown[1].place, "test.md:5");
    assert_eq!(shown[1].flags, ["-i", "--no-such-flag"]);
    assert_eq!(shown[3].subcommand, None);
    assert!(shown[4].flags.is_empty());
    let unknown = unknown_flags(&shown, &mut HashMap::new());
    assert_eq!(
        unknown,
        [
            "test.md:5: mmdump watch --no-such-flag",
            "test.md:7: mmdump tree --made-up",
            "test.md:8: mmdump  --also-made-up",
        ]
    );
}

#[test]
fn a_flag_of_another_subcommand_is_caught() {
    // --dry-run is clean's; get does not take it.
    let shown = [Shown {
        place: "x".into(),
        subcommand: Some("get".into()),
        flags: vec!["--dry-run".into(), "--json".into()],
    }];
    assert_eq!(
        unknown_flags(&shown, &mut HashMap::new()),
        ["x: mmdump get --dry-run"]
    );
}
