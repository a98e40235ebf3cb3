//! The application state shared by every request: config, storage, the event log, keys, pools
//! and metrics. It sits below the services: it opens things, it decides nothing (`lib.rs`
//! composes the server: rebuilds indexes, registers subscribers, starts jobs).

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::events::Log;
use crate::infra::cpu_pool::CpuPool;
use crate::infra::passwords::Hasher;
use crate::infra::presence::Presence;
use crate::infra::throttle::Throttle;
use crate::infra::tokens::{TokenKeys, random_secret};
use crate::infra::typing::Typing;
use crate::metrics::Metrics;
use crate::search::notes::NoteIndex;
use crate::search::users::UserIndex;
use crate::store::Store;
use crate::store::blobs::Blobs;

/// Secrets generated on first start into `data_dir/secrets.json` (mode 0600) unless configured.
#[derive(Serialize, Deserialize)]
pub struct Secrets {
    /// HMAC key of access tokens.
    pub jwt_secret: String,
    /// HMAC key of signed media URLs.
    pub media_secret: String,
    /// The VAPID private key (Web Push), added to older files on first start.
    #[serde(default)]
    pub vapid_private_key: String,
}

impl Secrets {
    /// Loads the secrets file, creating it if absent.
    pub fn load_or_create(data_dir: &Path) -> AppResult<Self> {
        let path = data_dir.join("secrets.json");
        if let Ok(raw) = std::fs::read(&path) {
            let mut s: Self = serde_json::from_slice(&raw).map_err(|e| {
                AppError::internal(format!("{} is corrupt ({e}); restore it or delete it to sign everyone out", path.display()))
            })?;
            if s.vapid_private_key.is_empty() {
                s.vapid_private_key = crate::infra::web_push::new_vapid_key();
                s.save(&path)?;
            }
            return Ok(s);
        }
        std::fs::create_dir_all(data_dir).map_err(AppError::internal)?;
        let s = Self {
            jwt_secret: random_secret(32),
            media_secret: random_secret(32),
            vapid_private_key: crate::infra::web_push::new_vapid_key(),
        };
        s.save(&path)?;
        Ok(s)
    }

    /// Writes the file (owner-only) by a rename, so a crash or a power cut leaves the old one or the new one.
    fn save(&self, path: &Path) -> AppResult<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(AppError::internal)?;
        crate::store::power_safe::write_file(path, &bytes, true).map_err(AppError::internal)
    }
}

/// Images waiting for a decoder; one more upload gets 503 (each waiting upload holds its bytes).
const IMAGE_QUEUE: usize = 4;

/// Heavy reads waiting for a read thread; one more answers 503 (see [`AppState::reads`]).
const READ_QUEUE: usize = 1024;

/// Threads for heavy reads: one per core, at least 2. These reads are CPU-bound (search,
/// charts, exports); more threads than cores only time-slice requests against each other: with
/// twice the cores, 16 concurrent searches had a p99 of 20–23 ms, with one per core 15–18 ms at
/// the same throughput (BENCHMARKS.md, "Read threads").
fn read_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).max(2)
}

/// Reports (of messages, notes, users) one user may send an hour.
const REPORTS_PER_HOUR: u32 = 20;

/// ntfy subscription requests one address may make a minute.
const NTFY_REQUESTS_PER_MINUTE: u32 = 120;

