//! The inbox: which events become notifications for whom, how they read, and each user's
//! preferences. The notification follower reads the event log by its persisted cursor and stores
//! each batch's notifications with the cursor and their `notification.new` events in one
//! transaction, so every source event gives its notifications exactly once, across crashes too.
//!
//! Rules: friend requests and acceptances, goals completed and reports ready go to the user the
//! event is for; a chat message goes to every member but the sender, except members who muted the
//! chat, who blocked (or are blocked by) the sender, who have already read that far or who joined
//! later; messages of one chat join one notification until the chat is read. A type whose
//! `in_app` preference is off makes no notification.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::access::Caller;
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::events::LogRecord;
use crate::model::QuietHours;
use crate::state::AppState;
use crate::store::chat::{self as chat_store, ChatKind, MessageKind};
pub use crate::store::notifications::NotificationType;
use crate::store::notifications::{self as store, Deliver, Delivery, NotificationRecord};
use crate::store::social::RequestRecord;
use crate::store::{social as social_store, users};

/// The follower's cursor name.
pub const FOLLOWER: &str = "notifications";

/// A notification as the API shows it (API.md). Texts are rendered now from what it refers to.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct NotificationView {
    /// Id.
    pub id: Uuid,
    /// message | friend_request | friend_accepted | goal_reminder | goal_completed | report_ready |
    /// insight | system.
    #[serde(rename = "type")]
    pub kind: NotificationType,
    /// One line, e.g. "3 new messages from Ana in Maths".
    pub title: String,
    /// More text: the latest message as it is now (empty once deleted), the goal, the period.
    pub content: String,
    /// `chat`, `user`, `goal`, `report`, ...
    pub related_entity_type: Option<String>,
    /// Its id (for `report`, see `link`).
    pub related_entity_id: Option<Uuid>,
    /// True once read (reading the chat reads its `message` notification).
    pub is_read: bool,
    /// When it was read (RFC 3339).
    pub read_at: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last change: a message joined it (RFC 3339).
    pub updated_at: String,
    /// Messages joined into a `message` notification (1 for other types).
    pub count: u32,
    /// Where a client takes the user: an API path of the entity, e.g. `/api/v1/chats/{id}`.
    pub link: Option<String>,
}

/// One type's switches.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, salvo::oapi::ToSchema)]
pub struct Channels {
    /// Shown in the inbox (and as `notification.new`).
    pub in_app: bool,
    /// Sent as a push (Web Push, ntfy) outside quiet hours.
    pub push: bool,
}

impl Default for Channels {
    fn default() -> Self {
        Self { in_app: true, push: true }
    }
}

/// Stored preferences (absent types take the defaults).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct Stored {
    #[serde(default)]
    types: HashMap<NotificationType, Channels>,
    #[serde(default)]
    quiet_hours: Option<QuietHours>,
    #[serde(default)]
    message_previews: bool,
}

/// `GET /me/notification-settings`: one `{ in_app, push }` per type, quiet hours, previews.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct SettingsView {
    /// New messages.
    pub message: Channels,
    /// Friend requests.
    pub friend_request: Channels,
    /// Accepted friend requests.
    pub friend_accepted: Channels,
    /// Goals behind their pace.
    pub goal_reminder: Channels,
    /// Goals reached.
    pub goal_completed: Channels,
    /// Reports ready.
    pub report_ready: Channels,
    /// Insights.
    pub insight: Channels,
    /// Staff announcements.
    pub system: Channels,
    /// The user's quiet hours (their time zone), or null.
    pub quiet_hours: Option<QuietHours>,
    /// The school's quiet hours (set by the school, always applied as well), or null.
    pub school_quiet_hours: Option<QuietHours>,
    /// Whether a push shows the message text (default false: only "New message from Ana").
    pub message_previews: bool,
}

/// `PATCH /me/notification-settings`: any subset; `quiet_hours: null` removes the user's own.
#[derive(Debug, Default, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// New messages.
    pub message: Option<ChannelsPatch>,
    /// Friend requests.
    pub friend_request: Option<ChannelsPatch>,
    /// Accepted friend requests.
    pub friend_accepted: Option<ChannelsPatch>,
    /// Goals behind their pace.
    pub goal_reminder: Option<ChannelsPatch>,
    /// Goals reached.
    pub goal_completed: Option<ChannelsPatch>,
    /// Reports ready.
    pub report_ready: Option<ChannelsPatch>,
    /// Insights.
    pub insight: Option<ChannelsPatch>,
    /// Staff announcements.
    pub system: Option<ChannelsPatch>,
    /// `{ start, end }` as `HH:MM` in the user's time zone, or null.
    #[serde(default, deserialize_with = "super::double_option")]
    #[salvo(schema(value_type = Option<QuietHours>))]
    pub quiet_hours: Option<Option<QuietHours>>,
    /// Whether a push shows the message text.
    pub message_previews: Option<bool>,
}

