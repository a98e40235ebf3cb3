//! Which periodic reports were produced: `report_runs` (user ‖ period label → ready time), so the
//! report job runs once per user per period and catches up after downtime.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::events::{self, EventRecord};
use super::{Store, codec, io};
use crate::error::AppResult;

fn key(user: Uuid, period: &str) -> Vec<u8> {
    codec::Key::new().id(user).str(period).build()
}

/// True if the report for `period` was produced.
pub fn done(store: &Store, user: Uuid, period: &str) -> AppResult<bool> {
    store.t.report_runs.contains_key(key(user, period)).map_err(io)
}

/// Marks a report produced and records its `report_ready` event.
pub fn mark(store: &Store, user: Uuid, period: &str, kind: &str, at: DateTime<Utc>) -> AppResult<()> {
    store.t.report_runs.insert(key(user, period), codec::enc(&at)).map_err(io)?;
    let payload = serde_json::json!({ "kind": kind, "period": period });
    events::append(store, &EventRecord::new("report_ready", vec![user], &payload, at))
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
