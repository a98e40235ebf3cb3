//! Per-day totals for the staff dashboard (`daily_stats` tree): `c` ‖ day ‖ kind → count (u64 BE)
//! and `a` ‖ day ‖ user → nothing (active that day). Days are the school's local dates as
//! `YYYYMMDD` (u32 BE), so a range of days is a range of keys. Written by flushing
//! [`crate::infra::tally::Tally`]; not in backups (they are counts of what the backup holds).

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};
use uuid::Uuid;

use super::{Store, io};
use crate::error::AppResult;
use crate::infra::tally::{Kind, Pending};

/// Days of active-user keys kept; older ones are removed at flush.
pub const KEEP_DAYS: i64 = 120;

fn day_key(d: NaiveDate) -> [u8; 4] {
    (d.year() as u32 * 10_000 + d.month() * 100 + d.day()).to_be_bytes()
}

fn key(tag: u8, d: NaiveDate, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + rest.len());
    k.push(tag);
    k.extend_from_slice(&day_key(d));
    k.extend_from_slice(rest);
    k
}

/// Adds `p` to storage; active-user keys older than [`KEEP_DAYS`] before `today` go.
pub fn add(store: &Store, p: &Pending, today: NaiveDate) -> AppResult<()> {
    let t = &store.t.daily_stats;
    for ((day, kind), n) in &p.counts {
        let n = *n;
        t.update_and_fetch(key(b'c', *day, &[kind.byte()]), |old| {
            let before = old.and_then(|v| v.try_into().ok()).map(u64::from_be_bytes).unwrap_or(0);
            Some((before + n).to_be_bytes().to_vec())
        })
        .map_err(io)?;
    }
    for (day, user) in &p.active {
        t.insert(key(b'a', *day, user.as_bytes()), &[]).map_err(io)?;
    }
    let oldest = key(b'a', today - chrono::Duration::days(KEEP_DAYS), &[]);
    for k in t.range(vec![b'a']..oldest).keys() {
        t.remove(k.map_err(io)?).map_err(io)?;
    }
    Ok(())
}

/// How many `kind` on `day`.
pub fn count(store: &Store, day: NaiveDate, kind: Kind) -> AppResult<u64> {
    let v = store.t.daily_stats.get(key(b'c', day, &[kind.byte()])).map_err(io)?;
    Ok(v.and_then(|v| v.as_ref().try_into().ok()).map(u64::from_be_bytes).unwrap_or(0))
}

/// The users active on any day from `from` to `to` (inclusive).
pub fn active(store: &Store, from: NaiveDate, to: NaiveDate) -> AppResult<HashSet<Uuid>> {
    let mut out = HashSet::new();
    let end = key(b'a', to + chrono::Duration::days(1), &[]);
    for k in store.t.daily_stats.range(key(b'a', from, &[])..end).keys() {
        let k = k.map_err(io)?;
        if let Ok(id) = Uuid::from_slice(&k[5..]) {
            out.insert(id);
        }
    }
    Ok(out)
}
