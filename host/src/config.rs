//! The configuration file: one TOML document, strict (an unknown key is an
//! error naming the key and the file), with safe defaults for everything.
//!
//! Every key is documented in `docs/config.md`; `examples/palisade.toml` is
//! an annotated example.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::lists::ListFormat;
use crate::runtime::RuntimeLimits;

/// The configuration used when none is given: the bundled modules.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// The configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Hosts whose users are local to the protected server. Mentions of
    /// them are marked `local` for modules.
    #[serde(default)]
    pub local_hosts: Vec<String>,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Named lists for the `lists` capability.
    #[serde(default)]
    pub lists: BTreeMap<String, ListConfig>,
    /// The modules, in the order they judge. Absent: the bundled defaults.
    #[serde(default = "default_policies")]
    pub policy: Vec<PolicyConfig>,
    /// The drop-in folder and how it is watched.
    #[serde(default)]
    pub policies: PoliciesConfig,
    /// The compiled-module cache.
    #[serde(default)]
    pub cache: CacheConfig,
    /// Where module state and first-seen times live.
    #[serde(default)]
    pub state: StateConfig,
    /// Which module signatures are trusted, and whether they are required.
    #[serde(default)]
    pub signatures: SignaturesConfig,
    /// The sidecar (`palisade serve`).
    #[serde(default)]
    pub server: ServerConfig,
    /// The admin API.
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub quarantine: QuarantineConfig,
    #[serde(default)]
    pub decision_log: DecisionLogConfig,
    /// The first hours after Palisade starts counting, when every actor
    /// looks new.
    #[serde(default)]
    pub learning: LearningConfig,
    /// Recording judged inbox POSTs for `palisade replay` (off by default).
    #[serde(default)]
    pub record: RecordConfig,
    /// Verifying who sent an inbox POST (its HTTP signature).
    #[serde(default)]
    pub senders: SendersConfig,
    /// Fetching keys, actor documents and objects from senders' servers.
    #[serde(default)]
    pub fetch: FetchConfig,
    /// Where relative paths in the file are resolved from: the file's folder.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[server]`: where Palisade listens and what it protects.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the proxy, judge API, metrics and health checks.
    pub listen: String,
    /// The protected server (`http://127.0.0.1:3000`). Without it Palisade
    /// serves only the judge API.
    pub upstream: Option<String>,
    /// Paths whose POSTs are judged; `*` matches one path segment. Matched
    /// on the normalised path, static segments in any letter case, the last
    /// one with or without a format suffix (`/inbox.json`).
    pub inbox_paths: Vec<String>,
    /// Largest inbox body judged, in KiB; larger ones get 413.
    pub body_limit_kib: u64,
    /// The status a rejected activity gets. 202 keeps senders from retrying
    /// or suspending delivery.
    pub reject_status: u16,
    /// What to do with an inbox POST whose body is not a JSON object.
    pub non_json: NonJson,
    /// How long to wait for the upstream, in milliseconds.
    pub upstream_timeout_ms: u64,
    /// Whether `POST /v1/judge` writes state (module counters, first-seen
    /// times) as a delivery does. Off: anyone able to call the API could
    /// otherwise count a victim's text into a burst before the victim's
    /// real post arrives.
    pub judge_api_records: bool,
    /// The longest a request's line and headers may take to arrive, in
    /// milliseconds; then the connection is closed. Also how long an idle
    /// keep-alive connection stays open.
    pub header_read_timeout_ms: u64,
    /// The longest an inbox or judge API body may take to arrive, in
    /// milliseconds; then the sender gets 408.
    pub body_read_timeout_ms: u64,
    /// On SIGTERM, how long requests in flight may take to finish, in
    /// milliseconds; then the connections still open are dropped.
    pub shutdown_timeout_ms: u64,
    /// Threads serving HTTP; 0 (the default) is one per CPU core.
    /// Judging runs on its own threads, bounded by `limits.instances`.
    pub workers: usize,
    /// Activities judged at once; 0 (the default) is four per CPU core.
    /// Judging is CPU work: more at once only queues in the scheduler,
    /// and keeps more module instances (and their memory) warm.
    pub concurrent_judgements: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8787".into(),
            upstream: None,
            inbox_paths: [
                "/inbox",
                "/users/*/inbox",
                "/ap/users/*/inbox",
                "/actor/inbox",
                "/relay/inbox",
            ]
            .map(String::from)
            .to_vec(),
            body_limit_kib: 1024,
            reject_status: 202,
            non_json: NonJson::Reject,
            upstream_timeout_ms: 30_000,
            judge_api_records: false,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            shutdown_timeout_ms: 10_000,
            workers: 0,
            concurrent_judgements: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NonJson {
    /// Forward it unjudged and let the server decide (counted). Only for a
    /// server known to refuse everything Palisade cannot read.
    Forward,
    /// Answer 400 (counted and logged): what Palisade cannot judge does not
    /// reach the server.
    #[default]
    Reject,
}

