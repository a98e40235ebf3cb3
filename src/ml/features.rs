//! The model's inputs, computed from a student's own daily logs in their time zone: the 28 days
//! before today (today is not over) against the 56 days before those. The definitions are the
//! same as `user_features` / `goal_features` in `models/train.py`, in the same order.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};

/// Days the features look at.
pub const WINDOW: i64 = 28;
/// Days before the window that make the baseline.
pub const BASELINE: i64 = 56;
/// Hours of sleep that count as enough (teenagers need 8–10 h; debt is counted below 8).
pub const SLEEP_NEED: f64 = 8.0;
/// A day with at least this many study minutes is a long day.
pub const LONG_DAY: u32 = 360;
/// Days of history the service loads: the window, the baseline, and the window 4 weeks earlier
/// with its own baseline (the "usual you" shown as evidence).
pub const HISTORY_DAYS: i64 = WINDOW * 2 + BASELINE;

/// One input of the model.
#[derive(Clone, Copy, Debug)]
pub struct Feature {
    /// Name (also in `models/insights.json`).
    pub name: &'static str,
    /// Unit.
    pub unit: &'static str,
    /// Smallest value (inputs are clamped to [min, max] by the model too).
    pub min: f32,
    /// Largest value.
    pub max: f32,
}

const fn f(name: &'static str, unit: &'static str, min: f32, max: f32) -> Feature {
    Feature { name, unit, min, max }
}

/// A student's features, in input order.
pub const USER_FEATURES: [Feature; 15] = [
    f("study_mean", "minutes/day", 0.0, 1440.0),
    f("study_trend", "minutes/day", -1440.0, 1440.0),
    f("study_vs_baseline", "log2 ratio", -7.0, 7.0),
    f("long_days", "days", 0.0, 28.0),
    f("session_mean", "minutes", 0.0, 1440.0),
    f("late_share", "fraction", 0.0, 1.0),
    f("sleep_mean", "hours", 0.0, 24.0),
    f("sleep_sd", "hours", 0.0, 12.0),
    f("sleep_debt", "hours", 0.0, 56.0),
    f("mood_mean", "score 1..5", 1.0, 5.0),
    f("mood_slope", "points/week", -4.0, 4.0),
    f("days_unlogged", "days", 0.0, 28.0),
    f("streak", "days", 0.0, 28.0),
    f("weekend_share", "fraction", 0.0, 1.0),
    f("last7_minutes", "minutes", 0.0, 10080.0),
];

/// A goal's features, in input order.
pub const GOAL_FEATURES: [Feature; 6] = [
    f("elapsed", "fraction", 0.0, 1.0),
    f("progress", "fraction of target", 0.0, 2.0),
    f("pace", "log2 ratio", -5.0, 5.0),
    f("need_vs_rate", "log2 ratio", -7.0, 7.0),
    f("days_left", "days", 0.0, 366.0),
    f("active_share", "fraction", 0.0, 1.0),
];

/// Index of a student feature by name (for the rules).
pub fn idx(name: &str) -> usize {
    USER_FEATURES.iter().position(|f| f.name == name).unwrap_or(0)
}

/// One logged day, reduced to what the features and the statistics read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Day {
    /// The day (in the student's time zone).
    pub date: NaiveDate,
    /// Study minutes.
    pub minutes: u32,
    /// Study sessions.
    pub sessions: u32,
    /// Sessions with a start time.
    pub timed: u32,
    /// Timed sessions that started 22:00–04:59 local time.
    pub late: u32,
    /// Hours slept.
    pub sleep: Option<f64>,
    /// Mood 1..5.
    pub mood: Option<u8>,
    /// Minutes by subject.
    pub subjects: Vec<(String, u32)>,
    /// Timed sessions: (local start hour, minutes).
    pub starts: Vec<(u32, u32)>,
}

/// Whether a session starting at this local hour is late-night study.
pub fn is_late(hour: u32) -> bool {
    !(5..22).contains(&hour)
}

/// A student's logged days before `today`, oldest first. Rewinding it ([`History::as_of`]) shares
/// the days instead of copying them.
#[derive(Clone, Debug)]
pub struct History {
    /// Today in the student's time zone.
    pub today: NaiveDate,
    all: Arc<[Day]>,
    /// How many of `all` are before `today`.
    until: usize,
}

impl History {
    /// The history of these logged days as of `today` (days from `today` on are left out).
    pub fn new(today: NaiveDate, mut days: Vec<Day>) -> Self {
        days.sort_by_key(|d| d.date);
        let until = days.partition_point(|d| d.date < today);
        Self { today, all: days.into(), until }
    }

    /// Logged days before today, oldest first (missing days were not logged).
    pub fn days(&self) -> &[Day] {
        &self.all[..self.until]
    }

