//! Full-text search with tantivy. Indexes are derived data: each can be rebuilt from sled and is
//! rebuilt on start when missing or from an older schema. One writer thread per index applies
//! changes in batches; readers reload on commit.

pub mod notes;
pub mod text;
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

/// Opens the index in `dir` (prepared by [`prepare_dir`]) or creates it when `create`. An index
/// that cannot be opened or read (damaged by a power cut or a full disk) is cleared and created
/// anew, and reported as needing a rebuild: it is derived data and must never stop the server.
/// Returns the index and whether it must be (re)built.
pub(crate) fn open_or_create(dir: &Path, schema: tantivy::schema::Schema, create: bool) -> tantivy::Result<(tantivy::Index, bool)> {
    if !create {
        let opened = tantivy::Index::open_in_dir(dir).and_then(|index| index.reader().map(|_| index));
        match opened {
            Ok(index) => return Ok((index, false)),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "search index damaged; rebuilding it from storage");
                std::fs::remove_dir_all(dir)?;
                std::fs::create_dir_all(dir)?;
            }
        }
    }
    Ok((tantivy::Index::create_in_dir(dir, schema)?, true))
}

/// When the index in `dir` last committed (tantivy rewrites `meta.json` on every commit).
pub(crate) fn last_commit(dir: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(dir.join("meta.json")).and_then(|m| m.modified()).ok()
}

/// Bytes the files under `dir` take (0 when it cannot be read).
pub fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => dir_bytes(&e.path()),
                _ => e.metadata().map_or(0, |m| m.len()),
            })
            .sum()
    })
}

/// Size on disk of each search index under `data_dir`, by name.
pub fn index_sizes(data_dir: &Path) -> [(&'static str, u64); 2] {
    ["notes", "users"].map(|name| (name, dir_bytes(&data_dir.join("search").join(name))))
}

/// Writes the schema marker once the first build committed.
pub(crate) fn mark_built(dir: &Path, version: u32) -> std::io::Result<()> {
    crate::store::power_safe::write_file(&dir.join("friend_schema_version"), version.to_string().as_bytes(), false)
}

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use tantivy::schema::{Field, Value};
use tantivy::{DocAddress, IndexReader, IndexWriter, Searcher, TantivyDocument, Term};
use uuid::Uuid;

/// How long a writer waits for more changes to share one commit.
const BATCH_PAUSE: Duration = Duration::from_millis(10);

/// Under steady writes a writer commits at most this often (after a quiet spell, at once).
const COMMIT_EVERY: Duration = Duration::from_millis(250);

/// Changes queued for a writer thread at most; a change beyond that waits for room (see
/// [`Writer::send`]). A change holds one document, about 3 KiB at most for a note.
const QUEUE: usize = 8192;

/// Feeds every document of a rebuild to the sink it is given.
pub(crate) type Producer<D> = Box<dyn FnOnce(&mut dyn FnMut(D)) + Send>;

enum Op<D> {
    Upsert(Uuid, D),
    Remove(Uuid),
    Rebuild(Producer<D>),
    Flush(mpsc::Sender<()>),
}

/// The handle of an index's writer thread: changes are queued (bounded), applied in batches and
/// committed once per batch, at most every [`COMMIT_EVERY`] under steady writes; the reader is
/// reloaded after each commit, so a change is searchable within that interval.
pub(crate) struct Writer<D> {
    tx: mpsc::SyncSender<Op<D>>,
    reader: IndexReader,
}

impl<D> Clone for Writer<D> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone(), reader: self.reader.clone() }
    }
}

/// What a writer thread needs to know about its index.
pub(crate) struct WriterSpec<F> {
    /// Thread and log name (`users`, `notes`).
    pub name: &'static str,
    /// The index directory (for the schema marker).
    pub dir: PathBuf,
    /// Schema version written to the marker after a rebuild.
    pub version: u32,
    /// The stored id field (one document per id).
    pub id_field: Field,
    /// Builds a document.
    pub to_doc: F,
}

