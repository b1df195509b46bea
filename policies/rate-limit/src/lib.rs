//! `rate-limit`: the 2024 waves came from scripts that registered accounts
//! in bulk on open-registration servers and had each of them post in a loop.
//! This module counts both in sliding windows kept in host state:
//!
//! - **per actor**: more than `actor.limit` activities of `actor.kinds`
//!   (`Create` by default) from one actor within `actor.window_seconds`;
//! - **per origin host**: more than `new_actors.limit` distinct *new* actors
//!   (first seen less than `new_actors.new_actor_seconds` ago) posting from
//!   one host within `new_actors.window_seconds`. Once a host is over the
//!   limit, every activity of `new_actors.kinds` from its new actors gets the
//!   action, the earlier ones included when they post again; its established
//!   actors are not affected.
//!
//! When both rules fire the stricter action wins; two scores add up.
//!
//! The server's own users are never limited: outbound activities, and
//! activities whose actor the host marks local (`actor-local`, from its
//! `local_hosts`). List any busy host to trust in `exempt_hosts`.
//!
//! Limits: a freshly installed Palisade has seen nobody, so during its first
//! hours every actor is new and a big, legitimate host can pass the
//! per-host limit. That rule therefore only adds points by default; run it
//! in `shadow` mode first, or exempt such hosts. State keys hold the actor's
//! host and a 128-bit hash of its URI, never the URI itself, so they stay
//! short whatever the sender puts in `actor`.
//!
//! Configuration (all optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `actor.enabled` | true | apply the per-actor rule |
//! | `actor.kinds` | `["Create"]` | activity types counted and limited per actor |
//! | `actor.limit` | 20 | the most activities one actor may send within the window (at least 1) |
//! | `actor.window_seconds` | 600 | the sliding window, in seconds (at least 1) |
//! | `actor.action` | `"quarantine"` | `"reject"`, `"quarantine"` or `"score"` |
//! | `actor.points` | 5.0 | points when `actor.action` is `"score"` |
//! | `new_actors.enabled` | true | apply the per-host rule |
//! | `new_actors.kinds` | `["Create"]` | activity types whose new actors are counted and acted on |
//! | `new_actors.new_actor_seconds` | 3600 | an actor first seen less than this many seconds ago is new (at least 1) |
//! | `new_actors.limit` | 20 | the most distinct new actors one host may have within the window (at least 1) |
//! | `new_actors.window_seconds` | 3600 | the sliding window, in seconds (at least 1) |
//! | `new_actors.action` | `"score"` | `"reject"`, `"quarantine"` or `"score"` |
//! | `new_actors.points` | 4.0 | points when `new_actors.action` is `"score"` |
//! | `exempt_hosts` | `[]` | hosts (and their subdomains) never limited, besides the server's own: trusted busy ones |

use palisade_sdk::finding::{Action, Finding, combine};
use palisade_sdk::text::host_of;
use palisade_sdk::{Activity, Context, Description, Direction, Policy, Verdict, config, state};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    actor: ActorRule,
    new_actors: NewActorsRule,
    exempt_hosts: Vec<String>,
}

/// Activities from one actor in a sliding window.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActorRule {
    enabled: bool,
    kinds: Vec<String>,
    limit: u64,
    window_seconds: u32,
    action: Action,
    points: f64,
}

/// Distinct new actors from one host in a sliding window.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewActorsRule {
    enabled: bool,
    kinds: Vec<String>,
    new_actor_seconds: u32,
    limit: u64,
    window_seconds: u32,
    action: Action,
    points: f64,
}

impl Default for ActorRule {
    fn default() -> Self {
        ActorRule {
            enabled: true,
            kinds: vec!["Create".to_owned()],
            limit: 20,
            window_seconds: 600,
            action: Action::Quarantine,
            points: 5.0,
        }
    }
}

impl Default for NewActorsRule {
    fn default() -> Self {
        NewActorsRule {
            enabled: true,
            kinds: vec!["Create".to_owned()],
            new_actor_seconds: 3600,
            limit: 20,
            window_seconds: 3600,
            action: Action::Score,
            points: 4.0,
        }
    }
}

const SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "actor": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "enabled": {"type": "boolean", "default": true},
        "kinds": {"type": "array", "items": {"type": "string"}, "default": ["Create"]},
        "limit": {"type": "integer", "minimum": 1, "default": 20},
        "window_seconds": {"type": "integer", "minimum": 1, "maximum": 4294967295, "default": 600},
        "action": {"enum": ["reject", "quarantine", "score"], "default": "quarantine"},
        "points": {"type": "number", "default": 5.0}
      }
    },
    "new_actors": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "enabled": {"type": "boolean", "default": true},
        "kinds": {"type": "array", "items": {"type": "string"}, "default": ["Create"]},
        "new_actor_seconds": {"type": "integer", "minimum": 1, "maximum": 4294967295, "default": 3600},
        "limit": {"type": "integer", "minimum": 1, "default": 20},
        "window_seconds": {"type": "integer", "minimum": 1, "maximum": 4294967295, "default": 3600},
        "action": {"enum": ["reject", "quarantine", "score"], "default": "score"},
        "points": {"type": "number", "default": 4.0}
      }
    },
    "exempt_hosts": {"type": "array", "items": {"type": "string"}, "default": []}
  }
}"#;

/// The longest host kept as it is in a state key: the most a DNS name can
/// be. Anything longer is not a real host and is hashed.
const MAX_HOST_IN_KEY: usize = 253;

