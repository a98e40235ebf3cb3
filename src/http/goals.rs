//! `/api/v1/goals*`.

use salvo::prelude::*;
use serde::Deserialize;

use super::extract::{Page, json, me, paging, path_id, state};
use super::reply::{Created, NoContent};
use crate::error::AppError;
use crate::service::goals::GoalStatus;
use crate::service::goals::{self as svc, GoalInput, GoalView};

/// `POST /goals/{id}/progress` body.
#[derive(Deserialize, ToSchema)]
pub struct Progress {
    /// Added to the progress of a custom goal (negative to correct).
    pub value: f64,
}

/// Create a goal. Built-in metrics follow the activity logs; custom ones take manual progress.
#[endpoint(tags("goals"), security(("bearer" = [])), request_body = GoalInput)]
async fn create(req: &mut Request, depot: &mut Depot) -> Result<Created<GoalView>, AppError> {
    let st = state(depot);
    let input: GoalInput = json(req, &st).await?;
    Ok(Created(svc::create(&st, me(depot)?, input).await?))
}

/// The caller's goals with progress, oldest first (`status` filters).
#[endpoint(tags("goals"), security(("bearer" = [])),
    parameters(("status" = Option<String>, Query, description = "active | completed | failed"),
        ("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn list(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<GoalView>>, AppError> {
    let p = paging(req)?;
    let status = match req.query::<String>("status").as_deref() {
        None => None,
        Some("active") => Some(GoalStatus::Active),
        Some("completed") => Some(GoalStatus::Completed),
        Some("failed") => Some(GoalStatus::Failed),
        Some(_) => return Err(AppError::field("status", "must be active, completed or failed")),
    };
    let (items, next_cursor) = svc::list(&state(depot), me(depot)?, status, p.limit, p.cursor.as_deref()).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// One goal.
#[endpoint(tags("goals"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Goal id")))]
async fn get(req: &mut Request, depot: &mut Depot) -> Result<Json<GoalView>, AppError> {
    let id = path_id(req, "id", "goal")?;
    Ok(Json(svc::get(&state(depot), me(depot)?, id).await?))
}

/// Change a goal.
#[endpoint(tags("goals"), security(("bearer" = [])), request_body = GoalInput, parameters(("id" = String, Path, description = "Goal id")))]
async fn update(req: &mut Request, depot: &mut Depot) -> Result<Json<GoalView>, AppError> {
    let st = state(depot);
    let id = path_id(req, "id", "goal")?;
    let input: GoalInput = json(req, &st).await?;
    Ok(Json(svc::update(&st, me(depot)?, id, input).await?))
}

/// Delete a goal.
#[endpoint(tags("goals"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Goal id")))]
async fn delete(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let id = path_id(req, "id", "goal")?;
    svc::delete(&state(depot), me(depot)?, id).await?;
    Ok(NoContent)
}

/// Add manual progress to a custom goal (409 for built-in metrics).
#[endpoint(tags("goals"), security(("bearer" = [])), request_body = Progress, parameters(("id" = String, Path, description = "Goal id")))]
async fn progress(req: &mut Request, depot: &mut Depot) -> Result<Json<GoalView>, AppError> {
    let st = state(depot);
    let id = path_id(req, "id", "goal")?;
    let body: Progress = json(req, &st).await?;
    Ok(Json(svc::add_progress(&st, me(depot)?, id, body.value).await?))
}

/// Routes for signed-in users.
pub fn router() -> Router {
    Router::with_path("goals")
        .get(list)
        .post(create)
        .push(Router::with_path("{id}").get(get).patch(update).delete(delete))
        .push(Router::with_path("{id}/progress").post(progress))
}
