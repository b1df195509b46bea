//! The inbox proxy. Every request goes to the upstream server; POSTs to
//! inbox paths are judged first. A POST's path is normalised once
//! ([`paths::normalise`]): inbox patterns match the normalised path and the
//! request goes upstream at it, so the server routes exactly what was
//! judged (an ambiguous path gets 400). An accepted activity is forwarded
//! with its method, query, headers (Host included) and body bytes
//! untouched, so the sender's HTTP signature still verifies upstream (the
//! path is part of what is signed: a sender that signs one path and sends
//! another fails verification, as it would without Palisade).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{App, Judgement, paths};
use crate::Action;
use crate::config::{NonJson, SenderAction, ServerConfig};
use crate::pipeline::Envelope;
use crate::quarantine::{HeldRequest, Hold};
use crate::runtime::{Direction, unix_ms};
use crate::senders::Sender;
use crate::senders::verify::Signed;

/// The protected server, over pooled HTTP/1.1 connections (hyper's
/// client: no redirects followed, no decompression, nothing added).
pub struct Upstream {
    scheme: axum::http::uri::Scheme,
    authority: axum::http::uri::Authority,
    /// The upstream URL's path, if it has one (`http://h/base`): put
    /// before every request's path.
    prefix: String,
    timeout: Duration,
    client: Client<HttpConnector, Body>,
}

/// Why the upstream gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the upstream did not answer within {0} ms")]
    Timeout(u128),
    #[error("{0}")]
    Failed(#[from] hyper_util::client::legacy::Error),
    #[error("invalid upstream request: {0}")]
    Request(#[from] axum::http::Error),
}

impl UpstreamError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, UpstreamError::Timeout(_))
    }
}

impl Upstream {
    /// `url`: `http://HOST[:PORT]` (checked by the configuration).
    pub fn new(url: &str, server: &ServerConfig) -> Result<Upstream, String> {
        let uri: axum::http::Uri = url
            .trim_end_matches('/')
            .parse()
            .map_err(|e| format!("server.upstream `{url}`: {e}"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme().cloned(), uri.authority().cloned())
        else {
            return Err(format!("server.upstream `{url}` needs a scheme and a host"));
        };
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_millis(server.upstream_timeout_ms)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(Upstream {
            scheme,
            authority,
            prefix: uri.path().trim_end_matches('/').to_owned(),
            timeout: Duration::from_millis(server.upstream_timeout_ms),
            client,
        })
    }

    /// How long the upstream may take to answer, and a streamed body may
    /// go without data (`server.upstream_timeout_ms`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Send a request upstream unchanged but for hop-by-hop headers; the
    /// answer's head must come within `server.upstream_timeout_ms` (its
    /// body then streams as the upstream sends it).
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<axum::http::Response<Incoming>, UpstreamError> {
        let uri = axum::http::Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone());
        let uri = if self.prefix.is_empty() {
            uri.path_and_query(path_and_query)
        } else {
            uri.path_and_query(format!("{}{path_and_query}", self.prefix))
        }
        .build()?;
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .body(body)?;
        let forwarded = request.headers_mut();
        forwarded.reserve(headers.len());
        for (name, value) in end_to_end(headers) {
            forwarded.append(name.clone(), value.clone());
        }
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Ok(Ok(answer)) => Ok(answer),
            // A connect that timed out is a timeout too (504, not 502).
            Ok(Err(e)) if e.is_connect() && timed_out(&e) => {
                Err(UpstreamError::Timeout(self.timeout.as_millis()))
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(UpstreamError::Timeout(self.timeout.as_millis())),
        }
    }
}

