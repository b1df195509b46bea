//! The `state` capability's storage, and the host's first-seen times.
//!
//! Every backend implements [`StateBackend`]; modules reach it only through
//! their own namespace (the module's name), so no module reads another's
//! keys. Times are passed in (milliseconds since the Unix epoch): the
//! activity's receive time, so a replay counts exactly as the live run did.
//!
//! Backends: [`MemoryBackend`] (in-process), [`SqliteBackend`] (embedded,
//! survives restarts; the default of `palisade serve`), [`RedisBackend`]
//! (shared by replicas). [`open`] builds the configured one behind
//! [`Quotas`] and, for Redis, [`Failover`] to local state while it is
//! unreachable.

mod failover;
mod redis;
mod sqlite;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use palisade_sdk::memory::MemoryState;

pub use self::redis::RedisBackend;
pub use failover::{Failover, Health};
pub use sqlite::SqliteBackend;

use crate::config::{StateConfig, StateOnError};

/// A state call failed; the module's failure policy applies.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The backend failed (unreachable, a disk error).
    #[error("state backend: {0}")]
    Backend(String),
    /// The module went past one of its quotas (`[state]`): an error of
    /// its own kind, counted as such.
    #[error("state quota: {0}")]
    Quota(String),
}

impl StateError {
    /// What went wrong, without the prefix.
    pub fn message(&self) -> &str {
        match self {
            StateError::Backend(m) | StateError::Quota(m) => m,
        }
    }
}

pub type StateResult<T> = Result<T, StateError>;

/// Storage for module state and first-seen times.
pub trait StateBackend: Send + Sync {
    fn get(&self, ns: &str, key: &str, now: u64) -> StateResult<Option<Vec<u8>>>;
    fn put(&self, ns: &str, key: &str, value: &[u8], ttl_seconds: u32, now: u64)
    -> StateResult<()>;
    fn delete(&self, ns: &str, key: &str) -> StateResult<()>;
    fn hit(&self, ns: &str, key: &str, window_seconds: u32, now: u64) -> StateResult<u64>;
    fn count(&self, ns: &str, key: &str, window_seconds: u32, now: u64) -> StateResult<u64>;
    fn distinct_add(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window_seconds: u32,
        now: u64,
    ) -> StateResult<u64>;
    fn distinct_count(
        &self,
        ns: &str,
        key: &str,
        window_seconds: u32,
        now: u64,
    ) -> StateResult<u64>;
    /// Whether `member` is in the set `key`, seen within `window_seconds`.
    fn distinct_has(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window_seconds: u32,
        now: u64,
    ) -> StateResult<bool>;
    /// When `subject` (an actor's URI, a host) was first seen; `now` the
    /// first time, which is then remembered. Kept apart from every module's
    /// keys.
    fn first_seen(&self, subject: &str, now: u64) -> StateResult<u64>;
    /// When `subject` was first seen, if it was; nothing is recorded.
    fn seen_since(&self, subject: &str) -> StateResult<Option<u64>>;
    /// How many keys the namespace `ns` holds (values, counters and sets;
    /// what has expired may still count until it is swept).
    fn keys(&self, ns: &str, now: u64) -> StateResult<u64>;
    /// For a backend that can be unreachable: whether it is, and how many
    /// calls failed.
    fn health(&self) -> Option<Health> {
        None
    }

    /// [`hit`](StateBackend::hit) within a module's quotas, as one step
    /// (one lock, one Redis round trip): past a quota the count is
    /// answered as if the event had been counted, and nothing is stored.
    fn hit_bounded(
        &self,
        ns: &str,
        key: &str,
        window: u32,
        now: u64,
        bounds: &Bounds,
    ) -> StateResult<Counted>;

    /// [`distinct_add`](StateBackend::distinct_add) within a module's
    /// quotas, as one step (see [`hit_bounded`](StateBackend::hit_bounded)).
    fn distinct_add_bounded(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
        bounds: &Bounds,
    ) -> StateResult<Counted>;
}

