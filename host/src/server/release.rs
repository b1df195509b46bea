//! Releasing and dropping held activities, for the admin API.
//!
//! A release re-delivers the stored request upstream exactly as it arrived
//! and only then marks the entry released. Two things keep one activity
//! from reaching the server twice, or being reported dropped after it was
//! delivered: every release and drop first claims its entries in this
//! process ([`InFlight`]): a release or drop of an entry another one has
//! claimed is refused with 409 (a bulk drop skips it); and a release runs
//! in its own task, so a client that goes away mid-release does not cut it
//! off between delivering and recording it.
//! (Across replicas sharing a Redis quarantine, two releases of one entry
//! at the same moment can still both deliver: the claim is per process.)

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode, header};
use serde_json::{Value, json};

use super::App;
use super::proxy::relay;
use crate::quarantine::StoreError;
use crate::runtime::unix_ms;

/// Mastodon rejects signatures older than an hour (Misskey and others are
/// similar): a release after that will likely be refused upstream.
const SIGNATURE_WINDOW_MS: u64 = 60 * 60 * 1000;

/// What went wrong, as the admin API answers it.
pub type Refusal = (StatusCode, String);

/// Entries being released or dropped by this process.
#[derive(Default)]
pub struct InFlight(Mutex<HashSet<i64>>);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claim `id`, unless another release or drop has it.
    fn claim(&self, id: i64) -> Option<Claims<'_>> {
        self.lock().insert(id).then(|| Claims {
            set: self,
            ids: vec![id],
        })
    }

    /// Claim those of `ids` nobody else has (in one step).
    fn claim_all(&self, ids: &[i64]) -> Claims<'_> {
        let mut set = self.lock();
        let ids = ids.iter().copied().filter(|id| set.insert(*id)).collect();
        Claims { set: self, ids }
    }
}

/// Entries claimed for one release or drop; given up when dropped.
struct Claims<'a> {
    set: &'a InFlight,
    ids: Vec<i64>,
}

impl Drop for Claims<'_> {
    fn drop(&mut self) {
        let mut set = self.set.lock();
        for id in &self.ids {
            set.remove(id);
        }
    }
}

fn being_handled(id: i64) -> Refusal {
    (
        StatusCode::CONFLICT,
        format!("entry {id} is being released or dropped by another request"),
    )
}

fn internal(e: StoreError) -> Refusal {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Run the store's synchronous work off the async threads.
async fn store<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// Release entry `id` in a task of its own (see the module's docs).
pub async fn release(app: &Arc<App>, id: i64) -> Result<Value, Refusal> {
    let app = app.clone();
    tokio::spawn(async move { release_claimed(&app, id).await })
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

async fn release_claimed(app: &Arc<App>, id: i64) -> Result<Value, Refusal> {
    let Some(_claim) = app.releasing.claim(id) else {
        return Err(being_handled(id));
    };
    let Some(upstream) = &app.upstream else {
        return Err((
            StatusCode::CONFLICT,
            "no upstream is configured to release to".into(),
        ));
    };
    let (received_at, request) = store(app, move |app| {
        let entry = app
            .quarantine
            .entry(id)
            .map_err(internal)?
            .ok_or_else(|| not_held(app, id))?;
        if entry.status != "held" {
            return Err(not_held(app, id));
        }
        let request = app
            .quarantine
            .request(id)
            .map_err(internal)?
            .ok_or_else(|| not_held(app, id))?;
        Ok((entry.received_at, request))
    })
    .await?;
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
    let age_ms = unix_ms().saturating_sub(received_at);
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
    drop(relay(response, upstream.timeout()));
    if !(200..300).contains(&status) {
        return Err((
            StatusCode::BAD_GATEWAY,
            format!(
                "upstream answered {status}; entry {id} stays held{}",
                window_note(age_ms)
            ),
        ));
    }
    let resolved = store(app, move |app| {
        app.quarantine
            .resolve(
                id,
                "released",
                &format!("released by an admin; upstream answered {status}"),
                unix_ms(),
            )
            .map_err(internal)
    })
    .await?;
    if !resolved {
        // Every release and drop here claims its entry first: only another
        // replica can have resolved it meanwhile.
        let (code, now) = store(app, move |app| Ok(not_held(app, id))).await?;
        return Err((
            code,
            format!("entry {id} was delivered (upstream answered {status}), but meanwhile: {now}"),
        ));
    }
    app.metrics.quarantine_held.dec();
    let mut report = json!({ "id": id, "status": "released", "upstream_status": status, "held_for_seconds": age_ms / 1000 });
    if age_ms > SIGNATURE_WINDOW_MS {
        report["warning"] = window_note(age_ms).trim_start_matches("; ").into();
    }
    Ok(report)
}

/// Drop held entry `id` (blocking: call off the async threads).
pub fn drop_one(app: &App, id: i64) -> Result<(), Refusal> {
    let Some(_claim) = app.releasing.claim(id) else {
        return Err(being_handled(id));
    };
    match app
        .quarantine
        .resolve(id, "dropped", "dropped by an admin", unix_ms())
    {
        Ok(true) => {
            app.metrics.quarantine_held.dec();
            Ok(())
        }
        Ok(false) => Err(not_held(app, id)),
        Err(e) => Err(internal(e)),
    }
}

/// Drop the held entries among `ids` in one write, except those another
/// request is releasing or dropping; returns those dropped (blocking).
pub fn drop_many(app: &App, ids: &[i64]) -> Result<Vec<i64>, Refusal> {
    let claims = app.releasing.claim_all(ids);
    let dropped =
        app.quarantine
            .resolve_many(&claims.ids, "dropped", "dropped by an admin", unix_ms());
    // Recounted rather than decremented: a store that failed halfway has
    // still dropped some.
    if let Ok(held) = app.quarantine.held() {
        app.metrics.quarantine_held.set(held as i64);
    }
    dropped.map_err(internal)
}

fn not_held(app: &App, id: i64) -> Refusal {
    match app.quarantine.entry(id) {
        Ok(Some(e)) => (
            StatusCode::CONFLICT,
            format!("entry {id} is already {}", e.status),
        ),
        _ => (StatusCode::NOT_FOUND, format!("no quarantine entry {id}")),
    }
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
