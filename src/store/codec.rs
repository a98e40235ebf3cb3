//! Key and value encoding. Keys: big-endian integers, raw 16-byte ids, and a `0xFF` separator after
//! every variable-length part (0xFF never occurs in UTF-8). Values: JSON (schema-tolerant, readable).

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Separator written after each variable-length key part.
pub const SEP: u8 = 0xFF;

/// Builds a composite key part by part.
#[derive(Default)]
pub struct Key(Vec<u8>);

impl Key {
    /// An empty key.
    pub fn new() -> Self {
        Self(Vec::with_capacity(40))
    }
    /// Appends a 16-byte id.
    pub fn id(mut self, id: Uuid) -> Self {
        self.0.extend_from_slice(id.as_bytes());
        self
    }
    /// Appends a string followed by the separator.
    pub fn str(mut self, s: &str) -> Self {
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(SEP);
        self
    }
    /// Appends a big-endian u64.
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// The bytes.
    pub fn build(self) -> Vec<u8> {
        self.0
    }
}

/// Reads the 16-byte id at `offset` of a key or value; a key too short to hold one is corrupt
/// storage (an error, never a silent nil id).
pub fn id_at(key: &[u8], offset: usize) -> AppResult<Uuid> {
    key.get(offset..offset + 16)
        .and_then(|b| Uuid::from_slice(b).ok())
        .ok_or_else(|| AppError::internal(format!("storage: corrupt key ({} bytes, no id at byte {offset})", key.len())))
}

/// Encodes a value.
pub fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records always serialize")
}

/// Decodes a value; a record that does not decode is a bug or corruption, reported as internal.
pub fn dec<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    serde_json::from_slice(bytes).map_err(|e| AppError::internal(format!("corrupt record: {e}")))
}

/// Normalises a unique-index key for case-insensitive lookups.
pub fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Decodes a value inside a transaction (a corrupt value aborts it).
pub(crate) fn dec_tx<T: DeserializeOwned>(raw: &[u8]) -> sled::transaction::ConflictableTransactionResult<T, crate::error::AppError> {
    dec(raw).or_else(super::abort)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bytes_are_pinned() {
        let id = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let k = Key::new().id(id).str("ab").u64(258).build();
        assert_eq!(k, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, b'a', b'b', 0xFF, 0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(id_at(&k, 0).unwrap(), id);
        assert_eq!(id_at(&k, 10).unwrap(), Uuid::from_slice(&k[10..26]).unwrap());
        assert!(id_at(&k, 20).is_err(), "a corrupt key is an error, not the nil id");
    }

    #[test]
    fn string_parts_sort_before_longer_strings_with_same_prefix() {
        // "ab" + SEP must sort after "ab" + anything UTF-8 and keep prefixes apart.
        let a = Key::new().str("ab").build();
        let b = Key::new().str("abc").build();
        assert!(b < a, "0xFF separator sorts after every UTF-8 byte");
        assert!(!b.starts_with(&a));
    }

    #[test]
    fn fold_is_case_and_space_insensitive() {
        assert_eq!(fold("  Alice@School.ORG "), "alice@school.org");
    }
}
