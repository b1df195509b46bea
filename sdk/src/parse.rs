//! ActivityPub JSON to the [`Activity`] every module sees, parsed once.
//!
//! As lenient as the servers Palisade protects, because a document they
//! accept and Palisade refuses would reach them unjudged: invalid UTF-8 is
//! replaced as Node.js does, the last of duplicated keys wins, a property of
//! an unexpected shape is read as absent, and comments, a trailing NUL, lone
//! surrogates and any nesting depth are tolerated ([`lenient`]). What was
//! tolerated is listed in [`Parsed::notes`]. Every step is linear in the
//! size of the body.
//!
//! The document is deserialised into borrowed, typed fields (no intermediate
//! `serde_json::Value`); unknown fields are skipped without being built.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;

use crate::{Activity, Attachment, Mention, Visibility};
use doc::{Doc, ObjectField};

mod doc;
pub mod html;
mod lenient;

/// How to parse: which hosts are local.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    /// Hosts whose users are local, lower-case.
    pub local_hosts: &'a [String],
}

impl<'a> Options<'a> {
    pub fn new(local_hosts: &'a [String]) -> Self {
        Options { local_hosts }
    }
}
/// Why a document is not an activity, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// What was wrong.
    pub message: String,
    /// 1-based line of the problem, 0 when it is not about a position.
    pub line: usize,
    /// 1-based column of the problem, 0 when it is not about a position.
    pub column: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{} at line {} column {}",
                self.message, self.line, self.column
            )
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for ParseError {}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        // serde_json appends " at line L column C" itself; keep it structured.
        let full = e.to_string();
        let message = match full.rfind(" at line ") {
            Some(i) => full[..i].to_owned(),
            None => full,
        };
        ParseError {
            message,
            line: e.line(),
            column: e.column(),
        }
    }
}

/// A parsed document and what had to be tolerated to read it.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub activity: Activity,
    /// One line per leniency used ("invalid UTF-8 was replaced with U+FFFD",
    /// "wrong-typed properties read as absent: sensitive"); empty for a
    /// well-formed document.
    pub notes: Vec<String>,
    /// The document as strict JSON when the lenient pass had to mend it:
    /// what a module asking for the raw JSON gets, so that it reads what
    /// Palisade read.
    pub mended: Option<String>,
    /// The actor of an embedded object, for the host's relations: the
    /// local user whose `Follow` an `Accept` accepts.
    pub object_actor: Option<String>,
    /// The object's URI when the document gives only that (no embedded
    /// object): the receiving server fetches it to see the content.
    pub object_uri: Option<String>,
}

/// The most mentions, hashtags, links, attachments and addressees an
/// activity carries to modules; a post with more is noted and judged on the
/// first ones. Modules count and compare these lists: their cost must not
/// grow without bound with what a sender puts in one post (29,000 mentions
/// once pushed every module past its deadline, and skipped modules let the
/// post through).
pub const MAX_ITEMS: usize = 1024;

/// The ActivityStreams public collection, in its three spellings.
const PUBLIC: [&str; 3] = [
    "https://www.w3.org/ns/activitystreams#Public",
    "as:Public",
    "Public",
];

/// Parse one ActivityPub document given as text.
pub fn parse_activity(json: &str, options: &Options<'_>) -> Result<Activity, ParseError> {
    parse_document(json.as_bytes(), options).map(|p| p.activity)
}

/// Parse one ActivityPub document as it arrived (bytes, perhaps not UTF-8).
pub fn parse_document(body: &[u8], options: &Options<'_>) -> Result<Parsed, ParseError> {
    let text = String::from_utf8_lossy(body);
    let mut notes: Vec<String> = Vec::new();
    if let Cow::Owned(_) = text {
        notes.push("invalid UTF-8 was replaced with U+FFFD".to_owned());
    }
    // Ordinary documents are strict JSON: read them as they are.
    let first_error = match strict(&text) {
        Ok(doc) => return Ok(build(doc, options, notes)),
        Err(e) => e,
    };
    let mended = lenient::normalise(&text);
    if mended.text == *text {
        return Err(not_readable(first_error, &text));
    }
    match strict(&mended.text) {
        Ok(doc) => {
            notes.extend(mended.notes.iter().map(|n| (*n).to_owned()));
            let mut parsed = build(doc, options, notes);
            parsed.mended = Some(mended.text.clone());
            Ok(parsed)
        }
        Err(e) => Err(not_readable(e, &mended.text)),
    }
}

fn strict(json: &str) -> Result<Doc<'_>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(json);
    let doc = Doc::deserialize(&mut de)?;
    de.end()?;
    Ok(doc)
}

fn not_readable(e: serde_json::Error, text: &str) -> ParseError {
    if text.trim_start().as_bytes().first() != Some(&b'{') {
        return ParseError {
            message: "expected a JSON object (an ActivityStreams document)".to_owned(),
            line: 0,
            column: 0,
        };
    }
    e.into()
}

