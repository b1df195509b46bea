//! Releasing and dropping held activities when requests race: two
//! releases of one entry (a double click, two moderators, a bulk release
//! over a single one), a drop during a release, a client that goes away
//! mid-release; and filter values a count and the bulk action after it
//! must read alike. Over loopback HTTP against an in-process sidecar, with
//! holds stored directly and an upstream that takes its time to answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade::quarantine::{HeldRequest, Hold};
use palisade_e2e::{InProcess, TempDir};
use reqwest::Method;
use serde_json::{Value, json};

const TOKEN: &str = "test-admin-token";

struct Sidecar {
    p: InProcess,
    _dir: TempDir,
}

/// A sidecar on ephemeral ports with the admin token [`TOKEN`], in front
/// of `upstream` if given.
async fn sidecar(upstream: Option<&str>) -> Sidecar {
    let (p, dir) = palisade_e2e::holding_sidecar(upstream, TOKEN).await;
    Sidecar { p, _dir: dir }
}

/// A held request, stored directly (as the inbox would after judging).
fn hold(received_at: u64, text: &str) -> Hold {
    let body = json!({"type": "Create", "actor": "https://spam.example/users/x",
        "object": {"type": "Note", "content": text}});
    Hold {
        received_at,
        request: HeldRequest {
            method: "POST".into(),
            path_and_query: "/users/alice/inbox".into(),
            headers: vec![("host".into(), b"mastodon.example".to_vec())],
            body: body.to_string().into_bytes(),
        },
        activity_id: None,
        actor: Some("https://spam.example/users/x".into()),
        actor_host: Some("spam.example".into()),
        modules: "first-contact".into(),
        decision: r#"{"action":"quarantine","reasons":[]}"#.into(),
        text: Some(text.into()),
    }
}

