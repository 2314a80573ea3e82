//! The terminal view of `mmdump watch`: a full-screen table redrawn in
//! place, on the alternate screen, in raw mode, one write per redraw
//! inside a synchronized update (no flicker). Keys: `q` (or Esc, Ctrl-C)
//! quits, `+`/`-` lengthen or shorten the interval, `u` hides or shows
//! fields that never changed, `a` cycles the aggregation, arrows, PgUp,
//! PgDn, Home, End (or `j`, `k`, `g`, `G`) scroll, `h` or `?` shows help.
//! The terminal is restored on exit, on error and on panic.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::cursor::{Hide, MoveTo, Show};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::style::{Attribute, Color, Print, ResetColor, SetAttribute, SetForegroundColor};
use crossterm::terminal::{
    self, BeginSynchronizedUpdate, Clear, ClearType, EndSynchronizedUpdate, EnterAlternateScreen,
    LeaveAlternateScreen,
};
use crossterm::{execute, queue};

use mmstats::{FieldValue, Liveness};

use super::rates::{format_rate, sparkline};
use super::style::Style;
use super::watch::{Frame, Row, Watcher};
use super::{display_name, display_value, format_unix_ns, printable};

/// Interval steps `+` and `-` move between, in seconds.
const STEPS: [f64; 10] = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0];

/// Settings of the terminal view.
#[derive(Clone, Debug)]
pub struct ScreenOptions {
    /// Time between reads.
    pub interval: Duration,
    /// Stop after this many reads (`None`: until `q`).
    pub count: Option<u64>,
    /// Start with fields that never changed hidden.
    pub hide_unchanged: bool,
    /// Colours.
    pub style: Style,
}

/// Restores the terminal when dropped.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<Self> {
        terminal::enable_raw_mode()?;
        let guard = Self;
        execute!(io::stdout(), EnterAlternateScreen, Hide)?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        Ok(guard)
    }
}

fn restore() {
    let _ = execute!(io::stdout(), ResetColor, Show, LeaveAlternateScreen);
    let _ = terminal::disable_raw_mode();
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// What the view shows besides the frame.
#[derive(Debug)]
struct ViewState {
    interval: f64,
    hide_unchanged: bool,
    help: bool,
    scroll: usize,
}

/// Runs the terminal view until `q`, the count, or `stop` is set.
pub fn run(watcher: &mut Watcher, options: &ScreenOptions, stop: &AtomicBool) -> io::Result<()> {
    let _guard = TerminalGuard::enter()?;
    let mut state = ViewState {
        interval: options.interval.as_secs_f64(),
        hide_unchanged: options.hide_unchanged,
        help: false,
        scroll: 0,
    };
    let mut reads = 0u64;
    loop {
        let frame = watcher.tick();
        reads += 1;
        draw(&frame, &state, &options.style)?;
        if options.count.is_some_and(|count| reads >= count) {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs_f64(state.interval);
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let wait = (deadline - now).min(Duration::from_millis(200));
            if !event::poll(wait)? {
                continue;
            }
            match event::read()? {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    match handle_key(key, &mut state, watcher) {
                        KeyOutcome::Quit => return Ok(()),
                        KeyOutcome::Redraw => draw(&frame, &state, &options.style)?,
                        KeyOutcome::ReadNow => break,
                        KeyOutcome::Nothing => {}
                    }
                }
                Event::Resize(..) => draw(&frame, &state, &options.style)?,
                _ => {}
            }
        }
    }
}

enum KeyOutcome {
    Quit,
    Redraw,
    ReadNow,
    Nothing,
}

