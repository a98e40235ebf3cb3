//! `/api/v1/insights`: the caller's local AI insights.

use salvo::prelude::*;

use super::extract::{me, state};
use crate::error::AppError;
use crate::service::insights::{self as svc, InsightsView};

/// The caller's latest insights, strongest first (computed on first use, then weekly on Monday
/// morning in the caller's time zone, or on refresh). Made on this server by a small ONNX model and
/// the caller's own statistics; only the caller can read them. `status` is `not_enough_data` with
/// one item saying how many days are logged until enough are, and `off` when `settings.insights` is
/// false. 503 `insights_unavailable` when the server has no working model (everything else works).
#[endpoint(tags("insights"), security(("bearer" = [])))]
async fn list(depot: &mut Depot) -> Result<Json<InsightsView>, AppError> {
    Ok(Json(svc::get(&state(depot), me(depot)?).await?))
}

/// Recomputes the caller's insights now and answers them (a few an hour: 429 with `Retry-After`
/// beyond `insights.refresh_per_hour`; 409 when the caller turned insights off). A new strong
/// insight (score ≥ 0.7) raises an `insight` event and notification.
#[endpoint(tags("insights"), security(("bearer" = [])))]
async fn refresh(depot: &mut Depot) -> Result<Json<InsightsView>, AppError> {
    Ok(Json(svc::refresh(&state(depot), me(depot)?).await?))
}

/// Routes for signed-in users.
pub fn router() -> Router {
    Router::with_path("insights").get(list).push(Router::with_path("refresh").post(refresh))
}
