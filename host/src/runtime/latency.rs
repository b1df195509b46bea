//! How long a module's recent calls took: a fixed ring of the last
//! [`WINDOW`] durations, written without a lock on every call and sorted
//! only when someone asks (the admin API, the console).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde::Serialize;

/// Calls remembered.
pub const WINDOW: usize = 1024;

/// The last [`WINDOW`] call durations, in microseconds.
pub struct Latencies {
    slots: [AtomicU32; WINDOW],
    next: AtomicU64,
}

/// Percentiles over the remembered calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// How many calls they cover (at most [`WINDOW`]).
    pub calls: usize,
    pub p50_us: u32,
    pub p99_us: u32,
    pub max_us: u32,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            slots: std::array::from_fn(|_| AtomicU32::new(0)),
            next: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latencies")
            .field("percentiles", &self.percentiles())
            .finish()
    }
}

impl Latencies {
    /// Remember one call (durations past u32::MAX µs, 71 minutes, saturate).
    pub fn record(&self, micros: u64) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) as usize % WINDOW;
        self.slots[i].store(micros.min(u32::MAX as u64) as u32, Ordering::Relaxed);
    }

    /// Nearest-rank percentiles over the remembered calls; None before the
    /// first call.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let calls = (self.next.load(Ordering::Relaxed) as usize).min(WINDOW);
        if calls == 0 {
            return None;
        }
        let mut v: Vec<u32> = self.slots[..calls]
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .collect();
        v.sort_unstable();
        let rank = |p: usize| v[(calls * p).div_ceil(100).max(1) - 1];
        Some(Percentiles {
            calls,
            p50_us: rank(50),
            p99_us: rank(99),
            max_us: v[calls - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_the_last_calls() {
        let l = Latencies::default();
        assert_eq!(l.percentiles(), None);
        for us in 1..=100 {
            l.record(us);
        }
        let p = l.percentiles().unwrap();
        assert_eq!((p.calls, p.p50_us, p.p99_us, p.max_us), (100, 50, 99, 100));
        // A window's worth of fast calls pushes the slow ones out.
        for _ in 0..WINDOW {
            l.record(7);
        }
        let p = l.percentiles().unwrap();
        assert_eq!((p.calls, p.p50_us, p.p99_us, p.max_us), (WINDOW, 7, 7, 7));
        l.record(u64::MAX);
        assert_eq!(l.percentiles().unwrap().max_us, u32::MAX);
    }
}
