//! The shared quarantine store: Redis, so that replicas behind one load
//! balancer hold into one quarantine and any replica's admin API lists and
//! releases every hold.
//!
//! An entry is a hash (`PREFIX:q:ID`) with the request and what was
//! decided; sorted sets by status (`PREFIX:q:status:STATUS`, scored by id)
//! index it. Holding and resolving are Lua scripts, so an entry and its
//! index change together. Listing filters by host, module and time in
//! Palisade, scanning the status index newest first.
//!
//! Durability is Redis's: the `202` is sent once Redis has accepted the
//! write, and a hold survives a Redis crash only with `appendonly yes` and
//! `appendfsync always`, which Palisade checks at start and warns about.

use std::sync::Mutex;
use std::time::Duration;

use redis::{Client, Connection, Script};

use super::{
    Entry, Filter, HeldRequest, Hold, Store, StoreError, decode_headers, encode_headers, fold,
};

const TIMEOUT: Duration = Duration::from_secs(5);
/// Entries fetched per round trip when scanning.
const BATCH: isize = 200;

/// KEYS: the id counter. ARGV: prefix, then field/value pairs. Returns the
/// new id.
const HOLD: &str = r"
local id = redis.call('INCR', KEYS[1])
local key = ARGV[1] .. ':q:' .. id
redis.call('HSET', key, unpack(ARGV, 2))
redis.call('ZADD', ARGV[1] .. ':q:status:held', id, id)
return id
";

/// ARGV: prefix, id, new status, resolution, time. 1 if it was held.
const RESOLVE: &str = r"
local key = ARGV[1] .. ':q:' .. ARGV[2]
if redis.call('HGET', key, 'status') ~= 'held' then return 0 end
redis.call('HSET', key, 'status', ARGV[3], 'resolution', ARGV[4], 'resolved_at', ARGV[5])
redis.call('ZREM', ARGV[1] .. ':q:status:held', ARGV[2])
redis.call('ZADD', ARGV[1] .. ':q:status:' .. ARGV[3], ARGV[2], ARGV[2])
return 1
";

/// The fields listed (not the request itself), then the folded text that
/// [`Filter::text`] matches.
const META: [&str; 12] = [
    "received_at",
    "status",
    "method",
    "path",
    "activity_id",
    "actor",
    "actor_host",
    "modules",
    "decision",
    "resolved_at",
    "resolution",
    "search",
];

/// The fields a filter reads, then the folded text: all that counts and
/// bulk actions fetch (not the decisions).
const FILTERED: [&str; 5] = ["received_at", "status", "actor_host", "modules", "search"];

const STATUSES: [&str; 3] = ["held", "released", "dropped"];

pub struct RedisStore {
    client: Client,
    prefix: String,
    conn: Mutex<Option<Connection>>,
    hold: Script,
    resolve: Script,
}

