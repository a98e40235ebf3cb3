//! Notes, their indexes and likes.
//!
//! Trees: `notes` (note id → record), `notes_by_author` (author ‖ note id → ()), `notes_shared`
//! (note id → author ‖ visibility byte: every live note that is not private, the feed's source,
//! newest last because ids are time-ordered), `note_media` (media id ‖ note id → ()),
//! `note_likes` (note ‖ user → when), `likes_by_user` (user ‖ note → when), `note_counters`
//! (note ‖ name → u64, kept in the same transaction as the like).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use uuid::Uuid;

use super::{Store, codec, io, tx};
use crate::error::{AppError, AppResult};

/// Who may read a note.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, salvo::oapi::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// The author only.
    Private,
    /// The author's friends.
    Friends,
    /// Everyone on the server.
    Public,
}

impl Visibility {
    fn byte(self) -> u8 {
        match self {
            Self::Private => 0,
            Self::Friends => 1,
            Self::Public => 2,
        }
    }

    fn from_byte(b: u8) -> Self {
        match b {
            2 => Self::Public,
            1 => Self::Friends,
            _ => Self::Private,
        }
    }

    /// `private` | `friends` | `public`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Friends => "friends",
            Self::Public => "public",
        }
    }
}

/// A stored note.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NoteRecord {
    /// Id (time-ordered).
    pub id: Uuid,
    /// Author.
    pub author_id: Uuid,
    /// Title.
    pub title: String,
    /// Markdown, as written.
    pub content: String,
    /// Normalised tags.
    pub tags: Vec<String>,
    /// Who may read it.
    pub visibility: Visibility,
    /// Attached media.
    pub attachment_ids: Vec<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last edit.
    pub updated_at: DateTime<Utc>,
    /// Soft deletion.
    #[serde(default)]
    pub deleted_at: Option<DateTime<Utc>>,
    /// The plain-text preview of `content`, made when it is written (records written before it
    /// existed have none: it is then made when read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

/// Likes and shares of a note.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Likes.
    pub likes: u64,
    /// Shares into chats.
    pub shares: u64,
}

fn pair(a: Uuid, b: Uuid) -> Vec<u8> {
    codec::Key::new().id(a).id(b).build()
}

fn counter_key(note: Uuid, name: &str) -> Vec<u8> {
    codec::Key::new().id(note).str(name).build()
}

fn read_u64(v: Option<sled::IVec>) -> u64 {
    v.and_then(|v| v.as_ref().try_into().ok()).map(u64::from_be_bytes).unwrap_or(0)
}