/// `[admin]`: the admin API, on its own listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Loopback by default: the admin API can release and drop activities.
    pub listen: String,
    /// A file holding the bearer token (surrounding whitespace ignored).
    pub token_file: Option<PathBuf>,
    /// An environment variable holding the token, used when no file is set.
    pub token_env: String,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: "127.0.0.1:8788".into(),
            token_file: None,
            token_env: "PALISADE_ADMIN_TOKEN".into(),
        }
    }
}

/// `[quarantine]`: where held activities are stored.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuarantineConfig {
    /// The SQLite file.
    pub path: PathBuf,
    /// A Redis shared by replicas (`redis://HOST:PORT[/DB]`), instead of
    /// the SQLite file.
    pub url: Option<String>,
    /// Redis: prefix of the quarantine's keys.
    pub prefix: String,
}

impl Default for QuarantineConfig {
    fn default() -> Self {
        QuarantineConfig {
            path: PathBuf::from("palisade.db"),
            url: None,
            prefix: "palisade".into(),
        }
    }
}

/// `[policies]`: a folder of drop-in modules (`NAME.wasm`, with optional
/// `NAME.toml` settings beside it), judged after the `[[policy]]` entries,
/// by name, and watched by `palisade serve`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PoliciesConfig {
    /// The folder. Unset: `policies.d` beside the configuration file, used
    /// only if it exists; set: it must exist.
    pub dir: Option<PathBuf>,
    /// Reload when a module, its settings, this file or a list file
    /// changes.
    pub watch: bool,
    /// Wait this long after the last change before reloading, so that a
    /// file still being written is read whole.
    pub debounce_ms: u64,
    /// Serve even when a configured module failed to load at start. Off:
    /// `/readyz` answers 503 (naming the modules) until a reload loads
    /// them, and `palisade check` exits 1 — judging without a module the
    /// admin configured is failing open.
    pub allow_missing: bool,
}

impl Default for PoliciesConfig {
    fn default() -> Self {
        PoliciesConfig {
            dir: None,
            watch: true,
            debounce_ms: 150,
            allow_missing: false,
        }
    }
}

