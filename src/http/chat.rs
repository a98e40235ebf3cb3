//! `/api/v1/chats*`: chats, members, messages, read positions.

use salvo::prelude::*;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Page, json, me, off_workers, paging, path_id, state};
use super::reply::NoContent;
use crate::error::{AppError, AppResult};
use crate::service::chat::{self as svc, ChatView, MessageView, NewMessage};

/// `POST /chats` body: `{type: "private", user_id}` or `{type: "group", name, description?, member_ids}`.
#[derive(Deserialize, ToSchema)]
pub struct NewChat {
    /// private | group.
    #[serde(rename = "type")]
    #[salvo(schema(pattern = "^(private|group)$"))]
    pub kind: String,
    /// For private chats: the other person.
    pub user_id: Option<Uuid>,
    /// Group name.
    pub name: Option<String>,
    /// Group description.
    pub description: Option<String>,
    /// Group members besides the creator.
    #[serde(default)]
    pub member_ids: Vec<Uuid>,
}

/// `PATCH /chats/{id}` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatPatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// Mute the chat for the caller until then (RFC 3339; any member, for itself), or `null` to
    /// unmute: no `message` notifications or pushes until then.
    #[serde(default, deserialize_with = "crate::service::double_option")]
    #[salvo(schema(value_type = Option<chrono::DateTime<chrono::Utc>>))]
    pub muted_until: Option<Option<String>>,
}

/// `POST /chats/{id}/members` body.
#[derive(Deserialize, ToSchema)]
pub struct NewMembers {
    /// Users to add.
    pub user_ids: Vec<Uuid>,
}

/// `PATCH` message body.
#[derive(Deserialize, ToSchema)]
pub struct MessagePatch {
    /// New text.
    pub content: String,
}

/// `POST /chats/{id}/read` body.
#[derive(Deserialize, ToSchema)]
pub struct ReadUpTo {
    /// The newest message read.
    pub up_to_message_id: Uuid,
}

