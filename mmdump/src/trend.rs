//! Charts of recorded history (`mmdump trend`, the dashboard's
//! `/chart.svg`), drawn with plotters into SVG or PNG.
//!
//! plotters draws the axes, grid, lines and legend; its text is laid out
//! (SVG) and rasterised (PNG) with DejaVu Sans, embedded in the binary
//! (the `dejavu` crate), so a chart looks the same on every machine and
//! needs no system fonts. PNG files are written by the `png` crate from
//! plotters' RGB buffer.
//!
//! Counters are charted as their rate per second by default (a counter's
//! raw value only ever climbs), every other kind as its value; a gap in
//! the data (the recorder stopped) breaks the line instead of bridging it.

use std::fmt;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::dump::format_unix_ns;
use crate::glob::NamePattern;
use crate::record::{StoreError, TrendQuery};

/// The image format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartFormat {
    /// Scalable vector graphics.
    Svg,
    /// Portable network graphics.
    Png,
}

impl ChartFormat {
    /// The format a file name's extension asks for (`.svg`, `.png`).
    #[must_use]
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .as_deref()
        {
            Some("svg") => Some(Self::Svg),
            Some("png") => Some(Self::Png),
            _ => None,
        }
    }

    /// The MIME type.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Svg => "image/svg+xml",
            Self::Png => "image/png",
        }
    }
}

impl std::str::FromStr for ChartFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "svg" => Ok(Self::Svg),
            "png" => Ok(Self::Png),
            other => Err(format!("unknown chart format {other:?} (svg, png)")),
        }
    }
}

/// What a line shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// Counters their rate, the rest their value.
    Auto,
    /// Every series its value.
    Value,
    /// Every series its rate (kinds without one have no line).
    Rate,
}

impl std::str::FromStr for Show {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Self::Auto),
            "value" => Ok(Self::Value),
            "rate" => Ok(Self::Rate),
            other => Err(format!("unknown choice {other:?} (auto, value, rate)")),
        }
    }
}

/// How to draw a chart.
#[derive(Clone, Debug)]
pub struct ChartOptions {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Start of the time range, ms since the epoch.
    pub since_ms: i64,
    /// End of the time range, ms since the epoch.
    pub until_ms: i64,
    /// Values or rates.
    pub show: Show,
    /// Title (default: the series' names).
    pub title: Option<String>,
}

/// Smallest and largest chart sides accepted, in pixels.
pub const SIDE_RANGE: std::ops::RangeInclusive<u32> = 100..=8000;

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartSeries {
    /// The legend's text.
    pub label: String,
    /// (seconds since the epoch, value), in time order.
    pub points: Vec<(f64, f64)>,
    /// The data's step in seconds (a longer gap breaks the line).
    pub step: f64,
}

/// Why a chart could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum ChartError {
    /// Reading the history failed.
    Store(StoreError),
    /// A name matched no recorded series.
    NoSuchSeries(String),
    /// Bad options.
    Options(String),
    /// Drawing failed.
    Draw(String),
}

impl fmt::Display for ChartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(error) => error.fmt(f),
            Self::NoSuchSeries(name) => write!(f, "no recorded series matches {name}"),
            Self::Options(message) => f.write_str(message),
            Self::Draw(message) => write!(f, "drawing the chart failed: {message}"),
        }
    }
}

impl std::error::Error for ChartError {}

impl From<StoreError> for ChartError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// The font family every chart uses.
const FONT: &str = "sans-serif";

/// Registers the embedded font with plotters (once).
fn register_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Draw(
            "the embedded font could not be loaded".into(),
        ))
    }
}

