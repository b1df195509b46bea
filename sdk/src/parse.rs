//! ActivityPub JSON to the [`Activity`] every module sees, parsed once.
//!
//! The document is deserialised into borrowed, typed fields (no intermediate
//! `serde_json::Value`); unknown fields are skipped without being built.
//! ActivityStreams lets most properties be a string, an object or an array
//! of either; the small deserialisers below accept all three.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::{Activity, Attachment, Mention, Visibility};

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

/// The ActivityStreams public collection, in its three spellings.
const PUBLIC: [&str; 3] = [
    "https://www.w3.org/ns/activitystreams#Public",
    "as:Public",
    "Public",
];

/// Parse one ActivityPub document.
pub fn parse_activity(json: &str, options: &Options<'_>) -> Result<Activity, ParseError> {
    let first = json.trim_start().as_bytes().first().copied();
    if first != Some(b'{') {
        return Err(ParseError {
            message: "expected a JSON object (an ActivityStreams document)".to_owned(),
            line: 0,
            column: 0,
        });
    }
    let doc: Doc<'_> = serde_json::from_str(json)?;
    Ok(build(doc, options))
}

fn build(doc: Doc<'_>, options: &Options<'_>) -> Activity {
    let kind = doc.kind.clone().map(Cow::into_owned).unwrap_or_default();
    let object = match &doc.object {
        Some(ObjectField::Embedded(o)) => Some(&**o),
        _ => None,
    };
    // The object whose content is judged: the embedded object, or for an
    // activity wrapping an activity (a community's Announce{Create{Page}}),
    // the inner activity's object; a bare object is its own subject.
    let subject: &Doc<'_> = match object {
        Some(o) => match &o.object {
            Some(ObjectField::Embedded(inner)) if o.is_activity() => inner,
            _ => o,
        },
        None => &doc,
    };

    let actor = doc
        .actor
        .as_ref()
        .or(doc.attributed_to.as_ref())
        .or(subject.attributed_to.as_ref())
        .map(|a| a.0.clone().into_owned());
    let actor_host = actor.as_deref().and_then(host_of);

    let (object_kind, object_id) = match &doc.object {
        Some(ObjectField::Embedded(o)) => (
            o.kind.as_ref().map(|k| k.to_string()),
            o.id.as_ref().map(|i| i.to_string()),
        ),
        Some(ObjectField::Uri(uri)) => (None, Some(uri.to_string())),
        None => (None, None),
    };

    let content = subject
        .content
        .as_ref()
        .or(subject.content_map.as_ref().and_then(|m| m.0.as_ref()));
    let html = content.map(|c| crate::parse::html::Html::scan(c));

    // Lemmy puts the tags of a comment on the activity rather than the object.
    let tags = std::iter::once(&subject.tag).chain(if std::ptr::eq(subject, &doc) {
        None
    } else {
        Some(&doc.tag)
    });
    let mut mentions: Vec<Mention> = Vec::new();
    let mut hashtags: Vec<String> = Vec::new();
    let mut tag_hrefs: Vec<&str> = Vec::new();
    for tag in tags.flat_map(|t| t.0.iter()) {
        match tag.kind.as_deref() {
            Some("Mention") => {
                let Some(href) = tag.href.as_deref() else {
                    continue;
                };
                tag_hrefs.push(href);
                if mentions.iter().any(|m| m.href == href) {
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
                    tag_hrefs.push(href);
                }
                if let Some(name) = tag.name.as_deref() {
                    let name = name.trim_start_matches('#').to_lowercase();
                    if !name.is_empty() && !hashtags.contains(&name) {
                        hashtags.push(name);
                    }
                }
            }
            _ => {}
        }
    }

    let links = html
        .as_ref()
        .map(|h| {
            let mut links: Vec<String> = Vec::new();
            for a in &h.anchors {
                let tagged = tag_hrefs.iter().any(|t| *t == a.href);
                if a.is_mention_or_hashtag || tagged || links.contains(&a.href) {
                    continue;
                }
                links.push(a.href.clone());
            }
            links
        })
        .unwrap_or_default();

    // Addressing: the activity's, or its object's when it has none.
    let (to, cc) = if doc.to.0.is_empty() && doc.cc.0.is_empty() {
        (&subject.to, &subject.cc)
    } else {
        (&doc.to, &doc.cc)
    };
    let to: Vec<String> = to.0.iter().map(|r| r.0.to_string()).collect();
    let cc: Vec<String> = cc.0.iter().map(|r| r.0.to_string()).collect();
    let visibility = visibility(&to, &cc);

    let attachments = subject
        .attachment
        .0
        .iter()
        .map(|a| Attachment {
            kind: a.kind.as_deref().unwrap_or("Document").to_owned(),
            media_type: a.media_type.as_ref().map(|m| m.to_string()),
            url: a.url.as_ref().map(|u| u.0.to_string()),
            name: a.name.as_ref().map(|n| n.to_string()),
        })
        .collect();

    Activity {
        kind,
        id: doc.id.as_ref().map(|i| i.to_string()),
        actor,
        actor_host,
        object_kind,
        object_id,
        content: content.map(|c| c.to_string()),
        text: html.map(|h| h.text).unwrap_or_default(),
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
        in_reply_to: subject.in_reply_to.as_ref().map(|r| r.0.to_string()),
        published: subject
            .published
            .as_ref()
            .or(doc.published.as_ref())
            .map(|p| p.to_string()),
        raw: None,
    }
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

