//! Staff tools: the first-start setup code, invites, and account administration.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::audit::{self as audit_log, Action, Actor, Target};
use super::auth::{self, ClientInfo, NewAccount};
use super::pages;
use super::views::{Audience, UserView, user_view};
use crate::access::Staff;
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::infra::tokens::random_secret;
use crate::model::Role;
use crate::state::AppState;
use crate::store::blobs::sha256_hex;
use crate::store::invites::{self, InviteRecord};
use crate::store::meta::{self, Counter, SetupCode};
use crate::store::reset_codes::{self, ResetCode};
use crate::store::{sessions, users};

/// How long a setup code works.
const SETUP_CODE_HOURS: i64 = 24;

/// If no admin exists, makes a fresh one-time setup code and returns it (only its hash is stored).
pub async fn ensure_setup_code(state: &AppState) -> AppResult<Option<String>> {
    if meta::count(&state.store, Counter::Admins)? > 0 {
        return Ok(None);
    }
    let code = random_secret(12);
    let record = SetupCode { hash: sha256_hex(code.as_bytes()), expires_at: state.clock.unix() + SETUP_CODE_HOURS * 3600 };
    state.store.write(move |s| meta::put_setup_code(s, &record)).await?;
    Ok(Some(code))
}

/// Input of the setup form and `friend admin create`.
#[derive(Debug, Deserialize, salvo::oapi::ToSchema)]
pub struct SetupInput {
    /// The one-time code printed at start-up.
    pub code: String,
    /// Admin email.
    pub email: String,
    /// Admin username.
    pub username: String,
    /// Admin password.
    pub password: String,
    /// Admin display name.
    pub name: String,
}

/// POST /setup: creates the first admin with the printed code; the code then stops working.
pub async fn setup(state: &AppState, input: SetupInput, client: auth::ClientInfo) -> AppResult<auth::AuthResponse> {
    let bad = || AppError::InvalidToken("the setup code is wrong, expired or already used".into());
    let now = state.clock.unix();
    if let Some(wait) = state.login_by_ip.blocked(&client.ip, now) {
        return Err(AppError::RateLimited(wait));
    }
    let stored = meta::setup_code(&state.store)?.ok_or_else(bad)?;
    if stored.expires_at < now || stored.hash != sha256_hex(input.code.trim().as_bytes()) {
        state.login_by_ip.hit(&client.ip, now);
        return Err(bad());
    }
    let password = input.password.clone();
    let account =
        NewAccount { email: input.email, username: input.username.clone(), password: input.password, name: input.name, role: Role::Admin };
    let admin = auth::create_account(state, account, None).await?;
    let actor = Actor::account(state, admin.id, &client)?;
    let now = state.clock.now();
    state
        .store
        .write(move |s| {
            meta::clear_setup_code(s)?;
            audit_log::record(s, now, &actor, Action::on("setup.first_admin", Target::new("user", admin.id)))
        })
        .await?;
    auth::login(state, &input.username, password, None, client).await
}

/// Creates an account as staff.
pub async fn create_user(state: &AppState, staff: Staff, account: NewAccount, client: ClientInfo) -> AppResult<UserView> {
    if account.role != Role::Student {
        staff.admin()?;
    }
    create_as(state, Actor::user(state, staff.caller(), &client)?, account).await
}

/// `friend admin create`: the operator, who owns the data directory, creates any account.
pub async fn create_by_operator(state: &AppState, account: NewAccount) -> AppResult<UserView> {
    create_as(state, Actor::operator(), account).await
}

async fn create_as(state: &AppState, actor: Actor, account: NewAccount) -> AppResult<UserView> {
    let u = auth::create_account(state, account, None).await?;
    let values = serde_json::json!({ "username": u.username, "name": u.name, "email": u.email, "role": u.role });
    audit_log::log(state, actor, Action::on("user.create", Target::new("user", u.id)).new_values(values)).await?;
    Ok(user_view(state, &u, Audience::Staff))
}

