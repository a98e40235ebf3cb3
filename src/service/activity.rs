//! Daily activity logs: study sessions, sleep, mood, tags and notes per calendar day in the user's
//! own time zone. Logs may be written offline and uploaded later: PUT is an idempotent upsert and a
//! batch endpoint takes many days at once.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::validate::Errors;
use crate::access::Caller;
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;
use crate::store::activity::{self as store, DailyLog, Mood, StudySession};

/// Most sessions in one day.
const MAX_SESSIONS: usize = 50;
/// Most days in one batch or one range read.
pub const MAX_DAYS: usize = 366;

/// A study session as sent by a client.
#[derive(Clone, Debug, Deserialize, Serialize, salvo::oapi::ToSchema)]
pub struct SessionInput {
    /// Keeps the session's identity across edits; generated when absent.
    #[serde(default)]
    pub id: Option<Uuid>,
    /// Subject (trimmed, spaces collapsed, first letter capitalised; ≤ 60 characters).
    #[salvo(schema(min_length = 1, max_length = 60, pattern = "\\S"))]
    pub subject: String,
    /// 1 to 1,440 minutes.
    #[salvo(schema(minimum = 1, maximum = 1440))]
    pub minutes: u32,
    /// When it started (RFC 3339).
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// A note (≤ 500 characters).
    #[serde(default)]
    pub note: Option<String>,
}

/// Mood as sent and shown.
#[derive(Clone, Debug, Deserialize, Serialize, salvo::oapi::ToSchema)]
pub struct MoodInput {
    /// 1 (low) to 5 (great).
    #[salvo(schema(minimum = 1, maximum = 5))]
    pub score: u8,
    /// An emoji (≤ 16 characters).
    #[serde(default)]
    pub emoji: String,
    /// A word (≤ 32 characters).
    #[serde(default)]
    pub label: String,
}

/// The whole day (PUT) or some of its fields (PATCH; absent fields stay, `null` clears).
#[derive(Clone, Debug, Default, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogInput {
    /// For batches: the day (YYYY-MM-DD). In the path otherwise.
    #[serde(default)]
    pub date: Option<String>,
    /// Study sessions (≤ 50; total ≤ 24 h).
    #[serde(default)]
    pub study_sessions: Option<Vec<SessionInput>>,
    /// Hours slept, 0 to 24.
    #[serde(default, deserialize_with = "super::double_option")]
    #[salvo(schema(value_type = Option<f64>))]
    pub sleep_hours: Option<Option<f64>>,
    /// Mood.
    #[serde(default, deserialize_with = "super::double_option")]
    #[salvo(schema(value_type = Option<MoodInput>))]
    pub mood: Option<Option<MoodInput>>,
    /// Tags (lower-cased, de-duplicated; ≤ 20 of ≤ 32 characters).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Description (≤ 2,000 characters).
    #[serde(default)]
    pub description: Option<String>,
    /// Notes (≤ 2,000 characters).
    #[serde(default)]
    pub notes: Option<String>,
}

/// A day as the API shows it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct LogView {
    /// The day (YYYY-MM-DD, the user's time zone).
    pub date: String,
    /// Study sessions.
    pub study_sessions: Vec<SessionInput>,
    /// Total study minutes.
    pub study_minutes: u32,
    /// Hours slept.
    pub sleep_hours: Option<f64>,
    /// Mood.
    pub mood: Option<MoodInput>,
    /// Tags.
    pub tags: Vec<String>,
    /// Description.
    pub description: String,
    /// Notes.
    pub notes: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

/// The API view of a stored day.
pub fn view(l: &DailyLog) -> LogView {
    LogView {
        date: l.date.format("%Y-%m-%d").to_string(),
        study_sessions: l
            .study_sessions
            .iter()
            .map(|s| SessionInput {
                id: Some(s.id),
                subject: s.subject.clone(),
                minutes: s.minutes,
                started_at: s.started_at,
                note: s.note.clone(),
            })
            .collect(),
        study_minutes: l.study_sessions.iter().map(|s| s.minutes).sum(),
        sleep_hours: l.sleep_hours,
        mood: l.mood.as_ref().map(|m| MoodInput { score: m.score, emoji: m.emoji.clone(), label: m.label.clone() }),
        tags: l.tags.clone(),
        description: l.description.clone(),
        notes: l.notes.clone(),
        updated_at: crate::clock::rfc3339(l.updated_at),
    }
}

