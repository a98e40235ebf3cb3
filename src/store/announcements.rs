//! Announcements from staff: the announcement with its recipients (fixed when sent) and an
//! `announcement` event for the notification follower, in one transaction; acknowledgements kept
//! apart (`announcement ‖ user → time`), so a student's acknowledgement never rewrites the record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::event_log::{self, Audience, LogRecord};
use super::{Store, codec, io};
use crate::error::AppResult;

/// An announcement as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AnnouncementRecord {
    /// Time-ordered id (the key).
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// Who it was for, as staff chose it (`{"all": true}`, `{"role": …}`, `{"chat_id": …}`).
    pub audience: serde_json::Value,
    /// The accounts it was sent to.
    pub recipients: Vec<Uuid>,
    /// The staff member who sent it.
    pub created_by: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
}

fn ack_key(announcement: Uuid, user: Uuid) -> Vec<u8> {
    codec::Key::new().id(announcement).id(user).build()
}

/// Stores `a` and appends its `announcement` event (audience: the recipients).
pub fn create(store: &Store, a: &AnnouncementRecord, first: u64) -> AppResult<Vec<LogRecord>> {
    let payload = serde_json::json!({ "announcement_id": a.id, "title": a.title, "body": a.body });
    event_log::with_tree(store, &store.t.announcements, first, |tree, log| {
        tree.insert(a.id.as_bytes().as_slice(), codec::enc(a))?;
        log.append("announcement", Audience::Users(a.recipients.clone()), payload.clone(), a.created_at)?;
        Ok(())
    })
    .map(|(_, events)| events)
}

/// Puts a record back as it was (restore).
pub fn restore(store: &Store, a: &AnnouncementRecord) -> AppResult<()> {
    store.t.announcements.insert(a.id.as_bytes(), codec::enc(a)).map_err(io)?;
    Ok(())
}

/// One announcement.
pub fn get(store: &Store, id: Uuid) -> AppResult<Option<AnnouncementRecord>> {
    store.t.announcements.get(id.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Announcements newest first, strictly before `before` when given.
pub fn newest_first(store: &Store, before: Option<Uuid>) -> impl Iterator<Item = AppResult<AnnouncementRecord>> + use<> {
    let end = before.unwrap_or(Uuid::max());
    store.t.announcements.range(..end.as_bytes().to_vec()).values().rev().map(|v| codec::dec(&v.map_err(io)?))
}

/// Records that `user` acknowledged `announcement` at `at` (the first time counts); true if new.
pub fn ack(store: &Store, announcement: Uuid, user: Uuid, at: DateTime<Utc>) -> AppResult<bool> {
    let done = store.t.announcement_acks.compare_and_swap(ack_key(announcement, user), None::<&[u8]>, Some(codec::enc(&at))).map_err(io)?;
    Ok(done.is_ok())
}

/// When `user` acknowledged `announcement`, if they did.
pub fn acked_at(store: &Store, announcement: Uuid, user: Uuid) -> AppResult<Option<DateTime<Utc>>> {
    store.t.announcement_acks.get(ack_key(announcement, user)).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Everyone who acknowledged `announcement`, with when.
pub fn acks(store: &Store, announcement: Uuid) -> AppResult<Vec<(Uuid, DateTime<Utc>)>> {
    let mut out = Vec::new();
    for item in store.t.announcement_acks.scan_prefix(announcement.as_bytes()) {
        let (k, v) = item.map_err(io)?;
        out.push((codec::id_at(&k, 16)?, codec::dec(&v)?));
    }
    Ok(out)
}

/// Every acknowledgement (backups): (announcement, user, when).
pub fn all_acks(store: &Store) -> impl Iterator<Item = AppResult<(Uuid, Uuid, DateTime<Utc>)>> + use<> {
    store.t.announcement_acks.iter().map(|item| {
        let (k, v) = item.map_err(io)?;
        Ok((codec::id_at(&k, 0)?, codec::id_at(&k, 16)?, codec::dec(&v)?))
    })
}
