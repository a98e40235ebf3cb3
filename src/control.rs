//! The control socket (`data_dir/control.sock`, owner-only): lets `friend backup` and
//! `friend admin ...` work while the server runs and holds the database lock.
//! Protocol: one JSON request line, one JSON response line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::error::{AppError, AppResult};
use crate::model::Role;
use crate::service::admin;
use crate::service::audit::{self, Action, Actor, Target};
use crate::service::auth::{self, NewAccount};
use crate::state::AppState;
use crate::store::{backup, users};

/// A request to the running server.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Write a backup to `path` (on the server's machine).
    Backup {
        /// Destination file.
        path: PathBuf,
    },
    /// Create an account.
    CreateUser {
        /// Email.
        email: String,
        /// Username.
        username: String,
        /// Name.
        name: String,
        /// Password.
        password: String,
        /// Role.
        role: Role,
    },
    /// Rebuild the search indexes (notes and the user directory) from storage.
    Reindex,
    /// Write pseudonymised training rows for `models/train.py` to `path`.
    ExportTrainingData {
        /// Destination file.
        path: PathBuf,
    },
    /// Set a password.
    ResetPassword {
        /// Email or username.
        login: String,
        /// New password.
        password: String,
    },
}

/// The answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct Response {
    /// Success.
    pub ok: bool,
    /// What happened, for a person.
    pub message: String,
}

/// Path of the socket in a data dir.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// Carries out a request against an open state (used by the socket and by the CLI directly).
pub async fn execute(state: &Arc<AppState>, req: Request) -> AppResult<String> {
    match req {
        Request::Backup { path } => {
            let (store, blobs, now) = (state.store.clone(), state.blobs.clone(), state.clock.now());
            let p = path.clone();
            let s = state.store.blocking(move |_| backup::export(&store, &blobs, &p, now)).await?;
            let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let values = serde_json::json!({ "path": path.display().to_string(), "records": s.records, "bytes": s.bytes });
            audit::log(state, Actor::operator(), Action::on("backup.create", Target::new("backup", name)).new_values(values)).await?;
            Ok(format!("backup written to {} ({} records, {} bytes, verified)", path.display(), s.records, s.bytes))
        }
        Request::CreateUser { email, username, name, password, role } => {
            let u = admin::create_by_operator(state, NewAccount { email, username, password, name, role }).await?;
            Ok(format!("created {:?} {} ({})", u.role, u.username, u.id))
        }
        Request::Reindex => {
            let started = std::time::Instant::now();
            crate::service::notes::rebuild_index(state);
            state.user_index.rebuild(crate::service::social::all_user_docs(state)?);
            let (notes, users) = (state.note_index.clone(), state.user_index.clone());
            tokio::task::spawn_blocking(move || {
                notes.flush();
                users.flush();
            })
            .await
            .map_err(AppError::internal)?;
            Ok(format!("search indexes rebuilt from storage in {} ms", started.elapsed().as_millis()))
        }
        Request::ExportTrainingData { path } => {
            let st = state.clone();
            let p = path.clone();
            let w =
                tokio::task::spawn_blocking(move || crate::service::training_data::export(&st, &p)).await.map_err(AppError::internal)??;
            Ok(format!(
                "{} student-week rows and {} goal rows written to {} (pseudonymised); retrain with: python3 models/train.py --data {} --out DIR",
                w.user_rows,
                w.goal_rows,
                path.display(),
                path.display()
            ))
        }
        Request::ResetPassword { login, password } => {
            let u = users::find_by_login(&state.store, &login)?.filter(|u| u.deleted_at.is_none()).ok_or(AppError::NotFound("user"))?;
            auth::set_password(state, u.id, password, None).await?;
            audit::log(state, Actor::operator(), Action::on("user.reset_password", Target::new("user", u.id))).await?;
            if u.two_factor.is_some() {
                // The one way back in for an admin who lost the phone and the recovery codes.
                crate::service::two_factor::turn_off(state, u.id, Actor::operator(), "user.two_factor_reset", false).await?;
                return Ok(format!(
                    "password of {} changed and two-factor login turned off; all their sessions were signed out",
                    u.username
                ));
            }
            Ok(format!("password of {} changed; all their sessions were signed out", u.username))
        }
    }
}

/// Binds the control socket now (so it is ready before the server says it listens) and serves
/// it until the returned task is aborted.
pub fn serve(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    {
        let path = socket_path(&state.config.data_dir);
        let _ = std::fs::remove_file(&path);
        let listener = match tokio::net::UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "control socket unavailable; CLI commands need the server stopped");
                return tokio::spawn(async {});
            }
        };
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(state.clone(), stream));
            }
        })
    }
    #[cfg(not(unix))]
    {
        let _ = state;
        tokio::spawn(async {})
    }
}

#[cfg(unix)]
async fn answer(state: Arc<AppState>, stream: tokio::net::UnixStream) {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    if BufReader::new(r).read_line(&mut line).await.is_err() {
        return;
    }
    let resp = match serde_json::from_str::<Request>(&line) {
        Ok(req) => match execute(&state, req).await {
            Ok(message) => Response { ok: true, message },
            Err(e) => Response { ok: false, message: describe(&e) },
        },
        Err(e) => Response { ok: false, message: format!("bad request: {e}") },
    };
    let mut out = serde_json::to_vec(&resp).unwrap_or_default();
    out.push(b'\n');
    let _ = w.write_all(&out).await;
}

/// A one-line description of an error, with field errors.
pub fn describe(e: &AppError) -> String {
    let fields: Vec<String> = e.field_errors().iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
    if fields.is_empty() { e.to_string() } else { format!("{} ({})", e, fields.join("; ")) }
}

/// Sends a request to a running server; `None` if no server listens.
pub async fn send(data_dir: &Path, req: &Request) -> Option<Response> {
    #[cfg(unix)]
    {
        let stream = tokio::net::UnixStream::connect(socket_path(data_dir)).await.ok()?;
        let (r, mut w) = stream.into_split();
        let mut line = serde_json::to_vec(req).ok()?;
        line.push(b'\n');
        w.write_all(&line).await.ok()?;
        let mut answer = String::new();
        BufReader::new(r).read_line(&mut answer).await.ok()?;
        serde_json::from_str(&answer).ok()
    }
    #[cfg(not(unix))]
    {
        let _ = (data_dir, req);
        None
    }
}
