//! One pass over an object's HTML `content`: its plain text and its links.
//!
//! Fediverse servers send sanitised HTML (paragraphs, line breaks, links,
//! spans), so a tolerant scanner is enough; it never fails, whatever the
//! input.

/// A link in the content.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    /// The `href`, entities decoded.
    pub href: String,
    /// The anchor's class marks it as a mention or a hashtag (Mastodon's
    /// `mention`, `hashtag`, `u-url`).
    pub is_mention_or_hashtag: bool,
}

/// What the scan found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Html {
    /// The text: tags removed, entities decoded, `<br>` as a line break,
    /// paragraphs separated by a blank line.
    pub text: String,
    /// Every `<a href>` in order.
    pub anchors: Vec<Anchor>,
}

impl Html {
    pub fn scan(html: &str) -> Html {
        let mut out = Html::default();
        let mut raw_text = String::with_capacity(html.len());
        let bytes = html.as_bytes();
        let mut i = 0;
        let mut skip_until: Option<&'static str> = None;
        // An anchor whose class says mention or hashtag, until its text is
        // seen: it is one only if that text starts with `@` or `#`, as
        // Mastodon's do. A link dressed as a mention stays a link.
        let mut pending: Option<usize> = None;
        while i < bytes.len() {
            if !starts_tag(bytes, i) {
                // Text up to the next `<` that opens markup; a `<` that
                // does not (`I <3 cats`) is text, as in HTML5.
                let mut next = i + 1;
                while next < bytes.len() && !starts_tag(bytes, next) {
                    next += memchr_lt(&bytes[next..])
                        .unwrap_or(bytes.len() - next)
                        .max(1);
                }
                let next = next.min(bytes.len());
                if skip_until.is_none() {
                    let chunk = &html[i..next];
                    if let Some(a) = pending
                        && !chunk.trim().is_empty()
                    {
                        let first = decode(chunk.trim_start()).chars().next();
                        if !matches!(first, Some('@' | '#')) {
                            out.anchors[a].is_mention_or_hashtag = false;
                        }
                        pending = None;
                    }
                    raw_text.push_str(chunk);
                }
                i = next;
                continue;
            }
            let (inner_end, next) = tag_end(bytes, i);
            let tag = &html[i + 1..inner_end];
            i = next;
            let closing = tag.starts_with('/');
            let name_start = usize::from(closing);
            let name: String = tag[name_start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .collect();
            if let Some(until) = skip_until {
                if closing && name == until {
                    skip_until = None;
                }
                continue;
            }
            match (closing, name.as_str()) {
                (false, "script") => skip_until = Some("script"),
                (false, "style") => skip_until = Some("style"),
                (true, "a") => pending = None,
                (_, "br") => raw_text.push('\n'),
                (
                    true,
                    "p" | "div" | "blockquote" | "li" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
                    | "pre",
                ) => raw_text.push_str("\n\n"),
                (false, "a") => {
                    if let Some(href) = attribute(tag, "href") {
                        let class = attribute(tag, "class").unwrap_or_default();
                        let is_mention_or_hashtag = class
                            .split_whitespace()
                            .any(|c| matches!(c, "mention" | "hashtag" | "u-url"));
                        pending = is_mention_or_hashtag.then_some(out.anchors.len());
                        out.anchors.push(Anchor {
                            href: decode(&href),
                            is_mention_or_hashtag,
                        });
                    }
                }
                _ => {}
            }
        }
        out.text = tidy(&decode(&raw_text));
        out
    }
}

/// Whether `bytes[i]` is a `<` that opens a tag, a closing tag, a comment
/// or a declaration: HTML5 reads any other `<` as text.
fn starts_tag(bytes: &[u8], i: usize) -> bool {
    bytes[i] == b'<'
        && bytes
            .get(i + 1)
            .is_some_and(|&c| c.is_ascii_alphabetic() || matches!(c, b'/' | b'!' | b'?'))
}

/// The offset of the first `<` in `bytes`.
fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'<')
}

/// Where the tag that starts at `start` (a `<`) ends: the index of its
/// closing `>` and the index just past it; both the end of input if
/// unclosed. As in HTML5, a quote delimits only an attribute value (after
/// `=`): elsewhere in a tag it is a plain character, so `<p x'>` is closed
/// by its `>`. A comment ends at `-->`. Both indices are character
/// boundaries (`>` is ASCII), whatever follows an unclosed `<`.
fn tag_end(bytes: &[u8], start: usize) -> (usize, usize) {
    if bytes[start..].starts_with(b"<!--") {
        let body = start + 4;
        return match bytes[body..].windows(3).position(|w| w == b"-->") {
            Some(p) => (body + p, body + p + 3),
            None => (bytes.len(), bytes.len()),
        };
    }
    let mut quote: Option<u8> = None;
    let mut after_eq = false;
    for (offset, &b) in bytes[start + 1..].iter().enumerate() {
        match quote {
            Some(q) => {
                if b == q {
                    quote = None;
                }
            }
            None => match b {
                b'>' => {
                    let at = start + 1 + offset;
                    return (at, at + 1);
                }
                b'"' | b'\'' if after_eq => {
                    quote = Some(b);
                    after_eq = false;
                }
                b'=' => after_eq = true,
                c if c.is_ascii_whitespace() => {}
                _ => after_eq = false,
            },
        }
    }
    (bytes.len(), bytes.len())
}

