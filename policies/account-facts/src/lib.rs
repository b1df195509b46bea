//! `account-facts`: the 2024 waves' accounts were registered minutes before
//! they posted and left as the script made them — no avatar, no display
//! name, nobody following them — and the servers they were registered on
//! say so in their actor documents. The host fetches those for a verified
//! sender (contract 0.4.0, `context.actor-facts`); this module adds points
//! when such an account mentions local users who have no tie to it
//! (`palisade_sdk::newcomer::strangers`):
//!
//! - **fresh**: its server says the account was made less than
//!   `fresh_hours` ago. Mastodon publishes only the day an account was made
//!   (midnight UTC), so a `published` at midnight is read as the end of
//!   that day: the youngest the account can be. A server has no reason to
//!   make its accounts look younger than they are, so this is believed.
//! - **empty**: no avatar, no display name of its own (none, empty, or the
//!   username itself, as Akkoma fills it in), and at most
//!   `empty_max_followers` followers. A count the server does not publish
//!   is not an empty one. An empty profile need not be young: a server
//!   may claim any creation date (outside its learning period the host
//!   ages no account past when it first saw its server; during it, it
//!   cannot), and an old account never set up that starts mentioning
//!   strangers is as telling.
//!
//! Points, not verdicts: people make an account and greet someone the same
//! day, and some never fill in a profile. Alone they stop nothing (with
//! Palisade's thresholds, quarantine 5 and reject 10). With
//! `first-contact`'s 3 for a new actor or host, a fresh account's contact
//! with strangers still passes (4: everyone's account was new once), an
//! empty one's is held (6), a fresh and empty one's too (7), and with a
//! `newcomer-burst` cluster they are rejected. `fresh_points = 2` holds
//! every fresh account's first contact, operators who fill profiles
//! included, at the cost of holding every newcomer's greeting for two days.
//!
//! Facts are the sender's server's word. An operator who fills profiles
//! (an avatar, a name, followers among its own accounts) is not empty, and
//! a server that hides its counts or lies about them is not either; only
//! an honest `published` still tells such accounts apart. Without facts (a
//! sender that is not verified, a fetch that did not finish within the
//! budget) the module has no opinion. Local actors, actors a local user
//! follows, and posts that mention no stranger pass. It reads nothing but
//! the activity and its context, so it needs no capabilities.
//!
//! Configuration (all optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `fresh_hours` | 48 | an account its server says was made less than this many hours ago is fresh (0: never) |
//! | `fresh_points` | 1.0 | points for a fresh account |
//! | `empty_points` | 3.0 | points for an empty profile |
//! | `empty_max_followers` | 0 | the most followers an empty profile has |
//! | `min_local_mentions` | 1 | the fewest strangers (local users with no tie to the actor) mentioned for the module to act (at least 1) |

use palisade_sdk::newcomer::{HOUR_MS, strangers};
use palisade_sdk::{Activity, ActorFacts, Context, Description, Policy, Verdict, config};
use serde::Deserialize;

const DAY_MS: u64 = 24 * HOUR_MS;

#[derive(Deserialize, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AccountFacts {
    fresh_hours: u64,
    fresh_points: f64,
    empty_points: f64,
    empty_max_followers: u64,
    min_local_mentions: u32,
}

impl Default for AccountFacts {
    fn default() -> Self {
        AccountFacts {
            fresh_hours: 48,
            fresh_points: 1.0,
            empty_points: 3.0,
            empty_max_followers: 0,
            min_local_mentions: 1,
        }
    }
}

const SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "fresh_hours": {"type": "integer", "minimum": 0, "default": 48},
    "fresh_points": {"type": "number", "default": 1.0},
    "empty_points": {"type": "number", "default": 3.0},
    "empty_max_followers": {"type": "integer", "minimum": 0, "default": 0},
    "min_local_mentions": {"type": "integer", "minimum": 1, "default": 1}
  }
}"#;

