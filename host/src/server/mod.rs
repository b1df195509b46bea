//! `palisade serve`: the inbox proxy, the judge API, the admin API,
//! metrics and health checks, on axum.
//!
//! The path of an inbox POST: [`proxy`] normalises the path ([`paths`]),
//! reads the body (up to the limit, within the body timeout), judges it on
//! a blocking thread through [`PolicySet::judge`](crate::PolicySet::judge)
//! ([`App::judge`]), then forwards it unchanged to the normalised path,
//! answers 202 and drops it, or stores it in the [`Quarantine`] and answers
//! 202. Connections are served by [`transport`] (header timeout, shutdown
//! deadline).

pub mod admin;
pub mod console;
pub mod decision_log;
pub mod judge_api;
mod judging;
pub mod metrics;
pub mod paths;
pub mod proxy;
mod queue;
pub mod record;
mod release;
pub mod transport;
pub mod watch;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::Palisade;
use crate::config::Config;
use crate::quarantine::Quarantine;
use decision_log::DecisionLog;
pub use judging::{JudgeError, Judgement};
use metrics::Metrics;
use paths::InboxPaths;
use proxy::Upstream;
use record::Recorder;

/// Everything a request handler needs.
pub struct App {
    pub palisade: Palisade,
    /// The configuration the sidecar started with (listeners, limits, the
    /// quarantine: what a reload does not change).
    pub config: Config,
    /// The configuration of the last successful reload: modules, lists,
    /// thresholds and what is watched.
    live: Mutex<Config>,
    last_reload: Mutex<Option<ReloadStatus>>,
    /// Registered before the first load; set to work by [`run`].
    watch: Mutex<Option<watch::Watch>>,
    /// Where the configuration came from, for reloads.
    pub config_path: Option<PathBuf>,
    pub policies_dir: Option<PathBuf>,
    pub upstream: Option<Upstream>,
    pub inbox: InboxPaths,
    pub quarantine: Quarantine,
    pub metrics: Metrics,
    pub log: DecisionLog,
    /// Judged inbox POSTs written for `palisade replay` (`[record]`).
    pub recorder: Recorder,
    /// Who signed an inbox POST (`[senders]`, `[fetch]`).
    pub senders: Arc<crate::senders::Senders>,
    /// Module instances in use by activities being judged, out of
    /// `limits.instances` (the pool). An activity takes one permit per
    /// module of the set that judges it, so the bound follows reloads: a
    /// set with more modules judges fewer activities at once, and a full
    /// pool queues requests rather than failing them.
    judging: Arc<Semaphore>,
    /// The permits there are (`limits.instances`).
    instances: usize,
    /// Activities judged at once (`server.concurrent_judgements`), taken
    /// before the instance permits.
    judgements: Arc<Semaphore>,
    admin_token: Option<String>,
    /// The console's login sessions.
    pub console: console::Sessions,
    /// Quarantine entries being released now.
    releasing: release::InFlight,
    /// False while a module configured at start is missing (and
    /// `policies.allow_missing` is off): `/readyz` then says 503, so a load
    /// balancer sends nothing to a sidecar that would judge without it.
    /// Set once a reload loads every module; never unset after.
    ready: std::sync::atomic::AtomicBool,
    /// Test hook: judging panics on a body containing this marker.
    panic_marker: OnceLock<Vec<u8>>,
}

/// What triggered a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// A watched file changed.
    Watch,
    /// `POST /admin/v1/reload`.
    Admin,
    /// SIGHUP.
    Signal,
}

/// How the last reload went, for the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadStatus {
    /// When it finished (RFC 3339).
    pub at: String,
    pub trigger: Trigger,
    /// `ok`, `partial` (some modules or lists failed; their previous
    /// versions judge) or `failed` (nothing changed).
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: f64,
}

/// What `serve` needs besides the configuration.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub config_path: Option<PathBuf>,
    pub policies_dir: Option<PathBuf>,
    pub admin_token: Option<String>,
}

/// Listening sockets, bound before serving so that callers (and tests) can
/// learn the ports.
pub struct Listeners {
    pub main: TcpListener,
    pub admin: Option<TcpListener>,
}

