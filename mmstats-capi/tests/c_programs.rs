//! Builds the C unit tests (`tests/c/test_abi.c` and `tests/c/test_cells.c`,
//! under AddressSanitizer and UBSan) and the hosted example (`examples/counter.c`) against
//! `libmmstats.a` with `cc`, runs them, and reads the example's stats file
//! back through the `mmstats` reader.
//!
//! Without a C compiler the tests print why and pass (CI has gcc).

use std::path::{Path, PathBuf};
use std::process::Command;

use mmstats_std::FieldValue;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `libmmstats.a`, built for these tests. Cargo does not build a
/// staticlib-only package's library for its integration tests, so the
/// first call runs `cargo build -p mmstats-capi --lib` (the cargo running
/// this test, the same profile) in a target directory of its own beside
/// the workspace's, which the outer cargo does not lock.
fn static_lib() -> PathBuf {
    static LIB: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LIB.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/<test>
        let target = exe
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .expect("target/<profile>/deps/<test>")
            .join("capi-tests");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "mmstats-capi", "--lib"])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(crate_dir())
            .status()
            .expect("run cargo build for the static library");
        assert!(status.success(), "cargo build -p mmstats-capi --lib failed");
        let lib = target.join("debug").join("libmmstats.a");
        assert!(lib.is_file(), "{} was not built", lib.display());
        lib
    })
    .clone()
}

fn have_cc() -> bool {
    match Command::new("cc").arg("--version").output() {
        Ok(output) if output.status.success() => true,
        _ => {
            println!("skipped: no working `cc` on PATH (CI has gcc)");
            false
        }
    }
}

/// Compiles `source` against the static library into `out`, with `defines`
/// (`-D` flags) added.
fn compile(source: &Path, out: &Path, sanitize: bool, defines: &[&str]) {
    let mut cc = Command::new("cc");
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"]);
    cc.args(defines);
    if sanitize {
        cc.args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
        ]);
    }
    cc.arg("-I")
        .arg(crate_dir().join("include"))
        .arg(source)
        .arg(static_lib())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(out);
    let output = cc.output().expect("run cc");
    assert!(
        output.status.success(),
        "cc {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn abi_unit_tests_pass_under_asan() {
    if !have_cc() {
        return;
    }
    let build = tempfile::tempdir().unwrap();
    let stats = tempfile::tempdir().unwrap();
    let exe = build.path().join("test_abi");
    compile(&crate_dir().join("tests/c/test_abi.c"), &exe, true, &[]);
    let output = Command::new(&exe).arg(stats.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "test_abi failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains(" checks, 0 failures"), "{stdout}");
    assert!(stderr.is_empty(), "sanitizer or test output: {stderr}");
    // The firmware region's words, dumped for `mmdump --image` (the CI
    // step reads them back): 4096 words.
    let image = std::fs::read(stats.path().join("firmware.img")).unwrap();
    assert_eq!(image.len(), 4096 * 8);
    assert_eq!(&image[..8], b"\x89MMSTAT2".as_slice(), "region magic first");
}

/// The inline cells read back the same as the checked calls, both with the
/// host's `__atomic` builtins and with the library's portable calls (what
/// targets without lock-free 64-bit atomics get).
#[test]
fn inline_cells_match_the_checked_calls_under_asan() {
    if !have_cc() {
        return;
    }
    let build = tempfile::tempdir().unwrap();
    for (defines, mode) in [
        (&[][..], "native __atomic cells"),
        (&["-DMMSTATS_CELL_PORTABLE"][..], "portable cells"),
    ] {
        let stats = tempfile::tempdir().unwrap();
        let exe = build.path().join("test_cells");
        compile(
            &crate_dir().join("tests/c/test_cells.c"),
            &exe,
            true,
            defines,
        );
        let output = Command::new(&exe).arg(stats.path()).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "test_cells ({mode}) failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
        assert!(
            stdout.contains(&format!("{mode}: ")) && stdout.contains(" checks, 0 failures"),
            "{stdout}"
        );
        assert!(stderr.is_empty(), "sanitizer or test output: {stderr}");
    }
}

#[test]
fn example_writes_a_file_the_reader_reads() {
    if !have_cc() {
        return;
    }
    let build = tempfile::tempdir().unwrap();
    let stats = tempfile::tempdir().unwrap();
    let exe = build.path().join("counter");
    compile(&crate_dir().join("examples/counter.c"), &exe, true, &[]);
    let output = Command::new(&exe)
        .arg(stats.path())
        .arg("1000")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "counter failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = String::from_utf8(output.stdout).unwrap();
    let path = Path::new(path.trim());
    assert!(path.starts_with(stats.path()), "{}", path.display());

    let read = mmstats_std::read_file(path).expect("the reader reads the C writer's file");
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    let field = |name: &str| {
        read.fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no field {name} in {:?}", read.fields))
    };
    assert_eq!(field("example.requests").value, FieldValue::Counter(1000));
    assert_eq!(field("example.requests").unit, "events");
    let depth = field("example.queue_depth");
    assert_eq!(depth.value, FieldValue::Gauge(999 % 10));
    assert_eq!(depth.labels.get("worker"), Some("1"));
    assert_eq!(
        field("example.temperature").value,
        FieldValue::Float(20.0 + f64::from(999 % 5) / 2.0)
    );
    assert_eq!(
        field("example.status").value,
        FieldValue::Text("done".into())
    );
    let latency = field("example.latency");
    assert_eq!(latency.labels.get("worker"), Some("1"));
    match &latency.value {
        FieldValue::Histogram(snapshot) => assert_eq!(snapshot.total(), 1000),
        other => panic!("latency is {other:?}"),
    }
    // Default fields the library adds to every file.
    assert!(read.fields.iter().any(|f| f.name == "sys.pid"));
}
