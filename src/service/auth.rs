//! Accounts and sessions: register, login, refresh with rotation and reuse detection, logout,
//! password change, session management, and verifying access tokens.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::pages;
use super::sign_in::Attempt;
use super::validate::{self, Errors};
use super::views::{Audience, UserView, user_view};
use crate::access::Caller;
use crate::clock::rfc3339;
use crate::config::Registration;
use crate::error::{AppError, AppResult};
use crate::infra::{passwords, tokens};
use crate::model::Role;
use crate::state::AppState;
use crate::store::sessions::{self, Presented, Rotation, SessionRecord};
use crate::store::users::{self, UserRecord};
use crate::store::{invites, reset_codes};

/// Where a sign-in comes from.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// Client IP.
    pub ip: String,
    /// User-Agent.
    pub device: String,
}

/// Registration input.
#[derive(Debug, Deserialize, salvo::oapi::ToSchema)]
pub struct RegisterInput {
    /// Email (unique, case-insensitive).
    #[salvo(schema(format = Email, max_length = 254))]
    pub email: String,
    /// Username (unique, case-insensitive; 3–32 of letters, digits, `_`, `.`, starting with a
    /// letter or digit).
    #[salvo(schema(pattern = "^[A-Za-z0-9][A-Za-z0-9_.]{2,31}$"))]
    pub username: String,
    /// Password (8 characters to 1,024 bytes). Also refused (422): one of the most common
    /// passwords, or the username itself.
    #[salvo(schema(min_length = 8, max_length = 256))]
    pub password: String,
    /// Display name (1–100 characters).
    #[salvo(schema(min_length = 1, max_length = 100, pattern = "\\S"))]
    pub name: String,
    /// Needed when registration is `invite`.
    #[serde(default)]
    pub invite_code: Option<String>,
}

/// Tokens and the signed-in user.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct AuthResponse {
    /// The user's own profile.
    pub user: UserView,
    /// Bearer token for `Authorization`.
    pub access_token: String,
    /// Opaque token for `/auth/refresh`; rotated on every use.
    pub refresh_token: String,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
    /// Always `Bearer`.
    pub token_type: &'static str,
}

/// A signed-in device as the API shows it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct SessionView {
    /// Session id.
    pub id: Uuid,
    /// Device (User-Agent).
    pub device: String,
    /// IP at sign-in.
    pub ip: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last token refresh (RFC 3339).
    pub last_used_at: String,
    /// When it ends unless refreshed (RFC 3339).
    pub expires_at: String,
    /// True for the session making this request.
    pub current: bool,
}

/// Everything needed to create an account (registration, admin, setup, CLI).
pub struct NewAccount {
    /// Email.
    pub email: String,
    /// Username.
    pub username: String,
    /// Password (plain; hashed here).
    pub password: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
}

/// Validates and stores a new account; returns it.
pub async fn create_account(state: &AppState, a: NewAccount, invite: Option<String>) -> AppResult<UserRecord> {
    let mut e = Errors::new();
    e.check("email", validate::email(&a.email));
    e.check("username", validate::username(&a.username));
    e.check("password", passwords::check_policy(&a.password, &a.username));
    e.check("name", validate::text(&a.name, 100, true));
    e.finish()?;
    // Cheap duplicate check before the expensive hash; the transaction re-checks under races.
    if !users::username_free(&state.store, &a.username)? {
        return Err(AppError::Conflict(
            "this username is already taken".into(),
            vec![crate::error::FieldError::new("username", "username is taken")],
        ));
    }
    let hash = state.hasher.hash(a.password).await?;
    let now = state.clock.now();
    let timezone = state.settings().default_timezone.clone();
    let user = UserRecord::new(a.email.trim().to_string(), a.username, a.name.trim().to_string(), a.role, hash, timezone, now);
    let u = user.clone();
    state.store.write(move |s| users::insert(s, &u, invite.as_deref())).await?;
    super::social::index_user(state, &user);
    Ok(user)
}