impl App {
    pub fn new(config: Config, options: ServeOptions) -> Result<Arc<App>, String> {
        let watch = watch::Watch::register(
            &config,
            options.config_path.as_deref(),
            options.policies_dir.as_deref(),
        );
        let palisade =
            Palisade::new(&config, options.policies_dir.as_deref()).map_err(|e| e.to_string())?;
        let quarantine = match &config.quarantine.url {
            Some(url) => Quarantine::redis(url, &config.quarantine.prefix)
                .map_err(|e| format!("cannot open the quarantine at {url}: {e}"))?,
            None => {
                let path = config.resolve(&config.quarantine.path);
                Quarantine::open(&path)
                    .map_err(|e| format!("cannot open the quarantine at {}: {e}", path.display()))?
            }
        };
        let metrics = Metrics::new();
        let log = DecisionLog::open(
            &config.decision_log,
            &config.base_dir,
            metrics.decision_log_dropped.clone(),
        )
        .map_err(|e| e.to_string())?;
        let recorder = Recorder::open(
            &config.record,
            &config.base_dir,
            metrics.record_lines.clone(),
            metrics.record_dropped.clone(),
        )
        .map_err(|e| e.to_string())?;
        let senders = crate::senders::Senders::new(
            &config,
            palisade.runtime().state().clone(),
            metrics.senders.clone(),
            metrics.fetches.clone(),
        )?;
        let upstream = match &config.server.upstream {
            Some(url) => Some(Upstream::new(url, &config.server)?),
            None => None,
        };
        let set = palisade.policies();
        let instances = (config.limits.instances as usize).max(1);
        metrics.modules_loaded.set(set.modules().len() as i64);
        metrics
            .module_load_failures
            .set(set.failures().len() as i64);
        let missing = set.missing().len();
        metrics.modules_missing.set(missing as i64);
        let ready = missing == 0 || config.policies.allow_missing;
        metrics
            .last_reload_ok
            .set(i64::from(set.failures().is_empty()));
        metrics
            .quarantine_held
            .set(quarantine.held().unwrap_or(0) as i64);
        Ok(Arc::new(App {
            inbox: InboxPaths::new(&config.server.inbox_paths),
            palisade,
            config_path: options.config_path,
            policies_dir: options.policies_dir,
            upstream,
            quarantine,
            metrics,
            log,
            recorder,
            senders,
            judging: Arc::new(Semaphore::new(instances)),
            instances,
            judgements: Arc::new(Semaphore::new(match config.server.concurrent_judgements {
                0 => 4 * std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            })),
            admin_token: options.admin_token.filter(|t| !t.is_empty()),
            console: console::Sessions::default(),
            releasing: release::InFlight::default(),
            ready: std::sync::atomic::AtomicBool::new(ready),
            panic_marker: OnceLock::new(),
            live: Mutex::new(config.clone()),
            last_reload: Mutex::new(None),
            watch: Mutex::new(watch),
            config,
        }))
    }

    /// Re-read the configuration, the lists and the modules, and swap in
    /// the new policy set. An unreadable or invalid configuration changes
    /// nothing (the error is returned); a module or list that fails keeps
    /// its previous version (the result says `partial`). In-flight
    /// activities finish on the set they started with. Blocking: call it
    /// off the async threads.
    pub fn reload(&self, trigger: Trigger) -> Result<serde_json::Value, String> {
        let started = Instant::now();
        let config = match &self.config_path {
            Some(path) => Config::load(path).map_err(|e| e.to_string()),
            None => Ok(self.config.clone()),
        };
        let config = match config {
            Ok(config) => config,
            Err(error) => {
                tracing::error!(%error, ?trigger, "reload failed; the previous policy set keeps serving");
                self.metrics.reloads.with_label_values(&["failed"]).inc();
                self.metrics.last_reload_ok.set(0);
                self.set_status(trigger, "failed", Some(error.clone()), started);
                return Err(error);
            }
        };
        self.warn_restart_only(&config);
        let set = self.palisade.reload(&config, self.policies_dir.as_deref());
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) = config;
        self.metrics.modules_loaded.set(set.modules().len() as i64);
        self.metrics
            .module_load_failures
            .set(set.failures().len() as i64);
        let missing = set.missing().len();
        self.metrics.modules_missing.set(missing as i64);
        if missing == 0 {
            self.ready.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let result = if set.failures().is_empty() {
            "ok"
        } else {
            "partial"
        };
        self.metrics.reloads.with_label_values(&[result]).inc();
        self.metrics
            .last_reload_ok
            .set(i64::from(set.failures().is_empty()));
        self.set_status(trigger, result, None, started);
        tracing::info!(
            modules = set.modules().len(),
            failures = set.failures().len(),
            ?trigger,
            ms = started.elapsed().as_millis() as u64,
            "policy set reloaded"
        );
        Ok(serde_json::json!({
            "result": result,
            "modules": set.modules().iter().map(|m| m.name()).collect::<Vec<_>>(),
            "failures": set.failures(),
        }))
    }

