//! In-memory state and lists: the logic behind the `state` and `lists`
//! capabilities, shared by the native test host and Palisade's embedded
//! backend so that both count exactly alike.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::{DomainEntry, Severity};

/// Events kept per key at most; the oldest are forgotten past this.
pub const MAX_EVENTS_PER_KEY: usize = 65_536;
/// Members kept per distinct set at most; the least recently seen go first.
pub const MAX_MEMBERS_PER_SET: usize = 65_536;

/// Key-value pairs with expiry, sliding-window event counters and
/// sliding-window distinct sets. Times are milliseconds since the Unix epoch,
/// passed in by the caller so that a test can drive the clock.
#[derive(Debug, Default)]
pub struct MemoryState {
    values: HashMap<String, (Vec<u8>, Option<u64>)>,
    events: HashMap<String, Window<VecDeque<u64>>>,
    sets: HashMap<String, Window<Members>>,
    /// The host's first-seen times: a map of their own, so that no key a
    /// module stores can be read or written as one.
    first_seen: HashMap<String, u64>,
    operations: u64,
}

/// What is kept for a counter or a set, and the longest window asked of it:
/// events older than that can no longer be counted and are dropped.
#[derive(Debug, Default)]
struct Window<T> {
    longest_ms: u64,
    data: T,
}

const SWEEP_EVERY: u64 = 4096;

/// A distinct set: when each member was last seen, and the sightings in
/// time order, so that expiring the oldest, evicting past the cap and
/// counting the longest window cost O(1) (amortised) whatever the size.
/// A member seen again leaves its older sighting behind in `order`, stale
/// (its time is no longer the member's); stale sightings are skipped as
/// they come out, and swept when they outnumber the live ones.
#[derive(Debug, Default)]
struct Members {
    seen: HashMap<Arc<str>, u64>,
    order: VecDeque<(u64, Arc<str>)>,
}

impl Members {
    fn len(&self) -> usize {
        self.seen.len()
    }

    fn get(&self, member: &str) -> Option<u64> {
        self.seen.get(member).copied()
    }

    /// Record a sighting of `member` at `at` (a later time than one known
    /// wins; senders' clocks and concurrent calls are not ordered).
    fn add(&mut self, member: &str, at: u64) {
        let name: Arc<str> = match self.seen.get_key_value(member) {
            Some((_, seen)) if *seen >= at => return,
            Some((name, _)) => name.clone(),
            None => Arc::from(member),
        };
        self.seen.insert(name.clone(), at);
        // In time order: almost always at the back.
        if self.order.back().is_none_or(|(t, _)| *t <= at) {
            self.order.push_back((at, name));
        } else {
            let i = self.order.partition_point(|(t, _)| *t <= at);
            self.order.insert(i, (at, name));
        }
        if self.order.len() > 2 * self.seen.len() + 64 {
            let seen = &self.seen;
            self.order.retain(|(t, m)| seen.get(m) == Some(t));
        }
    }

    /// Forget members last seen `longest` ms or more before `now`.
    fn expire(&mut self, longest: u64, now: u64) {
        while let Some((t, _)) = self.order.front() {
            if in_window(*t, longest, now) {
                break;
            }
            self.pop_oldest();
        }
    }

    /// Drop the oldest sighting, and its member if it is the member's latest.
    fn pop_oldest(&mut self) {
        if let Some((t, m)) = self.order.pop_front()
            && self.seen.get(&m) == Some(&t)
        {
            self.seen.remove(&m);
        }
    }

    /// Members seen within `window` ms of `now`; O(1) when the window is
    /// the longest one kept (all of them), else walks the window's own.
    fn count(&self, window: u64, longest: u64, now: u64) -> u64 {
        if window >= longest {
            return self.order.front().map_or(0, |(t, _)| {
                if in_window(*t, window, now) {
                    self.seen.len()
                } else {
                    self.count_walk(window, now)
                }
            }) as u64;
        }
        self.count_walk(window, now) as u64
    }

