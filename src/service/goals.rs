//! Goals: weekly, monthly or custom periods over study minutes (optionally one subject), average
//! sleep, study days, or a custom metric with manual progress. Built-in metrics follow the activity
//! logs by themselves (an edited old day changes them). A goal completes as soon as its target is
//! reached (average sleep: judged when the period ends) and fails when its period ends short of it;
//! each transition is recorded once, with a `goal_completed` / `goal_failed` outbox event.

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::activity::{normalize_subject, parse_date, today};
use super::pages;
use super::validate::Errors;
use crate::access::Caller;
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::events::{Audience, Event};
use crate::state::AppState;
use crate::store::activity as logs;
pub use crate::store::goals::GoalStatus;
use crate::store::goals::{self as store, GoalRecord, Metric, Period};

/// A goal as sent by a client (create: `title`, `period`, `metric`, `target_value`, `start_date`
/// required; PATCH: any of them).
#[derive(Clone, Debug, Default, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalInput {
    /// Title (1–100 characters).
    pub title: Option<String>,
    /// Description (≤ 500).
    pub description: Option<String>,
    /// weekly | monthly | custom.
    pub period: Option<Period>,
    /// study_minutes | sleep_hours | study_days | custom.
    pub metric: Option<Metric>,
    /// Subject filter (study_minutes only).
    pub subject: Option<String>,
    /// Target (> 0).
    pub target_value: Option<f64>,
    /// First day (YYYY-MM-DD).
    pub start_date: Option<String>,
    /// Last day (custom: required; weekly: start + 6 days; monthly: end of the start's month).
    pub end_date: Option<String>,
}

/// A goal as the API shows it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct GoalView {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Period.
    pub period: Period,
    /// Metric.
    pub metric: Metric,
    /// Subject filter.
    pub subject: Option<String>,
    /// Target.
    pub target_value: f64,
    /// First day.
    pub start_date: String,
    /// Last day.
    pub end_date: String,
    /// Progress in the metric's unit.
    pub current_progress: f64,
    /// Progress / target, 0–1.
    pub progress_ratio: f64,
    /// active | completed | failed.
    pub status: GoalStatus,
    /// When the target was reached (RFC 3339).
    pub completed_at: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
}

fn progress(state: &AppState, user: Uuid, g: &GoalRecord) -> AppResult<f64> {
    if g.metric == Metric::Custom {
        return Ok(g.manual_progress);
    }
    if let (Metric::StudyMinutes, Some(subject)) = (g.metric, &g.subject) {
        let days = logs::facts(&state.store, user, g.start_date, g.end_date)?;
        return Ok(days
            .iter()
            .flat_map(|d| &d.study_sessions)
            .filter(|s| s.subject.eq_ignore_ascii_case(subject))
            .map(|s| f64::from(s.minutes))
            .sum());
    }
    let days = logs::totals(&state.store, user, g.start_date, g.end_date)?;
    Ok(match g.metric {
        Metric::StudyMinutes => days.iter().map(|d| f64::from(d.minutes)).sum(),
        Metric::StudyDays => days.iter().filter(|d| d.minutes > 0).count() as f64,
        Metric::SleepHours => {
            let slept: Vec<f64> = days.iter().filter_map(|d| d.sleep_hours).collect();
            if slept.is_empty() { 0.0 } else { slept.iter().sum::<f64>() / slept.len() as f64 }
        }
        Metric::Custom => g.manual_progress,
    })
}

fn view(g: &GoalRecord, current: f64) -> GoalView {
    GoalView {
        id: g.id,
        title: g.title.clone(),
        description: g.description.clone(),
        period: g.period,
        metric: g.metric,
        subject: g.subject.clone(),
        target_value: g.target_value,
        start_date: g.start_date.to_string(),
        end_date: g.end_date.to_string(),
        current_progress: (current * 100.0).round() / 100.0,
        progress_ratio: ((current / g.target_value).clamp(0.0, 1.0) * 1000.0).round() / 1000.0,
        status: g.status,
        completed_at: g.completed_at.map(rfc3339),
        created_at: rfc3339(g.created_at),
    }
}

/// Applies due transitions to one goal; returns the (possibly changed) goal and its progress.
fn evaluate(state: &AppState, user: Uuid, mut g: GoalRecord, today: NaiveDate) -> AppResult<(GoalRecord, f64, bool)> {
    let p = progress(state, user, &g)?;
    if g.status != GoalStatus::Active {
        return Ok((g, p, false));
    }
    let ended = today > g.end_date;
    let reached = p >= g.target_value;
    let judged_at_end = g.metric == Metric::SleepHours;
    let next = if reached && (!judged_at_end || ended) {
        GoalStatus::Completed
    } else if ended {
        GoalStatus::Failed
    } else {
        return Ok((g, p, false));
    };
    let now = state.clock.now();
    g.status = next;
    g.updated_at = now;
    if next == GoalStatus::Completed {
        g.completed_at = Some(now);
    }
    Ok((g, p, true))
}

