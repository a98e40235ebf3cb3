//! Configuration: embedded defaults, then `config.toml`, then `FRIEND_*` environment variables
//! (`__` separates nesting levels), then command-line flags (applied by `cli`).

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Who may create an account.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, clap::ValueEnum, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone who reaches the server.
    Open,
    /// Only with a valid invite code.
    Invite,
    /// Only staff create accounts.
    Closed,
}

/// The whole server configuration. Every key is documented in `config.toml` at the repo root.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Where sled, media, the search index and secrets live.
    pub data_dir: PathBuf,
    /// The URL clients use to reach the server (used in printed links); empty = derived from `bind`.
    pub public_url: String,
    /// Name shown in the admin and the API docs.
    pub school_name: String,
    /// Default IANA time zone for new users.
    pub default_timezone: String,
    /// Registration mode.
    pub registration: Registration,
    /// Log settings.
    pub log: LogConfig,
    /// Authentication settings.
    pub auth: AuthConfig,
    /// HTTP limits and CORS.
    pub http: HttpConfig,
    /// Media upload limits.
    pub media: MediaConfig,
    /// Storage settings.
    pub storage: StorageConfig,
    /// Chat and WebSocket settings.
    pub chat: ChatConfig,
    /// Activity settings.
    pub activity: ActivityConfig,
    /// The inbox and push.
    pub notifications: NotificationsConfig,
    /// Web Push.
    pub push: PushConfig,
    /// Local AI insights.
    pub insights: InsightsConfig,
    /// Scheduled backups.
    pub backup: BackupConfig,
    /// HTTPS.
    pub tls: TlsConfig,
    /// mDNS / DNS-SD announcement.
    pub mdns: MdnsConfig,
}

/// mDNS / DNS-SD (see [`crate::infra::mdns`]).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MdnsConfig {
    /// Announce the server on the LAN.
    pub enabled: bool,
    /// Host name: the server is `NAME.local` (also in the local CA's certificate).
    pub name: String,
    /// Also announce on the loopback interface (one machine, or tests).
    pub include_loopback: bool,
}

impl Default for MdnsConfig {
    fn default() -> Self {
        Self { enabled: true, name: "friend".into(), include_loopback: false }
    }
}

/// How the server speaks HTTPS.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain HTTP (behind a proxy that does TLS, or on a trusted network).
    #[default]
    Off,
    /// A certificate and key from files (reloaded when they change).
    Files,
    /// A local certificate authority made on first start; phones trust it once.
    LocalCa,
}

/// HTTPS (see [`crate::infra::tls`]).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// `off`, `files` or `local-ca`.
    pub mode: TlsMode,
    /// `files`: the PEM certificate chain.
    pub cert: PathBuf,
    /// `files`: the PEM private key.
    pub key: PathBuf,
    /// `local-ca`: more names or addresses for the certificate (localhost, the machine's name,
    /// its `.local` name and LAN addresses are always in).
    pub hosts: Vec<String>,
    /// Seconds between two looks for changed files or a certificate to renew.
    pub reload_secs: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self { mode: TlsMode::Off, cert: PathBuf::new(), key: PathBuf::new(), hosts: Vec::new(), reload_secs: 10 }
    }
}

/// Scheduled backups: one a day, verified, rotated.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Write a backup every day.
    pub enabled: bool,
    /// Local hour (in `default_timezone`) from which the daily backup runs, 0–23.
    pub hour: u32,
    /// Where backups go (a USB stick or a NAS mount is best); empty: `data_dir/backups`.
    pub dir: PathBuf,
    /// Daily backups kept (the newest of each of the last N days).
    pub keep_daily: u32,
    /// Weekly backups kept (the newest of each of the last N weeks).
    pub keep_weekly: u32,
    /// Minutes before a failed backup is tried again.
    pub retry_minutes: u64,
    /// Seconds between two looks at the schedule.
    pub check_secs: u64,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self { enabled: true, hour: 2, dir: PathBuf::new(), keep_daily: 7, keep_weekly: 4, retry_minutes: 30, check_secs: 60 }
    }
}

