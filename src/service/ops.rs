//! Operations: readiness and the Prometheus metrics text.

use crate::state::AppState;
use crate::store::meta::{self, Counter};

/// True when storage answers.
pub fn ready(state: &AppState) -> bool {
    state.store.is_ready()
}

/// The metrics in Prometheus text format.
pub fn metrics_text(state: &AppState) -> String {
    let users = meta::count(&state.store, Counter::Users).unwrap_or(0);
    state.metrics.render(state.store.size_on_disk(), users)
}