/// Re-evaluates every active goal of `user` and stores transitions (with their events).
pub async fn refresh(state: &AppState, user: Uuid) -> AppResult<Vec<GoalView>> {
    let today = today(state, user)?;
    let mut views = Vec::new();
    let mut changed = Vec::new();
    for g in store::list(&state.store, user)? {
        let (g, p, moved) = evaluate(state, user, g, today)?;
        views.push(view(&g, p));
        if moved {
            changed.push(g);
        }
    }
    if !changed.is_empty() {
        let now = state.clock.now();
        let changed: Vec<(GoalRecord, Event)> = changed
            .into_iter()
            .map(|g| {
                let kind = if g.status == GoalStatus::Completed { "goal_completed" } else { "goal_failed" };
                let payload = serde_json::json!({ "goal_id": g.id, "title": g.title, "status": g.status });
                let e = Event::new(kind, Audience::Users(vec![user]), payload);
                (g, e)
            })
            .collect();
        let n = changed.len();
        state.events.commit(n, move |s, first| store::put_with_events(s, user, &changed, first, now).map(|e| ((), e))).await?;
    }
    Ok(views)
}

/// Reminders go out between these local hours (after school, before the evening).
const REMIND_HOURS: std::ops::Range<u32> = 16..20;

/// Sends the goal reminders due for `user`: an active goal past the middle of its period whose
/// progress is behind its pace (a study-minutes goal at 40 % with 60 % of its days gone) gets
/// one `goal_reminder` per period, between 16:00 and 20:00 in the user's time zone and never in
/// quiet hours. Returns how many went out.
pub async fn remind(state: &AppState, user: Uuid) -> AppResult<usize> {
    let tz: chrono_tz::Tz = crate::store::users::get(&state.store, user)?.and_then(|u| u.timezone.parse().ok()).unwrap_or(chrono_tz::UTC);
    if !REMIND_HOURS.contains(&chrono::Timelike::hour(&state.clock.now().with_timezone(&tz)))
        || super::notifications::quiet_now(state, user)?
    {
        return Ok(0);
    }
    let today = today(state, user)?;
    let mut due = Vec::new();
    for g in store::list(&state.store, user)? {
        if g.status != GoalStatus::Active || g.metric == Metric::SleepHours || today > g.end_date {
            continue;
        }
        let days = (g.end_date - g.start_date).num_days() + 1;
        let gone = (today - g.start_date).num_days() + 1;
        if gone * 2 <= days || store::reminded(&state.store, user, g.id, g.start_date)? {
            continue;
        }
        if progress(state, user, &g)? < g.target_value * gone as f64 / days as f64 {
            let payload = serde_json::json!({ "goal_id": g.id, "title": g.title });
            due.push((g.id, g.start_date, Event::new("goal_reminder", Audience::Users(vec![user]), payload)));
        }
    }
    if due.is_empty() {
        return Ok(0);
    }
    let (n, now) = (due.len(), state.clock.now());
    let (_, events) = state.events.commit(n, move |s, first| store::mark_reminded(s, user, &due, first, now).map(|e| ((), e))).await?;
    Ok(events.len())
}

fn end_of_period(period: Period, start: NaiveDate, end: Option<NaiveDate>) -> AppResult<NaiveDate> {
    match period {
        Period::Weekly => Ok(start + Duration::days(6)),
        Period::Monthly => {
            let (y, m) = if start.month() == 12 { (start.year() + 1, 1) } else { (start.year(), start.month() + 1) };
            Ok(NaiveDate::from_ymd_opt(y, m, 1).map(|d| d - Duration::days(1)).unwrap_or(start))
        }
        Period::Custom => end.ok_or_else(|| AppError::field("end_date", "a custom goal needs an end_date")),
    }
}

/// Builds and validates a goal from `base` and `input`.
fn apply(mut g: GoalRecord, input: &GoalInput) -> AppResult<GoalRecord> {
    let mut e = Errors::new();
    if let Some(t) = &input.title {
        e.check("title", super::validate::text(t, 100, true));
        g.title = t.trim().to_string();
    }
    if let Some(d) = &input.description {
        e.check("description", super::validate::text(d, 500, false));
        g.description = d.clone();
    }
    if let Some(p) = input.period {
        g.period = p;
    }
    if let Some(m) = input.metric {
        g.metric = m;
    }
    if let Some(s) = &input.subject {
        let s = normalize_subject(s);
        g.subject = (!s.is_empty()).then_some(s);
    }
    if let Some(t) = input.target_value {
        if !(t > 0.0 && t.is_finite()) {
            e.check("target_value", Err("must be greater than 0".into()));
        }
        g.target_value = t;
    }
    if g.subject.is_some() && g.metric != Metric::StudyMinutes {
        e.check("subject", Err("only study_minutes goals have a subject".into()));
    }
    if g.metric == Metric::SleepHours && g.target_value > 24.0 {
        e.check("target_value", Err("an average sleep target is at most 24 hours".into()));
    }
    e.finish()?;
    if let Some(s) = &input.start_date {
        g.start_date = parse_date(s, "start_date")?;
    }
    let end = input.end_date.as_deref().map(|s| parse_date(s, "end_date")).transpose()?;
    g.end_date = end_of_period(g.period, g.start_date, end.or((g.period == Period::Custom).then_some(g.end_date)))?;
    if g.end_date < g.start_date || (g.end_date - g.start_date).num_days() > 365 {
        return Err(AppError::field("end_date", "must be on or after start_date and within a year of it"));
    }
    Ok(g)
}