/// The quotas a module's counting calls are held to (`[state]`).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Keys the namespace may hold.
    pub max_keys: u64,
    pub max_events_per_key: u64,
    pub max_members_per_set: u64,
    /// The longest window (`max_ttl_seconds`): every event a key holds.
    pub longest: u32,
}

/// What a bounded counting call answered, and whether it stored anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub count: u64,
    pub stored: bool,
}

impl Counted {
    pub fn stored(count: u64) -> Counted {
        Counted {
            count,
            stored: true,
        }
    }

    pub fn saturated(count: u64) -> Counted {
        Counted {
            count,
            stored: false,
        }
    }
}

/// Where state lives, from `--state` or `state.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateUrl {
    Memory,
    Sqlite(std::path::PathBuf),
    Redis(String),
}

impl std::str::FromStr for StateUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<StateUrl, String> {
        if s == "memory" {
            Ok(StateUrl::Memory)
        } else if let Some(path) = s.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err("`sqlite:` needs a path, as in sqlite:palisade-state.db".into());
            }
            Ok(StateUrl::Sqlite(path.into()))
        } else if s.starts_with("redis://") || s.starts_with("rediss://") {
            Ok(StateUrl::Redis(s.to_owned()))
        } else {
            Err(format!(
                "`{s}` is not a state location: use memory, sqlite:PATH or redis://HOST:PORT[/DB]"
            ))
        }
    }
}

/// Open the state backend `config` names (`base` resolves a relative
/// SQLite path).
pub fn open(config: &StateConfig, base: &Path) -> StateResult<Arc<dyn StateBackend>> {
    let url: StateUrl = config.url.parse().map_err(StateError::Backend)?;
    let backend: Arc<dyn StateBackend> = match url {
        StateUrl::Memory => Arc::new(MemoryBackend::new()),
        StateUrl::Sqlite(path) => {
            let path = if path.is_absolute() {
                path
            } else {
                base.join(path)
            };
            Arc::new(SqliteBackend::open(&path)?)
        }
        StateUrl::Redis(url) => {
            let timeout = std::time::Duration::from_millis(config.timeout_ms);
            let redis = RedisBackend::new(&url, &config.prefix, timeout)?;
            Arc::new(Failover::new(
                Arc::new(redis),
                config.on_error == StateOnError::Local,
            ))
        }
    };
    Ok(Arc::new(Quotas {
        inner: backend,
        max_key_bytes: config.max_key_bytes,
        max_value_bytes: config.max_value_bytes,
        max_ttl_seconds: config.max_ttl_seconds,
        max_keys: config.max_keys,
        max_events_per_key: config.max_events_per_key,
        max_members_per_set: config.max_members_per_set,
        last_saturated_warning: AtomicU64::new(0),
    }))
}

/// Per-module limits, the same for every backend: key and value sizes, a
/// number of keys per module, events per counter and members per set, and
/// a longest time to live (a value stored "forever" gets it, a window
/// longer is cut to it), so what a module holds is bounded whatever it
/// does. A breach of a size or of `max_keys` on `put` is a
/// [`StateError::Quota`]; a counting call past a quota answers as if it had
/// counted, without storing (see [`Quotas::saturated`]).
pub struct Quotas {
    pub inner: Arc<dyn StateBackend>,
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    pub max_ttl_seconds: u32,
    pub max_keys: u64,
    /// At most [`palisade_sdk::memory::MAX_EVENTS_PER_KEY`] (checked in
    /// the configuration), so the store's own cap never drops an event.
    pub max_events_per_key: u64,
    /// At most [`palisade_sdk::memory::MAX_MEMBERS_PER_SET`].
    pub max_members_per_set: u64,
    /// When [`Quotas::saturated`] last warned (ms since the epoch).
    pub last_saturated_warning: AtomicU64,
}

impl Quotas {
    /// A window no longer than the longest time to live: nothing is
    /// remembered longer than that, however long a window is asked for.
    fn window(&self, window: u32) -> u32 {
        window.min(self.max_ttl_seconds)
    }