/// The latest moment a `published` time allows for the account's making:
/// itself, or for a time at midnight UTC (Mastodon gives the day only) the
/// end of that day.
pub fn made_by(published: u64) -> u64 {
    if published.is_multiple_of(DAY_MS) {
        published + DAY_MS - 1
    } else {
        published
    }
}

/// Whether the profile has a display name its owner chose: not missing,
/// not blank, not the username.
fn has_own_name(facts: &ActorFacts) -> bool {
    facts
        .name
        .as_deref()
        .map(str::trim)
        .is_some_and(|n| !n.is_empty() && Some(n) != facts.preferred_username.as_deref())
}

/// "3 h" or "4 days", for reasons.
fn age_text(ms: u64) -> String {
    let hours = ms / HOUR_MS;
    if hours < 48 {
        format!("{hours} h")
    } else {
        format!("{} days", hours / 24)
    }
}

impl AccountFacts {
    /// How long ago the account was made, when that is less than
    /// `fresh_hours`, by its server's word.
    fn fresh(&self, facts: &ActorFacts, cx: &Context) -> Option<u64> {
        let age = cx.received_at.saturating_sub(made_by(facts.published?));
        (self.fresh_hours > 0 && age < self.fresh_hours.saturating_mul(HOUR_MS)).then_some(age)
    }

    /// The empty profile's follower count, when it is one.
    fn empty(&self, facts: &ActorFacts) -> Option<u64> {
        let followers = facts.followers?;
        (!facts.has_avatar && !has_own_name(facts) && followers <= self.empty_max_followers)
            .then_some(followers)
    }
}

impl Policy for AccountFacts {
    fn describe() -> Description {
        Description::new(
            "account-facts",
            env!("CARGO_PKG_VERSION"),
            "Adds points when an account its own server says was made hours \
             ago, or whose profile is empty (no avatar, no display name, no \
             followers), mentions local users with no tie to it.",
        )
        .config_schema(SCHEMA)
    }

    fn configure(json: &str) -> Result<Self, String> {
        let policy: AccountFacts = config::parse(json)?;
        if policy.min_local_mentions == 0 {
            return Err(
                "invalid configuration: `min_local_mentions` must be at least 1".to_owned(),
            );
        }
        if !(policy.fresh_points.is_finite() && policy.empty_points.is_finite()) {
            return Err(
                "invalid configuration: `fresh_points` and `empty_points` must be finite numbers"
                    .to_owned(),
            );
        }
        Ok(policy)
    }

    fn judge(&self, activity: &Activity, cx: &Context) -> Verdict {
        let Some(facts) = cx.actor_facts.as_ref() else {
            return Verdict::pass();
        };
        if cx.actor_local || cx.relations.local_followers > 0 {
            return Verdict::pass();
        }
        let n = strangers(activity, cx);
        if n < self.min_local_mentions {
            return Verdict::pass();
        }
        let fresh = self.fresh(facts, cx).filter(|_| self.fresh_points != 0.0);
        let empty = self.empty(facts).filter(|_| self.empty_points != 0.0);
        let mut points = 0.0;
        let mut what = Vec::new();
        let mut labels = Vec::new();
        if let Some(age) = fresh {
            points += self.fresh_points;
            what.push(format!("made {} ago by its server's word", age_text(age)));
            labels.push("fresh-account");
        }
        if let Some(followers) = empty {
            points += self.empty_points;
            what.push(format!(
                "with an empty profile (no avatar, no display name, {followers} followers)"
            ));
            labels.push("empty-profile");
        }
        if what.is_empty() {
            return Verdict::pass();
        }
        let users = if n == 1 { "user" } else { "users" };
        let reason = format!(
            "an account {} mentions {n} local {users} with no tie to it",
            what.join(", ")
        );
        labels
            .into_iter()
            .fold(Verdict::score(points, reason), |v, l| v.label(l))
    }
}

palisade_sdk::export_policy!(AccountFacts);

#[cfg(test)]
mod tests;
