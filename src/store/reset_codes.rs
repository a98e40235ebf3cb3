//! One-time password reset codes that staff hand to a student (no e-mail needed): at most one per
//! account (a new one replaces it), kept as a hash, used once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, codec, io};
use crate::error::AppResult;

/// A code waiting to be used.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResetCode {
    /// SHA-256 (hex) of the normalised code.
    pub hash: String,
    /// It stops working then.
    pub expires_at: DateTime<Utc>,
    /// The staff member who issued it.
    pub issued_by: Uuid,
}

/// Stores `code` for `user`, replacing any earlier one.
pub fn put(store: &Store, user: Uuid, code: &ResetCode) -> AppResult<()> {
    store.t.reset_codes.insert(user.as_bytes(), codec::enc(code)).map_err(io)?;
    Ok(())
}

/// The code waiting for `user`, if any.
pub fn get(store: &Store, user: Uuid) -> AppResult<Option<ResetCode>> {
    store.t.reset_codes.get(user.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Removes `user`'s code if it is still the one with `hash`: true for exactly one caller.
pub fn take(store: &Store, user: Uuid, hash: &str) -> AppResult<bool> {
    let Some(current) = store.t.reset_codes.get(user.as_bytes()).map_err(io)? else { return Ok(false) };
    if codec::dec::<ResetCode>(&current)?.hash != hash {
        return Ok(false);
    }
    Ok(store.t.reset_codes.compare_and_swap(user.as_bytes(), Some(current), None::<&[u8]>).map_err(io)?.is_ok())
}