impl<D: Send + 'static> Writer<D> {
    /// Starts the writer thread.
    pub(crate) fn spawn<F>(writer: IndexWriter, reader: IndexReader, spec: WriterSpec<F>) -> std::io::Result<Self>
    where
        F: Fn(&D) -> TantivyDocument + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let r = reader.clone();
        std::thread::Builder::new().name(format!("friend-index-{}", spec.name)).spawn(move || write_loop(writer, r, spec, rx))?;
        Ok(Self { tx, reader })
    }

    /// Queues `op`. When the queue is full the caller waits for room (the writer falls behind only
    /// under a burst of writes, and waiting slows the writers instead of growing memory); on a
    /// multi-threaded runtime's worker the wait is announced to tokio (`block_in_place`), so the
    /// worker's other tasks move to another thread meanwhile.
    fn send(&self, op: Op<D>) {
        let op = match self.tx.try_send(op) {
            Ok(()) | Err(mpsc::TrySendError::Disconnected(_)) => return,
            Err(mpsc::TrySendError::Full(op)) => op,
        };
        let on_worker =
            tokio::runtime::Handle::try_current().is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if on_worker {
            let _ = tokio::task::block_in_place(|| self.tx.send(op));
        } else {
            let _ = self.tx.send(op);
        }
    }

    /// Adds or replaces the document of `id`.
    pub(crate) fn upsert(&self, id: Uuid, d: D) {
        self.send(Op::Upsert(id, d));
    }

    /// Removes the document of `id`.
    pub(crate) fn remove(&self, id: Uuid) {
        self.send(Op::Remove(id));
    }

    /// Replaces every document with what `producer` feeds (queries keep the old ones meanwhile).
    pub(crate) fn rebuild(&self, producer: Producer<D>) {
        self.send(Op::Rebuild(producer));
    }

    /// Waits (up to `limit`) until every change queued so far is committed and visible; false if
    /// the writer did not get there in time (a rebuild can take a while).
    pub(crate) fn flush_within(&self, limit: Duration) -> bool {
        let (tx, rx) = mpsc::channel();
        self.send(Op::Flush(tx));
        let done = rx.recv_timeout(limit).is_ok();
        let _ = self.reader.reload();
        done
    }
}

fn apply<D, F: Fn(&D) -> TantivyDocument>(writer: &mut IndexWriter, spec: &WriterSpec<F>, op: Op<D>, waiters: &mut Vec<mpsc::Sender<()>>) {
    let id_term = |id: Uuid| Term::from_field_text(spec.id_field, &id.to_string());
    match op {
        Op::Upsert(id, d) => {
            writer.delete_term(id_term(id));
            if let Err(e) = writer.add_document((spec.to_doc)(&d)) {
                tracing::error!(index = spec.name, error = %e, "index: add failed");
            }
        }
        Op::Remove(id) => {
            writer.delete_term(id_term(id));
        }
        Op::Rebuild(producer) => {
            let started = std::time::Instant::now();
            let _ = writer.delete_all_documents();
            let mut n = 0u64;
            producer(&mut |d| {
                n += 1;
                if let Err(e) = writer.add_document((spec.to_doc)(&d)) {
                    tracing::error!(index = spec.name, error = %e, "index: add failed");
                }
            });
            match writer.commit() {
                Ok(_) => {
                    let _ = mark_built(&spec.dir, spec.version);
                    tracing::info!(index = spec.name, docs = n, ms = started.elapsed().as_millis() as u64, "index rebuilt");
                }
                Err(e) => tracing::error!(index = spec.name, error = %e, "index: rebuild commit failed"),
            }
        }
        Op::Flush(w) => waiters.push(w),
    }
}

/// The writer thread: takes every queued change, applies them, commits once, reloads the reader.
fn write_loop<D, F: Fn(&D) -> TantivyDocument>(
    mut writer: IndexWriter,
    reader: IndexReader,
    spec: WriterSpec<F>,
    rx: mpsc::Receiver<Op<D>>,
) {
    let mut committed: Option<std::time::Instant> = None;
    while let Ok(first) = rx.recv() {
        let mut waiters = Vec::new();
        apply(&mut writer, &spec, first, &mut waiters);
        // A short pause lets a burst of changes share one commit.
        std::thread::sleep(BATCH_PAUSE);
        while let Ok(op) = rx.try_recv() {
            apply(&mut writer, &spec, op, &mut waiters);
        }
        // Under steady writes, one commit per COMMIT_EVERY (unless someone waits for a flush).
        while waiters.is_empty() {
            let Some(left) = committed.and_then(|t| COMMIT_EVERY.checked_sub(t.elapsed())) else { break };
            match rx.recv_timeout(left) {
                Ok(op) => apply(&mut writer, &spec, op, &mut waiters),
                Err(_) => break,
            }
        }
        committed = Some(std::time::Instant::now());
        if let Err(e) = writer.commit() {
            tracing::error!(index = spec.name, error = %e, "index: commit failed");
        }
        let _ = reader.reload();
        for w in waiters {
            let _ = w.send(());
        }
    }
}

/// Who searches: their friends may see more; `hidden` users (blocked either way) never appear.
pub struct Scope<'a> {
    /// The caller.
    pub id: Uuid,
    /// Their friends.
    pub friends: &'a [Uuid],
    /// Users hidden from them.
    pub hidden: &'a [Uuid],
}

/// The stored ids of the documents in `top`, in order.
pub(crate) fn hit_ids<S>(searcher: &Searcher, top: Vec<(S, DocAddress)>, id_field: Field) -> tantivy::Result<Vec<Uuid>> {
    let mut out = Vec::with_capacity(top.len());
    for (_, addr) in top {
        let doc: TantivyDocument = searcher.doc(addr)?;
        if let Some(id) = doc.get_first(id_field).and_then(|v| v.as_str()).and_then(|s| Uuid::try_parse(s).ok()) {
            out.push(id);
        }
    }
    Ok(out)
}
