//! `/api/v1/friends`, `/friend-requests`, `/blocks`, `/users` (discover) and `/users/suggestions`.

use salvo::prelude::*;
use serde::Deserialize;

use super::extract::{Page, json, me, off_workers, paging, path_id, state};
use super::reply::{Created, NoContent};
use crate::error::{AppError, AppResult};
use crate::service::social::{self as svc, BlockView, RequestView, Suggestion};
use crate::service::views::UserView;

/// `POST /friend-requests` body.
#[derive(Deserialize, ToSchema)]
pub struct NewRequest {
    /// Whom to ask.
    #[salvo(schema(value_type = Uuid))]
    pub to_user_id: String,
}

/// `POST /blocks` body.
#[derive(Deserialize, ToSchema)]
pub struct NewBlock {
    /// Whom to block (not yourself).
    #[salvo(schema(value_type = Uuid))]
    pub user_id: String,
}

fn body_id(raw: &str, field: &str) -> AppResult<uuid::Uuid> {
    crate::ids::parse(raw).ok_or_else(|| AppError::field(field, "must be a user id"))
}

fn offset(cursor: &Option<String>) -> AppResult<usize> {
    match cursor {
        None => Ok(0),
        Some(c) => c.parse().map_err(|_| AppError::field("cursor", "invalid cursor")),
    }
}

