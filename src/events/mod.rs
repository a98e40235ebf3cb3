//! The one event log: something happened to these users; deliver it reliably.
//!
//! A domain writes its events with an [`Appender`] inside its own storage transaction, through
//! [`Log::commit`], which numbers them (one committer thread for the whole server runs the
//! transactions one after another, so events become visible in order), waits until they are on
//! disk, then publishes them to the subscribers registered once at start-up (the socket hub, the
//! inbox). Ephemeral events (typing, presence, `studying_now`) go through the same dispatch
//! without being stored. A subscriber that needs every event follows the log by its own persisted
//! cursor ([`follow`]), so a restart or crash loses none and repeats none.

pub mod follow;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

pub use crate::store::event_log::{Appender, Audience, Event, LogRecord};
pub use follow::follow;

use crate::error::AppResult;
use crate::store::{Store, event_log};

/// How far ahead sequence numbers are reserved in storage.
const RESERVE: u64 = 10_000;

/// What subscribers receive.
#[derive(Clone, Copy, Debug)]
pub enum Published<'a> {
    /// A stored event (it has a `seq` and `sync` replays it).
    Stored(&'a LogRecord),
    /// An event that is only delivered live.
    Ephemeral(&'a Event),
}

impl Published<'_> {
    /// The event kind.
    pub fn kind(&self) -> &str {
        match self {
            Published::Stored(r) => &r.kind,
            Published::Ephemeral(e) => e.kind,
        }
    }
    /// Who it is for.
    pub fn audience(&self) -> &Audience {
        match self {
            Published::Stored(r) => &r.audience,
            Published::Ephemeral(e) => &e.audience,
        }
    }
    /// Its data.
    pub fn payload(&self) -> &Value {
        match self {
            Published::Stored(r) => &r.payload,
            Published::Ephemeral(e) => &e.payload,
        }
    }
    /// Its position in the log (stored events only).
    pub fn seq(&self) -> Option<u64> {
        match self {
            Published::Stored(r) => Some(r.seq),
            Published::Ephemeral(_) => None,
        }
    }
}

