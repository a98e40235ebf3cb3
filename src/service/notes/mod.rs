//! Notes: write, read, list, feed, like, share and search. Who may read a note is decided here,
//! once ([`readable`]), and every read path goes through it: REST reads, lists, the feed, search
//! (as part of the query), attachments (`GET /media/{id}`) and `note` chat messages.
//!
//! - `private`: the author only. `friends`: the author and their friends. `public`: every user.
//! - A block either way hides a note completely, whatever its visibility.
//! - Moderators and admins may open `friends` and `public` notes by id (to act on reports), never
//!   `private` ones; lists, the feed and search show them what any user would see.
//! - A deleted note is gone from every read at once; notes of deleted accounts are deleted.

pub mod index;
pub mod reading;
pub mod views;

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::validate::Errors;
use crate::access::Caller;
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use index::index;
pub use index::{catch_up, rebuild_index, reindex_author, unindex};
use reading::{Reading, allowed, may_read};
pub use reading::{media_readable, readable, readable_note};
pub use views::{Author, NoteView, Views, view};

use crate::search::Scope;
use crate::search::notes::{Highlight, Search};
use crate::state::AppState;
use crate::store::media::MediaPurpose;
use crate::store::notes::{self as store, NoteRecord, Visibility};
use crate::store::{media as media_store, social as social_store};

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest content, in characters.
pub const MAX_CONTENT: usize = 50_000;
/// Most tags on a note.
pub const MAX_TAGS: usize = 10;
/// Longest tag, in characters.
pub const MAX_TAG: usize = 32;
/// Most attachments on a note.
pub const MAX_ATTACHMENTS: usize = 10;
/// Notes looked at per list or feed page before answering with what was found (and a cursor).
const SCAN_BUDGET: usize = 2_000;

/// Body of `POST /notes` (title required) and `PATCH /notes/{id}` (any subset).
#[derive(Debug, Default, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    /// 1–200 characters (required for a new note).
    #[salvo(schema(min_length = 1, max_length = 200, pattern = "\\S"))]
    pub title: Option<String>,
    /// Markdown, up to 50,000 characters.
    pub content: Option<String>,
    /// Up to 10 tags of up to 32 characters; trimmed, lower-cased, `#` dropped, spaces become `-`,
    /// duplicates removed.
    pub tags: Option<Vec<String>>,
    /// private (default) | friends | public.
    pub visibility: Option<Visibility>,
    /// Up to 10 of the caller's uploads (`POST /media`).
    pub attachment_ids: Option<Vec<Uuid>>,
}

/// `{ likes_count, liked_by_me }`.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct LikeState {
    /// Likes.
    pub likes_count: u64,
    /// Whether the caller likes it.
    pub liked_by_me: bool,
}

/// A search hit: the note and where the query matched.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct SearchHit {
    /// The note.
    pub note: NoteView,
    /// Excerpts of the title and content with the matches in `<mark>`; all other text is
    /// HTML-escaped, so the snippet is safe to insert as HTML.
    pub highlights: Vec<Highlight>,
}

/// A like in an export.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct LikeExport {
    /// The liked note.
    pub note_id: Uuid,
    /// When (RFC 3339).
    pub liked_at: String,
}

/// Notes and likes in `GET /me/export`.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct NotesExport {
    /// The caller's notes (not deleted).
    pub notes: Vec<NoteView>,
    /// Notes the caller likes.
    pub likes: Vec<LikeExport>,
}

/// Normalises one tag: trimmed, `#` dropped, lower-case, inner spaces as `-`.
pub fn normalize_tag(t: &str) -> String {
    t.trim().trim_start_matches('#').split_whitespace().collect::<Vec<_>>().join("-").to_lowercase()
}

fn normalize_tags(tags: &[String], e: &mut Errors) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, raw) in tags.iter().enumerate() {
        let t = normalize_tag(raw);
        let field = format!("tags[{i}]");
        if t.is_empty() {
            e.check(&field, Err("must not be empty".into()));
        } else if t.chars().count() > MAX_TAG {
            e.check(&field, Err(format!("must be at most {MAX_TAG} characters")));
        } else if t.chars().any(|c| c.is_control() || c == ',') {
            e.check(&field, Err("must not contain commas or control characters".into()));
        } else if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        e.check("tags", Err(format!("at most {MAX_TAGS} different tags")));
    }
    out
}

