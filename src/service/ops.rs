//! Operations: readiness and the Prometheus metrics text.

use std::sync::Arc;

use crate::error::AppResult;
use crate::metrics::Sample;
use crate::state::AppState;
use crate::store::meta::{self, Counter};

/// True when storage answers.
pub fn ready(state: &AppState) -> bool {
    state.store.is_ready()
}

/// Whether a client at `ip` presenting `token` may read the metrics: from the server machine
/// itself, or with the configured token (compared in constant time).
pub fn may_read_metrics(state: &AppState, ip: &str, token: Option<&str>) -> bool {
    if ip.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback()) {
        return true;
    }
    let want = state.config.http.metrics_token.as_bytes();
    match token {
        Some(t) if !want.is_empty() && t.len() == want.len() => t.bytes().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0,
        _ => false,
    }
}

/// The metrics in the OpenMetrics text format ([`crate::metrics::CONTENT_TYPE`]), read off the
/// async workers (sizes and counts come from disk).
pub async fn metrics_text(state: &Arc<AppState>) -> AppResult<String> {
    let st = state.clone();
    state.store.blocking(move |_| Ok(render_metrics(&st))).await
}

fn render_metrics(state: &AppState) -> String {
    let sample = Sample {
        sled_bytes: state.store.size_on_disk(),
        index_bytes: &crate::search::index_sizes(&state.config.data_dir),
        users: meta::count(&state.store, Counter::Users).unwrap_or(0),
        push_queue: crate::store::push::queue_len(&state.store) as u64,
        last_backup: super::backups::status(state).ok().and_then(|b| b.last_ok_at).map_or(0, |t| t.timestamp()),
        disk_free: state.blobs.free_space().unwrap_or(0),
    };
    state.metrics.render(&sample, &[state.web_push_status.registry(state.clock.unix())])
}

/// Since when no push service answers (RFC 3339), for `/readyz` and the admin.
pub fn push_unreachable_since(state: &AppState) -> Option<String> {
    state.web_push_status.unreachable_since().and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(crate::clock::rfc3339)
}

/// Free bytes on the data directory's disk, and whether that is below `storage.warn_free_mb`.
pub fn disk_free(state: &AppState) -> Option<(u64, bool)> {
    let free = state.blobs.free_space().ok()?;
    Some((free, free < state.config.storage.warn_free_mb.saturating_mul(1024 * 1024)))
}
