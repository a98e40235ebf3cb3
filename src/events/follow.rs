//! Subscribers that need every stored event (the inbox, push) follow the log by a persisted cursor.

use std::future::Future;

use tokio::sync::watch;

use super::LogRecord;
use crate::error::AppResult;
use crate::store::{Store, event_log};

/// Events handed to a follower at once.
pub const BATCH: usize = 256;

/// Follows the log as `name` until `durable_head` closes: reads the events after its cursor that
/// are on disk, in order, and hands them to `handle`. `handle` should advance the cursor with
/// [`event_log::set_cursor_in`] in the same transaction as its own writes (then a crash neither
/// loses nor repeats an event); if it did not, the cursor is moved after it returns. A failing
/// batch is retried after a pause.
pub async fn follow<F, Fut>(store: Store, name: &'static str, mut durable_head: watch::Receiver<u64>, mut handle: F)
where
    F: FnMut(Vec<LogRecord>) -> Fut,
    Fut: Future<Output = AppResult<()>>,
{
    loop {
        let head = *durable_head.borrow_and_update();
        let batch = read_batch(&store, name, head).await;
        match batch {
            Ok((batch, _)) if batch.is_empty() => {
                if durable_head.changed().await.is_err() {
                    return;
                }
            }
            Ok((batch, cursor)) => {
                let last = batch.last().map_or(cursor, |r| r.seq);
                let moved = match handle(batch).await {
                    Ok(()) => {
                        let s = store.clone();
                        s.blocking(move |s| if event_log::cursor(s, name)? < last { event_log::set_cursor(s, name, last) } else { Ok(()) })
                            .await
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = moved {
                    tracing::warn!(follower = name, error = %e, "event follower failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
            Err(e) => {
                tracing::warn!(follower = name, error = %e, "event follower could not read the log; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

async fn read_batch(store: &Store, name: &'static str, head: u64) -> AppResult<(Vec<LogRecord>, u64)> {
    store
        .blocking(move |s| {
            let cursor = event_log::cursor(s, name)?;
            let mut batch = event_log::after(s, cursor, BATCH)?;
            batch.retain(|r| r.seq <= head);
            Ok((batch, cursor))
        })
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::events::{Audience, Event, Log};

    async fn collect_until(store: &Store, log: &Log, n: usize) -> Vec<u64> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let task = tokio::spawn(follow(store.clone(), "test", log.durable_head(), move |batch| {
            s2.lock().unwrap().extend(batch.iter().map(|r| r.seq));
            async { Ok(()) }
        }));
        for _ in 0..200 {
            if seen.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        task.abort();
        seen.lock().unwrap().clone()
    }

    fn events(n: usize) -> Vec<Event> {
        (0..n).map(|i| Event::new("report_ready", Audience::Users(vec![uuid::Uuid::from_u128(1)]), serde_json::json!({ "i": i }))).collect()
    }

    #[tokio::test]
    async fn a_follower_resumes_after_its_cursor_without_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 8).unwrap();
        let log = Log::open(&store).unwrap();
        let first = log.append(events(3), chrono::Utc::now()).await.unwrap();
        let seen = collect_until(&store, &log, 3).await;
        assert_eq!(seen, first.iter().map(|r| r.seq).collect::<Vec<_>>(), "every event once, in order");
        // Restarted (a new follower of the same name, as after a crash): only the new events.
        let more = log.append(events(2), chrono::Utc::now()).await.unwrap();
        let seen = collect_until(&store, &log, 2).await;
        assert_eq!(seen, more.iter().map(|r| r.seq).collect::<Vec<_>>());
        assert_eq!(event_log::cursor(&store, "test").unwrap(), more[1].seq);
    }
}
