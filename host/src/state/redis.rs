//! The shared backend: state in Redis, so that every replica counts the
//! same waves. Counting works exactly as the in-memory state does
//! (`palisade_sdk::memory`): windows are sorted sets scored by time, each
//! update one Lua script (atomic, one round trip).
//!
//! Every call has a short timeout (`state.timeout_ms`), on connecting as on
//! reading: a module's CPU deadline cannot interrupt a host call, so Redis
//! must answer well within it or not at all. Connections are kept in a
//! small pool; one that fails is dropped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use palisade_sdk::memory::{MAX_EVENTS_PER_KEY, MAX_MEMBERS_PER_SET};
use redis::{Client, Connection, Script};

use super::{Bounds, Counted, StateBackend, StateError, StateResult};

/// Idle connections kept at most.
const POOL: usize = 32;
/// First-seen times remembered at most (then forgotten all at once).
const FIRST_SEEN_KNOWN: usize = 1 << 20;

/// Add to a window (an event, or a member's latest sighting) within the
/// module's quotas, prune what the longest window of the key can no
/// longer count, and count the window: the quota checks and the add in
/// one script, so one round trip and atomic across replicas. KEYS: the
/// sorted set, its longest-window record, the namespace's key index.
/// ARGV: now (ms), window (ms), member, the cap on the set's size, the
/// key's name in the index, the namespace's key quota, whether members
/// are distinct (1) or events (0), the wall clock (ms, the index's
/// expiry times). Returns {count, stored (1) or saturated (0)}: past a
/// quota the count is answered as if added and nothing is stored.
const WINDOW_ADD: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cap = tonumber(ARGV[4])
local distinct = ARGV[7] == '1'
local longest = tonumber(redis.call('GET', KEYS[2]) or '0')
if window > longest then longest = window end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
local full = false
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[8])
  full = redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[6])
end
local known = distinct and redis.call('ZSCORE', KEYS[1], ARGV[3])
if not full and redis.call('ZCARD', KEYS[1]) >= cap and not known then full = true end
if full then
  local n = redis.call('ZCOUNT', KEYS[1], '(' .. (now - window), '+inf')
  if not (known and tonumber(known) > now - window) then n = n + 1 end
  return {n, 0}
end
redis.call('SET', KEYS[2], longest, 'PX', longest + 60000)
if known then
  -- A member's latest sighting wins, as in memory (times are not ordered).
  redis.call('ZADD', KEYS[1], 'GT', now, ARGV[3])
else
  redis.call('ZADD', KEYS[1], now, ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], longest + 60000)
redis.call('ZADD', KEYS[3], now + longest + 60000, ARGV[5])
return {redis.call('ZCOUNT', KEYS[1], '(' .. (now - window), '+inf'), 1}
";

pub struct RedisBackend {
    client: Client,
    prefix: String,
    timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    window_add: Script,
    /// Makes event members unique across replicas and calls.
    instance: String,
    events: AtomicU64,
    first_seen: Mutex<std::collections::HashMap<String, u64>>,
}

fn redis_error(e: redis::RedisError) -> StateError {
    StateError::Backend(format!("redis: {e}"))
}

