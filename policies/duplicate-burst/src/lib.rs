//! `duplicate-burst`: the wave's signature was the same text posted by many
//! fresh accounts within minutes, with only the mentions and links changed,
//! and, once exact copies were caught, a random tail added to each copy.
//! This module gives each post's text a few near-duplicate cluster keys
//! (`palisade_sdk::similar::keys`: MinHash over the text's words without
//! mentions, links and random-looking tokens) and counts the distinct *new*
//! actors that posted text of each cluster in a sliding window. From
//! `score_from` actors on it adds points; from `threshold` on it acts
//! (rejects, by default) on every further copy.
//!
//! Only new actors' posts that reach someone count, and only they are
//! judged: a new actor (first seen less than `new_actor_hours`, a week,
//! ago, or let through on fewer than 3 days, and followed by no local user:
//! `palisade_sdk::newcomer::is_new_actor`) mentioning local users with no
//! tie to it (a first contact), or, when it mentions no local user (or
//! `local_hosts` is not set), mentioning anyone. Established accounts quoting a popular text do not add up,
//! and cost no state calls; copies that mention no one here reach no one
//! here and are not counted, so a sender who saw a newcomer's text first
//! cannot get the newcomer's own post stopped by posting it from fresh
//! accounts without mentions. One actor
//! repeating itself counts once; that is a job for a rate limit.
//!
//! The first copies get through: nothing distinguishes them yet. How often
//! copies edited per post still share a key, and how rarely unrelated texts
//! do, is measured in `palisade_sdk::similar`'s docs. A text rewritten word
//! by word shares no key; `newcomer-burst` counts what such a wave still
//! has in common (links, media, origin hosts, first contacts).
//!
//! Against abuse:
//! - *Poisoning* (posting a victim's text from new accounts to get the
//!   victim's post stopped): an established victim is not judged by this
//!   module at all; a victim who is itself new could be hit, but only by
//!   someone who posts the same text first from `threshold` new accounts.
//! - *Blinding* (filling the clusters' sets so a wave is not counted): a set
//!   at the host's `state.max_members_per_set` answers as full, which trips
//!   the threshold rather than hiding the wave. Creating more keys than the
//!   host's `state.max_keys` within the window (100,000 distinct texts an
//!   hour) leaves new keys uncounted until old ones expire: a known limit
//!   of the host (docs/RELIABILITY.md).
//!
//! State calls: none for an established actor or a short text; one
//! `distinct-add` per cluster key (5) for a new actor's post.
//!
//! Configuration (all optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `kinds` | `["Create", "Update"]` | activity types whose text is counted |
//! | `min_chars` | 24 | texts shorter than this after normalising are ignored (texts of fewer than 5 words get no keys either) |
//! | `new_actor_hours` | 168 | an actor first seen less than this many hours ago, followed by no local user, is new (a week: accounts warmed up days before a wave are still strangers) |
//! | `threshold` | 5 | distinct new actors posting near-duplicate text that trigger `action` (at least 2) |
//! | `window_seconds` | 3600 | how far back actors are counted (at least 1) |
//! | `action` | `"reject"` | `"reject"`, `"quarantine"` or `"score"` |
//! | `points` | 10.0 | points when `action` is `"score"` |
//! | `score_from` | 3 | from this many distinct new actors (below `threshold`) add `score_points` (0: never) |
//! | `score_points` | 4.0 | points added from `score_from` actors on |

use palisade_sdk::newcomer::{first_contact, is_new_actor, window_text};
use palisade_sdk::{Activity, Context, Description, Policy, Verdict, config, similar, state, text};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DuplicateBurst {
    kinds: Vec<String>,
    min_chars: usize,
    new_actor_hours: u64,
    threshold: u64,
    window_seconds: u32,
    action: Action,
    points: f64,
    score_from: u64,
    score_points: f64,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Reject,
    Quarantine,
    Score,
}

impl Default for DuplicateBurst {
    fn default() -> Self {
        DuplicateBurst {
            kinds: vec!["Create".to_owned(), "Update".to_owned()],
            min_chars: 24,
            new_actor_hours: 168,
            threshold: 5,
            window_seconds: 3600,
            action: Action::Reject,
            points: 10.0,
            score_from: 3,
            score_points: 4.0,
        }
    }
}

const SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "kinds": {"type": "array", "items": {"type": "string"}, "default": ["Create", "Update"]},
    "min_chars": {"type": "integer", "minimum": 0, "default": 24},
    "new_actor_hours": {"type": "integer", "minimum": 0, "default": 168},
    "threshold": {"type": "integer", "minimum": 2, "default": 5},
    "window_seconds": {"type": "integer", "minimum": 1, "maximum": 4294967295, "default": 3600},
    "action": {"enum": ["reject", "quarantine", "score"], "default": "reject"},
    "points": {"type": "number", "default": 10.0},
    "score_from": {"type": "integer", "minimum": 0, "default": 3},
    "score_points": {"type": "number", "default": 4.0}
  }
}"#;