/// POST /auth/register.
pub async fn register(state: &AppState, input: RegisterInput, client: ClientInfo) -> AppResult<AuthResponse> {
    let invite = match state.settings().registration {
        Registration::Open => input.invite_code.filter(|c| !c.trim().is_empty()),
        Registration::Invite => match input.invite_code.filter(|c| !c.trim().is_empty()) {
            Some(c) => Some(c),
            None => return Err(AppError::RegistrationClosed("registration needs an invite code from your school".into())),
        },
        Registration::Closed => {
            return Err(AppError::RegistrationClosed("registration is closed; ask a member of staff for an account".into()));
        }
    };
    let now = state.clock.unix();
    if let Some(wait) = state.registrations.blocked(&client.ip, now) {
        return Err(AppError::RateLimited(wait));
    }
    match &invite {
        Some(code) if invites::get(&state.store, code)?.is_none() => {
            state.registrations.hit(&client.ip, now);
            return Err(AppError::field("invite_code", "this invite code is unknown, expired or used up"));
        }
        Some(_) => {}
        None => state.registrations.hit(&client.ip, now),
    }
    let account =
        NewAccount { email: input.email, username: input.username, password: input.password, name: input.name, role: Role::Student };
    let user = create_account(state, account, invite).await?;
    start_session(state, &user, client, false).await
}

/// Creates a session for `user` and returns its tokens; `second_factor`: signed in with one.
async fn start_session(state: &AppState, user: &UserRecord, client: ClientInfo, second_factor: bool) -> AppResult<AuthResponse> {
    let now = state.clock.now();
    let id = crate::ids::new_id();
    let seed = tokens::random_secret(16);
    let refresh = state.tokens.refresh_token(id, 1, &seed);
    let record = SessionRecord {
        id,
        user_id: user.id,
        device: client.device.chars().take(super::sign_in::DEVICE_CHARS).collect(),
        ip: client.ip,
        created_at: now,
        last_used_at: now,
        expires_at: now + chrono::Duration::days(state.config.auth.refresh_ttl_days as i64),
        token_hash: String::new(),
        old_hashes: Vec::new(),
        seed,
        generation: 1,
        second_factor,
    };
    state.store.write(move |s| sessions::insert(s, &record)).await?;
    super::dashboard::seen(state, user.id);
    Ok(AuthResponse {
        user: user_view(state, user, Audience::Own),
        access_token: state.tokens.issue(user.id, id, user.role, now.timestamp())?,
        refresh_token: refresh,
        expires_in: state.tokens.ttl,
        token_type: "Bearer",
    })
}

