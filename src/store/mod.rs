//! Storage: the only code that imports sled. Trees are listed once in [`Trees`]; records are JSON
//! values under binary keys built by [`codec`]. Every acknowledged write is flushed with group
//! commit ([`Store::durable`]) before the API answers.

pub mod activity;
pub mod announcements;
pub mod audit;
pub mod backup;
pub mod batch;
pub mod blobs;
pub mod chat;
pub mod codec;
pub mod daily;
pub mod event_log;
pub mod goals;
pub mod idempotency;
pub mod insights;
pub mod invites;
pub mod media;
pub mod member_cache;
pub mod meta;
pub mod moderation;
pub mod notes;
pub mod notifications;
pub mod power_safe;
pub mod push;
pub mod report_runs;
pub mod reset_codes;
pub mod sessions;
pub mod social;
pub mod users;
pub mod web_push;

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use tokio::sync::{mpsc, oneshot};

use crate::error::{AppError, AppResult};

/// The schema version this binary writes. Data from a newer version is refused.
pub const SCHEMA_VERSION: u64 = 6;

/// Every tree of the database, opened once.
#[derive(Clone)]
pub struct Trees {
    /// `meta`: schema version, counters, setup code.
    pub meta: sled::Tree,
    /// `users`: user id → user record.
    pub users: sled::Tree,
    /// `users_by_email`: folded email → user id.
    pub users_by_email: sled::Tree,
    /// `users_by_username`: folded username → user id.
    pub users_by_username: sled::Tree,
    /// `sessions`: session id → session record.
    pub sessions: sled::Tree,
    /// `sessions_by_user`: user id ‖ session id → ().
    pub sessions_by_user: sled::Tree,
    /// `media`: media id → media record.
    pub media: sled::Tree,
    /// `media_by_owner`: owner id ‖ media id → ().
    pub media_by_owner: sled::Tree,
    /// `media_blobs`: sha256 → reference count (big-endian u64).
    pub media_blobs: sled::Tree,
    /// `invites`: code → invite record.
    pub invites: sled::Tree,
    /// `idempotency`: user id ‖ scope → stored answer.
    pub idempotency: sled::Tree,
    /// `friendships`: a ‖ b → edge (both directions).
    pub friendships: sled::Tree,
    /// `friend_requests`: id → request.
    pub friend_requests: sled::Tree,
    /// `requests_out`: from ‖ to → pending request id.
    pub requests_out: sled::Tree,
    /// `requests_in`: to ‖ from → pending request id.
    pub requests_in: sled::Tree,
    /// `blocks`: blocker ‖ blocked → since.
    pub blocks: sled::Tree,
    /// `blocked_by`: blocked ‖ blocker → ().
    pub blocked_by: sled::Tree,
    /// `user_counters`: user ‖ name → u64.
    pub user_counters: sled::Tree,
    /// `events`: the domain outbox before schema 3 (merged into `event_log` by migration 3; empty after).
    pub events: sled::Tree,
    /// `activity_logs`: user ‖ YYYY-MM-DD → daily log.
    pub activity_logs: sled::Tree,
    /// `activity_days`: user ‖ YYYY-MM-DD → the day's totals (see `store::activity`).
    pub activity_days: sled::Tree,
    /// `timers`: user → running study timer.
    pub timers: sled::Tree,
    /// `goals`: user ‖ goal id → goal.
    pub goals: sled::Tree,
    /// `report_runs`: user ‖ period → when its report was produced.
    pub report_runs: sled::Tree,
    /// `chats` (see `store::chat`).
    pub chats: sled::Tree,
    /// `chat_members` (see `store::chat`).
    pub chat_members: sled::Tree,
    /// `user_chats` (see `store::chat`).
    pub user_chats: sled::Tree,
    /// `chat_unread`: chat ‖ member → messages from others after their read position (u64).
    pub chat_unread: sled::Tree,
    /// `private_pairs` (see `store::chat`).
    pub private_pairs: sled::Tree,
    /// `messages` (see `store::chat`).
    pub messages: sled::Tree,
    /// `message_client_ids` (see `store::chat`).
    pub message_client_ids: sled::Tree,
    /// `media_chats` (see `store::chat`).
    pub media_chats: sled::Tree,
    /// `event_log`: seq → event, the one event log (see `store::event_log`).
    pub event_log: sled::Tree,
    /// `chat_log`: chat ‖ seq → () (see `store::event_log`).
    pub chat_log: sled::Tree,
    /// `user_log`: user ‖ seq → () (see `store::event_log`).
    pub user_log: sled::Tree,
    /// `notes` (see `store::notes`).
    pub notes: sled::Tree,
    /// `notes_by_author` (see `store::notes`).
    pub notes_by_author: sled::Tree,
    /// `notes_shared` (see `store::notes`).
    pub notes_shared: sled::Tree,
    /// `note_media` (see `store::notes`).
    pub note_media: sled::Tree,
    /// `note_likes` (see `store::notes`).
    pub note_likes: sled::Tree,
    /// `likes_by_user` (see `store::notes`).
    pub likes_by_user: sled::Tree,
    /// `note_counters` (see `store::notes`).
    pub note_counters: sled::Tree,
    /// `notifications` (see `store::notifications`).
    pub notifications: sled::Tree,
    /// `notifications_by_user` (see `store::notifications`).
    pub notifications_by_user: sled::Tree,
    /// `notification_unread` (see `store::notifications`).
    pub notification_unread: sled::Tree,
    /// `notification_collapse` (see `store::notifications`).
    pub notification_collapse: sled::Tree,
    /// `notification_settings` (see `store::notifications`).
    pub notification_settings: sled::Tree,
    /// `audit_log`: entry id (UUID v7) → audit record (see `store::audit`).
    pub audit_log: sled::Tree,
    /// `reset_codes`: user id → one-time reset code (see `store::reset_codes`).
    pub reset_codes: sled::Tree,
    /// `announcements`: id → announcement (see `store::announcements`).
    pub announcements: sled::Tree,
    /// `announcement_acks`: announcement ‖ user → when acknowledged.
    pub announcement_acks: sled::Tree,
    /// `abuse_reports`: id → report of a message, note or user (see `store::moderation`).
    pub abuse_reports: sled::Tree,
    /// `abuse_report_open`: reporter ‖ entity → the open report's id.
    pub abuse_report_open: sled::Tree,
    /// `goal_reminders` (see `store::goals`).
    pub goal_reminders: sled::Tree,
    /// `push_queue` (see `store::push`).
    pub push_queue: sled::Tree,
    /// `ntfy_topics` (see `store::push`).
    pub ntfy_topics: sled::Tree,
    /// `ntfy_by_user` (see `store::push`).
    pub ntfy_by_user: sled::Tree,
    /// `ntfy_messages` (see `store::push`).
    pub ntfy_messages: sled::Tree,
    /// `push_last` (see `store::push`).
    pub push_last: sled::Tree,
    /// `push_subscriptions` (see `store::web_push`).
    pub push_subscriptions: sled::Tree,
    /// `push_endpoints` (see `store::web_push`).
    pub push_endpoints: sled::Tree,
    /// `webpush_queue` (see `store::web_push`).
    pub webpush_queue: sled::Tree,
    /// `insights` (see `store::insights`).
    pub insights: sled::Tree,
    /// `daily_stats`: per-day counts for the dashboard (see `store::daily`).
    pub daily_stats: sled::Tree,
}

