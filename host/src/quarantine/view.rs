//! A held activity as a moderator reads it: parsed from the stored body by
//! the parser that judged it, so the console shows what the modules saw.
//! Everything is data (strings and lists), never markup: the console puts
//! it on the page as text, and the sender's HTML only as a string to read.

use palisade_sdk::parse::{Options, parse_document};
use palisade_sdk::{Activity, Visibility};
use serde::Serialize;

/// A list view keeps at most this much of the text, in characters…
const BRIEF_TEXT: usize = 600;
/// …and of each list.
const BRIEF_ITEMS: usize = 12;
/// The raw body a full view carries, at most (bytes of lossy UTF-8).
const RAW_BYTES: usize = 256 * 1024;

#[derive(Debug, Serialize)]
pub struct View {
    pub kind: String,
    pub id: Option<String>,
    pub actor: Option<String>,
    pub actor_host: Option<String>,
    pub object_kind: Option<String>,
    pub object_id: Option<String>,
    /// The content warning (`summary`), as plain text.
    pub summary: Option<String>,
    /// The content as plain text: what the modules judged.
    pub text: String,
    /// Whether `text` or a list was cut short (list views).
    pub truncated: bool,
    pub mentions: Vec<Mention>,
    pub mention_count: usize,
    pub hashtags: Vec<String>,
    pub links: Vec<String>,
    pub link_count: usize,
    pub attachments: Vec<Attachment>,
    pub attachment_count: usize,
    pub sensitive: bool,
    pub visibility: &'static str,
    pub in_reply_to: Option<String>,
    pub published: Option<String>,
    /// What the parser had to tolerate to read it.
    pub notes: Vec<String>,
    /// The sender's HTML, as a string (full views only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_html: Option<String>,
    /// The body as received, as text (full views only; cut at 256 KiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Mention {
    pub href: String,
    pub name: Option<String>,
    pub host: Option<String>,
    pub local: bool,
}

#[derive(Debug, Serialize)]
pub struct Attachment {
    pub kind: String,
    pub media_type: Option<String>,
    pub url: Option<String>,
    /// The alt text.
    pub name: Option<String>,
}

/// Why a stored body could not be read as an activity.
#[derive(Debug, Serialize)]
pub struct Unreadable {
    pub error: String,
}