/// An admin API call (`path` under `/admin/v1/`) with the bearer token.
async fn admin(s: &Sidecar, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}/admin/v1/{path}", s.p.admin))
        .header("authorization", format!("Bearer {TOKEN}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.expect("the admin listener answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn status_of(s: &Sidecar, id: i64) -> Value {
    admin(s, Method::GET, &format!("quarantine/{id}"), None)
        .await
        .1["status"]
        .clone()
}

/// An upstream that counts the requests it gets and answers each 202
/// after `delay` (a real server's answer takes time too).
async fn slow_upstream(delay: Duration) -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let n = Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                loop {
                    let mut buf = vec![0u8; 65536];
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    let answer = b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n";
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, n)
}

fn held_gauge(metrics: &str) -> i64 {
    let line = metrics
        .lines()
        .find(|l| l.starts_with("palisade_quarantine_held "))
        .expect("the held gauge");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_releases_deliver_once_and_a_drop_during_a_release_does_not_hide_it() {
    let (url, delivered) = slow_upstream(Duration::from_millis(300)).await;
    let s = sidecar(Some(&url)).await;
    let id = s.p.app.quarantine.hold(&hold(1000, "hello")).unwrap();
    let gauge_before = held_gauge(&palisade_e2e::metrics(&s.p.url).await);
    let path = format!("quarantine/{id}/release");
    let (a, b, c, dropped) = tokio::join!(
        admin(&s, Method::POST, &path, None),
        admin(&s, Method::POST, &path, None),
        admin(&s, Method::POST, &path, None),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            admin(&s, Method::POST, &format!("quarantine/{id}/drop"), None).await
        }
    );
    let ok = [&a, &b, &c].iter().filter(|r| r.0 == 200).count();
    let gauge_after = held_gauge(&palisade_e2e::metrics(&s.p.url).await);
    let status = status_of(&s, id).await;
    eprintln!(
        "releases answered 200: {ok}; drop: {dropped:?}; upstream got {}; status {status}; held gauge {gauge_before} -> {gauge_after}",
        delivered.load(Ordering::SeqCst)
    );
    assert_eq!(delivered.load(Ordering::SeqCst), 1, "delivered once");
    assert_eq!(ok, 1, "one release succeeds");
    assert!(
        dropped.0 != 200 || status == "dropped" && ok == 0,
        "a drop that succeeds means nothing was delivered"
    );
    assert_eq!(
        gauge_before - gauge_after,
        1,
        "the gauge counts one entry once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_release_does_not_deliver_twice() {
    let (url, delivered) = slow_upstream(Duration::from_millis(500)).await;
    let s = sidecar(Some(&url)).await;
    let id = s.p.app.quarantine.hold(&hold(1000, "hello")).unwrap();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let gone = impatient
        .post(format!("{}/admin/v1/quarantine/{id}/release", s.p.admin))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up");
    // The release goes on without its client: the entry becomes released.
    let mut status = status_of(&s, id).await;
    for _ in 0..600 {
        if status != "held" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = status_of(&s, id).await;
    }
    assert_eq!(status, "released");
    let again = admin(&s, Method::POST, &format!("quarantine/{id}/release"), None).await;
    eprintln!(
        "after the cancelled release: status {status}; again: {}; upstream got {}",
        again.0,
        delivered.load(Ordering::SeqCst)
    );
    assert_eq!(again.0, 409, "released already: {again:?}");
    assert_eq!(delivered.load(Ordering::SeqCst), 1, "delivered once in all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_a_store_cannot_compare_are_refused_not_wrapped() {
    let s = sidecar(None).await;
    s.p.app.quarantine.hold(&hold(1000, "one")).unwrap();
    let past_i64 = u64::MAX;
    for query in [
        format!("quarantine/count?after={past_i64}"),
        format!("quarantine?before={past_i64}"),
        "quarantine/count?module=a,b".to_owned(),
    ] {
        let (code, answer) = admin(&s, Method::GET, &query, None).await;
        assert_eq!(code, 400, "{query}: {answer}");
    }
    let (code, answer) = admin(
        &s,
        Method::POST,
        "quarantine/drop",
        Some(json!({ "after": past_i64 })),
    )
    .await;
    assert_eq!(code, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("after"),
        "{answer}"
    );
    assert_eq!(s.p.app.quarantine.held().unwrap(), 1, "nothing dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_and_the_bulk_action_after_it_read_a_filter_alike() {
    let s = sidecar(None).await;
    let a = s.p.app.quarantine.hold(&hold(1000, "one")).unwrap();
    let b = s.p.app.quarantine.hold(&hold(2000, "two")).unwrap();
    // A blank field is no criterion, in the count as in the bulk body.
    let (_, counted) = admin(&s, Method::GET, "quarantine/count?actor_host=%20", None).await;
    assert_eq!(counted["count"], 2, "{counted}");
    let (_, dropped) = admin(
        &s,
        Method::POST,
        "quarantine/drop",
        Some(json!({"actor_host": " ", "max_id": counted["max_id"]})),
    )
    .await;
    assert_eq!(dropped["dropped"], json!([a, b]), "{dropped}");
    // A count is of held entries: another status is refused, not counted.
    let (code, answer) = admin(&s, Method::GET, "quarantine/count?status=dropped", None).await;
    assert_eq!(code, 400, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bulk_drop_during_a_release_leaves_that_entry_to_it() {
    let (url, delivered) = slow_upstream(Duration::from_millis(300)).await;
    let s = sidecar(Some(&url)).await;
    let a = s.p.app.quarantine.hold(&hold(1000, "released")).unwrap();
    let b = s.p.app.quarantine.hold(&hold(2000, "dropped")).unwrap();
    let release = format!("quarantine/{a}/release");
    let (released, dropped) = tokio::join!(admin(&s, Method::POST, &release, None), async {
        // While the upstream takes its time over the release.
        while delivered.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        admin(&s, Method::POST, "quarantine/drop", Some(json!({}))).await
    });
    assert_eq!(released.0, 200, "{released:?}");
    assert_eq!(
        dropped.1["dropped"],
        json!([b]),
        "the one being released is skipped"
    );
    assert_eq!(status_of(&s, a).await, "released");
    assert_eq!(delivered.load(Ordering::SeqCst), 1);
    let (_, held) = admin(&s, Method::GET, "quarantine/held", None).await;
    assert_eq!(held["held"], 0);
    let metrics = palisade_e2e::metrics(&s.p.url).await;
    assert_eq!(held_gauge(&metrics), 0, "the gauge agrees");
}
