//! `/api/v1/me*` and `/api/v1/users/{id_or_username}`: own profile, avatar, deletion, export, public profiles.

use salvo::http::{HeaderValue, header};
use salvo::prelude::*;
use serde::{Deserialize, Serialize};

use super::extract::{json, me, off_workers, state};
use super::media::read_upload;
use super::reply::NoContent;
use crate::error::AppError;
use crate::service::users::{self as svc, Export, ProfilePatch};
use crate::service::views::UserView;

/// Account deletion body.
#[derive(Deserialize, ToSchema)]
pub struct DeleteInput {
    /// The account's password, to confirm.
    pub password: String,
}

/// The new avatar's URL.
#[derive(Serialize, ToSchema)]
pub struct AvatarOutput {
    /// Signed URL of the re-encoded image.
    pub profile_photo_url: String,
}

/// The caller's own profile.
#[endpoint(tags("profile"), security(("bearer" = [])))]
async fn get_me(depot: &mut Depot) -> Result<Json<UserView>, AppError> {
    Ok(Json(svc::me(&state(depot), me(depot)?)?))
}

/// Change profile fields. Every field is optional; `settings` keys are merged (null removes a key).
/// A taken username gives 409 `conflict`.
#[endpoint(tags("profile"), security(("bearer" = [])), request_body = ProfilePatch)]
async fn patch_me(req: &mut Request, depot: &mut Depot) -> Result<Json<UserView>, AppError> {
    let st = state(depot);
    let patch: ProfilePatch = json(req, &st).await?;
    Ok(Json(svc::patch_me(&st, me(depot)?, patch).await?))
}

/// Delete the account (password confirmed): sessions, uploads and personal fields are removed;
/// an anonymous "Deleted user" remains so that others' conversations stay readable; notes lose
/// their text. Wrong passwords are throttled like logins (429 with `Retry-After`).
#[endpoint(tags("profile"), security(("bearer" = [])), request_body = DeleteInput)]
async fn delete_me(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let st = state(depot);
    let input: DeleteInput = json(req, &st).await?;
    svc::delete_me(&st, me(depot)?, input.password).await?;
    Ok(NoContent)
}

/// Set the profile photo: multipart field `file`, or the raw image as the body with its content
/// type. JPEG, PNG, WebP or GIF; re-encoded without metadata.
#[endpoint(tags("profile"), security(("bearer" = [])))]
async fn put_avatar(req: &mut Request, depot: &mut Depot) -> Result<Json<AvatarOutput>, AppError> {
    let st = state(depot);
    let (bytes, _) = read_upload(req, &st).await?;
    let url = crate::service::media::set_avatar(&st, me(depot)?, bytes).await?;
    Ok(Json(AvatarOutput { profile_photo_url: url }))
}

/// Everything stored about the caller, as one JSON document (a download).
#[endpoint(tags("profile"), security(("bearer" = [])))]
async fn export(depot: &mut Depot, res: &mut Response) -> Result<Json<Export>, AppError> {
    let me = me(depot)?;
    let data = off_workers(&state(depot), move |st| svc::export(st, me)).await?;
    res.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"friend-export.json\""));
    Ok(Json(data))
}

/// A user's public profile by id or username (404 for unknown, deleted or disabled accounts).
#[endpoint(tags("users"), security(("bearer" = [])), parameters(("id_or_username" = String, Path, description = "User id or username")))]
async fn get_user(req: &mut Request, depot: &mut Depot) -> Result<Json<UserView>, AppError> {
    let key = req.param::<String>("id_or_username").unwrap_or_default();
    let me = me(depot)?;
    Ok(Json(off_workers(&state(depot), move |st| svc::public_profile(st, me, &key)).await?))
}

/// Routes for signed-in users.
pub fn router() -> Router {
    Router::new()
        .push(Router::with_path("me").get(get_me).patch(patch_me).delete(delete_me))
        .push(Router::with_path("me/avatar").put(put_avatar))
        .push(Router::with_path("me/export").get(export))
        .push(Router::with_path("users/{id_or_username}").get(get_user))
}
