//! The WebSocket hub: a bounded outgoing queue per connection in a registry, and one-time tickets
//! for browsers. It is a subscriber of the event log (registered at start-up in `lib.rs`): every
//! published event is rendered by `service::frames` for the online members of its audience.

pub mod connection;
pub mod outbox;
pub mod presence;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};

use uuid::Uuid;

use crate::access::Caller;
use crate::events::{Audience, Published, Subscriber};
use crate::state::AppState;

/// Frames waiting for a slow client before it is disconnected.
pub const QUEUE: usize = 256;
/// Lifetime of a browser ticket.
pub const TICKET_TTL_SECS: i64 = 30;

/// What a connection's task is asked to do.
#[derive(Debug)]
pub enum Outgoing {
    /// Send this frame.
    Frame(Arc<str>),
    /// Close the socket with this code and reason (the session ended).
    Close(u16, &'static str),
}

/// Close code when the session behind a socket ended (signed out, password changed, disabled).
pub const CLOSE_SESSION_ENDED: u16 = 4001;

struct Conn {
    id: u64,
    session: Uuid,
    staff: bool,
    tx: outbox::Sender,
}

/// All live connections.
pub struct Hub {
    state: Weak<AppState>,
    conns: Mutex<HashMap<Uuid, Vec<Conn>>>,
    /// Connection tasks still running per user (a socket counts toward the cap until its task
    /// ends, even after it was dropped from `conns` for reading too slowly).
    tasks: Mutex<HashMap<Uuid, usize>>,
    next: AtomicU64,
    tickets: Mutex<HashMap<String, (Caller, i64)>>,
}

impl Hub {
    /// An empty hub that renders events with `state`.
    pub fn new(state: Weak<AppState>) -> Self {
        Self { state, conns: Mutex::default(), tasks: Mutex::default(), next: AtomicU64::new(0), tickets: Mutex::default() }
    }

    /// Registers a connection of `caller`; returns its id and the queue to drain.
    pub fn register(&self, caller: Caller) -> (u64, outbox::Outbox) {
        let (tx, rx) = outbox::outbox(QUEUE);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Conn { id, session: caller.session_id(), staff: caller.staff().is_some(), tx };
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).entry(caller.id()).or_default().push(conn);
        *self.tasks.lock().unwrap_or_else(|p| p.into_inner()).entry(caller.id()).or_default() += 1;
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
        drop(conns);
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = tasks.get_mut(&user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                tasks.remove(&user);
            }
        }
    }

    /// Open connections of a user (until their tasks end).
    pub fn count(&self, user: Uuid) -> usize {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner()).get(&user).copied().unwrap_or(0)
    }

    /// Queues `frame` for every connection of `users`. A connection whose queue is full is
    /// dropped from the registry (its task then closes the socket; the client resyncs).
    pub fn send(&self, users: &[Uuid], frame: &Arc<str>) {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        for u in users {
            if let Some(list) = conns.get_mut(u) {
                list.retain(|c| c.tx.try_send(Outgoing::Frame(frame.clone())));
            }
        }
    }

    /// Users with at least one connection, among `users`.
    pub fn online(&self, users: &[Uuid]) -> Vec<Uuid> {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        users.iter().copied().filter(|u| conns.contains_key(u)).collect()
    }

    /// Closes, at once, the sockets of `user` whose session ended.
    fn close_ended_sessions(&self, state: &AppState, user: Uuid) {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let Some(list) = conns.get_mut(&user) else { return };
        list.retain(|c| {
            if crate::service::auth::session_exists(state, c.session) {
                return true;
            }
            c.tx.try_send(Outgoing::Close(CLOSE_SESSION_ENDED, "the session ended; sign in again"));
            false
        });
        if list.is_empty() {
            conns.remove(&user);
        }
    }

    /// Staff members with at least one connection.
    fn online_staff(&self) -> Vec<Uuid> {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        conns.iter().filter(|(_, list)| list.iter().any(|c| c.staff)).map(|(u, _)| *u).collect()
    }

    /// Issues a one-time ticket for a browser connection.
    pub fn ticket(&self, user: Caller, now: i64) -> String {
        let t = crate::infra::tokens::random_secret(24);
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        tickets.retain(|_, (_, exp)| *exp > now);
        tickets.insert(t.clone(), (user, now + TICKET_TTL_SECS));
        t
    }

    /// Consumes a ticket.
    pub fn redeem(&self, ticket: &str, now: i64) -> Option<Caller> {
        let (user, exp) = self.tickets.lock().unwrap_or_else(|p| p.into_inner()).remove(ticket)?;
        (exp >= now).then_some(user)
    }
}

impl Subscriber for Hub {
    fn publish(&self, event: Published<'_>) {
        let Some(state) = self.state.upgrade() else { return };
        if event.kind() == crate::service::auth::SESSIONS_ENDED {
            if let Audience::Users(users) = event.audience() {
                users.iter().for_each(|u| self.close_ended_sessions(&state, *u));
            }
            return;
        }
        let online = match event.audience() {
            Audience::Staff => self.online_staff(),
            audience => match crate::events::recipients(&state.store, audience) {
                Ok(Some(users)) => self.online(&users),
                Ok(None) => Vec::new(),
                Err(e) => {
                    tracing::warn!(error = %e, kind = event.kind(), "could not resolve an event's audience");
                    return;
                }
            },
        };
        if online.is_empty() {
            return;
        }
        for (users, text) in crate::service::frames::render(&state, event, &online) {
            self.send(&users, &text);
        }
    }
}
