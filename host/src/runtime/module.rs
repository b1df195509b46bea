//! One loaded policy module: its compiled component, what it said about
//! itself, its settings, and a small pool of warm instances.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, types::ComponentItem};
use wasmtime::{Store, Trap};

use super::bindings::{Activity, Context, Description, Ruling, Verdict};
use super::cache::Compiled;
use super::clocks::WaitPastDeadline;
use super::contract::{Bindings, Pre};
use super::latency::Latencies;
use super::{EPOCH_TICK, Runtime, StoreData};
use crate::config::{Capability, FailurePolicy, Mode, PolicyConfig};
use crate::signing::SignatureStatus;
use crate::state::StateError;

/// Limits on what a module may return, so one module cannot flood the
/// decision log.
const MAX_REASON_BYTES: usize = 4096;
const MAX_LABELS: usize = 16;
const MAX_LABEL_BYTES: usize = 64;
const MAX_ABS_POINTS: f64 = 1e6;

/// Caps on what `describe()` may return. The description is copied into
/// every decision and the admin API's recent decisions: a 30 MB `version`
/// was, each time.
const MAX_VERSION_BYTES: usize = 64;
const MAX_DESCRIPTION_BYTES: usize = 1024;
const MAX_CAPABILITIES: usize = 16;
const MAX_CAPABILITY_BYTES: usize = 64;
const MAX_SCHEMA_BYTES: usize = 64 << 10;

/// Native stack of the thread a module is loaded on (compiling included).
const LOAD_STACK_BYTES: usize = 8 << 20;

/// Names no module may take: they name the host's own records and metrics.
pub const RESERVED_NAMES: [&str; 3] = ["actor", "host", "palisade"];

/// Warm instances a module keeps between activities, at most.
const MAX_IDLE: usize = 16;

/// Consecutive failures after which a module is backed off.
const BACKOFF_AFTER: u32 = 5;
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Why a module was not loaded. Each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("sha256 is {actual}, but the configuration pins {expected}")]
    PinMismatch { expected: String, actual: String },
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    #[error(
        "imports `{interface}` but is not granted `{capability}`: add \"{capability}\" to its grants if you trust it with that"
    )]
    NotGranted {
        interface: String,
        capability: &'static str,
    },
    #[error(
        "imports `{0}`, which Palisade does not provide (modules may import only palisade:policy capabilities and WASI)"
    )]
    UnknownImport(String),
    #[error("does not implement the palisade:policy world: {0}")]
    World(String),
    /// It failed while being loaded: `during` says in which step
    /// (instantiating it, `describe()`, `configure()`), the error its kind.
    #[error("failed to start: {error} (in {during})")]
    Start {
        during: &'static str,
        error: CallError,
    },
    #[error("{0}")]
    BadName(String),
    #[error("describe() returned {what}; at most {cap}")]
    Oversized { what: String, cap: String },
    #[error("refused its configuration: {0}")]
    Configure(String),
}

/// How a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The call ran past its CPU deadline and was interrupted.
    Timeout,
    /// The module tried to grow its memory past the cap.
    Memory,
    /// The module trapped (a panic, an unreachable, a failed capability call).
    Trap,
    /// The module returned something the host does not accept.
    BadOutput,
    /// No instance could be created (pool exhausted, start-up trap).
    Instantiate,
    /// The module failed too often in a row and is resting.
    Backoff,
    /// The module went past one of its quotas (state keys or sizes).
    Quota,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Timeout,
        ErrorKind::Memory,
        ErrorKind::Trap,
        ErrorKind::BadOutput,
        ErrorKind::Instantiate,
        ErrorKind::Backoff,
        ErrorKind::Quota,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Memory => "memory",
            ErrorKind::Trap => "trap",
            ErrorKind::BadOutput => "bad-output",
            ErrorKind::Instantiate => "instantiate",
            ErrorKind::Backoff => "backoff",
            ErrorKind::Quota => "quota",
        }
    }
}

/// A failed call: its kind and what happened.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", kind.as_str())]
pub struct CallError {
    pub kind: ErrorKind,
    pub message: String,
}

