//! Activities as each server software sends them. The `@context`s are
//! taken from the corpus documents of that software, and each shape's
//! properties are checked against its corpus template when the templates
//! load, so that the generator emits only properties real servers send.
//! GoToSocial's note shape follows its federation documentation (the
//! corpus has its Create, Delete and addressing, not a plain note).

use serde_json::{Value, json};

use super::html;
use super::ids;
use super::population::{Person, Software};
use super::{Dice, ScenarioError};

pub(super) const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// Who can see a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Unlisted,
    Followers,
    Direct,
}

/// An image attached to a post.
#[derive(Debug, Clone)]
pub struct Media {
    pub media_type: &'static str,
    /// Where the author's server stores it.
    pub url: String,
    /// The description (alt text), if any.
    pub alt: Option<String>,
    pub blurhash: String,
    pub width: u32,
    pub height: u32,
    /// The name of the file as uploaded.
    pub file_name: String,
}

impl Media {
    /// An upload of `file_name` by `author`, stored where its server
    /// stores media: Mastodon and GoToSocial rename the file, Misskey
    /// serves it by id, Akkoma keeps the name in the URL.
    pub fn upload(
        author: &Person,
        file_name: &str,
        size: (u32, u32),
        blurhash: String,
        alt: Option<String>,
        dice: &mut Dice,
    ) -> Media {
        let ext = file_name.rsplit('.').next().unwrap_or("png").to_lowercase();
        let media_type = match ext.as_str() {
            "jpg" | "jpeg" => "image/jpeg",
            "webp" => "image/webp",
            "gif" => "image/gif",
            _ => "image/png",
        };
        let h = &author.host;
        let url = match author.software {
            Software::Mastodon => format!(
                "https://{h}/system/media_attachments/files/{:03}/{:03}/{:03}/original/{}.{ext}",
                dice.below(1000),
                dice.below(1000),
                dice.below(1000),
                dice.string(16, ids::HEX)
            ),
            Software::Misskey => format!("https://{h}/files/webpublic-{}", ids::uuid(dice)),
            Software::GoToSocial => format!(
                "https://{h}/fileserver/{}/attachment/original/{}.{ext}",
                ids::ulid(1_600_000_000_000, dice),
                ids::ulid(1_700_000_000_000, dice)
            ),
            Software::Akkoma => format!(
                "https://{h}/media/{}/{file_name}",
                dice.string(64, ids::HEX)
            ),
        };
        Media {
            media_type,
            url,
            alt,
            blurhash,
            width: size.0,
            height: size.1,
            file_name: file_name.to_owned(),
        }
    }
}

/// A post.
#[derive(Debug, Clone)]
pub struct Note {
    pub author: Person,
    pub id: String,
    pub url: String,
    pub at: u64,
    /// What was written, without mentions, links or hashtags.
    pub text: String,
    /// Misskey: the text with its MFM markup, when it has any.
    pub mfm: Option<String>,
    pub mentions: Vec<Person>,
    pub hashtags: Vec<String>,
    pub links: Vec<String>,
    pub media: Vec<Media>,
    pub in_reply_to: Option<String>,
    /// The conversation (Mastodon's `conversation`, Akkoma's `context`).
    pub context: Option<String>,
    pub visibility: Visibility,
    /// A content warning.
    pub summary: Option<String>,
    pub lang: &'static str,
}

impl Note {
    /// A new post by `author` at `at`, with the ids its server mints.
    pub fn new(author: &Person, at: u64, text: String, dice: &mut Dice) -> Note {
        let h = &author.host;
        let u = &author.username;
        let (id, url) = match author.software {
            Software::Mastodon => {
                let n = ids::snowflake(at, dice);
                (
                    format!("{}/statuses/{n}", author.uri),
                    format!("https://{h}/@{u}/{n}"),
                )
            }
            Software::Misskey => {
                let id = format!("https://{h}/notes/{}", ids::aid(at, dice));
                (id.clone(), id)
            }
            Software::GoToSocial => {
                let n = ids::ulid(at, dice);
                (
                    format!("{}/statuses/{n}", author.uri),
                    format!("https://{h}/@{u}/statuses/{n}"),
                )
            }
            Software::Akkoma => {
                let id = format!("https://{h}/objects/{}", ids::uuid(dice));
                (id.clone(), id)
            }
        };
        Note {
            author: author.clone(),
            id,
            url,
            at,
            text,
            mfm: None,
            mentions: Vec::new(),
            hashtags: Vec::new(),
            links: Vec::new(),
            media: Vec::new(),
            in_reply_to: None,
            context: None,
            visibility: Visibility::Public,
            summary: None,
            lang: "en",
        }
    }

