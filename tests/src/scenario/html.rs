//! A post's HTML (`content`) and, for Misskey, its MFM text, written the
//! way each server software writes them: Mastodon's `h-card` mention spans
//! and split link text, Misskey's plain anchors inside spans, GoToSocial's
//! `rel` attributes, Akkoma's `data-user` and `<br/>`.

use super::population::{Person, Software};
use super::render::Note;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// How `author`'s server names `who` in a mention.
pub fn mention_name(author: &Person, who: &Person) -> String {
    match author.software {
        Software::GoToSocial => who.handle(),
        _ if who.host == author.host => format!("@{}", who.username),
        _ => who.handle(),
    }
}

fn mention(author: &Person, who: &Person) -> String {
    let (url, user) = (&who.url, &who.username);
    match author.software {
        Software::Mastodon => format!(
            r#"<span class="h-card" translate="no"><a href="{url}" class="u-url mention">@<span>{user}</span></a></span>"#
        ),
        Software::Misskey => format!(
            r#"<a href="{url}" class="u-url mention">{}</a>"#,
            mention_name(author, who)
        ),
        Software::GoToSocial => format!(
            r#"<span class="h-card"><a href="{url}" class="u-url mention" rel="nofollow noreferrer noopener" target="_blank">@<span>{user}</span></a></span>"#
        ),
        Software::Akkoma => format!(
            r#"<span class="h-card"><a class="u-url mention" data-user="{}" href="{url}" rel="ugc">@<span>{user}</span></a></span>"#,
            who.flake
        ),
    }
}

fn hashtag(author: &Person, tag: &str) -> String {
    let host = &author.host;
    match author.software {
        Software::Mastodon => format!(
            r#"<a href="https://{host}/tags/{tag}" class="mention hashtag" rel="tag">#<span>{tag}</span></a>"#
        ),
        Software::Misskey => format!(r#"<a href="https://{host}/tags/{tag}" rel="tag">#{tag}</a>"#),
        Software::GoToSocial => format!(
            r#"<a href="https://{host}/tags/{tag}" class="mention hashtag" rel="tag nofollow noreferrer noopener" target="_blank">#<span>{tag}</span></a>"#
        ),
        Software::Akkoma => format!(
            r#"<a class="hashtag" data-tag="{tag}" href="https://{host}/tag/{tag}" rel="tag ugc">#{tag}</a>"#
        ),
    }
}

fn link(author: &Person, url: &str) -> String {
    let shown = escape(url);
    match author.software {
        Software::Mastodon => {
            let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
            let rest = escape(rest);
            let visible = if rest.chars().count() > 30 {
                let cut = rest.char_indices().nth(30).map_or(rest.len(), |(i, _)| i);
                format!(
                    r#"<span class="ellipsis">{}</span><span class="invisible">{}</span>"#,
                    &rest[..cut],
                    &rest[cut..]
                )
            } else {
                format!(r#"<span class="">{rest}</span><span class="invisible"></span>"#)
            };
            format!(
                r#"<a href="{shown}" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">{scheme}://</span>{visible}</a>"#
            )
        }
        Software::Misskey => format!(r#"<a href="{shown}">{shown}</a>"#),
        Software::GoToSocial => {
            format!(
                r#"<a href="{shown}" rel="nofollow noreferrer noopener" target="_blank">{shown}</a>"#
            )
        }
        Software::Akkoma => format!(r#"<a href="{shown}" rel="ugc">{shown}</a>"#),
    }
}

/// The note's `content`.
pub fn content(note: &Note) -> String {
    let a = &note.author;
    let lead: Vec<String> = note.mentions.iter().map(|m| mention(a, m)).collect();
    let mut tail: Vec<String> = note.links.iter().map(|l| link(a, l)).collect();
    tail.extend(note.hashtags.iter().map(|t| hashtag(a, t)));
    let paragraphs: Vec<String> = note.text.split("\n\n").map(escape).collect();
    let last = paragraphs.len() - 1;
    let mut parts = Vec::new();
    for (i, p) in paragraphs.iter().enumerate() {
        let mut words = Vec::new();
        if i == 0 && !lead.is_empty() {
            words.push(lead.join(" "));
        }
        if !p.is_empty() {
            words.push(p.clone());
        }
        if i == last && !tail.is_empty() {
            words.push(tail.join(" "));
        }
        parts.push(words.join(" "));
    }
    match a.software {
        Software::Mastodon | Software::GoToSocial => parts
            .iter()
            .map(|p| format!("<p>{p}</p>"))
            .collect::<String>(),
        Software::Misskey => {
            let mut out = String::from("<p>");
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str("<br><br>");
                }
                out.push_str(&format!("<span>{p}</span>"));
            }
            out.push_str("</p>");
            out
        }
        Software::Akkoma => parts.join("<br/><br/>"),
    }
}

/// What the author typed: Misskey's MFM (`_misskey_content`), or the plain
/// source Akkoma keeps.
pub fn source(note: &Note) -> String {
    let a = &note.author;
    let mut words: Vec<String> = note.mentions.iter().map(|m| mention_name(a, m)).collect();
    words.push(note.mfm.clone().unwrap_or_else(|| note.text.clone()));
    words.extend(note.links.iter().cloned());
    words.extend(note.hashtags.iter().map(|t| format!("#{t}")));
    words.join(" ")
}
