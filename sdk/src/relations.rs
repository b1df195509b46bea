//! How the host derives [`Relations`] from what it learnt, and what it
//! learns from an activity it let through. The host and the
//! [`testing::TestHost`](crate::testing::TestHost) share this code, so a
//! module tested natively sees the relations Palisade would give it.
//!
//! What is learnt, and from what:
//! - a local user follows an actor: an `Accept` whose embedded `Follow` has
//!   the local user as its actor (the remote side accepted the follow), or
//!   an outbound `Follow` by a local user;
//! - a post was seen: a `Create` or `Update` of an object that mentions a
//!   local user, with its author and the actors it mentions, its
//!   participants (the threads whose replies come here by mention).
//!
//! Only activities that were let through teach anything: a post the host
//! rejected does not make its mentions "people in the conversation".

use crate::{Activity, Direction, Relations, Thread};

/// The most participants remembered of one post, and the most mentions of
/// one activity checked against what is known.
pub const MAX_PARTICIPANTS: usize = 32;

/// What the host knows, asked by [`relations`].
pub trait Known {
    /// How many local users follow `actor`: follows imported or seen
    /// going out, and follows `actor` claimed when `claims` is true.
    fn followers(&self, actor: &str, claims: bool) -> u32;
    /// Whether the local user `follower` follows `actor` (claims counted
    /// when `claims`).
    fn follows(&self, follower: &str, actor: &str, claims: bool) -> bool;
    /// The participants of the post `id`, if it was seen.
    fn post(&self, id: &str) -> Option<Vec<String>>;
    /// On how many distinct days of the last [`ACTIVE_DAYS_WINDOW`] an
    /// activity of `actor` was let through.
    fn active_days(&self, actor: &str) -> u32;
}

/// On how many distinct days an actor must have been let through before
/// follows it claims (its `Accept`s) count.
pub const ESTABLISHED_DAYS: u32 = 3;

/// How far back [`Known::active_days`] counts, in days.
pub const ACTIVE_DAYS_WINDOW: u32 = 30;

/// The day (UTC) `ms` falls on, as [`Known::active_days`] counts days.
pub fn day_of(ms: u64) -> u64 {
    ms / 86_400_000
}

/// Something the host learns from an activity it let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lesson {
    /// The local user `follower` follows `actor`. `claimed` when only the
    /// remote side says so (an `Accept`, which Palisade cannot check
    /// against the server's pending follows): a claim counts once the
    /// actor is established here (active on [`ESTABLISHED_DAYS`] days), so
    /// a fresh account cannot make itself known with one.
    Follow {
        follower: String,
        actor: String,
        claimed: bool,
    },
    /// The post `id` was seen, with these participants (author first).
    Post {
        id: String,
        participants: Vec<String>,
    },
}

fn is_local(uri: &str, local_hosts: &[String]) -> bool {
    crate::text::host_of(uri)
        .is_some_and(|h| local_hosts.iter().any(|l| l.eq_ignore_ascii_case(&h)))
}

/// The author a local post's URI names, for the servers that put it there
/// (`https://home.example/users/alice/statuses/1` names
/// `https://home.example/users/alice`).
pub fn local_author(uri: &str) -> Option<&str> {
    let at = uri.find("/statuses/")?;
    let author = &uri[..at];
    author.contains("/users/").then_some(author)
}

/// The relations of `activity`'s actor, from what `known` holds.
pub fn relations(activity: &Activity, local_hosts: &[String], known: &impl Known) -> Relations {
    let Some(actor) = activity.actor.as_deref() else {
        return Relations {
            local_followers: 0,
            known_mentions: 0,
            thread: thread_of(activity, local_hosts, known).0,
            thread_mentions: 0,
            active_days: 0,
        };
    };
    let active_days = known.active_days(actor);
    let claims = active_days >= ESTABLISHED_DAYS;
    let local_followers = known.followers(actor, claims);
    // Nobody here follows the actor (a wave's accounts): no mention can be
    // of a follower, and no lookup per mention is needed.
    let known_mentions = if local_followers == 0 {
        0
    } else {
        activity
            .mentions
            .iter()
            .filter(|m| m.local)
            .take(MAX_PARTICIPANTS)
            .filter(|m| known.follows(&m.href, actor, claims))
            .count() as u32
    };
    let (thread, participants) = thread_of(activity, local_hosts, known);
    let thread_mentions = activity
        .mentions
        .iter()
        .filter(|m| participants.iter().any(|p| p == &m.href))
        .count() as u32;
    Relations {
        local_followers,
        known_mentions,
        thread,
        thread_mentions,
        active_days,
    }
}

