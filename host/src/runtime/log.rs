//! The `log` capability's rate limit: a token bucket per module name, kept
//! by the runtime so that neither fresh instances nor a reload refill it.
//! A module logging in a loop wrote 1 GB of stderr for 10 activities.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the host says that a module's lines are being dropped.
const NOTICE_EVERY: Duration = Duration::from_secs(10);

/// Every module's bucket, by module name.
pub(crate) struct LogLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<Arc<str>, Arc<Mutex<Bucket>>>>,
}

/// One module's allowance of lines, and the lines it was refused.
pub(crate) struct Bucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
    dropped: u64,
    noticed: Option<Instant>,
}

impl LogLimiter {
    pub(crate) fn new(per_second: u32, burst: u32) -> Self {
        LogLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The bucket of the module `name` (a new, full one the first time).
    pub(crate) fn bucket(&self, name: &Arc<str>) -> Arc<Mutex<Bucket>> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets
            .entry(name.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Bucket {
                    per_second: self.per_second,
                    burst: self.burst,
                    tokens: self.burst,
                    refilled: Instant::now(),
                    dropped: 0,
                    noticed: None,
                }))
            })
            .clone()
    }

    /// Lines refused so far, per module name (since the process started).
    pub(crate) fn dropped(&self) -> Vec<(String, u64)> {
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(String, u64)> = buckets
            .iter()
            .map(|(name, b)| {
                let dropped = b.lock().unwrap_or_else(|e| e.into_inner()).dropped;
                (name.to_string(), dropped)
            })
            .collect();
        out.sort();
        out
    }
}

impl Bucket {
    /// Whether its module may write one more line now; a refused line is counted (and, now and then, noticed in the log).
    pub(crate) fn allow(&mut self, module: &str) -> bool {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return true;
        }
        self.dropped += 1;
        if self
            .noticed
            .is_none_or(|t| now.duration_since(t) >= NOTICE_EVERY)
        {
            self.noticed = Some(now);
            tracing::warn!(
                module,
                dropped = self.dropped,
                per_second = self.per_second,
                burst = self.burst,
                "module logs faster than limits.log_lines_per_second; dropping its lines"
            );
        }
        false
    }
}