impl DuplicateBurst {
    /// Record `actor` under every cluster key of `text`, and return the
    /// most distinct actors any key has seen in the window. Every key is
    /// recorded, not just the first that counts high: a later copy may
    /// share only one of them.
    fn distinct_posters(&self, keys: &[String], actor: &str) -> u64 {
        keys.iter()
            .map(|key| state::distinct_add(&format!("s:{key}"), actor, self.window_seconds))
            .max()
            .unwrap_or(0)
    }
}

impl Policy for DuplicateBurst {
    fn describe() -> Description {
        Description::new(
            "duplicate-burst",
            env!("CARGO_PKG_VERSION"),
            "Acts on posts whose text, ignoring mentions, links, random tokens, \
             case and punctuation, many distinct new actors posted within a short window.",
        )
        .capabilities(["state"])
        .config_schema(SCHEMA)
    }

    fn configure(json: &str) -> Result<Self, String> {
        let policy: DuplicateBurst = config::parse(json)?;
        if policy.threshold < 2 {
            return Err("invalid configuration: `threshold` must be at least 2: \
                 one actor posting is not a burst"
                .to_owned());
        }
        if policy.window_seconds == 0 {
            return Err("invalid configuration: `window_seconds` must be at least 1".to_owned());
        }
        if !policy.score_points.is_finite() || !policy.points.is_finite() {
            return Err("invalid configuration: points must be finite numbers".to_owned());
        }
        Ok(policy)
    }

    fn judge(&self, activity: &Activity, cx: &Context) -> Verdict {
        // Only new actors' posts that reach someone count and are judged:
        // with local users mentioned, first contacts (mentioned users with
        // no tie to the actor); with none (or no `local_hosts` set), any
        // mention. Copies that mention no one reach no one's notifications,
        // and counting them would let a sender who saw a newcomer's text
        // first get the newcomer's own post stopped.
        let reaches = if activity.mentions.iter().any(|m| m.local) {
            first_contact(activity, cx, self.new_actor_hours).is_some()
        } else {
            !activity.mentions.is_empty() && is_new_actor(cx, self.new_actor_hours)
        };
        if !self.kinds.contains(&activity.kind) || !reaches {
            return Verdict::pass();
        }
        let Some(actor) = activity.actor.as_deref() else {
            return Verdict::pass();
        };
        if text::normalize(&activity.text).chars().count() < self.min_chars {
            return Verdict::pass();
        }
        let keys = similar::keys(&activity.text);
        if keys.is_empty() {
            return Verdict::pass();
        }
        let actors = self.distinct_posters(&keys, actor);
        let window = window_text(self.window_seconds);
        if actors >= self.threshold {
            let reason = format!(
                "near-duplicate text from {actors} distinct new actors within {window} \
                 (threshold {})",
                self.threshold
            );
            return match self.action {
                Action::Reject => Verdict::reject(reason),
                Action::Quarantine => Verdict::quarantine(reason),
                Action::Score => Verdict::score(self.points, reason).label("duplicate-burst"),
            };
        }
        if self.score_from > 0 && actors >= self.score_from {
            let reason = format!(
                "near-duplicate text from {actors} distinct new actors within {window} \
                 (scored from {}, {} at {})",
                self.score_from,
                action_word(self.action),
                self.threshold
            );
            return Verdict::score(self.score_points, reason).label("duplicate-burst");
        }
        Verdict::pass()
    }
}

fn action_word(action: Action) -> &'static str {
    match action {
        Action::Reject => "rejected",
        Action::Quarantine => "quarantined",
        Action::Score => "scored higher",
    }
}

