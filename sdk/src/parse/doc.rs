//! The typed view of an ActivityPub document, as lenient as the servers
//! Palisade protects.
//!
//! Mastodon (Ruby's Oj) and Misskey (`JSON.parse`) keep the *last* of a
//! duplicated key, and read a property of an unexpected shape as nothing
//! rather than refusing the document. A stricter reader here would let such
//! a post reach the server unjudged, so every field below accepts every
//! JSON shape: the expected ones are read, `null` is absent, anything else
//! is absent *and noted* ([`Doc::wrong`]). Unknown keys are skipped without
//! being built. Everything borrows from the text where it can.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One document (the activity, or an object embedded in it).
#[derive(Default)]
pub(super) struct Doc<'a> {
    pub kind: Option<Cow<'a, str>>,
    pub id: Option<Cow<'a, str>>,
    pub actor: Option<Cow<'a, str>>,
    pub attributed_to: Option<Cow<'a, str>>,
    pub object: Option<ObjectField<'a>>,
    pub content: Option<Cow<'a, str>>,
    pub content_map: Option<Cow<'a, str>>,
    /// Misskey's own text: `_misskey_content`, and `source.content` when
    /// `source.mediaType` is MFM. Misskey shows these in place of `content`.
    pub misskey_content: Option<Cow<'a, str>>,
    pub source: Option<Source<'a>>,
    /// A poll's options (`oneOf`, `anyOf`): each one's `name` is shown.
    pub options: Vec<Tag<'a>>,
    pub summary: Option<Cow<'a, str>>,
    pub tag: Vec<Tag<'a>>,
    pub to: Vec<Cow<'a, str>>,
    pub cc: Vec<Cow<'a, str>>,
    pub attachment: Vec<AttachmentDoc<'a>>,
    pub sensitive: Option<bool>,
    pub in_reply_to: Option<Cow<'a, str>>,
    pub published: Option<Cow<'a, str>>,
    /// Properties present with a shape nobody reads (`"sensitive": "false"`,
    /// `"tag": 7`): treated as absent, named here for the decision.
    pub wrong: Vec<&'static str>,
}

impl Doc<'_> {
    /// Activities that carry another object (as opposed to Like, Follow...).
    pub fn is_activity(&self) -> bool {
        matches!(
            self.kind.as_deref(),
            Some("Create" | "Update" | "Announce" | "Add")
        )
    }
}

/// `source`: the text as its author wrote it.
#[derive(Default)]
pub(super) struct Source<'a> {
    pub content: Option<Cow<'a, str>>,
    pub media_type: Option<Cow<'a, str>>,
}

/// A `tag` entry.
#[derive(Default)]
pub(super) struct Tag<'a> {
    pub kind: Option<Cow<'a, str>>,
    pub href: Option<Cow<'a, str>>,
    pub name: Option<Cow<'a, str>>,
}

/// An `attachment` entry.
#[derive(Default)]
pub(super) struct AttachmentDoc<'a> {
    pub kind: Option<Cow<'a, str>>,
    pub media_type: Option<Cow<'a, str>>,
    pub url: Option<Cow<'a, str>>,
    pub name: Option<Cow<'a, str>>,
    pub blurhash: Option<Cow<'a, str>>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// `object`: a URI or an embedded document.
pub(super) enum ObjectField<'a> {
    Uri(Cow<'a, str>),
    Embedded(Box<Doc<'a>>),
}

/// What a property held.
enum Slot<T> {
    /// Missing or `null`.
    Absent,
    Got(T),
    /// A shape nobody reads.
    Wrong,
}

impl<T> Slot<T> {
    /// The value, noting `key` in `wrong` when the shape was unusable.
    fn take(self, key: &'static str, wrong: &mut Vec<&'static str>) -> Option<T> {
        match self {
            Slot::Got(v) => Some(v),
            Slot::Absent => None,
            Slot::Wrong => {
                if !wrong.contains(&key) {
                    wrong.push(key);
                }
                None
            }
        }
    }
}

/// Implements the visitor methods for JSON shapes a field does not read:
/// each returns `$wrong` (after consuming a container's contents).
macro_rules! unread_shapes {
    ($value:ty, $wrong:expr; $($method:ident),*) => {
        $(unread_shapes!(@one $method, $value, $wrong);)*
    };
    (@one bool, $value:ty, $wrong:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$value, E> { Ok($wrong) }
    };
    (@one num, $value:ty, $wrong:expr) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$value, E> { Ok($wrong) }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$value, E> { Ok($wrong) }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$value, E> { Ok($wrong) }
    };
    (@one str, $value:ty, $wrong:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<$value, E> { Ok($wrong) }
    };
    (@one map, $value:ty, $wrong:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($wrong)
        }
    };
    (@one seq, $value:ty, $wrong:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($wrong)
        }
    };
}

