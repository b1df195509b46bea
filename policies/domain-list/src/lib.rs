//! `domain-list`: most servers already keep domain blocks, often shared as a
//! Mastodon export. This module turns the admin's named host lists into
//! verdicts: an activity whose actor lives on a listed host, or that carries
//! a listed server's post (an `Announce` of it, a reply to it), gets the
//! action configured for the entry's severity. A subdomain of a listed
//! domain is covered by the entry.
//!
//! Lists are checked in the order given; when several hosts or lists match,
//! the strictest action wins. With no lists configured it passes everything.
//!
//! Configuration (all optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `lists` | `[]` | names of the host lists to consult |
//! | `suspend` | `"reject"` | action for an entry of severity suspend |
//! | `silence` | `"quarantine"` | action for an entry of severity silence |
//! | `noop` | `"pass"` | action for an entry of severity noop |
//! | `points` | 5.0 | points when an action is `"score"` |
//! | `check_object_host` | true | also check the host of the activity's object |
//! | `check_mention_hosts` | false | also check the hosts of mentioned actors |
//!
//! Actions are `"reject"`, `"quarantine"`, `"score"` or `"pass"`.

use palisade_sdk::lists::{self, DomainEntry, Severity};
use palisade_sdk::text::host_of;
use palisade_sdk::{Activity, Context, Description, Policy, Verdict, config};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DomainList {
    lists: Vec<String>,
    suspend: Action,
    silence: Action,
    noop: Action,
    points: f64,
    check_object_host: bool,
    check_mention_hosts: bool,
}

/// Declared from mildest to strictest, so that the derived order picks the
/// action to take when several entries match.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Pass,
    Score,
    Quarantine,
    Reject,
}

impl Default for DomainList {
    fn default() -> Self {
        DomainList {
            lists: Vec::new(),
            suspend: Action::Reject,
            silence: Action::Quarantine,
            noop: Action::Pass,
            points: 5.0,
            check_object_host: true,
            check_mention_hosts: false,
        }
    }
}

const SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "lists": {"type": "array", "items": {"type": "string"}, "default": []},
    "suspend": {"enum": ["reject", "quarantine", "score", "pass"], "default": "reject"},
    "silence": {"enum": ["reject", "quarantine", "score", "pass"], "default": "quarantine"},
    "noop": {"enum": ["reject", "quarantine", "score", "pass"], "default": "pass"},
    "points": {"type": "number", "default": 5.0},
    "check_object_host": {"type": "boolean", "default": true},
    "check_mention_hosts": {"type": "boolean", "default": false}
  }
}"#;

impl DomainList {
    fn action_for(&self, severity: Severity) -> Action {
        match severity {
            Severity::Suspend => self.suspend,
            Severity::Silence => self.silence,
            Severity::Noop => self.noop,
        }
    }

    /// The hosts to look up, each with what it is to the activity, without
    /// repeats: a post's object usually lives on its actor's host.
    fn hosts(&self, activity: &Activity) -> Vec<(&'static str, String)> {
        let mut hosts: Vec<(&'static str, String)> = Vec::new();
        let mut add = |role: &'static str, host: Option<String>| {
            if let Some(host) = host
                && !hosts.iter().any(|(_, h)| *h == host)
            {
                hosts.push((role, host));
            }
        };
        add(
            "actor host",
            activity
                .actor_host
                .clone()
                .or_else(|| activity.actor.as_deref().and_then(host_of)),
        );
        if self.check_object_host {
            add(
                "object host",
                activity.object_id.as_deref().and_then(host_of),
            );
        }
        if self.check_mention_hosts {
            for m in &activity.mentions {
                add(
                    "mentioned host",
                    m.host.clone().or_else(|| host_of(&m.href)),
                );
            }
        }
        hosts
    }

    fn verdict(&self, action: Action, reason: String) -> Verdict {
        match action {
            Action::Pass => Verdict::pass(),
            Action::Score => Verdict::score(self.points, reason).label("domain-list"),
            Action::Quarantine => Verdict::quarantine(reason),
            Action::Reject => Verdict::reject(reason),
        }
    }
}

