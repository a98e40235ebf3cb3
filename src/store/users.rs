//! Users and their unique (case-insensitive) email and username indexes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use uuid::Uuid;

use super::meta::{Counter, bump};
use super::{Store, abort, codec, io, tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::model::{ProfileVisibility, Role, Theme};

/// User settings; unknown keys sent by clients are kept as they are.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    /// Colour theme.
    #[serde(default)]
    pub theme: Theme,
    /// Hide online status and last seen from friends.
    #[serde(default)]
    pub invisible: bool,
    /// Send read receipts (and see others'); off hides both, as in the big chat apps.
    #[serde(default = "yes")]
    pub read_receipts: bool,
    /// Take part in the weekly ranking among friends who also opted in.
    #[serde(default)]
    pub weekly_ranking: bool,
    /// Local AI insights; off deletes what was computed.
    #[serde(default = "yes")]
    pub insights: bool,
    /// Other client settings, kept verbatim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            theme: Theme::default(),
            invisible: false,
            read_receipts: true,
            weekly_ranking: false,
            insights: true,
            extra: serde_json::Map::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// A stored account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserRecord {
    /// Id.
    pub id: Uuid,
    /// Email as typed (unique, case-insensitive).
    pub email: String,
    /// Username as typed (unique, case-insensitive).
    pub username: String,
    /// Display name.
    pub name: String,
    /// Short bio.
    #[serde(default)]
    pub bio: String,
    /// What the user studies.
    #[serde(default)]
    pub study_focus: String,
    /// IANA time zone.
    pub timezone: String,
    /// Client settings.
    #[serde(default)]
    pub settings: Settings,
    /// Who sees the profile details.
    #[serde(default)]
    pub profile_visibility: ProfileVisibility,
    /// Role.
    pub role: Role,
    /// Disabled by staff: cannot log in or refresh.
    #[serde(default)]
    pub disabled: bool,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Avatar media id.
    #[serde(default)]
    pub avatar_id: Option<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last time the user was seen online.
    #[serde(default)]
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Set when the account was deleted: the record stays as an anonymous tombstone.
    #[serde(default)]
    pub deleted_at: Option<DateTime<Utc>>,
    /// The class of a student imported from a roster (shown to staff); empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub class_name: String,
    /// Two-factor login (staff), once set up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<TwoFactor>,
}

impl UserRecord {
    /// A new account with empty profile fields, created `now`.
    pub fn new(
        email: String,
        username: String,
        name: String,
        role: Role,
        password_hash: String,
        timezone: String,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: crate::ids::new_id(),
            email,
            username,
            name,
            bio: String::new(),
            study_focus: String::new(),
            timezone,
            settings: Settings::default(),
            profile_visibility: ProfileVisibility::Everyone,
            role,
            disabled: false,
            password_hash,
            avatar_id: None,
            created_at: now,
            updated_at: now,
            last_seen_at: None,
            deleted_at: None,
            two_factor: None,
            class_name: String::new(),
        }
    }
}

/// An account's two-factor login (TOTP, RFC 6238) and its recovery codes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwoFactor {
    /// The shared secret, base32.
    pub secret: String,
    /// When a first code confirmed it; until then it is being set up and not asked at sign-in.
    pub enabled_at: Option<DateTime<Utc>>,
    /// SHA-256 (hex) of each unused recovery code (normalised).
    pub recovery: Vec<String>,
    /// The last TOTP step used: a code works once.
    pub last_step: u64,
}

impl TwoFactor {
    /// True once confirmed: sign-in asks for a code.
    pub fn enabled(&self) -> bool {
        self.enabled_at.is_some()
    }
}

fn taken(field: &str) -> AppError {
    AppError::Conflict(format!("this {field} is already taken"), vec![FieldError::new(field, format!("{field} is taken"))])
}

