//! Presence over sockets: online with the first connection, offline a short grace period after
//! the last one closes (a Wi-Fi blip does not flap), announced to online friends only.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::state::AppState;

/// How long a user stays online after their last socket closed.
pub const GRACE: Duration = Duration::from_secs(3);

/// Sends a `presence` frame about `user` to their online friends, unless they are invisible.
fn to_friends(state: &AppState, user: Uuid, frame: impl FnOnce(&crate::store::users::UserRecord) -> serde_json::Value) {
    let Ok(Some(u)) = crate::store::users::get(&state.store, user) else { return };
    if u.settings.invisible {
        return;
    }
    let friends = crate::store::social::friend_ids(&state.store, user).unwrap_or_default();
    let online_friends = state.hub.online(&friends);
    let text: Arc<str> = frame(&u).to_string().into();
    state.hub.send(&online_friends, &text);
}

fn announce(state: &AppState, user: Uuid, online: bool, last_seen: Option<String>) {
    to_friends(state, user, |_| json!({ "type": "presence", "user_id": user, "is_online": online, "last_seen_at": last_seen }));
}

/// A socket of `user` opened.
pub fn connected(state: &AppState, user: Uuid) {
    if crate::service::presence::online(state, user) {
        announce(state, user, true, None);
    }
}

/// A socket of `user` closed: after the grace period, if none reopened, the user goes offline.
pub fn disconnected(state: Arc<AppState>, user: Uuid) {
    tokio::spawn(async move {
        if state.hub.count(user) > 0 {
            crate::service::presence::release(&state, user);
            return;
        }
        tokio::time::sleep(GRACE).await;
        match crate::service::presence::offline(&state, user).await {
            Ok(true) => announce(&state, user, false, Some(crate::clock::rfc3339(state.clock.now()))),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not store last_seen_at"),
        }
    });
}

/// Tells online friends that `user` started or stopped studying.
pub fn announce_studying(state: &AppState, user: Uuid) {
    let now = crate::service::timer::studying_now(state, user);
    let online = state.presence.is_online(user);
    to_friends(state, user, |u| {
        json!({
            "type": "presence", "user_id": user, "is_online": online,
            "last_seen_at": u.last_seen_at.map(crate::clock::rfc3339), "studying_now": now
        })
    });
}