    fn bounds(&self) -> Bounds {
        Bounds {
            max_keys: self.max_keys,
            max_events_per_key: self.max_events_per_key,
            max_members_per_set: self.max_members_per_set,
            longest: self.max_ttl_seconds,
        }
    }

    /// A counting call past a quota answers as if it had counted, without
    /// storing: an error would fail the module's call, and a failed module
    /// is skipped, so a sender who filled a wave detector's sets would blind
    /// it. Counts saturate at the quota instead, which still meets any
    /// threshold below it. Logged at most once a minute.
    fn saturated(&self, ns: &str, quota: &str) {
        let now = crate::runtime::unix_ms();
        let last = self.last_saturated_warning.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60_000
            && self
                .last_saturated_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                module = ns,
                "a module's counts reached {quota}: counted, not stored"
            );
        }
    }

    /// Refuse a key that `ns` does not hold yet when it is at its quota.
    fn check_room(
        &self,
        ns: &str,
        fresh: impl FnOnce() -> StateResult<bool>,
        now: u64,
    ) -> StateResult<()> {
        if self.inner.keys(ns, now)? >= self.max_keys && fresh()? {
            return Err(StateError::Quota(format!(
                "module `{ns}` holds {} keys, its quota (state.max_keys)",
                self.max_keys
            )));
        }
        Ok(())
    }

    /// The key as stored: itself, or when longer than `max_key_bytes` its
    /// SHA-256. Refusing a long key would fail the module's call, and a
    /// failed module is skipped: a sender choosing a 600-byte actor URI
    /// would walk past every module that keys by actor. A digest keeps the
    /// meaning (equal keys, equal digests) in bounded space.
    fn key<'k>(&self, key: &'k str) -> Cow<'k, str> {
        stored_key(key, self.max_key_bytes)
    }
}

/// `key`, or its SHA-256 (`\u{1}sha256:HEX`, a form no short key of a
/// module collides with by accident) when it is longer than `max`.
pub(crate) fn stored_key(key: &str, max: usize) -> Cow<'_, str> {
    if key.len() <= max {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(format!(
            "\u{1}sha256:{}",
            crate::runtime::sha256_hex(key.as_bytes())
        ))
    }
}

impl StateBackend for Quotas {
    fn get(&self, ns: &str, key: &str, now: u64) -> StateResult<Option<Vec<u8>>> {
        let key = &*self.key(key);
        self.inner.get(ns, key, now)
    }

    fn put(&self, ns: &str, key: &str, value: &[u8], ttl: u32, now: u64) -> StateResult<()> {
        let key = &*self.key(key);
        if value.len() > self.max_value_bytes {
            return Err(StateError::Quota(format!(
                "module `{ns}` stored a value of {} bytes; state.max_value_bytes is {}",
                value.len(),
                self.max_value_bytes
            )));
        }
        let ttl = if ttl == 0 {
            self.max_ttl_seconds
        } else {
            ttl.min(self.max_ttl_seconds)
        };
        self.check_room(ns, || Ok(self.inner.get(ns, key, now)?.is_none()), now)?;
        self.inner.put(ns, key, value, ttl, now)
    }

    fn delete(&self, ns: &str, key: &str) -> StateResult<()> {
        let key = &*self.key(key);
        self.inner.delete(ns, key)
    }

    fn hit(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        let key = &*self.key(key);
        let counted = self
            .inner
            .hit_bounded(ns, key, self.window(window), now, &self.bounds())?;
        if !counted.stored {
            self.saturated(ns, "state.max_events_per_key or state.max_keys");
        }
        Ok(counted.count)
    }

