//! Refresh sessions: one per signed-in device, with the seed and generation of its refresh tokens.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use uuid::Uuid;

use super::{Store, abort, codec, io, tx};
use crate::error::{AppError, AppResult};

/// A signed-in device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Session id (also in the access token as `sid`).
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Device description (User-Agent, trimmed).
    pub device: String,
    /// Client IP at sign-in.
    pub ip: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last refresh.
    pub last_used_at: DateTime<Utc>,
    /// When the session ends unless refreshed.
    pub expires_at: DateTime<Utc>,
    /// sha256 (hex) of the current refresh token of the legacy form (empty once the session
    /// moved to generations).
    #[serde(default)]
    pub token_hash: String,
    /// Hashes of rotated legacy tokens: presenting one of them revokes the session.
    #[serde(default)]
    pub old_hashes: Vec<String>,
    /// Random seed of the session's refresh tokens (empty for a legacy session).
    #[serde(default)]
    pub seed: String,
    /// The generation of the current refresh token (older ones are reuse).
    #[serde(default)]
    pub generation: u64,
    /// Signed in with a second factor (or confirmed one since): staff rights need it when the
    /// school requires two-factor login.
    #[serde(default)]
    pub second_factor: bool,
}

/// How a presented refresh token relates to its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presented {
    /// It is the current one.
    Current,
    /// It was current once: someone is replaying a rotated token.
    Old,
    /// It was never this session's.
    Unknown,
}

fn index_key(user: Uuid, session: Uuid) -> Vec<u8> {
    codec::Key::new().id(user).id(session).build()
}

/// Reads a session.
pub fn get(store: &Store, id: Uuid) -> AppResult<Option<SessionRecord>> {
    store.t.sessions.get(id.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Marks session `id` as confirmed by a second factor (no-op if it ended).
pub fn mark_second_factor(store: &Store, id: Uuid) -> AppResult<()> {
    let Some(mut s) = get(store, id)? else { return Ok(()) };
    s.second_factor = true;
    store.t.sessions.insert(id.as_bytes(), codec::enc(&s)).map_err(io)?;
    Ok(())
}

/// True if the session exists (not revoked).
pub fn exists(store: &Store, id: Uuid) -> AppResult<bool> {
    store.t.sessions.contains_key(id.as_bytes()).map_err(io)
}

/// Stores a new session and its index entry.
pub fn insert(store: &Store, s: &SessionRecord) -> AppResult<()> {
    let t = &store.t;
    let v = codec::enc(s);
    tx((&t.sessions, &t.sessions_by_user).transaction(|(sessions, by_user)| {
        sessions.insert(s.id.as_bytes(), v.as_slice())?;
        by_user.insert(index_key(s.user_id, s.id), &[] as &[u8])?;
        Ok(())
    }))
}

/// Outcome of presenting a refresh token.
pub enum Rotation {
    /// The token was current; the session now expects the new one.
    Rotated(SessionRecord),
    /// The token was an already rotated one: the session was revoked.
    Reused,
    /// Unknown token for this session.
    Invalid,
    /// The session reached its absolute lifetime and was removed.
    Ended,
}

/// Atomically moves the session to its next generation if `judge` finds the presented token
/// current (a legacy session gets `seed` and starts at generation 1); revokes it on an old one.
pub fn rotate(
    store: &Store,
    id: Uuid,
    judge: impl Fn(&SessionRecord) -> Presented,
    seed: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    max_age: chrono::Duration,
) -> AppResult<Rotation> {
    let t = &store.t;
    tx((&t.sessions, &t.sessions_by_user).transaction(|(sessions, by_user)| {
        let Some(raw) = sessions.get(id.as_bytes())? else { return Ok(Rotation::Invalid) };
        let mut s: SessionRecord = match codec::dec(&raw) {
            Ok(s) => s,
            Err(e) => return abort(e),
        };
        let presented = judge(&s);
        if presented == Presented::Current {
            if s.expires_at <= now {
                return Ok(Rotation::Invalid);
            }
            if now >= s.created_at + max_age {
                sessions.remove(id.as_bytes())?;
                by_user.remove(index_key(s.user_id, id))?;
                return Ok(Rotation::Ended);
            }
            if s.seed.is_empty() {
                let old = std::mem::take(&mut s.token_hash);
                s.old_hashes.push(old);
                s.seed = seed.to_string();
            }
            s.generation += 1;
            s.last_used_at = now;
            s.expires_at = expires_at;
            sessions.insert(id.as_bytes(), codec::enc(&s))?;
            Ok(Rotation::Rotated(s))
        } else if presented == Presented::Old {
            sessions.remove(id.as_bytes())?;
            by_user.remove(index_key(s.user_id, id))?;
            Ok(Rotation::Reused)
        } else {
            Ok(Rotation::Invalid)
        }
    }))
}

/// Revokes one session of `user`; 404 if it is not theirs.
pub fn revoke(store: &Store, user: Uuid, id: Uuid) -> AppResult<()> {
    let t = &store.t;
    tx((&t.sessions, &t.sessions_by_user).transaction(|(sessions, by_user)| {
        if by_user.remove(index_key(user, id))?.is_none() {
            return abort(AppError::NotFound("session"));
        }
        sessions.remove(id.as_bytes())?;
        Ok(())
    }))
}

/// The user's sessions, oldest first.
pub fn list(store: &Store, user: Uuid) -> AppResult<Vec<SessionRecord>> {
    let mut out = Vec::new();
    for item in store.t.sessions_by_user.scan_prefix(user.as_bytes()) {
        let (k, _) = item.map_err(io)?;
        if let Some(s) = get(store, codec::id_at(&k, 16)?)? {
            out.push(s);
        }
    }
    Ok(out)
}

/// Revokes every session of `user` except `keep`; returns how many were revoked.
pub fn revoke_all(store: &Store, user: Uuid, keep: Option<Uuid>) -> AppResult<usize> {
    let mut n = 0;
    for s in list(store, user)? {
        if Some(s.id) != keep {
            match revoke(store, user, s.id) {
                Ok(()) => n += 1,
                Err(AppError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(n)
}
