//! `mention-limit`: the 2024 wave's most visible trait was posts with ten
//! direct mentions. This module counts the actors an activity mentions (its
//! `Mention` tags) and, for a direct message, the actors it addresses, and
//! acts when the count passes a limit, with a lower limit for actors this
//! server first saw recently.
//!
//! Public and followers-only posts are judged by their mentions alone: some
//! servers (Plume) address every follower individually in `cc`, which is
//! delivery, not mentioning.
//!
//! People already in the conversation do not count towards the limit: the
//! mentioned actors who took part in the post it replies to
//! (`relations.thread_mentions`) and the mentioned local users who follow
//! the actor (`relations.known_mentions`). A busy thread of friends (a
//! dozen people replying to each other) passes; ten strangers do not. An
//! actor a local user follows is never "new", however recently the host
//! first saw it (on install day, once follows are imported with `palisade
//! known import`, friends are not held to the lower limit).
//!
//! During the host's learning period the lower limit still applies to
//! actors with no known tie (the host holds those rejections in quarantine
//! by itself): a busy thread among people nobody imported may be held for
//! review on install day, but a ten-mention wave is not let through.
//!
//! Configuration (all optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `max_mentions` | 10 | the most mentions any actor may send |
//! | `followed_max_mentions` | 20 | the most for an established actor that local users follow (`relations.local_followers` ≥ 1): people, not fresh accounts, starting a busy thread among friends; at least `max_mentions` |
//! | `new_actor_max_mentions` | 4 | the most for a new actor: first seen less than `new_actor_hours` ago and followed by no local user |
//! | `new_actor_hours` | 24 | how long an actor counts as new |
//! | `action` | `"reject"` | `"reject"`, `"quarantine"` or `"score"` |
//! | `points` | 10.0 | points when `action` is `"score"` |

use palisade_sdk::{Activity, Context, Description, Policy, Verdict, Visibility, config, newcomer};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MentionLimit {
    max_mentions: usize,
    followed_max_mentions: usize,
    new_actor_max_mentions: usize,
    new_actor_hours: u64,
    action: Action,
    points: f64,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Reject,
    Quarantine,
    Score,
}

impl Default for MentionLimit {
    fn default() -> Self {
        MentionLimit {
            max_mentions: 10,
            followed_max_mentions: 20,
            new_actor_max_mentions: 4,
            new_actor_hours: 24,
            action: Action::Reject,
            points: 10.0,
        }
    }
}

const SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "max_mentions": {"type": "integer", "minimum": 0, "default": 10},
    "followed_max_mentions": {"type": "integer", "minimum": 0, "default": 20},
    "new_actor_max_mentions": {"type": "integer", "minimum": 0, "default": 4},
    "new_actor_hours": {"type": "integer", "minimum": 0, "default": 24},
    "action": {"enum": ["reject", "quarantine", "score"], "default": "reject"},
    "points": {"type": "number", "default": 10.0}
  }
}"#;

/// The collections that address many people at once, not one actor.
fn is_collection(uri: &str) -> bool {
    matches!(
        uri,
        "https://www.w3.org/ns/activitystreams#Public" | "as:Public" | "Public"
    ) || uri.ends_with("/followers")
        || uri.ends_with("/following")
}

/// Distinct actors mentioned by tag or, in a direct message, addressed in
/// `to`/`cc`.
pub fn addressees(activity: &Activity) -> usize {
    let mut seen: Vec<&str> = activity.mentions.iter().map(|m| m.href.as_str()).collect();
    if activity.visibility != Visibility::Direct {
        return seen.len();
    }
    for uri in activity.to.iter().chain(&activity.cc) {
        let uri = uri.as_str();
        if !is_collection(uri) && Some(uri) != activity.actor.as_deref() && !seen.contains(&uri) {
            seen.push(uri);
        }
    }
    seen.len()
}

impl Policy for MentionLimit {
    fn describe() -> Description {
        Description::new(
            "mention-limit",
            env!("CARGO_PKG_VERSION"),
            "Acts on activities that mention or address too many actors, \
             with a lower limit for actors first seen recently.",
        )
        .config_schema(SCHEMA)
    }

    fn configure(json: &str) -> Result<Self, String> {
        let mut policy: MentionLimit = config::parse(json)?;
        // A followed actor is never held to less than anyone else.
        policy.followed_max_mentions = policy.followed_max_mentions.max(policy.max_mentions);
        Ok(policy)
    }

