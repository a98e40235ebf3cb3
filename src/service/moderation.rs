//! Reports and the moderation queue (issue 14). Anyone reports a message, note or user they can
//! see; staff see the queue with the reported thing in context (the only way staff read chat
//! content: a few messages around the reported one; every opening of the queue is audited) and
//! resolve each report: dismiss, delete the content everywhere, or disable its author. The
//! reporter is told the outcome, never who decided.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::admin::{AdminUserPatch, patch_user};
use super::audit::{self, Action, Actor, Target};
use super::auth::ClientInfo;
use super::validate::Errors;
use crate::access::{Caller, Staff};
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::chat as chat_store;
use crate::store::moderation::{self as store, ReportRecord};
use crate::store::notes as note_store;
use crate::store::users;

/// Longest reason, in characters.
const MAX_REASON: usize = 200;
/// Longest details or moderator's note, in characters.
const MAX_DETAILS: usize = 2_000;
/// Messages shown before and after a reported one.
const AROUND: usize = 3;
/// Reports one page may skip over (those filtered out) before it answers with a cursor.
const SCAN_BUDGET: usize = 2_000;

/// What a report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    /// A chat message (the reporter must be in the chat).
    Message,
    /// A note the reporter may read.
    Note,
    /// An account the reporter can see.
    User,
}

impl EntityType {
    fn word(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Note => "note",
            Self::User => "user",
        }
    }
}

/// `POST /reports` body.
#[derive(Debug, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// `message`, `note` or `user`.
    pub entity_type: EntityType,
    /// Its id.
    pub entity_id: Uuid,
    /// Why, in a few words (1–200 characters).
    #[salvo(schema(min_length = 1, max_length = 200, pattern = "\\S"))]
    pub reason: String,
    /// More, if needed (at most 2,000 characters).
    #[salvo(schema(max_length = 2000))]
    pub details: Option<String>,
}

/// A report as its reporter sees it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct MyReport {
    /// Id.
    pub id: Uuid,
    /// `message`, `note` or `user`.
    pub entity_type: String,
    /// What was reported.
    pub entity_id: Uuid,
    /// Why.
    pub reason: String,
    /// More.
    pub details: String,
    /// Sent (RFC 3339).
    pub created_at: String,
    /// `open` or `resolved`.
    pub status: &'static str,
    /// Once resolved: `action_taken` or `no_action`.
    pub outcome: Option<&'static str>,
}

fn outcome(r: &ReportRecord) -> Option<&'static str> {
    r.action.as_deref().map(|a| if a == "dismiss" { "no_action" } else { "action_taken" })
}

fn mine_view(r: &ReportRecord) -> MyReport {
    MyReport {
        id: r.id,
        entity_type: r.entity_type.clone(),
        entity_id: r.entity_id,
        reason: r.reason.clone(),
        details: r.details.clone(),
        created_at: rfc3339(r.created_at),
        status: if r.resolved_at.is_some() { "resolved" } else { "open" },
        outcome: outcome(r),
    }
}

/// The chat of message `id` among `me`'s chats, and its author; 404 when `me` cannot see it.
fn find_message(state: &AppState, me: Uuid, id: Uuid) -> AppResult<(Uuid, Uuid)> {
    for chat in chat_store::chats_of(&state.store, me)? {
        if let Some(m) = chat_store::get_message(&state.store, chat, id)?.filter(|m| !m.deleted) {
            return Ok((chat, m.from_user_id));
        }
    }
    Err(AppError::NotFound("message"))
}

