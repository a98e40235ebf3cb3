//! Report charts as SVG drawn with plotters: study minutes per day as bars stacked by subject,
//! and sleep hours and mood as lines under them, in a light or dark theme, at the width the
//! client asks for (text keeps its size, so a phone-width chart stays readable).

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::{SegmentValue, SegmentedCoord};
use plotters::coord::types::RangedCoordu32;
use plotters::prelude::*;
use uuid::Uuid;

use super::reports::{self, Period};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::activity::DailyLog;

/// Subjects drawn with their own colour; the rest are summed as "other".
const TOP_SUBJECTS: usize = 5;
/// Narrowest and widest chart, in CSS pixels.
const WIDTH_RANGE: (u32, u32) = (320, 1600);
const FONT: &str = "sans-serif";

/// Colours of a theme.
pub struct Theme {
    background: RGBColor,
    text: RGBColor,
    grid: RGBColor,
    subjects: [RGBColor; TOP_SUBJECTS],
    other: RGBColor,
    sleep: RGBColor,
    mood: RGBColor,
}

/// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
const LIGHT: Theme = Theme {
    background: RGBColor(255, 255, 255),
    text: RGBColor(31, 35, 40),
    grid: RGBColor(222, 226, 230),
    subjects: [RGBColor(0, 114, 178), RGBColor(230, 159, 0), RGBColor(0, 158, 115), RGBColor(204, 121, 167), RGBColor(213, 94, 0)],
    other: RGBColor(140, 140, 140),
    sleep: RGBColor(0, 114, 178),
    mood: RGBColor(213, 94, 0),
};

const DARK: Theme = Theme {
    background: RGBColor(18, 20, 23),
    text: RGBColor(230, 232, 235),
    grid: RGBColor(48, 54, 61),
    subjects: [RGBColor(86, 180, 233), RGBColor(230, 159, 0), RGBColor(0, 158, 115), RGBColor(204, 121, 167), RGBColor(240, 228, 66)],
    other: RGBColor(150, 150, 150),
    sleep: RGBColor(86, 180, 233),
    mood: RGBColor(240, 228, 66),
};

/// `theme=light|dark` (default light).
pub fn theme(name: Option<&str>) -> AppResult<&'static Theme> {
    match name.unwrap_or("light") {
        "light" => Ok(&LIGHT),
        "dark" => Ok(&DARK),
        _ => Err(AppError::field("theme", "must be light or dark")),
    }
}

/// `width=` in CSS pixels (default 800).
pub fn width(w: Option<u32>) -> AppResult<u32> {
    let w = w.unwrap_or(800);
    if (WIDTH_RANGE.0..=WIDTH_RANGE.1).contains(&w) {
        Ok(w)
    } else {
        Err(AppError::field("width", format!("must be between {} and {}", WIDTH_RANGE.0, WIDTH_RANGE.1)))
    }
}

/// GET /reports/weekly/chart.svg.
pub fn weekly(state: &AppState, me: Uuid, week: Option<&str>, theme: &Theme, width: u32) -> AppResult<String> {
    let p = reports::week_period(state, me, week)?;
    let days = reports::period_logs(state, me, &p)?;
    let title = format!("Week {}", p.label);
    render(&title, &p, &days, theme, width, |d| d.format("%a %-d").to_string())
}

/// GET /reports/monthly/chart.svg.
pub fn monthly(state: &AppState, me: Uuid, month: Option<&str>, theme: &Theme, width: u32) -> AppResult<String> {
    let p = reports::month_period(state, me, month)?;
    let days = reports::period_logs(state, me, &p)?;
    let title = p.from.format("%B %Y").to_string();
    render(&title, &p, &days, theme, width, |d| d.day().to_string())
}

/// What one day contributes to the chart.
struct Day {
    label: String,
    /// Minutes per drawn subject (index into the legend), "other" last.
    minutes: Vec<u32>,
    sleep: Option<f64>,
    mood: Option<f64>,
}

/// The subjects with their own colour (most studied first) and each day's values.
fn columns(p: &Period, logs: &[DailyLog], label: impl Fn(NaiveDate) -> String) -> (Vec<String>, Vec<Day>) {
    let mut totals: BTreeMap<&str, u32> = BTreeMap::new();
    for s in logs.iter().flat_map(|d| &d.study_sessions) {
        *totals.entry(&s.subject).or_default() += s.minutes;
    }
    let mut ranked: Vec<(&str, u32)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let named: Vec<String> = ranked.iter().take(TOP_SUBJECTS).map(|(s, _)| s.to_string()).collect();
    let by_date: BTreeMap<NaiveDate, &DailyLog> = logs.iter().map(|d| (d.date, d)).collect();
    let mut days = Vec::new();
    let mut date = p.from;
    while date <= p.to {
        let log = by_date.get(&date);
        let mut minutes = vec![0; named.len() + 1];
        for s in log.iter().flat_map(|d| &d.study_sessions) {
            let slot = named.iter().position(|n| *n == s.subject).unwrap_or(named.len());
            minutes[slot] += s.minutes;
        }
        days.push(Day {
            label: label(date),
            minutes,
            sleep: log.and_then(|d| d.sleep_hours),
            mood: log.and_then(|d| d.mood.as_ref()).map(|m| f64::from(m.score)),
        });
        date += Duration::days(1);
    }
    (named, days)
}