impl RedisBackend {
    /// A backend for the Redis at `url` (`redis://HOST:PORT[/DB]`). Does
    /// not connect yet: Palisade starts while Redis is down.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> StateResult<RedisBackend> {
        let client = Client::open(url)
            .map_err(|e| StateError::Backend(format!("invalid Redis URL `{url}`: {e}")))?;
        Ok(RedisBackend {
            client,
            prefix: prefix.to_owned(),
            timeout,
            idle: Mutex::new(Vec::new()),
            window_add: Script::new(WINDOW_ADD),
            instance: uuid::Uuid::new_v4().simple().to_string(),
            events: AtomicU64::new(0),
            first_seen: Mutex::new(std::collections::HashMap::new()),
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut Connection) -> redis::RedisResult<R>) -> StateResult<R> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = self
                    .client
                    .get_connection_with_timeout(self.timeout)
                    .map_err(redis_error)?;
                conn.set_read_timeout(Some(self.timeout))
                    .map_err(redis_error)?;
                conn.set_write_timeout(Some(self.timeout))
                    .map_err(redis_error)?;
                conn
            }
        };
        let result = f(&mut conn).map_err(redis_error)?;
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < POOL {
            idle.push(conn);
        }
        Ok(result)
    }

    fn key(&self, kind: &str, ns: &str, key: &str) -> String {
        format!("{}:{ns}:{kind}:{key}", self.prefix)
    }

    /// The namespace's key index: a sorted set of its keys (`KIND:KEY`)
    /// by when they expire (ms), to count them against its quota.
    fn index(&self, ns: &str) -> String {
        format!("{}:{ns}:#keys", self.prefix)
    }

    /// The host's first-seen records: `PREFIX::first-seen:…`, with an
    /// empty namespace, which no module has (module names are 1 to 64
    /// letters, digits, `-` and `_`, so never empty and never holding `:`).
    fn first_seen_key(&self, subject: &str) -> String {
        format!("{}::first-seen:{subject}", self.prefix)
    }

    /// Add `member` at `now` to the `kind` window (`ev`ents or `set`
    /// members) of a key within `bounds`; the count within `window`.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        kind: &str,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
        bounds: &Bounds,
    ) -> StateResult<Counted> {
        let (cap, distinct) = if kind == "ev" {
            (bounds.max_events_per_key.min(MAX_EVENTS_PER_KEY as u64), 0)
        } else {
            (
                bounds.max_members_per_set.min(MAX_MEMBERS_PER_SET as u64),
                1,
            )
        };
        let set = self.key(kind, ns, key);
        let longest = self.key(&format!("{kind}w"), ns, key);
        let (count, stored): (u64, u8) = self.with(|c| {
            self.window_add
                .key(&set)
                .key(&longest)
                .key(self.index(ns))
                .arg(now)
                .arg(u64::from(window) * 1000)
                .arg(member)
                .arg(cap)
                .arg(format!("{kind}:{key}"))
                .arg(bounds.max_keys)
                .arg(distinct)
                .arg(crate::runtime::unix_ms())
                .invoke(c)
        })?;
        Ok(Counted {
            count,
            stored: stored == 1,
        })
    }

    /// Without a module's quotas (the host's own calls go through
    /// [`Quotas`](super::Quotas) too): only the hard caps.
    fn unbounded() -> Bounds {
        Bounds {
            max_keys: u64::MAX,
            max_events_per_key: MAX_EVENTS_PER_KEY as u64,
            max_members_per_set: MAX_MEMBERS_PER_SET as u64,
            longest: u32::MAX,
        }
    }

    fn count_in(&self, kind: &str, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        let set = self.key(kind, ns, key);
        let since = now as i64 - i64::from(window) * 1000;
        self.with(|c| {
            redis::cmd("ZCOUNT")
                .arg(&set)
                .arg(format!("({since}"))
                .arg("+inf")
                .query(c)
        })
    }
}

impl StateBackend for RedisBackend {
    fn get(&self, ns: &str, key: &str, _now: u64) -> StateResult<Option<Vec<u8>>> {
        let k = self.key("kv", ns, key);
        self.with(|c| redis::cmd("GET").arg(&k).query(c))
    }

    fn put(&self, ns: &str, key: &str, value: &[u8], ttl: u32, _now: u64) -> StateResult<()> {
        let k = self.key("kv", ns, key);
        // Redis expires values by its clock; the index follows the same.
        let expires = if ttl > 0 {
            crate::runtime::unix_ms() as f64 + f64::from(ttl) * 1000.0
        } else {
            f64::INFINITY
        };
        self.with(|c| {
            let mut pipe = redis::pipe();
            pipe.atomic();
            let set = pipe.cmd("SET").arg(&k).arg(value);
            if ttl > 0 {
                set.arg("EX").arg(ttl);
            }
            pipe.ignore();
            pipe.cmd("ZADD")
                .arg(self.index(ns))
                .arg(if expires.is_finite() {
                    expires.to_string()
                } else {
                    "+inf".into()
                })
                .arg(format!("kv:{key}"))
                .ignore();
            pipe.query::<()>(c)
        })
    }

