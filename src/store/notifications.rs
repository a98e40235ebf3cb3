//! The inbox. Trees: `notifications` (id → record), `notifications_by_user` (user ‖ order ‖ id →
//! (): newest last, `order` being the sequence of the notification's latest `notification.new`
//! event), `notification_unread` (user → unread count), `notification_collapse` (user ‖ chat → id of
//! the unread `message` notification that new messages of that chat join) and
//! `notification_settings` (user → settings).
//!
//! Notifications are written by the notification follower in one transaction with its cursor and
//! their `notification.new` events, so each source event gives its notification exactly once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use uuid::Uuid;

use super::event_log::{Appender, Audience, LogRecord};
use super::{Store, codec, io, tx};
use crate::error::{AppError, AppResult};

/// What a notification is about (API.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationType {
    /// New messages in a chat (collapsed per chat until it is read).
    Message,
    /// Someone asked to be friends.
    FriendRequest,
    /// A friend request was accepted.
    FriendAccepted,
    /// A goal is behind its pace.
    GoalReminder,
    /// A goal was reached.
    GoalCompleted,
    /// A weekly or monthly report is ready.
    ReportReady,
    /// A local AI insight.
    Insight,
    /// From the school's staff.
    System,
}

impl NotificationType {
    /// Every type, in API order.
    pub const ALL: [NotificationType; 8] = [
        Self::Message,
        Self::FriendRequest,
        Self::FriendAccepted,
        Self::GoalReminder,
        Self::GoalCompleted,
        Self::ReportReady,
        Self::Insight,
        Self::System,
    ];
}

/// A stored notification. Texts are rendered when it is shown, from what it refers to (a renamed
/// friend, an edited or deleted message show as they are now); `title`/`content` are stored only
/// for types that have no other source (insights, announcements).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NotificationRecord {
    /// Id.
    pub id: Uuid,
    /// Whose inbox.
    pub user_id: Uuid,
    /// Type.
    pub kind: NotificationType,
    /// `chat`, `user`, `friend_request`, `goal`, `report`, ...
    pub related_entity_type: Option<String>,
    /// The entity's id.
    pub related_entity_id: Option<Uuid>,
    /// Who caused it (the friend, the sender of the first message).
    pub actor_id: Option<Uuid>,
    /// Messages joined into a `message` notification.
    #[serde(default)]
    pub count: u32,
    /// Senders of those messages, first seen first (at most a few).
    #[serde(default)]
    pub senders: Vec<Uuid>,
    /// The latest message of a `message` notification.
    #[serde(default)]
    pub message_id: Option<Uuid>,
    /// Extra fields of the source (report period, goal title).
    #[serde(default)]
    pub data: serde_json::Value,
    /// Stored title (insights, announcements).
    #[serde(default)]
    pub title: Option<String>,
    /// Stored text (insights, announcements).
    #[serde(default)]
    pub content: Option<String>,
    /// When it was read.
    pub read_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last joined message (or created).
    pub updated_at: DateTime<Utc>,
    /// Position in the inbox (the sequence of its latest event).
    pub order: u64,
    /// `message`: the event sequence of the newest message joined (a message event joins once,
    /// however the follower's batches fall after a crash).
    #[serde(default)]
    pub joined_seq: u64,
}

/// Senders named in a collapsed message notification.
const MAX_SENDERS: usize = 3;

/// What the follower writes for one recipient.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The notification.
    pub what: Deliver,
    /// Queue a push of it (see `store::push`).
    pub push: bool,
}

/// A new notification, or a message joining one.
#[derive(Clone, Debug)]
pub enum Deliver {
    /// A new notification (its `order` is set when stored).
    New(NotificationRecord),
    /// A message for `user` in `chat`: joins the chat's unread notification, or starts `fresh`.
    Message {
        /// The notification to store if none is unread for this chat (for the newest message).
        fresh: NotificationRecord,
        /// The chat.
        chat: Uuid,
        /// The event sequences of the messages it stands for, oldest first (several when the
        /// follower found more messages of the chat in one batch: stored as one change).
        seqs: Vec<u64>,
    },
}

fn by_user_key(user: Uuid, order: u64, id: Uuid) -> Vec<u8> {
    codec::Key::new().id(user).u64(order).id(id).build()
}

fn pair_key(user: Uuid, chat: Uuid) -> Vec<u8> {
    codec::Key::new().id(user).id(chat).build()
}

struct Tx<'a> {
    records: &'a TransactionalTree,
    by_user: &'a TransactionalTree,
    unread: &'a TransactionalTree,
    collapse: &'a TransactionalTree,
    push_queue: &'a TransactionalTree,
}

