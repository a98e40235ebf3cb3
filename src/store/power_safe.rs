//! Power-cut safety for what sled writes. sled 0.34's `flush` ends in `sync_file_range`, which
//! writes the pages but neither a grown file's size nor the drive's write cache: it survives
//! `kill -9`, not a power cut. After each shared flush [`SledFiles::sync`] `fdatasync`s the log
//! file, `fsync`s the blob files sled created since the last call, and the directories whose
//! entries changed (a new blob or snapshot file), so one group commit costs one sync of each.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `fsync` of a directory: makes the entries created, renamed or removed in it durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` so that after a crash or a power cut the file holds the old bytes or
/// the new ones, whole: a temporary file, `fsync`, rename, `fsync` of the directory. `private`
/// makes the file owner-only (0600) before it gets its name.
pub fn write_file(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::now_v7().simple()));
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Creates `dir` (and its parents) when missing, the last one owner-only (0700); an existing
/// directory is left as it is (it may be a mount without permissions, e.g. a USB stick).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    match b.create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

/// Copies the files of `from` (and of its subdirectories) to the new directory `to`, each
/// fsynced, then the directories.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    create_private_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
            File::open(&dst)?.sync_all()?;
        }
    }
    sync_dir(to)?;
    if let Some(parent) = to.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// The files of one sled database, as last made durable.
#[derive(Debug)]
pub struct SledFiles {
    dir: PathBuf,
    log: File,
    /// Names in `dir` at the last sync (snapshots come and go).
    entries: BTreeSet<String>,
    /// Names in `dir/blobs` at the last sync.
    blobs: BTreeSet<String>,
}

fn names(dir: &Path) -> std::io::Result<BTreeSet<String>> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned())).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(e),
    }
}

impl SledFiles {
    /// Opens the files of the database in `dir` (sled's directory) and makes everything in it
    /// durable once: the files sled created on open (`conf`, the log) and the directories up to
    /// `data_dir`.
    pub fn open(dir: &Path, data_dir: &Path) -> std::io::Result<Self> {
        let log = File::open(dir.join("db"))?;
        let mut files = Self { dir: dir.to_path_buf(), log, entries: BTreeSet::new(), blobs: BTreeSet::new() };
        for name in names(dir)? {
            let path = dir.join(&name);
            if path.is_file() {
                File::open(&path)?.sync_all()?;
            }
        }
        files.sync()?;
        sync_dir(dir)?;
        sync_dir(data_dir)?;
        if let Some(parent) = data_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            // The data directory's own entry, when it was just created.
            let _ = sync_dir(parent);
        }
        Ok(files)
    }

    /// sled's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes what sled has flushed durable: `fdatasync` of the log, `fsync` of new blob files
    /// and of each directory whose entries changed since the last call.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.log.sync_data()?;
        let blob_dir = self.dir.join("blobs");
        let blobs = names(&blob_dir)?;
        if blobs != self.blobs {
            for name in blobs.difference(&self.blobs) {
                match File::open(blob_dir.join(name)) {
                    Ok(f) => f.sync_all()?,
                    // Removed again since the listing: nothing to keep.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            sync_dir(&blob_dir)?;
            self.blobs = blobs;
        }
        let entries = names(&self.dir)?;
        if entries != self.entries {
            sync_dir(&self.dir)?;
            self.entries = entries;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_file_replaces_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        write_file(&path, b"one", true).unwrap();
        write_file(&path, b"two", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn a_migration_first_keeps_a_copy_of_the_database_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path(), 8).unwrap();
        store.t.meta.insert(crate::store::meta::SCHEMA_KEY, &5u64.to_be_bytes()).unwrap();
        store.t.users.insert(b"someone", b"{}").unwrap();
        crate::store::meta::migrate(&store).unwrap();
        let copies: Vec<_> = std::fs::read_dir(dir.path().join("backups")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(copies.len(), 1);
        assert!(copies[0].file_name().unwrap().to_string_lossy().starts_with("pre-migration-schema5-"));
        let old = sled::open(&copies[0]).unwrap();
        assert_eq!(old.open_tree("meta").unwrap().get(crate::store::meta::SCHEMA_KEY).unwrap().unwrap().as_ref(), 5u64.to_be_bytes());
        assert!(old.open_tree("users").unwrap().get(b"someone").unwrap().is_some());
        assert_eq!(crate::store::meta::schema_version(&store).unwrap(), Some(crate::store::SCHEMA_VERSION));
    }

    #[test]
    fn sync_notices_new_blob_and_snapshot_files() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir_all(db.join("blobs")).unwrap();
        std::fs::write(db.join("db"), b"log").unwrap();
        let mut files = SledFiles::open(&db, dir.path()).unwrap();
        assert!(files.blobs.is_empty());
        std::fs::write(db.join("blobs").join("17"), b"blob").unwrap();
        std::fs::write(db.join("snap.01"), b"snap").unwrap();
        files.sync().unwrap();
        assert!(files.blobs.contains("17"));
        assert!(files.entries.contains("snap.01"));
    }
}
