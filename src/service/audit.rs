//! The audit log: every staff action recorded with who, what, on what, the values before and
//! after, when and from which address; read by admins (`GET /admin/audit-log`). Entries are
//! written in the same write as the action they describe and nothing edits or deletes them.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::auth::ClientInfo;
use crate::access::{Admin, Caller};
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::audit::{self, AuditRecord};
use crate::store::{Store, users};

/// Entries one page may skip over while filtering before it answers with a cursor.
const SCAN_BUDGET: usize = 5_000;

/// Who acts: a staff account from an address, or the operator at the server's console.
#[derive(Clone, Debug)]
pub struct Actor {
    id: Option<Uuid>,
    name: String,
    ip: Option<String>,
}

impl Actor {
    /// A signed-in staff member (or the new admin of `/setup`) acting from `client`.
    pub fn user(state: &AppState, caller: Caller, client: &ClientInfo) -> AppResult<Self> {
        Self::account(state, caller.id(), client)
    }

    /// The account `id` acting from `client`.
    pub fn account(state: &AppState, id: Uuid, client: &ClientInfo) -> AppResult<Self> {
        let name = users::get(&state.store, id)?.map(|u| u.username).unwrap_or_else(|| id.to_string());
        Ok(Self { id: Some(id), name, ip: Some(client.ip.clone()) })
    }

    /// The operator at the server's console (`friend admin create`, `friend restore`).
    pub fn operator() -> Self {
        Self { id: None, name: "operator".into(), ip: None }
    }
}

/// What was acted on.
pub struct Target {
    kind: &'static str,
    id: String,
}

impl Target {
    /// `kind` (`user`, `invite`, `backup`, ...) with its id.
    pub fn new(kind: &'static str, id: impl ToString) -> Self {
        Self { kind, id: id.to_string() }
    }
}

/// One action to record.
pub struct Action {
    /// `user.create`, `user.update`, ...
    pub name: &'static str,
    /// What it acted on.
    pub target: Option<Target>,
    /// Values before (those it changed).
    pub old: Option<Value>,
    /// Values after.
    pub new: Option<Value>,
}

impl Action {
    /// An action on `target` with no values.
    pub fn on(name: &'static str, target: Target) -> Self {
        Self { name, target: Some(target), old: None, new: None }
    }

    /// With the values before.
    pub fn old(mut self, v: Value) -> Self {
        self.old = Some(v);
        self
    }

    /// With the values after.
    pub fn new_values(mut self, v: Value) -> Self {
        self.new = Some(v);
        self
    }
}

/// Appends `action` by `actor` inside a write (the action's own, so both are durable together).
pub fn record(store: &Store, now: chrono::DateTime<chrono::Utc>, actor: &Actor, action: Action) -> AppResult<()> {
    let (target_type, target_id) = match action.target {
        Some(t) => (Some(t.kind.to_string()), Some(t.id)),
        None => (None, None),
    };
    audit::append(
        store,
        &AuditRecord {
            id: crate::ids::new_id(),
            at: now,
            actor_id: actor.id,
            actor: actor.name.clone(),
            action: action.name.to_string(),
            target_type,
            target_id,
            old: action.old,
            new: action.new,
            ip: actor.ip.clone(),
        },
    )
}

/// Records `action` in a write of its own, durable before this returns.
pub async fn log(state: &AppState, actor: Actor, action: Action) -> AppResult<()> {
    let now = state.clock.now();
    state.store.write(move |s| record(s, now, &actor, action)).await
}

/// An audit-log entry as the API shows it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct AuditEntryView {
    /// Entry id (time-ordered; the cursor).
    pub id: Uuid,
    /// When (RFC 3339).
    pub at: String,
    /// The staff account that acted; null for the operator at the server's console.
    pub actor_id: Option<Uuid>,
    /// Its username at the time, or `operator`.
    pub actor: String,
    /// `setup.first_admin`, `user.create`, `user.update`, `user.reset_code`,
    /// `user.import` (a roster), `user.reset_password` (console), `user.two_factor_on`, `user.two_factor_off`,
    /// `user.two_factor_reset` (by an admin or the console), `invite.create`, `invite.delete`, `settings.update`,
    /// `backup.create`, `backup.restore`, ...
    pub action: String,
    /// `user`, `invite`, `backup`, ...
    pub target_type: Option<String>,
    /// The target's id (user id, invite code, backup file).
    pub target_id: Option<String>,
    /// A user target's current username (null for other targets or a deleted account).
    pub target_name: Option<String>,
    /// Values before the action (only those it changed; never a password or code).
    #[salvo(schema(value_type = Option<Object>))]
    pub old: Option<Value>,
    /// Values after it.
    #[salvo(schema(value_type = Option<Object>))]
    pub new: Option<Value>,
    /// Address the request came from; null from the console.
    pub ip: Option<String>,
}

fn view(state: &AppState, r: AuditRecord) -> AppResult<AuditEntryView> {
    let user = match (r.target_type.as_deref(), r.target_id.as_deref().and_then(|t| Uuid::try_parse(t).ok())) {
        (Some("user"), Some(id)) => users::get(&state.store, id)?.filter(|u| u.deleted_at.is_none()),
        _ => None,
    };
    Ok(AuditEntryView {
        target_name: user.map(|u| u.username),
        id: r.id,
        at: rfc3339(r.at),
        actor_id: r.actor_id,
        actor: r.actor,
        action: r.action,
        target_type: r.target_type,
        target_id: r.target_id,
        old: r.old,
        new: r.new,
        ip: r.ip,
    })
}

/// Filters of `GET /admin/audit-log`.
#[derive(Debug, Default)]
pub struct Filter {
    /// Only this staff account's actions.
    pub actor_id: Option<Uuid>,
    /// Only this action (`user.update`) or family (`user`).
    pub action: Option<String>,
    /// Only actions on this target id.
    pub target_id: Option<String>,
}

impl Filter {
    fn keeps(&self, r: &AuditRecord) -> bool {
        let action =
            self.action.as_deref().is_none_or(|a| r.action == a || r.action.strip_prefix(a).is_some_and(|rest| rest.starts_with('.')));
        action
            && self.actor_id.is_none_or(|id| r.actor_id == Some(id))
            && self.target_id.as_ref().is_none_or(|t| r.target_id.as_ref() == Some(t))
    }
}

/// GET /admin/audit-log: newest first. A page may hold fewer than `limit` entries when the
/// filters skipped many: follow `next_cursor` until null.
pub fn list(
    state: &AppState,
    _admin: Admin,
    filter: &Filter,
    cursor: Option<&str>,
    limit: usize,
) -> AppResult<(Vec<AuditEntryView>, Option<String>)> {
    let before = cursor.map(|c| Uuid::try_parse(c).map_err(|_| AppError::field("cursor", "invalid cursor"))).transpose()?;
    let mut items = Vec::new();
    for (scanned, r) in audit::newest_first(&state.store, before).enumerate() {
        let r = r?;
        let id = r.id;
        if filter.keeps(&r) {
            items.push(view(state, r)?);
        }
        if items.len() == limit || scanned + 1 == SCAN_BUDGET {
            return Ok((items, Some(id.to_string())));
        }
    }
    Ok((items, None))
}