impl Tx<'_> {
    fn get(&self, id: Uuid) -> ConflictableTransactionResult<Option<NotificationRecord>, AppError> {
        self.records.get(id.as_bytes())?.map(|v| codec::dec_tx(&v)).transpose()
    }

    fn put(&self, n: &NotificationRecord) -> ConflictableTransactionResult<(), AppError> {
        self.records.insert(n.id.as_bytes(), codec::enc(n))?;
        self.by_user.insert(by_user_key(n.user_id, n.order, n.id), &[] as &[u8])?;
        Ok(())
    }

    fn add_unread(&self, user: Uuid, delta: i64) -> ConflictableTransactionResult<(), AppError> {
        let now = self.unread.get(user.as_bytes())?.map(|v| super::meta::read_u64(&v)).unwrap_or(0);
        let next = (now as i64 + delta).max(0) as u64;
        self.unread.insert(user.as_bytes(), &next.to_be_bytes())?;
        Ok(())
    }

    /// Marks `n` read (false if it already was).
    fn read(&self, mut n: NotificationRecord, at: DateTime<Utc>) -> ConflictableTransactionResult<bool, AppError> {
        if n.read_at.is_some() {
            return Ok(false);
        }
        n.read_at = Some(at);
        if n.kind == NotificationType::Message
            && let Some(chat) = n.related_entity_id
        {
            let key = pair_key(n.user_id, chat);
            if self.collapse.get(&key)?.is_some_and(|v| v.as_ref() == n.id.as_bytes()) {
                self.collapse.remove(key)?;
            }
        }
        self.records.insert(n.id.as_bytes(), codec::enc(&n))?;
        self.add_unread(n.user_id, -1)?;
        Ok(true)
    }

    fn deliver(&self, d: &Delivery, log: &Appender, at: DateTime<Utc>) -> ConflictableTransactionResult<(), AppError> {
        let (mut n, fresh) = match &d.what {
            Deliver::New(n) => (n.clone(), true),
            Deliver::Message { fresh, chat, seqs } => {
                let key = pair_key(fresh.user_id, *chat);
                let open = match self.collapse.get(&key)? {
                    Some(id) => self.get(codec::id_at(&id, 0).or_else(super::abort)?)?.filter(|n| n.read_at.is_none()),
                    None => None,
                };
                // Messages already joined (a large event is stored in parts; a part may run
                // again after a crash) are not counted again.
                let new = |n: &NotificationRecord| seqs.iter().filter(|s| **s > n.joined_seq).count() as u32;
                match open {
                    Some(n) if n.message_id.is_some() && n.message_id >= fresh.message_id => return Ok(()),
                    Some(n) if new(&n) == 0 => return Ok(()),
                    Some(mut n) => {
                        self.by_user.remove(by_user_key(n.user_id, n.order, n.id))?;
                        n.count += new(&n);
                        n.joined_seq = seqs.last().copied().unwrap_or(n.joined_seq);
                        for s in fresh.senders.iter().chain(fresh.actor_id.as_ref()) {
                            if !n.senders.contains(s) && n.senders.len() < MAX_SENDERS {
                                n.senders.push(*s);
                            }
                        }
                        n.message_id = fresh.message_id;
                        n.updated_at = fresh.updated_at;
                        (n, false)
                    }
                    None => {
                        self.collapse.insert(key, fresh.id.as_bytes())?;
                        let mut n = fresh.clone();
                        n.count = seqs.len().max(1) as u32;
                        n.senders.truncate(MAX_SENDERS);
                        n.joined_seq = seqs.last().copied().unwrap_or(0);
                        (n, true)
                    }
                }
            }
        };
        n.order = log.append("notification.new", Audience::Users(vec![n.user_id]), serde_json::json!({ "notification_id": n.id }), at)?;
        self.put(&n)?;
        if fresh {
            self.add_unread(n.user_id, 1)?;
        }
        if d.push {
            super::push::enqueue_in(self.push_queue, n.order, &super::push::Pending { user_id: n.user_id, notification_id: n.id })?;
        }
        Ok(())
    }
}

/// Runs `f` over the notification trees, `meta` and the log, in one transaction.
fn with_trees<T>(
    store: &Store,
    first: u64,
    f: impl Fn(&Tx, &TransactionalTree, &Appender) -> ConflictableTransactionResult<T, AppError>,
) -> AppResult<(T, Vec<LogRecord>)> {
    let t = &store.t;
    let trees = (
        &t.notifications,
        &t.notifications_by_user,
        &t.notification_unread,
        &t.notification_collapse,
        &t.push_queue,
        &t.meta,
        &t.event_log,
        &t.chat_log,
        &t.user_log,
    );
    tx(trees.transaction(|(records, by_user, unread, collapse, push_queue, meta, log, chat_log, user_log)| {
        let n = Tx { records, by_user, unread, collapse, push_queue };
        let a = Appender::new(log, chat_log, user_log, first);
        let v = f(&n, meta, &a)?;
        Ok((v, a.finish()))
    }))
}