    /// How the last reload went; None before the first.
    pub fn last_reload(&self) -> Option<ReloadStatus> {
        self.last_reload
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The configuration as last (re)loaded.
    pub fn live_config(&self) -> Config {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_status(
        &self,
        trigger: Trigger,
        result: &'static str,
        error: Option<String>,
        started: Instant,
    ) {
        let status = ReloadStatus {
            at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            trigger,
            result,
            error,
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
        };
        *self.last_reload.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
    }

    /// Sections a reload does not apply: say so rather than ignore the
    /// change silently.
    fn warn_restart_only(&self, new: &Config) {
        let old = &self.config;
        fn text<T: serde::Serialize>(section: &T) -> String {
            toml::to_string(section).unwrap_or_default()
        }
        let sections: [(&str, String, String); 7] = [
            ("limits", text(&old.limits), text(&new.limits)),
            ("server", text(&old.server), text(&new.server)),
            ("admin", text(&old.admin), text(&new.admin)),
            ("quarantine", text(&old.quarantine), text(&new.quarantine)),
            (
                "decision_log",
                text(&old.decision_log),
                text(&new.decision_log),
            ),
            ("cache", text(&old.cache), text(&new.cache)),
            ("record", text(&old.record), text(&new.record)),
        ];
        for (name, before, after) in sections {
            if before != after {
                tracing::warn!("[{name}] changed: it takes effect at the next restart");
            }
        }
    }
}

/// Bind the main and admin listeners (the admin one only with a token).
pub async fn bind(config: &Config, admin_enabled: bool) -> Result<Listeners, String> {
    let main = TcpListener::bind(&config.server.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.server.listen))?;
    let admin = if admin_enabled {
        Some(
            TcpListener::bind(&config.admin.listen)
                .await
                .map_err(|e| format!("cannot listen on {} (admin): {e}", config.admin.listen))?,
        )
    } else {
        None
    };
    Ok(Listeners { main, admin })
}

/// The routes of the main listener.
pub fn main_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/judge", post(judge_api::judge))
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .fallback(proxy::handle)
        .with_state(app)
}

async fn metrics_text(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
) -> impl axum::response::IntoResponse {
    app.metrics
        .observe_state(app.palisade.runtime().state().health());
    app.metrics
        .observe_log_dropped(&app.palisade.runtime().log_dropped());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

async fn ready(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let set = app.palisade.policies();
    let missing = set.missing();
    let ready = app.ready.load(std::sync::atomic::Ordering::Relaxed);
    let body = axum::Json(serde_json::json!({
        "ready": ready,
        "modules": set.modules().len(),
        "failures": set.failures().len(),
        "missing": missing,
    }));
    let status = if ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}

/// Serve until SIGTERM or Ctrl-C; in-flight requests finish, for at most
/// `server.shutdown_timeout_ms`. SIGHUP reloads.
pub async fn run(app: Arc<App>, listeners: Listeners) -> Result<(), String> {
    let main_addr = listeners.main.local_addr().ok();
    tracing::info!(listen = ?main_addr, upstream = ?app.config.server.upstream, "palisade serving");
    let shutdown = shutdown_signal();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    reload_on_sighup(app.clone());
    let watch = app.watch.lock().unwrap_or_else(|e| e.into_inner()).take();
    let _watching = watch.map(|w| w.spawn(app.clone()));
    let limits = transport::ConnectionLimits {
        header_read: Duration::from_millis(app.config.server.header_read_timeout_ms),
        shutdown: Duration::from_millis(app.config.server.shutdown_timeout_ms),
    };

    let admin_task = match listeners.admin {
        Some(listener) => {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(listen = %addr, console = %format!("http://{addr}/console/"), "admin API and console serving");
            }
            let router = admin::router(app.clone())
                .merge(console::router(app.clone()))
                .layer(axum::middleware::from_fn(console::secure_headers));
            Some(tokio::spawn(transport::serve(
                listener,
                router,
                limits,
                stop_rx.clone(),
                "admin",
            )))
        }
        None => {
            tracing::warn!(
                "admin API off: no token (set admin.token_file, --admin-token-file or {})",
                app.config.admin.token_env
            );
            None
        }
    };
    transport::serve(
        listeners.main,
        main_router(app.clone()),
        limits,
        stop_rx,
        "main",
    )
    .await;
    if let Some(task) = admin_task {
        let _ = task.await;
    }
    tracing::info!("palisade stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

fn reload_on_sighup(app: Arc<App>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            let app = app.clone();
            let _ = tokio::task::spawn_blocking(move || app.reload(Trigger::Signal)).await;
        }
    });
}

impl App {
    /// Whether `token` is the admin token (constant-time comparison).
    pub fn admin_token_matches(&self, token: &str) -> bool {
        let Some(expected) = &self.admin_token else {
            return false;
        };
        // Compared as digests, in constant time: neither the token's bytes
        // nor its length show in how long a wrong guess takes.
        use sha2::{Digest, Sha256};
        console::same(&Sha256::digest(expected), &Sha256::digest(token))
    }

    pub fn admin_enabled(&self) -> bool {
        self.admin_token.is_some()
    }
}
