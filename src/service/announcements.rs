//! Announcements (issue 14): staff send one to everyone, a role or a group chat's members; it
//! arrives as a `system` notification (`related_entity_type: announcement`) and stays pinned in
//! the student's list until they acknowledge it; staff see who has and who has not.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::audit::{self, Action, Actor, Target};
use super::auth::ClientInfo;
use super::validate::Errors;
use crate::access::{Caller, Staff};
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::model::Role;
use crate::state::AppState;
use crate::store::announcements::{self as store, AnnouncementRecord};
use crate::store::chat::{self as chat_store, ChatKind};
use crate::store::users;

/// Longest title, in characters.
const MAX_TITLE: usize = 200;
/// Longest text, in characters.
const MAX_BODY: usize = 10_000;
/// Announcements one page may skip over (those for others) before it answers with a cursor.
const SCAN_BUDGET: usize = 2_000;

/// Who an announcement is for: exactly one of the three.
#[derive(Debug, Default, Serialize, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementAudience {
    /// `true`: every active account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    /// Every active account with this role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The members of this group chat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<Uuid>,
}

/// `POST /admin/announcements` body.
#[derive(Debug, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAnnouncement {
    /// 1–200 characters.
    #[salvo(schema(min_length = 1, max_length = 200, pattern = "\\S"))]
    pub title: String,
    /// 1–10,000 characters.
    #[salvo(schema(min_length = 1, max_length = 10000, pattern = "\\S"))]
    pub body: String,
    /// `{ "all": true }`, `{ "role": "student" }` or `{ "chat_id": "…" }`.
    pub audience: AnnouncementAudience,
}

/// An announcement as its recipient sees it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct AnnouncementView {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// Sent (RFC 3339).
    pub created_at: String,
    /// The sender's display name.
    pub from: String,
    /// When the caller acknowledged it (RFC 3339), or null.
    pub acknowledged_at: Option<String>,
    /// True until acknowledged: show it pinned at the top.
    pub pinned: bool,
}

/// An announcement as staff see it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct AnnouncementStatus {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// As sent: `{ "all": true }`, `{ "role": … }` or `{ "chat_id": … }`.
    #[salvo(schema(value_type = Object))]
    pub audience: serde_json::Value,
    /// The sender.
    pub created_by: Uuid,
    /// Sent (RFC 3339).
    pub created_at: String,
    /// How many accounts it was sent to.
    pub recipients: usize,
    /// How many of them acknowledged it ("read by 23 of 28").
    pub acknowledged: usize,
}

/// A recipient, for staff.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct Recipient {
    /// User id.
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// Display name.
    pub name: String,
    /// When they acknowledged it (RFC 3339), or null.
    pub acknowledged_at: Option<String>,
}

/// `GET /admin/announcements/{id}`: the status and every recipient, those who have not
/// acknowledged first.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct AnnouncementDetail {
    /// Counts and text.
    #[serde(flatten)]
    pub status: AnnouncementStatus,
    /// Everyone it was sent to: not yet acknowledged first, then by time of acknowledgement.
    pub recipients_list: Vec<Recipient>,
}

fn name_of(state: &AppState, id: Uuid) -> AppResult<String> {
    Ok(users::get(&state.store, id)?.map(|u| u.name).unwrap_or_default())
}

/// The accounts `audience` names, without `author`; validates it.
fn recipients(state: &AppState, audience: &AnnouncementAudience, author: Uuid) -> AppResult<Vec<Uuid>> {
    let mut ids = match (audience.all, audience.role, audience.chat_id) {
        (Some(true), None, None) | (None, Some(_), None) => {
            let mut ids = Vec::new();
            let mut after = None;
            loop {
                let page = users::list(&state.store, after, 500)?;
                let Some(last) = page.last() else { break };
                after = Some(last.id);
                let wanted = |u: &users::UserRecord| u.deleted_at.is_none() && !u.disabled && audience.role.is_none_or(|r| u.role == r);
                ids.extend(page.iter().filter(|u| wanted(u)).map(|u| u.id));
            }
            ids
        }
        (None, None, Some(chat)) => match chat_store::get_chat(&state.store, chat)? {
            Some(c) if c.kind == ChatKind::Group => chat_store::member_ids(&state.store, chat)?.to_vec(),
            _ => return Err(AppError::field("audience.chat_id", "no such group chat")),
        },
        _ => return Err(AppError::field("audience", "give exactly one of `all: true`, `role` or `chat_id`")),
    };
    ids.retain(|u| *u != author);
    Ok(ids)
}

fn status(state: &AppState, a: &AnnouncementRecord) -> AppResult<AnnouncementStatus> {
    Ok(AnnouncementStatus {
        id: a.id,
        title: a.title.clone(),
        body: a.body.clone(),
        audience: a.audience.clone(),
        created_by: a.created_by,
        created_at: rfc3339(a.created_at),
        recipients: a.recipients.len(),
        acknowledged: store::acks(&state.store, a.id)?.len(),
    })
}

