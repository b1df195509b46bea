//! Host-side bindings of the `palisade:policy` world, and the conversion
//! from the parser's types (shared with the SDK) into them.

wasmtime::component::bindgen!({
    path: "wit",
    world: "policy-module",
    // Capability calls may fail (a backend is down, a list is missing): the
    // failure traps the module and its failure policy applies.
    imports: { default: trappable },
});

pub use self::palisade::policy::types::{
    Activity, ActorFacts, Attachment, Context, Description, Direction, Mention, Relations, Rewrite,
    Ruling, Score, Sender, SenderStatus, Thread, Verdict, Visibility,
};

use crate::senders;
use palisade_sdk as sdk;

impl From<&senders::View> for Sender {
    fn from(v: &senders::View) -> Self {
        Sender {
            status: match v.status {
                senders::Status::Verified => SenderStatus::Verified,
                senders::Status::Unverified => SenderStatus::Unverified,
                senders::Status::Invalid => SenderStatus::Invalid,
            },
            key_id: v.key_id.clone(),
            reason: v.reason.clone(),
        }
    }
}

/// The facts without the actor's id: they are only ever given about the
/// activity's actor.
impl From<&senders::ActorFacts> for ActorFacts {
    fn from(f: &senders::ActorFacts) -> Self {
        ActorFacts {
            published: f.published,
            preferred_username: f.preferred_username.clone(),
            name: f.name.clone(),
            has_avatar: f.has_avatar,
            followers: f.followers,
            following: f.following,
            discoverable: f.discoverable,
            software: f.software.clone(),
        }
    }
}

impl From<sdk::Activity> for Activity {
    fn from(a: sdk::Activity) -> Self {
        Activity {
            kind: a.kind,
            id: a.id,
            actor: a.actor,
            actor_host: a.actor_host,
            object_kind: a.object_kind,
            object_id: a.object_id,
            content: a.content,
            text: a.text,
            summary: a.summary,
            mentions: a
                .mentions
                .into_iter()
                .map(|m| Mention {
                    href: m.href,
                    name: m.name,
                    host: m.host,
                    local: m.local,
                })
                .collect(),
            hashtags: a.hashtags,
            links: a.links,
            to: a.to,
            cc: a.cc,
            visibility: match a.visibility {
                sdk::Visibility::Public => Visibility::Public,
                sdk::Visibility::Unlisted => Visibility::Unlisted,
                sdk::Visibility::Followers => Visibility::Followers,
                sdk::Visibility::Direct => Visibility::Direct,
                sdk::Visibility::Unknown => Visibility::Unknown,
            },
            attachments: a
                .attachments
                .into_iter()
                .map(|x| Attachment {
                    kind: x.kind,
                    media_type: x.media_type,
                    url: x.url,
                    name: x.name,
                    blurhash: x.blurhash,
                    width: x.width,
                    height: x.height,
                })
                .collect(),
            sensitive: a.sensitive,
            in_reply_to: a.in_reply_to,
            published: a.published,
            raw: a.raw,
        }
    }
}

impl Rewrite {
    /// The name used in decisions and configuration.
    pub fn as_str(&self) -> &'static str {
        match self {
            Rewrite::Delist => "delist",
            Rewrite::MarkSensitive => "mark-sensitive",
            Rewrite::StripMedia => "strip-media",
        }
    }
}

impl Visibility {
    pub fn as_str(&self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Followers => "followers",
            Visibility::Direct => "direct",
            Visibility::Unknown => "unknown",
        }
    }
}