impl BackupConfig {
    /// The directory scheduled backups go to.
    pub fn dir_in(&self, data_dir: &std::path::Path) -> PathBuf {
        if self.dir.as_os_str().is_empty() { data_dir.join("backups") } else { self.dir.clone() }
    }
}

/// Local AI insights (the ONNX model of `models/`, run inside the server).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InsightsConfig {
    /// Compute insights at all (students can still turn them off for themselves).
    pub enabled: bool,
    /// An `insights.onnx` written by `models/train.py` (its `insights.json` beside it); empty: the
    /// model built into the binary.
    pub model_path: String,
    /// Days with a log, of the last 28, before any insight is given.
    pub min_logged_days: u32,
    /// The weekly insights are computed from this local hour on Monday.
    pub weekly_hour: u32,
    /// `POST /insights/refresh` calls a student may make an hour.
    pub refresh_per_hour: u32,
}

impl Default for InsightsConfig {
    fn default() -> Self {
        Self { enabled: true, model_path: String::new(), min_logged_days: 10, weekly_hour: 6, refresh_per_hour: 6 }
    }
}

/// Web Push (RFC 8030 with VAPID, RFC 8292, and aes128gcm payloads, RFC 8291).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// The VAPID private key: the raw 32-byte P-256 scalar, base64url (empty: generated on first
    /// start into the data directory's `secrets.json`).
    pub vapid_private_key: String,
    /// Who runs this server, sent to push services in the VAPID token (`mailto:` or `https:`).
    pub vapid_subject: String,
    /// Push service hosts a subscription endpoint may be on (`https` only, port 443); an entry
    /// `*.example.com` allows its subdomains.
    pub known_hosts: Vec<String>,
    /// Further hosts, `host` (any port) or `host:port`: plain `http` and private addresses are
    /// allowed on them (a push server on the school LAN).
    pub allow_hosts: Vec<String>,
    /// How long a push service keeps a push for an offline device, and how long a failing one
    /// is retried, in seconds.
    pub ttl_secs: u32,
    /// Pushes being sent at once.
    pub senders: usize,
    /// Seconds one request to a push service may take (connecting included).
    pub timeout_secs: u64,
    /// Web Push subscriptions (devices) one user may have; a new one replaces the oldest.
    pub max_subscriptions_per_user: usize,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            vapid_private_key: String::new(),
            vapid_subject: "mailto:admin@friend.invalid".into(),
            known_hosts: [
                "fcm.googleapis.com",
                "android.googleapis.com",
                "updates.push.services.mozilla.com",
                "push.services.mozilla.com",
                "web.push.apple.com",
                "*.push.apple.com",
                "*.notify.windows.com",
            ]
            .map(String::from)
            .to_vec(),
            allow_hosts: Vec::new(),
            ttl_secs: 4 * 3600,
            senders: 32,
            timeout_secs: 10,
            max_subscriptions_per_user: 10,
        }
    }
}

/// Study life settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActivityConfig {
    /// A study timer left running counts at most this many hours (and is flagged).
    pub timer_cap_hours: u32,
    /// How often the report job looks for finished weeks and months, in seconds.
    pub report_job_secs: u64,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        Self { timer_cap_hours: 6, report_job_secs: 60 }
    }
}

/// The inbox and push.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Notifications older than this are removed (days; 0 keeps them).
    pub retention_days: u32,
    /// At most this many notifications are kept per user (the oldest go first).
    pub max_per_user: usize,
    /// School quiet hours, `HH:MM-HH:MM` in each student's time zone (empty: none). No push
    /// and no reminders then; students can add their own hours but not shorten these.
    pub school_quiet_hours: String,
    /// Hours the ntfy topics keep their messages for the app to fetch what it missed (`since`).
    pub ntfy_cache_hours: u32,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self { retention_days: 90, max_per_user: 500, school_quiet_hours: String::new(), ntfy_cache_hours: 12 }
    }
}

