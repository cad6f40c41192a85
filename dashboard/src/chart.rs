//! Line charts of [`crate::history`] series, drawn on the server as SVG by
//! the `plotters` crate, so a page needs no chart script: the SVG is part of
//! the HTML the live refresh swaps in.

use plotters::prelude::*;

use crate::history::Point;

/// Width of a chart, px.
pub const WIDTH: u32 = 760;
/// Height of a chart, px.
pub const HEIGHT: u32 = 240;

/// The colours series are drawn in, in order.
const PALETTE: [RGBColor; 6] = [
    RGBColor(37, 99, 235),
    RGBColor(220, 38, 38),
    RGBColor(22, 163, 74),
    RGBColor(202, 138, 4),
    RGBColor(147, 51, 234),
    RGBColor(8, 145, 178),
];

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    /// The legend.
    pub label: &'a str,
    /// The points, oldest first.
    pub points: &'a [Point],
}

/// An SVG line chart of `lines` over the `window_ms` before `now_ms`; the x
/// axis counts minutes ago, the y axis starts at 0. Empty lines draw the
/// axes alone.
pub fn line_chart(
    title: &str,
    y_desc: &str,
    lines: &[Line<'_>],
    now_ms: i64,
    window_ms: i64,
) -> String {
    let mut svg = String::new();
    let labels: Vec<String> = lines.iter().map(|l| plain(l.label)).collect();
    let lines: Vec<Line<'_>> = lines
        .iter()
        .zip(&labels)
        .map(|(l, label)| Line {
            label,
            points: l.points,
        })
        .collect();
    if let Err(err) = draw(&mut svg, &plain(title), y_desc, &lines, now_ms, window_ms) {
        tracing::debug!("chart {title}: {err}");
        svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"40\"><text x=\"4\" y=\"24\">chart unavailable</text></svg>"
        );
    }
    svg
}

fn draw(
    svg: &mut String,
    title: &str,
    y_desc: &str,
    lines: &[Line<'_>],
    now_ms: i64,
    window_ms: i64,
) -> Result<(), String> {
    let window_min = (window_ms.max(1) as f64) / 60_000.0;
    let y_top = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.value))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let y_top = if y_top <= 0.0 { 1.0 } else { y_top * 1.15 };
    let minutes_ago = |p: &Point| (p.at_ms.saturating_sub(now_ms) as f64) / 60_000.0;

    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(-window_min..0.0, 0.0..y_top)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("minutes ago")
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{:.0}", (-x).max(0.0) + 0.0))
        .label_style(("sans-serif", 12))
        .y_label_formatter(&|y| compact(*y))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, line) in lines.iter().enumerate() {
        let color = PALETTE
            .get(i % PALETTE.len())
            .copied()
            .unwrap_or(RGBColor(0, 0, 0));
        let points = line
            .points
            .iter()
            .filter(|p| p.value.is_finite())
            .map(|p| (minutes_ago(p).max(-window_min), p.value));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(line.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    if !lines.is_empty() {
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 12))
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// `text` with only characters that need no escaping in SVG text (names
/// are `[%|a-zA-Z0-9_-]` already; anything else becomes `?`).
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " %|_-:/.,()".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// `1234567.0` as `1.2M`, `0.5` as `0.5`.
pub fn compact(value: f64) -> String {
    let abs = value.abs();
    if abs >= 1e9 {
        format!("{:.1}G", value / 1e9)
    } else if abs >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if abs >= 1e4 {
        format!("{:.1}k", value / 1e3)
    } else if abs >= 10.0 || value == value.trunc() {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_svg_with_its_title_and_legend() {
        let points = [
            Point {
                at_ms: 1_000,
                value: 3.0,
            },
            Point {
                at_ms: 61_000,
                value: 7.0,
            },
        ];
        let svg = line_chart(
            "rates",
            "msg/s",
            &[Line {
                label: "in",
                points: &points,
            }],
            120_000,
            900_000,
        );
        assert!(svg.starts_with("<svg"), "{svg:.80}");
        assert!(
            svg.contains("rates") && svg.lines().any(|l| l.trim() == "in"),
            "{svg}"
        );
        assert!(svg.contains("<polyline"), "a line is drawn");
    }

    #[test]
    fn an_empty_chart_still_draws_axes() {
        let svg = line_chart("lag", "messages", &[], 0, 900_000);
        assert!(svg.starts_with("<svg") && svg.contains("minutes ago"));
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(0.5), "0.5");
        assert_eq!(compact(12.0), "12");
        assert_eq!(compact(25_000.0), "25.0k");
        assert_eq!(compact(3_200_000.0), "3.2M");
    }
}