fn reason(role: &str, host: &str, list: &str, entry: &DomainEntry) -> String {
    let listed = if entry.domain == host {
        String::new()
    } else {
        format!(" as {}", entry.domain)
    };
    let severity = entry.severity.as_str();
    let comment = entry
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| format!(": {c}"))
        .unwrap_or_default();
    format!("{role} {host} is listed in `{list}`{listed} ({severity}){comment}")
}

impl Policy for DomainList {
    fn describe() -> Description {
        Description::new(
            "domain-list",
            env!("CARGO_PKG_VERSION"),
            "Acts on activities whose actor or object comes from a host on \
             the admin's domain lists, by the entry's severity.",
        )
        .capabilities(["lists"])
        .config_schema(SCHEMA)
    }

    fn configure(json: &str) -> Result<Self, String> {
        config::parse(json)
    }

    fn judge(&self, activity: &Activity, _cx: &Context) -> Verdict {
        if self.lists.is_empty() {
            return Verdict::pass();
        }
        let mut strictest: Option<(Action, String)> = None;
        for (role, host) in self.hosts(activity) {
            for list in &self.lists {
                let Some(entry) = lists::match_domain(list, &host) else {
                    continue;
                };
                let action = self.action_for(entry.severity);
                if action == Action::Pass || strictest.as_ref().is_some_and(|(a, _)| *a >= action) {
                    continue;
                }
                let why = reason(role, &host, list, &entry);
                // Nothing later can be stricter; skip the remaining lookups.
                if action == Action::Reject {
                    return self.verdict(action, why);
                }
                strictest = Some((action, why));
            }
        }
        match strictest {
            Some((action, reason)) => self.verdict(action, reason),
            None => Verdict::pass(),
        }
    }
}