/// Everything a request handler or job needs.
pub struct AppState {
    /// Effective configuration.
    pub config: Config,
    /// The school settings in effect (config values under what staff changed); see [`AppState::settings`].
    settings: std::sync::RwLock<Arc<crate::config::SchoolSettings>>,
    /// The database.
    pub store: Store,
    /// New notes written together (see [`crate::store::batch`]).
    pub new_notes: crate::store::batch::Batch<crate::store::notes::NoteRecord>,
    /// Dashboard counts not yet flushed (see [`crate::infra::tally`]).
    pub tally: crate::infra::tally::Tally,
    /// Media files.
    pub blobs: Blobs,
    /// The clock.
    pub clock: Clock,
    /// Access token keys.
    pub tokens: TokenKeys,
    /// Media URL signing key.
    pub media_key: Vec<u8>,
    /// Worker threads for password hashing.
    pub cpu: CpuPool,
    /// Password hashing (on `cpu`).
    pub hasher: Hasher,
    /// Worker threads for image decoding, apart from `cpu` so that sign-ins never wait behind uploads.
    pub images: CpuPool,
    /// Heavy reads of requests (storage scans, search, charts, exports, blobs), off the async
    /// workers on a fixed set of threads with a bounded queue (DESIGN rule 5).
    pub reads: CpuPool,
    /// Uploads per user.
    pub uploads: Throttle,
    /// `sync` replays that may run at once (half the cores, at least one): many full syncs queue
    /// instead of taking every core from the other requests.
    pub replays: tokio::sync::Semaphore,
    /// Registrations without an invite (and wrong invite codes) per client IP.
    pub registrations: Throttle,
    /// Friend requests per user.
    pub friend_requests: Throttle,
    /// Reports a user may send per hour.
    pub reports: Throttle,
    /// New chats per user.
    pub new_chats: Throttle,
    /// Failed logins per account (and password confirmations).
    pub login_by_account: Throttle,
    /// Failed logins per client IP.
    pub login_by_ip: Throttle,
    /// Failed logins per device (address and User-Agent) and account.
    pub login_by_device: Throttle,
    /// Tries from unknown devices on an account in backoff.
    pub login_backoff: Throttle,
    /// Who is connected.
    pub presence: Presence,
    /// Who is typing where.
    pub typing: Typing,
    /// Open ntfy subscription streams.
    pub ntfy: crate::infra::ntfy_hub::NtfyHub,
    /// Wakes the push sender when the notification follower queued pushes.
    pub push_wake: tokio::sync::Notify,
    /// ntfy subscription requests per address (topic guessing is slow).
    pub ntfy_requests: Throttle,
    /// The user directory search index.
    pub user_index: UserIndex,
    /// The notes search index.
    pub note_index: NoteIndex,
    /// The one event log and its subscribers.
    pub events: Log,
    /// Metrics.
    pub metrics: Metrics,
    /// The URL people use to reach this server (set once bound).
    pub base_url: String,
    /// The Web Push client (VAPID key, endpoint rules, connections).
    pub web_push: crate::infra::web_push::WebPush,
    /// Web Push delivery state: queue depth and when push services stopped answering.
    pub web_push_status: crate::infra::web_push::Status,
    /// Wakes the Web Push sender when jobs were queued.
    pub web_push_wake: tokio::sync::Notify,
    /// The insights model, or why there is none (answers 503 `insights_unavailable`).
    pub insights_model: Result<Arc<crate::ml::Model>, String>,
    /// The thread that computes insights (features and inference), with a bounded queue.
    pub insights_pool: CpuPool,
    /// `POST /insights/refresh` per user.
    pub insight_refreshes: Throttle,
}

/// Insight computations waiting for the insights thread; one more refresh gets 503.
const INSIGHTS_QUEUE: usize = 64;

/// Loads the insights model once, logging how long it took or how to fix it.
fn load_model(config: &Config) -> Result<Arc<crate::ml::Model>, String> {
    if !config.insights.enabled {
        return Err("insights are turned off on this server (insights.enabled = false)".into());
    }
    let started = std::time::Instant::now();
    match crate::ml::Model::load(&config.insights.model_path) {
        Ok(m) => {
            tracing::info!(
                model = %m.meta.name, version = %m.meta.version, source = %m.source, sha256 = %m.meta.sha256,
                load_ms = started.elapsed().as_secs_f64() * 1000.0, "insights model loaded"
            );
            Ok(Arc::new(m))
        }
        Err(e) => {
            tracing::error!("insights are unavailable: {e}");
            Err(e)
        }
    }
}

/// Derived indexes that [`AppState::open`] found missing or outdated.
#[derive(Clone, Copy, Debug)]
pub struct Rebuild {
    /// The user directory.
    pub users: bool,
    /// The notes search index.
    pub notes: bool,
}

/// Shared handle.
pub type State = Arc<AppState>;

