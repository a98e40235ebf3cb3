//! The audit log of staff actions: append-only (nothing here changes or removes an entry), keyed
//! by a time-ordered id, kept in backups and brought back by a restore.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, codec, io};
use crate::error::AppResult;

/// One staff action.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    /// Time-ordered id (UUID v7): the key.
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// The staff account that acted; None for the operator at the server's console
    /// (`friend admin create`, `friend restore`).
    pub actor_id: Option<Uuid>,
    /// Its username when it acted (kept if the account is renamed or deleted), or `operator`.
    pub actor: String,
    /// What was done: `user.create`, `user.update`, `invite.delete`, ...
    pub action: String,
    /// The kind of thing acted on: `user`, `invite`, `backup`, ...
    pub target_type: Option<String>,
    /// Its id (a user id, an invite code, a file name).
    pub target_id: Option<String>,
    /// The values before the action (only those it changed).
    pub old: Option<serde_json::Value>,
    /// The values after it.
    pub new: Option<serde_json::Value>,
    /// The address the request came from (None from the console).
    pub ip: Option<String>,
}

/// Appends an entry (inside the caller's write; made durable with it).
pub fn append(store: &Store, r: &AuditRecord) -> AppResult<()> {
    store.t.audit_log.insert(r.id.as_bytes(), codec::enc(r)).map_err(io)?;
    Ok(())
}

/// Entries newest first, strictly before the id `before` when given.
pub fn newest_first(store: &Store, before: Option<Uuid>) -> impl Iterator<Item = AppResult<AuditRecord>> + use<> {
    let end = before.unwrap_or(Uuid::max());
    store.t.audit_log.range(..end.as_bytes().to_vec()).values().rev().map(|v| codec::dec(&v.map_err(io)?))
}

/// Every entry, oldest first (backups).
pub fn all(store: &Store) -> impl Iterator<Item = AppResult<AuditRecord>> + use<> {
    store.t.audit_log.iter().values().map(|v| codec::dec(&v.map_err(io)?))
}