/// PATCH /admin/users/{id} body.
#[derive(Debug, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminUserPatch {
    /// New role (admins only).
    pub role: Option<Role>,
    /// Disable or re-enable the account; disabling signs it out everywhere.
    pub disabled: Option<bool>,
}

/// PATCH /admin/users/{id}.
pub async fn patch_user(state: &AppState, staff: Staff, id: Uuid, p: AdminUserPatch, client: ClientInfo) -> AppResult<UserView> {
    let me = staff.caller();
    if p.role.is_some() {
        staff.admin()?;
    }
    if id == me.id() && (p.disabled == Some(true) || p.role.is_some_and(|r| r != me.role())) {
        return Err(AppError::Forbidden("staff cannot disable themselves or change their own role".into()));
    }
    // Moderators disable and enable students only; staff accounts are for admins.
    let target = manageable(state, staff, id)?;
    let demoted = p.role.is_some_and(|r| r != Role::Admin) || p.disabled == Some(true);
    if target.role == Role::Admin && demoted && meta::count(&state.store, Counter::Admins)? <= 1 {
        return Err(AppError::Conflict("the last admin cannot be demoted or disabled: make another admin first".into(), vec![]));
    }
    let now = state.clock.now();
    let actor = Actor::user(state, me, &client)?;
    let u = state
        .store
        .write(move |s| {
            let before = std::cell::Cell::new(None);
            let u = users::update(s, id, |u| {
                before.set(Some((u.role, u.disabled)));
                if let Some(r) = p.role {
                    u.role = r;
                }
                if let Some(d) = p.disabled {
                    u.disabled = d;
                }
                u.updated_at = now;
                Ok(())
            })?;
            if p.disabled == Some(true) {
                sessions::revoke_all(s, id, None)?;
            }
            if let Some((old, new)) = before.get().and_then(|b| changed(b, &u)) {
                let action = Action::on("user.update", Target::new("user", id)).old(old).new_values(new);
                audit_log::record(s, now, &actor, action)?;
            }
            Ok(u)
        })
        .await?;
    if p.disabled == Some(true) {
        auth::sessions_ended(state, id);
    }
    super::social::index_user(state, &u);
    Ok(user_view(state, &u, Audience::Staff))
}

/// The role and disabled flag that a staff change changed, before and after; None if nothing did.
fn changed((role, disabled): (Role, bool), after: &users::UserRecord) -> Option<(serde_json::Value, serde_json::Value)> {
    let (mut old, mut new) = (serde_json::Map::new(), serde_json::Map::new());
    if role != after.role {
        old.insert("role".into(), serde_json::json!(role));
        new.insert("role".into(), serde_json::json!(after.role));
    }
    if disabled != after.disabled {
        old.insert("disabled".into(), disabled.into());
        new.insert("disabled".into(), after.disabled.into());
    }
    (!new.is_empty()).then(|| (old.into(), new.into()))
}

/// How long a staff-issued reset code works.
const RESET_CODE_HOURS: i64 = 72;

/// A one-time reset code, shown to staff once.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct ResetCodeView {
    /// Give it to the student (two groups of four, e.g. `K7QM-4XPR`); they choose a new password with it at
    /// `POST /auth/reset`. Only its hash is stored.
    pub reset_code: String,
    /// It stops working then (RFC 3339), 72 hours after it was made; a new code replaces it.
    pub expires_at: String,
}

/// POST /admin/users/{id}/reset-password: a one-time reset code for the user (moderators: for
/// students only). The password and sessions stay until the code is used.
pub async fn reset_password(state: &AppState, staff: Staff, id: Uuid, client: ClientInfo) -> AppResult<ResetCodeView> {
    manageable(state, staff, id)?;
    let code = crate::infra::tokens::typeable_code();
    let now = state.clock.now();
    let record = ResetCode {
        hash: sha256_hex(crate::infra::tokens::normalize_code(&code).as_bytes()),
        expires_at: now + chrono::Duration::hours(RESET_CODE_HOURS),
        issued_by: staff.caller().id(),
    };
    let expires_at = rfc3339(record.expires_at);
    let actor = Actor::user(state, staff.caller(), &client)?;
    let values = serde_json::json!({ "expires_at": expires_at });
    state
        .store
        .write(move |s| {
            reset_codes::put(s, id, &record)?;
            audit_log::record(s, now, &actor, Action::on("user.reset_code", Target::new("user", id)).new_values(values))
        })
        .await?;
    Ok(ResetCodeView { reset_code: code, expires_at })
}

