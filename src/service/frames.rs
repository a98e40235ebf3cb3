//! What events look like on a socket: the frame `{ "type": kind, ...fields, "seq"? }` that a
//! user receives live and on `sync`. The one place that decides, per recipient, what of an event
//! they get: read receipts only for those who share theirs, nothing of typing or receipts across a
//! block, friend requests as the recipient sees
//! the two people, messages as they are now (by reference). Events that are not socket frames
//! (`goal_completed`, `report_ready`, ...) render to nothing.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::access::Viewer;
use crate::error::AppResult;
use crate::events::{LogRecord, Published};
use crate::state::AppState;
use crate::store::chat::MessageRecord;
use crate::store::event_log;
use crate::store::social::RequestRecord;

/// Stored kinds that are socket frames (API.md: every frame about stored state carries `seq`).
const STORED_FRAMES: [&str; 8] = [
    "message.new",
    "message.updated",
    "message.deleted",
    "receipt",
    "chat.updated",
    "notification.new",
    "friend_request.new",
    "friend_request.accepted",
];

/// The frame texts for `recipients` (users with an open socket): groups of users and the text
/// each group gets. Empty when the event is not a socket frame.
pub fn render(state: &AppState, event: Published<'_>, recipients: &[Uuid]) -> Vec<(Vec<Uuid>, Arc<str>)> {
    let kind = event.kind();
    if matches!(event, Published::Stored(_)) && !STORED_FRAMES.contains(&kind) {
        return Vec::new();
    }
    let payload = event.payload();
    if let Some(m) = stored_message(state, kind, payload) {
        return m.map(|m| message_frames(state, kind, &m, event.seq(), recipients)).unwrap_or_default();
    }
    if kind == "notification.new" {
        return notification(state, payload, event.seq()).map(|t| vec![(recipients.to_vec(), t.into())]).unwrap_or_default();
    }
    if kind.starts_with("friend_request.") {
        return recipients
            .iter()
            .filter_map(|u| friend_request(state, kind, payload, event.seq(), *u).map(|t| (vec![*u], t.into())))
            .collect();
    }
    let mut recipients: Vec<Uuid> = if is_read_receipt(kind, payload) {
        recipients.iter().copied().filter(|u| super::chat::read_receipts_on(state, *u)).collect()
    } else {
        recipients.to_vec()
    };
    // A block silences every channel between two people: no typing or receipts of one reach the
    // other, even in a chat they still share.
    if matches!(kind, "typing" | "receipt")
        && let Some(actor) = payload.get("user_id").and_then(Value::as_str).and_then(|s| Uuid::try_parse(s).ok())
        && crate::store::social::in_any_block(&state.store, actor).unwrap_or(true)
    {
        recipients.retain(|u| !crate::store::social::blocked_either(&state.store, *u, actor).unwrap_or(true));
    }
    if recipients.is_empty() {
        return Vec::new();
    }
    vec![(recipients, text(kind, payload, event.seq()).into())]
}

/// `message.new` / `message.updated` hold the message by reference: the frame shows it as it is
/// now (an edit shows the new text, a deleted message its tombstone). `Some(None)` when the
/// message is unreadable; `None` for other kinds.
fn stored_message(state: &AppState, kind: &str, payload: &Value) -> Option<Option<MessageRecord>> {
    if !matches!(kind, "message.new" | "message.updated") {
        return None;
    }
    let id = |k: &str| payload.get(k).and_then(Value::as_str).and_then(|s| Uuid::try_parse(s).ok());
    let (chat, message) = (id("chat_id")?, id("message_id")?);
    match crate::store::chat::get_message(&state.store, chat, message) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, "message of an event unreadable");
            Some(None)
        }
    }
}

/// The frames of a message: one text for everyone, or one per recipient when what it shows
/// depends on who looks (an attachment's URLs are signed per user; a shared note's title shows
/// only to those who may read the note).
fn message_frames(state: &AppState, kind: &str, m: &MessageRecord, seq: Option<u64>, recipients: &[Uuid]) -> Vec<(Vec<Uuid>, Arc<str>)> {
    let frame = |viewer: Uuid| -> Arc<str> { text(kind, &json!({ "message": super::chat::message_view(state, m, viewer) }), seq).into() };
    match recipients.first() {
        None => Vec::new(),
        Some(first) if m.attachment_id.is_none() && m.note_id.is_none() => vec![(recipients.to_vec(), frame(*first))],
        Some(_) => recipients.iter().map(|u| (vec![*u], frame(*u))).collect(),
    }
}