/// The lines `patterns` select in the database (each pattern selects the
/// series it names and those below it, as `-I` does); a pattern selecting
/// nothing is an error. Strings are not charted.
pub fn select_series(
    query: &TrendQuery<'_>,
    patterns: &[NamePattern],
    options: &ChartOptions,
) -> Result<Vec<ChartSeries>, ChartError> {
    if options.until_ms <= options.since_ms {
        return Err(ChartError::Options("the time range is empty".into()));
    }
    let all = query.series()?;
    let mut chosen = Vec::new();
    for pattern in patterns {
        let mut found = false;
        for info in all.iter().filter(|s| pattern.selects(&s.name)) {
            found = true;
            if info.kind != "string"
                && !chosen
                    .iter()
                    .any(|c: &&crate::record::SeriesInfo| c.id == info.id)
            {
                chosen.push(info);
            }
        }
        if !found {
            return Err(ChartError::NoSuchSeries(pattern.as_str().to_owned()));
        }
    }
    let max_points = (options.width as usize).max(10);
    let step = ((options.until_ms - options.since_ms) / max_points as i64).max(1);
    let mut lines = Vec::new();
    for info in chosen {
        let rate = match options.show {
            Show::Auto => info.rated(),
            Show::Value => false,
            Show::Rate => true,
        };
        let history = query.history(info.id, options.since_ms, options.until_ms, max_points)?;
        let points: Vec<(f64, f64)> = history
            .iter()
            .filter_map(|p| {
                let y = if rate { p.rate } else { p.value };
                y.filter(|v| v.is_finite())
                    .map(|y| (p.t_ms as f64 / 1000.0, y))
            })
            .collect();
        // The coarsest step among the points' tiers, so minute and hour
        // buckets are not taken for gaps.
        let tier_step = history.iter().map(|p| match p.tier {
            0 => 0,
            1 => crate::record::MINUTE_MS,
            _ => crate::record::HOUR_MS,
        });
        let data_step = tier_step.max().unwrap_or(0).max(step);
        let unit = if rate {
            "per second".to_owned()
        } else if info.unit.is_empty() {
            info.kind.clone()
        } else {
            info.unit.clone()
        };
        lines.push(ChartSeries {
            label: format!("{} ({unit})", info.name),
            points,
            step: data_step as f64 / 1000.0,
        });
    }
    Ok(lines)
}

/// A time on the x axis: `HH:MM:SS` for spans up to a day, `MM-DD HH:MM`
/// beyond (UTC).
fn time_label(seconds: f64, span: f64) -> String {
    let text = format_unix_ns((seconds.max(0.0) * 1e9) as u64);
    // 2026-11-22T00:25:46.031000000Z
    if span <= 86_400.0 {
        text[11..19].to_owned()
    } else {
        format!("{} {}", &text[5..10], &text[11..16])
    }
}

/// A number on the y axis, short.
fn value_label(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&magnitude) {
        format!("{value:.2e}")
    } else if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}

