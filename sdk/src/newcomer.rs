//! Is this an actor the server does not know, reaching people who do not
//! know it? A wave's accounts are fresh and their first act is to mention
//! strangers: a *first contact*. The host's [`Relations`](crate::Relations)
//! tell a stranger from a friend (a local user follows the actor, or the
//! mentioned user is already in the thread), so modules can leave busy
//! conversations alone and count only first contacts.
//!
//! ```
//! # #[cfg(feature = "parse")] {
//! use palisade_sdk::newcomer::first_contact;
//! use palisade_sdk::testing::TestHost;
//! let host = TestHost::new().local_hosts(["home.example"]);
//! let post = host.parse(r#"{"type":"Create","actor":"https://new.example/u/a",
//!     "object":{"type":"Note","content":"hi","tag":[
//!       {"type":"Mention","href":"https://home.example/users/alice"},
//!       {"type":"Mention","href":"https://home.example/users/bob"}]}}"#).unwrap();
//! let contact = first_contact(&post, &host.context_for(&post), 24).unwrap();
//! assert_eq!(contact.strangers, 2);
//! // Once alice follows the actor, it is not new to the server any more.
//! host.follows("https://home.example/users/alice", "https://new.example/u/a");
//! assert!(first_contact(&post, &host.context_for(&post), 24).is_none());
//! # }
//! ```

use crate::{Activity, Context};

/// One hour in milliseconds, the unit of the `*_hours` settings.
pub const HOUR_MS: u64 = 3_600_000;

/// How long ago `first_seen` was, when it was less than `hours` ago. A
/// time the context does not give is not recent: there is nothing to
/// vouch for or against.
pub fn recent(first_seen: Option<u64>, cx: &Context, hours: u64) -> Option<u64> {
    let age = cx.received_at.saturating_sub(first_seen?);
    (age < hours.saturating_mul(HOUR_MS)).then_some(age)
}

/// On fewer distinct days than this (of the last 30) an actor has been let
/// through, and it is still new, however long ago it was first seen.
pub use crate::relations::ESTABLISHED_DAYS;

/// Whether the actor is new to this server: not one of its own users,
/// followed by no local user (a follow, seen or imported, says someone here
/// knows it, however recently the host started counting), and either first
/// seen less than `hours` ago or let through on fewer than
/// [`ESTABLISHED_DAYS`] days: an account that liked one post a week ago and
/// then mentions ten people has not been here a week in any sense that
/// matters. (During the host's learning period every actor is new in
/// this sense.)
///
/// The actor's facts ([`Context::actor_facts`]) count only against it: an
/// account its own server says was made (`published`) less than `hours`
/// ago is new, whenever the host first saw it — a server has no reason to
/// make its accounts look younger. Its word that an account is old does not
/// make the account known here: it already moved `actor_first_seen` as far
/// back as the host allows ([`account_age`]), and an old account must still
/// have been let through on [`ESTABLISHED_DAYS`] days.
pub fn is_new_actor(cx: &Context, hours: u64) -> bool {
    let published = cx.actor_facts.as_ref().and_then(|f| f.published);
    !cx.actor_local
        && cx.relations.local_followers == 0
        && (recent(cx.actor_first_seen, cx, hours).is_some()
            || recent(published, cx, hours).is_some()
            || cx.relations.active_days < ESTABLISHED_DAYS)
}

/// An actor's age as the host tells it in
/// [`Context::actor_first_seen`]: when the host first saw it, or when its
/// server says the account was made (`published`) if that is earlier — but,
/// outside the learning period, never earlier than when the host first saw
/// that server (`host_first_seen`): a server's word cannot age its accounts
/// past what the host knows of the server (one set up last week says its
/// accounts date from 2017). During the learning period every server is
/// new, and the server's word is all there is.
///
/// ```
/// use palisade_sdk::newcomer::account_age;
/// // Made long ago, says a server the host has known since 100: 100.
/// assert_eq!(account_age(1_000, Some(10), Some(100), false), 100);
/// // Made at 900, first seen at 1 000: 900.
/// assert_eq!(account_age(1_000, Some(900), Some(100), false), 900);
/// // During the learning period the server's word stands.
/// assert_eq!(account_age(1_000, Some(10), Some(1_000), true), 10);
/// ```
pub fn account_age(
    first_seen: u64,
    published: Option<u64>,
    host_first_seen: Option<u64>,
    learning: bool,
) -> u64 {
    let Some(published) = published else {
        return first_seen;
    };
    let floor = if learning {
        0
    } else {
        host_first_seen.unwrap_or(first_seen)
    };
    first_seen.min(published.max(floor))
}

/// How many of the local users `activity` mentions have no tie to its
/// actor: they do not follow it and did not take part in the post it
/// replies to. Counts: the local mentions, less
/// [`known_mentions`](crate::Relations::known_mentions), less
/// [`thread_mentions`](crate::Relations::thread_mentions) (which may
/// include remote participants, so this errs towards fewer strangers).
pub fn strangers(activity: &Activity, cx: &Context) -> u32 {
    let local = activity.mentions.iter().filter(|m| m.local).count() as u32;
    local
        .saturating_sub(cx.relations.known_mentions)
        .saturating_sub(cx.relations.thread_mentions)
}

