//! Friendships, friend requests and blocks, with their indexes, in single transactions.
//!
//! Trees: `friendships` (a ‖ b → since, both directions), `friend_requests` (id → request),
//! `requests_out` (from ‖ to → id) and `requests_in` (to ‖ from → id) for pending requests only,
//! `blocks` (blocker ‖ blocked → since), `user_counters` (user ‖ name → u64).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use uuid::Uuid;

use super::codec::dec_tx;
use super::event_log::{Appender, Audience, LogRecord};
use super::{Store, abort, codec, io, tx};
use crate::error::{AppError, AppResult};

/// Status of a friend request.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for the recipient.
    Pending,
    /// Accepted: the two are friends.
    Accepted,
    /// Rejected by the recipient.
    Rejected,
    /// Withdrawn by the sender.
    Withdrawn,
    /// Cancelled by a block or an account deletion.
    Cancelled,
}

/// A friend request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Id.
    pub id: Uuid,
    /// Sender.
    pub from: Uuid,
    /// Recipient.
    pub to: Uuid,
    /// Status.
    pub status: RequestStatus,
    /// Sent.
    pub created_at: DateTime<Utc>,
    /// Answered, withdrawn or cancelled.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A friendship edge (stored both ways).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Edge {
    /// Since when.
    pub since: DateTime<Utc>,
}

fn pair(a: Uuid, b: Uuid) -> Vec<u8> {
    codec::Key::new().id(a).id(b).build()
}

fn counter_key(user: Uuid, name: &str) -> Vec<u8> {
    codec::Key::new().id(user).str(name).build()
}

fn bump(counters: &TransactionalTree, user: Uuid, name: &str, delta: i64) -> ConflictableTransactionResult<(), AppError> {
    let k = counter_key(user, name);
    let now = counters.get(&k)?.map(|v| super::meta::read_u64(&v)).unwrap_or(0);
    counters.insert(k, &((now as i64 + delta).max(0) as u64).to_be_bytes())?;
    Ok(())
}

/// What `send_request` did.
pub enum SendOutcome {
    /// A new pending request.
    Sent(RequestRecord),
    /// The other side had already asked: their request was accepted, the two are friends.
    Accepted(RequestRecord),
}

/// The trees a social transaction touches.
struct Tx<'a> {
    friendships: &'a TransactionalTree,
    requests: &'a TransactionalTree,
    out: &'a TransactionalTree,
    inc: &'a TransactionalTree,
    blocks: &'a TransactionalTree,
    blocked_by: &'a TransactionalTree,
    counters: &'a TransactionalTree,
    log: Appender<'a>,
}

impl Tx<'_> {
    fn befriend(&self, a: Uuid, b: Uuid, since: DateTime<Utc>) -> ConflictableTransactionResult<(), AppError> {
        let e = codec::enc(&Edge { since });
        self.friendships.insert(pair(a, b), e.clone())?;
        self.friendships.insert(pair(b, a), e)?;
        bump(self.counters, a, "friends", 1)?;
        bump(self.counters, b, "friends", 1)
    }

    fn unfriend(&self, a: Uuid, b: Uuid) -> ConflictableTransactionResult<bool, AppError> {
        let was = self.friendships.remove(pair(a, b))?.is_some();
        self.friendships.remove(pair(b, a))?;
        if was {
            bump(self.counters, a, "friends", -1)?;
            bump(self.counters, b, "friends", -1)?;
        }
        Ok(was)
    }

    /// Closes the pending request from `from` to `to`, if any, with `status`.
    fn close_pending(
        &self,
        from: Uuid,
        to: Uuid,
        status: RequestStatus,
        at: DateTime<Utc>,
    ) -> ConflictableTransactionResult<Option<RequestRecord>, AppError> {
        let Some(id) = self.out.remove(pair(from, to))? else { return Ok(None) };
        self.inc.remove(pair(to, from))?;
        let Some(raw) = self.requests.get(&id)? else { return Ok(None) };
        let mut r: RequestRecord = dec_tx(&raw)?;
        r.status = status;
        r.updated_at = Some(at);
        self.requests.insert(&id, codec::enc(&r))?;
        Ok(Some(r))
    }

    /// A `friend_request.*` event for `to` about `r` (rendered for the recipient on delivery).
    fn event(&self, kind: &str, to: Uuid, r: &RequestRecord, at: DateTime<Utc>) -> ConflictableTransactionResult<(), AppError> {
        self.log.append(kind, Audience::Users(vec![to]), serde_json::json!({ "request": r }), at).map(|_| ())
    }
}