/// A streamed body that fails when no frame comes for `idle`: a sender or
/// an upstream trickling a body cannot hold a connection for ever.
/// (A reader that stops reading is bounded by the kernel, not here: the
/// body is only asked for frames when there is room to send them.)
pub struct Idle<B> {
    inner: B,
    idle: Duration,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl<B> Idle<B> {
    pub fn new(inner: B, idle: Duration) -> Idle<B> {
        Idle {
            inner,
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

impl<B> hyper::body::Body for Idle<B>
where
    B: hyper::body::Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<B::Data>, Self::Error>>> {
        use std::future::Future;
        use std::task::Poll;
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = tokio::time::Instant::now() + this.idle;
                this.sleep.as_mut().reset(next);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(format!(
                    "no data for {} ms",
                    this.idle.as_millis()
                )
                .into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Whether an error's causes include an I/O timeout.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cause = e.source();
    }
    false
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

/// Headers of the message itself, which a `Connection` header cannot make
/// hop-by-hop: without `Host` the upstream would see its own authority and
/// the sender's signature (which covers it) would not verify.
const MESSAGE_HEADERS: [&str; 3] = ["host", "content-length", "content-type"];

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
        // `Connection` cannot name away the message's own headers.
        let named_away = named.iter().any(|t| t == n) && !MESSAGE_HEADERS.contains(&n);
        !HOP_BY_HOP.contains(&n) && n != "transfer-encoding" && !named_away
    })
}

/// Relay an upstream response: status, end-to-end headers, streamed body
/// (failed after `idle` without data).
pub fn relay(response: axum::http::Response<Incoming>, idle: Duration) -> Response {
    let (parts, body) = response.into_parts();
    let mut relayed = Response::new(Body::new(Idle::new(body, idle)));
    *relayed.status_mut() = parts.status;
    let headers = relayed.headers_mut();
    headers.reserve(parts.headers.len());
    for (name, value) in end_to_end(&parts.headers) {
        headers.append(name.clone(), value.clone());
    }
    relayed
}

fn upstream_unreachable(app: &App, error: &UpstreamError) -> Response {
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
///
/// A panic anywhere below is answered 503 (so the sender retries) and
/// counted, instead of closing the connection without an answer.
pub async fn handle(State(app): State<Arc<App>>, request: Request) -> Response {
    match AssertUnwindSafe(route(app.clone(), request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(payload) => {
            app.metrics.judge_panics.inc();
            tracing::error!(
                panic = %super::judging::payload_message(payload.as_ref()),
                "the proxy panicked; answered 503 so that the sender retries"
            );
            retry_later()
        }
    }
}

async fn route(app: Arc<App>, request: Request) -> Response {
    let Some(upstream) = &app.upstream else {
        return (
            StatusCode::NOT_FOUND,
            "no upstream is configured: Palisade serves POST /v1/judge, /metrics, /healthz and /readyz\n",
        )
            .into_response();
    };
    if request.method() != Method::POST {
        // Not judged, so nothing to get around: streamed through as sent.
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
        return pass_through(&app, upstream, request, &path_and_query).await;
    }
    // A POST goes upstream at its normalised path: the one it is judged by.
    let path = match paths::normalise(request.uri().path()) {
        Ok(path) => path,
        Err(error) => {
            app.metrics
                .unjudged
                .with_label_values(&["ambiguous_path"])
                .inc();
            return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response();
        }
    };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path.clone(),
    };
    match app.inbox.matches(&path) {
        Some(recipient) => inbox(&app, upstream, request, path, path_and_query, recipient).await,
        None => pass_through(&app, upstream, request, &path_and_query).await,
    }
}

/// Stream a request to the upstream untouched but for its path.
async fn pass_through(
    app: &App,
    upstream: &Upstream,
    request: Request,
    path_and_query: &str,
) -> Response {
    let (parts, body) = request.into_parts();
    match upstream
        .send(
            parts.method,
            path_and_query,
            &parts.headers,
            Body::new(Idle::new(body, upstream.timeout)),
        )
        .await
    {
        Ok(response) => {
            app.metrics
                .upstream_status(Some(response.status().as_u16()));
            relay(response, upstream.timeout)
        }
        Err(e) => upstream_unreachable(app, &e),
    }
}

/// Why a body was not read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than the limit")]
    TooLarge,
    #[error("the body did not arrive in time")]
    Timeout,
    #[error("the body could not be read")]
    Broken,
}

impl BodyError {
    /// The `palisade_unjudged_requests_total` reason.
    pub fn reason(self) -> &'static str {
        match self {
            BodyError::TooLarge => "too_large",
            BodyError::Timeout => "body_timeout",
            BodyError::Broken => "broken_body",
        }
    }

    /// The answer: 413, 408 (and the connection closed: the rest of the
    /// body may still be trickling in) or 400.
    pub fn response(self, server: &ServerConfig) -> Response {
        match self {
            BodyError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("activity larger than {} KiB\n", server.body_limit_kib),
            )
                .into_response(),
            BodyError::Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                [(header::CONNECTION, "close")],
                format!(
                    "the body did not arrive within {} ms\n",
                    server.body_read_timeout_ms
                ),
            )
                .into_response(),
            BodyError::Broken => {
                (StatusCode::BAD_REQUEST, "the body could not be read\n").into_response()
            }
        }
    }
}

