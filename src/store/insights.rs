//! Computed insights: `insights` (user ‖ "set" → the latest [`InsightSet`]; user ‖ "week" → the ISO
//! week the weekly job last computed, so a restart repeats none and loses none). A set is replaced
//! whole, with its `insight` events, in one transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::event_log::{Audience, LogRecord};
use super::{Store, codec, io};
use crate::error::AppResult;

/// One stored insight.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct InsightRecord {
    /// Id.
    pub id: Uuid,
    /// Kind (`burnout_risk`, `goal_at_risk`, ...).
    pub kind: String,
    /// What it is about (a goal id, a subject), for recognising repeats.
    #[serde(default)]
    pub subject: Option<String>,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// 0..1.
    pub score: f64,
    /// The numbers behind it.
    pub evidence: Value,
    /// When it was computed.
    pub created_at: DateTime<Utc>,
}

/// Which model made a set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelRef {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// What it was trained on.
    pub trained_on: String,
}

/// A user's latest insights.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct InsightSet {
    /// When they were computed.
    pub computed_at: DateTime<Utc>,
    /// `ready` or `not_enough_data`.
    pub status: String,
    /// The model.
    pub model: ModelRef,
    /// Strongest first.
    pub items: Vec<InsightRecord>,
}

/// A set to store: for whom, the set, the week it is the weekly set of (if it is), and the
/// insights to announce with an `insight` event.
pub struct Write {
    /// The student.
    pub user: Uuid,
    /// The set.
    pub set: InsightSet,
    /// ISO week label (`2026-W49`) when the weekly job made it.
    pub week: Option<String>,
    /// Ids of the items to announce.
    pub announce: Vec<Uuid>,
}

fn set_key(user: Uuid) -> Vec<u8> {
    codec::Key::new().id(user).str("set").build()
}

fn week_key(user: Uuid) -> Vec<u8> {
    codec::Key::new().id(user).str("week").build()
}

/// The latest set.
pub fn get(store: &Store, user: Uuid) -> AppResult<Option<InsightSet>> {
    store.t.insights.get(set_key(user)).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// The week of the latest weekly set.
pub fn week(store: &Store, user: Uuid) -> AppResult<Option<String>> {
    Ok(store.t.insights.get(week_key(user)).map_err(io)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// Stores sets with their `insight` events (numbered from `first`) in one transaction.
pub fn put(store: &Store, writes: &[Write], at: DateTime<Utc>, first: u64) -> AppResult<Vec<LogRecord>> {
    super::event_log::with_tree(store, &store.t.insights, first, |tree, log| {
        for w in writes {
            tree.insert(set_key(w.user), codec::enc(&w.set))?;
            if let Some(week) = &w.week {
                tree.insert(week_key(w.user), week.as_bytes())?;
            }
            for i in w.set.items.iter().filter(|i| w.announce.contains(&i.id)) {
                let payload = serde_json::json!({ "insight_id": i.id, "kind": i.kind, "title": i.title, "body": i.body, "score": i.score });
                log.append("insight", Audience::Users(vec![w.user]), payload, at)?;
            }
        }
        Ok(())
    })
    .map(|(_, events)| events)
}

/// Forgets a user's insights and the weekly marker (opt-out, account deletion).
pub fn delete_all(store: &Store, user: Uuid) -> AppResult<()> {
    store.t.insights.remove(set_key(user)).map_err(io)?;
    store.t.insights.remove(week_key(user)).map_err(io)?;
    Ok(())
}

/// Every stored set (backup).
pub fn all(store: &Store) -> AppResult<Vec<(Uuid, InsightSet, Option<String>)>> {
    let mut out = Vec::new();
    for item in store.t.insights.iter() {
        let (k, v) = item.map_err(io)?;
        if k.ends_with(b"set\xff") {
            let user = codec::id_at(&k, 0)?;
            out.push((user, codec::dec(&v)?, week(store, user)?));
        }
    }
    Ok(out)
}

/// Puts back a set (restore), without events.
pub fn restore(store: &Store, user: Uuid, set: &InsightSet, week: Option<&str>) -> AppResult<()> {
    store.t.insights.insert(set_key(user), codec::enc(set)).map_err(io)?;
    if let Some(w) = week {
        store.t.insights.insert(week_key(user), w.as_bytes()).map_err(io)?;
    }
    Ok(())
}
