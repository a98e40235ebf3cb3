//! Command line: `friend [serve]`, `init`, `check-config`, `admin create|reset-password`,
//! `backup FILE`, `restore FILE`, `reindex`. Flags override `FRIEND_*` variables, which override the config file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, Config, Registration};
use crate::control::{self, Request};
use crate::infra::tokens::random_secret;
use crate::model::Role;

/// The Friend server.
#[derive(Parser, Debug)]
#[command(name = "friend", version, about = "Self-hosted server for study groups")]
pub struct Cli {
    /// Config file (TOML); optional: the embedded defaults work without one.
    #[arg(long, global = true, env = "FRIEND_CONFIG")]
    pub config: Option<PathBuf>,
    /// Listen address, e.g. 0.0.0.0:8080 (port 0 picks a free port).
    #[arg(long, global = true)]
    pub bind: Option<SocketAddr>,
    /// Data directory.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Registration mode.
    #[arg(long, global = true, value_enum)]
    pub registration: Option<Registration>,
    /// HTTPS: off, files (tls.cert and tls.key) or local-ca (a local certificate authority).
    #[arg(long, global = true, value_enum)]
    pub tls_mode: Option<crate::config::TlsMode>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Write a commented config.toml with generated secrets.
    Init {
        /// Where to write it.
        #[arg(long, default_value = "config.toml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Load and validate the configuration, print it with secrets redacted.
    CheckConfig,
    /// Account administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Write a consistent, verified backup (works while the server runs), or check one.
    Backup {
        /// Destination file (with --verify: the backup to check).
        file: PathBuf,
        /// Only check FILE: its header, every line and the checksum (needs no data directory).
        #[arg(long)]
        verify: bool,
    },
    /// Rebuild the search indexes from storage (works while the server runs; searches keep
    /// answering from the old index until the new one is committed).
    Reindex,
    /// Local AI insights.
    #[command(subcommand)]
    Insights(InsightsCommand),
    /// Restore a backup into an empty data directory (server stopped).
    Restore {
        /// Backup file.
        file: PathBuf,
        /// Only verify the file and print what would be restored, by kind; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `friend insights ...`.
#[derive(Subcommand, Debug)]
pub enum InsightsCommand {
    /// Write pseudonymised feature rows (no names, no text) from this server's logs, for
    /// `python3 models/train.py --data FILE` (works while the server runs).
    ExportTrainingData {
        /// Destination file (JSON Lines).
        #[arg(long, default_value = "training-data.jsonl")]
        out: PathBuf,
    },
}

/// `friend admin ...`.
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an account (an admin unless --role says otherwise); prompts for the password.
    Create {
        /// Email.
        #[arg(long)]
        email: String,
        /// Username.
        #[arg(long)]
        username: String,
        /// Display name (default: the username).
        #[arg(long)]
        name: Option<String>,
        /// Role.
        #[arg(long, value_enum, default_value = "admin")]
        role: CliRole,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password for an account; signs it out everywhere.
    ResetPassword {
        /// Email or username.
        #[arg(long)]
        login: String,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Roles on the command line.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum CliRole {
    /// Student.
    Student,
    /// Moderator.
    Moderator,
    /// Admin.
    Admin,
}

impl From<CliRole> for Role {
    fn from(r: CliRole) -> Self {
        match r {
            CliRole::Student => Role::Student,
            CliRole::Moderator => Role::Moderator,
            CliRole::Admin => Role::Admin,
        }
    }
}

/// Loads the configuration in order: defaults, file, environment, flags.
pub fn load_config(cli: &Cli) -> Result<Config, String> {
    let mut c = Config::load(cli.config.as_deref())?;
    if let Some(b) = cli.bind {
        c.bind = b;
    }
    if let Some(d) = &cli.data_dir {
        c.data_dir = d.clone();
    }
    if let Some(r) = cli.registration {
        c.registration = r;
    }
    if let Some(t) = cli.tls_mode {
        c.tls.mode = t;
    }
    c.validate()?;
    Ok(c)
}

fn init_tracing(c: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&c.log.level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if c.log.json {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

/// The embedded, commented configuration template (the repo's `config.toml`).
pub const CONFIG_TEMPLATE: &str = include_str!("../config.toml");

fn read_password(from_stdin: bool) -> Result<String, String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| e.to_string())?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let p = rpassword::prompt_password("Password: ").map_err(|e| format!("cannot read the password: {e} (use --password-stdin)"))?;
    let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
    if p != again {
        return Err("the passwords differ".into());
    }
    Ok(p)
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("friend: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    for (var, closest) in config::unknown_env(std::env::vars()) {
        match closest {
            Some(c) => tracing::warn!("ignoring the environment variable {var}: no such setting (did you mean {c}?)"),
            None => tracing::warn!("ignoring the environment variable {var}: no such setting (see config.toml for every FRIEND_* name)"),
        }
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("friend: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(dispatch(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("friend: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli, config: Config) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            tracing::info!("starting: {}", config::summary(&config));
            tracing::debug!(config = ?config::redacted(&config), "configuration");
            let listener = tokio::net::TcpListener::bind(config.bind)
                .await
                .map_err(|e| format!("cannot listen on {}: {e} (change --bind / FRIEND_BIND)", config.bind))?;
            crate::run(config, listener, crate::shutdown_signal()).await
        }
        Command::Init { path, force } => {
            if path.exists() && !force {
                return Err(format!("{} exists; pass --force to overwrite", path.display()));
            }
            let text = CONFIG_TEMPLATE.replace("# jwt_secret = \"\"", &format!("jwt_secret = \"{}\"", random_secret(48)));
            std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
            }
            println!("wrote {} (with a generated JWT secret; keep it private)", path.display());
            Ok(())
        }
        Command::CheckConfig => {
            println!("{}", toml::to_string_pretty(&config::redacted(&config)).map_err(|e| e.to_string())?);
            println!("# configuration is valid");
            Ok(())
        }
        Command::Admin(AdminCommand::Create { email, username, name, role, password_stdin }) => {
            let password = read_password(password_stdin)?;
            let name = name.unwrap_or_else(|| username.clone());
            offline_or_online(&config, Request::CreateUser { email, username, name, password, role: role.into() }).await
        }
        Command::Admin(AdminCommand::ResetPassword { login, password_stdin }) => {
            let password = read_password(password_stdin)?;
            offline_or_online(&config, Request::ResetPassword { login, password }).await
        }
        Command::Backup { file, verify: true } | Command::Restore { file, dry_run: true } => {
            let (summary, kinds) = crate::store::backup::inventory(&file).map_err(|e| control::describe(&e))?;
            println!("{} is a valid backup: {} records, {} bytes, checksum verified", file.display(), summary.records, summary.bytes);
            for (kind, n) in kinds {
                println!("  {kind:<24} {n}");
            }
            Ok(())
        }
        Command::Backup { file, verify: false } => {
            let file = std::path::absolute(&file).map_err(|e| e.to_string())?;
            offline_or_online(&config, Request::Backup { path: file }).await
        }
        Command::Reindex => offline_or_online(&config, Request::Reindex).await,
        Command::Insights(InsightsCommand::ExportTrainingData { out }) => {
            let path = std::path::absolute(&out).map_err(|e| e.to_string())?;
            offline_or_online(&config, Request::ExportTrainingData { path }).await
        }
        Command::Restore { file, dry_run: false } => {
            let store = crate::store::Store::open(&config.data_dir, config.storage.cache_mb).map_err(|e| e.to_string())?;
            let blobs = crate::store::blobs::Blobs::new(&config.data_dir);
            let s = crate::store::backup::import(&store, &blobs, &file).map_err(|e| control::describe(&e))?;
            record_restore(&store, &file, s.records).map_err(|e| control::describe(&e))?;
            // The search indexes are derived data: the next start rebuilds them from what was restored.
            let search = config.data_dir.join("search");
            if search.exists() {
                std::fs::remove_dir_all(&search).map_err(|e| format!("cannot clear {}: {e}", search.display()))?;
            }
            println!("restored {} records from {}", s.records, file.display());
            Ok(())
        }
    }
}

/// The restore itself goes into the audit log it brought back, as the operator's action.
fn record_restore(store: &crate::store::Store, file: &std::path::Path, records: u64) -> crate::error::AppResult<()> {
    use crate::service::audit::{Action, Actor, Target, record};
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let action = Action::on("backup.restore", Target::new("backup", name)).new_values(serde_json::json!({ "records": records }));
    record(store, chrono::Utc::now(), &Actor::operator(), action)?;
    store.flush_now()
}

/// Sends the request to a running server through its control socket, or opens the data directly.
async fn offline_or_online(config: &Config, req: Request) -> Result<(), String> {
    if let Some(resp) = control::send(&config.data_dir, &req).await {
        println!("{}", resp.message);
        return if resp.ok { Ok(()) } else { Err(resp.message) };
    }
    let state = std::sync::Arc::new(crate::open_state(config.clone(), crate::Clock::system(), String::new()).map_err(|e| e.to_string())?);
    let result = control::execute(&state, req).await.map_err(|e| control::describe(&e));
    state.store.flush_now().map_err(|e| e.to_string())?;
    println!("{}", result?);
    Ok(())
}
