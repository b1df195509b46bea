//! A native test host: run a module's logic in plain `cargo test`, with
//! in-memory state, lists, a log and a clock the test controls, and the
//! sender's status and the actor's facts the test chooses.
//!
//! ```
//! use palisade_sdk::testing::TestHost;
//! use std::time::Duration;
//!
//! let host = TestHost::new();
//! let start = host.now();
//! host.advance(Duration::from_secs(90));
//! assert_eq!(host.now(), start + 90_000);
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use crate::memory::{MemoryState, NamedList};
use crate::{
    Activity, ActorFacts, Context, Direction, DomainEntry, Level, Policy, Sender, Verdict,
};

/// 2024-02-15T00:00:00Z, the week the first wave hit: where the clock starts.
pub const DEFAULT_START_MS: u64 = 1_707_955_200_000;

/// A stand-in for the Palisade host. Cheap to clone: clones share state.
#[derive(Clone)]
pub struct TestHost {
    inner: Rc<RefCell<HostState>>,
}

#[doc(hidden)]
pub struct HostState {
    now: u64,
    state: MemoryState,
    lists: HashMap<String, NamedList>,
    logs: Vec<(Level, String)>,
    local_hosts: Vec<String>,
    /// What the module being judged declared in `describe`.
    declared: Vec<String>,
    module: String,
    /// Who follows whom (follower, actor, claimed by an `Accept`), and the
    /// posts seen, for [`Context::relations`].
    follows: Vec<(String, String, bool)>,
    posts: HashMap<String, Vec<String>>,
    /// The days each actor was active on, for `relations.active_days`.
    active: HashMap<String, std::collections::BTreeSet<u64>>,
    learning: bool,
    /// Who contexts say is speaking (see [`TestHost::sender`]).
    sender: Sender,
    /// What each actor's server says about it (see [`TestHost::actor_facts`]).
    facts: HashMap<String, ActorFacts>,
    /// Whether the current call may write state: the sender of the
    /// context being judged is verified.
    record: bool,
}

impl crate::relations::Known for HostState {
    fn followers(&self, actor: &str, claims: bool) -> u32 {
        self.follows
            .iter()
            .filter(|(_, a, claimed)| a == actor && (claims || !claimed))
            .count() as u32
    }
    fn follows(&self, follower: &str, actor: &str, claims: bool) -> bool {
        self.follows
            .iter()
            .any(|(f, a, claimed)| f == follower && a == actor && (claims || !claimed))
    }
    fn post(&self, id: &str) -> Option<Vec<String>> {
        self.posts.get(id).cloned()
    }
    fn active_days(&self, actor: &str) -> u32 {
        let today = crate::relations::day_of(self.now);
        let since = today.saturating_sub(u64::from(crate::relations::ACTIVE_DAYS_WINDOW) - 1);
        self.active
            .get(actor)
            .map_or(0, |days| days.range(since..=today).count() as u32)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<RefCell<HostState>>>> = const { RefCell::new(None) };
}

/// Run `f` against the test host judging on this thread, after checking that
/// the module declared `capability`.
pub(crate) fn with_current<R>(capability: &str, f: impl FnOnce(&mut HostState) -> R) -> R {
    CURRENT.with(|current| {
        let current = current.borrow();
        let Some(host) = current.as_ref() else {
            panic!(
                "a Palisade capability ({capability}) was called outside a module call; \
                 in native tests, judge through palisade_sdk::testing::TestHost"
            )
        };
        let mut host = host.borrow_mut();
        if capability != "log" && !host.declared.iter().any(|c| c == capability) {
            panic!(
                "module `{}` called the `{capability}` capability but its describe() does not \
                 list it; Palisade would refuse to load it unless the admin grants it",
                host.module
            );
        }
        f(&mut host)
    })
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

impl TestHost {
    pub fn new() -> Self {
        TestHost {
            inner: Rc::new(RefCell::new(HostState {
                now: DEFAULT_START_MS,
                state: MemoryState::new(),
                lists: HashMap::new(),
                logs: Vec::new(),
                local_hosts: Vec::new(),
                declared: Vec::new(),
                module: String::new(),
                follows: Vec::new(),
                posts: HashMap::new(),
                active: HashMap::new(),
                learning: false,
                sender: Sender::verified(),
                facts: HashMap::new(),
                record: true,
            })),
        }
    }

    /// The clock, in milliseconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        self.inner.borrow().now
    }

    /// Set the clock.
    pub fn set_now(&self, ms: u64) {
        self.inner.borrow_mut().now = ms;
    }

    /// Move the clock forward.
    pub fn advance(&self, by: Duration) {
        self.inner.borrow_mut().now += by.as_millis() as u64;
    }

    /// Hosts whose users are local: mentions of them get `local = true` when
    /// activities are parsed by [`TestHost::judge_json`].
    pub fn local_hosts<'a>(self, hosts: impl IntoIterator<Item = &'a str>) -> Self {
        self.inner.borrow_mut().local_hosts = hosts.into_iter().map(str::to_lowercase).collect();
        self
    }

