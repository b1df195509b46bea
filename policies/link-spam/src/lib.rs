//! `link-spam`: a wave's posts exist to carry a link: to a chat server to
//! join, a site to visit, a channel to follow. This module looks at every
//! link a post carries and raises three signals, each with its own action:
//!
//! - **new actor**: an actor first seen less than `new_actor_hours` ago
//!   posting `new_actor.min_links` or more links. Links to the actor's own
//!   host (its own posts, a quote) are not counted;
//! - **invite**: a link to a chat-invite host (`discord.gg`, `t.me`, ...):
//!   a built-in list that `invite.hosts` replaces and `invite.extra_hosts`
//!   extends. An entry is a host, covering its subdomains, optionally with a
//!   path prefix (`discord.com/invite`);
//! - **listed**: a link whose host (or a parent domain) is on one of the
//!   admin's named lists, or whose whole URL is an entry of one.
//!
//! When several fire the strictest action wins, and scores add up: with the
//! defaults a new actor posting an invite link gets 2 + 3 points, enough to
//! be quarantined at Palisade's default threshold, while an established
//! actor sharing the same invite gets 3.
//!
//! Links are the post's link targets (`Activity::links`: anchors that are
//! neither mentions nor hashtags) and URLs written in its text or content
//! warning, with or without `https://` (`discord.gg/abc` counts, a host
//! alone such as `example.com` does not). Hosts in `allowed_hosts`, and
//! their subdomains, are ignored by every signal.
//!
//! Limits: the first 1,000 distinct links of a post are collected, and the
//! first 100 distinct hosts and 100 URLs among them are looked up in the
//! lists; a post carrying more is caught by the new-actor signal if its
//! actor is new. Shortened links are judged by the shortener's host.
//!
//! Configuration (all optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `new_actor_hours` | 24 | an actor first seen less than this many hours ago is new |
//! | `allowed_hosts` | `[]` | link hosts (and their subdomains) no signal counts, such as the server's own |
//! | `new_actor.enabled` | true | apply the new-actor signal |
//! | `new_actor.min_links` | 1 | the fewest links from a new actor that raise it (at least 1) |
//! | `new_actor.action` | `"score"` | `"reject"`, `"quarantine"` or `"score"` |
//! | `new_actor.points` | 2.0 | points when `new_actor.action` is `"score"` |
//! | `invite.enabled` | true | apply the invite signal |
//! | `invite.hosts` | see below | invite hosts, replacing the built-in list (`[]`: none) |
//! | `invite.extra_hosts` | `[]` | invite hosts added to `invite.hosts` |
//! | `invite.new_actors_only` | false | raise it only for new actors |
//! | `invite.action` | `"score"` | `"reject"`, `"quarantine"` or `"score"` |
//! | `invite.points` | 3.0 | points when `invite.action` is `"score"` |
//! | `listed.enabled` | true | apply the listed signal |
//! | `listed.lists` | `[]` | names of the lists to consult (each must be configured in Palisade) |
//! | `listed.action` | `"reject"` | `"reject"`, `"quarantine"` or `"score"` |
//! | `listed.points` | 5.0 | points when `listed.action` is `"score"` |
//!
//! The built-in invite hosts: `discord.gg`, `discord.com/invite`,
//! `discordapp.com/invite`, `t.me`, `telegram.me`, `chat.whatsapp.com`,
//! `line.me`.

use std::collections::HashSet;

use palisade_sdk::finding::{Action, Finding, combine};
pub use palisade_sdk::links::{Link, MAX_LINKS, links, within};
use palisade_sdk::lists::{self, DomainEntry};
use palisade_sdk::text::host_of;
use palisade_sdk::{Activity, Context, Description, Policy, Verdict, config};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkSpam {
    new_actor_hours: u64,
    allowed_hosts: Vec<String>,
    new_actor: NewActorSignal,
    invite: InviteSignal,
    listed: ListedSignal,
}

/// Links from actors first seen recently.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewActorSignal {
    enabled: bool,
    min_links: usize,
    action: Action,
    points: f64,
}