/// POST /reports: any user, on what they can see; one open report per thing; rate-limited.
pub async fn create(state: &AppState, me: Caller, input: ReportInput) -> AppResult<MyReport> {
    let mut e = Errors::new();
    let reason = input.reason.trim().to_string();
    let details = input.details.unwrap_or_default().trim().to_string();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        e.check("reason", Err(format!("must be 1 to {MAX_REASON} characters")));
    }
    if details.chars().count() > MAX_DETAILS {
        e.check("details", Err(format!("must be at most {MAX_DETAILS} characters")));
    }
    e.finish()?;
    state.reports.take(&me.id().to_string(), state.clock.unix()).map_err(AppError::RateLimited)?;
    let (chat_id, subject) = match input.entity_type {
        EntityType::Message => find_message(state, me.id(), input.entity_id).map(|(c, a)| (Some(c), a))?,
        EntityType::Note => {
            super::notes::get(state, me, input.entity_id)?;
            let n = note_store::get(&state.store, input.entity_id)?.ok_or(AppError::NotFound("note"))?;
            (None, n.author_id)
        }
        EntityType::User => (None, super::social::visible_to(state, me, input.entity_id)?.id),
    };
    if subject == me.id() {
        return Err(AppError::field("entity_id", "you cannot report yourself or what you wrote"));
    }
    let r = ReportRecord {
        id: crate::ids::new_id(),
        reporter: me.id(),
        entity_type: input.entity_type.word().to_string(),
        entity_id: input.entity_id,
        chat_id,
        subject,
        reason,
        details,
        created_at: state.clock.now(),
        resolved_at: None,
        resolved_by: None,
        action: None,
        note: None,
    };
    let stored = r.clone();
    match state.store.write(move |s| store::create(s, &stored)).await? {
        Ok(()) => Ok(mine_view(&r)),
        Err(_) => Err(AppError::Conflict("you already reported this; staff will look at it".into(), vec![])),
    }
}

/// GET /reports: the caller's own reports, newest first.
pub fn mine(state: &AppState, me: Caller, cursor: Option<Uuid>, limit: usize) -> AppResult<(Vec<MyReport>, Option<String>)> {
    page(state, cursor, limit, |r| r.reporter == me.id(), |r| Ok(mine_view(r)))
}

/// Every report the user sent, newest first (`GET /me/export`).
pub fn export(state: &AppState, me: Caller) -> AppResult<Vec<MyReport>> {
    super::pages::all(|cursor| mine(state, me, cursor, 100))
}

/// Newest first from `cursor`, the reports `keep` wants, as `view` shows them.
fn page<T>(
    state: &AppState,
    cursor: Option<Uuid>,
    limit: usize,
    keep: impl Fn(&ReportRecord) -> bool,
    mut view: impl FnMut(&ReportRecord) -> AppResult<T>,
) -> AppResult<(Vec<T>, Option<String>)> {
    let mut items = Vec::new();
    for (scanned, r) in store::newest_first(&state.store, cursor).enumerate() {
        let r = r?;
        if keep(&r) {
            items.push(view(&r)?);
        }
        if items.len() == limit || scanned + 1 == SCAN_BUDGET {
            return Ok((items, Some(r.id.to_string())));
        }
    }
    Ok((items, None))
}

/// Someone, as staff see them in a report.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct Person {
    /// User id.
    pub id: Uuid,
    /// Username (empty if the account is gone).
    pub username: String,
    /// Display name.
    pub name: String,
}

fn person(state: &AppState, id: Uuid) -> AppResult<Person> {
    let u = users::get(&state.store, id)?;
    Ok(Person { id, username: u.as_ref().map(|u| u.username.clone()).unwrap_or_default(), name: u.map(|u| u.name).unwrap_or_default() })
}

/// A message around a reported one.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct ContextMessage {
    /// Id.
    pub id: Uuid,
    /// Its author's username.
    pub from: String,
    /// Text (empty once deleted).
    pub content: String,
    /// Sent (RFC 3339).
    pub created_at: String,
    /// Deleted (by its author or a moderator).
    pub deleted: bool,
    /// The reported message.
    pub reported: bool,
}

