//! `/api/v1/reports/*`.

use salvo::http::{HeaderValue, header};
use salvo::prelude::*;

use super::extract::{me, off_workers, state};
use crate::error::AppError;
use crate::service::charts;
use crate::service::reports::{self as svc, Report};

/// A weekly report (`week=YYYY-Www`, default: the last full week), in the caller's time zone,
/// compared with the week before.
#[endpoint(tags("reports"), security(("bearer" = [])), parameters(("week" = Option<String>, Query, description = "ISO week, e.g. 2026-W47")))]
async fn weekly(req: &mut Request, depot: &mut Depot) -> Result<Json<Report>, AppError> {
    let week = req.query::<String>("week");
    let me = me(depot)?.id();
    Ok(Json(off_workers(&state(depot), move |st| svc::weekly(st, me, week.as_deref())).await?))
}

/// A monthly report (`month=YYYY-MM`, default: the last full month), compared with the month before.
#[endpoint(tags("reports"), security(("bearer" = [])), parameters(("month" = Option<String>, Query, description = "e.g. 2026-11")))]
async fn monthly(req: &mut Request, depot: &mut Depot) -> Result<Json<Report>, AppError> {
    let month = req.query::<String>("month");
    let me = me(depot)?.id();
    Ok(Json(off_workers(&state(depot), move |st| svc::monthly(st, me, month.as_deref())).await?))
}

/// Writes an SVG chart (never cached by shared caches: it is the caller's data).
pub(super) fn svg(res: &mut Response, body: String) {
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml; charset=utf-8"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=60"));
    res.body(body);
}

pub(super) fn chart_options(req: &mut Request) -> Result<(&'static charts::Theme, u32), AppError> {
    let width = match req.query::<String>("width") {
        Some(w) => Some(w.parse::<u32>().map_err(|_| AppError::field("width", "must be a whole number of pixels"))?),
        None => None,
    };
    Ok((charts::theme(req.query::<String>("theme").as_deref())?, charts::width(width)?))
}

/// The weekly report as an SVG chart: study minutes per day stacked by subject (top five, the rest
/// as "other"), and sleep hours and mood as lines. `theme=light|dark`; `width` in CSS pixels
/// (320–1600, default 800; text keeps its size so a phone-width chart stays readable).
#[endpoint(tags("reports"), security(("bearer" = [])),
    parameters(("week" = Option<String>, Query, description = "ISO week, e.g. 2026-W47"),
        ("theme" = Option<String>, Query, description = "light (default) or dark"),
        ("width" = Option<u32>, Query, description = "320–1600, default 800")),
    responses((status_code = 200, description = "image/svg+xml")))]
async fn weekly_chart(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    let (theme, width) = chart_options(req)?;
    let week = req.query::<String>("week");
    let me = me(depot)?.id();
    svg(res, off_workers(&state(depot), move |st| charts::weekly(st, me, week.as_deref(), theme, width)).await?);
    Ok(())
}

/// The monthly report as an SVG chart (same drawing and options as the weekly one).
#[endpoint(tags("reports"), security(("bearer" = [])),
    parameters(("month" = Option<String>, Query, description = "e.g. 2026-11"),
        ("theme" = Option<String>, Query, description = "light (default) or dark"),
        ("width" = Option<u32>, Query, description = "320–1600, default 800")),
    responses((status_code = 200, description = "image/svg+xml")))]
async fn monthly_chart(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    let (theme, width) = chart_options(req)?;
    let month = req.query::<String>("month");
    let me = me(depot)?.id();
    svg(res, off_workers(&state(depot), move |st| charts::monthly(st, me, month.as_deref(), theme, width)).await?);
    Ok(())
}

/// The caller's logs as CSV (RFC 4180, UTF-8): one `day` row per day and one `session` row per
/// study session.
#[endpoint(tags("reports"), security(("bearer" = [])), parameters(("from" = String, Query, description = "YYYY-MM-DD"), ("to" = String, Query, description = "YYYY-MM-DD")))]
async fn export_csv(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    let from = req.query::<String>("from").ok_or_else(|| AppError::field("from", "required"))?;
    let to = req.query::<String>("to").ok_or_else(|| AppError::field("to", "required"))?;
    let me = me(depot)?.id();
    let csv = off_workers(&state(depot), move |st| svc::export_csv(st, me, &from, &to)).await?;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    res.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"friend-activity.csv\""));
    res.body(csv);
    Ok(())
}

/// Reports the weekly/monthly job made for the caller (each also raised a `report_ready` event).
#[endpoint(tags("reports"), security(("bearer" = [])))]
async fn ready(depot: &mut Depot) -> Result<Json<Vec<svc::ReadyReport>>, AppError> {
    let me = me(depot)?.id();
    Ok(Json(off_workers(&state(depot), move |st| svc::ready(st, me)).await?))
}

/// Routes for signed-in users.
pub fn router() -> Router {
    Router::with_path("reports")
        .push(Router::with_path("weekly").get(weekly).push(Router::with_path("chart.svg").get(weekly_chart)))
        .push(Router::with_path("monthly").get(monthly).push(Router::with_path("chart.svg").get(monthly_chart)))
        .push(Router::with_path("export.csv").get(export_csv))
        .push(Router::with_path("ready").get(ready))
}
