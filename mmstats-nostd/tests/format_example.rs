//! Keeps the worked example of `docs/FORMAT.md` true: builds the region the
//! document describes and compares its hex dump with the one in the
//! document, byte for byte. On a mismatch it prints the dump to paste.

mod common;

use common::{to_bytes, words};
use mmstats_nostd::{FieldSpec, Region, RegionOptions, Unit};

/// The example region: two fields, a counter and a 2-buffer string, in a
/// table of capacity 2.
fn example() -> Vec<u8> {
    let memory = words(32 + 2 * 32 + 6);
    let mut region = Region::create(
        &memory,
        &RegionOptions {
            table_capacity: 2,
            generation: 1,
            pid: 1234,
            start_time: 5678,
            boot_id: 0x1122_3344_5566_7788,
            created_ns: 1_700_000_000_000_000_000,
            labels: false,
        },
    )
    .unwrap();
    let hits = region
        .counter(
            FieldSpec::new("hits")
                .unit(Unit::Events)
                .describe("requests"),
        )
        .unwrap();
    let version = region
        .text(FieldSpec::new("ver").capacity(8).buffers(2))
        .unwrap();
    hits.add(42);
    version.set("v1.2");
    to_bytes(&memory)
}

/// The labelled example (format 2.2): one counter `rx` = 7 with the label
/// `conn=1234`, in a table of capacity 1 with room for labels.
fn labelled_example() -> Vec<u8> {
    let memory = words(32 + 48 + 1);
    let mut region = Region::create(
        &memory,
        &RegionOptions {
            table_capacity: 1,
            generation: 1,
            labels: true,
            ..RegionOptions::default()
        },
    )
    .unwrap();
    let rx = region
        .counter(FieldSpec::new("rx").labels(&[("conn", "1234")]))
        .unwrap();
    rx.add(7);
    to_bytes(&memory)
}

/// The ```text block between `<!-- {marker}:start -->` and `:end`.
fn doc_block(marker: &str) -> &'static str {
    let doc = include_str!("../../docs/FORMAT.md");
    let start = doc
        .find(&format!("<!-- {marker}:start -->"))
        .expect("start marker");
    let end = doc
        .find(&format!("<!-- {marker}:end -->"))
        .expect("end marker");
    doc[start..end]
        .split_once("```text\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(body, _)| body)
        .expect("a ```text block between the markers")
}

/// `hexdump -C` style, with runs of zero lines folded into `*`.
fn hexdump(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut folded = false;
    for (line, chunk) in bytes.chunks(16).enumerate() {
        let offset = line * 16;
        let zero = chunk.iter().all(|&b| b == 0);
        let last = offset + 16 >= bytes.len();
        if zero && !last && line > 0 && bytes[offset - 16..offset].iter().all(|&b| b == 0) {
            if !folded {
                out.push_str("*\n");
                folded = true;
            }
            continue;
        }
        folded = false;
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let text: String = chunk
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push_str(&format!(
            "{offset:04x}  {}  {}  |{text}|\n",
            hex[..8].join(" "),
            hex[8..].join(" ")
        ));
    }
    out.push_str(&format!("{:04x}\n", bytes.len()));
    out
}

#[test]
fn format_md_hex_example_is_current() {
    if cfg!(target_endian = "big") {
        return; // The document shows the little-endian encoding.
    }
    let dump = hexdump(&example());
    // Included at compile time, so the test also runs under miri (which
    // isolates tests from the file system).
    let doc = include_str!("../../docs/FORMAT.md");
    let start = doc
        .find("<!-- hex-example:start -->")
        .expect("start marker");
    let end = doc.find("<!-- hex-example:end -->").expect("end marker");
    let block = &doc[start..end];
    let body = block
        .split_once("```text\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(body, _)| body)
        .expect("a ```text block between the markers");
    assert_eq!(
        body, dump,
        "docs/FORMAT.md example is stale; current dump:\n{dump}"
    );
}

#[test]
fn format_md_labelled_example_is_current() {
    if cfg!(target_endian = "big") {
        return; // The document shows the little-endian encoding.
    }
    let dump = hexdump(&labelled_example());
    assert_eq!(
        doc_block("hex-labels"),
        dump,
        "docs/FORMAT.md labelled example is stale; current dump:\n{dump}"
    );
}
