//! `/api/v1/notes*`.

use salvo::prelude::*;
use serde::Deserialize;

use super::extract::{Page, json, me, off_workers, paging, path_id, state};
use super::reply::{Created, NoContent};
use crate::error::AppError;
use crate::service::chat::MessageView;
use crate::service::notes::{self as svc, LikeState, NoteInput, NoteView, SearchHit};

/// `POST /notes/{id}/share` body.
#[derive(Deserialize, ToSchema)]
pub struct ShareInput {
    /// A chat of the caller.
    pub chat_id: uuid::Uuid,
}

/// Write a note (`title` required; visibility defaults to private). Markdown is stored as written.
#[endpoint(tags("notes"), security(("bearer" = [])), request_body = NoteInput)]
async fn create(req: &mut Request, depot: &mut Depot) -> Result<Created<NoteView>, AppError> {
    let st = state(depot);
    let input: NoteInput = json(req, &st).await?;
    Ok(Created(svc::create(&st, me(depot)?, input).await?))
}

/// A note the caller may read (404 otherwise, also for deleted notes).
#[endpoint(tags("notes"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Note id")))]
async fn get(req: &mut Request, depot: &mut Depot) -> Result<Json<NoteView>, AppError> {
    let id = path_id(req, "id", "note")?;
    let me = me(depot)?;
    Ok(Json(off_workers(&state(depot), move |st| svc::get(st, me, id)).await?))
}

/// Change a note (author only: 403 for other readers). Searchable with the change within a second.
#[endpoint(tags("notes"), security(("bearer" = [])), request_body = NoteInput, parameters(("id" = String, Path, description = "Note id")))]
async fn update(req: &mut Request, depot: &mut Depot) -> Result<Json<NoteView>, AppError> {
    let st = state(depot);
    let id = path_id(req, "id", "note")?;
    let input: NoteInput = json(req, &st).await?;
    Ok(Json(svc::update(&st, me(depot)?, id, input).await?))
}

/// Delete a note (author only). Soft: gone from every read, list, feed and search at once.
#[endpoint(tags("notes"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Note id")))]
async fn delete(req: &mut Request, depot: &mut Depot) -> Result<NoContent, AppError> {
    let id = path_id(req, "id", "note")?;
    svc::delete(&state(depot), me(depot)?, id).await?;
    Ok(NoContent)
}

/// An author's notes that the caller may see, newest first (`author`: `me`, the default, or a
/// user id; `tag` filters). The cursor is a note id; a page may hold fewer than `limit` notes when
/// many were skipped: follow `next_cursor` until null.
#[endpoint(tags("notes"), security(("bearer" = [])),
    parameters(("author" = Option<String>, Query, description = "me (default) or a user id"),
        ("tag" = Option<String>, Query, description = "only notes with this tag"),
        ("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn list(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<NoteView>>, AppError> {
    let p = paging(req)?;
    let (author, tag) = (req.query::<String>("author"), req.query::<String>("tag"));
    let me = me(depot)?;
    let (items, next_cursor) =
        off_workers(&state(depot), move |st| svc::list(st, me, author.as_deref(), tag.as_deref(), p.cursor.as_deref(), p.limit)).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// The feed: the caller's own shared notes, friends' notes (friends or public) and public notes,
/// newest first. The cursor is a note id, so notes written meanwhile never shift a page. A page
/// may hold fewer than `limit` notes when many were skipped; follow `next_cursor` until null.
#[endpoint(tags("notes"), security(("bearer" = [])),
    parameters(("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn feed(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<NoteView>>, AppError> {
    let p = paging(req)?;
    let me = me(depot)?;
    let (items, next_cursor) = off_workers(&state(depot), move |st| svc::feed(st, me, p.cursor.as_deref(), p.limit)).await?;
    Ok(Json(Page { items, next_cursor }))
}

/// Full-text search over title (weighted most), tags, author and content of the notes the caller
/// may see, best first (BM25). `"quoted words"` match as a phrase, `word*` as a prefix (the last
/// word also matches as a prefix unless the query ends with a space), words of 5+ letters match
/// with one typo, and Chinese/Japanese text matches without spaces. Each hit carries
/// `highlights`. The cursor is an offset (up to 10,000).
#[endpoint(tags("notes"), security(("bearer" = [])),
    parameters(("q" = Option<String>, Query, description = "up to 200 characters; may be empty when tag or author is given"),
        ("tag" = Option<String>, Query, description = "only notes with this tag"),
        ("author" = Option<String>, Query, description = "me or a user id"),
        ("limit" = Option<usize>, Query, description = "1–100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")))]
async fn search(req: &mut Request, depot: &mut Depot) -> Result<Json<Page<SearchHit>>, AppError> {
    let p = paging(req)?;
    let q = req.query::<String>("q").unwrap_or_default();
    let (tag, author) = (req.query::<String>("tag"), req.query::<String>("author"));
    let me = me(depot)?;
    let (items, next_cursor) =
        off_workers(&state(depot), move |st| svc::search(st, me, &q, tag.as_deref(), author.as_deref(), p.cursor.as_deref(), p.limit))
            .await?;
    Ok(Json(Page { items, next_cursor }))
}

/// Like a note (idempotent: liking twice counts once).
#[endpoint(tags("notes"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Note id")))]
async fn like(req: &mut Request, depot: &mut Depot) -> Result<Json<LikeState>, AppError> {
    let id = path_id(req, "id", "note")?;
    Ok(Json(svc::like(&state(depot), me(depot)?, id, true).await?))
}

/// Take a like back (idempotent).
#[endpoint(tags("notes"), security(("bearer" = [])), parameters(("id" = String, Path, description = "Note id")))]
async fn unlike(req: &mut Request, depot: &mut Depot) -> Result<Json<LikeState>, AppError> {
    let id = path_id(req, "id", "note")?;
    Ok(Json(svc::like(&state(depot), me(depot)?, id, false).await?))
}

/// Share a note the caller may read into one of their chats: posts a `note` message (with
/// `note_id`) exactly as `message.send` would. Members who may not read the note see the message
/// but get 404 when they open the note.
#[endpoint(tags("notes"), security(("bearer" = [])), request_body = ShareInput, parameters(("id" = String, Path, description = "Note id")))]
async fn share(req: &mut Request, depot: &mut Depot) -> Result<Created<MessageView>, AppError> {
    let st = state(depot);
    let id = path_id(req, "id", "note")?;
    let body: ShareInput = json(req, &st).await?;
    Ok(Created(svc::share(&st, me(depot)?, id, body.chat_id).await?))
}

/// Routes for signed-in users.
pub fn router() -> Router {
    Router::with_path("notes")
        .get(list)
        .post(create)
        .push(Router::with_path("feed").get(feed))
        .push(Router::with_path("search").get(search))
        .push(
            Router::with_path("{id}")
                .get(get)
                .patch(update)
                .delete(delete)
                .push(Router::with_path("like").post(like).delete(unlike))
                .push(Router::with_path("share").post(share)),
        )
}