    /// Make a named list available to `lists`.
    pub fn list(self, name: &str, list: NamedList) -> Self {
        self.inner.borrow_mut().lists.insert(name.to_owned(), list);
        self
    }

    /// Who the contexts of the activities judged from now on say is
    /// speaking: a [`SenderStatus`](crate::SenderStatus) (with a generic
    /// reason) or a whole [`Sender`]. The default is verified.
    ///
    /// As in the host, only a verified sender's activity writes: otherwise
    /// first-seen times are read but not recorded, the actor gets no
    /// [`actor_facts`](TestHost::actor_facts), and `state` answers as if the
    /// activity had been counted while storing nothing (`hit` returns the
    /// count so far plus one).
    ///
    /// ```
    /// # #[cfg(feature = "parse")] {
    /// use palisade_sdk::{SenderStatus, testing::TestHost};
    /// let host = TestHost::new().sender(SenderStatus::Unverified);
    /// let post = host.parse(r#"{"type":"Create","actor":"https://a.example/u/x",
    ///     "object":{"type":"Note","content":"hi"}}"#).unwrap();
    /// let cx = host.context_for(&post);
    /// assert_eq!(cx.sender.status, SenderStatus::Unverified);
    /// assert!(cx.actor_facts.is_none());
    /// # }
    /// ```
    pub fn sender(self, sender: impl Into<Sender>) -> Self {
        self.inner.borrow_mut().sender = sender.into();
        self
    }

    /// What `actor`'s server says about it, given in the context of its
    /// activities while the sender is verified (the host fetches an
    /// actor's facts only for a sender it verified as that actor). Its
    /// `published` date also moves `actor_first_seen` back as the host
    /// does ([`account_age`](crate::newcomer::account_age)).
    ///
    /// ```
    /// # #[cfg(feature = "parse")] {
    /// use palisade_sdk::{ActorFacts, testing::TestHost};
    /// let host = TestHost::new().actor_facts(
    ///     "https://a.example/u/x",
    ///     ActorFacts { followers: Some(0), ..ActorFacts::default() },
    /// );
    /// let post = host.parse(r#"{"type":"Create","actor":"https://a.example/u/x",
    ///     "object":{"type":"Note","content":"hi"}}"#).unwrap();
    /// assert_eq!(host.context_for(&post).actor_facts.unwrap().followers, Some(0));
    /// # }
    /// ```
    pub fn actor_facts(self, actor: &str, facts: ActorFacts) -> Self {
        self.inner
            .borrow_mut()
            .facts
            .insert(actor.to_owned(), facts);
        self
    }

    /// Pretend the host first saw `actor` at `ms`.
    pub fn saw_actor_at(&self, actor: &str, ms: u64) {
        let mut inner = self.inner.borrow_mut();
        inner.state.first_seen(&format!("actor\0{actor}"), ms);
    }

