//! The WebSocket hub: a bounded outgoing queue per connection in a registry owned by the app
//! state, one-time tickets for browsers, and typing indicators that expire by themselves.

pub mod connection;
pub mod presence;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use uuid::Uuid;

use crate::service::auth::AuthUser;

/// Frames waiting for a slow client before it is disconnected.
pub const QUEUE: usize = 256;
/// A typing indicator ends by itself after this long without `typing.start`.
pub const TYPING_TTL: Duration = Duration::from_secs(5);
/// Lifetime of a browser ticket.
pub const TICKET_TTL_SECS: i64 = 30;

struct Conn {
    id: u64,
    tx: mpsc::Sender<Arc<str>>,
}

/// All live connections.
#[derive(Default)]
pub struct Hub {
    conns: Mutex<HashMap<Uuid, Vec<Conn>>>,
    next: AtomicU64,
    tickets: Mutex<HashMap<String, (AuthUser, i64)>>,
    typing: Mutex<HashMap<(Uuid, Uuid), Instant>>,
}

impl Hub {
    /// Registers a connection of `user`; returns its id and the queue to drain.
    pub fn register(&self, user: Uuid) -> (u64, mpsc::Receiver<Arc<str>>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).entry(user).or_default().push(Conn { id, tx });
        (id, rx)
    }

    /// Removes a connection (its guard calls this on drop).
    pub fn unregister(&self, user: Uuid, id: u64) {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = conns.get_mut(&user) {
            list.retain(|c| c.id != id);
            if list.is_empty() {
                conns.remove(&user);
            }
        }
    }

    /// Open connections of a user.
    pub fn count(&self, user: Uuid) -> usize {
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).get(&user).map_or(0, Vec::len)
    }

    /// Queues `frame` for every connection of `users`. A connection whose queue is full is
    /// dropped from the registry (its task then closes the socket; the client resyncs).
    pub fn send(&self, users: &[Uuid], frame: &Arc<str>) {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        for u in users {
            if let Some(list) = conns.get_mut(u) {
                list.retain(|c| c.tx.try_send(frame.clone()).is_ok());
            }
        }
    }

    /// Users with at least one connection, among `users`.
    pub fn online(&self, users: &[Uuid]) -> Vec<Uuid> {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        users.iter().copied().filter(|u| conns.contains_key(u)).collect()
    }

    /// Issues a one-time ticket for a browser connection.
    pub fn ticket(&self, user: AuthUser, now: i64) -> String {
        let t = crate::service::tokens::random_secret(24);
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        tickets.retain(|_, (_, exp)| *exp > now);
        tickets.insert(t.clone(), (user, now + TICKET_TTL_SECS));
        t
    }

    /// Consumes a ticket.
    pub fn redeem(&self, ticket: &str, now: i64) -> Option<AuthUser> {
        let (user, exp) = self.tickets.lock().unwrap_or_else(|p| p.into_inner()).remove(ticket)?;
        (exp >= now).then_some(user)
    }

    /// Marks `user` typing in `chat`; true when this starts a new indicator.
    pub fn typing_start(&self, chat: Uuid, user: Uuid) -> bool {
        self.typing.lock().unwrap_or_else(|p| p.into_inner()).insert((chat, user), Instant::now()).is_none()
    }

    /// Ends an indicator; true if there was one.
    pub fn typing_stop(&self, chat: Uuid, user: Uuid) -> bool {
        self.typing.lock().unwrap_or_else(|p| p.into_inner()).remove(&(chat, user)).is_some()
    }

    /// Removes and returns indicators older than [`TYPING_TTL`].
    pub fn typing_expired(&self) -> Vec<(Uuid, Uuid)> {
        let mut typing = self.typing.lock().unwrap_or_else(|p| p.into_inner());
        let old: Vec<(Uuid, Uuid)> = typing.iter().filter(|(_, t)| t.elapsed() >= TYPING_TTL).map(|(k, _)| *k).collect();
        for k in &old {
            typing.remove(k);
        }
        old
    }
}

/// Ends typing indicators nobody refreshed (every second).
pub fn spawn_typing_sweeper(state: Arc<crate::state::AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            for (chat, user) in state.hub.typing_expired() {
                if let Err(e) = crate::service::chat::send_typing(&state, chat, user, false) {
                    tracing::debug!(error = %e, "typing expiry");
                }
            }
        }
    })
}