// ---------------------------------------------------------------------------
// Leaves.

/// A plain string property.
struct Text<'a>(Slot<Cow<'a, str>>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Slot::Got(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Slot::Got(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Slot::Got(Cow::Owned(v))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text(Slot::Absent))
            }
            unread_shapes!(Text<'de>, Text(Slot::Wrong); bool, num, map, seq);
        }
        d.deserialize_any(V)
    }
}

/// A link to an object: a URI, an object's `id` (or a Link's `href`), or
/// the first usable element of an array.
struct Link<'a>(Slot<Cow<'a, str>>);

impl<'de> Deserialize<'de> for Link<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LinkVisitor)
    }
}

struct LinkVisitor;

impl<'de> Visitor<'de> for LinkVisitor {
    type Value = Link<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a URI, an object with an id, or an array of them")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Link(Slot::Got(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Link(Slot::Got(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Link(Slot::Got(Cow::Owned(v))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Link(Slot::Absent))
    }
    unread_shapes!(Link<'de>, Link(Slot::Wrong); bool, num);

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut id, mut href) = (None, None);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                // Last duplicate wins, as everywhere.
                Key::Id => id = map.next_value::<Link<'de>>()?.0.into_got(),
                Key::Href => href = map.next_value::<Link<'de>>()?.0.into_got(),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Link(id.or(href).map_or(Slot::Absent, Slot::Got)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut first = None;
        while let Some(item) = seq.next_element::<Link<'de>>()? {
            if first.is_none() {
                first = item.0.into_got();
            }
        }
        Ok(Link(first.map_or(Slot::Absent, Slot::Got)))
    }
}

impl<T> Slot<T> {
    fn into_got(self) -> Option<T> {
        match self {
            Slot::Got(v) => Some(v),
            _ => None,
        }
    }
}

/// `true` or `false`.
struct Flag(Slot<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(Slot::Got(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(Slot::Absent))
            }
            unread_shapes!(Flag, Flag(Slot::Wrong); num, str, map, seq);
        }
        d.deserialize_any(V)
    }
}

/// A size in pixels: a non-negative integer (a float is cut, a huge one
/// saturates); anything else reads as absent.
struct Pixels(Option<u32>);

impl<'de> Deserialize<'de> for Pixels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pixels;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of pixels")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Pixels, E> {
                Ok(Pixels(Some(u32::try_from(v).unwrap_or(u32::MAX))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Pixels, E> {
                Ok(Pixels(u64::try_from(v).ok().map(|v| u32::try_from(v).unwrap_or(u32::MAX))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Pixels, E> {
                // `as` saturates and maps NaN to 0.
                Ok(Pixels((v >= 0.0).then_some(v as u32)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Pixels, E> {
                Ok(Pixels(None))
            }
            unread_shapes!(Pixels, Pixels(None); bool, str, map, seq);
        }
        d.deserialize_any(V)
    }
}

/// Addressing (`to`, `cc`): one link or an array of links.
struct Links<'a>(Slot<Vec<Cow<'a, str>>>);

impl<'de> Deserialize<'de> for Links<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Links<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URI or an array of URIs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Link<'de>>()? {
                    out.extend(item.0.into_got());
                }
                Ok(Links(Slot::Got(out)))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Links(Slot::Got(vec![Cow::Borrowed(v)])))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Links(Slot::Got(vec![Cow::Owned(v.to_owned())])))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let one = LinkVisitor.visit_map(map)?.0.into_got();
                Ok(Links(Slot::Got(one.into_iter().collect())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Links(Slot::Absent))
            }
            unread_shapes!(Links<'de>, Links(Slot::Wrong); bool, num);
        }
        d.deserialize_any(V)
    }
}

/// A language map (`contentMap`): its first string value.
struct LangMap<'a>(Slot<Cow<'a, str>>);

impl<'de> Deserialize<'de> for LangMap<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LangMap<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a language map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // Ruby's and JavaScript's maps keep a duplicated key where it
                // first stood, with its last value: so `{"en":"ok","en":"spam"}`
                // shows "spam" first.
                let mut first: Option<(Cow<'de, str>, Option<Cow<'de, str>>)> = None;
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    let value = map.next_value::<Text<'de>>()?.0.into_got();
                    let key = key.0.into_got().unwrap_or_default();
                    match &mut first {
                        None => first = Some((key, value)),
                        Some((k, v)) if *k == key => *v = value,
                        Some(_) => {}
                    }
                }
                Ok(LangMap(
                    first.and_then(|(_, v)| v).map_or(Slot::Absent, Slot::Got),
                ))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LangMap(Slot::Absent))
            }
            unread_shapes!(LangMap<'de>, LangMap(Slot::Wrong); bool, num, str, seq);
        }
        d.deserialize_any(V)
    }
}