/// Receives every event after it is durable (stored ones) or as it happens (ephemeral ones).
/// Called on the publishing task: do little, never block.
pub trait Subscriber: Send + Sync {
    /// One event.
    fn publish(&self, event: Published<'_>);
}

struct Sequencer {
    next: u64,
    reserved: u64,
}

/// A transaction waiting for the committer thread.
type Job = Box<dyn FnOnce(&Store, &mut Sequencer) + Send>;

/// The log: the committer, subscribers and the durable head that followers wait on.
pub struct Log {
    store: Store,
    jobs: mpsc::UnboundedSender<Job>,
    committer: Option<std::thread::JoinHandle<()>>,
    head: Arc<AtomicU64>,
    subscribers: RwLock<Vec<Arc<dyn Subscriber>>>,
    durable_head: watch::Sender<u64>,
}

impl Log {
    /// Starts after every sequence number ever reserved, with its committer thread (which ends
    /// when the log is dropped).
    pub fn open(store: &Store) -> AppResult<Self> {
        let hwm = event_log::high_water(store)?;
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let head = Arc::new(AtomicU64::new(hwm));
        let (s, h) = (store.clone(), head.clone());
        // Writes may use the runtime (as they could on its blocking threads).
        let runtime = tokio::runtime::Handle::try_current().ok();
        let committer = std::thread::Builder::new()
            .name("friend-commit".into())
            .spawn(move || {
                let _rt = runtime.as_ref().map(|r| r.enter());
                let mut seq = Sequencer { next: hwm + 1, reserved: hwm };
                // Transactions run back to back on this one thread: no lock to hand over and no
                // thread to wake between two commits. A panicking write fails only its own commit.
                while let Some(job) = rx.blocking_recv() {
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&s, &mut seq)));
                    h.store(seq.next - 1, Ordering::Release);
                }
            })
            .map_err(crate::error::AppError::internal)?;
        Ok(Self {
            store: store.clone(),
            jobs,
            committer: Some(committer),
            head,
            subscribers: RwLock::new(Vec::new()),
            durable_head: watch::Sender::new(hwm),
        })
    }

    /// Registers a subscriber (at start-up).
    pub fn subscribe(&self, s: Arc<dyn Subscriber>) {
        self.subscribers.write().unwrap_or_else(|p| p.into_inner()).push(s);
    }

    /// The newest sequence number handed out.
    pub async fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// The newest sequence number known to be on disk; changes wake [`follow`]ers.
    pub fn durable_head(&self) -> watch::Receiver<u64> {
        self.durable_head.subscribe()
    }

    /// Runs `write` (one storage transaction that appends at most `max_events` events, numbered
    /// from the sequence it is given, with an [`Appender`]) on the committer thread, waits until
    /// it is on disk, then publishes its events. Returns the value of `write` and the events.
    pub async fn commit<T, F>(&self, max_events: usize, write: F) -> AppResult<(T, Vec<LogRecord>)>
    where
        T: Send + 'static,
        F: FnOnce(&Store, u64) -> AppResult<(T, Vec<LogRecord>)> + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |s: &Store, seq: &mut Sequencer| {
            let first = seq.next;
            let last_possible = first + max_events as u64;
            let reserve = (last_possible > seq.reserved).then_some(last_possible + RESERVE);
            let written = (|| {
                let _g = s.write_guard()?;
                if let Some(r) = reserve {
                    event_log::reserve(s, r)?;
                    seq.reserved = r;
                }
                write(s, first)
            })();
            if let Ok((_, records)) = &written {
                debug_assert!(records.len() <= max_events, "a commit wrote more events than it announced");
                seq.next = first + records.len() as u64;
            }
            let _ = done.send(written.map(|(v, records)| (v, records, seq.next - 1)));
        });
        let unavailable = || crate::error::AppError::Unavailable("storage is shutting down".into());
        self.jobs.send(job).map_err(|_| unavailable())?;
        let (value, records, newest) = result.await.map_err(|_| unavailable())??;
        if let Some(r) = records.first() {
            crate::failpoint::hit(&format!("committed:{}", r.kind));
        }
        self.store.durable().await?;
        self.durable_head.send_if_modified(|h| {
            let moved = newest > *h;
            *h = (*h).max(newest);
            moved
        });
        for r in &records {
            self.dispatch(Published::Stored(r));
        }
        Ok((value, records))
    }

    /// Stores events that come with no other change (e.g. receipts), then publishes them.
    pub async fn append(&self, events: Vec<Event>, at: chrono::DateTime<chrono::Utc>) -> AppResult<Vec<LogRecord>> {
        let n = events.len();
        let (_, records) = self
            .commit(n, move |s, first| {
                event_log::append_only(s, first, |a| {
                    for e in &events {
                        a.add(e, at)?;
                    }
                    Ok(())
                })
            })
            .await?;
        Ok(records)
    }

    /// Delivers an event live, without storing it.
    pub fn ephemeral(&self, e: Event) {
        self.dispatch(Published::Ephemeral(&e));
    }

    fn dispatch(&self, p: Published<'_>) {
        let subs = self.subscribers.read().unwrap_or_else(|p| p.into_inner()).clone();
        for s in subs {
            s.publish(p);
        }
    }
}

impl Drop for Log {
    /// Ends the committer thread and waits for it, so the database is closed when the log is.
    fn drop(&mut self) {
        drop(std::mem::replace(&mut self.jobs, mpsc::unbounded_channel().0));
        if let Some(t) = self.committer.take() {
            let _ = t.join();
        }
    }
}

/// The users an audience means now (`None` for [`Audience::Staff`], which subscribers resolve
/// against their own connections).
pub fn recipients(store: &Store, audience: &Audience) -> AppResult<Option<Vec<Uuid>>> {
    Ok(Some(match audience {
        Audience::Chat(chat) => crate::store::chat::member_ids(store, *chat)?.to_vec(),
        Audience::Users(users) => users.clone(),
        Audience::FriendsOf(user) => crate::store::social::friend_ids(store, *user)?,
        Audience::Staff => return Ok(None),
    }))
}
