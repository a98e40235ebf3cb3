//! Messages: send (REST and `message.send`), history, edit, delete, receipts and typing.

use serde_json::json;
use uuid::Uuid;

use super::views::{MessageView, NewMessage, message_view, read_receipts_on};
use super::{commit, membership};
use crate::access::{Caller, Viewer};
use crate::error::{AppError, AppResult};
use crate::events::{Audience, Event};
use crate::state::AppState;
use crate::store::chat::{self as store, Change, ChatKind, ChatRecord, MessageKind, MessageRecord};
use crate::store::event_log::message_ref;
use crate::store::media as media_store;

fn check_new_message(state: &AppState, me: Caller, c: &ChatRecord, input: &NewMessage) -> AppResult<MessageKind> {
    let kind = input.kind.unwrap_or(MessageKind::Text);
    let max = state.settings().max_message_bytes;
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
                .filter(|m| m.owner_id == me.id())
                .ok_or_else(|| AppError::field("attachment_id", "no such upload of yours"))?;
            if kind == MessageKind::Image && !m.mime.starts_with("image/") {
                return Err(AppError::field("attachment_id", "an image message needs an image"));
            }
        }
        MessageKind::Note => {
            let id = input.note_id.ok_or_else(|| AppError::field("note_id", "note messages need the id of a note"))?;
            let Ok(note) = crate::service::notes::readable_note(state, me, id) else {
                return Err(AppError::field("note_id", "no such note that you may share"));
            };
            // A share must not show a note (its title is the message) to someone who may not read it.
            for (u, _) in store::members(&state.store, c.id)? {
                if !crate::service::notes::readable(state, Viewer::student(u), &note)? {
                    return Err(AppError::field("note_id", "someone in this chat may not read this note; change its visibility first"));
                }
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
            if u != me.id() && crate::store::social::blocked_either(&state.store, me.id(), u)? {
                return Err(AppError::Forbidden("you cannot message this user".into()));
            }
        }
    }
    Ok(kind)
}

