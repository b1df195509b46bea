//! The quarantine: requests held for a moderator, stored durably before
//! the sender is told `202 Accepted`, so nothing acknowledged is lost.
//!
//! Two stores behind one [`Store`] trait: [`SqliteStore`] (embedded, the
//! default) and [`RedisStore`] (shared by replicas, so that any replica's
//! admin API sees and releases every replica's holds). See docs/adr/0006.

mod redis;
mod sqlite;
pub mod view;

use std::path::Path;

use serde::Serialize;

pub use self::redis::RedisStore;
pub use sqlite::SqliteStore;

/// The quarantine store failed.
#[derive(Debug, thiserror::Error)]
#[error("quarantine store: {0}")]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl From<::redis::RedisError> for StoreError {
    fn from(e: ::redis::RedisError) -> Self {
        StoreError(format!("redis: {e}"))
    }
}

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
    /// The text it was judged on (content as plain text), for
    /// [`Filter::text`]; stored case-folded (see [`fold`]).
    pub text: Option<String>,
}

/// Case-folded text, as stored for and compared by [`Filter::text`]: full
/// Unicode lower-casing, so `Ä` finds `ä`.
pub fn fold(text: &str) -> String {
    text.to_lowercase()
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

/// Which entries a list or bulk action covers. Every criterion given
/// must hold.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// `held` (default for bulk actions), `released`, `dropped`.
    pub status: Option<String>,
    /// The sender's host (case-insensitive).
    pub actor_host: Option<String>,
    /// A module that held it (its whole name).
    pub module: Option<String>,
    /// Received at or after this time (ms since the Unix epoch).
    pub after: Option<u64>,
    /// Received before this time (ms since the Unix epoch).
    pub before: Option<u64>,
    /// Its text contains this (case-insensitive).
    pub text: Option<String>,
    /// Only these entries (at most [`MAX_IDS`]).
    pub ids: Option<Vec<i64>>,
    /// Only entries up to this id: a bulk action confirmed after a count
    /// covers what was counted, not what arrived since.
    pub max_id: Option<i64>,
}

/// The most ids one filter may list.
pub const MAX_IDS: usize = 1000;

/// What a quarantine store does.
pub trait Store: Send + Sync {
    /// Store a held request durably; returns its id.
    fn hold(&self, hold: &Hold) -> Result<i64, StoreError>;
    /// Entries matching `filter`, newest first.
    fn list(&self, filter: &Filter, limit: u32, offset: u32) -> Result<Vec<Entry>, StoreError>;
    /// Ids of entries matching `filter` (held ones unless it names a
    /// status), oldest first: for bulk actions.
    fn ids(&self, filter: &Filter) -> Result<Vec<i64>, StoreError>;
    fn entry(&self, id: i64) -> Result<Option<Entry>, StoreError>;
    /// The stored request of entry `id`.
    fn request(&self, id: i64) -> Result<Option<HeldRequest>, StoreError>;
    /// Mark a held entry released or dropped. False if it is not held.
    fn resolve(&self, id: i64, status: &str, resolution: &str, at: u64)
    -> Result<bool, StoreError>;
    /// [`Store::resolve`] for many entries in one write (one transaction,
    /// one round trip); returns the ids that were held and now are not.
    fn resolve_many(
        &self,
        ids: &[i64],
        status: &str,
        resolution: &str,
        at: u64,
    ) -> Result<Vec<i64>, StoreError>;
    /// How many entries are held.
    fn held(&self) -> Result<u64, StoreError>;
}

/// The quarantine, on whichever store is configured.
pub struct Quarantine(Box<dyn Store>);

impl Quarantine {
    /// The SQLite store at `path` (created if needed).
    pub fn open(path: &Path) -> Result<Quarantine, StoreError> {
        Ok(Quarantine(Box::new(SqliteStore::open(path)?)))
    }

    /// A SQLite store in memory only (tests).
    pub fn in_memory() -> Result<Quarantine, StoreError> {
        Ok(Quarantine(Box::new(SqliteStore::in_memory()?)))
    }

    /// The Redis store at `url`, its keys under `prefix`.
    pub fn redis(url: &str, prefix: &str) -> Result<Quarantine, StoreError> {
        Ok(Quarantine(Box::new(RedisStore::open(url, prefix)?)))
    }
}

impl std::ops::Deref for Quarantine {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        self.0.as_ref()
    }
}

impl Filter {
    /// Whether `entry`, whose stored (folded) text is `text`, matches (for
    /// stores that filter outside a query language).
    pub fn matches(&self, entry: &Entry, text: Option<&str>) -> bool {
        self.status.as_deref().is_none_or(|s| s == entry.status)
            && self.actor_host.as_deref().is_none_or(|h| {
                entry
                    .actor_host
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(h))
            })
            && self
                .module
                .as_deref()
                .is_none_or(|m| entry.modules.iter().any(|x| x == m))
            && self.after.is_none_or(|a| entry.received_at >= a)
            && self.before.is_none_or(|b| entry.received_at < b)
            && self
                .text
                .as_deref()
                .is_none_or(|t| text.is_some_and(|x| x.contains(&fold(t))))
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&entry.id))
            && self.max_id.is_none_or(|m| entry.id <= m)
    }

    /// The filter as every store and every route applies it: values
    /// trimmed, an empty one no criterion at all (a list, its count and
    /// the bulk action after it must agree on what a blank field means).
    /// Refuses what no store should run: too many ids, a time past what
    /// the stores can compare, a module name that is not one.
    pub fn normalised(mut self) -> Result<Filter, String> {
        for value in [
            &mut self.status,
            &mut self.actor_host,
            &mut self.module,
            &mut self.text,
        ] {
            *value = value
                .take()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty());
        }
        if let Some(ids) = &self.ids
            && ids.len() > MAX_IDS
        {
            return Err(format!(
                "`ids` lists {} entries; at most {MAX_IDS} at once (use a filter instead)",
                ids.len()
            ));
        }
        for (name, time) in [("after", self.after), ("before", self.before)] {
            if time.is_some_and(|t| t > i64::MAX as u64) {
                return Err(format!(
                    "`{name}` is milliseconds since the Unix epoch, at most {}",
                    i64::MAX
                ));
            }
        }
        if self.module.as_deref().is_some_and(|m| m.contains(',')) {
            return Err("`module` is one module's name (no commas)".to_owned());
        }
        Ok(self)
    }
}

