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

use super::proxy::relay;
use super::{App, Trigger};
use crate::quarantine::Filter;
use crate::runtime::{ErrorKind, unix_ms};

/// Mastodon rejects signatures older than an hour (Misskey and others are
/// similar): a release after that will likely be refused upstream.
const SIGNATURE_WINDOW_MS: u64 = 60 * 60 * 1000;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/admin/v1/policies", get(policies))
        .route("/admin/v1/reload", post(reload))
        .route("/admin/v1/quarantine", get(quarantine_list))
        .route("/admin/v1/quarantine/release", post(bulk_release))
        .route("/admin/v1/quarantine/drop", post(bulk_drop))
        .route("/admin/v1/quarantine/{id}", get(quarantine_entry))
        .route("/admin/v1/quarantine/{id}/release", post(release_one))
        .route("/admin/v1/quarantine/{id}/drop", post(drop_one))
        .route("/admin/v1/decisions", get(decisions))
        .layer(middleware::from_fn_with_state(app.clone(), require_token))
        .with_state(app)
}

async fn require_token(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(t) if app.admin_token_matches(t.trim()) => next.run(request).await,
        _ => problem(
            StatusCode::UNAUTHORIZED,
            "a valid `Authorization: Bearer <token>` header is required",
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
            summary["errors"] = errors.into();
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    actor_host: Option<String>,
    module: Option<String>,
    before: Option<u64>,
    #[serde(default = "fifty")]
    limit: u32,
    #[serde(default)]
    offset: u32,
}

fn fifty() -> u32 {
    50
}

async fn quarantine_list(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> Response {
    let filter = Filter {
        status: q.status,
        actor_host: q.actor_host,
        module: q.module,
        before: q.before,
    };
    let limit = q.limit.clamp(1, 500);
    match app.quarantine.list(&filter, limit, q.offset) {
        Ok(entries) => Json(json!({
            "entries": entries,
            "limit": limit,
            "offset": q.offset,
            "held": app.quarantine.held().unwrap_or(0),
        }))
        .into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn quarantine_entry(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Response {
    match app.quarantine.entry(id) {
        Ok(Some(entry)) => Json(entry).into_response(),
        Ok(None) => problem(StatusCode::NOT_FOUND, format!("no quarantine entry {id}")),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
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

async fn bulk_release(State(app): State<Arc<App>>, Json(filter): Json<Filter>) -> Response {
    let ids = match app.quarantine.ids(&filter) {
        Ok(ids) => ids,
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
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
    let ids = match app.quarantine.ids(&filter) {
        Ok(ids) => ids,
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
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
    #[serde(default = "fifty")]
    limit: u32,
}

async fn decisions(State(app): State<Arc<App>>, Query(q): Query<DecisionsQuery>) -> Json<Value> {
    let records = app.log.recent(
        q.action.as_deref(),
        q.module.as_deref(),
        q.limit.clamp(1, 1000) as usize,
    );
    Json(json!({ "decisions": records }))
}