palisade_sdk::export_policy!(DomainList);

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_sdk::memory::NamedList;
    use palisade_sdk::testing::TestHost;

    fn entry(domain: &str, severity: Severity, comment: Option<&str>) -> DomainEntry {
        DomainEntry {
            domain: domain.to_owned(),
            severity,
            reject_media: false,
            reject_reports: false,
            comment: comment.map(str::to_owned),
        }
    }

    /// A Mastodon-style export: one suspended, one silenced, one noop.
    fn host() -> TestHost {
        TestHost::new()
            .list(
                "blocklist",
                NamedList::domains([
                    entry("spam.example", Severity::Suspend, Some("2024 wave origin")),
                    entry("loud.example", Severity::Silence, None),
                    entry("media.example", Severity::Noop, Some("media only")),
                ]),
            )
            .list(
                "extra",
                NamedList::plain(["bots.example", "spam.example"], Severity::Suspend),
            )
    }

    fn create(actor: &str, mentions: &[&str]) -> String {
        let tags: Vec<String> = mentions
            .iter()
            .map(|href| format!(r#"{{"type":"Mention","href":"{href}"}}"#))
            .collect();
        format!(
            r#"{{"type":"Create","actor":"{actor}",
               "object":{{"type":"Note","id":"{actor}/notes/1","content":"hi","tag":[{}]}}}}"#,
            tags.join(",")
        )
    }

    fn announce(actor: &str, object: &str) -> String {
        format!(r#"{{"type":"Announce","actor":"{actor}","object":"{object}"}}"#)
    }

    const BLOCKLIST: &str = r#"{"lists": ["blocklist"]}"#;

    #[test]
    fn suspended_actor_host_is_rejected_with_the_comment() {
        let v = host()
            .judge_json::<DomainList>(BLOCKLIST, &create("https://spam.example/u/bot", &[]))
            .unwrap();
        assert!(v.is_reject());
        assert_eq!(
            v.reason(),
            Some("actor host spam.example is listed in `blocklist` (suspend): 2024 wave origin")
        );
    }

    #[test]
    fn subdomain_of_a_listed_domain_matches() {
        let v = host()
            .judge_json::<DomainList>(BLOCKLIST, &create("https://a.b.spam.example/u/bot", &[]))
            .unwrap();
        assert!(v.is_reject());
        assert_eq!(
            v.reason(),
            Some(
                "actor host a.b.spam.example is listed in `blocklist` as spam.example \
                 (suspend): 2024 wave origin"
            )
        );
        let v = host()
            .judge_json::<DomainList>(BLOCKLIST, &create("https://notspam.example/u/a", &[]))
            .unwrap();
        assert!(v.is_pass(), "a suffix that is not a parent domain");
    }

    #[test]
    fn each_severity_gets_its_configured_action() {
        let host = host();
        let v = host
            .judge_json::<DomainList>(BLOCKLIST, &create("https://loud.example/u/a", &[]))
            .unwrap();
        assert!(v.is_quarantine());
        assert_eq!(
            v.reason(),
            Some("actor host loud.example is listed in `blocklist` (silence)")
        );
        let v = host
            .judge_json::<DomainList>(BLOCKLIST, &create("https://media.example/u/a", &[]))
            .unwrap();
        assert!(v.is_pass());

        let config = r#"{"lists": ["blocklist"], "suspend": "quarantine", "silence": "score",
                         "noop": "score", "points": 2.5}"#;
        let v = host
            .judge_json::<DomainList>(config, &create("https://spam.example/u/a", &[]))
            .unwrap();
        assert!(v.is_quarantine());
        let v = host
            .judge_json::<DomainList>(config, &create("https://loud.example/u/a", &[]))
            .unwrap();
        assert_eq!(v.points(), 2.5);
        let v = host
            .judge_json::<DomainList>(config, &create("https://media.example/u/a", &[]))
            .unwrap();
        assert_eq!(
            v.reason(),
            Some("actor host media.example is listed in `blocklist` (noop): media only")
        );
    }

    #[test]
    fn announce_of_a_listed_servers_post_is_caught_by_its_object() {
        let json = announce(
            "https://fine.example/u/alice",
            "https://spam.example/notes/123",
        );
        let v = host().judge_json::<DomainList>(BLOCKLIST, &json).unwrap();
        assert!(v.is_reject());
        assert!(
            v.reason()
                .unwrap()
                .starts_with("object host spam.example is listed in `blocklist` (suspend)"),
            "{:?}",
            v.reason()
        );
        let config = r#"{"lists": ["blocklist"], "check_object_host": false}"#;
        assert!(
            host()
                .judge_json::<DomainList>(config, &json)
                .unwrap()
                .is_pass()
        );
    }

    #[test]
    fn mention_hosts_are_only_checked_when_asked() {
        let json = create(
            "https://fine.example/u/alice",
            &["https://loud.example/u/bob"],
        );
        assert!(
            host()
                .judge_json::<DomainList>(BLOCKLIST, &json)
                .unwrap()
                .is_pass()
        );
        let config = r#"{"lists": ["blocklist"], "check_mention_hosts": true}"#;
        let v = host().judge_json::<DomainList>(config, &json).unwrap();
        assert!(v.is_quarantine());
        assert_eq!(
            v.reason(),
            Some("mentioned host loud.example is listed in `blocklist` (silence)")
        );
    }

    #[test]
    fn strictest_match_across_hosts_and_lists_wins() {
        let config = r#"{"lists": ["blocklist", "extra"], "check_object_host": true}"#;
        let v = host()
            .judge_json::<DomainList>(
                config,
                &announce("https://loud.example/u/a", "https://bots.example/n/1"),
            )
            .unwrap();
        assert!(v.is_reject());
        assert_eq!(
            v.reason(),
            Some("object host bots.example is listed in `extra` (suspend)")
        );
        let v = host()
            .judge_json::<DomainList>(config, &create("https://spam.example/u/bot", &[]))
            .unwrap();
        assert!(
            v.reason().unwrap().contains("listed in `blocklist`"),
            "the first list consulted names the match"
        );
    }

    #[test]
    fn unlisted_hosts_and_no_lists_pass() {
        let host = host();
        let v = host
            .judge_json::<DomainList>(BLOCKLIST, &create("https://fine.example/u/a", &[]))
            .unwrap();
        assert!(v.is_pass());
        let v = host
            .judge_json::<DomainList>("{}", &create("https://spam.example/u/bot", &[]))
            .unwrap();
        assert!(v.is_pass());
    }

    #[test]
    fn declares_the_lists_capability() {
        assert!(DomainList::describe().wants("lists"));
    }

    #[test]
    fn bad_config_names_the_problem() {
        let host = TestHost::new();
        let err = host
            .configure::<DomainList>(r#"{"list": ["blocklist"]}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown field `list`"), "{err}");
        let err = host
            .configure::<DomainList>(r#"{"suspend": "ban"}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown variant `ban`"), "{err}");
    }
}
