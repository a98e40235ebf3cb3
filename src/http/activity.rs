//! `/api/v1/activities*`: daily logs.

use salvo::prelude::*;
use serde::{Deserialize, Serialize};

use super::extract::{json, me, state};
use super::reply::NoContent;
use crate::error::AppError;
use crate::service::activity::{self as svc, LogInput, LogView};

/// `POST /activities/batch` body.
#[derive(Deserialize, ToSchema)]
pub struct Batch {
    /// Whole days, each with its `date` (1–366; all stored or none).
    pub logs: Vec<LogInput>,
}

/// `POST /activities/batch` answer.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    /// The stored days.
    pub items: Vec<LogView>,
}

fn date_param(req: &Request) -> String {
    req.param::<String>("date").unwrap_or_default()
}

/// Store a whole day (replaces it; idempotent, so an offline phone may resend). Dates are days in
/// the caller's time zone and may not be after today there.
#[endpoint(tags("activity"), security(("bearer" = [])), request_body = LogInput, parameters(("date" = String, Path, description = "YYYY-MM-DD")))]
async fn put_day(req: &mut Request, depot: &mut Depot) -> Result<Json<LogView>, AppError> {
    let st = state(depot);
    let input: LogInput = json(req, &st).await?;
    Ok(Json(svc::write(&st, me(depot)?, &date_param(req), input, true).await?))
}

/// Change some fields of a stored day (absent fields stay; `null` clears sleep or mood).
#[endpoint(tags("activity"), security(("bearer" = [])), request_body = LogInput, parameters(("date" = String, Path, description = "YYYY-MM-DD")))]
async fn patch_day(req: &mut Request, depot: &mut Depot) -> Result<Json<LogView>, AppError> {
    let st = state(depot);
    let input: LogInput = json(req, &st).await?;
    Ok(Json(svc::write(&st, me(depot)?, &date_param(req), input, false).await?))
}

/// One day.
#[endpoint(tags("activity"), security(("bearer" = [])), parameters(("date" = String, Path, description = "YYYY-MM-DD")))]
async fn get_day(req: &mut Request, depot: &mut Depot) -> Result<Json<LogView>, AppError> {
    Ok(Json(svc::get(&state(depot), me(depot)?, &date_param(req))?))
}

/// Delete a day.
#[endpoint(tags("activity"), security(("bearer" = [])), parameters(("date" = String, Path, description = "YYYY-MM-DD")))]
async fn delete_day(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    svc::delete(&state(depot), me(depot)?, &date_param(req)).await?;
    Ok(NoContent)
}

/// Days from `from` to `to` (inclusive, at most 366), oldest first.
#[endpoint(tags("activity"), security(("bearer" = [])), parameters(("from" = String, Query, description = "YYYY-MM-DD"), ("to" = String, Query, description = "YYYY-MM-DD")))]
async fn list(req: &mut Request, depot: &mut Depot) -> Result<Json<Vec<LogView>>, AppError> {
    let from = req.query::<String>("from").ok_or_else(|| AppError::field("from", "required"))?;
    let to = req.query::<String>("to").ok_or_else(|| AppError::field("to", "required"))?;
    Ok(Json(svc::list(&state(depot), me(depot)?, &from, &to)?))
}

/// Upload many days at once (for phones that logged offline).
#[endpoint(tags("activity"), security(("bearer" = [])), request_body = Batch)]
async fn batch(req: &mut Request, depot: &mut Depot) -> Result<Json<BatchResult>, AppError> {
    let st = state(depot);
    let body: Batch = json(req, &st).await?;
    Ok(Json(BatchResult { items: svc::batch(&st, me(depot)?, body.logs).await? }))
}

/// Routes for signed-in users.
pub fn router() -> Router {
    Router::with_path("activities")
        .get(list)
        .push(Router::with_path("batch").post(batch))
        .push(Router::with_path("{date}").put(put_day).patch(patch_day).get(get_day).delete(delete_day))
}