impl RedisStore {
    /// The store at `url`; connects at once, to report a wrong address at
    /// start, and warns when Redis would lose acknowledged holds in a
    /// crash.
    pub fn open(url: &str, prefix: &str) -> Result<RedisStore, StoreError> {
        let client =
            Client::open(url).map_err(|e| StoreError(format!("invalid Redis URL `{url}`: {e}")))?;
        let store = RedisStore {
            client,
            prefix: prefix.to_owned(),
            conn: Mutex::new(None),
            hold: Script::new(HOLD),
            resolve: Script::new(RESOLVE),
        };
        let fsync: Vec<String> =
            store.with(|c| redis::cmd("CONFIG").arg("GET").arg("appendfsync").query(c))?;
        let aof: Vec<String> =
            store.with(|c| redis::cmd("CONFIG").arg("GET").arg("appendonly").query(c))?;
        if aof.get(1).map(String::as_str) != Some("yes")
            || fsync.get(1).map(String::as_str) != Some("always")
        {
            tracing::warn!(
                appendonly = aof.get(1).map(String::as_str).unwrap_or("?"),
                appendfsync = fsync.get(1).map(String::as_str).unwrap_or("?"),
                "the quarantine's Redis may lose acknowledged holds in a crash: set appendonly yes and appendfsync always"
            );
        }
        Ok(store)
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<R>,
    ) -> Result<R, StoreError> {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            let conn = self.client.get_connection_with_timeout(TIMEOUT)?;
            conn.set_read_timeout(Some(TIMEOUT))?;
            conn.set_write_timeout(Some(TIMEOUT))?;
            *slot = Some(conn);
        }
        let result = f(slot.as_mut().expect("connected"));
        if result.is_err() {
            // A broken connection is not reused.
            *slot = None;
        }
        Ok(result?)
    }

    fn key(&self, id: i64) -> String {
        format!("{}:q:{id}", self.prefix)
    }

    fn index(&self, status: &str) -> String {
        format!("{}:q:status:{status}", self.prefix)
    }

    /// Entries of the statuses `filter` allows, matching it, in id order
    /// (`newest_first` or oldest first), after skipping `offset` matches,
    /// at most `limit`.
    /// `light`: only what a filter reads ([`FILTERED`]), for ids; else
    /// whole entries.
    fn scan_with(
        &self,
        filter: &Filter,
        newest_first: bool,
        offset: usize,
        limit: usize,
        light: bool,
    ) -> Result<Vec<Entry>, StoreError> {
        let statuses: Vec<&str> = match &filter.status {
            Some(s) => STATUSES.iter().copied().filter(|x| x == s).collect(),
            None => STATUSES.to_vec(),
        };
        // Merge the status indexes by id (or look at the ids listed).
        let mut ids: Vec<i64> = filter.ids.clone().unwrap_or_default();
        for status in statuses.into_iter().filter(|_| filter.ids.is_none()) {
            let index = self.index(status);
            let mut start = 0isize;
            loop {
                let page: Vec<i64> = self.with(|c| {
                    redis::cmd("ZRANGE")
                        .arg(&index)
                        .arg(start)
                        .arg(start + BATCH - 1)
                        .query(c)
                })?;
                let n = page.len() as isize;
                ids.extend(page);
                if n < BATCH {
                    break;
                }
                start += BATCH;
            }
        }
        ids.sort_unstable();
        ids.dedup();
        if newest_first {
            ids.reverse();
        }
        let mut out = Vec::new();
        let mut skipped = 0;
        for chunk in ids.chunks(BATCH as usize) {
            let mut pipe = redis::pipe();
            for id in chunk {
                let fields: &[&str] = if light { &FILTERED } else { &META };
                pipe.cmd("HMGET").arg(self.key(*id)).arg(fields);
            }
            let rows: Vec<Vec<Option<String>>> = self.with(|c| pipe.query(c))?;
            for (id, mut row) in chunk.iter().zip(rows) {
                let search = row.pop().flatten();
                let entry = if light {
                    filtered_entry(*id, row)
                } else {
                    to_entry(*id, row)
                };
                let Some(entry) = entry else {
                    continue;
                };
                if !filter.matches(&entry, search.as_deref()) {
                    continue;
                }
                if skipped < offset {
                    skipped += 1;
                    continue;
                }
                out.push(entry);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}

/// An entry with only the [`FILTERED`] fields (without the text).
fn filtered_entry(id: i64, row: Vec<Option<String>>) -> Option<Entry> {
    let mut f = row.into_iter();
    let mut next = || f.next().flatten();
    let received_at = next()?.parse().ok()?;
    let status = next()?;
    let actor_host = next();
    let modules = next().unwrap_or_default();
    Some(Entry {
        id,
        received_at,
        status,
        method: String::new(),
        path: String::new(),
        activity_id: None,
        actor: None,
        actor_host,
        modules: split_modules(&modules),
        decision: serde_json::Value::Null,
        resolved_at: None,
        resolution: None,
    })
}

fn split_modules(modules: &str) -> Vec<String> {
    modules
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect()
}

fn to_entry(id: i64, row: Vec<Option<String>>) -> Option<Entry> {
    let mut f = row.into_iter();
    let mut next = || f.next().flatten();
    let received_at = next()?.parse().ok()?;
    let status = next()?;
    let method = next()?;
    let path = next()?;
    let activity_id = next();
    let actor = next();
    let actor_host = next();
    let modules = next().unwrap_or_default();
    let decision = next().unwrap_or_default();
    let resolved_at = next().and_then(|t| t.parse().ok());
    let resolution = next();
    Some(Entry {
        id,
        received_at,
        status,
        method,
        path,
        activity_id,
        actor,
        actor_host,
        modules: split_modules(&modules),
        decision: serde_json::from_str(&decision).unwrap_or(serde_json::Value::Null),
        resolved_at,
        resolution,
    })
}

impl Store for RedisStore {
    fn hold(&self, hold: &Hold) -> Result<i64, StoreError> {
        let counter = format!("{}:q:next", self.prefix);
        let mut invocation = self.hold.key(&counter);
        invocation
            .arg(&self.prefix)
            .arg("received_at")
            .arg(hold.received_at)
            .arg("status")
            .arg("held")
            .arg("method")
            .arg(&hold.request.method)
            .arg("path")
            .arg(&hold.request.path_and_query)
            .arg("headers")
            .arg(encode_headers(&hold.request.headers))
            .arg("body")
            .arg(&hold.request.body)
            .arg("modules")
            .arg(&hold.modules)
            .arg("decision")
            .arg(&hold.decision);
        for (name, value) in [
            ("activity_id", &hold.activity_id),
            ("actor", &hold.actor),
            (
                "actor_host",
                &hold.actor_host.as_ref().map(|h| h.to_lowercase()),
            ),
            ("search", &hold.text.as_deref().map(fold)),
        ] {
            if let Some(v) = value {
                invocation.arg(name).arg(v);
            }
        }
        self.with(|c| invocation.invoke(c))
    }

    fn list(&self, filter: &Filter, limit: u32, offset: u32) -> Result<Vec<Entry>, StoreError> {
        self.scan_with(filter, true, offset as usize, limit as usize, false)
    }

    fn ids(&self, filter: &Filter) -> Result<Vec<i64>, StoreError> {
        let mut filter = filter.clone();
        filter.status.get_or_insert_with(|| "held".to_owned());
        Ok(self
            .scan_with(&filter, false, 0, usize::MAX, true)?
            .into_iter()
            .map(|e| e.id)
            .collect())
    }

    fn entry(&self, id: i64) -> Result<Option<Entry>, StoreError> {
        let key = self.key(id);
        let row: Vec<Option<String>> = self.with(|c| {
            redis::cmd("HMGET")
                .arg(&key)
                .arg(&META[..META.len() - 1])
                .query(c)
        })?;
        Ok(to_entry(id, row))
    }

    fn request(&self, id: i64) -> Result<Option<HeldRequest>, StoreError> {
        let key = self.key(id);
        let row: Vec<Option<Vec<u8>>> = self.with(|c| {
            redis::cmd("HMGET")
                .arg(&key)
                .arg(&["method", "path", "headers", "body"][..])
                .query(c)
        })?;
        let mut f = row.into_iter();
        let (Some(Some(method)), Some(Some(path)), Some(Some(headers)), Some(Some(body))) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            return Ok(None);
        };
        Ok(Some(HeldRequest {
            method: String::from_utf8_lossy(&method).into_owned(),
            path_and_query: String::from_utf8_lossy(&path).into_owned(),
            headers: decode_headers(&headers),
            body,
        }))
    }

    fn resolve(
        &self,
        id: i64,
        status: &str,
        resolution: &str,
        at: u64,
    ) -> Result<bool, StoreError> {
        let changed: i64 = self.with(|c| {
            self.resolve
                .arg(&self.prefix)
                .arg(id)
                .arg(status)
                .arg(resolution)
                .arg(at)
                .invoke(c)
        })?;
        Ok(changed == 1)
    }

    /// Many entries in one pipelined round trip (each one atomic).
    fn resolve_many(
        &self,
        ids: &[i64],
        status: &str,
        resolution: &str,
        at: u64,
    ) -> Result<Vec<i64>, StoreError> {
        // EVALSHA needs the script in Redis's cache: load it (a no-op when
        // it is there) before pipelining.
        let _: String = self.with(|c| redis::cmd("SCRIPT").arg("LOAD").arg(RESOLVE).query(c))?;
        let mut changed = Vec::new();
        for chunk in ids.chunks(BATCH as usize) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.cmd("EVALSHA")
                    .arg(self.resolve.get_hash())
                    .arg(0)
                    .arg(&self.prefix)
                    .arg(*id)
                    .arg(status)
                    .arg(resolution)
                    .arg(at);
            }
            let results: Vec<i64> = self.with(|c| pipe.query(c))?;
            changed.extend(
                chunk
                    .iter()
                    .zip(results)
                    .filter(|(_, r)| *r == 1)
                    .map(|(id, _)| *id),
            );
        }
        Ok(changed)
    }

    fn held(&self) -> Result<u64, StoreError> {
        let index = self.index("held");
        self.with(|c| redis::cmd("ZCARD").arg(&index).query(c))
    }
}
