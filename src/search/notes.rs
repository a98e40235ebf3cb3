//! The notes index: title, content, tags and author, ranked by BM25 with the title boosted.
//! Queries support phrases (`"…"`), prefixes (`word*`, and the last word while typing), one typo
//! in words of five letters or more, tag and author filters, and text without spaces (each CJK
//! character is a token; a run of them is matched as a phrase). Who may read what is part of the
//! query, so a page of hits never loses results to filtering afterwards.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use tantivy::collector::TopDocs;
use tantivy::query::doc_predicate_query::{DocPredicateQuery, FunctionPredicate};
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::{DocId, IndexReader, IndexWriter, ReloadPolicy, SegmentReader, TantivyDocument, Term, doc};
use uuid::Uuid;

use super::{Scope, text};
use crate::error::{AppError, AppResult};

/// Bump when the schema or tokenization changes: the index is then rebuilt on start.
const SCHEMA_VERSION: u32 = 4;
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
    /// Who may read: [`VIS_PUBLIC`], [`VIS_FRIENDS`] or [`VIS_PRIVATE`] (a fast field).
    vis: Field,
    /// The author's id in two halves (fast fields).
    author_hi: Field,
    author_lo: Field,
    tag: Field,
    /// Title, tags, author names and content: what every word must match.
    all: Field,
    /// Title and tags again, to rank matches there higher.
    title: Field,
    tags_text: Field,
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

/// Ranked ids and whether the query had to be relaxed (prefix while typing, typos) to find them.
pub struct Hits {
    /// Note ids, best first.
    pub ids: Vec<Uuid>,
    /// True when typed prefixes and one-typo matches were used.
    pub relaxed: bool,
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
        vis: b.add_u64_field(VIS, FAST),
        author_hi: b.add_u64_field(AUTHOR_HI, FAST),
        author_lo: b.add_u64_field(AUTHOR_LO, FAST),
        tag: b.add_text_field("tag", STRING),
        all: b.add_text_field("all", words.clone()),
        title: b.add_text_field("title", words.clone()),
        tags_text: b.add_text_field("tags_text", words),
    };
    (b.build(), fields)
}

fn to_doc(f: Fields, d: &NoteDoc) -> TantivyDocument {
    let (hi, lo) = halves(d.author);
    let vis = match d.visibility {
        "public" => VIS_PUBLIC,
        "friends" => VIS_FRIENDS,
        _ => VIS_PRIVATE,
    };
    let mut doc = doc!(
        f.id => d.id.to_string(),
        f.author => d.author.to_string(),
        f.vis => vis,
        f.author_hi => hi,
        f.author_lo => lo,
        f.title => d.title.clone(),
        f.tags_text => d.tags.join(" "),
    );
    for part in [&d.title, &d.tags.join(" "), &d.author_names, &d.content] {
        doc.add_text(f.all, part);
    }
    for t in &d.tags {
        doc.add_text(f.tag, t);
    }
    doc
}

/// One part of a query: a word (maybe a prefix) or a phrase.
#[derive(Debug, PartialEq)]
enum Part {
    /// `prefix`: written as `word*`; `typing`: the last word, still being typed (a prefix only
    /// when exact words do not fill the page).
    Word {
        text: String,
        prefix: bool,
        typing: bool,
    },
    Phrase(Vec<String>),
}

/// Splits what the user typed into words and phrases. A quoted text and a run of CJK characters
/// are phrases; `word*` is a prefix, and so is the last word (of 4+ letters) unless the query ends
/// with a space.
fn parse(q: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    for (i, chunk) in q.split('"').enumerate() {
        if i % 2 == 1 {
            let terms = text::terms(chunk);
            match terms.len() {
                0 => {}
                1 => parts.push(Part::Word { text: terms[0].clone(), prefix: false, typing: false }),
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
                    parts.push(Part::Word { text: t, prefix: star, typing: false });
                }
            }
        }
    }
    let typing = !q.ends_with(char::is_whitespace) && q.matches('"').count().is_multiple_of(2) && !q.ends_with('"');
    if typing && let Some(Part::Word { text, typing, .. }) = parts.last_mut() {
        *typing = text.chars().count() >= 4;
    }
    parts.truncate(MAX_WORDS);
    parts
}

fn boxed(q: impl Query) -> Box<dyn Query> {
    Box::new(q)
}

fn boost(q: impl Query, by: f32) -> Box<dyn Query> {
    boxed(BoostQuery::new(boxed(q), by))
}

/// Matches of one part in the title and tags, which rank a note higher (BM25 per field).
fn ranking(f: Fields) -> [(Field, f32); 2] {
    [(f.title, 3.0), (f.tags_text, 2.0)]
}