/// One type's switches, either or both.
#[derive(Clone, Copy, Debug, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelsPatch {
    /// Shown in the inbox.
    pub in_app: Option<bool>,
    /// Sent as a push.
    pub push: Option<bool>,
}

fn stored(state: &AppState, user: Uuid) -> AppResult<Stored> {
    Ok(store::settings(&state.store, user)?.unwrap_or_default())
}

/// Whether `user` lets pushes show message text.
pub fn message_previews(state: &AppState, user: Uuid) -> AppResult<bool> {
    Ok(stored(state, user)?.message_previews)
}

/// A user's switches for one type.
pub fn channels(state: &AppState, user: Uuid, kind: NotificationType) -> AppResult<Channels> {
    Ok(stored(state, user)?.types.get(&kind).copied().unwrap_or_default())
}

fn school_quiet(state: &AppState) -> Option<QuietHours> {
    state.settings().school_quiet_hours.as_deref().and_then(QuietHours::parse_range)
}

/// True when it is quiet for `user` now: their own or the school's quiet hours, in their zone.
pub fn quiet_now(state: &AppState, user: Uuid) -> AppResult<bool> {
    let tz: chrono_tz::Tz = users::get(&state.store, user)?.and_then(|u| u.timezone.parse().ok()).unwrap_or(chrono_tz::UTC);
    let local = state.clock.now().with_timezone(&tz);
    let (h, m) = (local.hour(), local.minute());
    Ok(stored(state, user)?.quiet_hours.iter().chain(school_quiet(state).iter()).any(|q| q.contains(h, m)))
}

fn settings_view(state: &AppState, s: &Stored) -> SettingsView {
    let c = |k| s.types.get(&k).copied().unwrap_or_default();
    use NotificationType as T;
    SettingsView {
        message: c(T::Message),
        friend_request: c(T::FriendRequest),
        friend_accepted: c(T::FriendAccepted),
        goal_reminder: c(T::GoalReminder),
        goal_completed: c(T::GoalCompleted),
        report_ready: c(T::ReportReady),
        insight: c(T::Insight),
        system: c(T::System),
        quiet_hours: s.quiet_hours.clone(),
        school_quiet_hours: school_quiet(state),
        message_previews: s.message_previews,
    }
}

/// GET /me/notification-settings.
pub fn settings(state: &AppState, me: Caller) -> AppResult<SettingsView> {
    Ok(settings_view(state, &stored(state, me.id())?))
}

/// PATCH /me/notification-settings.
pub fn update_settings(state: &AppState, me: Caller, p: SettingsPatch) -> AppResult<SettingsView> {
    let mut s = stored(state, me.id())?;
    if let Some(Some(q)) = &p.quiet_hours
        && !q.is_valid()
    {
        return Err(AppError::field("quiet_hours", "start and end must be HH:MM (24-hour), e.g. 21:30 and 07:00"));
    }
    use NotificationType as T;
    let patches = [
        (T::Message, p.message),
        (T::FriendRequest, p.friend_request),
        (T::FriendAccepted, p.friend_accepted),
        (T::GoalReminder, p.goal_reminder),
        (T::GoalCompleted, p.goal_completed),
        (T::ReportReady, p.report_ready),
        (T::Insight, p.insight),
        (T::System, p.system),
    ];
    for (kind, patch) in patches {
        if let Some(patch) = patch {
            let c = s.types.entry(kind).or_default();
            c.in_app = patch.in_app.unwrap_or(c.in_app);
            c.push = patch.push.unwrap_or(c.push);
        }
    }
    if let Some(q) = p.quiet_hours {
        s.quiet_hours = q;
    }
    if let Some(v) = p.message_previews {
        s.message_previews = v;
    }
    store::put_settings(&state.store, me.id(), &s)?;
    Ok(settings_view(state, &s))
}

fn name_of(state: &AppState, user: Option<Uuid>) -> String {
    user.and_then(|u| users::get(&state.store, u).ok().flatten())
        .filter(|u| u.deleted_at.is_none())
        .map(|u| u.name)
        .unwrap_or_else(|| "Deleted user".into())
}

