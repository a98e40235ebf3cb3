//! A fixed set of worker threads for CPU-heavy work (argon2, image decoding) with a bounded queue.
//! Fixed threads keep memory bounded: each argon2 hash allocates 19 MiB, and on the shared,
//! growing blocking pool those allocations spread over many malloc arenas (measured: 2 GB RSS
//! after 900 logins); on N long-lived threads each arena reuses its own block.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::error::{AppError, AppResult};

type Job = Box<dyn FnOnce() + Send>;

/// The pool; cloning shares it.
#[derive(Clone)]
pub struct CpuPool {
    tx: mpsc::SyncSender<Job>,
}

impl CpuPool {
    /// `threads` workers (0 = CPU cores) and room for `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> Self {
        let n = if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) } else { threads };
        let (tx, rx) = mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("friend-cpu-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("spawn a CPU worker thread");
        }
        Self { tx }
    }

    /// Runs `f` on a worker and waits for its result without blocking the async workers.
    /// When the queue is full the caller gets 503 rather than an unbounded wait.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.tx.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => AppError::Unavailable("the server is busy; try again in a moment".into()),
            mpsc::TrySendError::Disconnected(_) => AppError::Unavailable("shutting down".into()),
        })?;
        rx.await.map_err(|_| AppError::internal("a CPU job panicked"))
    }
}