impl Trees {
    fn open(db: &sled::Db) -> sled::Result<Self> {
        Ok(Self {
            meta: db.open_tree("meta")?,
            users: db.open_tree("users")?,
            users_by_email: db.open_tree("users_by_email")?,
            users_by_username: db.open_tree("users_by_username")?,
            sessions: db.open_tree("sessions")?,
            sessions_by_user: db.open_tree("sessions_by_user")?,
            media: db.open_tree("media")?,
            media_by_owner: db.open_tree("media_by_owner")?,
            media_blobs: db.open_tree("media_blobs")?,
            invites: db.open_tree("invites")?,
            idempotency: db.open_tree("idempotency")?,
            friendships: db.open_tree("friendships")?,
            friend_requests: db.open_tree("friend_requests")?,
            requests_out: db.open_tree("requests_out")?,
            requests_in: db.open_tree("requests_in")?,
            blocks: db.open_tree("blocks")?,
            blocked_by: db.open_tree("blocked_by")?,
            user_counters: db.open_tree("user_counters")?,
            events: db.open_tree("events")?,
            activity_logs: db.open_tree("activity_logs")?,
            activity_days: db.open_tree("activity_days")?,
            timers: db.open_tree("timers")?,
            goals: db.open_tree("goals")?,
            report_runs: db.open_tree("report_runs")?,
            chats: db.open_tree("chats")?,
            chat_members: db.open_tree("chat_members")?,
            user_chats: db.open_tree("user_chats")?,
            chat_unread: db.open_tree("chat_unread")?,
            private_pairs: db.open_tree("private_pairs")?,
            messages: db.open_tree("messages")?,
            message_client_ids: db.open_tree("message_client_ids")?,
            media_chats: db.open_tree("media_chats")?,
            event_log: db.open_tree("event_log")?,
            chat_log: db.open_tree("chat_log")?,
            user_log: db.open_tree("user_log")?,
            notes: db.open_tree("notes")?,
            notes_by_author: db.open_tree("notes_by_author")?,
            notes_shared: db.open_tree("notes_shared")?,
            note_media: db.open_tree("note_media")?,
            note_likes: db.open_tree("note_likes")?,
            likes_by_user: db.open_tree("likes_by_user")?,
            note_counters: db.open_tree("note_counters")?,
            notifications: db.open_tree("notifications")?,
            notifications_by_user: db.open_tree("notifications_by_user")?,
            notification_unread: db.open_tree("notification_unread")?,
            notification_collapse: db.open_tree("notification_collapse")?,
            notification_settings: db.open_tree("notification_settings")?,
            audit_log: db.open_tree("audit_log")?,
            reset_codes: db.open_tree("reset_codes")?,
            announcements: db.open_tree("announcements")?,
            announcement_acks: db.open_tree("announcement_acks")?,
            abuse_reports: db.open_tree("abuse_reports")?,
            abuse_report_open: db.open_tree("abuse_report_open")?,
            goal_reminders: db.open_tree("goal_reminders")?,
            push_queue: db.open_tree("push_queue")?,
            ntfy_topics: db.open_tree("ntfy_topics")?,
            ntfy_by_user: db.open_tree("ntfy_by_user")?,
            ntfy_messages: db.open_tree("ntfy_messages")?,
            push_last: db.open_tree("push_last")?,
            push_subscriptions: db.open_tree("push_subscriptions")?,
            push_endpoints: db.open_tree("push_endpoints")?,
            webpush_queue: db.open_tree("webpush_queue")?,
            insights: db.open_tree("insights")?,
            daily_stats: db.open_tree("daily_stats")?,
        })
    }
}

