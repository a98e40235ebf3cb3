//! `/api/v1/reports` (anyone reports what they can see) and `/api/v1/admin/reports` (the
//! moderation queue, staff).

use salvo::prelude::*;

use super::extract::{Page, client, cursor_id, json, me, paging, path_id, staff, state};
use super::reply::Created;
use crate::error::AppError;
use crate::service::moderation::{self as svc, MyReport, QueueStatus, QueuedReport, ReportInput, Resolution};

/// Report a message (of a chat you are in), a note you can read, or a user you can see. One open
/// report per thing (409 while it is open); 20 an hour. You are told the outcome, not who decided.
#[endpoint(tags("moderation"), security(("bearer" = [])), request_body = ReportInput)]
async fn create(req: &mut Request, depot: &mut Depot) -> Result<Created<MyReport>, AppError> {
    let st = state(depot);
    let input: ReportInput = json(req, &st).await?;
    Ok(Created(svc::create(&st, me(depot)?, input).await?))
}

/// Your reports, newest first, with their status and outcome.
#[endpoint(tags("moderation"), security(("bearer" = [])),
    parameters(("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn mine(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<MyReport>>, AppError> {
    let p = paging(req)?;
    let cursor = cursor_id(p.cursor.as_deref())?;
    let st = state(depot);
    let (items, next_cursor) = svc::mine(&st, me(depot)?, cursor, p.limit)?;
    Ok(Json(Page { items, next_cursor }))
}

/// The moderation queue (staff), newest first, each report with its context: a reported message
/// with up to 3 messages before and after it, a note's text, a user's bio. This is the only way
/// staff read chat content; each page opened is recorded in the audit log.
#[endpoint(tags("admin"), security(("bearer" = [])),
    parameters(("status" = Option<QueueStatus>, Query, description = "open (default), resolved or all"),
        ("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn queue(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<QueuedReport>>, AppError> {
    let p = paging(req)?;
    let cursor = cursor_id(p.cursor.as_deref())?;
    let status = match req.query::<String>("status").filter(|s| !s.is_empty()) {
        Some(s) => {
            serde_json::from_value(serde_json::Value::String(s)).map_err(|_| AppError::field("status", "must be open, resolved or all"))?
        }
        None => QueueStatus::Open,
    };
    let st = state(depot);
    let (items, next_cursor) = svc::queue(&st, staff(depot)?, status, cursor, p.limit, client(req, &st)).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// Resolve a report (staff): `dismiss`; `delete_content` (the message or note is deleted
/// everywhere; a chat's members see it was removed by a moderator); `disable_user` (the author,
/// or the reported user, is signed out everywhere at once; only admins may disable staff).
/// The reporter gets a `system` notification with the outcome. 409 if already resolved.
#[endpoint(tags("admin"), security(("bearer" = [])), request_body = Resolution, parameters(("id" = String, Path, description = "Report id")))]
async fn resolve(req: &mut Request, depot: &mut Depot) -> Result<Json<QueuedReport>, AppError> {
    let id = path_id(req, "id", "report")?;
    let st = state(depot);
    let input: Resolution = json(req, &st).await?;
    Ok(Json(svc::resolve(&st, staff(depot)?, id, input, client(req, &st)).await?))
}

/// `/reports` for any signed-in user.
pub fn router() -> Router {
    Router::with_path("reports").get(mine).post(create)
}

/// `/admin/reports` (mounted under the staff-only admin router).
pub fn admin_router() -> Router {
    Router::with_path("reports").get(queue).push(Router::with_path("{id}/resolve").post(resolve))
}