/// One object or an array of objects (`tag`, `attachment`). Bare URIs are
/// valid ActivityStreams but carry nothing to read: skipped. Elements of
/// other shapes make the whole property noted.
struct Objects<T>(Slot<Vec<T>>);

/// An array element that should be an object.
struct Element<T>(Slot<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Element<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Element<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let item = T::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Element(Slot::Got(item)))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Element(Slot::Absent))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Element(Slot::Absent))
            }
            unread_shapes!(Element<T>, Element(Slot::Wrong); bool, num, seq);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Objects<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Objects<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object or an array of objects")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let item = T::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Objects(Slot::Got(vec![item])))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                let mut wrong = false;
                while let Some(item) = seq.next_element::<Element<T>>()? {
                    match item.0 {
                        Slot::Got(v) => out.push(v),
                        Slot::Absent => {}
                        Slot::Wrong => wrong = true,
                    }
                }
                // The usable elements are read even beside a wrong one.
                Ok(Objects(if wrong && out.is_empty() {
                    Slot::Wrong
                } else {
                    Slot::Got(out)
                }))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Objects(Slot::Absent))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Objects(Slot::Absent))
            }
            unread_shapes!(Objects<T>, Objects(Slot::Wrong); bool, num);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Slot<ObjectField<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a URI or an object")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Slot::Got(ObjectField::Uri(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Slot::Got(ObjectField::Uri(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Slot::Got(ObjectField::Uri(Cow::Owned(v))))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let doc = DocVisitor.visit_map(map)?;
        Ok(Slot::Got(ObjectField::Embedded(Box::new(doc))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Several objects: judge by the first usable one.
        let mut first = None;
        while let Some(item) = seq.next_element::<ObjectSlot<'de>>()? {
            if first.is_none() {
                first = item.0.into_got();
            }
        }
        Ok(first.map_or(Slot::Absent, Slot::Got))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Slot::Absent)
    }
    unread_shapes!(Slot<ObjectField<'de>>, Slot::Wrong; bool, num);
}

struct ObjectSlot<'a>(Slot<ObjectField<'a>>);

impl<'de> Deserialize<'de> for ObjectSlot<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjectVisitor).map(ObjectSlot)
    }
}

// ---------------------------------------------------------------------------
// Documents.

/// The properties Palisade reads; everything else is skipped unbuilt.
enum Key {
    Type,
    Id,
    Href,
    Name,
    MediaType,
    Url,
    Actor,
    AttributedTo,
    Object,
    Content,
    ContentMap,
    Summary,
    Tag,
    To,
    Cc,
    Attachment,
    Sensitive,
    InReplyTo,
    Published,
    MisskeyContent,
    Source,
    OneOf,
    AnyOf,
    Blurhash,
    Width,
    Height,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(match v {
                    "type" => Key::Type,
                    "id" => Key::Id,
                    "href" => Key::Href,
                    "name" => Key::Name,
                    "mediaType" => Key::MediaType,
                    "url" => Key::Url,
                    "actor" => Key::Actor,
                    "attributedTo" => Key::AttributedTo,
                    "object" => Key::Object,
                    "content" => Key::Content,
                    "contentMap" => Key::ContentMap,
                    "summary" => Key::Summary,
                    "tag" => Key::Tag,
                    "to" => Key::To,
                    "cc" => Key::Cc,
                    "attachment" => Key::Attachment,
                    "sensitive" => Key::Sensitive,
                    "inReplyTo" => Key::InReplyTo,
                    "published" => Key::Published,
                    "_misskey_content" => Key::MisskeyContent,
                    "source" => Key::Source,
                    "oneOf" => Key::OneOf,
                    "anyOf" => Key::AnyOf,
                    "blurhash" => Key::Blurhash,
                    "width" => Key::Width,
                    "height" => Key::Height,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// Reads one document; a later duplicate of a key replaces the earlier.
struct DocVisitor;

impl<'de> Visitor<'de> for DocVisitor {
    type Value = Doc<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (an ActivityStreams document)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc<'de>, A::Error> {
        let mut d = Doc::default();
        let w = &mut d.wrong;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                // `type` may be an array of types: the first is read.
                Key::Type => d.kind = map.next_value::<Link<'de>>()?.0.take("type", w),
                Key::Id => d.id = map.next_value::<Text<'de>>()?.0.take("id", w),
                Key::Actor => d.actor = map.next_value::<Link<'de>>()?.0.take("actor", w),
                Key::AttributedTo => {
                    d.attributed_to = map.next_value::<Link<'de>>()?.0.take("attributedTo", w)
                }
                Key::Object => {
                    d.object = map.next_value_seed(ObjectSeed)?.take("object", w);
                }
                Key::Content => d.content = map.next_value::<Text<'de>>()?.0.take("content", w),
                Key::ContentMap => {
                    d.content_map = map.next_value::<LangMap<'de>>()?.0.take("contentMap", w)
                }
                Key::Summary => d.summary = map.next_value::<Text<'de>>()?.0.take("summary", w),
                Key::Tag => {
                    d.tag = map
                        .next_value::<Objects<Tag<'de>>>()?
                        .0
                        .take("tag", w)
                        .unwrap_or_default()
                }
                Key::To => {
                    d.to = map
                        .next_value::<Links<'de>>()?
                        .0
                        .take("to", w)
                        .unwrap_or_default()
                }
                Key::Cc => {
                    d.cc = map
                        .next_value::<Links<'de>>()?
                        .0
                        .take("cc", w)
                        .unwrap_or_default()
                }
                Key::Attachment => {
                    d.attachment = map
                        .next_value::<Objects<AttachmentDoc<'de>>>()?
                        .0
                        .take("attachment", w)
                        .unwrap_or_default()
                }
                Key::Sensitive => d.sensitive = map.next_value::<Flag>()?.0.take("sensitive", w),
                Key::InReplyTo => {
                    d.in_reply_to = map.next_value::<Link<'de>>()?.0.take("inReplyTo", w)
                }
                Key::Published => {
                    d.published = map.next_value::<Text<'de>>()?.0.take("published", w)
                }
                Key::MisskeyContent => {
                    d.misskey_content = map.next_value::<Text<'de>>()?.0.take("_misskey_content", w)
                }
                Key::Source => d.source = map.next_value::<Element<Source<'de>>>()?.0.into_got(),
                Key::OneOf | Key::AnyOf => {
                    d.options = map
                        .next_value::<Objects<Tag<'de>>>()?
                        .0
                        .into_got()
                        .unwrap_or_default()
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(d)
    }
}

/// `object` read through [`ObjectVisitor`], keeping the slot.
struct ObjectSeed;

impl<'de> de::DeserializeSeed<'de> for ObjectSeed {
    type Value = Slot<ObjectField<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ObjectVisitor)
    }
}

impl<'de> Deserialize<'de> for Doc<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(DocVisitor)
    }
}