/// Applies `input` to `n` and validates the result.
fn apply(state: &AppState, me: Uuid, mut n: NoteRecord, input: NoteInput) -> AppResult<NoteRecord> {
    let mut e = Errors::new();
    if let Some(t) = input.title {
        n.title = t.trim().to_string();
    }
    let title_len = n.title.chars().count();
    if title_len == 0 {
        e.check("title", Err("must not be empty".into()));
    } else if title_len > MAX_TITLE {
        e.check("title", Err(format!("must be at most {MAX_TITLE} characters")));
    }
    if let Some(c) = input.content {
        n.content = c;
        n.preview = None;
    }
    if n.preview.is_none() {
        n.preview = Some(super::markdown::preview(&n.content));
    }
    if n.content.chars().count() > MAX_CONTENT {
        e.check("content", Err(format!("must be at most {MAX_CONTENT} characters")));
    }
    if let Some(tags) = input.tags {
        n.tags = normalize_tags(&tags, &mut e);
    }
    if let Some(v) = input.visibility {
        n.visibility = v;
    }
    if let Some(ids) = input.attachment_ids {
        let mut unique: Vec<Uuid> = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let ok = media_store::get(&state.store, *id)?.is_some_and(|m| m.owner_id == me && m.purpose != MediaPurpose::Avatar);
            if !ok {
                e.check(&format!("attachment_ids[{i}]"), Err("no such upload of yours".into()));
            } else if !unique.contains(id) {
                unique.push(*id);
            }
        }
        if unique.len() > MAX_ATTACHMENTS {
            e.check("attachment_ids", Err(format!("at most {MAX_ATTACHMENTS} attachments")));
        }
        n.attachment_ids = unique;
    }
    e.finish()?;
    Ok(n)
}