impl AppState {
    /// Opens storage and the search indexes and builds the state for `config`. Also returns
    /// whether the user directory and the notes index must be rebuilt (they were missing or old).
    pub fn open(config: Config, clock: Clock, base_url: String) -> AppResult<(Self, Rebuild)> {
        let store = Store::open(&config.data_dir, config.storage.cache_mb)?;
        store.set_reserve(config.storage.reserve_mb.saturating_mul(1024 * 1024));
        let secrets = Secrets::load_or_create(&config.data_dir)?;
        let jwt = if config.auth.jwt_secret.is_empty() { secrets.jwt_secret.clone() } else { config.auth.jwt_secret.clone() };
        let a = &config.auth;
        let cpu = CpuPool::new(a.hash_concurrency, 256);
        let (user_index, rebuild) = UserIndex::open(&config.data_dir)?;
        let (note_index, rebuild_notes) = NoteIndex::open(&config.data_dir)?;
        let vapid = if config.push.vapid_private_key.is_empty() { &secrets.vapid_private_key } else { &config.push.vapid_private_key };
        let web_push = crate::infra::web_push::WebPush::new(&config.push, vapid).map_err(AppError::internal)?;
        let settings = std::sync::RwLock::new(Arc::new(settings_overrides(&store)?.over(&config)));
        let state = Self {
            settings,
            blobs: Blobs::new(&config.data_dir),
            tokens: TokenKeys::new(jwt.as_bytes(), a.access_ttl_secs as i64),
            media_key: secrets.media_secret.into_bytes(),
            hasher: Hasher::new(cpu.clone()),
            cpu,
            images: CpuPool::new(config.media.decode_concurrency, IMAGE_QUEUE),
            reads: CpuPool::new(read_threads(), READ_QUEUE),
            uploads: Throttle::new(config.media.uploads_per_hour, 3600),
            replays: tokio::sync::Semaphore::new((std::thread::available_parallelism().map_or(2, |n| n.get()) / 2).max(1)),
            registrations: Throttle::new(a.max_registrations_per_ip, a.lockout_window_secs),
            friend_requests: Throttle::new(config.chat.friend_requests_per_hour, 3600),
            reports: Throttle::new(REPORTS_PER_HOUR, 3600),
            new_chats: Throttle::new(config.chat.new_chats_per_hour, 3600),
            login_by_account: Throttle::new(a.max_failed_logins_per_account, a.lockout_window_secs),
            login_by_ip: Throttle::new(a.max_logins_per_ip, a.lockout_window_secs),
            login_by_device: Throttle::new(a.max_failed_logins_per_device, a.lockout_window_secs),
            login_backoff: Throttle::new(1, a.account_backoff_secs),
            presence: Presence::default(),
            typing: Typing::default(),
            ntfy: Default::default(),
            push_wake: tokio::sync::Notify::new(),
            ntfy_requests: Throttle::new(NTFY_REQUESTS_PER_MINUTE, 60),
            events: Log::open(&store)?,
            metrics: Metrics::default(),
            web_push,
            web_push_status: Default::default(),
            web_push_wake: tokio::sync::Notify::new(),
            insights_model: load_model(&config),
            insights_pool: CpuPool::new(1, INSIGHTS_QUEUE),
            insight_refreshes: Throttle::new(config.insights.refresh_per_hour, 3600),
            store,
            tally: Default::default(),
            new_notes: crate::store::batch::Batch::new(crate::store::notes::put_new),
            clock,
            config,
            base_url,
            user_index,
            note_index,
        };
        Ok((state, Rebuild { users: rebuild, notes: rebuild_notes }))
    }

    /// The school settings in effect now (a change applies to the next call).
    pub fn settings(&self) -> Arc<crate::config::SchoolSettings> {
        self.settings.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `overrides` in effect at once (they are already stored).
    pub fn apply_settings(&self, overrides: &crate::config::SettingsOverrides) {
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(overrides.over(&self.config));
    }
}

/// The school settings staff changed, as stored (none yet: all from the config).
pub fn settings_overrides(store: &Store) -> AppResult<crate::config::SettingsOverrides> {
    match crate::store::meta::settings_overrides(store)? {
        Some(v) => serde_json::from_value(v).map_err(|e| AppError::internal(format!("stored school settings: {e}"))),
        None => Ok(Default::default()),
    }
}
