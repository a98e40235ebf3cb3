//! `/api/v1/notifications*` and `/api/v1/me/notification-settings`.

use salvo::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{Page, json, me, off_workers, paging, state};
use super::reply::NoContent;
use crate::error::AppError;
use crate::service::notifications::{self as svc, NotificationView, SettingsPatch, SettingsView};

/// `POST /notifications/read` body: `ids`, or `all: true`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// Notifications to mark read (≤ 500; ids that are not the caller's are ignored).
    pub ids: Option<Vec<Uuid>>,
    /// True marks every notification read.
    pub all: Option<bool>,
}

/// `{ count }`.
#[derive(Serialize, ToSchema)]
pub struct UnreadCount {
    /// Unread notifications (a `message` notification counts once however many messages it holds).
    pub count: u64,
}

/// The caller's notifications, newest first (a `message` notification moves up when a message
/// joins it). `unread_only=true` leaves out read ones.
#[endpoint(tags("notifications"), security(("bearer" = [])),
    parameters(("unread_only" = Option<bool>, Query, description = "only unread notifications"),
        ("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn list(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<NotificationView>>, AppError> {
    let p = paging(req)?;
    let unread_only = match req.query::<String>("unread_only").as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => return Err(AppError::field("unread_only", "must be true or false")),
    };
    let me = me(depot)?;
    let (items, next_cursor) = off_workers(&state(depot), move |st| svc::list(st, me, p.cursor.as_deref(), unread_only, p.limit)).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// How many notifications are unread.
#[endpoint(tags("notifications"), security(("bearer" = [])))]
async fn unread_count(depot: &mut Depot) -> Result<Json<UnreadCount>, AppError> {
    let me = me(depot)?;
    Ok(Json(UnreadCount { count: off_workers(&state(depot), move |st| svc::unread_count(st, me)).await? }))
}

/// Marks notifications read: `{ ids: [...] }` or `{ all: true }`. Reading a chat also reads its
/// `message` notification.
#[endpoint(tags("notifications"), security(("bearer" = [])), request_body = ReadBody, responses((status_code = 204, description = "Marked read")))]
async fn read(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let st = state(depot);
    let body: ReadBody = json(req, &st).await?;
    let ids = match (body.ids, body.all) {
        (Some(ids), None | Some(false)) => Some(ids),
        (None, Some(true)) => None,
        _ => return Err(AppError::field("ids", "send either ids or all: true")),
    };
    svc::mark_read(&st, me(depot)?, ids).await?;
    Ok(NoContent)
}

/// The caller's notification preferences: per type `{ in_app, push }`, quiet hours (the caller's
/// own and the school's, both applied), and whether a push shows message text.
#[endpoint(tags("notifications"), security(("bearer" = [])))]
async fn get_settings(depot: &mut Depot) -> Result<Json<SettingsView>, AppError> {
    let me = me(depot)?;
    Ok(Json(off_workers(&state(depot), move |st| svc::settings(st, me)).await?))
}

/// Changes preferences (any subset; `quiet_hours: null` removes the caller's own quiet hours; the
/// school's cannot be removed).
#[endpoint(tags("notifications"), security(("bearer" = [])), request_body = SettingsPatch)]
async fn patch_settings(req: &mut Request, depot: &mut Depot) -> Result<Json<SettingsView>, AppError> {
    let st = state(depot);
    let patch: SettingsPatch = json(req, &st).await?;
    Ok(Json(svc::update_settings(&st, me(depot)?, patch)?))
}

/// The inbox and the preferences.
pub fn router() -> Router {
    Router::new()
        .push(
            Router::with_path("notifications")
                .get(list)
                .push(Router::with_path("unread-count").get(unread_count))
                .push(Router::with_path("read").post(read)),
        )
        .push(Router::with_path("me/notification-settings").get(get_settings).patch(patch_settings))
}
