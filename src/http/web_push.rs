//! Web Push: `GET /api/v1/push/vapid-public-key` (no sign-in: the browser needs it to
//! subscribe), and `POST/GET/DELETE /api/v1/push/subscriptions` for this device's subscription.

use salvo::prelude::*;

use super::extract::{json, me, off_workers, state};
use super::reply::NoContent;
use crate::error::AppError;
use crate::service::web_push::{self as svc, SubscriptionInput, SubscriptionRef, SubscriptionView, VapidKey};

/// The VAPID public key (RFC 8292) to pass as `applicationServerKey` to `pushManager.subscribe`.
#[endpoint(tags("notifications"))]
async fn vapid_key(depot: &mut Depot) -> Json<VapidKey> {
    Json(svc::vapid_key(&state(depot)))
}

/// Subscribes this device (`PushSubscription.toJSON()`); the subscription belongs to the session
/// that made it and ends with it (sign-out, revoked session). The same endpoint again replaces
/// it; beyond `push.max_subscriptions_per_user` devices the oldest is removed. The endpoint must
/// be `https` on a known push service or on a host listed in `push.allow_hosts` (422 otherwise).
#[endpoint(tags("notifications"), security(("bearer" = [])), request_body = SubscriptionInput,
    responses((status_code = 201, description = "Subscribed"), (status_code = 422, description = "Endpoint refused or keys invalid")))]
async fn subscribe(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<Json<SubscriptionView>, AppError> {
    let st = state(depot);
    let input: SubscriptionInput = json(req, &st).await?;
    let v = svc::subscribe(&st, me(depot)?, input).await?;
    res.status_code(StatusCode::CREATED);
    Ok(Json(v))
}

/// The caller's Web Push subscriptions (devices).
#[endpoint(tags("notifications"), security(("bearer" = [])))]
async fn list(depot: &mut Depot) -> Result<Json<Vec<SubscriptionView>>, AppError> {
    let me = me(depot)?;
    Ok(Json(off_workers(&state(depot), move |st| svc::list(st, me)).await?))
}

/// Unsubscribes a device: the body names its `endpoint` (`keys` may be sent and are ignored).
/// 404 `not_found` when the caller has no subscription with that endpoint.
#[endpoint(tags("notifications"), security(("bearer" = [])), request_body = SubscriptionRef,
    responses((status_code = 204, description = "Unsubscribed"), (status_code = 404, description = "No such subscription of the caller")))]
async fn unsubscribe(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let st = state(depot);
    let body: SubscriptionRef = json(req, &st).await?;
    svc::unsubscribe(&st, me(depot)?, body.endpoint).await?;
    Ok(NoContent)
}

/// `GET /push/vapid-public-key` (public).
pub fn public() -> Router {
    Router::with_path("push/vapid-public-key").get(vapid_key)
}

/// `/push/subscriptions` (signed in).
pub fn private() -> Router {
    Router::with_path("push/subscriptions").post(subscribe).get(list).delete(unsubscribe)
}
