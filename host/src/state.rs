//! The `state` capability's storage, and the host's first-seen times.
//!
//! Every backend implements [`StateBackend`]; modules reach it only through
//! their own namespace (the module's name), so no module reads another's
//! keys. Times are passed in (milliseconds since the Unix epoch): the
//! activity's receive time, so a replay counts exactly as the live run did.

use std::sync::Mutex;

use palisade_sdk::memory::MemoryState;

/// A state backend failed; the module's failure policy applies.
#[derive(Debug, thiserror::Error)]
#[error("state backend: {0}")]
pub struct StateError(pub String);

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
    /// When `subject` (an actor's URI, a host) was first seen; `now` the
    /// first time, which is then remembered.
    fn first_seen(&self, subject: &str, now: u64) -> StateResult<u64>;
}

/// In-process state: nothing to install, gone at exit.
#[derive(Default)]
pub struct MemoryBackend {
    inner: Mutex<MemoryState>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut MemoryState) -> R) -> StateResult<R> {
        // A panic while holding the lock leaves counts usable: keep going.
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(f(&mut guard))
    }
}

/// Module keys live under the module's namespace; the host's own keys
/// (first-seen) under a namespace no module name can take.
fn scoped(ns: &str, key: &str) -> String {
    let mut s = String::with_capacity(ns.len() + key.len() + 1);
    s.push_str(ns);
    s.push('\0');
    s.push_str(key);
    s
}

impl StateBackend for MemoryBackend {
    fn get(&self, ns: &str, key: &str, now: u64) -> StateResult<Option<Vec<u8>>> {
        self.with(|m| m.get(&scoped(ns, key), now))
    }

    fn put(&self, ns: &str, key: &str, value: &[u8], ttl: u32, now: u64) -> StateResult<()> {
        self.with(|m| m.put(&scoped(ns, key), value, ttl, now))
    }

    fn delete(&self, ns: &str, key: &str) -> StateResult<()> {
        self.with(|m| m.delete(&scoped(ns, key)))
    }

    fn hit(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.with(|m| m.hit(&scoped(ns, key), window, now))
    }

    fn count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.with(|m| m.count(&scoped(ns, key), window, now))
    }

    fn distinct_add(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
    ) -> StateResult<u64> {
        self.with(|m| m.distinct_add(&scoped(ns, key), member, window, now))
    }

    fn distinct_count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.with(|m| m.distinct_count(&scoped(ns, key), window, now))
    }

    fn first_seen(&self, subject: &str, now: u64) -> StateResult<u64> {
        // The SDK's test host keys first-seen times the same way.
        self.with(|m| m.first_seen(subject, now))
    }
}