    /// A new conversation started by this post, named as its author's
    /// server names conversations.
    pub fn new_context(&self, dice: &mut Dice) -> Option<String> {
        let h = &self.author.host;
        match self.author.software {
            Software::Mastodon => Some(format!(
                "tag:{h},{}:objectId={}:objectType=Conversation",
                ids::date(self.at),
                dice.range(1_000_000, 99_999_999)
            )),
            Software::Akkoma => Some(format!("https://{h}/contexts/{}", ids::uuid(dice))),
            Software::Misskey | Software::GoToSocial => None,
        }
    }

    fn addressing(&self) -> (Vec<String>, Vec<String>) {
        let mentioned: Vec<String> = self.mentions.iter().map(|m| m.uri.clone()).collect();
        let followers = self.author.followers();
        let with = |mut v: Vec<String>, more: &[String]| {
            v.extend(more.iter().cloned());
            v
        };
        let public = PUBLIC.to_owned();
        if self.author.software == Software::Akkoma {
            return match self.visibility {
                Visibility::Public => (with(mentioned, &[public]), vec![followers]),
                Visibility::Unlisted => (with(mentioned, &[followers]), vec![public]),
                Visibility::Followers => (with(mentioned, &[followers]), vec![]),
                Visibility::Direct => (mentioned, vec![]),
            };
        }
        match self.visibility {
            Visibility::Public => (vec![public], with(vec![followers], &mentioned)),
            Visibility::Unlisted => (vec![followers], with(vec![public], &mentioned)),
            Visibility::Followers => (vec![followers], mentioned),
            Visibility::Direct => (mentioned, vec![]),
        }
    }
}

/// GoToSocial writes a one-element list as the element itself.
fn gts_list(items: Vec<Value>) -> Value {
    if items.len() == 1 {
        items.into_iter().next().unwrap_or(Value::Null)
    } else {
        Value::Array(items)
    }
}

fn strings(items: Vec<String>) -> Vec<Value> {
    items.into_iter().map(Value::from).collect()
}

/// The `@context`s and shapes taken from the corpus.
pub struct Templates {
    mastodon: Value,
    misskey: Value,
    gotosocial: Value,
    /// Akkoma's names its own host in its context; `{host}` stands for it.
    akkoma: Value,
}

/// A corpus file and the properties its document (and, after `object.`,
/// its embedded object) must have for the generator to copy its shape.
const SHAPES: &[(&str, &[&str])] = &[
    (
        "BDX-town-Akkoma__test_fixtures_mastodon-post-activity.json",
        &[
            "@context",
            "id",
            "actor",
            "to",
            "cc",
            "published",
            "object.atomUri",
            "object.conversation",
            "object.inReplyToAtomUri",
            "object.replies",
            "object.url",
            "object.sensitive",
            "object.summary",
            "object.attachment",
            "object.tag",
        ],
    ),
    (
        "LemmyNet-lemmy__crates_apub_apub_assets_mastodon_activities_create_note.json",
        &["object.contentMap", "object.inReplyTo"],
    ),
    (
        "BDX-town-Akkoma__test_fixtures_mastodon-accept-activity.json",
        &[
            "id",
            "actor",
            "object.id",
            "object.actor",
            "object.object",
            "object.type",
        ],
    ),
    (
        "BDX-town-Akkoma__test_fixtures_mastodon-like.json",
        &["id", "actor", "object"],
    ),
    (
        "LemmyNet-lemmy__crates_apub_apub_assets_mastodon_activities_delete.json",
        &[
            "id",
            "actor",
            "to",
            "object.id",
            "object.type",
            "object.atomUri",
        ],
    ),
    (
        "BDX-town-Akkoma__test_fixtures_tesla_mock_mk.absturztau.be-93e7nm8wqg-activity.json",
        &[
            "@context",
            "id",
            "actor",
            "published",
            "to",
            "cc",
            "object._misskey_content",
            "object.attributedTo",
            "object.inReplyTo",
            "object.sensitive",
            "object.tag",
        ],
    ),
    (
        "BDX-town-Akkoma__test_fixtures_misskey_mfm_x_format.json",
        &["source.content", "source.mediaType"],
    ),
    (
        "BDX-town-Akkoma__test_fixtures_custom-emoji-reaction.json",
        &[
            "id",
            "actor",
            "object",
            "content",
            "_misskey_reaction",
            "tag",
        ],
    ),
    (
        "BDX-town-Akkoma__test_fixtures_create-pleroma-reply-to-misskey-thread.json",
        &[
            "@context",
            "actor",
            "context",
            "directMessage",
            "id",
            "published",
            "to",
            "cc",
            "object.context",
            "object.conversation",
            "object.source",
            "object.summary",
        ],
    ),
    (
        "LemmyNet-lemmy__crates_apub_apub_assets_pleroma_activities_follow.json",
        &["actor", "cc", "id", "object", "state", "to"],
    ),
    (
        "superseriousbusiness-gotosocial__docs_federation_posts.md__block09.json",
        &["@context", "actor", "id", "object", "published", "to"],
    ),
    (
        "superseriousbusiness-gotosocial__docs_federation_posts.md__block11.json",
        &["actor", "cc", "object", "to"],
    ),
];

