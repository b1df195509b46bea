//! The inbox proxy. Every request goes to the upstream server; POSTs to
//! inbox paths are judged first. An accepted activity is forwarded with its
//! method, path, query, headers (Host included) and body bytes untouched, so
//! the sender's HTTP signature still verifies upstream.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::TryStreamExt;

use super::App;
use crate::Action;
use crate::config::{NonJson, ServerConfig};
use crate::pipeline::Envelope;
use crate::quarantine::{HeldRequest, Hold};
use crate::runtime::{Direction, unix_ms};

/// Inbox path patterns; `*` matches exactly one path segment.
pub struct InboxPaths {
    patterns: Vec<Vec<String>>,
}

impl InboxPaths {
    pub fn new(patterns: &[String]) -> InboxPaths {
        InboxPaths {
            patterns: patterns
                .iter()
                .map(|p| segments(p).map(str::to_owned).collect())
                .collect(),
        }
    }

    /// Whether `path` is an inbox, and the recipient when a `*` segment
    /// before `inbox` names one (`/users/alice/inbox` → `alice`).
    pub fn matches(&self, path: &str) -> Option<Option<String>> {
        let parts: Vec<&str> = segments(path).collect();
        self.patterns.iter().find_map(|pattern| {
            if pattern.len() != parts.len() {
                return None;
            }
            let mut recipient = None;
            for (p, s) in pattern.iter().zip(&parts) {
                if p == "*" {
                    recipient = Some((*s).to_owned());
                } else if p != s {
                    return None;
                }
            }
            Some(recipient)
        })
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// The protected server.
pub struct Upstream {
    base: String,
    client: reqwest::Client,
}

impl Upstream {
    pub fn new(url: &str, server: &ServerConfig) -> Result<Upstream, reqwest::Error> {
        let client = reqwest::Client::builder()
            // Redirects and decompression are the sender's business.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(server.upstream_timeout_ms))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Upstream {
            base: url.trim_end_matches('/').to_owned(),
            client,
        })
    }

    /// Send a request upstream unchanged but for hop-by-hop headers.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: reqwest::Body,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let url = format!("{}{}", self.base, path_and_query);
        let mut forwarded = HeaderMap::with_capacity(headers.len());
        for (name, value) in end_to_end(headers) {
            forwarded.append(name.clone(), value.clone());
        }
        self.client
            .request(method, url)
            .headers(forwarded)
            .body(body)
            .send()
            .await
    }
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1):
/// never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

/// The end-to-end headers: hop-by-hop ones and those `Connection` names
/// removed. `Transfer-Encoding` is the connection's too; the body length
/// is re-framed by the client.
pub fn end_to_end(headers: &HeaderMap) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    headers.iter().filter(move |(name, _)| {
        let n = name.as_str();
        !HOP_BY_HOP.contains(&n) && n != "transfer-encoding" && !named.iter().any(|t| t == n)
    })
}

