//! The sidecar's HTTP transport under attack, over loopback: path variants
//! that the upstream routes to an inbox, a panic while judging, a decision
//! log nobody reads, senders that trickle, and a reload that adds modules.
//!
//! Requests that must reach the sidecar byte for byte (`..`, `%2e`, `//`)
//! are written on a raw socket: an HTTP client library would normalise
//! them before sending. The upstream is a small recording server in the
//! test process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade::server::App;
use palisade_e2e::{TempDir, example, note};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "test-admin-token";
/// The most any one exchange in these tests may take: generous, so a slow
/// machine passes, and finite, so a regression fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(20);

/// One request the upstream received: method, path and query, body.
type Request = (String, String, Vec<u8>);

/// What the upstream received.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Request>>>);

impl Received {
    fn all(&self) -> Vec<Request> {
        self.0.lock().unwrap().clone()
    }
    fn paths(&self) -> Vec<String> {
        self.all().into_iter().map(|(_, p, _)| p).collect()
    }
    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// An upstream that records every request and answers 202.
async fn upstream() -> (String, Received) {
    let received = Received::default();
    let sink = received.clone();
    let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let sink = sink.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 8 << 20)
                .await
                .unwrap_or_default();
            sink.0.lock().unwrap().push((
                parts.method.to_string(),
                parts.uri.to_string(),
                body.to_vec(),
            ));
            axum::http::StatusCode::ACCEPTED
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

struct Sidecar {
    app: Arc<App>,
    url: String,
    admin: String,
    dir: TempDir,
}

impl Sidecar {
    fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }
}

/// A sidecar in front of `upstream`; `server` goes into `[server]`,
/// `log` into `[decision_log]`, `top` at the top of the file.
async fn sidecar(upstream: Option<&str>, top: &str, server: &str, log: &str) -> Sidecar {
    let dir = TempDir::new("transport");
    let upstream = upstream
        .map(|u| format!("upstream = \"{u}\""))
        .unwrap_or_default();
    let log = if log.is_empty() {
        "output = \"off\""
    } else {
        log
    };
    let text = format!(
        "{top}\n[server]\nlisten = \"127.0.0.1:0\"\n{upstream}\n{server}\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n[state]\nurl = \"memory\"\n\
         [decision_log]\n{log}\n"
    );
    let running = palisade_e2e::serve_config_file(&dir.0, &text, TOKEN).await;
    Sidecar {
        app: running.app,
        url: running.url,
        admin: running.admin,
        dir,
    }
}

/// Send `head` (request line and headers, without the blank line) and
/// `body` on a fresh connection and read the answer to its end.
async fn raw(addr: &str, head: &str, body: &[u8]) -> String {
    let exchange = async {
        let mut conn = TcpStream::connect(addr).await.expect("connect");
        let request = format!(
            "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        conn.write_all(request.as_bytes()).await.unwrap();
        conn.write_all(body).await.unwrap();
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    };
    tokio::time::timeout(PATIENCE, exchange)
        .await
        .expect("the sidecar answered")
}

/// POST `body` to `path` exactly as written; the status code.
async fn post_raw(addr: &str, path: &str, body: &[u8]) -> u16 {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: mastodon.example\r\nContent-Type: application/activity+json"
    );
    status(&raw(addr, &head, body).await)
}

