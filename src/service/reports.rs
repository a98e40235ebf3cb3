//! Weekly and monthly reports computed from the activity logs for any past period (ISO weeks and
//! calendar months in the user's time zone), compared with the previous period; streaks; CSV export.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::Serialize;
use uuid::Uuid;

use super::activity::{parse_date, today};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::activity::{self as logs, DailyLog, DayTotals};
use crate::store::users as users_store;

/// Minutes on one day.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct DayMinutes {
    /// YYYY-MM-DD.
    pub date: String,
    /// Minutes.
    pub minutes: u32,
}

/// Minutes of one subject.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct SubjectMinutes {
    /// Subject.
    pub subject: String,
    /// Minutes.
    pub minutes: u32,
}

/// A goal in a report.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct ReportGoal {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Status.
    pub status: crate::store::goals::GoalStatus,
    /// 0–1.
    pub progress_ratio: f64,
}

/// Change from the previous period of the same length.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct Comparison {
    /// Minutes.
    pub study_minutes_delta: i64,
    /// Hours (null when either period has no sleep logged).
    pub sleep_hours_delta: Option<f64>,
    /// Mood points (null when either period has no mood logged).
    pub mood_delta: Option<f64>,
}

/// A weekly or monthly report.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct Report {
    /// `2026-W47` or `2026-11`.
    pub period: String,
    /// First day.
    pub from: String,
    /// Last day.
    pub to: String,
    /// Minutes studied.
    pub study_minutes_total: u32,
    /// Every day of the period.
    pub study_minutes_by_day: Vec<DayMinutes>,
    /// Most studied first.
    pub by_subject: Vec<SubjectMinutes>,
    /// Days with study.
    pub study_days: u32,
    /// Consecutive study days ending on the period's last day (or yesterday, for the current one).
    pub streak_days: u32,
    /// Average hours slept over the days logged.
    pub sleep_hours_avg: Option<f64>,
    /// Average mood score.
    pub mood_avg: Option<f64>,
    /// Days per mood score `"1"`..`"5"`.
    #[salvo(schema(value_type = Object))]
    pub mood_distribution: BTreeMap<String, u32>,
    /// Goals overlapping the period.
    pub goals: Vec<ReportGoal>,
    /// Against the previous period.
    pub compared_to_previous: Comparison,
    /// Weekly reports of users with `settings.weekly_ranking`: their place among friends who opted in
    /// too, by study days then goals completed (not raw hours). Null otherwise.
    pub friends_rank: Option<FriendsRank>,
}

/// A place in the weekly ranking among friends.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct FriendsRank {
    /// 1 is first; ties share a place.
    pub rank: u32,
    /// People ranked (the caller included).
    pub out_of: u32,
    /// The caller's study days this week.
    pub study_days: u32,
    /// The caller's goals completed this week.
    pub goals_completed: u32,
}

/// (study days, goals completed) of a user in `[from, to]`.
fn ranking_score(state: &AppState, user: Uuid, from: NaiveDate, to: NaiveDate) -> AppResult<(u32, u32)> {
    let days = logs::totals(&state.store, user, from, to)?.iter().filter(|d| d.minutes > 0).count() as u32;
    let goals = crate::store::goals::list(&state.store, user)?
        .iter()
        .filter(|g| g.completed_at.is_some_and(|t| (from..=to).contains(&t.date_naive())))
        .count() as u32;
    Ok((days, goals))
}

fn friends_rank(state: &AppState, me: Uuid, from: NaiveDate, to: NaiveDate) -> AppResult<Option<FriendsRank>> {
    let opted =
        |id: Uuid| users_store::get(&state.store, id).ok().flatten().is_some_and(|u| u.deleted_at.is_none() && u.settings.weekly_ranking);
    if !opted(me) {
        return Ok(None);
    }
    let mine = ranking_score(state, me, from, to)?;
    let mut others = Vec::new();
    for f in crate::store::social::friend_ids(&state.store, me)? {
        if opted(f) {
            others.push(ranking_score(state, f, from, to)?);
        }
    }
    let better = others.iter().filter(|s| **s > mine).count() as u32;
    Ok(Some(FriendsRank { rank: better + 1, out_of: others.len() as u32 + 1, study_days: mine.0, goals_completed: mine.1 }))
}