fn handle_key(key: KeyEvent, state: &mut ViewState, watcher: &mut Watcher) -> KeyOutcome {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => KeyOutcome::Quit,
        KeyCode::Char('c') if ctrl => KeyOutcome::Quit,
        KeyCode::Char('+' | '=') => {
            state.interval = STEPS
                .iter()
                .copied()
                .find(|&s| s > state.interval + 1e-9)
                .unwrap_or(state.interval);
            KeyOutcome::ReadNow
        }
        KeyCode::Char('-' | '_') => {
            state.interval = STEPS
                .iter()
                .rev()
                .copied()
                .find(|&s| s < state.interval - 1e-9)
                .unwrap_or(state.interval);
            KeyOutcome::ReadNow
        }
        KeyCode::Char('u' | 'z') => {
            state.hide_unchanged = !state.hide_unchanged;
            state.scroll = 0;
            KeyOutcome::Redraw
        }
        KeyCode::Char('a') => {
            watcher.set_mode(watcher.mode().next());
            state.scroll = 0;
            KeyOutcome::ReadNow
        }
        KeyCode::Char('h' | '?') => {
            state.help = !state.help;
            KeyOutcome::Redraw
        }
        KeyCode::Up | KeyCode::Char('k') => {
            state.scroll = state.scroll.saturating_sub(1);
            KeyOutcome::Redraw
        }
        KeyCode::Down | KeyCode::Char('j') => {
            state.scroll = state.scroll.saturating_add(1);
            KeyOutcome::Redraw
        }
        KeyCode::PageUp => {
            state.scroll = state.scroll.saturating_sub(page());
            KeyOutcome::Redraw
        }
        KeyCode::PageDown | KeyCode::Char(' ') => {
            state.scroll = state.scroll.saturating_add(page());
            KeyOutcome::Redraw
        }
        KeyCode::Home | KeyCode::Char('g') => {
            state.scroll = 0;
            KeyOutcome::Redraw
        }
        KeyCode::End | KeyCode::Char('G') => {
            state.scroll = usize::MAX;
            KeyOutcome::Redraw
        }
        _ => KeyOutcome::Nothing,
    }
}

fn page() -> usize {
    terminal::size().map_or(20, |(_, h)| usize::from(h).saturating_sub(4).max(1))
}

/// How a line is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Look {
    Plain,
    Title,
    Columns,
    Group(Option<Liveness>),
    Unchanged,
    Warning,
}

/// Column widths for a terminal `width` wide.
struct Layout {
    name: usize,
    value: usize,
    rates: usize,
    spark: usize,
}

const RATE_WIDTH: usize = 10;
const VALUE_WIDTH: usize = 16;

fn layout(width: usize, longest_name: usize) -> Layout {
    let name = longest_name.clamp(12, (width / 2).max(12));
    let fixed = name + 1 + VALUE_WIDTH;
    let mut rates = 4;
    while rates > 0 && fixed + rates * (RATE_WIDTH + 1) > width {
        rates -= 1;
    }
    let used = fixed + rates * (RATE_WIDTH + 1);
    let spark = width.saturating_sub(used + 1);
    let spark = if spark >= 8 { spark.min(60) } else { 0 };
    Layout {
        name,
        value: VALUE_WIDTH,
        rates,
        spark,
    }
}

