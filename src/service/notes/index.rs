//! Keeping the notes search index in step with storage: one document per live note, rebuilt when
//! missing, caught up after a crash, re-indexed when an author renames.

use std::collections::HashMap;

use uuid::Uuid;

use crate::error::AppResult;
use crate::search::notes::NoteDoc;
use crate::state::AppState;
use crate::store::notes::{self as store, NoteRecord};
use crate::store::users as users_store;

/// The search document of a note.
fn doc(n: &NoteRecord, author: Option<&users_store::UserRecord>) -> NoteDoc {
    NoteDoc {
        id: n.id,
        author: n.author_id,
        author_names: author.map(|u| format!("{} {}", u.username, u.name)).unwrap_or_default(),
        visibility: n.visibility.as_str(),
        title: n.title.clone(),
        content: n.content.clone(),
        tags: n.tags.clone(),
    }
}

pub(super) fn index(state: &AppState, n: &NoteRecord) -> AppResult<()> {
    if n.deleted_at.is_some() {
        state.note_index.remove(n.id);
    } else {
        state.note_index.upsert(doc(n, users_store::get(&state.store, n.author_id)?.as_ref()));
    }
    Ok(())
}

/// Rebuilds the search index from storage, in the index's writer thread (requests go on).
pub fn rebuild_index(state: &AppState) {
    let store = state.store.clone();
    state.note_index.rebuild(Box::new(move |sink| {
        let mut authors: HashMap<Uuid, Option<users_store::UserRecord>> = HashMap::new();
        for n in store::all(&store) {
            let n = match n {
                Ok(n) if n.deleted_at.is_none() => n,
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "notes index rebuild: unreadable note");
                    continue;
                }
            };
            let a = authors.entry(n.author_id).or_insert_with(|| users_store::get(&store, n.author_id).ok().flatten());
            sink(doc(&n, a.as_ref()));
        }
    }));
}

/// After a start on an existing index: re-applies, in the background, every note changed since
/// shortly before the index's last commit, so that changes stored just before a crash (written to
/// sled, not yet committed to the index) are searchable again.
pub fn catch_up(state: &AppState, since: std::time::SystemTime) {
    let since: chrono::DateTime<chrono::Utc> = since.into();
    let since = since - chrono::Duration::seconds(60);
    let (store, index) = (state.store.clone(), state.note_index.clone());
    let spawned = std::thread::Builder::new().name("friend-index-catch-up".into()).spawn(move || {
        let mut n = 0;
        for note in store::all(&store).flatten() {
            if note.updated_at.max(note.deleted_at.unwrap_or(note.updated_at)) < since {
                continue;
            }
            n += 1;
            if note.deleted_at.is_some() {
                index.remove(note.id);
            } else {
                let author = users_store::get(&store, note.author_id).ok().flatten();
                index.upsert(doc(&note, author.as_ref()));
            }
        }
        if n > 0 {
            tracing::info!(notes = n, "notes index: re-applied recent changes");
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "notes index: catch-up not started");
    }
}

/// Re-indexes an author's notes (after a change of username or name).
pub fn reindex_author(state: &AppState, author: &users_store::UserRecord) -> AppResult<()> {
    for n in store::all_of(&state.store, author.id)? {
        state.note_index.upsert(doc(&n, Some(author)));
    }
    Ok(())
}

/// Removes deleted notes from the index.
pub fn unindex(state: &AppState, ids: &[Uuid]) {
    for id in ids {
        state.note_index.remove(*id);
    }
}
