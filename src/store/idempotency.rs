//! Idempotency records: the stored answer to a mutation sent with an `Idempotency-Key`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, codec, io};
use crate::error::AppResult;

/// A remembered request: in progress, or finished with its answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Method, path, content type and body hash of the first request.
    pub fingerprint: String,
    /// Status of the answer; `None` while the first request runs.
    pub status: Option<u16>,
    /// Content type of the answer.
    pub content_type: String,
    /// Body of the answer (UTF-8 JSON).
    pub body: String,
    /// When the first request arrived.
    pub created_at: DateTime<Utc>,
}

fn key(user: Uuid, scope: &str) -> Vec<u8> {
    codec::Key::new().id(user).str(scope).build()
}

/// Reads a record.
pub fn get(store: &Store, user: Uuid, scope: &str) -> AppResult<Option<IdempotencyRecord>> {
    store.t.idempotency.get(key(user, scope)).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Claims a key: stores `record` if the key is free or its record is `stale`; otherwise returns
/// the record that holds it.
pub fn claim(
    store: &Store,
    user: Uuid,
    scope: &str,
    record: &IdempotencyRecord,
    stale: impl Fn(&IdempotencyRecord) -> bool,
) -> AppResult<Option<IdempotencyRecord>> {
    let k = key(user, scope);
    let new = codec::enc(record);
    loop {
        let current = store.t.idempotency.get(&k).map_err(io)?;
        if let Some(raw) = &current {
            let existing: IdempotencyRecord = codec::dec(raw)?;
            if !stale(&existing) {
                return Ok(Some(existing));
            }
        }
        match store.t.idempotency.compare_and_swap(&k, current, Some(new.clone())).map_err(io)? {
            Ok(()) => return Ok(None),
            Err(_) => continue,
        }
    }
}

/// Stores the finished answer.
pub fn finish(store: &Store, user: Uuid, scope: &str, record: &IdempotencyRecord) -> AppResult<()> {
    store.t.idempotency.insert(key(user, scope), codec::enc(record)).map_err(io)?;
    Ok(())
}

/// Forgets a key (the request failed; the client may try again).
pub fn release(store: &Store, user: Uuid, scope: &str) -> AppResult<()> {
    store.t.idempotency.remove(key(user, scope)).map_err(io)?;
    Ok(())
}
