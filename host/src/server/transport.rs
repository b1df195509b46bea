//! The accept loop of each listener, on hyper directly rather than through
//! `axum::serve`, for two bounds `axum::serve` does not offer:
//!
//! - a **header read timeout**: a sender that trickles its request line
//!   and headers (or opens connections and sends nothing) is disconnected
//!   after `server.header_read_timeout_ms` instead of holding a task and a
//!   socket forever; the same timer closes keep-alive connections idle for
//!   that long;
//! - a **shutdown deadline**: on SIGTERM the listener stops accepting,
//!   requests in flight finish, and after `server.shutdown_timeout_ms` the
//!   connections still open are given up, so a trickling sender cannot keep
//!   the process from stopping.
//!
//! Body read timeouts are the handlers' (see [`super::proxy::read_body`]):
//! only they know when a body is wanted whole.

use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How one listener treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// The longest a request's line and headers may take to arrive (and a
    /// keep-alive connection may stay idle).
    pub header_read: Duration,
    /// The longest open connections are waited for once stopping.
    pub shutdown: Duration,
}

/// Serve `router` on `listener` until `stop` turns true, then finish what is
/// in flight within `limits.shutdown`. `name` labels the log lines.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    name: &'static str,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopping| *stopping) => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                // Out of file descriptors, mostly: wait for some to close
                // rather than spin.
                tracing::warn!(%error, listener = name, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // Header timeouts, resets, malformed requests: the peer's
                // business, not an error of ours.
                tracing::debug!(%error, listener = name, "connection ended");
            }
        });
    }
    drop(listener);
    let open_at_stop = graceful.count();
    if tokio::time::timeout(limits.shutdown, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            listener = name,
            open_at_stop,
            timeout_ms = limits.shutdown.as_millis() as u64,
            "shutdown deadline passed; giving up on open connections"
        );
    }
}