impl CallError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CallError {
            kind,
            message: message.into(),
        }
    }
}

/// Counters kept per module.
#[derive(Debug, Default)]
pub struct ModuleStats {
    pub calls: AtomicU64,
    pub errors: [AtomicU64; 7],
    pub instantiations: AtomicU64,
    /// Calls that ruled something other than `pass`.
    pub hits: AtomicU64,
    /// How long the recent calls took, failures included (recorded by the
    /// pipeline, which times each call for the trace anyway).
    pub latency: Latencies,
}

impl ModuleStats {
    pub fn errors_of(&self, kind: ErrorKind) -> u64 {
        self.errors[kind as usize].load(Ordering::Relaxed)
    }
}

/// A module's settings as the host applies them.
#[derive(Debug, Clone)]
pub struct ModuleSettings {
    pub mode: Mode,
    pub weight: f64,
    /// May give negative points (see `PolicyConfig::vouch`).
    pub vouch: bool,
    pub on_error: FailurePolicy,
    pub timeout: Duration,
    pub memory_bytes: usize,
}

struct Warm {
    store: Store<StoreData>,
    bindings: Bindings,
}

/// A loaded, configured policy module. Immutable but for its pool and
/// counters; shared by every activity judged with it.
pub struct Module {
    name: Arc<str>,
    description: Description,
    sha256: String,
    source: String,
    capabilities: Vec<&'static str>,
    settings: ModuleSettings,
    wants_raw: bool,
    config_json: String,
    /// The settings it was loaded with, to tell on reload whether it changed.
    policy: PolicyConfig,
    compiled: Compiled,
    signature: SignatureStatus,
    /// The `palisade:policy` version the module was built against.
    contract: String,
    pre: Pre,
    runtime: Arc<Runtime>,
    idle: Mutex<Vec<Warm>>,
    stats: ModuleStats,
    failures_in_a_row: AtomicU32,
    resting_until_ms: AtomicU64,
}

