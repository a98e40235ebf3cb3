//! The one event log. Trees: `event_log` (seq → [`LogRecord`]), `chat_log` (chat ‖ seq → ()) and
//! `user_log` (user ‖ seq → (); staff events under [`STAFF`]). Events are written by an
//! [`Appender`] inside the transaction of the change that caused them, so a change and its events
//! are stored together or not at all. Sequence numbers come from `events::Log`, which holds its
//! lock while the transaction runs, so they become visible in order.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use uuid::Uuid;

use super::{Store, abort, codec, io};
use crate::error::{AppError, AppResult};

/// The `user_log` id under which events for every staff member are indexed.
pub const STAFF: Uuid = Uuid::max();
const HWM_KEY: &[u8] = b"chat_seq_hwm";
/// The newest sequence number removed by ageing (0: none).
const FLOOR_KEY: &[u8] = b"event_log_floor";

/// Who an event is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The members of a chat at delivery time (and, on replay, those who had joined by then).
    Chat(Uuid),
    /// These users.
    Users(Vec<Uuid>),
    /// A user's friends at delivery time (ephemeral events only).
    FriendsOf(Uuid),
    /// Every moderator and admin.
    Staff,
}

/// An event before it is numbered: what happened (`kind`), to whom, and its data.
#[derive(Clone, Debug)]
pub struct Event {
    /// `message.new`, `typing`, `presence`, ...
    pub kind: &'static str,
    /// Who it is for.
    pub audience: Audience,
    /// The frame fields or the record it is about.
    pub payload: Value,
}

impl Event {
    /// An event of `kind` for `audience`.
    pub fn new(kind: &'static str, audience: Audience, payload: Value) -> Self {
        Self { kind, audience, payload }
    }
}

/// A stored event.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogRecord {
    /// Global position; only grows.
    pub seq: u64,
    /// `message.new`, `friend_request.accepted`, `goal_completed`, `report_ready`, ...
    pub kind: String,
    /// Who it is for.
    pub audience: Audience,
    /// What happened: the frame fields, or the record it is about.
    pub payload: Value,
    /// When it happened (absent for events from before schema 3).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// Writes events inside a transaction, numbering them from the first sequence it was given.
/// Built afresh in every attempt of the transaction closure (sled may retry it).
pub struct Appender<'a> {
    log: &'a TransactionalTree,
    chat_log: &'a TransactionalTree,
    user_log: &'a TransactionalTree,
    next: Cell<u64>,
    written: RefCell<Vec<LogRecord>>,
}

impl<'a> Appender<'a> {
    /// An appender over the three log trees of a transaction, starting at `first`.
    pub(crate) fn new(log: &'a TransactionalTree, chat_log: &'a TransactionalTree, user_log: &'a TransactionalTree, first: u64) -> Self {
        Self { log, chat_log, user_log, next: Cell::new(first), written: RefCell::new(Vec::new()) }
    }

    /// Appends one event; returns its sequence number.
    pub fn append(
        &self,
        kind: &str,
        audience: Audience,
        payload: Value,
        at: DateTime<Utc>,
    ) -> ConflictableTransactionResult<u64, AppError> {
        let seq = self.next.get();
        let rec = LogRecord { seq, kind: kind.to_string(), audience, payload, at: Some(at) };
        write(self.log, self.chat_log, self.user_log, &rec)?;
        self.next.set(seq + 1);
        self.written.borrow_mut().push(rec);
        Ok(seq)
    }

    /// Appends a prepared event.
    pub fn add(&self, e: &Event, at: DateTime<Utc>) -> ConflictableTransactionResult<u64, AppError> {
        self.append(e.kind, e.audience.clone(), e.payload.clone(), at)
    }

    /// The events written, in order.
    pub fn finish(self) -> Vec<LogRecord> {
        self.written.into_inner()
    }
}

fn index_key(owner: Uuid, seq: u64) -> Vec<u8> {
    codec::Key::new().id(owner).u64(seq).build()
}