impl View {
    /// The view of a stored `body`; `full` keeps every item, the sender's
    /// HTML and the raw body, otherwise the text and lists are cut short
    /// for a list page.
    pub fn of(body: &[u8], local_hosts: &[String], full: bool) -> Result<View, Unreadable> {
        let parsed = parse_document(body, &Options::new(local_hosts)).map_err(|e| Unreadable {
            error: e.to_string(),
        })?;
        let a: Activity = parsed.activity;
        let mut truncated = false;
        let mut cut = |n: usize| {
            if full || n <= BRIEF_ITEMS {
                n
            } else {
                truncated = true;
                BRIEF_ITEMS
            }
        };
        let (mention_count, link_count, attachment_count) =
            (a.mentions.len(), a.links.len(), a.attachments.len());
        let (keep_mentions, keep_links, keep_attachments, keep_tags) = (
            cut(mention_count),
            cut(link_count),
            cut(attachment_count),
            cut(a.hashtags.len()),
        );
        let text = if full || a.text.chars().count() <= BRIEF_TEXT {
            a.text
        } else {
            truncated = true;
            let mut t: String = a.text.chars().take(BRIEF_TEXT).collect();
            t.push('…');
            t
        };
        let raw = full.then(|| {
            let end = body.len().min(RAW_BYTES);
            String::from_utf8_lossy(&body[..end]).into_owned()
        });
        Ok(View {
            kind: a.kind,
            id: a.id,
            actor: a.actor,
            actor_host: a.actor_host,
            object_kind: a.object_kind,
            object_id: a.object_id,
            summary: a.summary,
            text,
            truncated,
            mentions: a
                .mentions
                .into_iter()
                .take(keep_mentions)
                .map(|m| Mention {
                    href: m.href,
                    name: m.name,
                    host: m.host,
                    local: m.local,
                })
                .collect(),
            mention_count,
            hashtags: a.hashtags.into_iter().take(keep_tags).collect(),
            links: a.links.into_iter().take(keep_links).collect(),
            link_count,
            attachments: a
                .attachments
                .into_iter()
                .take(keep_attachments)
                .map(|x| Attachment {
                    kind: x.kind,
                    media_type: x.media_type,
                    url: x.url,
                    name: x.name,
                })
                .collect(),
            attachment_count,
            sensitive: a.sensitive,
            visibility: match a.visibility {
                Visibility::Public => "public",
                Visibility::Unlisted => "unlisted",
                Visibility::Followers => "followers",
                Visibility::Direct => "direct",
                Visibility::Unknown => "unknown",
            },
            in_reply_to: a.in_reply_to,
            published: a.published,
            notes: parsed.notes,
            content_html: if full { a.content } else { None },
            raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = r#"{"type":"Create","id":"https://spam.example/a/1","actor":"https://spam.example/users/bot",
      "object":{"type":"Note","summary":"<b>CW</b> free","content":"<p>Hi <script>alert(1)</script><img src=x onerror=alert(2)> <a href=\"https://evil.example/x\">click</a> <a href=\"https://home.example/@alice\" class=\"mention\">@alice</a></p>",
      "tag":[{"type":"Mention","href":"https://home.example/users/alice","name":"@alice@home.example"}],
      "attachment":[{"type":"Document","mediaType":"image/png","url":"https://spam.example/i.png","name":"alt <i>text</i>"}]}}"#;

    #[test]
    fn a_full_view_has_the_text_the_lists_and_the_html_as_a_string() {
        let v = View::of(HOSTILE.as_bytes(), &["home.example".into()], true).unwrap();
        assert_eq!(v.actor_host.as_deref(), Some("spam.example"));
        assert!(
            !v.text.contains("<script>") && !v.text.contains("<p>"),
            "the content's tags removed: {}",
            v.text
        );
        assert!(v.text.contains("click"));
        assert_eq!(v.summary.as_deref(), Some("CW free"));
        assert_eq!(v.mentions.len(), 1);
        assert!(v.mentions[0].local);
        assert_eq!(v.links, ["https://evil.example/x"]);
        assert_eq!(
            v.attachments[0].url.as_deref(),
            Some("https://spam.example/i.png")
        );
        assert!(
            v.content_html
                .unwrap()
                .contains("<script>alert(1)</script>")
        );
        assert!(v.raw.unwrap().contains("onerror"));
    }

    #[test]
    fn a_list_view_is_cut_short_and_says_so() {
        let tags: Vec<String> = (0..40)
            .map(|i| format!(r#"{{"type":"Mention","href":"https://h.example/u/{i}"}}"#))
            .collect();
        let body = format!(
            r#"{{"type":"Create","actor":"https://s.example/u","object":{{"type":"Note","content":"{}","tag":[{}]}}}}"#,
            "spam ".repeat(500),
            tags.join(",")
        );
        let v = View::of(body.as_bytes(), &[], false).unwrap();
        assert!(v.truncated);
        assert_eq!(v.mention_count, 40);
        assert_eq!(v.mentions.len(), BRIEF_ITEMS);
        assert_eq!(v.text.chars().count(), BRIEF_TEXT + 1);
        assert!(v.content_html.is_none() && v.raw.is_none());
        let full = View::of(body.as_bytes(), &[], true).unwrap();
        assert!(!full.truncated);
        assert_eq!(full.mentions.len(), 40);
    }

    #[test]
    fn an_unreadable_body_says_why() {
        let e = View::of(b"not json", &[], true).unwrap_err();
        assert!(e.error.contains("JSON"), "{}", e.error);
    }
}