    fn count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        let key = &*self.key(key);
        self.inner.count(ns, key, self.window(window), now)
    }

    fn distinct_add(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
    ) -> StateResult<u64> {
        let key = &*self.key(key);
        let member = &*self.key(member);
        let counted = self.inner.distinct_add_bounded(
            ns,
            key,
            member,
            self.window(window),
            now,
            &self.bounds(),
        )?;
        if !counted.stored {
            self.saturated(ns, "state.max_members_per_set or state.max_keys");
        }
        Ok(counted.count)
    }

    fn distinct_count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        let key = &*self.key(key);
        self.inner.distinct_count(ns, key, self.window(window), now)
    }

    fn distinct_has(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
    ) -> StateResult<bool> {
        let key = &*self.key(key);
        let member = &*self.key(member);
        self.inner
            .distinct_has(ns, key, member, self.window(window), now)
    }

    fn first_seen(&self, subject: &str, now: u64) -> StateResult<u64> {
        self.inner.first_seen(&self.key(subject), now)
    }

    fn seen_since(&self, subject: &str) -> StateResult<Option<u64>> {
        self.inner.seen_since(&self.key(subject))
    }

    fn keys(&self, ns: &str, now: u64) -> StateResult<u64> {
        self.inner.keys(ns, now)
    }

    fn health(&self) -> Option<Health> {
        self.inner.health()
    }

    fn hit_bounded(
        &self,
        ns: &str,
        key: &str,
        window: u32,
        now: u64,
        bounds: &Bounds,
    ) -> StateResult<Counted> {
        self.inner
            .hit_bounded(ns, &self.key(key), self.window(window), now, bounds)
    }

    fn distinct_add_bounded(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
        bounds: &Bounds,
    ) -> StateResult<Counted> {
        let (key, member) = (self.key(key), self.key(member));
        self.inner
            .distinct_add_bounded(ns, &key, &member, self.window(window), now, bounds)
    }
}

/// In-process state: nothing to install, gone at exit. One
/// [`MemoryState`] per module namespace (so that its keys can be counted
/// against its quota), and one for the host's first-seen times, which no
/// namespace reaches.
#[derive(Default)]
pub struct MemoryBackend {
    modules: Mutex<HashMap<String, MemoryState>>,
    host: Mutex<MemoryState>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// Run `f` on the state of namespace `ns`.
    pub(crate) fn with<R>(
        &self,
        ns: &str,
        f: impl FnOnce(&mut MemoryState) -> R,
    ) -> StateResult<R> {
        // A panic while holding the lock leaves counts usable: keep going.
        let mut modules = self.modules.lock().unwrap_or_else(|e| e.into_inner());
        let state = match modules.get_mut(ns) {
            Some(state) => state,
            None => modules.entry(ns.to_owned()).or_default(),
        };
        Ok(f(state))
    }

    /// Run `f` on the host's own records.
    pub(crate) fn with_host<R>(&self, f: impl FnOnce(&mut MemoryState) -> R) -> StateResult<R> {
        let mut host = self.host.lock().unwrap_or_else(|e| e.into_inner());
        Ok(f(&mut host))
    }
}

impl StateBackend for MemoryBackend {
    fn get(&self, ns: &str, key: &str, now: u64) -> StateResult<Option<Vec<u8>>> {
        self.with(ns, |m| m.get(key, now))
    }

    fn put(&self, ns: &str, key: &str, value: &[u8], ttl: u32, now: u64) -> StateResult<()> {
        self.with(ns, |m| m.put(key, value, ttl, now))
    }

    fn delete(&self, ns: &str, key: &str) -> StateResult<()> {
        self.with(ns, |m| m.delete(key))
    }

    fn hit(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.with(ns, |m| m.hit(key, window, now))
    }