fn hours(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

fn render(title: &str, p: &Period, logs: &[DailyLog], theme: &Theme, width: u32, label: impl Fn(NaiveDate) -> String) -> AppResult<String> {
    let (subjects, days) = columns(p, logs, label);
    let total: u32 = days.iter().flat_map(|d| &d.minutes).sum();
    let title = format!("{title} · {} studied", hours(total));
    let mut svg = String::new();
    draw(&mut svg, &title, &subjects, &days, theme, (width, 540)).map_err(AppError::internal)?;
    let summary: Vec<String> = days.iter().map(|d| format!("{}: {}", d.label, hours(d.minutes.iter().sum()))).collect();
    Ok(accessible(svg, &title, &summary))
}

/// Makes the image scale to its container and gives screen readers a title and a summary.
fn accessible(svg: String, title: &str, summary: &[String]) -> String {
    let Some(end) = svg.find('>') else { return svg };
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "{} role=\"img\" style=\"max-width:100%;height:auto\"><title>{}</title><desc>{}</desc>{}",
        &svg[..end],
        escape(title),
        escape(&summary.join("; ")),
        &svg[end + 1..]
    )
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Room for axis labels on each side, so both panels share one x scale.
const AXIS: u32 = 52;
const MARGIN: u32 = 10;
const LEGEND_ROW: u32 = 24;

/// One legend entry: a name and its colour; `line` draws a stroke instead of a box.
struct Key<'a> {
    name: &'a str,
    colour: RGBColor,
    line: bool,
}

/// Lays legend entries out in rows across `width` (about 8 px a character at 14 px).
fn legend_rows(keys: &[Key], width: u32) -> Vec<Vec<(i32, usize)>> {
    let mut rows: Vec<Vec<(i32, usize)>> = vec![Vec::new()];
    let mut x = (MARGIN + AXIS) as i32;
    for (k, key) in keys.iter().enumerate() {
        let w = 26 + 8 * key.name.chars().count().min(24) as i32;
        if x + w > width as i32 && !rows.last().is_some_and(Vec::is_empty) {
            rows.push(Vec::new());
            x = (MARGIN + AXIS) as i32;
        }
        rows.last_mut().expect("never empty").push((x, k));
        x += w + 12;
    }
    rows
}

fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, plotters::coord::Shift>, keys: &[Key], theme: &Theme) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let text = (FONT, 14).into_font().color(&theme.text);
    for (r, row) in legend_rows(keys, area.dim_in_pixel().0).iter().enumerate() {
        let y = r as i32 * LEGEND_ROW as i32 + LEGEND_ROW as i32 / 2;
        for &(x, k) in row {
            let key = &keys[k];
            let (top, bottom) = if key.line { (y - 2, y + 2) } else { (y - 6, y + 6) };
            area.draw(&Rectangle::new([(x, top), (x + 14, bottom)], key.colour.filled()))?;
            let name: String = key.name.chars().take(24).collect();
            area.draw(&Text::new(name, (x + 20, y - 7), text.clone()))?;
        }
    }
    Ok(())
}

