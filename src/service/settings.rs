//! The school's settings (`GET/PATCH /admin/settings`): registration, name, default time zone,
//! who may start private chats, school quiet hours, the message size limit and whether staff
//! must use two-factor login. `config.toml` gives
//! each one's value until an admin changes it; a change is stored, audited with the old and new
//! value, and applies to the next request (no restart).

use serde::{Deserialize, Serialize};

use super::audit::{self, Action, Actor, Target};
use super::auth::ClientInfo;
use super::validate::Errors;
use crate::access::{Admin, Staff};
use crate::config::{DmPolicy, Registration, SchoolSettings, SettingsOverrides};
use crate::error::{AppError, AppResult};
use crate::model::QuietHours;
use crate::state::{AppState, settings_overrides};
use crate::store::meta;

/// Longest school name.
const MAX_SCHOOL_NAME: usize = 100;
/// The message size limit's range, in bytes (a WebSocket frame carries at most 64 KiB).
const MESSAGE_BYTES: std::ops::RangeInclusive<usize> = 16..=32_768;

/// Serialises changes, so that two admins saving at once both keep their change.
static CHANGES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The settings in effect.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct SettingsView {
    /// The values.
    #[serde(flatten)]
    pub settings: SchoolSettings,
    /// The settings changed here; they win over `config.toml`, which gives the others.
    pub changed: Vec<&'static str>,
}

fn view(s: &SchoolSettings, overrides: &SettingsOverrides) -> SettingsView {
    SettingsView { settings: s.clone(), changed: overrides.names() }
}

/// `PATCH /admin/settings` body: any subset.
#[derive(Debug, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// `open`, `invite` or `closed`.
    pub registration: Option<Registration>,
    /// 1–100 characters.
    #[salvo(schema(min_length = 1, max_length = 100, pattern = "\\S"))]
    pub school_name: Option<String>,
    /// An IANA time zone, e.g. `Europe/Paris`.
    #[salvo(schema(min_length = 1, max_length = 64))]
    pub default_timezone: Option<String>,
    /// `friends_only`, `anyone` or `staff_only`.
    pub dm_policy: Option<DmPolicy>,
    /// `HH:MM-HH:MM` (24-hour, may span midnight), or null for none.
    #[serde(default, deserialize_with = "super::double_option")]
    #[salvo(schema(value_type = Option<String>, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub school_quiet_hours: Option<Option<String>>,
    /// 16–32,768.
    #[salvo(schema(minimum = 16, maximum = 32768))]
    pub max_message_bytes: Option<usize>,
    /// Staff must sign in with two-factor login. Turning it on needs the admin's own session to
    /// be signed in with two-factor login (409 otherwise), so no admin locks themselves out.
    pub staff_two_factor: Option<bool>,
}

/// GET /admin/settings (staff).
pub fn get(state: &AppState, _staff: Staff) -> AppResult<SettingsView> {
    Ok(view(&state.settings(), &settings_overrides(&state.store)?))
}

/// Checks `p` and lays it over `o`.
fn merge(mut o: SettingsOverrides, p: SettingsPatch) -> AppResult<SettingsOverrides> {
    let mut e = Errors::new();
    if let Some(r) = p.registration {
        o.registration = Some(r);
    }
    if let Some(name) = p.school_name {
        let name = name.trim().to_string();
        let n = name.chars().count();
        if n == 0 || n > MAX_SCHOOL_NAME || name.chars().any(char::is_control) {
            e.check("school_name", Err(format!("must be 1 to {MAX_SCHOOL_NAME} characters, without control characters")));
        }
        o.school_name = Some(name);
    }
    if let Some(tz) = p.default_timezone {
        if tz.parse::<chrono_tz::Tz>().is_err() {
            e.check("default_timezone", Err("must be an IANA time zone, e.g. Europe/Paris, America/New_York or UTC".into()));
        }
        o.default_timezone = Some(tz);
    }
    if let Some(d) = p.dm_policy {
        o.dm_policy = Some(d);
    }
    match p.school_quiet_hours {
        Some(Some(q)) => {
            let q = q.trim().to_string();
            if QuietHours::parse_range(&q).is_none() {
                e.check("school_quiet_hours", Err("must look like 21:30-07:00 (24-hour start-end), or null for none".into()));
            }
            o.school_quiet_hours = Some(q);
        }
        Some(None) => o.school_quiet_hours = Some(String::new()),
        None => {}
    }
    if let Some(n) = p.max_message_bytes {
        if !MESSAGE_BYTES.contains(&n) {
            e.check("max_message_bytes", Err(format!("must be from {} to {}", MESSAGE_BYTES.start(), MESSAGE_BYTES.end())));
        }
        o.max_message_bytes = Some(n);
    }
    if let Some(b) = p.staff_two_factor {
        o.staff_two_factor = Some(b);
    }
    e.finish()?;
    Ok(o)
}

/// The settings whose value changed, before and after.
fn diff(old: &SchoolSettings, new: &SchoolSettings) -> Option<(serde_json::Value, serde_json::Value)> {
    let (serde_json::Value::Object(a), serde_json::Value::Object(b)) = (serde_json::json!(old), serde_json::json!(new)) else {
        return None;
    };
    let keys: Vec<&String> = b.keys().filter(|k| a.get(*k) != b.get(*k)).collect();
    if keys.is_empty() {
        return None;
    }
    let pick = |m: &serde_json::Map<String, serde_json::Value>| keys.iter().map(|k| ((*k).clone(), m[*k].clone())).collect();
    Some((serde_json::Value::Object(pick(&a)), serde_json::Value::Object(pick(&b))))
}

/// PATCH /admin/settings (admins): stores the change, records it, applies it at once.
pub async fn patch(state: &AppState, admin: Admin, p: SettingsPatch, client: ClientInfo) -> AppResult<SettingsView> {
    let _one_at_a_time = CHANGES.lock().await;
    let before = settings_overrides(&state.store)?;
    let after = merge(before.clone(), p)?;
    let (old, new) = (before.over(&state.config), after.over(&state.config));
    if new.staff_two_factor && !old.staff_two_factor && !super::two_factor::session_confirmed(state, admin.caller())? {
        return Err(AppError::Conflict(
            "turn on two-factor login for your own account and sign in with it first, so you keep access to the admin".into(),
            vec![crate::error::FieldError::new("staff_two_factor", "your own session is not signed in with two-factor login")],
        ));
    }
    let actor = Actor::user(state, admin.caller(), &client)?;
    let now = state.clock.now();
    let stored = serde_json::to_value(&after).map_err(AppError::internal)?;
    state
        .store
        .write(move |s| {
            meta::put_settings_overrides(s, &stored)?;
            match diff(&old, &new) {
                Some((o, n)) => {
                    audit::record(s, now, &actor, Action::on("settings.update", Target::new("settings", "school")).old(o).new_values(n))
                }
                None => Ok(()),
            }
        })
        .await?;
    state.apply_settings(&after);
    Ok(view(&state.settings(), &after))
}
