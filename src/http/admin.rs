//! `/api/v1/admin/*` (staff) and `/api/v1/setup` (first admin, with the printed one-time code).

use salvo::prelude::*;
use serde::Deserialize;

use super::extract::{Page, admin, client, json, off_workers, paging, path_id, staff, state};
use super::reply::{Created, NoContent};
use crate::error::AppError;
use crate::model::Role;
use crate::service::admin::{self as svc, AdminUserPatch, InviteView, NewInvite, ResetCodeView, SetupInput, Stats, UserFilter};
use crate::service::audit::{self, AuditEntryView};
use crate::service::auth::{AuthResponse, NewAccount, SessionView};
use crate::service::roster::{RosterInput, RosterResult};
use crate::service::settings::{self, SettingsPatch, SettingsView};
use crate::service::views::UserView;

/// Create the first admin with the one-time code printed at start-up.
#[endpoint(tags("admin"), request_body = SetupInput)]
async fn setup(req: &mut Request, depot: &mut Depot) -> Result<Created<AuthResponse>, AppError> {
    let st = state(depot);
    let input: SetupInput = json(req, &st).await?;
    Ok(Created(svc::setup(&st, input, client(req, &st)).await?))
}

/// Server statistics.
#[endpoint(tags("admin"), security(("bearer" = [])))]
async fn stats(depot: &mut Depot) -> Result<Json<Stats>, AppError> {
    let staff = staff(depot)?;
    Ok(Json(off_workers(&state(depot), move |st| svc::stats(st, staff)).await?))
}

/// The school's activity per day as an SVG chart: active accounts, messages and notes, each with
/// its own scale. `days` 7–90 (default 28); `theme=light|dark`; `width` in CSS pixels (320–1600).
#[endpoint(tags("admin"), security(("bearer" = [])),
    parameters(("days" = Option<u32>, Query, description = "7–90, default 28"),
        ("theme" = Option<String>, Query, description = "light (default) or dark"),
        ("width" = Option<u32>, Query, description = "320–1600, default 800")),
    responses((status_code = 200, description = "image/svg+xml")))]
async fn activity_chart(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    staff(depot)?;
    let (theme, width) = super::reports::chart_options(req)?;
    let days = match req.query::<String>("days") {
        None => svc::STATS_DAYS,
        Some(d) => d.parse().unwrap_or(0),
    };
    if !(7..=crate::service::dashboard::MAX_DAYS).contains(&days) {
        return Err(AppError::field("days", "must be from 7 to 90"));
    }
    let svg = off_workers(&state(depot), move |st| {
        crate::service::charts::school_activity(&crate::service::dashboard::history(st, days)?, theme, width)
    })
    .await?;
    super::reports::svg(res, svg);
    // Today's bars grow during the day: always the current counts.
    res.headers_mut().insert(salvo::http::header::CACHE_CONTROL, salvo::http::HeaderValue::from_static("private, no-cache"));
    Ok(())
}

