//! The sidecar end to end, over loopback HTTP: a real HTTP-signature
//! implementation (Misskey's, from npm) signs activities; Palisade sits in
//! front of an upstream that verifies them with the same library.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use palisade::server::{App, ServeOptions};
use palisade_e2e::remote::{SignOptions, Upstream, example_keys, sign_post};
use palisade_e2e::{QUARANTINE_AT_3, TempDir, root};
use serde_json::Value;

const TOKEN: &str = "test-admin-token";

async fn upstream() -> Upstream {
    Upstream::start(example_keys()).await
}

/// A running Palisade on ephemeral ports.
struct Sidecar {
    app: Arc<App>,
    url: String,
    admin: String,
    _dir: TempDir,
}

async fn sidecar(upstream: Option<&str>, extra: &str) -> Sidecar {
    sidecar_with(upstream, extra, "").await
}

/// `extra` goes at the top of the configuration, `server_extra` in `[server]`.
async fn sidecar_with(upstream: Option<&str>, extra: &str, server_extra: &str) -> Sidecar {
    let temp = TempDir::new("sidecar");
    let dir = temp.0.clone();
    let upstream_line = upstream
        .map(|u| format!("upstream = \"{u}\""))
        .unwrap_or_default();
    let text = format!(
        "{extra}\n[server]\nlisten = \"127.0.0.1:0\"\nbody_limit_kib = 64\n{upstream_line}\n{server_extra}\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n[decision_log]\noutput = \"off\"\n"
    );
    let text = palisade_e2e::established(&text);
    let mut config = palisade::Config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    config.base_dir = dir.clone();
    let running = palisade_e2e::serve_in_process(
        config,
        ServeOptions {
            admin_token: Some(TOKEN.into()),
            ..Default::default()
        },
    )
    .await;
    Sidecar {
        app: running.app,
        url: running.url,
        admin: running.admin,
        _dir: temp,
    }
}

/// A request to the sidecar's admin API with the admin token.
async fn admin(
    p: &Sidecar,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}/admin/v1/{path}", p.admin))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("the admin API answers")
}

/// Sign `file` as its actor and POST it to `url`; the response status.
async fn signed_post(url: &str, file: &Path) -> u16 {
    let body = std::fs::read(file).unwrap();
    let answers = sign_post(
        example_keys(),
        url,
        "mastodon.example",
        &body,
        &SignOptions::default(),
    )
    .await;
    answers[0].status
}

async fn received(upstream: &Upstream) -> Vec<Value> {
    upstream.received().await
}

fn example(name: &str) -> PathBuf {
    root().join("examples/activities").join(name)
}

fn sha256(bytes: &[u8]) -> String {
    palisade::runtime::sha256_hex(bytes)
}