/// Filters of `GET /admin/users`.
#[derive(Debug, Default)]
pub struct UserFilter {
    /// Username, name or e-mail contains this (any case).
    pub q: String,
    /// Only this role.
    pub role: Option<Role>,
    /// Only disabled (true) or active (false) accounts.
    pub disabled: Option<bool>,
}

/// The account `id` if `staff` may manage it: moderators manage students only.
fn manageable(state: &AppState, staff: Staff, id: Uuid) -> AppResult<users::UserRecord> {
    let target = users::get(&state.store, id)?.filter(|u| u.deleted_at.is_none()).ok_or(AppError::NotFound("user"))?;
    if target.role != Role::Student {
        staff.admin()?;
    }
    Ok(target)
}

/// GET /admin/users/{id}/sessions: where the account is signed in, newest first.
pub fn user_sessions(
    state: &AppState,
    staff: Staff,
    id: Uuid,
    limit: usize,
    cursor: Option<&str>,
) -> AppResult<(Vec<auth::SessionView>, Option<String>)> {
    manageable(state, staff, id)?;
    let all = sessions::list(&state.store, id)?;
    let (page, next) = pages::cut(all, pages::Order::Descending, limit, cursor, |s| s.id.to_string())?;
    Ok((page.iter().map(|s| auth::session_view(s, Uuid::nil())).collect(), next))
}

/// DELETE /admin/users/{id}/sessions[/{session}]: signs the account out of one session or of all,
/// sockets included.
pub async fn end_sessions(state: &AppState, staff: Staff, id: Uuid, session: Option<Uuid>, client: ClientInfo) -> AppResult<()> {
    manageable(state, staff, id)?;
    let actor = Actor::user(state, staff.caller(), &client)?;
    let now = state.clock.now();
    state
        .store
        .write(move |s| {
            let ended = match session {
                Some(sid) => {
                    sessions::revoke(s, id, sid)?;
                    serde_json::json!({ "session_id": sid })
                }
                None => serde_json::json!({ "sessions": sessions::revoke_all(s, id, None)? }),
            };
            audit_log::record(s, now, &actor, Action::on("user.sign_out", Target::new("user", id)).new_values(ended))
        })
        .await?;
    auth::sessions_ended(state, id);
    Ok(())
}

/// GET /admin/users: accounts in creation order, filtered.
pub fn list_users(
    state: &AppState,
    _staff: Staff,
    filter: &UserFilter,
    after: Option<Uuid>,
    limit: usize,
) -> AppResult<(Vec<UserView>, Option<Uuid>)> {
    let q = filter.q.trim().to_lowercase();
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let page = users::list(&state.store, cursor, 500)?;
        let Some(last) = page.last() else { return Ok((out, None)) };
        cursor = Some(last.id);
        for u in &page {
            let hit = (q.is_empty() || [&u.username, &u.name, &u.email].iter().any(|f| f.to_lowercase().contains(&q)))
                && filter.role.is_none_or(|r| u.role == r)
                && filter.disabled.is_none_or(|d| u.disabled == d);
            if hit {
                out.push(user_view(state, u, Audience::Staff));
                if out.len() == limit {
                    return Ok((out, Some(u.id)));
                }
            }
        }
    }
}

/// An invite as the API shows it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct InviteView {
    /// The code.
    pub code: String,
    /// Creator.
    pub created_by: Uuid,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Expiry (RFC 3339) or null.
    pub expires_at: Option<String>,
    /// Use limit or null.
    pub max_uses: Option<u32>,
    /// Accounts created with it.
    pub uses: u32,
    /// Group chat joined on sign-up.
    pub group_chat_id: Option<Uuid>,
    /// The join link to share or print (`{server}/join/{code}`): it opens a page with the server's
    /// address and the code; `GET /admin/invites/{code}/qr.svg` is its QR code.
    pub join_url: String,
}

