//! A minimal upstream for the load benchmark (`benches/load.sh`): answers
//! every request with `202 Accepted` and an empty body, as fast as it can,
//! so that the benchmark measures Palisade and not the server behind it.
//!
//! `cargo run --release -p palisade --example bench_upstream -- 127.0.0.1:9787`

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9787".into());
    let app = Router::new().fallback(|_body: Bytes| async { StatusCode::ACCEPTED });
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("LISTENING {}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.expect("serve");
}