struct Totals {
    minutes: u32,
    sleep: Option<f64>,
    mood: Option<f64>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn avg(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = xs.collect();
    (!v.is_empty()).then(|| round2(v.iter().sum::<f64>() / v.len() as f64))
}

fn minutes(d: &DailyLog) -> u32 {
    d.study_sessions.iter().map(|s| s.minutes).sum()
}

fn totals(days: &[DayTotals]) -> Totals {
    Totals {
        minutes: days.iter().map(|d| d.minutes).sum(),
        sleep: avg(days.iter().filter_map(|d| d.sleep_hours)),
        mood: avg(days.iter().filter_map(|d| d.mood.map(f64::from))),
    }
}

/// Consecutive days with study ending at `end` (a day without study yet on `end == today` does
/// not break it: the streak is counted up to yesterday).
pub fn streak(state: &AppState, user: Uuid, end: NaiveDate, today: NaiveDate) -> AppResult<u32> {
    let mut expected = end;
    let mut n = 0;
    for day in logs::totals_back_from(&state.store, user, end - Duration::days(3660), end) {
        let day = day?;
        let studied = day.minutes > 0;
        if n == 0 && expected == today && (day.date < today || !studied) {
            // Nothing studied yet today: the streak counts up to yesterday.
            expected = today - Duration::days(1);
            if day.date == today {
                continue;
            }
        }
        if day.date != expected || !studied {
            break;
        }
        n += 1;
        expected = day.date - Duration::days(1);
    }
    Ok(n)
}

/// The caller's logs in a period that has started (a future period is a field error).
pub fn period_logs(state: &AppState, me: Uuid, p: &Period) -> AppResult<Vec<DailyLog>> {
    if p.from > today(state, me)? {
        return Err(AppError::field("period", "this period has not started yet"));
    }
    logs::range(&state.store, me, p.from, p.to)
}

fn build(state: &AppState, me: Uuid, p: Period) -> AppResult<Report> {
    let days = period_logs(state, me, &p)?;
    let Period { label: period, from, to, prev } = p;
    let weekly = period.contains("-W");
    let today = today(state, me)?;
    let by_date: BTreeMap<NaiveDate, &DailyLog> = days.iter().map(|d| (d.date, d)).collect();
    let mut by_day = Vec::new();
    let mut day = from;
    while day <= to {
        by_day.push(DayMinutes { date: day.to_string(), minutes: by_date.get(&day).map_or(0, |d| minutes(d)) });
        day += Duration::days(1);
    }
    let mut subjects: BTreeMap<String, u32> = BTreeMap::new();
    for s in days.iter().flat_map(|d| &d.study_sessions) {
        *subjects.entry(s.subject.clone()).or_default() += s.minutes;
    }
    let mut by_subject: Vec<SubjectMinutes> = subjects.into_iter().map(|(subject, minutes)| SubjectMinutes { subject, minutes }).collect();
    by_subject.sort_by(|a, b| b.minutes.cmp(&a.minutes).then(a.subject.cmp(&b.subject)));
    let mut mood_distribution: BTreeMap<String, u32> = (1..=5).map(|s| (s.to_string(), 0)).collect();
    for m in days.iter().filter_map(|d| d.mood.as_ref()) {
        *mood_distribution.entry(m.score.to_string()).or_default() += 1;
    }
    let now = totals(&days.iter().map(DayTotals::of).collect::<Vec<_>>());
    let before = totals(&logs::totals(&state.store, me, prev.0, prev.1)?);
    let goal_views = super::goals::overlapping(state, me, from, to)?;
    Ok(Report {
        period,
        from: from.to_string(),
        to: to.to_string(),
        study_minutes_total: now.minutes,
        study_minutes_by_day: by_day,
        by_subject,
        study_days: days.iter().filter(|d| minutes(d) > 0).count() as u32,
        streak_days: streak(state, me, to.min(today), today)?,
        sleep_hours_avg: now.sleep,
        mood_avg: now.mood,
        mood_distribution,
        goals: goal_views
            .into_iter()
            .map(|g| ReportGoal { id: g.id, title: g.title, status: g.status, progress_ratio: g.progress_ratio })
            .collect(),
        friends_rank: if weekly { friends_rank(state, me, from, to)? } else { None },
        compared_to_previous: Comparison {
            study_minutes_delta: i64::from(now.minutes) - i64::from(before.minutes),
            sleep_hours_delta: now.sleep.zip(before.sleep).map(|(a, b)| round2(a - b)),
            mood_delta: now.mood.zip(before.mood).map(|(a, b)| round2(a - b)),
        },
    })
}

/// Parses `YYYY-Www` into its Monday.
pub fn parse_week(s: &str) -> AppResult<NaiveDate> {
    let bad = || AppError::field("week", "must be an ISO week like 2026-W47, in the years 1900 to 9999");
    let (y, w) = s.split_once("-W").ok_or_else(bad)?;
    let year: i32 = y.parse().map_err(|_| bad())?;
    if !super::activity::YEARS.contains(&year) {
        return Err(bad());
    }
    NaiveDate::from_isoywd_opt(year, w.parse().map_err(|_| bad())?, Weekday::Mon).ok_or_else(bad)
}

/// A report period: its label, first and last day, and the previous period of the same kind.
pub struct Period {
    /// `2026-W47` or `2026-11`.
    pub label: String,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// The period before (first, last day).
    pub prev: (NaiveDate, NaiveDate),
}

/// The ISO week `week` (default: the last full week in the caller's zone).
pub fn week_period(state: &AppState, me: Uuid, week: Option<&str>) -> AppResult<Period> {
    let monday = match week {
        Some(w) => parse_week(w)?,
        None => {
            let t = today(state, me)?;
            t - Duration::days(i64::from(t.weekday().num_days_from_monday()) + 7)
        }
    };
    let iso = monday.iso_week();
    Ok(Period {
        label: format!("{}-W{:02}", iso.year(), iso.week()),
        from: monday,
        to: monday + Duration::days(6),
        prev: (monday - Duration::days(7), monday - Duration::days(1)),
    })
}

/// GET /reports/weekly?week= (default: the last full week).
pub fn weekly(state: &AppState, me: Uuid, week: Option<&str>) -> AppResult<Report> {
    let p = week_period(state, me, week)?;
    build(state, me, p)
}

fn month_bounds(year: i32, month: u32) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1)? } else { NaiveDate::from_ymd_opt(year, month + 1, 1)? };
    Some((first, next - Duration::days(1)))
}

