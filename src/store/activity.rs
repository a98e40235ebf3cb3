//! Daily activity logs: `activity_logs` (user ‖ YYYY-MM-DD → log). Dates are calendar days in the
//! user's own time zone, so a range scan of one user's keys is a date range.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, codec, io};
use crate::error::AppResult;

/// One study session of a day.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StudySession {
    /// Id.
    pub id: Uuid,
    /// Normalised subject.
    pub subject: String,
    /// Minutes.
    pub minutes: u32,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// A note.
    pub note: Option<String>,
}

/// Mood of a day.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Mood {
    /// 1..5.
    pub score: u8,
    /// An emoji.
    pub emoji: String,
    /// A word.
    pub label: String,
}

/// A stored day.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DailyLog {
    /// The day.
    pub date: NaiveDate,
    /// Study sessions.
    pub study_sessions: Vec<StudySession>,
    /// Hours slept.
    pub sleep_hours: Option<f64>,
    /// Mood.
    pub mood: Option<Mood>,
    /// Tags.
    pub tags: Vec<String>,
    /// Description.
    pub description: String,
    /// Notes.
    pub notes: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

fn key(user: Uuid, date: NaiveDate) -> Vec<u8> {
    codec::Key::new().id(user).str(&date.format("%Y-%m-%d").to_string()).build()
}

/// Reads a day.
pub fn get(store: &Store, user: Uuid, date: NaiveDate) -> AppResult<Option<DailyLog>> {
    store.t.activity_logs.get(key(user, date)).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Writes days (one batch, atomically).
pub fn put_all(store: &Store, user: Uuid, logs: &[DailyLog]) -> AppResult<()> {
    let mut batch = sled::Batch::default();
    for l in logs {
        batch.insert(key(user, l.date), codec::enc(l));
    }
    store.t.activity_logs.apply_batch(batch).map_err(io)
}

/// Deletes a day; false if there was none.
pub fn delete(store: &Store, user: Uuid, date: NaiveDate) -> AppResult<bool> {
    Ok(store.t.activity_logs.remove(key(user, date)).map_err(io)?.is_some())
}

/// Days from `from` to `to`, inclusive, oldest first.
pub fn range(store: &Store, user: Uuid, from: NaiveDate, to: NaiveDate) -> AppResult<Vec<DailyLog>> {
    store.t.activity_logs.range(key(user, from)..=key(user, to)).map(|r| codec::dec(&r.map_err(io)?.1)).collect()
}

/// Logged days from `to` going back to `from`, newest first, read lazily (streaks stop early).
pub fn back_from(store: &Store, user: Uuid, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = AppResult<DailyLog>> {
    store.t.activity_logs.range(key(user, from)..=key(user, to)).rev().map(|r| codec::dec(&r.map_err(io)?.1))
}

/// Every day of a user (export).
pub fn all(store: &Store, user: Uuid) -> AppResult<Vec<DailyLog>> {
    store.t.activity_logs.scan_prefix(user.as_bytes()).map(|r| codec::dec(&r.map_err(io)?.1)).collect()
}

/// Removes every day of a user (account deletion).
pub fn delete_all(store: &Store, user: Uuid) -> AppResult<()> {
    store.t.timers.remove(user.as_bytes()).map_err(io)?;
    let keys: Vec<sled::IVec> = store.t.activity_logs.scan_prefix(user.as_bytes()).keys().collect::<Result<_, _>>().map_err(io)?;
    let mut batch = sled::Batch::default();
    for k in keys {
        batch.remove(k);
    }
    store.t.activity_logs.apply_batch(batch).map_err(io)
}

/// A running study timer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Timer {
    /// Normalised subject.
    pub subject: String,
    /// Started.
    pub started_at: DateTime<Utc>,
}

/// The running timer of a user.
pub fn timer(store: &Store, user: Uuid) -> AppResult<Option<Timer>> {
    store.t.timers.get(user.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Starts a timer; false if one is already running.
pub fn start_timer(store: &Store, user: Uuid, t: &Timer) -> AppResult<bool> {
    Ok(store.t.timers.compare_and_swap(user.as_bytes(), None as Option<&[u8]>, Some(codec::enc(t))).map_err(io)?.is_ok())
}

/// Stops the timer and stores the resulting days in one transaction; None if none was running.
pub fn stop_timer(
    store: &Store,
    user: Uuid,
    days: impl Fn(&Timer) -> Vec<(NaiveDate, StudySession)>,
    now: DateTime<Utc>,
) -> AppResult<Option<(Timer, Vec<DailyLog>)>> {
    use sled::Transactional;
    super::tx((&store.t.timers, &store.t.activity_logs).transaction(|(timers, logs)| {
        let Some(raw) = timers.get(user.as_bytes())? else { return Ok(None) };
        let t: Timer = codec::dec(&raw).or_else(super::abort)?;
        timers.remove(user.as_bytes())?;
        let mut touched: Vec<DailyLog> = Vec::new();
        for (date, session) in days(&t) {
            let k = key(user, date);
            let mut log: DailyLog = match logs.get(&k)? {
                Some(v) => codec::dec(&v).or_else(super::abort)?,
                None => DailyLog {
                    date,
                    study_sessions: vec![],
                    sleep_hours: None,
                    mood: None,
                    tags: vec![],
                    description: String::new(),
                    notes: String::new(),
                    updated_at: now,
                },
            };
            log.study_sessions.push(session);
            log.updated_at = now;
            logs.insert(k, codec::enc(&log))?;
            touched.push(log);
        }
        Ok(Some((t, touched)))
    }))
}

/// Every running timer (for friends' `studying_now` there is a point lookup; this is for backups).
pub fn all_timers(store: &Store) -> AppResult<Vec<(Uuid, Timer)>> {
    store
        .t
        .timers
        .iter()
        .map(|r| {
            let (k, v) = r.map_err(io)?;
            Ok((codec::id_at(&k, 0).unwrap_or_default(), codec::dec(&v)?))
        })
        .collect()
}