/// What a message shows in a notification, as it is now (for `viewer`).
fn message_text(state: &AppState, chat: Uuid, message: Option<Uuid>, viewer: Uuid) -> String {
    // Someone who left (or was removed from) the chat no longer sees what it says now.
    if !chat_store::member(&state.store, chat, viewer).is_ok_and(|m| m.is_some()) {
        return String::new();
    }
    let Some(m) = message.and_then(|id| chat_store::get_message(&state.store, chat, id).ok().flatten()) else { return String::new() };
    if m.deleted {
        return String::new();
    }
    let v = super::chat::message_view(state, &m, viewer);
    match m.kind {
        MessageKind::Image => "Photo".into(),
        MessageKind::File => "File".into(),
        MessageKind::Note if !v.content.is_empty() => format!("Shared a note: {}", v.content),
        _ => v.content,
    }
}

/// Title, content and link of a notification, rendered for its owner now.
fn texts(state: &AppState, n: &NotificationRecord) -> (String, String, Option<String>) {
    use NotificationType as T;
    let actor = || name_of(state, n.actor_id);
    match n.kind {
        T::Message => {
            let chat = n.related_entity_id.unwrap_or_default();
            let group = chat_store::get_chat(&state.store, chat).ok().flatten().filter(|c| c.kind == ChatKind::Group).map(|c| c.name);
            let place = group.map(|g| format!(" in {g}")).unwrap_or_default();
            let title = match (n.count, n.senders.len()) {
                (0 | 1, _) => format!("New message from {}{place}", actor()),
                (c, 1) => format!("{c} new messages from {}{place}", actor()),
                (c, _) => format!("{c} new messages{place}"),
            };
            (title, message_text(state, chat, n.message_id, n.user_id), Some(format!("/api/v1/chats/{chat}")))
        }
        T::FriendRequest => (format!("{} wants to be your friend", actor()), String::new(), Some("/api/v1/friend-requests".into())),
        T::FriendAccepted => {
            (format!("{} accepted your friend request", actor()), String::new(), n.actor_id.map(|u| format!("/api/v1/users/{u}")))
        }
        T::GoalCompleted | T::GoalReminder => {
            let goal = n.related_entity_id.and_then(|g| crate::store::goals::get(&state.store, n.user_id, g).ok().flatten());
            let title = goal.as_ref().map(|g| g.title.clone()).or_else(|| n.data["title"].as_str().map(str::to_string)).unwrap_or_default();
            let head = if n.kind == T::GoalCompleted { "Goal reached" } else { "Goal behind its pace" };
            (head.into(), title, n.related_entity_id.map(|g| format!("/api/v1/goals/{g}")))
        }
        T::ReportReady => {
            let kind = n.data["kind"].as_str().unwrap_or("weekly");
            let period = n.data["period"].as_str().unwrap_or_default();
            (format!("Your {kind} report is ready"), period.to_string(), Some(format!("/api/v1/reports/{kind}?period={period}")))
        }
        T::Insight | T::System => (n.title.clone().unwrap_or_default(), n.content.clone().unwrap_or_default(), None),
    }
}

/// The API view of a notification.
pub fn view(state: &AppState, n: &NotificationRecord) -> NotificationView {
    let (title, content, link) = texts(state, n);
    NotificationView {
        id: n.id,
        kind: n.kind,
        title,
        content,
        related_entity_type: n.related_entity_type.clone(),
        related_entity_id: n.related_entity_id,
        is_read: n.read_at.is_some(),
        read_at: n.read_at.map(rfc3339),
        created_at: rfc3339(n.created_at),
        updated_at: rfc3339(n.updated_at),
        count: n.count.max(1),
        link,
    }
}

/// GET /notifications: a page, newest first, and the cursor of the next (older) page.
pub fn list(
    state: &AppState,
    me: Caller,
    cursor: Option<&str>,
    unread_only: bool,
    limit: usize,
) -> AppResult<(Vec<NotificationView>, Option<String>)> {
    let before = match cursor {
        Some(c) => Some(c.parse::<u64>().map_err(|_| AppError::field("cursor", "not a cursor from a previous page"))?),
        None => None,
    };
    let limit = limit.clamp(1, 100);
    let mut found = store::page(&state.store, me.id(), before, unread_only, limit + 1)?;
    let more = found.len() > limit;
    found.truncate(limit);
    let next_cursor = if more { found.last().map(|n| n.order.to_string()) } else { None };
    Ok((found.iter().map(|n| view(state, n)).collect(), next_cursor))
}

