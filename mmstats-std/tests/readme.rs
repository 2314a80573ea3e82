//! The README shows the library's examples as they are: each program in
//! `examples/` appears verbatim in a `rust,no_run` block (which the crate
//! compiles as a doctest), so the text a user copies is the program that
//! `cargo run --example` runs.

use std::path::Path;

#[test]
fn every_example_is_shown_verbatim_in_the_readme() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../README.md")).unwrap();
    let mut shown = 0;
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let code = std::fs::read_to_string(&path).unwrap();
        let block = format!("```rust,no_run\n{code}```\n");
        assert!(
            readme.contains(&block),
            "README.md does not show {} as it is",
            path.display()
        );
        shown += 1;
    }
    assert!(shown >= 2, "only {shown} examples found");
}