/// Who may start a private chat (and whom a member may add to a group).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, salvo::oapi::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DmPolicy {
    /// Students message friends; staff anyone.
    FriendsOnly,
    /// Anyone not blocked.
    Anyone,
    /// Only staff start conversations.
    StaffOnly,
}

/// Chat and WebSocket limits.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatConfig {
    /// Who may start private chats.
    pub dm_policy: DmPolicy,
    /// Longest text message, in bytes.
    pub max_message_bytes: usize,
    /// Open WebSockets per user.
    pub max_sockets_per_user: usize,
    /// Frames a socket may send per second (bursts of twice that are allowed).
    pub frames_per_second: u32,
    /// Largest group.
    pub max_group_members: usize,
    /// Events one `sync` replays at most (then `sync.done {more: true}`).
    pub sync_max_events: usize,
    /// Days events stay in the log (`sync` replays them), 0 = for ever. Messages themselves stay.
    pub event_retention_days: u32,
    /// Friend requests a student may send per hour.
    pub friend_requests_per_hour: u32,
    /// Chats (private or group) a student may start per hour.
    pub new_chats_per_hour: u32,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            dm_policy: DmPolicy::FriendsOnly,
            max_message_bytes: 4096,
            max_sockets_per_user: 10,
            frames_per_second: 20,
            max_group_members: 500,
            sync_max_events: 2000,
            event_retention_days: 90,
            friend_requests_per_hour: 30,
            new_chats_per_hour: 30,
        }
    }
}

/// Logging.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `friend=debug,info`.
    pub level: String,
    /// Emit JSON lines instead of human-readable text.
    pub json: bool,
}

/// Tokens, passwords and login throttling.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HMAC key for access tokens (base64 or any string of 32+ bytes). Empty = generated into the data dir.
    pub jwt_secret: String,
    /// Access token lifetime in seconds.
    pub access_ttl_secs: u64,
    /// Refresh token (session) lifetime in days.
    pub refresh_ttl_days: u64,
    /// A session ends this many days after sign-in however often it is refreshed.
    pub session_max_days: u64,
    /// Concurrent argon2 hashes (0 = number of CPU cores).
    pub hash_concurrency: usize,
    /// Failed logins from one device (address and User-Agent) on one account in
    /// `lockout_window_secs` before that device gets 429 for that account.
    pub max_failed_logins_per_device: u32,
    /// Failed logins on one account in `lockout_window_secs` before devices it never signed in
    /// from may try only once per `account_backoff_secs` (its known devices are not slowed).
    pub max_failed_logins_per_account: u32,
    /// Seconds between two tries from unknown devices on an account in backoff.
    pub account_backoff_secs: u64,
    /// Failed logins from one client IP in `lockout_window_secs` before unknown devices there
    /// get 429 (high: a whole school may share one address).
    pub max_logins_per_ip: u32,
    /// Registrations without an invite code (and wrong invite codes) from one client IP in
    /// `lockout_window_secs`; with a valid invite its uses are the limit.
    pub max_registrations_per_ip: u32,
    /// Window of the limits above, in seconds.
    pub lockout_window_secs: u64,
    /// Staff (moderators and admins) must sign in with two-factor login (TOTP) to use staff
    /// rights; the first value of the school setting `staff_two_factor`.
    pub staff_two_factor: bool,
}

/// HTTP server behaviour.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Origins allowed by CORS (`*` allows any). Empty = same-origin only.
    pub cors_origins: Vec<String>,
    /// Largest JSON request body, in bytes.
    pub max_json_bytes: u64,
    /// Seconds a request may take before 503.
    pub request_timeout_secs: u64,
    /// Trust `X-Forwarded-For` (only behind a reverse proxy you run).
    pub trust_forwarded_for: bool,
    /// Who may read `GET /metrics`: the server machine itself (loopback) always; others only
    /// with `Authorization: Bearer <metrics_token>` when this is set.
    pub metrics_token: String,
}