impl<'de> Deserialize<'de> for Tag<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tag<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tag object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tag<'de>, A::Error> {
                let mut t = Tag::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Type => t.kind = map.next_value::<TagType<'de>>()?.0,
                        Key::Href => t.href = map.next_value::<Link<'de>>()?.0.into_got(),
                        Key::Name => t.name = map.next_value::<Text<'de>>()?.0.into_got(),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(t)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Source<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Source<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a source object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Source<'de>, A::Error> {
                let mut src = Source::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Content => src.content = map.next_value::<Text<'de>>()?.0.into_got(),
                        Key::MediaType => {
                            src.media_type = map.next_value::<Text<'de>>()?.0.into_got()
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(src)
            }
        }
        d.deserialize_map(V)
    }
}

/// A tag's `type`, one string or several: Mastodon reads a tag as a
/// mention when any of its types is `Mention` (likewise `Hashtag`), so the
/// one that matters is kept.
struct TagType<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for TagType<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TagType<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a type or an array of types")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut chosen: Option<Cow<'de, str>> = None;
                while let Some(item) = seq.next_element::<Text<'de>>()? {
                    let Some(t) = item.0.into_got() else { continue };
                    let rank = |t: &str| match t {
                        "Mention" => 2,
                        "Hashtag" => 1,
                        _ => 0,
                    };
                    if chosen.as_deref().is_none_or(|c| rank(&t) > rank(c)) {
                        chosen = Some(t);
                    }
                }
                Ok(TagType(chosen))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(TagType(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TagType(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(TagType(None))
            }
            unread_shapes!(TagType<'de>, TagType(None); bool, num, map);
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for AttachmentDoc<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AttachmentDoc<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attachment object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AttachmentDoc<'de>, A::Error> {
                let mut a = AttachmentDoc::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Type => a.kind = map.next_value::<Link<'de>>()?.0.into_got(),
                        Key::MediaType => {
                            a.media_type = map.next_value::<Text<'de>>()?.0.into_got()
                        }
                        Key::Url => a.url = map.next_value::<Link<'de>>()?.0.into_got(),
                        Key::Name => a.name = map.next_value::<Text<'de>>()?.0.into_got(),
                        Key::Blurhash => {
                            a.blurhash = map.next_value::<Text<'de>>()?.0.into_got()
                        }
                        Key::Width => a.width = map.next_value::<Pixels>()?.0,
                        Key::Height => a.height = map.next_value::<Pixels>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(a)
            }
        }
        d.deserialize_map(V)
    }
}
