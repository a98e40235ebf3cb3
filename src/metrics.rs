//! Prometheus metrics: requests by route and status, a latency histogram, open WebSockets.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Process-wide metrics.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(String, String, u16), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
    /// Open WebSocket connections.
    pub open_websockets: AtomicI64,
    /// Pushes handed to ntfy subscriptions.
    pub ntfy_pushes: AtomicU64,
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        {
            let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            match r.get_mut(&(method.to_string(), route.to_string(), status)) {
                Some(n) => *n += 1,
                None => {
                    r.insert((method.to_string(), route.to_string(), status), 1);
                }
            }
        }
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, sled_bytes: u64, users: u64, push_queue: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP friend_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE friend_http_requests_total counter\n");
        {
            let r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            let mut rows: Vec<_> = r.iter().collect();
            rows.sort();
            for ((m, route, s), n) in rows {
                let _ =
                    writeln!(out, "friend_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {n}", route.replace('"', "'"));
            }
        }
        out.push_str("# HELP friend_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE friend_http_request_duration_seconds histogram\n");
        let mut cum = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cum += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "friend_http_request_duration_seconds_bucket{{le=\"{b}\"}} {cum}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "friend_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "friend_http_request_duration_seconds_sum {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "friend_http_request_duration_seconds_count {count}");
        let _ = writeln!(out, "# HELP friend_websockets_open Open WebSocket connections.\n# TYPE friend_websockets_open gauge");
        let _ = writeln!(out, "friend_websockets_open {}", self.open_websockets.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP friend_sled_size_bytes Size of the database on disk.\n# TYPE friend_sled_size_bytes gauge");
        let _ = writeln!(out, "friend_sled_size_bytes {sled_bytes}");
        let _ = writeln!(out, "# HELP friend_users Accounts stored.\n# TYPE friend_users gauge");
        let _ = writeln!(out, "friend_users {users}");
        let _ = writeln!(out, "# HELP friend_push_queue Notifications waiting to be pushed.\n# TYPE friend_push_queue gauge");
        let _ = writeln!(out, "friend_push_queue {push_queue}");
        let _ = writeln!(out, "# HELP friend_pushes_total Pushes sent, by channel.\n# TYPE friend_pushes_total counter");
        let _ = writeln!(out, "friend_pushes_total{{channel=\"ntfy\"}} {}", self.ntfy_pushes.load(Ordering::Relaxed));
        out
    }
}