/// Media uploads.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Largest upload, in bytes.
    pub max_upload_bytes: u64,
    /// Largest image width or height accepted, in pixels.
    pub max_image_side: u32,
    /// Lifetime of signed media URLs, in seconds (they work for this to twice this long, and only
    /// while the user they were made for may see the file).
    pub url_ttl_secs: u64,
    /// Images decoded at the same time (their own threads: sign-ins never wait behind them).
    pub decode_concurrency: usize,
    /// Largest decoded image in memory, in MiB (width × height × bytes per pixel); larger ones
    /// are refused before decoding.
    pub max_decoded_mib: u64,
    /// Uploads one user may start per hour.
    pub uploads_per_hour: u32,
    /// Bytes of files one user may keep, in MiB (0 = no quota).
    pub quota_mb: u64,
    /// Uploads are refused while the data directory's disk has less free space than this, in MiB.
    pub min_free_mb: u64,
}

/// Storage.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// sled page cache, in MiB.
    pub cache_mb: u64,
    /// Below this much free space on the data directory's disk, in MiB, the log, `/readyz` and
    /// `/metrics` warn that it is filling up.
    pub warn_free_mb: u64,
    /// Below this much free space, in MiB, writes are refused with 507 `insufficient_storage`
    /// (nothing half-written; reads go on; writes resume once space is freed). 0: never.
    pub reserve_mb: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: "0.0.0.0:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("./data"),
            public_url: String::new(),
            school_name: "Friend".into(),
            default_timezone: "UTC".into(),
            registration: Registration::Invite,
            log: LogConfig::default(),
            auth: AuthConfig::default(),
            http: HttpConfig::default(),
            media: MediaConfig::default(),
            storage: StorageConfig::default(),
            chat: ChatConfig::default(),
            activity: ActivityConfig::default(),
            notifications: NotificationsConfig::default(),
            push: PushConfig::default(),
            insights: InsightsConfig::default(),
            backup: BackupConfig::default(),
            tls: TlsConfig::default(),
            mdns: MdnsConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".into(), json: false }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: String::new(),
            access_ttl_secs: 15 * 60,
            refresh_ttl_days: 30,
            session_max_days: 90,
            hash_concurrency: 0,
            max_failed_logins_per_device: 5,
            max_failed_logins_per_account: 10,
            account_backoff_secs: 60,
            max_logins_per_ip: 300,
            max_registrations_per_ip: 20,
            lockout_window_secs: 15 * 60,
            staff_two_factor: false,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            max_json_bytes: 256 * 1024,
            request_timeout_secs: 30,
            trust_forwarded_for: false,
            metrics_token: String::new(),
        }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 10 * 1024 * 1024,
            max_image_side: 8192,
            url_ttl_secs: 900,
            decode_concurrency: 1,
            max_decoded_mib: 40,
            uploads_per_hour: 120,
            quota_mb: 500,
            min_free_mb: 1024,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { cache_mb: 64, warn_free_mb: 2048, reserve_mb: 64 }
    }
}

