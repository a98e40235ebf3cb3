//! Chats: private (one per pair) and group chats, messages, receipts, and the ordered event log.
//! Every change is stored durably first (the event in the same transaction), then fanned out to
//! the members' sockets. Non-members get 404 for everything, as if the chat did not exist.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::auth::AuthUser;
use super::media::{MediaView, view as media_view};
use super::social::{self, view_for};
use super::views::UserView;
use crate::clock::rfc3339;
use crate::config::DmPolicy;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::chat::{self as store, Change, ChatKind, ChatRecord, LogEvent, MemberRecord, MemberRole, MessageKind, MessageRecord};
use crate::store::{media as media_store, users};

/// Gives out global event sequence numbers; holding it serialises chat commits so that events
/// become visible in sequence order (a client never skips one by syncing in between).
pub struct Sequencer {
    next: u64,
    reserved: u64,
}

/// How far ahead sequence numbers are reserved in storage.
const RESERVE: u64 = 10_000;

impl Sequencer {
    /// Starts after everything ever reserved.
    pub fn open(state_store: &crate::store::Store) -> AppResult<tokio::sync::Mutex<Self>> {
        let hwm = store::seq_high_water(state_store)?;
        Ok(tokio::sync::Mutex::new(Self { next: hwm + 1, reserved: hwm }))
    }

    /// The newest sequence number handed out.
    pub fn current(&self) -> u64 {
        self.next - 1
    }
}

/// A member as the API shows it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct MemberView {
    /// The user.
    pub user: UserView,
    /// owner | admin | member.
    pub role: MemberRole,
    /// Read position (null when the member does not share read receipts).
    pub last_read_message_id: Option<Uuid>,
    /// Delivery position.
    pub last_delivered_message_id: Option<Uuid>,
}

/// A message as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, salvo::oapi::ToSchema)]
pub struct MessageView {
    /// Id (time-ordered).
    pub id: Uuid,
    /// Chat.
    pub chat_id: Uuid,
    /// Author. When `GET /users/{id}` answers 404 the account was deleted (or blocks the caller):
    /// show the author as "Deleted user"; the messages stay readable.
    pub from_user_id: Uuid,
    /// text | image | file | note | system.
    pub kind: MessageKind,
    /// Text; empty once deleted.
    pub content: String,
    /// The attached media (signed URL valid for `media.url_ttl_secs`; `GET /media/{id}` with a token always works for members).
    #[salvo(schema(value_type = Option<Object>))]
    pub attachment: Option<Value>,
    /// Shared note.
    pub note_id: Option<Uuid>,
    /// Replied message.
    pub reply_to_id: Option<Uuid>,
    /// Sent (RFC 3339).
    pub created_at: String,
    /// Last edit (RFC 3339).
    pub edited_at: Option<String>,
    /// Deleted (content removed, tombstone kept).
    pub deleted: bool,
    /// The sender's idempotency id.
    pub client_id: Option<String>,
}

/// A chat as the API shows it. Receipts are per member (`last_read_message_id`); "read by N" in a
/// group is the number of members whose position is at or after a message.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct ChatView {
    /// Id.
    pub id: Uuid,
    /// private | group.
    #[serde(rename = "type")]
    pub kind: ChatKind,
    /// Group name; for a private chat, the other person's name.
    pub name: String,
    /// Group description.
    pub description: String,
    /// Members with roles and positions.
    pub members: Vec<MemberView>,
    /// Newest message.
    pub last_message: Option<MessageView>,
    /// Messages from others after the caller's read position (counted up to 999).
    pub unread_count: usize,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last activity (RFC 3339).
    pub last_activity_at: String,
    /// Closed by its owner (read-only).
    pub closed: bool,
}

