//! The admin API, under `/admin/v1/`, on its own (loopback by default)
//! listener, behind a bearer token.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::console::{Access, forbidden_csrf};
use super::decision_log::RecentFilter;
use super::proxy::relay;
use super::{App, Trigger};
use crate::quarantine::Filter;
use crate::quarantine::view::View;
use crate::runtime::{ErrorKind, unix_ms};

/// Mastodon rejects signatures older than an hour (Misskey and others are
/// similar): a release after that will likely be refused upstream.
const SIGNATURE_WINDOW_MS: u64 = 60 * 60 * 1000;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/admin/v1/policies", get(policies))
        .route("/admin/v1/reload", post(reload))
        .route("/admin/v1/quarantine", get(quarantine_list))
        .route("/admin/v1/quarantine/count", get(quarantine_count))
        .route("/admin/v1/quarantine/release", post(bulk_release))
        .route("/admin/v1/quarantine/drop", post(bulk_drop))
        .route("/admin/v1/quarantine/{id}", get(quarantine_entry))
        .route("/admin/v1/quarantine/{id}/release", post(release_one))
        .route("/admin/v1/quarantine/{id}/drop", post(drop_one))
        .route("/admin/v1/decisions", get(decisions))
        .route("/admin/v1/decisions/{id}", get(decision))
        .layer(middleware::from_fn_with_state(app.clone(), authorize))
        .with_state(app)
}