    fn judge(&self, activity: &Activity, cx: &Context) -> Verdict {
        let all = addressees(activity);
        if all <= self.new_actor_max_mentions.min(self.max_mentions) {
            return Verdict::pass();
        }
        let in_conversation = cx
            .relations
            .thread_mentions
            .saturating_add(cx.relations.known_mentions) as usize;
        let count = all.saturating_sub(in_conversation);
        // An activity naming no actor gets the stricter limit.
        // New by time alone: the lower limit is for accounts first seen
        // recently; one a local user follows is not new.
        let is_new = !cx.actor_local
            && cx.relations.local_followers == 0
            && (newcomer::recent(cx.actor_first_seen, cx, self.new_actor_hours).is_some()
                || cx.actor_first_seen.is_none());
        let (limit, who) = if is_new {
            (
                self.new_actor_max_mentions,
                format!(
                    " for an actor first seen less than {}h ago",
                    self.new_actor_hours
                ),
            )
        } else if cx.relations.local_followers > 0 {
            (
                self.followed_max_mentions,
                " for an actor local users follow".to_owned(),
            )
        } else {
            (self.max_mentions, String::new())
        };
        if count <= limit {
            return Verdict::pass();
        }
        let excused = all - count;
        let what = if excused == 0 {
            format!("{count} mentions")
        } else {
            format!(
                "{count} mentions of people outside the conversation ({excused} in the thread \
                 or following the actor not counted)"
            )
        };
        let reason = format!("{what} exceed the limit of {limit}{who}");
        match self.action {
            Action::Reject => Verdict::reject(reason),
            Action::Quarantine => Verdict::quarantine(reason),
            Action::Score => Verdict::score(self.points, reason).label("mentions"),
        }
    }
}