/// POST /auth/login: throttled as [`super::sign_in`] describes; the same answer for unknown user
/// and wrong password. An account with two-factor login also needs `two_factor_code` (a wrong
/// one counts as a failed sign-in).
pub async fn login(
    state: &AppState,
    login: &str,
    password: String,
    two_factor_code: Option<&str>,
    client: ClientInfo,
) -> AppResult<AuthResponse> {
    let now = state.clock.unix();
    let user = if login.len() > 254 { None } else { users::find_by_login(&state.store, login)? };
    let user = user.filter(|u| u.deleted_at.is_none());
    let attempt = Attempt::new(state, user.as_ref().map(|u| u.id), login, &client)?;
    attempt.admit(state, now)?;
    let ok = state.hasher.verify(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(user) = user.filter(|_| ok) else {
        attempt.failed(state, now);
        return Err(AppError::InvalidCredentials);
    };
    if user.disabled {
        return Err(AppError::AccountDisabled);
    }
    let second_factor = user.two_factor.as_ref().is_some_and(|t| t.enabled());
    if second_factor {
        let Some(code) = two_factor_code.filter(|c| !c.trim().is_empty()) else {
            return Err(AppError::TwoFactorRequired(
                "this account uses two-factor login: send two_factor_code, the 6-digit code of the authenticator app (or a recovery code)"
                    .into(),
            ));
        };
        if !super::two_factor::use_code(state, user.id, code).await? {
            attempt.failed(state, now);
            return Err(AppError::TwoFactorRequired("the two-factor code is wrong or was already used; type the code shown now".into()));
        }
    }
    attempt.succeeded(state);
    start_session(state, &user, client, second_factor).await
}

/// Whether `presented` is `session`'s current refresh token, an older one, or none of its own.
fn judge(keys: &tokens::TokenKeys, presented: &tokens::RefreshToken, session: &SessionRecord) -> Presented {
    match presented {
        tokens::RefreshToken::Legacy { hash, .. } if !session.token_hash.is_empty() && *hash == session.token_hash => Presented::Current,
        tokens::RefreshToken::Legacy { hash, .. } if session.old_hashes.contains(hash) => Presented::Old,
        tokens::RefreshToken::Legacy { .. } => Presented::Unknown,
        generation => match keys.refresh_generation(generation, &session.seed) {
            Some(g) if g == session.generation => Presented::Current,
            Some(g) if g < session.generation => Presented::Old,
            _ => Presented::Unknown,
        },
    }
}

/// POST /auth/refresh: rotates the refresh token; presenting a rotated one revokes the session.
pub async fn refresh(state: &AppState, token: &str) -> AppResult<AuthResponse> {
    let invalid = || AppError::InvalidToken("the refresh token is invalid or expired; sign in again".into());
    let presented = tokens::parse_refresh(token).ok_or_else(invalid)?;
    let sid = presented.session();
    let now = state.clock.now();
    let expires = now + chrono::Duration::days(state.config.auth.refresh_ttl_days as i64);
    let max_age = chrono::Duration::days(state.config.auth.session_max_days as i64);
    let (keys, seed) = (state.tokens.clone(), tokens::random_secret(16));
    let outcome =
        state.store.write(move |s| sessions::rotate(s, sid, |r| judge(&keys, &presented, r), &seed, now, expires, max_age)).await?;
    let session = match outcome {
        Rotation::Rotated(s) => s,
        Rotation::Reused => {
            tracing::warn!(session = %sid, "refresh token reuse detected; session revoked");
            if let Some(s) = sessions::get(&state.store, sid)? {
                sessions_ended(state, s.user_id);
            }
            return Err(AppError::InvalidToken("this refresh token was already used; the session was signed out for safety".into()));
        }
        Rotation::Invalid => return Err(invalid()),
        Rotation::Ended => {
            return Err(AppError::InvalidToken(format!(
                "sessions last at most {} days; sign in again",
                state.config.auth.session_max_days
            )));
        }
    };
    let user = users::get(&state.store, session.user_id)?.filter(|u| u.deleted_at.is_none()).ok_or_else(invalid)?;
    if user.disabled {
        return Err(AppError::AccountDisabled);
    }
    super::dashboard::seen(state, user.id);
    Ok(AuthResponse {
        user: user_view(state, &user, Audience::Own),
        access_token: state.tokens.issue(user.id, sid, user.role, now.timestamp())?,
        refresh_token: state.tokens.refresh_token(sid, session.generation, &session.seed),
        expires_in: state.tokens.ttl,
        token_type: "Bearer",
    })
}

/// POST /auth/logout: ends the session of `token` (idempotent: an unknown token is fine).
pub async fn logout(state: &AppState, token: &str) -> AppResult<()> {
    let Some(presented) = tokens::parse_refresh(token) else { return Ok(()) };
    let sid = presented.session();
    let Some(s) = sessions::get(&state.store, sid)? else { return Ok(()) };
    if judge(&state.tokens, &presented, &s) == Presented::Unknown {
        return Err(AppError::InvalidToken("the refresh token is invalid".into()));
    }
    let user = s.user_id;
    state.store.write(move |st| sessions::revoke(st, user, sid).or_else(ignore_missing)).await?;
    sessions_ended(state, user);
    Ok(())
}

fn ignore_missing(e: AppError) -> AppResult<()> {
    match e {
        AppError::NotFound(_) => Ok(()),
        e => Err(e),
    }
}

/// POST /auth/logout-all.
pub async fn logout_all(state: &AppState, me: Caller) -> AppResult<()> {
    state.store.write(move |s| sessions::revoke_all(s, me.id(), None).map(|_| ())).await?;
    sessions_ended(state, me.id());
    Ok(())
}

/// Checks the signed-in user's own password (to change it or delete the account), throttled like
/// logins: after `auth.max_failed_logins_per_account` wrong ones in the window, 429 until it ends.
pub async fn confirm_password(state: &AppState, user: &UserRecord, password: String, field: &str) -> AppResult<()> {
    let now = state.clock.unix();
    let key = format!("confirm:{}", user.id);
    if let Some(wait) = state.login_by_account.blocked(&key, now) {
        return Err(AppError::RateLimited(wait));
    }
    if !state.hasher.verify(password, Some(user.password_hash.clone())).await? {
        state.login_by_account.hit(&key, now);
        return Err(AppError::field(field, "the password is wrong"));
    }
    state.login_by_account.clear(&key);
    Ok(())
}

/// POST /auth/password: checks the current password, stores the new one, signs out other sessions.
pub async fn change_password(state: &AppState, me: Caller, current: String, new: String) -> AppResult<()> {
    let user = users::get(&state.store, me.id())?.ok_or(AppError::NotFound("user"))?;
    confirm_password(state, &user, current, "current_password").await?;
    set_password(state, me.id(), new, Some(me.session_id())).await
}

/// `POST /auth/reset` body.
#[derive(Debug, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetInput {
    /// Username or e-mail.
    #[salvo(schema(min_length = 1, max_length = 254))]
    pub login: String,
    /// The code staff gave, e.g. `K7QM-4XPR` (case, spaces and dashes do not matter).
    #[salvo(schema(min_length = 1, max_length = 64))]
    pub code: String,
    /// The new password (8–256 characters, not a common one, not the username).
    #[salvo(schema(min_length = 8, max_length = 256))]
    pub new_password: String,
}

