//! Chats: private (one per pair) and group chats, members, and messages ([`messages`]). Every
//! change is stored with its events in one transaction through the event log, which then sends
//! them to the members' sockets. Non-members get 404 for everything, as if the chat did not exist.

pub mod messages;
pub mod views;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

pub use messages::{delete_message, edit, expire_typing, history, receipt, send, typing};
pub use views::{ChatView, MemberView, MessageView, NewMessage, chat_view, message_view, read_receipts_on};

use super::{pages, social};
use crate::access::Caller;
use crate::config::DmPolicy;
use crate::error::{AppError, AppResult};
use crate::events::{Audience, Event};
use crate::state::AppState;
use crate::store::chat::{self as store, Change, ChatKind, ChatRecord, MemberRecord, MemberRole, MessageKind, MessageRecord};
use crate::store::event_log::message_ref;
use crate::store::users;

/// The chat `id` if `me` is a member (404 otherwise).
pub(crate) fn membership(state: &AppState, me: Uuid, id: Uuid) -> AppResult<(ChatRecord, MemberRecord)> {
    let m = store::member(&state.store, id, me)?.ok_or(AppError::NotFound("chat"))?;
    let c = store::get_chat(&state.store, id)?.ok_or(AppError::NotFound("chat"))?;
    Ok((c, m))
}

/// Whether `me` may start a conversation with (or add to a group) `other`.
pub fn may_contact(state: &AppState, me: Caller, other: Uuid) -> AppResult<()> {
    social::visible_to(state, me.as_student(), other)?;
    if crate::store::social::has_blocked(&state.store, me.id(), other)? {
        return Err(AppError::Forbidden("you blocked this user".into()));
    }
    if me.staff().is_some() {
        return Ok(());
    }
    match state.settings().dm_policy {
        DmPolicy::Anyone => Ok(()),
        DmPolicy::FriendsOnly if crate::store::social::are_friends(&state.store, me.id(), other)? => Ok(()),
        DmPolicy::FriendsOnly => Err(AppError::Forbidden("you can only message your friends".into())),
        DmPolicy::StaffOnly => Err(AppError::Forbidden("at this school only staff start conversations".into())),
    }
}

/// Applies `change` with `events` in one transaction through the event log (new members join at
/// the change's first event), waits until it is durable and publishes the events.
pub(crate) async fn commit(state: &AppState, mut change: Change, events: Vec<Event>) -> AppResult<()> {
    change.at = Some(state.clock.now());
    change.events = events;
    let n = change.events.len();
    state.events.commit(n, move |s, first| store::apply(s, &change, first).map(|e| ((), e))).await?;
    Ok(())
}

fn validate_group(name: &str, description: &str) -> AppResult<()> {
    let mut e = super::validate::Errors::new();
    e.check("name", super::validate::text(name, 100, true));
    e.check("description", super::validate::text(description, 500, false));
    e.finish()
}

pub(crate) fn system_message(state: &AppState, chat: Uuid, by: Uuid, text: String) -> MessageRecord {
    MessageRecord {
        id: crate::ids::new_id(),
        chat_id: chat,
        from_user_id: by,
        kind: MessageKind::System,
        content: text,
        attachment_id: None,
        note_id: None,
        reply_to_id: None,
        created_at: state.clock.now(),
        edited_at: None,
        deleted: false,
        client_id: None,
    }
}

/// A new member; `joined_seq` is set to the first event of the change that adds them.
fn new_member(role: MemberRole, now: DateTime<Utc>) -> MemberRecord {
    MemberRecord { role, joined_at: now, joined_seq: 0, last_read_message_id: None, last_delivered_message_id: None, muted_until: None }
}

/// Counts a chat a student starts against `chat.new_chats_per_hour` (staff are not limited).
fn count_new_chat(state: &AppState, me: Caller) -> AppResult<()> {
    if me.staff().is_some() {
        return Ok(());
    }
    state.new_chats.take(&me.id().to_string(), state.clock.unix()).map_err(AppError::RateLimited)
}

