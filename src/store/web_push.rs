//! Web Push: subscriptions and the queue of pushes to send.
//! Trees: `push_subscriptions` (user ‖ subscription id → [`WebSubscription`]), `push_endpoints`
//! (sha256 of the endpoint → user ‖ subscription id: one device, one subscription) and
//! `webpush_queue` (due time in ms ‖ job id → [`WebJob`]: a range scan up to now finds what is
//! due; a retry moves the job to a later key).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::Transactional;
use sled::transaction::TransactionalTree;
use uuid::Uuid;

use super::{Store, codec, io, tx};
use crate::error::{AppError, AppResult};

/// A device's Web Push subscription (the browser's `PushSubscription`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WebSubscription {
    /// Id.
    pub id: Uuid,
    /// Whose.
    pub user_id: Uuid,
    /// The session that made it: it ends with that session.
    pub session_id: Uuid,
    /// The push service URL.
    pub endpoint: String,
    /// The browser's P-256 public key (base64url, 65 bytes).
    pub p256dh: String,
    /// The browser's auth secret (base64url, 16 bytes).
    pub auth: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// One push to one subscription.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WebJob {
    /// Whose subscription.
    pub user_id: Uuid,
    /// Which subscription.
    pub subscription_id: Uuid,
    /// The notification (rendered when sent, as it is then).
    pub notification_id: Uuid,
    /// Tries so far.
    pub attempts: u32,
    /// Queued (unix seconds).
    pub queued_at: i64,
    /// Given up after this (unix seconds): the push's TTL.
    pub expires_at: i64,
}

fn sub_key(user: Uuid, id: Uuid) -> Vec<u8> {
    codec::Key::new().id(user).id(id).build()
}

fn endpoint_key(endpoint: &str) -> Vec<u8> {
    Sha256::digest(endpoint.as_bytes()).to_vec()
}

/// A queue key: due time (ms) ‖ job id.
pub fn job_key(due_ms: u64, id: Uuid) -> Vec<u8> {
    codec::Key::new().u64(due_ms).id(id).build()
}

/// Stores `s`, replacing the subscription of the same endpoint (whoever had it: a shared device
/// now belongs to who signed in last) and, beyond `max` per user, the oldest ones.
pub fn subscribe(store: &Store, s: &WebSubscription, max: usize) -> AppResult<()> {
    let t = &store.t;
    let ek = endpoint_key(&s.endpoint);
    if let Some(old) = t.push_endpoints.get(&ek).map_err(io)? {
        remove_key(store, &old)?;
    }
    let mine = list(store, s.user_id)?;
    for old in mine.iter().take((mine.len() + 1).saturating_sub(max)) {
        remove(store, old.user_id, old.id)?;
    }
    let key = sub_key(s.user_id, s.id);
    tx((&t.push_subscriptions, &t.push_endpoints).transaction(|(subs, endpoints)| {
        subs.insert(key.as_slice(), codec::enc(s))?;
        endpoints.insert(ek.as_slice(), key.as_slice())?;
        Ok(())
    }))
}

fn remove_key(store: &Store, key: &[u8]) -> AppResult<bool> {
    let t = &store.t;
    tx((&t.push_subscriptions, &t.push_endpoints).transaction(|(subs, endpoints)| {
        let Some(v) = subs.remove(key)? else { return Ok(false) };
        let s: WebSubscription = codec::dec(&v).map_err(sled::transaction::ConflictableTransactionError::Abort)?;
        let ek = endpoint_key(&s.endpoint);
        if endpoints.get(&ek)?.is_some_and(|k| k == key) {
            endpoints.remove(ek)?;
        }
        Ok(true)
    }))
}

/// Removes a subscription; false when it was not there.
pub fn remove(store: &Store, user: Uuid, id: Uuid) -> AppResult<bool> {
    remove_key(store, &sub_key(user, id))
}

/// The subscription of `user` with this endpoint.
pub fn by_endpoint(store: &Store, user: Uuid, endpoint: &str) -> AppResult<Option<WebSubscription>> {
    let Some(key) = store.t.push_endpoints.get(endpoint_key(endpoint)).map_err(io)? else { return Ok(None) };
    Ok(get_key(store, &key)?.filter(|s| s.user_id == user))
}

