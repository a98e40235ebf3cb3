//! The tokenizer for notes: words of letters and digits, lower-cased and folded to ASCII where a
//! letter has an ASCII form; each Chinese or Japanese character is a token of its own, so a query
//! in those scripts (written without spaces) is matched as a phrase of characters.

use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, TextAnalyzer, Token, TokenStream, Tokenizer};

/// Name under which the analyzer is registered.
pub const NAME: &str = "friend_text";

/// Han ideographs, kana and their compatibility forms: scripts written without spaces.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF66..=0xFF9F | 0x20000..=0x2FA1F)
}

/// Splits text into words and single CJK characters.
#[derive(Clone, Default)]
pub struct WordsAndCjk;

/// The tokens of one text.
pub struct Tokens {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// Byte ranges of the tokens of `text`.
pub fn spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut word: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if is_cjk(c) {
            if let Some(start) = word.take() {
                out.push((start, i));
            }
            out.push((i, i + c.len_utf8()));
        } else if c.is_alphanumeric() {
            word.get_or_insert(i);
        } else if let Some(start) = word.take() {
            out.push((start, i));
        }
    }
    if let Some(start) = word {
        out.push((start, text.len()));
    }
    out
}

impl Tokenizer for WordsAndCjk {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        let tokens = spans(text)
            .into_iter()
            .enumerate()
            .map(|(position, (from, to))| Token {
                offset_from: from,
                offset_to: to,
                position,
                text: text[from..to].to_string(),
                position_length: 1,
            })
            .collect();
        Tokens { tokens, next: 0 }
    }
}

/// The analyzer: [`WordsAndCjk`], lower-cased, ASCII-folded.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordsAndCjk).filter(LowerCaser).filter(AsciiFoldingFilter).build()
}

/// The analyzed tokens of `text`.
pub fn terms(text: &str) -> Vec<String> {
    let mut a = analyzer();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while let Some(t) = stream.next() {
        out.push(t.text.clone());
    }
    out
}

/// True when `a` and `b` differ by at most one insertion, deletion, substitution or swap of
/// neighbours.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let first = short.iter().zip(long.iter()).position(|(x, y)| x != y).unwrap_or(short.len());
    if short.len() == long.len() {
        if first == short.len() {
            return true;
        }
        let rest = first + 1;
        short[rest..] == long[rest..]
            || (rest < short.len() && short[first] == long[rest] && short[rest] == long[first] && short[rest + 1..] == long[rest + 1..])
    } else {
        short[first..] == long[first + 1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_and_cjk_characters_stand_alone() {
        assert_eq!(terms("Équations du 2nd degré!"), ["equations", "du", "2nd", "degre"]);
        assert_eq!(terms("学习笔记 about 東京タワー"), ["学", "习", "笔", "记", "about", "東", "京", "タ", "ワ", "ー"]);
        assert_eq!(terms("mixed中文text"), ["mixed", "中", "文", "text"]);
        assert!(terms("  ,, !").is_empty());
    }

    #[test]
    fn one_edit_apart() {
        assert!(within_one_edit("photosynthesis", "photosynthesis"));
        assert!(within_one_edit("photosynthesis", "photosyntesis"), "deletion");
        assert!(within_one_edit("photosynthesis", "photosynthesiss"), "insertion");
        assert!(within_one_edit("photosynthesis", "photosinthesis"), "substitution");
        assert!(within_one_edit("photosynthesis", "photosytnhesis"), "swap");
        assert!(!within_one_edit("photosynthesis", "fotosintesis"));
        assert!(!within_one_edit("derivative", "integral"));
    }
}
