//! The terminal view of `mmdump watch`, driven in a real pseudo-terminal
//! by tmux: it draws a table in place on the alternate screen, reacts to
//! keys, quits on `q` and gives the terminal back. Skipped (with the
//! reason printed) when tmux is missing, unless MMSTATS_REQUIRE_TMUX is
//! set; CI installs tmux and sets it.

mod mmdump_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mmdump_common::{WATCHDOG, run, start_demo, tool_or_skip};

/// A tmux server of its own, killed when dropped.
struct Tmux {
    tmux: PathBuf,
    socket: PathBuf,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.tmux);
        command
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"]);
        command
    }

    fn screen(&self) -> String {
        let output = run(self.command().args(["capture-pane", "-p", "-t", "w"]));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn history(&self) -> String {
        let output = run(self
            .command()
            .args(["capture-pane", "-p", "-S", "-1000", "-t", "w"]));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        assert!(
            run(self.command().args(["send-keys", "-t", "w", keys]))
                .status
                .success()
        );
    }

    /// Waits until the screen satisfies `done`; returns it.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

/// The cells of the row for `name` on the screen.
fn row<'s>(screen: &'s str, name: &str) -> Option<Vec<&'s str>> {
    screen
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .map(|l| l.split_whitespace().collect())
}

fn rate_near(screen: &str, name: &str, expected: f64) -> bool {
    row(screen, name)
        .and_then(|cells| cells.get(2)?.parse::<f64>().ok())
        .is_some_and(|rate| (rate - expected).abs() < expected * 0.3)
}

#[test]
fn the_terminal_view_redraws_in_place_reacts_to_keys_and_quits_on_q() {
    let Some(tmux) = tool_or_skip("tmux", "MMSTATS_REQUIRE_TMUX") else {
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (_demo, _) = start_demo(dir.path(), 1);
    let tmux = Tmux {
        tmux,
        socket: dir.path().join("tmux.sock"),
    };
    let script = format!(
        "env -u MMSTATS_DIR -u NO_COLOR LANG=C.UTF-8 TERM=xterm-256color {} watch -a per-file -i 0.3 {}; \
         echo \"mmdump exited $?\"; sleep 120",
        Path::new(env!("CARGO_BIN_EXE_mmdump")).display(),
        dir.path().display()
    );
    let created = run(tmux
        .command()
        .args(["new-session", "-d", "-s", "w", "-x", "150", "-y", "50"])
        .arg(script));
    assert!(created.status.success(), "{created:?}");

    let screen = tmux.wait_for("rates of web.ticks", |s| {
        rate_near(s, "web.ticks", mmdump::demo::TICKS_PER_SECOND as f64)
    });
    let first = screen.lines().next().unwrap();
    assert!(first.starts_with("mmdump watch"), "{screen}");
    assert!(
        first.contains("every 0.3s") && first.contains("per-file"),
        "{screen}"
    );
    let header: Vec<&str> = screen.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "VALUE", "/s", "avg/s", "ma10/s", "ma100/s", "HISTORY"
        ],
        "{screen}"
    );
    assert!(screen.contains("==> "), "a line per file: {screen}");
    assert!(row(&screen, "sys.pid").is_some(), "{screen}");
    // Redrawn in place: one title on the screen, none scrolled off.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(tmux.history().matches("mmdump watch").count(), 1);

    tmux.keys("+");
    tmux.wait_for("a longer interval", |s| s.contains("every 0.5s"));
    // Steps are 0.1, 0.2, 0.5, 1, 2, 5 ... seconds.
    tmux.keys("-");
    tmux.wait_for("a shorter interval", |s| s.contains("every 0.2s"));
    // `u` hides fields that never changed (the pid never does).
    tmux.keys("u");
    let hidden = tmux.wait_for("unchanged fields hidden", |s| {
        s.contains("(unchanged hidden)")
    });
    assert!(row(&hidden, "sys.pid").is_none(), "{hidden}");
    assert!(row(&hidden, "web.ticks").is_some(), "{hidden}");
    tmux.keys("u");
    // `a` cycles the aggregation: per-file -> sum.
    tmux.keys("a");
    tmux.wait_for("the sum view", |s| s.contains("==> sum of"));

    tmux.keys("q");
    let after = tmux.wait_for("mmdump to exit", |s| s.contains("mmdump exited"));
    assert!(after.contains("mmdump exited 0"), "{after}");
    // The alternate screen is gone: the table is not left behind.
    assert!(!after.contains("ma100/s"), "{after}");

    // On a terminal the one-shot dump is coloured, unless NO_COLOR is set.
    for (no_color, coloured) in [("", true), ("1", false)] {
        let window = format!("dump{}", no_color.len());
        let script = format!(
            "env -u MMSTATS_DIR NO_COLOR={no_color} TERM=xterm-256color {} {}; sleep 120",
            Path::new(env!("CARGO_BIN_EXE_mmdump")).display(),
            dir.path().display()
        );
        let opened = run(tmux
            .command()
            .args(["new-window", "-d", "-n", &window, "-t", "w"])
            .arg(script));
        assert!(opened.status.success(), "{opened:?}");
        let target = format!("w:{window}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let screen = loop {
            let output = run(tmux
                .command()
                .args(["capture-pane", "-e", "-p", "-t", &target]));
            let screen = String::from_utf8_lossy(&output.stdout).into_owned();
            if screen.contains("web.ticks") {
                break screen;
            }
            assert!(Instant::now() < deadline, "no dump in {target}: {screen}");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(
            screen.contains('\x1b'),
            coloured,
            "NO_COLOR={no_color:?}: {screen:?}"
        );
    }
    assert!(started.elapsed() < WATCHDOG);
}
