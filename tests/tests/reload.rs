//! Hot reload end to end: a running sidecar watching its drop-in folder,
//! its configuration and its lists, over loopback HTTP.
//!
//! Waits poll for the awaited state with a generous deadline (a safety
//! net, not a speed claim: the time from a file landing to the first
//! verdict is measured by `cargo bench -p palisade --bench reload`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use palisade::server::App;
use palisade_e2e::{TempDir, fixture};
use serde_json::{Value, json};

const TOKEN: &str = "reload-test-token";
const PATIENCE: Duration = Duration::from_secs(30);

struct Sidecar {
    app: Arc<App>,
    url: String,
    admin: String,
    dir: TempDir,
    http: reqwest::Client,
}

/// Start a sidecar from `config` written to `palisade.toml` in a fresh
/// folder (with an empty `policies.d/` beside it); `server` goes in
/// `[server]`, `log` is the decision log's output.
async fn start(tag: &str, config: &str, server: &str, log: &str) -> Sidecar {
    start_with(tag, config, server, log, &[]).await
}

/// `start`, with `files` (name, contents) written beside the
/// configuration first.
async fn start_with(
    tag: &str,
    config: &str,
    server: &str,
    log: &str,
    files: &[(&str, &str)],
) -> Sidecar {
    let dir = TempDir::new(&format!("reload-{tag}"));
    std::fs::create_dir_all(dir.0.join("policies.d")).unwrap();
    for (name, contents) in files {
        std::fs::write(dir.0.join(name), contents).unwrap();
    }
    let text = format!(
        "{config}\n[server]\nlisten = \"127.0.0.1:0\"\n{server}\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [decision_log]\noutput = \"{log}\"\n[policies]\ndebounce_ms = 50\n[cache]\ndir = \"cache\"\n"
    );
    let running = palisade_e2e::serve_config_file(&dir.0, &text, TOKEN).await;
    Sidecar {
        app: running.app,
        url: running.url,
        admin: running.admin,
        dir,
        http: reqwest::Client::new(),
    }
}