/// What staff see of the reported thing.
#[derive(Debug, Default, Serialize, salvo::oapi::ToSchema)]
pub struct ReportContext {
    /// A message report: the chat's name (empty for a private chat).
    pub chat_name: Option<String>,
    /// A message report: up to 3 messages before the reported one, it, and up to 3 after.
    pub messages: Option<Vec<ContextMessage>>,
    /// A note report: its title.
    pub note_title: Option<String>,
    /// A note report: its text.
    pub note_content: Option<String>,
    /// A user report: their bio.
    pub user_bio: Option<String>,
    /// True once the reported thing was deleted.
    pub gone: bool,
}

/// A report in the moderation queue.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct QueuedReport {
    /// The report as its reporter sees it (status and outcome included).
    #[serde(flatten)]
    pub report: MyReport,
    /// Who reported it.
    pub reporter: Person,
    /// Whose message, note or account it is.
    pub subject: Person,
    /// When resolved (RFC 3339).
    pub resolved_at: Option<String>,
    /// Who resolved it.
    pub resolved_by: Option<Person>,
    /// `dismiss`, `delete_content` or `disable_user`.
    pub action: Option<String>,
    /// The moderator's note.
    pub note: Option<String>,
    /// The reported thing in context.
    pub context: ReportContext,
}

fn context(state: &AppState, r: &ReportRecord) -> AppResult<ReportContext> {
    let mut c = ReportContext::default();
    match (r.entity_type.as_str(), r.chat_id) {
        ("message", Some(chat)) => {
            c.chat_name = chat_store::get_chat(&state.store, chat)?.map(|ch| ch.name);
            let mut around = chat_store::messages(&state.store, chat, Some(r.entity_id), None, AROUND)?;
            around.reverse();
            let reported = chat_store::get_message(&state.store, chat, r.entity_id)?;
            c.gone = reported.as_ref().is_none_or(|m| m.deleted);
            around.extend(reported);
            around.extend(chat_store::messages(&state.store, chat, None, Some(r.entity_id), AROUND)?);
            let mut names: std::collections::HashMap<Uuid, String> = std::collections::HashMap::new();
            let mut out = Vec::with_capacity(around.len());
            for m in around {
                let from = match names.entry(m.from_user_id) {
                    std::collections::hash_map::Entry::Occupied(e) => e.get().clone(),
                    std::collections::hash_map::Entry::Vacant(e) => e.insert(person(state, m.from_user_id)?.username).clone(),
                };
                out.push(ContextMessage {
                    id: m.id,
                    from,
                    content: m.content,
                    created_at: rfc3339(m.created_at),
                    deleted: m.deleted,
                    reported: m.id == r.entity_id,
                });
            }
            c.messages = Some(out);
        }
        ("note", _) => match note_store::get(&state.store, r.entity_id)?.filter(|n| n.deleted_at.is_none()) {
            Some(n) => (c.note_title, c.note_content) = (Some(n.title), Some(n.content)),
            None => c.gone = true,
        },
        _ => match users::get(&state.store, r.entity_id)?.filter(|u| u.deleted_at.is_none()) {
            Some(u) => c.user_bio = Some(u.bio),
            None => c.gone = true,
        },
    }
    Ok(c)
}

fn queued(state: &AppState, r: &ReportRecord) -> AppResult<QueuedReport> {
    Ok(QueuedReport {
        report: mine_view(r),
        reporter: person(state, r.reporter)?,
        subject: person(state, r.subject)?,
        resolved_at: r.resolved_at.map(rfc3339),
        resolved_by: r.resolved_by.map(|id| person(state, id)).transpose()?,
        action: r.action.clone(),
        note: r.note.clone(),
        context: context(state, r)?,
    })
}

/// Which reports the queue shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueStatus {
    /// Waiting for staff (the default).
    #[default]
    Open,
    /// Resolved.
    Resolved,
    /// Both.
    All,
}

