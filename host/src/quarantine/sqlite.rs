//! The embedded quarantine store: one SQLite file, in WAL mode with a full
//! sync on every commit.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    Entry, Filter, HeldRequest, Hold, Store, StoreError, decode_headers, encode_headers, fold,
};

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'held',
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    headers BLOB NOT NULL,
    body BLOB NOT NULL,
    activity_id TEXT,
    actor TEXT,
    actor_host TEXT,
    modules TEXT NOT NULL,
    decision TEXT NOT NULL,
    resolved_at INTEGER,
    resolution TEXT,
    search TEXT
);
CREATE INDEX IF NOT EXISTS quarantine_status ON quarantine(status, id);
";

impl SqliteStore {
    /// Open (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// A store that lives in memory only (tests).
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<SqliteStore, StoreError> {
        // WAL with a full sync on commit: a hold is on disk before the 202.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        // Stores made before text search have no `search` column: entries
        // held then have no text to match.
        let has_search: bool = conn.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('quarantine') WHERE name = 'search'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !has_search {
            conn.execute_batch("ALTER TABLE quarantine ADD COLUMN search TEXT")?;
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for SqliteStore {
    /// Store a held request durably; returns its id.
    fn hold(&self, hold: &Hold) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO quarantine (received_at, method, path, headers, body, activity_id, actor, actor_host, modules, decision, search)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                hold.received_at as i64,
                hold.request.method,
                hold.request.path_and_query,
                encode_headers(&hold.request.headers),
                hold.request.body,
                hold.activity_id,
                hold.actor,
                hold.actor_host,
                hold.modules,
                hold.decision,
                hold.text.as_deref().map(fold),
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Entries matching `filter`, newest first.
    fn list(&self, filter: &Filter, limit: u32, offset: u32) -> Result<Vec<Entry>, StoreError> {
        let (clause, args) = where_clause(filter);
        let sql = format!(
            "SELECT id, received_at, status, method, path, activity_id, actor, actor_host, modules, decision, resolved_at, resolution
             FROM quarantine {clause} ORDER BY id DESC LIMIT {limit} OFFSET {offset}"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), row_to_entry)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Ids of held entries matching `filter` (for bulk actions).
    fn ids(&self, filter: &Filter) -> Result<Vec<i64>, StoreError> {
        let mut filter = filter.clone();
        filter.status.get_or_insert_with(|| "held".to_owned());
        let (clause, args) = where_clause(&filter);
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT id FROM quarantine {clause} ORDER BY id"))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<i64>, _>>()?)
    }

    fn entry(&self, id: i64) -> Result<Option<Entry>, StoreError> {
        let conn = self.conn();
        conn.query_row(
            "SELECT id, received_at, status, method, path, activity_id, actor, actor_host, modules, decision, resolved_at, resolution
             FROM quarantine WHERE id = ?1",
            [id],
            row_to_entry,
        )
        .optional()
        .map_err(StoreError::from)
    }

    /// The stored request of entry `id`.
    fn request(&self, id: i64) -> Result<Option<HeldRequest>, StoreError> {
        let conn = self.conn();
        conn.query_row(
            "SELECT method, path, headers, body FROM quarantine WHERE id = ?1",
            [id],
            |r| {
                Ok(HeldRequest {
                    method: r.get(0)?,
                    path_and_query: r.get(1)?,
                    headers: decode_headers(&r.get::<_, Vec<u8>>(2)?),
                    body: r.get(3)?,
                })
            },
        )
        .optional()
        .map_err(StoreError::from)
    }

    /// Mark a held entry released or dropped. False if it is not held.
    fn resolve(
        &self,
        id: i64,
        status: &str,
        resolution: &str,
        at: u64,
    ) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE quarantine SET status = ?2, resolution = ?3, resolved_at = ?4 WHERE id = ?1 AND status = 'held'",
            params![id, status, resolution, at as i64],
        )?;
        Ok(changed == 1)
    }

    /// Many entries in one transaction: one sync to disk, not one each.
    fn resolve_many(
        &self,
        ids: &[i64],
        status: &str,
        resolution: &str,
        at: u64,
    ) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut changed = Vec::new();
        {
            let mut update = tx.prepare(
                "UPDATE quarantine SET status = ?2, resolution = ?3, resolved_at = ?4 WHERE id = ?1 AND status = 'held'",
            )?;
            for id in ids {
                if update.execute(params![id, status, resolution, at as i64])? == 1 {
                    changed.push(*id);
                }
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    /// How many entries are held.
    fn held(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM quarantine WHERE status = 'held'",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }
}

fn where_clause(filter: &Filter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut parts = Vec::new();
    let mut args = Vec::new();
    if let Some(s) = &filter.status {
        parts.push("status = ?".to_owned());
        args.push(Value::Text(s.clone()));
    }
    if let Some(h) = &filter.actor_host {
        parts.push("actor_host = ?".to_owned());
        args.push(Value::Text(h.to_lowercase()));
    }
    if let Some(m) = &filter.module {
        // instr, not LIKE: a module name is not a pattern.
        parts.push("instr(',' || modules || ',', ?) > 0".to_owned());
        args.push(Value::Text(format!(",{m},")));
    }
    if let Some(a) = filter.after {
        parts.push("received_at >= ?".to_owned());
        args.push(Value::Integer(a as i64));
    }
    if let Some(b) = filter.before {
        parts.push("received_at < ?".to_owned());
        args.push(Value::Integer(b as i64));
    }
    if let Some(t) = &filter.text {
        parts.push("instr(search, ?) > 0".to_owned());
        args.push(Value::Text(fold(t)));
    }
    if let Some(ids) = &filter.ids {
        parts.push(format!("id IN ({})", vec!["?"; ids.len()].join(",")));
        args.extend(ids.iter().map(|id| Value::Integer(*id)));
    }
    if let Some(m) = filter.max_id {
        parts.push("id <= ?".to_owned());
        args.push(Value::Integer(m));
    }
    let clause = if parts.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", parts.join(" AND "))
    };
    (clause, args)
}

fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let modules: String = r.get(8)?;
    let decision: String = r.get(9)?;
    Ok(Entry {
        id: r.get(0)?,
        received_at: r.get::<_, i64>(1)? as u64,
        status: r.get(2)?,
        method: r.get(3)?,
        path: r.get(4)?,
        activity_id: r.get(5)?,
        actor: r.get(6)?,
        actor_host: r.get(7)?,
        modules: modules
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect(),
        decision: serde_json::from_str(&decision).unwrap_or(serde_json::Value::Null),
        resolved_at: r.get::<_, Option<i64>>(10)?.map(|t| t as u64),
        resolution: r.get(11)?,
    })
}