    /// Pretend the host first saw some actor of `host` at `ms`.
    pub fn saw_host_at(&self, host: &str, ms: u64) {
        let mut inner = self.inner.borrow_mut();
        inner.state.first_seen(&format!("host\0{host}"), ms);
    }

    /// Pretend the host learnt that the local user `follower` (an actor
    /// URI) follows `actor`: [`Context::relations`] counts it.
    pub fn follows(&self, follower: &str, actor: &str) {
        self.follow(follower, actor, false);
    }

    /// Pretend the host saw `actor` accept the local user `follower`'s
    /// follow: a claim, counted once the actor is established (active on
    /// [`crate::relations::ESTABLISHED_DAYS`] days; see
    /// [`TestHost::active_on`]).
    pub fn accepted(&self, actor: &str, follower: &str) {
        self.follow(follower, actor, true);
    }

    fn follow(&self, follower: &str, actor: &str, claimed: bool) {
        let mut inner = self.inner.borrow_mut();
        let entry = (follower.to_owned(), actor.to_owned(), claimed);
        if !inner.follows.contains(&entry) {
            inner.follows.push(entry);
        }
    }

    /// Pretend the host saw and let through `activity`: it learns the
    /// post's participants, as the host would. (The host also learns
    /// follows from an `Accept{Follow}`, which needs the embedded follow's
    /// actor: say those with [`TestHost::follows`].)
    pub fn learn(&self, activity: &Activity) {
        if let Some(actor) = &activity.actor {
            let mut inner = self.inner.borrow_mut();
            let today = crate::relations::day_of(inner.now);
            inner.active.entry(actor.clone()).or_default().insert(today);
        }
        let local = self.inner.borrow().local_hosts.clone();
        for lesson in crate::relations::lessons(activity, None, Direction::Inbound, &local) {
            match lesson {
                crate::relations::Lesson::Follow {
                    follower,
                    actor,
                    claimed,
                } => self.follow(&follower, &actor, claimed),
                crate::relations::Lesson::Post { id, participants } => {
                    self.inner.borrow_mut().posts.insert(id, participants);
                }
            }
        }
    }

    /// Pretend the host let an activity of `actor` through on each of
    /// `days` distinct days up to today: `relations.active_days` counts
    /// them (those within the last 30).
    pub fn active_on(&self, actor: &str, days: u32) {
        let mut inner = self.inner.borrow_mut();
        let today = crate::relations::day_of(inner.now);
        let set = inner.active.entry(actor.to_owned()).or_default();
        for d in 0..u64::from(days) {
            set.insert(today.saturating_sub(d));
        }
    }

    /// Whether contexts say the host is in its learning period.
    pub fn set_learning(&self, learning: bool) {
        self.inner.borrow_mut().learning = learning;
    }