/// Accounts in creation order, filtered: `q` (username, name or e-mail contains), `role`,
/// `disabled`; paginated.
#[endpoint(tags("admin"), security(("bearer" = [])),
    parameters(("q" = Option<String>, Query, description = "Username, name or e-mail contains (any case)"),
        ("role" = Option<Role>, Query, description = "Only this role"),
        ("disabled" = Option<bool>, Query, description = "Only disabled (true) or active (false) accounts"),
        ("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "From the previous page")))]
async fn list_users(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<UserView>>, AppError> {
    let p = paging(req)?;
    let after = match &p.cursor {
        Some(c) => Some(crate::ids::parse(c).ok_or_else(|| AppError::field("cursor", "invalid cursor"))?),
        None => None,
    };
    let role = match req.query::<String>("role").filter(|r| !r.is_empty()) {
        Some(r) => Some(
            serde_json::from_value(serde_json::Value::String(r))
                .map_err(|_| AppError::field("role", "must be student, moderator or admin"))?,
        ),
        None => None,
    };
    let disabled = match req.query::<String>("disabled").filter(|d| !d.is_empty()).as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(AppError::field("disabled", "must be true or false")),
    };
    let filter = UserFilter { q: req.query::<String>("q").unwrap_or_default(), role, disabled };
    let staff = staff(depot)?;
    let (items, next) = off_workers(&state(depot), move |st| svc::list_users(st, staff, &filter, after, p.limit)).await?;
    Ok(Json(Page { items, next_cursor: next.map(|n| n.to_string()) }))
}

/// Where an account is signed in, newest first (staff; moderators for students only).
#[endpoint(tags("admin"), security(("bearer" = [])),
    parameters(("id" = String, Path, description = "User id"),
        ("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn user_sessions(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<SessionView>>, AppError> {
    let id = path_id(req, "id", "user")?;
    let p = paging(req)?;
    let staff = staff(depot)?;
    let (items, next_cursor) =
        off_workers(&state(depot), move |st| svc::user_sessions(st, staff, id, p.limit, p.cursor.as_deref())).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// Sign the account out everywhere (staff; moderators for students only): every session ends and
/// its sockets close at once. Audited.
#[endpoint(tags("admin"), security(("bearer" = [])), parameters(("id" = String, Path, description = "User id")))]
async fn end_all_sessions(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let id = path_id(req, "id", "user")?;
    let st = state(depot);
    svc::end_sessions(&st, staff(depot)?, id, None, client(req, &st)).await?;
    Ok(NoContent)
}

/// End one session of the account (staff; moderators for students only); its sockets close at
/// once. Audited.
#[endpoint(tags("admin"), security(("bearer" = [])),
    parameters(("id" = String, Path, description = "User id"), ("session_id" = String, Path, description = "Session id")))]
async fn end_session(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let id = path_id(req, "id", "user")?;
    let session = path_id(req, "session_id", "session")?;
    let st = state(depot);
    svc::end_sessions(&st, staff(depot)?, id, Some(session), client(req, &st)).await?;
    Ok(NoContent)
}

/// Create an account as staff.
#[derive(Deserialize, ToSchema)]
pub struct AdminNewUser {
    /// Email.
    pub email: String,
    /// Username.
    pub username: String,
    /// Initial password.
    pub password: String,
    /// Display name.
    pub name: String,
    /// Role (admins only may create staff); default student.
    #[serde(default)]
    pub role: Option<Role>,
}

/// Create an account.
#[endpoint(tags("admin"), security(("bearer" = [])), request_body = AdminNewUser)]
async fn create_user(req: &mut Request, depot: &mut Depot) -> Result<Created<UserView>, AppError> {
    let st = state(depot);
    let input: AdminNewUser = json(req, &st).await?;
    let role = input.role.unwrap_or(Role::Student);
    let account = NewAccount { email: input.email, username: input.username, password: input.password, name: input.name, role };
    Ok(Created(svc::create_user(&st, staff(depot)?, account, client(req, &st)).await?))
}

/// Import a class roster: CSV rows (name, username, optional e-mail, optional class) become
/// student accounts, each with a one-time setup code (valid 14 days) that the student uses once at
/// `POST /auth/reset` (with the username) to choose a password; nobody else ever knows it. All or
/// nothing: any bad row (or a username or e-mail already taken) answers 422 with one error per
/// problem, `field` naming the line (`line 4: username`), and creates nothing. `dry_run` checks
/// without creating. The answer is what the printable sheet shows. Recorded as `user.import`.
#[endpoint(tags("admin"), security(("bearer" = [])), request_body = RosterInput)]
async fn import_users(req: &mut Request, depot: &mut Depot) -> Result<Json<RosterResult>, AppError> {
    let st = state(depot);
    let input: RosterInput = json(req, &st).await?;
    Ok(Json(crate::service::roster::import(&st, staff(depot)?, input, client(req, &st)).await?))
}

/// Change a user's role (admins) or disable/enable the account (staff). Disabling signs it out.
#[endpoint(tags("admin"), security(("bearer" = [])), request_body = AdminUserPatch, parameters(("id" = String, Path, description = "User id")))]
async fn patch_user(req: &mut Request, depot: &mut Depot) -> Result<Json<UserView>, AppError> {
    let st = state(depot);
    let id = path_id(req, "id", "user")?;
    let patch: AdminUserPatch = json(req, &st).await?;
    Ok(Json(svc::patch_user(&st, staff(depot)?, id, patch, client(req, &st)).await?))
}

/// A one-time reset code for the user (staff; moderators for students only): hand it to the
/// student, who sets a new password with it at `POST /auth/reset` (then every session of theirs
/// ends). Staff never learn the password. A new code replaces the previous one.
#[endpoint(tags("admin"), security(("bearer" = [])), parameters(("id" = String, Path, description = "User id")))]
async fn reset_password(req: &mut Request, depot: &mut Depot) -> Result<Json<ResetCodeView>, AppError> {
    let id = path_id(req, "id", "user")?;
    let st = state(depot);
    Ok(Json(svc::reset_password(&st, staff(depot)?, id, client(req, &st)).await?))
}

/// Invite codes, newest first.
#[endpoint(tags("admin"), security(("bearer" = [])),
    parameters(("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn list_invites(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<InviteView>>, AppError> {
    let p = paging(req)?;
    let staff = staff(depot)?;
    let (items, next_cursor) = off_workers(&state(depot), move |st| svc::list_invites(st, staff, p.limit, p.cursor.as_deref())).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// Create an invite code (optional expiry, use limit, group chat).
#[endpoint(tags("admin"), security(("bearer" = [])), request_body = NewInvite)]
async fn create_invite(req: &mut Request, depot: &mut Depot) -> Result<Created<InviteView>, AppError> {
    let st = state(depot);
    let input: NewInvite = json(req, &st).await?;
    Ok(Created(svc::create_invite(&st, staff(depot)?, input, client(req, &st)).await?))
}

/// The QR code of an invite's join link, an SVG image for a screen or a printed sheet.
#[endpoint(tags("admin"), security(("bearer" = [])), parameters(("code" = String, Path, description = "Invite code")),
    responses((status_code = 200, description = "image/svg+xml")))]
async fn invite_qr(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    let code = req.param::<String>("code").unwrap_or_default();
    let svg = svc::invite_qr(&state(depot), staff(depot)?, &code)?;
    super::reports::svg(res, svg);
    Ok(())
}

/// Delete an invite code.
#[endpoint(tags("admin"), security(("bearer" = [])), parameters(("code" = String, Path, description = "Invite code")))]
async fn delete_invite(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let code = req.param::<String>("code").unwrap_or_default();
    let st = state(depot);
    svc::delete_invite(&st, staff(depot)?, code, client(req, &st)).await?;
    Ok(NoContent)
}

/// The audit log of staff actions, newest first (admins). Append-only: no endpoint changes or
/// deletes an entry. A page may hold fewer than `limit` entries when the filters skipped many:
/// follow `next_cursor` until null.
#[endpoint(tags("admin"), security(("bearer" = [])),
    parameters(("actor_id" = Option<String>, Query, description = "Only this staff account's actions (user id)"),
        ("action" = Option<String>, Query, description = "Only this action (`user.update`) or family (`user`)"),
        ("target_id" = Option<String>, Query, description = "Only actions on this target (user id, invite code, ...)"),
        ("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn audit_log(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<AuditEntryView>>, AppError> {
    let p = paging(req)?;
    let actor_id = match req.query::<String>("actor_id") {
        Some(a) => Some(crate::ids::parse(&a).ok_or_else(|| AppError::field("actor_id", "must be a user id"))?),
        None => None,
    };
    let filter = audit::Filter {
        actor_id,
        action: req.query::<String>("action").filter(|a| !a.is_empty()),
        target_id: req.query::<String>("target_id").filter(|t| !t.is_empty()),
    };
    let admin = admin(depot)?;
    let (items, next_cursor) = off_workers(&state(depot), move |st| audit::list(st, admin, &filter, p.cursor.as_deref(), p.limit)).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// The school's settings in effect, and which of them staff changed (staff).
#[endpoint(tags("admin"), security(("bearer" = [])))]
async fn get_settings(depot: &mut Depot) -> Result<Json<SettingsView>, AppError> {
    Ok(Json(settings::get(&state(depot), staff(depot)?)?))
}

/// Change school settings (admins): any subset, applied to the next request without a restart,
/// kept across restarts (they win over `config.toml`) and recorded in the audit log with the old
/// and new values. An invalid value changes nothing (422 names each field).
#[endpoint(tags("admin"), security(("bearer" = [])), request_body = SettingsPatch)]
async fn patch_settings(req: &mut Request, depot: &mut Depot) -> Result<Json<SettingsView>, AppError> {
    let st = state(depot);
    let patch: SettingsPatch = json(req, &st).await?;
    Ok(Json(settings::patch(&st, admin(depot)?, patch, client(req, &st)).await?))
}

/// `/setup` (no token).
pub fn public() -> Router {
    Router::with_path("setup").post(setup)
}

/// `/admin/*`: staff only (the hoop answers 403 to others and puts the [`crate::access::Staff`]
/// handle in the depot); admin-only handlers ask for [`crate::access::Admin`].
pub fn private() -> Router {
    Router::with_path("admin")
        .hoop(super::hoops::require_staff)
        .push(Router::with_path("stats").get(stats))
        .push(Router::with_path("stats/activity.svg").get(activity_chart))
        .push(Router::with_path("users").get(list_users).post(create_user))
        .push(Router::with_path("users/import").post(import_users))
        .push(Router::with_path("users/{id}").patch(patch_user))
        .push(Router::with_path("users/{id}/reset-password").post(reset_password))
        .push(Router::with_path("users/{id}/sessions").get(user_sessions).delete(end_all_sessions))
        .push(Router::with_path("users/{id}/sessions/{session_id}").delete(end_session))
        .push(Router::with_path("invites").get(list_invites).post(create_invite))
        .push(Router::with_path("invites/{code}").delete(delete_invite))
        .push(Router::with_path("invites/{code}/qr.svg").get(invite_qr))
        .push(Router::with_path("audit-log").get(audit_log))
        .push(Router::with_path("settings").get(get_settings).patch(patch_settings))
        .push(super::announcements::admin_router())
        .push(super::backups::admin_router())
        .push(super::moderation::admin_router())
        .push(super::two_factor::admin_router())
}