/// The hex sha256 of a module's bytes, the identity admins pin.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Module {
    /// Compile, check and configure a module. `source` names where it came
    /// from (a path or `builtin:NAME`) for messages.
    pub fn load(
        runtime: &Arc<Runtime>,
        source: &str,
        bytes: &[u8],
        cfg: &PolicyConfig,
        config_json: String,
    ) -> Result<Module, LoadError> {
        Self::prepare(runtime, source, bytes, cfg, config_json, true)
    }

    /// Compile a module and ask it to describe itself, granting every
    /// capability it imports and configuring nothing: what `palisade
    /// inspect` shows. The module never judges.
    pub fn inspect(
        runtime: &Arc<Runtime>,
        source: &str,
        bytes: &[u8],
    ) -> Result<Module, LoadError> {
        let cfg: PolicyConfig = toml::from_str("grants = [\"log\", \"state\", \"lists\"]")
            .expect("a policy table with every grant parses");
        Self::prepare(runtime, source, bytes, &cfg, "{}".into(), false)
    }

    /// Load on a thread of its own. WASI's stdio and poll calls enter a
    /// tokio runtime to run; on a thread that already drives one (`serve`
    /// loads its modules from inside its runtime) that would panic and take
    /// the process down. A panic while loading fails this module only.
    fn prepare(
        runtime: &Arc<Runtime>,
        source: &str,
        bytes: &[u8],
        cfg: &PolicyConfig,
        config_json: String,
        configure: bool,
    ) -> Result<Module, LoadError> {
        std::thread::scope(|scope| {
            let loading = std::thread::Builder::new()
                .name("palisade-load".into())
                .stack_size(LOAD_STACK_BYTES)
                .spawn_scoped(scope, || {
                    Self::prepare_here(runtime, source, bytes, cfg, config_json, configure)
                })
                .map_err(|e| LoadError::Start {
                    during: "the host",
                    error: CallError::new(
                        ErrorKind::Instantiate,
                        format!("cannot start a thread to load it: {e}"),
                    ),
                })?;
            loading.join().unwrap_or_else(|_| {
                Err(LoadError::Start {
                    during: "the host",
                    error: CallError::new(ErrorKind::Trap, "loading it panicked in the host"),
                })
            })
        })
    }

    fn prepare_here(
        runtime: &Arc<Runtime>,
        source: &str,
        bytes: &[u8],
        cfg: &PolicyConfig,
        config_json: String,
        configure: bool,
    ) -> Result<Module, LoadError> {
        if let Some(name) = &cfg.name {
            check_name(name)
                .map_err(|e| LoadError::BadName(format!("its `name` setting is {e}")))?;
        }
        let sha256 = sha256_hex(bytes);
        if let Some(expected) = &cfg.sha256
            && !expected.eq_ignore_ascii_case(&sha256)
        {
            return Err(LoadError::PinMismatch {
                expected: expected.clone(),
                actual: sha256,
            });
        }
        let (component, compiled) = runtime
            .compile(bytes, &sha256)
            .map_err(|e| LoadError::NotAComponent(describe(&e)))?;
        let capabilities = check_imports(runtime, &component, &cfg.grants)?;
        let pre =
            Pre::new(&runtime.linker, &component).map_err(|e| LoadError::World(describe(&e)))?;

        let limits = runtime.limits();
        let settings = ModuleSettings {
            mode: cfg.mode,
            weight: cfg.weight,
            vouch: cfg.vouch,
            on_error: cfg.on_error,
            timeout: cfg.timeout_ms.map_or(limits.timeout, Duration::from_millis),
            memory_bytes: cfg
                .memory_mib
                .map_or(limits.memory_bytes, |m| (m as usize) << 20)
                .min(limits.memory_bytes),
        };

        // A first instance: it says who it is and checks its configuration.
        let mut module = Module {
            name: Arc::from(cfg.name.as_deref().unwrap_or("")),
            description: Description {
                name: String::new(),
                version: String::new(),
                description: String::new(),
                capabilities: Vec::new(),
                config_schema: None,
            },
            sha256,
            source: source.to_owned(),
            capabilities,
            settings,
            wants_raw: false,
            config_json,
            policy: cfg.clone(),
            compiled,
            signature: SignatureStatus::Unsigned,
            contract: contract_version(&component, runtime),
            pre,
            runtime: runtime.clone(),
            idle: Mutex::new(Vec::new()),
            stats: ModuleStats::default(),
            failures_in_a_row: AtomicU32::new(0),
            resting_until_ms: AtomicU64::new(0),
        };
        let instantiating = |error| LoadError::Start {
            during: "instantiation",
            error,
        };
        let mut warm = module.instantiate_bare().map_err(instantiating)?;
        module.arm(&mut warm.store);
        let description =
            warm.bindings
                .describe(&mut warm.store)
                .map_err(|e| LoadError::Start {
                    during: "describe()",
                    error: classify(e, &mut warm.store),
                })?;
        check_name(&description.name)
            .map_err(|e| LoadError::BadName(format!("describe() returned {e}")))?;
        check_description(&description)?;
        if module.name.is_empty() {
            module.name = Arc::from(description.name.as_str());
        }
        module.wants_raw = description.capabilities.iter().any(|c| c == "raw-json");
        module.description = description;
        if !configure {
            return Ok(module);
        }
        // The store's namespace is the final name; rebuild the instance
        // under it rather than patch the store (freeing the first one's
        // pool slot before taking another).
        drop(warm);
        let mut warm = module.instantiate_bare().map_err(instantiating)?;
        module.configure(&mut warm).map_err(|e| match e.kind {
            ErrorKind::BadOutput => LoadError::Configure(e.message),
            _ => LoadError::Start {
                during: "configure()",
                error: e,
            },
        })?;
        module.idle.lock().expect("fresh lock").push(warm);
        Ok(module)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &Description {
        &self.description
    }

    pub fn version(&self) -> &str {
        &self.description.version
    }

    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The capabilities the module imports (all of them granted).
    pub fn capabilities(&self) -> &[&'static str] {
        &self.capabilities
    }

    pub fn settings(&self) -> &ModuleSettings {
        &self.settings
    }

    pub fn wants_raw(&self) -> bool {
        self.wants_raw
    }

    pub fn stats(&self) -> &ModuleStats {
        &self.stats
    }

    /// The `name` its settings give it, if any.
    pub fn configured_name(&self) -> Option<&str> {
        self.policy.name.as_deref()
    }

    /// Whether its compiled code came from the cache.
    pub fn compiled(&self) -> Compiled {
        self.compiled
    }

    /// Whether this module is what `bytes` (by sha256) under `cfg`, with
    /// `signature`, would load: then a reload keeps it, warm instances and
    /// all.
    pub fn is_same(&self, sha256: &str, cfg: &PolicyConfig, signature: &SignatureStatus) -> bool {
        self.sha256.eq_ignore_ascii_case(sha256)
            && self.policy == *cfg
            && self.signature == *signature
    }

    /// What its signature says.
    pub fn signature(&self) -> &SignatureStatus {
        &self.signature
    }

    /// Record what its signature says (checked before loading).
    pub fn with_signature(mut self, signature: SignatureStatus) -> Module {
        self.signature = signature;
        self
    }

    /// The `palisade:policy` version it was built against (`0.1.0`).
    pub fn contract(&self) -> &str {
        &self.contract
    }

    /// What `palisade policies --json` and the admin API say of the module.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name(),
            "version": self.version(),
            "source": self.source(),
            "sha256": self.sha256(),
            "capabilities": self.capabilities(),
            "mode": self.settings.mode,
            "weight": self.settings.weight,
            "on_error": self.settings.on_error,
            "description": self.description.description,
            "compiled": self.compiled,
            "contract": self.contract,
            "signature": self.signature,
            "config_schema": self.description.config_schema,
        })
    }

    /// Judge one activity under the module's deadline and memory cap;
    /// `record`: whether its state writes are kept (see
    /// [`Envelope::record`](crate::pipeline::Envelope::record)).
    pub fn judge(
        &self,
        activity: &Activity,
        cx: &Context,
        record: bool,
    ) -> Result<Verdict, CallError> {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let result = self.judge_inner(activity, cx, record);
        let now = unix_ms();
        match &result {
            Ok(verdict) => {
                self.failures_in_a_row.store(0, Ordering::Relaxed);
                if !matches!(verdict.ruling, Ruling::Pass) {
                    self.stats.hits.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                self.stats.errors[e.kind as usize].fetch_add(1, Ordering::Relaxed);
                if e.kind != ErrorKind::Backoff {
                    let n = self.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                    if n >= BACKOFF_AFTER {
                        let rest =
                            Duration::from_secs(1 << (n - BACKOFF_AFTER).min(6)).min(BACKOFF_MAX);
                        self.resting_until_ms
                            .store(now + rest.as_millis() as u64, Ordering::Relaxed);
                        tracing::warn!(module = %self.name, failures = n, rest_s = rest.as_secs(), "module keeps failing; backing off");
                    }
                }
            }
        }
        result
    }

    fn judge_inner(
        &self,
        activity: &Activity,
        cx: &Context,
        record: bool,
    ) -> Result<Verdict, CallError> {
        let resting_until = self.resting_until_ms.load(Ordering::Relaxed);
        if resting_until > unix_ms() {
            return Err(CallError::new(
                ErrorKind::Backoff,
                format!(
                    "failed {} times in a row; resting",
                    self.failures_in_a_row.load(Ordering::Relaxed)
                ),
            ));
        }
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut warm = match idle {
            Some(warm) => warm,
            None => {
                let mut warm = self.instantiate_bare()?;
                self.configure(&mut warm)?;
                warm
            }
        };
        warm.store.data_mut().now_ms = cx.received_at;
        warm.store.data_mut().record = record;
        self.arm(&mut warm.store);
        let verdict = warm
            .bindings
            .judge(&mut warm.store, activity, cx)
            .map_err(|e| classify(e, &mut warm.store))?;
        check_verdict(&verdict)?;
        if self.runtime.limits().reuse_instances {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            // Keep warm instances for the usual concurrency, not for the
            // peak of a burst: each holds a slot of the shared pool, and a
            // reload's new modules need slots too.
            if idle.len() < MAX_IDLE {
                idle.push(warm);
            }
        }
        Ok(verdict)
    }

    /// A new instance with its store, not yet configured.
    fn instantiate_bare(&self) -> Result<Warm, CallError> {
        self.stats.instantiations.fetch_add(1, Ordering::Relaxed);
        let data = StoreData::new(&self.runtime, self.name.clone(), self.settings.memory_bytes);
        let mut store = Store::new(self.runtime.engine(), data);
        store.limiter(|d| &mut d.memory);
        self.arm(&mut store);
        let bindings =
            self.pre
                .instantiate(&mut store)
                .map_err(|e| match classify(e, &mut store) {
                    CallError {
                        kind: ErrorKind::Trap,
                        message,
                    } => CallError::new(ErrorKind::Instantiate, message),
                    other => other,
                })?;
        Ok(Warm { store, bindings })
    }

    /// Call `configure`; a refusal is reported as `BadOutput` with the
    /// module's own message.
    fn configure(&self, warm: &mut Warm) -> Result<(), CallError> {
        self.arm(&mut warm.store);
        warm.bindings
            .configure(&mut warm.store, &self.config_json)
            .map_err(|e| classify(e, &mut warm.store))?
            .map_err(|message| CallError::new(ErrorKind::BadOutput, message))
    }

    /// Give the next call its deadline: epochs interrupt the wasm, and
    /// WASI waits may not end past it.
    fn arm(&self, store: &mut Store<StoreData>) {
        let tick = EPOCH_TICK.as_micros().max(1);
        let ticks = self.settings.timeout.as_micros().div_ceil(tick) as u64;
        // One more tick: the current one may be almost over.
        store.set_epoch_deadline(ticks.max(1) + 1);
        store.data_mut().deadline = std::time::Instant::now() + self.settings.timeout;
    }
}