/// The screen's lines for a frame.
fn lines(frame: &Frame, state: &ViewState, style: &Style, width: usize) -> Vec<(String, Look)> {
    let longest = frame
        .groups
        .iter()
        .flat_map(|g| &g.rows)
        .map(|r| display_name(&r.name, &r.labels).chars().count())
        .max()
        .unwrap_or(0);
    let layout = layout(width, longest);
    let mut time = format_unix_ns(frame.time_ns);
    time.replace_range(19..time.len() - 1, "");
    let mut out = vec![(
        format!(
            "mmdump watch  {time}  every {}s  {} file{}  {}{}   q quit  h help",
            trim_float(state.interval),
            frame.file_count,
            if frame.file_count == 1 { "" } else { "s" },
            frame.mode,
            if state.hide_unchanged {
                "  (unchanged hidden)"
            } else {
                ""
            },
        ),
        Look::Title,
    )];
    if state.help {
        out.push((
            "keys: q/Esc quit  +/- interval  u hide/show unchanged  a aggregation  \
             arrows/PgUp/PgDn/Home/End scroll"
                .to_owned(),
            Look::Warning,
        ));
    }
    let titles = ["/s", "avg/s", "ma10/s", "ma100/s"];
    let mut columns = format!(
        "{:<nw$} {:>vw$}",
        "NAME",
        "VALUE",
        nw = layout.name,
        vw = layout.value
    );
    for title in &titles[..layout.rates] {
        columns.push_str(&format!(" {title:>RATE_WIDTH$}"));
    }
    if layout.spark > 0 {
        columns.push_str(" HISTORY");
    }
    out.push((columns, Look::Columns));
    let header_lines = out.len();

    let mut body: Vec<(String, Look)> = Vec::new();
    for group in &frame.groups {
        match &group.file {
            Some(file) => {
                let mut title = format!("==> {}", printable(&file.path.display().to_string()));
                if let Some(pid) = file.pid {
                    title.push_str(&format!("  pid {pid}"));
                }
                title.push_str(&format!("  {}", file.liveness.name()));
                if let Some(error) = &file.error {
                    title.push_str(&format!("  ({})", printable(error)));
                }
                body.push((title, Look::Group(Some(file.liveness))));
            }
            None => body.push((
                format!(
                    "==> {} of {} file{} (counters summed{}){}",
                    frame.mode,
                    frame.file_count,
                    if frame.file_count == 1 { "" } else { "s" },
                    if frame.mode.name() == "sum" {
                        String::new()
                    } else {
                        format!(", gauges by {}", frame.mode)
                    },
                    if frame.retired_files > 0 {
                        format!(
                            "; last values of {} vanished file{} kept",
                            frame.retired_files,
                            if frame.retired_files == 1 { "" } else { "s" }
                        )
                    } else {
                        String::new()
                    }
                ),
                Look::Group(None),
            )),
        }
        for row in &group.rows {
            if state.hide_unchanged && !row.changed {
                continue;
            }
            body.push((
                row_line(row, &layout, style),
                if row.changed {
                    Look::Plain
                } else {
                    Look::Unchanged
                },
            ));
        }
    }
    for (path, error) in &frame.errors {
        body.push((
            format!(
                "!! {}: {}",
                printable(&path.display().to_string()),
                printable(&error.to_string())
            ),
            Look::Warning,
        ));
    }
    let height = terminal::size().map_or(24, |(_, h)| usize::from(h));
    let room = height.saturating_sub(header_lines).max(1);
    let scroll = state.scroll.min(body.len().saturating_sub(room));
    out.extend(body.into_iter().skip(scroll).take(room));
    out
}

fn row_line(row: &Row, layout: &Layout, style: &Style) -> String {
    let mut name = display_name(&row.name, &row.labels);
    if name.chars().count() > layout.name {
        // Keep the end of a long name: the last levels (and the labels)
        // tell most.
        let skip = name.chars().count() - layout.name + 1;
        name = format!("~{}", name.chars().skip(skip).collect::<String>());
    }
    let mut value = compact_value(&row.value);
    if value.chars().count() > layout.value {
        value = format!(
            "{}~",
            value.chars().take(layout.value - 1).collect::<String>()
        );
    }
    let mut line = format!(
        "{name:<nw$} {value:>vw$}",
        nw = layout.name,
        vw = layout.value
    );
    let rates = [row.rate, row.average, row.short, row.long];
    for rate in &rates[..layout.rates] {
        let cell = if row.rated {
            format_rate(*rate)
        } else {
            String::new()
        };
        line.push_str(&format!(" {cell:>RATE_WIDTH$}"));
    }
    if layout.spark > 0 && (row.rated || row.changed) {
        line.push(' ');
        line.push_str(&sparkline(
            &row.history,
            layout.spark,
            row.rated,
            style.unicode,
        ));
    }
    line
}

/// A value for the narrow value column: floats to six significant digits,
/// timestamps as the UTC time of day, averages as their mean.
fn compact_value(value: &FieldValue) -> String {
    match value {
        FieldValue::Float(f) => compact_float(*f),
        FieldValue::Average { count: 0, .. } => "-".into(),
        FieldValue::Average { .. } => compact_float(value.as_f64().unwrap_or(0.0)),
        FieldValue::Timestamp(ns) if *ns != 0 => {
            let text = format_unix_ns(*ns);
            // 2026-01-02T03:04:05.123456789Z -> 03:04:05.123
            text.get(11..23).unwrap_or(&text).to_owned()
        }
        other => display_value(other),
    }
}

fn compact_float(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-3..1e9).contains(&magnitude) {
        return format!("{value:.3e}");
    }
    let digits = if magnitude < 1.0 {
        0
    } else {
        magnitude.log10().floor() as usize + 1
    };
    let text = format!("{value:.prec$}", prec = 6usize.saturating_sub(digits));
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

