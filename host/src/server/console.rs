//! The moderators' console, at `/console/` on the admin listener: static
//! pages (committed under `host/console/`, built into the binary) that
//! drive the admin API from a browser.
//!
//! Logging in trades the admin token for a session: a random id in a
//! cookie (HttpOnly, SameSite=Strict, Path=/) and a CSRF token the page
//! reads from `/console/session` and sends in `X-CSRF-Token` with every
//! request that changes something. The admin API accepts either the bearer
//! token or such a session (see [`Access`]). Sessions live in this process
//! only: a restart logs everyone out. See docs/adr/0011.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::App;
use crate::runtime::unix_ms;

/// The session cookie's name.
pub const COOKIE: &str = "palisade_session";
/// The header a session's state-changing requests carry their CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Sessions at once; logging in past this ends the least recently used.
const MAX_SESSIONS: usize = 64;
/// A session unused this long ends…
const IDLE_MS: u64 = 2 * 60 * 60 * 1000;
/// …and every session ends this long after logging in.
const LIFETIME_MS: u64 = 12 * 60 * 60 * 1000;
/// Failed logins allowed per minute, from anywhere, before logins wait.
const FAILURES_PER_MINUTE: u32 = 5;

/// Every console page and asset is served with these: no script, style or
/// connection but the console's own, no framing, no referrer.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const INDEX: &str = include_str!("../../console/index.html");
const LOGIN: &str = include_str!("../../console/login.html");

/// The console's scripts, stylesheet and icon, served to anyone (they are
/// the same for everyone and hold no data): name, type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    ("console.js", JS, include_str!("../../console/console.js")),
    ("ui.js", JS, include_str!("../../console/ui.js")),
    (
        "quarantine.js",
        JS,
        include_str!("../../console/quarantine.js"),
    ),
    (
        "decisions.js",
        JS,
        include_str!("../../console/decisions.js"),
    ),
    ("modules.js", JS, include_str!("../../console/modules.js")),
    ("replay.js", JS, include_str!("../../console/replay.js")),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../console/console.css"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_str!("../../console/icon.svg"),
    ),
];
const JS: &str = "text/javascript; charset=utf-8";

struct Session {
    csrf: String,
    created: u64,
    last_seen: u64,
}

/// The console's sessions, in memory.
#[derive(Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
    /// Failed logins in the current minute: (minute, count).
    failures: Mutex<(u64, u32)>,
}

enum Login {
    Ok,
    Wrong,
    /// Too many wrong tokens this minute: not checked.
    Wait,
}

/// How a request to the admin API is authorised.
pub enum Access {
    /// `Authorization: Bearer <token>`.
    Token,
    /// A console session; `csrf_ok` when the request carries its CSRF token.
    Session { csrf_ok: bool },
    /// Neither.
    Denied,
}

impl Sessions {
    /// Start a session; returns its id and CSRF token.
    fn start(&self, now: u64) -> (String, String) {
        let (id, csrf) = (random_token(), random_token());
        let mut sessions = self.lock();
        sessions.retain(|_, s| live(s, now));
        while sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => sessions.remove(&k),
                None => break,
            };
        }
        sessions.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                created: now,
                last_seen: now,
            },
        );
        (id, csrf)
    }

    /// The CSRF token of live session `id`, marking it used.
    fn touch(&self, id: &str, now: u64) -> Option<String> {
        let mut sessions = self.lock();
        match sessions.get_mut(id) {
            Some(s) if live(s, now) => {
                s.last_seen = now;
                Some(s.csrf.clone())
            }
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Check a login's token unless this minute's allowance of failures
    /// is spent; a failure counts against it. One lock around the check and
    /// the count: guesses sent at once cannot all pass before any counts.
    fn try_login(&self, now: u64, token_matches: impl FnOnce() -> bool) -> Login {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let minute = now / 60_000;
        if f.0 != minute {
            *f = (minute, 0);
        }
        if f.1 >= FAILURES_PER_MINUTE {
            return Login::Wait;
        }
        if token_matches() {
            Login::Ok
        } else {
            f.1 += 1;
            Login::Wrong
        }
    }

    /// How `headers` (of a request with `method`) are authorised.
    pub fn access(&self, app: &App, method: &Method, headers: &HeaderMap) -> Access {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(token) = bearer {
            return if app.admin_token_matches(token.trim()) {
                Access::Token
            } else {
                app.metrics
                    .admin_auth_failures
                    .with_label_values(&["bearer"])
                    .inc();
                Access::Denied
            };
        }
        let Some(id) = session_id(headers) else {
            return Access::Denied;
        };
        let Some(csrf) = self.touch(&id, unix_ms()) else {
            return Access::Denied;
        };
        let safe = matches!(*method, Method::GET | Method::HEAD);
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        Access::Session {
            csrf_ok: safe
                || (sent.is_some_and(|s| same(s.as_bytes(), csrf.as_bytes()))
                    && same_origin(headers)),
        }
    }
}

fn live(s: &Session, now: u64) -> bool {
    now.saturating_sub(s.last_seen) < IDLE_MS && now.saturating_sub(s.created) < LIFETIME_MS
}

/// 256 bits from the operating system's generator, as hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random generator");
    hex::encode(bytes)
}

/// Constant-time equality (of equal-length secrets; lengths are not secret).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
}

/// A browser says where a request came from (`Origin`, `Sec-Fetch-Site`):
/// a state-changing request from another site is refused even with a valid
/// CSRF token. Requests without those headers (not from a browser) pass.
fn same_origin(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|s| s != "same-origin" && s != "none") {
        return false;
    }
    match (header("origin"), header("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            origin == format!("http://{host}") || origin == format!("https://{host}")
        }
        (Some(_), None) => false,
    }
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(index))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/session", get(session))
        .route("/console/{asset}", get(asset))
        .with_state(app)
}

