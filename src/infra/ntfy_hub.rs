//! Live ntfy subscriptions: each open `/<topic>/json|sse|ws` stream of a user receives that user's
//! new push messages. Missed ones are read back from the cache (`since`), so a lagging stream
//! loses nothing it cannot fetch again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use uuid::Uuid;

use crate::store::push::NtfyMessage;

/// Messages buffered per user for slow streams.
const BUFFER: usize = 64;

/// A message and its position in the user's cache.
pub type Live = (u64, Arc<NtfyMessage>);

/// User → the channel their streams listen on.
#[derive(Default)]
pub struct NtfyHub {
    users: Mutex<HashMap<Uuid, broadcast::Sender<Live>>>,
}

impl NtfyHub {
    /// Listens for `user`'s new messages.
    pub fn subscribe(&self, user: Uuid) -> broadcast::Receiver<Live> {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        users.retain(|_, tx| tx.receiver_count() > 0);
        users.entry(user).or_insert_with(|| broadcast::channel(BUFFER).0).subscribe()
    }

    /// Hands a new message to `user`'s open streams.
    pub fn publish(&self, user: Uuid, seq: u64, m: NtfyMessage) {
        if let Some(tx) = self.users.lock().unwrap_or_else(|p| p.into_inner()).get(&user) {
            let _ = tx.send((seq, Arc::new(m)));
        }
    }

    /// Ends `user`'s streams (the topic was replaced or revoked).
    pub fn close(&self, user: Uuid) {
        self.users.lock().unwrap_or_else(|p| p.into_inner()).remove(&user);
    }
}
