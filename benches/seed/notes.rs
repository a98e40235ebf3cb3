//! Generated study notes with a realistic word distribution: each note is about one of eight
//! subjects; its words are 55 % common English (Zipf over 100 words), 30 % its subject's terms
//! (Zipf over 24) and 15 % a long tail (Zipf over 20,000 generated words). Titles have 2–7 words,
//! bodies 40–640 (about 1.9 KB on average), 0–4 tags, one note in twenty is in Chinese, and
//! visibility is private 30 % / friends 40 % / public 30 %.

use chrono::{Duration, Utc};
use friend::store::Store;
use friend::store::notes::{self, NoteRecord, Visibility};
use uuid::Uuid;

const COMMON: &str = "the of and to a in is that for it as was with be by on not he this are or his from at which but have an they \
    you were her she there one all we their can has more do if will what up would about out so when them some could into \
    than other time only new these two may first then any like over such our how most also did many before must through \
    back years where much way well down should because each just those people how too little state good very make world \
    still own see men work long get here between both life being under never day same another know while last might us";

const SUBJECTS: [(&str, &str); 8] = [
    (
        "biology",
        "photosynthesis cell mitochondria membrane enzyme protein dna chromosome evolution species ecosystem \
        respiration nucleus organism genetics bacteria virus tissue organ hormone neuron chlorophyll krebs cycle",
    ),
    (
        "maths",
        "equation derivative integral function polynomial matrix vector probability geometry triangle theorem \
        proof logarithm fraction algebra calculus limit sequence series graph angle circle statistics variance",
    ),
    (
        "physics",
        "force energy momentum velocity acceleration gravity newton electricity magnetism wave optics light \
        thermodynamics entropy quantum particle atom nuclear circuit voltage current resistance friction pressure",
    ),
    (
        "history",
        "revolution empire treaty parliament monarchy war industrial colonial renaissance king queen republic \
        constitution battle independence reform medieval ancient dynasty trade slavery democracy french roman",
    ),
    (
        "english",
        "grammar poetry novel essay vocabulary metaphor character narrative theme shakespeare sonnet tragedy \
        comedy plot symbolism rhetoric argument paragraph thesis quotation author reader analysis imagery",
    ),
    (
        "chemistry",
        "molecule reaction acid base ion bond electron periodic element compound solution oxidation \
        catalyst equilibrium mole carbon organic polymer salt isotope valence titration enthalpy alkane",
    ),
    (
        "geography",
        "climate river mountain volcano earthquake plate tectonic erosion population migration urban rural \
        weather rainfall desert glacier continent ocean latitude longitude map resource settlement coast",
    ),
    (
        "music",
        "rhythm melody harmony chord scale tempo composer symphony orchestra piano violin note octave \
        baroque classical romantic jazz beat meter key minor major interval dynamics",
    ),
];
const CHINESE: [&str; 8] = ["光合作用", "细胞", "数学", "方程", "历史", "革命", "能量", "学习笔记"];
const TAGS: [&str; 6] = ["exam", "homework", "revision", "lab", "group", "summary"];

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

/// Samples ranks 0..n with probability proportional to 1 / (rank + 1).
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize) -> Self {
        let mut acc = 0.0;
        Self(
            (0..n)
                .map(|k| {
                    acc += 1.0 / (k + 1) as f64;
                    acc
                })
                .collect(),
        )
    }

    fn sample(&self, r: &mut Rng) -> usize {
        let x = r.below(1 << 30) as f64 / (1u64 << 30) as f64 * self.0.last().copied().unwrap_or(1.0);
        self.0.partition_point(|c| *c < x).min(self.0.len() - 1)
    }
}

struct Vocabulary {
    common: Vec<&'static str>,
    subjects: Vec<Vec<&'static str>>,
    tail: Vec<String>,
    zipf_common: Zipf,
    zipf_subject: Zipf,
    zipf_tail: Zipf,
}

