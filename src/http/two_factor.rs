//! `/api/v1/auth/2fa/*`: a staff member's own two-factor login, and an admin's reset of someone
//! else's (`DELETE /admin/users/{id}/two-factor`).

use salvo::oapi::ToSchema;
use salvo::prelude::*;
use serde::Deserialize;

use super::extract::{admin, client, json, me, path_id, state};
use super::reply::NoContent;
use crate::error::AppError;
use crate::service::two_factor::{self as svc, RecoveryCodes, TwoFactorSetup, TwoFactorStatus};

/// `POST /auth/2fa/setup` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupInput {
    /// The account's password.
    #[salvo(schema(min_length = 1, max_length = 1024))]
    pub password: String,
}

/// `POST /auth/2fa/enable` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeInput {
    /// The 6-digit code the authenticator app shows now.
    #[salvo(schema(min_length = 6, max_length = 16))]
    pub code: String,
}

/// `POST /auth/2fa/disable` and `/auth/2fa/recovery-codes` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmInput {
    /// The account's password.
    #[salvo(schema(min_length = 1, max_length = 1024))]
    pub password: String,
    /// A code of the app, or a recovery code (used up).
    #[salvo(schema(min_length = 6, max_length = 64))]
    pub code: String,
}

/// Whether two-factor login is on for the caller, and whether the school requires it.
#[endpoint(tags("auth"), security(("bearer" = [])))]
async fn status(depot: &mut Depot) -> Result<Json<TwoFactorStatus>, AppError> {
    Ok(Json(svc::status(&state(depot), me(depot)?)?))
}

/// Start two-factor login (staff only; students get 403): answers a new secret and its QR code
/// for an authenticator app (TOTP, RFC 6238: SHA-1, 6 digits, 30 s). Nothing changes at sign-in
/// until `POST /auth/2fa/enable` confirms a first code. Wrong password: 422; already on: 409.
#[endpoint(tags("auth"), security(("bearer" = [])), request_body = SetupInput)]
async fn setup(req: &mut Request, depot: &mut Depot) -> Result<Json<TwoFactorSetup>, AppError> {
    let st = state(depot);
    let input: SetupInput = json(req, &st).await?;
    Ok(Json(svc::setup(&st, me(depot)?, input.password).await?))
}

/// Confirm two-factor login with the first code the app shows. Answers ten one-time recovery
/// codes (shown only now); this session counts as signed in with two-factor login and the
/// account's other sessions end. A wrong code: 422 (repeated: 429); nothing set up: 409.
#[endpoint(tags("auth"), security(("bearer" = [])), request_body = CodeInput)]
async fn enable(req: &mut Request, depot: &mut Depot) -> Result<Json<RecoveryCodes>, AppError> {
    let st = state(depot);
    let input: CodeInput = json(req, &st).await?;
    Ok(Json(svc::enable(&st, me(depot)?, &input.code, client(req, &st)).await?))
}

/// Turn two-factor login off (password and a code). 409 while the school requires it of staff.
#[endpoint(tags("auth"), security(("bearer" = [])), request_body = ConfirmInput)]
async fn disable(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let st = state(depot);
    let input: ConfirmInput = json(req, &st).await?;
    svc::disable(&st, me(depot)?, input.password, &input.code, client(req, &st)).await?;
    Ok(NoContent)
}

/// Ten new recovery codes (password and a code); the old ones stop working.
#[endpoint(tags("auth"), security(("bearer" = [])), request_body = ConfirmInput)]
async fn recovery_codes(req: &mut Request, depot: &mut Depot) -> Result<Json<RecoveryCodes>, AppError> {
    let st = state(depot);
    let input: ConfirmInput = json(req, &st).await?;
    Ok(Json(svc::renew_recovery_codes(&st, me(depot)?, input.password, &input.code).await?))
}

/// Turn off a staff member's two-factor login when they lost their phone and recovery codes
/// (admins; not for oneself). Their sessions end; they sign in with the password and set it up
/// again. Recorded in the audit log as `user.two_factor_reset`.
#[endpoint(tags("admin"), security(("bearer" = [])), parameters(("id" = String, Path, description = "User id")))]
async fn reset(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let st = state(depot);
    let id = path_id(req, "id", "user")?;
    svc::reset_by_admin(&st, admin(depot)?, id, client(req, &st)).await?;
    Ok(NoContent)
}

/// `/auth/2fa/*` for signed-in users.
pub fn router() -> Router {
    Router::with_path("auth/2fa")
        .get(status)
        .push(Router::with_path("setup").post(setup))
        .push(Router::with_path("enable").post(enable))
        .push(Router::with_path("disable").post(disable))
        .push(Router::with_path("recovery-codes").post(recovery_codes))
}

/// `users/{id}/two-factor` under `/admin`.
pub fn admin_router() -> Router {
    Router::with_path("users/{id}/two-factor").delete(reset)
}