fn status(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

/// The value of a metric line `name` (labels included) in the sidecar's
/// metrics, 0 if absent.
async fn metric(url: &str, name: &str) -> f64 {
    let text = palisade_e2e::metrics(url).await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Paths the upstream routes to an inbox although they are not written
/// as one, and the path the upstream must receive them at.
const BYPASSES: [(&str, &str); 9] = [
    ("/users/alice/x/../inbox", "/users/alice/inbox"),
    ("/users/alice/x/%2e%2e/inbox", "/users/alice/inbox"),
    ("/users/alice/%2E/inbox", "/users/alice/inbox"),
    ("//users//alice/inbox", "/users/alice/inbox"),
    ("/users/%61lice/inbox", "/users/alice/inbox"),
    ("/users/alice/inbox.json", "/users/alice/inbox.json"),
    ("/inbox.json", "/inbox.json"),
    ("/actor/inbox.activity", "/actor/inbox.activity"),
    (
        "/users/alice/x/../inbox?page=1",
        "/users/alice/inbox?page=1",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_variants_of_an_inbox_are_judged_and_forwarded_as_judged() {
    let (up, received) = upstream().await;
    let p = sidecar(Some(&up), "", "", "").await;
    let wave = example("wave.json");
    let reply = example("reply.json");
    for (path, normalised) in BYPASSES {
        assert_eq!(
            post_raw(p.addr(), path, wave.as_bytes()).await,
            202,
            "{path}"
        );
        assert!(
            received.all().is_empty(),
            "the wave posted to {path} reached the upstream: {:?}",
            received.paths()
        );
        assert_eq!(
            post_raw(p.addr(), path, reply.as_bytes()).await,
            202,
            "{path}"
        );
        let got = received.all();
        assert_eq!(got.len(), 1, "{path}: {:?}", received.paths());
        assert_eq!(got[0].1, normalised, "forwarded at the judged path");
        assert_eq!(got[0].2, reply.as_bytes(), "byte for byte");
        received.clear();
    }
    let rejected = metric(&p.url, "palisade_activities_total{action=\"reject\"}").await;
    assert_eq!(rejected, BYPASSES.len() as f64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_paths_are_refused_with_400_and_never_forwarded() {
    let (up, received) = upstream().await;
    let p = sidecar(Some(&up), "", "", "").await;
    let wave = example("wave.json");
    let ambiguous = [
        "/users/alice%2Finbox",
        "/users%2falice/inbox",
        "/users/alice%5Cinbox",
        "/users/alice%00/inbox",
        "/../inbox",
        "/users/%2e%2e/%2e%2e/inbox",
        "/inbox%zz",
    ];
    for path in ambiguous {
        assert_eq!(
            post_raw(p.addr(), path, wave.as_bytes()).await,
            400,
            "{path}"
        );
    }
    assert!(received.all().is_empty(), "{:?}", received.paths());
    let refused = metric(
        &p.url,
        "palisade_unjudged_requests_total{reason=\"ambiguous_path\"}",
    )
    .await;
    assert_eq!(refused, ambiguous.len() as f64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_while_judging_is_answered_503_counted_and_survived() {
    let (up, received) = upstream().await;
    let p = sidecar(Some(&up), "", "", "").await;
    p.app.inject_judge_panic("a-body-that-breaks-the-judge");
    let breaking = note(
        "https://r.example/users/bob",
        "a-body-that-breaks-the-judge",
    );
    assert_eq!(
        post_raw(p.addr(), "/users/alice/inbox", breaking.as_bytes()).await,
        503,
        "answered, so that the sender retries"
    );
    let judged = reqwest::Client::new()
        .post(format!("{}/v1/judge", p.url))
        .body(breaking)
        .send()
        .await
        .unwrap();
    assert_eq!(judged.status().as_u16(), 503);
    assert!(received.all().is_empty(), "neither forwarded nor dropped");
    assert_eq!(metric(&p.url, "palisade_judge_panics_total").await, 2.0);

    // The sidecar carries on.
    let reply = example("reply.json");
    assert_eq!(
        post_raw(p.addr(), "/users/alice/inbox", reply.as_bytes()).await,
        202
    );
    assert_eq!(received.paths(), ["/users/alice/inbox"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_log_nobody_reads_does_not_stop_the_sidecar() {
    // A FIFO whose reader never reads: the pipe fills after some 64 KiB.
    let dir = TempDir::new("fifo");
    let fifo = dir.0.join("decisions.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let reader_path = fifo.clone();
    // Opening either end waits for the other: hold the read end open,
    // unread, for the whole test.
    let reader = std::thread::spawn(move || std::fs::File::open(reader_path).unwrap());
    let log = format!("output = \"{}\"\nqueue_lines = 8", fifo.display());
    let p = sidecar(None, "", "", &log).await;
    let _reader = reader.join().unwrap();

    const N: usize = 400;
    let client = reqwest::Client::new();
    for i in 0..N {
        let body = note(&format!("https://r{i}.example/users/u"), "hello there");
        let answer = tokio::time::timeout(
            PATIENCE,
            client.post(format!("{}/v1/judge", p.url)).body(body).send(),
        )
        .await
        .unwrap_or_else(|_| panic!("request {i} got no answer: the log blocks serving"))
        .unwrap();
        assert_eq!(answer.status().as_u16(), 200, "request {i}");
    }
    let dropped = metric(&p.url, "palisade_decision_log_dropped_total").await;
    assert!(
        dropped > 0.0 && dropped < N as f64,
        "lines that did not fit were dropped and counted: {dropped}"
    );
    let recent: Value = reqwest::Client::new()
        .get(format!("{}/admin/v1/decisions?limit=5", p.admin))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        recent["decisions"].as_array().unwrap().len(),
        5,
        "the recent decisions are still kept: {recent}"
    );
}

/// Write `head` then trickle `body` a byte every 200 ms (at most 100
/// bytes) while reading the answer; the answer read, or None if the
/// connection was still open and silent after [`PATIENCE`].
async fn trickle(addr: &str, head: &[u8], body: &[u8]) -> Option<String> {
    let conn = TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = conn.into_split();
    let head = head.to_vec();
    let body = body.to_vec();
    let writer = tokio::spawn(async move {
        if write.write_all(&head).await.is_err() {
            return;
        }
        for byte in body.iter().take(100) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
        // Keep the connection open, silent.
        tokio::time::sleep(PATIENCE).await;
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, read.read_to_end(&mut answer)).await;
    writer.abort();
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_gets_408_and_a_trickling_header_is_cut_off() {
    let (up, received) = upstream().await;
    let p = sidecar(
        Some(&up),
        "",
        "header_read_timeout_ms = 1000\nbody_read_timeout_ms = 1000",
        "",
    )
    .await;
    let reply = example("reply.json");
    let head = format!(
        "POST /users/alice/inbox HTTP/1.1\r\nHost: mastodon.example\r\nContent-Length: {}\r\n\r\n",
        reply.len()
    );
    let answer = trickle(p.addr(), head.as_bytes(), reply.as_bytes())
        .await
        .expect("the trickling body was answered");
    assert_eq!(status(&answer), 408, "{answer}");
    let judge_head = format!(
        "POST /v1/judge HTTP/1.1\r\nHost: palisade\r\nContent-Length: {}\r\n\r\n",
        reply.len()
    );
    let answer = trickle(p.addr(), judge_head.as_bytes(), reply.as_bytes())
        .await
        .expect("the trickling judge API body was answered");
    assert_eq!(status(&answer), 408, "{answer}");

    // Headers a byte at a time: the connection is closed, nothing answered.
    let answer = trickle(
        p.addr(),
        b"POST /users/alice/inbox HTTP/1.1\r\n",
        b"Host: mastodon.example\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    )
    .await
    .expect("the trickling header's connection was closed");
    assert!(
        answer.is_empty() || status(&answer) == 408,
        "nothing but a 408: {answer}"
    );
    assert!(received.all().is_empty(), "{:?}", received.paths());
    let timeouts = metric(
        &p.url,
        "palisade_unjudged_requests_total{reason=\"body_timeout\"}",
    )
    .await;
    assert_eq!(timeouts, 1.0, "the inbox POST is counted");
}

#[test]
fn sigterm_stops_serve_despite_a_request_still_trickling_in() {
    let dir = TempDir::new("shutdown");
    let config = dir.0.join("palisade.toml");
    std::fs::write(
        &config,
        "[server]\nheader_read_timeout_ms = 600000\nbody_read_timeout_ms = 600000\n\
         shutdown_timeout_ms = 1000\n[state]\nurl = \"memory\"\n[decision_log]\noutput = \"off\"\n",
    )
    .unwrap();
    let mut serve = palisade_e2e::Serve::start(&config, &[]);
    let addr = serve.url.trim_start_matches("http://").to_owned();

    // A judge API request whose body never finishes arriving: in flight.
    // hyper answers `100 Continue` once the handler reads the body, so the
    // request is known to be inside the sidecar before SIGTERM.
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    conn.write_all(
        b"POST /v1/judge HTTP/1.1\r\nHost: palisade\r\nContent-Length: 1000\r\n\
          Expect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut interim = [0u8; 64];
    let n = conn.read(&mut interim).expect("an interim answer");
    let interim = String::from_utf8_lossy(&interim[..n]).into_owned();
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    conn.write_all(b"{").unwrap();

    serve.terminate();
    let status = serve.wait_for_exit(PATIENCE);
    drop(conn);
    let status = status.unwrap_or_else(|| {
        panic!(
            "serve did not stop within {PATIENCE:?} of SIGTERM:\n{}",
            serve.log()
        )
    });
    assert!(status.success(), "{status}\n{}", serve.log());
    assert!(
        serve.log().contains("shutdown deadline passed"),
        "{}",
        serve.log()
    );
}

/// `[[policy]]` entries for `n` busy modules named `busy-1`…: each
/// works a few milliseconds per activity, so concurrent activities
/// overlap inside every module.
fn busy_modules(n: usize) -> String {
    let wasm = palisade_e2e::fixture("busy");
    (1..=n)
        .map(|i| {
            format!(
                "[[policy]]\nsource = \"{}\"\nname = \"busy-{i}\"\ntimeout_ms = 5000\n\
                 [policy.config]\nrounds = 3000000\n",
                wasm.display()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_adds_modules_cannot_exhaust_the_instance_pool() {
    // Eight instances: one module could judge eight activities at once,
    // four modules only two (each module keeps an instance warm per
    // activity it judged at once).
    let limits = "[limits]\ninstances = 8\n";
    let p = sidecar(None, &format!("{limits}{}", busy_modules(1)), "", "").await;
    assert_eq!(p.app.palisade.policies().modules().len(), 1);
    let four = format!(
        "{limits}{}[server]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [state]\nurl = \"memory\"\n[decision_log]\noutput = \"off\"\n",
        busy_modules(4)
    );
    std::fs::write(p.dir.0.join("palisade.toml"), four).unwrap();
    let reloaded: Value = reqwest::Client::new()
        .post(format!("{}/admin/v1/reload", p.admin))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reloaded["result"], "ok", "{reloaded}");
    assert_eq!(p.app.palisade.policies().modules().len(), 4);

    const N: usize = 24;
    let client = reqwest::Client::new();
    let requests = (0..N).map(|i| {
        let client = client.clone();
        let url = format!("{}/v1/judge", p.url);
        let body = note(&format!("https://r{i}.example/users/u"), &format!("hi {i}"));
        tokio::spawn(async move {
            let answer = client.post(url).body(body).send().await.unwrap();
            assert_eq!(answer.status().as_u16(), 200);
            answer.json::<Value>().await.unwrap()
        })
    });
    let decisions = tokio::time::timeout(PATIENCE, futures_join(requests.collect()))
        .await
        .expect("every activity was judged");
    for d in decisions {
        let trace = d["trace"].as_array().unwrap();
        assert_eq!(trace.len(), 4, "judged by every module: {d}");
        let failed: Vec<&Value> = trace.iter().filter(|t| t["verdict"] == "error").collect();
        assert!(failed.is_empty(), "a module could not judge: {failed:?}");
    }
}

/// Await every task, in order.
async fn futures_join(tasks: Vec<tokio::task::JoinHandle<Value>>) -> Vec<Value> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.expect("the request task"));
    }
    out
}
