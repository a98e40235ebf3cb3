//! The notes index: title, content, tags and author, ranked by BM25 with the title boosted.
//! Queries support phrases (`"…"`), prefixes (`word*`, and the last word while typing), one typo
//! in words of five letters or more, tag and author filters, and text without spaces (each CJK
//! character is a token; a run of them is matched as a phrase). Who may read what is part of the
//! query, so a page of hits never loses results to filtering afterwards.

use std::collections::BTreeMap;
use std::path::Path;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, TermQuery, TermSetQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};
use uuid::Uuid;

use super::{Viewer, text};
use crate::error::{AppError, AppResult};

/// Bump when the schema or tokenization changes: the index is then rebuilt on start.
const SCHEMA_VERSION: u32 = 1;
/// Longest query accepted, in characters.
pub const MAX_QUERY: usize = 200;
/// Words in a query that are used (the rest are ignored).
const MAX_WORDS: usize = 12;
/// Longest highlight, in characters.
const SNIPPET_CHARS: usize = 160;

/// What the index holds about a note.
#[derive(Clone, Debug)]
pub struct NoteDoc {
    /// Id.
    pub id: Uuid,
    /// Author id.
    pub author: Uuid,
    /// Author's username and name.
    pub author_names: String,
    /// `private` | `friends` | `public`.
    pub visibility: &'static str,
    /// Title.
    pub title: String,
    /// Markdown.
    pub content: String,
    /// Normalised tags.
    pub tags: Vec<String>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    author: Field,
    visibility: Field,
    tag: Field,
    title: Field,
    content: Field,
    tags_text: Field,
    author_text: Field,
}

/// A search: text plus optional filters.
pub struct Search<'a> {
    /// What the user typed.
    pub q: &'a str,
    /// Only notes with this (normalised) tag.
    pub tag: Option<&'a str>,
    /// Only notes of this author.
    pub author: Option<Uuid>,
}

/// The matched words of a hit in one field, as HTML-escaped text with `<mark>` around matches.
#[derive(Clone, Debug, serde::Serialize, salvo::oapi::ToSchema)]
pub struct Highlight {
    /// `title` | `content`.
    pub field: &'static str,
    /// An excerpt; the only markup is `<mark>`…`</mark>` (everything else is escaped).
    pub snippet: String,
}

/// The index: a reader for queries and the writer thread's handle (clones share both).
#[derive(Clone)]
pub struct NoteIndex {
    reader: IndexReader,
    fields: Fields,
    writer: super::Writer<NoteDoc>,
    last_commit: Option<std::time::SystemTime>,
}

fn search_err(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("notes search: {e}"))
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let words = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(text::NAME).set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        author: b.add_text_field("author", STRING),
        visibility: b.add_text_field("visibility", STRING),
        tag: b.add_text_field("tag", STRING),
        title: b.add_text_field("title", words.clone()),
        content: b.add_text_field("content", words.clone()),
        tags_text: b.add_text_field("tags_text", words.clone()),
        author_text: b.add_text_field("author_text", words),
    };
    (b.build(), fields)
}

fn to_doc(f: Fields, d: &NoteDoc) -> TantivyDocument {
    let mut doc = doc!(
        f.id => d.id.to_string(),
        f.author => d.author.to_string(),
        f.visibility => d.visibility,
        f.title => d.title.clone(),
        f.content => d.content.clone(),
        f.tags_text => d.tags.join(" "),
        f.author_text => d.author_names.clone(),
    );
    for t in &d.tags {
        doc.add_text(f.tag, t);
    }
    doc
}

/// One part of a query: a word (maybe a prefix) or a phrase.
#[derive(Debug, PartialEq)]
enum Part {
    Word { text: String, prefix: bool },
    Phrase(Vec<String>),
}

