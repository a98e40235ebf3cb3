//! Prometheus metrics through `prometheus-client`, exposed in the OpenMetrics text format.
//! Counters and gauges that requests touch are atomics (a family takes a shared read lock once its
//! label set exists); what only a scrape needs (process, storage and index sizes, queues) is
//! sampled when `GET /metrics` asks, by [`Metrics::render`].

use std::collections::HashSet;
use std::sync::RwLock;
use std::sync::atomic::AtomicU64;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Distinct route labels kept; later ones (there are fewer routes than this) count as `other`.
const MAX_ROUTES: usize = 512;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabel {
    channel: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabel {
    job: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IndexLabel {
    index: &'static str,
}

/// Values read at scrape time by the caller (they need the store or the indexes).
pub struct Sample<'a> {
    /// Size of the database on disk.
    pub sled_bytes: u64,
    /// Size of each search index on disk, by name.
    pub index_bytes: &'a [(&'static str, u64)],
    /// Accounts stored.
    pub users: u64,
    /// Notifications waiting to be pushed.
    pub push_queue: u64,
    /// When the last scheduled backup verified (Unix seconds; 0: none yet).
    pub last_backup: i64,
    /// Free bytes on the data directory's disk.
    pub disk_free: u64,
}

/// Gauges set at each scrape.
#[derive(Default)]
struct Sampled {
    resident: Gauge,
    fds: Gauge,
    max_fds: Gauge,
    start_time: Gauge<f64, AtomicU64>,
    uptime: Gauge<f64, AtomicU64>,
    sled_bytes: Gauge,
    index_bytes: Family<IndexLabel, Gauge>,
    users: Gauge,
    push_queue: Gauge,
    last_backup: Gauge,
    disk_free: Gauge,
}

/// Process-wide metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histogram,
    /// Open WebSocket connections.
    pub websockets: Gauge,
    pushes: Family<ChannelLabel, Counter>,
    job_runs: Family<JobLabel, Counter>,
    job_failures: Family<JobLabel, Counter>,
    sampled: Sampled,
    routes: RwLock<HashSet<&'static str>>,
    started: Instant,
    started_unix: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every family.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Histogram::new(BUCKETS);
        let websockets = Gauge::default();
        let pushes = Family::<ChannelLabel, Counter>::default();
        let job_runs = Family::<JobLabel, Counter>::default();
        let job_failures = Family::<JobLabel, Counter>::default();
        let s = Sampled::default();
        let r = &mut registry;
        r.register("friend_http_requests", "HTTP requests by method, route and status", requests.clone());
        r.register("friend_http_request_duration_seconds", "Request latency", latency.clone());
        r.register("friend_websockets_open", "Open WebSocket connections", websockets.clone());
        r.register("friend_pushes", "Pushes handed over, by channel", pushes.clone());
        r.register("friend_job_runs", "Scheduled job runs, by job", job_runs.clone());
        r.register("friend_job_failures", "Scheduled job runs that failed, by job", job_failures.clone());
        r.register("process_resident_memory_bytes", "Resident memory size in bytes", s.resident.clone());
        r.register("process_open_fds", "Number of open file descriptors", s.fds.clone());
        r.register("process_max_fds", "Maximum number of open file descriptors", s.max_fds.clone());
        r.register("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds", s.start_time.clone());
        r.register("friend_uptime_seconds", "Seconds since the server started", s.uptime.clone());
        r.register("friend_sled_size_bytes", "Size of the database on disk", s.sled_bytes.clone());
        r.register("friend_search_index_size_bytes", "Size of each search index on disk", s.index_bytes.clone());
        r.register("friend_users", "Accounts stored", s.users.clone());
        r.register("friend_push_queue", "Notifications waiting to be pushed", s.push_queue.clone());
        r.register(
            "friend_backup_last_success_timestamp_seconds",
            "When the last scheduled backup was written and verified (0: none yet)",
            s.last_backup.clone(),
        );
        r.register("friend_disk_free_bytes", "Free space on the data directory's disk", s.disk_free.clone());
        let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        Self {
            registry,
            requests,
            latency,
            websockets,
            pushes,
            job_runs,
            job_failures,
            sampled: s,
            routes: RwLock::new(HashSet::new()),
            started: Instant::now(),
            started_unix,
        }
    }

    /// Records one finished request. `route` is the matched route pattern.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = RequestLabels { method: method_label(method), route: self.route_label(route), status };
        self.requests.get_or_create(&labels).inc();
        self.latency.observe(seconds);
    }

    /// Counts `n` pushes handed to `channel` (e.g. `ntfy`).
    pub fn pushed(&self, channel: &'static str, n: u64) {
        self.pushes.get_or_create(&ChannelLabel { channel }).inc_by(n);
    }

    /// Counts one run of the scheduled job `job`, and whether it failed.
    pub fn job_ran(&self, job: &'static str, ok: bool) {
        let label = JobLabel { job };
        self.job_runs.get_or_create(&label).inc();
        let failures = self.job_failures.get_or_create(&label);
        if !ok {
            failures.inc();
        }
    }

    /// The registry, to encode after sampling (see [`Metrics::render`]).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Samples the process and `sample`, then encodes this registry and `more` (other modules'
    /// registries) as one OpenMetrics exposition.
    pub fn render(&self, sample: &Sample<'_>, more: &[&Registry]) -> String {
        let s = &self.sampled;
        let process = ProcessStats::read();
        s.resident.set(process.resident_bytes as i64);
        s.fds.set(process.open_fds as i64);
        s.max_fds.set(process.max_fds as i64);
        s.start_time.set(self.started_unix);
        s.uptime.set(self.started.elapsed().as_secs_f64());
        s.sled_bytes.set(sample.sled_bytes as i64);
        for (index, bytes) in sample.index_bytes {
            s.index_bytes.get_or_create(&IndexLabel { index }).set(*bytes as i64);
        }
        s.users.set(sample.users as i64);
        s.push_queue.set(sample.push_queue as i64);
        s.last_backup.set(sample.last_backup);
        s.disk_free.set(sample.disk_free as i64);
        let mut out = String::new();
        for r in std::iter::once(&self.registry).chain(more.iter().copied()) {
            // Writing to a String cannot fail.
            let _ = prometheus_client::encoding::text::encode_registry(&mut out, r);
        }
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    }

    /// The label for `route`: the pattern itself, kept once for the process.
    fn route_label(&self, route: &str) -> &'static str {
        if let Some(r) = self.routes.read().unwrap_or_else(|p| p.into_inner()).get(route) {
            return r;
        }
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = routes.get(route) {
            return r;
        }
        if routes.len() >= MAX_ROUTES {
            return "other";
        }
        // Route patterns are few and live as long as the process: each is kept once.
        let kept: &'static str = Box::leak(route.to_owned().into_boxed_str());
        routes.insert(kept);
        kept
    }
}