/// Reads a note (deleted ones too: callers decide).
pub fn get(store: &Store, id: Uuid) -> AppResult<Option<NoteRecord>> {
    store.t.notes.get(id.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Writes a note and its indexes in one transaction (`before` is the stored version, if any).
pub fn put(store: &Store, n: &NoteRecord, before: Option<&NoteRecord>) -> AppResult<()> {
    let t = &store.t;
    tx((&t.notes, &t.notes_by_author, &t.notes_shared, &t.note_media).transaction(|trees| write_in(trees, n, before)))
}

/// Stores new notes like [`put`], all in one transaction: a batch costs sled one log reservation
/// (two sealed log buffers and their writes) instead of one per note.
pub fn put_new(store: &Store, batch: &[NoteRecord]) -> AppResult<()> {
    let t = &store.t;
    tx((&t.notes, &t.notes_by_author, &t.notes_shared, &t.note_media).transaction(|trees| {
        for n in batch {
            write_in(trees, n, None)?;
        }
        Ok(())
    }))
}

type NoteTrees = (TransactionalTree, TransactionalTree, TransactionalTree, TransactionalTree);

fn write_in(
    (notes, by_author, shared, media): &NoteTrees,
    n: &NoteRecord,
    before: Option<&NoteRecord>,
) -> Result<(), ConflictableTransactionError<AppError>> {
    if let Some(b) = before {
        for m in &b.attachment_ids {
            media.remove(pair(*m, b.id))?;
        }
    }
    notes.insert(n.id.as_bytes().as_slice(), codec::enc(n))?;
    let live = n.deleted_at.is_none();
    let author_key = pair(n.author_id, n.id);
    if live {
        by_author.insert(author_key, &[])?;
        for m in &n.attachment_ids {
            media.insert(pair(*m, n.id), &[])?;
        }
    } else {
        by_author.remove(author_key)?;
    }
    if live && n.visibility != Visibility::Private {
        let mut v = n.author_id.as_bytes().to_vec();
        v.push(n.visibility.byte());
        shared.insert(n.id.as_bytes().as_slice(), v)?;
    } else {
        shared.remove(n.id.as_bytes().as_slice())?;
    }
    Ok(())
}

/// Live note ids of an author, newest first, before `before` (exclusive).
pub fn by_author(store: &Store, author: Uuid, before: Option<Uuid>) -> impl Iterator<Item = AppResult<Uuid>> + use<> {
    let start = pair(author, Uuid::nil());
    let end = match before {
        Some(b) => pair(author, b),
        None => pair(author, Uuid::max()),
    };
    store.t.notes_by_author.range(start..end).keys().rev().map(|k| codec::id_at(&k.map_err(io)?, 16))
}

/// Every live note of an author, newest first (export, account deletion).
pub fn all_of(store: &Store, author: Uuid) -> AppResult<Vec<NoteRecord>> {
    let mut out = Vec::new();
    for id in by_author(store, author, None) {
        if let Some(n) = get(store, id?)? {
            out.push(n);
        }
    }
    Ok(out)
}

/// Non-private live notes, newest first, before `before`: (id, author, visibility).
pub fn shared_before(store: &Store, before: Option<Uuid>) -> impl Iterator<Item = AppResult<(Uuid, Uuid, Visibility)>> + use<> {
    let end = before.unwrap_or(Uuid::max());
    store.t.notes_shared.range(..end.as_bytes().to_vec()).rev().map(|r| {
        let (k, v) = r.map_err(io)?;
        let id = codec::id_at(&k, 0)?;
        let author = codec::id_at(&v, 0)?;
        Ok((id, author, Visibility::from_byte(v.get(16).copied().unwrap_or(0))))
    })
}

/// Live notes that attach `media`.
pub fn notes_with_media(store: &Store, media: Uuid) -> AppResult<Vec<Uuid>> {
    store.t.note_media.scan_prefix(media.as_bytes()).keys().map(|k| codec::id_at(&k.map_err(io)?, 16)).collect()
}

/// Every note, deleted ones included (backups, index rebuilds).
pub fn all(store: &Store) -> impl Iterator<Item = AppResult<NoteRecord>> + use<> {
    store.t.notes.iter().map(|r| codec::dec(&r.map_err(io)?.1))
}

/// Likes and shares.
pub fn counts(store: &Store, note: Uuid) -> AppResult<Counts> {
    let t = &store.t.note_counters;
    Ok(Counts {
        likes: read_u64(t.get(counter_key(note, "likes")).map_err(io)?),
        shares: read_u64(t.get(counter_key(note, "shares")).map_err(io)?),
    })
}

/// Whether `user` likes `note`.
pub fn liked(store: &Store, note: Uuid, user: Uuid) -> AppResult<bool> {
    store.t.note_likes.contains_key(pair(note, user)).map_err(io)
}

/// Adds (`like`) or removes a like; idempotent. The count changes in the same transaction, so it
/// stays exact under concurrent likes. Returns the new like count.
pub fn set_like(store: &Store, note: Uuid, user: Uuid, like: bool, at: DateTime<Utc>) -> AppResult<u64> {
    let t = &store.t;
    tx((&t.note_likes, &t.likes_by_user, &t.note_counters).transaction(|(likes, by_user, counters)| {
        let key = counter_key(note, "likes");
        let mut n = read_u64(counters.get(&key)?);
        let exists = likes.get(pair(note, user))?.is_some();
        if like && !exists {
            likes.insert(pair(note, user), codec::enc(&at))?;
            by_user.insert(pair(user, note), codec::enc(&at))?;
            n += 1;
        } else if !like && exists {
            likes.remove(pair(note, user))?;
            by_user.remove(pair(user, note))?;
            n = n.saturating_sub(1);
        }
        counters.insert(key, &n.to_be_bytes())?;
        Ok::<_, ConflictableTransactionError<AppError>>(n)
    }))
}

/// Counts one more share, inside the transaction of the message that shares the note.
pub(crate) fn count_share_in(
    counters: &sled::transaction::TransactionalTree,
    note: Uuid,
) -> sled::transaction::ConflictableTransactionResult<(), AppError> {
    let key = counter_key(note, "shares");
    let n = read_u64(counters.get(&key)?) + 1;
    counters.insert(key, &n.to_be_bytes())?;
    Ok(())
}

/// Restores a share count (backups).
pub fn restore_shares(store: &Store, note: Uuid, n: u64) -> AppResult<()> {
    store.t.note_counters.insert(counter_key(note, "shares"), &n.to_be_bytes()).map_err(io)?;
    Ok(())
}

/// Notes a user likes, with when (export, backups).
pub fn likes_of(store: &Store, user: Uuid) -> AppResult<Vec<(Uuid, DateTime<Utc>)>> {
    store
        .t
        .likes_by_user
        .scan_prefix(user.as_bytes())
        .map(|r| {
            let (k, v) = r.map_err(io)?;
            Ok((codec::id_at(&k, 16)?, codec::dec(&v)?))
        })
        .collect()
}

/// Every like: (note, user, when) (backups).
pub fn all_likes(store: &Store) -> impl Iterator<Item = AppResult<(Uuid, Uuid, DateTime<Utc>)>> + use<> {
    store.t.note_likes.iter().map(|r| {
        let (k, v) = r.map_err(io)?;
        Ok((codec::id_at(&k, 0)?, codec::id_at(&k, 16)?, codec::dec(&v)?))
    })
}

/// Removes every like a user gave (account deletion); counts follow.
pub fn forget_likes(store: &Store, user: Uuid, now: DateTime<Utc>) -> AppResult<()> {
    for (note, _) in likes_of(store, user)? {
        set_like(store, note, user, false, now)?;
    }
    Ok(())
}