/// POST /chats `{type: private, user_id}`: the pair's chat, created if needed. Returns (view, created).
pub async fn open_private(state: &AppState, me: Caller, other: Uuid) -> AppResult<(ChatView, bool)> {
    if other == me.id() {
        return Err(AppError::field("user_id", "you cannot start a chat with yourself"));
    }
    if let Some(id) = store::private_between(&state.store, me.id(), other)? {
        // A block either way answers as if the other did not exist, as every other path does.
        social::visible_to(state, me.as_student(), other)?;
        let c = store::get_chat(&state.store, id)?.ok_or(AppError::NotFound("chat"))?;
        if store::member(&state.store, id, me.id())?.is_none() {
            // The caller had left: they come back.
            let change = Change { members: vec![(id, me.id(), new_member(MemberRole::Member, state.clock.now()))], ..Change::default() };
            commit(state, change, vec![Event::new("chat.updated", Audience::Users(vec![me.id()]), json!({ "chat_id": id }))]).await?;
        }
        return Ok((chat_view(state, me, &c)?, false));
    }
    may_contact(state, me, other)?;
    count_new_chat(state, me)?;
    let now = state.clock.now();
    let chat = ChatRecord {
        id: crate::ids::new_id(),
        kind: ChatKind::Private,
        name: String::new(),
        description: String::new(),
        created_at: now,
        last_activity_at: now,
        last_message_id: None,
        closed: false,
    };
    let change = Change {
        chats: vec![chat.clone()],
        members: vec![(chat.id, me.id(), new_member(MemberRole::Member, now)), (chat.id, other, new_member(MemberRole::Member, now))],
        pair: Some((me.id(), other, chat.id)),
        ..Change::default()
    };
    match commit(state, change, vec![Event::new("chat.updated", Audience::Chat(chat.id), json!({ "chat_id": chat.id }))]).await {
        Ok(_) => Ok((chat_view(state, me, &chat)?, true)),
        // Someone created the pair's chat at the same moment: return that one.
        Err(AppError::Conflict(existing, _)) => {
            let id = Uuid::try_parse(&existing).map_err(AppError::internal)?;
            let c = store::get_chat(&state.store, id)?.ok_or(AppError::NotFound("chat"))?;
            Ok((chat_view(state, me, &c)?, false))
        }
        Err(e) => Err(e),
    }
}

/// POST /chats `{type: group, name, description?, member_ids}`.
pub async fn create_group(state: &AppState, me: Caller, name: String, description: String, member_ids: Vec<Uuid>) -> AppResult<ChatView> {
    validate_group(&name, &description)?;
    let mut ids: Vec<Uuid> = member_ids.into_iter().filter(|id| *id != me.id()).collect();
    ids.sort();
    ids.dedup();
    if ids.len() + 1 > state.config.chat.max_group_members {
        return Err(AppError::field("member_ids", format!("a group has at most {} members", state.config.chat.max_group_members)));
    }
    for id in &ids {
        may_contact(state, me, *id)?;
    }
    count_new_chat(state, me)?;
    let now = state.clock.now();
    let chat = ChatRecord {
        id: crate::ids::new_id(),
        kind: ChatKind::Group,
        name: name.trim().to_string(),
        description: description.trim().to_string(),
        created_at: now,
        last_activity_at: now,
        last_message_id: None,
        closed: false,
    };
    let mut members = vec![(chat.id, me.id(), new_member(MemberRole::Owner, now))];
    members.extend(ids.iter().map(|id| (chat.id, *id, new_member(MemberRole::Member, now))));
    let change = Change { chats: vec![chat.clone()], members, ..Change::default() };
    commit(state, change, vec![Event::new("chat.updated", Audience::Chat(chat.id), json!({ "chat_id": chat.id }))]).await?;
    chat_view(state, me, &chat)
}