    /// Everything modules logged so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.inner.borrow().logs.clone()
    }

    /// Configure a module as the host would.
    pub fn configure<P: Policy>(&self, config: &str) -> Result<P, String> {
        self.call::<P, _>(|| P::configure(config))
    }

    /// The context the host would give `activity` now, recording first-seen
    /// times as the host does (for a verified sender only).
    pub fn context_for(&self, activity: &Activity) -> Context {
        let mut inner = self.inner.borrow_mut();
        let now = inner.now;
        let sender = inner.sender.clone();
        let mut first_seen = |key: String| {
            if sender.is_verified() {
                inner.state.first_seen(&key, now)
            } else {
                inner.state.seen_since(&key).unwrap_or(now)
            }
        };
        let actor_first_seen = activity
            .actor
            .as_ref()
            .map(|a| first_seen(format!("actor\0{a}")));
        let host_first_seen = activity
            .actor_host
            .as_ref()
            .map(|h| first_seen(format!("host\0{h}")));
        let actor_facts = activity
            .actor
            .as_ref()
            .filter(|_| sender.is_verified())
            .and_then(|a| inner.facts.get(a))
            .cloned();
        let actor_first_seen = actor_first_seen.map(|seen| {
            crate::newcomer::account_age(
                seen,
                actor_facts.as_ref().and_then(|f| f.published),
                host_first_seen,
                inner.learning,
            )
        });
        let actor_local = activity
            .actor_host
            .as_ref()
            .is_some_and(|h| inner.local_hosts.iter().any(|l| l.eq_ignore_ascii_case(h)));
        let local_hosts = inner.local_hosts.clone();
        Context {
            direction: Direction::Inbound,
            received_at: now,
            actor_first_seen,
            host_first_seen,
            actor_local,
            recipient: None,
            relations: crate::relations::relations(activity, &local_hosts, &*inner),
            learning: inner.learning,
            sender,
            actor_facts,
        }
    }

    /// Judge `activity` with `policy`, as the host would.
    pub fn judge<P: Policy>(&self, policy: &P, activity: &Activity) -> Verdict {
        let cx = self.context_for(activity);
        self.judge_in::<P>(policy, activity, &cx)
    }

    /// Judge with a context the test built itself. State is written only
    /// when its sender is verified, as in the host.
    pub fn judge_in<P: Policy>(&self, policy: &P, activity: &Activity, cx: &Context) -> Verdict {
        self.inner.borrow_mut().record = cx.sender.is_verified();
        let verdict = self.call::<P, _>(|| policy.judge(activity, cx));
        self.inner.borrow_mut().record = true;
        verdict
    }

    /// Configure `P` with `config`, parse `json` and judge it: the whole path
    /// of one activity through one module.
    #[cfg(feature = "parse")]
    pub fn judge_json<P: Policy>(&self, config: &str, json: &str) -> Result<Verdict, String> {
        let policy = self.configure::<P>(config)?;
        let activity = self.parse(json).map_err(|e| e.to_string())?;
        Ok(self.judge(&policy, &activity))
    }

    /// Parse an activity the way the host does, with this host's local hosts.
    #[cfg(feature = "parse")]
    pub fn parse(&self, json: &str) -> Result<Activity, crate::parse::ParseError> {
        let local = self.inner.borrow().local_hosts.clone();
        crate::parse::parse_activity(json, &crate::parse::Options::new(&local))
    }

    fn call<P: Policy, R>(&self, f: impl FnOnce() -> R) -> R {
        {
            let description = P::describe();
            let mut inner = self.inner.borrow_mut();
            inner.declared = description.capabilities;
            inner.module = description.name;
        }
        CURRENT.with(|c| *c.borrow_mut() = Some(self.inner.clone()));
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                CURRENT.with(|c| *c.borrow_mut() = None);
            }
        }
        let _reset = Reset;
        f()
    }
}

impl HostState {
    pub(crate) fn log(&mut self, level: Level, message: &str) {
        self.logs.push((level, message.to_owned()));
    }

    pub(crate) fn state_get(&mut self, key: &str) -> Option<Vec<u8>> {
        self.state.get(key, self.now)
    }

    // Without `record`, writes are skipped and counts answer as if this
    // activity had been counted, as in the host.

    pub(crate) fn state_put(&mut self, key: &str, value: &[u8], ttl: u32) {
        if self.record {
            self.state.put(key, value, ttl, self.now)
        }
    }

    pub(crate) fn state_delete(&mut self, key: &str) {
        if self.record {
            self.state.delete(key)
        }
    }

    pub(crate) fn state_hit(&mut self, key: &str, window: u32) -> u64 {
        if !self.record {
            return self.state.count(key, window, self.now) + 1;
        }
        self.state.hit(key, window, self.now)
    }

    pub(crate) fn state_count(&mut self, key: &str, window: u32) -> u64 {
        self.state.count(key, window, self.now)
    }

    pub(crate) fn state_distinct_add(&mut self, key: &str, member: &str, window: u32) -> u64 {
        if !self.record {
            let n = self.state.distinct_count(key, window, self.now);
            let known = self.state.distinct_has(key, member, window, self.now);
            return n + u64::from(!known);
        }
        self.state.distinct_add(key, member, window, self.now)
    }

    pub(crate) fn state_distinct_count(&mut self, key: &str, window: u32) -> u64 {
        self.state.distinct_count(key, window, self.now)
    }