/// The calendar month `month` (default: the last full month in the caller's zone).
pub fn month_period(state: &AppState, me: Uuid, month: Option<&str>) -> AppResult<Period> {
    let bad = || AppError::field("month", "must be a month like 2026-11, in the years 1900 to 9999");
    let (first, last) = match month {
        Some(m) => {
            let (y, mo) = m.split_once('-').ok_or_else(bad)?;
            let year: i32 = y.parse().map_err(|_| bad())?;
            if !super::activity::YEARS.contains(&year) {
                return Err(bad());
            }
            month_bounds(year, mo.parse().map_err(|_| bad())?).ok_or_else(bad)?
        }
        None => {
            let t = today(state, me)?;
            let prev = NaiveDate::from_ymd_opt(t.year(), t.month(), 1).unwrap_or(t) - Duration::days(1);
            month_bounds(prev.year(), prev.month()).ok_or_else(bad)?
        }
    };
    let before_last = first - Duration::days(1);
    let prev = month_bounds(before_last.year(), before_last.month()).ok_or_else(bad)?;
    Ok(Period { label: first.format("%Y-%m").to_string(), from: first, to: last, prev })
}

/// GET /reports/monthly?month= (default: the last full month).
pub fn monthly(state: &AppState, me: Uuid, month: Option<&str>) -> AppResult<Report> {
    let p = month_period(state, me, month)?;
    build(state, me, p)
}

/// A report the job has produced.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct ReadyReport {
    /// `2026-W47` or `2026-11`.
    pub period: String,
    /// weekly | monthly.
    pub kind: String,
    /// When it was made (RFC 3339).
    pub ready_at: String,
}

/// GET /reports/ready: the weekly and monthly reports made for the caller, newest first.
pub fn ready(state: &AppState, me: Uuid) -> AppResult<Vec<ReadyReport>> {
    let mut out: Vec<ReadyReport> = crate::store::report_runs::list(&state.store, me)?
        .into_iter()
        .map(|(period, at)| ReadyReport {
            kind: if period.contains("-W") { "weekly" } else { "monthly" }.into(),
            period,
            ready_at: crate::clock::rfc3339(at),
        })
        .collect();
    out.sort_by(|a, b| b.ready_at.cmp(&a.ready_at).then(b.period.cmp(&a.period)));
    Ok(out)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// GET /reports/export.csv?from&to: RFC 4180, one row per day and one per study session.
pub fn export_csv(state: &AppState, me: Uuid, from: &str, to: &str) -> AppResult<String> {
    let (from, to) = (parse_date(from, "from")?, parse_date(to, "to")?);
    if to < from || (to - from).num_days() > 3660 {
        return Err(AppError::field("to", "must be on or after `from`, within ten years"));
    }
    let mut out = String::from("date,row,subject,minutes,started_at,note,sleep_hours,mood_score,mood_label,tags,description\r\n");
    for d in logs::range(&state.store, me, from, to)? {
        let date = d.date.to_string();
        let mood = d.mood.as_ref();
        let row = [
            date.clone(),
            "day".into(),
            String::new(),
            minutes(&d).to_string(),
            String::new(),
            csv_field(&d.notes),
            d.sleep_hours.map(|h| h.to_string()).unwrap_or_default(),
            mood.map(|m| m.score.to_string()).unwrap_or_default(),
            csv_field(mood.map(|m| m.label.as_str()).unwrap_or("")),
            csv_field(&d.tags.join(" ")),
            csv_field(&d.description),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
        for s in &d.study_sessions {
            let row = [
                date.clone(),
                "session".into(),
                csv_field(&s.subject),
                s.minutes.to_string(),
                s.started_at.map(crate::clock::rfc3339).unwrap_or_default(),
                csv_field(s.note.as_deref().unwrap_or("")),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ];
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks_and_months() {
        assert_eq!(parse_week("2026-W53").unwrap().to_string(), "2026-12-28", "2026 starts on a Thursday: 53 weeks");
        assert!(parse_week("2025-W53").is_err(), "2025 has 52");
        assert_eq!(parse_week("2020-W53").unwrap().to_string(), "2020-12-28");
        assert_eq!(parse_week("2027-W01").unwrap().to_string(), "2027-01-04");
        assert!(parse_week("2026-47").is_err());
        assert_eq!(month_bounds(2028, 2).unwrap().1.to_string(), "2028-02-29", "leap day");
        assert_eq!(month_bounds(2026, 12).unwrap().1.to_string(), "2026-12-31");
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
    }
}
