//! `Idempotency-Key`: a mutation retried with the same key gets the first answer instead of being
//! done twice. Keys are per user, kept 24 hours; a key reused for a different request is refused.

use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::idempotency as store;
pub use crate::store::idempotency::IdempotencyRecord;

/// How long an answer is kept.
const KEEP_HOURS: i64 = 24;
/// A first request that never finished (crash) stops holding its key after this long.
const STUCK_SECS: i64 = 120;

/// What to do with a request that carries a key.
pub enum Decision {
    /// First time: run it, then call [`remember`] or [`forget`].
    Run,
    /// Seen before: send this answer again.
    Replay(IdempotencyRecord),
}

/// Checks that a key is acceptable.
pub fn validate_key(key: &str) -> AppResult<()> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into()));
    }
    Ok(())
}

/// Claims `key` for this request or returns the earlier answer.
pub async fn begin(state: &AppState, user: Uuid, key: &str, fingerprint: String) -> AppResult<Decision> {
    validate_key(key)?;
    let now = state.clock.now();
    let record = IdempotencyRecord {
        fingerprint: fingerprint.clone(),
        status: None,
        content_type: String::new(),
        body: String::new(),
        created_at: now,
    };
    let scope = key.to_string();
    let existing = state
        .store
        .write(move |s| {
            store::claim(s, user, &scope, &record, |r| {
                let age = (now - r.created_at).num_seconds();
                age > KEEP_HOURS * 3600 || (r.status.is_none() && age > STUCK_SECS)
            })
        })
        .await?;
    match existing {
        None => Ok(Decision::Run),
        Some(r) if r.fingerprint != fingerprint => Err(AppError::IdempotencyKeyReused),
        Some(r) if r.status.is_none() => {
            Err(AppError::Conflict("a request with this Idempotency-Key is still running; retry shortly".into(), vec![]))
        }
        Some(r) => Ok(Decision::Replay(r)),
    }
}

/// What identifies a request for its key: method, path, content type and the sha256 of the body.
pub fn fingerprint(method: &str, path: &str, content_type: &str, body: &[u8]) -> String {
    format!("{method} {path} {content_type} {}", crate::store::blobs::sha256_hex(body))
}

/// Records a successful answer to replay.
pub fn answer(state: &AppState, fingerprint: String, status: u16, content_type: String, body: String) -> IdempotencyRecord {
    IdempotencyRecord { fingerprint, status: Some(status), content_type, body, created_at: state.clock.now() }
}

/// Stores the answer of a successful first request.
pub async fn remember(state: &AppState, user: Uuid, key: &str, record: IdempotencyRecord) -> AppResult<()> {
    let scope = key.to_string();
    state.store.write(move |s| store::finish(s, user, &scope, &record)).await
}

/// Frees the key of a failed first request so that a retry runs again.
pub async fn forget(state: &AppState, user: Uuid, key: &str) -> AppResult<()> {
    let scope = key.to_string();
    state.store.write(move |s| store::release(s, user, &scope)).await
}
