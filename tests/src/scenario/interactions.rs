//! Interactions as each server software sends them: boosts, likes (and
//! Misskey's reactions), follows and accepts of follows.

use serde_json::{Value, json};

use super::Dice;
use super::ids;
use super::population::{Person, Software};
use super::render::{PUBLIC, Templates};

impl Templates {
    /// A boost of `object` (by `author`).
    pub fn announce(
        &self,
        actor: &Person,
        object: &str,
        author: &Person,
        at: u64,
        dice: &mut Dice,
    ) -> Value {
        let ctx = self.context(actor);
        match actor.software {
            Software::Mastodon => json!({
                "@context": ctx, "id": format!("{}/statuses/{}/activity", actor.uri, ids::snowflake(at, dice)),
                "type": "Announce", "actor": actor.uri, "published": ids::seconds(at),
                "to": [PUBLIC], "cc": [author.uri, actor.followers()], "object": object,
            }),
            Software::Misskey => json!({
                "@context": ctx, "id": format!("https://{}/notes/{}/activity", actor.host, ids::aid(at, dice)),
                "actor": actor.uri, "type": "Announce", "published": ids::millis(at),
                "object": object, "to": [PUBLIC], "cc": [actor.followers(), author.uri],
            }),
            Software::GoToSocial => json!({
                "@context": ctx, "id": format!("{}/statuses/{}", actor.uri, ids::ulid(at, dice)),
                "type": "Announce", "actor": actor.uri, "published": ids::seconds(at),
                "to": PUBLIC, "cc": [author.uri, actor.followers()], "object": object,
            }),
            Software::Akkoma => json!({
                "@context": ctx, "id": format!("https://{}/activities/{}", actor.host, ids::uuid(dice)),
                "type": "Announce", "actor": actor.uri, "published": ids::micros(at, dice),
                "to": [PUBLIC, author.uri], "cc": [actor.followers()], "object": object,
            }),
        }
    }

    /// A like (Misskey and Akkoma: sometimes an emoji reaction, sent as a
    /// `Like` with `_misskey_reaction`).
    pub fn like(
        &self,
        actor: &Person,
        object: &str,
        author: &Person,
        at: u64,
        dice: &mut Dice,
    ) -> Value {
        let ctx = self.context(actor);
        match actor.software {
            Software::Mastodon => json!({
                "@context": ctx, "id": format!("{}#likes/{}", actor.uri, dice.range(1000, 9_999_999)),
                "type": "Like", "actor": actor.uri, "object": object,
            }),
            Software::Misskey => {
                let mut v = json!({
                    "@context": ctx, "type": "Like", "id": format!("https://{}/likes/{}", actor.host, ids::aid(at, dice)),
                    "actor": actor.uri, "object": object,
                });
                let reaction = *dice.pick(&["👍", "❤", "🎉", "😆", ":blobcat:"]);
                v["content"] = Value::from(reaction);
                v["_misskey_reaction"] = Value::from(reaction);
                if reaction.starts_with(':') {
                    v["tag"] = json!([{
                        "id": format!("https://{}/emojis/blobcat", actor.host), "type": "Emoji",
                        "name": reaction, "updated": "2025-11-02T09:14:21.513Z",
                        "icon": {"type": "Image", "mediaType": "image/png",
                                 "url": format!("https://{}/files/{}", actor.host, ids::uuid(dice))},
                    }]);
                }
                v
            }
            Software::GoToSocial => json!({
                "@context": ctx, "id": format!("{}/liked/{}", actor.uri, ids::ulid(at, dice)),
                "type": "Like", "actor": actor.uri, "object": object, "to": author.uri,
            }),
            Software::Akkoma => json!({
                "@context": ctx, "id": format!("https://{}/activities/{}", actor.host, ids::uuid(dice)),
                "type": "Like", "actor": actor.uri, "object": object,
                "to": [actor.followers(), author.uri], "cc": [PUBLIC],
            }),
        }
    }

    /// `actor` follows `target`.
    pub fn follow(&self, actor: &Person, target: &Person, at: u64, dice: &mut Dice) -> Value {
        let ctx = self.context(actor);
        match actor.software {
            Software::Mastodon => json!({
                "@context": ctx, "id": format!("https://{}/{}", actor.host, ids::uuid(dice)),
                "type": "Follow", "actor": actor.uri, "object": target.uri,
            }),
            Software::Misskey => {
                let me = actor.uri.rsplit('/').next().unwrap_or_default().to_owned();
                json!({
                    "@context": ctx, "type": "Follow",
                    "id": format!("https://{}/follows/{me}/{}", actor.host, ids::aid(at, dice)),
                    "actor": actor.uri, "object": target.uri,
                })
            }
            Software::GoToSocial => json!({
                "@context": ctx, "id": format!("{}/follow/{}", actor.uri, ids::ulid(at, dice)),
                "type": "Follow", "actor": actor.uri, "object": target.uri, "to": target.uri,
            }),
            Software::Akkoma => json!({
                "@context": ctx, "id": format!("https://{}/activities/{}", actor.host, ids::uuid(dice)),
                "type": "Follow", "actor": actor.uri, "object": target.uri, "state": "pending",
                "to": [target.uri], "cc": [],
            }),
        }
    }

    /// `actor` accepts `follower`'s follow (whose id `follow_id` the
    /// follower's server minted), embedding the follow as Mastodon
    /// requires.
    pub fn accept(
        &self,
        actor: &Person,
        follower: &Person,
        follow_id: &str,
        at: u64,
        dice: &mut Dice,
    ) -> Value {
        let follow = json!({
            "id": follow_id, "type": "Follow", "actor": follower.uri, "object": actor.uri,
        });
        let ctx = self.context(actor);
        match actor.software {
            Software::Mastodon => json!({
                "@context": ctx, "id": format!("{}#accepts/follows/{}", actor.uri, dice.range(1000, 9_999_999)),
                "type": "Accept", "actor": actor.uri, "object": follow,
            }),
            Software::Misskey => json!({
                "@context": ctx, "id": format!("https://{}/{}", actor.host, ids::uuid(dice)),
                "type": "Accept", "actor": actor.uri, "object": follow,
            }),
            Software::GoToSocial => json!({
                "@context": ctx, "id": format!("{}/accepts/{}", actor.uri, ids::ulid(at, dice)),
                "type": "Accept", "actor": actor.uri, "object": follow, "to": follower.uri,
            }),
            Software::Akkoma => json!({
                "@context": ctx, "id": format!("https://{}/activities/{}", actor.host, ids::uuid(dice)),
                "type": "Accept", "actor": actor.uri, "object": follow, "to": [follower.uri],
            }),
        }
    }
}
