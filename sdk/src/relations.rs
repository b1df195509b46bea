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
    /// How many local users follow `actor`.
    fn followers(&self, actor: &str) -> u32;
    /// Whether the local user `follower` follows `actor`.
    fn follows(&self, follower: &str, actor: &str) -> bool;
    /// The participants of the post `id`, if it was seen.
    fn post(&self, id: &str) -> Option<Vec<String>>;
}

/// Something the host learns from an activity it let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lesson {
    /// The local user `follower` follows `actor`.
    Follow { follower: String, actor: String },
    /// The post `id` was seen, with these participants (author first).
    Post { id: String, participants: Vec<String> },
}

fn is_local(uri: &str, local_hosts: &[String]) -> bool {
    crate::text::host_of(uri).is_some_and(|h| local_hosts.iter().any(|l| l.eq_ignore_ascii_case(&h)))
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
        };
    };
    let known_mentions = activity
        .mentions
        .iter()
        .filter(|m| m.local)
        .take(MAX_PARTICIPANTS)
        .filter(|m| known.follows(&m.href, actor))
        .count() as u32;
    let (thread, participants) = thread_of(activity, local_hosts, known);
    let thread_mentions = activity
        .mentions
        .iter()
        .filter(|m| participants.iter().any(|p| p == &m.href))
        .count() as u32;
    Relations {
        local_followers: known.followers(actor),
        known_mentions,
        thread,
        thread_mentions,
    }
}

fn thread_of(activity: &Activity, local_hosts: &[String], known: &impl Known) -> (Thread, Vec<String>) {
    let Some(parent) = activity.in_reply_to.as_deref() else {
        return (Thread::None, Vec::new());
    };
    if is_local(parent, local_hosts) {
        let author = local_author(parent).map(str::to_owned).into_iter().collect();
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
            }],
            _ => Vec::new(),
        },
        "Create" | "Update" => match &activity.object_id {
            Some(id) if activity.object_kind.is_some() && activity.mentions.iter().any(|m| m.local) => {
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