fn write(
    log: &TransactionalTree,
    chat_log: &TransactionalTree,
    user_log: &TransactionalTree,
    e: &LogRecord,
) -> ConflictableTransactionResult<(), AppError> {
    log.insert(&e.seq.to_be_bytes(), codec::enc(e))?;
    match &e.audience {
        Audience::Chat(chat) => {
            chat_log.insert(index_key(*chat, e.seq), &[] as &[u8])?;
        }
        Audience::Users(users) => {
            for u in users {
                user_log.insert(index_key(*u, e.seq), &[] as &[u8])?;
            }
        }
        Audience::Staff => {
            user_log.insert(index_key(STAFF, e.seq), &[] as &[u8])?;
        }
        Audience::FriendsOf(_) => return abort(AppError::internal("friends-of audiences are not stored; list the users")),
    }
    Ok(())
}

fn unindex(chat_log: &TransactionalTree, user_log: &TransactionalTree, e: &LogRecord) -> ConflictableTransactionResult<(), AppError> {
    match &e.audience {
        Audience::Chat(chat) => {
            chat_log.remove(index_key(*chat, e.seq))?;
        }
        Audience::Users(users) => {
            for u in users {
                user_log.remove(index_key(*u, e.seq))?;
            }
        }
        Audience::Staff => {
            user_log.remove(index_key(STAFF, e.seq))?;
        }
        Audience::FriendsOf(_) => {}
    }
    Ok(())
}

/// The newest event stored before `cutoff` (0: none). Events without a time (written before
/// events had one) are older than it when they come before it.
pub fn ageing_boundary(store: &Store, cutoff: DateTime<Utc>) -> AppResult<u64> {
    let mut last = 0;
    for item in store.t.event_log.iter() {
        let rec: LogRecord = codec::dec(&item.map_err(io)?.1)?;
        match rec.at {
            Some(at) if at < cutoff => last = rec.seq,
            Some(_) => break,
            None => {}
        }
    }
    Ok(last)
}

/// Removes, oldest first, at most `limit` events up to sequence `last` with their index entries,
/// and remembers the newest removed ([`floor`]); returns how many.
pub fn prune_through(store: &Store, last: u64, limit: usize) -> AppResult<usize> {
    let t = &store.t;
    let old = t
        .event_log
        .range(..=last.to_be_bytes())
        .take(limit)
        .map(|r| codec::dec(&r.map_err(io)?.1))
        .collect::<AppResult<Vec<LogRecord>>>()?;
    let Some(floor) = old.last().map(|e| e.seq) else { return Ok(0) };
    super::tx((&t.event_log, &t.chat_log, &t.user_log, &t.meta).transaction(|(log, chat_log, user_log, meta)| {
        for e in &old {
            log.remove(&e.seq.to_be_bytes())?;
            unindex(chat_log, user_log, e)?;
        }
        meta.insert(FLOOR_KEY, &floor.to_be_bytes())?;
        Ok(())
    }))?;
    Ok(old.len())
}

/// The newest sequence number removed by ageing; a `sync` from before it has a gap.
pub fn floor(store: &Store) -> AppResult<u64> {
    Ok(store.t.meta.get(FLOOR_KEY).map_err(io)?.map(|v| super::meta::read_u64(&v)).unwrap_or(0))
}

/// Runs `f` in one transaction over the log trees alone (events with no other change).
pub fn append_only<T>(
    store: &Store,
    first: u64,
    f: impl Fn(&Appender) -> ConflictableTransactionResult<T, AppError>,
) -> AppResult<(T, Vec<LogRecord>)> {
    use sled::Transactional;
    let t = &store.t;
    super::tx((&t.event_log, &t.chat_log, &t.user_log).transaction(|(log, chat_log, user_log)| {
        let a = Appender::new(log, chat_log, user_log, first);
        let v = f(&a)?;
        Ok((v, a.finish()))
    }))
}

