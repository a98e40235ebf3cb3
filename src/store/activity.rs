//! Daily activity logs: `activity_logs` (user ‖ YYYY-MM-DD → log) and `activity_days` (same key →
//! the day's totals in 8 bytes, then its sessions in brief; written in the same transaction). Dates are calendar days in the
//! user's own time zone, so a range scan of one user's keys is a date range.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;
use uuid::Uuid;

use super::{Store, codec, io};
use crate::error::{AppError, AppResult};

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

/// What a day adds up to, kept beside each log in `activity_days` (8 bytes) so that streaks,
/// goal progress, comparisons and rankings read long ranges without decoding whole logs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DayTotals {
    /// The day.
    pub date: NaiveDate,
    /// Minutes studied.
    pub minutes: u32,
    /// Hours slept (to the hundredth).
    pub sleep_hours: Option<f64>,
    /// Mood score.
    pub mood: Option<u8>,
}

impl DayTotals {
    /// The totals of a log.
    pub fn of(l: &DailyLog) -> Self {
        Self {
            date: l.date,
            minutes: l.study_sessions.iter().map(|s| s.minutes).sum(),
            sleep_hours: l.sleep_hours,
            mood: l.mood.as_ref().map(|m| m.score),
        }
    }

    fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.minutes.to_be_bytes());
        let sleep = self.sleep_hours.map_or(u16::MAX, |h| (h * 100.0).round().clamp(0.0, 65_000.0) as u16);
        b[4..6].copy_from_slice(&sleep.to_be_bytes());
        b[6] = self.mood.unwrap_or(0);
        b
    }

    fn decode(date: NaiveDate, b: &[u8]) -> Self {
        let minutes = b.get(..4).and_then(|x| x.try_into().ok()).map_or(0, u32::from_be_bytes);
        let sleep = b.get(4..6).and_then(|x| x.try_into().ok()).map_or(u16::MAX, u16::from_be_bytes);
        let mood = b.get(6).copied().unwrap_or(0);
        Self { date, minutes, sleep_hours: (sleep != u16::MAX).then(|| f64::from(sleep) / 100.0), mood: (mood != 0).then_some(mood) }
    }
}

fn date_at(key: &[u8]) -> NaiveDate {
    // user (16 bytes) ‖ YYYY-MM-DD ‖ 0xFF
    std::str::from_utf8(key.get(16..26).unwrap_or_default()).ok().and_then(|s| s.parse().ok()).unwrap_or_default()
}

/// Writes days and their totals (one transaction).
pub fn put_all(store: &Store, user: Uuid, logs: &[DailyLog]) -> AppResult<()> {
    let t = &store.t;
    super::tx((&t.activity_logs, &t.activity_days).transaction(|(days, totals)| {
        for l in logs {
            days.insert(key(user, l.date), codec::enc(l))?;
            totals.insert(key(user, l.date), encode_day(l))?;
        }
        Ok::<_, ConflictableTransactionError<AppError>>(())
    }))
}

/// Deletes a day; false if there was none.
pub fn delete(store: &Store, user: Uuid, date: NaiveDate) -> AppResult<bool> {
    let t = &store.t;
    super::tx((&t.activity_logs, &t.activity_days).transaction(|(days, totals)| {
        totals.remove(key(user, date))?;
        Ok::<_, ConflictableTransactionError<AppError>>(days.remove(key(user, date))?.is_some())
    }))
}

/// Totals of the logged days from `from` to `to`, oldest first.
pub fn totals(store: &Store, user: Uuid, from: NaiveDate, to: NaiveDate) -> AppResult<Vec<DayTotals>> {
    store
        .t
        .activity_days
        .range(key(user, from)..=key(user, to))
        .map(|r| r.map(|(k, v)| DayTotals::decode(date_at(&k), &v)).map_err(io))
        .collect()
}

