//! Generated study notes: titles of 2–7 words, Markdown bodies of 40–640 words (about 1.9 KB on
//! average) drawn from a study vocabulary with a long tail of rarer words, 0–4 tags, one in twenty
//! in Chinese, and visibility private 30 % / friends 40 % / public 30 %.

use chrono::{Duration, Utc};
use friend::store::Store;
use friend::store::notes::{self, NoteRecord, Visibility};
use uuid::Uuid;

const TOPICS: [&str; 40] = [
    "photosynthesis",
    "mitochondria",
    "enzyme",
    "membrane",
    "chromosome",
    "evolution",
    "ecosystem",
    "respiration",
    "derivative",
    "integral",
    "equation",
    "polynomial",
    "matrix",
    "probability",
    "geometry",
    "logarithm",
    "newton",
    "momentum",
    "energy",
    "electricity",
    "magnetism",
    "optics",
    "thermodynamics",
    "gravity",
    "revolution",
    "empire",
    "treaty",
    "parliament",
    "monarchy",
    "industrial",
    "colonial",
    "renaissance",
    "grammar",
    "poetry",
    "novel",
    "essay",
    "vocabulary",
    "pronunciation",
    "literature",
    "rhetoric",
];
const COMMON: [&str; 40] = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "on",
    "this",
    "by",
    "are",
    "we",
    "be",
    "from",
    "at",
    "or",
    "an",
    "which",
    "can",
    "how",
    "why",
    "when",
    "what",
    "remember",
    "example",
    "important",
    "exam",
    "chapter",
    "teacher",
    "summary",
    "question",
    "answer",
    "review",
    "practice",
    "notes",
];
const TAGS: [&str; 12] =
    ["biology", "maths", "physics", "history", "english", "exam", "homework", "revision", "lab", "chapter-1", "chapter-2", "group"];
const CHINESE: [&str; 8] = ["光合作用", "细胞", "数学", "方程", "历史", "革命", "能量", "学习笔记"];

/// A small deterministic generator (xorshift) so that runs are comparable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn word(r: &mut Rng) -> String {
    match r.below(10) {
        0..=5 => COMMON[r.below(40) as usize].to_string(),
        6..=8 => TOPICS[r.below(40) as usize].to_string(),
        // The long tail: rarer words that make the dictionary realistic.
        _ => format!("{}{}", TOPICS[r.below(40) as usize], r.below(500)),
    }
}

fn text(r: &mut Rng, words: u64) -> String {
    let mut out = String::new();
    for i in 0..words {
        if i % 60 == 0 && i > 0 {
            out.push_str("\n\n## ");
        } else if i > 0 {
            out.push(' ');
        }
        out.push_str(&word(r));
    }
    out
}

/// Writes `n` notes by `authors` through the store; returns how many are public.
pub fn seed(store: &Store, authors: &[Uuid], n: usize) -> usize {
    let mut r = Rng::new(42);
    let now = Utc::now();
    let mut public = 0;
    for i in 0..n {
        let author = authors[r.below(authors.len() as u64) as usize];
        let chinese = r.below(20) == 0;
        let (title, content) = if chinese {
            let t = CHINESE[r.below(8) as usize];
            (format!("{t}复习"), format!("今天我们学习了{t}和{}。{}", CHINESE[r.below(8) as usize], text(&mut r, 20)))
        } else {
            let title_words = 2 + r.below(6);
            let body_words = 40 + r.below(600);
            (text(&mut r, title_words), text(&mut r, body_words))
        };
        let visibility = match r.below(10) {
            0..=2 => Visibility::Private,
            3..=6 => Visibility::Friends,
            _ => Visibility::Public,
        };
        public += usize::from(visibility == Visibility::Public);
        let tags = (0..r.below(5)).map(|_| TAGS[r.below(12) as usize].to_string()).collect::<std::collections::BTreeSet<_>>();
        let at = now - Duration::minutes((n - i) as i64);
        let note = NoteRecord {
            id: friend::ids::new_id(),
            author_id: author,
            title,
            content,
            tags: tags.into_iter().collect(),
            visibility,
            attachment_ids: vec![],
            created_at: at,
            updated_at: at,
            deleted_at: None,
        };
        notes::put(store, &note, None).unwrap();
    }
    public
}