/// POST /admin/announcements (staff): sends it; the recipients are fixed now.
pub async fn create(state: &AppState, staff: Staff, input: NewAnnouncement, client: ClientInfo) -> AppResult<AnnouncementStatus> {
    let mut e = Errors::new();
    let (title, body) = (input.title.trim().to_string(), input.body.trim().to_string());
    let chars = |s: &str| s.chars().count();
    if title.is_empty() || chars(&title) > MAX_TITLE {
        e.check("title", Err(format!("must be 1 to {MAX_TITLE} characters")));
    }
    if body.is_empty() || chars(&body) > MAX_BODY {
        e.check("body", Err(format!("must be 1 to {MAX_BODY} characters")));
    }
    e.finish()?;
    let author = staff.caller().id();
    let recipients = recipients(state, &input.audience, author)?;
    let record = AnnouncementRecord {
        id: crate::ids::new_id(),
        title,
        body,
        audience: serde_json::to_value(&input.audience).map_err(AppError::internal)?,
        recipients,
        created_by: author,
        created_at: state.clock.now(),
    };
    let actor = Actor::user(state, staff.caller(), &client)?;
    let values = serde_json::json!({ "title": record.title, "audience": record.audience, "recipients": record.recipients.len() });
    let stored = record.clone();
    state.events.commit(1, move |s, first| store::create(s, &stored, first).map(|e| ((), e))).await?;
    audit::log(state, actor, Action::on("announcement.create", Target::new("announcement", record.id)).new_values(values)).await?;
    status(state, &record)
}

/// GET /admin/announcements (staff): newest first.
pub fn list_sent(
    state: &AppState,
    _staff: Staff,
    cursor: Option<Uuid>,
    limit: usize,
) -> AppResult<(Vec<AnnouncementStatus>, Option<String>)> {
    let mut items = Vec::new();
    for a in store::newest_first(&state.store, cursor) {
        let a = a?;
        items.push(status(state, &a)?);
        if items.len() == limit {
            return Ok((items, Some(a.id.to_string())));
        }
    }
    Ok((items, None))
}

/// GET /admin/announcements/{id} (staff): counts and who has not acknowledged yet.
pub fn detail(state: &AppState, _staff: Staff, id: Uuid) -> AppResult<AnnouncementDetail> {
    let a = store::get(&state.store, id)?.ok_or(AppError::NotFound("announcement"))?;
    let acks: std::collections::HashMap<Uuid, chrono::DateTime<chrono::Utc>> = store::acks(&state.store, id)?.into_iter().collect();
    let mut list = Vec::with_capacity(a.recipients.len());
    for &u in &a.recipients {
        let Some(user) = users::get(&state.store, u)? else { continue };
        list.push((acks.get(&u).copied(), Recipient { id: u, username: user.username, name: user.name, acknowledged_at: None }));
    }
    list.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.username.cmp(&y.1.username)));
    let recipients_list = list.into_iter().map(|(at, mut r)| {
        r.acknowledged_at = at.map(rfc3339);
        r
    });
    Ok(AnnouncementDetail { status: status(state, &a)?, recipients_list: recipients_list.collect() })
}

/// GET /announcements: the caller's, newest first (those not acknowledged are `pinned`).
pub fn mine(state: &AppState, me: Caller, cursor: Option<Uuid>, limit: usize) -> AppResult<(Vec<AnnouncementView>, Option<String>)> {
    let mut items = Vec::new();
    for (scanned, a) in store::newest_first(&state.store, cursor).enumerate() {
        let a = a?;
        if a.recipients.contains(&me.id()) {
            let acked = store::acked_at(&state.store, a.id, me.id())?;
            items.push(AnnouncementView {
                id: a.id,
                title: a.title.clone(),
                body: a.body.clone(),
                created_at: rfc3339(a.created_at),
                from: name_of(state, a.created_by)?,
                acknowledged_at: acked.map(rfc3339),
                pinned: acked.is_none(),
            });
        }
        if items.len() == limit || scanned + 1 == SCAN_BUDGET {
            return Ok((items, Some(a.id.to_string())));
        }
    }
    Ok((items, None))
}

/// Every announcement sent to the user, newest first (`GET /me/export`).
pub fn export(state: &AppState, me: Caller) -> AppResult<Vec<AnnouncementView>> {
    super::pages::all(|cursor| mine(state, me, cursor, 100))
}

/// POST /announcements/{id}/ack: the caller read it (again is fine); 404 if it was not for them.
pub async fn ack(state: &AppState, me: Caller, id: Uuid) -> AppResult<()> {
    let a = store::get(&state.store, id)?.ok_or(AppError::NotFound("announcement"))?;
    if !a.recipients.contains(&me.id()) {
        return Err(AppError::NotFound("announcement"));
    }
    let now = state.clock.now();
    state.store.write(move |s| store::ack(s, id, me.id(), now).map(|_| ())).await
}
