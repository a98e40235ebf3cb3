//! Writes that arrive together are stored together. The first caller to find no batch being
//! written becomes its writer: it stores everything queued so far in one call (one sled
//! transaction) and steps down; a caller whose item queued meanwhile then leads the next batch.
//! Callers wait for their own item's result. Each caller then waits for durability as usual ([`Store::durable`]).
//! With a few writers at once this turns many small transactions into a few larger ones.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Notify, oneshot};

use super::Store;
use crate::error::{AppError, AppResult};

type Waiter = oneshot::Sender<AppResult<()>>;

/// A queue of items written `write` at a time.
pub struct Batch<T> {
    queue: Mutex<Vec<(T, Waiter)>>,
    writing: AtomicBool,
    /// Woken when a writer steps down: a caller still waiting may lead the next batch.
    stepped_down: Notify,
    write: fn(&Store, &[T]) -> AppResult<()>,
}

impl<T: Clone + Send + 'static> Batch<T> {
    /// A queue whose batches `write` stores (all or nothing).
    pub fn new(write: fn(&Store, &[T]) -> AppResult<()>) -> Self {
        Self { queue: Mutex::new(Vec::new()), writing: AtomicBool::new(false), stepped_down: Notify::new(), write }
    }

    /// Stores `item` with whatever is queued beside it; resolves when it is written (not yet
    /// durable). If a batch fails, its items are written one by one, so each gets its own answer.
    /// A writer writes one batch and steps down, so no caller waits for more than the batch being
    /// written and its own.
    pub async fn submit(&self, store: &Store, item: T) -> AppResult<()> {
        let (tx, mut rx) = oneshot::channel();
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).push((item, tx));
        loop {
            // Registered before trying to lead, so a writer stepping down meanwhile is not missed.
            let stepped_down = self.stepped_down.notified();
            tokio::pin!(stepped_down);
            stepped_down.as_mut().enable();
            if !self.writing.swap(true, Ordering::AcqRel) {
                let _step_down = StepDown(self);
                let batch = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
                if !batch.is_empty() {
                    // Its own task: a writer whose request is cancelled (the client went away)
                    // does not cancel the others' writes.
                    let _ = tokio::spawn(store_batch(store.clone(), self.write, batch)).await;
                }
            }
            tokio::select! {
                biased;
                done = &mut rx => return done.map_err(|_| AppError::Unavailable("storage is shutting down".into()))?,
                _ = &mut stepped_down => {}
            }
        }
    }
}

/// Steps down as the writer when dropped (also when the writer's request is cancelled) and wakes
/// the callers still waiting, one of whom leads the next batch.
struct StepDown<'a, T>(&'a Batch<T>);

impl<T> Drop for StepDown<'_, T> {
    fn drop(&mut self) {
        self.0.writing.store(false, Ordering::Release);
        self.0.stepped_down.notify_waiters();
    }
}

/// Writes `batch` together, or one by one when the whole fails, and answers each waiter.
async fn store_batch<T: Clone + Send + 'static>(store: Store, write: fn(&Store, &[T]) -> AppResult<()>, batch: Vec<(T, Waiter)>) {
    let (items, waiters): (Vec<T>, Vec<Waiter>) = batch.into_iter().unzip();
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
