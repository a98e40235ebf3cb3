//! Who may read a note: the one rule ([`allowed`]) behind every read path.

use uuid::Uuid;

use crate::access::Viewer;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::notes::{self as store, NoteRecord, Visibility};
use crate::store::{social as social_store, users as users_store};

/// Whether `viewer` may open `n` (live notes only); staff may open non-private notes.
pub fn readable(state: &AppState, viewer: impl Into<Viewer>, n: &NoteRecord) -> AppResult<bool> {
    let viewer = viewer.into();
    may_read(state, viewer.id(), n, viewer.is_staff())
}

/// Whether `viewer` may read `n` as a user (`staff` widens it to every non-private note).
pub(super) fn may_read(state: &AppState, viewer: Uuid, n: &NoteRecord, staff: bool) -> AppResult<bool> {
    let (st, author) = (&state.store, n.author_id);
    allowed(
        Reading { viewer, author, visibility: n.visibility, deleted: n.deleted_at.is_some(), staff },
        || social_store::blocked_either(st, viewer, author),
        || social_store::are_friends(st, viewer, author),
        || Ok(users_store::get(st, author)?.is_some_and(|u| u.deleted_at.is_none() && !u.disabled)),
    )
}

/// One reader looking at one note.
pub(super) struct Reading {
    pub(super) viewer: Uuid,
    pub(super) author: Uuid,
    pub(super) visibility: Visibility,
    pub(super) deleted: bool,
    pub(super) staff: bool,
}

/// The rule for reading a note, in one place. The lookups are asked only when needed: whether
/// a block stands between reader and author, whether they are friends, whether the author's
/// account is live.
pub(super) fn allowed(
    r: Reading,
    blocked: impl FnOnce() -> AppResult<bool>,
    friends: impl FnOnce() -> AppResult<bool>,
    author_live: impl FnOnce() -> AppResult<bool>,
) -> AppResult<bool> {
    if r.deleted {
        return Ok(false);
    }
    if r.author == r.viewer {
        return Ok(true);
    }
    if r.visibility == Visibility::Private || blocked()? {
        return Ok(false);
    }
    if r.staff {
        return Ok(true);
    }
    Ok((r.visibility == Visibility::Public || friends()?) && author_live()?)
}

/// The note if `viewer` may read it; 404 otherwise (as if it did not exist).
pub fn readable_note(state: &AppState, viewer: impl Into<Viewer> + Copy, id: Uuid) -> AppResult<NoteRecord> {
    store::get(&state.store, id)?.filter(|n| readable(state, viewer, n).unwrap_or(false)).ok_or(AppError::NotFound("note"))
}

/// Whether `viewer` may fetch `media` because it is attached to a note they may read.
pub fn media_readable(state: &AppState, viewer: impl Into<Viewer> + Copy, media: Uuid) -> AppResult<bool> {
    for id in store::notes_with_media(&state.store, media)? {
        if let Some(n) = store::get(&state.store, id)?
            && readable(state, viewer, &n)?
        {
            return Ok(true);
        }
    }
    Ok(false)
}
