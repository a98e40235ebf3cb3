//! Presence: online with the first connection, offline when the last one closed (the socket
//! layer waits a short grace period first), `studying_now` with the study timer. Announced as
//! ephemeral `presence` events to the user's friends, unless the user is invisible.

use serde_json::json;
use uuid::Uuid;

use crate::clock::rfc3339;
use crate::error::AppResult;
use crate::events::{Audience, Event};
use crate::state::AppState;
use crate::store::users;

/// Sends a `presence` event about `user` to their friends, unless they are invisible.
fn announce(state: &AppState, user: Uuid, fields: impl FnOnce(&users::UserRecord) -> serde_json::Value) {
    let Ok(Some(u)) = users::get(&state.store, user) else { return };
    if u.settings.invisible {
        return;
    }
    state.events.ephemeral(Event::new("presence", Audience::FriendsOf(user), fields(&u)));
}

/// A connection of `user` opened: when it is the first, friends hear that the user is online.
pub fn connected(state: &AppState, user: Uuid) {
    super::dashboard::seen(state, user);
    if state.presence.connect(user) {
        announce(state, user, |_| json!({ "user_id": user, "is_online": true, "last_seen_at": null }));
    }
}

/// A connection of `user` closed while others stay open: only the count changes.
pub fn release(state: &AppState, user: Uuid) {
    state.presence.disconnect(user);
}

/// A connection of `user` closed: when it was the last one, `last_seen_at` is stored and friends
/// hear that the user went offline.
pub async fn disconnected(state: &AppState, user: Uuid) -> AppResult<()> {
    if !state.presence.disconnect(user) {
        return Ok(());
    }
    let now = state.clock.now();
    state
        .store
        .write(move |s| {
            users::update(s, user, |u| {
                u.last_seen_at = Some(now);
                Ok(())
            })
            .map(|_| ())
        })
        .await?;
    announce(state, user, |_| json!({ "user_id": user, "is_online": false, "last_seen_at": rfc3339(now) }));
    Ok(())
}

/// Tells friends that `user` started or stopped studying.
pub fn studying_changed(state: &AppState, user: Uuid) {
    let now = super::timer::studying_now(state, user);
    let online = state.presence.is_online(user);
    announce(
        state,
        user,
        |u| json!({ "user_id": user, "is_online": online, "last_seen_at": u.last_seen_at.map(rfc3339), "studying_now": now }),
    );
}
