//! Two-factor login (TOTP, RFC 6238) for staff accounts. A staff member sets it up from a QR code
//! (`POST /auth/2fa/setup`, password confirmed), confirms it with a first code
//! (`POST /auth/2fa/enable`, which answers ten one-time recovery codes and signs out the other
//! sessions), and from then on every sign-in asks for a code. The school can require it of all
//! staff (setting `staff_two_factor`): staff rights then need a session signed in with it. An
//! admin can turn it off for a staff member who lost their phone; the console's password reset
//! turns it off too, for the last admin.

use serde::Serialize;
use uuid::Uuid;

use super::audit::{self, Action, Actor, Target};
use super::auth::{self, ClientInfo};
use crate::access::{Admin, Caller};
use crate::error::{AppError, AppResult, FieldError};
use crate::infra::{tokens, totp};
use crate::state::AppState;
use crate::store::blobs::sha256_hex;
use crate::store::sessions;
use crate::store::users::{self, TwoFactor, UserRecord};

/// Recovery codes handed out at a time.
const RECOVERY_CODES: usize = 10;

/// `GET /auth/2fa`.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct TwoFactorStatus {
    /// Sign-in asks for a code.
    pub enabled: bool,
    /// Set up but not confirmed with a first code yet.
    pub pending: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
    /// The school requires two-factor login of staff (and this account is staff).
    pub required: bool,
    /// This session was signed in with (or confirmed) a second factor.
    pub this_session: bool,
}

/// `POST /auth/2fa/setup`: what the authenticator app needs.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct TwoFactorSetup {
    /// The shared secret (base32), for typing into the app by hand.
    pub secret: String,
    /// The `otpauth://totp/...` URI the QR code holds.
    pub otpauth_uri: String,
    /// The QR code of `otpauth_uri`, an SVG image made by the server.
    pub qr_svg: String,
}

/// Recovery codes, shown once.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct RecoveryCodes {
    /// Ten one-time codes like `K7QM-4XPR`: each signs in once in place of a TOTP code. Keep
    /// them somewhere safe; they are not shown again.
    pub recovery_codes: Vec<String>,
}

fn account(state: &AppState, id: Uuid) -> AppResult<UserRecord> {
    users::get(&state.store, id)?.filter(|u| u.deleted_at.is_none()).ok_or(AppError::NotFound("user"))
}

fn required_of(state: &AppState, user: &UserRecord) -> bool {
    user.role.is_staff() && state.settings().staff_two_factor
}

/// True if `caller`'s session was signed in with (or has since confirmed) a second factor.
pub fn session_confirmed(state: &AppState, caller: Caller) -> AppResult<bool> {
    Ok(sessions::get(&state.store, caller.session_id())?.is_some_and(|s| s.second_factor))
}

/// Refuses staff rights while the school requires two-factor login and `caller`'s session was not
/// signed in with it.
pub fn check_staff_session(state: &AppState, caller: Caller) -> AppResult<()> {
    if !state.settings().staff_two_factor || session_confirmed(state, caller)? {
        return Ok(());
    }
    Err(AppError::TwoFactorSetupRequired(
        "the school requires two-factor login for staff: turn it on under your account (POST /auth/2fa/setup), or sign in again with your code"
            .into(),
    ))
}

/// GET /auth/2fa.
pub fn status(state: &AppState, me: Caller) -> AppResult<TwoFactorStatus> {
    let user = account(state, me.id())?;
    let tf = user.two_factor.as_ref();
    Ok(TwoFactorStatus {
        enabled: tf.is_some_and(TwoFactor::enabled),
        pending: tf.is_some_and(|t| !t.enabled()),
        recovery_codes_left: tf.map_or(0, |t| t.recovery.len()),
        required: required_of(state, &user),
        this_session: session_confirmed(state, me)?,
    })
}

