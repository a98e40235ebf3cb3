//! The outbox of domain events (`events` tree: sequence → event), written in the same transaction
//! as the change that caused it. Later capabilities (notifications, push) read it by sequence.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use uuid::Uuid;

use super::{Store, codec, io};
use crate::error::{AppError, AppResult};

const SEQ_KEY: &[u8] = b"events_seq";

/// A domain event.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventRecord {
    /// Position in the outbox (set when appended).
    #[serde(default)]
    pub seq: u64,
    /// `friend_request.new`, `friend_request.accepted`, ...
    pub kind: String,
    /// Users the event is for.
    pub recipients: Vec<Uuid>,
    /// The subject, as stored (e.g. the request record).
    pub payload: serde_json::Value,
    /// When it happened.
    pub at: DateTime<Utc>,
}

impl EventRecord {
    /// An event about `payload` for `recipients`.
    pub fn new(kind: &str, recipients: Vec<Uuid>, payload: &impl Serialize, at: DateTime<Utc>) -> Self {
        Self { seq: 0, kind: kind.into(), recipients, payload: serde_json::to_value(payload).unwrap_or_default(), at }
    }
}

/// Appends an event inside a transaction (the sequence lives in `meta`).
pub(crate) fn append_in(
    meta: &TransactionalTree,
    events: &TransactionalTree,
    e: &EventRecord,
) -> ConflictableTransactionResult<(), AppError> {
    let seq = meta.get(SEQ_KEY)?.map(|v| super::meta::read_u64(&v)).unwrap_or(0) + 1;
    meta.insert(SEQ_KEY, &seq.to_be_bytes())?;
    let mut e = e.clone();
    e.seq = seq;
    events.insert(&seq.to_be_bytes(), codec::enc(&e))?;
    Ok(())
}

/// Appends an event outside a transaction.
pub fn append(store: &Store, e: &EventRecord) -> AppResult<()> {
    use sled::Transactional;
    super::tx((&store.t.meta, &store.t.events).transaction(|(meta, events)| append_in(meta, events, e)))
}

/// Events after `after`, at most `limit`.
pub fn since(store: &Store, after: u64, limit: usize) -> AppResult<Vec<EventRecord>> {
    let start = (after + 1).to_be_bytes();
    store.t.events.range(start..).take(limit).map(|r| codec::dec(&r.map_err(io)?.1)).collect()
}

/// Puts back an event at its own sequence (restore).
pub fn restore(store: &Store, e: &EventRecord) -> AppResult<()> {
    store.t.events.insert(e.seq.to_be_bytes(), codec::enc(e)).map_err(io)?;
    let current = store.t.meta.get(SEQ_KEY).map_err(io)?.map(|v| super::meta::read_u64(&v)).unwrap_or(0);
    if e.seq > current {
        store.t.meta.insert(SEQ_KEY, &e.seq.to_be_bytes()).map_err(io)?;
    }
    Ok(())
}
