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

/// The tokens of one text, found one at a time (one reused buffer, no allocation per token).
pub struct Tokens<'a> {
    text: &'a str,
    cursor: usize,
    token: Token,
}

impl TokenStream for Tokens<'_> {
    fn advance(&mut self) -> bool {
        let Some((from, to)) = next_span(self.text, self.cursor) else { return false };
        self.cursor = to;
        self.token.offset_from = from;
        self.token.offset_to = to;
        self.token.position = self.token.position.wrapping_add(1);
        self.token.text.clear();
        self.token.text.push_str(&self.text[from..to]);
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// The byte range of the first token at or after byte `from`.
fn next_span(text: &str, from: usize) -> Option<(usize, usize)> {
    let rest = &text[from..];
    let mut chars = rest.char_indices();
    let (start, c) = chars.find(|(_, c)| is_cjk(*c) || c.is_alphanumeric())?;
    if is_cjk(c) {
        return Some((from + start, from + start + c.len_utf8()));
    }
    let end = chars.find(|(_, c)| is_cjk(*c) || !c.is_alphanumeric()).map_or(rest.len(), |(i, _)| i);
    Some((from + start, from + end))
}

/// Byte ranges of the tokens of `text`.
pub fn spans(text: &str) -> Vec<(usize, usize)> {
    std::iter::successors(next_span(text, 0), |(_, to)| next_span(text, *to)).collect()
}

impl Tokenizer for WordsAndCjk {
    type TokenStream<'a> = Tokens<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens<'a> {
        Tokens { text, cursor: 0, token: Token::default() }
    }
}

/// The analyzer: [`WordsAndCjk`], lower-cased, ASCII-folded.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordsAndCjk).filter(LowerCaser).filter(AsciiFoldingFilter).build()
}

/// The analyzed tokens of `text`.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    each_term(text, |t| out.push(t.text.clone()));
    out
}

/// Calls `f` with each analyzed token of `text` (offsets point into `text`).
pub fn each_term(text: &str, mut f: impl FnMut(&Token)) {
    each_term_while(text, |t| {
        f(t);
        true
    });
}

/// Calls `f` with each analyzed token of `text` until it returns false.
pub fn each_term_while(text: &str, mut f: impl FnMut(&Token) -> bool) {
    let mut a = analyzer();
    let mut stream = a.token_stream(text);
    while let Some(t) = stream.next() {
        if !f(t) {
            break;
        }
    }
}

/// True when `a` and `b` differ by at most one insertion, deletion, substitution or swap of
/// neighbours.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    // One edit changes the length by at most one character (four bytes).
    if a.len().abs_diff(b.len()) > 4 {
        return false;
    }
    if a.is_ascii() && b.is_ascii() {
        return one_edit(a.as_bytes(), b.as_bytes());
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    one_edit(&a, &b)
}

fn one_edit<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
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
