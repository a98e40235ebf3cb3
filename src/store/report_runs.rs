//! Which periodic reports were produced: `report_runs` (user ‖ period label → ready time), so the
//! report job runs once per user per period and catches up after downtime.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::event_log::{Audience, LogRecord};
use super::{Store, codec, io};
use crate::error::AppResult;

fn key(user: Uuid, period: &str) -> Vec<u8> {
    codec::Key::new().id(user).str(period).build()
}

/// True if the report for `period` was produced.
pub fn done(store: &Store, user: Uuid, period: &str) -> AppResult<bool> {
    store.t.report_runs.contains_key(key(user, period)).map_err(io)
}

/// A report that was made: (user, period label, `weekly` | `monthly`).
pub type Made = (Uuid, String, &'static str);

/// Marks reports produced, each with its `report_ready` event, in one transaction (a crash keeps
/// both or neither); events are numbered from `first`.
pub fn mark(store: &Store, made: &[Made], at: DateTime<Utc>, first: u64) -> AppResult<Vec<LogRecord>> {
    super::event_log::with_tree(store, &store.t.report_runs, first, |runs, log| {
        for (user, period, kind) in made {
            runs.insert(key(*user, period), codec::enc(&at))?;
            let payload = serde_json::json!({ "kind": kind, "period": period });
            log.append("report_ready", Audience::Users(vec![*user]), payload, at)?;
        }
        Ok(())
    })
    .map(|(_, events)| events)
}

/// The reports produced for a user: (period, ready time), newest period last.
pub fn list(store: &Store, user: Uuid) -> AppResult<Vec<(String, DateTime<Utc>)>> {
    let mut out = Vec::new();
    for item in store.t.report_runs.scan_prefix(user.as_bytes()) {
        let (k, v) = item.map_err(io)?;
        let label = String::from_utf8_lossy(&k[16..k.len() - 1]).to_string();
        out.push((label, codec::dec(&v)?));
    }
    Ok(out)
}

/// Forgets a user's produced reports (account deletion).
pub fn delete_all(store: &Store, user: Uuid) -> AppResult<()> {
    let keys: Vec<sled::IVec> = store.t.report_runs.scan_prefix(user.as_bytes()).keys().collect::<Result<_, _>>().map_err(io)?;
    for k in keys {
        store.t.report_runs.remove(k).map_err(io)?;
    }
    Ok(())
}

/// Puts back a produced-report marker (restore), without a new event.
pub fn restore(store: &Store, user: Uuid, period: &str, at: DateTime<Utc>) -> AppResult<()> {
    store.t.report_runs.insert(key(user, period), codec::enc(&at)).map_err(io)?;
    Ok(())
}