impl Store {
    /// A social transaction whose events are numbered from `first`.
    fn social_tx_logged<T>(
        &self,
        first: u64,
        f: impl Fn(&Tx) -> ConflictableTransactionResult<T, AppError>,
    ) -> AppResult<(T, Vec<LogRecord>)> {
        let t = &self.t;
        let trees = (
            &t.friendships,
            &t.friend_requests,
            &t.requests_out,
            &t.requests_in,
            &t.blocks,
            &t.blocked_by,
            &t.user_counters,
            &t.event_log,
            &t.chat_log,
            &t.user_log,
        );
        tx(trees.transaction(|(friendships, requests, out, inc, blocks, blocked_by, counters, log, chat_log, user_log)| {
            let t =
                Tx { friendships, requests, out, inc, blocks, blocked_by, counters, log: Appender::new(log, chat_log, user_log, first) };
            let v = f(&t)?;
            Ok((v, t.log.finish()))
        }))
    }

    /// A social transaction that logs no event.
    fn social_tx<T>(&self, f: impl Fn(&Tx) -> ConflictableTransactionResult<T, AppError>) -> AppResult<T> {
        self.social_tx_logged(0, f).map(|(v, _)| v)
    }
}

/// True if `a` and `b` are friends.
pub fn are_friends(store: &Store, a: Uuid, b: Uuid) -> AppResult<bool> {
    store.t.friendships.contains_key(pair(a, b)).map_err(io)
}

/// True if `blocker` blocked `blocked`.
pub fn has_blocked(store: &Store, blocker: Uuid, blocked: Uuid) -> AppResult<bool> {
    store.t.blocks.contains_key(pair(blocker, blocked)).map_err(io)
}

/// The pending request id from `from` to `to`, if any.
pub fn pending_between(store: &Store, from: Uuid, to: Uuid) -> AppResult<Option<Uuid>> {
    store.t.requests_out.get(pair(from, to)).map_err(io)?.map(|v| codec::id_at(&v, 0)).transpose()
}

/// Ids of `user`'s friends, in id order.
pub fn friend_ids(store: &Store, user: Uuid) -> AppResult<Vec<Uuid>> {
    store.t.friendships.scan_prefix(user.as_bytes()).keys().map(|k| k.map_err(io).and_then(|k| codec::id_at(&k, 16))).collect()
}

/// Ids of `user`'s friends after `after` (exclusive), in id order, read lazily.
pub fn friend_ids_after(store: &Store, user: Uuid, after: Option<Uuid>) -> AppResult<impl Iterator<Item = AppResult<Uuid>> + use<>> {
    let start = match after {
        Some(a) => {
            let mut k = pair(user, a);
            k.push(0);
            k
        }
        None => user.as_bytes().to_vec(),
    };
    let end = {
        let mut k = user.as_bytes().to_vec();
        k.extend_from_slice(&[0xFF; 17]);
        k
    };
    Ok(store.t.friendships.range(start..end).keys().map(|k| k.map_err(io).and_then(|k| codec::id_at(&k, 16))))
}