/// GET /chats: a page of the caller's chats, most recent activity first (the cursor is the last
/// chat's activity time and id, so a chat that moves up meanwhile is not repeated).
pub fn list(state: &AppState, me: Caller, limit: usize, cursor: Option<&str>) -> AppResult<(Vec<ChatView>, Option<String>)> {
    let chats: Vec<ChatRecord> =
        store::chats_of(&state.store, me.id())?.into_iter().filter_map(|id| store::get_chat(&state.store, id).ok().flatten()).collect();
    let (page, next) = pages::cut(chats, pages::Order::Descending, limit, cursor, |c| pages::time_key(c.last_activity_at, c.id))?;
    Ok((page.iter().map(|c| chat_view(state, me, c)).collect::<AppResult<_>>()?, next))
}

/// GET /chats/{id}.
pub fn get(state: &AppState, me: Caller, id: Uuid) -> AppResult<ChatView> {
    let (c, _) = membership(state, me.id(), id)?;
    chat_view(state, me, &c)
}

fn require_manager(c: &ChatRecord, m: &MemberRecord) -> AppResult<()> {
    if c.kind != ChatKind::Group {
        return Err(AppError::Forbidden("private chats have no settings".into()));
    }
    if m.role < MemberRole::Admin {
        return Err(AppError::Forbidden("only the group's owner or admins may do this".into()));
    }
    Ok(())
}

fn chat_updated(c: &ChatRecord) -> Event {
    Event::new(
        "chat.updated",
        Audience::Chat(c.id),
        json!({ "chat_id": c.id, "name": c.name, "description": c.description, "closed": c.closed }),
    )
}

/// PATCH /chats/{id}: name and description (owner or admins).
pub async fn update(
    state: &AppState,
    me: Caller,
    id: Uuid,
    name: Option<String>,
    description: Option<String>,
    muted_until: Option<Option<DateTime<Utc>>>,
) -> AppResult<ChatView> {
    let (mut c, m) = membership(state, me.id(), id)?;
    // A mute alone is for any member; anything else is the group's managers'. Both go in one commit.
    let rename = name.is_some() || description.is_some() || muted_until.is_none();
    let (mut change, mut events) = (Change::default(), Vec::new());
    if rename {
        require_manager(&c, &m)?;
        validate_group(name.as_deref().unwrap_or(&c.name), description.as_deref().unwrap_or(&c.description))?;
        if let Some(n) = name {
            c.name = n.trim().to_string();
        }
        if let Some(d) = description {
            c.description = d.trim().to_string();
        }
        c.last_activity_at = state.clock.now();
        events.push(chat_updated(&c));
        change.chats = vec![c.clone()];
    }
    if let Some(until) = muted_until {
        // The others are not told.
        change.mute = Some((id, me.id(), until));
        events.push(Event::new("chat.updated", Audience::Users(vec![me.id()]), json!({ "chat_id": id })));
    }
    commit(state, change, events).await?;
    chat_view(state, me, &c)
}

/// DELETE /chats/{id}: leave a private chat or a group; the owner closes the group.
pub async fn delete(state: &AppState, me: Caller, id: Uuid) -> AppResult<()> {
    let (mut c, m) = membership(state, me.id(), id)?;
    if c.kind == ChatKind::Group && m.role == MemberRole::Owner {
        c.closed = true;
        c.last_activity_at = state.clock.now();
        let ev = chat_updated(&c);
        commit(state, Change { chats: vec![c], ..Change::default() }, vec![ev]).await?;
        return Ok(());
    }
    leave(state, me, c).await
}

async fn leave(state: &AppState, me: Caller, c: ChatRecord) -> AppResult<()> {
    let mut change = Change { leave: vec![(c.id, me.id())], ..Change::default() };
    let mut events = vec![Event::new("chat.updated", Audience::Users(vec![me.id()]), json!({ "chat_id": c.id, "left": true }))];
    if c.kind == ChatKind::Group {
        let name = users::get(&state.store, me.id())?.map(|u| u.name).unwrap_or_default();
        let msg = system_message(state, c.id, me.id(), format!("{name} left"));
        events.push(Event::new("message.new", Audience::Chat(c.id), message_ref(c.id, msg.id)));
        let mut c2 = c.clone();
        c2.last_message_id = Some(msg.id);
        c2.last_activity_at = msg.created_at;
        change.chats.push(c2);
        change.messages.push(msg);
    }
    commit(state, change, events).await?;
    Ok(())
}