/// Runs `f` in one transaction over `tree` and the log trees: a change to one tree with its events.
pub(crate) fn with_tree<T>(
    store: &Store,
    tree: &sled::Tree,
    first: u64,
    f: impl Fn(&TransactionalTree, &Appender) -> ConflictableTransactionResult<T, AppError>,
) -> AppResult<(T, Vec<LogRecord>)> {
    use sled::Transactional;
    let t = &store.t;
    super::tx((tree, &t.event_log, &t.chat_log, &t.user_log).transaction(|(tree, log, chat_log, user_log)| {
        let a = Appender::new(log, chat_log, user_log, first);
        let v = f(tree, &a)?;
        Ok((v, a.finish()))
    }))
}

fn decode_index_seq(key: &[u8]) -> AppResult<u64> {
    key.get(16..24).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).ok_or_else(|| io("corrupt event index key"))
}

/// Sequence numbers after `since` of the events for `user`: their chats' events from when they
/// joined (`joined`: chat → first sequence that is theirs), their own, and staff events if `staff`.
pub fn seqs_for(store: &Store, user: Uuid, joined: &[(Uuid, u64)], staff: bool, since: u64, limit: usize) -> AppResult<Vec<u64>> {
    let from = since + 1;
    let mut seqs: Vec<u64> = Vec::new();
    let mut scan = |tree: &sled::Tree, owner: Uuid, start: u64| -> AppResult<()> {
        for k in tree.range(index_key(owner, start)..index_key(owner, u64::MAX)).keys().take(limit) {
            seqs.push(decode_index_seq(&k.map_err(io)?)?);
        }
        Ok(())
    };
    for (chat, first) in joined {
        scan(&store.t.chat_log, *chat, from.max(*first))?;
    }
    scan(&store.t.user_log, user, from)?;
    if staff {
        scan(&store.t.user_log, STAFF, from)?;
    }
    seqs.sort_unstable();
    seqs.dedup();
    seqs.truncate(limit);
    Ok(seqs)
}

/// Reads one event.
pub fn get(store: &Store, seq: u64) -> AppResult<Option<LogRecord>> {
    store.t.event_log.get(seq.to_be_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Every event after `after`, at most `limit`, in order (for subscribers that need them all).
pub fn after(store: &Store, after: u64, limit: usize) -> AppResult<Vec<LogRecord>> {
    store.t.event_log.range((after + 1).to_be_bytes()..).take(limit).map(|r| codec::dec(&r.map_err(io)?.1)).collect()
}

/// The highest sequence number in use: reserved, or (if higher) the newest stored.
pub fn high_water(store: &Store) -> AppResult<u64> {
    let reserved = store.t.meta.get(HWM_KEY).map_err(io)?.map(|v| super::meta::read_u64(&v)).unwrap_or(0);
    let newest = store.t.event_log.last().map_err(io)?.map(|(k, _)| super::meta::read_u64(&k)).unwrap_or(0);
    Ok(reserved.max(newest))
}

/// Reserves sequence numbers up to `hwm` (written before any event that uses them), so numbers
/// are never given out twice, even after a crash.
pub fn reserve(store: &Store, hwm: u64) -> AppResult<()> {
    store.t.meta.insert(HWM_KEY, &hwm.to_be_bytes()).map_err(io)?;
    Ok(())
}

fn cursor_key(name: &str) -> Vec<u8> {
    format!("cursor:{name}").into_bytes()
}

/// The persisted position of the subscriber `name` (0 before its first event).
pub fn cursor(store: &Store, name: &str) -> AppResult<u64> {
    Ok(store.t.meta.get(cursor_key(name)).map_err(io)?.map(|v| super::meta::read_u64(&v)).unwrap_or(0))
}

/// Moves the position of `name` inside a transaction over `meta` (with the subscriber's own
/// writes, so that a crash neither loses nor repeats an event).
pub fn set_cursor_in(meta: &TransactionalTree, name: &str, seq: u64) -> ConflictableTransactionResult<(), AppError> {
    meta.insert(cursor_key(name), &seq.to_be_bytes())?;
    Ok(())
}

/// Starts the subscriber `name` at the newest event if it has no position yet (a new subscriber
/// of an existing log begins now, not with the whole history).
pub fn init_cursor(store: &Store, name: &str) -> AppResult<()> {
    let newest = store.t.event_log.last().map_err(io)?.map(|(k, _)| super::meta::read_u64(&k)).unwrap_or(0);
    store.t.meta.compare_and_swap(cursor_key(name), None as Option<&[u8]>, Some(&newest.to_be_bytes()[..])).map_err(io)?.ok();
    Ok(())
}

/// Moves the position of `name`.
pub fn set_cursor(store: &Store, name: &str, seq: u64) -> AppResult<()> {
    store.t.meta.insert(cursor_key(name), &seq.to_be_bytes()).map_err(io)?;
    Ok(())
}

/// Puts back an event at its own sequence (restore).
pub fn restore(store: &Store, e: &LogRecord) -> AppResult<()> {
    use sled::Transactional;
    let t = &store.t;
    super::tx((&t.event_log, &t.chat_log, &t.user_log).transaction(|(log, chat_log, user_log)| write(log, chat_log, user_log, e)))?;
    if e.seq > high_water(store)? {
        reserve(store, e.seq)?;
    }
    Ok(())
}

/// An event of the chat log before schema 3: the socket frame as it was sent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LegacyFrame {
    /// Sequence.
    pub seq: u64,
    /// Chat it belonged to.
    pub chat_id: Option<Uuid>,
    /// Users it was for.
    #[serde(default)]
    pub users: Vec<Uuid>,
    /// The frame without `seq`.
    pub frame: Value,
}

/// An event of the domain outbox (`events` tree) before schema 3.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LegacyOutbox {
    /// Position in the outbox.
    #[serde(default)]
    pub seq: u64,
    /// Kind.
    pub kind: String,
    /// Users it was for.
    pub recipients: Vec<Uuid>,
    /// The record it was about.
    pub payload: Value,
    /// When.
    pub at: DateTime<Utc>,
}