/// Ids of the users `user` blocked.
pub fn blocked_ids(store: &Store, user: Uuid) -> AppResult<Vec<(Uuid, DateTime<Utc>)>> {
    let mut out = Vec::new();
    for item in store.t.blocks.scan_prefix(user.as_bytes()) {
        let (k, v) = item.map_err(io)?;
        let e: Edge = codec::dec(&v)?;
        out.push((codec::id_at(&k, 16)?, e.since));
    }
    Ok(out)
}

/// Ids of the users who blocked `user`.
pub fn blocker_ids(store: &Store, user: Uuid) -> AppResult<Vec<Uuid>> {
    store.t.blocked_by.scan_prefix(user.as_bytes()).keys().map(|k| k.map_err(io).and_then(|k| codec::id_at(&k, 16))).collect()
}

/// True if either blocked the other.
pub fn blocked_either(store: &Store, a: Uuid, b: Uuid) -> AppResult<bool> {
    Ok(has_blocked(store, a, b)? || has_blocked(store, b, a)?)
}

/// True if `user` blocked someone or someone blocked `user` (two prefix probes).
pub fn in_any_block(store: &Store, user: Uuid) -> AppResult<bool> {
    Ok(store.t.blocks.scan_prefix(user.as_bytes()).next().transpose().map_err(io)?.is_some()
        || store.t.blocked_by.scan_prefix(user.as_bytes()).next().transpose().map_err(io)?.is_some())
}

/// A kept per-user counter (`friends`).
pub fn counter(store: &Store, user: Uuid, name: &str) -> AppResult<u64> {
    Ok(store.t.user_counters.get(counter_key(user, name)).map_err(io)?.map(|v| super::meta::read_u64(&v)).unwrap_or(0))
}