/// One line of wave.jsonl as its own file.
fn wave_line(n: usize, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(example("wave.jsonl")).unwrap();
    let path = dir.join(format!("wave-{n}.json"));
    std::fs::write(&path, text.lines().nth(n).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legitimate_activities_verify_upstream_and_the_wave_never_arrives() {
    let up = upstream().await;
    let p = sidecar(Some(&up.url), "").await;
    let inbox = format!("{}/users/alice/inbox", p.url);

    assert_eq!(
        signed_post(&inbox, &example("reply.json")).await,
        202,
        "the upstream's own answer"
    );
    assert_eq!(
        signed_post(&inbox, &example("wave.json")).await,
        202,
        "rejected, answered 202"
    );

    let got = received(&up).await;
    assert_eq!(got.len(), 1, "only the reply reached the upstream: {got:?}");
    assert_eq!(got[0]["verified"], true, "{:?}", got[0]["error"]);
    assert_eq!(got[0]["host"], "mastodon.example");
    assert_eq!(got[0]["path"], "/users/alice/inbox");
    let body = std::fs::read(example("reply.json")).unwrap();
    assert_eq!(got[0]["bodySha256"], sha256(&body), "byte for byte");

    let metrics = palisade_e2e::metrics(&p.url).await;
    assert!(
        metrics.contains("palisade_activities_total{action=\"reject\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("palisade_upstream_responses_total{class=\"2xx\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains(
        "palisade_module_duration_seconds_bucket{module=\"mention-limit\",le=\"0.00005\"}"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_activity_is_held_listed_and_verifies_once_released() {
    let up = upstream().await;
    // first-contact scores 3 for a new actor mentioning a local user.
    let p = sidecar(Some(&up.url), QUARANTINE_AT_3).await;
    let held_file = wave_line(0, &p._dir.0);
    assert_eq!(
        signed_post(&format!("{}/inbox", p.url), &held_file).await,
        202
    );
    assert!(received(&up).await.is_empty(), "held, not delivered");

    let list: Value = admin(&p, reqwest::Method::GET, "quarantine", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["held"], 1);
    let entry = &list["entries"][0];
    assert_eq!(entry["status"], "held");
    assert_eq!(entry["modules"], serde_json::json!(["first-contact"]));
    assert_eq!(entry["actor_host"], "misskey.spam.example");
    let id = entry["id"].as_i64().unwrap();

    let release = format!("quarantine/{id}/release");
    let released: Value = admin(&p, reqwest::Method::POST, &release, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(released["status"], "released", "{released}");
    assert_eq!(released["upstream_status"], 202);
    let got = received(&up).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]["verified"], true,
        "the original signature still verifies: {:?}",
        got[0]["error"]
    );
    assert_eq!(
        got[0]["bodySha256"],
        sha256(&std::fs::read(&held_file).unwrap())
    );

    // Released once; a second release is a conflict, not a second delivery.
    let again = admin(&p, reqwest::Method::POST, &release, None).await;
    assert_eq!(again.status().as_u16(), 409);
    assert_eq!(p.app.quarantine.held().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_upstream_down_the_sender_is_told_to_retry() {
    // A port nothing listens on: bind, note, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = sidecar(Some(&format!("http://127.0.0.1:{port}")), "").await;
    let status = signed_post(
        &format!("{}/users/alice/inbox", p.url),
        &example("reply.json"),
    )
    .await;
    assert_eq!(status, 502);
    let get = reqwest::get(format!("{}/users/alice", p.url))
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 502);
}

/// An upstream that reads each request's first bytes, writes `answer`
/// (nothing, or a head with less body than it promised) and then holds the
/// connection open without another byte. Its URL, and the task to abort.
async fn holding_upstream(answer: &'static [u8]) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(answer).await;
            open.push(socket);
        }
    });
    (url, task)
}

/// An upstream that sends a head and then stalls its body: the relayed
/// body fails after `server.upstream_timeout_ms` without data instead of
/// holding the connection for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upstream_body_is_cut_after_the_timeout() {
    let (url, held) = holding_upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc").await;
    let p = sidecar_with(Some(&url), "", "upstream_timeout_ms = 300").await;
    let r = reqwest::get(format!("{}/users/alice", p.url))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Without the idle bound this read never ends; the outer timeout only
    // turns such a hang into a failure.
    let body = tokio::time::timeout(std::time::Duration::from_secs(60), r.bytes())
        .await
        .expect("the stalled body was never cut");
    assert!(body.is_err(), "a truncated body must not look complete");
    held.abort();
}

/// An upstream URL with a path (`http://host/base`): every request goes
/// under it, query kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_path_prefixes_every_request() {
    let up = upstream().await;
    let p = sidecar(Some(&format!("{}/base/", up.url)), "").await;
    let r = reqwest::get(format!("{}/users/alice?page=2", p.url))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["path"], "/base/users/alice?page=2");
}

