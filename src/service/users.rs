//! Profiles: the caller's own profile, public profiles, account deletion and data export.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::{SessionView, session_view};
use super::media::{self, MediaView};
use super::social;
use super::validate::{self, Errors};
use super::views::{Audience, UserView, user_view};
use crate::access::Caller;
use crate::error::{AppError, AppResult};
use crate::model::{ProfileVisibility, Theme};
use crate::state::AppState;
use crate::store::users::{self, UserRecord};
use crate::store::{media as media_store, sessions};

/// PATCH /me body: every field optional; `settings` keys are merged into the stored settings
/// (a key set to `null` is removed).
#[derive(Debug, Default, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Display name (1–100 characters).
    pub name: Option<String>,
    /// Username (unique).
    pub username: Option<String>,
    /// Bio (≤ 500 characters).
    pub bio: Option<String>,
    /// Study focus (≤ 100 characters).
    pub study_focus: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// Settings to merge; `theme` must be light, dark or system; `invisible`, `read_receipts`,
    /// `weekly_ranking` and `insights` (local AI insights, on by default; false deletes what was
    /// computed) are booleans.
    #[salvo(schema(value_type = Option<Object>))]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
    /// everyone | friends.
    pub profile_visibility: Option<ProfileVisibility>,
}

const MAX_SETTINGS_BYTES: usize = 8 * 1024;

/// Reads a live user or 404.
pub fn live_user(state: &AppState, id: Uuid) -> AppResult<UserRecord> {
    users::get(&state.store, id)?.filter(|u| u.deleted_at.is_none()).ok_or(AppError::NotFound("user"))
}

/// GET /me.
pub fn me(state: &AppState, me: Caller) -> AppResult<UserView> {
    Ok(user_view(state, &live_user(state, me.id())?, Audience::Own))
}

fn check_patch(p: &ProfilePatch) -> AppResult<()> {
    let mut e = Errors::new();
    if let Some(v) = &p.name {
        e.check("name", validate::text(v, 100, true));
    }
    if let Some(v) = &p.username {
        e.check("username", validate::username(v));
    }
    if let Some(v) = &p.bio {
        e.check("bio", validate::text(v, 500, false));
    }
    if let Some(v) = &p.study_focus {
        e.check("study_focus", validate::text(v, 100, false));
    }
    if let Some(v) = &p.timezone {
        e.check("timezone", validate::timezone(v));
    }
    if let Some(s) = &p.settings {
        if let Some(t) = s.get("theme").filter(|t| !t.is_null()) {
            e.check(
                "settings.theme",
                serde_json::from_value::<Theme>(t.clone()).map(|_| ()).map_err(|_| "must be light, dark or system".to_string()),
            );
        }
        if serde_json::to_vec(s).map(|v| v.len()).unwrap_or(usize::MAX) > MAX_SETTINGS_BYTES {
            e.check("settings", Err(format!("must be at most {MAX_SETTINGS_BYTES} bytes of JSON")));
        }
    }
    e.finish()
}

/// PATCH /me: validated, atomic (username uniqueness holds under races), durable.
pub async fn patch_me(state: &AppState, me: Caller, p: ProfilePatch) -> AppResult<UserView> {
    check_patch(&p)?;
    let renamed = p.name.is_some() || p.username.is_some();
    let now = state.clock.now();
    let user = state
        .store
        .write(move |s| {
            users::update(s, me.id(), |u| {
                if let Some(v) = &p.name {
                    u.name = v.trim().to_string();
                }
                if let Some(v) = &p.username {
                    u.username = v.clone();
                }
                if let Some(v) = &p.bio {
                    u.bio = v.clone();
                }
                if let Some(v) = &p.study_focus {
                    u.study_focus = v.trim().to_string();
                }
                if let Some(v) = &p.timezone {
                    u.timezone = v.clone();
                }
                if let Some(v) = p.profile_visibility {
                    u.profile_visibility = v;
                }
                if let Some(patch) = &p.settings {
                    merge_settings(u, patch)?;
                }
                u.updated_at = now;
                Ok(())
            })
        })
        .await?;
    super::social::index_user(state, &user);
    if !user.settings.insights {
        super::insights::forget(state, user.id).await?;
    }
    if renamed {
        super::notes::reindex_author(state, &user)?;
    }
    Ok(user_view(state, &user, Audience::Own))
}

fn merge_settings(u: &mut UserRecord, patch: &serde_json::Map<String, serde_json::Value>) -> AppResult<()> {
    let mut all = match serde_json::to_value(&u.settings) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    for (k, v) in patch {
        if v.is_null() {
            all.remove(k);
        } else {
            all.insert(k.clone(), v.clone());
        }
    }
    u.settings = serde_json::from_value(serde_json::Value::Object(all)).map_err(|_| AppError::field("settings", "invalid settings"))?;
    Ok(())
}

