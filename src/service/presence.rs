//! Who is online: a count of open connections per user. The WebSocket hub registers connections
//! here; profiles and friend lists read it.

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;

/// Open connections per user.
#[derive(Default)]
pub struct Presence {
    online: Mutex<HashMap<Uuid, u32>>,
}

impl Presence {
    /// True while the user has at least one open connection.
    pub fn is_online(&self, user: Uuid) -> bool {
        self.online.lock().unwrap_or_else(|p| p.into_inner()).get(&user).is_some_and(|n| *n > 0)
    }

    /// A connection opened; returns true if it is the user's first.
    pub fn connect(&self, user: Uuid) -> bool {
        let mut m = self.online.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(user).or_insert(0);
        *n += 1;
        *n == 1
    }

    /// A connection closed; returns true if it was the user's last.
    pub fn disconnect(&self, user: Uuid) -> bool {
        let mut m = self.online.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(&user) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                m.remove(&user);
                true
            }
            None => false,
        }
    }
}

/// A connection of `user` opened: returns true when the user just came online.
pub fn online(state: &crate::state::AppState, user: Uuid) -> bool {
    state.presence.connect(user)
}

/// A connection closed while others stay open: only the count changes.
pub fn release(state: &crate::state::AppState, user: Uuid) {
    state.presence.disconnect(user);
}

/// A connection of `user` closed: when it was the last one, `last_seen_at` is stored.
/// Returns true when the user just went offline.
pub async fn offline(state: &crate::state::AppState, user: Uuid) -> crate::error::AppResult<bool> {
    if !state.presence.disconnect(user) {
        return Ok(false);
    }
    let now = state.clock.now();
    state
        .store
        .write(move |s| {
            crate::store::users::update(s, user, |u| {
                u.last_seen_at = Some(now);
                Ok(())
            })
            .map(|_| ())
        })
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_while_any_connection_is_open() {
        let p = Presence::default();
        let u = Uuid::now_v7();
        assert!(!p.is_online(u));
        assert!(p.connect(u));
        assert!(!p.connect(u), "second device");
        assert!(!p.disconnect(u));
        assert!(p.is_online(u));
        assert!(p.disconnect(u), "last device");
        assert!(!p.is_online(u));
        assert!(!p.disconnect(u));
    }
}
