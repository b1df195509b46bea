//! The quarantine: requests held for a moderator, stored durably (SQLite)
//! before the sender is told `202 Accepted`, so nothing acknowledged is lost.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// The quarantine store failed.
#[derive(Debug, thiserror::Error)]
#[error("quarantine store: {0}")]
pub struct StoreError(#[from] rusqlite::Error);

/// A request as it arrived, kept so it can be re-delivered unchanged.
#[derive(Debug, Clone)]
pub struct HeldRequest {
    pub method: String,
    /// Path and query, exactly as received.
    pub path_and_query: String,
    /// Header names and raw values, in order (hop-by-hop headers removed).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// What the quarantine records about a held activity.
#[derive(Debug, Clone)]
pub struct Hold {
    pub received_at: u64,
    pub request: HeldRequest,
    pub activity_id: Option<String>,
    pub actor: Option<String>,
    pub actor_host: Option<String>,
    /// Modules whose verdicts held it, comma-separated.
    pub modules: String,
    /// The decision, as JSON.
    pub decision: String,
}

/// One entry, as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: i64,
    pub received_at: u64,
    pub status: String,
    pub method: String,
    pub path: String,
    pub activity_id: Option<String>,
    pub actor: Option<String>,
    pub actor_host: Option<String>,
    pub modules: Vec<String>,
    pub decision: serde_json::Value,
    pub resolved_at: Option<u64>,
    pub resolution: Option<String>,
}

/// Which entries a list or bulk action covers.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// `held` (default for bulk actions), `released`, `dropped`.
    pub status: Option<String>,
    pub actor_host: Option<String>,
    pub module: Option<String>,
    /// Received before this time (ms since the Unix epoch).
    pub before: Option<u64>,
}

pub struct Quarantine {
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
    resolution TEXT
);
CREATE INDEX IF NOT EXISTS quarantine_status ON quarantine(status, id);
";