/// A new actor mentioning local users who have no tie to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstContact {
    /// Local users mentioned who have no tie to the actor ([`strangers`]).
    pub strangers: u32,
    /// How long ago the host first saw the actor, in milliseconds.
    pub actor_age_ms: u64,
}

/// The first contact `activity` makes, if its actor is new
/// ([`is_new_actor`] with `new_actor_hours`) and it mentions at least one
/// stranger ([`strangers`]).
pub fn first_contact(
    activity: &Activity,
    cx: &Context,
    new_actor_hours: u64,
) -> Option<FirstContact> {
    if !is_new_actor(cx, new_actor_hours) {
        return None;
    }
    let strangers = strangers(activity, cx);
    (strangers > 0).then(|| FirstContact {
        strangers,
        actor_age_ms: cx
            .received_at
            .saturating_sub(cx.actor_first_seen.unwrap_or(cx.received_at)),
    })
}

/// A window as an admin would say it: "60 min" rather than "3600 s".
///
/// ```
/// use palisade_sdk::newcomer::window_text;
/// assert_eq!(window_text(3600), "60 min");
/// assert_eq!(window_text(86_400), "24 h");
/// assert_eq!(window_text(90), "90 s");
/// ```
pub fn window_text(seconds: u32) -> String {
    if seconds > 3600 && seconds.is_multiple_of(3600) {
        format!("{} h", seconds / 3600)
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}

#[cfg(all(test, feature = "parse"))]
mod tests {
    use super::*;
    use crate::testing::TestHost;

    const ACTOR: &str = "https://new.example/u/a";

    fn post(reply_to: Option<&str>, mentions: &[&str]) -> String {
        let tags: Vec<String> = mentions
            .iter()
            .map(|m| format!(r#"{{"type":"Mention","href":"{m}"}}"#))
            .collect();
        let reply = reply_to.map_or(String::new(), |r| format!(r#","inReplyTo":"{r}""#));
        format!(
            r#"{{"type":"Create","actor":"{ACTOR}","object":{{"type":"Note",
               "id":"https://new.example/n/{}","content":"hi"{reply},"tag":[{}]}}}}"#,
            mentions.len(),
            tags.join(",")
        )
    }

    #[test]
    fn thread_participants_and_followers_are_not_strangers() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let alice = "https://home.example/users/alice";
        let bob = "https://home.example/users/bob";
        let carol = "https://home.example/users/carol";
        // A thread alice started, mentioning bob, that the host let through.
        let root = host
            .parse(&format!(
                r#"{{"type":"Create","actor":"https://old.example/u/z","object":{{"type":"Note",
                   "id":"https://old.example/n/1","content":"hey","tag":[
                   {{"type":"Mention","href":"{alice}"}},{{"type":"Mention","href":"{bob}"}}]}}}}"#
            ))
            .unwrap();
        host.learn(&root);
        let reply = host
            .parse(&post(Some("https://old.example/n/1"), &[alice, bob, carol]))
            .unwrap();
        let cx = host.context_for(&reply);
        assert_eq!(strangers(&reply, &cx), 1, "carol only");
        assert_eq!(first_contact(&reply, &cx, 24).unwrap().strangers, 1);
        // Someone following the actor makes it known: no first contact.
        host.follows(carol, ACTOR);
        assert!(first_contact(&reply, &host.context_for(&reply), 24).is_none());
    }

    #[test]
    fn an_actor_seen_long_ago_and_active_here_or_a_local_one_is_not_new() {
        let host = TestHost::new().local_hosts(["home.example"]);
        let a = host
            .parse(&post(None, &["https://home.example/users/alice"]))
            .unwrap();
        assert!(is_new_actor(&host.context_for(&a), 24));
        host.advance(std::time::Duration::from_secs(25 * 3600));
        // Seen a day ago, but active here on one day only: still new.
        host.active_on(ACTOR, 1);
        assert!(is_new_actor(&host.context_for(&a), 24));
        host.active_on(ACTOR, 3);
        assert!(!is_new_actor(&host.context_for(&a), 24));
        let mut cx = host.context_for(&a);
        cx.actor_first_seen = Some(cx.received_at);
        cx.actor_local = true;
        assert!(!is_new_actor(&cx, 24));
        // Made an hour ago, its server says, though first seen a day ago:
        // new. Made long ago: that changes nothing here.
        let mut cx = host.context_for(&a);
        assert!(!is_new_actor(&cx, 24));
        cx.actor_facts = Some(crate::ActorFacts {
            published: Some(cx.received_at - HOUR_MS),
            ..crate::ActorFacts::default()
        });
        assert!(is_new_actor(&cx, 24));
        cx.actor_facts.as_mut().unwrap().published = Some(cx.received_at - 1000 * HOUR_MS);
        assert!(!is_new_actor(&cx, 24));
        // No local mention: no first contact, however new.
        let remote = host
            .parse(&post(None, &["https://else.example/u/b"]))
            .unwrap();
        assert!(first_contact(&remote, &host.context_for(&remote), 1000).is_none());
    }
}
