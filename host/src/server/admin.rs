//! The admin API, under `/admin/v1/`, on its own (loopback by default)
//! listener, behind a bearer token.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::console::{Access, forbidden_csrf};
use super::decision_log::RecentFilter;
use super::release::{self, Refusal};
use super::{App, Trigger};
use crate::quarantine::Filter;
use crate::quarantine::view::View;
use crate::runtime::ErrorKind;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/admin/v1/policies", get(policies))
        .route("/admin/v1/reload", post(reload))
        .route("/admin/v1/quarantine", get(quarantine_list))
        .route("/admin/v1/quarantine/count", get(quarantine_count))
        .route("/admin/v1/quarantine/held", get(quarantine_held))
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
        Access::Denied => problem(
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
    fn filter(&self) -> Result<Filter, String> {
        Filter {
            status: self.status.clone(),
            actor_host: self.actor_host.clone(),
            module: self.module.clone(),
            after: self.after,
            before: self.before,
            text: self.text.clone(),
            ..Filter::default()
        }
        .normalised()
    }
}

async fn quarantine_list(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> Response {
    // Reading the store and parsing up to 500 bodies is blocking work: off
    // the threads that serve the inbox.
    blocking(move || {
        let limit = q.limit.clamp(1, 500);
        let filter = match q.filter() {
            Ok(filter) => filter,
            Err(e) => return problem(StatusCode::BAD_REQUEST, e),
        };
        let entries = match app.quarantine.list(&filter, limit, q.offset) {
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
    blocking(move || {
        let filter = match q.filter() {
            Ok(filter) => filter,
            Err(e) => return problem(StatusCode::BAD_REQUEST, e),
        };
        if filter.status.as_deref().is_some_and(|s| s != "held") {
            return problem(
                StatusCode::BAD_REQUEST,
                "a count is of held entries, what a bulk action covers: leave `status` out",
            );
        }
        match app.quarantine.ids(&filter) {
            Ok(ids) => Json(json!({ "count": ids.len(), "max_id": ids.last() })).into_response(),
            Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    })
    .await
}

/// How many entries are held, from the store's own count (cheap: the
/// console asks on every page).
async fn quarantine_held(State(app): State<Arc<App>>) -> Response {
    blocking(move || match app.quarantine.held() {
        Ok(held) => Json(json!({ "held": held })).into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    })
    .await
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
    match release::release(&app, id).await {
        Ok(report) => Json(report).into_response(),
        Err((status, message)) => problem(status, message),
    }
}

async fn drop_one(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Response {
    blocking(move || match release::drop_one(&app, id) {
        Ok(()) => Json(json!({ "id": id, "status": "dropped" })).into_response(),
        Err((status, message)) => problem(status, message),
    })
    .await
}

/// The held entries a bulk action covers, oldest first (blocking).
fn bulk_ids(app: &App, filter: Filter) -> Result<Vec<i64>, Refusal> {
    let filter = filter
        .normalised()
        .map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    app.quarantine
        .ids(&filter)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// One release after another, in a task of its own: a client that goes
/// away does not stop a bulk release halfway.
async fn bulk_release(State(app): State<Arc<App>>, Json(filter): Json<Filter>) -> Response {
    let task = tokio::spawn(async move {
        let found = {
            let app = app.clone();
            tokio::task::spawn_blocking(move || bulk_ids(&app, filter)).await
        };
        let ids = match found {
            Ok(Ok(ids)) => ids,
            Ok(Err((status, message))) => return problem(status, message),
            Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
        let mut results = Vec::new();
        for id in ids {
            results.push(match release::release(&app, id).await {
                Ok(report) => report,
                Err((_, message)) => json!({ "id": id, "error": message }),
            });
        }
        Json(json!({ "released": results })).into_response()
    });
    task.await
        .unwrap_or_else(|e| problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn bulk_drop(State(app): State<Arc<App>>, Json(filter): Json<Filter>) -> Response {
    blocking(
        move || match bulk_ids(&app, filter).and_then(|ids| release::drop_many(&app, &ids)) {
            Ok(dropped) => Json(json!({ "dropped": dropped })).into_response(),
            Err((status, message)) => problem(status, message),
        },
    )
    .await
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
