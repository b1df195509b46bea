//! Per-store resource accounting: the memory cap, and knowing afterwards
//! whether a trap came from hitting it.

use wasmtime::ResourceLimiter;

/// Table elements any one table may grow to.
const MAX_TABLE_ELEMENTS: usize = 200_000;

/// Caps a store's linear memories and remembers refusing a growth, so that a
/// trap that follows can be reported as "memory cap" rather than a crash.
pub(crate) struct MemoryCap {
    max_bytes: usize,
    refused: bool,
}

impl MemoryCap {
    pub(crate) fn new(max_bytes: usize) -> Self {
        MemoryCap {
            max_bytes,
            refused: false,
        }
    }

    /// Whether a growth was refused since the last call; resets the flag.
    pub(crate) fn take_refused(&mut self) -> bool {
        std::mem::take(&mut self.refused)
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max_bytes;
        if !allowed {
            self.refused = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