    fn count_walk(&self, window: u64, now: u64) -> usize {
        self.order
            .iter()
            .rev()
            .take_while(|(t, _)| in_window(*t, window, now))
            .filter(|(t, m)| self.seen.get(m) == Some(t))
            .count()
    }
}

/// Insert `at` keeping `events` in time order (almost always at the back).
fn push_in_order(events: &mut VecDeque<u64>, at: u64) {
    if events.back().is_none_or(|last| *last <= at) {
        events.push_back(at);
    } else {
        let i = events.partition_point(|t| *t <= at);
        events.insert(i, at);
    }
}

/// An event at `t` counts in a window of `window` ms ending `now` when it
/// is less than `window` old.
fn in_window(t: u64, window: u64, now: u64) -> bool {
    now.saturating_sub(t) < window
}

fn window_ms(window_seconds: u32) -> u64 {
    u64::from(window_seconds) * 1000
}

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&mut self, key: &str, now: u64) -> Option<Vec<u8>> {
        self.tick(now);
        match self.values.get(key) {
            Some((_, Some(expires))) if *expires <= now => {
                self.values.remove(key);
                None
            }
            Some((value, _)) => Some(value.clone()),
            None => None,
        }
    }

    pub fn put(&mut self, key: &str, value: &[u8], ttl_seconds: u32, now: u64) {
        self.tick(now);
        let expires = (ttl_seconds > 0).then(|| now + window_ms(ttl_seconds));
        self.values
            .insert(key.to_owned(), (value.to_vec(), expires));
    }

    pub fn delete(&mut self, key: &str) {
        self.values.remove(key);
        self.events.remove(key);
        self.sets.remove(key);
    }

    pub fn hit(&mut self, key: &str, window_seconds: u32, now: u64) -> u64 {
        self.tick(now);
        let w = match self.events.get_mut(key) {
            Some(w) => w,
            None => self.events.entry(key.to_owned()).or_default(),
        };
        w.longest_ms = w.longest_ms.max(window_ms(window_seconds));
        push_in_order(&mut w.data, now);
        if w.data.len() > MAX_EVENTS_PER_KEY {
            w.data.pop_front();
        }
        Self::prune_events(w, now);
        Self::count_events(&w.data, window_seconds, now)
    }

    pub fn count(&mut self, key: &str, window_seconds: u32, now: u64) -> u64 {
        self.tick(now);
        // Pruned first: a full counter whose events aged out is empty, not
        // full (a quota check counts the longest window before any hit).
        self.events.get_mut(key).map_or(0, |w| {
            Self::prune_events(w, now);
            Self::count_events(&w.data, window_seconds, now)
        })
    }

    pub fn distinct_add(&mut self, key: &str, member: &str, window_seconds: u32, now: u64) -> u64 {
        self.tick(now);
        let w = match self.sets.get_mut(key) {
            Some(w) => w,
            None => self.sets.entry(key.to_owned()).or_default(),
        };
        w.longest_ms = w.longest_ms.max(window_ms(window_seconds));
        w.data.add(member, now);
        w.data.expire(w.longest_ms, now);
        while w.data.len() > MAX_MEMBERS_PER_SET {
            w.data.pop_oldest();
        }
        w.data.count(window_ms(window_seconds), w.longest_ms, now)
    }

    /// Whether `member` was added to `key` within the last `window_seconds`.
    pub fn distinct_has(&mut self, key: &str, member: &str, window_seconds: u32, now: u64) -> bool {
        self.tick(now);
        self.sets
            .get(key)
            .and_then(|w| w.data.get(member))
            .is_some_and(|seen| in_window(seen, window_ms(window_seconds), now))
    }

    pub fn distinct_count(&mut self, key: &str, window_seconds: u32, now: u64) -> u64 {
        self.tick(now);
        self.sets.get_mut(key).map_or(0, |w| {
            w.data.expire(w.longest_ms, now);
            w.data.count(window_ms(window_seconds), w.longest_ms, now)
        })
    }

    /// How many keys are held: values, counters and sets (what has expired
    /// counts until the next sweep).
    pub fn keys(&self) -> usize {
        self.values.len() + self.events.len() + self.sets.len()
    }

    /// When `key` was first seen: `now` for a key never seen before (which is
    /// then remembered). The host keeps actors' and hosts' first-seen times
    /// with this.
    pub fn first_seen(&mut self, key: &str, now: u64) -> u64 {
        *self.first_seen.entry(key.to_owned()).or_insert(now)
    }

    /// When `key` was first seen, if it ever was; nothing is recorded.
    pub fn seen_since(&self, key: &str) -> Option<u64> {
        self.first_seen.get(key).copied()
    }

    /// Restore a stored value (a host reloading persisted state).
    pub fn restore_value(&mut self, key: &str, value: Vec<u8>, expires_at: Option<u64>) {
        self.values.insert(key.to_owned(), (value, expires_at));
    }

    /// Restore one event of a counter, oldest first, with the longest
    /// window asked of it.
    pub fn restore_event(&mut self, key: &str, at: u64, longest_ms: u64) {
        let w = self.events.entry(key.to_owned()).or_default();
        w.longest_ms = w.longest_ms.max(longest_ms);
        push_in_order(&mut w.data, at);
        if w.data.len() > MAX_EVENTS_PER_KEY {
            w.data.pop_front();
        }
    }

    /// Restore one member of a distinct set, with when it was last seen
    /// (cheapest oldest first).
    pub fn restore_member(&mut self, key: &str, member: &str, seen: u64, longest_ms: u64) {
        let w = self.sets.entry(key.to_owned()).or_default();
        w.longest_ms = w.longest_ms.max(longest_ms);
        w.data.add(member, seen);
    }

    /// Whether `key` names a counter (values, counters and sets are keys
    /// of their own, each counted by [`keys`](MemoryState::keys)).
    pub fn holds_counter(&self, key: &str) -> bool {
        self.events.contains_key(key)
    }

    /// Whether `key` names a distinct set.
    pub fn holds_set(&self, key: &str) -> bool {
        self.sets.contains_key(key)
    }

    /// Restore a first-seen time.
    pub fn restore_first_seen(&mut self, key: &str, at: u64) {
        self.first_seen.insert(key.to_owned(), at);
    }

    fn count_events(events: &VecDeque<u64>, window_seconds: u32, now: u64) -> u64 {
        let window = window_ms(window_seconds);
        // A window holding the oldest holds them all: the host asks that
        // before every event (its quota), so it must not walk them.
        if events.front().is_some_and(|t| in_window(*t, window, now)) {
            return events.len() as u64;
        }
        // Events are in time order: the first in the window by bisection.
        let first = events.partition_point(|t| !in_window(*t, window, now));
        (events.len() - first) as u64
    }

    fn prune_events(w: &mut Window<VecDeque<u64>>, now: u64) {
        while w
            .data
            .front()
            .is_some_and(|t| !in_window(*t, w.longest_ms, now))
        {
            w.data.pop_front();
        }
    }

    /// Every few thousand operations, forget what no window can count any
    /// more, so that keys touched once do not accumulate forever.
    fn tick(&mut self, now: u64) {
        self.operations += 1;
        if !self.operations.is_multiple_of(SWEEP_EVERY) {
            return;
        }
        self.values
            .retain(|_, (_, expires)| expires.is_none_or(|e| e > now));
        self.events.retain(|_, w| {
            Self::prune_events(w, now);
            !w.data.is_empty()
        });
        self.sets.retain(|_, w| {
            w.data.expire(w.longest_ms, now);
            w.data.len() > 0
        });
    }
}