/// The query of one part: it must match somewhere (`all`), and matches in the title or tags add
/// to the score. `relaxed` adds the typing prefix and one-typo matches.
fn part_query(f: Fields, part: &Part, relaxed: bool) -> Box<dyn Query> {
    let (main, ranking): (Box<dyn Query>, Vec<Box<dyn Query>>) = match part {
        Part::Word { text, prefix, typing } => {
            let term = Term::from_field_text(f.all, text);
            let mut any = vec![(Occur::Should, boost(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs), 2.0))];
            if *prefix || (relaxed && *typing) {
                any.push((Occur::Should, boxed(FuzzyTermQuery::new_prefix(term.clone(), 0, true))));
            }
            if relaxed && text.chars().count() >= 5 && !text.chars().any(text::is_cjk) {
                any.push((Occur::Should, boost(FuzzyTermQuery::new(term, 1, true), 0.5)));
            }
            let main = if any.len() == 1 { any.remove(0).1 } else { boxed(BooleanQuery::new(any)) };
            let ranking = ranking(f)
                .into_iter()
                .map(|(field, by)| boost(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::WithFreqs), by))
                .collect();
            (main, ranking)
        }
        Part::Phrase(words) => {
            let phrase = |field: Field| PhraseQuery::new(words.iter().map(|w| Term::from_field_text(field, w)).collect());
            (boost(phrase(f.all), 2.0), ranking(f).into_iter().map(|(field, by)| boost(phrase(field), by)).collect())
        }
    };
    let mut clauses = vec![(Occur::Must, main)];
    clauses.extend(ranking.into_iter().map(|q| (Occur::Should, q)));
    boxed(BooleanQuery::new(clauses))
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    boxed(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

/// The fast fields the reader's filter reads: visibility, and the author's id in two halves.
const VIS: &str = "vis";
const AUTHOR_HI: &str = "author_hi";
const AUTHOR_LO: &str = "author_lo";

/// Visibility codes in the `vis` fast field.
const VIS_PRIVATE: u64 = 0;
const VIS_FRIENDS: u64 = 1;
const VIS_PUBLIC: u64 = 2;

/// An author id as the two fast-field halves it is indexed as.
fn halves(id: Uuid) -> (u64, u64) {
    let v = id.as_u128();
    ((v >> 64) as u64, v as u64)
}

/// The notes `reader` may see: their own, public ones, and friends-only ones of their friends;
/// never those of hidden authors. Checked per candidate from fast columns (visibility and the
/// author's id) while the words lead the intersection. Term queries on an audience field cost more
/// than the rest of a search: a term set decodes every posting of `public` (half the index) into
/// a bit set, and a union of terms is re-buffered at every seek.
fn readable(reader: &Scope) -> Box<dyn Query> {
    let me = reader.id.as_u128();
    let friends: Arc<HashSet<u128>> = Arc::new(reader.friends.iter().map(|u| u.as_u128()).collect());
    let hidden: Arc<HashSet<u128>> = Arc::new(reader.hidden.iter().map(|u| u.as_u128()).collect());
    let predicate = FunctionPredicate::from(move |segment: &SegmentReader| {
        let columns = segment.fast_fields();
        let (vis, hi, lo) = (columns.u64(VIS)?, columns.u64(AUTHOR_HI)?, columns.u64(AUTHOR_LO)?);
        let (friends, hidden) = (friends.clone(), hidden.clone());
        Ok(move |doc: DocId| {
            let (Some(vis), Some(hi), Some(lo)) = (vis.first(doc), hi.first(doc), lo.first(doc)) else { return false };
            let author = (u128::from(hi) << 64) | u128::from(lo);
            !hidden.contains(&author) && (author == me || vis == VIS_PUBLIC || (vis == VIS_FRIENDS && friends.contains(&author)))
        })
    });
    boxed(ConstScoreQuery::new(boxed(DocPredicateQuery::from(predicate)), 0.0))
}

/// Segments up to this many notes are merged as one level. Tantivy's default (10,000) suits bulk
/// loads; notes arrive a few per commit, and under it every small merge rewrote the growing
/// segment of up to 10,000 notes again (a note was merged ~100 times on its way up; the merge
/// thread took a fifth of the server's CPU under `POST /notes`). From 1,000 notes up, segments
/// merge with others of their size. Smaller levels (100) wrote as fast but left twice the
/// segments, which slowed search (BENCHMARKS.md).
const MIN_LAYER_NOTES: u32 = 1_000;

fn merge_policy() -> tantivy::merge_policy::LogMergePolicy {
    let mut p = tantivy::merge_policy::LogMergePolicy::default();
    p.set_min_layer_size(MIN_LAYER_NOTES);
    p
}

impl NoteIndex {
    /// Opens (or creates) the index under `data_dir/search/notes`. Returns it and whether it must
    /// be rebuilt from storage (call [`NoteIndex::rebuild`]).
    pub fn open(data_dir: &Path) -> AppResult<(Self, bool)> {
        let dir = data_dir.join("search").join("notes");
        let create = super::prepare_dir(&dir, SCHEMA_VERSION).map_err(search_err)?;
        let (schema, fields) = schema();
        let (index, rebuild) = super::open_or_create(&dir, schema, create).map_err(search_err)?;
        index.tokenizers().register(text::NAME, text::analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(search_err)?;
        let writer: IndexWriter = index.writer_with_num_threads(1, 50_000_000).map_err(search_err)?;
        writer.set_merge_policy(Box::new(merge_policy()));
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

    /// Note ids matching `s` that `reader` may see, best first, skipping `offset`. Exact words
    /// (and `word*` prefixes) first; only when they do not fill the page is the query relaxed:
    /// the word being typed becomes a prefix and words of 5+ letters match with one typo.
    pub fn search(&self, reader: &Scope, s: &Search, limit: usize, offset: usize) -> AppResult<Hits> {
        let parts = parse(s.q);
        let ids = self.run(reader, s, &parts, limit, offset, false)?;
        let relaxable = parts.iter().any(|p| matches!(p, Part::Word { text, typing, .. } if *typing || text.chars().count() >= 5));
        if ids.len() >= limit || !relaxable {
            return Ok(Hits { ids, relaxed: false });
        }
        Ok(Hits { ids: self.run(reader, s, &parts, limit, offset, true)?, relaxed: true })
    }

    fn run(&self, reader: &Scope, s: &Search, parts: &[Part], limit: usize, offset: usize, relaxed: bool) -> AppResult<Vec<Uuid>> {
        let f = self.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = parts.iter().map(|p| (Occur::Must, part_query(f, p, relaxed))).collect();
        if let Some(tag) = s.tag {
            must.push((Occur::Must, term(f.tag, tag)));
        }
        if let Some(author) = s.author {
            must.push((Occur::Must, term(f.author, &author.to_string())));
        }
        if must.is_empty() {
            return Ok(Vec::new());
        }
        must.push((Occur::Must, readable(reader)));
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&BooleanQuery::new(must), &TopDocs::with_limit(limit.max(1)).and_offset(offset).order_by_score())
            .map_err(search_err)?;
        super::hit_ids(&searcher, top, f.id).map_err(search_err)
    }

    /// Excerpts of `title` and `content` with the words that matched `q` marked: exact words and
    /// prefixes, and, when the search was `relaxed`, typed prefixes and one-typo matches.
    pub fn highlights(&self, q: &str, relaxed: bool, title: &str, content: &str) -> Vec<Highlight> {
        let parts = parse(q);
        let matches = |word: &str| {
            parts.iter().any(|p| match p {
                Part::Word { text, prefix, typing } => {
                    word == text
                        || ((*prefix || (relaxed && *typing)) && word.starts_with(text.as_str()))
                        || (relaxed && text.chars().count() >= 5 && text::within_one_edit(word, text))
                }
                Part::Phrase(words) => words.iter().any(|w| w == word),
            })
        };
        let mut out = Vec::new();
        for (field, body) in [("title", title), ("content", content)] {
            let mut marks: Vec<(usize, usize)> = Vec::new();
            // The snippet shows the first place that matches: no need to read past its window.
            text::each_term_while(body, |t| {
                if matches(&t.text) {
                    marks.push((t.offset_from, t.offset_to));
                }
                marks.first().is_none_or(|first| t.offset_to < first.0 + SNIPPET_CHARS * 4)
            });
            if !marks.is_empty() {
                out.push(Highlight { field, snippet: snippet(body, &marks) });
            }
        }
        out
    }
}

/// Escapes text for HTML.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// About [`SNIPPET_CHARS`] of `body` around the densest run of `marks` (byte ranges, in order),
/// HTML-escaped, with each mark in `<mark>` and `…` where the text was cut.
fn snippet(body: &str, marks: &[(usize, usize)]) -> String {
    let window = SNIPPET_CHARS * 2; // bytes: most text is one or two bytes a character
    let best = (0..marks.len())
        .max_by_key(|&i| (marks[i..].iter().take_while(|m| m.1 - marks[i].0 <= window).count(), usize::MAX - i))
        .unwrap_or(0);
    let floor = |mut i: usize| {
        while !body.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    // Start a little before the first mark, at a word boundary.
    let lead = floor(marks[best].0.saturating_sub(30));
    let start = if lead == 0 { 0 } else { body[lead..marks[best].0].find(char::is_whitespace).map_or(marks[best].0, |i| lead + i + 1) };
    let end = body[start..].char_indices().nth(SNIPPET_CHARS).map_or(body.len(), |(i, _)| start + i).max(marks[best].1);
    let end =
        if end >= body.len() { body.len() } else { body[..end].rfind(char::is_whitespace).filter(|i| *i >= marks[best].1).unwrap_or(end) };
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for &(from, to) in marks.iter().filter(|m| m.0 >= start && m.1 <= end) {
        escape_into(&mut out, &body[at..from]);
        out.push_str("<mark>");
        escape_into(&mut out, &body[from..to]);
        out.push_str("</mark>");
        at = to;
    }
    escape_into(&mut out, &body[at..end]);
    if end < body.len() {
        out.push('…');
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(t: &str, prefix: bool) -> Part {
        Part::Word { text: t.into(), prefix, typing: false }
    }

    #[test]
    fn queries_split_into_words_prefixes_and_phrases() {
        assert_eq!(parse("cell biology "), [word("cell", false), word("biology", false)]);
        assert_eq!(
            parse("cell biol"),
            [word("cell", false), Part::Word { text: "biol".into(), prefix: false, typing: true }],
            "the last word while typing"
        );
        assert_eq!(parse("ph*"), [word("ph", true)]);
        assert_eq!(parse("\"krebs cycle\" notes "), [Part::Phrase(vec!["krebs".into(), "cycle".into()]), word("notes", false)]);
        assert_eq!(parse("学习笔记"), [Part::Phrase(vec!["学".into(), "习".into(), "笔".into(), "记".into()])]);
        assert!(parse("  !! ").is_empty());
    }

    #[test]
    fn only_what_the_reader_may_see_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = NoteIndex::open(dir.path()).unwrap();
        let (me, friend, stranger, hidden) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut notes = Vec::new();
        for (author, visibility) in [
            (me, "private"),
            (friend, "friends"),
            (friend, "private"),
            (friend, "public"),
            (stranger, "friends"),
            (stranger, "public"),
            (hidden, "public"),
        ] {
            let d = NoteDoc {
                id: Uuid::now_v7(),
                author,
                author_names: String::new(),
                visibility,
                title: "quasar".into(),
                content: String::new(),
                tags: Vec::new(),
            };
            notes.push(d.id);
            index.upsert(d);
        }
        index.flush();
        let scope = Scope { id: me, friends: &[friend], hidden: &[hidden] };
        let mut found = index.search(&scope, &Search { q: "quasar ", tag: None, author: None }, 20, 0).unwrap().ids;
        found.sort();
        assert_eq!(found, [notes[0], notes[1], notes[3], notes[5]]);
        let scope = Scope { id: hidden, friends: &[], hidden: &[] };
        let mut found = index.search(&scope, &Search { q: "quasar ", tag: None, author: None }, 20, 0).unwrap().ids;
        found.sort();
        assert_eq!(found, [notes[3], notes[5], notes[6]]);
    }

    #[test]
    fn highlights_mark_every_match_from_the_first_whatever_the_case_or_script() {
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = NoteIndex::open(dir.path()).unwrap();
        let marked = |q: &str, relaxed: bool, content: &str| -> Vec<String> {
            let h = index.highlights(q, relaxed, "Biology", content);
            h.iter().map(|h| format!("{}: {}", h.field, h.snippet)).collect()
        };
        let body = "Cells divide. The CELL cycle: cell-growth, then Mitochondria split.";
        assert_eq!(
            marked("cell ", false, body),
            ["content: Cells divide. The <mark>CELL</mark> cycle: <mark>cell</mark>-growth, then Mitochondria split."]
        );
        assert_eq!(marked("mito* biology ", false, body).len(), 2, "title and content");
        assert!(marked("mito* ", false, body)[0].contains("<mark>Mitochondria</mark>"));
        assert!(marked("zebra ", false, body).is_empty());
        // Folded letters and a typo (relaxed) are found as before.
        assert!(marked("resume ", false, "Mon résumé: short")[0].contains("<mark>résumé</mark>"));
        assert!(marked("mitochondira ", true, body)[0].contains("<mark>Mitochondria</mark>"));
    }

    #[test]
    fn snippets_mark_matches_escape_text_and_cut_at_words() {
        let body = "Intro <b>x</b> & more. ".repeat(20) + "The Krebs cycle happens in mitochondria. " + &"Filler words here. ".repeat(20);
        let at = body.find("Krebs").unwrap();
        let m = body.find("mitochondria").unwrap();
        let s = snippet(&body, &[(at, at + 5), (m, m + 12)]);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>Krebs</mark> cycle happens in <mark>mitochondria</mark>"), "{s}");
        assert!(!s.contains("<b>") && s.chars().count() < SNIPPET_CHARS + 80, "{s}");
        assert_eq!(snippet("a <i> b", &[(0, 1)]), "<mark>a</mark> &lt;i&gt; b");
    }
}
