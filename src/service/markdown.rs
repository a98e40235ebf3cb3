//! Plain text from Markdown, for previews. Markdown is stored as written and never turned into
//! HTML by the server; a preview is the text that a CommonMark parser (`pulldown-cmark`, with
//! tables and strikethrough) finds in it: headings, lists, quotes, tables, emphasis, code, links
//! (inline and by reference) and images keep their text, escapes are resolved, HTML tags are
//! removed.

use pulldown_cmark::{Event, Options, Parser, TagEnd};

/// Longest preview, in characters (an ellipsis is added when the text is cut).
pub const PREVIEW_CHARS: usize = 200;

/// How much of a note is parsed for its preview (up to the end of the line where this is
/// reached): the parser reads a whole document before its first event, and previews are made for
/// every note of every feed page and search hit.
const PARSED_BYTES: usize = 4096;

/// The first [`PREVIEW_CHARS`] characters of `md` as plain text on one line.
pub fn preview(md: &str) -> String {
    let head = match md.get(PARSED_BYTES..).and_then(|rest| rest.find('\n')) {
        Some(i) => &md[..PARSED_BYTES + i],
        None if md.len() > PARSED_BYTES * 2 => &md[..md.floor_char_boundary(PARSED_BYTES * 2)],
        None => md,
    };
    let mut text = String::new();
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(head, options) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::Html(t) | Event::InlineHtml(t) => {
                text.push(' ');
                text.push_str(&without_tags(&t));
                text.push(' ');
            }
            Event::SoftBreak | Event::HardBreak | Event::Rule => text.push(' '),
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::CodeBlock | TagEnd::TableCell) => text.push(' '),
            _ => {}
        }
        if text.len() > PREVIEW_CHARS * 4 {
            break; // enough for a preview, whatever the script
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let one_line = words.join(" ");
    if one_line.chars().count() <= PREVIEW_CHARS {
        return one_line;
    }
    let cut: String = one_line.chars().take(PREVIEW_CHARS).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > PREVIEW_CHARS / 2 => &cut[..i],
        _ => &cut,
    };
    format!("{}…", cut.trim_end())
}

/// The text of an HTML fragment without its tags and comments.
fn without_tags(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(end) => {
                out.push(' ');
                rest = &rest[start + end + 1..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_dropped_and_text_kept() {
        let md = "# Krebs *cycle*\n\n> quote\n- item one\n1. first\n```rust\nlet x = 1;\n```\nSee [the **book**](http://x.test) and ![a diagram](d.png) <script>alert(1)</script> snake_case";
        assert_eq!(preview(md), "Krebs cycle quote item one first let x = 1; See the book and a diagram alert(1) snake_case");
    }

    #[test]
    fn what_a_line_stripper_missed() {
        // Tables, reference links, HTML blocks, nested emphasis, escapes.
        let md = "| Organelle | Role |\n|---|---|\n| *Mito*chondria | energy |\n\nRead [the guide][g].\n\n[g]: http://x.test\n\n<div class=\"box\">\n<b>Boxed</b> text\n</div>\n\n***bold _and_ italic*** and \\*not emphasis\\* and 2 \\< 3";
        assert_eq!(
            preview(md),
            "Organelle Role Mitochondria energy Read the guide. Boxed text bold and italic and *not emphasis* and 2 < 3"
        );
    }

    #[test]
    fn long_text_is_cut_at_a_word_with_an_ellipsis() {
        let p = preview(&"word ".repeat(100));
        assert!(p.ends_with('…') && p.chars().count() <= PREVIEW_CHARS + 1, "{p}");
        assert!(!p.contains("wor…"));
        assert_eq!(preview("a < b and c > d"), "a < b and c > d");
        // A long note is parsed from its beginning only, also without line breaks.
        assert!(preview(&format!("# Start\n{}", "é".repeat(20_000))).starts_with("Start éé"));
    }
}