/// The version of the `palisade:policy` interface `component` exports.
fn contract_version(component: &Component, runtime: &Runtime) -> String {
    component
        .component_type()
        .exports(runtime.engine())
        .find_map(|(name, _)| {
            name.strip_prefix("palisade:policy/policy@")
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

/// Which capabilities `component` imports, refusing any not granted and
/// anything Palisade does not provide.
fn check_imports(
    runtime: &Runtime,
    component: &Component,
    grants: &[Capability],
) -> Result<Vec<&'static str>, LoadError> {
    let mut imported = Vec::new();
    for (name, item) in component.component_type().imports(runtime.engine()) {
        if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
            return Err(LoadError::UnknownImport(name.to_owned()));
        }
        if let Some(rest) = name.strip_prefix("palisade:policy/") {
            let interface = rest.split('@').next().unwrap_or(rest);
            if interface == "types" {
                continue;
            }
            let Some(capability) = Capability::from_interface(interface) else {
                return Err(LoadError::UnknownImport(name.to_owned()));
            };
            if !grants.contains(&capability) {
                return Err(LoadError::NotGranted {
                    interface: name.to_owned(),
                    capability: capability.as_str(),
                });
            }
            imported.push(capability.as_str());
        } else if !name.starts_with("wasi:") {
            return Err(LoadError::UnknownImport(name.to_owned()));
        }
    }
    Ok(imported)
}

/// Turn a wasmtime error into what happened, in the module's terms.
fn classify(error: wasmtime::Error, store: &mut Store<StoreData>) -> CallError {
    let refused_memory = store.data_mut().memory.take_refused();
    if let Some(quota @ StateError::Quota(_)) = error.downcast_ref::<StateError>() {
        return CallError::new(ErrorKind::Quota, quota.message());
    }
    if let Some(wait) = error.downcast_ref::<WaitPastDeadline>() {
        return CallError::new(ErrorKind::Timeout, wait.to_string());
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::new(ErrorKind::Timeout, "ran past its CPU deadline"),
        _ if refused_memory => CallError::new(
            ErrorKind::Memory,
            format!(
                "tried to grow its memory past the cap ({})",
                describe(&error)
            ),
        ),
        _ => CallError::new(ErrorKind::Trap, describe(&error)),
    }
}

/// What went wrong, without the wasm backtrace wasmtime attaches (guest
/// frames without symbols say little to an admin).
fn describe(error: &wasmtime::Error) -> String {
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return trap.to_string();
    }
    let mut parts: Vec<String> = error
        .chain()
        .map(|e| e.to_string())
        .filter(|m| !m.starts_with("error while executing at wasm backtrace"))
        .collect();
    parts.dedup();
    if parts.is_empty() {
        error
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    } else {
        parts.join(": ")
    }
}