/// The method as a label (other methods are counted together).
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

/// What `/proc/self` says about this process (zeros where it cannot be read).
#[derive(Debug, Default, PartialEq)]
struct ProcessStats {
    resident_bytes: u64,
    open_fds: u64,
    max_fds: u64,
}

impl ProcessStats {
    fn read() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
        Self { resident_bytes: resident_bytes(&status), open_fds, max_fds: max_open_files(&limits) }
    }
}

/// `VmRSS` of a `/proc/PID/status` text, in bytes.
fn resident_bytes(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The soft limit of `Max open files` in a `/proc/PID/limits` text.
fn max_open_files(limits: &str) -> u64 {
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Metrics {
    /// Seconds since the server started.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_texts_are_read() {
        assert_eq!(resident_bytes("Name:\tfriend\nVmRSS:\t   2048 kB\nVmData: 1 kB\n"), 2048 * 1024);
        assert_eq!(resident_bytes("Name:\tfriend\n"), 0);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), 1024);
    }

    #[test]
    fn routes_are_kept_once_and_methods_are_bounded() {
        let m = Metrics::new();
        let a = m.route_label(&String::from("api/v1/me"));
        let b = m.route_label(&String::from("api/v1/me"));
        assert!(std::ptr::eq(a, b));
        assert_eq!(method_label("BREW"), "other");
        m.observe("GET", "api/v1/me", 200, 0.001);
        m.observe("GET", "api/v1/me", 200, 0.002);
        let text =
            m.render(&Sample { sled_bytes: 1, index_bytes: &[("notes", 2)], users: 3, push_queue: 0, last_backup: 0, disk_free: 0 }, &[]);
        assert!(text.contains("friend_http_requests_total{method=\"GET\",route=\"api/v1/me\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("friend_search_index_size_bytes{index=\"notes\"} 2"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
