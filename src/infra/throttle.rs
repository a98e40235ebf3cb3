//! Sliding-window counters for login throttling, per account and per client IP.

use std::collections::HashMap;
use std::sync::Mutex;

/// Counts events per key in a fixed window; memory is bounded by pruning expired keys.
pub struct Throttle {
    limit: u32,
    window_secs: i64,
    hits: Mutex<HashMap<String, (i64, u32)>>,
}

impl Throttle {
    /// `limit` events per `window_secs`.
    pub fn new(limit: u32, window_secs: u64) -> Self {
        Self { limit, window_secs: window_secs as i64, hits: Mutex::new(HashMap::new()) }
    }

    /// `Some(retry_after_secs)` if `key` has used up its allowance at `now`.
    pub fn blocked(&self, key: &str, now: i64) -> Option<u64> {
        let hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        match hits.get(key) {
            Some(&(start, n)) if now < start + self.window_secs && n >= self.limit => Some((start + self.window_secs - now).max(1) as u64),
            _ => None,
        }
    }

    /// Records one event for `key` at `now`.
    pub fn hit(&self, key: &str, now: i64) {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() > 100_000 {
            hits.retain(|_, (start, _)| now < *start + self.window_secs);
        }
        let e = hits.entry(key.to_string()).or_insert((now, 0));
        if now >= e.0 + self.window_secs {
            *e = (now, 0);
        }
        e.1 += 1;
    }

    /// Counts one event for `key` if it is still allowed; otherwise the seconds until it is.
    pub fn take(&self, key: &str, now: i64) -> Result<(), u64> {
        match self.blocked(key, now) {
            Some(wait) => Err(wait),
            None => {
                self.hit(key, now);
                Ok(())
            }
        }
    }

    /// Forgets `key` (after a successful login).
    pub fn clear(&self, key: &str) {
        self.hits.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_until_window_ends() {
        let t = Throttle::new(2, 60);
        t.hit("a", 0);
        assert_eq!(t.blocked("a", 1), None);
        t.hit("a", 1);
        assert_eq!(t.blocked("a", 10), Some(50));
        assert_eq!(t.blocked("b", 10), None);
        assert_eq!(t.blocked("a", 60), None);
        t.clear("a");
        assert_eq!(t.blocked("a", 10), None);
        assert_eq!(t.take("c", 0), Ok(()));
        assert_eq!(t.take("c", 0), Ok(()));
        assert_eq!(t.take("c", 5), Err(55));
    }
}
