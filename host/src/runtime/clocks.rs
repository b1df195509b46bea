//! Time in the sandbox: a module may read the clocks, never wait on them.
//!
//! WASI lets a guest sleep (`monotonic-clock.subscribe-duration` or
//! `subscribe-instant`, then `poll` or `pollable.block`). A host call is
//! not interrupted by the epoch deadline, so a guest sleeping 3 s would hold
//! its instance (and the activity) for 3 s against a 50 ms deadline. A
//! module has no reason to wait for time to pass, so the two subscriptions
//! are replaced by pollables that are ready at once: `poll` and `block`
//! return immediately, and a guest spinning on short sleeps is cut by the
//! epoch deadline like any loop. A wait that would end past the call's
//! deadline could never finish in time: it ends the call as a timeout
//! there and then ([`WaitPastDeadline`]).
//!
//! The default stdin of the deny-all WASI context is closed (reads see the
//! end of the stream) and stdout/stderr discard what is written, so stdio
//! never waits either.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::HostMonotonicClock;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use super::StoreData;

/// The monotonic-clock interface as wasmtime-wasi 48 defines it; guests
/// built against an earlier 0.2 release import a compatible version, which
/// the linker resolves to this one.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// The origin of [`SandboxClock`]: one for the process, so that every
/// store's clock and the subscriptions agree.
static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The monotonic clock modules read: nanoseconds since [`ORIGIN`], so that
/// `subscribe-instant` can tell how far away an instant is.
pub(crate) struct SandboxClock;

impl SandboxClock {
    fn nanos() -> u64 {
        ORIGIN.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64
    }
}

impl HostMonotonicClock for SandboxClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        SandboxClock::nanos()
    }
}

/// A guest asked to wait past the end of its call's deadline.
#[derive(Debug, thiserror::Error)]
#[error("asked to wait {wait_ms} ms, past its CPU deadline")]
pub(crate) struct WaitPastDeadline {
    pub wait_ms: u128,
}

/// A pollable that is always ready.
struct Ready;

#[wasmtime_wasi::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

/// Replace the monotonic clock's subscriptions (added by
/// `add_to_linker_sync`) with ones that never wait.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, StoreData>, (nanos,): (u64,)| {
            Ok((wake_after(store.data_mut(), Duration::from_nanos(nanos))?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, StoreData>, (when,): (u64,)| {
            let wait = Duration::from_nanos(when.saturating_sub(SandboxClock::nanos()));
            Ok((wake_after(store.data_mut(), wait)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A pollable ready now, unless the wait would end past the deadline.
fn wake_after(data: &mut StoreData, wait: Duration) -> wasmtime::Result<Resource<DynPollable>> {
    let ends = Instant::now().checked_add(wait);
    if ends.is_none_or(|ends| ends > data.deadline) {
        return Err(WaitPastDeadline {
            wait_ms: wait.as_millis(),
        }
        .into());
    }
    let ready = data.table.push(Ready)?;
    subscribe(&mut data.table, ready)
}