type FlushWaiter = oneshot::Sender<Result<(), String>>;

/// The database handle shared by all services.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// The trees.
    pub(crate) t: Trees,
    flush_tx: mpsc::UnboundedSender<FlushWaiter>,
    /// Writers hold a read guard; a backup holds the write guard to pause them.
    gate: Arc<RwLock<()>>,
    /// Member ids of chats (see [`member_cache`]).
    pub(crate) members: Arc<member_cache::MemberCache>,
    /// sled's files, synced after each flush (see [`power_safe`]).
    files: Arc<Mutex<power_safe::SledFiles>>,
    /// The data directory (its disk's free space is checked before each write).
    dir: std::path::PathBuf,
    /// Free bytes to keep on that disk: below it writes are refused (0: no check).
    reserve: Arc<std::sync::atomic::AtomicU64>,
}

/// Creates `dir` if needed, owner-only (0700): students' data is readable by the server's user
/// alone. An existing directory that others may read is made owner-only too, with a warning.
pub fn private_dir(dir: &Path) -> AppResult<()> {
    std::fs::create_dir_all(dir).map_err(|e| AppError::internal(format!("create {}: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir).map_err(AppError::internal)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| AppError::internal(format!("cannot make {} owner-only: {e}", dir.display())))?;
            tracing::info!(dir = %dir.display(), "made the data directory owner-only (0700)");
        }
    }
    Ok(())
}

/// Makes a file owner-only (0600).
pub fn private_file(path: &Path) -> AppResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| AppError::internal(format!("cannot make {} owner-only: {e}", path.display())))?;
    }
    Ok(())
}

/// Turns a sled error into an internal error.
pub(crate) fn io(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("storage: {e}"))
}

/// Maps a transaction result to ours.
pub(crate) fn tx<T>(r: sled::transaction::TransactionResult<T, AppError>) -> AppResult<T> {
    use sled::transaction::TransactionError;
    match r {
        Ok(v) => Ok(v),
        Err(TransactionError::Abort(e)) => Err(e),
        Err(TransactionError::Storage(e)) => Err(io(e)),
    }
}

/// Aborts a transaction with an application error.
pub(crate) fn abort<T>(e: AppError) -> sled::transaction::ConflictableTransactionResult<T, AppError> {
    Err(sled::transaction::ConflictableTransactionError::Abort(e))
}

impl Store {
    /// Opens (or creates) the database under `dir/db`, checks the schema version and runs
    /// migrations. Must be called inside a tokio runtime (it starts the group-commit task).
    pub fn open(dir: &Path, cache_mb: u64) -> AppResult<Self> {
        private_dir(dir)?;
        let db =
            sled::Config::new().path(dir.join("db")).cache_capacity(cache_mb * 1024 * 1024).flush_every_ms(Some(1000)).open().map_err(
                |e| match e {
                    sled::Error::Io(ref io) if io.kind() == std::io::ErrorKind::WouldBlock || io.raw_os_error() == Some(11) => {
                        AppError::Unavailable(format!(
                            "the database in {} is in use by another friend process (stop the server, or use its control socket)",
                            dir.display()
                        ))
                    }
                    other => io(other),
                },
            )?;
        let t = Trees::open(&db).map_err(io)?;
        db.flush().map_err(io)?;
        let files = power_safe::SledFiles::open(&dir.join("db"), dir).map_err(io)?;
        let (flush_tx, flush_rx) = mpsc::unbounded_channel();
        let store = Self {
            db: db.clone(),
            t,
            flush_tx,
            gate: Arc::new(RwLock::new(())),
            members: Arc::default(),
            files: Arc::new(Mutex::new(files)),
            dir: dir.to_path_buf(),
            reserve: Arc::default(),
        };
        tokio::spawn(group_commit(db, store.files.clone(), flush_rx));
        meta::migrate(&store)?;
        Ok(store)
    }

