//! The C ABI's counter increment beside the Rust one (issue 16).
//!
//! Builds `libmmstats.a` in release (`cargo build -p mmstats-capi`, through
//! the `CARGO` that runs the report), compiles
//! `mmstats-capi/bench/incr_bench.c` with `cc -O2` against it and runs it:
//! it times `mmstats_counter_incr` (a stats file) and
//! `mmstats_fw_counter_incr` (a static buffer), each through the checked
//! call and through an inline cell (`mmstats_counter_cell_incr`,
//! `mmstats_inline.h`), 15 rounds of 10^7. The Rust handles' `incr` is
//! timed here with the same loop and rounds, and the medians are compared
//! (goal: the C increment within 1.2x; the inline cell is the C fast path,
//! the call's ratio is printed beside it). Without `cc` or cargo
//! the section says why it was not measured.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const OPS: u32 = 10_000_000;
const ROUNDS: usize = 15;

/// Prints the section (the `report` binary's one call).
pub fn print() {
    println!("\n### C ABI counter increment vs Rust\n");
    match measure() {
        Ok(()) => {}
        Err(reason) => println!("C ABI: not measured ({reason})"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ is in the workspace")
        .to_path_buf()
}

fn static_library() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").ok_or("cargo is unknown (run the report with cargo)")?;
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["build", "--release", "-q", "-p", "mmstats-capi"])
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("building mmstats-capi failed".into());
    }
    let here = std::env::current_exe().map_err(|e| e.to_string())?;
    let lib = here.with_file_name("libmmstats.a");
    if lib.exists() {
        Ok(lib)
    } else {
        Err(format!("no {}", lib.display()))
    }
}

/// min / median / max of `values`.
fn spread(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    [
        values[0],
        values[values.len() / 2],
        values[values.len() - 1],
    ]
}

fn time(mut op: impl FnMut()) -> [f64; 3] {
    spread(
        (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..OPS {
                    op();
                }
                start.elapsed().as_secs_f64() * 1e9 / f64::from(OPS)
            })
            .collect(),
    )
}

/// Parses a line `NAME min A  median B  max C ns/op ...` of the C program.
fn parse_line(line: &str) -> Option<(String, [f64; 3])> {
    let (name, rest) = line.split_once(" min ")?;
    let mut words = rest.split_whitespace();
    let min = words.next()?.parse().ok()?;
    let median = words.nth(1)?.parse().ok()?;
    let max = words.nth(1)?.parse().ok()?;
    Some((name.trim().to_owned(), [min, median, max]))
}

fn measure() -> Result<(), String> {
    let lib = static_library()?;
    let root = workspace_root();
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let exe = work.path().join("incr_bench");
    let built = Command::new("cc")
        .args(["-std=c11", "-O2", "-I"])
        .arg(root.join("mmstats-capi/include"))
        .arg(root.join("mmstats-capi/bench/incr_bench.c"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .map_err(|e| format!("cc: {e}"))?;
    if !built.status.success() {
        return Err(format!(
            "cc failed: {}",
            String::from_utf8_lossy(&built.stderr)
        ));
    }
    let stats = tempfile::tempdir().map_err(|e| e.to_string())?;
    let ran = Command::new(&exe)
        .arg(stats.path())
        .output()
        .map_err(|e| e.to_string())?;
    if !ran.status.success() {
        return Err(format!(
            "incr_bench failed: {}",
            String::from_utf8_lossy(&ran.stderr)
        ));
    }
    let c_rows: Vec<(String, [f64; 3])> = String::from_utf8_lossy(&ran.stdout)
        .lines()
        .filter_map(parse_line)
        .collect();
    // Call (file), cell (file), call (buffer), cell (buffer).
    if c_rows.len() != 4 {
        return Err(format!(
            "unexpected incr_bench output: {}",
            String::from_utf8_lossy(&ran.stdout)
        ));
    }

    let file = mmstats::StatsFile::builder("capi_report_rs")
        .dir(stats.path())
        .create()
        .map_err(|e| e.to_string())?;
    let counter = file.counter("hits").map_err(|e| e.to_string())?;
    let rust_file = time(|| black_box(&counter).incr());
    let words: Vec<mmstats_nostd::Word> = (0..8192).map(|_| mmstats_nostd::Word::new(0)).collect();
    let mut region =
        mmstats_nostd::Region::create(&words, &mmstats_nostd::RegionOptions::default())
            .map_err(|e| e.to_string())?;
    let fw = region.counter("hits").map_err(|e| e.to_string())?;
    let rust_buffer = time(|| black_box(&fw).incr());

    println!("| case | min | median | max (ns/op, {ROUNDS} rounds of {OPS}) |");
    println!("|---|---:|---:|---:|");
    let mut rows = c_rows.clone();
    rows.push(("Rust mmstats::Counter::incr (file)".to_owned(), rust_file));
    rows.push(("Rust mmstats_nostd::Counter::incr".to_owned(), rust_buffer));
    for (name, [min, median, max]) in &rows {
        println!("| {name} | {min:.3} | {median:.3} | {max:.3} |");
    }
    let median = |row: usize| c_rows[row].1[1];
    for (what, call, cell, rust) in [
        ("file", median(0), median(1), rust_file[1]),
        ("buffer", median(2), median(3), rust_buffer[1]),
    ] {
        let ratio = cell / rust;
        println!(
            "goal: C increment (inline cell) within 1.2x of Rust ({what}): {ratio:.2}x \
             (medians {cell:.3} / {rust:.3} ns) -> {}; checked call {:.2}x",
            if ratio <= 1.2 { "met" } else { "NOT met" },
            call / rust
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_line;

    #[test]
    fn parses_the_c_programs_lines() {
        let line = "C   mmstats_counter_incr (file)    min 0.932  median 0.945  max 1.414 ns/op (15 rounds of 10000000)";
        let (name, figures) = parse_line(line).unwrap();
        assert_eq!(name, "C   mmstats_counter_incr (file)");
        assert_eq!(figures, [0.932, 0.945, 1.414]);
        assert!(parse_line("no figures here").is_none());
    }
}
