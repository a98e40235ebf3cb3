//! Chats, members, messages and the event log that WebSocket `sync` replays.
//!
//! Trees: `chats` (id → chat), `chat_members` (chat ‖ user → member), `user_chats` (user ‖ chat → ()),
//! `private_pairs` (low ‖ high user → chat id), `messages` (chat ‖ message → message),
//! `message_client_ids` (user ‖ client_id → chat ‖ message), `media_chats` (media ‖ chat ‖ message → (), one entry per
//! message that carries the media).
//! A change is applied in one transaction with its events (see `store::event_log`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use uuid::Uuid;

use super::codec::dec_tx;
use super::event_log::{Appender, Event, LogRecord};
use super::{Store, abort, codec, io, tx};
use crate::error::{AppError, AppResult};

/// private | group.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    /// Two people.
    Private,
    /// A named group.
    Group,
}

/// owner | admin | member.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// A member.
    Member,
    /// May rename and manage members.
    Admin,
    /// Created the group; may close it.
    Owner,
}

/// A chat.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChatRecord {
    /// Id.
    pub id: Uuid,
    /// Kind.
    pub kind: ChatKind,
    /// Group name (empty for private chats).
    pub name: String,
    /// Group description.
    pub description: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last message or change.
    pub last_activity_at: DateTime<Utc>,
    /// Newest message.
    pub last_message_id: Option<Uuid>,
    /// Closed by its owner: read-only.
    #[serde(default)]
    pub closed: bool,
}

/// A member of a chat.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberRecord {
    /// Role.
    pub role: MemberRole,
    /// Joined.
    pub joined_at: DateTime<Utc>,
    /// Events before this sequence are not theirs.
    pub joined_seq: u64,
    /// Read up to here.
    pub last_read_message_id: Option<Uuid>,
    /// Received up to here.
    pub last_delivered_message_id: Option<Uuid>,
    /// No `message` notifications or pushes for this chat until then.
    #[serde(default)]
    pub muted_until: Option<DateTime<Utc>>,
}

/// text | image | file | note | system.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Text.
    Text,
    /// An image (attachment).
    Image,
    /// A file (attachment).
    File,
    /// A shared note.
    Note,
    /// Written by the server (joined, left, renamed).
    System,
}

/// A message.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Id (time-ordered).
    pub id: Uuid,
    /// Chat.
    pub chat_id: Uuid,
    /// Author.
    pub from_user_id: Uuid,
    /// Kind.
    pub kind: MessageKind,
    /// Text (empty once deleted).
    pub content: String,
    /// Media.
    pub attachment_id: Option<Uuid>,
    /// Shared note.
    pub note_id: Option<Uuid>,
    /// Replied message.
    pub reply_to_id: Option<Uuid>,
    /// Sent.
    pub created_at: DateTime<Utc>,
    /// Last edit.
    pub edited_at: Option<DateTime<Utc>>,
    /// Deleted (tombstone).
    pub deleted: bool,
    /// The sender's idempotency id.
    pub client_id: Option<String>,
}

fn k3(a: Uuid, b: Uuid, c: Uuid) -> Vec<u8> {
    codec::Key::new().id(a).id(b).id(c).build()
}

fn k2(a: Uuid, b: Uuid) -> Vec<u8> {
    codec::Key::new().id(a).id(b).build()
}

fn low_high(a: Uuid, b: Uuid) -> Vec<u8> {
    if a < b { k2(a, b) } else { k2(b, a) }
}