/// POST /auth/reset: a staff-issued code, used once, sets a new password and ends every session.
/// Throttled like sign-ins; a wrong, expired or used code says only that.
pub async fn reset_with_code(state: &AppState, input: ResetInput, client: ClientInfo) -> AppResult<()> {
    let bad = || AppError::InvalidToken("the reset code is wrong, expired or already used; ask a teacher for a new one".into());
    let now = state.clock.now();
    let user = users::find_by_login(&state.store, input.login.trim())?.filter(|u| u.deleted_at.is_none());
    let attempt = Attempt::new(state, user.as_ref().map(|u| u.id), input.login.trim(), &client)?;
    attempt.admit(state, now.timestamp())?;
    let hash = crate::store::blobs::sha256_hex(tokens::normalize_code(&input.code).as_bytes());
    let waiting = match &user {
        Some(u) => reset_codes::get(&state.store, u.id)?.filter(|c| c.hash == hash && c.expires_at > now),
        None => None,
    };
    let (Some(user), Some(_)) = (user, waiting) else {
        attempt.failed(state, now.timestamp());
        return Err(bad());
    };
    // A password the policy refuses does not use the code up.
    let mut e = Errors::new();
    e.check("new_password", passwords::check_policy(&input.new_password, &user.username));
    e.finish()?;
    let id = user.id;
    if !state.store.write(move |s| reset_codes::take(s, id, &hash)).await? {
        return Err(bad());
    }
    attempt.succeeded(state);
    set_password(state, id, input.new_password, None).await
}

