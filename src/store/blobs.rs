//! Content-addressed files under `data/media/ab/abcdef…` (sha256 of the bytes). Written to a
//! temporary file, fsynced and renamed, so a file either exists whole or not at all.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// The blob directory of a data dir.
#[derive(Clone, Debug)]
pub struct Blobs {
    root: PathBuf,
    pins: Arc<Mutex<Pins>>,
}

/// Open [`Pin`]s and the deletions they hold back.
#[derive(Debug, Default)]
struct Pins {
    open: usize,
    deferred: Vec<String>,
}

/// While a pin is held no blob is deleted (a backup copies blobs after its write pause, so the
/// files its snapshot names must stay); the deletions asked for meanwhile happen when the last
/// pin goes.
pub struct Pin(Blobs);

impl Drop for Pin {
    fn drop(&mut self) {
        let deferred = {
            let mut p = self.0.pins.lock().unwrap_or_else(|e| e.into_inner());
            p.open -= 1;
            if p.open > 0 { Vec::new() } else { std::mem::take(&mut p.deferred) }
        };
        deferred.iter().for_each(|h| self.0.remove(h));
    }
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
        Self { root: data_dir.join("media"), pins: Arc::default() }
    }

    /// Holds back deletions until the pin is dropped.
    pub fn pin(&self) -> Pin {
        self.pins.lock().unwrap_or_else(|e| e.into_inner()).open += 1;
        Pin(self.clone())
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
        // Stored again while its deletion waits for a pin: it is in use, keep it.
        self.pins.lock().unwrap_or_else(|e| e.into_inner()).deferred.retain(|h| *h != hash);
        let path = self.path(&hash)?;
        if path.exists() {
            return Ok(hash);
        }
        let dir = path.parent().expect("blob path has a parent");
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(AppError::internal)?;
            // The new fan-out directory's entry (and `media/` itself on the first blob).
            super::power_safe::sync_dir(&self.root).map_err(AppError::internal)?;
            if let Some(data_dir) = self.root.parent() {
                super::power_safe::sync_dir(data_dir).map_err(AppError::internal)?;
            }
        }
        super::power_safe::write_file(&path, bytes, false).map_err(|e| AppError::internal(format!("write blob: {e}")))?;
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

    /// Deletes a blob no record references any more (later, while a [`Pin`] is held).
    pub fn remove(&self, hash: &str) {
        {
            let mut p = self.pins.lock().unwrap_or_else(|e| e.into_inner());
            if p.open > 0 {
                p.deferred.push(hash.to_string());
                return;
            }
        }
        if let Ok(p) = self.path(hash)
            && let Err(e) = std::fs::remove_file(&p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, hash, "could not delete blob");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_holds_back_deletions_until_the_last_one_goes() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path());
        let h = blobs.put(b"a photo").unwrap();
        let (p1, p2) = (blobs.pin(), blobs.pin());
        blobs.remove(&h);
        drop(p1);
        assert_eq!(blobs.get(&h).unwrap(), b"a photo", "still pinned by the second backup");
        drop(p2);
        assert!(blobs.get(&h).is_err(), "deleted once no pin is left");
        // A file stored again while its deletion waits is kept.
        let pin = blobs.pin();
        let h = blobs.put(b"a drawing").unwrap();
        blobs.remove(&h);
        blobs.put(b"a drawing").unwrap();
        drop(pin);
        assert_eq!(blobs.get(&h).unwrap(), b"a drawing");
    }
}