fn has(v: &Value, path: &str) -> bool {
    path.split('.').try_fold(v, |v, key| v.get(key)).is_some()
}

impl Templates {
    pub fn from_corpus(docs: &[(String, String)]) -> Result<Templates, ScenarioError> {
        let find = |file: &str| -> Result<Value, ScenarioError> {
            let why = |why: String| ScenarioError::Template {
                file: file.to_owned(),
                why,
            };
            let (_, text) = docs
                .iter()
                .find(|(name, _)| name == file)
                .ok_or_else(|| why("not in the corpus".to_owned()))?;
            serde_json::from_str(text).map_err(|e| why(e.to_string()))
        };
        for (file, paths) in SHAPES {
            let doc = find(file)?;
            if let Some(missing) = paths.iter().find(|p| !has(&doc, p)) {
                return Err(ScenarioError::Template {
                    file: (*file).to_owned(),
                    why: format!("it has no `{missing}`"),
                });
            }
        }
        let context =
            |file: &str| -> Result<Value, ScenarioError> { Ok(find(file)?["@context"].clone()) };
        let mut akkoma = context(SHAPES[8].0)?;
        // "https://p.helene.moe/schemas/litepub-0.1.jsonld": the sender's own.
        if let Some(s) = akkoma.get_mut(1).filter(|s| s.is_string()) {
            let path = s
                .as_str()
                .and_then(|u| u.split_once("://"))
                .and_then(|(_, rest)| rest.split_once('/'))
                .map(|(_, path)| path.to_owned())
                .unwrap_or_default();
            *s = Value::from(format!("https://{{host}}/{path}"));
        }
        Ok(Templates {
            mastodon: context(SHAPES[0].0)?,
            misskey: context(SHAPES[5].0)?,
            gotosocial: context(SHAPES[10].0)?,
            akkoma,
        })
    }

    pub(super) fn context(&self, sender: &Person) -> Value {
        match sender.software {
            Software::Mastodon => self.mastodon.clone(),
            Software::Misskey => self.misskey.clone(),
            Software::GoToSocial => self.gotosocial.clone(),
            Software::Akkoma => {
                let mut c = self.akkoma.clone();
                if let Some(s) = c.get_mut(1)
                    && let Some(text) = s.as_str()
                {
                    *s = Value::from(text.replace("{host}", &sender.host));
                }
                c
            }
        }
    }