/// Sets a user's password and revokes their sessions except `keep`.
pub async fn set_password(state: &AppState, user: Uuid, new: String, keep: Option<Uuid>) -> AppResult<()> {
    let username = users::get(&state.store, user)?.map(|u| u.username).unwrap_or_default();
    let mut e = Errors::new();
    e.check("new_password", passwords::check_policy(&new, &username));
    e.finish()?;
    let hash = state.hasher.hash(new).await?;
    let now = state.clock.now();
    state
        .store
        .write(move |s| {
            users::update(s, user, |u| {
                u.password_hash = hash.clone();
                u.updated_at = now;
                Ok(())
            })?;
            sessions::revoke_all(s, user, keep).map(|_| ())
        })
        .await?;
    sessions_ended(state, user);
    Ok(())
}

/// GET /auth/sessions: a page of the caller's sessions, newest first.
pub fn list_sessions(state: &AppState, me: Caller, limit: usize, cursor: Option<&str>) -> AppResult<(Vec<SessionView>, Option<String>)> {
    let all = sessions::list(&state.store, me.id())?;
    let (page, next) = pages::cut(all, pages::Order::Descending, limit, cursor, |s| s.id.to_string())?;
    Ok((page.iter().map(|s| session_view(s, me.session_id())).collect(), next))
}

/// The API view of a session.
pub fn session_view(s: &SessionRecord, current: Uuid) -> SessionView {
    SessionView {
        id: s.id,
        device: s.device.clone(),
        ip: s.ip.clone(),
        created_at: rfc3339(s.created_at),
        last_used_at: rfc3339(s.last_used_at),
        expires_at: rfc3339(s.expires_at),
        current: s.id == current,
    }
}

/// DELETE /auth/sessions/{id}: only the caller's own sessions (404 otherwise).
pub async fn revoke_session(state: &AppState, me: Caller, id: Uuid) -> AppResult<()> {
    state.store.write(move |s| sessions::revoke(s, me.id(), id)).await?;
    sessions_ended(state, me.id());
    Ok(())
}

/// The ephemeral event that tells the socket hub to close the sockets of sessions that ended.
pub const SESSIONS_ENDED: &str = "sessions.ended";

/// Tells the hub that sessions of `user` ended: their sockets close at once (not at the next ping).
pub fn sessions_ended(state: &AppState, user: Uuid) {
    if let Err(e) = super::web_push::sessions_ended(state, user) {
        tracing::warn!(error = %e, "push subscriptions of ended sessions not removed; they are at the next push");
    }
    state.events.ephemeral(crate::events::Event::new(SESSIONS_ENDED, crate::events::Audience::Users(vec![user]), serde_json::Value::Null));
}

/// True while the session `id` has not been signed out.
pub fn session_exists(state: &AppState, id: Uuid) -> bool {
    sessions::exists(&state.store, id).unwrap_or(false)
}

/// True while the caller's session has not been signed out.
pub fn session_alive(state: &AppState, caller: Caller) -> bool {
    session_exists(state, caller.session_id())
}

/// Verifies an access token and that its session and account are still valid.
pub fn authenticate(state: &AppState, token: &str) -> AppResult<Caller> {
    authenticate_until(state, token).map(|(c, _)| c)
}

/// [`authenticate`], also returning when the token expires (unix seconds).
pub fn authenticate_until(state: &AppState, token: &str) -> AppResult<(Caller, i64)> {
    let claims = state.tokens.verify(token, state.clock.unix())?;
    let user = users::get(&state.store, claims.sub)?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| AppError::Unauthorized("this account no longer exists".into()))?;
    if user.disabled {
        return Err(AppError::AccountDisabled);
    }
    if !sessions::exists(&state.store, claims.sid)? {
        return Err(AppError::Unauthorized("this session was signed out".into()));
    }
    Ok((Caller::authenticated(user.id, claims.sid, user.role), claims.exp))
}