fn build(doc: Doc<'_>, options: &Options<'_>, mut notes: Vec<String>) -> Parsed {
    let object = match &doc.object {
        Some(ObjectField::Embedded(o)) => Some(&**o),
        _ => None,
    };
    // The object whose content is judged: the embedded object, or for an
    // activity wrapping an activity (a community's Announce{Create{Page}}),
    // the inner activity's object; a bare object is its own subject.
    let inner = object.and_then(|o| match &o.object {
        Some(ObjectField::Embedded(inner)) if o.is_activity() => Some(&**inner),
        _ => None,
    });
    let subject: &Doc<'_> = inner.or(object).unwrap_or(&doc);

    let mut wrong: Vec<String> = doc.wrong.iter().map(|k| (*k).to_owned()).collect();
    for (prefix, d) in [("object.", object), ("object.object.", inner)] {
        if let Some(d) = d {
            wrong.extend(d.wrong.iter().map(|k| format!("{prefix}{k}")));
        }
    }
    if !wrong.is_empty() {
        notes.push(format!(
            "properties of an unexpected type were read as absent: {}",
            wrong.join(", ")
        ));
    }

    let actor = doc
        .actor
        .as_ref()
        .or(doc.attributed_to.as_ref())
        .or(subject.attributed_to.as_ref())
        .map(|a| a.clone().into_owned());
    let actor_host = actor.as_deref().and_then(host_of);
    let object_actor = object
        .and_then(|o| o.actor.as_ref().or(o.attributed_to.as_ref()))
        .map(|a| a.clone().into_owned());

    let (object_kind, object_id) = match &doc.object {
        Some(ObjectField::Embedded(o)) => (
            o.kind.as_ref().map(|k| k.to_string()),
            o.id.as_ref().map(|i| i.to_string()),
        ),
        Some(ObjectField::Uri(uri)) => (None, Some(uri.to_string())),
        None => (None, None),
    };
    let object_uri = match &doc.object {
        Some(ObjectField::Uri(uri)) => Some(uri.to_string()),
        _ => None,
    };

    // Mastodon takes `content` only when it is not blank, else the first
    // value of `contentMap`.
    let content = subject
        .content
        .as_ref()
        .filter(|c| !c.trim().is_empty())
        .or(subject.content_map.as_ref());
    let html = content.map(|c| html::Html::scan(c));
    // Misskey shows its own text (MFM) in place of `content`: a post may
    // carry a harmless `content` and spam there. Both are judged.
    let misskey_text = subject.misskey_content.as_ref().or(subject
        .source
        .as_ref()
        .filter(|s| s.media_type.as_deref() == Some("text/x.misskeymarkdown"))
        .and_then(|s| s.content.as_ref()));

    // Lemmy puts the tags of a comment on the activity rather than the object.
    let tags = std::iter::once(&subject.tag).chain(if std::ptr::eq(subject, &doc) {
        None
    } else {
        Some(&doc.tag)
    });
    // Sets keep de-duplication linear: a post may carry 70,000 links.
    let mut cut: Vec<&'static str> = Vec::new();
    let mut mentions: Vec<Mention> = Vec::new();
    let mut seen_mentions: HashSet<&str> = HashSet::new();
    let mut hashtags: Vec<String> = Vec::new();
    let mut seen_hashtags: HashSet<String> = HashSet::new();
    let mut tag_hrefs: HashSet<&str> = HashSet::new();
    for tag in tags.flatten() {
        match tag.kind.as_deref() {
            Some("Mention") => {
                let Some(href) = tag.href.as_deref() else {
                    continue;
                };
                tag_hrefs.insert(href);
                if !seen_mentions.insert(href) {
                    continue;
                }
                if mentions.len() == MAX_ITEMS {
                    cut.push("mentions");
                    continue;
                }
                let host = host_of(href);
                let local = host
                    .as_deref()
                    .is_some_and(|h| options.local_hosts.iter().any(|l| l == h));
                mentions.push(Mention {
                    href: href.to_owned(),
                    name: tag.name.as_ref().map(|n| n.to_string()),
                    host,
                    local,
                });
            }
            Some("Hashtag") => {
                if let Some(href) = tag.href.as_deref() {
                    tag_hrefs.insert(href);
                }
                if let Some(name) = tag.name.as_deref() {
                    let name = name.trim_start_matches('#').to_lowercase();
                    if name.is_empty() || seen_hashtags.contains(&name) {
                        continue;
                    }
                    if hashtags.len() == MAX_ITEMS {
                        cut.push("hashtags");
                        continue;
                    }
                    seen_hashtags.insert(name.clone());
                    hashtags.push(name);
                }
            }
            _ => {}
        }
    }

    let links = html
        .as_ref()
        .map(|h| {
            let mut links: Vec<String> = Vec::new();
            let mut seen: HashSet<&str> = HashSet::new();
            for a in &h.anchors {
                if a.is_mention_or_hashtag
                    || tag_hrefs.contains(a.href.as_str())
                    || !seen.insert(a.href.as_str())
                {
                    continue;
                }
                if links.len() == MAX_ITEMS {
                    cut.push("links");
                    break;
                }
                links.push(a.href.clone());
            }
            links
        })
        .unwrap_or_default();

    // Addressing: the activity's, or its object's when it has none.
    let (to, cc) = if doc.to.is_empty() && doc.cc.is_empty() {
        (&subject.to, &subject.cc)
    } else {
        (&doc.to, &doc.cc)
    };
    // Visibility from every addressee, before the lists are cut.
    let is_public = |r: &Cow<'_, str>| PUBLIC.contains(&r.as_ref());
    let public = (to.iter().any(is_public), cc.iter().any(is_public));
    let mut keep = |what: &'static str, all: &[Cow<'_, str>]| -> Vec<String> {
        if all.len() > MAX_ITEMS {
            cut.push(what);
        }
        all.iter().take(MAX_ITEMS).map(|r| r.to_string()).collect()
    };
    let to = keep("to", to);
    let cc = keep("cc", cc);
    let visibility = match public {
        (true, _) => Visibility::Public,
        (false, true) => Visibility::Unlisted,
        _ => visibility(&to, &cc),
    };

    if subject.attachment.len() > MAX_ITEMS {
        cut.push("attachments");
    }
    let attachments = subject
        .attachment
        .iter()
        .take(MAX_ITEMS)
        .map(|a| Attachment {
            kind: a.kind.as_deref().unwrap_or("Document").to_owned(),
            media_type: a.media_type.as_ref().map(|m| m.to_string()),
            url: a.url.as_ref().map(|u| u.to_string()),
            name: a.name.as_ref().map(|n| n.to_string()),
            blurhash: a.blurhash.as_ref().map(|b| b.to_string()),
            width: a.width,
            height: a.height,
        })
        .collect();

    cut.sort_unstable();
    cut.dedup();
    if !cut.is_empty() {
        notes.push(format!(
            "more than {MAX_ITEMS} {}: the first {MAX_ITEMS} are judged",
            cut.join(", ")
        ));
    }
    let activity = Activity {
        kind: doc.kind.as_deref().unwrap_or_default().to_owned(),
        id: doc.id.as_ref().map(|i| i.to_string()),
        actor,
        actor_host,
        object_kind,
        object_id,
        content: content.map(|c| c.to_string()),
        text: {
            let mut text = html.map(|h| h.text).unwrap_or_default();
            let mut append = |more: &str| {
                let more = more.trim();
                if more.is_empty() || says_nothing_new(more, &text) {
                    return;
                }
                if !text.is_empty() {
                    text.push_str("\n\n");
                }
                text.push_str(more);
            };
            if let Some(mfm) = misskey_text {
                append(mfm);
            }
            // A poll's options are shown with the post.
            let options: Vec<&str> = subject
                .options
                .iter()
                .take(MAX_ITEMS)
                .filter_map(|o| o.name.as_deref())
                .collect();
            append(&options.join("\n"));
            // An image's description is shown with it: a lure written
            // only there is read like one written in the post.
            let described: Vec<&str> = subject
                .attachment
                .iter()
                .take(MAX_ITEMS)
                .filter_map(|a| a.name.as_deref())
                .collect();
            append(&described.join("\n"));
            text
        },
        summary: subject
            .summary
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| html::Html::scan(s).text),
        mentions,
        hashtags,
        links,
        to,
        cc,
        visibility,
        attachments,
        sensitive: subject.sensitive.unwrap_or(false),
        in_reply_to: subject.in_reply_to.as_ref().map(|r| r.to_string()),
        published: subject
            .published
            .as_ref()
            .or(doc.published.as_ref())
            .map(|p| p.to_string()),
        raw: None,
    };
    Parsed {
        activity,
        notes,
        mended: None,
        object_actor,
        object_uri,
    }
}

/// Whether every word of `more` is already in `text`: Misskey sends its own
/// text beside `content` on every post, usually the same words in MFM
/// markup, which need not be judged twice.
fn says_nothing_new(more: &str, text: &str) -> bool {
    let words = |s: &str| -> HashSet<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let known = words(text);
    words(more).is_subset(&known)
}

fn visibility(to: &[String], cc: &[String]) -> Visibility {
    let is_public = |v: &String| PUBLIC.contains(&v.as_str());
    if to.iter().any(is_public) {
        Visibility::Public
    } else if cc.iter().any(is_public) {
        Visibility::Unlisted
    } else if to.iter().chain(cc).any(|v| v.ends_with("/followers")) {
        Visibility::Followers
    } else if to.is_empty() && cc.is_empty() {
        Visibility::Unknown
    } else {
        Visibility::Direct
    }
}

pub use crate::text::host_of;

#[cfg(test)]
mod tests;