/// Reads a chat.
pub fn get_chat(store: &Store, id: Uuid) -> AppResult<Option<ChatRecord>> {
    store.t.chats.get(id.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Reads a membership.
pub fn member(store: &Store, chat: Uuid, user: Uuid) -> AppResult<Option<MemberRecord>> {
    store.t.chat_members.get(k2(chat, user)).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Members of a chat.
pub fn members(store: &Store, chat: Uuid) -> AppResult<Vec<(Uuid, MemberRecord)>> {
    let mut out = Vec::new();
    for item in store.t.chat_members.scan_prefix(chat.as_bytes()) {
        let (k, v) = item.map_err(io)?;
        out.push((codec::id_at(&k, 16)?, codec::dec(&v)?));
    }
    Ok(out)
}

/// The member ids of a chat (cached: see [`super::member_cache`]).
pub fn member_ids(store: &Store, chat: Uuid) -> AppResult<Arc<[Uuid]>> {
    let generation = match store.members.get(chat) {
        Ok(ids) => return Ok(ids),
        Err(generation) => generation,
    };
    let mut ids = Vec::new();
    for k in store.t.chat_members.scan_prefix(chat.as_bytes()).keys() {
        ids.push(codec::id_at(&k.map_err(io)?, 16)?);
    }
    let ids: Arc<[Uuid]> = ids.into();
    store.members.insert(chat, ids.clone(), generation);
    Ok(ids)
}

/// Chat ids of a user.
pub fn chats_of(store: &Store, user: Uuid) -> AppResult<Vec<Uuid>> {
    store.t.user_chats.scan_prefix(user.as_bytes()).keys().map(|k| k.map_err(io).and_then(|k| codec::id_at(&k, 16))).collect()
}

/// The private chat of two users, if any.
pub fn private_between(store: &Store, a: Uuid, b: Uuid) -> AppResult<Option<Uuid>> {
    store.t.private_pairs.get(low_high(a, b)).map_err(io)?.map(|v| codec::id_at(&v, 0)).transpose()
}

/// Reads a message.
pub fn get_message(store: &Store, chat: Uuid, id: Uuid) -> AppResult<Option<MessageRecord>> {
    store.t.messages.get(k2(chat, id)).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// The message a user already sent with `client_id`.
pub fn by_client_id(store: &Store, user: Uuid, client_id: &str) -> AppResult<Option<MessageRecord>> {
    let key = codec::Key::new().id(user).str(client_id).build();
    match store.t.message_client_ids.get(key).map_err(io)? {
        Some(v) => get_message(store, codec::id_at(&v, 0)?, codec::id_at(&v, 16)?),
        None => Ok(None),
    }
}

/// Messages of a chat: before `before` (newest first) or after `after` (oldest first); neither:
/// the newest, newest first.
pub fn messages(store: &Store, chat: Uuid, before: Option<Uuid>, after: Option<Uuid>, limit: usize) -> AppResult<Vec<MessageRecord>> {
    let lo = k2(chat, Uuid::nil());
    let hi = k2(chat, Uuid::max());
    let decode = |r: sled::Result<(sled::IVec, sled::IVec)>| -> AppResult<MessageRecord> { codec::dec(&r.map_err(io)?.1) };
    match (before, after) {
        (_, Some(a)) => store
            .t
            .messages
            .range((std::ops::Bound::Excluded(k2(chat, a)), std::ops::Bound::Included(hi)))
            .take(limit)
            .map(decode)
            .collect(),
        (Some(b), None) => store.t.messages.range(lo..k2(chat, b)).rev().take(limit).map(decode).collect(),
        (None, None) => store.t.messages.range(lo..=hi).rev().take(limit).map(decode).collect(),
    }
}

/// Messages from others after `after` in a chat, counted up to `cap`.
pub fn unread(store: &Store, chat: Uuid, me: Uuid, after: Option<Uuid>, cap: usize) -> AppResult<usize> {
    let start = k2(chat, after.unwrap_or(Uuid::nil()));
    let mut n = 0;
    for item in store.t.messages.range((std::ops::Bound::Excluded(start), std::ops::Bound::Included(k2(chat, Uuid::max())))) {
        let m: MessageRecord = codec::dec(&item.map_err(io)?.1)?;
        if m.from_user_id != me && !m.deleted && m.kind != MessageKind::System {
            n += 1;
            if n >= cap {
                break;
            }
        }
    }
    Ok(n)
}

/// Unread counts shown up to this many (a scan stops there).
pub const UNREAD_CAP: usize = 999;

/// How a change moves a member's unread count.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Unread {
    /// Counted afresh.
    Set(u64),
    /// Moved by this many (never below 0).
    Add(i64),
    /// Left the chat.
    Remove,
}

fn counted(m: &MessageRecord) -> bool {
    !m.deleted && m.kind != MessageKind::System
}

/// The unread counts a change moves. Runs on the committer thread before the change's
/// transaction: changes are applied one at a time there, so these reads see every earlier one.
fn unread_moves(store: &Store, c: &Change) -> AppResult<BTreeMap<Vec<u8>, Unread>> {
    let mut moves = BTreeMap::new();
    for (chat, user, m) in &c.members {
        let n = unread(store, *chat, *user, m.last_read_message_id, UNREAD_CAP)?;
        moves.insert(k2(*chat, *user), Unread::Set(n as u64));
    }
    if let Some((chat, user, to, true)) = c.advance {
        moves.insert(k2(chat, user), Unread::Set(unread(store, chat, user, Some(to), UNREAD_CAP)? as u64));
    }
    for m in &c.messages {
        let before = get_message(store, m.chat_id, m.id)?;
        let step = match &before {
            None if counted(m) => 1,
            Some(b) if counted(b) && !counted(m) => -1,
            _ => continue,
        };
        let mut readers: BTreeMap<Uuid, Option<Uuid>> = if step > 0 {
            member_ids(store, m.chat_id)?.iter().map(|u| (*u, None)).collect()
        } else {
            members(store, m.chat_id)?.into_iter().map(|(u, r)| (u, r.last_read_message_id)).collect()
        };
        readers.extend(c.members.iter().filter(|(chat, _, _)| *chat == m.chat_id).map(|(_, u, r)| (*u, r.last_read_message_id)));
        for (user, read) in readers {
            // Only messages after the reader's position count; a new message is after every one.
            if user == m.from_user_id || read.is_some_and(|r| r >= m.id) {
                continue;
            }
            let e = moves.entry(k2(m.chat_id, user)).or_insert(Unread::Add(0));
            *e = match *e {
                Unread::Set(n) => Unread::Set(n.saturating_add_signed(step)),
                Unread::Add(d) => Unread::Add(d + step),
                Unread::Remove => Unread::Remove,
            };
        }
    }
    for (chat, user) in &c.leave {
        moves.insert(k2(*chat, *user), Unread::Remove);
    }
    Ok(moves)
}

/// Writes unread moves inside a transaction.
fn write_unread(tree: &TransactionalTree, moves: &BTreeMap<Vec<u8>, Unread>) -> ConflictableTransactionResult<(), AppError> {
    for (key, m) in moves {
        match *m {
            Unread::Set(n) => {
                tree.insert(key.as_slice(), &n.to_be_bytes())?;
            }
            Unread::Add(0) => {}
            Unread::Add(d) => {
                let now = tree.get(key.as_slice())?.map_or(0, |v| super::meta::read_u64(&v));
                tree.insert(key.as_slice(), &now.saturating_add_signed(d).to_be_bytes())?;
            }
            Unread::Remove => {
                tree.remove(key.as_slice())?;
            }
        }
    }
    Ok(())
}

/// Messages from others after the member's read position, as kept (shown up to [`UNREAD_CAP`]).
pub fn unread_count(store: &Store, chat: Uuid, user: Uuid) -> AppResult<usize> {
    let n = store.t.chat_unread.get(k2(chat, user)).map_err(io)?.map_or(0, |v| super::meta::read_u64(&v));
    Ok(usize::try_from(n).unwrap_or(usize::MAX).min(UNREAD_CAP))
}

/// Counts every member's unread messages afresh (migration 6, and after a restore).
pub fn rebuild_unread(store: &Store) -> AppResult<()> {
    store.t.chat_unread.clear().map_err(io)?;
    for item in store.t.chat_members.iter() {
        let (k, v) = item.map_err(io)?;
        let (chat, user) = (codec::id_at(&k, 0)?, codec::id_at(&k, 16)?);
        let m: MemberRecord = codec::dec(&v)?;
        let n = unread(store, chat, user, m.last_read_message_id, UNREAD_CAP)? as u64;
        store.t.chat_unread.insert(k, &n.to_be_bytes()).map_err(io)?;
    }
    Ok(())
}

/// True if any message still carries `media`.
pub fn media_in_chats(store: &Store, media: Uuid) -> AppResult<bool> {
    Ok(store.t.media_chats.scan_prefix(media.as_bytes()).next().is_some())
}

/// Migration 4: `media_chats` gets one entry per message (it had one per chat), so that deleting
/// one message unlinks exactly its media.
pub fn rebuild_media_links(store: &Store) -> AppResult<()> {
    store.t.media_chats.clear().map_err(io)?;
    for item in store.t.messages.iter() {
        let m: MessageRecord = codec::dec(&item.map_err(io)?.1)?;
        if let Some(a) = m.attachment_id.filter(|_| !m.deleted) {
            store.t.media_chats.insert(k3(a, m.chat_id, m.id), &[] as &[u8]).map_err(io)?;
        }
    }
    Ok(())
}

/// True if `media` was sent in a chat `user` is in.
pub fn media_visible_in_chats(store: &Store, media: Uuid, user: Uuid) -> AppResult<bool> {
    for k in store.t.media_chats.scan_prefix(media.as_bytes()).keys() {
        let k = k.map_err(io)?;
        let chat = codec::id_at(&k, 16)?;
        if store.t.chat_members.contains_key(k2(chat, user)).map_err(io)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One change to chats, applied atomically with its events.
#[derive(Default)]
pub struct Change {
    /// Chats to write.
    pub chats: Vec<ChatRecord>,
    /// Memberships to write (chat, user, member).
    pub members: Vec<(Uuid, Uuid, MemberRecord)>,
    /// Memberships to remove (chat, user).
    pub leave: Vec<(Uuid, Uuid)>,
    /// Media no longer carried by a message (media, chat, message): a deleted attachment.
    pub unlink_media: Vec<(Uuid, Uuid, Uuid)>,
    /// Private pair to claim (a, b, chat): aborts with `Conflict` carrying the existing chat if taken.
    pub pair: Option<(Uuid, Uuid, Uuid)>,
    /// Messages to write.
    pub messages: Vec<MessageRecord>,
    /// A read (`true`) or delivered position to move forward: (chat, user, message, read). When
    /// it does not move, nothing of the change is written (its events are not logged).
    pub advance: Option<(Uuid, Uuid, Uuid, bool)>,
    /// A member's mute (chat, user, until; `None` unmutes), set on the stored member.
    pub mute: Option<(Uuid, Uuid, Option<DateTime<Utc>>)>,
    /// Notes shared by the messages (their `shares_count` goes up in the same transaction).
    pub note_shares: Vec<Uuid>,
    /// Events to log.
    pub events: Vec<Event>,
    /// When the change happened (the events' time).
    pub at: Option<DateTime<Utc>>,
}

/// Applies a change in one transaction with its events, numbered from `first`.
pub fn apply(store: &Store, c: &Change, first: u64) -> AppResult<Vec<LogRecord>> {
    let unread = unread_moves(store, c)?;
    let records = apply_tx(store, c, &unread, first);
    let changed = c.members.iter().map(|(chat, _, _)| *chat).chain(c.leave.iter().map(|(chat, _)| *chat));
    // Also after a failed transaction: it may have been applied before the error surfaced.
    if !c.members.is_empty() || !c.leave.is_empty() {
        store.members.invalidate(changed);
    }
    records
}

fn apply_tx(store: &Store, c: &Change, unread: &BTreeMap<Vec<u8>, Unread>, first: u64) -> AppResult<Vec<LogRecord>> {
    let t = &store.t;
    let trees = (
        &t.chats,
        &t.chat_members,
        &t.user_chats,
        &t.private_pairs,
        &t.messages,
        &t.message_client_ids,
        &t.media_chats,
        &t.event_log,
        &t.chat_log,
        &t.user_log,
        &t.note_counters,
        &t.chat_unread,
    );
    let at = c.at.unwrap_or_else(Utc::now);
    tx(trees.transaction(
        |(chats, members, user_chats, pairs, messages, client_ids, media_chats, log, chat_log, user_log, note_counters, unread_counts)| {
            if let Some((chat, user, to, read)) = c.advance
                && !advance_in(members, chat, user, to, read)?
            {
                // The position did not move: nothing to store, nothing to tell.
                return Ok(Vec::new());
            }
            if let Some((chat, user, until)) = c.mute {
                let key = k2(chat, user);
                let Some(raw) = members.get(&key)? else { return abort(AppError::NotFound("chat")) };
                let mut m: MemberRecord = dec_tx(&raw)?;
                m.muted_until = until;
                members.insert(key, codec::enc(&m))?;
            }
            let appender = Appender::new(log, chat_log, user_log, first);
            if let Some((a, b, chat)) = c.pair {
                if let Some(existing) = pairs.get(low_high(a, b))? {
                    let id = codec::id_at(&existing, 0).or_else(abort)?;
                    return abort(AppError::Conflict(id.to_string(), vec![]));
                }
                pairs.insert(low_high(a, b), chat.as_bytes())?;
            }
            for ch in &c.chats {
                chats.insert(ch.id.as_bytes(), codec::enc(ch))?;
            }
            for (chat, user, m) in &c.members {
                let mut m = m.clone();
                if m.joined_seq == 0 {
                    m.joined_seq = first;
                }
                members.insert(k2(*chat, *user), codec::enc(&m))?;
                user_chats.insert(k2(*user, *chat), &[] as &[u8])?;
            }
            for (chat, user) in &c.leave {
                members.remove(k2(*chat, *user))?;
                user_chats.remove(k2(*user, *chat))?;
            }
            for m in &c.messages {
                messages.insert(k2(m.chat_id, m.id), codec::enc(m))?;
                if let Some(cid) = &m.client_id {
                    client_ids.insert(codec::Key::new().id(m.from_user_id).str(cid).build(), k2(m.chat_id, m.id))?;
                }
                if let Some(a) = m.attachment_id {
                    media_chats.insert(k3(a, m.chat_id, m.id), &[] as &[u8])?;
                }
            }
            for (media, chat, message) in &c.unlink_media {
                media_chats.remove(k3(*media, *chat, *message))?;
            }
            for note in &c.note_shares {
                super::notes::count_share_in(note_counters, *note)?;
            }
            write_unread(unread_counts, unread)?;
            for e in &c.events {
                appender.add(e, at)?;
            }
            Ok(appender.finish())
        },
    ))
}

/// Moves a member's read or delivered position forward inside a transaction; false if it was
/// already there or further (404 for a non-member).
fn advance_in(members: &TransactionalTree, chat: Uuid, user: Uuid, to: Uuid, read: bool) -> ConflictableTransactionResult<bool, AppError> {
    let key = k2(chat, user);
    let Some(raw) = members.get(&key)? else { return abort(AppError::NotFound("chat")) };
    let mut m: MemberRecord = dec_tx(&raw)?;
    let slot = if read { &mut m.last_read_message_id } else { &mut m.last_delivered_message_id };
    if slot.is_some_and(|cur| cur >= to) {
        return Ok(false);
    }
    *slot = Some(to);
    if read && m.last_delivered_message_id.is_none_or(|d| d < to) {
        m.last_delivered_message_id = Some(to);
    }
    members.insert(key.as_slice(), codec::enc(&m))?;
    Ok(true)
}

/// Every message a user wrote, in chats they left too (export). Reads every message: exports are rare.
pub fn messages_by(store: &Store, user: Uuid) -> AppResult<Vec<MessageRecord>> {
    let mut out = Vec::new();
    for item in store.t.messages.iter() {
        let m: MessageRecord = codec::dec(&item.map_err(io)?.1)?;
        if m.from_user_id == user {
            out.push(m);
        }
    }
    Ok(out)
}
