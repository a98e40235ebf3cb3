//! Media records. The bytes live in content-addressed files (see `service::media`); each record
//! holds a reference, and `media_blobs` counts references so a file is removed with its last record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use uuid::Uuid;

use super::{Store, abort, codec, io, tx};
use crate::error::{AppError, AppResult};

/// What a media item is for; decides who may read it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MediaPurpose {
    /// A profile photo: any signed-in user may read it.
    Avatar,
    /// A file uploaded for a message or a note: the owner and those the owning feature allows.
    Upload,
}

/// A stored upload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MediaRecord {
    /// Id.
    pub id: Uuid,
    /// Who uploaded it.
    pub owner_id: Uuid,
    /// Purpose.
    pub purpose: MediaPurpose,
    /// Sniffed MIME type of the stored bytes.
    pub mime: String,
    /// Stored size in bytes.
    pub size: u64,
    /// sha256 (hex) of the stored bytes: the file name.
    pub sha256: String,
    /// Image width.
    pub width: Option<u32>,
    /// Image height.
    pub height: Option<u32>,
    /// sha256 of the thumbnail (JPEG), for images.
    pub thumb_sha256: Option<String>,
    /// Original file name, sanitised (for downloads).
    #[serde(default)]
    pub file_name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl MediaRecord {
    fn blobs(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.sha256.as_str()).chain(self.thumb_sha256.as_deref())
    }
}

fn owner_key(owner: Uuid, id: Uuid) -> Vec<u8> {
    codec::Key::new().id(owner).id(id).build()
}

/// Reads a media record.
pub fn get(store: &Store, id: Uuid) -> AppResult<Option<MediaRecord>> {
    store.t.media.get(id.as_bytes()).map_err(io)?.map(|v| codec::dec(&v)).transpose()
}

/// Stores a record, its owner index and blob references.
pub fn insert(store: &Store, m: &MediaRecord) -> AppResult<()> {
    let t = &store.t;
    let v = codec::enc(m);
    tx((&t.media, &t.media_by_owner, &t.media_blobs).transaction(|(media, by_owner, blobs)| {
        media.insert(m.id.as_bytes(), v.as_slice())?;
        by_owner.insert(owner_key(m.owner_id, m.id), &[] as &[u8])?;
        for b in m.blobs() {
            let n = blobs.get(b)?.map(|v| super::meta::read_u64(&v)).unwrap_or(0);
            blobs.insert(b, &(n + 1).to_be_bytes())?;
        }
        Ok(())
    }))
}

/// Removes a record; returns the blobs no record references any more (to delete from disk).
pub fn remove(store: &Store, id: Uuid) -> AppResult<Vec<String>> {
    let t = &store.t;
    tx((&t.media, &t.media_by_owner, &t.media_blobs).transaction(|(media, by_owner, blobs)| {
        let Some(raw) = media.remove(id.as_bytes())? else { return abort(AppError::NotFound("media")) };
        let m: MediaRecord = match codec::dec(&raw) {
            Ok(m) => m,
            Err(e) => return abort(e),
        };
        by_owner.remove(owner_key(m.owner_id, m.id))?;
        let mut orphans = Vec::new();
        for b in m.blobs() {
            let n = blobs.get(b)?.map(|v| super::meta::read_u64(&v)).unwrap_or(0);
            if n <= 1 {
                blobs.remove(b)?;
                orphans.push(b.to_string());
            } else {
                blobs.insert(b, &(n - 1).to_be_bytes())?;
            }
        }
        Ok(orphans)
    }))
}

/// Every media record of an owner, oldest first.
pub fn list_by_owner(store: &Store, owner: Uuid) -> AppResult<Vec<MediaRecord>> {
    let mut out = Vec::new();
    for item in store.t.media_by_owner.scan_prefix(owner.as_bytes()) {
        let (k, _) = item.map_err(io)?;
        if let Some(m) = get(store, codec::id_at(&k, 16)?)? {
            out.push(m);
        }
    }
    Ok(out)
}
