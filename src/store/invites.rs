//! Invite codes: checked and consumed in the same transaction as the account they create.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, abort, codec, io};
use crate::error::{AppError, AppResult};

/// An invite code.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InviteRecord {
    /// The code people type.
    pub code: String,
    /// Staff member who made it.
    pub created_by: Uuid,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Stops working after this time.
    pub expires_at: Option<DateTime<Utc>>,
    /// Stops working after this many accounts (None: unlimited).
    pub max_uses: Option<u32>,
    /// Accounts created with it.
    pub uses: u32,
    /// Group chat to join on sign-up (used by the chat capability).
    #[serde(default)]
    pub group_chat_id: Option<Uuid>,
}

fn key(code: &str) -> Vec<u8> {
    codec::fold(code).into_bytes()
}

fn invalid() -> AppError {
    AppError::field("invite_code", "this invite code is unknown, expired or used up")
}

/// Checks and counts one use of `code` inside a registration transaction.
pub(crate) fn consume_in(
    invites: &sled::transaction::TransactionalTree,
    code: &str,
    now: DateTime<Utc>,
) -> sled::transaction::ConflictableTransactionResult<(), AppError> {
    let Some(raw) = invites.get(key(code))? else { return abort(invalid()) };
    let mut inv: InviteRecord = match codec::dec(&raw) {
        Ok(i) => i,
        Err(e) => return abort(e),
    };
    if inv.expires_at.is_some_and(|t| t <= now) || inv.max_uses.is_some_and(|m| inv.uses >= m) {
        return abort(invalid());
    }
    inv.uses += 1;
    invites.insert(key(code), codec::enc(&inv))?;
    Ok(())
}

/// Stores a new invite; 409 if the code exists.
pub fn insert(store: &Store, inv: &InviteRecord) -> AppResult<()> {
    store
        .t
        .invites
        .compare_and_swap(key(&inv.code), None as Option<&[u8]>, Some(codec::enc(inv)))
        .map_err(io)?
        .map_err(|_| AppError::Conflict("this invite code exists".into(), vec![]))
}

/// Reads an invite.
pub fn get(store: &Store, code: &str) -> AppResult<Option<InviteRecord>> {
    store.t.invites.get(key(code)).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Every invite.
pub fn list(store: &Store) -> AppResult<Vec<InviteRecord>> {
    store.t.invites.iter().map(|r| codec::dec(&r.map_err(io)?.1)).collect()
}

/// Removes an invite and returns it (404 when there is none).
pub fn remove(store: &Store, code: &str) -> AppResult<InviteRecord> {
    let gone = store.t.invites.remove(key(code)).map_err(io)?.ok_or(AppError::NotFound("invite"))?;
    codec::dec(&gone)
}
