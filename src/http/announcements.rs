//! `/api/v1/announcements` (a student's own) and `/api/v1/admin/announcements` (staff).

use salvo::prelude::*;

use super::extract::{Page, client, cursor_id, json, me, off_workers, paging, path_id, staff, state};
use super::reply::{Created, NoContent};
use crate::error::AppError;
use crate::service::announcements::{self as svc, AnnouncementDetail, AnnouncementStatus, AnnouncementView, NewAnnouncement};

/// The caller's announcements, newest first; those not acknowledged yet are `pinned`. A page may
/// hold fewer than `limit` when many were for others: follow `next_cursor` until null.
#[endpoint(tags("announcements"), security(("bearer" = [])),
    parameters(("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn mine(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<AnnouncementView>>, AppError> {
    let p = paging(req)?;
    let cursor = cursor_id(p.cursor.as_deref())?;
    let me = me(depot)?;
    let (items, next_cursor) = off_workers(&state(depot), move |st| svc::mine(st, me, cursor, p.limit)).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// Acknowledge an announcement (it stops being pinned; staff see it as read). Again is fine.
#[endpoint(tags("announcements"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Announcement id")))]
async fn ack(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let id = path_id(req, "id", "announcement")?;
    svc::ack(&state(depot), me(depot)?, id).await?;
    Ok(NoContent)
}

/// Send an announcement (staff) to everyone (`{ "all": true }`), a role (`{ "role": "student" }`)
/// or a group chat's members (`{ "chat_id": … }`); the sender is not among the recipients. It
/// arrives as a `system` notification and stays pinned until acknowledged.
#[endpoint(tags("admin"), security(("bearer" = [])), request_body = NewAnnouncement)]
async fn create(req: &mut Request, depot: &mut Depot) -> Result<Created<AnnouncementStatus>, AppError> {
    let st = state(depot);
    let input: NewAnnouncement = json(req, &st).await?;
    Ok(Created(svc::create(&st, staff(depot)?, input, client(req, &st)).await?))
}

/// Announcements sent, newest first, with how many acknowledged each (staff).
#[endpoint(tags("admin"), security(("bearer" = [])),
    parameters(("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn sent(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<AnnouncementStatus>>, AppError> {
    let p = paging(req)?;
    let cursor = cursor_id(p.cursor.as_deref())?;
    let staff = staff(depot)?;
    let (items, next_cursor) = off_workers(&state(depot), move |st| svc::list_sent(st, staff, cursor, p.limit)).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// One announcement with "read by N of M" and every recipient, those who have not acknowledged
/// first (staff).
#[endpoint(tags("admin"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Announcement id")))]
async fn detail(req: &mut Request, depot: &mut Depot) -> Result<Json<AnnouncementDetail>, AppError> {
    let id = path_id(req, "id", "announcement")?;
    let staff = staff(depot)?;
    Ok(Json(off_workers(&state(depot), move |st| svc::detail(st, staff, id)).await?))
}

/// `/announcements` for any signed-in user.
pub fn router() -> Router {
    Router::with_path("announcements").get(mine).push(Router::with_path("{id}/ack").post(ack))
}

/// `/admin/announcements` (mounted under the staff-only admin router).
pub fn admin_router() -> Router {
    Router::with_path("announcements").get(sent).post(create).push(Router::with_path("{id}").get(detail))
}
