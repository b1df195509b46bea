//! The embedded backend: state in a SQLite file, so counts and first-seen
//! times survive a restart. Counting works exactly as the in-memory state
//! does (`palisade_sdk::memory`): an event counts in a window when it is
//! less than the window old; events and members older than the longest
//! window asked of their key are dropped.
//!
//! One connection, in WAL mode with `synchronous = NORMAL`: a power loss
//! may forget the last moments of counting, never corrupt the file. First-
//! seen times never change once written, so they are also kept in memory.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use palisade_sdk::memory::{MAX_EVENTS_PER_KEY, MAX_MEMBERS_PER_SET};
use rusqlite::{Connection, OptionalExtension, params};

use super::{StateBackend, StateError, StateResult};

/// First-seen times kept in memory at most (then the cache starts over).
const FIRST_SEEN_CACHE: usize = 1 << 20;
/// How often expired values and stale events are swept, in state time.
const SWEEP_EVERY_MS: u64 = 60_000;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, expires_at INTEGER,
    PRIMARY KEY (ns, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS windows (
    ns TEXT NOT NULL, key TEXT NOT NULL, kind INTEGER NOT NULL, longest_ms INTEGER NOT NULL,
    PRIMARY KEY (ns, key, kind)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (ns TEXT NOT NULL, key TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_key ON events (ns, key, at);
CREATE TABLE IF NOT EXISTS members (
    ns TEXT NOT NULL, key TEXT NOT NULL, member TEXT NOT NULL, seen INTEGER NOT NULL,
    PRIMARY KEY (ns, key, member)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_by_seen ON members (ns, key, seen);
CREATE TABLE IF NOT EXISTS first_seen (subject TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
";

/// Which kind of windowed data a `windows` row describes.
const EVENTS: i64 = 0;
const MEMBERS: i64 = 1;

pub struct SqliteBackend {
    db: Mutex<Db>,
    first_seen: Mutex<HashMap<String, u64>>,
}

struct Db {
    conn: Connection,
    last_sweep: u64,
}

fn db_error(e: rusqlite::Error) -> StateError {
    StateError(format!("sqlite: {e}"))
}

fn ms(seconds: u32) -> i64 {
    i64::from(seconds) * 1000
}

impl SqliteBackend {
    /// Open (creating it) the state file at `path`.
    pub fn open(path: &Path) -> StateResult<SqliteBackend> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StateError(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)
            .map_err(|e| StateError(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_error)?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| StateError(format!("cannot set up {}: {e}", path.display())))?;
        Ok(SqliteBackend {
            db: Mutex::new(Db {
                conn,
                last_sweep: 0,
            }),
            first_seen: Mutex::new(HashMap::new()),
        })
    }

    /// Run `f` in one transaction (sweeping first when it is time).
    fn with<R>(
        &self,
        now: u64,
        f: impl FnOnce(&Connection) -> rusqlite::Result<R>,
    ) -> StateResult<R> {
        let mut guard = self.db.lock().unwrap_or_else(|e| e.into_inner());
        let db = &mut *guard;
        if now >= db.last_sweep + SWEEP_EVERY_MS {
            db.last_sweep = now;
            sweep(&db.conn, now).map_err(db_error)?;
        }
        let tx = db.conn.transaction().map_err(db_error)?;
        let result = f(&tx).map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        Ok(result)
    }

    /// Record that `kind` data of a key is asked for over `window_ms`;
    /// the longest such window, which bounds what is kept.
    fn longest(
        conn: &Connection,
        ns: &str,
        key: &str,
        kind: i64,
        window_ms: i64,
    ) -> rusqlite::Result<i64> {
        conn.prepare_cached(
            "INSERT INTO windows (ns, key, kind, longest_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (ns, key, kind) DO UPDATE SET longest_ms = max(longest_ms, excluded.longest_ms)
             RETURNING longest_ms",
        )?
        .query_row(params![ns, key, kind, window_ms], |r| r.get(0))
    }
}

/// Drop expired values, and events and members no window can count.
fn sweep(conn: &Connection, now: u64) -> rusqlite::Result<()> {
    let now = now as i64;
    conn.execute(
        "DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?1",
        [now],
    )?;
    conn.execute(
        "DELETE FROM events WHERE at <= ?1 - coalesce((SELECT longest_ms FROM windows w
            WHERE w.ns = events.ns AND w.key = events.key AND w.kind = 0), 0)",
        [now],
    )?;
    conn.execute(
        "DELETE FROM members WHERE seen <= ?1 - coalesce((SELECT longest_ms FROM windows w
            WHERE w.ns = members.ns AND w.key = members.key AND w.kind = 1), 0)",
        [now],
    )?;
    Ok(())
}