/// FNV-1a, 128 bits: enough that actors of one host never share a counter by
/// chance. It is not collision-resistant against a chosen input, which is
/// why keys also carry the host in clear: forging a collision with someone
/// else's counter takes an actor on their host.
fn hash128(text: &str) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    text.bytes()
        .fold(OFFSET, |h, b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

/// A host as it goes into a state key: itself when it could be a DNS name,
/// a hash otherwise.
fn key_host(host: &str) -> String {
    let plain = host.len() <= MAX_HOST_IN_KEY
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
        });
    if plain {
        host.to_owned()
    } else {
        format!("#{:032x}", hash128(host))
    }
}

/// The per-actor counter's key, from the actor's host and `hash128` of its
/// URI: at most 2 + 253 + 1 + 32 bytes.
fn actor_key(host: &str, actor_hash: u128) -> String {
    format!("a:{}:{actor_hash:032x}", key_host(host))
}

/// The key of a host's set of new actors.
fn host_key(host: &str) -> String {
    format!("n:{}", key_host(host))
}

/// An actor as a member of its host's set: `hash128` of its URI.
fn actor_member(actor_hash: u128) -> String {
    format!("{actor_hash:032x}")
}

/// A window as an admin would say it: "60 min" rather than "3600 s".
fn window_text(seconds: u32) -> String {
    if seconds > 3600 && seconds.is_multiple_of(3600) {
        format!("{} h", seconds / 3600)
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}

/// An age in milliseconds, rounded down to a unit an admin reads at a glance.
fn age_text(ms: u64) -> String {
    let seconds = ms / 1000;
    if seconds >= 3600 {
        format!("{} h", seconds / 3600)
    } else if seconds >= 60 {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}

/// A host entry as the admin wrote it, checked and lower-cased.
fn host_entry(entry: &str, key: &str) -> Result<String, String> {
    let host = entry.trim().trim_end_matches('.').to_lowercase();
    if host.is_empty() || host.contains(['/', ':', '@', ' ']) {
        return Err(format!(
            "invalid configuration at `{key}`: expected a host such as `mastodon.example`, \
             found `{entry}`"
        ));
    }
    Ok(host)
}

impl RateLimit {
    fn exempt(&self, host: &str) -> bool {
        self.exempt_hosts.iter().any(|e| {
            host == e
                || host
                    .strip_suffix(e.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }

    fn check_actor(&self, activity: &Activity, host: &str, actor: u128) -> Option<Finding> {
        let rule = &self.actor;
        if !rule.enabled || !rule.kinds.contains(&activity.kind) {
            return None;
        }
        let n = state::hit(&actor_key(host, actor), rule.window_seconds);
        (n > rule.limit).then(|| Finding {
            action: rule.action,
            points: rule.points,
            label: "actor-rate",
            reason: format!(
                "actor sent {n} {} activities within {} (limit {})",
                rule.kinds.join("/"),
                window_text(rule.window_seconds),
                rule.limit
            ),
        })
    }

    fn check_host(
        &self,
        activity: &Activity,
        cx: &Context,
        host: &str,
        actor: u128,
    ) -> Option<Finding> {
        let rule = &self.new_actors;
        if !rule.enabled || !rule.kinds.contains(&activity.kind) {
            return None;
        }
        // An actor the context says nothing about is not new: there is
        // nothing to count it by.
        let age = cx.received_at.saturating_sub(cx.actor_first_seen?);
        if age >= u64::from(rule.new_actor_seconds) * 1000 {
            return None;
        }
        let n = state::distinct_add(&host_key(host), &actor_member(actor), rule.window_seconds);
        (n > rule.limit).then(|| Finding {
            action: rule.action,
            points: rule.points,
            label: "bulk-registration",
            reason: format!(
                "{n} new actors from host {host} within {} (limit {}); this one first seen {} ago",
                window_text(rule.window_seconds),
                rule.limit,
                age_text(age)
            ),
        })
    }
}

impl Policy for RateLimit {
    fn describe() -> Description {
        Description::new(
            "rate-limit",
            env!("CARGO_PKG_VERSION"),
            "Acts on actors posting in a loop, and on new actors from a host \
             where many new actors appeared within a short window.",
        )
        .capabilities(["state"])
        .config_schema(SCHEMA)
    }

    fn configure(json: &str) -> Result<Self, String> {
        let mut policy: RateLimit = config::parse(json)?;
        let checks = [
            ("actor.limit", policy.actor.limit >= 1),
            ("actor.window_seconds", policy.actor.window_seconds >= 1),
            ("new_actors.limit", policy.new_actors.limit >= 1),
            (
                "new_actors.window_seconds",
                policy.new_actors.window_seconds >= 1,
            ),
            (
                "new_actors.new_actor_seconds",
                policy.new_actors.new_actor_seconds >= 1,
            ),
        ];
        if let Some((key, _)) = checks.iter().find(|(_, ok)| !ok) {
            return Err(format!("invalid configuration: `{key}` must be at least 1"));
        }
        policy.exempt_hosts = policy
            .exempt_hosts
            .iter()
            .enumerate()
            .map(|(i, h)| host_entry(h, &format!("exempt_hosts[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(policy)
    }

    fn judge(&self, activity: &Activity, cx: &Context) -> Verdict {
        if cx.direction == Direction::Outbound || cx.actor_local {
            return Verdict::pass();
        }
        let Some(actor) = activity.actor.as_deref() else {
            return Verdict::pass();
        };
        let Some(host) = activity.actor_host.clone().or_else(|| host_of(actor)) else {
            return Verdict::pass();
        };
        if self.exempt(&host) {
            return Verdict::pass();
        }
        // Both rules count every activity, whichever fires: a count that
        // skipped events would let a loop run longer than configured.
        let actor = hash128(actor);
        let findings = [
            self.check_actor(activity, &host, actor),
            self.check_host(activity, cx, &host, actor),
        ];
        combine("rate-limit", findings.into_iter().flatten().collect())
    }
}

palisade_sdk::export_policy!(RateLimit);

#[cfg(test)]
mod tests;