    fn count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.with(ns, |m| m.count(key, window, now))
    }

    fn distinct_add(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
    ) -> StateResult<u64> {
        self.with(ns, |m| m.distinct_add(key, member, window, now))
    }

    fn distinct_count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.with(ns, |m| m.distinct_count(key, window, now))
    }

    fn distinct_has(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
    ) -> StateResult<bool> {
        self.with(ns, |m| m.distinct_has(key, member, window, now))
    }

    fn first_seen(&self, subject: &str, now: u64) -> StateResult<u64> {
        self.with_host(|m| m.first_seen(subject, now))
    }

    fn seen_since(&self, subject: &str) -> StateResult<Option<u64>> {
        self.with_host(|m| m.seen_since(subject))
    }

    fn keys(&self, ns: &str, _now: u64) -> StateResult<u64> {
        self.with(ns, |m| m.keys() as u64)
    }

    fn hit_bounded(
        &self,
        ns: &str,
        key: &str,
        window: u32,
        now: u64,
        bounds: &Bounds,
    ) -> StateResult<Counted> {
        self.with(ns, |m| memory_hit_bounded(m, key, window, now, bounds))
    }

    fn distinct_add_bounded(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
        bounds: &Bounds,
    ) -> StateResult<Counted> {
        self.with(ns, |m| {
            memory_distinct_add_bounded(m, key, member, window, now, bounds)
        })
    }
}

/// [`StateBackend::hit_bounded`] on one namespace's memory, under its lock.
fn memory_hit_bounded(
    m: &mut MemoryState,
    key: &str,
    window: u32,
    now: u64,
    bounds: &Bounds,
) -> Counted {
    let full = (!m.holds_counter(key) && m.keys() as u64 >= bounds.max_keys)
        || m.count(key, bounds.longest, now) >= bounds.max_events_per_key;
    if full {
        Counted::saturated(m.count(key, window, now) + 1)
    } else {
        Counted::stored(m.hit(key, window, now))
    }
}

/// [`StateBackend::distinct_add_bounded`] on one namespace's memory.
fn memory_distinct_add_bounded(
    m: &mut MemoryState,
    key: &str,
    member: &str,
    window: u32,
    now: u64,
    bounds: &Bounds,
) -> Counted {
    let full = (!m.holds_set(key) && m.keys() as u64 >= bounds.max_keys)
        || (m.distinct_count(key, bounds.longest, now) >= bounds.max_members_per_set
            && !m.distinct_has(key, member, bounds.longest, now));
    if full {
        let known = m.distinct_has(key, member, window, now);
        Counted::saturated(m.distinct_count(key, window, now) + u64::from(!known))
    } else {
        Counted::stored(m.distinct_add(key, member, window, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        max_keys: 2,
        max_events_per_key: 5,
        max_members_per_set: 5,
        longest: 3600,
    };

    /// A counter filled to its quota counts again once its events age
    /// out of every window, instead of answering "1" for ever.
    #[test]
    fn a_full_counter_counts_again_once_its_events_age_out() {
        let m = MemoryBackend::new();
        let t0 = 1_000_000;
        for i in 1..=5 {
            assert_eq!(
                m.hit_bounded("ns", "k", 60, t0, &BOUNDS).unwrap(),
                Counted::stored(i)
            );
        }
        assert_eq!(
            m.hit_bounded("ns", "k", 60, t0, &BOUNDS).unwrap(),
            Counted::saturated(6)
        );
        let later = t0 + 3_601_000;
        assert_eq!(
            m.hit_bounded("ns", "k", 60, later, &BOUNDS).unwrap(),
            Counted::stored(1)
        );
        assert_eq!(
            m.hit_bounded("ns", "k", 60, later, &BOUNDS).unwrap(),
            Counted::stored(2)
        );
    }

    /// Values, counters and sets are keys of their own: a namespace at
    /// `max_keys` cannot add a counter or a set under a value's name.
    #[test]
    fn a_full_namespace_gets_no_counter_or_set_under_a_value_name() {
        let m = MemoryBackend::new();
        m.put("ns", "a", b"1", 0, 0).unwrap();
        m.put("ns", "b", b"1", 0, 0).unwrap();
        let hit = m.hit_bounded("ns", "a", 60, 1_000, &BOUNDS).unwrap();
        assert_eq!(hit, Counted::saturated(1));
        let add = m
            .distinct_add_bounded("ns", "b", "x", 60, 1_000, &BOUNDS)
            .unwrap();
        assert_eq!(add, Counted::saturated(1));
        assert_eq!(m.keys("ns", 1_000).unwrap(), 2);
    }
}
