//! `/api/v1/activities*`: daily logs.

use salvo::prelude::*;
use serde::{Deserialize, Serialize};

use super::extract::{Page, json, me, off_workers, state};
use super::reply::{Created, NoContent};
use crate::error::AppError;
use crate::service::activity::{self as svc, LogInput, LogView};
use crate::service::timer::{self, StopResult, TimerView};

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

/// The logged days from `from` to `to` (inclusive, at most 366), oldest first. One page holds the
/// whole range, so `next_cursor` is always null (ask for the next range instead).
#[endpoint(tags("activity"), security(("bearer" = [])), parameters(("from" = String, Query, description = "YYYY-MM-DD"), ("to" = String, Query, description = "YYYY-MM-DD")))]
async fn list(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<LogView>>, AppError> {
    let from = req.query::<String>("from").ok_or_else(|| AppError::field("from", "required"))?;
    let to = req.query::<String>("to").ok_or_else(|| AppError::field("to", "required"))?;
    let me = me(depot)?;
    let items = off_workers(&state(depot), move |st| svc::list(st, me, &from, &to)).await?;
    Ok(Json(Page { items, next_cursor: None }))
}

/// Upload many days at once (for phones that logged offline).
#[endpoint(tags("activity"), security(("bearer" = [])), request_body = Batch)]
async fn batch(req: &mut Request, depot: &mut Depot) -> Result<Json<BatchResult>, AppError> {
    let st = state(depot);
    let body: Batch = json(req, &st).await?;
    Ok(Json(BatchResult { items: svc::batch(&st, me(depot)?, body.logs).await? }))
}

/// `POST /study-timer/start` body.
#[derive(Deserialize, ToSchema)]
pub struct StartTimer {
    /// What you study (1–60 characters).
    #[salvo(schema(min_length = 1, max_length = 60, pattern = "\\S"))]
    pub subject: String,
}

/// Start the study timer (409 if one runs). Friends see `studying_now` meanwhile.
#[endpoint(tags("activity"), security(("bearer" = [])), request_body = StartTimer)]
async fn start_timer(req: &mut Request, depot: &mut Depot) -> Result<Created<TimerView>, AppError> {
    let st = state(depot);
    let body: StartTimer = json(req, &st).await?;
    Ok(Created(timer::start(&st, me(depot)?, &body.subject).await?))
}

/// Stop the timer: the session goes into the day it ran (split at midnight in your time zone);
/// past `activity.timer_cap_hours` only the cap counts and the result says `capped`.
#[endpoint(tags("activity"), security(("bearer" = [])))]
async fn stop_timer(depot: &mut Depot) -> Result<Json<StopResult>, AppError> {
    Ok(Json(timer::stop(&state(depot), me(depot)?).await?))
}

/// The running timer, if any.
#[endpoint(tags("activity"), security(("bearer" = [])))]
async fn timer_status(depot: &mut Depot) -> Result<Json<TimerView>, AppError> {
    Ok(Json(timer::status(&state(depot), me(depot)?)?))
}

/// `/study-timer` routes.
pub fn timer_router() -> Router {
    Router::with_path("study-timer")
        .get(timer_status)
        .push(Router::with_path("start").post(start_timer))
        .push(Router::with_path("stop").post(stop_timer))
}

/// Routes for signed-in users.
pub fn router() -> Router {
    Router::with_path("activities")
        .get(list)
        .push(Router::with_path("batch").post(batch))
        .push(Router::with_path("{date}").put(put_day).patch(patch_day).get(get_day).delete(delete_day))
}