/// Reads a user by id (tombstones included).
pub fn get(store: &Store, id: Uuid) -> AppResult<Option<UserRecord>> {
    store.t.users.get(id.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Finds a live user by email or username (case-insensitive).
pub fn find_by_login(store: &Store, login: &str) -> AppResult<Option<UserRecord>> {
    let key = codec::fold(login);
    let index = if key.contains('@') { &store.t.users_by_email } else { &store.t.users_by_username };
    match index.get(key.as_bytes()).map_err(io)? {
        Some(id) => get(store, codec::id_at(&id, 0)?),
        None => Ok(None),
    }
}

/// Whether a username is free (case-insensitive).
pub fn username_free(store: &Store, username: &str) -> AppResult<bool> {
    Ok(!store.t.users_by_username.contains_key(codec::fold(username).as_bytes()).map_err(io)?)
}

/// Inserts a new user with its indexes and counters in one transaction; 409 if email or username is taken.
/// `invite` (if given) is consumed in the same transaction.
pub fn insert(store: &Store, user: &UserRecord, invite: Option<&str>) -> AppResult<()> {
    let t = &store.t;
    let email = codec::fold(&user.email);
    let uname = codec::fold(&user.username);
    let value = codec::enc(user);
    let now = user.created_at;
    tx((&t.users, &t.users_by_email, &t.users_by_username, &t.meta, &t.invites).transaction(|(users, by_email, by_name, meta, invites)| {
        if let Some(code) = invite {
            super::invites::consume_in(invites, code, now)?;
        }
        insert_in(users, by_email, by_name, meta, user, &email, &uname, &value)
    }))
}

/// Inserts one user inside a transaction (409 if e-mail or username is taken; an empty e-mail is
/// not indexed).
#[allow(clippy::too_many_arguments)]
fn insert_in(
    users: &TransactionalTree,
    by_email: &TransactionalTree,
    by_name: &TransactionalTree,
    meta: &TransactionalTree,
    user: &UserRecord,
    email: &str,
    uname: &str,
    value: &[u8],
) -> ConflictableTransactionResult<(), AppError> {
    if !email.is_empty() && by_email.get(email.as_bytes())?.is_some() {
        return abort(taken("email"));
    }
    if by_name.get(uname.as_bytes())?.is_some() {
        return abort(taken("username"));
    }
    if !email.is_empty() {
        by_email.insert(email.as_bytes(), user.id.as_bytes())?;
    }
    by_name.insert(uname.as_bytes(), user.id.as_bytes())?;
    users.insert(user.id.as_bytes(), value)?;
    bump(meta, Counter::Users, 1)?;
    if user.role == Role::Admin {
        bump(meta, Counter::Admins, 1)?;
    }
    Ok(())
}

/// Inserts every account of a roster with its one-time setup code, all or none: 409 (nothing
/// written) if any e-mail or username is taken.
pub fn insert_roster(store: &Store, accounts: &[(UserRecord, super::reset_codes::ResetCode)]) -> AppResult<()> {
    let t = &store.t;
    let rows: Vec<(String, String, Vec<u8>, Vec<u8>)> =
        accounts.iter().map(|(u, code)| (codec::fold(&u.email), codec::fold(&u.username), codec::enc(u), codec::enc(code))).collect();
    tx((&t.users, &t.users_by_email, &t.users_by_username, &t.meta, &t.reset_codes).transaction(
        |(users, by_email, by_name, meta, codes)| {
            for ((user, _), (email, uname, value, code)) in accounts.iter().zip(&rows) {
                insert_in(users, by_email, by_name, meta, user, email, uname, value)?;
                codes.insert(user.id.as_bytes(), code.as_slice())?;
            }
            Ok(())
        },
    ))
}

/// Reads a live (not deleted) user inside a transaction.
fn live_in(users: &TransactionalTree, id: Uuid) -> ConflictableTransactionResult<UserRecord, AppError> {
    let Some(raw) = users.get(id.as_bytes())? else { return abort(AppError::NotFound("user")) };
    let u: UserRecord = codec::dec(&raw).or_else(abort)?;
    if u.deleted_at.is_some() {
        return abort(AppError::NotFound("user"));
    }
    Ok(u)
}

/// Moves a unique index entry from `old` to `new` (case-insensitive); 409 if `new` is taken.
fn move_index(index: &TransactionalTree, old: &str, new: &str, id: Uuid, field: &str) -> ConflictableTransactionResult<(), AppError> {
    let (old, new) = (codec::fold(old), codec::fold(new));
    if old == new {
        return Ok(());
    }
    // An empty value (an account made from a roster without e-mail) is not indexed.
    if !new.is_empty() && index.get(new.as_bytes())?.is_some() {
        return abort(taken(field));
    }
    if !old.is_empty() {
        index.remove(old.as_bytes())?;
    }
    if !new.is_empty() {
        index.insert(new.as_bytes(), id.as_bytes())?;
    }
    Ok(())
}

/// Applies `change` to a user atomically, keeping indexes and counters in step.
/// `change` may run more than once (sled retries conflicts), so it must be pure.
pub fn update<F>(store: &Store, id: Uuid, change: F) -> AppResult<UserRecord>
where
    F: Fn(&mut UserRecord) -> AppResult<()>,
{
    let t = &store.t;
    tx((&t.users, &t.users_by_email, &t.users_by_username, &t.meta).transaction(|(users, by_email, by_name, meta)| {
        let old = live_in(users, id)?;
        let mut new = old.clone();
        if let Err(e) = change(&mut new) {
            return abort(e);
        }
        move_index(by_name, &old.username, &new.username, id, "username")?;
        move_index(by_email, &old.email, &new.email, id, "email")?;
        if old.role != new.role && (old.role == Role::Admin || new.role == Role::Admin) {
            bump(meta, Counter::Admins, if new.role == Role::Admin { 1 } else { -1 })?;
        }
        users.insert(id.as_bytes(), codec::enc(&new))?;
        Ok(new)
    }))
}

/// Turns a user into an anonymous tombstone: personal fields cleared, indexes freed, counters updated.
pub fn tombstone(store: &Store, id: Uuid, at: DateTime<Utc>) -> AppResult<UserRecord> {
    let t = &store.t;
    tx((&t.users, &t.users_by_email, &t.users_by_username, &t.meta).transaction(|(users, by_email, by_name, meta)| {
        let old = live_in(users, id)?;
        by_email.remove(codec::fold(&old.email).as_bytes())?;
        by_name.remove(codec::fold(&old.username).as_bytes())?;
        bump(meta, Counter::Users, -1)?;
        if old.role == Role::Admin {
            bump(meta, Counter::Admins, -1)?;
        }
        let short = id.simple().to_string();
        let dead = UserRecord {
            email: String::new(),
            username: format!("deleted-{}", &short[short.len() - 12..]),
            name: "Deleted user".into(),
            bio: String::new(),
            study_focus: String::new(),
            settings: Settings::default(),
            password_hash: String::new(),
            avatar_id: None,
            disabled: true,
            role: Role::Student,
            updated_at: at,
            last_seen_at: None,
            deleted_at: Some(at),
            two_factor: None,
            class_name: String::new(),
            ..old
        };
        users.insert(id.as_bytes(), codec::enc(&dead))?;
        Ok(dead)
    }))
}

/// Users in id (creation) order after `after`, at most `limit`, tombstones skipped.
pub fn list(store: &Store, after: Option<Uuid>, limit: usize) -> AppResult<Vec<UserRecord>> {
    let start = after.map(|a| a.as_bytes().to_vec());
    let range = match &start {
        Some(s) => store.t.users.range::<&[u8], _>((std::ops::Bound::Excluded(s.as_slice()), std::ops::Bound::Unbounded)),
        None => store.t.users.iter(),
    };
    let mut out = Vec::new();
    for item in range {
        let (_, v) = item.map_err(io)?;
        let u: UserRecord = codec::dec(&v)?;
        if u.deleted_at.is_none() {
            out.push(u);
            if out.len() == limit {
                break;
            }
        }
    }
    Ok(out)
}

/// Raw insert used by restore (indexes rebuilt, counters bumped).
pub(crate) fn restore(store: &Store, user: &UserRecord) -> AppResult<()> {
    if user.deleted_at.is_some() {
        store.t.users.insert(user.id.as_bytes(), codec::enc(user)).map_err(io)?;
        return Ok(());
    }
    insert(store, user, None)
}
