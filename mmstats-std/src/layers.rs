//! A test that the library's modules stay layered: each module uses only
//! modules of a lower layer, and reading and writing never use each other.

/// Each module (a file of `publish/` or `read/` counts as that module), its
/// layer and side.
const LAYERS: &[(&str, u8, Side)] = &[
    ("os", 0, Side::Shared),
    ("trust", 0, Side::Shared),
    ("sigbus", 0, Side::Shared),
    ("map", 1, Side::Shared),
    ("defaults", 1, Side::Shared),
    ("error", 1, Side::Shared),
    ("histogram", 1, Side::Shared),
    ("value", 2, Side::Shared),
    ("liveness", 2, Side::Shared),
    ("legacy", 3, Side::Read),
    ("read", 4, Side::Read),
    ("publish", 3, Side::Write),
    ("handles", 4, Side::Write),
    ("dynamic", 5, Side::Write),
    ("events", 5, Side::Write),
    ("histogram_timer", 5, Side::Write),
    ("metrics_recorder", 6, Side::Write),
    ("tracing_layer", 6, Side::Write),
    ("timed_mutex", 6, Side::Write),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Shared,
    Read,
    Write,
}

const SOURCES: &[(&str, &str)] = &[
    ("os", include_str!("os.rs")),
    ("trust", include_str!("trust.rs")),
    ("sigbus", include_str!("sigbus.rs")),
    ("map", include_str!("map.rs")),
    ("defaults", include_str!("defaults.rs")),
    ("error", include_str!("error.rs")),
    ("histogram", include_str!("histogram.rs")),
    ("value", include_str!("value.rs")),
    ("liveness", include_str!("liveness.rs")),
    ("legacy", include_str!("legacy.rs")),
    ("read", include_str!("read/mod.rs")),
    ("read", include_str!("read/error.rs")),
    ("read", include_str!("read/file_stats.rs")),
    ("read", include_str!("read/open.rs")),
    ("read", include_str!("read/region_reader.rs")),
    ("publish", include_str!("publish/mod.rs")),
    ("publish", include_str!("publish/builder.rs")),
    ("publish", include_str!("publish/create.rs")),
    ("publish", include_str!("publish/file.rs")),
    ("publish", include_str!("publish/heartbeat.rs")),
    ("handles", include_str!("handles.rs")),
    ("dynamic", include_str!("dynamic.rs")),
    ("events", include_str!("events.rs")),
    ("histogram_timer", include_str!("histogram_timer.rs")),
    ("metrics_recorder", include_str!("metrics_recorder.rs")),
    ("tracing_layer", include_str!("tracing_layer.rs")),
    ("timed_mutex", include_str!("timed_mutex.rs")),
];

fn layer(module: &str) -> (u8, Side) {
    let (_, rank, side) = LAYERS
        .iter()
        .find(|(name, _, _)| *name == module)
        .unwrap_or_else(|| panic!("module {module} has no layer"));
    (*rank, *side)
}

/// The modules a source names as `crate::module` outside comments.
fn used_modules(source: &str) -> Vec<&str> {
    let mut used = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = &rest[..at];
            rest = &rest[at + "crate::".len()..];
            if before.ends_with('$') {
                continue; // `$crate::` in a macro: the crate root
            }
            // `crate::{a, b::C}` names several modules at once.
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                None => vec![rest],
            };
            for name in names {
                let name = name
                    .trim()
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("");
                if name.starts_with(|c: char| c.is_ascii_lowercase()) {
                    used.push(name);
                }
            }
        }
    }
    used
}

#[test]
fn modules_use_only_lower_layers_and_never_the_other_side() {
    let mut checked = 0;
    for (module, source) in SOURCES {
        let (rank, side) = layer(module);
        for used in used_modules(source) {
            if used == *module {
                continue;
            }
            let (used_rank, used_side) = layer(used);
            assert!(
                used_rank < rank,
                "{module} (layer {rank}) uses {used} (layer {used_rank})"
            );
            assert!(
                used_side == Side::Shared || used_side == side,
                "{module} ({side:?}) uses {used} ({used_side:?})"
            );
            checked += 1;
        }
    }
    assert!(
        checked > 20,
        "only {checked} uses found: is the scan broken?"
    );
}

#[test]
fn the_scan_sees_uses_and_skips_comments_and_macros() {
    let source = "use crate::read::X;\n// crate::publish\n$crate::Stat\nlet a = crate::os::pid();\nuse crate::{map::ReadMap, trust};";
    assert_eq!(used_modules(source), ["read", "os", "map", "trust"]);
}