/// Links to chat-invite hosts.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InviteSignal {
    enabled: bool,
    hosts: Vec<String>,
    extra_hosts: Vec<String>,
    new_actors_only: bool,
    action: Action,
    points: f64,
    /// `hosts` and `extra_hosts`, checked, built by `configure`.
    #[serde(skip)]
    entries: Vec<InviteEntry>,
}

/// Links to hosts or URLs on the admin's lists.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListedSignal {
    enabled: bool,
    lists: Vec<String>,
    action: Action,
    points: f64,
}

/// Hosts, and host/path prefixes, whose links invite to a chat.
pub const DEFAULT_INVITE_HOSTS: &[&str] = &[
    "discord.gg",
    "discord.com/invite",
    "discordapp.com/invite",
    "t.me",
    "telegram.me",
    "chat.whatsapp.com",
    "line.me",
];

impl Default for LinkSpam {
    fn default() -> Self {
        LinkSpam {
            new_actor_hours: 24,
            allowed_hosts: Vec::new(),
            new_actor: NewActorSignal::default(),
            invite: InviteSignal::default(),
            listed: ListedSignal::default(),
        }
    }
}

impl Default for NewActorSignal {
    fn default() -> Self {
        NewActorSignal {
            enabled: true,
            min_links: 1,
            action: Action::Score,
            points: 2.0,
        }
    }
}

impl Default for InviteSignal {
    fn default() -> Self {
        InviteSignal {
            enabled: true,
            hosts: DEFAULT_INVITE_HOSTS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            extra_hosts: Vec::new(),
            new_actors_only: false,
            action: Action::Score,
            points: 3.0,
            entries: Vec::new(),
        }
    }
}

impl Default for ListedSignal {
    fn default() -> Self {
        ListedSignal {
            enabled: true,
            lists: Vec::new(),
            action: Action::Reject,
            points: 5.0,
        }
    }
}

const SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "new_actor_hours": {"type": "integer", "minimum": 0, "default": 24},
    "allowed_hosts": {"type": "array", "items": {"type": "string"}, "default": []},
    "new_actor": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "enabled": {"type": "boolean", "default": true},
        "min_links": {"type": "integer", "minimum": 1, "default": 1},
        "action": {"enum": ["reject", "quarantine", "score"], "default": "score"},
        "points": {"type": "number", "default": 2.0}
      }
    },
    "invite": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "enabled": {"type": "boolean", "default": true},
        "hosts": {"type": "array", "items": {"type": "string"},
                  "default": ["discord.gg", "discord.com/invite", "discordapp.com/invite",
                              "t.me", "telegram.me", "chat.whatsapp.com", "line.me"]},
        "extra_hosts": {"type": "array", "items": {"type": "string"}, "default": []},
        "new_actors_only": {"type": "boolean", "default": false},
        "action": {"enum": ["reject", "quarantine", "score"], "default": "score"},
        "points": {"type": "number", "default": 3.0}
      }
    },
    "listed": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "enabled": {"type": "boolean", "default": true},
        "lists": {"type": "array", "items": {"type": "string"}, "default": []},
        "action": {"enum": ["reject", "quarantine", "score"], "default": "reject"},
        "points": {"type": "number", "default": 5.0}
      }
    }
  }
}"#;

const HOUR_MS: u64 = 3_600_000;

/// The most distinct hosts, and URLs, of one post looked up in the lists:
/// each lookup is a host call, and the call has a deadline.
const MAX_LOOKUPS: usize = 100;

/// One invite host entry: a host, and a path prefix or none.
#[derive(Debug, Clone, PartialEq)]
struct InviteEntry {
    host: String,
    path: String,
}