impl Sidecar {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    async fn judge(&self, activity: &str) -> Value {
        let response = self
            .http
            .post(format!("{}/v1/judge", self.url))
            .header("content-type", "application/activity+json")
            .body(activity.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn status(&self) -> Value {
        self.http
            .get(format!("{}/admin/v1/policies", self.admin))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Judge `activity` until `check` holds for the decision; the time
    /// that took.
    async fn until_decision(&self, activity: &str, what: &str, check: impl Fn(&Value) -> bool) {
        let started = Instant::now();
        loop {
            let decision = self.judge(activity).await;
            if check(&decision) {
                eprintln!("{what}: after {:?}", started.elapsed());
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{what}: never happened; last decision {decision:#}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn until_status(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let status = self.status().await;
            if check(&status) {
                return status;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{what}: never happened; last status {status:#}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Write `bytes` to `path` the way deployment tools do: to a hidden
/// temporary file in the same folder, then rename it into place.
fn put_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A post with more hashtags than words: `hashtag-stuffing` scores it.
fn stuffed(actor: &str) -> String {
    let tags = ["a", "b", "c", "d", "e", "f"];
    json!({
        "type": "Create",
        "actor": actor,
        "object": {
            "type": "Note",
            "content": format!("<p>buy {}</p>", tags.map(|t| format!("#{t}")).join(" ")),
            "tag": tags.map(|t| json!({"type": "Hashtag", "name": format!("#{t}")})),
        }
    })
    .to_string()
}

fn verdict_of<'a>(decision: &'a Value, module: &str) -> Option<&'a Value> {
    decision["trace"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["module"] == module)
}

fn points_of(decision: &Value, module: &str) -> Option<f64> {
    verdict_of(decision, module).and_then(|t| t["points"].as_f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_in_module_goes_live_survives_a_broken_overwrite_and_leaves_when_deleted() {
    let sidecar = start("drop-in", "policy = []", "", "off").await;
    let activity = stuffed("https://spam.example/users/bot1");
    let wasm = std::fs::read(fixture("hashtag-stuffing")).unwrap();
    let target = sidecar.path("policies.d/hashtag-stuffing.wasm");
    assert_eq!(
        verdict_of(&sidecar.judge(&activity).await, "hashtag-stuffing"),
        None
    );

    // Dropped in (renamed into place): it judges.
    put_atomically(&target, &wasm);
    sidecar
        .until_decision(&activity, "dropped-in module judging", |d| {
            points_of(d, "hashtag-stuffing") == Some(4.0)
        })
        .await;

    // Overwritten in place with half a module: the status names the
    // failure, and the old version keeps judging.
    std::fs::write(&target, &wasm[..wasm.len() / 2]).unwrap();
    let status = sidecar
        .until_status("broken module reported", |s| {
            s["failures"].as_array().unwrap().len() == 1
        })
        .await;
    let failure = &status["failures"][0];
    assert!(
        failure["source"]
            .as_str()
            .unwrap()
            .ends_with("hashtag-stuffing.wasm"),
        "{failure}"
    );
    assert!(
        failure["error"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly component"),
        "{failure}"
    );
    assert!(
        failure["serving"]
            .as_str()
            .unwrap()
            .contains("previous version (hashtag-stuffing 0.1.0"),
        "{failure}"
    );
    assert_eq!(status["last_reload"]["result"], "partial");
    assert_eq!(status["modules"][0]["name"], "hashtag-stuffing");
    assert_eq!(
        points_of(&sidecar.judge(&activity).await, "hashtag-stuffing"),
        Some(4.0)
    );
    let metrics = palisade_e2e::metrics(&sidecar.url).await;
    assert!(
        metrics.contains("palisade_module_load_failures 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("palisade_last_reload_successful 0"),
        "{metrics}"
    );

    // Fixed, with new settings beside it: the new version judges.
    std::fs::write(
        sidecar.path("policies.d/hashtag-stuffing.toml"),
        "[config]\npoints = 7.5\n",
    )
    .unwrap();
    std::fs::write(&target, &wasm).unwrap();
    sidecar
        .until_decision(&activity, "fixed module judging", |d| {
            points_of(d, "hashtag-stuffing") == Some(7.5)
        })
        .await;
    let status = sidecar
        .until_status("failure cleared", |s| {
            s["failures"].as_array().unwrap().is_empty()
        })
        .await;
    assert_eq!(status["last_reload"]["result"], "ok");

    // Settings the module refuses: the previous settings stay.
    std::fs::write(
        sidecar.path("policies.d/hashtag-stuffing.toml"),
        "[config]\npionts = 1.0\n",
    )
    .unwrap();
    let status = sidecar
        .until_status("refused settings reported", |s| {
            s["failures"].as_array().unwrap().len() == 1
        })
        .await;
    assert!(
        status["failures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("pionts"),
        "{status:#}"
    );
    assert_eq!(
        points_of(&sidecar.judge(&activity).await, "hashtag-stuffing"),
        Some(7.5)
    );

    // Deleted: it no longer judges.
    std::fs::remove_file(sidecar.path("policies.d/hashtag-stuffing.toml")).unwrap();
    std::fs::remove_file(&target).unwrap();
    sidecar
        .until_decision(&activity, "deleted module gone", |d| {
            verdict_of(d, "hashtag-stuffing").is_none()
        })
        .await;
    // Editors' leftovers in the folder are not modules.
    std::fs::write(sidecar.path("policies.d/.hashtag-stuffing.wasm.swp"), &wasm).unwrap();
    std::fs::write(sidecar.path("policies.d/hashtag-stuffing.wasm~"), &wasm).unwrap();
    sidecar
        .app
        .reload(palisade::server::Trigger::Admin)
        .unwrap();
    assert!(
        sidecar.app.palisade.policies().modules().is_empty(),
        "editor files were loaded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_to_the_configuration_and_lists_apply_and_a_broken_configuration_changes_nothing() {
    let sidecar = start_with(
        "config",
        r#"
[[policy]]
source = "builtin:domain-list"
grants = ["log", "lists"]
config = { lists = ["blocked"] }

[lists.blocked]
path = "blocklist.txt"
severity = "suspend"
"#,
        "",
        "off",
        &[("blocklist.txt", "# blocked hosts\nother.example\n")],
    )
    .await;
    let blocklist = sidecar.path("blocklist.txt");
    let activity = palisade_e2e::note("https://spam.example/users/bot1", "hello there");
    sidecar
        .until_decision(&activity, "first list read", |d| d["action"] == "accept")
        .await;

    // A host added to the list file.
    std::fs::write(&blocklist, "other.example\nspam.example\n").unwrap();
    sidecar
        .until_decision(&activity, "list edit applied", |d| d["action"] == "reject")
        .await;

    // The configuration rewritten the way editors save: the module now
    // only scores (in shadow mode its verdict no longer counts).
    let config_path = sidecar.path("palisade.toml");
    let text = std::fs::read_to_string(&config_path).unwrap();
    put_atomically(
        &config_path,
        text.replace(
            "grants = [\"log\", \"lists\"]",
            "grants = [\"log\", \"lists\"]\nmode = \"shadow\"",
        )
        .as_bytes(),
    );
    sidecar
        .until_decision(&activity, "configuration edit applied", |d| {
            d["action"] == "accept"
                && verdict_of(d, "domain-list").is_some_and(|t| t["mode"] == "shadow")
        })
        .await;

    // A broken configuration: nothing changes, the status says why.
    std::fs::write(
        &config_path,
        format!("{text}\n[thresholds]\nreject = \"high\"\n"),
    )
    .unwrap();
    let status = sidecar
        .until_status("broken configuration reported", |s| {
            s["last_reload"]["result"] == "failed"
        })
        .await;
    let error = status["last_reload"]["error"].as_str().unwrap();
    assert!(error.contains("palisade.toml"), "{error}");
    assert!(error.contains("reject"), "{error}");
    let decision = sidecar.judge(&activity).await;
    assert_eq!(
        verdict_of(&decision, "domain-list").unwrap()["mode"],
        "shadow"
    );

    // A list that cannot be read keeps its previous contents.
    std::fs::remove_file(&blocklist).unwrap();
    put_atomically(&config_path, text.as_bytes());
    let status = sidecar
        .until_status("unreadable list reported", |s| {
            s["failures"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["source"] == "list blocked")
        })
        .await;
    let failure = status["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["source"] == "list blocked")
        .unwrap();
    assert!(
        failure["serving"]
            .as_str()
            .unwrap()
            .contains("previous contents"),
        "{failure}"
    );
    assert_eq!(sidecar.judge(&activity).await["action"], "reject");
}

/// A bare upstream that counts what reaches it.
async fn counting_upstream() -> (String, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    let router = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::Relaxed);
            axum::http::StatusCode::ACCEPTED
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_reloads_under_traffic_fail_no_request_and_lose_no_decision() {
    let (upstream, forwarded) = counting_upstream().await;
    let sidecar = start(
        "load",
        "policy = []\n[thresholds]\nquarantine = 6.0\nreject = 6.0\n",
        &format!("upstream = \"{upstream}\""),
        "decisions.jsonl",
    )
    .await;
    let wasm = std::fs::read(fixture("hashtag-stuffing")).unwrap();
    let module = sidecar.path("policies.d/hashtag-stuffing.wasm");
    let settings = sidecar.path("policies.d/hashtag-stuffing.toml");
    std::fs::write(&settings, "[config]\npoints = 8.0\n").unwrap();
    put_atomically(&module, &wasm);
    let spam = stuffed("https://spam.example/users/bot1");
    sidecar
        .until_decision(&spam, "module live", |d| {
            verdict_of(d, "hashtag-stuffing").is_some()
        })
        .await;

    // Two clients post to the inbox until the reloads are done (bounded
    // by a count as well).
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..2 {
        let (done, url, http) = (done.clone(), sidecar.url.clone(), sidecar.http.clone());
        clients.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..20_000u32 {
                if done.load(Ordering::Relaxed) && i > 0 {
                    break;
                }
                let body = if i % 2 == 0 {
                    stuffed(&format!("https://spam.example/users/c{client}-{i}"))
                } else {
                    palisade_e2e::note(
                        &format!("https://fine.example/users/c{client}-{i}"),
                        "an ordinary post",
                    )
                };
                let status = http
                    .post(format!("{url}/inbox"))
                    .header("content-type", "application/activity+json")
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                statuses.push(status);
            }
            statuses
        }));
    }

    // Fifty reloads: the admin API, SIGHUP's path, and changes the watch
    // sees, with the module's settings flipping so that modules are really
    // replaced.
    for n in 0..50 {
        match n % 3 {
            0 => {
                let response = sidecar
                    .http
                    .post(format!("{}/admin/v1/reload", sidecar.admin))
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
            1 => {
                let app = sidecar.app.clone();
                tokio::task::spawn_blocking(move || app.reload(palisade::server::Trigger::Signal))
                    .await
                    .unwrap()
                    .unwrap();
            }
            _ => {
                let points = if n % 2 == 0 { 7.0 } else { 8.0 };
                std::fs::write(&settings, format!("[config]\npoints = {points}\n")).unwrap();
                sidecar
                    .until_decision(&spam, "settings reloaded", |d| {
                        points_of(d, "hashtag-stuffing") == Some(points)
                    })
                    .await;
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    let mut statuses = Vec::new();
    for client in clients {
        statuses.extend(client.await.unwrap());
    }
    let sent = statuses.len() as u64;
    let failed: Vec<_> = statuses.iter().filter(|s| **s != 202).collect();
    assert!(
        failed.is_empty(),
        "{} of {sent} requests failed: {failed:?}",
        failed.len()
    );
    assert!(sent >= 2, "the clients sent nothing");

    // Every request has its decision in the log, and each was either
    // forwarded or dropped as its decision says.
    let log = std::fs::read_to_string(sidecar.path("decisions.jsonl")).unwrap();
    let inbox: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["path"] == "/inbox")
        .collect();
    assert_eq!(
        inbox.len() as u64,
        sent,
        "decisions logged vs requests sent"
    );
    let forwards = inbox.iter().filter(|r| r["action"] == "accept").count() as u64;
    assert!(
        forwards > 0 && forwards < sent,
        "{forwards} of {sent} forwarded"
    );
    assert_eq!(forwarded.load(Ordering::Relaxed), forwards);
    assert_eq!(
        inbox.iter().filter(|r| r["action"] == "reject").count() as u64,
        sent - forwards
    );
    eprintln!("{sent} requests across 50 reloads, {forwards} forwarded");
}