/// `[state]`: the `state` capability's storage and the host's first-seen
/// times.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    /// `sqlite:PATH` (embedded, the default; PATH relative to this file),
    /// `redis://HOST:PORT[/DB]` (shared by replicas) or `memory`.
    pub url: String,
    /// Redis: the longest one call may take, connecting included.
    pub timeout_ms: u64,
    /// Redis unreachable: `local` serves calls from in-process state until
    /// it returns; `fail` fails them (each module's `on_error` applies).
    pub on_error: StateOnError,
    /// Redis: prefix of every key, to share a Redis with other programs.
    pub prefix: String,
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    /// The longest a stored value lives; values stored without a time to
    /// live get it, and no window is counted over longer.
    pub max_ttl_seconds: u32,
    /// Keys one module may hold (values, counters and sets): a module
    /// storing distinct keys without end is refused more, with a quota
    /// error, instead of growing the host.
    pub max_keys: u64,
    /// Events one counter key may hold (within the longest window asked
    /// of it): one more is a quota error, never an older event silently
    /// forgotten. At most 65,536.
    pub max_events_per_key: u64,
    /// Members one distinct set may hold, likewise. At most 65,536.
    pub max_members_per_set: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            url: "sqlite:palisade-state.db".into(),
            timeout_ms: 20,
            on_error: StateOnError::Local,
            prefix: "palisade".into(),
            max_key_bytes: 512,
            max_value_bytes: 64 << 10,
            max_ttl_seconds: 30 * 24 * 3600,
            max_keys: 100_000,
            max_events_per_key: palisade_sdk::memory::MAX_EVENTS_PER_KEY as u64,
            max_members_per_set: palisade_sdk::memory::MAX_MEMBERS_PER_SET as u64,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StateOnError {
    #[default]
    Local,
    Fail,
}

/// `[signatures]`: modules signed in minisign's format
/// (`NAME.wasm.minisig` beside `NAME.wasm`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SignaturesConfig {
    /// Refuse modules (other than bundled ones) without a signature by a
    /// trusted key.
    pub required: bool,
    /// Trusted public keys, as minisign prints them (`RW…`).
    pub trusted_keys: Vec<String>,
    /// Files holding trusted public keys (minisign `.pub` files).
    pub trusted_key_files: Vec<PathBuf>,
}

/// `[cache]`: compiled modules kept on disk so that restarts skip
/// compilation.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    pub enabled: bool,
    /// Unset: `$XDG_CACHE_HOME/palisade`, or `~/.cache/palisade`.
    pub dir: Option<PathBuf>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            dir: None,
        }
    }
}

/// `[decision_log]`: one JSON line per decision.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionLogConfig {
    /// `stdout`, `off`, or a file path (appended to).
    pub output: String,
    /// Include the activity's plain text. Off: decisions carry ids, actors,
    /// verdicts and reasons, not what people wrote.
    pub include_text: bool,
    /// Lines waiting for the writer; when the output stalls and the queue
    /// is full, new lines are dropped (and counted) rather than stopping
    /// the sidecar.
    pub queue_lines: usize,
    /// The recent decisions kept for the admin API, in KiB (of their JSON).
    pub recent_kib: u64,
}

impl Default for DecisionLogConfig {
    fn default() -> Self {
        DecisionLogConfig {
            output: "stdout".into(),
            include_text: false,
            queue_lines: 10_000,
            recent_kib: 4096,
        }
    }
}

/// `[record]`: every judged inbox POST appended to a file as a
/// `palisade replay` line. The file holds what people wrote, direct
/// messages included: off unless `file` is set.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RecordConfig {
    /// The file, relative to this one; created readable by its owner only.
    pub file: Option<PathBuf>,
    /// The largest the file may grow: recording stops (with one warning)
    /// before the next line would pass it.
    pub max_bytes: u64,
    /// Bodies waiting for the writer, in KiB; when the disk does not keep
    /// up, new ones are dropped (and counted) rather than held in memory.
    pub queue_kib: u64,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            file: None,
            max_bytes: 1 << 30,
            queue_kib: 16 << 10,
        }
    }
}

/// What the sidecar does with a POST by its signature.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SenderAction {
    /// Judge it (without writing state) and let the server behind decide.
    Judge,
    /// Answer 401, as the server would, without judging it.
    Reject,
}

/// `[senders]`: verifying inbox POSTs' HTTP signatures (draft-cavage and
/// RFC 9421). Only verified senders write state and first-seen times.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SendersConfig {
    /// Verify signatures (`serve`). Off: every sender is unverified.
    pub verify: bool,
    /// A POST with no signature at all.
    pub unsigned: SenderAction,
    /// A signature that does not verify (changed body, wrong key, expired).
    pub invalid: SenderAction,
    /// How old a signature (its `created`, else its `Date`) may be.
    pub max_age_s: u64,
    /// How far ahead of this clock it may be.
    pub max_future_s: u64,
    /// The scheme senders signed (RFC 9421 `@target-uri`): the public one,
    /// whatever terminates TLS in front of Palisade.
    pub scheme: String,
}

