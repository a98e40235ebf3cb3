//! Time-ordered identifiers (UUIDv7), the one id format of the whole API.

use uuid::Uuid;

/// A new time-ordered id.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Parses an id given by a client; `None` if it is not a UUID.
pub fn parse(s: &str) -> Option<Uuid> {
    Uuid::try_parse(s).ok()
}
