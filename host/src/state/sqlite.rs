//! The embedded backend: state counted in memory, exactly as the in-memory
//! backend counts it, and persisted to a SQLite file so that counts and
//! first-seen times survive a restart.
//!
//! Calls never wait for the disk: each change is queued to a writer thread
//! that applies queued changes in one transaction at a time (WAL,
//! `synchronous = NORMAL`), at most [`FLUSH_EVERY`] after they happen. A
//! crash loses at most that much counting; an orderly shutdown (drop)
//! writes everything. At open the file is read back into memory.

use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use super::{Bounds, Counted, MemoryBackend, StateBackend, StateError, StateResult};

/// How long a change may wait before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// How often rows no window can count any more are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

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
CREATE TABLE IF NOT EXISTS first_seen (subject TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
";

/// Which kind of windowed data a `windows` row describes.
const EVENTS: i64 = 0;
const MEMBERS: i64 = 1;

/// One change, queued for the writer.
enum Change {
    Put {
        ns: String,
        key: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
    },
    Delete {
        ns: String,
        key: String,
    },
    Event {
        ns: String,
        key: String,
        at: i64,
        window_ms: i64,
    },
    Member {
        ns: String,
        key: String,
        member: String,
        seen: i64,
        window_ms: i64,
    },
    FirstSeen {
        subject: String,
        at: i64,
    },
}

pub struct SqliteBackend {
    memory: MemoryBackend,
    changes: Mutex<Option<Sender<Change>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

fn ms(seconds: u32) -> i64 {
    i64::from(seconds) * 1000
}

impl SqliteBackend {
    /// Open (creating it) the state file at `path` and read it into
    /// memory.
    pub fn open(path: &Path) -> StateResult<SqliteBackend> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StateError::Backend(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let failed = |e: rusqlite::Error| StateError::Backend(format!("{}: {e}", path.display()));
        let conn = Connection::open(path).map_err(failed)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(failed)?;
        conn.execute_batch(SCHEMA).map_err(failed)?;
        let memory = MemoryBackend::new();
        load(&conn, &memory).map_err(failed)?;
        let (tx, rx) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("palisade-state".into())
            .spawn(move || write_behind(conn, rx))
            .map_err(|e| StateError::Backend(format!("cannot start the state writer: {e}")))?;
        Ok(SqliteBackend {
            memory,
            changes: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
        })
    }

    fn queue_event(&self, ns: &str, key: &str, window: u32, now: u64) {
        self.queue(Change::Event {
            ns: ns.to_owned(),
            key: key.to_owned(),
            at: now as i64,
            window_ms: ms(window),
        });
    }

    fn queue_member(&self, ns: &str, key: &str, member: &str, window: u32, now: u64) {
        self.queue(Change::Member {
            ns: ns.to_owned(),
            key: key.to_owned(),
            member: member.to_owned(),
            seen: now as i64,
            window_ms: ms(window),
        });
    }

    fn queue(&self, change: Change) {
        if let Some(tx) = &*self.changes.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = tx.send(change);
        }
    }
}

impl Drop for SqliteBackend {
    /// Write everything queued before going.
    fn drop(&mut self) {
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(writer) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = writer.join();
        }
    }
}