/// GET /notifications/unread-count.
pub fn unread_count(state: &AppState, me: Caller) -> AppResult<u64> {
    store::unread_count(&state.store, me.id())
}

/// POST /notifications/read: these ids (others' and unknown ones are ignored) or all.
pub async fn mark_read(state: &AppState, me: Caller, ids: Option<Vec<Uuid>>) -> AppResult<()> {
    if ids.as_ref().is_some_and(|i| i.len() > 500) {
        return Err(AppError::field("ids", "at most 500 ids at once (or use all)"));
    }
    let now = state.clock.now();
    let user = me.id();
    state.store.write(move |s| store::mark_read(s, user, ids.as_deref(), now)).await?;
    Ok(())
}

/// The user read `chat` up to `up_to`: its `message` notification is read too.
pub async fn chat_read(state: &AppState, user: Uuid, chat: Uuid, up_to: Uuid) -> AppResult<()> {
    let now = state.clock.now();
    state.store.write(move |s| store::chat_read(s, user, chat, up_to, now)).await
}

/// Every notification of a user, for the data export.
pub fn export(state: &AppState, user: Uuid) -> AppResult<Vec<NotificationView>> {
    Ok(store::all_of(&state.store, user)?.iter().map(|n| view(state, n)).collect())
}

/// A notification of `kind` for `user` (texts come from the references).
/// Characters of an announcement's text its notification carries (the rest is at `GET /announcements`).
const ANNOUNCEMENT_PREVIEW: usize = 280;

fn record(user: Uuid, kind: NotificationType, at: DateTime<Utc>) -> NotificationRecord {
    NotificationRecord {
        id: crate::ids::new_id(),
        user_id: user,
        kind,
        related_entity_type: None,
        related_entity_id: None,
        actor_id: None,
        count: 1,
        senders: Vec::new(),
        message_id: None,
        data: Value::Null,
        title: None,
        content: None,
        read_at: None,
        created_at: at,
        updated_at: at,
        order: 0,
        joined_seq: 0,
    }
}

fn uuid_at(v: &Value, key: &str) -> Option<Uuid> {
    v.get(key).and_then(Value::as_str).and_then(|s| Uuid::try_parse(s).ok())
}

fn wants(state: &AppState, user: Uuid, kind: NotificationType) -> bool {
    channels(state, user, kind).map(|c| c.in_app).unwrap_or(true)
}

/// A delivery, with a push queued if its owner wants one now.
fn delivery(state: &AppState, what: Deliver) -> Delivery {
    let n = match &what {
        Deliver::New(n) | Deliver::Message { fresh: n, .. } => n,
    };
    let push = super::push::wants_push(state, n.user_id, n.kind).unwrap_or(false);
    Delivery { what, push }
}