/// An upstream that takes connections and never answers: an accepted
/// delivery is answered 504 after `server.upstream_timeout_ms` (not
/// acknowledged, so the sender retries), and the sidecar keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upstream_is_answered_504_within_the_timeout() {
    let (url, held) = holding_upstream(b"").await;
    let p = sidecar_with(Some(&url), "", "upstream_timeout_ms = 300").await;
    // 504 can only come from the timeout: this upstream never answers.
    let status = signed_post(
        &format!("{}/users/alice/inbox", p.url),
        &example("reply.json"),
    )
    .await;
    assert_eq!(status, 504);
    let get = reqwest::get(format!("{}/users/alice", p.url))
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 504);
    let ready = reqwest::get(format!("{}/readyz", p.url)).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_inbox_requests_pass_through_and_bodies_over_the_limit_get_413() {
    let up = upstream().await;
    let p = sidecar(Some(&up.url), "").await;
    let r = reqwest::get(format!("{}/users/alice?page=2", p.url))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["path"], "/users/alice?page=2");

    let big = format!(
        "{{\"type\":\"Create\",\"content\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    let r = reqwest::Client::new()
        .post(format!("{}/inbox", p.url))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert!(received(&up).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_judge_api_answers_with_decisions_and_positioned_errors() {
    let p = sidecar(None, "").await;
    let client = reqwest::Client::new();
    let wave = std::fs::read(example("wave.json")).unwrap();
    let r = client
        .post(format!("{}/v1/judge", p.url))
        .body(wave)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["action"], "reject");
    assert!(
        d["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("mention-limit: 10 mentions")
    );

    let r = client
        .post(format!("{}/v1/judge", p.url))
        .body("{\"type\": \"Create\",\n \"actor\": }")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_u64()),
        (Some(2), Some(11))
    );

    // Without an upstream, other paths say what this Palisade serves.
    let r = reqwest::get(format!("{}/users/alice/inbox", p.url))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let ready = reqwest::get(format!("{}/readyz", p.url)).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_needs_the_token() {
    let p = sidecar(None, "").await;
    let client = reqwest::Client::new();
    for auth in [None, Some("Bearer wrong"), Some("test-admin-token")] {
        let mut req = client.get(format!("{}/admin/v1/policies", p.admin));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        assert_eq!(req.send().await.unwrap().status().as_u16(), 401, "{auth:?}");
    }
    let r: Value = admin(&p, reqwest::Method::GET, "policies", None)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = r["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "mention-limit",
            "first-contact",
            "account-facts",
            "duplicate-burst",
            "newcomer-burst",
            "domain-list"
        ]
    );
    assert_eq!(r["modules"][0]["sha256"].as_str().unwrap().len(), 64);
    // The admin routes are not on the main listener.
    let main = client
        .get(format!("{}/admin/v1/policies", p.url))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_drops_and_recent_decisions_by_filter() {
    let up = upstream().await;
    let p = sidecar(Some(&up.url), QUARANTINE_AT_3).await;
    for n in 0..3 {
        let file = wave_line(n, &p._dir.0);
        assert_eq!(signed_post(&format!("{}/inbox", p.url), &file).await, 202);
    }
    assert_eq!(p.app.quarantine.held().unwrap(), 3);
    let filter =
        serde_json::json!({"actor_host": "misskey.spam.example", "module": "first-contact"});
    let dropped: Value = admin(&p, reqwest::Method::POST, "quarantine/drop", Some(filter))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dropped["dropped"].as_array().unwrap().len(), 3, "{dropped}");
    assert_eq!(p.app.quarantine.held().unwrap(), 0);
    assert!(received(&up).await.is_empty(), "dropped, never delivered");

    let recent: Value = admin(
        &p,
        reqwest::Method::GET,
        "decisions?action=quarantine&module=first-contact&limit=2",
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let recent = recent["decisions"].as_array().unwrap();
    assert_eq!(recent.len(), 2);
    assert!(
        recent[0]["quarantine_id"].as_i64().unwrap() > recent[1]["quarantine_id"].as_i64().unwrap()
    );
    assert_eq!(
        recent[0]["actor"],
        "https://misskey.spam.example/users/9pz1bot002"
    );
    assert!(
        recent[0].get("text").is_none(),
        "text is redacted by default"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_inbox_bodies_are_refused_unless_forwarding_is_chosen() {
    let up = upstream().await;
    let client = reqwest::Client::new();
    // By default what Palisade cannot judge never reaches the server.
    let refuse = sidecar(Some(&up.url), "").await;
    for body in ["not json", "[1,2]", "{\"type\":\"Create\""] {
        let r = client
            .post(format!("{}/inbox", refuse.url))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{body}");
    }
    assert!(
        received(&up).await.is_empty(),
        "refused bodies never reach the upstream"
    );
    let metrics = palisade_e2e::metrics(&refuse.url).await;
    assert!(
        metrics.contains("palisade_unjudged_requests_total{reason=\"non_json\"} 3"),
        "{metrics}"
    );
    // ...and each refusal is in the decision log, with why.
    let logged = refuse.app.log.recent(&Default::default(), 10);
    assert_eq!(logged.len(), 3);
    assert!(logged.iter().all(|r| r.decision.error.is_some()));

    // The documented opt-out forwards them unjudged, for the server to decide.
    let forward = sidecar_with(Some(&up.url), "", "non_json = \"forward\"").await;
    let r = client
        .post(format!("{}/inbox", forward.url))
        .body("not json")
        .send()
        .await
        .unwrap();
    // The upstream refuses the unsigned body itself.
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(received(&up).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_module_that_fails_to_load_keeps_the_sidecar_unready() {
    let files = TempDir::new("missing-module");
    let broken = files.0.join("broken.wasm");
    std::fs::write(&broken, b"not a module").unwrap();
    let entry = format!(
        "[[policy]]\nsource = \"builtin:mention-limit\"\n[[policy]]\nsource = \"{}\"\n",
        broken.display()
    );
    let up = upstream().await;
    let p = sidecar(Some(&up.url), &entry).await;
    let r = reqwest::get(format!("{}/readyz", p.url)).await.unwrap();
    assert_eq!(
        r.status().as_u16(),
        503,
        "judging without a configured module"
    );
    // Nor does it judge without it: inbox deliveries are told to retry.
    let delivery = reqwest::Client::new()
        .post(format!("{}/users/alice/inbox", p.url))
        .body(std::fs::read(example("reply.json")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(delivery.status().as_u16(), 503);
    assert!(received(&up).await.is_empty());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["ready"], false);
    assert_eq!(body["missing"][0]["source"], broken.display().to_string());
    assert!(
        body["missing"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly component"),
        "{body}"
    );
    let metrics = palisade_e2e::metrics(&p.url).await;
    assert!(metrics.contains("palisade_modules_missing 1"), "{metrics}");

    // The admin may choose to start degraded.
    let degraded = sidecar(None, &format!("{entry}[policies]\nallow_missing = true\n")).await;
    let r = reqwest::get(format!("{}/readyz", degraded.url))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// `wave.json` with `edit` applied to its text, as raw bytes.
fn quirky_wave(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut body = std::fs::read(example("wave.json")).unwrap();
    edit(&mut body);
    body
}

fn insert_after(body: &mut Vec<u8>, needle: &str, what: &[u8]) {
    let at = body
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("{needle} not in the body"))
        + needle.len();
    body.splice(at..at, what.iter().copied());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wave_posts_with_quirks_the_servers_accept_are_judged_not_forwarded() {
    let up = upstream().await;
    let p = sidecar(Some(&up.url), "").await;
    let client = reqwest::Client::new();
    let deep = format!("\"x\":{}{},", "[".repeat(300), "]".repeat(300));
    let variants: Vec<(&str, Vec<u8>)> = vec![
        (
            "a decoy duplicate key before the real object",
            quirky_wave(|b| {
                insert_after(b, "{", br#""object":{"type":"Note","content":"hello"},"#)
            }),
        ),
        (
            "a wrong-typed field",
            quirky_wave(|b| insert_after(b, "\"object\": {", br#""sensitive":"false","#)),
        ),
        (
            "a comment",
            quirky_wave(|b| insert_after(b, "{", b"/* hi */")),
        ),
        (
            "a NUL after the document",
            quirky_wave(|b| b.extend_from_slice(b"\0")),
        ),
        (
            "300 nested arrays in a field nobody reads",
            quirky_wave(|b| insert_after(b, "{", deep.as_bytes())),
        ),
        (
            "an invalid UTF-8 byte in the text",
            quirky_wave(|b| insert_after(b, "\"content\": \"", b"\xff")),
        ),
        (
            "a lone surrogate in the text",
            quirky_wave(|b| insert_after(b, "\"content\": \"", br"\ud800")),
        ),
    ];
    for (what, body) in &variants {
        let r = client
            .post(format!("{}/users/alice/inbox", p.url))
            .header("content-type", "application/activity+json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202, "{what}: rejected, answered 202");
    }
    assert!(
        received(&up).await.is_empty(),
        "no variant reached the upstream"
    );
    let logged = p.app.log.recent(&Default::default(), 20);
    assert_eq!(logged.len(), variants.len());
    for record in &logged {
        assert_eq!(record.decision.action, palisade::Action::Reject);
        assert!(
            record.decision.reasons[0].starts_with("mention-limit: 10 mentions"),
            "{:?}",
            record.decision.reasons
        );
    }
    // What was tolerated is on the record.
    assert!(logged.iter().any(|r| {
        r.decision
            .notes
            .iter()
            .any(|n| n.contains("object.sensitive"))
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_with_a_heart_is_delivered() {
    // `<` followed by a multi-byte character once panicked the handler:
    // the connection closed with no answer and the reply was never delivered.
    let up = upstream().await;
    let p = sidecar(Some(&up.url), "").await;
    let dir = TempDir::new("heart");
    let mut reply: Value =
        serde_json::from_slice(&std::fs::read(example("reply.json")).unwrap()).unwrap();
    reply["object"]["content"] = Value::from("I <3 cats 🐱 and <é");
    let file = dir.0.join("heart.json");
    std::fs::write(&file, serde_json::to_vec(&reply).unwrap()).unwrap();
    assert_eq!(
        signed_post(&format!("{}/users/alice/inbox", p.url), &file).await,
        202
    );
    let got = received(&up).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["verified"], true, "{:?}", got[0]["error"]);
    let logged = p.app.log.recent(&Default::default(), 1);
    assert_eq!(logged[0].decision.action, palisade::Action::Accept);
    assert!(logged[0].decision.error.is_none());
}
