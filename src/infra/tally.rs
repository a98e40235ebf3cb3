//! Counts for the staff dashboard kept in memory between flushes: messages and notes written each
//! day, and who was active each day. Counting costs a lock and a map update, never a disk write
//! on the request's path; the jobs loop and shutdown move them to storage (`store::daily`). A
//! power cut loses at most the counts since the last flush: these are statistics, not data.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::NaiveDate;
use uuid::Uuid;

/// What is counted per day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Chat messages sent.
    Messages,
    /// Notes written.
    Notes,
}

impl Kind {
    /// Its byte in storage keys.
    pub fn byte(self) -> u8 {
        match self {
            Kind::Messages => b'm',
            Kind::Notes => b'n',
        }
    }
}

/// Counts not yet in storage.
#[derive(Debug, Default)]
pub struct Pending {
    /// Per day and kind, how many more.
    pub counts: HashMap<(NaiveDate, Kind), u64>,
    /// Users active on a day.
    pub active: HashSet<(NaiveDate, Uuid)>,
}

impl Pending {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.active.is_empty()
    }
}

/// The in-memory tally.
#[derive(Debug, Default)]
pub struct Tally(Mutex<Pending>);

impl Tally {
    /// One more `kind` on `day`.
    pub fn count(&self, day: NaiveDate, kind: Kind) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()).counts.entry((day, kind)).or_default() += 1;
    }

    /// `user` was active on `day`.
    pub fn active(&self, day: NaiveDate, user: Uuid) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).active.insert((day, user));
    }

    /// Takes what was counted since the last call.
    pub fn take(&self) -> Pending {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts back counts that could not be written (added to any counted meanwhile).
    pub fn restore(&self, p: Pending) {
        let mut cur = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (k, n) in p.counts {
            *cur.counts.entry(k).or_default() += n;
        }
        cur.active.extend(p.active);
    }
}