/// Reads a request.
pub fn get_request(store: &Store, id: Uuid) -> AppResult<Option<RequestRecord>> {
    store.t.friend_requests.get(id.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Pending requests to (`incoming`) or from `user`, oldest first.
pub fn pending(store: &Store, user: Uuid, incoming: bool) -> AppResult<Vec<RequestRecord>> {
    let tree = if incoming { &store.t.requests_in } else { &store.t.requests_out };
    let mut out = Vec::new();
    for item in tree.scan_prefix(user.as_bytes()) {
        let (_, id) = item.map_err(io)?;
        if let Some(r) = get_request(store, codec::id_at(&id, 0)?)? {
            out.push(r);
        }
    }
    out.sort_by_key(|r| r.id);
    Ok(out)
}

/// Every request `user` sent or received, any status (for the data export).
pub fn all_requests_of(store: &Store, user: Uuid) -> AppResult<Vec<RequestRecord>> {
    let mut out = Vec::new();
    for item in store.t.friend_requests.iter() {
        let r: RequestRecord = codec::dec(&item.map_err(io)?.1)?;
        if r.from == user || r.to == user {
            out.push(r);
        }
    }
    Ok(out)
}

/// Sends a request, or accepts the reverse one if it exists. Errors: already friends (409),
/// already requested (409), blocks (403 when `from` blocked `to`, 404 when `to` blocked `from`).
pub fn send_request(store: &Store, request: &RequestRecord, first: u64) -> AppResult<(SendOutcome, Vec<LogRecord>)> {
    let (from, to, now) = (request.from, request.to, request.created_at);
    store.social_tx_logged(first, |t| {
        if t.blocks.get(pair(to, from))?.is_some() {
            return abort(AppError::NotFound("user"));
        }
        if t.blocks.get(pair(from, to))?.is_some() {
            return abort(AppError::Forbidden("you blocked this user; unblock them first".into()));
        }
        if t.friendships.get(pair(from, to))?.is_some() {
            return abort(AppError::Conflict("you are already friends".into(), vec![]));
        }
        if t.out.get(pair(from, to))?.is_some() {
            return abort(AppError::Conflict("you already sent a request to this user".into(), vec![]));
        }
        if let Some(reverse) = t.close_pending(to, from, RequestStatus::Accepted, now)? {
            t.befriend(from, to, now)?;
            t.event("friend_request.accepted", to, &reverse, now)?;
            return Ok(SendOutcome::Accepted(reverse));
        }
        t.requests.insert(request.id.as_bytes(), codec::enc(request))?;
        t.out.insert(pair(from, to), request.id.as_bytes())?;
        t.inc.insert(pair(to, from), request.id.as_bytes())?;
        t.event("friend_request.new", to, request, now)?;
        Ok(SendOutcome::Sent(request.clone()))
    })
}

/// Answers a pending request as its recipient (`accept` or reject). 404 if `me` is not a party,
/// 403 if the sender tries, 409 if it is not pending.
pub fn answer_request(
    store: &Store,
    me: Uuid,
    id: Uuid,
    accept: bool,
    now: DateTime<Utc>,
    first: u64,
) -> AppResult<(RequestRecord, Vec<LogRecord>)> {
    store.social_tx_logged(first, |t| {
        let Some(raw) = t.requests.get(id.as_bytes())? else { return abort(AppError::NotFound("friend request")) };
        let r: RequestRecord = dec_tx(&raw)?;
        if r.from != me && r.to != me {
            return abort(AppError::NotFound("friend request"));
        }
        if r.to != me {
            return abort(AppError::Forbidden("only the recipient can answer a friend request".into()));
        }
        if r.status != RequestStatus::Pending {
            return abort(AppError::Conflict(format!("this request is already {:?}", r.status).to_lowercase(), vec![]));
        }
        let status = if accept { RequestStatus::Accepted } else { RequestStatus::Rejected };
        let closed = t.close_pending(r.from, r.to, status, now)?.unwrap_or(r);
        if accept {
            t.befriend(closed.from, closed.to, now)?;
            t.event("friend_request.accepted", closed.from, &closed, now)?;
        }
        Ok(closed)
    })
}

/// Withdraws a pending request as its sender. 404 for others, 409 if not pending.
pub fn withdraw_request(store: &Store, me: Uuid, id: Uuid, now: DateTime<Utc>) -> AppResult<()> {
    store.social_tx(|t| {
        let Some(raw) = t.requests.get(id.as_bytes())? else { return abort(AppError::NotFound("friend request")) };
        let r: RequestRecord = dec_tx(&raw)?;
        if r.from != me {
            return abort(AppError::NotFound("friend request"));
        }
        if r.status != RequestStatus::Pending {
            return abort(AppError::Conflict("this request is no longer pending".into(), vec![]));
        }
        t.close_pending(r.from, r.to, RequestStatus::Withdrawn, now)?;
        Ok(())
    })
}

/// Ends a friendship both ways; 404 if there is none.
pub fn unfriend(store: &Store, me: Uuid, other: Uuid) -> AppResult<()> {
    store.social_tx(|t| if t.unfriend(me, other)? { Ok(()) } else { abort(AppError::NotFound("friend")) })
}

/// Blocks `other`: removes the friendship and pending requests both ways. 409 if already blocked.
pub fn block(store: &Store, me: Uuid, other: Uuid, now: DateTime<Utc>) -> AppResult<()> {
    store.social_tx(|t| {
        if t.blocks.get(pair(me, other))?.is_some() {
            return abort(AppError::Conflict("you already blocked this user".into(), vec![]));
        }
        t.unfriend(me, other)?;
        t.close_pending(me, other, RequestStatus::Cancelled, now)?;
        t.close_pending(other, me, RequestStatus::Cancelled, now)?;
        t.blocks.insert(pair(me, other), codec::enc(&Edge { since: now }))?;
        t.blocked_by.insert(pair(other, me), &[] as &[u8])?;
        Ok(())
    })
}

/// Unblocks; 404 if not blocked. Restores nothing else.
pub fn unblock(store: &Store, me: Uuid, other: Uuid) -> AppResult<()> {
    store.social_tx(|t| {
        t.blocked_by.remove(pair(other, me))?;
        if t.blocks.remove(pair(me, other))?.is_some() { Ok(()) } else { abort(AppError::NotFound("block")) }
    })
}

/// Removes `user` from every friend list, request and block (account deletion).
pub fn forget_user(store: &Store, user: Uuid, now: DateTime<Utc>) -> AppResult<()> {
    let friends = friend_ids(store, user)?;
    let outgoing: Vec<Uuid> = pending(store, user, false)?.iter().map(|r| r.to).collect();
    let incoming: Vec<Uuid> = pending(store, user, true)?.iter().map(|r| r.from).collect();
    let blocked: Vec<Uuid> = blocked_ids(store, user)?.into_iter().map(|(id, _)| id).collect();
    let blockers = blocker_ids(store, user)?;
    store.social_tx(|t| {
        for f in &friends {
            t.unfriend(user, *f)?;
        }
        for o in &outgoing {
            t.close_pending(user, *o, RequestStatus::Cancelled, now)?;
        }
        for i in &incoming {
            t.close_pending(*i, user, RequestStatus::Cancelled, now)?;
        }
        for b in &blocked {
            t.blocks.remove(pair(user, *b))?;
            t.blocked_by.remove(pair(*b, user))?;
        }
        for b in &blockers {
            t.blocks.remove(pair(*b, user))?;
            t.blocked_by.remove(pair(user, *b))?;
        }
        Ok(())
    })
}

/// Inserts a friendship directly (restore and benchmark seeding).
pub fn restore_friendship(store: &Store, a: Uuid, b: Uuid, since: DateTime<Utc>) -> AppResult<()> {
    store.social_tx(|t| if t.friendships.get(pair(a, b))?.is_none() { t.befriend(a, b, since) } else { Ok(()) })
}

/// Every friendship once (a < b), for backups.
pub fn all_friendships(store: &Store) -> AppResult<Vec<(Uuid, Uuid, DateTime<Utc>)>> {
    let mut out = Vec::new();
    for item in store.t.friendships.iter() {
        let (k, v) = item.map_err(io)?;
        let (a, b) = (codec::id_at(&k, 0)?, codec::id_at(&k, 16)?);
        if a < b {
            out.push((a, b, codec::dec::<Edge>(&v)?.since));
        }
    }
    Ok(out)
}

/// Every block, for backups.
pub fn all_blocks(store: &Store) -> AppResult<Vec<(Uuid, Uuid, DateTime<Utc>)>> {
    let mut out = Vec::new();
    for item in store.t.blocks.iter() {
        let (k, v) = item.map_err(io)?;
        out.push((codec::id_at(&k, 0)?, codec::id_at(&k, 16)?, codec::dec::<Edge>(&v)?.since));
    }
    Ok(out)
}

/// Restores a request with its pending indexes.
pub fn restore_request(store: &Store, r: &RequestRecord) -> AppResult<()> {
    store.social_tx(|t| {
        t.requests.insert(r.id.as_bytes(), codec::enc(r))?;
        if r.status == RequestStatus::Pending {
            t.out.insert(pair(r.from, r.to), r.id.as_bytes())?;
            t.inc.insert(pair(r.to, r.from), r.id.as_bytes())?;
        }
        Ok(())
    })
}

/// Restores a block.
pub fn restore_block(store: &Store, a: Uuid, b: Uuid, since: DateTime<Utc>) -> AppResult<()> {
    store.t.blocks.insert(pair(a, b), codec::enc(&Edge { since })).map_err(io)?;
    store.t.blocked_by.insert(pair(b, a), &[] as &[u8]).map_err(io)?;
    Ok(())
}

/// Every request, for backups.
pub fn all_requests(store: &Store) -> AppResult<Vec<RequestRecord>> {
    store.t.friend_requests.iter().map(|r| codec::dec(&r.map_err(io)?.1)).collect()
}
