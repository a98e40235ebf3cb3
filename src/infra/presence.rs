//! Who is online: a count of open connections per user. The WebSocket hub registers connections
//! here (through `service::presence`); profiles and friend lists read it.

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