palisade_sdk::export_policy!(DuplicateBurst);

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_sdk::testing::TestHost;
    use std::time::Duration;

    const SPAM: &str = "Join the real free speech server today, no moderation and no limits";

    /// A post by `actor` mentioning a local user (only posts reaching
    /// people here are judged).
    fn post(kind: &str, actor: &str, content: &str) -> String {
        format!(
            r#"{{"type":"{kind}","actor":"{actor}",
               "object":{{"type":"Note","content":"{content}",
               "tag":[{{"type":"Mention","href":"https://home.example/users/u0"}}]}}}}"#
        )
    }

    fn actor(i: usize) -> String {
        format!("https://spam{i}.example/users/bot")
    }

    /// Three letters and digits that differ for every `i`: the random tail
    /// an adapted wave adds to dodge exact matching.
    fn tail(i: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (0..3)
            .map(|_| {
                x = x.rotate_left(7) ^ (x >> 3);
                ALPHABET[(x % 36) as usize] as char
            })
            .collect()
    }

    /// The same message as an adapted wave sends it: each copy with its own
    /// mentions, invite code, capitals, punctuation and random tail.
    fn variant(i: usize) -> String {
        let mention = |u: usize| {
            format!(
                r#"<a href='https://home.example/users/u{u}' class='u-url mention'>@<span>u{u}</span></a>"#
            )
        };
        let link =
            format!(r#"<a href='https://discord.gg/c{i}x{i}'>https://discord.gg/c{i}x{i}</a>"#);
        let text = match i % 3 {
            0 => SPAM.to_owned(),
            1 => SPAM.to_uppercase(),
            _ => format!("{}!!!", SPAM.replace(',', " -")),
        };
        format!(
            "<p>{} {} {} {text} {link} {}</p>",
            mention(i),
            mention(i + 1),
            mention(i + 2),
            tail(i)
        )
    }

    #[test]
    fn an_adapted_wave_from_thirty_fresh_accounts_is_stopped_from_the_fifth() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let policy = host.configure::<DuplicateBurst>("{}").unwrap();
        let verdicts: Vec<Verdict> = (0..30)
            .map(|i| {
                let a = host.parse(&post("Create", &actor(i), &variant(i))).unwrap();
                host.judge(&policy, &a)
            })
            .collect();
        assert!(
            verdicts[0].is_pass() && verdicts[1].is_pass(),
            "not a burst yet"
        );
        assert_eq!(verdicts[2].points(), 4.0);
        assert_eq!(
            verdicts[2].reason(),
            Some(
                "near-duplicate text from 3 distinct new actors within 60 min \
                 (scored from 3, rejected at 5)"
            )
        );
        assert_eq!(verdicts[3].points(), 4.0);
        assert_eq!(
            verdicts[4].reason(),
            Some("near-duplicate text from 5 distinct new actors within 60 min (threshold 5)")
        );
        let rejected = verdicts.iter().filter(|v| v.is_reject()).count();
        assert_eq!(rejected, 26, "every copy from the fifth on");
    }

    #[test]
    fn one_actor_repeating_itself_passes() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let policy = host.configure::<DuplicateBurst>("{}").unwrap();
        for i in 0..10 {
            let a = host.parse(&post("Create", &actor(0), &variant(i))).unwrap();
            assert!(host.judge(&policy, &a).is_pass(), "copy {i}");
        }
    }

    #[test]
    fn established_actors_quoting_the_same_text_do_not_add_up() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let policy = host.configure::<DuplicateBurst>("{}").unwrap();
        for i in 0..20 {
            host.saw_actor_at(&actor(i), host.now());
        }
        host.advance(Duration::from_secs(8 * 24 * 3600));
        for i in 0..20 {
            // Active here on five days: established, not just seen once.
            host.active_on(&actor(i), 5);
            let a = host.parse(&post("Create", &actor(i), &variant(i))).unwrap();
            assert!(host.judge(&policy, &a).is_pass(), "established actor {i}");
        }
        // Nor did they add to the count: the next fresh actors start at 1.
        for i in 20..22 {
            let a = host.parse(&post("Create", &actor(i), &variant(i))).unwrap();
            assert!(host.judge(&policy, &a).is_pass(), "fresh actor {i}");
        }
    }

    #[test]
    fn a_new_actor_a_local_user_follows_is_not_counted() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let policy = host
            .configure::<DuplicateBurst>(r#"{"threshold": 2}"#)
            .unwrap();
        for i in 0..5 {
            host.follows("https://home.example/users/fan", &actor(i));
            let a = host.parse(&post("Create", &actor(i), &variant(i))).unwrap();
            assert!(host.judge(&policy, &a).is_pass(), "followed actor {i}");
        }
    }

    #[test]
    fn an_established_victim_is_not_stopped_by_new_accounts_posting_its_text() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let policy = host.configure::<DuplicateBurst>("{}").unwrap();
        let victim = "https://good.example/users/victim";
        host.saw_actor_at(victim, host.now());
        host.advance(Duration::from_secs(30 * 24 * 3600));
        host.active_on(victim, 10);
        for i in 0..10 {
            let a = host.parse(&post("Create", &actor(i), &variant(i))).unwrap();
            host.judge(&policy, &a);
        }
        let own = host.parse(&post("Create", victim, SPAM)).unwrap();
        assert!(host.judge(&policy, &own).is_pass());
    }

    #[test]
    fn counts_reset_once_the_window_has_passed() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let policy = host
            .configure::<DuplicateBurst>(r#"{"window_seconds": 600, "score_from": 0}"#)
            .unwrap();
        for i in 0..4 {
            let a = host.parse(&post("Create", &actor(i), &variant(i))).unwrap();
            assert!(host.judge(&policy, &a).is_pass());
        }
        host.advance(Duration::from_secs(600));
        for i in 4..8 {
            let a = host.parse(&post("Create", &actor(i), &variant(i))).unwrap();
            assert!(
                host.judge(&policy, &a).is_pass(),
                "copy {i} after the window"
            );
        }
        let a = host.parse(&post("Create", &actor(8), &variant(8))).unwrap();
        let v = host.judge(&policy, &a);
        assert_eq!(
            v.reason(),
            Some("near-duplicate text from 5 distinct new actors within 10 min (threshold 5)")
        );
    }

    #[test]
    fn short_texts_are_ignored() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let policy = host.configure::<DuplicateBurst>("{}").unwrap();
        for i in 0..20 {
            // "thanks for the follow" is 21 characters: below the default 24.
            let a = host
                .parse(&post("Create", &actor(i), "Thanks for the follow!"))
                .unwrap();
            assert!(host.judge(&policy, &a).is_pass());
        }
    }

    #[test]
    fn unrelated_texts_from_many_actors_pass() {
        let texts = [
            "What a lovely morning at the harbour with the kids and the dog",
            "Does anyone know a good recipe for sourdough without a starter?",
            "The council finally fixed the potholes on our street after two years",
            "Reading a fascinating book about the history of lighthouses tonight",
            "Our band plays its first gig this Saturday, wish us luck everyone",
            "Rust 2024 edition migration went smoother than I expected, nice",
            "Spotted a heron by the canal on my walk home from the station",
            "Anyone else think the new bus timetable makes no sense at all?",
        ];
        let host = TestHost::new().local_hosts(["home.example"]);
        let policy = host
            .configure::<DuplicateBurst>(r#"{"threshold": 2}"#)
            .unwrap();
        for (i, text) in texts.iter().enumerate() {
            let a = host.parse(&post("Create", &actor(i), text)).unwrap();
            assert!(host.judge(&policy, &a).is_pass(), "{text}");
        }
    }

    #[test]
    fn only_configured_kinds_are_counted() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let policy = host
            .configure::<DuplicateBurst>(r#"{"threshold": 2}"#)
            .unwrap();
        for i in 0..5 {
            let a = host
                .parse(&post("Announce", &actor(i), &variant(i)))
                .unwrap();
            assert!(host.judge(&policy, &a).is_pass());
        }
        let policy = host
            .configure::<DuplicateBurst>(r#"{"kinds": ["Announce"], "threshold": 2}"#)
            .unwrap();
        let a = host
            .parse(&post("Announce", &actor(0), &variant(0)))
            .unwrap();
        assert!(host.judge(&policy, &a).is_pass());
        let a = host
            .parse(&post("Announce", &actor(1), &variant(1)))
            .unwrap();
        assert!(host.judge(&policy, &a).is_reject());
    }

    #[test]
    fn action_is_configurable() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let policy = host
            .configure::<DuplicateBurst>(r#"{"threshold": 2, "action": "score", "points": 4.5}"#)
            .unwrap();
        let a = host.parse(&post("Create", &actor(0), &variant(0))).unwrap();
        assert!(host.judge(&policy, &a).is_pass());
        let a = host.parse(&post("Create", &actor(1), &variant(1))).unwrap();
        let v = host.judge(&policy, &a);
        assert_eq!(v.points(), 4.5);
        assert_eq!(
            v.reason(),
            Some("near-duplicate text from 2 distinct new actors within 60 min (threshold 2)")
        );

        let host = TestHost::new().local_hosts(["home.example"]);
        let policy = host
            .configure::<DuplicateBurst>(r#"{"threshold": 2, "action": "quarantine"}"#)
            .unwrap();
        let a = host.parse(&post("Create", &actor(0), &variant(0))).unwrap();
        host.judge(&policy, &a);
        let a = host.parse(&post("Create", &actor(1), &variant(1))).unwrap();
        assert!(host.judge(&policy, &a).is_quarantine());
    }

    #[test]
    fn bad_config_names_the_problem() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let err = host
            .configure::<DuplicateBurst>(r#"{"treshold": 3}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown field `treshold`"), "{err}");
        let err = host
            .configure::<DuplicateBurst>(r#"{"action": "ban"}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown variant `ban`"), "{err}");
        let err = host
            .configure::<DuplicateBurst>(r#"{"threshold": 1}"#)
            .err()
            .unwrap();
        assert!(err.contains("`threshold` must be at least 2"), "{err}");
        let err = host
            .configure::<DuplicateBurst>(r#"{"window_seconds": 0}"#)
            .err()
            .unwrap();
        assert!(err.contains("`window_seconds` must be at least 1"), "{err}");
    }
}
