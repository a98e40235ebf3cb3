//! What the API returns for users: built here, once, so every endpoint shows the same fields.

use serde::Serialize;
use uuid::Uuid;

use super::media::signed_url;
use super::social::Friendship;
use crate::clock::rfc3339;
use crate::model::{ProfileVisibility, Role};
use crate::state::AppState;
use crate::store::users::{Settings, UserRecord};

/// A user as the API shows it. `email`, `timezone`, `settings`, `profile_visibility` and
/// `disabled` appear only on the caller's own profile (and to staff); `friendship` only on
/// someone else's profile.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct UserView {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// Email: own profile only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Username.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Bio (empty when hidden by `profile_visibility`).
    pub bio: String,
    /// Study focus (empty when hidden by `profile_visibility`).
    pub study_focus: String,
    /// Signed URL of the avatar, valid for `media.url_ttl_secs`.
    pub profile_photo_url: Option<String>,
    /// True while the user has a live connection (and shares presence).
    pub is_online: bool,
    /// Last time seen online (RFC 3339).
    pub last_seen_at: Option<String>,
    /// Role.
    pub role: Role,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Own profile: IANA time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Own profile: client settings (`theme`: light | dark | system, plus any other keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[salvo(schema(value_type = Option<Object>))]
    pub settings: Option<Settings>,
    /// Own profile: who sees bio and study focus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_visibility: Option<ProfileVisibility>,
    /// Own profile and staff: whether the account is disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Staff: the class a roster import gave the student.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Own profile and staff: whether sign-in asks for a two-factor code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<bool>,
    /// Friends only: what they are studying right now (their study timer runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub studying_now: Option<super::timer::StudyingNow>,
    /// Someone else's profile: `none | friends | request_sent | request_received | blocked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub friendship: Option<Friendship>,
}

/// How much of a profile the viewer may see.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The user themself.
    Own,
    /// Staff (admin tools).
    Staff,
    /// Another user; `details` is false when `profile_visibility` hides them, `presence` is true
    /// for friends of a user who is not invisible.
    Other {
        /// Show bio and study focus.
        details: bool,
        /// Show online status and last seen.
        presence: bool,
    },
}

/// Builds the view of `u` for `audience`.
pub fn user_view(state: &AppState, u: &UserRecord, audience: Audience) -> UserView {
    let own = audience == Audience::Own;
    let private = matches!(audience, Audience::Own | Audience::Staff);
    let (details, presence) = match audience {
        Audience::Other { details, presence } => (details, presence),
        Audience::Own => (true, true),
        Audience::Staff => (true, false),
    };
    UserView {
        id: u.id,
        email: private.then(|| u.email.clone()),
        username: u.username.clone(),
        name: u.name.clone(),
        bio: if details { u.bio.clone() } else { String::new() },
        study_focus: if details { u.study_focus.clone() } else { String::new() },
        profile_photo_url: u.avatar_id.map(|id| signed_url(state, id, false)),
        is_online: presence && state.presence.is_online(u.id),
        last_seen_at: if presence { u.last_seen_at.map(rfc3339) } else { None },
        role: u.role,
        created_at: rfc3339(u.created_at),
        timezone: own.then(|| u.timezone.clone()),
        settings: own.then(|| u.settings.clone()),
        profile_visibility: own.then_some(u.profile_visibility),
        disabled: private.then_some(u.disabled),
        class: (audience == Audience::Staff && !u.class_name.is_empty()).then(|| u.class_name.clone()),
        two_factor: private.then(|| u.two_factor.as_ref().is_some_and(|t| t.enabled())),
        friendship: (!private).then_some(Friendship::None),
        studying_now: None,
    }
}
