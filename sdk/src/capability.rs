//! The capabilities a module may call: the only door between a module and
//! the world. All raw host calls live in this file.
//!
//! In a `wasm32` build each function calls the Palisade host through the
//! `palisade:policy` imports. In a native build (`cargo test`) it calls the
//! [`TestHost`](crate::testing::TestHost) that is judging on this thread.

#[cfg(not(target_arch = "wasm32"))]
use crate::testing::with_current as native;

/// Write to the host's log, tagged with the module's name.
pub mod log {
    pub use crate::Level;

    /// Log `message` at `level`.
    pub fn log(level: Level, message: &str) {
        #[cfg(target_arch = "wasm32")]
        crate::bindings::palisade::policy::log::log(level, message);
        #[cfg(not(target_arch = "wasm32"))]
        super::native("log", |h| h.log(level, message));
    }

    pub fn debug(message: &str) {
        log(Level::Debug, message)
    }

    pub fn info(message: &str) {
        log(Level::Info, message)
    }

    pub fn warn(message: &str) {
        log(Level::Warn, message)
    }
}

/// Host-kept state, namespaced per module, with sliding windows.
pub mod state {
    #[cfg(target_arch = "wasm32")]
    use crate::bindings::palisade::policy::state as host;

    /// The value under `key`, unless absent or expired.
    pub fn get(key: &str) -> Option<Vec<u8>> {
        #[cfg(target_arch = "wasm32")]
        return host::get(key);
        #[cfg(not(target_arch = "wasm32"))]
        super::native("state", |h| h.state_get(key))
    }

    /// Store `value` under `key` for `ttl_seconds` (0: no expiry).
    pub fn put(key: &str, value: &[u8], ttl_seconds: u32) {
        #[cfg(target_arch = "wasm32")]
        host::put(key, value, ttl_seconds);
        #[cfg(not(target_arch = "wasm32"))]
        super::native("state", |h| h.state_put(key, value, ttl_seconds))
    }

    /// Remove `key` and anything counted under it.
    pub fn delete(key: &str) {
        #[cfg(target_arch = "wasm32")]
        host::delete(key);
        #[cfg(not(target_arch = "wasm32"))]
        super::native("state", |h| h.state_delete(key))
    }

    /// Record an event under `key` now; the number of events in the last
    /// `window_seconds`, this one included.
    pub fn hit(key: &str, window_seconds: u32) -> u64 {
        #[cfg(target_arch = "wasm32")]
        return host::hit(key, window_seconds);
        #[cfg(not(target_arch = "wasm32"))]
        super::native("state", |h| h.state_hit(key, window_seconds))
    }

    /// The number of events under `key` in the last `window_seconds`.
    pub fn count(key: &str, window_seconds: u32) -> u64 {
        #[cfg(target_arch = "wasm32")]
        return host::count(key, window_seconds);
        #[cfg(not(target_arch = "wasm32"))]
        super::native("state", |h| h.state_count(key, window_seconds))
    }

    /// Add `member` to the set `key`; the number of distinct members seen in
    /// the last `window_seconds`, this one included.
    pub fn distinct_add(key: &str, member: &str, window_seconds: u32) -> u64 {
        #[cfg(target_arch = "wasm32")]
        return host::distinct_add(key, member, window_seconds);
        #[cfg(not(target_arch = "wasm32"))]
        super::native("state", |h| {
            h.state_distinct_add(key, member, window_seconds)
        })
    }

    /// The number of distinct members of `key` seen in the last
    /// `window_seconds`.
    pub fn distinct_count(key: &str, window_seconds: u32) -> u64 {
        #[cfg(target_arch = "wasm32")]
        return host::distinct_count(key, window_seconds);
        #[cfg(not(target_arch = "wasm32"))]
        super::native("state", |h| h.state_distinct_count(key, window_seconds))
    }
}

/// Named lists the admin manages.
pub mod lists {
    pub use crate::{DomainEntry, Severity};

    /// Whether `value` is an entry of `list` (case-insensitive).
    pub fn contains(list: &str, value: &str) -> bool {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::palisade::policy::lists::contains(list, value);
        #[cfg(not(target_arch = "wasm32"))]
        super::native("lists", |h| h.list_contains(list, value))
    }

    /// The entry of `list` covering `host` or its closest listed parent.
    pub fn match_domain(list: &str, host: &str) -> Option<DomainEntry> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::palisade::policy::lists::match_domain(list, host);
        #[cfg(not(target_arch = "wasm32"))]
        super::native("lists", |h| h.list_match_domain(list, host))
    }
}
