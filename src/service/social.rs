//! The social graph: friend requests, friends, blocks, discovery and suggestions. Whether one user
//! may see another is decided here, once ([`visible_to`]), for every read path.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::views::{Audience, UserView, user_view};
use crate::access;
use crate::access::Caller;
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::model::ProfileVisibility;
use crate::search::users::{Scope, UserDoc};
use crate::state::AppState;
use crate::store::social::{self as store, RequestRecord, RequestStatus, SendOutcome};
use crate::store::users::{self, UserRecord};

/// How the viewer relates to another user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Friendship {
    /// No relation.
    None,
    /// Friends.
    Friends,
    /// The viewer asked.
    RequestSent,
    /// The other asked the viewer.
    RequestReceived,
    /// The viewer blocked them.
    Blocked,
}

/// The relation of `viewer` to `other`.
pub fn relation(state: &AppState, viewer: Uuid, other: Uuid) -> AppResult<Friendship> {
    let s = &state.store;
    Ok(if store::has_blocked(s, viewer, other)? {
        Friendship::Blocked
    } else if store::are_friends(s, viewer, other)? {
        Friendship::Friends
    } else if store::pending_between(s, viewer, other)?.is_some() {
        Friendship::RequestSent
    } else if store::pending_between(s, other, viewer)?.is_some() {
        Friendship::RequestReceived
    } else {
        Friendship::None
    })
}

/// The user `id` if `viewer` may know it exists: live, enabled (staff see disabled accounts),
/// and not blocking the viewer. Every read of another user goes through here.
pub fn visible_to(state: &AppState, viewer: impl Into<access::Viewer>, id: Uuid) -> AppResult<UserRecord> {
    let viewer = viewer.into();
    let u = users::get(&state.store, id)?
        .filter(|u| u.deleted_at.is_none() && (!u.disabled || viewer.is_staff()))
        .ok_or(AppError::NotFound("user"))?;
    if u.id != viewer.id() && store::has_blocked(&state.store, u.id, viewer.id())? {
        return Err(AppError::NotFound("user"));
    }
    Ok(u)
}

/// The view of `u` as `viewer` sees it (details and presence by relation).
pub fn view_for(state: &AppState, viewer: impl Into<access::Viewer>, u: &UserRecord) -> AppResult<UserView> {
    let viewer = viewer.into();
    if u.id == viewer.id() {
        return Ok(user_view(state, u, Audience::Own));
    }
    let rel = relation(state, viewer.id(), u.id)?;
    let friends = rel == Friendship::Friends;
    let details = u.profile_visibility == ProfileVisibility::Everyone || friends || viewer.is_staff();
    let mut v = user_view(state, u, Audience::Other { details, presence: friends && !u.settings.invisible });
    v.friendship = Some(rel);
    if friends && !u.settings.invisible {
        v.studying_now = super::timer::studying_now(state, u.id);
    }
    Ok(v)
}

/// Keeps the user directory index in step with a stored user.
pub fn index_user(state: &AppState, u: &UserRecord) {
    if u.deleted_at.is_some() || u.disabled {
        state.user_index.remove(u.id);
    } else {
        state.user_index.upsert(UserDoc {
            id: u.id,
            username: u.username.clone(),
            name: u.name.clone(),
            study_focus: u.study_focus.clone(),
            public: u.profile_visibility == ProfileVisibility::Everyone,
        });
    }
}

/// Every live user, for rebuilding the directory index.
pub fn all_user_docs(state: &AppState) -> AppResult<Vec<UserDoc>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = users::list(&state.store, after, 1000)?;
        let Some(last) = page.last() else { return Ok(out) };
        after = Some(last.id);
        out.extend(page.iter().filter(|u| !u.disabled).map(|u| UserDoc {
            id: u.id,
            username: u.username.clone(),
            name: u.name.clone(),
            study_focus: u.study_focus.clone(),
            public: u.profile_visibility == ProfileVisibility::Everyone,
        }));
    }
}

/// A friend request as the API shows it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct RequestView {
    /// Id.
    pub id: Uuid,
    /// Sender.
    pub from_user: UserView,
    /// Recipient.
    pub to_user: UserView,
    /// pending | accepted | rejected | withdrawn | cancelled.
    #[salvo(schema(value_type = String))]
    pub status: RequestStatus,
    /// Sent (RFC 3339).
    pub created_at: String,
    /// Answered (RFC 3339).
    pub updated_at: Option<String>,
}

/// The view of a friend request for `viewer`.
pub fn request_view(state: &AppState, viewer: impl Into<access::Viewer>, r: &RequestRecord) -> AppResult<RequestView> {
    let viewer = viewer.into();
    let side = |id: Uuid| -> AppResult<UserView> {
        let u = users::get(&state.store, id)?.ok_or(AppError::NotFound("user"))?;
        view_for(state, viewer, &u)
    };
    Ok(RequestView {
        id: r.id,
        from_user: side(r.from)?,
        to_user: side(r.to)?,
        status: r.status,
        created_at: rfc3339(r.created_at),
        updated_at: r.updated_at.map(rfc3339),
    })
}