/// The notifications one event makes.
fn deliveries_of(state: &AppState, e: &LogRecord, out: &mut Vec<Delivery>) -> AppResult<()> {
    use NotificationType as T;
    let at = e.at.unwrap_or_else(|| state.clock.now());
    let audience_users = match &e.audience {
        crate::events::Audience::Users(u) => u.clone(),
        _ => Vec::new(),
    };
    match e.kind.as_str() {
        "message.new" => message_deliveries(state, e, at, out)?,
        "friend_request.new" | "friend_request.accepted" => {
            let Ok(r) = serde_json::from_value::<RequestRecord>(e.payload["request"].clone()) else { return Ok(()) };
            let kind = if e.kind == "friend_request.new" { T::FriendRequest } else { T::FriendAccepted };
            for u in audience_users {
                let actor = if u == r.from { r.to } else { r.from };
                if wants(state, u, kind) && !social_store::blocked_either(&state.store, u, actor)? {
                    let mut n = record(u, kind, at);
                    n.actor_id = Some(actor);
                    (n.related_entity_type, n.related_entity_id) = if kind == T::FriendRequest {
                        (Some("friend_request".into()), Some(r.id))
                    } else {
                        (Some("user".into()), Some(actor))
                    };
                    out.push(delivery(state, Deliver::New(n)));
                }
            }
        }
        "goal_completed" | "goal_reminder" => {
            let kind = if e.kind == "goal_completed" { T::GoalCompleted } else { T::GoalReminder };
            for u in audience_users.into_iter().filter(|u| wants(state, *u, kind)) {
                let mut n = record(u, kind, at);
                (n.related_entity_type, n.related_entity_id) = (Some("goal".into()), uuid_at(&e.payload, "goal_id"));
                n.data = serde_json::json!({ "title": e.payload["title"] });
                out.push(delivery(state, Deliver::New(n)));
            }
        }
        "insight" => {
            for u in audience_users.into_iter().filter(|u| wants(state, *u, T::Insight)) {
                let mut n = record(u, T::Insight, at);
                (n.related_entity_type, n.related_entity_id) = (Some("insight".into()), uuid_at(&e.payload, "insight_id"));
                n.title = e.payload["title"].as_str().map(str::to_string);
                n.content = e.payload["body"].as_str().map(str::to_string);
                n.data = serde_json::json!({ "kind": e.payload["kind"] });
                out.push(delivery(state, Deliver::New(n)));
            }
        }
        // A school announcement reaches every recipient in the app whatever their settings (it
        // stays pinned until acknowledged); push follows their `system` setting.
        "announcement" => {
            for u in audience_users {
                let mut n = record(u, T::System, at);
                (n.related_entity_type, n.related_entity_id) = (Some("announcement".into()), uuid_at(&e.payload, "announcement_id"));
                n.title = e.payload["title"].as_str().map(str::to_string);
                n.content = e.payload["body"].as_str().map(|b| b.chars().take(ANNOUNCEMENT_PREVIEW).collect());
                out.push(delivery(state, Deliver::New(n)));
            }
        }
        // The outcome of a report, for its reporter (never who decided).
        "report.resolved" => {
            for u in audience_users {
                let mut n = record(u, T::System, at);
                (n.related_entity_type, n.related_entity_id) = (Some("report".into()), uuid_at(&e.payload, "report_id"));
                n.title = Some("Your report was reviewed".into());
                n.content = Some(match e.payload["outcome"].as_str() {
                    Some("action_taken") => "Thank you. Staff looked at it and took action.".into(),
                    _ => "Thank you. Staff looked at it and found nothing against the school's rules.".into(),
                });
                n.data = serde_json::json!({ "outcome": e.payload["outcome"] });
                out.push(delivery(state, Deliver::New(n)));
            }
        }
        "report_ready" => {
            for u in audience_users.into_iter().filter(|u| wants(state, *u, T::ReportReady)) {
                let mut n = record(u, T::ReportReady, at);
                n.related_entity_type = Some("report".into());
                n.data = serde_json::json!({ "kind": e.payload["kind"], "period": e.payload["period"] });
                out.push(delivery(state, Deliver::New(n)));
            }
        }
        _ => {}
    }
    Ok(())
}

fn message_deliveries(state: &AppState, e: &LogRecord, at: DateTime<Utc>, out: &mut Vec<Delivery>) -> AppResult<()> {
    let (Some(chat), Some(message)) = (uuid_at(&e.payload, "chat_id"), uuid_at(&e.payload, "message_id")) else { return Ok(()) };
    let Some(m) = chat_store::get_message(&state.store, chat, message)? else { return Ok(()) };
    if m.deleted || m.kind == MessageKind::System {
        return Ok(());
    }
    let sender = m.from_user_id;
    let blocked_any = social_store::in_any_block(&state.store, sender)?;
    for &u in chat_store::member_ids(&state.store, chat)?.iter() {
        if u == sender {
            continue;
        }
        let Some(member) = chat_store::member(&state.store, chat, u)? else { continue };
        let muted = member.muted_until.is_some_and(|t| t > at);
        let read = member.last_read_message_id.is_some_and(|r| r >= message);
        let later = member.joined_seq > e.seq;
        if muted || read || later || !wants(state, u, NotificationType::Message) {
            continue;
        }
        if blocked_any && social_store::blocked_either(&state.store, u, sender)? {
            continue;
        }
        let mut n = record(u, NotificationType::Message, at);
        (n.related_entity_type, n.related_entity_id) = (Some("chat".into()), Some(chat));
        n.actor_id = Some(sender);
        n.senders = vec![sender];
        n.message_id = Some(message);
        out.push(delivery(state, Deliver::Message { fresh: n, chat, seqs: vec![e.seq] }));
    }
    Ok(())
}