/// Read a body whole: at most `server.body_limit_kib`, within
/// `server.body_read_timeout_ms` (a sender trickling a byte a second
/// would otherwise hold the request, and its memory, for as long as it
/// likes).
pub async fn read_body(body: Body, server: &ServerConfig) -> Result<Bytes, BodyError> {
    let limit = (server.body_limit_kib as usize) << 10;
    let timeout = Duration::from_millis(server.body_read_timeout_ms);
    tokio::time::timeout(timeout, collect(body, limit))
        .await
        .unwrap_or(Err(BodyError::Timeout))
}

async fn collect(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut chunks = body.into_data_stream();
    let mut collected = bytes::BytesMut::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if collected.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(collected.freeze())
}

/// 503: not judged, not acknowledged; the sender keeps the activity and
/// retries.
fn retry_later() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "60")],
        "the activity could not be judged; retry later\n",
    )
        .into_response()
}

/// An inbox POST: read, judge, enforce.
async fn inbox(
    app: &Arc<App>,
    upstream: &Upstream,
    request: Request,
    path: String,
    path_and_query: String,
    recipient: Option<String>,
) -> Response {
    if !app.ready.load(std::sync::atomic::Ordering::Relaxed) {
        // A configured module is missing: judging without it would let
        // through what it was configured to stop. The sender retries.
        app.metrics.unjudged.with_label_values(&["not_ready"]).inc();
        return retry_later();
    }
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body, &app.config.server).await {
        Ok(b) => b,
        Err(error) => {
            app.metrics
                .unjudged
                .with_label_values(&[error.reason()])
                .inc();
            return error.response(&app.config.server);
        }
    };
    // Who signed it, against the path as it was sent (and signed).
    let sender = app
        .senders
        .verify(&Signed {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            body: &bytes,
        })
        .await;
    let refuse = match &sender {
        Sender::Unsigned => app.config.senders.unsigned == SenderAction::Reject,
        Sender::Invalid { .. } => app.config.senders.invalid == SenderAction::Reject,
        _ => false,
    };
    if refuse {
        // As the server behind would: not judged, not forwarded.
        let why = match &sender {
            Sender::Invalid { reason, .. } => format!("the signature does not verify: {reason}\n"),
            _ => "the request is not signed\n".to_owned(),
        };
        return (StatusCode::UNAUTHORIZED, why).into_response();
    }
    let envelope = Envelope {
        direction: Direction::Inbound,
        received_at: unix_ms(),
        recipient,
        record: true,
        sender,
        fetch_objects: app.config.fetch.objects,
    };
    let mut judgement = match app.judge(bytes.clone(), envelope.clone()).await {
        Ok(judgement) => judgement,
        Err(_panicked) => return retry_later(),
    };
    if let Some(uri) = judgement.decision.object_uri.clone() {
        judgement = match with_object(app, &bytes, &uri, &judgement, &envelope).await {
            Ok(judged) => judged,
            Err(why) => {
                // Not judged: held, with why.
                judgement.decision.reasons.push(format!("palisade: {why}"));
                judgement
            }
        };
    }
    // Every judgement, whatever it enforces: a retried delivery is judged,
    // and counted in module state, again, so a replay sees it again too.
    app.recorder.record(&bytes, &envelope);
    let decision = &judgement.decision;

    if let Some(error) = &decision.error {
        app.metrics.unjudged.with_label_values(&["non_json"]).inc();
        tracing::warn!(path = %path, error = %error.message, line = error.line, column = error.column,
            forwarded = app.config.server.non_json == NonJson::Forward,
            "an inbox body that is not an ActivityStreams object");
        app.record(&judgement, &envelope, &path, None).await;
        if app.config.server.non_json == NonJson::Reject {
            return (
                StatusCode::BAD_REQUEST,
                "the body is not an ActivityStreams JSON object\n",
            )
                .into_response();
        }
        return forward(
            app,
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
            app.record(&judgement, &envelope, &path, None).await;
            forward(
                app,
                upstream,
                parts.method,
                &path_and_query,
                &parts.headers,
                bytes,
            )
            .await
        }
        Action::Reject => {
            app.record(&judgement, &envelope, &path, None).await;
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
            match hold(app, request, &judgement, envelope.received_at).await {
                Ok(id) => {
                    app.record(&judgement, &envelope, &path, Some(id)).await;
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

/// Fetch the object an activity gives only by URI and judge the activity
/// with it embedded (the body forwarded stays the one that came).
async fn with_object(
    app: &Arc<App>,
    body: &Bytes,
    uri: &str,
    pending: &Judgement,
    envelope: &Envelope,
) -> Result<Judgement, String> {
    let actor = pending
        .decision
        .actor
        .as_deref()
        .ok_or("the activity names no actor")?;
    let object = app.senders.object(uri, actor).await?;
    let mut activity: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("cannot embed the object: {e}"))?;
    activity
        .as_object_mut()
        .ok_or("the activity is not a JSON object")?
        .insert("object".to_owned(), (*object).clone());
    let composed = serde_json::to_vec(&activity).map_err(|e| e.to_string())?;
    let envelope = Envelope {
        fetch_objects: false,
        ..envelope.clone()
    };
    app.judge(Bytes::from(composed), envelope)
        .await
        .map_err(|_| "judging the fetched object failed".to_owned())
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
        .send(method, path_and_query, headers, Body::from(body))
        .await
    {
        Ok(response) => {
            app.metrics
                .upstream_status(Some(response.status().as_u16()));
            relay(response, upstream.timeout)
        }
        Err(e) => upstream_unreachable(app, &e),
    }
}

/// Store a held request durably (on a blocking thread: it syncs to disk),
/// with what judging already read about it.
async fn hold(
    app: &Arc<App>,
    request: HeldRequest,
    judgement: &Judgement,
    received_at: u64,
) -> Result<i64, String> {
    let decision = &judgement.decision;
    let modules: Vec<&str> = decision
        .trace
        .iter()
        .filter(|t| t.mode == crate::config::Mode::Enforce && t.verdict != "pass")
        .map(|t| t.module.as_str())
        .collect();
    let hold = Hold {
        received_at,
        activity_id: decision.id.clone(),
        actor: decision.actor.clone(),
        actor_host: decision.actor_host.clone(),
        modules: modules.join(","),
        decision: serde_json::to_string(decision).map_err(|e| e.to_string())?,
        text: decision.text.clone(),
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
    fn hop_by_hop_headers_stay_behind() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-trace, host".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-trace", "1".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("signature", "keyId=\"k\"".parse().unwrap());
        h.insert("host", "mastodon.example".parse().unwrap());
        let kept: Vec<&str> = end_to_end(&h).map(|(n, _)| n.as_str()).collect();
        assert_eq!(kept, ["signature", "host"]);
    }
}
