//! Plain text from Markdown, for previews. Markdown is stored as written and never turned into
//! HTML by the server; a preview drops the markup (headings, lists, quotes, emphasis, code
//! fences, links and images keep their text, HTML tags are removed).

/// Longest preview, in characters (an ellipsis is added when the text is cut).
pub const PREVIEW_CHARS: usize = 200;

/// The first [`PREVIEW_CHARS`] characters of `md` as plain text on one line.
pub fn preview(md: &str) -> String {
    let mut text = String::new();
    for line in md.lines() {
        let l = line.trim_start();
        if l.starts_with("```") || l.starts_with("~~~") {
            continue;
        }
        let l = l.trim_start_matches(['#', '>']).trim_start();
        let l = ["- ", "* ", "+ "].iter().find_map(|m| l.strip_prefix(m)).unwrap_or(l);
        let l = match l.split_once(". ") {
            Some((n, rest)) if !n.is_empty() && n.len() <= 3 && n.chars().all(|c| c.is_ascii_digit()) => rest,
            _ => l,
        };
        let l = &l[..l.char_indices().nth(PREVIEW_CHARS * 2).map_or(l.len(), |(i, _)| i)];
        text.push_str(&inline(l));
        text.push(' ');
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

/// Drops inline markup: emphasis marks, code ticks, HTML tags, and the targets of links/images.
fn inline(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '!' if c.get(i + 1) == Some(&'[') => {}
            '[' => {
                if let Some(close) = c[i..].iter().position(|&x| x == ']').map(|p| i + p)
                    && c.get(close + 1) == Some(&'(')
                    && let Some(end) = c[close..].iter().position(|&x| x == ')').map(|p| close + p)
                {
                    out.push_str(&inline(&c[i + 1..close].iter().collect::<String>()));
                    i = end + 1;
                    continue;
                }
                out.push('[');
            }
            '<' => match c[i..].iter().position(|&x| x == '>') {
                Some(p) if c.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n == '/' || *n == '!') => {
                    i += p + 1;
                    out.push(' ');
                    continue;
                }
                _ => out.push('<'),
            },
            '*' | '`' | '~' => {}
            '_' => {
                let inside = i > 0 && c[i - 1].is_alphanumeric() && c.get(i + 1).is_some_and(|n| n.is_alphanumeric());
                if inside {
                    out.push('_');
                }
            }
            x => out.push(x),
        }
        i += 1;
    }
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
    fn long_text_is_cut_at_a_word_with_an_ellipsis() {
        let p = preview(&"word ".repeat(100));
        assert!(p.ends_with('…') && p.chars().count() <= PREVIEW_CHARS + 1, "{p}");
        assert!(!p.contains("wor…"));
        assert_eq!(preview("a < b and c > d"), "a < b and c > d");
    }
}