/// Today in the user's time zone.
pub fn today(state: &AppState, user: Uuid) -> AppResult<NaiveDate> {
    let u = super::users::live_user(state, user)?;
    let tz: chrono_tz::Tz = u.timezone.parse().unwrap_or(chrono_tz::UTC);
    Ok(state.clock.now().with_timezone(&tz).date_naive())
}

/// Parses a `YYYY-MM-DD` day.
pub fn parse_date(s: &str, field: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| YEARS.contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| AppError::field(field, "must be a date like 2026-11-27, in the years 1900 to 9999"))
}

/// The years dates may fall in: four-digit years, so that date arithmetic never nears chrono's limits.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

/// Normalises a subject: trimmed, inner spaces collapsed, first letter upper-case.
pub fn normalize_subject(s: &str) -> String {
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = collapsed.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn normalize_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_lowercase();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Applies `input` to `base` (a new day or the stored one) and validates the result. Field names
/// in errors are prefixed with `prefix` (for batches: `logs[3].`).
fn merge(base: DailyLog, input: &LogInput, now: DateTime<Utc>, prefix: &str) -> AppResult<DailyLog> {
    let mut e = Errors::new();
    let f = |name: &str| format!("{prefix}{name}");
    let mut log = base;
    if let Some(sessions) = &input.study_sessions {
        if sessions.len() > MAX_SESSIONS {
            e.check(&f("study_sessions"), Err(format!("at most {MAX_SESSIONS} sessions a day")));
        }
        log.study_sessions = Vec::with_capacity(sessions.len());
        for (i, s) in sessions.iter().enumerate() {
            let subject = normalize_subject(&s.subject);
            let field = |n: &str| f(&format!("study_sessions[{i}].{n}"));
            e.check(&field("subject"), super::validate::text(&subject, 60, true));
            if s.minutes == 0 || s.minutes > 1440 {
                e.check(&field("minutes"), Err("must be 1 to 1440".into()));
            }
            if let Some(n) = &s.note {
                e.check(&field("note"), super::validate::text(n, 500, false));
            }
            log.study_sessions.push(StudySession {
                id: s.id.unwrap_or_else(crate::ids::new_id),
                subject,
                minutes: s.minutes,
                started_at: s.started_at,
                note: s.note.clone(),
            });
        }
        if log.study_sessions.iter().map(|s| s.minutes).sum::<u32>() > 1440 {
            e.check(&f("study_sessions"), Err("a day has at most 24 hours of study".into()));
        }
    }
    if let Some(sleep) = input.sleep_hours {
        if sleep.is_some_and(|h| !(0.0..=24.0).contains(&h) || h.is_nan()) {
            e.check(&f("sleep_hours"), Err("must be 0 to 24".into()));
        }
        log.sleep_hours = sleep;
    }
    if let Some(mood) = &input.mood {
        if let Some(m) = mood {
            if !(1..=5).contains(&m.score) {
                e.check(&f("mood.score"), Err("must be 1 to 5".into()));
            }
            e.check(&f("mood.emoji"), super::validate::text(&m.emoji, 16, false));
            e.check(&f("mood.label"), super::validate::text(&m.label, 32, false));
        }
        log.mood = mood.as_ref().map(|m| Mood { score: m.score, emoji: m.emoji.clone(), label: m.label.trim().to_string() });
    }
    if let Some(tags) = &input.tags {
        let tags = normalize_tags(tags);
        if tags.len() > 20 || tags.iter().any(|t| t.chars().count() > 32) {
            e.check(&f("tags"), Err("at most 20 tags of at most 32 characters".into()));
        }
        log.tags = tags;
    }
    if let Some(d) = &input.description {
        e.check(&f("description"), super::validate::text(d, 2000, false));
        log.description = d.clone();
    }
    if let Some(n) = &input.notes {
        e.check(&f("notes"), super::validate::text(n, 2000, false));
        log.notes = n.clone();
    }
    e.finish()?;
    log.updated_at = now;
    Ok(log)
}

fn empty(date: NaiveDate, now: DateTime<Utc>) -> DailyLog {
    DailyLog {
        date,
        study_sessions: Vec::new(),
        sleep_hours: None,
        mood: None,
        tags: Vec::new(),
        description: String::new(),
        notes: String::new(),
        updated_at: now,
    }
}

fn check_not_future(date: NaiveDate, today: NaiveDate, field: &str) -> AppResult<()> {
    if date > today {
        return Err(AppError::field(field, format!("{date} is in the future (today is {today} in your time zone)")));
    }
    Ok(())
}

/// PUT /activities/{date} (`replace`) or PATCH (merge into the stored day, 404 if none).
pub async fn write(state: &AppState, me: Caller, date: &str, input: LogInput, replace: bool) -> AppResult<LogView> {
    let date = parse_date(date, "date")?;
    check_not_future(date, today(state, me.id())?, "date")?;
    let now = state.clock.now();
    let base = match (replace, store::get(&state.store, me.id(), date)?) {
        (true, _) => empty(date, now),
        (false, Some(existing)) => existing,
        (false, None) => return Err(AppError::NotFound("activity log")),
    };
    let log = merge(base, &input, now, "")?;
    let saved = log.clone();
    state.store.write(move |s| store::put_all(s, me.id(), std::slice::from_ref(&saved))).await?;
    super::goals::refresh(state, me.id()).await?;
    Ok(view(&log))
}

/// POST /activities/batch: whole days, all accepted or none (errors name `logs[i].field`).
pub async fn batch(state: &AppState, me: Caller, logs: Vec<LogInput>) -> AppResult<Vec<LogView>> {
    if logs.is_empty() || logs.len() > MAX_DAYS {
        return Err(AppError::field("logs", format!("send 1 to {MAX_DAYS} days")));
    }
    let today = today(state, me.id())?;
    let now = state.clock.now();
    let mut out = Vec::with_capacity(logs.len());
    let mut errors: Vec<FieldError> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, input) in logs.iter().enumerate() {
        let prefix = format!("logs[{i}].");
        let date = match input.date.as_deref().map(|d| parse_date(d, &format!("{prefix}date"))) {
            Some(Ok(d)) => d,
            Some(Err(AppError::Validation(mut f))) => {
                errors.append(&mut f);
                continue;
            }
            _ => {
                errors.push(FieldError::new(format!("{prefix}date"), "each day needs its date"));
                continue;
            }
        };
        if !seen.insert(date) {
            errors.push(FieldError::new(format!("{prefix}date"), "this day appears twice"));
            continue;
        }
        match check_not_future(date, today, &format!("{prefix}date")).and_then(|_| merge(empty(date, now), input, now, &prefix)) {
            Ok(l) => out.push(l),
            Err(AppError::Validation(mut f)) => errors.append(&mut f),
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let saved = out.clone();
    state.store.write(move |s| store::put_all(s, me.id(), &saved)).await?;
    super::goals::refresh(state, me.id()).await?;
    Ok(out.iter().map(view).collect())
}

/// GET /activities?from&to (both inclusive; at most 366 days).
pub fn list(state: &AppState, me: Caller, from: &str, to: &str) -> AppResult<Vec<LogView>> {
    let (from, to) = (parse_date(from, "from")?, parse_date(to, "to")?);
    if to < from {
        return Err(AppError::field("to", "must not be before `from`"));
    }
    if (to - from).num_days() >= MAX_DAYS as i64 {
        return Err(AppError::field("to", format!("a range has at most {MAX_DAYS} days")));
    }
    Ok(store::range(&state.store, me.id(), from, to)?.iter().map(view).collect())
}

/// GET /activities/{date}.
pub fn get(state: &AppState, me: Caller, date: &str) -> AppResult<LogView> {
    let date = parse_date(date, "date")?;
    store::get(&state.store, me.id(), date)?.map(|l| view(&l)).ok_or(AppError::NotFound("activity log"))
}

/// DELETE /activities/{date}.
pub async fn delete(state: &AppState, me: Caller, date: &str) -> AppResult<()> {
    let date = parse_date(date, "date")?;
    let gone = state.store.write(move |s| store::delete(s, me.id(), date)).await?;
    super::goals::refresh(state, me.id()).await?;
    if gone { Ok(()) } else { Err(AppError::NotFound("activity log")) }
}

/// Every day, for the data export.
pub fn export(state: &AppState, me: Uuid) -> AppResult<Vec<LogView>> {
    Ok(store::all(&state.store, me)?.iter().map(view).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_tags_are_normalised() {
        assert_eq!(normalize_subject("  maths   and  physics "), "Maths and physics");
        assert_eq!(normalize_subject("élan"), "Élan");
        assert_eq!(normalize_tags(&[" Exam ".into(), "exam".into(), "".into(), "Group".into()]), vec!["exam", "group"]);
    }
}