/// Refuse a description with a field over its cap (the name is checked by
/// [`check_name`]), saying which field and the cap.
fn check_description(d: &Description) -> Result<(), LoadError> {
    let over = |what: String, cap: String| Err(LoadError::Oversized { what, cap });
    if d.version.len() > MAX_VERSION_BYTES {
        return over(
            format!("a `version` of {} bytes", d.version.len()),
            format!("{MAX_VERSION_BYTES} bytes"),
        );
    }
    if d.description.len() > MAX_DESCRIPTION_BYTES {
        return over(
            format!("a `description` of {} bytes", d.description.len()),
            format!("{MAX_DESCRIPTION_BYTES} bytes"),
        );
    }
    if d.capabilities.len() > MAX_CAPABILITIES {
        return over(
            format!("{} `capabilities`", d.capabilities.len()),
            format!("{MAX_CAPABILITIES} entries"),
        );
    }
    if let Some(c) = d
        .capabilities
        .iter()
        .find(|c| c.len() > MAX_CAPABILITY_BYTES)
    {
        return over(
            format!("a capability of {} bytes", c.len()),
            format!("{MAX_CAPABILITY_BYTES} bytes each"),
        );
    }
    if let Some(schema) = &d.config_schema
        && schema.len() > MAX_SCHEMA_BYTES
    {
        return over(
            format!("a `config_schema` of {} bytes", schema.len()),
            format!("{} KiB", MAX_SCHEMA_BYTES >> 10),
        );
    }
    Ok(())
}

