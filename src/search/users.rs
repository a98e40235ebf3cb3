//! The user directory index: username, name and study focus, with prefix and typo-tolerant
//! matching. Visibility (blocks both ways, `profile_visibility: friends`) is part of the query,
//! so a page of results never loses hits to filtering.

use std::path::{Path, PathBuf};

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery, TermSetQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TEXT, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{LowerCaser, NgramTokenizer, TextAnalyzer};
use tantivy::{IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Bump when the schema or tokenization changes: the index is then rebuilt on start.
const SCHEMA_VERSION: u32 = 2;
/// Longest prefix indexed per word.
const MAX_PREFIX: usize = 20;

/// What the index holds about a user.
#[derive(Clone, Debug)]
pub struct UserDoc {
    /// Id.
    pub id: Uuid,
    /// Username.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Study focus.
    pub study_focus: String,
    /// `profile_visibility` is `everyone`.
    pub public: bool,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    username: Field,
    name: Field,
    focus: Field,
    focus_exact: Field,
    visibility: Field,
    /// Every prefix of every word of username, name and focus (edge n-grams).
    prefix: Field,
}

pub use super::Scope;

/// The index: a reader for queries and a channel to its writer thread.
#[derive(Clone)]
pub struct UserIndex {
    reader: IndexReader,
    fields: Fields,
    writer: super::Writer<UserDoc>,
    dir: PathBuf,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        username: b.add_text_field("username", TEXT),
        name: b.add_text_field("name", TEXT),
        focus: b.add_text_field("focus", TEXT),
        focus_exact: b.add_text_field("focus_exact", STRING),
        visibility: b.add_text_field("visibility", STRING),
        prefix: b.add_text_field(
            "prefix",
            TextOptions::default()
                .set_indexing_options(TextFieldIndexing::default().set_tokenizer("edge").set_index_option(IndexRecordOption::Basic)),
        ),
    };
    (b.build(), fields)
}

fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_lowercase).take(6).collect()
}

fn search_err(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("search: {e}"))
}