/// POST /auth/2fa/setup (staff): a new secret, not asked at sign-in until confirmed. Starting
/// again replaces a setup that was not confirmed; 409 while two-factor login is on.
pub async fn setup(state: &AppState, me: Caller, password: String) -> AppResult<TwoFactorSetup> {
    me.require_staff().map_err(|_| AppError::Forbidden("two-factor login is for staff accounts".into()))?;
    let user = account(state, me.id())?;
    if user.two_factor.as_ref().is_some_and(TwoFactor::enabled) {
        return Err(AppError::Conflict("two-factor login is already on; turn it off first to move it to a new phone".into(), vec![]));
    }
    auth::confirm_password(state, &user, password, "password").await?;
    let secret = totp::new_secret();
    let pending = TwoFactor { secret: secret.clone(), enabled_at: None, recovery: Vec::new(), last_step: 0 };
    let id = me.id();
    state
        .store
        .write(move |s| {
            users::update(s, id, |u| {
                u.two_factor = Some(pending.clone());
                Ok(())
            })
            .map(|_| ())
        })
        .await?;
    let issuer = format!("Friend {}", state.settings().school_name);
    let otpauth_uri = totp::otpauth_uri(&issuer, &user.username, &secret);
    let qr_svg = super::push::qr_svg(&otpauth_uri)?;
    Ok(TwoFactorSetup { secret, otpauth_uri, qr_svg })
}

fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| tokens::typeable_code()).collect();
    let hashes = codes.iter().map(|c| sha256_hex(tokens::normalize_code(c).as_bytes())).collect();
    (codes, hashes)
}

fn wrong_code() -> AppError {
    AppError::Validation(vec![FieldError::new(
        "code",
        "the code is wrong or was already used; check the phone's clock and type the code shown now",
    )])
}

/// Throttles wrong codes like wrong passwords (per account).
fn throttled(state: &AppState, user: Uuid) -> AppResult<String> {
    let key = format!("2fa:{user}");
    match state.login_by_account.blocked(&key, state.clock.unix()) {
        Some(wait) => Err(AppError::RateLimited(wait)),
        None => Ok(key),
    }
}

/// POST /auth/2fa/enable: confirms the setup with a first code; answers the recovery codes. This
/// session counts as signed in with a second factor; the account's other sessions end.
pub async fn enable(state: &AppState, me: Caller, code: &str, client: ClientInfo) -> AppResult<RecoveryCodes> {
    let user = account(state, me.id())?;
    let Some(tf) = user.two_factor.filter(|t| !t.enabled()) else {
        return Err(AppError::Conflict("nothing to confirm: set up two-factor login first (POST /auth/2fa/setup)".into(), vec![]));
    };
    let key = throttled(state, me.id())?;
    let now = state.clock.now();
    let Some(step) = totp::verify(&tf.secret, code, now.timestamp(), 0) else {
        state.login_by_account.hit(&key, now.timestamp());
        return Err(wrong_code());
    };
    state.login_by_account.clear(&key);
    let (codes, hashes) = new_recovery_codes();
    let on = TwoFactor { enabled_at: Some(now), recovery: hashes, last_step: step, ..tf };
    let (id, sid) = (me.id(), me.session_id());
    let actor = Actor::user(state, me, &client)?;
    state
        .store
        .write(move |s| {
            users::update(s, id, |u| {
                u.two_factor = Some(on.clone());
                Ok(())
            })?;
            sessions::mark_second_factor(s, sid)?;
            sessions::revoke_all(s, id, Some(sid))?;
            audit::record(s, now, &actor, Action::on("user.two_factor_on", Target::new("user", id)))
        })
        .await?;
    auth::sessions_ended(state, id);
    Ok(RecoveryCodes { recovery_codes: codes })
}

