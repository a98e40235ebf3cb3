//! How notes look in the API: the note with its author, attachments and counts.

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

use crate::clock::rfc3339;
use crate::error::AppResult;
use crate::service::markdown;
use crate::service::media::{self, MediaView};
use crate::state::AppState;
use crate::store::notes::{self as store, NoteRecord, Visibility};
use crate::store::{media as media_store, users as users_store};

/// The author of a note, as readers see them.
#[derive(Clone, Debug, Serialize, salvo::oapi::ToSchema)]
pub struct Author {
    /// Id.
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Signed avatar URL.
    pub profile_photo_url: Option<String>,
}

/// A note as the API shows it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct NoteView {
    /// Id (time-ordered).
    pub id: Uuid,
    /// Author.
    pub author: Author,
    /// Title.
    pub title: String,
    /// Markdown exactly as written. Untrusted: render it with a sanitising renderer.
    pub content: String,
    /// Plain text made from the content (no markup), at most 200 characters.
    pub preview: String,
    /// Lower-case, unique tags.
    pub tags: Vec<String>,
    /// private | friends | public.
    pub visibility: Visibility,
    /// Attached media (signed URLs; readers of the note may also `GET /media/{id}`).
    pub attachments: Vec<MediaView>,
    /// Likes.
    pub likes_count: u64,
    /// Times shared into chats.
    pub shares_count: u64,
    /// Whether the caller likes it.
    pub liked_by_me: bool,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last edit (RFC 3339).
    pub updated_at: String,
}

/// Builds views of notes for one reader, looking each author up once.
pub struct Views<'a> {
    state: &'a AppState,
    viewer: Uuid,
    /// Author view and whether the account is live (not deleted or disabled).
    authors: HashMap<Uuid, (Author, bool)>,
}

impl<'a> Views<'a> {
    /// Views for `viewer`.
    pub fn new(state: &'a AppState, viewer: Uuid) -> Self {
        Self { state, viewer, authors: HashMap::new() }
    }

    fn author(&mut self, id: Uuid) -> AppResult<&(Author, bool)> {
        if !self.authors.contains_key(&id) {
            let entry = match users_store::get(&self.state.store, id)? {
                Some(u) => {
                    let live = u.deleted_at.is_none() && !u.disabled;
                    let photo = u.avatar_id.map(|a| media::signed_url(self.state, a, false));
                    (Author { id, username: u.username, name: u.name, profile_photo_url: photo }, live)
                }
                None => (Author { id, username: String::new(), name: String::new(), profile_photo_url: None }, false),
            };
            self.authors.insert(id, entry);
        }
        Ok(&self.authors[&id])
    }

    /// Whether the author's account is live.
    pub fn author_live(&mut self, id: Uuid) -> AppResult<bool> {
        Ok(self.author(id)?.1)
    }

    /// The view of `n`.
    pub fn note(&mut self, n: &NoteRecord) -> AppResult<NoteView> {
        let state = self.state;
        let counts = store::counts(&state.store, n.id)?;
        let mut attachments = Vec::new();
        for id in &n.attachment_ids {
            if let Some(m) = media_store::get(&state.store, *id)? {
                attachments.push(media::view(state, &m, self.viewer));
            }
        }
        Ok(NoteView {
            id: n.id,
            author: self.author(n.author_id)?.0.clone(),
            title: n.title.clone(),
            content: n.content.clone(),
            preview: n.preview.clone().unwrap_or_else(|| markdown::preview(&n.content)),
            tags: n.tags.clone(),
            visibility: n.visibility,
            attachments,
            likes_count: counts.likes,
            shares_count: counts.shares,
            liked_by_me: store::liked(&state.store, n.id, self.viewer)?,
            created_at: rfc3339(n.created_at),
            updated_at: rfc3339(n.updated_at),
        })
    }
}

/// The view of `n` for `viewer`.
pub fn view(state: &AppState, viewer: Uuid, n: &NoteRecord) -> AppResult<NoteView> {
    Views::new(state, viewer).note(n)
}