    /// The logged days in `[from, to)`.
    pub fn between(&self, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = &Day> {
        self.days().iter().filter(move |d| d.date >= from && d.date < to)
    }

    /// The same history as seen `days` earlier.
    pub fn as_of(&self, days: i64) -> History {
        let today = self.today - chrono::Duration::days(days);
        History { today, all: Arc::clone(&self.all), until: self.days().partition_point(|d| d.date < today) }
    }

    /// Days logged in the window.
    pub fn logged_days(&self) -> usize {
        self.between(self.today - chrono::Duration::days(WINDOW), self.today).count()
    }

    /// Days with study in the last `n` days.
    pub fn study_days(&self, n: i64) -> usize {
        self.between(self.today - chrono::Duration::days(n), self.today).filter(|d| d.minutes > 0).count()
    }
}

/// The student's features as of `h.today`, in [`USER_FEATURES`] order.
pub fn user_features(h: &History) -> [f32; 15] {
    let end = h.today;
    let start = end - chrono::Duration::days(WINDOW);
    let mid = end - chrono::Duration::days(14);
    let window: Vec<&Day> = h.between(start, end).collect();
    let sum = |it: &mut dyn Iterator<Item = &&Day>| it.map(|d| f64::from(d.minutes)).sum::<f64>();
    let total = sum(&mut window.iter());
    let study_mean = total / WINDOW as f64;
    let trend = sum(&mut window.iter().filter(|d| d.date >= mid)) / 14.0 - sum(&mut window.iter().filter(|d| d.date < mid)) / 14.0;
    let base: Vec<&Day> = h.between(start - chrono::Duration::days(BASELINE), start).collect();
    let vs_base = if base.len() >= 7 {
        let base_mean = base.iter().map(|d| f64::from(d.minutes)).sum::<f64>() / BASELINE as f64;
        ((study_mean + 10.0) / (base_mean + 10.0)).log2()
    } else {
        0.0
    };
    let long_days = window.iter().filter(|d| d.minutes >= LONG_DAY).count() as f64;
    let sessions: u32 = window.iter().map(|d| d.sessions).sum();
    let session_mean = if sessions > 0 { total / f64::from(sessions) } else { 0.0 };
    let timed: u32 = window.iter().map(|d| d.timed).sum();
    let late: u32 = window.iter().map(|d| d.late).sum();
    let late_share = if timed > 0 { f64::from(late) / f64::from(timed) } else { 0.0 };
    let sleeps: Vec<f64> = window.iter().filter_map(|d| d.sleep).collect();
    let sleep_mean = if sleeps.is_empty() { SLEEP_NEED } else { mean(&sleeps) };
    let sleep_sd = if sleeps.len() >= 2 { sd(&sleeps) } else { 0.0 };
    let week = end - chrono::Duration::days(7);
    let debt: f64 = window.iter().filter(|d| d.date >= week).filter_map(|d| d.sleep).map(|s| (SLEEP_NEED - s).max(0.0)).sum();
    let moods: Vec<(f64, f64)> = window.iter().filter_map(|d| d.mood.map(|m| ((d.date - start).num_days() as f64, f64::from(m)))).collect();
    let mood_mean = if moods.is_empty() { 3.0 } else { moods.iter().map(|m| m.1).sum::<f64>() / moods.len() as f64 };
    let slope = if moods.len() >= 3 { slope(&moods) * 7.0 } else { 0.0 };
    let unlogged = (WINDOW as usize - window.len()) as f64;
    let mut streak = 0;
    let mut day = end - chrono::Duration::days(1);
    while streak < WINDOW && window.iter().any(|d| d.date == day && d.minutes > 0) {
        streak += 1;
        day -= chrono::Duration::days(1);
    }
    let weekend = sum(&mut window.iter().filter(|d| d.date.weekday().num_days_from_monday() >= 5));
    let weekend_share = if total > 0.0 { weekend / total } else { 0.0 };
    let last7 = sum(&mut window.iter().filter(|d| d.date >= week));
    [
        study_mean,
        trend,
        vs_base,
        long_days,
        session_mean,
        late_share,
        sleep_mean,
        sleep_sd,
        debt,
        mood_mean,
        slope,
        unlogged,
        streak as f64,
        weekend_share,
        last7,
    ]
    .map(|v| v as f32)
}

/// A goal as the features see it.
#[derive(Clone, Copy, Debug)]
pub struct GoalState {
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
    /// Target.
    pub target: f64,
    /// Progress so far.
    pub current: f64,
}

/// A goal's features as of `today` (`None` unless today is within the goal's period), in
/// [`GOAL_FEATURES`] order. `study_days_14`: days with study in the last 14.
pub fn goal_features(g: &GoalState, today: NaiveDate, study_days_14: usize) -> Option<[f32; 6]> {
    if today < g.start || today > g.end || g.target <= 0.0 {
        return None;
    }
    let length = (g.end - g.start).num_days() as f64 + 1.0;
    let days_elapsed = (today - g.start).num_days() as f64;
    let elapsed = days_elapsed / length;
    let progress = (g.current / g.target).min(2.0);
    let pace = ((progress + 0.05) / (elapsed + 0.05)).log2();
    let days_left = length - days_elapsed;
    let req = (1.0 - progress).max(0.0) / days_left.max(1.0);
    let rate = progress / days_elapsed.max(1.0);
    let need = ((req + 0.01) / (rate + 0.01)).log2();
    Some([elapsed, progress, pace, need, days_left, study_days_14 as f64 / 14.0].map(|v| v as f32))
}

/// Mean.
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Population standard deviation.
pub fn sd(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

/// Least-squares slope of y over x.
fn slope(points: &[(f64, f64)]) -> f64 {
    let mx = points.iter().map(|p| p.0).sum::<f64>() / points.len() as f64;
    let my = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let den: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    if den > 0.0 { points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / den } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn day(date: NaiveDate, minutes: u32, sleep: f64, mood: u8) -> Day {
        Day { date, minutes, sessions: 2, timed: 2, late: 0, sleep: Some(sleep), mood: Some(mood), ..Day::default() }
    }

    #[test]
    fn a_steady_student_has_the_expected_features() {
        let today = d("2026-12-07");
        let days = (1..=84).map(|k| day(today - chrono::Duration::days(k), 60, 7.5, 4)).rev().collect();
        let x = user_features(&History::new(today, days));
        assert_eq!(x[idx("study_mean")], 60.0);
        assert_eq!(x[idx("study_trend")], 0.0);
        assert_eq!(x[idx("study_vs_baseline")], 0.0);
        assert_eq!(x[idx("session_mean")], 30.0);
        assert_eq!(x[idx("sleep_mean")], 7.5);
        assert_eq!(x[idx("sleep_debt")], 3.5);
        assert_eq!(x[idx("mood_slope")], 0.0);
        assert_eq!(x[idx("days_unlogged")], 0.0);
        assert_eq!(x[idx("streak")], 28.0);
        assert!((x[idx("weekend_share")] - 2.0 / 7.0).abs() < 1e-6);
        assert_eq!(x[idx("last7_minutes")], 420.0);
    }

    #[test]
    fn falling_mood_has_a_negative_slope_and_gaps_break_the_streak() {
        let today = d("2026-12-07");
        let days: Vec<Day> = (1..=28)
            .filter(|k| *k != 3)
            .map(|k| day(today - chrono::Duration::days(k), 100, 6.0, if k <= 14 { 2 } else { 4 }))
            .rev()
            .collect();
        let x = user_features(&History::new(today, days));
        assert!(x[idx("mood_slope")] < -0.5);
        assert_eq!(x[idx("streak")], 2.0);
        assert_eq!(x[idx("days_unlogged")], 1.0);
        assert_eq!(x[idx("study_vs_baseline")], 0.0, "no baseline: neutral");
    }

    #[test]
    fn features_match_train_py_on_simulated_students() {
        let fx: serde_json::Value = serde_json::from_str(include_str!("../../models/fixtures.json")).unwrap();
        for case in fx["feature_cases"].as_array().unwrap() {
            let days = case["days"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    let sessions = x["sessions"].as_u64().unwrap() as u32;
                    Day {
                        date: d(x["date"].as_str().unwrap()),
                        minutes: x["minutes"].as_u64().unwrap() as u32,
                        sessions,
                        timed: sessions,
                        late: x["late"].as_u64().unwrap() as u32,
                        sleep: x["sleep"].as_f64(),
                        mood: x["mood"].as_u64().map(|m| m as u8),
                        ..Day::default()
                    }
                })
                .collect();
            let got = user_features(&History::new(d(case["today"].as_str().unwrap()), days));
            for (i, want) in case["features"].as_array().unwrap().iter().enumerate() {
                let want = want.as_f64().unwrap() as f32;
                assert!((got[i] - want).abs() <= 1e-4 * want.abs().max(1.0), "{}: {} vs train.py {want}", USER_FEATURES[i].name, got[i]);
            }
        }
    }

    #[test]
    fn goal_features_follow_the_pace() {
        let g = GoalState { start: d("2026-12-01"), end: d("2026-12-10"), target: 600.0, current: 60.0 };
        let x = goal_features(&g, d("2026-12-06"), 7).unwrap();
        assert_eq!(x[0], 0.5);
        assert!((x[1] - 0.1).abs() < 1e-6);
        assert!(x[2] < -1.0, "far behind pace");
        assert_eq!(x[4], 5.0);
        assert!(goal_features(&g, d("2026-12-11"), 7).is_none());
    }
}