/// What a client sends to post a message (REST body and `message.send` frame).
#[derive(Debug, Default, Deserialize, salvo::oapi::ToSchema)]
pub struct NewMessage {
    /// text (default) | image | file | note.
    #[serde(default)]
    pub kind: Option<MessageKind>,
    /// Text (required for text; a caption otherwise).
    #[serde(default)]
    pub content: String,
    /// Media id for image and file messages.
    #[serde(default)]
    pub attachment_id: Option<Uuid>,
    /// Note id for note messages.
    #[serde(default)]
    pub note_id: Option<Uuid>,
    /// Message replied to (same chat).
    #[serde(default)]
    pub reply_to_id: Option<Uuid>,
    /// Idempotency id chosen by the client (≤ 64 characters): a resend returns the stored message.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// The view of a stored message.
pub fn message_view(state: &AppState, m: &MessageRecord) -> MessageView {
    let attachment = m.attachment_id.and_then(|id| media_store::get(&state.store, id).ok().flatten()).map(|r| {
        let v: MediaView = media_view(state, &r);
        serde_json::to_value(v).unwrap_or_default()
    });
    MessageView {
        id: m.id,
        chat_id: m.chat_id,
        from_user_id: m.from_user_id,
        kind: m.kind,
        content: m.content.clone(),
        attachment,
        note_id: m.note_id,
        reply_to_id: m.reply_to_id,
        created_at: rfc3339(m.created_at),
        edited_at: m.edited_at.map(rfc3339),
        deleted: m.deleted,
        client_id: m.client_id.clone(),
    }
}

fn read_receipts_on(state: &AppState, user: Uuid) -> bool {
    users::get(&state.store, user).ok().flatten().is_none_or(|u| u.settings.read_receipts)
}

/// The chat `id` if `me` is a member (404 otherwise).
fn membership(state: &AppState, me: Uuid, id: Uuid) -> AppResult<(ChatRecord, MemberRecord)> {
    let m = store::member(&state.store, id, me)?.ok_or(AppError::NotFound("chat"))?;
    let c = store::get_chat(&state.store, id)?.ok_or(AppError::NotFound("chat"))?;
    Ok((c, m))
}

/// Builds the API view of a chat for `me`.
pub fn chat_view(state: &AppState, me: AuthUser, c: &ChatRecord) -> AppResult<ChatView> {
    let members = store::members(&state.store, c.id)?;
    let mine = members.iter().find(|(u, _)| *u == me.id).map(|(_, m)| m.clone());
    let my_receipts = read_receipts_on(state, me.id);
    let mut views = Vec::with_capacity(members.len());
    let mut other_name = None;
    for (uid, m) in &members {
        let Some(u) = users::get(&state.store, *uid)? else { continue };
        if c.kind == ChatKind::Private && *uid != me.id {
            other_name = Some(u.name.clone());
        }
        let show_read = my_receipts && (*uid == me.id || u.settings.read_receipts);
        views.push(MemberView {
            user: view_for(state, me, &u)?,
            role: m.role,
            last_read_message_id: if show_read { m.last_read_message_id } else { None },
            last_delivered_message_id: m.last_delivered_message_id,
        });
    }
    let last_message = match c.last_message_id {
        Some(id) => store::get_message(&state.store, c.id, id)?.map(|m| message_view(state, &m)),
        None => None,
    };
    let unread_count = match &mine {
        Some(m) => store::unread(&state.store, c.id, me.id, m.last_read_message_id, 999)?,
        None => 0,
    };
    Ok(ChatView {
        id: c.id,
        kind: c.kind,
        name: if c.kind == ChatKind::Private { other_name.unwrap_or_else(|| "Deleted user".into()) } else { c.name.clone() },
        description: c.description.clone(),
        members: views,
        last_message,
        unread_count,
        created_at: rfc3339(c.created_at),
        last_activity_at: rfc3339(c.last_activity_at),
        closed: c.closed,
    })
}

/// Whether `me` may start a conversation with (or add to a group) `other`.
pub fn may_contact(state: &AppState, me: AuthUser, other: Uuid) -> AppResult<()> {
    let as_student = AuthUser { role: crate::model::Role::Student, ..me };
    social::visible_to(state, as_student, other)?;
    if crate::store::social::has_blocked(&state.store, me.id, other)? {
        return Err(AppError::Forbidden("you blocked this user".into()));
    }
    if me.role.is_staff() {
        return Ok(());
    }
    match state.config.chat.dm_policy {
        DmPolicy::Anyone => Ok(()),
        DmPolicy::FriendsOnly if crate::store::social::are_friends(&state.store, me.id, other)? => Ok(()),
        DmPolicy::FriendsOnly => Err(AppError::Forbidden("you can only message your friends".into())),
        DmPolicy::StaffOnly => Err(AppError::Forbidden("at this school only staff start conversations".into())),
    }
}

/// A frame with its event type and fields.
fn frame(kind: &str, fields: Value) -> Value {
    let mut f = json!({ "type": kind });
    if let (Some(obj), Value::Object(more)) = (f.as_object_mut(), fields) {
        obj.extend(more);
    }
    f
}

/// An event to log: for a chat's members, or for listed users.
pub enum Audience {
    /// Members of a chat (at delivery time).
    Chat(Uuid),
    /// These users.
    Users(Vec<Uuid>),
}

/// Applies `change` with `events` (frames without `seq`) atomically and durably, then sends them.
pub async fn commit(state: &Arc<AppState>, mut change: Change, events: Vec<(Audience, Value)>) -> AppResult<u64> {
    let mut seq = state.sequencer.lock().await;
    let first = seq.next;
    for (i, (aud, f)) in events.into_iter().enumerate() {
        let (chat_id, users) = match aud {
            Audience::Chat(c) => (Some(c), vec![]),
            Audience::Users(u) => (None, u),
        };
        change.events.push(LogEvent { seq: first + i as u64, chat_id, users, frame: f });
    }
    let last = (first + change.events.len() as u64).saturating_sub(1).max(seq.next.saturating_sub(1));
    let reserve = (last > seq.reserved).then_some(last + RESERVE);
    let events = change.events.clone();
    state
        .store
        .blocking(move |s| {
            let _g = s.write_guard();
            if let Some(r) = reserve {
                store::reserve_seq(s, r)?;
            }
            store::apply(s, &change)
        })
        .await?;
    if let Some(r) = reserve {
        seq.reserved = r;
    }
    seq.next = last + 1;
    drop(seq);
    state.store.durable().await?;
    for e in &events {
        deliver(state, e)?;
    }
    Ok(last)
}

/// Sends a logged event to the sockets of its audience.
pub fn deliver(state: &AppState, e: &LogEvent) -> AppResult<()> {
    let recipients: Vec<Uuid> = match e.chat_id {
        Some(chat) => store::members(&state.store, chat)?.into_iter().map(|(u, _)| u).collect(),
        None => e.users.clone(),
    };
    let recipients = state.hub.online(&recipients);
    if recipients.is_empty() {
        return Ok(());
    }
    let is_read_receipt = e.frame["type"] == "receipt" && e.frame["kind"] == "read";
    let recipients: Vec<Uuid> =
        if is_read_receipt { recipients.into_iter().filter(|u| read_receipts_on(state, *u)).collect() } else { recipients };
    let text: Arc<str> = with_seq(&e.frame, e.seq).into();
    state.hub.send(&recipients, &text);
    Ok(())
}

/// The frame text with its `seq`.
pub fn with_seq(frame: &Value, seq: u64) -> String {
    let mut f = frame.clone();
    if let Some(o) = f.as_object_mut() {
        o.insert("seq".into(), json!(seq));
    }
    f.to_string()
}

/// Events for `me` after `since`, as frame texts (read receipts hidden when `me` turned them off).
pub fn sync(state: &AppState, me: Uuid, since: u64, limit: usize) -> AppResult<Vec<(u64, String)>> {
    let hide_reads = !read_receipts_on(state, me);
    Ok(store::events_since(&state.store, me, since, limit)?
        .into_iter()
        .filter(|e| !(hide_reads && e.frame["type"] == "receipt" && e.frame["kind"] == "read"))
        .map(|e| (e.seq, with_seq(&e.frame, e.seq)))
        .collect())
}

fn validate_group(name: &str, description: &str) -> AppResult<()> {
    let mut e = super::validate::Errors::new();
    e.check("name", super::validate::text(name, 100, true));
    e.check("description", super::validate::text(description, 500, false));
    e.finish()
}

fn system_message(state: &AppState, chat: Uuid, by: Uuid, text: String) -> MessageRecord {
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

fn new_member(role: MemberRole, now: DateTime<Utc>, joined_seq: u64) -> MemberRecord {
    MemberRecord { role, joined_at: now, joined_seq, last_read_message_id: None, last_delivered_message_id: None }
}

/// POST /chats `{type: private, user_id}`: the pair's chat, created if needed. Returns (view, created).
pub async fn open_private(state: &Arc<AppState>, me: AuthUser, other: Uuid) -> AppResult<(ChatView, bool)> {
    if other == me.id {
        return Err(AppError::field("user_id", "you cannot start a chat with yourself"));
    }
    if let Some(id) = store::private_between(&state.store, me.id, other)? {
        let c = store::get_chat(&state.store, id)?.ok_or(AppError::NotFound("chat"))?;
        if store::member(&state.store, id, me.id)?.is_none() {
            // The caller had left: they come back.
            social::visible_to(state, AuthUser { role: crate::model::Role::Student, ..me }, other)?;
            let joined = state.sequencer.lock().await.current() + 1;
            let change =
                Change { members: vec![(id, me.id, new_member(MemberRole::Member, state.clock.now(), joined))], ..Change::default() };
            commit(state, change, vec![(Audience::Users(vec![me.id]), frame("chat.updated", json!({ "chat_id": id })))]).await?;
        }
        return Ok((chat_view(state, me, &c)?, false));
    }
    may_contact(state, me, other)?;
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
    let joined = state.sequencer.lock().await.current() + 1;
    let change = Change {
        chats: vec![chat.clone()],
        members: vec![
            (chat.id, me.id, new_member(MemberRole::Member, now, joined)),
            (chat.id, other, new_member(MemberRole::Member, now, joined)),
        ],
        pair: Some((me.id, other, chat.id)),
        ..Change::default()
    };
    match commit(state, change, vec![(Audience::Chat(chat.id), frame("chat.updated", json!({ "chat_id": chat.id })))]).await {
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
pub async fn create_group(
    state: &Arc<AppState>,
    me: AuthUser,
    name: String,
    description: String,
    member_ids: Vec<Uuid>,
) -> AppResult<ChatView> {
    validate_group(&name, &description)?;
    let mut ids: Vec<Uuid> = member_ids.into_iter().filter(|id| *id != me.id).collect();
    ids.sort();
    ids.dedup();
    if ids.len() + 1 > state.config.chat.max_group_members {
        return Err(AppError::field("member_ids", format!("a group has at most {} members", state.config.chat.max_group_members)));
    }
    for id in &ids {
        may_contact(state, me, *id)?;
    }
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
    let joined = state.sequencer.lock().await.current() + 1;
    let mut members = vec![(chat.id, me.id, new_member(MemberRole::Owner, now, joined))];
    members.extend(ids.iter().map(|id| (chat.id, *id, new_member(MemberRole::Member, now, joined))));
    let change = Change { chats: vec![chat.clone()], members, ..Change::default() };
    commit(state, change, vec![(Audience::Chat(chat.id), frame("chat.updated", json!({ "chat_id": chat.id })))]).await?;
    chat_view(state, me, &chat)
}

/// GET /chats: the caller's chats, most recent activity first.
pub fn list(state: &AppState, me: AuthUser) -> AppResult<Vec<ChatView>> {
    let mut chats: Vec<ChatRecord> =
        store::chats_of(&state.store, me.id)?.into_iter().filter_map(|id| store::get_chat(&state.store, id).ok().flatten()).collect();
    chats.sort_by(|a, b| b.last_activity_at.cmp(&a.last_activity_at).then(b.id.cmp(&a.id)));
    chats.iter().map(|c| chat_view(state, me, c)).collect()
}

/// GET /chats/{id}.
pub fn get(state: &AppState, me: AuthUser, id: Uuid) -> AppResult<ChatView> {
    let (c, _) = membership(state, me.id, id)?;
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

fn chat_updated(c: &ChatRecord) -> (Audience, Value) {
    (
        Audience::Chat(c.id),
        frame("chat.updated", json!({ "chat_id": c.id, "name": c.name, "description": c.description, "closed": c.closed })),
    )
}

/// PATCH /chats/{id}: name and description (owner or admins).
pub async fn update(
    state: &Arc<AppState>,
    me: AuthUser,
    id: Uuid,
    name: Option<String>,
    description: Option<String>,
) -> AppResult<ChatView> {
    let (mut c, m) = membership(state, me.id, id)?;
    require_manager(&c, &m)?;
    validate_group(name.as_deref().unwrap_or(&c.name), description.as_deref().unwrap_or(&c.description))?;
    if let Some(n) = name {
        c.name = n.trim().to_string();
    }
    if let Some(d) = description {
        c.description = d.trim().to_string();
    }
    c.last_activity_at = state.clock.now();
    let ev = chat_updated(&c);
    commit(state, Change { chats: vec![c.clone()], ..Change::default() }, vec![ev]).await?;
    chat_view(state, me, &c)
}

/// DELETE /chats/{id}: leave a private chat or a group; the owner closes the group.
pub async fn delete(state: &Arc<AppState>, me: AuthUser, id: Uuid) -> AppResult<()> {
    let (mut c, m) = membership(state, me.id, id)?;
    if c.kind == ChatKind::Group && m.role == MemberRole::Owner {
        c.closed = true;
        c.last_activity_at = state.clock.now();
        let ev = chat_updated(&c);
        commit(state, Change { chats: vec![c], ..Change::default() }, vec![ev]).await?;
        return Ok(());
    }
    leave(state, me, c).await
}

async fn leave(state: &Arc<AppState>, me: AuthUser, c: ChatRecord) -> AppResult<()> {
    let mut change = Change { leave: vec![(c.id, me.id)], ..Change::default() };
    let mut events = vec![(Audience::Users(vec![me.id]), frame("chat.updated", json!({ "chat_id": c.id, "left": true })))];
    if c.kind == ChatKind::Group {
        let name = users::get(&state.store, me.id)?.map(|u| u.name).unwrap_or_default();
        let msg = system_message(state, c.id, me.id, format!("{name} left"));
        events.push((Audience::Chat(c.id), frame("message.new", json!({ "message": message_view(state, &msg) }))));
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
pub async fn add_members(state: &Arc<AppState>, me: AuthUser, id: Uuid, ids: Vec<Uuid>) -> AppResult<ChatView> {
    let (mut c, m) = membership(state, me.id, id)?;
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
    let joined = state.sequencer.lock().await.current() + 1;
    let names: Vec<String> = new.iter().filter_map(|u| users::get(&state.store, *u).ok().flatten().map(|u| u.name)).collect();
    let msg = system_message(state, id, me.id, format!("{} joined", names.join(", ")));
    c.last_message_id = Some(msg.id);
    c.last_activity_at = now;
    let change = Change {
        chats: vec![c.clone()],
        members: new.iter().map(|u| (id, *u, new_member(MemberRole::Member, now, joined))).collect(),
        messages: vec![msg.clone()],
        ..Change::default()
    };
    let events = vec![chat_updated(&c), (Audience::Chat(id), frame("message.new", json!({ "message": message_view(state, &msg) })))];
    commit(state, change, events).await?;
    chat_view(state, me, &c)
}

/// DELETE /chats/{id}/members/{user_id}: leave (yourself) or remove (owner/admins).
pub async fn remove_member(state: &Arc<AppState>, me: AuthUser, id: Uuid, user: Uuid) -> AppResult<()> {
    let (c, m) = membership(state, me.id, id)?;
    if user == me.id {
        return leave(state, me, c).await;
    }
    require_manager(&c, &m)?;
    let target = store::member(&state.store, id, user)?.ok_or(AppError::NotFound("member"))?;
    if target.role >= m.role {
        return Err(AppError::Forbidden("you cannot remove a member with your role or higher".into()));
    }
    let name = users::get(&state.store, user)?.map(|u| u.name).unwrap_or_default();
    let msg = system_message(state, id, me.id, format!("{name} was removed"));
    let mut c2 = c.clone();
    c2.last_message_id = Some(msg.id);
    c2.last_activity_at = msg.created_at;
    let change = Change { chats: vec![c2], leave: vec![(id, user)], messages: vec![msg.clone()], ..Change::default() };
    let events = vec![
        (Audience::Users(vec![user]), frame("chat.updated", json!({ "chat_id": id, "left": true }))),
        (Audience::Chat(id), frame("message.new", json!({ "message": message_view(state, &msg) }))),
    ];
    commit(state, change, events).await?;
    Ok(())
}

fn check_new_message(state: &AppState, me: AuthUser, c: &ChatRecord, input: &NewMessage) -> AppResult<MessageKind> {
    let kind = input.kind.unwrap_or(MessageKind::Text);
    let max = state.config.chat.max_message_bytes;
    if input.content.len() > max {
        return Err(AppError::PayloadTooLarge(format!("messages may be at most {max} bytes")));
    }
    if let Some(cid) = &input.client_id
        && (cid.is_empty() || cid.chars().count() > 64)
    {
        return Err(AppError::field("client_id", "must be 1 to 64 characters"));
    }
    match kind {
        MessageKind::Text if input.content.trim().is_empty() => return Err(AppError::field("content", "must not be empty")),
        MessageKind::Text => {}
        MessageKind::Image | MessageKind::File => {
            let id =
                input.attachment_id.ok_or_else(|| AppError::field("attachment_id", "image and file messages need an uploaded media id"))?;
            let m = media_store::get(&state.store, id)?
                .filter(|m| m.owner_id == me.id)
                .ok_or_else(|| AppError::field("attachment_id", "no such upload of yours"))?;
            if kind == MessageKind::Image && !m.mime.starts_with("image/") {
                return Err(AppError::field("attachment_id", "an image message needs an image"));
            }
        }
        MessageKind::Note => {
            let id = input.note_id.ok_or_else(|| AppError::field("note_id", "note messages need the id of a note"))?;
            if super::notes::readable_note(state, me, id).is_err() {
                return Err(AppError::field("note_id", "no such note that you may share"));
            }
        }
        MessageKind::System => return Err(AppError::field("kind", "system messages are written by the server")),
    }
    if let Some(r) = input.reply_to_id
        && store::get_message(&state.store, c.id, r)?.is_none()
    {
        return Err(AppError::field("reply_to_id", "no such message in this chat"));
    }
    if c.closed {
        return Err(AppError::Forbidden("this group is closed".into()));
    }
    if c.kind == ChatKind::Private {
        for (u, _) in store::members(&state.store, c.id)? {
            if u != me.id && crate::store::social::blocked_either(&state.store, me.id, u)? {
                return Err(AppError::Forbidden("you cannot message this user".into()));
            }
        }
    }
    Ok(kind)
}

/// Posts a message (REST and `message.send`). Returns the message and whether it is new; a resend
/// with a known `client_id` returns the stored message without storing it again.
pub async fn send(state: &Arc<AppState>, me: AuthUser, chat: Uuid, input: NewMessage) -> AppResult<(MessageView, bool)> {
    let (mut c, _) = membership(state, me.id, chat)?;
    if let Some(cid) = &input.client_id
        && let Some(existing) = store::by_client_id(&state.store, me.id, cid)?
    {
        return Ok((message_view(state, &existing), false));
    }
    let kind = check_new_message(state, me, &c, &input)?;
    let msg = MessageRecord {
        id: crate::ids::new_id(),
        chat_id: chat,
        from_user_id: me.id,
        kind,
        content: input.content,
        attachment_id: input.attachment_id.filter(|_| kind != MessageKind::Text),
        note_id: input.note_id.filter(|_| kind == MessageKind::Note),
        reply_to_id: input.reply_to_id,
        created_at: state.clock.now(),
        edited_at: None,
        deleted: false,
        client_id: input.client_id,
    };
    c.last_message_id = Some(msg.id);
    c.last_activity_at = msg.created_at;
    let view = message_view(state, &msg);
    let change = Change { chats: vec![c], messages: vec![msg], ..Change::default() };
    match commit(state, change, vec![(Audience::Chat(chat), frame("message.new", json!({ "message": view })))]).await {
        Ok(_) => {
            if let Some(note) = view.note_id {
                super::notes::count_share(state, note).await?;
            }
            Ok((view, true))
        }
        Err(e) => Err(e),
    }
}

/// GET /chats/{id}/messages.
pub fn history(
    state: &AppState,
    me: AuthUser,
    chat: Uuid,
    before: Option<Uuid>,
    after: Option<Uuid>,
    limit: usize,
) -> AppResult<Vec<MessageView>> {
    membership(state, me.id, chat)?;
    Ok(store::messages(&state.store, chat, before, after, limit)?.iter().map(|m| message_view(state, m)).collect())
}

/// PATCH /chats/{id}/messages/{mid}: the author edits a text message.
pub async fn edit(state: &Arc<AppState>, me: AuthUser, chat: Uuid, id: Uuid, content: String) -> AppResult<MessageView> {
    membership(state, me.id, chat)?;
    let mut m = store::get_message(&state.store, chat, id)?.ok_or(AppError::NotFound("message"))?;
    if m.from_user_id != me.id {
        return Err(AppError::Forbidden("you can only edit your own messages".into()));
    }
    if m.deleted || m.kind == MessageKind::System {
        return Err(AppError::Conflict("this message cannot be edited".into(), vec![]));
    }
    let max = state.config.chat.max_message_bytes;
    if content.len() > max {
        return Err(AppError::PayloadTooLarge(format!("messages may be at most {max} bytes")));
    }
    if content.trim().is_empty() && m.kind == MessageKind::Text {
        return Err(AppError::field("content", "must not be empty"));
    }
    m.content = content;
    m.edited_at = Some(state.clock.now());
    let view = message_view(state, &m);
    commit(
        state,
        Change { messages: vec![m], ..Change::default() },
        vec![(Audience::Chat(chat), frame("message.updated", json!({ "message": view })))],
    )
    .await?;
    Ok(view)
}

/// DELETE /chats/{id}/messages/{mid}: the author, or a moderator, deletes; a tombstone stays.
pub async fn delete_message(state: &Arc<AppState>, me: AuthUser, chat: Uuid, id: Uuid) -> AppResult<()> {
    let is_member = store::member(&state.store, chat, me.id)?.is_some();
    if !is_member && !me.role.is_staff() {
        return Err(AppError::NotFound("chat"));
    }
    let mut m = store::get_message(&state.store, chat, id)?.ok_or(AppError::NotFound("message"))?;
    if m.from_user_id != me.id && !me.role.is_staff() {
        return Err(AppError::Forbidden("you can only delete your own messages".into()));
    }
    if m.deleted {
        return Ok(());
    }
    m.deleted = true;
    m.content.clear();
    m.attachment_id = None;
    m.edited_at = Some(state.clock.now());
    commit(
        state,
        Change { messages: vec![m], ..Change::default() },
        vec![(Audience::Chat(chat), frame("message.deleted", json!({ "chat_id": chat, "message_id": id })))],
    )
    .await?;
    Ok(())
}

/// `message.delivered` and `POST /chats/{id}/read` / `message.read`: moves the caller's position
/// forward and tells the other members (read receipts only if the caller shares them).
pub async fn receipt(state: &Arc<AppState>, me: AuthUser, chat: Uuid, message: Uuid, read: bool) -> AppResult<()> {
    membership(state, me.id, chat)?;
    store::get_message(&state.store, chat, message)?.ok_or(AppError::NotFound("message"))?;
    let moved = state.store.blocking(move |s| store::advance(s, chat, me.id, message, read)).await?;
    if moved.is_none() {
        return Ok(());
    }
    if read && !read_receipts_on(state, me.id) {
        state.store.durable().await?;
        return Ok(());
    }
    let kind = if read { "read" } else { "delivered" };
    commit(
        state,
        Change::default(),
        vec![(Audience::Chat(chat), frame("receipt", json!({ "chat_id": chat, "user_id": me.id, "kind": kind, "message_id": message })))],
    )
    .await?;
    Ok(())
}

/// `typing.start` / `typing.stop`: not stored; sent to the other members' sockets.
pub fn typing(state: &AppState, me: AuthUser, chat: Uuid, active: bool) -> AppResult<()> {
    membership(state, me.id, chat)?;
    let changed = if active { state.hub.typing_start(chat, me.id) } else { state.hub.typing_stop(chat, me.id) };
    if changed || active {
        send_typing(state, chat, me.id, active)?;
    }
    Ok(())
}

/// Sends a `typing` frame to the members of `chat` except `user`.
pub fn send_typing(state: &AppState, chat: Uuid, user: Uuid, active: bool) -> AppResult<()> {
    let others: Vec<Uuid> = store::members(&state.store, chat)?.into_iter().map(|(u, _)| u).filter(|u| *u != user).collect();
    let text: Arc<str> = frame("typing", json!({ "chat_id": chat, "user_id": user, "active": active })).to_string().into();
    state.hub.send(&others, &text);
    Ok(())
}

/// The caller's messages, for the data export.
pub fn export(state: &AppState, me: Uuid) -> AppResult<Vec<MessageView>> {
    Ok(store::messages_by(&state.store, me)?.iter().map(|m| message_view(state, m)).collect())
}

/// Leaves every chat (account deletion); messages stay, shown as from a deleted user.
pub async fn leave_all(state: &Arc<AppState>, me: AuthUser) -> AppResult<()> {
    for id in store::chats_of(&state.store, me.id)? {
        if let Some(c) = store::get_chat(&state.store, id)? {
            leave(state, me, c).await?;
        }
    }
    Ok(())
}