impl Quarantine {
    /// Open (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Quarantine, StoreError> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// A store that lives in memory only (tests, `check`).
    pub fn in_memory() -> Result<Quarantine, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Quarantine, StoreError> {
        // WAL with a full sync on commit: a hold is on disk before the 202.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Quarantine {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Store a held request durably; returns its id.
    pub fn hold(&self, hold: &Hold) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO quarantine (received_at, method, path, headers, body, activity_id, actor, actor_host, modules, decision)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Entries matching `filter`, newest first.
    pub fn list(&self, filter: &Filter, limit: u32, offset: u32) -> Result<Vec<Entry>, StoreError> {
        let (clause, args) = where_clause(filter);
        let sql = format!(
            "SELECT id, received_at, status, method, path, activity_id, actor, actor_host, modules, decision, resolved_at, resolution
             FROM quarantine {clause} ORDER BY id DESC LIMIT {limit} OFFSET {offset}"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), row_to_entry)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(StoreError)
    }

    /// Ids of held entries matching `filter` (for bulk actions).
    pub fn ids(&self, filter: &Filter) -> Result<Vec<i64>, StoreError> {
        let mut filter = filter.clone();
        filter.status.get_or_insert_with(|| "held".to_owned());
        let (clause, args) = where_clause(&filter);
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT id FROM quarantine {clause} ORDER BY id"))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
        rows.collect::<Result<Vec<i64>, _>>().map_err(StoreError)
    }

    pub fn entry(&self, id: i64) -> Result<Option<Entry>, StoreError> {
        let conn = self.conn();
        conn.query_row(
            "SELECT id, received_at, status, method, path, activity_id, actor, actor_host, modules, decision, resolved_at, resolution
             FROM quarantine WHERE id = ?1",
            [id],
            row_to_entry,
        )
        .optional()
        .map_err(StoreError)
    }

    /// The stored request of entry `id`.
    pub fn request(&self, id: i64) -> Result<Option<HeldRequest>, StoreError> {
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
        .map_err(StoreError)
    }

    /// Mark a held entry released or dropped. False if it is not held.
    pub fn resolve(
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

    /// How many entries are held.
    pub fn held(&self) -> Result<u64, StoreError> {
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
        parts.push("status = ?");
        args.push(Value::Text(s.clone()));
    }
    if let Some(h) = &filter.actor_host {
        parts.push("actor_host = ?");
        args.push(Value::Text(h.to_lowercase()));
    }
    if let Some(m) = &filter.module {
        parts.push("(',' || modules || ',') LIKE ?");
        args.push(Value::Text(format!("%,{m},%")));
    }
    if let Some(b) = filter.before {
        parts.push("received_at < ?");
        args.push(Value::Integer(b as i64));
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

/// Headers as HTTP/1 lines (`name: value\r\n`): values are bytes and may
/// not be UTF-8, and they can never contain CR or LF.
fn encode_headers(headers: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn decode_headers(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    bytes
        .split(|b| *b == b'\n')
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|b| *b == b':')?;
            let name = String::from_utf8_lossy(&line[..colon]).into_owned();
            let value = line[colon + 1..]
                .strip_prefix(b" ")
                .unwrap_or(&line[colon + 1..]);
            Some((name, value.to_vec()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(host: &str, modules: &str) -> Hold {
        Hold {
            received_at: 1000,
            request: HeldRequest {
                method: "POST".into(),
                path_and_query: "/users/alice/inbox?x=1".into(),
                headers: vec![
                    ("host".into(), b"mastodon.example".to_vec()),
                    (
                        "signature".into(),
                        b"keyId=\"k\",headers=\"(request-target) host\"".to_vec(),
                    ),
                    ("x-odd".into(), vec![0xff, b'a']),
                ],
                body: br#"{"type":"Create"}"#.to_vec(),
            },
            activity_id: Some("https://r/1".into()),
            actor: Some("https://r/u".into()),
            actor_host: Some(host.into()),
            modules: modules.into(),
            decision: r#"{"action":"quarantine"}"#.into(),
        }
    }

    #[test]
    fn a_held_request_comes_back_byte_for_byte() {
        let q = Quarantine::in_memory().unwrap();
        let h = hold("r.example", "first-contact");
        let id = q.hold(&h).unwrap();
        let back = q.request(id).unwrap().unwrap();
        assert_eq!(back.headers, h.request.headers);
        assert_eq!(back.body, h.request.body);
        assert_eq!(back.path_and_query, "/users/alice/inbox?x=1");
        assert_eq!(q.held().unwrap(), 1);
        let e = q.entry(id).unwrap().unwrap();
        assert_eq!(e.decision["action"], "quarantine");
        assert_eq!(e.modules, ["first-contact"]);
    }

    #[test]
    fn filters_and_resolution() {
        let q = Quarantine::in_memory().unwrap();
        let a = q
            .hold(&hold("a.example", "first-contact,mention-limit"))
            .unwrap();
        let b = q.hold(&hold("b.example", "domain-list")).unwrap();
        let by_host = Filter {
            actor_host: Some("A.example".into()),
            ..Default::default()
        };
        assert_eq!(q.ids(&by_host).unwrap(), [a]);
        let by_module = Filter {
            module: Some("mention-limit".into()),
            ..Default::default()
        };
        assert_eq!(q.ids(&by_module).unwrap(), [a]);
        let by_prefix = Filter {
            module: Some("mention".into()),
            ..Default::default()
        };
        assert!(
            q.ids(&by_prefix).unwrap().is_empty(),
            "module names match whole"
        );
        assert!(q.resolve(b, "dropped", "by admin", 2000).unwrap());
        assert!(
            !q.resolve(b, "released", "again", 3000).unwrap(),
            "only held entries resolve"
        );
        assert_eq!(q.held().unwrap(), 1);
        let all = q.list(&Filter::default(), 10, 0).unwrap();
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [b, a]);
        assert_eq!(all[0].status, "dropped");
    }

    #[test]
    fn holds_survive_reopening_the_file() {
        let dir = std::env::temp_dir().join(format!("palisade-q-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("q.db");
        let id = Quarantine::open(&path)
            .unwrap()
            .hold(&hold("a.example", "m"))
            .unwrap();
        let again = Quarantine::open(&path).unwrap();
        assert_eq!(
            again.request(id).unwrap().unwrap().body,
            br#"{"type":"Create"}"#
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