    /// Waits until every write made before this call is on disk. Concurrent callers share one flush.
    pub async fn durable(&self) -> AppResult<()> {
        let (tx, rx) = oneshot::channel();
        self.flush_tx.send(tx).map_err(|_| AppError::Unavailable("storage is shutting down".into()))?;
        rx.await.map_err(|_| AppError::Unavailable("storage is shutting down".into()))?.map_err(AppError::internal)
    }

    /// Flushes synchronously and makes it power-safe (group commit, shutdown, CLI).
    pub fn flush_now(&self) -> AppResult<()> {
        flush_power_safe(&self.db, &self.files)
    }

    /// Copies sled's files, as flushed now, to `data_dir/backups/pre-migration-schema{N}-{time}/`
    /// before a migration changes them (no other writer runs while the database opens). The copy
    /// is a database the previous binary opens as it is.
    pub(crate) fn copy_before_migration(&self, schema: u64) -> AppResult<std::path::PathBuf> {
        self.flush_now()?;
        let files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let from = files.dir();
        let data_dir = from.parent().unwrap_or(from);
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let to = data_dir.join("backups").join(format!("pre-migration-schema{schema}-{stamp}"));
        power_safe::copy_dir(from, &to).map_err(|e| io(format!("copy before migration to {}: {e}", to.display())))?;
        Ok(to)
    }

    /// Refuses writes while the data disk has less than `bytes` free (`storage.reserve_mb`), so
    /// sled never runs out of space in the middle of a write (after an I/O error sled 0.34 fails
    /// every later write until it is reopened).
    pub fn set_reserve(&self, bytes: u64) {
        self.reserve.store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Held by every writer; a backup takes the exclusive side to pause writes. Refused with 507
    /// `insufficient_storage` before anything is written while the disk is below the reserve.
    pub(crate) fn write_guard(&self) -> AppResult<RwLockReadGuard<'_, ()>> {
        let reserve = self.reserve.load(std::sync::atomic::Ordering::Relaxed);
        if reserve > 0
            && let Ok(free) = fs2::available_space(&self.dir)
            && free < reserve
        {
            return Err(AppError::InsufficientStorage(format!(
                "the server's disk is full ({} MiB free); nothing was saved, try again once the school's IT team has freed space",
                free / (1024 * 1024)
            )));
        }
        Ok(self.gate.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Size of the database on disk, in bytes.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// True when the database answers reads.
    pub fn is_ready(&self) -> bool {
        self.t.meta.get(meta::SCHEMA_KEY).is_ok()
    }

    /// Runs a blocking storage closure off the async workers.
    pub async fn blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> AppResult<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store)).await.map_err(AppError::internal)?
    }

    /// Runs a write off the async workers without waiting for it to be durable (the caller
    /// calls [`Store::durable`] before it acknowledges anything).
    pub async fn write_unflushed<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> AppResult<T> + Send + 'static,
    {
        self.blocking(move |s| {
            let _g = s.write_guard()?;
            f(s)
        })
        .await
    }

    /// Runs a write off the async workers, then waits until it is durable.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> AppResult<T> + Send + 'static,
    {
        let v = self.write_unflushed(f).await?;
        self.durable().await?;
        Ok(v)
    }
}

/// sled's flush, then the syncs that make it survive a power cut (see [`power_safe`]).
fn flush_power_safe(db: &sled::Db, files: &Mutex<power_safe::SledFiles>) -> AppResult<()> {
    db.flush().map_err(io)?;
    files.lock().unwrap_or_else(|p| p.into_inner()).sync().map_err(|e| io(format!("fsync: {e}")))
}

/// The group-commit loop: every flush request that arrives while a flush runs is served by the next one.
async fn group_commit(db: sled::Db, files: Arc<Mutex<power_safe::SledFiles>>, mut rx: mpsc::UnboundedReceiver<FlushWaiter>) {
    while let Some(first) = rx.recv().await {
        let mut waiters = vec![first];
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        let (db2, files2) = (db.clone(), files.clone());
        let result = match tokio::task::spawn_blocking(move || flush_power_safe(&db2, &files2)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("flush task: {e}")),
        };
        if let Err(e) = &result {
            tracing::error!(error = %e, "group commit failed");
        }
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }
}