impl InviteEntry {
    fn parse(entry: &str, key: &str) -> Result<InviteEntry, String> {
        let e = entry.trim().to_lowercase();
        let (host, path) = match e.split_once('/') {
            Some((h, p)) => (h, format!("/{}", p.trim_end_matches('/'))),
            None => (e.as_str(), String::new()),
        };
        let host = host.trim_end_matches('.');
        if host.is_empty() || e.contains("://") || e.contains([' ', '?', '#', '@', ':']) {
            return Err(format!(
                "invalid configuration at `{key}`: expected a host or host/path such as \
                 `discord.gg` or `discord.com/invite`, found `{entry}`"
            ));
        }
        Ok(InviteEntry {
            host: host.to_owned(),
            path: if path == "/" { String::new() } else { path },
        })
    }

    /// `/invite` covers `/invite`, `/invite/abc` and `/invite?x`, not
    /// `/invitees`.
    fn matches(&self, link: &Link) -> bool {
        within(&link.host, &self.host)
            && link
                .path
                .strip_prefix(self.path.as_str())
                .is_some_and(|rest| {
                    self.path.is_empty() || rest.is_empty() || rest.starts_with(['/', '?', '#'])
                })
    }

    fn text(&self) -> String {
        format!("{}{}", self.host, self.path)
    }
}

/// A host entry as the admin wrote it, checked and lower-cased.
fn host_entry(entry: &str, key: &str) -> Result<String, String> {
    let host = entry.trim().trim_end_matches('.').to_lowercase();
    if host.is_empty() || host.contains(['/', ':', '@', ' ']) {
        return Err(format!(
            "invalid configuration at `{key}`: expected a host such as `example.com`, \
             found `{entry}`"
        ));
    }
    Ok(host)
}

/// The first few distinct hosts, for a reason a human reads.
fn some_hosts<'a>(hosts: impl Iterator<Item = &'a str>) -> String {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut first: Vec<&str> = Vec::new();
    for h in hosts {
        if seen.insert(h) && first.len() < 3 {
            first.push(h);
        }
    }
    let mut text = first.join(", ");
    let more = seen.len() - first.len();
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// Why a link host is listed, in the words of domain-list: the entry that
/// covers it when that is a parent domain, and the admin's comment.
fn listed_host_reason(host: &str, list: &str, entry: &DomainEntry) -> String {
    let parent = if entry.domain == host {
        String::new()
    } else {
        format!(" as {}", entry.domain)
    };
    let comment = entry
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| format!(": {c}"))
        .unwrap_or_default();
    format!("link host {host} is listed in `{list}`{parent}{comment}")
}

impl LinkSpam {
    /// `capped`: the post had more links than were collected.
    fn new_actor(
        &self,
        links: &[&Link],
        capped: bool,
        actor_host: Option<&str>,
        age: Option<u64>,
    ) -> Option<Finding> {
        let rule = &self.new_actor;
        let age = age?;
        if !rule.enabled {
            return None;
        }
        let foreign: Vec<&Link> = links
            .iter()
            .copied()
            .filter(|l| actor_host.is_none_or(|h| l.host != h))
            .collect();
        if foreign.len() < rule.min_links {
            return None;
        }
        let n = foreign.len();
        let noun = if n == 1 { "link" } else { "links" };
        let at_least = if capped { "at least " } else { "" };
        Some(Finding {
            action: rule.action,
            points: rule.points,
            label: "new-actor-links",
            reason: format!(
                "actor first seen {}h ago posted {at_least}{n} {noun} ({})",
                age / HOUR_MS,
                some_hosts(foreign.iter().map(|l| l.host.as_str()))
            ),
        })
    }

    fn invite(&self, links: &[&Link], is_new: bool) -> Option<Finding> {
        let rule = &self.invite;
        if !rule.enabled || rule.new_actors_only && !is_new {
            return None;
        }
        let hits: Vec<String> = links
            .iter()
            .filter_map(|l| {
                rule.entries
                    .iter()
                    .find(|e| e.matches(l))
                    .map(InviteEntry::text)
            })
            .collect();
        if hits.is_empty() {
            return None;
        }
        let noun = if hits.len() == 1 { "link" } else { "links" };
        Some(Finding {
            action: rule.action,
            points: rule.points,
            label: "invite-link",
            reason: format!(
                "invite {noun} to {}",
                some_hosts(hits.iter().map(String::as_str))
            ),
        })
    }