/// What `POST /friend-requests` did.
pub struct Sent {
    /// The request (the new one, or theirs, now accepted).
    pub request: RequestView,
    /// True when it made the two friends at once.
    pub became_friends: bool,
}

/// POST /friend-requests.
pub async fn send_request(state: &std::sync::Arc<AppState>, me: Caller, to: Uuid) -> AppResult<Sent> {
    if to == me.id() {
        return Err(AppError::field("to_user_id", "you cannot send a friend request to yourself"));
    }
    visible_to(state, me.as_student(), to)?;
    if me.staff().is_none() {
        state.friend_requests.take(&me.id().to_string(), state.clock.unix()).map_err(AppError::RateLimited)?;
    }
    let record = RequestRecord {
        id: crate::ids::new_id(),
        from: me.id(),
        to,
        status: RequestStatus::Pending,
        created_at: state.clock.now(),
        updated_at: None,
    };
    let (outcome, _) = state.events.commit(1, move |s, first| store::send_request(s, &record, first)).await?;
    let (r, became_friends) = match outcome {
        SendOutcome::Sent(r) => (r, false),
        SendOutcome::Accepted(r) => (r, true),
    };
    Ok(Sent { request: request_view(state, me, &r)?, became_friends })
}

/// GET /friend-requests?direction=incoming|outgoing.
pub fn list_requests(state: &AppState, me: Caller, incoming: bool) -> AppResult<Vec<RequestView>> {
    store::pending(&state.store, me.id(), incoming)?.iter().map(|r| request_view(state, me, r)).collect()
}

/// POST /friend-requests/{id}/accept and /reject.
pub async fn answer(state: &std::sync::Arc<AppState>, me: Caller, id: Uuid, accept: bool) -> AppResult<RequestView> {
    let now = state.clock.now();
    let (r, _) = state.events.commit(1, move |s, first| store::answer_request(s, me.id(), id, accept, now, first)).await?;
    request_view(state, me, &r)
}

/// DELETE /friend-requests/{id}.
pub async fn withdraw(state: &AppState, me: Caller, id: Uuid) -> AppResult<()> {
    let now = state.clock.now();
    state.store.write(move |s| store::withdraw_request(s, me.id(), id, now)).await
}

/// The view of a friend (relation known: no lookups).
fn friend_view(state: &AppState, u: &UserRecord) -> UserView {
    let mut v = user_view(state, u, Audience::Other { details: true, presence: !u.settings.invisible });
    v.friendship = Some(Friendship::Friends);
    if !u.settings.invisible {
        v.studying_now = super::timer::studying_now(state, u.id);
    }
    v
}

/// GET /friends?q=: friends in the order they became known (ids are time-ordered), filtered by `q`
/// (name or username contains); `after` is the last id of the previous page. Only the page is read.
pub fn friends(state: &AppState, me: Caller, q: &str, after: Option<Uuid>, limit: usize) -> AppResult<(Vec<UserView>, Option<Uuid>)> {
    let q = q.trim().to_lowercase();
    let mut page = Vec::with_capacity(limit);
    let mut last = None;
    for id in store::friend_ids_after(&state.store, me.id(), after)? {
        let Some(u) = users::get(&state.store, id?)? else { continue };
        if u.deleted_at.is_some() || u.disabled {
            continue;
        }
        if !q.is_empty() && !u.name.to_lowercase().contains(&q) && !u.username.to_lowercase().contains(&q) {
            continue;
        }
        if page.len() == limit {
            return Ok((page, last));
        }
        last = Some(u.id);
        page.push(friend_view(state, &u));
    }
    Ok((page, None))
}

/// DELETE /friends/{user_id}.
pub async fn unfriend(state: &AppState, me: Caller, other: Uuid) -> AppResult<()> {
    state.store.write(move |s| store::unfriend(s, me.id(), other)).await
}

/// A block as the API shows it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct BlockView {
    /// The blocked user.
    pub user: UserView,
    /// Since (RFC 3339).
    pub created_at: String,
}

/// POST /blocks.
pub async fn block(state: &AppState, me: Caller, other: Uuid) -> AppResult<BlockView> {
    if other == me.id() {
        return Err(AppError::field("user_id", "you cannot block yourself"));
    }
    let u = users::get(&state.store, other)?.filter(|u| u.deleted_at.is_none()).ok_or(AppError::NotFound("user"))?;
    let now = state.clock.now();
    state.store.write(move |s| store::block(s, me.id(), other, now)).await?;
    Ok(BlockView { user: view_for(state, me, &u)?, created_at: rfc3339(now) })
}

/// DELETE /blocks/{user_id}.
pub async fn unblock(state: &AppState, me: Caller, other: Uuid) -> AppResult<()> {
    state.store.write(move |s| store::unblock(s, me.id(), other)).await
}

