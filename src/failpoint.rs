//! Crash points for tests: when `FRIENDTEST_FAILPOINT` names a point, the process aborts there, as
//! a power cut or `kill -9` would at that instant. Without the variable a point does nothing. (Not
//! a `FRIEND_` variable: those are configuration, and an unknown one stops the server.) Points:
//! `committed:<kind>`, right after a transaction whose first event is of that kind committed and
//! before it is flushed or published.

use std::sync::OnceLock;

fn armed() -> Option<&'static str> {
    static POINT: OnceLock<Option<String>> = OnceLock::new();
    POINT.get_or_init(|| std::env::var("FRIENDTEST_FAILPOINT").ok().filter(|s| !s.is_empty())).as_deref()
}

/// Aborts the process if `point` is the armed failpoint.
pub fn hit(point: &str) {
    if armed() == Some(point) {
        eprintln!("failpoint {point}: aborting");
        std::process::abort();
    }
}