/// Stores what the follower `cursor` made of the events up to `through`, with its cursor, in one
/// transaction; events are numbered from `first`.
pub fn deliver(
    store: &Store,
    deliveries: &[Delivery],
    cursor: Option<(&str, u64)>,
    at: DateTime<Utc>,
    first: u64,
) -> AppResult<Vec<LogRecord>> {
    with_trees(store, first, |n, meta, log| {
        for d in deliveries {
            n.deliver(d, log, at)?;
        }
        match cursor {
            Some((name, through)) => super::event_log::set_cursor_in(meta, name, through),
            None => Ok(()),
        }
    })
    .map(|(_, events)| events)
}

/// Reads one notification.
pub fn get(store: &Store, id: Uuid) -> AppResult<Option<NotificationRecord>> {
    store.t.notifications.get(id.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// A user's notifications, newest first, strictly before `before` (an order), at most `limit`;
/// only unread ones with `unread_only`.
pub fn page(store: &Store, user: Uuid, before: Option<u64>, unread_only: bool, limit: usize) -> AppResult<Vec<NotificationRecord>> {
    let start = codec::Key::new().id(user).build();
    let end = codec::Key::new().id(user).u64(before.unwrap_or(u64::MAX)).build();
    let mut out = Vec::new();
    for k in store.t.notifications_by_user.range(start..end).keys().rev() {
        let k = k.map_err(io)?;
        if let Some(n) = get(store, codec::id_at(&k, 24)?)?
            && (!unread_only || n.read_at.is_none())
        {
            out.push(n);
            if out.len() == limit {
                break;
            }
        }
    }
    Ok(out)
}

/// Unread notifications of a user.
pub fn unread_count(store: &Store, user: Uuid) -> AppResult<u64> {
    Ok(store.t.notification_unread.get(user.as_bytes()).map_err(io)?.map(|v| super::meta::read_u64(&v)).unwrap_or(0))
}

fn ids_of(store: &Store, user: Uuid) -> AppResult<Vec<(Vec<u8>, Uuid)>> {
    store
        .t
        .notifications_by_user
        .scan_prefix(user.as_bytes())
        .keys()
        .map(|k| {
            let k = k.map_err(io)?;
            Ok((k.to_vec(), codec::id_at(&k, 24)?))
        })
        .collect()
}

/// Marks these notifications of `user` read (others' ids and unknown ones are ignored); all of
/// them with `None`. Returns how many changed.
pub fn mark_read(store: &Store, user: Uuid, ids: Option<&[Uuid]>, at: DateTime<Utc>) -> AppResult<usize> {
    let ids: Vec<Uuid> = match ids {
        Some(ids) => ids.to_vec(),
        None => ids_of(store, user)?.into_iter().map(|(_, id)| id).collect(),
    };
    with_trees(store, 0, |n, _, _| {
        let mut changed = 0;
        for id in &ids {
            if let Some(rec) = n.get(*id)?.filter(|r| r.user_id == user)
                && n.read(rec, at)?
            {
                changed += 1;
            }
        }
        Ok(changed)
    })
    .map(|(c, _)| c)
}

/// Marks the unread `message` notification of `chat` read when the user read up to its latest
/// message (`up_to`).
pub fn chat_read(store: &Store, user: Uuid, chat: Uuid, up_to: Uuid, at: DateTime<Utc>) -> AppResult<()> {
    let Some(id) = store.t.notification_collapse.get(pair_key(user, chat)).map_err(io)? else { return Ok(()) };
    let id = codec::id_at(&id, 0)?;
    if get(store, id)?.is_some_and(|n| n.message_id.is_none_or(|m| m <= up_to)) {
        mark_read(store, user, Some(&[id]), at)?;
    }
    Ok(())
}

/// Removes notifications of `user` older than `cutoff`, and beyond the newest `keep`. Returns how
/// many went.
pub fn prune(store: &Store, user: Uuid, cutoff: DateTime<Utc>, keep: usize) -> AppResult<usize> {
    let all = ids_of(store, user)?;
    let mut gone = Vec::new();
    for (i, (key, id)) in all.iter().enumerate().rev() {
        let beyond = all.len() - i > keep;
        let old = get(store, *id)?.is_none_or(|n| n.updated_at < cutoff);
        if beyond || old {
            gone.push((key.clone(), *id));
        }
    }
    remove(store, &gone)?;
    Ok(gone.len())
}

fn remove(store: &Store, gone: &[(Vec<u8>, Uuid)]) -> AppResult<()> {
    with_trees(store, 0, |n, _, _| {
        for (key, id) in gone {
            if let Some(rec) = n.get(*id)? {
                if rec.read_at.is_none() {
                    n.read(rec, Utc::now())?;
                }
                n.records.remove(id.as_bytes())?;
            }
            n.by_user.remove(key.as_slice())?;
        }
        Ok(())
    })
    .map(|_| ())
}

/// Puts back a notification (restore), without a new event.
pub fn restore(store: &Store, n: &NotificationRecord) -> AppResult<()> {
    with_trees(store, 0, |t, _, _| {
        t.put(n)?;
        if n.read_at.is_none() {
            t.add_unread(n.user_id, 1)?;
            if let (NotificationType::Message, Some(chat)) = (n.kind, n.related_entity_id) {
                t.collapse.insert(pair_key(n.user_id, chat), n.id.as_bytes())?;
            }
        }
        Ok(())
    })
    .map(|_| ())
}

/// Users with notifications (for the retention job).
pub fn users(store: &Store) -> AppResult<Vec<Uuid>> {
    let mut out: Vec<Uuid> = Vec::new();
    for k in store.t.notification_unread.iter().keys() {
        out.push(codec::id_at(&k.map_err(io)?, 0)?);
    }
    Ok(out)
}

/// Every notification of a user, newest first (export).
pub fn all_of(store: &Store, user: Uuid) -> AppResult<Vec<NotificationRecord>> {
    page(store, user, None, false, usize::MAX)
}

/// Deletes a user's inbox and settings (account deletion).
pub fn delete_all(store: &Store, user: Uuid) -> AppResult<()> {
    let all = ids_of(store, user)?;
    remove(store, &all)?;
    store.t.notification_unread.remove(user.as_bytes()).map_err(io)?;
    store.t.notification_settings.remove(user.as_bytes()).map_err(io)?;
    Ok(())
}

/// A user's stored settings (`None`: the defaults).
pub fn settings<T: serde::de::DeserializeOwned>(store: &Store, user: Uuid) -> AppResult<Option<T>> {
    store.t.notification_settings.get(user.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Stores a user's settings.
pub fn put_settings<T: Serialize>(store: &Store, user: Uuid, s: &T) -> AppResult<()> {
    store.t.notification_settings.insert(user.as_bytes(), codec::enc(s)).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message_for(user: Uuid, chat: Uuid, message: Uuid, seq: u64) -> Delivery {
        let at = Utc::now();
        let fresh = NotificationRecord {
            id: crate::ids::new_id(),
            user_id: user,
            kind: NotificationType::Message,
            related_entity_type: Some("chat".into()),
            related_entity_id: Some(chat),
            actor_id: Some(Uuid::from_u128(9)),
            count: 1,
            senders: vec![Uuid::from_u128(9)],
            message_id: Some(message),
            data: serde_json::Value::Null,
            title: None,
            content: None,
            read_at: None,
            created_at: at,
            updated_at: at,
            order: 0,
            joined_seq: 0,
        };
        Delivery { what: Deliver::Message { fresh, chat, seqs: vec![seq] }, push: false }
    }

    #[tokio::test]
    async fn a_part_stored_again_after_a_crash_joins_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let (user, chat) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let (m1, m2) = (crate::ids::new_id(), crate::ids::new_id());
        let at = Utc::now();
        let m3 = crate::ids::new_id();
        deliver(&store, &[message_for(user, chat, m1, 10)], None, at, 1).unwrap();
        deliver(&store, &[message_for(user, chat, m1, 10)], None, at, 2).unwrap();
        deliver(&store, &[message_for(user, chat, m2, 11)], None, at, 3).unwrap();
        deliver(&store, &[message_for(user, chat, m2, 11)], Some(("test", 3)), at, 4).unwrap();
        // Two messages stored as one change, the first of them already joined: counted once each.
        let mut both = message_for(user, chat, m3, 12);
        if let Deliver::Message { seqs, .. } = &mut both.what {
            *seqs = vec![11, 12];
        }
        deliver(&store, &[both], None, at, 5).unwrap();
        let all = all_of(&store, user).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].count, all[0].message_id), (3, Some(m3)));
        assert_eq!(unread_count(&store, user).unwrap(), 1);
        assert_eq!(super::super::event_log::cursor(&store, "test").unwrap(), 3);
    }
}