fn thread_of(
    activity: &Activity,
    local_hosts: &[String],
    known: &impl Known,
) -> (Thread, Vec<String>) {
    let Some(parent) = activity.in_reply_to.as_deref() else {
        return (Thread::None, Vec::new());
    };
    if is_local(parent, local_hosts) {
        let author = local_author(parent)
            .map(str::to_owned)
            .into_iter()
            .collect();
        return (Thread::Local, author);
    }
    match known.post(parent) {
        Some(participants) => (Thread::Seen, participants),
        None => (Thread::Unseen, Vec::new()),
    }
}

/// What the host learns from `activity`, once it was let through.
/// `object_actor` is the actor of its embedded object (the parser's
/// `Parsed::object_actor`).
pub fn lessons(
    activity: &Activity,
    object_actor: Option<&str>,
    direction: Direction,
    local_hosts: &[String],
) -> Vec<Lesson> {
    let Some(actor) = activity.actor.as_deref() else {
        return Vec::new();
    };
    let actor_local = is_local(actor, local_hosts);
    match activity.kind.as_str() {
        // The remote side accepted a local user's follow.
        "Accept" if activity.object_kind.as_deref() == Some("Follow") && !actor_local => {
            match object_actor {
                Some(follower) if is_local(follower, local_hosts) => vec![Lesson::Follow {
                    follower: follower.to_owned(),
                    actor: actor.to_owned(),
                    claimed: true,
                }],
                _ => Vec::new(),
            }
        }
        // A local user's own follow, seen on its way out. An inbound
        // activity naming a local actor is not the local user speaking.
        "Follow" if direction == Direction::Outbound && actor_local => match &activity.object_id {
            Some(target) if !is_local(target, local_hosts) => vec![Lesson::Follow {
                follower: actor.to_owned(),
                actor: target.clone(),
                claimed: false,
            }],
            _ => Vec::new(),
        },
        "Create" | "Update" => match &activity.object_id {
            Some(id)
                if activity.object_kind.is_some() && activity.mentions.iter().any(|m| m.local) =>
            {
                let mut participants = vec![actor.to_owned()];
                for m in &activity.mentions {
                    if participants.len() >= MAX_PARTICIPANTS {
                        break;
                    }
                    if !participants.contains(&m.href) {
                        participants.push(m.href.clone());
                    }
                }
                vec![Lesson::Post {
                    id: id.clone(),
                    participants,
                }]
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

#[cfg(all(test, feature = "parse"))]
mod tests {
    use super::*;
    use crate::parse::{Options, parse_document};

    fn lessons_of(json: &str, direction: Direction) -> Vec<Lesson> {
        let local = ["home.example".to_owned()];
        let p = parse_document(json.as_bytes(), &Options::new(&local)).unwrap();
        lessons(&p.activity, p.object_actor.as_deref(), direction, &local)
    }

    #[test]
    fn follows_are_learnt_from_accepts_of_local_follows_and_outbound_follows() {
        let accept = r#"{"type":"Accept","actor":"https://r.example/users/rita",
            "object":{"type":"Follow","actor":"https://home.example/users/alice","object":"https://r.example/users/rita"}}"#;
        assert_eq!(
            lessons_of(accept, Direction::Inbound),
            [Lesson::Follow {
                follower: "https://home.example/users/alice".into(),
                actor: "https://r.example/users/rita".into(),
                claimed: true,
            }]
        );
        let remote = accept.replace("home.example/users/alice", "x.example/users/sam");
        assert!(lessons_of(&remote, Direction::Inbound).is_empty());
        let follow = r#"{"type":"Follow","actor":"https://home.example/users/alice","object":"https://r.example/users/rita"}"#;
        assert!(lessons_of(follow, Direction::Inbound).is_empty());
        assert_eq!(lessons_of(follow, Direction::Outbound).len(), 1);
    }

    #[test]
    fn posts_are_remembered_only_when_they_mention_a_local_user() {
        let post = |href: &str| {
            format!(
                r#"{{"type":"Create","actor":"https://r.example/users/rita","object":{{"type":"Note",
                "id":"https://r.example/n/1","tag":[{{"type":"Mention","href":"{href}"}}]}}}}"#
            )
        };
        assert_eq!(
            lessons_of(
                &post("https://home.example/users/alice"),
                Direction::Inbound
            ),
            [Lesson::Post {
                id: "https://r.example/n/1".into(),
                participants: vec![
                    "https://r.example/users/rita".into(),
                    "https://home.example/users/alice".into()
                ]
            }]
        );
        assert!(lessons_of(&post("https://x.example/users/sam"), Direction::Inbound).is_empty());
    }

    #[test]
    fn local_posts_name_their_author() {
        assert_eq!(
            local_author("https://home.example/users/alice/statuses/7"),
            Some("https://home.example/users/alice")
        );
        assert_eq!(local_author("https://home.example/notes/7"), None);
    }
}