// ---------------------------------------------------------------------------
// The typed view of the JSON document.

#[derive(Deserialize, Default)]
struct Doc<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "first_str")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "first_ref")]
    actor: Option<Ref<'a>>,
    #[serde(
        rename = "attributedTo",
        borrow,
        default,
        deserialize_with = "first_ref"
    )]
    attributed_to: Option<Ref<'a>>,
    #[serde(borrow, default)]
    object: Option<ObjectField<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    content: Option<Cow<'a, str>>,
    #[serde(rename = "contentMap", borrow, default)]
    content_map: Option<FirstValue<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    summary: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tag: Many<Tag<'a>>,
    #[serde(borrow, default)]
    to: Many<Ref<'a>>,
    #[serde(borrow, default)]
    cc: Many<Ref<'a>>,
    #[serde(borrow, default)]
    attachment: Many<AttachmentDoc<'a>>,
    #[serde(default)]
    sensitive: Option<bool>,
    #[serde(rename = "inReplyTo", borrow, default, deserialize_with = "first_ref")]
    in_reply_to: Option<Ref<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    published: Option<Cow<'a, str>>,
}

impl Doc<'_> {
    /// Activities that carry another object (as opposed to Like, Follow...).
    fn is_activity(&self) -> bool {
        matches!(
            self.kind.as_deref(),
            Some("Create" | "Update" | "Announce" | "Add")
        )
    }
}

#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "first_str")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "first_ref")]
    href: Option<Ref<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct AttachmentDoc<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "first_str")]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "mediaType", borrow, default, deserialize_with = "opt_str")]
    media_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "first_ref")]
    url: Option<Ref<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    name: Option<Cow<'a, str>>,
}

/// A link to an object: its URI, from a string or an object's `id` (or
/// `href`, for Link objects).
#[derive(Clone)]
struct Ref<'a>(Cow<'a, str>);

impl std::ops::Deref for Ref<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// `object`: a URI or an embedded document.
enum ObjectField<'a> {
    Uri(Cow<'a, str>),
    Embedded(Box<Doc<'a>>),
}

/// A property given as one value or an array of values.
struct Many<T>(Vec<T>);

impl<T> Default for Many<T> {
    fn default() -> Self {
        Many(Vec::new())
    }
}

/// The first string value of a language map (`contentMap`).
struct FirstValue<'a>(Option<Cow<'a, str>>);

// ---------------------------------------------------------------------------
// Deserialisers for ActivityStreams' flexible shapes.

/// Reads a string, an object's `id`/`href`, or the first usable element of
/// an array; `null` and anything else is `None`.
struct RefVisitor;