/// Uses `code` (a TOTP code not used before, or an unused recovery code) for `user`'s sign-in.
/// False if it is wrong.
pub async fn use_code(state: &AppState, user: Uuid, code: &str) -> AppResult<bool> {
    let now = state.clock.unix();
    let code = code.to_string();
    let outcome = state
        .store
        .write(move |s| {
            users::update(s, user, |u| {
                let tf = u.two_factor.as_mut().filter(|t| t.enabled()).ok_or_else(wrong_code)?;
                if let Some(step) = totp::verify(&tf.secret, &code, now, tf.last_step) {
                    tf.last_step = step;
                    return Ok(());
                }
                let hash = sha256_hex(tokens::normalize_code(&code).as_bytes());
                let before = tf.recovery.len();
                tf.recovery.retain(|h| *h != hash);
                if tf.recovery.len() == before { Err(wrong_code()) } else { Ok(()) }
            })
        })
        .await;
    match outcome {
        Ok(_) => Ok(true),
        Err(AppError::Validation(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Checks the caller's password and a current code (throttled), before turning off or renewing.
async fn confirm(state: &AppState, me: Caller, password: String, code: &str) -> AppResult<UserRecord> {
    let user = account(state, me.id())?;
    if !user.two_factor.as_ref().is_some_and(TwoFactor::enabled) {
        return Err(AppError::Conflict("two-factor login is not on for this account".into(), vec![]));
    }
    auth::confirm_password(state, &user, password, "password").await?;
    let key = throttled(state, me.id())?;
    if !use_code(state, me.id(), code).await? {
        state.login_by_account.hit(&key, state.clock.unix());
        return Err(wrong_code());
    }
    state.login_by_account.clear(&key);
    Ok(user)
}

/// POST /auth/2fa/disable: password and a code (or recovery code); 409 while the school requires
/// two-factor login of staff.
pub async fn disable(state: &AppState, me: Caller, password: String, code: &str, client: ClientInfo) -> AppResult<()> {
    let user = account(state, me.id())?;
    if required_of(state, &user) {
        return Err(AppError::Conflict(
            "the school requires two-factor login for staff; an admin can change that under Settings".into(),
            vec![],
        ));
    }
    confirm(state, me, password, code).await?;
    let actor = Actor::user(state, me, &client)?;
    turn_off(state, me.id(), actor, "user.two_factor_off", false).await
}

/// POST /auth/2fa/recovery-codes: password and a code; ten new recovery codes replace the old ones.
pub async fn renew_recovery_codes(state: &AppState, me: Caller, password: String, code: &str) -> AppResult<RecoveryCodes> {
    confirm(state, me, password, code).await?;
    let (codes, hashes) = new_recovery_codes();
    let id = me.id();
    state
        .store
        .write(move |s| {
            users::update(s, id, |u| {
                if let Some(tf) = u.two_factor.as_mut() {
                    tf.recovery = hashes.clone();
                }
                Ok(())
            })
            .map(|_| ())
        })
        .await?;
    Ok(RecoveryCodes { recovery_codes: codes })
}

/// DELETE /admin/users/{id}/two-factor (admins): for a staff member who lost their phone and
/// recovery codes. Their sessions end; they sign in with their password and set it up again.
/// An admin's own goes through `POST /auth/2fa/disable`.
pub async fn reset_by_admin(state: &AppState, admin: Admin, id: Uuid, client: ClientInfo) -> AppResult<()> {
    if id == admin.caller().id() {
        return Err(AppError::Forbidden("turn off your own two-factor login under your account, with a code".into()));
    }
    let user = account(state, id)?;
    if user.two_factor.is_none() {
        return Err(AppError::Conflict("this account has no two-factor login".into(), vec![]));
    }
    let actor = Actor::user(state, admin.caller(), &client)?;
    turn_off(state, id, actor, "user.two_factor_reset", true).await
}

/// Removes `user`'s two-factor login and records `action`; `sign_out`: every session ends.
pub async fn turn_off(state: &AppState, user: Uuid, actor: Actor, action: &'static str, sign_out: bool) -> AppResult<()> {
    let now = state.clock.now();
    state
        .store
        .write(move |s| {
            users::update(s, user, |u| {
                u.two_factor = None;
                Ok(())
            })?;
            if sign_out {
                sessions::revoke_all(s, user, None)?;
            }
            audit::record(s, now, &actor, Action::on(action, Target::new("user", user)))
        })
        .await?;
    if sign_out {
        auth::sessions_ended(state, user);
    }
    Ok(())
}