/// POST /chats/{id}/members: owner/admins add users they may contact (staff: anyone not blocked).
pub async fn add_members(state: &AppState, me: Caller, id: Uuid, ids: Vec<Uuid>) -> AppResult<ChatView> {
    let (mut c, m) = membership(state, me.id(), id)?;
    require_manager(&c, &m)?;
    if c.closed {
        return Err(AppError::Forbidden("this group is closed".into()));
    }
    let current = store::members(&state.store, id)?;
    let mut new: Vec<Uuid> = ids.into_iter().filter(|u| !current.iter().any(|(m, _)| m == u)).collect();
    new.sort();
    new.dedup();
    if new.is_empty() {
        return chat_view(state, me, &c);
    }
    if current.len() + new.len() > state.config.chat.max_group_members {
        return Err(AppError::field("user_ids", format!("a group has at most {} members", state.config.chat.max_group_members)));
    }
    for u in &new {
        may_contact(state, me, *u)?;
    }
    let now = state.clock.now();
    let names: Vec<String> = new.iter().filter_map(|u| users::get(&state.store, *u).ok().flatten().map(|u| u.name)).collect();
    let msg = system_message(state, id, me.id(), format!("{} joined", names.join(", ")));
    c.last_message_id = Some(msg.id);
    c.last_activity_at = now;
    let change = Change {
        chats: vec![c.clone()],
        members: new.iter().map(|u| (id, *u, new_member(MemberRole::Member, now))).collect(),
        messages: vec![msg.clone()],
        ..Change::default()
    };
    let events = vec![chat_updated(&c), Event::new("message.new", Audience::Chat(id), message_ref(id, msg.id))];
    commit(state, change, events).await?;
    chat_view(state, me, &c)
}

/// DELETE /chats/{id}/members/{user_id}: leave (yourself) or remove (owner/admins).
pub async fn remove_member(state: &AppState, me: Caller, id: Uuid, user: Uuid) -> AppResult<()> {
    let (c, m) = membership(state, me.id(), id)?;
    if user == me.id() {
        return leave(state, me, c).await;
    }
    require_manager(&c, &m)?;
    let target = store::member(&state.store, id, user)?.ok_or(AppError::NotFound("member"))?;
    if target.role >= m.role {
        return Err(AppError::Forbidden("you cannot remove a member with your role or higher".into()));
    }
    let name = users::get(&state.store, user)?.map(|u| u.name).unwrap_or_default();
    let msg = system_message(state, id, me.id(), format!("{name} was removed"));
    let mut c2 = c.clone();
    c2.last_message_id = Some(msg.id);
    c2.last_activity_at = msg.created_at;
    let change = Change { chats: vec![c2], leave: vec![(id, user)], messages: vec![msg.clone()], ..Change::default() };
    let events = vec![
        Event::new("chat.updated", Audience::Users(vec![user]), json!({ "chat_id": id, "left": true })),
        Event::new("message.new", Audience::Chat(id), message_ref(id, msg.id)),
    ];
    commit(state, change, events).await?;
    Ok(())
}

/// The caller's messages, for the data export.
pub fn export(state: &AppState, me: Uuid) -> AppResult<Vec<MessageView>> {
    Ok(store::messages_by(&state.store, me)?.iter().map(|m| message_view(state, m, me)).collect())
}

/// Leaves every chat (account deletion); messages stay, shown as from a deleted user.
pub async fn leave_all(state: &AppState, me: Caller) -> AppResult<()> {
    for id in store::chats_of(&state.store, me.id())? {
        if let Some(c) = store::get_chat(&state.store, id)? {
            leave(state, me, c).await?;
        }
    }
    Ok(())
}