/// POST /goals.
pub async fn create(state: &AppState, me: Caller, input: GoalInput) -> AppResult<GoalView> {
    let mut e = Errors::new();
    for (name, present) in [
        ("title", input.title.is_some()),
        ("period", input.period.is_some()),
        ("metric", input.metric.is_some()),
        ("target_value", input.target_value.is_some()),
        ("start_date", input.start_date.is_some()),
    ] {
        if !present {
            e.check(name, Err("required".into()));
        }
    }
    e.finish()?;
    let now = state.clock.now();
    let blank = GoalRecord {
        id: crate::ids::new_id(),
        title: String::new(),
        description: String::new(),
        period: Period::Weekly,
        metric: Metric::StudyMinutes,
        subject: None,
        target_value: 1.0,
        start_date: now.date_naive(),
        end_date: now.date_naive(),
        manual_progress: 0.0,
        status: GoalStatus::Active,
        completed_at: None,
        created_at: now,
        updated_at: now,
    };
    let g = apply(blank, &input)?;
    let id = g.id;
    state.store.write(move |s| store::put(s, me.id(), &g)).await?;
    get(state, me, id).await
}

/// GET /goals/{id} (after applying due transitions).
pub async fn get(state: &AppState, me: Caller, id: Uuid) -> AppResult<GoalView> {
    store::get(&state.store, me.id(), id)?.ok_or(AppError::NotFound("goal"))?;
    refresh(state, me.id()).await?.into_iter().find(|g| g.id == id).ok_or(AppError::NotFound("goal"))
}

/// GET /goals?status=.
pub async fn list(
    state: &AppState,
    me: Caller,
    status: Option<GoalStatus>,
    limit: usize,
    cursor: Option<&str>,
) -> AppResult<(Vec<GoalView>, Option<String>)> {
    let goals: Vec<GoalView> = refresh(state, me.id()).await?.into_iter().filter(|g| status.is_none_or(|s| g.status == s)).collect();
    pages::cut(goals, pages::Order::Ascending, limit, cursor, |g| g.id.to_string())
}

/// PATCH /goals/{id}.
pub async fn update(state: &AppState, me: Caller, id: Uuid, input: GoalInput) -> AppResult<GoalView> {
    let g = store::get(&state.store, me.id(), id)?.ok_or(AppError::NotFound("goal"))?;
    let mut g = apply(g, &input)?;
    g.updated_at = state.clock.now();
    state.store.write(move |s| store::put(s, me.id(), &g)).await?;
    get(state, me, id).await
}

/// DELETE /goals/{id}.
pub async fn delete(state: &AppState, me: Caller, id: Uuid) -> AppResult<()> {
    if state.store.write(move |s| store::delete(s, me.id(), id)).await? { Ok(()) } else { Err(AppError::NotFound("goal")) }
}

/// POST /goals/{id}/progress: adds `value` to a custom goal's progress.
pub async fn add_progress(state: &AppState, me: Caller, id: Uuid, value: f64) -> AppResult<GoalView> {
    let mut g = store::get(&state.store, me.id(), id)?.ok_or(AppError::NotFound("goal"))?;
    if g.metric != Metric::Custom {
        return Err(AppError::Conflict("only custom goals take manual progress; the others follow your activity logs".into(), vec![]));
    }
    if !value.is_finite() || value.abs() > 1e9 {
        return Err(AppError::field("value", "must be a number"));
    }
    g.manual_progress = (g.manual_progress + value).max(0.0);
    g.updated_at = state.clock.now();
    state.store.write(move |s| store::put(s, me.id(), &g)).await?;
    get(state, me, id).await
}

/// Every goal as stored (no transitions applied), for the data export.
pub fn export(state: &AppState, me: Uuid) -> AppResult<Vec<GoalView>> {
    views(state, me, |_| true)
}

/// Goals overlapping `[from, to]` as stored, for reports.
pub fn overlapping(state: &AppState, me: Uuid, from: NaiveDate, to: NaiveDate) -> AppResult<Vec<GoalView>> {
    views(state, me, |g| g.start_date <= to && g.end_date >= from)
}

/// Active goals whose period includes `day`, as stored, with their progress (insights): progress
/// is read for these only.
pub fn active_on(state: &AppState, me: Uuid, day: NaiveDate) -> AppResult<Vec<(GoalRecord, f64)>> {
    store::list(&state.store, me)?
        .into_iter()
        .filter(|g| g.status == GoalStatus::Active && g.start_date <= day && g.end_date >= day)
        .map(|g| progress(state, me, &g).map(|p| (g, p)))
        .collect()
}

fn views(state: &AppState, me: Uuid, keep: impl Fn(&GoalRecord) -> bool) -> AppResult<Vec<GoalView>> {
    store::list(&state.store, me)?.into_iter().filter(|g| keep(g)).map(|g| Ok(view(&g, progress(state, me, &g)?))).collect()
}