/// Totals of the logged days from `to` back to `from`, newest first, read lazily.
pub fn totals_back_from(store: &Store, user: Uuid, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = AppResult<DayTotals>> {
    store
        .t
        .activity_days
        .range(key(user, from)..=key(user, to))
        .rev()
        .map(|r| r.map(|(k, v)| DayTotals::decode(date_at(&k), &v)).map_err(io))
}

/// Fills `activity_days` from the logs (migrations to schema 2, then 5 for the sessions in brief).
pub fn build_totals(store: &Store) -> AppResult<()> {
    for item in store.t.activity_logs.iter() {
        let (k, v) = item.map_err(io)?;
        let log: DailyLog = codec::dec(&v)?;
        store.t.activity_days.insert(k, encode_day(&log)).map_err(io)?;
    }
    Ok(())
}

/// Days from `from` to `to`, inclusive, oldest first.
pub fn range(store: &Store, user: Uuid, from: NaiveDate, to: NaiveDate) -> AppResult<Vec<DailyLog>> {
    store.t.activity_logs.range(key(user, from)..=key(user, to)).map(|r| codec::dec(&r.map_err(io)?.1)).collect()
}

/// A study session in brief.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionFacts {
    /// Normalised subject.
    pub subject: String,
    /// Minutes.
    pub minutes: u32,
    /// When it started (to the second).
    pub started_at: Option<DateTime<Utc>>,
}

/// A day without its free text, as kept in `activity_days`: what insights and subject goals scan
/// over months without decoding whole logs.
#[derive(Clone, Debug, PartialEq)]
pub struct DayFacts {
    /// The day.
    pub date: NaiveDate,
    /// Study sessions.
    pub study_sessions: Vec<SessionFacts>,
    /// Hours slept (to the hundredth).
    pub sleep_hours: Option<f64>,
    /// Mood score.
    pub mood: Option<u8>,
}

/// No start time, in the brief form.
const NO_START: i64 = i64::MIN;

/// A log as stored in `activity_days`: [`DayTotals`] (8 bytes), then per session its minutes (u32),
/// start (unix seconds, i64) and subject (u16 length, UTF-8), all big-endian.
fn encode_day(l: &DailyLog) -> Vec<u8> {
    let mut b = DayTotals::of(l).encode().to_vec();
    for s in &l.study_sessions {
        let subject = &s.subject.as_bytes()[..s.subject.len().min(usize::from(u16::MAX))];
        b.extend_from_slice(&s.minutes.to_be_bytes());
        b.extend_from_slice(&s.started_at.map_or(NO_START, |t| t.timestamp()).to_be_bytes());
        b.extend_from_slice(&(subject.len() as u16).to_be_bytes());
        b.extend_from_slice(subject);
    }
    b
}

impl DayFacts {
    fn decode(date: NaiveDate, b: &[u8]) -> AppResult<Self> {
        let t = DayTotals::decode(date, b);
        let corrupt = || AppError::internal(format!("corrupt day record of {date}"));
        let mut sessions = Vec::new();
        let mut rest = b.get(8..).unwrap_or_default();
        while !rest.is_empty() {
            let (head, tail) = rest.split_at_checked(14).ok_or_else(corrupt)?;
            let minutes = u32::from_be_bytes(head[..4].try_into().map_err(|_| corrupt())?);
            let start = i64::from_be_bytes(head[4..12].try_into().map_err(|_| corrupt())?);
            let len = usize::from(u16::from_be_bytes(head[12..14].try_into().map_err(|_| corrupt())?));
            let (subject, tail) = tail.split_at_checked(len).ok_or_else(corrupt)?;
            sessions.push(SessionFacts {
                subject: String::from_utf8_lossy(subject).into_owned(),
                minutes,
                started_at: (start != NO_START).then(|| DateTime::from_timestamp(start, 0)).flatten(),
            });
            rest = tail;
        }
        Ok(Self { date, study_sessions: sessions, sleep_hours: t.sleep_hours, mood: t.mood })
    }
}

/// The facts of the logged days from `from` to `to`, inclusive, oldest first.
pub fn facts(store: &Store, user: Uuid, from: NaiveDate, to: NaiveDate) -> AppResult<Vec<DayFacts>> {
    store
        .t
        .activity_days
        .range(key(user, from)..=key(user, to))
        .map(|r| r.map_err(io).and_then(|(k, v)| DayFacts::decode(date_at(&k), &v)))
        .collect()
}

/// Every day of a user (export).
pub fn all(store: &Store, user: Uuid) -> AppResult<Vec<DailyLog>> {
    store.t.activity_logs.scan_prefix(user.as_bytes()).map(|r| codec::dec(&r.map_err(io)?.1)).collect()
}