/// Headers as HTTP/1 lines (`name: value\r\n`): values are bytes and may
/// not be UTF-8, and they can never contain CR or LF.
pub(crate) fn encode_headers(headers: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub(crate) fn decode_headers(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
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
pub mod tests {
    use super::*;

    pub fn hold(host: &str, modules: &str) -> Hold {
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
            text: Some("Free Followers at SPAM.example".into()),
        }
    }

    #[test]
    fn a_held_request_comes_back_byte_for_byte() {
        behaves(&Quarantine::in_memory().unwrap());
    }

    #[test]
    fn filters_and_resolution() {
        filters_and_resolves(&Quarantine::in_memory().unwrap());
    }

    /// What every store must do (the Redis store runs these too, in the
    /// end-to-end tests, against a real server).
    pub fn behaves(q: &Quarantine) {
        let h = hold("r.example", "first-contact");
        let id = q.hold(&h).unwrap();
        let back = q.request(id).unwrap().unwrap();
        assert_eq!(back.headers, h.request.headers);
        assert_eq!(back.body, h.request.body);
        assert_eq!(back.path_and_query, "/users/alice/inbox?x=1");
        assert_eq!(q.held().unwrap(), 1);
        assert!(q.entry(id + 1000).unwrap().is_none());
        let e = q.entry(id).unwrap().unwrap();
        assert_eq!(e.decision["action"], "quarantine");
        assert_eq!(e.modules, ["first-contact"]);
    }

    pub fn filters_and_resolves(q: &Quarantine) {
        let a = q
            .hold(&hold("a.example", "first-contact,mention-limit"))
            .unwrap();
        let b = q
            .hold(&Hold {
                received_at: 2000,
                text: Some("Ärger über Spam".into()),
                ..hold("b.example", "domain-list")
            })
            .unwrap();
        let ids = |f: Filter| q.ids(&f).unwrap();
        assert_eq!(
            ids(Filter {
                after: Some(1500),
                ..Default::default()
            }),
            [b]
        );
        assert_eq!(
            ids(Filter {
                before: Some(1500),
                ..Default::default()
            }),
            [a]
        );
        assert_eq!(
            ids(Filter {
                text: Some("free FOLLOWERS".into()),
                ..Default::default()
            }),
            [a],
            "text matches whatever the case"
        );
        assert_eq!(
            ids(Filter {
                text: Some("ärger".into()),
                ..Default::default()
            }),
            [b],
            "and beyond ASCII"
        );
        assert_eq!(
            ids(Filter {
                ids: Some(vec![b, b + 100]),
                ..Default::default()
            }),
            [b]
        );
        assert_eq!(
            ids(Filter {
                max_id: Some(a),
                ..Default::default()
            }),
            [a],
            "a count's max_id bounds what a bulk action covers"
        );
        for wildcard in ["%", "_", "%first%"] {
            assert!(
                ids(Filter {
                    module: Some(wildcard.into()),
                    ..Default::default()
                })
                .is_empty(),
                "{wildcard} is not a pattern"
            );
        }
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
        let c = q.hold(&hold("c.example", "m")).unwrap();
        assert_eq!(
            q.resolve_many(&[a, b, c, c + 100], "dropped", "bulk", 4000)
                .unwrap(),
            [a, c],
            "only the held ones, each once"
        );
        assert_eq!(q.held().unwrap(), 0);
        let all = q.list(&Filter::default(), 10, 0).unwrap();
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [c, b, a]);
        assert!(all.iter().all(|e| e.status == "dropped"));
        assert_eq!(all[0].resolution.as_deref(), Some("bulk"));
    }

    /// The Redis store passes the same checks against a real
    /// `redis-server` (Debian's package).
    #[test]
    fn the_redis_store_behaves_as_the_sqlite_one() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = std::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--port",
                &port.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (Debian's package; `make setup` installs it)");
        let url = format!("redis://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let q = loop {
            match Quarantine::redis(&url, "test") {
                Ok(q) => break q,
                Err(e) => {
                    assert!(std::time::Instant::now() < deadline, "{e}");
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        };
        behaves(&q);
        let other = Quarantine::redis(&url, "other").unwrap();
        filters_and_resolves(&other);
        // A second replica sees the first one's holds.
        let replica = Quarantine::redis(&url, "test").unwrap();
        assert_eq!(replica.held().unwrap(), 1);
        let _ = server.kill();
        let _ = server.wait();
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
