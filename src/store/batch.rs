//! Writes that arrive together are stored together. The first caller to find no batch being
//! written becomes its writer: it stores everything queued so far in one call (one sled
//! transaction), then whatever queued meanwhile, until the queue is empty; the other callers wait
//! for their item's result. Each caller then waits for durability as usual ([`Store::durable`]).
//! With a few writers at once this turns many small transactions into a few larger ones.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::oneshot;

use super::Store;
use crate::error::{AppError, AppResult};

type Waiter = oneshot::Sender<AppResult<()>>;

/// A queue of items written `write` at a time.
pub struct Batch<T> {
    queue: Mutex<Vec<(T, Waiter)>>,
    writing: AtomicBool,
    write: fn(&Store, &[T]) -> AppResult<()>,
}

impl<T: Clone + Send + 'static> Batch<T> {
    /// A queue whose batches `write` stores (all or nothing).
    pub fn new(write: fn(&Store, &[T]) -> AppResult<()>) -> Self {
        Self { queue: Mutex::new(Vec::new()), writing: AtomicBool::new(false), write }
    }

    /// Stores `item` with whatever is queued beside it; resolves when it is written (not yet
    /// durable). If a batch fails, its items are written one by one, so each gets its own answer.
    pub async fn submit(&self, store: &Store, item: T) -> AppResult<()> {
        let (tx, rx) = oneshot::channel();
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).push((item, tx));
        while !self.writing.swap(true, Ordering::AcqRel) {
            loop {
                let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
                if batch.is_empty() {
                    break;
                }
                self.store_batch(store, batch).await;
            }
            self.writing.store(false, Ordering::Release);
            // An item queued after the last take but before `writing` was cleared has no writer yet.
            if self.queue.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
                break;
            }
        }
        rx.await.map_err(|_| AppError::Unavailable("storage is shutting down".into()))?
    }

    async fn store_batch(&self, store: &Store, batch: Vec<(T, Waiter)>) {
        let (items, waiters): (Vec<T>, Vec<Waiter>) = batch.into_iter().unzip();
        let write = self.write;
        let together = items.clone();
        match store.write_unflushed(move |s| write(s, &together)).await {
            Ok(()) => {
                for w in waiters {
                    let _ = w.send(Ok(()));
                }
            }
            Err(_) if items.len() > 1 => {
                for (item, w) in items.into_iter().zip(waiters) {
                    let _ = w.send(store.write_unflushed(move |s| write(s, std::slice::from_ref(&item))).await);
                }
            }
            Err(e) => {
                if let Some(w) = waiters.into_iter().next() {
                    let _ = w.send(Err(e));
                }
            }
        }
    }
}
