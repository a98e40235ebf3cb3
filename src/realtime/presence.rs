//! Presence over sockets: the first connection makes a user online, and the last one closing
//! makes them offline after a short grace period (a Wi-Fi blip does not flap).

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::Hub;
use crate::service::presence;
use crate::state::AppState;

/// How long a user stays online after their last socket closed.
pub const GRACE: Duration = Duration::from_secs(3);

/// A socket of `user` opened.
pub fn connected(state: &AppState, user: Uuid) {
    presence::connected(state, user);
}

/// A socket of `user` closed: after the grace period, if none reopened, the user goes offline.
pub fn disconnected(state: Arc<AppState>, hub: Arc<Hub>, user: Uuid) {
    tokio::spawn(async move {
        if hub.count(user) > 0 {
            presence::release(&state, user);
            return;
        }
        tokio::time::sleep(GRACE).await;
        if let Err(e) = presence::disconnected(&state, user).await {
            tracing::warn!(error = %e, "could not store last_seen_at");
        }
    });
}