/// The caller's chats, most recent activity first, with `unread_count` and `last_message`. The
/// cursor is the last chat's activity time and id: a chat with new activity moves to the first
/// page (re-read it) and is not repeated on the following ones.
#[endpoint(tags("chat"), security(("bearer" = [])),
    parameters(("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn list(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<ChatView>>, AppError> {
    let p = paging(req)?;
    let me = me(depot)?;
    let (items, next_cursor) = off_workers(&state(depot), move |st| svc::list(st, me, p.limit, p.cursor.as_deref())).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// Open a private chat (get-or-create: 201 when new, 200 when it existed) or create a group (201).
/// Who may be messaged or added follows the school's `chat.dm_policy`; blocks always win. A
/// student may start `chat.new_chats_per_hour` (30) chats an hour (then 429); opening an existing
/// private chat does not count.
#[endpoint(tags("chat"), security(("bearer" = [])), request_body = NewChat)]
async fn create(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<Json<ChatView>, AppError> {
    let st = state(depot);
    let body: NewChat = json(req, &st).await?;
    let caller = me(depot)?;
    let (view, created) = match body.kind.as_str() {
        "private" => {
            svc::open_private(&st, caller, body.user_id.ok_or_else(|| AppError::field("user_id", "a private chat needs user_id"))?).await?
        }
        "group" => {
            let name = body.name.ok_or_else(|| AppError::field("name", "a group needs a name"))?;
            (svc::create_group(&st, caller, name, body.description.unwrap_or_default(), body.member_ids).await?, true)
        }
        _ => return Err(AppError::field("type", "must be private or group")),
    };
    res.status_code(if created { StatusCode::CREATED } else { StatusCode::OK });
    Ok(Json(view))
}

/// One chat (404 for non-members).
#[endpoint(tags("chat"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Chat id")))]
async fn get_chat(req: &mut Request, depot: &mut Depot) -> Result<Json<ChatView>, AppError> {
    let id = path_id(req, "id", "chat")?;
    let me = me(depot)?;
    Ok(Json(off_workers(&state(depot), move |st| svc::get(st, me, id)).await?))
}

/// Rename or describe a group (owner or admins); mute or unmute the chat for oneself (`muted_until`, any member).
#[endpoint(tags("chat"), security(("bearer" = [])), request_body = ChatPatch, parameters(("id" = String, Path, description = "Chat id")))]
async fn patch_chat(req: &mut Request, depot: &mut Depot) -> Result<Json<ChatView>, AppError> {
    let st = state(depot);
    let id = path_id(req, "id", "chat")?;
    let body: ChatPatch = json(req, &st).await?;
    let muted_until = match body.muted_until {
        Some(Some(t)) => Some(Some(
            chrono::DateTime::parse_from_rfc3339(&t)
                .map_err(|_| AppError::field("muted_until", "must be an RFC 3339 time, e.g. 2026-12-24T08:00:00Z, or null"))?
                .to_utc(),
        )),
        Some(None) => Some(None),
        None => None,
    };
    Ok(Json(svc::update(&st, me(depot)?, id, body.name, body.description, muted_until).await?))
}

/// Leave a chat; the owner of a group closes it (read-only for everyone).
#[endpoint(tags("chat"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Chat id")))]
async fn delete_chat(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let id = path_id(req, "id", "chat")?;
    svc::delete(&state(depot), me(depot)?, id).await?;
    Ok(NoContent)
}

/// Add members to a group (owner or admins).
#[endpoint(tags("chat"), security(("bearer" = [])), request_body = NewMembers, parameters(("id" = String, Path, description = "Chat id")))]
async fn add_members(req: &mut Request, depot: &mut Depot) -> Result<Json<ChatView>, AppError> {
    let st = state(depot);
    let id = path_id(req, "id", "chat")?;
    let body: NewMembers = json(req, &st).await?;
    Ok(Json(svc::add_members(&st, me(depot)?, id, body.user_ids).await?))
}

/// Remove a member (owner or admins), or leave (your own id).
#[endpoint(tags("chat"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Chat id"), ("user_id" = String, Path, description = "Member")))]
async fn remove_member(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let id = path_id(req, "id", "chat")?;
    let user = path_id(req, "user_id", "member")?;
    svc::remove_member(&state(depot), me(depot)?, id, user).await?;
    Ok(NoContent)
}

fn opt_id(req: &Request, name: &str) -> AppResult<Option<Uuid>> {
    match req.query::<String>(name) {
        None => Ok(None),
        Some(s) => crate::ids::parse(&s).map(Some).ok_or_else(|| AppError::field(name, "must be a message id")),
    }
}

/// History: `before` (newest first), `after` (oldest first), or the newest page.
#[endpoint(tags("chat"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Chat id"), ("before" = Option<String>, Query, description = "Message id"), ("after" = Option<String>, Query, description = "Message id"), ("limit" = Option<usize>, Query, description = "1–100, default 20")))]
async fn history(req: &mut Request, depot: &mut Depot) -> Result<Json<Vec<MessageView>>, AppError> {
    let id = path_id(req, "id", "chat")?;
    let p = paging(req)?;
    let (before, after) = (opt_id(req, "before")?, opt_id(req, "after")?);
    let me = me(depot)?;
    Ok(Json(off_workers(&state(depot), move |st| svc::history(st, me, id, before, after, p.limit)).await?))
}

/// Send a message (same as `message.send` on the socket). A resend with the same `client_id`
/// returns the stored message (200) instead of a second one (201).
#[endpoint(tags("chat"), security(("bearer" = [])), request_body = NewMessage, parameters(("id" = String, Path, description = "Chat id")))]
async fn send(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<Json<MessageView>, AppError> {
    let st = state(depot);
    let id = path_id(req, "id", "chat")?;
    let body: NewMessage = json(req, &st).await?;
    let (m, created) = svc::send(&st, me(depot)?, id, body).await?;
    res.status_code(if created { StatusCode::CREATED } else { StatusCode::OK });
    Ok(Json(m))
}

/// Edit your own text message (marked `edited_at`).
#[endpoint(tags("chat"), security(("bearer" = [])), request_body = MessagePatch, parameters(("id" = String, Path, description = "Chat id"), ("mid" = String, Path, description = "Message id")))]
async fn edit(req: &mut Request, depot: &mut Depot) -> Result<Json<MessageView>, AppError> {
    let st = state(depot);
    let (id, mid) = (path_id(req, "id", "chat")?, path_id(req, "mid", "message")?);
    let body: MessagePatch = json(req, &st).await?;
    Ok(Json(svc::edit(&st, me(depot)?, id, mid, body.content).await?))
}

/// Delete your own message (moderators: any); content is removed, a tombstone stays.
#[endpoint(tags("chat"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Chat id"), ("mid" = String, Path, description = "Message id")))]
async fn delete_message(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let (id, mid) = (path_id(req, "id", "chat")?, path_id(req, "mid", "message")?);
    svc::delete_message(&state(depot), me(depot)?, id, mid).await?;
    Ok(NoContent)
}

/// Mark messages read up to one; a `receipt` goes to the other members (unless you turned
/// `settings.read_receipts` off).
#[endpoint(tags("chat"), security(("bearer" = [])), request_body = ReadUpTo, parameters(("id" = String, Path, description = "Chat id")))]
async fn read(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let st = state(depot);
    let id = path_id(req, "id", "chat")?;
    let body: ReadUpTo = json(req, &st).await?;
    svc::receipt(&st, me(depot)?, id, body.up_to_message_id, true).await?;
    Ok(NoContent)
}

/// Routes for signed-in users.
pub fn router() -> Router {
    Router::with_path("chats")
        .get(list)
        .post(create)
        .push(Router::with_path("{id}").get(get_chat).patch(patch_chat).delete(delete_chat))
        .push(Router::with_path("{id}/members").post(add_members))
        .push(Router::with_path("{id}/members/{user_id}").delete(remove_member))
        .push(Router::with_path("{id}/messages").get(history).post(send))
        .push(Router::with_path("{id}/messages/{mid}").patch(edit).delete(delete_message))
        .push(Router::with_path("{id}/read").post(read))
}