    /// The note object itself.
    pub fn note(&self, note: &Note, updated: Option<u64>, dice: &mut Dice) -> Value {
        let a = &note.author;
        let (to, cc) = note.addressing();
        let content = html::content(note);
        let mut tag: Vec<Value> = note
            .mentions
            .iter()
            .map(|m| json!({"type": "Mention", "href": m.uri, "name": html::mention_name(a, m)}))
            .collect();
        let tag_host = match a.software {
            Software::Akkoma => "tag",
            _ => "tags",
        };
        tag.extend(note.hashtags.iter().map(|t| {
            json!({"type": "Hashtag", "href": format!("https://{}/{tag_host}/{t}", a.host), "name": format!("#{t}")})
        }));
        let attachment: Vec<Value> = note
            .media
            .iter()
            .map(|m| match a.software {
                Software::Mastodon => json!({
                    "type": "Document", "mediaType": m.media_type, "url": m.url, "name": m.alt,
                    "blurhash": m.blurhash, "focalPoint": [0.0, 0.0], "width": m.width, "height": m.height,
                }),
                Software::Misskey => json!({
                    "type": "Document", "mediaType": m.media_type, "url": m.url, "name": m.alt,
                    "sensitive": note.summary.is_some(),
                }),
                Software::GoToSocial => json!({
                    "type": "Image", "mediaType": m.media_type, "url": m.url,
                    "name": m.alt.clone().unwrap_or_default(), "blurhash": m.blurhash,
                }),
                Software::Akkoma => json!({
                    "type": "Document", "mediaType": m.media_type, "url": m.url,
                    "name": m.alt.clone().unwrap_or_else(|| m.file_name.clone()),
                    "blurhash": m.blurhash, "width": m.width, "height": m.height,
                }),
            })
            .collect();
        let sensitive = note.summary.is_some();
        let mut v = match a.software {
            Software::Mastodon => json!({
                "id": note.id, "type": "Note", "summary": note.summary,
                "inReplyTo": note.in_reply_to, "published": ids::seconds(note.at), "url": note.url,
                "attributedTo": a.uri, "to": to, "cc": cc, "sensitive": sensitive,
                "atomUri": note.id, "inReplyToAtomUri": note.in_reply_to,
                "conversation": note.context, "content": content,
                "contentMap": {note.lang: content}, "attachment": attachment, "tag": tag,
                "replies": {
                    "id": format!("{}/replies", note.id), "type": "Collection",
                    "first": {
                        "type": "CollectionPage",
                        "next": format!("{}/replies?only_other_accounts=true&page=true", note.id),
                        "partOf": format!("{}/replies", note.id), "items": [],
                    },
                },
            }),
            Software::Misskey => {
                let source = html::source(note);
                json!({
                    "id": note.id, "type": "Note", "attributedTo": a.uri,
                    "summary": note.summary, "content": content, "_misskey_content": source,
                    "source": {"content": source, "mediaType": "text/x.misskeymarkdown"},
                    "published": ids::millis(note.at), "to": to, "cc": cc,
                    "inReplyTo": note.in_reply_to, "attachment": attachment,
                    "sensitive": sensitive, "tag": tag,
                })
            }
            Software::GoToSocial => json!({
                "id": note.id, "type": "Note", "attributedTo": a.uri,
                "to": gts_list(strings(to)), "cc": gts_list(strings(cc)), "url": note.url,
                "published": ids::seconds(note.at), "inReplyTo": note.in_reply_to,
                "content": content, "contentMap": {note.lang: content},
                "attachment": gts_list(attachment), "sensitive": sensitive,
                "summary": note.summary.clone().unwrap_or_default(), "tag": gts_list(tag),
                "replies": {
                    "id": format!("{}/replies", note.id), "type": "Collection",
                    "first": {"id": format!("{}/replies?page=true", note.id), "type": "CollectionPage",
                              "next": format!("{}/replies?only_other_accounts=false&page=true", note.id),
                              "partOf": format!("{}/replies", note.id), "items": []},
                },
            }),
            Software::Akkoma => json!({
                "id": note.id, "type": "Note", "actor": a.uri, "attributedTo": a.uri,
                "to": to, "cc": cc, "content": content,
                "source": {"content": html::source(note), "mediaType": "text/plain"},
                "context": note.context, "conversation": note.context,
                "inReplyTo": note.in_reply_to, "published": ids::micros(note.at, dice),
                "sensitive": sensitive, "summary": note.summary.clone().unwrap_or_default(),
                "attachment": attachment, "tag": tag,
            }),
        };
        if let Some(at) = updated {
            v["updated"] = Value::from(match a.software {
                Software::Akkoma => ids::micros(at, dice),
                _ => ids::seconds(at),
            });
        }
        v
    }

