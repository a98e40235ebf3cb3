//! Content-addressed files under `data/media/ab/abcdef…` (sha256 of the bytes). Written to a
//! temporary file, fsynced and renamed, so a file either exists whole or not at all.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// The blob directory of a data dir.
#[derive(Clone, Debug)]
pub struct Blobs {
    root: PathBuf,
}

fn valid_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// sha256 of bytes, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Blobs {
    /// Blobs under `data_dir/media`.
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join("media") }
    }

    /// Path of a blob.
    pub fn path(&self, hash: &str) -> AppResult<PathBuf> {
        if !valid_hash(hash) {
            return Err(AppError::internal(format!("bad blob hash {hash}")));
        }
        Ok(self.root.join(&hash[..2]).join(hash))
    }

    /// Stores bytes durably; returns their hash. Idempotent.
    pub fn put(&self, bytes: &[u8]) -> AppResult<String> {
        let hash = sha256_hex(bytes);
        let path = self.path(&hash)?;
        if path.exists() {
            return Ok(hash);
        }
        let dir = path.parent().expect("blob path has a parent");
        std::fs::create_dir_all(dir).map_err(AppError::internal)?;
        let tmp = dir.join(format!(".{hash}.{}.tmp", uuid::Uuid::now_v7().simple()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            AppError::internal(format!("write blob: {e}"))
        })?;
        Ok(hash)
    }

    /// Free bytes on the disk that holds the blobs (the data directory when none is stored yet).
    pub fn free_space(&self) -> AppResult<u64> {
        let at = if self.root.exists() { self.root.as_path() } else { self.root.parent().unwrap_or(&self.root) };
        fs2::available_space(at).map_err(|e| AppError::internal(format!("free space of {}: {e}", at.display())))
    }

    /// Reads a blob.
    pub fn get(&self, hash: &str) -> AppResult<Vec<u8>> {
        std::fs::read(self.path(hash)?).map_err(|e| AppError::internal(format!("read blob {hash}: {e}")))
    }

    /// Deletes a blob no record references any more.
    pub fn remove(&self, hash: &str) {
        if let Ok(p) = self.path(hash)
            && let Err(e) = std::fs::remove_file(&p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, hash, "could not delete blob");
        }
    }
}
