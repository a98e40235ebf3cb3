//! `/api/v1/admin/backups` (admins): make a backup now, list, download and verify them. A backup
//! holds every student's data: each of these is recorded in the audit log.

use salvo::prelude::*;

use super::extract::{Page, admin, client, off_workers, state};
use super::reply::Created;
use crate::error::AppError;
use crate::service::audit::{self, Action, Actor, Target};
use crate::service::backups::{self as svc, BackupView, Verified};

fn backup_id(req: &Request) -> String {
    req.param::<String>("id").unwrap_or_default()
}

/// Write a verified backup now, into the backup directory (rotated with the scheduled ones).
/// Writes pause for the moment of the snapshot; reads go on.
#[endpoint(tags("admin"), security(("bearer" = [])))]
async fn create(req: &mut Request, depot: &mut Depot) -> Result<Created<BackupView>, AppError> {
    let st = state(depot);
    let actor = Actor::user(&st, admin(depot)?.caller(), &client(req, &st))?;
    let view = svc::create_now(&st).await?;
    let values = serde_json::json!({ "size_bytes": view.size_bytes, "records": view.records });
    audit::log(&st, actor, Action::on("backup.create", Target::new("backup", &view.id)).new_values(values)).await?;
    Ok(Created(view))
}

/// The backups in the backup directory, newest first, with size, record count and checksum as
/// each file's trailer states (one page: the directory keeps a few weeks of files).
#[endpoint(tags("admin"), security(("bearer" = [])))]
async fn list(depot: &mut Depot) -> Result<Json<Page<BackupView>>, AppError> {
    admin(depot)?;
    let items = off_workers(&state(depot), svc::list_files).await?;
    Ok(Json(Page { items, next_cursor: None }))
}

/// Download a backup (JSON lines; `friend restore FILE` brings it back). Audited.
#[endpoint(tags("admin"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Backup file name")),
    responses((status_code = 200, description = "The backup file (JSON lines)", content_type = "application/x-ndjson")))]
async fn download(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    let st = state(depot);
    let actor = Actor::user(&st, admin(depot)?.caller(), &client(req, &st))?;
    let id = backup_id(req);
    let path = svc::path_of(&st, &id)?;
    let file = tokio::fs::File::open(&path).await.map_err(AppError::internal)?;
    let size = file.metadata().await.map_err(AppError::internal)?.len();
    audit::log(&st, actor, Action::on("backup.download", Target::new("backup", &id))).await?;
    res.headers_mut().insert("content-type", "application/x-ndjson".parse().expect("static header"));
    res.headers_mut().insert("content-length", size.into());
    let disposition = format!("attachment; filename=\"{id}\"");
    res.headers_mut().insert("content-disposition", disposition.parse().map_err(AppError::internal)?);
    res.stream(chunks(file));
    Ok(())
}

/// The file in 64 KiB chunks.
fn chunks(file: tokio::fs::File) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
}

/// Read a backup whole and check every line and its checksum (422 says what is wrong). Audited.
#[endpoint(tags("admin"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Backup file name")))]
async fn verify(req: &mut Request, depot: &mut Depot) -> Result<Json<Verified>, AppError> {
    let st = state(depot);
    let actor = Actor::user(&st, admin(depot)?.caller(), &client(req, &st))?;
    let id = backup_id(req);
    let checked = {
        let id = id.clone();
        off_workers(&st, move |st| svc::verify(st, &id)).await
    };
    let outcome = serde_json::json!({ "verified": checked.is_ok() });
    audit::log(&st, actor, Action::on("backup.verify", Target::new("backup", &id)).new_values(outcome)).await?;
    Ok(Json(checked?))
}

/// `/admin/backups` (mounted under the staff-only admin router; admins only).
pub fn admin_router() -> Router {
    Router::with_path("backups")
        .get(list)
        .post(create)
        .push(Router::with_path("{id}").get(download))
        .push(Router::with_path("{id}/verify").post(verify))
}