/// The bearer token, or a console session (whose requests that change
/// something must carry its CSRF token).
async fn authorize(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    match app
        .console
        .access(&app, request.method(), request.headers())
    {
        Access::Token | Access::Session { csrf_ok: true } => next.run(request).await,
        Access::Session { csrf_ok: false } => forbidden_csrf(),
        Access::None => problem(
            StatusCode::UNAUTHORIZED,
            "a valid `Authorization: Bearer <token>` header (or a console session) is required",
        ),
    }
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn policies(State(app): State<Arc<App>>) -> Json<Value> {
    let set = app.palisade.policies();
    let modules: Vec<Value> = set
        .modules()
        .iter()
        .map(|m| {
            let stats = m.stats();
            let errors: serde_json::Map<String, Value> = ErrorKind::ALL
                .iter()
                .map(|k| (k.as_str().to_owned(), stats.errors_of(*k).into()))
                .collect();
            let mut summary = m.summary();
            summary["status"] = "loaded".into();
            summary["calls"] = stats.calls.load(Ordering::Relaxed).into();
            summary["hits"] = stats.hits.load(Ordering::Relaxed).into();
            summary["errors"] = errors.into();
            summary["latency"] = json!(stats.latency.percentiles());
            summary
        })
        .collect();
    Json(json!({
        "modules": modules,
        "failures": set.failures(),
        "last_reload": app.last_reload(),
    }))
}

async fn reload(State(app): State<Arc<App>>) -> Response {
    let result = tokio::task::spawn_blocking(move || app.reload(Trigger::Admin)).await;
    match result {
        Ok(Ok(report)) => Json(report).into_response(),
        Ok(Err(e)) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reload failed; the previous policy set keeps serving: {e}"),
        ),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A quarantine list or count, as query parameters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    actor_host: Option<String>,
    module: Option<String>,
    after: Option<u64>,
    before: Option<u64>,
    text: Option<String>,
    #[serde(default = "fifty")]
    limit: u32,
    #[serde(default)]
    offset: u32,
}

fn fifty() -> u32 {
    50
}

impl ListQuery {
    fn filter(&self) -> Filter {
        let given = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
        Filter {
            status: given(&self.status),
            actor_host: given(&self.actor_host),
            module: given(&self.module),
            after: self.after,
            before: self.before,
            text: given(&self.text),
            ..Filter::default()
        }
    }
}

async fn quarantine_list(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> Response {
    // Reading the store and parsing up to 500 bodies is blocking work: off
    // the threads that serve the inbox.
    blocking(move || {
        let limit = q.limit.clamp(1, 500);
        let entries = match app.quarantine.list(&q.filter(), limit, q.offset) {
            Ok(entries) => entries,
            Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
        let mut listed = Vec::with_capacity(entries.len());
        for entry in entries {
            let id = entry.id;
            let mut value = json!(entry);
            value["activity"] = activity_view(&app, id, false);
            listed.push(value);
        }
        Json(json!({
            "entries": listed,
            "limit": limit,
            "offset": q.offset,
            "held": app.quarantine.held().unwrap_or(0),
        }))
        .into_response()
    })
    .await
}

/// Run `f` on a blocking thread.
async fn blocking(f: impl FnOnce() -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// How many held entries a bulk action with this filter would cover, and
/// the highest id among them: send it back as `max_id` to act on exactly
/// those.
async fn quarantine_count(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> Response {
    match app.quarantine.ids(&q.filter()) {
        Ok(ids) => Json(json!({ "count": ids.len(), "max_id": ids.last() })).into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The held activity `id` as the console shows it (see [`View`]), or why
/// it cannot be.
fn activity_view(app: &App, id: i64, full: bool) -> Value {
    match app.quarantine.request(id) {
        Ok(Some(request)) => {
            match View::of(&request.body, &app.palisade.policies().local_hosts, full) {
                Ok(view) => json!(view),
                Err(unreadable) => json!(unreadable),
            }
        }
        Ok(None) => json!({ "error": "the stored request is missing" }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

async fn quarantine_entry(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Response {
    blocking(move || match app.quarantine.entry(id) {
        Ok(Some(entry)) => {
            let mut value = json!(entry);
            value["activity"] = activity_view(&app, id, true);
            Json(value).into_response()
        }
        Ok(None) => problem(StatusCode::NOT_FOUND, format!("no quarantine entry {id}")),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    })
    .await
}

async fn release_one(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Response {
    match release(&app, id).await {
        Ok(report) => Json(report).into_response(),
        Err((status, message)) => problem(status, message),
    }
}

async fn drop_one(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Response {
    match drop_entry(&app, id) {
        Ok(()) => Json(json!({ "id": id, "status": "dropped" })).into_response(),
        Err((status, message)) => problem(status, message),
    }
}

/// The held entries a bulk action covers, oldest first.
fn bulk_ids(app: &App, filter: &Filter) -> Result<Vec<i64>, (StatusCode, String)> {
    filter.check().map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    app.quarantine
        .ids(filter)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn bulk_release(State(app): State<Arc<App>>, Json(filter): Json<Filter>) -> Response {
    let ids = match bulk_ids(&app, &filter) {
        Ok(ids) => ids,
        Err((status, message)) => return problem(status, message),
    };
    let mut results = Vec::new();
    for id in ids {
        results.push(match release(&app, id).await {
            Ok(report) => report,
            Err((_, message)) => json!({ "id": id, "error": message }),
        });
    }
    Json(json!({ "released": results })).into_response()
}

async fn bulk_drop(State(app): State<Arc<App>>, Json(filter): Json<Filter>) -> Response {
    let ids = match bulk_ids(&app, &filter) {
        Ok(ids) => ids,
        Err((status, message)) => return problem(status, message),
    };
    let dropped: Vec<i64> = ids
        .into_iter()
        .filter(|id| drop_entry(&app, *id).is_ok())
        .collect();
    Json(json!({ "dropped": dropped })).into_response()
}

fn drop_entry(app: &App, id: i64) -> Result<(), (StatusCode, String)> {
    match app
        .quarantine
        .resolve(id, "dropped", "dropped by an admin", unix_ms())
    {
        Ok(true) => {
            app.metrics.quarantine_held.dec();
            Ok(())
        }
        Ok(false) => Err(not_held(app, id)),
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

fn not_held(app: &App, id: i64) -> (StatusCode, String) {
    match app.quarantine.entry(id) {
        Ok(Some(e)) => (
            StatusCode::CONFLICT,
            format!("entry {id} is already {}", e.status),
        ),
        _ => (StatusCode::NOT_FOUND, format!("no quarantine entry {id}")),
    }
}

/// Re-deliver a held request upstream exactly as it arrived.
async fn release(app: &Arc<App>, id: i64) -> Result<Value, (StatusCode, String)> {
    let internal =
        |e: crate::quarantine::StoreError| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let entry = app
        .quarantine
        .entry(id)
        .map_err(internal)?
        .ok_or_else(|| not_held(app, id))?;
    if entry.status != "held" {
        return Err(not_held(app, id));
    }
    let Some(upstream) = &app.upstream else {
        return Err((
            StatusCode::CONFLICT,
            "no upstream is configured to release to".into(),
        ));
    };
    let request = app
        .quarantine
        .request(id)
        .map_err(internal)?
        .ok_or_else(|| not_held(app, id))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            header::HeaderValue::from_bytes(value),
        ) {
            headers.append(n, v);
        }
    }
    let method = Method::from_bytes(request.method.as_bytes()).unwrap_or(Method::POST);
    let age_ms = unix_ms().saturating_sub(entry.received_at);
    let response = upstream
        .send(
            method,
            &request.path_and_query,
            &headers,
            axum::body::Body::from(request.body),
        )
        .await
        .map_err(|e| {
            app.metrics.upstream_status(None);
            (
                StatusCode::BAD_GATEWAY,
                format!("upstream unavailable, entry {id} stays held: {e}"),
            )
        })?;
    let status = response.status().as_u16();
    app.metrics.upstream_status(Some(status));
    // Read (and discard) the body so the connection can be reused.
    let _ = relay(response, upstream.timeout()).into_body();
    if !(200..300).contains(&status) {
        return Err((
            StatusCode::BAD_GATEWAY,
            format!(
                "upstream answered {status}; entry {id} stays held{}",
                window_note(age_ms)
            ),
        ));
    }
    app.quarantine
        .resolve(
            id,
            "released",
            &format!("released by an admin; upstream answered {status}"),
            unix_ms(),
        )
        .map_err(internal)?;
    app.metrics.quarantine_held.dec();
    let mut report = json!({ "id": id, "status": "released", "upstream_status": status, "held_for_seconds": age_ms / 1000 });
    if age_ms > SIGNATURE_WINDOW_MS {
        report["warning"] = window_note(age_ms).trim_start_matches("; ").into();
    }
    Ok(report)
}

fn window_note(age_ms: u64) -> String {
    if age_ms > SIGNATURE_WINDOW_MS {
        format!(
            "; it was held for {} min, longer than the senders' signature window (about an hour for Mastodon), so the server may refuse its signature",
            age_ms / 60_000
        )
    } else {
        String::new()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionsQuery {
    action: Option<String>,
    module: Option<String>,
    actor_host: Option<String>,
    actor: Option<String>,
    #[serde(default = "fifty")]
    limit: u32,
}

async fn decisions(State(app): State<Arc<App>>, Query(q): Query<DecisionsQuery>) -> Json<Value> {
    fn given(s: &Option<String>) -> Option<&str> {
        s.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let filter = RecentFilter {
        action: given(&q.action),
        module: given(&q.module),
        actor_host: given(&q.actor_host),
        actor: given(&q.actor),
    };
    let records = app.log.recent(&filter, q.limit.clamp(1, 1000) as usize);
    Json(json!({ "decisions": records }))
}

async fn decision(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match app.log.find(&id) {
        Some(record) => Json(record).into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            format!("decision {id} is not among the recent ones (the decision log has them all)"),
        ),
    }
}