/// GET /blocks.
pub fn blocks(state: &AppState, me: Caller) -> AppResult<Vec<BlockView>> {
    let mut out = Vec::new();
    for (id, since) in store::blocked_ids(&state.store, me.id())? {
        if let Some(u) = users::get(&state.store, id)?.filter(|u| u.deleted_at.is_none()) {
            out.push(BlockView { user: view_for(state, me, &u)?, created_at: rfc3339(since) });
        }
    }
    Ok(out)
}

/// Users hidden from `me`: blocked either way.
/// Users hidden from `me`: blocked by them or blocking them.
pub fn hidden_from(state: &AppState, me: Uuid) -> AppResult<Vec<Uuid>> {
    let mut hidden: Vec<Uuid> = store::blocked_ids(&state.store, me)?.into_iter().map(|(id, _)| id).collect();
    hidden.extend(store::blocker_ids(&state.store, me)?);
    Ok(hidden)
}

/// GET /users?q=&study_focus=: the directory, ranked, visibility enforced in the query.
pub fn discover(
    state: &AppState,
    me: Caller,
    q: &str,
    focus: Option<&str>,
    offset: usize,
    limit: usize,
) -> AppResult<(Vec<UserView>, Option<usize>)> {
    if q.trim().is_empty() && focus.is_none_or(|f| f.trim().is_empty()) {
        return Err(AppError::field("q", "give a search text or a study_focus"));
    }
    if q.chars().count() > 100 {
        return Err(AppError::field("q", "must be at most 100 characters"));
    }
    let friends = store::friend_ids(&state.store, me.id())?;
    let hidden = hidden_from(state, me.id())?;
    let viewer = Scope { id: me.id(), friends: &friends, hidden: &hidden };
    let ids = state.user_index.search(&viewer, q, focus, limit + 1, offset)?;
    let next = (ids.len() > limit).then_some(offset + limit);
    let mut out = Vec::new();
    for id in ids.into_iter().take(limit) {
        // The index may lag a disable or deletion by a moment: storage has the last word.
        if let Ok(u) = visible_to(state, me.as_student(), id) {
            out.push(view_for(state, me, &u)?);
        }
    }
    Ok((out, next))
}

/// A suggested user and why.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct Suggestion {
    /// The user.
    pub user: UserView,
    /// Friends in common.
    pub mutual_friends: u32,
    /// Same study focus as the caller.
    pub same_focus: bool,
}

/// GET /users/suggestions: friends of friends by mutual count, then people with the same focus.
pub fn suggestions(state: &AppState, me: Caller, limit: usize) -> AppResult<Vec<Suggestion>> {
    let mine = users::get(&state.store, me.id())?.ok_or(AppError::NotFound("user"))?;
    let friends = store::friend_ids(&state.store, me.id())?;
    let hidden = hidden_from(state, me.id())?;
    let skip = |id: &Uuid| *id == me.id() || friends.binary_search(id).is_ok() || hidden.contains(id);
    let mut mutual: HashMap<Uuid, u32> = HashMap::new();
    for f in &friends {
        for fof in store::friend_ids(&state.store, *f)? {
            if !skip(&fof) {
                *mutual.entry(fof).or_default() += 1;
            }
        }
    }
    let mut ranked: Vec<(Uuid, u32)> = mutual.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out = Vec::new();
    let focus = mine.study_focus.trim().to_lowercase();
    let same_focus = |u: &UserRecord| !focus.is_empty() && u.study_focus.trim().to_lowercase() == focus;
    let student = me.as_student();
    let push = |out: &mut Vec<Suggestion>, id: Uuid, n: u32| -> AppResult<()> {
        if let Ok(u) = visible_to(state, student, id)
            && store::pending_between(&state.store, me.id(), id)?.is_none()
        {
            let same = same_focus(&u);
            out.push(Suggestion { user: view_for(state, me, &u)?, mutual_friends: n, same_focus: same });
        }
        Ok(())
    };
    for (id, n) in ranked {
        if out.len() >= limit {
            return Ok(out);
        }
        push(&mut out, id, n)?;
    }
    for id in state.user_index.same_focus(&focus, limit * 2 + hidden.len() + friends.len().min(200))? {
        if out.len() >= limit {
            break;
        }
        if !skip(&id) && !out.iter().any(|s| s.user.id == id) {
            push(&mut out, id, 0)?;
        }
    }
    Ok(out)
}

/// The social part of the data export.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct SocialExport {
    /// Friends (ids and since when).
    pub friends: Vec<Uuid>,
    /// Every request sent or received.
    #[salvo(schema(value_type = Vec<Object>))]
    pub friend_requests: Vec<RequestRecord>,
    /// Users the caller blocked.
    pub blocked_user_ids: Vec<Uuid>,
}

/// The caller's social data.
pub fn export(state: &AppState, me: Uuid) -> AppResult<SocialExport> {
    Ok(SocialExport {
        friends: store::friend_ids(&state.store, me)?,
        friend_requests: store::all_requests_of(&state.store, me)?,
        blocked_user_ids: store::blocked_ids(&state.store, me)?.into_iter().map(|(id, _)| id).collect(),
    })
}
