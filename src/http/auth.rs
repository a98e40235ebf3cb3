//! `/api/v1/auth/*`: register, login, refresh, logout, password, sessions.

use salvo::prelude::*;
use serde::Deserialize;

use super::extract::{Page, client, json, me, off_workers, paging, path_id, state};
use super::reply::{Created, NoContent};
use crate::error::AppError;
use crate::service::auth::{self as svc, AuthResponse, RegisterInput, ResetInput, SessionView};

/// Login body.
#[derive(Deserialize, ToSchema)]
pub struct LoginInput {
    /// Email or username.
    pub login: String,
    /// Password.
    pub password: String,
    /// For an account with two-factor login (staff who turned it on): the 6-digit code of the
    /// authenticator app, or one of the recovery codes. Without it such an account answers 401
    /// `two_factor_required` (the password was right: ask for the code and send both again).
    #[serde(default)]
    #[salvo(schema(max_length = 64))]
    pub two_factor_code: Option<String>,
}

/// Refresh and logout body.
#[derive(Deserialize, ToSchema)]
pub struct RefreshInput {
    /// The refresh token from register, login or the last refresh.
    pub refresh_token: String,
}

/// Password change body.
#[derive(Deserialize, ToSchema)]
pub struct PasswordInput {
    /// Current password.
    pub current_password: String,
    /// New password (8 characters to 1,024 bytes).
    pub new_password: String,
}

/// Create an account (mode `open`, or `invite` with `invite_code`). A taken e-mail or username is
/// 409 `conflict` naming the field: this does tell that an address has an account. It must, as
/// things stand: the server sends no e-mail (school LANs are often offline), so there is no
/// "check your inbox" answer that would hide it, and a student needs to know to sign in instead.
/// Schools that mind can use `invite` or `closed` registration, where only invited people ask.
/// A new install is `invite`. Without an invite code (or with a wrong one), one address may try
/// `auth.max_registrations_per_ip` (20) times per window, then 429 with `Retry-After`; a valid
/// invite is limited by its own uses, so a class behind one school address can register.
#[endpoint(tags("auth"), request_body = RegisterInput)]
async fn register(req: &mut Request, depot: &mut Depot) -> Result<Created<AuthResponse>, AppError> {
    let st = state(depot);
    let input: RegisterInput = json(req, &st).await?;
    Ok(Created(svc::register(&st, input, client(req, &st)).await?))
}

/// Sign in with email or username (one account, whichever is typed). 429 with `Retry-After`:
/// after `auth.max_failed_logins_per_device` (5) wrong passwords from this device (address and
/// User-Agent) on this account; after `auth.max_failed_logins_per_account` (10) on the account,
/// devices it never signed in from may try once per `auth.account_backoff_secs` (60) while its own
/// devices are not slowed; after `auth.max_logins_per_ip` (300) failures from one address, unknown
/// devices there wait. The owner's known device always gets through a guesser's attempts.
#[endpoint(tags("auth"), request_body = LoginInput)]
async fn login(req: &mut Request, depot: &mut Depot) -> Result<Json<AuthResponse>, AppError> {
    let st = state(depot);
    let input: LoginInput = json(req, &st).await?;
    Ok(Json(svc::login(&st, &input.login, input.password, input.two_factor_code.as_deref(), client(req, &st)).await?))
}

/// Exchange a refresh token for a new pair. The old token stops working; presenting it (or any
/// earlier one of the session, however many refreshes ago) revokes the whole session
/// (`invalid_token`). Tokens are `<session>.<generation>.<mac>`; tokens of the earlier
/// `<session>.<random>` form keep working once and are then replaced.
#[endpoint(tags("auth"), request_body = RefreshInput)]
async fn refresh(req: &mut Request, depot: &mut Depot) -> Result<Json<AuthResponse>, AppError> {
    let st = state(depot);
    let input: RefreshInput = json(req, &st).await?;
    Ok(Json(svc::refresh(&st, &input.refresh_token).await?))
}

/// End the session of this refresh token.
#[endpoint(tags("auth"), request_body = RefreshInput)]
async fn logout(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let st = state(depot);
    let input: RefreshInput = json(req, &st).await?;
    svc::logout(&st, &input.refresh_token).await?;
    Ok(NoContent)
}

/// Set a new password with a one-time code that staff issued (no e-mail needed). The code works
/// once; every session of the account ends. A wrong, expired or used code answers 401
/// `invalid_token`; repeated failures are throttled like sign-ins (429).
#[endpoint(tags("auth"), request_body = ResetInput)]
async fn reset(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let st = state(depot);
    let input: ResetInput = json(req, &st).await?;
    svc::reset_with_code(&st, input, client(req, &st)).await?;
    Ok(NoContent)
}

/// End every session of the caller.
#[endpoint(tags("auth"), security(("bearer" = [])))]
async fn logout_all(depot: &mut Depot) -> Result<NoContent, AppError> {
    svc::logout_all(&state(depot), me(depot)?).await?;
    Ok(NoContent)
}

/// Change the password; every other session is signed out (and their sockets closed). The new
/// password must not be one of the most common ones or the username (422). After
/// `auth.max_failed_logins_per_account` wrong current passwords in the window: 429 with `Retry-After`.
#[endpoint(tags("auth"), security(("bearer" = [])), request_body = PasswordInput)]
async fn change_password(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let st = state(depot);
    let input: PasswordInput = json(req, &st).await?;
    svc::change_password(&st, me(depot)?, input.current_password, input.new_password).await?;
    Ok(NoContent)
}

/// The caller's signed-in devices, newest first (`last_used_at` is the last token refresh).
#[endpoint(tags("auth"), security(("bearer" = [])), parameters(("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn sessions(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<SessionView>>, AppError> {
    let p = paging(req)?;
    let me = me(depot)?;
    let (items, next_cursor) = off_workers(&state(depot), move |st| svc::list_sessions(st, me, p.limit, p.cursor.as_deref())).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// Sign out one of the caller's devices.
#[endpoint(tags("auth"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Session id")))]
async fn revoke_session(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let id = path_id(req, "id", "session")?;
    svc::revoke_session(&state(depot), me(depot)?, id).await?;
    Ok(NoContent)
}

/// Routes that need no token.
pub fn public() -> Router {
    Router::with_path("auth")
        .push(Router::with_path("register").post(register))
        .push(Router::with_path("login").post(login))
        .push(Router::with_path("refresh").post(refresh))
        .push(Router::with_path("logout").post(logout))
        .push(Router::with_path("reset").post(reset))
}

/// Routes for signed-in users.
pub fn private() -> Router {
    Router::with_path("auth")
        .push(Router::with_path("logout-all").post(logout_all))
        .push(Router::with_path("password").post(change_password))
        .push(Router::with_path("sessions").get(sessions))
        .push(Router::with_path("sessions/{id}").delete(revoke_session))
}