/// One named list: plain entries and, for domain lists, their entries by
/// domain. A plain list of hosts answers domain lookups too, with the
/// severity it was loaded with.
#[derive(Debug, Clone, Default)]
pub struct NamedList {
    values: HashSet<String>,
    domains: HashMap<String, DomainEntry>,
}

impl NamedList {
    /// A plain list: each entry is also a domain entry of `severity`.
    pub fn plain<'a>(entries: impl IntoIterator<Item = &'a str>, severity: Severity) -> Self {
        let mut list = NamedList::default();
        for entry in entries {
            list.insert(DomainEntry {
                domain: entry.to_owned(),
                severity,
                reject_media: false,
                reject_reports: false,
                comment: None,
            });
        }
        list
    }

    /// A domain list built from its entries.
    pub fn domains(entries: impl IntoIterator<Item = DomainEntry>) -> Self {
        let mut list = NamedList::default();
        for entry in entries {
            list.insert(entry);
        }
        list
    }

    fn insert(&mut self, mut entry: DomainEntry) {
        let key = entry.domain.trim().trim_end_matches('.').to_lowercase();
        entry.domain.clone_from(&key);
        self.values.insert(key.clone());
        self.domains.insert(key, entry);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn contains(&self, value: &str) -> bool {
        if self.values.contains(value) {
            return true;
        }
        self.values.contains(&value.trim().to_lowercase())
    }

    /// The entry for `host` or for its closest listed parent domain.
    pub fn match_domain(&self, host: &str) -> Option<&DomainEntry> {
        let host = host.trim().trim_end_matches('.').to_lowercase();
        let mut candidate = host.as_str();
        loop {
            if let Some(entry) = self.domains.get(candidate) {
                return Some(entry);
            }
            candidate = candidate.split_once('.')?.1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1000;

    /// A small deterministic generator (xorshift), so that the model test
    /// below replays the same operations every run.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// The bucketless counters answer exactly what a naive model answers
    /// (every event and sighting kept, every count a scan), through
    /// re-sightings, out-of-order times, two windows on one key, expiry
    /// and the sweep.
    #[test]
    fn counts_agree_with_a_naive_model() {
        let mut m = MemoryState::new();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut events: Vec<u64> = Vec::new();
        let mut members: HashMap<String, u64> = HashMap::new();
        let (mut set_longest, mut ev_longest) = (0u64, 0u64);
        let within = |times: &mut dyn Iterator<Item = &u64>, window: u32, now: u64| {
            times
                .filter(|t| in_window(**t, window_ms(window), now))
                .count() as u64
        };
        let mut now = 1_000_000u64;
        for step in 0..20_000 {
            // Mostly forward, sometimes a few ms back (concurrent calls).
            now = (now + rng.below(400)).saturating_sub(rng.below(4) * 30);
            let window = if rng.below(3) == 0 { 5 } else { 30 };
            match rng.below(4) {
                0 | 1 => {
                    let member = format!("m{}", rng.below(300));
                    let seen = members.entry(member.clone()).or_insert(now);
                    *seen = (*seen).max(now);
                    // Forgotten as the store forgets: past the longest
                    // window asked, at the time of the call.
                    set_longest = set_longest.max(window_ms(window));
                    members.retain(|_, t| in_window(*t, set_longest, now));
                    let got = m.distinct_add("set", &member, window, now);
                    let want = within(&mut members.values(), window, now);
                    assert_eq!(got, want, "distinct_add at step {step}");
                }
                2 => {
                    events.push(now);
                    ev_longest = ev_longest.max(window_ms(window));
                    events.retain(|t| in_window(*t, ev_longest, now));
                    let got = m.hit("ev", window, now);
                    let want = within(&mut events.iter(), window, now);
                    assert_eq!(got, want, "hit at step {step}");
                }
                _ => {
                    members.retain(|_, t| in_window(*t, set_longest, now));
                    let got = m.distinct_count("set", window, now);
                    let want = within(&mut members.values(), window, now);
                    assert_eq!(got, want, "distinct_count at step {step}");
                }
            }
        }
    }

    /// A member seen again and again keeps one entry per sighting only
    /// until they outnumber the members: the set's memory follows its
    /// members, not its traffic.
    #[test]
    fn a_hot_member_does_not_grow_its_set() {
        let mut m = MemoryState::new();
        for i in 0..100_000 {
            assert_eq!(m.distinct_add("s", "same", 3600, 1_000 + i), 1);
        }
        let w = &m.sets["s"];
        assert!(
            w.data.order.len() <= 2 * w.data.len() + 65,
            "{}",
            w.data.order.len()
        );
    }

    #[test]
    fn hit_counts_only_the_window() {
        let mut m = MemoryState::new();
        assert_eq!(m.hit("k", 10, 0), 1);
        assert_eq!(m.hit("k", 10, 5 * S), 2);
        assert_eq!(m.hit("k", 10, 9 * S), 3);
        // The first event is now 11 s old.
        assert_eq!(m.hit("k", 10, 11 * S), 3);
        assert_eq!(m.count("k", 10, 30 * S), 0);
        assert_eq!(m.count("other", 10, 30 * S), 0);
    }

    #[test]
    fn distinct_sets_count_members_once() {
        let mut m = MemoryState::new();
        assert_eq!(m.distinct_add("s", "a", 60, 0), 1);
        assert_eq!(m.distinct_add("s", "a", 60, S), 1);
        assert_eq!(m.distinct_add("s", "b", 60, 2 * S), 2);
        // At 61 s "a" (seen at 1 s) is 60 s old: out of a 60 s window.
        assert_eq!(m.distinct_count("s", 60, 61 * S), 1);
        assert_eq!(m.distinct_count("s", 60, 200 * S), 0);
    }

    #[test]
    fn values_expire() {
        let mut m = MemoryState::new();
        m.put("v", b"x", 2, 0);
        m.put("forever", b"y", 0, 0);
        assert_eq!(m.get("v", S).as_deref(), Some(&b"x"[..]));
        assert_eq!(m.get("v", 2 * S), None);
        assert_eq!(m.get("forever", 1_000_000 * S).as_deref(), Some(&b"y"[..]));
        m.delete("forever");
        assert_eq!(m.get("forever", 0), None);
    }

    #[test]
    fn first_seen_is_remembered() {
        let mut m = MemoryState::new();
        assert_eq!(m.first_seen("actor", 100), 100);
        assert_eq!(m.first_seen("actor", 900), 100);
        assert_eq!(m.seen_since("actor"), Some(100));
        assert_eq!(m.seen_since("host"), None);
    }

    #[test]
    fn stored_values_are_not_first_seen_times() {
        let mut m = MemoryState::new();
        assert_eq!(m.first_seen("actor\0https://a.example/u", 5000), 5000);
        m.put("actor\0https://a.example/u", &0u64.to_le_bytes(), 0, 6000);
        m.put("actor\0https://b.example/u", &0u64.to_le_bytes(), 0, 6000);
        assert_eq!(m.first_seen("actor\0https://a.example/u", 7000), 5000);
        assert_eq!(m.first_seen("actor\0https://b.example/u", 7000), 7000);
    }

    #[test]
    fn sweeping_forgets_stale_keys_but_not_live_ones() {
        let mut m = MemoryState::new();
        m.hit("old", 1, 0);
        m.hit("live", 3600, 0);
        for i in 0..SWEEP_EVERY {
            m.count("x", 1, 10 * S + i);
        }
        assert!(!m.events.contains_key("old"));
        assert_eq!(m.count("live", 3600, 20 * S), 1);
    }

    #[test]
    fn domains_match_their_subdomains() {
        let list = NamedList::plain(["Spam.Example"], Severity::Suspend);
        assert!(list.contains("spam.example"));
        assert_eq!(
            list.match_domain("a.b.spam.example").unwrap().domain,
            "spam.example"
        );
        assert!(list.match_domain("notspam.example").is_none());
        assert!(list.match_domain("example").is_none());
    }
}
