//! Who may try a password now. Guessing stays slow while the right people still get in:
//! - per device (address + User-Agent) and account: `auth.max_failed_logins_per_device` failures
//!   in the window, then 429 for that device on that account only;
//! - per account, whatever name or e-mail was typed: after `auth.max_failed_logins_per_account`
//!   failures in the window, devices the account has not signed in from may try once per
//!   `auth.account_backoff_secs` (a slow backoff, not a lockout); its owner's known devices pass;
//! - per address: after `auth.max_logins_per_ip` failures (someone spraying many accounts from
//!   one address), unknown devices there are refused; classmates behind the same school NAT who
//!   signed in from their device before are not.
//!
//! A device is known to an account when one of the account's sessions was opened from it.

use uuid::Uuid;

use super::auth::ClientInfo;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{codec, sessions};

/// Longest User-Agent kept (sessions store the same prefix).
pub const DEVICE_CHARS: usize = 200;

/// One sign-in attempt's buckets.
pub struct Attempt {
    account: String,
    device: String,
    address: String,
    known: bool,
}

impl Attempt {
    /// The attempt of `client` on `account` (the user the login names, if any; otherwise the
    /// typed login, so that unknown names are throttled the same way).
    pub fn new(state: &AppState, account: Option<Uuid>, login: &str, client: &ClientInfo) -> AppResult<Self> {
        let device: String = client.device.chars().take(DEVICE_CHARS).collect();
        let known = match account {
            Some(id) => sessions::list(&state.store, id)?.iter().any(|s| s.ip == client.ip && s.device == device),
            None => false,
        };
        let account = account.map_or_else(|| format!("login:{}", codec::fold(login)), |id| id.to_string());
        Ok(Self { device: format!("{account}|{}|{device}", client.ip), account, address: client.ip.clone(), known })
    }

    /// 429 (with the wait) when this attempt may not be tried now.
    pub fn admit(&self, state: &AppState, now: i64) -> AppResult<()> {
        if let Some(wait) = state.login_by_device.blocked(&self.device, now) {
            return Err(AppError::RateLimited(wait));
        }
        if self.known {
            return Ok(());
        }
        if let Some(wait) = state.login_by_ip.blocked(&self.address, now) {
            return Err(AppError::RateLimited(wait));
        }
        if state.login_by_account.blocked(&self.account, now).is_some() {
            if let Some(wait) = state.login_backoff.blocked(&self.account, now) {
                return Err(AppError::RateLimited(wait));
            }
            state.login_backoff.hit(&self.account, now);
        }
        Ok(())
    }

    /// Records a wrong password.
    pub fn failed(&self, state: &AppState, now: i64) {
        state.login_by_device.hit(&self.device, now);
        state.login_by_account.hit(&self.account, now);
        state.login_by_ip.hit(&self.address, now);
    }

    /// Records a correct password: this device starts afresh (the account's count stays until
    /// its window ends, so a guesser gains nothing from the owner signing in meanwhile).
    pub fn succeeded(&self, state: &AppState) {
        state.login_by_device.clear(&self.device);
    }
}