impl UserIndex {
    /// Opens (or creates) the index under `data_dir/search/users`. Returns it and whether it must
    /// be rebuilt from storage (call [`UserIndex::rebuild`]).
    pub fn open(data_dir: &Path) -> AppResult<(Self, bool)> {
        let dir = data_dir.join("search").join("users");
        let create = super::prepare_dir(&dir, SCHEMA_VERSION).map_err(search_err)?;
        let (schema, fields) = schema();
        let (index, rebuild) = super::open_or_create(&dir, schema, create).map_err(search_err)?;
        let edge = NgramTokenizer::prefix_only(1, MAX_PREFIX).map_err(search_err)?;
        index.tokenizers().register("edge", TextAnalyzer::builder(edge).filter(LowerCaser).build());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::OnCommitWithDelay).try_into().map_err(search_err)?;
        let writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).map_err(search_err)?;
        let spec = super::WriterSpec {
            name: "users",
            dir: dir.clone(),
            version: SCHEMA_VERSION,
            id_field: fields.id,
            to_doc: move |d: &UserDoc| to_doc(fields, d),
        };
        let writer = super::Writer::spawn(writer, reader.clone(), spec).map_err(search_err)?;
        Ok((Self { reader, fields, writer, dir }, rebuild))
    }

    /// Adds or replaces a user.
    pub fn upsert(&self, d: UserDoc) {
        self.writer.upsert(d.id, d);
    }

    /// Removes a user (deleted or disabled).
    pub fn remove(&self, id: Uuid) {
        self.writer.remove(id);
    }

    /// Replaces the whole index with `docs` (in the writer thread; queries keep working meanwhile).
    pub fn rebuild(&self, docs: Vec<UserDoc>) {
        self.writer.rebuild(Box::new(move |sink| docs.into_iter().for_each(sink)));
    }

    /// Waits until every change sent so far is committed and visible.
    pub fn flush(&self) {
        self.writer.flush_within(std::time::Duration::from_secs(600));
    }

    /// Waits up to `limit` for queued changes to be committed (shutdown); false if not done.
    pub fn flush_within(&self, limit: std::time::Duration) -> bool {
        self.writer.flush_within(limit)
    }

    /// Where the index lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Ids matching `q` (and `focus`, if given), best first, skipping `offset`. Exact words and
    /// prefixes first; only when they fill less than the page are one-typo matches added.
    pub fn search(&self, viewer: &Scope, q: &str, focus: Option<&str>, limit: usize, offset: usize) -> AppResult<Vec<Uuid>> {
        let exact = self.run(viewer, q, focus, limit, offset, false)?;
        if exact.len() >= limit || !tokens(q).iter().any(|t| t.chars().count() >= 4) {
            return Ok(exact);
        }
        self.run(viewer, q, focus, limit, offset, true)
    }

    fn run(&self, viewer: &Scope, q: &str, focus: Option<&str>, limit: usize, offset: usize, typos: bool) -> AppResult<Vec<Uuid>> {
        let f = self.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in tokens(q) {
            let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (field, boost) in [(f.username, 3.0), (f.name, 2.0), (f.focus, 1.0)] {
                let term = Term::from_field_text(field, &t);
                let exact = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
                any.push((Occur::Should, Box::new(BoostQuery::new(Box::new(exact), boost * 2.0))));
                if typos && t.chars().count() >= 4 {
                    any.push((Occur::Should, Box::new(BoostQuery::new(Box::new(FuzzyTermQuery::new(term, 1, true)), boost * 0.5))));
                }
            }
            let prefix: String = t.chars().take(MAX_PREFIX).collect();
            any.push((Occur::Should, Box::new(TermQuery::new(Term::from_field_text(f.prefix, &prefix), IndexRecordOption::Basic))));
            must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        if let Some(focus) = focus.map(str::trim).filter(|s| !s.is_empty()) {
            must.push((
                Occur::Must,
                Box::new(TermQuery::new(Term::from_field_text(f.focus_exact, &focus.to_lowercase()), IndexRecordOption::Basic)),
            ));
        }
        if must.is_empty() {
            return Ok(Vec::new());
        }
        let ids = |ids: &mut dyn Iterator<Item = &Uuid>| ids.map(|id| Term::from_field_text(f.id, &id.to_string())).collect::<Vec<_>>();
        let visible: Vec<(Occur, Box<dyn Query>)> = vec![
            (Occur::Should, Box::new(TermQuery::new(Term::from_field_text(f.visibility, "everyone"), IndexRecordOption::Basic))),
            (Occur::Should, Box::new(TermSetQuery::new(ids(&mut viewer.friends.iter())))),
        ];
        must.push((Occur::Must, Box::new(BooleanQuery::new(visible))));
        let mut hidden = ids(&mut viewer.hidden.iter());
        hidden.push(Term::from_field_text(f.id, &viewer.id.to_string()));
        must.push((Occur::MustNot, Box::new(TermSetQuery::new(hidden))));
        let query = BooleanQuery::new(must);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit.max(1)).and_offset(offset).order_by_score()).map_err(search_err)?;
        super::hit_ids(&searcher, top, f.id).map_err(search_err)
    }

    /// Ids of public users with this exact study focus (for suggestions), up to `limit`.
    pub fn same_focus(&self, focus: &str, limit: usize) -> AppResult<Vec<Uuid>> {
        let f = self.fields;
        if focus.trim().is_empty() {
            return Ok(Vec::new());
        }
        let query = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(TermQuery::new(Term::from_field_text(f.focus_exact, &focus.trim().to_lowercase()), IndexRecordOption::Basic))
                    as Box<dyn Query>,
            ),
            (Occur::Must, Box::new(TermQuery::new(Term::from_field_text(f.visibility, "everyone"), IndexRecordOption::Basic))),
        ]);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit.max(1)).order_by_score()).map_err(search_err)?;
        super::hit_ids(&searcher, top, f.id).map_err(search_err)
    }
}

fn to_doc(f: Fields, d: &UserDoc) -> TantivyDocument {
    let mut doc = doc!(
        f.id => d.id.to_string(),
        f.username => d.username.replace(['_', '.'], " ") + " " + &d.username,
        f.name => d.name.clone(),
        f.focus => d.study_focus.clone(),
        f.focus_exact => d.study_focus.trim().to_lowercase(),
        f.visibility => if d.public { "everyone" } else { "friends" },
    );
    for word in [&d.username, &d.name, &d.study_focus].into_iter().flat_map(|s| tokens(s)) {
        doc.add_text(f.prefix, word);
    }
    doc
}