fn draw(out: &mut String, title: &str, subjects: &[String], days: &[Day], theme: &Theme, size: (u32, u32)) -> DrawResult {
    let n = days.len() as u32;
    let colour = |k: usize| if k < subjects.len() { theme.subjects[k] } else { theme.other };
    let mut bar_keys: Vec<Key> = subjects.iter().enumerate().map(|(k, s)| Key { name: s, colour: colour(k), line: false }).collect();
    let other = subjects.len();
    if days.iter().any(|d| d.minutes[other] > 0) {
        bar_keys.push(Key { name: "other", colour: theme.other, line: false });
    }
    let line_keys = [Key { name: "sleep", colour: theme.sleep, line: true }, Key { name: "mood", colour: theme.mood, line: true }];
    let bar_legend = legend_rows(&bar_keys, size.0).len() as u32 * LEGEND_ROW;
    let height = size.1 + bar_legend;

    let root = SVGBackend::with_string(out, (size.0, height)).into_drawing_area();
    root.fill(&theme.background)?;
    let root = root.titled(title, (FONT, 22).into_font().color(&theme.text))?;
    let (bar_legend_area, rest) = root.split_vertically(bar_legend);
    let (upper, lower) = rest.split_vertically(size.1 * 3 / 5 - 40);
    let (line_legend_area, lower) = lower.split_vertically(LEGEND_ROW);
    draw_legend(&bar_legend_area, &bar_keys, theme)?;
    draw_legend(&line_legend_area, &line_keys, theme)?;

    let plot_width = size.0.saturating_sub(2 * (MARGIN + AXIS)).max(1);
    // Labels need about 44 px each: show every k-th on narrow charts.
    let step = (n * 44).div_ceil(plot_width).max(1);
    let day_label = |v: &SegmentValue<u32>| match v {
        SegmentValue::CenterOf(i) if i % step == 0 => days.get(*i as usize).map(|d| d.label.clone()).unwrap_or_default(),
        _ => String::new(),
    };
    let text = |size: u32| (FONT, size).into_font().color(&theme.text);
    let whole = |v: &f64| format!("{v:.0}");
    let x_range = || (0..n - 1).into_segmented();

    let peak = days.iter().map(|d| d.minutes.iter().sum::<u32>()).max().unwrap_or(0);
    let top = (peak + peak / 10).max(60).div_ceil(30) * 30;
    let mut bars = ChartBuilder::on(&upper)
        .margin(MARGIN)
        .x_label_area_size(28)
        .y_label_area_size(AXIS)
        .right_y_label_area_size(AXIS)
        .build_cartesian_2d(x_range(), 0u32..top)?;
    day_mesh(&mut bars.configure_mesh(), theme, n as usize, &day_label).y_labels(5).y_desc("minutes studied").draw()?;
    // A gap of about a sixth of a day's width between bars.
    let gap = (plot_width / n / 6).min(8);
    for k in 0..bar_keys.len() {
        let style = colour(k).filled();
        let rects = days.iter().enumerate().filter(|(_, d)| d.minutes[k] > 0).map(|(i, d)| {
            let base: u32 = d.minutes[..k].iter().sum();
            let i = i as u32;
            let mut r = Rectangle::new([(SegmentValue::Exact(i), base), (SegmentValue::Exact(i + 1), base + d.minutes[k])], style);
            r.set_margin(0, 0, gap, gap);
            r
        });
        bars.draw_series(rects)?;
    }

    let mut lines = ChartBuilder::on(&lower)
        .margin(MARGIN)
        .x_label_area_size(28)
        .y_label_area_size(AXIS)
        .right_y_label_area_size(AXIS)
        .build_cartesian_2d(x_range(), 0f64..12f64)?
        .set_secondary_coord(x_range(), 0.5f64..5.5f64);
    day_mesh(&mut lines.configure_mesh(), theme, n as usize, &day_label)
        .y_labels(4)
        .y_label_formatter(&whole)
        .y_desc("hours slept")
        .draw()?;
    lines
        .configure_secondary_axes()
        .axis_style(theme.grid)
        .label_style(text(14))
        .axis_desc_style(text(14))
        .y_labels(5)
        .y_label_formatter(&whole)
        .y_desc("mood (1–5)")
        .draw()?;
    let sleep: Vec<Option<f64>> = days.iter().map(|d| d.sleep.map(|h| h.min(12.0))).collect();
    let mood: Vec<Option<f64>> = days.iter().map(|d| d.mood).collect();
    for run in runs(&sleep) {
        lines.draw_series(LineSeries::new(run, theme.sleep.stroke_width(3)))?;
    }
    lines.draw_series(points(&sleep).map(|p| Circle::new(p, 4, theme.sleep.filled())))?;
    for run in runs(&mood) {
        lines.draw_secondary_series(LineSeries::new(run, theme.mood.stroke_width(3)))?;
    }
    lines.draw_secondary_series(points(&mood).map(|p| Circle::new(p, 4, theme.mood.filled())))?;
    root.present()?;
    Ok(())
}

/// The house style of a panel: one label per day (or every k-th), horizontal grid lines only.
fn day_mesh<'a, 'b, 'c, Y: Ranged, DB: DrawingBackend>(
    mesh: &'c mut MeshStyle<'a, 'b, SegmentedCoord<RangedCoordu32>, Y, DB>,
    theme: &Theme,
    n: usize,
    day_label: &'b dyn Fn(&SegmentValue<u32>) -> String,
) -> &'c mut MeshStyle<'a, 'b, SegmentedCoord<RangedCoordu32>, Y, DB> {
    let text = (FONT, 14).into_font().color(&theme.text);
    mesh.disable_x_mesh()
        .bold_line_style(theme.grid)
        .light_line_style(TRANSPARENT)
        .axis_style(theme.grid)
        .label_style(text.clone())
        .axis_desc_style(text)
        .x_labels(n)
        .x_label_formatter(day_label)
}

