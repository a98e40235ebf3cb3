//! Full-text search with tantivy. Indexes are derived data: each can be rebuilt from sled and is
//! rebuilt on start when missing or from an older schema. One writer thread per index applies
//! changes in batches; readers reload on commit.

pub mod users;

use std::path::Path;

/// Tells whether the index in `dir` was built with `version`; if not, clears the directory.
/// Returns true when the index must be (re)built.
pub(crate) fn prepare_dir(dir: &Path, version: u32) -> std::io::Result<bool> {
    let marker = dir.join("friend_schema_version");
    let current = std::fs::read_to_string(&marker).ok().and_then(|s| s.trim().parse::<u32>().ok());
    if current == Some(version) && dir.join("meta.json").exists() {
        return Ok(false);
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(true)
}

/// Writes the schema marker once the first build committed.
pub(crate) fn mark_built(dir: &Path, version: u32) -> std::io::Result<()> {
    std::fs::write(dir.join("friend_schema_version"), version.to_string())
}
