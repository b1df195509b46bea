//! What the host learns about actors' ties to local users, kept in the
//! state backend under the reserved namespace `palisade` (no module can be
//! named so): who follows whom, and the participants of posts it let
//! through. The rules are the SDK's ([`palisade_sdk::relations`]), so a
//! module tested natively sees what the host would give it.
//!
//! Everything here lasts the state's longest time to live
//! (`state.max_ttl_seconds`, 30 days by default), refreshed each time it is
//! seen again; `palisade known import` can be re-run to refresh imports.

use palisade_sdk::relations::{Known, Lesson, MAX_PARTICIPANTS};

use crate::state::StateBackend;

/// The host's namespace in the state backend.
const NS: &str = "palisade";
/// Sets and values here are cut to the longest time to live by the state's
/// quotas: as long as the host may remember anything.
const FOREVER: u32 = u32::MAX;
/// A post is remembered a week: long enough for a thread to run its
/// course, short enough that a busy server's posts do not crowd out its
/// follows under `state.max_keys`.
const POST_TTL_SECONDS: u32 = 7 * 24 * 3600;

/// The follower set of `actor`: follows imported or seen going out.
fn followers_key(actor: &str) -> String {
    format!("follows\0{actor}")
}

/// The follows `actor` claimed with an `Accept`.
fn claims_key(actor: &str) -> String {
    format!("accepts\0{actor}")
}

/// The follower set of an actor imported by handle (`alice@host`), when
/// its URI is not known: matched against URIs whose path names the user.
fn handle_key(handle: &str) -> String {
    format!("follows\0@{}", handle.to_lowercase())
}

fn post_key(id: &str) -> String {
    format!("post\0{id}")
}

fn days_key(actor: &str) -> String {
    format!("days\0{actor}")
}

const DAYS_WINDOW: u32 = palisade_sdk::relations::ACTIVE_DAYS_WINDOW * 86_400;

/// The handle an actor URI spells for the servers that put the user's name
/// in it: `https://h.example/users/alice` and `https://h.example/@alice`
/// are `alice@h.example`. Misskey's `/users/<id>` gives a handle nobody
/// has, which simply matches no import.
pub fn handle_of(actor: &str) -> Option<String> {
    let host = palisade_sdk::text::host_of(actor)?;
    let path = actor.split_once("://")?.1.split_once('/')?.1;
    let path = path.split(['?', '#']).next()?;
    let name = path
        .strip_prefix("users/")
        .or_else(|| path.strip_prefix('@'))
        .or_else(|| path.strip_prefix("u/"))?;
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    valid.then(|| format!("{}@{host}", name.to_lowercase()))
}

/// The relations store, at one activity's time.
pub struct Relations<'a> {
    pub state: &'a dyn StateBackend,
    pub now: u64,
}

impl Relations<'_> {
    fn warn<T>(&self, what: &str, r: crate::state::StateResult<T>, unknown: T) -> T {
        r.unwrap_or_else(|e| {
            // Unknown is the stricter reading: modules then treat the
            // actor as a stranger, which fails safe.
            tracing::warn!(error = %e, "relations lookup ({what}) failed");
            unknown
        })
    }

    /// Record what `lessons` teach.
    pub fn learn(&self, lessons: Vec<Lesson>) {
        for lesson in lessons {
            let result = match &lesson {
                Lesson::Follow {
                    follower,
                    actor,
                    claimed,
                } => {
                    let key = if *claimed {
                        claims_key(actor)
                    } else {
                        followers_key(actor)
                    };
                    self.state
                        .distinct_add(NS, &key, follower, FOREVER, self.now)
                        .map(drop)
                }
                Lesson::Post { id, participants } => {
                    let value = serde_json::to_vec(participants).expect("strings serialise");
                    self.state
                        .put(NS, &post_key(id), &value, POST_TTL_SECONDS, self.now)
                }
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not record a relation");
            }
        }
    }

    /// Record that `actor` was let through today.
    pub fn active(&self, actor: &str) {
        let day = palisade_sdk::relations::day_of(self.now).to_string();
        if let Err(e) = self
            .state
            .distinct_add(NS, &days_key(actor), &day, DAYS_WINDOW, self.now)
        {
            tracing::warn!(error = %e, "could not record an actor's active day");
        }
    }

    /// Record that `follower` (a local user's URI, or `import` for the
    /// server as a whole) follows `actor`: a URI, or a handle `name@host`.
    pub fn import(&self, follower: &str, actor: &str) -> crate::state::StateResult<()> {
        let key = if actor.contains("://") {
            followers_key(actor)
        } else {
            handle_key(actor.trim_start_matches('@'))
        };
        self.state
            .distinct_add(NS, &key, follower, FOREVER, self.now)
            .map(drop)
    }

    /// The sets that say who follows `actor`: imported and outbound
    /// follows (by URI and by handle), and its claims when `claims`.
    fn keys(actor: &str, claims: bool) -> impl Iterator<Item = String> {
        std::iter::once(followers_key(actor))
            .chain(handle_of(actor).map(|h| handle_key(&h)))
            .chain(claims.then(|| claims_key(actor)))
    }
}

impl Known for Relations<'_> {
    fn followers(&self, actor: &str, claims: bool) -> u32 {
        let total: u64 = Self::keys(actor, claims)
            .map(|key| {
                let n = self.state.distinct_count(NS, &key, FOREVER, self.now);
                self.warn("followers", n, 0)
            })
            .sum();
        u32::try_from(total).unwrap_or(u32::MAX)
    }

    fn follows(&self, follower: &str, actor: &str, claims: bool) -> bool {
        Self::keys(actor, claims).any(|key| {
            let has = self
                .state
                .distinct_has(NS, &key, follower, FOREVER, self.now);
            self.warn("follows", has, false)
        })
    }

    fn active_days(&self, actor: &str) -> u32 {
        let n = self
            .state
            .distinct_count(NS, &days_key(actor), DAYS_WINDOW, self.now);
        u32::try_from(self.warn("active days", n, 0)).unwrap_or(u32::MAX)
    }

    fn post(&self, id: &str) -> Option<Vec<String>> {
        let value = self.state.get(NS, &post_key(id), self.now);
        let value = self.warn("post", value, None)?;
        let mut participants: Vec<String> = serde_json::from_slice(&value).ok()?;
        participants.truncate(MAX_PARTICIPANTS);
        Some(participants)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_read_from_the_paths_that_name_the_user() {
        for (uri, handle) in [
            ("https://m.example/users/Alice", Some("alice@m.example")),
            ("https://g.example/@bob", Some("bob@g.example")),
            ("https://a.example/u/carol?x=1", Some("carol@a.example")),
            ("https://m.example/users/alice/statuses/1", None),
            ("https://m.example/actor", None),
            ("not a uri", None),
        ] {
            assert_eq!(handle_of(uri).as_deref(), handle, "{uri}");
        }
    }
}
