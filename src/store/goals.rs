//! Goals: `goals` (user ‖ goal id → goal).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::event_log::{Event, LogRecord};
use super::{Store, codec, io};
use crate::error::AppResult;

/// weekly | monthly | custom.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Seven days from `start_date`.
    Weekly,
    /// `start_date` to the end of its month.
    Monthly,
    /// `start_date` to `end_date`.
    Custom,
}

/// What a goal measures.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Minutes studied (optionally of one subject).
    StudyMinutes,
    /// Average hours slept over the days logged.
    SleepHours,
    /// Days with any study.
    StudyDays,
    /// Progress reported by hand.
    Custom,
}

/// active | completed | failed.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoalStatus {
    /// Running.
    Active,
    /// Target reached.
    Completed,
    /// Period ended short of the target.
    Failed,
}

/// A stored goal.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GoalRecord {
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
    /// Subject filter for study minutes.
    pub subject: Option<String>,
    /// Target.
    pub target_value: f64,
    /// First day.
    pub start_date: NaiveDate,
    /// Last day.
    pub end_date: NaiveDate,
    /// Progress reported by hand (custom metric).
    pub manual_progress: f64,
    /// Status.
    pub status: GoalStatus,
    /// When the target was reached.
    pub completed_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

fn key(user: Uuid, id: Uuid) -> Vec<u8> {
    codec::Key::new().id(user).id(id).build()
}

/// Reads a goal of a user.
pub fn get(store: &Store, user: Uuid, id: Uuid) -> AppResult<Option<GoalRecord>> {
    store.t.goals.get(key(user, id)).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Writes a goal.
pub fn put(store: &Store, user: Uuid, g: &GoalRecord) -> AppResult<()> {
    store.t.goals.insert(key(user, g.id), codec::enc(g)).map_err(io)?;
    Ok(())
}

/// Writes goals that left `active`, each with its event, in one transaction; events are
/// numbered from `first`. A goal that is no longer active in storage (another request got there
/// first) or was deleted is skipped, so each transition is logged once.
pub fn put_with_events(
    store: &Store,
    user: Uuid,
    changed: &[(GoalRecord, Event)],
    first: u64,
    at: DateTime<Utc>,
) -> AppResult<Vec<LogRecord>> {
    super::event_log::with_tree(store, &store.t.goals, first, |goals, log| {
        for (g, e) in changed {
            let Some(raw) = goals.get(key(user, g.id))? else { continue };
            let current: GoalRecord = codec::dec(&raw).or_else(super::abort)?;
            if current.status != GoalStatus::Active {
                continue;
            }
            goals.insert(key(user, g.id), codec::enc(g))?;
            log.add(e, at)?;
        }
        Ok(())
    })
    .map(|(_, events)| events)
}

fn reminder_key(user: Uuid, goal: Uuid, start: NaiveDate) -> Vec<u8> {
    codec::Key::new().id(user).id(goal).str(&start.to_string()).build()
}

/// True if the goal's period starting `start` had its reminder (`goal_reminders`: user ‖ goal ‖
/// period start → ()).
pub fn reminded(store: &Store, user: Uuid, goal: Uuid, start: NaiveDate) -> AppResult<bool> {
    store.t.goal_reminders.contains_key(reminder_key(user, goal, start)).map_err(io)
}

/// Marks reminders sent, each with its `goal_reminder` event, in one transaction (a crash keeps
/// both or neither).
pub fn mark_reminded(
    store: &Store,
    user: Uuid,
    due: &[(Uuid, NaiveDate, Event)],
    first: u64,
    at: DateTime<Utc>,
) -> AppResult<Vec<LogRecord>> {
    super::event_log::with_tree(store, &store.t.goal_reminders, first, |marks, log| {
        for (goal, start, e) in due {
            if marks.insert(reminder_key(user, *goal, *start), &[] as &[u8])?.is_none() {
                log.add(e, at)?;
            }
        }
        Ok(())
    })
    .map(|(_, events)| events)
}

/// Deletes a goal; false if absent.
pub fn delete(store: &Store, user: Uuid, id: Uuid) -> AppResult<bool> {
    Ok(store.t.goals.remove(key(user, id)).map_err(io)?.is_some())
}

/// Every goal of a user, oldest first.
pub fn list(store: &Store, user: Uuid) -> AppResult<Vec<GoalRecord>> {
    store.t.goals.scan_prefix(user.as_bytes()).map(|r| codec::dec(&r.map_err(io)?.1)).collect()
}

/// Every goal of every user (backups).
pub fn all(store: &Store) -> AppResult<Vec<(Uuid, GoalRecord)>> {
    store
        .t
        .goals
        .iter()
        .map(|r| {
            let (k, v) = r.map_err(io)?;
            Ok((codec::id_at(&k, 0)?, codec::dec(&v)?))
        })
        .collect()
}

/// Removes a user's goals (account deletion).
pub fn delete_all(store: &Store, user: Uuid) -> AppResult<()> {
    for g in list(store, user)? {
        delete(store, user, g.id)?;
    }
    for k in store.t.goal_reminders.scan_prefix(user.as_bytes()).keys() {
        store.t.goal_reminders.remove(k.map_err(io)?).map_err(io)?;
    }
    Ok(())
}