/// GET /users/{id_or_username}: 404 for unknown, deleted or disabled accounts and for users who
/// blocked the caller.
pub fn public_profile(state: &AppState, me: Caller, key: &str) -> AppResult<UserView> {
    let id = match crate::ids::parse(key) {
        Some(id) => Some(id),
        None if !key.contains('@') => users::find_by_login(&state.store, key)?.map(|u| u.id),
        None => None,
    };
    let user = social::visible_to(state, me, id.ok_or(AppError::NotFound("user"))?)?;
    social::view_for(state, me, &user)
}

/// DELETE /me: password confirmed; personal data removed, the account kept as an anonymous tombstone
/// so that others' history stays readable.
pub async fn delete_me(state: &std::sync::Arc<AppState>, me: Caller, password: String) -> AppResult<()> {
    let user = live_user(state, me.id())?;
    super::auth::confirm_password(state, &user, password, "password").await?;
    super::chat::leave_all(state, me).await?;
    let now = state.clock.now();
    let st = state.clone();
    let (orphans, notes) = state
        .store
        .write(move |s| {
            sessions::revoke_all(s, me.id(), None)?;
            let mut orphans = Vec::new();
            for m in media_store::list_by_owner(s, me.id())? {
                orphans.extend(media_store::remove(s, m.id)?);
            }
            crate::store::social::forget_user(s, me.id(), now)?;
            crate::store::activity::delete_all(s, me.id())?;
            crate::store::goals::delete_all(s, me.id())?;
            crate::store::report_runs::delete_all(s, me.id())?;
            crate::store::insights::delete_all(s, me.id())?;
            crate::store::notifications::delete_all(s, me.id())?;
            crate::store::push::delete_all(s, me.id())?;
            crate::store::web_push::delete_all(s, me.id())?;
            let notes = super::notes::forget(&st, s, me.id())?;
            users::tombstone(s, me.id(), now)?;
            Ok((orphans, notes))
        })
        .await?;
    super::auth::sessions_ended(state, me.id());
    super::notes::unindex(state, &notes);
    state.user_index.remove(me.id());
    for b in orphans {
        state.blobs.remove(&b);
    }
    Ok(())
}

/// Everything stored about the caller.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct Export {
    /// Export format version.
    pub format_version: u32,
    /// When it was made (RFC 3339).
    pub exported_at: String,
    /// Own profile.
    pub profile: UserView,
    /// Signed-in devices.
    pub sessions: Vec<SessionView>,
    /// Uploaded files, with signed download URLs.
    pub media: Vec<MediaView>,
    /// Friends, friend requests and blocks.
    pub social: social::SocialExport,
    /// Messages the caller wrote.
    pub messages: Vec<super::chat::MessageView>,
    /// Daily activity logs.
    pub activities: Vec<super::activity::LogView>,
    /// Goals.
    pub goals: Vec<super::goals::GoalView>,
    /// Notes written and notes liked.
    pub notes: super::notes::NotesExport,
    /// The inbox, newest first.
    pub notifications: Vec<super::notifications::NotificationView>,
    /// Notification preferences.
    pub notification_settings: super::notifications::SettingsView,
    /// The latest insights (none when turned off or never computed).
    pub insights: Option<super::insights::InsightsView>,
    /// Reports the caller sent, with their status and outcome.
    pub reports: Vec<super::moderation::MyReport>,
    /// Announcements sent to the caller, with when they acknowledged each.
    pub announcements: Vec<super::announcements::AnnouncementView>,
}

/// GET /me/export.
pub fn export(state: &AppState, me: Caller) -> AppResult<Export> {
    let profile = user_view(state, &live_user(state, me.id())?, Audience::Own);
    let sessions = sessions::list(&state.store, me.id())?.iter().map(|s| session_view(s, me.session_id())).collect();
    let media = media_store::list_by_owner(&state.store, me.id())?.iter().map(|m| media::view(state, m, me.id())).collect();
    let social = social::export(state, me.id())?;
    let messages = super::chat::export(state, me.id())?;
    let activities = super::activity::export(state, me.id())?;
    let goals = super::goals::export(state, me.id())?;
    let notes = super::notes::export(state, me.id())?;
    let notifications = super::notifications::export(state, me.id())?;
    let notification_settings = super::notifications::settings(state, me)?;
    let insights = super::insights::export(state, me.id())?;
    let reports = super::moderation::export(state, me)?;
    let announcements = super::announcements::export(state, me)?;
    Ok(Export {
        format_version: 1,
        exported_at: crate::clock::rfc3339(state.clock.now()),
        profile,
        sessions,
        media,
        social,
        messages,
        activities,
        goals,
        notes,
        notifications,
        notification_settings,
        insights,
        reports,
        announcements,
    })
}
