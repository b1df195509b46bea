//! The sandbox: one wasmtime engine for every module, with the pooling
//! allocator, epoch deadlines, a memory cap per store, a bounded stack and
//! WASI that grants nothing.

mod bindings;
pub mod cache;
mod clocks;
mod contract;
mod imports;
pub mod latency;
mod limits;
mod log;
mod module;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use bindings::{
    Activity, ActorFacts, Context, Description, Direction, Relations, Rewrite, Ruling, Score,
    Sender, SenderStatus, Thread, Verdict, Visibility,
};
pub use module::{
    CallError, ErrorKind, LoadError, Module, ModuleSettings, ModuleStats, RESERVED_NAMES,
    check_name, sha256_hex, unix_ms,
};

use crate::lists::Lists;
use crate::state::StateBackend;
use cache::ModuleCache;
use limits::MemoryCap;
use log::{Bucket, LogLimiter};

/// How often the epoch advances: the granularity of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Limits that hold for every module (a module's settings may lower some).
#[derive(Debug, Clone)]
pub struct RuntimeLimits {
    /// CPU deadline of one call.
    pub timeout: Duration,
    /// The most linear memory one instance may have.
    pub memory_bytes: usize,
    /// The most wasm stack one call may use.
    pub stack_bytes: usize,
    /// Instances that may be live at once across all modules: the pool.
    pub instances: u32,
    /// Reuse a module's instance for the next activity (true) or create a
    /// fresh one per activity (false). See docs/adr/0002.
    pub reuse_instances: bool,
    /// Log lines a module may write per second, on average…
    pub log_lines_per_second: u32,
    /// …and at once, after a quiet spell (the bucket's size).
    pub log_burst: u32,
}

impl Default for RuntimeLimits {
    fn default() -> Self {
        RuntimeLimits {
            timeout: Duration::from_millis(50),
            memory_bytes: 64 << 20,
            stack_bytes: 512 << 10,
            instances: 256,
            reuse_instances: true,
            log_lines_per_second: 20,
            log_burst: 100,
        }
    }
}

/// What every module shares: the engine, the linker with the capabilities,
/// the backends behind them.
pub struct Runtime {
    engine: Engine,
    linker: Linker<StoreData>,
    limits: RuntimeLimits,
    state: Arc<dyn StateBackend>,
    /// Swapped whole when list files change; a module sees the lists as
    /// they are at each call.
    lists: Arc<ArcSwap<Lists>>,
    cache: Option<ModuleCache>,
    log: LogLimiter,
    _ticker: Ticker,
}

impl Runtime {
    /// Start the engine. With `cache_dir`, compiled modules are kept there
    /// (a cache that cannot be used is logged and skipped: it only saves
    /// time).
    pub fn new(
        limits: RuntimeLimits,
        state: Arc<dyn StateBackend>,
        lists: Lists,
        cache_dir: Option<&Path>,
    ) -> wasmtime::Result<Arc<Runtime>> {
        let engine = Engine::new(&engine_config(&limits)).map_err(|e| {
            // The pool reserves address space (not memory) up front: a
            // virtual-memory limit (`ulimit -v`) too small for it fails here.
            e.context(format!(
                "the instance pool reserves 4 GiB of address space per module memory, {} \
                 memories for limits.instances = {}; lower limits.instances or lift the \
                 virtual-memory limit (ulimit -v)",
                limits.instances.max(1) * 2,
                limits.instances
            ))
        })?;
        let mut linker = Linker::new(&engine);
        // Guests built for wasm32-wasip2 import WASI even for pure
        // computation; the context grants nothing (no preopens, no
        // environment, no sockets, output discarded) and never waits.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        clocks::add_to_linker(&mut linker)?;
        contract::add_to_linker(&mut linker)?;
        let cache = cache_dir.and_then(|dir| match ModuleCache::open(dir, &engine) {
            Ok(cache) => Some(cache),
            Err(e) => {
                tracing::warn!(error = %e, "compiling modules without a cache");
                None
            }
        });
        let ticker = Ticker::start(engine.clone());
        Ok(Arc::new(Runtime {
            engine,
            linker,
            log: LogLimiter::new(limits.log_lines_per_second, limits.log_burst),
            limits,
            state,
            lists: Arc::new(ArcSwap::from_pointee(lists)),
            cache,
            _ticker: ticker,
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn limits(&self) -> &RuntimeLimits {
        &self.limits
    }

    pub fn state(&self) -> &Arc<dyn StateBackend> {
        &self.state
    }

    /// The lists as they are now.
    pub fn lists(&self) -> Arc<Lists> {
        self.lists.load_full()
    }

    /// Replace the lists; calls already running finish with the old ones.
    pub fn set_lists(&self, lists: Lists) {
        self.lists.store(Arc::new(lists));
    }

    /// Log lines refused by the rate limit so far, per module name (kept
    /// across reloads: a module's bucket is its name's).
    pub fn log_dropped(&self) -> Vec<(String, u64)> {
        self.log.dropped()
    }

    /// The compiled-module cache, when there is one.
    pub fn cache(&self) -> Option<&ModuleCache> {
        self.cache.as_ref()
    }

    /// Compile `bytes` (sha256 `sha256`), through the cache when there is
    /// one.
    pub fn compile(
        &self,
        bytes: &[u8],
        sha256: &str,
    ) -> wasmtime::Result<(wasmtime::component::Component, cache::Compiled)> {
        match &self.cache {
            Some(cache) => cache.component(&self.engine, bytes, sha256),
            None => Ok((
                wasmtime::component::Component::new(&self.engine, bytes)?,
                cache::Compiled::Fresh,
            )),
        }
    }
}

fn engine_config(limits: &RuntimeLimits) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(limits.stack_bytes);
    config.memory_init_cow(true);
    let mut pool = PoolingAllocationConfig::default();
    let n = limits.instances.max(1);
    pool.total_component_instances(n)
        // Components bundle several core modules (the program, shims for
        // its imports); interpreted guests more.
        .total_core_instances(n * 8)
        .max_core_instances_per_component(64)
        .total_memories(n * 2)
        .max_memories_per_component(8)
        .total_tables(n * 4)
        .max_tables_per_component(16)
        .table_elements(100_000)
        .max_memory_size(limits.memory_bytes);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`]: one thread for every
/// deadline of every call.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("palisade-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawn the epoch thread");
        Ticker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a store holds for one instance of one module.
pub(crate) struct StoreData {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryCap,
    /// The module's name: its state namespace and log tag.
    namespace: Arc<str>,
    /// The module's log rate limit (see `log`).
    log: Arc<std::sync::Mutex<Bucket>>,
    state: Arc<dyn StateBackend>,
    lists: Arc<ArcSwap<Lists>>,
    /// The current activity's receive time, for state windows.
    now_ms: u64,
    /// Whether the current call may write state (see `Envelope::record`).
    record: bool,
    /// When the current call's CPU deadline ends: no WASI wait may end
    /// later (see `clocks`).
    deadline: std::time::Instant,
}

impl StoreData {
    pub(crate) fn new(runtime: &Runtime, namespace: Arc<str>, memory_bytes: usize) -> Self {
        StoreData {
            log: runtime.log.bucket(&namespace),
            wasi: WasiCtx::builder()
                .monotonic_clock(clocks::SandboxClock)
                .build(),
            table: ResourceTable::new(),
            memory: MemoryCap::new(memory_bytes),
            namespace,
            state: runtime.state.clone(),
            lists: runtime.lists.clone(),
            now_ms: 0,
            record: true,
            deadline: std::time::Instant::now(),
        }
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
