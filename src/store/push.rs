//! Push: the queue of notifications to push and the ntfy topics with their message cache.
//! Trees: `push_queue` (seq → [`Pending`]: written with the notification, so a restart loses no
//! push), `ntfy_topics` (topic → user), `ntfy_by_user` (user → topic), `ntfy_messages` (user ‖
//! seq → [`NtfyMessage`]: what the ntfy app reads with `since`) and `push_last` (user →
//! [`LastPush`]: a collapsed chat notification is not pushed again moments later). Web Push
//! jobs go to `store::web_push`'s queue in the same transaction.

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use uuid::Uuid;

use super::{Store, codec, io, tx};
use crate::error::{AppError, AppResult};

/// A notification waiting to be pushed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    /// Whose.
    pub user_id: Uuid,
    /// Which notification (its texts are rendered when it is sent).
    pub notification_id: Uuid,
}

/// A message as the ntfy subscription API returns it (ntfy's published JSON message format).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NtfyMessage {
    /// Message id (12 characters).
    pub id: String,
    /// Unix seconds.
    pub time: i64,
    /// Always `message` for stored ones.
    pub event: String,
    /// The topic.
    pub topic: String,
    /// Title.
    pub title: String,
    /// Body.
    pub message: String,
    /// 1 (min) to 5 (max).
    pub priority: u8,
    /// ntfy tags (emoji short codes).
    pub tags: Vec<String>,
    /// Opened when the notification is tapped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub click: Option<String>,
    /// The Friend notification it shows (not an ntfy field; clients ignore it).
    pub notification_id: Uuid,
}

/// Queues a push inside a transaction (the notification follower's).
pub fn enqueue_in(queue: &TransactionalTree, seq: u64, p: &Pending) -> ConflictableTransactionResult<(), AppError> {
    queue.insert(&seq.to_be_bytes(), codec::enc(p))?;
    Ok(())
}

/// The oldest queued pushes, at most `limit`: (seq, pending).
pub fn queued(store: &Store, limit: usize) -> AppResult<Vec<(u64, Pending)>> {
    store
        .t
        .push_queue
        .iter()
        .take(limit)
        .map(|r| {
            let (k, v) = r.map_err(io)?;
            Ok((super::meta::read_u64(&k), codec::dec(&v)?))
        })
        .collect()
}

/// Queued pushes.
pub fn queue_len(store: &Store) -> usize {
    store.t.push_queue.len()
}

fn msg_key(user: Uuid, seq: u64) -> Vec<u8> {
    codec::Key::new().id(user).u64(seq).build()
}

/// The last push to a user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LastPush {
    /// Of which notification.
    pub notification_id: Uuid,
    /// Unix seconds.
    pub at: i64,
}

/// What one queued push became: an ntfy message, Web Push jobs, both or nothing.
pub struct Fanout<'a> {
    /// The cached ntfy message.
    pub ntfy: Option<&'a NtfyMessage>,
    /// Web Push jobs under their queue keys.
    pub web: &'a [(Vec<u8>, super::web_push::WebJob)],
    /// Set when anything goes out.
    pub last: Option<LastPush>,
}

/// Takes a push off the queue and stores what it became, in one transaction.
pub fn sent(store: &Store, seq: u64, user: Uuid, out: &Fanout) -> AppResult<()> {
    let t = &store.t;
    let last = out.last.as_ref().map(codec::enc);
    tx((&t.push_queue, &t.ntfy_messages, &t.webpush_queue, &t.push_last).transaction(|(queue, messages, web, lasts)| {
        queue.remove(&seq.to_be_bytes())?;
        if let Some(m) = out.ntfy {
            messages.insert(msg_key(user, seq), codec::enc(m))?;
        }
        for (k, job) in out.web {
            super::web_push::enqueue_in(web, k, job)?;
        }
        if let Some(l) = &last {
            lasts.insert(user.as_bytes(), l.as_slice())?;
        }
        Ok(())
    }))
}

/// The last push to `user`.
pub fn last(store: &Store, user: Uuid) -> AppResult<Option<LastPush>> {
    store.t.push_last.get(user.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// The user's ntfy topic.
pub fn topic_of(store: &Store, user: Uuid) -> AppResult<Option<String>> {
    Ok(store.t.ntfy_by_user.get(user.as_bytes()).map_err(io)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// Whose topic this is.
pub fn user_of(store: &Store, topic: &str) -> AppResult<Option<Uuid>> {
    store.t.ntfy_topics.get(topic.as_bytes()).map_err(io)?.map(|v| codec::id_at(&v, 0)).transpose()
}

fn clear_messages(store: &Store, user: Uuid) -> AppResult<()> {
    for k in store.t.ntfy_messages.scan_prefix(user.as_bytes()).keys() {
        store.t.ntfy_messages.remove(k.map_err(io)?).map_err(io)?;
    }
    Ok(())
}

/// Gives `user` the topic `topic` (replacing and revoking an older one; its cache is dropped).
pub fn set_topic(store: &Store, user: Uuid, topic: Option<&str>) -> AppResult<()> {
    let t = &store.t;
    tx((&t.ntfy_topics, &t.ntfy_by_user).transaction(|(topics, by_user)| {
        if let Some(old) = by_user.get(user.as_bytes())? {
            topics.remove(old)?;
        }
        match topic {
            Some(new) => {
                topics.insert(new.as_bytes(), user.as_bytes())?;
                by_user.insert(user.as_bytes(), new.as_bytes())?;
            }
            None => {
                by_user.remove(user.as_bytes())?;
            }
        }
        Ok(())
    }))?;
    clear_messages(store, user)
}

/// Cached ntfy messages of `user` after `after_seq` and not older than `since_time` (unix), in order.
pub fn messages_after(store: &Store, user: Uuid, after_seq: u64, since_time: i64) -> AppResult<Vec<(u64, NtfyMessage)>> {
    let mut out = Vec::new();
    for r in store.t.ntfy_messages.range(msg_key(user, after_seq.saturating_add(1))..msg_key(user, u64::MAX)) {
        let (k, v) = r.map_err(io)?;
        let m: NtfyMessage = codec::dec(&v)?;
        if m.time >= since_time {
            out.push((super::meta::read_u64(&k[16..]), m));
        }
    }
    Ok(out)
}

/// One cached message.
pub fn message(store: &Store, user: Uuid, seq: u64) -> AppResult<Option<NtfyMessage>> {
    store.t.ntfy_messages.get(msg_key(user, seq)).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Drops cached messages older than `before` (unix seconds). Returns how many went.
pub fn prune_messages(store: &Store, before: i64) -> AppResult<usize> {
    let mut gone = 0;
    for r in store.t.ntfy_messages.iter() {
        let (k, v) = r.map_err(io)?;
        if codec::dec::<NtfyMessage>(&v)?.time < before {
            store.t.ntfy_messages.remove(k).map_err(io)?;
            gone += 1;
        }
    }
    Ok(gone)
}

/// Forgets a user's topic, cache and queued pushes (account deletion).
pub fn delete_all(store: &Store, user: Uuid) -> AppResult<()> {
    set_topic(store, user, None)?;
    store.t.push_last.remove(user.as_bytes()).map_err(io)?;
    for r in store.t.push_queue.iter() {
        let (k, v) = r.map_err(io)?;
        if codec::dec::<Pending>(&v)?.user_id == user {
            store.t.push_queue.remove(k).map_err(io)?;
        }
    }
    Ok(())
}