impl Default for SendersConfig {
    fn default() -> Self {
        SendersConfig {
            verify: true,
            unsigned: SenderAction::Judge,
            invalid: SenderAction::Judge,
            max_age_s: 12 * 3600,
            max_future_s: 300,
            scheme: "https".to_owned(),
        }
    }
}

/// `[fetch]`: keys, actor documents, NodeInfo and objects fetched from
/// senders' servers, cached, within a budget.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FetchConfig {
    /// Permit `http://` and loopback, private and link-local targets: for
    /// tests and labs only, never in front of a real server (anyone could
    /// make Palisade fetch from inside its network).
    pub allow_insecure: bool,
    /// One fetch's deadline (connect to last byte).
    pub timeout_ms: u64,
    /// How long judging waits for the fetches an activity needs; then it
    /// judges with what is known (the fetch goes on, for the next one).
    pub budget_ms: u64,
    /// Fetches in flight per host.
    pub per_host: usize,
    /// Fetches in flight in all.
    pub max_in_flight: usize,
    /// The largest document read, in KiB.
    pub max_kib: u64,
    /// How long a key or an actor's facts are kept, in seconds.
    pub ttl_s: u64,
    /// How long a failed fetch is not retried, in seconds.
    pub failure_ttl_s: u64,
    /// Fetch actor facts: the actor document, its followers and following
    /// counts, its server's NodeInfo.
    pub facts: bool,
    /// Fetch the object of a `Create` or `Update` sent only by its URI, so
    /// modules judge its content; one that cannot be fetched is held.
    pub objects: bool,
    /// Sign fetches (for servers with authorized fetch) with this key id…
    pub key_id: Option<String>,
    /// …and this private key (PEM, PKCS#8 or PKCS#1), relative to this file.
    pub private_key_file: Option<PathBuf>,
    pub user_agent: String,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            allow_insecure: false,
            timeout_ms: 5_000,
            budget_ms: 1_500,
            per_host: 4,
            max_in_flight: 64,
            max_kib: 1024,
            ttl_s: 24 * 3600,
            failure_ttl_s: 300,
            facts: true,
            objects: false,
            key_id: None,
            private_key_file: None,
            user_agent: concat!("Palisade/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// CPU deadline of one module call, in milliseconds.
    pub timeout_ms: u64,
    /// Linear memory cap of one module instance, in MiB.
    pub memory_mib: u64,
    /// Wasm stack cap of one call, in KiB.
    pub stack_kib: u64,
    /// Module instances live at once, across all modules.
    pub instances: u32,
    /// Keep instances warm between activities (true) or create a fresh
    /// instance for every activity (false).
    pub reuse_instances: bool,
    /// Log lines one module may write per second, on average; lines past
    /// the rate are dropped and counted (`palisade_module_log_dropped_total`).
    pub log_lines_per_second: u32,
    /// Log lines one module may write at once after a quiet spell.
    pub log_burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let d = RuntimeLimits::default();
        LimitsConfig {
            timeout_ms: d.timeout.as_millis() as u64,
            memory_mib: (d.memory_bytes >> 20) as u64,
            stack_kib: (d.stack_bytes >> 10) as u64,
            instances: d.instances,
            reuse_instances: d.reuse_instances,
            log_lines_per_second: d.log_lines_per_second,
            log_burst: d.log_burst,
        }
    }
}

impl LimitsConfig {
    pub fn runtime_limits(&self) -> RuntimeLimits {
        RuntimeLimits {
            timeout: Duration::from_millis(self.timeout_ms),
            memory_bytes: (self.memory_mib as usize) << 20,
            stack_bytes: (self.stack_kib as usize) << 10,
            instances: self.instances,
            reuse_instances: self.reuse_instances,
            log_lines_per_second: self.log_lines_per_second,
            log_burst: self.log_burst,
        }
    }
}

