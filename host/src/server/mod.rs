//! `palisade serve`: the inbox proxy, the judge API, the admin API,
//! metrics and health checks, on axum.
//!
//! The path of an inbox POST: [`proxy`] reads the body (up to the limit),
//! judges it on a blocking thread through [`PolicySet::judge`], then
//! forwards it unchanged, answers 202 and drops it, or stores it in the
//! [`Quarantine`] and answers 202.

pub mod admin;
pub mod decision_log;
pub mod judge_api;
pub mod metrics;
pub mod proxy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::pipeline::Envelope;
use crate::quarantine::Quarantine;
use crate::{Decision, Palisade};
use decision_log::DecisionLog;
use metrics::Metrics;
use proxy::{InboxPaths, Upstream};

/// Everything a request handler needs.
pub struct App {
    pub palisade: Palisade,
    pub config: Config,
    /// Where the configuration came from, for reloads.
    pub config_path: Option<PathBuf>,
    pub policies_dir: Option<PathBuf>,
    pub upstream: Option<Upstream>,
    pub inbox: InboxPaths,
    pub quarantine: Quarantine,
    pub metrics: Metrics,
    pub log: DecisionLog,
    /// Activities judged at once: each holds module instances, so the pool
    /// bounds it; a full pool queues requests rather than failing them.
    judging: Semaphore,
    admin_token: Option<String>,
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
        let palisade =
            Palisade::new(&config, options.policies_dir.as_deref()).map_err(|e| e.to_string())?;
        let quarantine_path = config.resolve(&config.quarantine.path);
        let quarantine = Quarantine::open(&quarantine_path).map_err(|e| {
            format!(
                "cannot open the quarantine at {}: {e}",
                quarantine_path.display()
            )
        })?;
        let log =
            DecisionLog::open(&config.decision_log, &config.base_dir).map_err(|e| e.to_string())?;
        let upstream = match &config.server.upstream {
            Some(url) => Some(Upstream::new(url, &config.server).map_err(|e| e.to_string())?),
            None => None,
        };
        let set = palisade.policies();
        let per_activity = set.modules().len().max(1);
        let permits = (config.limits.instances as usize / per_activity).max(1);
        let metrics = Metrics::new();
        metrics.modules_loaded.set(set.modules().len() as i64);
        metrics
            .module_load_failures
            .set(set.failures().len() as i64);
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
            judging: Semaphore::new(permits),
            admin_token: options.admin_token.filter(|t| !t.is_empty()),
            config,
        }))
    }

    /// Judge `body` off the async threads, within the concurrency bound;
    /// counts it and writes the decision log (the caller adds the
    /// quarantine id, if any, through `record`).
    pub async fn judge(self: &Arc<Self>, body: bytes::Bytes, envelope: Envelope) -> Decision {
        let _permit = self
            .judging
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let text = std::str::from_utf8(&body).unwrap_or("");
            let set = app.palisade.policies();
            let decision = set.judge(text, &envelope);
            app.metrics.observe(&decision);
            decision
        })
        .await
        .expect("judging never panics")
    }

    /// Add a decision to the log.
    pub fn record(
        &self,
        decision: &Decision,
        envelope: &Envelope,
        path: &str,
        body: &[u8],
        quarantine_id: Option<i64>,
    ) {
        let (actor, text) = summary(body, self.log.include_text);
        self.log.write(decision_log::Record {
            decision_id: uuid::Uuid::new_v4().to_string(),
            time: humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(envelope.received_at),
            )
            .to_string(),
            received_at: envelope.received_at,
            path: path.to_owned(),
            actor,
            text,
            quarantine_id,
            decision: decision.clone(),
        });
    }

    /// Re-read the configuration and rebuild the policy set.
    pub fn reload(&self) -> Result<serde_json::Value, String> {
        let config = match &self.config_path {
            Some(path) => Config::load(path).map_err(|e| e.to_string())?,
            None => self.config.clone(),
        };
        let set = self.palisade.reload(&config, self.policies_dir.as_deref());
        self.metrics.modules_loaded.set(set.modules().len() as i64);
        self.metrics
            .module_load_failures
            .set(set.failures().len() as i64);
        let result = if set.failures().is_empty() {
            "ok"
        } else {
            "partial"
        };
        self.metrics.reloads.with_label_values(&[result]).inc();
        tracing::info!(
            modules = set.modules().len(),
            failures = set.failures().len(),
            "policy set reloaded"
        );
        Ok(serde_json::json!({
            "modules": set.modules().iter().map(|m| m.name()).collect::<Vec<_>>(),
            "failures": set.failures(),
        }))
    }
}

/// The actor, and the text when the log may carry it, for the decision log.
fn summary(body: &[u8], include_text: bool) -> (Option<String>, Option<String>) {
    let Ok(text) = std::str::from_utf8(body) else {
        return (None, None);
    };
    match palisade_sdk::parse::parse_activity(text, &Default::default()) {
        Ok(a) => (a.actor, include_text.then_some(a.text)),
        Err(_) => (None, None),
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
    let body = axum::Json(serde_json::json!({
        "modules": set.modules().len(),
        "failures": set.failures().len(),
    }));
    body.into_response()
}

/// Serve until SIGTERM or Ctrl-C; in-flight requests finish. SIGHUP reloads.
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

    let admin_task = match listeners.admin {
        Some(listener) => {
            tracing::info!(listen = ?listener.local_addr().ok(), "admin API serving");
            let mut rx = stop_rx.clone();
            let router = admin::router(app.clone());
            Some(tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = rx.wait_for(|s| *s).await;
                    })
                    .await
            }))
        }
        None => {
            tracing::warn!(
                "admin API off: no token (set admin.token_file, --admin-token-file or {})",
                app.config.admin.token_env
            );
            None
        }
    };
    let mut rx = stop_rx;
    axum::serve(
        listeners.main,
        main_router(app.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = rx.wait_for(|s| *s).await;
    })
    .await
    .map_err(|e| e.to_string())?;
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
            let result = tokio::task::spawn_blocking(move || app.reload()).await;
            if let Ok(Err(e)) = result {
                tracing::error!(error = %e, "reload failed; the previous policy set keeps serving");
            }
        }
    });
}

impl App {
    /// Whether `token` is the admin token (constant-time comparison).
    pub fn admin_token_matches(&self, token: &str) -> bool {
        let Some(expected) = &self.admin_token else {
            return false;
        };
        let (a, b) = (expected.as_bytes(), token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    pub fn admin_enabled(&self) -> bool {
        self.admin_token.is_some()
    }
}