/// POST /notes.
pub async fn create(state: &AppState, me: Caller, input: NoteInput) -> AppResult<NoteView> {
    let now = state.clock.now();
    let blank = NoteRecord {
        id: crate::ids::new_id(),
        author_id: me.id(),
        title: String::new(),
        content: String::new(),
        tags: Vec::new(),
        visibility: Visibility::Private,
        attachment_ids: Vec::new(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
        preview: None,
    };
    let n = apply(state, me.id(), blank, input)?;
    let stored = n.clone();
    state.new_notes.submit(&state.store, stored).await?;
    state.store.durable().await?;
    crate::service::dashboard::counted(state, crate::infra::tally::Kind::Notes);
    index(state, &n)?;
    view(state, me.id(), &n)
}

/// GET /notes/{id}.
pub fn get(state: &AppState, me: Caller, id: Uuid) -> AppResult<NoteView> {
    view(state, me.id(), &readable_note(state, me, id)?)
}

/// The caller's own live note; 404 if they cannot see it, 403 if they can but are not the author.
fn own(state: &AppState, me: Caller, id: Uuid) -> AppResult<NoteRecord> {
    let n = readable_note(state, me, id)?;
    if n.author_id != me.id() {
        return Err(AppError::Forbidden("only the author can change this note".into()));
    }
    Ok(n)
}

/// PATCH /notes/{id}.
pub async fn update(state: &AppState, me: Caller, id: Uuid, input: NoteInput) -> AppResult<NoteView> {
    let before = own(state, me, id)?;
    let mut n = apply(state, me.id(), before.clone(), input)?;
    n.updated_at = state.clock.now();
    let stored = n.clone();
    state.store.write(move |s| store::put(s, &stored, Some(&before))).await?;
    index(state, &n)?;
    view(state, me.id(), &n)
}

/// DELETE /notes/{id}: soft delete.
pub async fn delete(state: &AppState, me: Caller, id: Uuid) -> AppResult<()> {
    remove(state, own(state, me, id)?).await
}

/// A note deleted by staff (a resolved report): as its author's own deletion. A note already
/// deleted (by its author, or by an earlier attempt to resolve the same report) is done.
pub async fn remove_by_staff(state: &AppState, _staff: crate::access::Staff, id: Uuid) -> AppResult<()> {
    match store::get(&state.store, id)?.ok_or(AppError::NotFound("note"))? {
        n if n.deleted_at.is_some() => Ok(()),
        before => remove(state, before).await,
    }
}

/// Soft-deletes `before`: gone from every read, list, feed and search at once; its attachments
/// are forgotten when nothing else uses them.
async fn remove(state: &AppState, before: NoteRecord) -> AppResult<()> {
    let n = tombstone(&before, state.clock.now());
    let stored = n.clone();
    let attachments = before.attachment_ids.clone();
    state.store.write(move |s| store::put(s, &stored, Some(&before))).await?;
    index(state, &n)?;
    for m in attachments {
        super::media::forget_if_unused(state, m).await;
    }
    Ok(())
}

/// What stays of a deleted note: its id, author and times; the text, tags and attachments go.
fn tombstone(n: &NoteRecord, now: chrono::DateTime<chrono::Utc>) -> NoteRecord {
    NoteRecord {
        title: String::new(),
        content: String::new(),
        tags: Vec::new(),
        attachment_ids: Vec::new(),
        deleted_at: Some(now),
        preview: None,
        ..n.clone()
    }
}

/// Deletes every note of an account that is being deleted, and its likes.
pub fn forget(state: &AppState, s: &crate::store::Store, user: Uuid) -> AppResult<Vec<Uuid>> {
    let now = state.clock.now();
    let mut gone = Vec::new();
    for before in store::all_of(s, user)? {
        let n = tombstone(&before, now);
        store::put(s, &n, Some(&before))?;
        gone.push(n.id);
    }
    store::forget_likes(s, user, now)?;
    Ok(gone)
}

/// Who `me` is to authors: friends and hidden users, loaded once per request.
struct Relations {
    friends: HashSet<Uuid>,
    hidden: HashSet<Uuid>,
}

fn relations(state: &AppState, me: Uuid) -> AppResult<Relations> {
    Ok(Relations {
        friends: social_store::friend_ids(&state.store, me)?.into_iter().collect(),
        hidden: super::social::hidden_from(state, me)?.into_iter().collect(),
    })
}

fn parse_cursor(cursor: Option<&str>) -> AppResult<Option<Uuid>> {
    cursor.map(|c| Uuid::try_parse(c).map_err(|_| AppError::field("cursor", "invalid cursor"))).transpose()
}

/// GET /notes?author=me|{id}&tag=: that author's notes the caller may see, newest first.
pub fn list(
    state: &AppState,
    me: Caller,
    author: Option<&str>,
    tag: Option<&str>,
    cursor: Option<&str>,
    limit: usize,
) -> AppResult<(Vec<NoteView>, Option<String>)> {
    let author = match author.unwrap_or("me") {
        "me" => me.id(),
        other => Uuid::try_parse(other).map_err(|_| AppError::field("author", "must be `me` or a user id"))?,
    };
    if author != me.id() {
        super::social::visible_to(state, me, author)?;
        if social_store::has_blocked(&state.store, me.id(), author)? {
            return Err(AppError::NotFound("user"));
        }
    }
    let tag = tag.map(normalize_tag).filter(|t| !t.is_empty());
    let mut views = Views::new(state, me.id());
    let mut items = Vec::new();
    for (scanned, id) in store::by_author(&state.store, author, parse_cursor(cursor)?).enumerate() {
        let id = id?;
        if let Some(n) = store::get(&state.store, id)?
            && tag.as_ref().is_none_or(|t| n.tags.contains(t))
            && may_read(state, me.id(), &n, false)?
        {
            items.push(views.note(&n)?);
        }
        if items.len() == limit || scanned + 1 == SCAN_BUDGET {
            return Ok((items, Some(id.to_string())));
        }
    }
    Ok((items, None))
}

/// GET /notes/feed: the caller's own shared notes, friends' `friends` and `public` notes and
/// everyone's `public` notes, newest first. The cursor is a note id, so new notes never shift
/// a page.
pub fn feed(state: &AppState, me: Caller, cursor: Option<&str>, limit: usize) -> AppResult<(Vec<NoteView>, Option<String>)> {
    let rel = relations(state, me.id())?;
    let mut views = Views::new(state, me.id());
    let mut items = Vec::new();
    for (scanned, entry) in store::shared_before(&state.store, parse_cursor(cursor)?).enumerate() {
        let (id, author, visibility) = entry?;
        let reading = Reading { viewer: me.id(), author, visibility, deleted: false, staff: false };
        if allowed(reading, || Ok(rel.hidden.contains(&author)), || Ok(rel.friends.contains(&author)), || views.author_live(author))?
            && let Some(n) = store::get(&state.store, id)?
        {
            items.push(views.note(&n)?);
        }
        if items.len() == limit || scanned + 1 == SCAN_BUDGET {
            return Ok((items, Some(id.to_string())));
        }
    }
    Ok((items, None))
}

/// GET /notes/search?q=&tag=&author=: ranked hits the caller may see (the cursor is an offset).
pub fn search(
    state: &AppState,
    me: Caller,
    q: &str,
    tag: Option<&str>,
    author: Option<&str>,
    cursor: Option<&str>,
    limit: usize,
) -> AppResult<(Vec<SearchHit>, Option<String>)> {
    let tag = tag.map(normalize_tag).filter(|t| !t.is_empty());
    let author = match author.map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some("me") => Some(me.id()),
        Some(a) => Some(Uuid::try_parse(a).map_err(|_| AppError::field("author", "must be `me` or a user id"))?),
    };
    if q.trim().is_empty() && tag.is_none() && author.is_none() {
        return Err(AppError::field("q", "give a search text (or a tag or author)"));
    }
    if q.chars().count() > crate::search::notes::MAX_QUERY {
        return Err(AppError::field("q", format!("must be at most {} characters", crate::search::notes::MAX_QUERY)));
    }
    let offset = match cursor {
        None => 0,
        Some(c) => c.parse::<usize>().ok().filter(|o| *o <= 10_000).ok_or_else(|| AppError::field("cursor", "invalid cursor"))?,
    };
    let friends = social_store::friend_ids(&state.store, me.id())?;
    let hidden = super::social::hidden_from(state, me.id())?;
    let reader = Scope { id: me.id(), friends: &friends, hidden: &hidden };
    let hits = state.note_index.search(&reader, &Search { q, tag: tag.as_deref(), author }, limit + 1, offset)?;
    let next = (hits.ids.len() > limit).then(|| (offset + limit).to_string());
    let rel = Relations { friends: friends.into_iter().collect(), hidden: hidden.into_iter().collect() };
    let mut views = Views::new(state, me.id());
    let mut items = Vec::with_capacity(limit);
    for id in hits.ids.into_iter().take(limit) {
        // The index already filtered; this only catches a change made since its last commit.
        let Some(n) = store::get(&state.store, id)? else { continue };
        let (author, deleted) = (n.author_id, n.deleted_at.is_some());
        let reading = Reading { viewer: me.id(), author, visibility: n.visibility, deleted, staff: false };
        if allowed(reading, || Ok(rel.hidden.contains(&author)), || Ok(rel.friends.contains(&author)), || views.author_live(author))? {
            let highlights = state.note_index.highlights(q, hits.relaxed, &n.title, &n.content);
            items.push(SearchHit { note: views.note(&n)?, highlights });
        }
    }
    Ok((items, next))
}