/// Removes every day of a user (account deletion).
pub fn delete_all(store: &Store, user: Uuid) -> AppResult<()> {
    store.t.timers.remove(user.as_bytes()).map_err(io)?;
    for tree in [&store.t.activity_logs, &store.t.activity_days] {
        let keys: Vec<sled::IVec> = tree.scan_prefix(user.as_bytes()).keys().collect::<Result<_, _>>().map_err(io)?;
        let mut batch = sled::Batch::default();
        for k in keys {
            batch.remove(k);
        }
        tree.apply_batch(batch).map_err(io)?;
    }
    Ok(())
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
    super::tx((&store.t.timers, &store.t.activity_logs, &store.t.activity_days).transaction(|(timers, logs, totals)| {
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
            totals.insert(k.clone(), encode_day(&log))?;
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
            Ok((codec::id_at(&k, 0)?, codec::dec(&v)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_totals_round_trip_in_eight_bytes() {
        let date = NaiveDate::from_ymd_opt(2028, 2, 29).unwrap();
        let full = DayTotals { date, minutes: 1440, sleep_hours: Some(7.25), mood: Some(5) };
        assert_eq!(DayTotals::decode(date, &full.encode()), full);
        let empty = DayTotals { date, minutes: 0, sleep_hours: None, mood: None };
        assert_eq!(DayTotals::decode(date, &empty.encode()), empty);
        assert_eq!(date_at(&key(Uuid::nil(), date)), date);
    }

    #[tokio::test]
    async fn a_days_facts_keep_its_sessions_in_brief() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let (user, date) = (crate::ids::new_id(), NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
        let at = DateTime::from_timestamp(1_795_000_000, 0);
        let session = |subject: &str, minutes, started_at| StudySession {
            id: Uuid::nil(),
            subject: subject.into(),
            minutes,
            started_at,
            note: Some("long text".into()),
        };
        let log = DailyLog {
            date,
            study_sessions: vec![session("Maths", 45, at), session("Histoire-géo", 0, None), session("", 30, None)],
            sleep_hours: Some(7.25),
            mood: Some(Mood { score: 4, emoji: "🙂".into(), label: "good".into() }),
            tags: vec!["exam".into()],
            description: "a day".into(),
            notes: "notes".into(),
            updated_at: Utc::now(),
        };
        put_all(&store, user, std::slice::from_ref(&log)).unwrap();
        let brief = |s: &StudySession| SessionFacts { subject: s.subject.clone(), minutes: s.minutes, started_at: s.started_at };
        let want =
            DayFacts { date, study_sessions: log.study_sessions.iter().map(brief).collect(), sleep_hours: Some(7.25), mood: Some(4) };
        assert_eq!(facts(&store, user, date, date).unwrap(), vec![want]);
        assert_eq!(totals(&store, user, date, date).unwrap()[0].minutes, 75);
        store.t.activity_days.insert(key(user, date), &[0u8; 12][..]).unwrap();
        assert!(facts(&store, user, date, date).is_err(), "a truncated record is reported, not misread");
    }

    #[tokio::test]
    async fn migration_2_builds_the_totals_of_existing_logs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let (user, date) = (crate::ids::new_id(), NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
        let session = StudySession { id: Uuid::nil(), subject: "Maths".into(), minutes: 45, started_at: None, note: None };
        let log = DailyLog {
            date,
            study_sessions: vec![session.clone(), session],
            sleep_hours: Some(8.5),
            mood: None,
            tags: vec![],
            description: String::new(),
            notes: String::new(),
            updated_at: Utc::now(),
        };
        put_all(&store, user, &[log]).unwrap();
        store.t.activity_days.clear().unwrap();
        store.t.meta.insert(super::super::meta::SCHEMA_KEY, &1u64.to_be_bytes()).unwrap();
        super::super::meta::migrate(&store).unwrap();
        let t = totals(&store, user, date, date).unwrap();
        assert_eq!(t, vec![DayTotals { date, minutes: 90, sleep_hours: Some(8.5), mood: None }]);
        assert_eq!(super::super::meta::schema_version(&store).unwrap(), Some(super::super::SCHEMA_VERSION));
    }
}