impl StateBackend for SqliteBackend {
    fn get(&self, ns: &str, key: &str, now: u64) -> StateResult<Option<Vec<u8>>> {
        self.with(now, |c| {
            let row: Option<(Vec<u8>, Option<i64>)> = c
                .prepare_cached("SELECT value, expires_at FROM kv WHERE ns = ?1 AND key = ?2")?
                .query_row(params![ns, key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(match row {
                Some((_, Some(expires))) if expires <= now as i64 => None,
                Some((value, _)) => Some(value),
                None => None,
            })
        })
    }

    fn put(&self, ns: &str, key: &str, value: &[u8], ttl: u32, now: u64) -> StateResult<()> {
        let expires = (ttl > 0).then(|| now as i64 + ms(ttl));
        self.with(now, |c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO kv (ns, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![ns, key, value, expires])?;
            Ok(())
        })
    }

    fn delete(&self, ns: &str, key: &str) -> StateResult<()> {
        self.with(0, |c| {
            for table in ["kv", "windows", "events", "members"] {
                c.prepare_cached(&format!("DELETE FROM {table} WHERE ns = ?1 AND key = ?2"))?
                    .execute(params![ns, key])?;
            }
            Ok(())
        })
    }

    fn hit(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.with(now, |tx| {
            let now = now as i64;
            let longest = Self::longest(tx, ns, key, EVENTS, ms(window))?;
            tx.prepare_cached("INSERT INTO events (ns, key, at) VALUES (?1, ?2, ?3)")?
                .execute(params![ns, key, now])?;
            tx.prepare_cached("DELETE FROM events WHERE ns = ?1 AND key = ?2 AND at <= ?3")?
                .execute(params![ns, key, now - longest])?;
            tx.prepare_cached(
                "DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE ns = ?1 AND key = ?2
                 ORDER BY at DESC LIMIT -1 OFFSET ?3)",
            )?
            .execute(params![ns, key, MAX_EVENTS_PER_KEY as i64])?;
            count_events(tx, ns, key, window, now)
        })
    }

    fn count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.with(now, |c| count_events(c, ns, key, window, now as i64))
    }

    fn distinct_add(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
    ) -> StateResult<u64> {
        self.with(now, |tx| {
            let now = now as i64;
            let longest = Self::longest(tx, ns, key, MEMBERS, ms(window))?;
            tx.prepare_cached(
                "INSERT INTO members (ns, key, member, seen) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (ns, key, member) DO UPDATE SET seen = excluded.seen",
            )?
            .execute(params![ns, key, member, now])?;
            tx.prepare_cached("DELETE FROM members WHERE ns = ?1 AND key = ?2 AND seen <= ?3")?
                .execute(params![ns, key, now - longest])?;
            tx.prepare_cached(
                "DELETE FROM members WHERE (ns, key, member) IN (SELECT ns, key, member FROM members
                 WHERE ns = ?1 AND key = ?2 ORDER BY seen DESC LIMIT -1 OFFSET ?3)",
            )?
            .execute(params![ns, key, MAX_MEMBERS_PER_SET as i64])?;
            count_members(tx, ns, key, window, now)
        })
    }

    fn distinct_count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.with(now, |c| count_members(c, ns, key, window, now as i64))
    }

    fn first_seen(&self, subject: &str, now: u64) -> StateResult<u64> {
        if let Some(at) = self
            .first_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(subject)
        {
            return Ok(*at);
        }
        let at = self.with(now, |c| {
            c.prepare_cached(
                "INSERT INTO first_seen (subject, at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?
            .execute(params![subject, now as i64])?;
            c.prepare_cached("SELECT at FROM first_seen WHERE subject = ?1")?
                .query_row([subject], |r| r.get::<_, i64>(0))
        })? as u64;
        let mut cache = self.first_seen.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= FIRST_SEEN_CACHE {
            cache.clear();
        }
        cache.insert(subject.to_owned(), at);
        Ok(at)
    }
}

fn count_events(
    c: &Connection,
    ns: &str,
    key: &str,
    window: u32,
    now: i64,
) -> rusqlite::Result<u64> {
    c.prepare_cached("SELECT count(*) FROM events WHERE ns = ?1 AND key = ?2 AND at > ?3")?
        .query_row(params![ns, key, now - ms(window)], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

fn count_members(
    c: &Connection,
    ns: &str,
    key: &str,
    window: u32,
    now: i64,
) -> rusqlite::Result<u64> {
    c.prepare_cached("SELECT count(*) FROM members WHERE ns = ?1 AND key = ?2 AND seen > ?3")?
        .query_row(params![ns, key, now - ms(window)], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}
