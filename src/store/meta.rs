//! The `meta` tree: schema version and ordered migrations, kept counters, the one-time setup code.

use super::{Store, codec, io};
use crate::error::{AppError, AppResult};

/// Key of the schema version (big-endian u64).
pub const SCHEMA_KEY: &[u8] = b"schema_version";
const SETUP_KEY: &[u8] = b"setup_code";
const BACKUP_KEY: &[u8] = b"backup_status";
const SETTINGS_KEY: &[u8] = b"school_settings";

/// Counters kept in `meta` (never computed with `len()`).
#[derive(Clone, Copy, Debug)]
pub enum Counter {
    /// Accounts, deleted ones excluded.
    Users,
    /// Accounts with the admin role.
    Admins,
}

impl Counter {
    /// The key of this counter.
    pub fn key(self) -> &'static [u8] {
        match self {
            Counter::Users => b"count:users",
            Counter::Admins => b"count:admins",
        }
    }
}

/// One migration: from `version - 1` to `version`.
struct Migration {
    version: u64,
    run: fn(&Store) -> AppResult<()>,
}

/// Ordered migrations. Version 1 is the first layout and needs none.
const MIGRATIONS: &[Migration] = &[
    // 2: per-day totals beside the activity logs.
    Migration { version: 2, run: super::activity::build_totals },
    // 3: one event log (the domain outbox merged into the chat event log).
    Migration { version: 3, run: super::event_log::merge_legacy },
    // 4: message events by reference; one media link per message.
    Migration { version: 4, run: super::event_log::messages_by_reference },
    // 5: each day's sessions in brief beside its totals.
    Migration { version: 5, run: super::activity::build_totals },
    // 6: unread counts kept per chat member.
    Migration { version: 6, run: super::chat::rebuild_unread },
];

/// Reads the schema version; `None` for a fresh database.
pub fn schema_version(store: &Store) -> AppResult<Option<u64>> {
    Ok(store.t.meta.get(SCHEMA_KEY).map_err(io)?.map(|v| read_u64(&v)))
}

/// Brings the database to [`super::SCHEMA_VERSION`], refusing newer data.
pub fn migrate(store: &Store) -> AppResult<()> {
    let current = schema_version(store)?;
    let Some(mut version) = current else {
        store.t.meta.insert(SCHEMA_KEY, &super::SCHEMA_VERSION.to_be_bytes()).map_err(io)?;
        store.flush_now()?;
        return Ok(());
    };
    if version > super::SCHEMA_VERSION {
        return Err(AppError::Unavailable(format!(
            "the data was written by a newer friend (schema {version}, this binary knows {}); upgrade the binary",
            super::SCHEMA_VERSION
        )));
    }
    let start = version;
    if start < super::SCHEMA_VERSION {
        let copy = store.copy_before_migration(start)?;
        tracing::warn!(
            from = start,
            to = super::SCHEMA_VERSION,
            copy = %copy.display(),
            "migrating the database; a copy of it as it was is kept (to go back: stop the server, put the copy in place of data/db, run the previous friend)"
        );
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > start) {
        tracing::info!(to = m.version, "running storage migration");
        (m.run)(store)?;
        version = m.version;
        store.t.meta.insert(SCHEMA_KEY, &version.to_be_bytes()).map_err(io)?;
        store.flush_now()?;
    }
    Ok(())
}

/// Reads a big-endian u64 (0 if malformed).
pub fn read_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// Reads a kept counter.
pub fn count(store: &Store, c: Counter) -> AppResult<u64> {
    Ok(store.t.meta.get(c.key()).map_err(io)?.map(|v| read_u64(&v)).unwrap_or(0))
}

/// Adds `delta` to a counter inside a transaction.
pub(crate) fn bump(
    meta: &sled::transaction::TransactionalTree,
    c: Counter,
    delta: i64,
) -> sled::transaction::ConflictableTransactionResult<(), AppError> {
    let now = meta.get(c.key())?.map(|v| read_u64(&v)).unwrap_or(0);
    let next = (now as i64 + delta).max(0) as u64;
    meta.insert(c.key(), &next.to_be_bytes())?;
    Ok(())
}

/// A setup code: its hash and when it stops working.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SetupCode {
    /// sha256 of the code, hex.
    pub hash: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Stores the current setup code (replacing any other).
pub fn put_setup_code(store: &Store, code: &SetupCode) -> AppResult<()> {
    store.t.meta.insert(SETUP_KEY, codec::enc(code)).map_err(io)?;
    Ok(())
}

/// The current setup code, if any.
pub fn setup_code(store: &Store) -> AppResult<Option<SetupCode>> {
    store.t.meta.get(SETUP_KEY).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Forgets the setup code.
pub fn clear_setup_code(store: &Store) -> AppResult<()> {
    store.t.meta.remove(SETUP_KEY).map_err(io)?;
    Ok(())
}

/// How the scheduled backups went (kept in `meta`, so a restart knows what is due).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct BackupStatus {
    /// When the last verified scheduled backup was written.
    pub last_ok_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Its file.
    pub last_ok_file: Option<String>,
    /// Its size in bytes.
    pub last_ok_bytes: u64,
    /// When the last attempt failed (cleared by a success).
    pub last_failed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why it failed.
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub failures: u32,
}

/// The scheduled backups' status (default when none ran yet).
pub fn backup_status(store: &Store) -> AppResult<BackupStatus> {
    Ok(store.t.meta.get(BACKUP_KEY).map_err(io)?.map(|v| codec::dec(&v)).transpose()?.unwrap_or_default())
}

/// Stores the scheduled backups' status.
pub fn put_backup_status(store: &Store, status: &BackupStatus) -> AppResult<()> {
    store.t.meta.insert(BACKUP_KEY, codec::enc(status)).map_err(io)?;
    Ok(())
}

/// The school settings staff changed (`config::SettingsOverrides`, as JSON), if any.
pub fn settings_overrides(store: &Store) -> AppResult<Option<serde_json::Value>> {
    store.t.meta.get(SETTINGS_KEY).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Stores the school settings staff changed.
pub fn put_settings_overrides(store: &Store, v: &serde_json::Value) -> AppResult<()> {
    store.t.meta.insert(SETTINGS_KEY, codec::enc(v)).map_err(io)?;
    Ok(())
}
