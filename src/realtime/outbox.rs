//! A connection's outgoing queue: bounded, and holding no buffer while empty. A tokio channel
//! per connection reserved a block of 32 slots and cache-padded counters (1.3 KiB measured with
//! heaptrack) for each of thousands of idle sockets; this is a short queue behind a mutex that is
//! never held across an await, and a `Notify`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::Outgoing;

/// A queue that grew past this many slots is let go once drained (a burst does not keep its
/// memory on an idle socket).
const KEEP_CAPACITY: usize = 8;

struct Queue {
    items: VecDeque<Outgoing>,
    /// False once the sending side is gone.
    open: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Notify,
    capacity: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The hub's end. Dropping it ends the queue: the connection drains what is left, then
/// [`Outbox::recv`] answers `None`.
pub struct Sender(Arc<Shared>);

/// The connection task's end.
pub struct Outbox(Arc<Shared>);

/// A queue of at most `capacity` items.
pub fn outbox(capacity: usize) -> (Sender, Outbox) {
    let shared = Arc::new(Shared { queue: Mutex::new(Queue { items: VecDeque::new(), open: true }), wake: Notify::new(), capacity });
    (Sender(shared.clone()), Outbox(shared))
}

impl Sender {
    /// Queues `item`; false (and `item` dropped) when the queue is full.
    pub fn try_send(&self, item: Outgoing) -> bool {
        let mut q = self.0.lock();
        if q.items.len() >= self.0.capacity {
            return false;
        }
        q.items.push_back(item);
        drop(q);
        self.0.wake.notify_one();
        true
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.lock().open = false;
        self.0.wake.notify_one();
    }
}

impl Outbox {
    /// The next item, or `None` once the sender is gone and nothing is left. Cancel-safe: an item
    /// is taken only when this returns it (a wake-up that arrives meanwhile is kept as a permit).
    pub async fn recv(&mut self) -> Option<Outgoing> {
        loop {
            {
                let mut q = self.0.lock();
                if let Some(item) = q.items.pop_front() {
                    if q.items.is_empty() && q.items.capacity() > KEEP_CAPACITY {
                        q.items = VecDeque::new();
                    }
                    return Some(item);
                }
                if !q.open {
                    return None;
                }
            }
            self.0.wake.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(s: &str) -> Outgoing {
        Outgoing::Frame(s.into())
    }

    fn text(o: Option<Outgoing>) -> String {
        match o {
            Some(Outgoing::Frame(t)) => t.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn keeps_order_refuses_past_capacity_and_ends_after_the_sender() {
        let (tx, mut rx) = outbox(2);
        assert!(tx.try_send(frame("a")) && tx.try_send(frame("b")));
        assert!(!tx.try_send(frame("c")), "a full queue refuses");
        assert_eq!(text(rx.recv().await), "a");
        assert!(tx.try_send(frame("d")));
        drop(tx);
        assert_eq!(text(rx.recv().await), "b");
        assert_eq!(text(rx.recv().await), "d");
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_and_a_cancelled_wait_loses_nothing() {
        let (tx, mut rx) = outbox(4);
        // A wait cancelled before anything arrives (as in a `select!` whose other branch won).
        assert!(tokio::time::timeout(std::time::Duration::from_millis(10), rx.recv()).await.is_err());
        let sender = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            assert!(tx.try_send(frame("late")));
            tx
        });
        assert_eq!(text(rx.recv().await), "late");
        drop(sender.await.unwrap());
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_drained_burst_lets_its_memory_go() {
        let (tx, mut rx) = outbox(256);
        for i in 0..100 {
            assert!(tx.try_send(frame(&i.to_string())));
        }
        for _ in 0..100 {
            rx.recv().await.unwrap();
        }
        assert_eq!(rx.0.lock().items.capacity(), 0);
    }
}