/// Restores a pre-schema-3 chat log line, in the record form, at its own sequence.
pub fn restore_legacy_frame(store: &Store, e: &LegacyFrame) -> AppResult<()> {
    restore(store, &e.clone().into_record())
}

/// Restores a pre-schema-3 outbox line as it was; [`merge_legacy`] merges it.
pub fn restore_legacy_outbox(store: &Store, e: &LegacyOutbox) -> AppResult<()> {
    store.t.events.insert(e.seq.to_be_bytes(), codec::enc(e)).map_err(io)?;
    Ok(())
}

impl LegacyFrame {
    fn into_record(self) -> LogRecord {
        let mut payload = self.frame;
        let kind = payload.get("type").and_then(Value::as_str).unwrap_or("unknown").to_string();
        if let Some(o) = payload.as_object_mut() {
            o.remove("type");
        }
        let audience = match self.chat_id {
            Some(c) => Audience::Chat(c),
            None => Audience::Users(self.users),
        };
        LogRecord { seq: self.seq, kind, audience, payload, at: None }
    }
}

/// Migration 3: one log. Chat-log events keep their sequence numbers (clients hold them as
/// cursors) in the new record form; outbox events are appended after them in outbox order,
/// except `friend_request.*` ones, which the chat log already holds (they were written twice).
pub fn merge_legacy(store: &Store) -> AppResult<()> {
    let mut seen_requests: HashSet<(String, String, Uuid)> = HashSet::new();
    // The request records the outbox kept, by (kind, request id).
    let mut records: std::collections::HashMap<(String, String), Value> = std::collections::HashMap::new();
    for item in store.t.events.iter() {
        let old: LegacyOutbox = codec::dec(&item.map_err(io)?.1)?;
        if old.kind.starts_with("friend_request.")
            && let Some(id) = old.payload["id"].as_str()
        {
            records.insert((old.kind.clone(), id.to_string()), old.payload.clone());
        }
    }
    for item in store.t.event_log.iter() {
        let (k, v) = item.map_err(io)?;
        let mut rec = match codec::dec::<LogRecord>(&v) {
            Ok(rec) => rec,
            Err(_) => codec::dec::<LegacyFrame>(&v)?.into_record(),
        };
        // Friend-request frames stored the two people as the recipient saw them (their own e-mail
        // included): keep the request record instead, rendered afresh at delivery.
        if rec.kind.starts_with("friend_request.")
            && rec.payload["request"].get("from_user").is_some()
            && let Some(id) = rec.payload["request"]["id"].as_str().map(str::to_string)
        {
            let record = match records.get(&(rec.kind.clone(), id.clone())) {
                Some(r) => Some(r.clone()),
                None => match Uuid::try_parse(&id).ok().map(|u| store.t.friend_requests.get(u.as_bytes())) {
                    Some(got) => got.map_err(io)?.map(|raw| codec::dec::<Value>(&raw)).transpose()?,
                    None => None,
                },
            };
            rec.payload = serde_json::json!({ "request": record });
        }
        store.t.event_log.insert(&k, codec::enc(&rec)).map_err(io)?;
        if rec.kind.starts_with("friend_request.")
            && let (Some(id), Audience::Users(users)) = (rec.payload["request"]["id"].as_str(), &rec.audience)
        {
            for u in users {
                seen_requests.insert((rec.kind.clone(), id.to_string(), *u));
            }
        }
    }
    let mut next = high_water(store)? + 1;
    for item in store.t.events.iter() {
        let (k, v) = item.map_err(io)?;
        let old: LegacyOutbox = codec::dec(&v)?;
        let id = old.payload["id"].as_str().unwrap_or_default().to_string();
        let duplicate = old.kind.starts_with("friend_request.")
            && old.recipients.iter().all(|u| seen_requests.contains(&(old.kind.clone(), id.clone(), *u)));
        if !duplicate {
            let rec =
                LogRecord { seq: next, kind: old.kind, audience: Audience::Users(old.recipients), payload: old.payload, at: Some(old.at) };
            restore(store, &rec)?;
            next += 1;
        }
        store.t.events.remove(k).map_err(io)?;
    }
    store.t.meta.remove(b"events_seq").map_err(io)?;
    Ok(())
}