/// Splits what the user typed into words and phrases. A quoted text and a run of CJK characters
/// are phrases; `word*` is a prefix, and so is the last word unless the query ends with a space.
fn parse(q: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    for (i, chunk) in q.split('"').enumerate() {
        if i % 2 == 1 {
            let terms = text::terms(chunk);
            match terms.len() {
                0 => {}
                1 => parts.push(Part::Word { text: terms[0].clone(), prefix: false }),
                _ => parts.push(Part::Phrase(terms)),
            }
            continue;
        }
        for raw in chunk.split_whitespace() {
            let star = raw.ends_with('*');
            let terms = text::terms(raw);
            if terms.len() > 1 && raw.chars().any(text::is_cjk) {
                parts.push(Part::Phrase(terms));
            } else {
                for t in terms {
                    parts.push(Part::Word { text: t, prefix: star });
                }
            }
        }
    }
    let typing = !q.ends_with(char::is_whitespace) && q.matches('"').count().is_multiple_of(2) && !q.ends_with('"');
    if typing && let Some(Part::Word { text, prefix }) = parts.last_mut() {
        *prefix |= text.chars().count() >= 3;
    }
    parts.truncate(MAX_WORDS);
    parts
}

/// Fields searched and their weights: the title counts most.
fn weighted(f: Fields) -> [(Field, f32); 4] {
    [(f.title, 3.0), (f.tags_text, 2.0), (f.author_text, 1.5), (f.content, 1.0)]
}

fn boxed(q: impl Query) -> Box<dyn Query> {
    Box::new(q)
}

fn part_query(f: Fields, part: &Part) -> Box<dyn Query> {
    let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (field, weight) in weighted(f) {
        match part {
            Part::Word { text, prefix } => {
                let term = Term::from_field_text(field, text);
                any.push((
                    Occur::Should,
                    boxed(BoostQuery::new(boxed(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)), weight * 2.0)),
                ));
                if *prefix {
                    any.push((Occur::Should, boxed(BoostQuery::new(boxed(FuzzyTermQuery::new_prefix(term.clone(), 0, true)), weight))));
                }
                if text.chars().count() >= 5 && !text.chars().any(text::is_cjk) {
                    any.push((Occur::Should, boxed(BoostQuery::new(boxed(FuzzyTermQuery::new(term, 1, true)), weight * 0.5))));
                }
            }
            Part::Phrase(words) => {
                let terms = words.iter().map(|w| Term::from_field_text(field, w)).collect();
                any.push((Occur::Should, boxed(BoostQuery::new(boxed(PhraseQuery::new(terms)), weight * 2.0))));
            }
        }
    }
    boxed(BooleanQuery::new(any))
}

