//! `first-contact`: a spam wave arrives from accounts, and often whole
//! servers, nobody here has seen before, and its first act is to mention
//! local users who have never had anything to do with them. This module
//! flags activities that mention such *strangers* when their actor, or the
//! actor's host, was first seen recently.
//!
//! A stranger is a mentioned local user who neither follows the actor
//! (`relations.known_mentions`) nor took part in the post it replies to
//! (`relations.thread_mentions`): see `palisade_sdk::newcomer::strangers`.
//! An actor any local user follows is never flagged (a follow, learnt from
//! an `Accept` or imported, says someone here knows it), and neither is
//! one of the server's own users. An established correspondent mentioning
//! the same people is left alone.
//!
//! By default it only adds points: a newcomer greeting someone is normal, and
//! other modules tip the balance. It reads nothing but the activity and its
//! context, so it needs no capabilities.
//!
//! Configuration (all optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `new_actor_hours` | 24 | an actor first seen less than this many hours ago is new |
//! | `new_host_hours` | 24 | a host first seen less than this many hours ago is new |
//! | `min_local_mentions` | 1 | the fewest strangers (local users with no tie to the actor) mentioned for the module to act (at least 1) |
//! | `action` | `"score"` | `"score"`, `"quarantine"` or `"reject"` |
//! | `points` | 3.0 | points when `action` is `"score"` |

use palisade_sdk::newcomer::{HOUR_MS, recent, strangers};
use palisade_sdk::{Activity, Context, Description, Policy, Verdict, config};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FirstContact {
    new_actor_hours: u64,
    new_host_hours: u64,
    min_local_mentions: usize,
    action: Action,
    points: f64,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Score,
    Quarantine,
    Reject,
}

impl Default for FirstContact {
    fn default() -> Self {
        FirstContact {
            new_actor_hours: 24,
            new_host_hours: 24,
            min_local_mentions: 1,
            action: Action::Score,
            points: 3.0,
        }
    }
}

const SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "new_actor_hours": {"type": "integer", "minimum": 0, "default": 24},
    "new_host_hours": {"type": "integer", "minimum": 0, "default": 24},
    "min_local_mentions": {"type": "integer", "minimum": 1, "default": 1},
    "action": {"enum": ["score", "quarantine", "reject"], "default": "score"},
    "points": {"type": "number", "default": 3.0}
  }
}"#;

impl Policy for FirstContact {
    fn describe() -> Description {
        Description::new(
            "first-contact",
            env!("CARGO_PKG_VERSION"),
            "Flags activities that mention local users with no tie to their \
             actor when the actor or its host was first seen recently.",
        )
        .config_schema(SCHEMA)
    }

    fn configure(json: &str) -> Result<Self, String> {
        let policy: FirstContact = config::parse(json)?;
        if policy.min_local_mentions == 0 {
            // Zero would flag every activity of every new actor, mentions or
            // not, which is not what this module is about.
            return Err(
                "invalid configuration: `min_local_mentions` must be at least 1".to_owned(),
            );
        }
        Ok(policy)
    }

    fn judge(&self, activity: &Activity, cx: &Context) -> Verdict {
        if cx.actor_local || cx.relations.local_followers > 0 {
            return Verdict::pass();
        }
        let local = strangers(activity, cx) as usize;
        if local < self.min_local_mentions {
            return Verdict::pass();
        }
        let actor_age = recent(cx.actor_first_seen, cx, self.new_actor_hours);
        let host_age = recent(cx.host_first_seen, cx, self.new_host_hours);
        let host = activity.actor_host.as_deref().unwrap_or("unknown");
        let who = match (actor_age, host_age) {
            (None, None) => return Verdict::pass(),
            (Some(a), None) => format!("actor first seen {}h ago", a / HOUR_MS),
            (Some(a), Some(h)) => format!(
                "actor first seen {}h ago, from host {host} first seen {}h ago,",
                a / HOUR_MS,
                h / HOUR_MS
            ),
            (None, Some(h)) => {
                format!("actor from host {host} first seen {}h ago", h / HOUR_MS)
            }
        };
        let users = if local == 1 { "user" } else { "users" };
        let reason = format!("{who} mentions {local} local {users} with no tie to it");
        match self.action {
            Action::Reject => Verdict::reject(reason),
            Action::Quarantine => Verdict::quarantine(reason),
            Action::Score => {
                let mut verdict = Verdict::score(self.points, reason).label("first-contact");
                if actor_age.is_some() {
                    verdict = verdict.label("new-actor");
                }
                if host_age.is_some() {
                    verdict = verdict.label("new-host");
                }
                verdict
            }
        }
    }
}