/// Read the file into memory, oldest events first.
fn load(conn: &Connection, memory: &MemoryBackend) -> rusqlite::Result<()> {
    let mut values = conn.prepare("SELECT ns, key, value, expires_at FROM kv")?;
    let values = values
        .query_map([], |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut events = conn.prepare(
        "SELECT e.ns, e.key, e.at, coalesce(w.longest_ms, 0) FROM events e
         LEFT JOIN windows w ON w.ns = e.ns AND w.key = e.key AND w.kind = 0 ORDER BY e.at",
    )?;
    let events = events
        .query_map([], |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut members = conn.prepare(
        "SELECT m.ns, m.key, m.member, m.seen, coalesce(w.longest_ms, 0) FROM members m
         LEFT JOIN windows w ON w.ns = m.ns AND w.key = m.key AND w.kind = 1 ORDER BY m.seen",
    )?;
    let members = members
        .query_map([], |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut first = conn.prepare("SELECT subject, at FROM first_seen")?;
    let first = first
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for ((ns, key), value, expires) in values {
        let _ = memory.with(&ns, |m| {
            m.restore_value(&key, value, expires.map(|e| e as u64))
        });
    }
    for ((ns, key), at, longest) in events {
        let _ = memory.with(&ns, |m| m.restore_event(&key, at as u64, longest as u64));
    }
    for ((ns, key), member, seen, longest) in members {
        let _ = memory.with(&ns, |m| {
            m.restore_member(&key, &member, seen as u64, longest as u64)
        });
    }
    let _ = memory.with_host(|m| {
        for (subject, at) in first {
            m.restore_first_seen(&subject, at as u64);
        }
    });
    Ok(())
}

/// The writer: wait for a change, gather what follows for up to
/// [`FLUSH_EVERY`], write it all in one transaction; until the backend is
/// dropped.
fn write_behind(mut conn: Connection, rx: Receiver<Change>) {
    let mut last_sweep = Instant::now();
    let mut open = true;
    while open {
        let Ok(first) = rx.recv() else { break };
        let mut batch = vec![first];
        let deadline = Instant::now() + FLUSH_EVERY;
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(change) => batch.push(change),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if let Err(e) = apply(&mut conn, &batch) {
            tracing::error!(error = %e, changes = batch.len(), "cannot write module state");
        }
        if last_sweep.elapsed() >= SWEEP_EVERY {
            last_sweep = Instant::now();
            if let Err(e) = sweep(&conn) {
                tracing::warn!(error = %e, "cannot sweep module state");
            }
        }
    }
}

fn apply(conn: &mut Connection, batch: &[Change]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for change in batch {
        match change {
            Change::Put {
                ns,
                key,
                value,
                expires_at,
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO kv (ns, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![ns, key, value, expires_at])?;
            }
            Change::Delete { ns, key } => {
                for table in ["kv", "windows", "events", "members"] {
                    tx.prepare_cached(&format!("DELETE FROM {table} WHERE ns = ?1 AND key = ?2"))?
                        .execute(params![ns, key])?;
                }
            }
            Change::Event {
                ns,
                key,
                at,
                window_ms,
            } => {
                longest(&tx, ns, key, EVENTS, *window_ms)?;
                tx.prepare_cached("INSERT INTO events (ns, key, at) VALUES (?1, ?2, ?3)")?
                    .execute(params![ns, key, at])?;
            }
            Change::Member {
                ns,
                key,
                member,
                seen,
                window_ms,
            } => {
                longest(&tx, ns, key, MEMBERS, *window_ms)?;
                tx.prepare_cached(
                    "INSERT INTO members (ns, key, member, seen) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (ns, key, member) DO UPDATE SET seen = max(seen, excluded.seen)",
                )?
                .execute(params![ns, key, member, seen])?;
            }
            Change::FirstSeen { subject, at } => {
                tx.prepare_cached(
                    "INSERT INTO first_seen (subject, at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                )?
                .execute(params![subject, at])?;
            }
        }
    }
    tx.commit()
}

/// Record the longest window asked of a key's events or members.
fn longest(
    conn: &Connection,
    ns: &str,
    key: &str,
    kind: i64,
    window_ms: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO windows (ns, key, kind, longest_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (ns, key, kind) DO UPDATE SET longest_ms = max(longest_ms, excluded.longest_ms)",
    )?
    .execute(params![ns, key, kind, window_ms])?;
    Ok(())
}

/// Delete expired values, and events and members older than the longest
/// window of their key (measured from the newest of that key).
fn sweep(conn: &Connection) -> rusqlite::Result<()> {
    let now = crate::runtime::unix_ms() as i64;
    conn.execute(
        "DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?1",
        [now],
    )?;
    conn.execute(
        "DELETE FROM events WHERE at <= (SELECT max(e.at) FROM events e
            WHERE e.ns = events.ns AND e.key = events.key)
          - coalesce((SELECT longest_ms FROM windows w
            WHERE w.ns = events.ns AND w.key = events.key AND w.kind = 0), 0)",
        [],
    )?;
    conn.execute(
        "DELETE FROM members WHERE seen <= (SELECT max(m.seen) FROM members m
            WHERE m.ns = members.ns AND m.key = members.key)
          - coalesce((SELECT longest_ms FROM windows w
            WHERE w.ns = members.ns AND w.key = members.key AND w.kind = 1), 0)",
        [],
    )?;
    Ok(())
}

impl StateBackend for SqliteBackend {
    fn get(&self, ns: &str, key: &str, now: u64) -> StateResult<Option<Vec<u8>>> {
        self.memory.get(ns, key, now)
    }

    fn put(&self, ns: &str, key: &str, value: &[u8], ttl: u32, now: u64) -> StateResult<()> {
        self.memory.put(ns, key, value, ttl, now)?;
        self.queue(Change::Put {
            ns: ns.to_owned(),
            key: key.to_owned(),
            value: value.to_vec(),
            expires_at: (ttl > 0).then(|| now as i64 + ms(ttl)),
        });
        Ok(())
    }

    fn delete(&self, ns: &str, key: &str) -> StateResult<()> {
        self.memory.delete(ns, key)?;
        self.queue(Change::Delete {
            ns: ns.to_owned(),
            key: key.to_owned(),
        });
        Ok(())
    }

    fn hit(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        let n = self.memory.hit(ns, key, window, now)?;
        self.queue_event(ns, key, window, now);
        Ok(n)
    }

    fn hit_bounded(
        &self,
        ns: &str,
        key: &str,
        window: u32,
        now: u64,
        bounds: &Bounds,
    ) -> StateResult<Counted> {
        let counted = self.memory.hit_bounded(ns, key, window, now, bounds)?;
        if counted.stored {
            self.queue_event(ns, key, window, now);
        }
        Ok(counted)
    }

    fn count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.memory.count(ns, key, window, now)
    }

    fn distinct_add(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
    ) -> StateResult<u64> {
        let n = self.memory.distinct_add(ns, key, member, window, now)?;
        self.queue_member(ns, key, member, window, now);
        Ok(n)
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
        let counted = self
            .memory
            .distinct_add_bounded(ns, key, member, window, now, bounds)?;
        if counted.stored {
            self.queue_member(ns, key, member, window, now);
        }
        Ok(counted)
    }

    fn distinct_count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.memory.distinct_count(ns, key, window, now)
    }

    fn distinct_has(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
    ) -> StateResult<bool> {
        self.memory.distinct_has(ns, key, member, window, now)
    }

    fn seen_since(&self, subject: &str) -> StateResult<Option<u64>> {
        self.memory.seen_since(subject)
    }

    fn keys(&self, ns: &str, now: u64) -> StateResult<u64> {
        self.memory.keys(ns, now)
    }

    fn first_seen(&self, subject: &str, now: u64) -> StateResult<u64> {
        let at = self.memory.first_seen(subject, now)?;
        if at == now {
            self.queue(Change::FirstSeen {
                subject: subject.to_owned(),
                at: now as i64,
            });
        }
        Ok(at)
    }
}