/// POST/DELETE /notes/{id}/like: idempotent; the count is exact under concurrent likes.
pub async fn like(state: &AppState, me: Caller, id: Uuid, on: bool) -> AppResult<LikeState> {
    readable_note(state, me, id)?;
    let now = state.clock.now();
    let likes_count = state.store.write(move |s| store::set_like(s, id, me.id(), on, now)).await?;
    Ok(LikeState { likes_count, liked_by_me: on })
}

/// POST /notes/{id}/share: posts a `note` message into a chat of the caller.
pub async fn share(state: &Arc<AppState>, me: Caller, id: Uuid, chat_id: Uuid) -> AppResult<super::chat::MessageView> {
    let n = readable_note(state, me, id)?;
    let input = super::chat::NewMessage {
        kind: Some(crate::store::chat::MessageKind::Note),
        content: n.title.clone(),
        note_id: Some(n.id),
        ..Default::default()
    };
    let (message, _) = super::chat::send(state, me, chat_id, input).await?;
    Ok(message)
}

/// The caller's notes and likes for `GET /me/export`.
pub fn export(state: &AppState, me: Uuid) -> AppResult<NotesExport> {
    let notes = store::all_of(&state.store, me)?.iter().map(|n| view(state, me, n)).collect::<AppResult<_>>()?;
    let likes = store::likes_of(&state.store, me)?.into_iter().map(|(note_id, at)| LikeExport { note_id, liked_at: rfc3339(at) }).collect();
    Ok(NotesExport { notes, likes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised_and_checked() {
        let mut e = Errors::new();
        let tags = normalize_tags(&[" #Biology ".into(), "biology".into(), "Cell  Cycle".into(), "C++".into()], &mut e);
        assert_eq!(tags, ["biology", "cell-cycle", "c++"]);
        assert!(e.finish().is_ok());
        let mut e = Errors::new();
        normalize_tags(&["ok".into(), " ".into(), "x".repeat(40), "a,b".into()], &mut e);
        let err = e.finish().unwrap_err();
        let fields: Vec<&str> = err.field_errors().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["tags[1]", "tags[2]", "tags[3]"]);
    }
}