    fn delete(&self, ns: &str, key: &str) -> StateResult<()> {
        let keys = ["kv", "ev", "evw", "set", "setw"].map(|kind| self.key(kind, ns, key));
        let indexed = ["kv", "ev", "set"].map(|kind| format!("{kind}:{key}"));
        self.with(|c| {
            redis::pipe()
                .atomic()
                .cmd("DEL")
                .arg(&keys[..])
                .ignore()
                .cmd("ZREM")
                .arg(self.index(ns))
                .arg(&indexed[..])
                .ignore()
                .query::<()>(c)
        })
    }

    fn keys(&self, ns: &str, _now: u64) -> StateResult<u64> {
        let index = self.index(ns);
        let now = crate::runtime::unix_ms();
        self.with(|c| {
            let (n,): (u64,) = redis::pipe()
                .atomic()
                .cmd("ZREMRANGEBYSCORE")
                .arg(&index)
                .arg("-inf")
                .arg(now)
                .ignore()
                .cmd("ZCARD")
                .arg(&index)
                .query(c)?;
            Ok(n)
        })
    }

    fn hit(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        Ok(self
            .hit_bounded(ns, key, window, now, &Self::unbounded())?
            .count)
    }

    fn hit_bounded(
        &self,
        ns: &str,
        key: &str,
        window: u32,
        now: u64,
        bounds: &Bounds,
    ) -> StateResult<Counted> {
        let n = self.events.fetch_add(1, Ordering::Relaxed);
        let member = format!("{now}:{}:{n}", self.instance);
        self.add("ev", ns, key, &member, window, now, bounds)
    }

    fn count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.count_in("ev", ns, key, window, now)
    }

    fn distinct_add(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
    ) -> StateResult<u64> {
        Ok(self
            .distinct_add_bounded(ns, key, member, window, now, &Self::unbounded())?
            .count)
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
        self.add("set", ns, key, member, window, now, bounds)
    }

    fn distinct_count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.count_in("set", ns, key, window, now)
    }

    fn distinct_has(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
    ) -> StateResult<bool> {
        let set = self.key("set", ns, key);
        let seen: Option<f64> =
            self.with(|c| redis::cmd("ZSCORE").arg(&set).arg(member).query(c))?;
        let since = now as f64 - f64::from(window) * 1000.0;
        Ok(seen.is_some_and(|t| t > since))
    }

    fn seen_since(&self, subject: &str) -> StateResult<Option<u64>> {
        if let Some(at) = self
            .first_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(subject)
        {
            return Ok(Some(*at));
        }
        let k = self.first_seen_key(subject);
        self.with(|c| redis::cmd("GET").arg(&k).query(c))
    }

    fn first_seen(&self, subject: &str, now: u64) -> StateResult<u64> {
        // A first-seen time never changes once stored: remember it.
        if let Some(at) = self
            .first_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(subject)
        {
            return Ok(*at);
        }
        // SET NX GET: the earlier time if there is one, else ours is stored.
        let k = self.first_seen_key(subject);
        let earlier: Option<u64> = self.with(|c| {
            redis::cmd("SET")
                .arg(&k)
                .arg(now)
                .arg("NX")
                .arg("GET")
                .query(c)
        })?;
        let at = earlier.unwrap_or(now);
        let mut known = self.first_seen.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= FIRST_SEEN_KNOWN {
            known.clear();
        }
        known.insert(subject.to_owned(), at);
        Ok(at)
    }
}
