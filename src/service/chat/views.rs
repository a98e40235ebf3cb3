//! How chats, members and messages look in the API.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::access::{Caller, Viewer};
use crate::clock::rfc3339;
use crate::error::AppResult;
use crate::service::media::{MediaView, view as media_view};
use crate::service::social::view_for;
use crate::service::views::UserView;
use crate::state::AppState;
use crate::store::chat::{self as store, ChatKind, ChatRecord, MemberRole, MessageKind, MessageRecord};
use crate::store::{media as media_store, users};

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
    /// Text; empty once deleted. For a `note` message it is the note's title as shared, shown only
    /// to members who may read the note now (empty once the note is deleted or made private).
    pub content: String,
    /// The attached media. Its URLs are signed for the member they were sent to, valid for
    /// `media.url_ttl_secs` to twice that and only while that member is in the chat; `GET
    /// /media/{id}` with a token always works for members.
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
    /// The caller muted the chat until then (RFC 3339): no `message` notifications or pushes.
    pub muted_until: Option<String>,
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

/// The view of a stored message as `viewer` gets it: the attachment's URLs are signed for
/// `viewer`, and a shared note's title (the message text) shows only while `viewer` may read the
/// note (deleted, or its visibility narrowed, and the text goes too).
pub fn message_view(state: &AppState, m: &MessageRecord, viewer: Uuid) -> MessageView {
    let attachment = m.attachment_id.and_then(|id| media_store::get(&state.store, id).ok().flatten()).map(|r| {
        let v: MediaView = media_view(state, &r, viewer);
        serde_json::to_value(v).unwrap_or_default()
    });
    let note_gone = m.note_id.is_some_and(|n| {
        crate::store::notes::get(&state.store, n)
            .ok()
            .flatten()
            .is_none_or(|n| !crate::service::notes::readable(state, Viewer::student(viewer), &n).unwrap_or(false))
    });
    MessageView {
        id: m.id,
        chat_id: m.chat_id,
        from_user_id: m.from_user_id,
        kind: m.kind,
        content: if note_gone { String::new() } else { m.content.clone() },
        attachment,
        note_id: m.note_id,
        reply_to_id: m.reply_to_id,
        created_at: rfc3339(m.created_at),
        edited_at: m.edited_at.map(rfc3339),
        deleted: m.deleted,
        client_id: m.client_id.clone(),
    }
}

/// True unless `user` turned read receipts off.
pub fn read_receipts_on(state: &AppState, user: Uuid) -> bool {
    users::get(&state.store, user).ok().flatten().is_none_or(|u| u.settings.read_receipts)
}

/// Builds the API view of a chat for `me`.
pub fn chat_view(state: &AppState, me: Caller, c: &ChatRecord) -> AppResult<ChatView> {
    let members = store::members(&state.store, c.id)?;
    let mine = members.iter().find(|(u, _)| *u == me.id()).map(|(_, m)| m.clone());
    let my_receipts = read_receipts_on(state, me.id());
    let mut views = Vec::with_capacity(members.len());
    let mut other_name = None;
    for (uid, m) in &members {
        let Some(u) = users::get(&state.store, *uid)? else { continue };
        if c.kind == ChatKind::Private && *uid != me.id() {
            other_name = Some(u.name.clone());
        }
        let show_read = my_receipts && (*uid == me.id() || u.settings.read_receipts);
        views.push(MemberView {
            user: view_for(state, me, &u)?,
            role: m.role,
            last_read_message_id: if show_read { m.last_read_message_id } else { None },
            last_delivered_message_id: m.last_delivered_message_id,
        });
    }
    let last_message = match c.last_message_id {
        Some(id) => store::get_message(&state.store, c.id, id)?.map(|m| message_view(state, &m, me.id())),
        None => None,
    };
    let unread_count = match &mine {
        Some(_) => store::unread_count(&state.store, c.id, me.id())?,
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
        muted_until: mine.as_ref().and_then(|m| m.muted_until).filter(|t| *t > state.clock.now()).map(rfc3339),
    })
}