impl<'de> Visitor<'de> for RefVisitor {
    type Value = Option<Ref<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a URI, an object with an id, or an array of them")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Ref(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Ref(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Ref(Cow::Owned(v))))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut id: Option<Ref<'de>> = None;
        let mut href: Option<Ref<'de>> = None;
        while let Some(key) = map.next_key::<RefKey>()? {
            match key {
                RefKey::Id => id = map.next_value::<OptRef<'de>>()?.0,
                RefKey::Href => href = map.next_value::<OptRef<'de>>()?.0,
                RefKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(id.or(href))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut first = None;
        while let Some(item) = seq.next_element::<OptRef<'de>>()? {
            if first.is_none() {
                first = item.0;
            }
        }
        Ok(first)
    }
}

/// The keys of a linked object that name it; the rest is skipped unread.
enum RefKey {
    Id,
    Href,
    Other,
}

impl<'de> Deserialize<'de> for RefKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RefKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(match v {
                    "id" => RefKey::Id,
                    "href" => RefKey::Href,
                    _ => RefKey::Other,
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// A plain string property; `null` or a value of another shape is `None`.
fn opt_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

struct OptRef<'a>(Option<Ref<'a>>);

struct OptStr<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for OptStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        opt_str(d).map(OptStr)
    }
}

impl<'de> Deserialize<'de> for OptRef<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RefVisitor).map(OptRef)
    }
}

fn first_ref<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ref<'de>>, D::Error> {
    d.deserialize_any(RefVisitor)
}

fn first_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    Ok(d.deserialize_any(RefVisitor)?.map(|r| r.0))
}

impl<'de: 'a, 'a> Deserialize<'de> for Many<Ref<'a>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Many<Ref<'de>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URI or an array of URIs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<OptRef<'de>>()? {
                    out.extend(item.0);
                }
                Ok(Many(out))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Many(vec![Ref(Cow::Borrowed(v))]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Many(vec![Ref(Cow::Owned(v.to_owned()))]))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Ok(Many(RefVisitor.visit_map(map)?.into_iter().collect()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Many(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `Many` of objects: a single object, an array of objects; other items
/// (bare URIs, nulls) are skipped.
macro_rules! many_objects {
    ($ty:ident) => {
        impl<'de: 'a, 'a> Deserialize<'de> for Many<$ty<'a>> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Many<$ty<'de>>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("an object or an array of objects")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                        let item = $ty::deserialize(de::value::MapAccessDeserializer::new(map))?;
                        Ok(Many(vec![item]))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(
                        self,
                        mut seq: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut out = Vec::new();
                        while let Some(item) = seq.next_element::<MaybeObject<$ty<'de>>>()? {
                            out.extend(item.0);
                        }
                        Ok(Many(out))
                    }
                    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                        Ok(Many(Vec::new()))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                        Ok(Many(Vec::new()))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}
many_objects!(Tag);
many_objects!(AttachmentDoc);

/// An array element that should be an object; anything else is skipped.
struct MaybeObject<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MaybeObject<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = MaybeObject<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Ok(MaybeObject(Some(T::deserialize(
                    de::value::MapAccessDeserializer::new(map),
                )?)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeObject(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeObject(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(MaybeObject(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeObject(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeObject(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeObject(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeObject(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ObjectField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ObjectField<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URI or an object")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ObjectField::Uri(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ObjectField::Uri(Cow::Owned(v.to_owned())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let doc = Doc::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ObjectField::Embedded(Box::new(doc)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // Several objects: judge by the first.
                let first = seq.next_element::<ObjectField<'de>>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(first.unwrap_or(ObjectField::Uri(Cow::Borrowed(""))))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for FirstValue<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FirstValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a language map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut first = None;
                while map.next_key::<IgnoredAny>()?.is_some() {
                    let v = map.next_value::<OptStr<'de>>()?.0;
                    if first.is_none() {
                        first = v;
                    }
                }
                Ok(FirstValue(first))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FirstValue(None))
            }
        }
        d.deserialize_any(V)
    }
}

pub mod html;

#[cfg(test)]
mod tests;