    fn listed(&self, links: &[&Link]) -> Option<Finding> {
        let rule = &self.listed;
        if !rule.enabled || rule.lists.is_empty() {
            return None;
        }
        let mut hosts: Vec<&str> = Vec::new();
        for l in links {
            if hosts.len() == MAX_LOOKUPS {
                break;
            }
            if !hosts.contains(&l.host.as_str()) {
                hosts.push(&l.host);
            }
        }
        let mut reasons: Vec<String> = Vec::new();
        for list in &rule.lists {
            let mut listed_hosts: Vec<&str> = Vec::new();
            for host in &hosts {
                if let Some(entry) = lists::match_domain(list, host) {
                    reasons.push(listed_host_reason(host, list, &entry));
                    listed_hosts.push(host);
                }
            }
            for l in links.iter().take(MAX_LOOKUPS) {
                // A URL whose host is listed has been reported already.
                if !listed_hosts.contains(&l.host.as_str()) && lists::contains(list, &l.url) {
                    reasons.push(format!("link {} is listed in `{list}`", l.url));
                }
            }
        }
        if reasons.is_empty() {
            return None;
        }
        let more = reasons.len().saturating_sub(3);
        reasons.truncate(3);
        if more > 0 {
            reasons.push(format!("and {more} more"));
        }
        Some(Finding {
            action: rule.action,
            points: rule.points,
            label: "listed-link",
            reason: reasons.join("; "),
        })
    }
}

impl Policy for LinkSpam {
    fn describe() -> Description {
        Description::new(
            "link-spam",
            env!("CARGO_PKG_VERSION"),
            "Acts on links in posts: from actors first seen recently, to \
             chat-invite hosts, and to hosts or URLs on the admin's lists.",
        )
        .capabilities(["lists"])
        .config_schema(SCHEMA)
    }

    fn configure(json: &str) -> Result<Self, String> {
        let mut policy: LinkSpam = config::parse(json)?;
        if policy.new_actor.min_links == 0 {
            return Err(
                "invalid configuration: `new_actor.min_links` must be at least 1".to_owned(),
            );
        }
        policy.allowed_hosts = policy
            .allowed_hosts
            .iter()
            .enumerate()
            .map(|(i, h)| host_entry(h, &format!("allowed_hosts[{i}]")))
            .collect::<Result<_, _>>()?;
        let invite = &mut policy.invite;
        let hosts = invite
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h, "hosts", i));
        let extra = invite
            .extra_hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h, "extra_hosts", i));
        invite.entries = hosts
            .chain(extra)
            .map(|(h, key, i)| InviteEntry::parse(h, &format!("invite.{key}[{i}]")))
            .collect::<Result<_, _>>()?;
        if let Some(i) = policy.listed.lists.iter().position(|l| l.trim().is_empty()) {
            return Err(format!(
                "invalid configuration at `listed.lists[{i}]`: expected the name of a list"
            ));
        }
        Ok(policy)
    }

    fn judge(&self, activity: &Activity, cx: &Context) -> Verdict {
        let all = links(activity);
        let links: Vec<&Link> = all
            .iter()
            .filter(|l| !self.allowed_hosts.iter().any(|a| within(&l.host, a)))
            .collect();
        if links.is_empty() {
            return Verdict::pass();
        }
        let age = cx
            .actor_first_seen
            .map(|first| cx.received_at.saturating_sub(first))
            .filter(|age| *age < self.new_actor_hours.saturating_mul(HOUR_MS));
        let actor_host = activity
            .actor_host
            .clone()
            .or_else(|| activity.actor.as_deref().and_then(host_of));
        let findings = [
            self.new_actor(&links, all.len() == MAX_LINKS, actor_host.as_deref(), age),
            self.invite(&links, age.is_some()),
            self.listed(&links),
        ];
        combine("link-spam", findings.into_iter().flatten().collect())
    }
}

palisade_sdk::export_policy!(LinkSpam);

#[cfg(test)]
mod tests;