/// GET /admin/reports (staff): newest first, with context. Each page opened is audited with the
/// reports it showed.
pub async fn queue(
    state: &AppState,
    staff: Staff,
    status: QueueStatus,
    cursor: Option<Uuid>,
    limit: usize,
    client: ClientInfo,
) -> AppResult<(Vec<QueuedReport>, Option<String>)> {
    let keep = |r: &ReportRecord| match status {
        QueueStatus::Open => r.resolved_at.is_none(),
        QueueStatus::Resolved => r.resolved_at.is_some(),
        QueueStatus::All => true,
    };
    let (items, next) = page(state, cursor, limit, keep, |r| queued(state, r))?;
    if !items.is_empty() {
        let shown: Vec<Uuid> = items.iter().map(|r| r.report.id).collect();
        let actor = Actor::user(state, staff.caller(), &client)?;
        let action = Action { name: "reports.view", target: None, old: None, new: Some(serde_json::json!({ "report_ids": shown })) };
        audit::log(state, actor, action).await?;
    }
    Ok((items, next))
}

/// What staff decide about a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Nothing broke the rules.
    Dismiss,
    /// Delete the message or note everywhere (history, search, feed, media); not for a user.
    DeleteContent,
    /// Disable the author's (or the reported user's) account: signed out everywhere at once.
    DisableUser,
}

/// `POST /admin/reports/{id}/resolve` body.
#[derive(Debug, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// `dismiss`, `delete_content` or `disable_user`.
    pub action: Decision,
    /// A note for staff (at most 2,000 characters); the reporter never sees it.
    #[salvo(schema(max_length = 2000))]
    pub note: Option<String>,
}

/// POST /admin/reports/{id}/resolve (staff): carries out the decision, resolves the report,
/// tells the reporter the outcome (not who decided) and records it in the audit log. The report
/// and the reporter's event are one transaction; the decision runs before it and is idempotent
/// (deleting what is already deleted, disabling who is already disabled), so a resolve that
/// failed half-way can simply be sent again.
pub async fn resolve(state: &AppState, staff: Staff, id: Uuid, input: Resolution, client: ClientInfo) -> AppResult<QueuedReport> {
    let mut r = store::get(&state.store, id)?.ok_or(AppError::NotFound("report"))?;
    if r.resolved_at.is_some() {
        return Err(AppError::Conflict("this report was already resolved".into(), vec![]));
    }
    let note = input.note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_DETAILS) {
        return Err(AppError::field("note", format!("must be at most {MAX_DETAILS} characters")));
    }
    match (input.action, r.entity_type.as_str()) {
        (Decision::Dismiss, _) => {}
        (Decision::DeleteContent, "message") => {
            let chat = r.chat_id.ok_or(AppError::NotFound("message"))?;
            super::chat::delete_message(state, staff.caller(), chat, r.entity_id).await?;
        }
        (Decision::DeleteContent, "note") => super::notes::remove_by_staff(state, staff, r.entity_id).await?,
        (Decision::DeleteContent, _) => return Err(AppError::field("action", "a user report is resolved with dismiss or disable_user")),
        (Decision::DisableUser, _) => {
            patch_user(state, staff, r.subject, AdminUserPatch { role: None, disabled: Some(true) }, client.clone()).await?;
        }
    }
    let word = serde_json::to_value(input.action).map_err(AppError::internal)?.as_str().unwrap_or_default().to_string();
    r.resolved_at = Some(state.clock.now());
    r.resolved_by = Some(staff.caller().id());
    r.action = Some(word.clone());
    r.note = note.clone();
    let payload = serde_json::json!({ "report_id": r.id, "outcome": outcome(&r) });
    let stored = r.clone();
    state.events.commit(1, move |s, first| store::resolve(s, &stored, &payload, first).map(|e| ((), e))).await?;
    let actor = Actor::user(state, staff.caller(), &client)?;
    let values = serde_json::json!({ "action": word, "note": note, "entity_type": r.entity_type, "entity_id": r.entity_id });
    audit::log(state, actor, Action::on("report.resolve", Target::new("report", r.id)).new_values(values)).await?;
    queued(state, &r)
}