fn get_key(store: &Store, key: &[u8]) -> AppResult<Option<WebSubscription>> {
    store.t.push_subscriptions.get(key).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// One subscription.
pub fn get(store: &Store, user: Uuid, id: Uuid) -> AppResult<Option<WebSubscription>> {
    get_key(store, &sub_key(user, id))
}

/// The user's subscriptions, oldest first.
pub fn list(store: &Store, user: Uuid) -> AppResult<Vec<WebSubscription>> {
    store.t.push_subscriptions.scan_prefix(user.as_bytes()).values().map(|v| codec::dec(&v.map_err(io)?)).collect()
}

/// True when the user has a subscription.
pub fn has_any(store: &Store, user: Uuid) -> AppResult<bool> {
    Ok(store.t.push_subscriptions.scan_prefix(user.as_bytes()).next().transpose().map_err(io)?.is_some())
}

/// Removes the subscriptions of `user` whose session `ended`; returns how many.
pub fn end_sessions(store: &Store, user: Uuid, ended: impl Fn(Uuid) -> bool) -> AppResult<usize> {
    let mut n = 0;
    for s in list(store, user)? {
        if ended(s.session_id) && remove(store, user, s.id)? {
            n += 1;
        }
    }
    Ok(n)
}

/// Queues a job inside a transaction (the push fan-out's).
pub fn enqueue_in(queue: &TransactionalTree, key: &[u8], job: &WebJob) -> sled::transaction::ConflictableTransactionResult<(), AppError> {
    queue.insert(key, codec::enc(job))?;
    Ok(())
}

/// Jobs due at `now_ms`, oldest first, at most `limit`.
pub fn due(store: &Store, now_ms: u64, limit: usize) -> AppResult<Vec<(Vec<u8>, WebJob)>> {
    store
        .t
        .webpush_queue
        .range(..codec::Key::new().u64(now_ms.saturating_add(1)).build())
        .take(limit)
        .map(|r| {
            let (k, v) = r.map_err(io)?;
            Ok((k.to_vec(), codec::dec(&v)?))
        })
        .collect()
}

/// When the next job is due (ms), if any.
pub fn next_due(store: &Store) -> AppResult<Option<u64>> {
    Ok(store.t.webpush_queue.first().map_err(io)?.map(|(k, _)| super::meta::read_u64(&k)))
}

/// Takes a job off the queue and, for a retry, puts it back under `again` (new key).
pub fn finish(store: &Store, key: &[u8], again: Option<(&[u8], &WebJob)>) -> AppResult<()> {
    let q = &store.t.webpush_queue;
    match again {
        None => {
            q.remove(key).map_err(io)?;
        }
        Some((k, job)) => {
            tx(q.transaction(|q| {
                q.remove(key)?;
                q.insert(k, codec::enc(job))?;
                Ok(())
            }))?;
        }
    }
    Ok(())
}

/// How many jobs are queued, and when the oldest was queued (unix seconds): a full scan, run on a
/// cadence by the sender.
pub fn census(store: &Store) -> AppResult<(usize, Option<i64>)> {
    let (mut n, mut oldest) = (0, None::<i64>);
    for v in store.t.webpush_queue.iter().values() {
        let j: WebJob = codec::dec(&v.map_err(io)?)?;
        n += 1;
        oldest = Some(oldest.map_or(j.queued_at, |o| o.min(j.queued_at)));
    }
    Ok((n, oldest))
}

/// Forgets a user's subscriptions (account deletion; their queued jobs find no subscription and
/// are dropped).
pub fn delete_all(store: &Store, user: Uuid) -> AppResult<()> {
    for s in list(store, user)? {
        remove(store, user, s.id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_keys_sort_by_due_time() {
        let a = job_key(5, Uuid::now_v7());
        let b = job_key(6, Uuid::nil());
        assert!(a < b);
        assert_eq!(&a[..8], &5u64.to_be_bytes());
    }
}