/// `[learning]`: the learning period. On the day Palisade is installed it
/// has seen no one, so every actor is "first seen less than a day ago" and
/// every busy thread looks like a mention wave. For `hours` after the state
/// first counted anything, modules are told (`context.learning`) and a
/// rejection is held in quarantine instead, for a moderator to decide.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearningConfig {
    /// Length of the learning period; 0 turns it off.
    pub hours: u32,
}

impl Default for LearningConfig {
    fn default() -> Self {
        LearningConfig { hours: 72 }
    }
}

/// Score totals at which an activity is quarantined or rejected.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    pub quarantine: f64,
    pub reject: f64,
    /// The most points that vouching modules (`vouch = true`) may take off
    /// an activity's score, all of them together.
    pub max_vouch: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            quarantine: 5.0,
            reject: 10.0,
            max_vouch: 5.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// The list file, relative to the configuration file.
    pub path: PathBuf,
    /// `mastodon-csv` or `text`; by default `.csv` files are Mastodon
    /// domain-block exports and anything else plain text.
    #[serde(default)]
    pub format: Option<ListFormat>,
    /// The severity plain-text entries get in domain lookups.
    #[serde(default)]
    pub severity: ListSeverity,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ListSeverity {
    #[default]
    Suspend,
    Silence,
    Noop,
}

/// Whether a module's verdicts count.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Verdicts are applied.
    #[default]
    Enforce,
    /// The module runs and its verdicts are logged and counted, never
    /// applied: for trying a module on live traffic.
    Shadow,
}

/// What a module's failure (timeout, memory cap, trap, bad output) means
/// for the activity.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// As if the module had no opinion (fail open).
    #[default]
    Skip,
    /// Hold the activity for a moderator.
    Quarantine,
    /// Drop the activity (fail closed).
    Reject,
}

/// A capability a module may be granted.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    Log,
    State,
    Lists,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::State => "state",
            Capability::Lists => "lists",
        }
    }

    /// The capability behind a `palisade:policy` interface name.
    pub fn from_interface(interface: &str) -> Option<Capability> {
        match interface {
            "log" => Some(Capability::Log),
            "state" => Some(Capability::State),
            "lists" => Some(Capability::Lists),
            _ => None,
        }
    }
}

/// One module in the pipeline.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// `builtin:NAME` for a bundled module, or a `.wasm` path (relative to
    /// the configuration file).
    #[serde(default)]
    pub source: String,
    /// The name in decisions and metrics; by default what the module says.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub mode: Mode,
    /// Multiplies the module's score points.
    #[serde(default = "one")]
    pub weight: f64,
    /// Whether the module may vouch: give negative points that cancel other
    /// modules' evidence (capped by `thresholds.max_vouch`). Without it a
    /// module's negative points count as 0.
    #[serde(default)]
    pub vouch: bool,
    #[serde(default)]
    pub on_error: FailurePolicy,
    /// Capabilities the module may import. `log` only, by default.
    #[serde(default = "default_grants")]
    pub grants: Vec<Capability>,
    /// Overrides `limits.timeout_ms` for this module.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Lowers `limits.memory_mib` for this module.
    #[serde(default)]
    pub memory_mib: Option<u64>,
    /// Refuse the module unless its sha256 is this (hex).
    #[serde(default)]
    pub sha256: Option<String>,
    /// The module's own configuration, handed to it as JSON.
    #[serde(default)]
    pub config: toml::Table,
}

fn one() -> f64 {
    1.0
}

fn default_grants() -> Vec<Capability> {
    vec![Capability::Log]
}

fn default_policies() -> Vec<PolicyConfig> {
    Config::default().policy
}

