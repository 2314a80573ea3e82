//! The dashboard in a real browser: headless Chromium (Debian's
//! `chromium`) loads `/` from `mmdump serve` while a demo writer runs;
//! the page shows the writer's fields, updates itself, and a value
//! changes between two screenshots. Nothing but 127.0.0.1 is contacted:
//! Chromium runs with its background networking, component updates and
//! sync off, from an empty profile.
//!
//! Skipped (with the reason printed) when chromium is not installed,
//! unless MMSTATS_REQUIRE_CHROMIUM is set; CI's step 60-serve installs it
//! and sets it. With MMSTATS_SCREENSHOT=PATH, the laptop screenshot is
//! also copied to PATH (how docs/dashboard.png is made).
#![cfg(feature = "serve")]

mod mmdump_common;
mod serve_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use mmdump_common::{run, start_demo, terminate, tool_or_skip};
use serve_common::{serve, stats_dir};

const REQUIRE: &str = "MMSTATS_REQUIRE_CHROMIUM";

struct Browser {
    binary: PathBuf,
    profile: tempfile::TempDir,
}

impl Browser {
    fn command(&self, width: u32, height: u32) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", self.profile.path().display()))
            .arg(format!("--window-size={width},{height}"))
            // Page time runs ahead of the wall clock while nothing loads:
            // the page's once-a-second polls happen within the budget.
            .arg("--virtual-time-budget=6000");
        command
    }

    /// The page's DOM after its scripts ran.
    fn dom(&self, url: &str) -> String {
        let output = run(self.command(1280, 900).arg("--dump-dom").arg(url));
        assert!(
            output.status.success(),
            "chromium --dump-dom failed: {output:?}"
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// A screenshot of the page, as PNG bytes.
    fn screenshot(&self, url: &str, width: u32, height: u32, path: &Path) -> Vec<u8> {
        let output = run(self
            .command(width, height)
            .arg(format!("--screenshot={}", path.display()))
            .arg(url));
        assert!(
            output.status.success(),
            "chromium --screenshot failed: {output:?}"
        );
        std::fs::read(path).unwrap()
    }
}

/// The text of the `index`th cell of the table row for `key`.
fn cell(dom: &str, key: &str, index: usize) -> Option<String> {
    let start = dom.find(&format!("data-key=\"{key}\""))?;
    let row = &dom[start..];
    let row = &row[..row.find("</tr>")?];
    let mut cells = row.split("<td").skip(1);
    let cell = cells.nth(index)?;
    let text = &cell[cell.find('>')? + 1..];
    let text = &text[..text.find("</td>")?];
    // Strip inner tags (the unit span).
    let mut plain = String::new();
    let mut inside = false;
    for c in text.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => plain.push(c),
            _ => {}
        }
    }
    Some(plain)
}

/// The number a cell shows (thousands separators allowed), if it shows one.
fn parse_number(text: &str) -> Option<f64> {
    text.replace(',', "").trim().parse().ok()
}

fn number(text: &str) -> f64 {
    parse_number(text).unwrap_or_else(|| panic!("not a number: {text:?}"))
}

/// Width, height and RGBA/RGB pixels of a PNG.
fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    pixels.truncate(info.buffer_size());
    (info.width, info.height, pixels)
}

#[test]
fn the_dashboard_shows_live_values_in_chromium() {
    let Some(binary) = tool_or_skip("chromium", REQUIRE) else {
        return;
    };
    let browser = Browser {
        binary,
        profile: tempfile::tempdir().unwrap(),
    };
    let dir = stats_dir();
    let (demo, _) = start_demo(dir.path(), 3);
    let server = serve(&[dir.path().to_str().unwrap()]);
    let base = format!("http://{}/", server.address);

    // The rate column needs two of the server's once-a-second reads, and
    // the page's time runs ahead of the wall clock: on a fast machine the
    // first page can come before the server's second read and show "–".
    // Load it again (up to 10 s) until the rate is known.
    let mut first = browser.dom(&base);
    for _ in 0..10 {
        if cell(&first, "web.ticks", 2).is_some_and(|rate| parse_number(&rate).is_some()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
        first = browser.dom(&base);
    }
    for key in [
        "web.ticks",
        "web.requests",
        "web.version",
        "worker.requests",
        "worker.status.2XX",
        "worker.latency",
    ] {
        assert!(
            first.contains(&format!("data-key=\"{key}\"")),
            "{key} not shown:\n{first}"
        );
    }
    let updates: u32 = first
        .split("data-updates=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    println!("the page showed {updates} frames within its time budget");
    assert!(updates >= 2, "the page did not update itself");
    assert!(first.contains("live · 4 files"), "status line missing");
    assert_eq!(cell(&first, "web.version", 1).as_deref(), Some("0.1.0"));
    let ticks_before = number(&cell(&first, "web.ticks", 1).unwrap());
    let rate = number(&cell(&first, "web.ticks", 2).unwrap());
    println!("web.ticks {ticks_before}, {rate}/s");
    // The rate of the last interval, as the writer's ticker and the
    // server's reads fall on a busy machine.
    assert!((500.0..1500.0).contains(&rate), "rate {rate}");

    // The filter in the URL's fragment narrows the table.
    let filtered = browser.dom(&format!("{base}#filter=worker.status"));
    assert!(filtered.contains("data-key=\"worker.status.5XX\""));
    assert!(!filtered.contains("data-key=\"web.ticks\""));
    // Per file: a row per file, fields keyed by file.
    let per_file = browser.dom(&format!("{base}#view=per-file"));
    assert_eq!(
        per_file.matches("<tr class=\"file\"").count(),
        4,
        "{per_file}"
    );

    // Two screenshots a moment apart: the values moved.
    let shots = tempfile::tempdir().unwrap();
    let url = format!("{base}#chart=web.ticks,worker.requests");
    let one = browser.screenshot(&url, 1280, 900, &shots.path().join("one.png"));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let two = browser.screenshot(&url, 1280, 900, &shots.path().join("two.png"));
    let (w1, h1, p1) = decode(&one);
    let (w2, h2, p2) = decode(&two);
    assert_eq!((w1, h1), (1280, 900));
    assert_eq!((w2, h2), (1280, 900));
    let changed = p1.iter().zip(&p2).filter(|(a, b)| a != b).count();
    println!("{changed} bytes of pixels differ between the screenshots");
    assert!(changed > 100, "the two screenshots are the same");
    // And the DOM says which value: web.ticks grew.
    let later = browser.dom(&base);
    let ticks_after = number(&cell(&later, "web.ticks", 1).unwrap());
    println!("web.ticks {ticks_before} then {ticks_after}");
    assert!(ticks_after > ticks_before + 1000.0);

    // A phone-sized window renders too.
    let phone = browser.screenshot(&url, 390, 844, &shots.path().join("phone.png"));
    assert_eq!(decode(&phone).0, 390);

    if let Some(target) = std::env::var_os("MMSTATS_SCREENSHOT") {
        std::fs::copy(shots.path().join("two.png"), &target).unwrap();
        std::fs::copy(
            shots.path().join("phone.png"),
            Path::new(&target).with_extension("phone.png"),
        )
        .unwrap();
    }
    terminate(demo);
}
