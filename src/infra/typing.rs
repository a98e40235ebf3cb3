//! Who is typing where: an indicator per (chat, user) that ends by itself after [`TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// A typing indicator ends by itself after this long without `typing.start`.
pub const TTL: Duration = Duration::from_secs(5);

/// The live indicators.
#[derive(Default)]
pub struct Typing {
    active: Mutex<HashMap<(Uuid, Uuid), Instant>>,
}

impl Typing {
    /// Marks `user` typing in `chat`; true when this starts a new indicator.
    pub fn start(&self, chat: Uuid, user: Uuid) -> bool {
        self.active.lock().unwrap_or_else(|p| p.into_inner()).insert((chat, user), Instant::now()).is_none()
    }

    /// Ends an indicator; true if there was one.
    pub fn stop(&self, chat: Uuid, user: Uuid) -> bool {
        self.active.lock().unwrap_or_else(|p| p.into_inner()).remove(&(chat, user)).is_some()
    }

    /// Removes and returns indicators older than [`TTL`].
    pub fn expired(&self) -> Vec<(Uuid, Uuid)> {
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        let old: Vec<(Uuid, Uuid)> = active.iter().filter(|(_, t)| t.elapsed() >= TTL).map(|(k, _)| *k).collect();
        for k in &old {
            active.remove(k);
        }
        old
    }
}
