//! What the staff dashboard shows over time: messages and notes written each day and who was
//! active (signed in, refreshed a session or opened a socket) in the school's time zone, counted
//! in memory ([`crate::infra::tally`]) and flushed to storage by the jobs loop and at shutdown.

use chrono::NaiveDate;
use serde::Serialize;
use uuid::Uuid;

use crate::error::AppResult;
use crate::infra::tally::Kind;
use crate::state::AppState;
use crate::store::daily;

/// Longest history the dashboard asks for, in days.
pub const MAX_DAYS: u32 = 90;

/// Today in the school's time zone (`default_timezone`).
pub fn school_today(state: &AppState) -> NaiveDate {
    let tz: chrono_tz::Tz = state.settings().default_timezone.parse().unwrap_or(chrono_tz::UTC);
    state.clock.now().with_timezone(&tz).date_naive()
}

/// `user` is active now.
pub fn seen(state: &AppState, user: Uuid) {
    state.tally.active(school_today(state), user);
}

/// One more message or note today.
pub fn counted(state: &AppState, kind: Kind) {
    state.tally.count(school_today(state), kind);
}

/// Writes what was counted since the last flush; on failure it is kept for the next one.
pub fn flush(state: &AppState) -> AppResult<()> {
    let pending = state.tally.take();
    if pending.is_empty() {
        return Ok(());
    }
    match daily::add(&state.store, &pending, school_today(state)) {
        Ok(()) => Ok(()),
        Err(e) => {
            state.tally.restore(pending);
            Err(e)
        }
    }
}

/// One day of school activity.
#[derive(Clone, Debug, Serialize, salvo::oapi::ToSchema)]
pub struct DayActivity {
    /// The school's local date, `YYYY-MM-DD`.
    pub date: String,
    /// Chat messages sent.
    pub messages: u64,
    /// Notes written.
    pub notes: u64,
    /// Accounts active that day.
    pub active_users: u64,
}

/// The last `days` days, oldest first, today included (counted so far).
pub fn history(state: &AppState, days: u32) -> AppResult<Vec<DayActivity>> {
    flush(state)?;
    let today = school_today(state);
    (0..days.clamp(1, MAX_DAYS) as i64)
        .rev()
        .map(|back| {
            let d = today - chrono::Duration::days(back);
            Ok(DayActivity {
                date: d.format("%Y-%m-%d").to_string(),
                messages: daily::count(&state.store, d, Kind::Messages)?,
                notes: daily::count(&state.store, d, Kind::Notes)?,
                active_users: daily::active(&state.store, d, d)?.len() as u64,
            })
        })
        .collect()
}

/// Accounts active today and in the last 7 days (today included), as stored (after [`history`],
/// which writes the pending counts first).
pub fn active_now(state: &AppState) -> AppResult<(u64, u64)> {
    let today = school_today(state);
    let day = daily::active(&state.store, today, today)?.len() as u64;
    let week = daily::active(&state.store, today - chrono::Duration::days(6), today)?.len() as u64;
    Ok((day, week))
}