/// The headers every admin-listener answer carries: nothing cached,
/// nothing sniffed or framed, no referrer to other sites; and the CSP.
pub async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: under it browsers send `Origin: null` with a
    // form's POST, and the login could not tell its own page from another.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn signed_in(app: &App, headers: &HeaderMap) -> bool {
    session_id(headers).is_some_and(|id| app.console.touch(&id, unix_ms()).is_some())
}

async fn index(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if signed_in(&app, &headers) {
        html(StatusCode::OK, INDEX.to_owned())
    } else {
        Redirect::to("/console/login").into_response()
    }
}

fn login_html(message: Option<&str>) -> String {
    let paragraph = message
        .map(|m| format!(r#"<p class="error" role="alert">{m}</p>"#))
        .unwrap_or_default();
    LOGIN.replace("<!--message-->", &paragraph)
}

async fn login_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if signed_in(&app, &headers) {
        return Redirect::to("/console/").into_response();
    }
    html(StatusCode::OK, login_html(None))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let now = unix_ms();
    // The messages are fixed text: nothing the request sent is echoed.
    if !same_origin(&headers) {
        return html(
            StatusCode::FORBIDDEN,
            login_html(Some("This login came from another site and was refused.")),
        );
    }
    match app
        .console
        .try_login(now, || app.admin_token_matches(form.token.trim()))
    {
        Login::Ok => {}
        Login::Wait => {
            return html(
                StatusCode::TOO_MANY_REQUESTS,
                login_html(Some(
                    "Too many wrong tokens in the last minute; wait a minute and try again.",
                )),
            );
        }
        Login::Wrong => {
            app.metrics
                .admin_auth_failures
                .with_label_values(&["login"])
                .inc();
            tracing::warn!("console login with a wrong admin token");
            return html(
                StatusCode::UNAUTHORIZED,
                login_html(Some("That is not the admin token.")),
            );
        }
    }
    let (id, _) = app.console.start(now);
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookie = cookie::Cookie::build((COOKIE, id))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(secure)
        .build();
    tracing::info!("console login");
    (
        [(header::SET_COOKIE, cookie.to_string())],
        Redirect::to("/console/"),
    )
        .into_response()
}

async fn logout(State(app): State<Arc<App>>, request: Request) -> Response {
    let headers = request.headers();
    match app.console.access(&app, request.method(), headers) {
        Access::Session { csrf_ok: true } => {
            if let Some(id) = session_id(headers) {
                app.console.end(&id);
            }
            let gone = cookie::Cookie::build((COOKIE, ""))
                .path("/")
                .http_only(true)
                .same_site(cookie::SameSite::Strict)
                .max_age(cookie::time::Duration::ZERO)
                .build();
            (
                StatusCode::NO_CONTENT,
                [(header::SET_COOKIE, gone.to_string())],
            )
                .into_response()
        }
        Access::Session { csrf_ok: false } => forbidden_csrf(),
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "not logged in" })),
        )
            .into_response(),
    }
}

pub fn forbidden_csrf() -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(json!({
            "error": "a console session's request that changes something needs its CSRF token in X-CSRF-Token, from the console's own origin"
        })),
    )
        .into_response()
}

async fn session(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let now = unix_ms();
    match session_id(&headers).and_then(|id| app.console.touch(&id, now)) {
        Some(csrf) => Json(json!({
            "csrf": csrf,
            "idle_minutes": IDLE_MS / 60_000,
        }))
        .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "not logged in" })),
        )
            .into_response(),
    }
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => ([(header::CONTENT_TYPE, *kind)], *body).into_response(),
        None => (StatusCode::NOT_FOUND, "no such console file\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_or_old_and_are_bounded() {
        let s = Sessions::default();
        let (id, csrf) = s.start(1_000);
        assert_eq!(s.touch(&id, 2_000).as_deref(), Some(csrf.as_str()));
        assert_eq!(id.len(), 64);
        assert_ne!(id, csrf);
        assert!(s.touch(&id, 2_000 + IDLE_MS).is_none(), "idle too long");
        let (id, _) = s.start(0);
        let mut t = 0;
        while t < LIFETIME_MS {
            assert!(s.touch(&id, t).is_some());
            t += IDLE_MS / 2;
        }
        assert!(s.touch(&id, LIFETIME_MS).is_none(), "past its lifetime");
        let first = s.start(10).0;
        for i in 0..MAX_SESSIONS {
            s.start(20 + i as u64);
        }
        assert_eq!(s.lock().len(), MAX_SESSIONS);
        assert!(
            s.touch(&first, 100).is_none(),
            "the least recently used went"
        );
    }

    #[test]
    fn logins_wait_after_five_failures_in_a_minute() {
        let s = Sessions::default();
        for _ in 0..FAILURES_PER_MINUTE {
            assert!(matches!(s.try_login(60_000, || false), Login::Wrong));
        }
        let mut checked = false;
        let waited = s.try_login(119_999, || {
            checked = true;
            true
        });
        assert!(matches!(waited, Login::Wait));
        assert!(!checked, "not even checked");
        assert!(
            matches!(s.try_login(120_000, || true), Login::Ok),
            "a new minute"
        );
    }

    #[test]
    fn cross_site_requests_are_not_same_origin() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        assert!(same_origin(&headers(&[])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8788"),
            ("origin", "http://127.0.0.1:8788")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8788"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
    }
}