fn trim_float(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
}

fn draw(frame: &Frame, state: &ViewState, style: &Style) -> io::Result<()> {
    let (width, _) = terminal::size().unwrap_or((80, 24));
    let width = usize::from(width).max(20);
    let mut buffer: Vec<u8> = Vec::with_capacity(16 * 1024);
    queue!(buffer, BeginSynchronizedUpdate)?;
    let lines = lines(frame, state, style, width);
    for (at, (text, look)) in lines.iter().enumerate() {
        let text: String = text.chars().take(width).collect();
        let row = u16::try_from(at).unwrap_or(u16::MAX);
        queue!(buffer, MoveTo(0, row))?;
        match look {
            Look::Title => queue!(buffer, SetAttribute(Attribute::Bold))?,
            Look::Columns => queue!(buffer, SetAttribute(Attribute::Reverse))?,
            Look::Group(liveness) => {
                queue!(buffer, SetAttribute(Attribute::Bold))?;
                if style.color {
                    match liveness {
                        Some(Liveness::Alive) => queue!(buffer, SetForegroundColor(Color::Green))?,
                        Some(Liveness::Dead) => queue!(buffer, SetForegroundColor(Color::Red))?,
                        Some(_) => queue!(buffer, SetForegroundColor(Color::Yellow))?,
                        None => queue!(buffer, SetForegroundColor(Color::Cyan))?,
                    }
                }
            }
            Look::Unchanged => queue!(buffer, SetAttribute(Attribute::Dim))?,
            Look::Warning => {
                if style.color {
                    queue!(buffer, SetForegroundColor(Color::Red))?;
                }
            }
            Look::Plain => {}
        }
        if *look == Look::Columns {
            queue!(buffer, Print(format!("{text:<width$}")))?;
        } else {
            queue!(buffer, Print(text))?;
        }
        queue!(
            buffer,
            SetAttribute(Attribute::Reset),
            ResetColor,
            Clear(ClearType::UntilNewLine)
        )?;
    }
    let below = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    queue!(
        buffer,
        MoveTo(0, below),
        Clear(ClearType::FromCursorDown),
        EndSynchronizedUpdate
    )?;
    let mut stdout = io::stdout().lock();
    stdout.write_all(&buffer)?;
    stdout.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fit_the_value_column() {
        assert_eq!(compact_float(11.211286583), "11.2113");
        assert_eq!(compact_float(0.000_629_487), "6.295e-4");
        assert_eq!(compact_float(0.5), "0.5");
        assert_eq!(compact_float(123_456_789.0), "123456789");
        assert_eq!(compact_float(2.0), "2");
        assert_eq!(
            compact_value(&FieldValue::Timestamp(1_700_000_000_123_456_789)),
            "22:13:20.123"
        );
        assert!(compact_value(&FieldValue::Float(1e300)).len() <= VALUE_WIDTH);
    }

    #[test]
    fn rows_show_their_labels_and_keep_them_when_cut() {
        let row = Row {
            name: "web.conn.bytes_in".into(),
            labels: mmstats::Labels::from_pairs(&[("conn", "1234")]).unwrap(),
            unit: String::new(),
            value: FieldValue::Counter(512),
            rated: false,
            rate: None,
            average: None,
            short: None,
            long: None,
            history: Vec::new(),
            changed: false,
            files: 1,
        };
        let wide = layout(160, 40);
        let line = row_line(&row, &wide, &Style::plain());
        assert!(
            line.starts_with(r#"web.conn.bytes_in{conn="1234"} "#),
            "{line}"
        );
        let mut cut = layout(160, 40);
        cut.name = 20;
        let line = row_line(&row, &cut, &Style::plain());
        assert!(line.starts_with(r#"~tes_in{conn="1234"} "#), "{line}");
    }

    #[test]
    fn narrow_terminals_drop_rate_columns_first() {
        let wide = layout(160, 20);
        assert_eq!(wide.rates, 4);
        assert!(wide.spark >= 8);
        let narrow = layout(50, 20);
        assert!(narrow.rates < 4);
        assert_eq!(narrow.spark, 0);
    }
}
