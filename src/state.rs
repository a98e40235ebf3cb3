//! The application state shared by every request: config, storage, keys, pools and metrics.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::search::users::UserIndex;
use crate::service::cpu_pool::CpuPool;
use crate::service::passwords::Hasher;
use crate::service::presence::Presence;
use crate::service::throttle::Throttle;
use crate::service::tokens::{TokenKeys, random_secret};
use crate::store::Store;
use crate::store::blobs::Blobs;

/// Secrets generated on first start into `data_dir/secrets.json` (mode 0600) unless configured.
#[derive(Serialize, Deserialize)]
pub struct Secrets {
    /// HMAC key of access tokens.
    pub jwt_secret: String,
    /// HMAC key of signed media URLs.
    pub media_secret: String,
}

impl Secrets {
    /// Loads the secrets file, creating it if absent.
    pub fn load_or_create(data_dir: &Path) -> AppResult<Self> {
        let path = data_dir.join("secrets.json");
        if let Ok(raw) = std::fs::read(&path) {
            return serde_json::from_slice(&raw).map_err(|e| {
                AppError::internal(format!("{} is corrupt ({e}); restore it or delete it to sign everyone out", path.display()))
            });
        }
        std::fs::create_dir_all(data_dir).map_err(AppError::internal)?;
        let s = Self { jwt_secret: random_secret(32), media_secret: random_secret(32) };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&s).map_err(AppError::internal)?).map_err(AppError::internal)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(AppError::internal)?;
        }
        std::fs::rename(&tmp, &path).map_err(AppError::internal)?;
        Ok(s)
    }
}

/// Everything a request handler or job needs.
pub struct AppState {
    /// Effective configuration.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// Media files.
    pub blobs: Blobs,
    /// The clock.
    pub clock: Clock,
    /// Access token keys.
    pub tokens: TokenKeys,
    /// Media URL signing key.
    pub media_key: Vec<u8>,
    /// Worker threads for CPU-heavy work.
    pub cpu: CpuPool,
    /// Password hashing (on `cpu`).
    pub hasher: Hasher,
    /// Failed logins per account.
    pub login_by_account: Throttle,
    /// Failed logins per client IP.
    pub login_by_ip: Throttle,
    /// Who is connected.
    pub presence: Presence,
    /// The user directory search index.
    pub user_index: UserIndex,
    /// The notes search index.
    pub note_index: crate::search::notes::NoteIndex,
    /// Live WebSocket connections.
    pub hub: crate::realtime::Hub,
    /// Event sequence numbers (held while a chat change commits).
    pub sequencer: tokio::sync::Mutex<crate::service::chat::Sequencer>,
    /// Metrics.
    pub metrics: Metrics,
    /// The URL people use to reach this server (set once bound).
    pub base_url: String,
}

/// Shared handle.
pub type State = Arc<AppState>;

impl AppState {
    /// Opens storage and builds the state for `config`.
    pub fn open(config: Config, clock: Clock, base_url: String) -> AppResult<Self> {
        let store = Store::open(&config.data_dir, config.storage.cache_mb)?;
        let secrets = Secrets::load_or_create(&config.data_dir)?;
        let jwt = if config.auth.jwt_secret.is_empty() { secrets.jwt_secret.clone() } else { config.auth.jwt_secret.clone() };
        let a = &config.auth;
        let cpu = CpuPool::new(a.hash_concurrency, 256);
        let (user_index, rebuild) = UserIndex::open(&config.data_dir)?;
        let (note_index, rebuild_notes) = crate::search::notes::NoteIndex::open(&config.data_dir)?;
        let store_for_seq = store.clone();
        let state = Self {
            blobs: Blobs::new(&config.data_dir),
            tokens: TokenKeys::new(jwt.as_bytes(), a.access_ttl_secs as i64),
            media_key: secrets.media_secret.into_bytes(),
            hasher: Hasher::new(cpu.clone()),
            cpu,
            login_by_account: Throttle::new(a.max_failed_logins_per_account, a.lockout_window_secs),
            login_by_ip: Throttle::new(a.max_logins_per_ip, a.lockout_window_secs),
            presence: Presence::default(),
            metrics: Metrics::default(),
            store,
            clock,
            config,
            base_url,
            user_index,
            note_index,
            hub: crate::realtime::Hub::default(),
            sequencer: crate::service::chat::Sequencer::open(&store_for_seq)?,
        };
        if rebuild {
            tracing::info!("building the user directory index from storage");
            state.user_index.rebuild(crate::service::social::all_user_docs(&state)?);
        }
        if rebuild_notes {
            tracing::info!("building the notes search index from storage");
            crate::service::notes::rebuild_index(&state);
        } else if let Some(at) = state.note_index.last_commit() {
            crate::service::notes::catch_up(&state, at);
        }
        Ok(state)
    }
}