    fn named(&self, list: &str) -> &NamedList {
        self.lists.get(list).unwrap_or_else(|| {
            panic!("no list named `{list}`: add it with TestHost::list (the host would trap too)")
        })
    }

    pub(crate) fn list_contains(&mut self, list: &str, value: &str) -> bool {
        self.named(list).contains(value)
    }

    pub(crate) fn list_match_domain(&mut self, list: &str, host: &str) -> Option<DomainEntry> {
        self.named(list).match_domain(host).cloned()
    }
}

/// The `.json` documents in `dir` (a folder of real ActivityPub payloads,
/// such as a project's test corpus), sorted by file name, with their text.
/// Panics naming the folder when it cannot be read: a test that meant to
/// run on real payloads must not pass on none.
pub fn documents(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the documents at {}: {e}", dir.display()))
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            (p, text)
        })
        .collect()
}

#[cfg(all(test, feature = "parse"))]
mod tests {
    use super::*;
    use crate::{Description, SenderStatus, state};

    /// Counts each activity of an actor; reports the count as points.
    struct Counter;

    impl Policy for Counter {
        fn describe() -> Description {
            Description::new("counter", "0.1.0", "Counts.").capabilities(["state"])
        }
        fn configure(_: &str) -> Result<Self, String> {
            Ok(Counter)
        }
        fn judge(&self, a: &Activity, _: &Context) -> Verdict {
            let n = state::hit(a.actor.as_deref().unwrap_or(""), 3600);
            Verdict::score(n as f64, "counted")
        }
    }

    const ACTOR: &str = "https://a.example/u/x";

    fn post(host: &TestHost) -> Activity {
        host.parse(&format!(
            r#"{{"type":"Create","actor":"{ACTOR}","object":{{"type":"Note","content":"hi"}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn an_unverified_senders_counts_are_answered_and_not_stored() {
        let host = TestHost::new().sender(SenderStatus::Unverified);
        let module = host.configure::<Counter>("{}").unwrap();
        let a = post(&host);
        assert_eq!(host.judge(&module, &a).points(), 1.0);
        assert_eq!(host.judge(&module, &a).points(), 1.0);
        let host = host.sender(SenderStatus::Verified);
        assert_eq!(host.judge(&module, &a).points(), 1.0);
        assert_eq!(host.judge(&module, &a).points(), 2.0);
        let host = host.sender(SenderStatus::Invalid);
        assert_eq!(host.judge(&module, &a).points(), 3.0);
        let host = host.sender(SenderStatus::Verified);
        assert_eq!(host.judge(&module, &a).points(), 3.0);
    }

    #[test]
    fn only_a_verified_sender_records_first_seen_times_and_gets_facts() {
        let year = 365 * 24 * crate::newcomer::HOUR_MS;
        let host = TestHost::new()
            .sender(SenderStatus::Unverified)
            .actor_facts(
                ACTOR,
                ActorFacts {
                    published: Some(DEFAULT_START_MS - year),
                    ..ActorFacts::default()
                },
            );
        let a = post(&host);
        let cx = host.context_for(&a);
        assert_eq!(cx.actor_first_seen, Some(DEFAULT_START_MS));
        assert!(cx.actor_facts.is_none());
        // A day later the actor, never seen verified, is still first seen now.
        host.advance(Duration::from_secs(24 * 3600));
        let host = host.sender(SenderStatus::Verified);
        let cx = host.context_for(&a);
        let now = host.now();
        assert_eq!(cx.sender, Sender::verified());
        // Its server says it was made a year ago; the host first saw the
        // server now: that bounds it.
        assert_eq!(cx.actor_first_seen, Some(now));
        assert_eq!(
            cx.actor_facts.unwrap().published,
            Some(DEFAULT_START_MS - year)
        );
        // In the learning period the server's word stands.
        host.set_learning(true);
        let cx = host.context_for(&a);
        assert_eq!(cx.actor_first_seen, Some(DEFAULT_START_MS - year));
    }
}