fn invite_view(state: &AppState, i: &InviteRecord) -> InviteView {
    InviteView {
        join_url: super::connect::join_url(state, &i.code),
        code: i.code.clone(),
        created_by: i.created_by,
        created_at: rfc3339(i.created_at),
        expires_at: i.expires_at.map(rfc3339),
        max_uses: i.max_uses,
        uses: i.uses,
        group_chat_id: i.group_chat_id,
    }
}

/// POST /admin/invites body.
#[derive(Debug, Default, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    /// A code to use (4–64 letters, digits, `-`); generated when absent.
    pub code: Option<String>,
    /// Hours until it expires; never when absent.
    pub expires_in_hours: Option<u32>,
    /// How many accounts it may create; unlimited when absent.
    pub max_uses: Option<u32>,
    /// Group chat to join on sign-up.
    pub group_chat_id: Option<Uuid>,
}

/// POST /admin/invites.
pub async fn create_invite(state: &AppState, staff: Staff, n: NewInvite, client: ClientInfo) -> AppResult<InviteView> {
    let code = match n.code {
        Some(c) => {
            let ok = (4..=64).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
            if !ok {
                return Err(AppError::field("code", "must be 4 to 64 letters, digits or `-`"));
            }
            c
        }
        None => random_secret(6).replace(['_', '-'], "x"),
    };
    if n.max_uses == Some(0) {
        return Err(AppError::field("max_uses", "must be at least 1"));
    }
    let now = state.clock.now();
    let inv = InviteRecord {
        code,
        created_by: staff.caller().id(),
        created_at: now,
        expires_at: n.expires_in_hours.map(|h| now + chrono::Duration::hours(h.into())),
        max_uses: n.max_uses,
        uses: 0,
        group_chat_id: n.group_chat_id,
    };
    let view = invite_view(state, &inv);
    let actor = Actor::user(state, staff.caller(), &client)?;
    let values = invite_values(&inv);
    state
        .store
        .write(move |s| {
            invites::insert(s, &inv)?;
            audit_log::record(s, now, &actor, Action::on("invite.create", Target::new("invite", &inv.code)).new_values(values))
        })
        .await?;
    Ok(view)
}

/// What the audit log keeps of an invite.
fn invite_values(i: &InviteRecord) -> serde_json::Value {
    serde_json::json!({
        "expires_at": i.expires_at.map(rfc3339),
        "max_uses": i.max_uses,
        "uses": i.uses,
        "group_chat_id": i.group_chat_id,
    })
}

/// GET /admin/invites.
pub fn list_invites(state: &AppState, _staff: Staff, limit: usize, cursor: Option<&str>) -> AppResult<(Vec<InviteView>, Option<String>)> {
    let all = invites::list(&state.store)?;
    let (page, next) = pages::cut(all, pages::Order::Descending, limit, cursor, |i| pages::time_key(i.created_at, &i.code))?;
    Ok((page.iter().map(|i| invite_view(state, i)).collect(), next))
}

/// GET /admin/invites/{code}/qr.svg: the QR code of the invite's join link (404 for no such invite).
pub fn invite_qr(state: &AppState, _staff: Staff, code: &str) -> AppResult<String> {
    let invite = invites::get(&state.store, code)?.ok_or(AppError::NotFound("invite"))?;
    super::push::qr_svg(&super::connect::join_url(state, &invite.code))
}

/// DELETE /admin/invites/{code}.
pub async fn delete_invite(state: &AppState, staff: Staff, code: String, client: ClientInfo) -> AppResult<()> {
    let actor = Actor::user(state, staff.caller(), &client)?;
    let now = state.clock.now();
    state
        .store
        .write(move |s| {
            let gone = invites::remove(s, &code)?;
            let action = Action::on("invite.delete", Target::new("invite", &gone.code)).old(invite_values(&gone));
            audit_log::record(s, now, &actor, action)
        })
        .await
}