impl PolicyConfig {
    /// The module's configuration as the JSON text `configure` receives.
    pub fn config_json(&self) -> String {
        serde_json::to_string(&self.config).unwrap_or_else(|_| "{}".to_owned())
    }
}

impl Default for Config {
    fn default() -> Self {
        let mut config: Config =
            toml::from_str(DEFAULT_CONFIG).expect("the embedded default configuration parses");
        config.base_dir = PathBuf::from(".");
        config
    }
}

impl Config {
    /// Read and check a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        config.base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_owned);
        Ok(config)
    }

    /// Parse configuration text; the error names the key and line.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        for (i, p) in self.policy.iter().enumerate() {
            if p.source.trim().is_empty() {
                return Err(format!(
                    "[[policy]] number {} has no `source` (a `builtin:NAME` or a path to a .wasm file)",
                    i + 1
                ));
            }
            if let Some(name) = &p.name
                && let Err(e) = crate::runtime::check_name(name)
            {
                return Err(format!("[[policy]] `{}`: `name` is {e}", p.source));
            }
            if !p.weight.is_finite() {
                return Err(format!(
                    "[[policy]] `{}`: weight must be a finite number",
                    p.source
                ));
            }
        }
        if self.thresholds.quarantine > self.thresholds.reject {
            return Err(format!(
                "thresholds.quarantine ({}) is above thresholds.reject ({})",
                self.thresholds.quarantine, self.thresholds.reject
            ));
        }
        if let Some(up) = &self.server.upstream
            && !up.starts_with("http://")
        {
            return Err(format!(
                "server.upstream `{up}` must be an http:// URL: Palisade runs beside the server it protects"
            ));
        }
        let s = &self.server;
        if s.workers > 1024 || s.concurrent_judgements > 65_536 {
            return Err(format!(
                "server.workers ({}) must be at most 1024 and server.concurrent_judgements ({}) \
                 at most 65536 (0 for either: by the CPU cores)",
                s.workers, s.concurrent_judgements
            ));
        }
        if s.header_read_timeout_ms == 0
            || s.body_read_timeout_ms == 0
            || s.shutdown_timeout_ms == 0
        {
            return Err(
                "server.header_read_timeout_ms, server.body_read_timeout_ms and \
                 server.shutdown_timeout_ms must be above 0"
                    .to_owned(),
            );
        }
        if self.decision_log.queue_lines == 0 {
            return Err("decision_log.queue_lines must be above 0".to_owned());
        }
        if self.record.max_bytes == 0 || self.record.queue_kib == 0 {
            return Err("record.max_bytes and record.queue_kib must be above 0".to_owned());
        }
        for p in &self.server.inbox_paths {
            if !p.starts_with('/') {
                return Err(format!("server.inbox_paths: `{p}` must start with /"));
            }
        }
        if let Err(e) = self.state.url.parse::<crate::state::StateUrl>() {
            return Err(format!("state.url: {e}"));
        }
        if self.state.timeout_ms == 0 || self.state.max_ttl_seconds == 0 {
            return Err("state.timeout_ms and state.max_ttl_seconds must be above 0".to_owned());
        }
        let (events, members) = (
            palisade_sdk::memory::MAX_EVENTS_PER_KEY as u64,
            palisade_sdk::memory::MAX_MEMBERS_PER_SET as u64,
        );
        if self.state.max_events_per_key > events || self.state.max_members_per_set > members {
            return Err(format!(
                "state.max_events_per_key and state.max_members_per_set may be at most \
                 {events} and {members}: past that the store forgets the oldest"
            ));
        }
        let f = &self.fetch;
        if f.timeout_ms == 0 || f.per_host == 0 || f.max_in_flight == 0 || f.max_kib == 0 {
            return Err(
                "fetch.timeout_ms, fetch.per_host, fetch.max_in_flight and fetch.max_kib \
                 must be above 0"
                    .to_owned(),
            );
        }
        if f.key_id.is_some() != f.private_key_file.is_some() {
            return Err(
                "fetch.key_id and fetch.private_key_file go together: signed fetches need both"
                    .to_owned(),
            );
        }
        if !matches!(self.senders.scheme.as_str(), "http" | "https") {
            return Err(format!(
                "senders.scheme `{}` must be `https` or `http`",
                self.senders.scheme
            ));
        }
        if self.limits.timeout_ms == 0 || self.limits.memory_mib == 0 || self.limits.instances == 0
        {
            return Err(
                "limits.timeout_ms, limits.memory_mib and limits.instances must be above 0"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// The drop-in folder, and whether it was named (a named folder must
    /// exist; the default one is used only if it does).
    pub fn policies_dir(&self, flag: Option<&Path>) -> (PathBuf, bool) {
        match (flag, &self.policies.dir) {
            (Some(dir), _) => (dir.to_owned(), true),
            (None, Some(dir)) => (self.resolve(dir), true),
            (None, None) => (self.base_dir.join("policies.d"), false),
        }
    }

    /// The compiled-module cache folder, if caching is on and a folder is
    /// known.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        if !self.cache.enabled {
            return None;
        }
        if let Some(dir) = &self.cache.dir {
            return Some(self.resolve(dir));
        }
        let xdg = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute());
        let home = || std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache"));
        xdg.or_else(home).map(|d| d.join("palisade"))
    }

    /// Resolve a path from the file against the file's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base_dir.join(path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_configuration_loads_the_bundled_modules() {
        let c = Config::default();
        let sources: Vec<&str> = c.policy.iter().map(|p| p.source.as_str()).collect();
        assert_eq!(
            sources,
            [
                "builtin:mention-limit",
                "builtin:first-contact",
                "builtin:account-facts",
                "builtin:duplicate-burst",
                "builtin:newcomer-burst",
                "builtin:domain-list"
            ]
        );
        assert_eq!(c.thresholds.reject, 10.0);
    }

    #[test]
    fn thread_and_judging_counts_are_bounded_and_zero_means_by_cores() {
        let c = Config::parse("[server]\nworkers = 2\nconcurrent_judgements = 3\n").unwrap();
        assert_eq!((c.server.workers, c.server.concurrent_judgements), (2, 3));
        let d = Config::parse("").unwrap();
        assert_eq!((d.server.workers, d.server.concurrent_judgements), (0, 0));
        let e = Config::parse("[server]\nworkers = 100000\n").unwrap_err();
        assert!(
            e.contains("server.workers (100000) must be at most 1024"),
            "{e}"
        );
        let e = Config::parse("[server]\nconcurrent_judgements = 1000000\n").unwrap_err();
        assert!(e.contains("server.concurrent_judgements (1000000)"), "{e}");
    }

    #[test]
    fn an_empty_file_means_the_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.policy.len(), 6);
        assert!(c.limits.reuse_instances);
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::parse("[limits]\ntimeout = 5\n").unwrap_err();
        assert!(e.contains("unknown field `timeout`"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let e = Config::parse("[[policy]]\nsource = \"builtin:x\"\ngrants = [\"network\"]\n")
            .unwrap_err();
        assert!(e.contains("unknown variant `network`"), "{e}");
    }

    #[test]
    fn policies_need_a_source_and_sane_thresholds() {
        let e = Config::parse("[[policy]]\nmode = \"shadow\"\n").unwrap_err();
        assert!(e.contains("has no `source`"), "{e}");
        let e = Config::parse("[thresholds]\nquarantine = 20\nreject = 10\n").unwrap_err();
        assert!(e.contains("above thresholds.reject"), "{e}");
    }

    #[test]
    fn module_config_becomes_json() {
        let c = Config::parse(
            "[[policy]]\nsource = \"builtin:mention-limit\"\n[policy.config]\nmax_mentions = 3\naction = \"score\"\n",
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&c.policy[0].config_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"max_mentions": 3, "action": "score"})
        );
        assert_eq!(c.policy[0].grants, [Capability::Log]);
    }
}