/// Relay an upstream response: status, end-to-end headers, streamed body.
pub fn relay(response: reqwest::Response) -> Response {
    let status = response.status();
    let mut builder = Response::builder().status(status);
    if let Some(headers) = builder.headers_mut() {
        for (name, value) in end_to_end(response.headers()) {
            headers.append(name.clone(), value.clone());
        }
    }
    let body = Body::from_stream(response.bytes_stream());
    builder
        .body(body)
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

fn upstream_unreachable(app: &App, error: &reqwest::Error) -> Response {
    app.metrics.upstream_status(None);
    tracing::warn!(%error, "upstream unreachable");
    // Not 2xx: the sender keeps the activity and retries later.
    let status = if error.is_timeout() {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::BAD_GATEWAY
    };
    (status, "upstream unavailable\n").into_response()
}

/// Every request the main listener does not route elsewhere.
pub async fn handle(State(app): State<Arc<App>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let inbox = if request.method() == Method::POST {
        app.inbox.matches(&path)
    } else {
        None
    };
    let Some(upstream) = &app.upstream else {
        return (
            StatusCode::NOT_FOUND,
            "no upstream is configured: Palisade serves POST /v1/judge, /metrics, /healthz and /readyz\n",
        )
            .into_response();
    };
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let Some(recipient) = inbox else {
        // Not an inbox POST: stream it through untouched.
        let (parts, body) = request.into_parts();
        let stream = body.into_data_stream().map_err(std::io::Error::other);
        return match upstream
            .send(
                parts.method,
                &path_and_query,
                &parts.headers,
                reqwest::Body::wrap_stream(stream),
            )
            .await
        {
            Ok(response) => {
                app.metrics
                    .upstream_status(Some(response.status().as_u16()));
                relay(response)
            }
            Err(e) => upstream_unreachable(&app, &e),
        };
    };

    let (parts, body) = request.into_parts();
    let limit = (app.config.server.body_limit_kib as usize) << 10;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            app.metrics.unjudged.with_label_values(&["too_large"]).inc();
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "activity larger than {} KiB\n",
                    app.config.server.body_limit_kib
                ),
            )
                .into_response();
        }
    };
    let envelope = Envelope {
        direction: Direction::Inbound,
        received_at: unix_ms(),
        recipient,
        record: true,
    };
    let decision = app.judge(bytes.clone(), envelope.clone()).await;

    if let Some(error) = &decision.error {
        app.metrics.unjudged.with_label_values(&["non_json"]).inc();
        tracing::warn!(path = %path, error = %error.message, line = error.line, column = error.column,
            forwarded = app.config.server.non_json == NonJson::Forward,
            "an inbox body that is not an ActivityStreams object");
        app.record(&decision, &envelope, &path, &bytes, None);
        if app.config.server.non_json == NonJson::Reject {
            return (
                StatusCode::BAD_REQUEST,
                "the body is not an ActivityStreams JSON object\n",
            )
                .into_response();
        }
        return forward(
            &app,
            upstream,
            parts.method,
            &path_and_query,
            &parts.headers,
            bytes,
        )
        .await;
    }

    match decision.action {
        Action::Accept => {
            app.record(&decision, &envelope, &path, &bytes, None);
            forward(
                &app,
                upstream,
                parts.method,
                &path_and_query,
                &parts.headers,
                bytes,
            )
            .await
        }
        Action::Reject => {
            app.record(&decision, &envelope, &path, &bytes, None);
            let status = StatusCode::from_u16(app.config.server.reject_status)
                .unwrap_or(StatusCode::ACCEPTED);
            status.into_response()
        }
        Action::Quarantine => {
            let request = HeldRequest {
                method: parts.method.to_string(),
                path_and_query,
                headers: end_to_end(&parts.headers)
                    .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                    .collect(),
                body: bytes.to_vec(),
            };
            match hold(&app, request, &decision, envelope.received_at).await {
                Ok(id) => {
                    app.record(&decision, &envelope, &path, &bytes, Some(id));
                    StatusCode::ACCEPTED.into_response()
                }
                Err(e) => {
                    // Not stored, so not acknowledged: the sender retries.
                    tracing::error!(error = %e, "cannot store a quarantined activity");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "cannot store the activity; retry later\n",
                    )
                        .into_response()
                }
            }
        }
    }
}

async fn forward(
    app: &App,
    upstream: &Upstream,
    method: Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    match upstream
        .send(method, path_and_query, headers, reqwest::Body::from(body))
        .await
    {
        Ok(response) => {
            app.metrics
                .upstream_status(Some(response.status().as_u16()));
            relay(response)
        }
        Err(e) => upstream_unreachable(app, &e),
    }
}

/// Store a held request durably (on a blocking thread: it syncs to disk).
async fn hold(
    app: &Arc<App>,
    request: HeldRequest,
    decision: &crate::Decision,
    received_at: u64,
) -> Result<i64, String> {
    let body = std::str::from_utf8(&request.body).unwrap_or("");
    let activity = palisade_sdk::parse::parse_activity(body, &Default::default()).ok();
    let modules: Vec<&str> = decision
        .trace
        .iter()
        .filter(|t| t.mode == crate::config::Mode::Enforce && t.verdict != "pass")
        .map(|t| t.module.as_str())
        .collect();
    let hold = Hold {
        received_at,
        activity_id: activity.as_ref().and_then(|a| a.id.clone()),
        actor: activity.as_ref().and_then(|a| a.actor.clone()),
        actor_host: activity.as_ref().and_then(|a| a.actor_host.clone()),
        modules: modules.join(","),
        decision: serde_json::to_string(decision).map_err(|e| e.to_string())?,
        request,
    };
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let id = app.quarantine.hold(&hold).map_err(|e| e.to_string())?;
        app.metrics.quarantine_held.inc();
        Ok(id)
    })
    .await
    .map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_patterns_match_whole_segments() {
        let p = InboxPaths::new(&["/inbox".into(), "/users/*/inbox".into()]);
        assert_eq!(p.matches("/inbox"), Some(None));
        assert_eq!(p.matches("/users/alice/inbox"), Some(Some("alice".into())));
        assert_eq!(p.matches("/users/alice/inbox/"), Some(Some("alice".into())));
        assert_eq!(p.matches("/users/alice/outbox"), None);
        assert_eq!(p.matches("/users/a/b/inbox"), None);
        assert_eq!(p.matches("/inboxes"), None);
    }

    #[test]
    fn hop_by_hop_headers_stay_behind() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-trace".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-trace", "1".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("signature", "keyId=\"k\"".parse().unwrap());
        h.insert("host", "mastodon.example".parse().unwrap());
        let kept: Vec<&str> = end_to_end(&h).map(|(n, _)| n.as_str()).collect();
        assert_eq!(kept, ["signature", "host"]);
    }
}