/// Server statistics for the admin dashboard.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct Stats {
    /// Accounts.
    pub users: u64,
    /// Admin accounts.
    pub admins: u64,
    /// Database size on disk, bytes.
    pub storage_bytes: u64,
    /// Open WebSockets.
    pub websockets_open: i64,
    /// Since when no Web Push service answers (RFC 3339; absent while they answer).
    pub push_unreachable_since: Option<String>,
    /// Web Push jobs waiting (due or backing off).
    pub push_queued: i64,
    /// Scheduled backups: `ok`, `failing`, `none` or `off`.
    pub backup: &'static str,
    /// When the last scheduled backup was written and verified (RFC 3339).
    pub last_backup_at: Option<String>,
    /// Its file.
    pub last_backup_file: Option<String>,
    /// Why the last attempt failed (while `backup` is `failing`).
    pub backup_error: Option<String>,
    /// Free bytes on the data directory's disk.
    pub disk_free_bytes: Option<u64>,
    /// True below `storage.warn_free_mb`.
    pub disk_low: bool,
    /// Accounts by role and status (deleted ones excluded).
    pub accounts: AccountCounts,
    /// Accounts active today (signed in, refreshed a session or connected), in the school's time zone.
    pub active_today: u64,
    /// Accounts active in the last 7 days, today included.
    pub active_this_week: u64,
    /// Messages, notes and active accounts per day over the last 28 days, oldest first (also drawn
    /// by `GET /admin/stats/activity.svg`).
    pub activity: Vec<super::dashboard::DayActivity>,
    /// Seconds since the server started.
    pub uptime_secs: u64,
}

/// Accounts by role and status.
#[derive(Debug, Default, Serialize, salvo::oapi::ToSchema)]
pub struct AccountCounts {
    /// Students.
    pub students: u64,
    /// Moderators.
    pub moderators: u64,
    /// Admins.
    pub admins: u64,
    /// Disabled accounts (any role).
    pub disabled: u64,
}

/// Days of activity in `GET /admin/stats`.
pub const STATS_DAYS: u32 = 28;

fn account_counts(state: &AppState) -> AppResult<AccountCounts> {
    let mut c = AccountCounts::default();
    let mut after = None;
    loop {
        let page = users::list(&state.store, after, 500)?;
        for u in &page {
            match u.role {
                Role::Student => c.students += 1,
                Role::Moderator => c.moderators += 1,
                Role::Admin => c.admins += 1,
            }
            c.disabled += u64::from(u.disabled);
        }
        match page.last() {
            Some(u) if page.len() == 500 => after = Some(u.id),
            _ => return Ok(c),
        }
    }
}

/// GET /admin/stats.
pub fn stats(state: &AppState, _staff: Staff) -> AppResult<Stats> {
    let backup = super::backups::status(state)?;
    let disk = super::ops::disk_free(state);
    // `history` writes the pending counts first; `active_now` then reads them.
    let activity = super::dashboard::history(state, STATS_DAYS)?;
    let (active_today, active_this_week) = super::dashboard::active_now(state)?;
    Ok(Stats {
        users: meta::count(&state.store, Counter::Users)?,
        admins: meta::count(&state.store, Counter::Admins)?,
        storage_bytes: state.store.size_on_disk(),
        websockets_open: state.metrics.websockets.get(),
        push_unreachable_since: super::ops::push_unreachable_since(state),
        push_queued: state.web_push_status.depth(),
        backup: super::backups::state_word(state, &backup),
        last_backup_at: backup.last_ok_at.map(crate::clock::rfc3339),
        last_backup_file: backup.last_ok_file,
        backup_error: backup.last_error,
        disk_free_bytes: disk.map(|d| d.0),
        disk_low: disk.is_some_and(|d| d.1),
        accounts: account_counts(state)?,
        active_today,
        active_this_week,
        activity,
        uptime_secs: state.metrics.uptime_secs(),
    })
}