    /// The `Create` of a note.
    pub fn create(&self, note: &Note, dice: &mut Dice) -> Value {
        let a = &note.author;
        let object = self.note(note, None, dice);
        let (to, cc) = (object["to"].clone(), object["cc"].clone());
        match a.software {
            Software::Mastodon => json!({
                "@context": self.context(a), "id": format!("{}/activity", note.id),
                "type": "Create", "actor": a.uri, "published": ids::seconds(note.at),
                "to": to, "cc": cc, "object": object,
            }),
            Software::Misskey => json!({
                "@context": self.context(a), "id": format!("{}/activity", note.id),
                "actor": a.uri, "type": "Create", "published": ids::millis(note.at),
                "object": object, "to": to, "cc": cc,
            }),
            Software::GoToSocial => json!({
                "@context": self.context(a), "id": format!("{}/activity", note.id),
                "type": "Create", "actor": a.uri, "published": ids::seconds(note.at),
                "to": to, "cc": cc, "object": object,
            }),
            Software::Akkoma => json!({
                "@context": self.context(a), "id": format!("https://{}/activities/{}", a.host, ids::uuid(dice)),
                "type": "Create", "actor": a.uri, "to": to, "cc": cc, "object": object,
                "context": note.context, "directMessage": note.visibility == Visibility::Direct,
                "published": ids::micros(note.at, dice),
            }),
        }
    }

    /// The `Update` of an edited note (`note` is the new version). Misskey
    /// does not federate edits; callers do not edit its notes.
    pub fn update(&self, before: &Note, note: &Note, at: u64, dice: &mut Dice) -> Value {
        let a = &note.author;
        let mut object = self.note(note, Some(at), dice);
        let (to, cc) = (object["to"].clone(), object["cc"].clone());
        match a.software {
            Software::Akkoma => {
                let old = self.note(before, None, dice);
                object["formerRepresentations"] = json!({
                    "type": "OrderedCollection", "totalItems": 1, "orderedItems": [old],
                });
                json!({
                    "@context": self.context(a), "id": format!("https://{}/activities/{}", a.host, ids::uuid(dice)),
                    "type": "Update", "actor": a.uri, "to": to, "cc": cc, "object": object,
                })
            }
            Software::GoToSocial => json!({
                "@context": self.context(a), "id": format!("{}#updates/{}", note.id, ids::ulid(at, dice)),
                "type": "Update", "actor": a.uri, "to": to, "cc": cc, "object": object,
            }),
            _ => json!({
                "@context": self.context(a), "id": format!("{}#updates/{}", note.id, at / 1000),
                "type": "Update", "actor": a.uri, "published": ids::seconds(at),
                "to": to, "cc": cc, "object": object,
            }),
        }
    }

    /// The `Delete` of a note.
    pub fn delete(&self, note: &Note, at: u64, dice: &mut Dice) -> Value {
        let a = &note.author;
        let (to, cc) = note.addressing();
        match a.software {
            Software::Mastodon => json!({
                "@context": self.context(a), "id": format!("{}#delete", note.id), "type": "Delete",
                "actor": a.uri, "to": [PUBLIC],
                "object": {"id": note.id, "type": "Tombstone", "atomUri": note.id},
            }),
            Software::Misskey => json!({
                "@context": self.context(a), "id": format!("https://{}/{}", a.host, ids::uuid(dice)),
                "type": "Delete", "actor": a.uri, "published": ids::millis(at),
                "object": {"id": note.id, "type": "Tombstone"},
            }),
            Software::GoToSocial => json!({
                "@context": self.context(a), "actor": a.uri, "type": "Delete",
                "object": note.id, "to": gts_list(strings(to)), "cc": strings(cc),
            }),
            Software::Akkoma => json!({
                "@context": self.context(a), "id": format!("https://{}/activities/{}", a.host, ids::uuid(dice)),
                "type": "Delete", "actor": a.uri, "object": note.id,
                "to": to.into_iter().chain(cc).collect::<Vec<_>>(), "cc": [],
            }),
        }
    }
}
