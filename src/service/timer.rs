//! The study timer: start with a subject, stop to add the session to the right day(s), split at
//! midnight in the user's time zone. While it runs, friends see `studying_now`.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::activity::{LogView, normalize_subject, view};
use crate::access::Caller;
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::activity::{self as store, StudySession, Timer};

/// What friends see while someone studies.
#[derive(Clone, Debug, Serialize, salvo::oapi::ToSchema)]
pub struct StudyingNow {
    /// Subject.
    pub subject: String,
    /// Since (RFC 3339).
    pub since: String,
}

/// The timer as the API shows it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct TimerView {
    /// True while it runs.
    pub running: bool,
    /// Subject.
    pub subject: Option<String>,
    /// Started (RFC 3339).
    pub started_at: Option<String>,
    /// Minutes so far (capped at `activity.timer_cap_hours`).
    pub elapsed_minutes: Option<i64>,
    /// True when it ran past the cap.
    pub capped: bool,
}

/// What stopping the timer stored.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct StopResult {
    /// The days that got a session (two when it ran past midnight).
    pub days: Vec<LogView>,
    /// Minutes counted.
    pub minutes: i64,
    /// True when the timer ran longer than the cap and only the cap was counted.
    pub capped: bool,
}

fn cap(state: &AppState) -> Duration {
    Duration::hours(i64::from(state.config.activity.timer_cap_hours.max(1)))
}

fn timezone(state: &AppState, user: Uuid) -> AppResult<chrono_tz::Tz> {
    Ok(super::users::live_user(state, user)?.timezone.parse().unwrap_or(chrono_tz::UTC))
}

/// The running timer of `user` as friends see it.
pub fn studying_now(state: &AppState, user: Uuid) -> Option<StudyingNow> {
    let t = store::timer(&state.store, user).ok().flatten()?;
    (state.clock.now() - t.started_at < cap(state)).then(|| StudyingNow { subject: t.subject, since: rfc3339(t.started_at) })
}

fn timer_view(state: &AppState, t: Option<&Timer>) -> TimerView {
    match t {
        None => TimerView { running: false, subject: None, started_at: None, elapsed_minutes: None, capped: false },
        Some(t) => {
            let elapsed = state.clock.now() - t.started_at;
            let capped = elapsed > cap(state);
            TimerView {
                running: true,
                subject: Some(t.subject.clone()),
                started_at: Some(rfc3339(t.started_at)),
                elapsed_minutes: Some(elapsed.min(cap(state)).num_minutes()),
                capped,
            }
        }
    }
}

/// Splits `[start, end)` at local midnights into (day, start, minutes) pieces of at least a minute.
pub fn split_at_midnight(tz: chrono_tz::Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<(NaiveDate, DateTime<Utc>, i64)> {
    let mut out = Vec::new();
    let mut cur = start;
    while cur < end {
        let date = cur.with_timezone(&tz).date_naive();
        let next_day = date.succ_opt().unwrap_or(date);
        let midnight = tz
            .from_local_datetime(&next_day.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(end);
        let stop = midnight.min(end).max(cur + Duration::seconds(1));
        let minutes = ((stop - cur).num_seconds() as f64 / 60.0).round() as i64;
        if minutes >= 1 {
            out.push((date, cur, minutes));
        }
        cur = stop;
    }
    out
}

/// POST /study-timer/start.
pub async fn start(state: &Arc<AppState>, me: Caller, subject: &str) -> AppResult<TimerView> {
    let subject = normalize_subject(subject);
    let mut e = super::validate::Errors::new();
    e.check("subject", super::validate::text(&subject, 60, true));
    e.finish()?;
    let t = Timer { subject, started_at: state.clock.now() };
    let t2 = t.clone();
    if !state.store.write(move |s| store::start_timer(s, me.id(), &t2)).await? {
        return Err(AppError::Conflict("a timer is already running; stop it first".into(), vec![]));
    }
    super::presence::studying_changed(state, me.id());
    Ok(timer_view(state, Some(&t)))
}

/// GET /study-timer.
pub fn status(state: &AppState, me: Caller) -> AppResult<TimerView> {
    Ok(timer_view(state, store::timer(&state.store, me.id())?.as_ref()))
}

/// POST /study-timer/stop: adds the session(s), capped and flagged past the cap.
pub async fn stop(state: &Arc<AppState>, me: Caller) -> AppResult<StopResult> {
    let tz = timezone(state, me.id())?;
    let now = state.clock.now();
    let limit = cap(state);
    let split = move |t: &Timer| -> Vec<(NaiveDate, StudySession)> {
        let end = now.min(t.started_at + limit);
        let capped = now - t.started_at > limit;
        split_at_midnight(tz, t.started_at, end)
            .into_iter()
            .map(|(date, from, minutes)| {
                let note = capped.then(|| "timer ran past the cap; only the cap was counted".to_string());
                (
                    date,
                    StudySession {
                        id: crate::ids::new_id(),
                        subject: t.subject.clone(),
                        minutes: minutes as u32,
                        started_at: Some(from),
                        note,
                    },
                )
            })
            .collect()
    };
    let stopped = state.store.write(move |s| store::stop_timer(s, me.id(), split, now)).await?;
    let (t, days) = stopped.ok_or(AppError::Conflict("no timer is running".into(), vec![]))?;
    super::presence::studying_changed(state, me.id());
    super::goals::refresh(state, me.id()).await?;
    let counted = (now.min(t.started_at + limit) - t.started_at).num_minutes();
    Ok(StopResult { days: days.iter().map(view).collect(), minutes: counted, capped: now - t.started_at > limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn sessions_split_at_local_midnight() {
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        // 23:30 to 01:15 Paris time (UTC+1 in winter).
        let parts = split_at_midnight(tz, at("2026-11-27T22:30:00Z"), at("2026-11-28T00:15:00Z"));
        let days: Vec<(String, i64)> = parts.iter().map(|(d, _, m)| (d.to_string(), *m)).collect();
        assert_eq!(days, [("2026-11-27".to_string(), 30), ("2026-11-28".to_string(), 75)]);
    }

    #[test]
    fn dst_days_are_23_hours_long() {
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        // 29 March 2026: clocks jump from 02:00 to 03:00; the day has 23 hours.
        let parts = split_at_midnight(tz, at("2026-03-28T23:00:00Z"), at("2026-03-29T22:00:00Z"));
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].2, 23 * 60);
    }

    #[test]
    fn short_pieces_are_dropped() {
        let parts = split_at_midnight(chrono_tz::UTC, at("2026-01-01T10:00:00Z"), at("2026-01-01T10:00:20Z"));
        assert!(parts.is_empty());
    }
}