/// The follower: turns a batch of events into notifications and stores them with the cursor.
pub async fn deliver(state: Arc<AppState>, batch: Vec<LogRecord>) -> AppResult<()> {
    let Some(through) = batch.last().map(|r| r.seq) else { return Ok(()) };
    let st = state.clone();
    let per_event = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for e in &batch {
            let mut ds = Vec::new();
            deliveries_of(&st, e, &mut ds)?;
            out.push((e.seq, ds));
        }
        Ok::<_, AppError>(out)
    })
    .await
    .map_err(AppError::internal)??;
    let per_event = merge_messages(per_event);
    // Stored in parts of at most PART notifications, so that a message to a large group never
    // holds the committer (and everyone's sends behind it) for long. The cursor moves with each
    // part to the last event it completes; a part of a large message event that runs again after
    // a crash finds its messages already joined and writes nothing.
    let mut part: Vec<Delivery> = Vec::new();
    let mut done = None;
    for (seq, ds) in per_event {
        if !part.is_empty() && part.len() + ds.len() > PART {
            store_part(&state, std::mem::take(&mut part), done).await?;
        }
        if ds.len() > PART {
            let mut chunks = ds.chunks(PART).peekable();
            while let Some(chunk) = chunks.next() {
                store_part(&state, chunk.to_vec(), chunks.peek().is_none().then_some(seq)).await?;
            }
            done = None;
        } else {
            part.extend(ds);
            done = Some(seq);
        }
    }
    if !part.is_empty() || done.is_some() {
        store_part(&state, part, Some(through)).await?;
    }
    Ok(())
}

/// Joins the deliveries of several messages of one chat to one member within a batch into one
/// (at the place of the newest of them, so the cursor never passes a message before its
/// notification is stored): a follower that fell behind a busy group catches up with one
/// change per member and chat instead of one per message.
fn merge_messages(per_event: Vec<(u64, Vec<Delivery>)>) -> Vec<(u64, Vec<Delivery>)> {
    use std::collections::HashMap;
    let mut slots: Vec<(u64, Vec<Option<Delivery>>)> =
        per_event.into_iter().map(|(seq, ds)| (seq, ds.into_iter().map(Some).collect())).collect();
    let mut latest: HashMap<(Uuid, Uuid), (usize, usize)> = HashMap::new();
    for e in 0..slots.len() {
        for d in 0..slots[e].1.len() {
            let Some(Delivery { what: Deliver::Message { fresh, chat, .. }, .. }) = &slots[e].1[d] else { continue };
            let key = (fresh.user_id, *chat);
            if let Some((pe, pd)) = latest.insert(key, (e, d))
                && let Some(Delivery { what: Deliver::Message { fresh: old, seqs: old_seqs, .. }, .. }) = slots[pe].1[pd].take()
                && let Some(Delivery { what: Deliver::Message { fresh, seqs, .. }, .. }) = &mut slots[e].1[d]
            {
                let mut joined = old_seqs;
                joined.append(seqs);
                *seqs = joined;
                for s in old.senders.iter().rev() {
                    if !fresh.senders.contains(s) {
                        fresh.senders.insert(0, *s);
                    }
                }
                fresh.created_at = old.created_at;
            }
        }
    }
    slots.into_iter().map(|(seq, ds)| (seq, ds.into_iter().flatten().collect())).collect()
}

/// Notifications stored by one follower transaction, at most.
const PART: usize = 64;

async fn store_part(state: &AppState, part: Vec<Delivery>, through: Option<u64>) -> AppResult<()> {
    let now = state.clock.now();
    let pushes = part.iter().any(|d| d.push);
    state
        .events
        .commit(part.len(), move |s, first| store::deliver(s, &part, through.map(|t| (FOLLOWER, t)), now, first).map(|e| ((), e)))
        .await?;
    if pushes {
        state.push_wake.notify_one();
    }
    Ok(())
}

/// Starts the follower (from the newest event when the inbox is new: an upgraded server does not
/// notify its whole history).
pub fn spawn_follower(state: Arc<AppState>) -> AppResult<tokio::task::JoinHandle<()>> {
    crate::store::event_log::init_cursor(&state.store, FOLLOWER)?;
    let head = state.events.durable_head();
    let store = state.store.clone();
    Ok(tokio::spawn(crate::events::follow(store, FOLLOWER, head, move |batch| deliver(state.clone(), batch))))
}

/// Removes notifications past `notifications.retention_days` and beyond `max_per_user`.
pub async fn prune(state: &Arc<AppState>) -> AppResult<usize> {
    let cfg = state.config.notifications.clone();
    let cutoff = if cfg.retention_days == 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        state.clock.now() - chrono::Duration::days(i64::from(cfg.retention_days))
    };
    state
        .store
        .write(move |s| {
            let mut gone = 0;
            for u in store::users(s)? {
                gone += store::prune(s, u, cutoff, cfg.max_per_user)?;
            }
            Ok(gone)
        })
        .await
}