fn is_read_receipt(kind: &str, payload: &Value) -> bool {
    kind == "receipt" && payload["kind"] == "read"
}

/// `{type, ...payload, seq?}` as text.
fn text(kind: &str, payload: &Value, seq: Option<u64>) -> String {
    let mut f = json!({ "type": kind });
    if let (Some(obj), Value::Object(fields)) = (f.as_object_mut(), payload) {
        obj.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Some(s) = seq {
            obj.insert("seq".into(), json!(s));
        }
    }
    f.to_string()
}

/// A `friend_request.*` frame for `user`: the stored request rendered as `user` sees it now
/// (nothing when one of the two accounts is gone).
fn friend_request(state: &AppState, kind: &str, payload: &Value, seq: Option<u64>, user: Uuid) -> Option<String> {
    let record = serde_json::from_value::<RequestRecord>(payload["request"].clone()).ok()?;
    let view = super::social::request_view(state, Viewer::student(user), &record).ok()?;
    Some(text(kind, &json!({ "request": view }), seq))
}

/// `notification.new { notification }` as the notification is now (a later message of the same
/// chat shows in it); nothing once it was removed. Only its owner is in the audience.
fn notification(state: &AppState, payload: &Value, seq: Option<u64>) -> Option<String> {
    let id = payload.get("notification_id").and_then(Value::as_str).and_then(|s| Uuid::try_parse(s).ok())?;
    let n = crate::store::notifications::get(&state.store, id).ok().flatten()?;
    Some(text("notification.new", &json!({ "notification": super::notifications::view(state, &n) }), seq))
}

/// One stored event as `user` gets it on `sync`, if it is a frame for them.
fn replay(state: &AppState, rec: &LogRecord, user: Uuid) -> Option<String> {
    render(state, Published::Stored(rec), &[user]).into_iter().next().map(|(_, t)| t.to_string())
}

/// Events looked at per page of `sync`.
const SYNC_PAGE: usize = 500;

/// What one `sync` replays.
pub struct Replay {
    /// The frames, in order.
    pub frames: Vec<String>,
    /// The sequence of the last event looked at (the next `sync` starts after it).
    pub last: u64,
    /// True when the replay stopped at the cap: more events follow.
    pub more: bool,
    /// True when events after `since` were removed by ageing (`chat.event_retention_days`): the
    /// client should reload its chats over REST.
    pub gap: bool,
}

/// `sync`: the frames for `user` after `since`, at most `cap` events (then `more`). The chats and
/// join positions are read once; each page reads only its own index range.
pub fn sync(state: &AppState, user: Uuid, staff: bool, since: u64, cap: usize) -> AppResult<Replay> {
    let mut joined = Vec::new();
    for chat in crate::store::chat::chats_of(&state.store, user)? {
        if let Some(m) = crate::store::chat::member(&state.store, chat, user)? {
            joined.push((chat, m.joined_seq));
        }
    }
    let gap = since > 0 && since < event_log::floor(&state.store)?;
    let mut out = Replay { frames: Vec::new(), last: since, more: false, gap };
    let mut looked = 0;
    loop {
        let page = SYNC_PAGE.min(cap - looked);
        let seqs = event_log::seqs_for(&state.store, user, &joined, staff, out.last, page)?;
        looked += seqs.len();
        // A notification that changed several times is replayed once, at its latest event.
        let mut notifications: HashMap<String, usize> = HashMap::new();
        let mut frames: Vec<Option<String>> = Vec::new();
        for s in &seqs {
            if let Some(rec) = event_log::get(&state.store, *s)?
                && let Some(t) = replay(state, &rec, user)
            {
                if rec.kind == "notification.new"
                    && let Some(earlier) = notifications.insert(rec.payload["notification_id"].to_string(), frames.len())
                {
                    frames[earlier] = None;
                }
                frames.push(Some(t));
            }
        }
        out.frames.extend(frames.into_iter().flatten());
        if let Some(l) = seqs.last() {
            out.last = *l;
        }
        if seqs.len() < page {
            return Ok(out);
        }
        if looked >= cap {
            out.more = true;
            return Ok(out);
        }
    }
}
