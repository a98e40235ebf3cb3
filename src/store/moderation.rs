//! Reports of messages, notes and users, for the moderation queue: one open report per reporter
//! and thing reported (`abuse_report_open`: reporter ‖ entity → report id), kept when resolved.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::event_log::{self, Audience, LogRecord};
use super::{Store, codec, io};
use crate::error::AppResult;

/// A report as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReportRecord {
    /// Time-ordered id (the key).
    pub id: Uuid,
    /// Who reported.
    pub reporter: Uuid,
    /// `message`, `note` or `user`.
    pub entity_type: String,
    /// What was reported.
    pub entity_id: Uuid,
    /// The chat of a reported message.
    pub chat_id: Option<Uuid>,
    /// The author of the message or note, or the user reported.
    pub subject: Uuid,
    /// Why (the reporter's words).
    pub reason: String,
    /// More, if the reporter wrote more.
    pub details: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When staff resolved it.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who resolved it.
    pub resolved_by: Option<Uuid>,
    /// `dismiss`, `delete_content` or `disable_user`.
    pub action: Option<String>,
    /// The moderator's note (staff only).
    pub note: Option<String>,
}

fn open_key(reporter: Uuid, entity: Uuid) -> Vec<u8> {
    codec::Key::new().id(reporter).id(entity).build()
}

/// Stores a new report unless the reporter has an open one on the same thing: then the id of
/// that one.
pub fn create(store: &Store, r: &ReportRecord) -> AppResult<Result<(), Uuid>> {
    let claimed = store
        .t
        .abuse_report_open
        .compare_and_swap(open_key(r.reporter, r.entity_id), None::<&[u8]>, Some(r.id.as_bytes().as_slice()))
        .map_err(io)?;
    if let Err(e) = claimed {
        let existing = e.current.as_deref().map(|v| codec::id_at(v, 0)).transpose()?.unwrap_or(Uuid::nil());
        return Ok(Err(existing));
    }
    store.t.abuse_reports.insert(r.id.as_bytes(), codec::enc(r)).map_err(io)?;
    Ok(Ok(()))
}

/// Stores a resolved report with the `report.resolved` event for its reporter (`payload`), in
/// one transaction; the reporter may then report the same thing again.
pub fn resolve(store: &Store, r: &ReportRecord, payload: &serde_json::Value, first: u64) -> AppResult<Vec<LogRecord>> {
    let at = r.resolved_at.unwrap_or(r.created_at);
    let (_, events) = event_log::with_tree(store, &store.t.abuse_reports, first, |tree, log| {
        tree.insert(r.id.as_bytes().as_slice(), codec::enc(r))?;
        log.append("report.resolved", Audience::Users(vec![r.reporter]), payload.clone(), at)?;
        Ok(())
    })?;
    store.t.abuse_report_open.remove(open_key(r.reporter, r.entity_id)).map_err(io)?;
    Ok(events)
}

/// Puts a report back as it was (restore).
pub fn restore(store: &Store, r: &ReportRecord) -> AppResult<()> {
    store.t.abuse_reports.insert(r.id.as_bytes(), codec::enc(r)).map_err(io)?;
    if r.resolved_at.is_none() {
        store.t.abuse_report_open.insert(open_key(r.reporter, r.entity_id), r.id.as_bytes().as_slice()).map_err(io)?;
    }
    Ok(())
}

/// One report.
pub fn get(store: &Store, id: Uuid) -> AppResult<Option<ReportRecord>> {
    store.t.abuse_reports.get(id.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Reports newest first, strictly before `before` when given.
pub fn newest_first(store: &Store, before: Option<Uuid>) -> impl Iterator<Item = AppResult<ReportRecord>> + use<> {
    let end = before.unwrap_or(Uuid::max());
    store.t.abuse_reports.range(..end.as_bytes().to_vec()).values().rev().map(|v| codec::dec(&v.map_err(io)?))
}