impl Vocabulary {
    fn new() -> Self {
        const SYLLABLES: [&str; 20] = [
            "ka", "lo", "mer", "tin", "sa", "ve", "ro", "pel", "qui", "dan", "fo", "gri", "nel", "bu", "zor", "hi", "mu", "tec", "ay",
            "rus",
        ];
        let tail =
            (0..20_000).map(|i: usize| format!("{}{}{}", SYLLABLES[i % 20], SYLLABLES[(i / 20) % 20], SYLLABLES[(i / 400) % 20])).collect();
        let subjects: Vec<Vec<&str>> = SUBJECTS.iter().map(|(_, w)| w.split_whitespace().collect()).collect();
        Self {
            common: COMMON.split_whitespace().collect(),
            zipf_subject: Zipf::new(subjects[0].len()),
            subjects,
            tail,
            zipf_common: Zipf::new(100),
            zipf_tail: Zipf::new(20_000),
        }
    }

    fn word(&self, r: &mut Rng, subject: usize) -> &str {
        match r.below(20) {
            0..=10 => self.common[self.zipf_common.sample(r).min(self.common.len() - 1)],
            11..=16 => {
                let words = &self.subjects[subject];
                words[self.zipf_subject.sample(r).min(words.len() - 1)]
            }
            _ => &self.tail[self.zipf_tail.sample(r)],
        }
    }

    fn text(&self, r: &mut Rng, subject: usize, words: u64) -> String {
        let mut out = String::new();
        for i in 0..words {
            if i % 60 == 0 && i > 0 {
                out.push_str("\n\n## ");
            } else if i > 0 {
                out.push(' ');
            }
            out.push_str(self.word(r, subject));
        }
        out
    }
}

/// One generated note.
pub struct Generated {
    pub title: String,
    pub content: String,
    pub tags: Vec<String>,
    pub visibility: Visibility,
}

/// Generates notes one after another, the same sequence for the same seed.
pub struct Generator {
    r: Rng,
    v: Vocabulary,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Self { r: Rng::new(seed), v: Vocabulary::new() }
    }

    /// A random index below `n` from the same stream (e.g. to pick an author).
    pub fn below(&mut self, n: u64) -> u64 {
        self.r.below(n)
    }

    pub fn next(&mut self) -> Generated {
        let (r, v) = (&mut self.r, &self.v);
        let subject = r.below(SUBJECTS.len() as u64) as usize;
        let (title, content) = if r.below(20) == 0 {
            let t = CHINESE[r.below(8) as usize];
            (format!("{t}复习"), format!("今天我们学习了{t}和{}。{}", CHINESE[r.below(8) as usize], v.text(r, subject, 20)))
        } else {
            let title_words = 2 + r.below(6);
            let body_words = 40 + r.below(600);
            (v.text(r, subject, title_words), v.text(r, subject, body_words))
        };
        let visibility = match r.below(10) {
            0..=2 => Visibility::Private,
            3..=6 => Visibility::Friends,
            _ => Visibility::Public,
        };
        let mut tags = std::collections::BTreeSet::from([SUBJECTS[subject].0.to_string()]);
        tags.extend((0..r.below(4)).map(|_| TAGS[r.below(6) as usize].to_string()));
        Generated { title, content, tags: tags.into_iter().collect(), visibility }
    }
}

/// Writes `n` notes by `authors` through the store; returns how many are public.
pub fn seed(store: &Store, authors: &[Uuid], n: usize) -> usize {
    let mut g = Generator::new(42);
    let now = Utc::now();
    let mut public = 0;
    for i in 0..n {
        let author = authors[g.below(authors.len() as u64) as usize];
        let note = g.next();
        public += usize::from(note.visibility == Visibility::Public);
        let at = now - Duration::minutes((n - i) as i64);
        let note = NoteRecord {
            id: friend::ids::new_id(),
            author_id: author,
            title: note.title,
            preview: Some(friend::service::markdown::preview(&note.content)),
            content: note.content,
            tags: note.tags,
            visibility: note.visibility,
            attachment_ids: vec![],
            created_at: at,
            updated_at: at,
            deleted_at: None,
        };
        notes::put(store, &note, None).unwrap();
    }
    public
}