impl Config {
    /// Loads defaults, then `file` (if given, it must exist), then `FRIEND_*` variables. A
    /// variable that names no key is skipped (see [`unknown_env`]); an unknown key in the file
    /// stops with an error.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, String> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(format!(
                    "config file {} does not exist (create it with `friend init`, or drop --config/FRIEND_CONFIG)",
                    path.display()
                ));
            }
            fig = fig.merge(Toml::file(path));
        }
        let unknown: Vec<String> = unknown_env(std::env::vars()).into_iter().map(|(var, _)| var["FRIEND_".len()..].to_string()).collect();
        let mut ignored: Vec<&str> = unknown.iter().map(String::as_str).collect();
        ignored.push("CONFIG");
        fig = fig.merge(Env::prefixed("FRIEND_").ignore(&ignored).split("__").map(|k| k.as_str().to_ascii_lowercase().into()));
        let config: Config = fig.extract().map_err(|e| format!("invalid configuration: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that serde cannot, with a message that says how to fix them.
    pub fn validate(&self) -> Result<(), String> {
        let q = &self.notifications.school_quiet_hours;
        if !q.is_empty() && crate::model::QuietHours::parse_range(q).is_none() {
            return Err(format!("notifications.school_quiet_hours `{q}` must look like 21:30-07:00"));
        }
        if self.default_timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(format!(
                "default_timezone `{}` is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)",
                self.default_timezone
            ));
        }
        if self.auth.access_ttl_secs < 30 || self.auth.access_ttl_secs > 24 * 3600 {
            return Err("auth.access_ttl_secs must be between 30 and 86400".into());
        }
        if self.auth.refresh_ttl_days == 0 || self.auth.refresh_ttl_days > 365 {
            return Err("auth.refresh_ttl_days must be between 1 and 365".into());
        }
        if self.auth.session_max_days < self.auth.refresh_ttl_days || self.auth.session_max_days > 3650 {
            return Err("auth.session_max_days must be at least auth.refresh_ttl_days and at most 3650".into());
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.len() < 32 {
            return Err("auth.jwt_secret must be at least 32 characters (or empty to generate one)".into());
        }
        if self.media.decode_concurrency == 0 || self.media.max_decoded_mib == 0 || self.media.uploads_per_hour == 0 {
            return Err("media.decode_concurrency, media.max_decoded_mib and media.uploads_per_hour must be at least 1".into());
        }
        if self.media.max_upload_bytes < 1024 {
            return Err("media.max_upload_bytes must be at least 1024".into());
        }
        let p = &self.push;
        if !(p.vapid_subject.starts_with("mailto:") || p.vapid_subject.starts_with("https://")) {
            return Err(format!("push.vapid_subject `{}` must be a mailto: or https: URL", p.vapid_subject));
        }
        if p.senders == 0 || p.timeout_secs == 0 || p.ttl_secs < 60 || p.max_subscriptions_per_user == 0 {
            return Err(
                "push.senders, push.timeout_secs and push.max_subscriptions_per_user must be at least 1, push.ttl_secs at least 60".into(),
            );
        }
        if let Some(h) = p.known_hosts.iter().chain(&p.allow_hosts).find(|h| h.is_empty() || h.contains(['/', '@', ' '])) {
            return Err(format!("push host `{h}` must be a host name or host:port, without scheme or path"));
        }
        let i = &self.insights;
        if i.min_logged_days == 0 || i.min_logged_days > 28 || i.weekly_hour > 23 || i.refresh_per_hour == 0 {
            return Err("insights.min_logged_days must be 1..=28, insights.weekly_hour 0..=23, insights.refresh_per_hour at least 1".into());
        }
        let b = &self.backup;
        if b.hour > 23 || b.keep_daily == 0 || b.retry_minutes == 0 || b.check_secs == 0 {
            return Err("backup.hour must be 0..=23; backup.keep_daily, backup.retry_minutes and backup.check_secs at least 1".into());
        }
        if self.tls.mode == TlsMode::Files && (self.tls.cert.as_os_str().is_empty() || self.tls.key.as_os_str().is_empty()) {
            return Err("tls.mode = \"files\" needs tls.cert and tls.key (PEM files), or use tls.mode = \"local-ca\"".into());
        }
        let n = &self.mdns.name;
        if n.is_empty() || n.len() > 63 || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') || n.starts_with('-') {
            return Err(format!("mdns.name `{n}` must be 1-63 letters, digits or '-' (the server is then NAME.local)"));
        }
        if self.tls.reload_secs == 0 {
            return Err("tls.reload_secs must be at least 1".into());
        }
        if self.http.max_json_bytes < 1024 {
            return Err("http.max_json_bytes must be at least 1024".into());
        }
        Ok(())
    }

    /// The address to print and to build absolute links with.
    pub fn display_url(&self, bound: SocketAddr) -> String {
        if !self.public_url.is_empty() {
            return self.public_url.trim_end_matches('/').to_string();
        }
        let host = match bound.ip() {
            ip if ip.is_unspecified() => "localhost".to_string(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            ip => ip.to_string(),
        };
        let scheme = if self.tls.mode == TlsMode::Off { "http" } else { "https" };
        format!("{scheme}://{host}:{}", bound.port())
    }
}

/// `FRIEND_*` variables of `vars` that name no configuration key (so a shell that exports, say,
/// `FRIEND_BIN` for a script can still start the server), each with the closest known variable.
/// `FRIEND_CONFIG` (the file's path) is known.
pub fn unknown_env(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, Option<String>)> {
    let mut known = vec!["FRIEND_CONFIG".to_string()];
    if let Ok(v) = serde_json::to_value(Config::default()) {
        env_names("FRIEND_", &v, &mut known);
    }
    vars.filter(|(k, _)| k.to_ascii_uppercase().starts_with("FRIEND_"))
        .map(|(k, _)| k)
        .filter(|k| !known.iter().any(|n| n.eq_ignore_ascii_case(k)))
        .map(|k| {
            let upper = k.to_ascii_uppercase();
            let closest = known
                .iter()
                .map(|n| (strsim::levenshtein(n, &upper), n))
                .filter(|(d, n)| *d <= n.len() / 3 + 1)
                .min()
                .map(|(_, n)| n.clone());
            (k, closest)
        })
        .collect()
}

/// Every variable name that sets a key (or a whole table) of the configuration `v`.
fn env_names(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
    if let serde_json::Value::Object(map) = v {
        for (key, child) in map {
            let name = format!("{prefix}{}", key.to_ascii_uppercase());
            env_names(&format!("{name}__"), child, out);
            out.push(name);
        }
    }
}

/// The lines to log at start: a short summary at info (where, what, who may join), and the whole
/// redacted configuration for `debug`.
pub fn summary(config: &Config) -> String {
    format!(
        "data_dir={} bind={} public_url={} registration={:?} school={:?} tls={}",
        config.data_dir.display(),
        config.bind,
        if config.public_url.is_empty() { "(derived)" } else { config.public_url.as_str() },
        config.registration,
        config.school_name,
        match config.tls.mode {
            TlsMode::Off => "off",
            TlsMode::Files => "files",
            TlsMode::LocalCa => "local-ca",
        },
    )
}

/// A copy safe to log: secrets replaced.
pub fn redacted(config: &Config) -> Config {
    let mut c = config.clone();
    if !c.auth.jwt_secret.is_empty() {
        c.auth.jwt_secret = "<redacted>".into();
    }
    if !c.push.vapid_private_key.is_empty() {
        c.push.vapid_private_key = "<redacted>".into();
    }
    if !c.http.metrics_token.is_empty() {
        c.http.metrics_token = "<redacted>".into();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::unknown_env;

    fn vars(names: &[&str]) -> impl Iterator<Item = (String, String)> {
        names.iter().map(|n| (n.to_string(), "x".to_string())).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn unknown_variables_are_named_with_the_closest_key() {
        let found = unknown_env(vars(&[
            "FRIEND_BIN",
            "FRIEND_BIND",
            "FRIEND_LOG__LEVEL",
            "friend_bind",
            "PATH",
            "FRIEND_CONFIG",
            "FRIEND_AUTH__ACESS_TTL_SECS",
            "FRIEND_PUSH",
        ]));
        assert_eq!(
            found,
            vec![
                ("FRIEND_BIN".to_string(), Some("FRIEND_BIND".to_string())),
                ("FRIEND_AUTH__ACESS_TTL_SECS".to_string(), Some("FRIEND_AUTH__ACCESS_TTL_SECS".to_string())),
            ]
        );
        assert_eq!(unknown_env(vars(&["FRIEND_ZZZZZZZZZZZZZZZZ"])), vec![("FRIEND_ZZZZZZZZZZZZZZZZ".to_string(), None)]);
    }
}

/// The school's settings that staff change at run time (`PATCH /admin/settings`): `config.toml`
/// (and `FRIEND_*`) give the values of every setting staff have not changed; a changed one is
/// stored in the database and wins from then on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, salvo::oapi::ToSchema)]
pub struct SchoolSettings {
    /// Who may create an account: `open`, `invite` (with a staff-made code) or `closed` (staff create accounts).
    pub registration: Registration,
    /// The school's name, shown on its pages (1–100 characters; the local CA's name is fixed when it is made).
    pub school_name: String,
    /// IANA time zone of new accounts and of the daily backup's hour.
    pub default_timezone: String,
    /// Who may start private chats: `friends_only`, `anyone` (not blocked) or `staff_only`.
    pub dm_policy: DmPolicy,
    /// School quiet hours for push and reminders, `HH:MM-HH:MM` in each student's time zone; null: none.
    pub school_quiet_hours: Option<String>,
    /// Longest chat message, in bytes (16–32,768).
    pub max_message_bytes: usize,
    /// Staff must sign in with two-factor login (TOTP) to use staff rights; until they turn it on
    /// and sign in with it, `/admin` answers 403 `two_factor_setup_required`.
    pub staff_two_factor: bool,
}

/// The settings staff changed, as stored: each one present wins over `config.toml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SettingsOverrides {
    /// See [`SchoolSettings`].
    pub registration: Option<Registration>,
    /// See [`SchoolSettings`].
    pub school_name: Option<String>,
    /// See [`SchoolSettings`].
    pub default_timezone: Option<String>,
    /// See [`SchoolSettings`].
    pub dm_policy: Option<DmPolicy>,
    /// See [`SchoolSettings`]; `Some("")`: no school quiet hours, whatever the config says.
    pub school_quiet_hours: Option<String>,
    /// See [`SchoolSettings`].
    pub max_message_bytes: Option<usize>,
    /// See [`SchoolSettings`].
    pub staff_two_factor: Option<bool>,
}

impl SettingsOverrides {
    /// The settings in effect: these overrides over `config`'s values.
    pub fn over(&self, config: &Config) -> SchoolSettings {
        let quiet = self.school_quiet_hours.as_ref().unwrap_or(&config.notifications.school_quiet_hours);
        SchoolSettings {
            registration: self.registration.unwrap_or(config.registration),
            school_name: self.school_name.clone().unwrap_or_else(|| config.school_name.clone()),
            default_timezone: self.default_timezone.clone().unwrap_or_else(|| config.default_timezone.clone()),
            dm_policy: self.dm_policy.unwrap_or(config.chat.dm_policy),
            school_quiet_hours: (!quiet.is_empty()).then(|| quiet.clone()),
            max_message_bytes: self.max_message_bytes.unwrap_or(config.chat.max_message_bytes),
            staff_two_factor: self.staff_two_factor.unwrap_or(config.auth.staff_two_factor),
        }
    }

    /// Names of the settings stored here.
    pub fn names(&self) -> Vec<&'static str> {
        [
            ("registration", self.registration.is_some()),
            ("school_name", self.school_name.is_some()),
            ("default_timezone", self.default_timezone.is_some()),
            ("dm_policy", self.dm_policy.is_some()),
            ("school_quiet_hours", self.school_quiet_hours.is_some()),
            ("max_message_bytes", self.max_message_bytes.is_some()),
            ("staff_two_factor", self.staff_two_factor.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, set)| set.then_some(n))
        .collect()
    }
}