/// The value of attribute `name` (lower-case) in a tag's source
/// (`a href="x" class=y`), matched case-insensitively.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let bytes = tag.as_bytes();
    let mut from = 0;
    while from + name.len() <= bytes.len() {
        let pos = bytes[from..]
            .windows(name.len())
            .position(|w| w.eq_ignore_ascii_case(name.as_bytes()))?;
        let at = from + pos;
        from = at + name.len();
        let before_ok = at > 0 && bytes[at - 1].is_ascii_whitespace();
        let rest = tag[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value = rest[1..].trim_start();
        return Some(match value.as_bytes().first() {
            Some(&q @ (b'"' | b'\'')) => {
                let inner = &value[1..];
                inner[..inner.find(q as char).unwrap_or(inner.len())].to_owned()
            }
            _ => value
                .split(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
                .next()
                .unwrap_or_default()
                .to_owned(),
        });
    }
    None
}

fn decode(s: &str) -> String {
    if s.contains('&') {
        html_escape::decode_html_entities(s).into_owned()
    } else {
        s.to_owned()
    }
}

/// Collapse runs of spaces within lines, keep at most one blank line, trim.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.split('\n') {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else {
            blank_run += 1;
            continue;
        };
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(first);
        for word in words {
            out.push(' ');
            out.push_str(word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodon_content_to_text_and_links() {
        let h = Html::scan(
            r#"<p><span class="h-card"><a href="https://a.example/@bob" class="u-url mention">@<span>bob</span></a></span> look at <a href="https://news.example/a?x=1&amp;y=2" rel="nofollow">this</a> &amp; <a href="https://m.example/tags/cats" class="mention hashtag">#<span>cats</span></a></p><p>second<br>line</p>"#,
        );
        assert_eq!(h.text, "@bob look at this & #cats\n\nsecond\nline");
        assert_eq!(h.anchors.len(), 3);
        assert_eq!(h.anchors[1].href, "https://news.example/a?x=1&y=2");
        assert!(!h.anchors[1].is_mention_or_hashtag);
        assert!(h.anchors[0].is_mention_or_hashtag && h.anchors[2].is_mention_or_hashtag);
    }

    #[test]
    fn hostile_markup_never_panics() {
        for input in [
            "<",
            "<a href=",
            "<a href='x",
            "a < b > c",
            "<<<>>>",
            "<p>é</p",
            "&#xZZ;",
            "I <3 cats 🐱",
            "<é",
            "<a href='🐱",
            "x <🐱",
        ] {
            let _ = Html::scan(input);
        }
        assert_eq!(Html::scan("a < b").text, "a < b");
        // A reply that is text, not markup, stays text, as in a browser.
        assert_eq!(Html::scan("I <3 cats 🐱").text, "I <3 cats 🐱");
        assert_eq!(Html::scan("<p>I <3 <b>cats</b></p>").text, "I <3 cats");
        assert_eq!(Html::scan("x <é").text, "x <é");
    }

    #[test]
    fn quotes_outside_attribute_values_and_comments_hide_nothing() {
        // What a browser (and the servers' HTML5 sanitisers) shows.
        assert_eq!(
            Html::scan("<p x'>BUY SPAM NOW<b y'>ok</b>").text,
            "BUY SPAM NOWok"
        );
        assert_eq!(
            Html::scan("<!--'-->BUY SPAM NOW<br title='>").text,
            "BUY SPAM NOW"
        );
        assert_eq!(
            Html::scan("<p title=x\">SPAM</p><p title=\"y>").text,
            "SPAM"
        );
        assert_eq!(Html::scan("<!-- a > b -->shown").text, "shown");
        // Quoted values still hide their `>`.
        assert_eq!(
            Html::scan("<a title=\"a > b\" href=x>link</a>").text,
            "link"
        );
    }

    #[test]
    fn a_link_dressed_as_a_mention_stays_a_link() {
        let h = Html::scan(
            r#"<a href="https://spam.example/buy" class="mention">click here</a> <a href="https://m.example/@bob" class="u-url mention">@<span>bob</span></a> <a href="https://m.example/tags/x" class="mention hashtag">&#35;x</a>"#,
        );
        let kinds: Vec<bool> = h.anchors.iter().map(|a| a.is_mention_or_hashtag).collect();
        assert_eq!(kinds, [false, true, true]);
        assert_eq!(Html::scan("<script>evil()</script>ok").text, "ok");
    }
}