fn id_terms(field: Field, ids: &[Uuid]) -> Vec<Term> {
    ids.iter().map(|id| Term::from_field_text(field, &id.to_string())).collect()
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    boxed(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

/// The notes `reader` may see: their own, public ones, and friends-only ones of their friends;
/// never those of hidden authors.
fn readable(f: Fields, reader: &Viewer) -> Vec<(Occur, Box<dyn Query>)> {
    let friends_only = BooleanQuery::new(vec![
        (Occur::Must, term(f.visibility, "friends")),
        (Occur::Must, boxed(TermSetQuery::new(id_terms(f.author, reader.friends)))),
    ]);
    let any = BooleanQuery::new(vec![
        (Occur::Should, term(f.author, &reader.id.to_string())),
        (Occur::Should, term(f.visibility, "public")),
        (Occur::Should, boxed(friends_only)),
    ]);
    vec![(Occur::Must, boxed(any)), (Occur::MustNot, boxed(TermSetQuery::new(id_terms(f.author, reader.hidden))))]
}

impl NoteIndex {
    /// Opens (or creates) the index under `data_dir/search/notes`. Returns it and whether it must
    /// be rebuilt from storage (call [`NoteIndex::rebuild`]).
    pub fn open(data_dir: &Path) -> AppResult<(Self, bool)> {
        let dir = data_dir.join("search").join("notes");
        let rebuild = super::prepare_dir(&dir, SCHEMA_VERSION).map_err(search_err)?;
        let (schema, fields) = schema();
        let index = if rebuild { Index::create_in_dir(&dir, schema) } else { Index::open_in_dir(&dir) }.map_err(search_err)?;
        index.tokenizers().register(text::NAME, text::analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(search_err)?;
        let writer: IndexWriter = index.writer_with_num_threads(1, 50_000_000).map_err(search_err)?;
        let last_commit = if rebuild { None } else { super::last_commit(&dir) };
        let spec = super::WriterSpec {
            name: "notes",
            dir,
            version: SCHEMA_VERSION,
            id_field: fields.id,
            to_doc: move |d: &NoteDoc| to_doc(fields, d),
        };
        let writer = super::Writer::spawn(writer, reader.clone(), spec).map_err(search_err)?;
        Ok((Self { reader, fields, writer, last_commit }, rebuild))
    }

    /// Adds or replaces a note.
    pub fn upsert(&self, d: NoteDoc) {
        self.writer.upsert(d.id, d);
    }

    /// Removes a note (deleted).
    pub fn remove(&self, id: Uuid) {
        self.writer.remove(id);
    }

    /// Replaces the index with the notes `producer` feeds (in the writer thread).
    pub fn rebuild(&self, producer: super::Producer<NoteDoc>) {
        self.writer.rebuild(producer);
    }

    /// Waits until every change sent so far is searchable.
    pub fn flush(&self) {
        self.writer.flush_within(std::time::Duration::from_secs(600));
    }

    /// Waits up to `limit` for queued changes to be committed (shutdown); false if not done.
    pub fn flush_within(&self, limit: std::time::Duration) -> bool {
        self.writer.flush_within(limit)
    }

    /// When the index found on start last committed (None when it was created or rebuilt).
    pub fn last_commit(&self) -> Option<std::time::SystemTime> {
        self.last_commit
    }

    /// Note ids matching `s` that `reader` may see, best first, skipping `offset`.
    pub fn search(&self, reader: &Viewer, s: &Search, limit: usize, offset: usize) -> AppResult<Vec<Uuid>> {
        let f = self.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = parse(s.q).iter().map(|p| (Occur::Must, part_query(f, p))).collect();
        if let Some(tag) = s.tag {
            must.push((Occur::Must, term(f.tag, tag)));
        }
        if let Some(author) = s.author {
            must.push((Occur::Must, term(f.author, &author.to_string())));
        }
        if must.is_empty() {
            return Ok(Vec::new());
        }
        must.extend(readable(f, reader));
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&BooleanQuery::new(must), &TopDocs::with_limit(limit.max(1)).and_offset(offset).order_by_score())
            .map_err(search_err)?;
        super::hit_ids(&searcher, top, f.id).map_err(search_err)
    }

    /// Excerpts of `title` and `content` with the words that matched `q` marked (exact words,
    /// prefixes and one-typo matches alike).
    pub fn highlights(&self, q: &str, title: &str, content: &str) -> Vec<Highlight> {
        let parts = parse(q);
        let matches = |word: &str| {
            parts.iter().any(|p| match p {
                Part::Word { text, prefix } => {
                    word == text
                        || (*prefix && word.starts_with(text.as_str()))
                        || (text.chars().count() >= 5 && text::within_one_edit(word, text))
                }
                Part::Phrase(words) => words.iter().any(|w| w == word),
            })
        };
        let mut out = Vec::new();
        for (name, field, body) in [("title", self.fields.title, title), ("content", self.fields.content, content)] {
            let words: BTreeMap<String, f32> = text::terms(body).into_iter().filter(|w| matches(w)).map(|w| (w, 1.0)).collect();
            if words.is_empty() {
                continue;
            }
            let generator = SnippetGenerator::new(words, text::analyzer(), field, SNIPPET_CHARS);
            let mut snippet = generator.snippet(body);
            snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
            if !snippet.is_empty() {
                out.push(Highlight { field: name, snippet: snippet.to_html() });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(t: &str, prefix: bool) -> Part {
        Part::Word { text: t.into(), prefix }
    }

    #[test]
    fn queries_split_into_words_prefixes_and_phrases() {
        assert_eq!(parse("cell biology "), [word("cell", false), word("biology", false)]);
        assert_eq!(parse("cell biol"), [word("cell", false), word("biol", true)], "the last word while typing");
        assert_eq!(parse("ph*"), [word("ph", true)]);
        assert_eq!(parse("\"krebs cycle\" notes "), [Part::Phrase(vec!["krebs".into(), "cycle".into()]), word("notes", false)]);
        assert_eq!(parse("学习笔记"), [Part::Phrase(vec!["学".into(), "习".into(), "笔".into(), "记".into()])]);
        assert!(parse("  !! ").is_empty());
    }
}