palisade_sdk::export_policy!(MentionLimit);

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_sdk::testing::TestHost;
    use std::time::Duration;

    fn note(mentions: usize, actor: &str) -> String {
        let tags: Vec<String> = (0..mentions)
            .map(|i| format!(r#"{{"type":"Mention","href":"https://home.example/users/u{i}"}}"#))
            .collect();
        format!(
            r#"{{"type":"Create","actor":"{actor}","to":["https://www.w3.org/ns/activitystreams#Public"],
               "object":{{"type":"Note","content":"hi","tag":[{}]}}}}"#,
            tags.join(",")
        )
    }

    #[test]
    fn new_actor_with_ten_mentions_is_rejected_with_the_count() {
        let host = TestHost::new();
        let v = host
            .judge_json::<MentionLimit>("{}", &note(10, "https://spam.example/u/bot1"))
            .unwrap();
        assert!(v.is_reject());
        assert_eq!(
            v.reason(),
            Some("10 mentions exceed the limit of 4 for an actor first seen less than 24h ago")
        );
    }

    #[test]
    fn established_actor_gets_the_higher_limit() {
        let host = TestHost::new();
        let actor = "https://old.example/u/alice";
        host.saw_actor_at(actor, host.now());
        host.advance(Duration::from_secs(48 * 3600));
        let policy = host.configure::<MentionLimit>("{}").unwrap();
        let eight = host.parse(&note(8, actor)).unwrap();
        assert!(host.judge(&policy, &eight).is_pass());
        let eleven = host.parse(&note(11, actor)).unwrap();
        let v = host.judge(&policy, &eleven);
        assert_eq!(v.reason(), Some("11 mentions exceed the limit of 10"));
    }

    #[test]
    fn a_reply_with_two_mentions_passes() {
        let host = TestHost::new();
        let v = host
            .judge_json::<MentionLimit>("{}", &note(2, "https://r.example/u/a"))
            .unwrap();
        assert!(v.is_pass());
    }

    #[test]
    fn direct_message_addressees_count() {
        let host = TestHost::new();
        let json = r#"{"type":"Create","actor":"https://r.example/u/a",
            "to":["https://h.example/u/1","https://h.example/u/2","https://h.example/u/3"],
            "cc":["https://r.example/u/a","https://h.example/u/4","https://h.example/u/5"],
            "object":{"type":"Note","tag":[{"type":"Mention","href":"https://h.example/u/1"}]}}"#;
        let a = host.parse(json).unwrap();
        assert_eq!(
            addressees(&a),
            5,
            "the mention and the addressee are one actor; the sender is not counted"
        );
        let v = host.judge_json::<MentionLimit>("{}", json).unwrap();
        assert!(v.is_reject());
    }

    #[test]
    fn public_posts_addressed_to_many_followers_are_not_mentions() {
        // Plume delivers a public post by listing every follower in cc.
        let cc: Vec<String> = (0..50)
            .map(|i| format!(r#""https://f{i}.example/u/x""#))
            .collect();
        let json = format!(
            r#"{{"type":"Create","actor":"https://blog.example/@/ana/","to":["as:Public"],"cc":[{}],
                "object":{{"type":"Article","content":"a post"}}}}"#,
            cc.join(",")
        );
        let v = TestHost::new()
            .judge_json::<MentionLimit>("{}", &json)
            .unwrap();
        assert!(v.is_pass());
    }

    #[test]
    fn action_and_limits_are_configurable() {
        let host = TestHost::new();
        let v = host
            .judge_json::<MentionLimit>(
                r#"{"new_actor_max_mentions": 12, "action": "score", "points": 3.5}"#,
                &note(11, "https://r.example/u/a"),
            )
            .unwrap();
        assert!(v.is_pass(), "11 is within the raised new-actor limit");
        let v = host
            .judge_json::<MentionLimit>(
                r#"{"action": "quarantine"}"#,
                &note(5, "https://r.example/u/b"),
            )
            .unwrap();
        assert!(v.is_quarantine());
        let v = host
            .judge_json::<MentionLimit>(
                r#"{"action": "score", "points": 3.5}"#,
                &note(5, "https://r.example/u/c"),
            )
            .unwrap();
        assert_eq!(v.points(), 3.5);
    }

    /// A reply in a busy thread: `n` people mentioned, all of whom took
    /// part in the post it replies to.
    fn busy_thread(host: &TestHost, actor: &str, n: usize) -> palisade_sdk::Activity {
        let people: Vec<String> = (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    format!("https://home.example/users/u{i}")
                } else {
                    format!("https://friends.example/users/f{i}")
                }
            })
            .collect();
        let tags = |list: &[String]| {
            list.iter()
                .map(|h| format!(r#"{{"type":"Mention","href":"{h}"}}"#))
                .collect::<Vec<_>>()
                .join(",")
        };
        let root = host
            .parse(&format!(
                r#"{{"type":"Create","actor":"{}","object":{{"type":"Note",
                   "id":"https://friends.example/n/root","content":"party plans","tag":[{}]}}}}"#,
                people[1],
                tags(&people)
            ))
            .unwrap();
        host.learn(&root);
        host.parse(&format!(
            r#"{{"type":"Create","actor":"{actor}","to":["https://www.w3.org/ns/activitystreams#Public"],
               "object":{{"type":"Note","id":"https://friends.example/n/reply","content":"count me in",
               "inReplyTo":"https://friends.example/n/root","tag":[{}]}}}}"#,
            tags(&people)
        ))
        .unwrap()
    }

    #[test]
    fn a_busy_thread_among_people_in_it_passes_even_for_a_new_actor() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let policy = host.configure::<MentionLimit>("{}").unwrap();
        for n in [6, 9, 12] {
            let reply = busy_thread(&host, &format!("https://friends.example/users/new{n}"), n);
            let v = host.judge(&policy, &reply);
            assert!(v.is_pass(), "{n} mentions in the thread: {v:?}");
        }
    }

    #[test]
    fn mentions_of_followers_do_not_count_but_strangers_do() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let actor = "https://friends.example/users/ana";
        let policy = host.configure::<MentionLimit>("{}").unwrap();
        let ten = host.parse(&note(10, actor)).unwrap();
        // Ten strangers from a new actor: rejected.
        assert!(host.judge(&policy, &ten).is_reject());
        // Once one local user follows the actor it is known: the limit
        // for followed actors, and that follower's mention is not counted.
        host.follows("https://home.example/users/u0", actor);
        assert!(host.judge(&policy, &ten).is_pass());
        let twelve = host.parse(&note(12, actor)).unwrap();
        assert!(host.judge(&policy, &twelve).is_pass());
        let many = host.parse(&note(22, actor)).unwrap();
        assert_eq!(
            host.judge(&policy, &many).reason(),
            Some(
                "21 mentions of people outside the conversation (1 in the thread or following \
                 the actor not counted) exceed the limit of 20 for an actor local users follow"
            )
        );
        // Without a follower, an established actor keeps the common limit.
        let bo = "https://friends.example/users/bo";
        host.saw_actor_at(bo, host.now() - 2 * 86_400_000);
        let other = host.parse(&note(12, bo)).unwrap();
        assert!(
            host.judge(&policy, &other)
                .reason()
                .unwrap()
                .ends_with("exceed the limit of 10")
        );
    }

    #[test]
    fn the_ten_mention_wave_is_rejected_during_learning_too() {
        let host = TestHost::new().local_hosts(["home.example"]);
        host.set_learning(true);
        let v = host
            .judge_json::<MentionLimit>("{}", &note(10, "https://spam.example/u/bot9"))
            .unwrap();
        assert!(v.is_reject(), "{v:?}");
    }

    #[test]
    fn bad_config_names_the_problem() {
        let err = TestHost::new()
            .configure::<MentionLimit>(r#"{"max_mention": 3}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown field `max_mention`"), "{err}");
        let err = TestHost::new()
            .configure::<MentionLimit>(r#"{"action": "ban"}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown variant `ban`"), "{err}");
    }
}
