//! While a shared backend is unreachable, judging goes on: each call falls
//! back to local, in-process state (or fails, when `state.on_error =
//! "fail"`, and the module's failure policy applies). The outage is logged
//! once when it starts and once when it ends, and shown in metrics. While
//! down, the backend is tried again at most once a second, so calls do not
//! each wait for its timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{Bounds, Counted, MemoryBackend, StateBackend, StateResult};
use crate::runtime::unix_ms;

/// How long after a failure the backend is tried again.
const RETRY_MS: u64 = 1000;

/// A shared backend's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// Calls are being served by local state (or failing).
    pub degraded: bool,
    /// Calls that failed on the backend, since start.
    pub errors: u64,
}

pub struct Failover {
    primary: Arc<dyn StateBackend>,
    local: MemoryBackend,
    fall_back: bool,
    degraded: AtomicBool,
    retry_at_ms: AtomicU64,
    errors: AtomicU64,
}

impl Failover {
    /// `fall_back`: serve from local state while `primary` is down (else
    /// fail the call).
    pub fn new(primary: Arc<dyn StateBackend>, fall_back: bool) -> Failover {
        Failover {
            primary,
            local: MemoryBackend::new(),
            fall_back,
            degraded: AtomicBool::new(false),
            retry_at_ms: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    fn call<R>(&self, op: impl Fn(&dyn StateBackend) -> StateResult<R>) -> StateResult<R> {
        let now = unix_ms();
        let resting =
            self.degraded.load(Ordering::Relaxed) && now < self.retry_at_ms.load(Ordering::Relaxed);
        let error = if resting {
            None
        } else {
            match op(self.primary.as_ref()) {
                Ok(r) => {
                    if self.degraded.swap(false, Ordering::Relaxed) {
                        tracing::warn!("state backend reachable again; shared state resumes");
                    }
                    return Ok(r);
                }
                Err(e) => {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                    self.retry_at_ms.store(now + RETRY_MS, Ordering::Relaxed);
                    if !self.degraded.swap(true, Ordering::Relaxed) {
                        tracing::error!(
                            error = %e,
                            fallback = if self.fall_back { "local state" } else { "none: state calls fail" },
                            "state backend unreachable"
                        );
                    }
                    Some(e)
                }
            }
        };
        if self.fall_back {
            op(&self.local)
        } else {
            Err(error.unwrap_or_else(|| {
                super::StateError::Backend(
                    "state backend unreachable (retrying every second)".into(),
                )
            }))
        }
    }
}

impl StateBackend for Failover {
    fn get(&self, ns: &str, key: &str, now: u64) -> StateResult<Option<Vec<u8>>> {
        self.call(|b| b.get(ns, key, now))
    }

    fn put(&self, ns: &str, key: &str, value: &[u8], ttl: u32, now: u64) -> StateResult<()> {
        self.call(|b| b.put(ns, key, value, ttl, now))
    }

    fn delete(&self, ns: &str, key: &str) -> StateResult<()> {
        self.call(|b| b.delete(ns, key))
    }

    fn hit(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.call(|b| b.hit(ns, key, window, now))
    }

    fn count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.call(|b| b.count(ns, key, window, now))
    }

    fn distinct_add(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
    ) -> StateResult<u64> {
        self.call(|b| b.distinct_add(ns, key, member, window, now))
    }

    fn distinct_count(&self, ns: &str, key: &str, window: u32, now: u64) -> StateResult<u64> {
        self.call(|b| b.distinct_count(ns, key, window, now))
    }

    fn distinct_has(
        &self,
        ns: &str,
        key: &str,
        member: &str,
        window: u32,
        now: u64,
    ) -> StateResult<bool> {
        self.call(|b| b.distinct_has(ns, key, member, window, now))
    }

    fn first_seen(&self, subject: &str, now: u64) -> StateResult<u64> {
        self.call(|b| b.first_seen(subject, now))
    }

    fn seen_since(&self, subject: &str) -> StateResult<Option<u64>> {
        self.call(|b| b.seen_since(subject))
    }

    fn keys(&self, ns: &str, now: u64) -> StateResult<u64> {
        self.call(|b| b.keys(ns, now))
    }

    fn hit_bounded(
        &self,
        ns: &str,
        key: &str,
        window: u32,
        now: u64,
        bounds: &Bounds,
    ) -> StateResult<Counted> {
        self.call(|b| b.hit_bounded(ns, key, window, now, bounds))
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
        self.call(|b| b.distinct_add_bounded(ns, key, member, window, now, bounds))
    }

    fn health(&self) -> Option<Health> {
        Some(Health {
            degraded: self.degraded.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        })
    }
}