/// Splits points where the time between two exceeds three steps.
fn segments(points: &[(f64, f64)], step: f64) -> Vec<&[(f64, f64)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..points.len() {
        if points[i].0 - points[i - 1].0 > 3.0 * step.max(1.0) {
            out.push(&points[start..i]);
            start = i;
        }
    }
    if start < points.len() {
        out.push(&points[start..]);
    }
    out
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    lines: &[ChartSeries],
    options: &ChartOptions,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let error = |e: DrawingAreaErrorKind<DB::ErrorType>| ChartError::Draw(e.to_string());
    root.fill(&WHITE).map_err(error)?;
    let x0 = options.since_ms as f64 / 1000.0;
    let x1 = options.until_ms as f64 / 1000.0;
    let values = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let (mut low, mut high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    if low > 0.0 && low < (high - low) {
        // Near zero: start the axis there.
        low = 0.0;
    }
    let span = if high > low {
        high - low
    } else {
        high.abs().max(1.0)
    };
    // Room above the data for the legend: its share of the plot's
    // height (about 17 px a line, the plot about 100 px less than the
    // image), at most 60%.
    let legend_px = 24.0 + 17.0 * lines.len() as f64;
    let plot_px = (f64::from(options.height) - 100.0).max(50.0);
    let share = (legend_px / plot_px).min(0.6);
    let headroom = span * share / (1.0 - share);
    let (low, high) = (
        low - if low == 0.0 { 0.0 } else { span * 0.05 },
        high + headroom,
    );
    let title = options.title.clone().unwrap_or_else(|| {
        let names: Vec<&str> = lines
            .iter()
            .map(|l| l.label.split(" (").next().unwrap_or(&l.label))
            .collect();
        format!("mmstats: {}", names.join(", "))
    });
    let x_span = x1 - x0;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, low..high)
        .map_err(error)?;
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|x| time_label(*x, x_span))
        .y_label_formatter(&|y| value_label(*y))
        .label_style((FONT, 13))
        .x_desc("time (UTC)")
        .axis_desc_style((FONT, 13))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(error)?;
    for (index, line) in lines.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let style = ShapeStyle::from(color).stroke_width(2);
        let mut labelled = false;
        for segment in segments(&line.points, line.step) {
            let series = chart
                .draw_series(LineSeries::new(segment.iter().copied(), style))
                .map_err(error)?;
            if !labelled {
                series
                    .label(line.label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                labelled = true;
            }
        }
        if !labelled {
            // No data in the range: still in the legend, marked so.
            chart
                .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
                .map_err(error)?
                .label(format!("{} - no data", line.label))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(error)?;
    root.present().map_err(error)?;
    Ok(())
}

/// Draws `lines` as an image in `format`.
pub fn render(
    lines: &[ChartSeries],
    options: &ChartOptions,
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    if !SIDE_RANGE.contains(&options.width) || !SIDE_RANGE.contains(&options.height) {
        return Err(ChartError::Options(format!(
            "width and height must be within {}..={} pixels",
            SIDE_RANGE.start(),
            SIDE_RANGE.end()
        )));
    }
    register_font()?;
    let size = (options.width, options.height);
    match format {
        ChartFormat::Svg => {
            let mut svg = String::new();
            draw(
                SVGBackend::with_string(&mut svg, size).into_drawing_area(),
                lines,
                options,
            )?;
            Ok(svg.into_bytes())
        }
        ChartFormat::Png => {
            let mut rgb = vec![0u8; options.width as usize * options.height as usize * 3];
            draw(
                BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area(),
                lines,
                options,
            )?;
            let mut png = Vec::new();
            let mut encoder = png::Encoder::new(&mut png, options.width, options.height);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder
                .write_header()
                .map_err(|e| ChartError::Draw(e.to_string()))?;
            writer
                .write_image_data(&rgb)
                .map_err(|e| ChartError::Draw(e.to_string()))?;
            writer
                .finish()
                .map_err(|e| ChartError::Draw(e.to_string()))?;
            Ok(png)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ChartOptions {
        ChartOptions {
            width: 400,
            height: 240,
            since_ms: 1_700_000_000_000,
            until_ms: 1_700_000_060_000,
            show: Show::Auto,
            title: None,
        }
    }

    fn line(label: &str) -> ChartSeries {
        ChartSeries {
            label: label.into(),
            points: (0..60)
                .map(|i| (1_700_000_000.0 + f64::from(i), f64::from(i * i)))
                .collect(),
            step: 1.0,
        }
    }

    #[test]
    fn svg_holds_the_lines_and_legend() {
        let svg = String::from_utf8(
            render(
                &[line("web.ticks (per second)")],
                &options(),
                ChartFormat::Svg,
            )
            .unwrap(),
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("web.ticks (per second)"));
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("22:13:"), "time labels");
    }

    #[test]
    fn png_is_a_png_of_the_asked_size() {
        let png = render(&[line("a")], &options(), ChartFormat::Png).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (400, 240));
    }

    #[test]
    fn gaps_break_lines_and_bad_sizes_are_refused() {
        let points = [(0.0, 1.0), (1.0, 1.0), (10.0, 1.0), (11.0, 1.0)];
        assert_eq!(segments(&points, 1.0).len(), 2);
        assert_eq!(segments(&points, 5.0).len(), 1);
        let mut tiny = options();
        tiny.width = 5;
        assert!(matches!(
            render(&[], &tiny, ChartFormat::Svg),
            Err(ChartError::Options(_))
        ));
        assert_eq!(time_label(1_700_000_000.0, 60.0), "22:13:20");
        assert_eq!(time_label(1_700_000_000.0, 200_000.0), "11-14 22:13");
        assert_eq!(value_label(1234.5), "1234");
        assert_eq!(value_label(0.5), "0.5000");
        assert_eq!(value_label(2e7), "2.00e7");
    }
}