/// The caller's friends (oldest accounts first; clients sort for display), with presence
/// (`is_online`, `last_seen_at`) unless a friend chose `settings.invisible`.
#[endpoint(tags("friends"), security(("bearer" = [])), parameters(("q" = Option<String>, Query, description = "Name or username contains"), ("limit" = Option<usize>, Query, description = "1–100"), ("cursor" = Option<String>, Query, description = "From the previous page")))]
async fn list_friends(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<UserView>>, AppError> {
    let p = paging(req)?;
    let q = req.query::<String>("q").unwrap_or_default();
    let after = match &p.cursor {
        Some(c) => Some(crate::ids::parse(c).ok_or_else(|| AppError::field("cursor", "invalid cursor"))?),
        None => None,
    };
    let me = me(depot)?;
    let (items, next) = off_workers(&state(depot), move |st| svc::friends(st, me, &q, after, p.limit)).await?;
    Ok(Json(Page { items, next_cursor: next.map(|n| n.to_string()) }))
}

/// End a friendship (both sides).
#[endpoint(tags("friends"), security(("bearer" = [])), parameters(("user_id" = String, Path, description = "The friend")))]
async fn unfriend(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let other = path_id(req, "user_id", "friend")?;
    svc::unfriend(&state(depot), me(depot)?, other).await?;
    Ok(NoContent)
}

/// Ask someone to be friends. If they already asked you, you become friends at once and their
/// request comes back with status `accepted`. 409 when already friends or already asked; 403 when
/// you blocked them; 404 when they do not exist for you; 429 after `chat.friend_requests_per_hour`
/// (30) requests by a student.
#[endpoint(tags("friends"), security(("bearer" = [])), request_body = NewRequest)]
async fn send_request(req: &mut Request, depot: &mut Depot) -> Result<Created<RequestView>, AppError> {
    let st = state(depot);
    let body: NewRequest = json(req, &st).await?;
    let sent = svc::send_request(&st, me(depot)?, body_id(&body.to_user_id, "to_user_id")?).await?;
    Ok(Created(sent.request))
}

/// Pending requests to (`direction=incoming`, the default) or from (`outgoing`) the caller.
#[endpoint(tags("friends"), security(("bearer" = [])), parameters(("direction" = Option<String>, Query, description = "incoming | outgoing")))]
async fn list_requests(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<RequestView>>, AppError> {
    let incoming = match req.query::<String>("direction").as_deref() {
        None | Some("incoming") => true,
        Some("outgoing") => false,
        Some(_) => return Err(AppError::field("direction", "must be incoming or outgoing")),
    };
    let me = me(depot)?;
    Ok(Json(Page { items: off_workers(&state(depot), move |st| svc::list_requests(st, me, incoming)).await?, next_cursor: None }))
}

/// Accept a request sent to the caller.
#[endpoint(tags("friends"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Request id")))]
async fn accept(req: &mut Request, depot: &mut Depot) -> Result<Json<RequestView>, AppError> {
    let id = path_id(req, "id", "friend request")?;
    Ok(Json(svc::answer(&state(depot), me(depot)?, id, true).await?))
}

/// Reject a request sent to the caller.
#[endpoint(tags("friends"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Request id")))]
async fn reject(req: &mut Request, depot: &mut Depot) -> Result<Json<RequestView>, AppError> {
    let id = path_id(req, "id", "friend request")?;
    Ok(Json(svc::answer(&state(depot), me(depot)?, id, false).await?))
}

/// Withdraw a request the caller sent.
#[endpoint(tags("friends"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Request id")))]
async fn withdraw(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let id = path_id(req, "id", "friend request")?;
    svc::withdraw(&state(depot), me(depot)?, id).await?;
    Ok(NoContent)
}

/// Users the caller blocked.
#[endpoint(tags("blocks"), security(("bearer" = [])))]
async fn list_blocks(depot: &mut Depot) -> Result<Json<Page<BlockView>>, AppError> {
    let me = me(depot)?;
    Ok(Json(Page { items: off_workers(&state(depot), move |st| svc::blocks(st, me)).await?, next_cursor: None }))
}

/// Block a user: ends the friendship and pending requests both ways; they can no longer find,
/// befriend or see the caller (404, as if absent). Unblocking restores none of it.
#[endpoint(tags("blocks"), security(("bearer" = [])), request_body = NewBlock)]
async fn block(req: &mut Request, depot: &mut Depot) -> Result<Created<BlockView>, AppError> {
    let st = state(depot);
    let body: NewBlock = json(req, &st).await?;
    Ok(Created(svc::block(&st, me(depot)?, body_id(&body.user_id, "user_id")?).await?))
}

/// Unblock a user.
#[endpoint(tags("blocks"), security(("bearer" = [])), parameters(("user_id" = String, Path, description = "The blocked user")))]
async fn unblock(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let other = path_id(req, "user_id", "block")?;
    svc::unblock(&state(depot), me(depot)?, other).await?;
    Ok(NoContent)
}

/// Discover users by username, name or study focus (prefix and typo-tolerant), best match first.
/// Never returns disabled users, users blocked either way, or `friends`-only profiles of non-friends.
#[endpoint(tags("users"), security(("bearer" = [])), parameters(("q" = Option<String>, Query, description = "Search text"), ("study_focus" = Option<String>, Query, description = "Exact study focus"), ("limit" = Option<usize>, Query, description = "1–100"), ("cursor" = Option<String>, Query, description = "From the previous page")))]
async fn discover(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<UserView>>, AppError> {
    let p = paging(req)?;
    let q = req.query::<String>("q").unwrap_or_default();
    let focus = req.query::<String>("study_focus");
    let me = me(depot)?;
    let skip = offset(&p.cursor)?;
    let (items, next) = off_workers(&state(depot), move |st| svc::discover(st, me, &q, focus.as_deref(), skip, p.limit)).await?;
    Ok(Json(Page { items, next_cursor: next.map(|n| n.to_string()) }))
}

/// People the caller may know: friends of friends by mutual friends, then the same study focus.
#[endpoint(tags("users"), security(("bearer" = [])), parameters(("limit" = Option<usize>, Query, description = "1–100, default 20")))]
async fn suggestions(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<Suggestion>>, AppError> {
    let p = paging(req)?;
    let me = me(depot)?;
    Ok(Json(Page { items: off_workers(&state(depot), move |st| svc::suggestions(st, me, p.limit)).await?, next_cursor: None }))
}

/// Routes for signed-in users.
pub fn router() -> Router {
    Router::new()
        .push(Router::with_path("friends").get(list_friends))
        .push(Router::with_path("friends/{user_id}").delete(unfriend))
        .push(Router::with_path("friend-requests").get(list_requests).post(send_request))
        .push(Router::with_path("friend-requests/{id}").delete(withdraw))
        .push(Router::with_path("friend-requests/{id}/accept").post(accept))
        .push(Router::with_path("friend-requests/{id}/reject").post(reject))
        .push(Router::with_path("blocks").get(list_blocks).post(block))
        .push(Router::with_path("blocks/{user_id}").delete(unblock))
        .push(Router::with_path("users").get(discover))
        .push(Router::with_path("users/suggestions").get(suggestions))
}