/// Posts a message (REST and `message.send`). Returns the message and whether it is new; a resend
/// with a known `client_id` returns the stored message without storing it again.
pub async fn send(state: &AppState, me: Caller, chat: Uuid, input: NewMessage) -> AppResult<(MessageView, bool)> {
    let (mut c, _) = membership(state, me.id(), chat)?;
    if let Some(cid) = &input.client_id
        && let Some(existing) = store::by_client_id(&state.store, me.id(), cid)?
    {
        return Ok((message_view(state, &existing, me.id()), false));
    }
    let kind = check_new_message(state, me, &c, &input)?;
    let msg = MessageRecord {
        id: crate::ids::new_id(),
        chat_id: chat,
        from_user_id: me.id(),
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
    let view = message_view(state, &msg, me.id());
    let note_shares = msg.note_id.into_iter().collect();
    let change = Change { chats: vec![c], messages: vec![msg], note_shares, ..Change::default() };
    commit(state, change, vec![Event::new("message.new", Audience::Chat(chat), message_ref(chat, view.id))]).await?;
    crate::service::dashboard::counted(state, crate::infra::tally::Kind::Messages);
    Ok((view, true))
}

/// GET /chats/{id}/messages.
pub fn history(
    state: &AppState,
    me: Caller,
    chat: Uuid,
    before: Option<Uuid>,
    after: Option<Uuid>,
    limit: usize,
) -> AppResult<Vec<MessageView>> {
    membership(state, me.id(), chat)?;
    Ok(store::messages(&state.store, chat, before, after, limit)?.iter().map(|m| message_view(state, m, me.id())).collect())
}

/// PATCH /chats/{id}/messages/{mid}: the author edits a text message.
pub async fn edit(state: &AppState, me: Caller, chat: Uuid, id: Uuid, content: String) -> AppResult<MessageView> {
    membership(state, me.id(), chat)?;
    let mut m = store::get_message(&state.store, chat, id)?.ok_or(AppError::NotFound("message"))?;
    if m.from_user_id != me.id() {
        return Err(AppError::Forbidden("you can only edit your own messages".into()));
    }
    if m.deleted || m.kind == MessageKind::System {
        return Err(AppError::Conflict("this message cannot be edited".into(), vec![]));
    }
    let max = state.settings().max_message_bytes;
    if content.len() > max {
        return Err(AppError::PayloadTooLarge(format!("messages may be at most {max} bytes")));
    }
    if content.trim().is_empty() && m.kind == MessageKind::Text {
        return Err(AppError::field("content", "must not be empty"));
    }
    m.content = content;
    m.edited_at = Some(state.clock.now());
    let view = message_view(state, &m, me.id());
    commit(
        state,
        Change { messages: vec![m], ..Change::default() },
        vec![Event::new("message.updated", Audience::Chat(chat), message_ref(chat, id))],
    )
    .await?;
    Ok(view)
}

/// DELETE /chats/{id}/messages/{mid}: the author, or a moderator, deletes; a tombstone stays.
pub async fn delete_message(state: &AppState, me: Caller, chat: Uuid, id: Uuid) -> AppResult<()> {
    let staff = me.staff().is_some();
    let is_member = store::member(&state.store, chat, me.id())?.is_some();
    if !is_member && !staff {
        return Err(AppError::NotFound("chat"));
    }
    let mut m = store::get_message(&state.store, chat, id)?.ok_or(AppError::NotFound("message"))?;
    if m.from_user_id != me.id() && !staff {
        return Err(AppError::Forbidden("you can only delete your own messages".into()));
    }
    if m.deleted {
        return Ok(());
    }
    // Staff deleting someone else's message: the members are told a moderator removed it.
    let by_moderator = m.from_user_id != me.id();
    let attachment = m.attachment_id.take();
    m.deleted = true;
    m.content.clear();
    m.note_id = None;
    m.edited_at = Some(state.clock.now());
    let unlink_media = attachment.map(|a| (a, chat, id)).into_iter().collect();
    commit(
        state,
        Change { messages: vec![m], unlink_media, ..Change::default() },
        vec![Event::new(
            "message.deleted",
            Audience::Chat(chat),
            json!({ "chat_id": chat, "message_id": id, "by_moderator": by_moderator }),
        )],
    )
    .await?;
    if let Some(a) = attachment {
        crate::service::media::forget_if_unused(state, a).await;
    }
    Ok(())
}

/// `message.delivered` and `POST /chats/{id}/read` / `message.read`: moves the caller's position
/// forward and tells the other members (read receipts only if the caller shares them).
pub async fn receipt(state: &AppState, me: Caller, chat: Uuid, message: Uuid, read: bool) -> AppResult<()> {
    membership(state, me.id(), chat)?;
    store::get_message(&state.store, chat, message)?.ok_or(AppError::NotFound("message"))?;
    // The position and its receipt are stored together; the read position of someone who does
    // not share read receipts moves without an event.
    let kind = if read { "read" } else { "delivered" };
    let events = if read && !read_receipts_on(state, me.id()) {
        Vec::new()
    } else {
        let fields = json!({ "chat_id": chat, "user_id": me.id(), "kind": kind, "message_id": message });
        vec![Event::new("receipt", Audience::Chat(chat), fields)]
    };
    commit(state, Change { advance: Some((chat, me.id(), message, read)), ..Change::default() }, events).await?;
    if read {
        crate::service::notifications::chat_read(state, me.id(), chat, message).await?;
    }
    Ok(())
}

/// `typing.start` / `typing.stop`: not stored; an ephemeral `typing` event for the other members.
pub fn typing(state: &AppState, me: Caller, chat: Uuid, active: bool) -> AppResult<()> {
    membership(state, me.id(), chat)?;
    let changed = if active { state.typing.start(chat, me.id()) } else { state.typing.stop(chat, me.id()) };
    if changed || active {
        send_typing(state, chat, me.id(), active)?;
    }
    Ok(())
}

/// Ends the typing indicators nobody refreshed (the sweeper calls this every second).
pub fn expire_typing(state: &AppState) {
    for (chat, user) in state.typing.expired() {
        if let Err(e) = send_typing(state, chat, user, false) {
            tracing::debug!(error = %e, "typing expiry");
        }
    }
}

/// Sends a `typing` event to the members of `chat` except `user`.
fn send_typing(state: &AppState, chat: Uuid, user: Uuid, active: bool) -> AppResult<()> {
    let others: Vec<Uuid> = store::members(&state.store, chat)?.into_iter().map(|(u, _)| u).filter(|u| *u != user).collect();
    state.events.ephemeral(Event::new("typing", Audience::Users(others), json!({ "chat_id": chat, "user_id": user, "active": active })));
    Ok(())
}