/// The payload of a `message.new` / `message.updated` event: the message by reference, so that
/// a replay shows it as it is now (edited, or deleted with its text and file gone).
pub fn message_ref(chat: Uuid, message: Uuid) -> Value {
    serde_json::json!({ "chat_id": chat, "message_id": message })
}

/// Migration 4: message events stored the whole message (text, file) at the time; they now hold a
/// reference, so that nothing of a deleted or edited message outlives it in the log.
pub fn messages_by_reference(store: &Store) -> AppResult<()> {
    for item in store.t.event_log.iter() {
        let (k, v) = item.map_err(io)?;
        let mut rec: LogRecord = codec::dec(&v)?;
        if !matches!(rec.kind.as_str(), "message.new" | "message.updated") || rec.payload.get("message").is_none() {
            continue;
        }
        let m = &rec.payload["message"];
        let ids = (m["chat_id"].as_str().and_then(|s| Uuid::try_parse(s).ok()), m["id"].as_str().and_then(|s| Uuid::try_parse(s).ok()));
        let (Some(chat), Some(message)) = ids else { continue };
        rec.payload = message_ref(chat, message);
        store.t.event_log.insert(k, codec::enc(&rec)).map_err(io)?;
    }
    super::chat::rebuild_media_links(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_keys_are_pinned() {
        let id = Uuid::from_u128(1);
        let k = index_key(id, 258);
        assert_eq!(k.len(), 24);
        assert_eq!(&k[16..], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(decode_index_seq(&k).unwrap(), 258);
        assert!(decode_index_seq(&k[..20]).is_err(), "a short key is an error, not 0");
    }

    #[test]
    fn legacy_frames_become_records() {
        let chat = Uuid::from_u128(7);
        let old = LegacyFrame {
            seq: 3,
            chat_id: Some(chat),
            users: vec![],
            frame: serde_json::json!({"type": "message.new", "message": {"id": 1}}),
        };
        let r = old.into_record();
        assert_eq!((r.seq, r.kind.as_str(), r.audience), (3, "message.new", Audience::Chat(chat)));
        assert_eq!(r.payload, serde_json::json!({"message": {"id": 1}}));
    }

    #[tokio::test]
    async fn ageing_removes_old_and_earlier_undated_events_with_their_index_entries() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let (chat, user) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let now = Utc::now();
        let rec = |seq, at| LogRecord { seq, kind: "message.new".into(), audience: Audience::Chat(chat), payload: Value::Null, at };
        let old = now - chrono::Duration::days(100);
        for r in [rec(1, None), rec(2, Some(old)), rec(3, None), rec(4, Some(now))] {
            restore(&store, &r).unwrap();
        }
        let last = ageing_boundary(&store, now - chrono::Duration::days(90)).unwrap();
        assert_eq!(last, 2, "the newest old event; the undated one after it waits");
        assert_eq!(prune_through(&store, last, 1).unwrap(), 1);
        assert_eq!(prune_through(&store, last, 10).unwrap(), 1);
        assert_eq!(prune_through(&store, last, 10).unwrap(), 0);
        assert_eq!(floor(&store).unwrap(), 2);
        assert_eq!(seqs_for(&store, user, &[(chat, 0)], false, 0, 10).unwrap(), vec![3, 4]);
    }

    #[tokio::test]
    async fn migration_3_merges_the_outbox_into_the_one_log_keeping_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let (chat, a, b) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let request = serde_json::json!({ "id": Uuid::from_u128(9), "from": a, "to": b, "status": "pending" });
        let frames = [
            LegacyFrame { seq: 1, chat_id: Some(chat), users: vec![], frame: serde_json::json!({"type": "message.new", "message": {}}) },
            LegacyFrame {
                seq: 2,
                chat_id: None,
                users: vec![b],
                frame: serde_json::json!({"type": "friend_request.new", "request": request}),
            },
        ];
        for f in &frames {
            restore_legacy_frame(&store, f).unwrap();
        }
        reserve(&store, 10_002).unwrap();
        let at = Utc::now();
        let outbox = [
            LegacyOutbox { seq: 1, kind: "friend_request.new".into(), recipients: vec![b], payload: request.clone(), at },
            LegacyOutbox { seq: 2, kind: "goal_completed".into(), recipients: vec![a], payload: serde_json::json!({"goal_id": 1}), at },
            LegacyOutbox {
                seq: 3,
                kind: "report_ready".into(),
                recipients: vec![a],
                payload: serde_json::json!({"period": "2026-W47"}),
                at,
            },
        ];
        for e in &outbox {
            restore_legacy_outbox(&store, e).unwrap();
        }
        merge_legacy(&store).unwrap();
        let all = after(&store, 0, 100).unwrap();
        let kinds: Vec<(u64, &str)> = all.iter().map(|r| (r.seq, r.kind.as_str())).collect();
        assert_eq!(kinds, [(1, "message.new"), (2, "friend_request.new"), (10_003, "goal_completed"), (10_004, "report_ready")]);
        assert!(store.t.events.is_empty(), "the outbox is emptied");
        assert_eq!(seqs_for(&store, a, &[], false, 0, 10).unwrap(), [10_003, 10_004], "indexed for their users");
        assert_eq!(seqs_for(&store, b, &[(chat, 1)], false, 0, 10).unwrap(), [1, 2]);
        merge_legacy(&store).unwrap();
        assert_eq!(after(&store, 0, 100).unwrap().len(), 4, "running it again changes nothing");
    }

    #[tokio::test]
    async fn migration_4_keeps_messages_only_by_reference() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let (chat, msg) = (Uuid::from_u128(5), Uuid::from_u128(6));
        let old = LogRecord {
            seq: 1,
            kind: "message.new".into(),
            audience: Audience::Chat(chat),
            payload: serde_json::json!({"message": {"id": msg, "chat_id": chat, "content": "my address"}}),
            at: None,
        };
        restore(&store, &old).unwrap();
        messages_by_reference(&store).unwrap();
        let now = get(&store, 1).unwrap().unwrap();
        assert_eq!(now.payload, message_ref(chat, msg));
        assert!(!codec::enc(&now).windows(10).any(|w| w == b"my address"));
    }
}