fn check_verdict(verdict: &Verdict) -> Result<(), CallError> {
    let bad = |m: String| Err(CallError::new(ErrorKind::BadOutput, m));
    let reason = match &verdict.ruling {
        Ruling::Pass => "",
        Ruling::Accept(r) | Ruling::Reject(r) | Ruling::Quarantine(r) => r,
        Ruling::Score(s) => {
            if !s.points.is_finite() || s.points.abs() > MAX_ABS_POINTS {
                return bad(format!(
                    "score points {} are not a finite number within ±{MAX_ABS_POINTS}",
                    s.points
                ));
            }
            if s.labels.len() > MAX_LABELS || s.labels.iter().any(|l| l.len() > MAX_LABEL_BYTES) {
                return bad(format!(
                    "more than {MAX_LABELS} labels or a label over {MAX_LABEL_BYTES} bytes"
                ));
            }
            &s.reason
        }
    };
    if reason.len() > MAX_REASON_BYTES {
        return bad(format!(
            "a reason of {} bytes (at most {MAX_REASON_BYTES})",
            reason.len()
        ));
    }
    Ok(())
}

/// Whether `name` may name a module (in `describe()` or in its settings):
/// it is its state namespace, its log tag and its metrics label, so it is
/// short, plain, and none of [`RESERVED_NAMES`]. The error says why not.
pub fn check_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !plain {
        let shown: String = name.chars().take(64).collect();
        return Err(format!(
            "an unusable module name `{shown}`: use 1 to 64 lower-case letters, digits, `-` and `_`"
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(format!(
            "the module name `{name}`, which is reserved for the host ({})",
            RESERVED_NAMES.join(", ")
        ));
    }
    Ok(())
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