palisade_sdk::export_policy!(FirstContact);

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_sdk::Ruling;
    use palisade_sdk::testing::TestHost;
    use std::time::Duration;

    const HOUR: Duration = Duration::from_secs(3600);

    fn host() -> TestHost {
        TestHost::new().local_hosts(["home.example"])
    }

    /// A note from `actor` mentioning `local` users here and `remote` users
    /// elsewhere.
    fn note(actor: &str, local: usize, remote: usize) -> String {
        let tags: Vec<String> = (0..local)
            .map(|i| format!("https://home.example/users/u{i}"))
            .chain((0..remote).map(|i| format!("https://elsewhere.example/users/r{i}")))
            .map(|href| format!(r#"{{"type":"Mention","href":"{href}"}}"#))
            .collect();
        format!(
            r#"{{"type":"Create","actor":"{actor}",
               "object":{{"type":"Note","content":"hello there","tag":[{}]}}}}"#,
            tags.join(",")
        )
    }

    fn labels(v: &Verdict) -> Vec<&str> {
        match &v.ruling {
            Ruling::Score(s) => s.labels.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn unknown_actor_on_unknown_host_mentioning_locals_scores() {
        let v = host()
            .judge_json::<FirstContact>("{}", &note("https://spam.example/u/bot", 3, 0))
            .unwrap();
        assert_eq!(v.points(), 3.0);
        assert_eq!(
            v.reason(),
            Some(
                "actor first seen 0h ago, from host spam.example first seen 0h ago, \
                 mentions 3 local users with no tie to it"
            )
        );
        assert_eq!(labels(&v), ["first-contact", "new-actor", "new-host"]);
    }

    #[test]
    fn new_actor_on_a_known_host_is_flagged_as_a_new_actor_only() {
        let host = host();
        host.saw_host_at("big.example", host.now() - 400 * 3_600_000);
        let v = host
            .judge_json::<FirstContact>("{}", &note("https://big.example/u/fresh", 1, 0))
            .unwrap();
        assert_eq!(
            v.reason(),
            Some("actor first seen 0h ago mentions 1 local user with no tie to it")
        );
        assert_eq!(labels(&v), ["first-contact", "new-actor"]);
    }

    #[test]
    fn actor_stops_being_new_after_new_actor_hours() {
        let host = host();
        let actor = "https://big.example/u/alice";
        host.saw_host_at("big.example", host.now() - 400 * 3_600_000);
        let policy = host.configure::<FirstContact>("{}").unwrap();
        let activity = host.parse(&note(actor, 2, 0)).unwrap();

        let v = host.judge(&policy, &activity);
        assert_eq!(v.points(), 3.0);
        host.advance(23 * HOUR);
        let v = host.judge(&policy, &activity);
        assert_eq!(
            v.reason(),
            Some("actor first seen 23h ago mentions 2 local users with no tie to it")
        );
        host.advance(HOUR);
        assert!(host.judge(&policy, &activity).is_pass());
    }

    #[test]
    fn older_actor_on_a_recently_seen_host_counts_when_host_window_is_longer() {
        let host = host();
        let actor = "https://young.example/u/a";
        host.saw_actor_at(actor, host.now());
        host.saw_host_at("young.example", host.now());
        host.advance(30 * HOUR);
        let v = host
            .judge_json::<FirstContact>(r#"{"new_host_hours": 168}"#, &note(actor, 1, 0))
            .unwrap();
        assert_eq!(
            v.reason(),
            Some(
                "actor from host young.example first seen 30h ago mentions 1 local user with no tie to it"
            )
        );
        assert_eq!(labels(&v), ["first-contact", "new-host"]);
    }

    #[test]
    fn no_local_mentions_passes_even_for_a_brand_new_actor() {
        let host = host();
        let v = host
            .judge_json::<FirstContact>("{}", &note("https://spam.example/u/a", 0, 5))
            .unwrap();
        assert!(v.is_pass());
        let v = host
            .judge_json::<FirstContact>("{}", &note("https://spam.example/u/b", 0, 0))
            .unwrap();
        assert!(v.is_pass());
    }

    #[test]
    fn established_actor_mentioning_locals_passes() {
        let host = host();
        let actor = "https://old.example/u/alice";
        host.saw_actor_at(actor, host.now());
        host.saw_host_at("old.example", host.now());
        host.advance(72 * HOUR);
        let v = host
            .judge_json::<FirstContact>("{}", &note(actor, 10, 0))
            .unwrap();
        assert!(v.is_pass());
    }

    #[test]
    fn only_local_mentions_count_towards_the_minimum() {
        let host = host();
        let config = r#"{"min_local_mentions": 2}"#;
        let v = host
            .judge_json::<FirstContact>(config, &note("https://spam.example/u/a", 1, 6))
            .unwrap();
        assert!(v.is_pass(), "one local user and six remote ones");
        let v = host
            .judge_json::<FirstContact>(config, &note("https://spam.example/u/b", 2, 0))
            .unwrap();
        assert!(
            v.reason()
                .unwrap()
                .ends_with("mentions 2 local users with no tie to it")
        );
    }

    #[test]
    fn action_and_points_are_configurable() {
        let host = host();
        let v = host
            .judge_json::<FirstContact>(
                r#"{"action": "quarantine"}"#,
                &note("https://spam.example/u/a", 1, 0),
            )
            .unwrap();
        assert!(v.is_quarantine());
        let v = host
            .judge_json::<FirstContact>(
                r#"{"action": "reject"}"#,
                &note("https://spam.example/u/b", 1, 0),
            )
            .unwrap();
        assert!(v.is_reject());
        assert!(v.reason().unwrap().starts_with("actor first seen 0h ago"));
        let v = host
            .judge_json::<FirstContact>(
                r#"{"points": 7.5}"#,
                &note("https://spam.example/u/c", 1, 0),
            )
            .unwrap();
        assert_eq!(v.points(), 7.5);
    }

    #[test]
    fn reads_only_the_context() {
        assert!(FirstContact::describe().capabilities.is_empty());
    }

    /// A reply to the thread `root` (already learnt), mentioning `people`.
    fn reply(actor: &str, root: &str, people: &[&str]) -> String {
        let tags: Vec<String> = people
            .iter()
            .map(|h| format!(r#"{{"type":"Mention","href":"{h}"}}"#))
            .collect();
        format!(
            r#"{{"type":"Create","actor":"{actor}","object":{{"type":"Note",
               "id":"{actor}/n/1","content":"me too","inReplyTo":"{root}","tag":[{}]}}}}"#,
            tags.join(",")
        )
    }

    #[test]
    fn a_new_actor_replying_to_people_in_the_thread_is_no_first_contact() {
        let host = host();
        let alice = "https://home.example/users/alice";
        let bob = "https://home.example/users/bob";
        let root = host
            .parse(&format!(
                r#"{{"type":"Create","actor":"https://old.example/u/olga","object":{{"type":"Note",
                   "id":"https://old.example/n/1","content":"who is in?","tag":[
                   {{"type":"Mention","href":"{alice}"}},{{"type":"Mention","href":"{bob}"}}]}}}}"#
            ))
            .unwrap();
        host.learn(&root);
        let policy = host.configure::<FirstContact>("{}").unwrap();
        let newcomer = "https://new.example/u/zed";
        let a = host
            .parse(&reply(newcomer, "https://old.example/n/1", &[alice]))
            .unwrap();
        assert!(
            host.judge(&policy, &a).is_pass(),
            "alice was mentioned in the post"
        );
        // bob took part in it too: still no stranger.
        let a = host
            .parse(&reply(newcomer, "https://old.example/n/1", &[alice, bob]))
            .unwrap();
        assert!(host.judge(&policy, &a).is_pass(), "both were in the post");
        // carol was never in it: she is a stranger to the newcomer.
        let carol = "https://home.example/users/carol";
        let a = host
            .parse(&reply(newcomer, "https://old.example/n/1", &[alice, carol]))
            .unwrap();
        assert_eq!(
            host.judge(&policy, &a).reason(),
            Some(
                "actor first seen 0h ago, from host new.example first seen 0h ago, \
                 mentions 1 local user with no tie to it"
            )
        );
    }

    #[test]
    fn an_actor_a_local_user_follows_is_never_flagged() {
        let host = host();
        let actor = "https://new.example/u/friend";
        host.follows("https://home.example/users/u0", actor);
        let v = host
            .judge_json::<FirstContact>("{}", &note(actor, 3, 0))
            .unwrap();
        assert!(v.is_pass(), "{v:?}");
    }

    #[test]
    fn a_newcomer_greeting_one_local_user_only_scores() {
        let host = host();
        host.set_learning(true);
        let v = host
            .judge_json::<FirstContact>("{}", &note("https://big.example/u/new", 1, 0))
            .unwrap();
        assert_eq!(v.points(), 3.0, "below the quarantine threshold of 5 alone");
    }

    #[test]
    fn bad_config_names_the_problem() {
        let host = TestHost::new();
        let err = host
            .configure::<FirstContact>(r#"{"new_actor_hour": 3}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown field `new_actor_hour`"), "{err}");
        let err = host
            .configure::<FirstContact>(r#"{"action": "ban"}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown variant `ban`"), "{err}");
        let err = host
            .configure::<FirstContact>(r#"{"min_local_mentions": 0}"#)
            .err()
            .unwrap();
        assert!(
            err.contains("`min_local_mentions` must be at least 1"),
            "{err}"
        );
    }
}