type Point = (SegmentValue<u32>, f64);

fn points(values: &[Option<f64>]) -> impl Iterator<Item = Point> + '_ {
    values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (SegmentValue::CenterOf(i as u32), v)))
}

/// Unbroken runs of logged days (a day without a value breaks the line).
fn runs(values: &[Option<f64>]) -> Vec<Vec<Point>> {
    let mut out: Vec<Vec<Point>> = vec![Vec::new()];
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => out.last_mut().expect("never empty").push((SegmentValue::CenterOf(i as u32), *v)),
            None if out.last().is_some_and(|r| !r.is_empty()) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|r| r.len() > 1);
    out
}

/// GET /admin/stats/activity.svg: the school's activity per day (active accounts, messages,
/// notes) as three bar panels, each with its own scale.
pub fn school_activity(days: &[super::dashboard::DayActivity], theme: &Theme, width: u32) -> AppResult<String> {
    let labels: Vec<String> = days
        .iter()
        .map(|d| NaiveDate::parse_from_str(&d.date, "%Y-%m-%d").map(|d| d.format("%-d %b").to_string()).unwrap_or_default())
        .collect();
    let panels: [(&str, RGBColor, Vec<u64>); 3] = [
        ("active accounts", theme.subjects[0], days.iter().map(|d| d.active_users).collect()),
        ("messages", theme.subjects[1], days.iter().map(|d| d.messages).collect()),
        ("notes", theme.subjects[2], days.iter().map(|d| d.notes).collect()),
    ];
    let title = match (days.first(), days.last()) {
        (Some(a), Some(b)) => format!("School activity, {} to {}", a.date, b.date),
        _ => "School activity".to_string(),
    };
    let mut svg = String::new();
    draw_panels(&mut svg, &title, &labels, &panels, theme, width).map_err(AppError::internal)?;
    let summary: Vec<String> =
        days.iter().map(|d| format!("{}: {} active, {} messages, {} notes", d.date, d.active_users, d.messages, d.notes)).collect();
    Ok(accessible(svg, &title, &summary))
}

fn draw_panels(
    out: &mut String,
    title: &str,
    labels: &[String],
    panels: &[(&str, RGBColor, Vec<u64>)],
    theme: &Theme,
    width: u32,
) -> DrawResult {
    const PANEL: u32 = 170;
    let n = labels.len().max(1) as u32;
    let root = SVGBackend::with_string(out, (width, 40 + PANEL * panels.len() as u32)).into_drawing_area();
    root.fill(&theme.background)?;
    let root = root.titled(title, (FONT, 20).into_font().color(&theme.text))?;
    let areas = root.split_evenly((panels.len(), 1));
    let plot_width = width.saturating_sub(2 * (MARGIN + AXIS)).max(1);
    let step = (n * 52).div_ceil(plot_width).max(1);
    let day_label = |v: &SegmentValue<u32>| match v {
        SegmentValue::CenterOf(i) if i % step == 0 => labels.get(*i as usize).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let gap = (plot_width / n / 6).min(6);
    for (area, (name, colour, values)) in areas.iter().zip(panels) {
        let peak = values.iter().copied().max().unwrap_or(0);
        let top = (peak + peak / 10).max(4);
        let mut chart = ChartBuilder::on(area)
            .margin(MARGIN)
            .x_label_area_size(26)
            .y_label_area_size(AXIS)
            .right_y_label_area_size(AXIS)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0u64..top)?;
        let text = (FONT, 14).into_font().color(&theme.text);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(theme.grid)
            .light_line_style(TRANSPARENT)
            .axis_style(theme.grid)
            .label_style(text.clone())
            .axis_desc_style(text)
            .x_labels(n as usize)
            .x_label_formatter(&day_label)
            .y_labels(4)
            .y_desc(*name)
            .draw()?;
        chart.draw_series(values.iter().enumerate().filter(|(_, v)| **v > 0).map(|(i, v)| {
            let i = i as u32;
            let mut r = Rectangle::new([(SegmentValue::Exact(i), 0), (SegmentValue::Exact(i + 1), *v)], colour.filled());
            r.set_margin(0, 0, gap, gap);
            r
        }))?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_break_at_days_without_values() {
        let r = runs(&[Some(7.0), Some(8.0), None, Some(6.0), None, Some(5.0), Some(5.5), Some(6.0)]);
        assert_eq!(r.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 3], "a lone day is a point, not a line");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(hours(0), "0 min");
        assert_eq!(hours(45), "45 min");
        assert_eq!(hours(120), "2 h");
        assert_eq!(hours(135), "2 h 15 min");
    }
}
