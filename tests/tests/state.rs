//! Module state on its real backends: an embedded SQLite file and a real
//! `redis-server` on loopback. They must count exactly as the in-memory
//! state (which the SDK's test host uses), keep counts across restarts,
//! share them across replicas, and keep judging while Redis is down.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use palisade::config::StateConfig;
use palisade::state::{self, MemoryBackend, RedisBackend, SqliteBackend, StateBackend};
use palisade_e2e::{RedisServer, Serve, TempDir, note};
use serde_json::Value;

/// A deterministic stream of operations (keys, members, windows and clock
/// steps drawn from small sets, so that they collide and expire).
struct Ops(u64);

impl Ops {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Run the same 3,000 operations on `backend` and on the in-memory state;
/// every answer must be the same. Returns the in-memory state and the
/// clock at the end.
fn counts_like_memory(
    backend: &dyn StateBackend,
    what: &str,
    with_ttl: bool,
) -> (MemoryBackend, u64) {
    let memory = MemoryBackend::new();
    let mut ops = Ops(7);
    let mut now: u64 = 1_700_000_000_000;
    let windows = [1u32, 5, 60];
    for step in 0..3000 {
        now += ops.next(2500);
        let ns = ["alpha", "beta"][ops.next(2) as usize];
        // Each key is counted over one window, as modules do: data older
        // than the longest window asked of a key may be forgotten at any
        // time, so a key whose window grows may count differently.
        let k = ops.next(4);
        let key = format!("k{k}");
        let window = windows[(k % 3) as usize];
        let member = format!("m{}", ops.next(6));
        let (a, b) = match ops.next(9) {
            0 => {
                let ttl = if with_ttl { ops.next(4) as u32 } else { 0 };
                let value = format!("v{step}").into_bytes();
                (
                    format!("{:?}", memory.put(ns, &key, &value, ttl, now).is_ok()),
                    format!("{:?}", backend.put(ns, &key, &value, ttl, now).is_ok()),
                )
            }
            1 => (
                format!("{:?}", memory.get(ns, &key, now).unwrap()),
                format!("{:?}", backend.get(ns, &key, now).unwrap()),
            ),
            2 if ops.next(4) == 0 => {
                memory.delete(ns, &key).unwrap();
                backend.delete(ns, &key).unwrap();
                continue;
            }
            2 | 3 => (
                memory.hit(ns, &key, window, now).unwrap().to_string(),
                backend.hit(ns, &key, window, now).unwrap().to_string(),
            ),
            4 => (
                memory.count(ns, &key, window, now).unwrap().to_string(),
                backend.count(ns, &key, window, now).unwrap().to_string(),
            ),
            5 | 6 => (
                memory
                    .distinct_add(ns, &key, &member, window, now)
                    .unwrap()
                    .to_string(),
                backend
                    .distinct_add(ns, &key, &member, window, now)
                    .unwrap()
                    .to_string(),
            ),
            7 => (
                memory
                    .distinct_count(ns, &key, window, now)
                    .unwrap()
                    .to_string(),
                backend
                    .distinct_count(ns, &key, window, now)
                    .unwrap()
                    .to_string(),
            ),
            _ => {
                let subject = format!("actor\0https://h{}.example/u", ops.next(5));
                (
                    memory.first_seen(&subject, now).unwrap().to_string(),
                    backend.first_seen(&subject, now).unwrap().to_string(),
                )
            }
        };
        assert_eq!(a, b, "{what}: step {step} differs from the in-memory state");
    }
    (memory, now)
}

#[test]
fn sqlite_and_redis_count_exactly_as_the_in_memory_state() {
    let dir = TempDir::new("state-diff");
    let sqlite = SqliteBackend::open(&dir.0.join("state.db")).unwrap();
    let (memory, now) = counts_like_memory(&sqlite, "sqlite", true);
    // Reopened, the file holds what memory holds.
    drop(sqlite);
    let reopened = SqliteBackend::open(&dir.0.join("state.db")).unwrap();
    for ns in ["alpha", "beta"] {
        for k in 0..4 {
            let key = format!("k{k}");
            // Each key over its own window (see counts_like_memory).
            {
                let window = [1u32, 5, 60][k % 3];
                assert_eq!(
                    reopened.count(ns, &key, window, now).unwrap(),
                    memory.count(ns, &key, window, now).unwrap(),
                    "{ns}/{key} events over {window}s after reopening"
                );
                assert_eq!(
                    reopened.distinct_count(ns, &key, window, now).unwrap(),
                    memory.distinct_count(ns, &key, window, now).unwrap(),
                    "{ns}/{key} members over {window}s after reopening"
                );
            }
            assert_eq!(
                reopened.get(ns, &key, now).unwrap(),
                memory.get(ns, &key, now).unwrap(),
                "{ns}/{key} value after reopening"
            );
        }
    }
    for h in 0..5 {
        let subject = format!("actor\0https://h{h}.example/u");
        assert_eq!(
            reopened.first_seen(&subject, now + 1).unwrap(),
            memory.first_seen(&subject, now + 1).unwrap()
        );
    }

    let server = RedisServer::start();
    let redis = RedisBackend::new(&server.url(), "test", Duration::from_secs(2)).unwrap();
    // Redis expires values by its own clock, not the activity's: values
    // are compared without a time to live.
    counts_like_memory(&redis, "redis", false);
}

#[test]
fn redis_values_expire_and_namespaces_do_not_meet() {
    let server = RedisServer::start();
    let redis = RedisBackend::new(&server.url(), "test", Duration::from_secs(2)).unwrap();
    let now = palisade::runtime::unix_ms();
    redis.put("alpha", "k", b"short", 1, now).unwrap();
    redis.put("alpha", "kept", b"long", 0, now).unwrap();
    assert_eq!(redis.get("beta", "k", now).unwrap(), None);
    assert_eq!(
        redis.get("alpha", "k", now).unwrap(),
        Some(b"short".to_vec())
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis.get("alpha", "k", now).unwrap().is_some() {
        assert!(Instant::now() < deadline, "the value never expired");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        redis.get("alpha", "kept", now).unwrap(),
        Some(b"long".to_vec())
    );
}

#[test]
fn long_keys_are_stored_by_digest_values_are_capped_and_lifetimes_too() {
    let config = StateConfig {
        url: "memory".into(),
        max_key_bytes: 16,
        max_value_bytes: 32,
        max_ttl_seconds: 10,
        ..StateConfig::default()
    };
    let state = state::open(&config, Path::new(".")).unwrap();
    let now = 1_700_000_000_000;
    // A key past max_key_bytes still counts (refusing it would fail the
    // module, and a failed module is skipped): it is stored by its digest,
    // so equal keys count together and different ones apart.
    let long_key = "k".repeat(17);
    assert_eq!(state.hit("spam-filter", &long_key, 60, now).unwrap(), 1);
    assert_eq!(state.hit("spam-filter", &long_key, 60, now).unwrap(), 2);
    let other = format!("{}x", "k".repeat(16));
    assert_eq!(state.hit("spam-filter", &other, 60, now).unwrap(), 1);
    assert_eq!(
        state
            .distinct_add("spam-filter", &long_key, &"m".repeat(100), 60, now)
            .unwrap(),
        1
    );
    assert_eq!(
        state
            .distinct_add("spam-filter", &long_key, &"m".repeat(100), 60, now)
            .unwrap(),
        1,
        "the same long member once"
    );
    let actor = format!("https://spam.example/users/{}", "a".repeat(100));
    assert_eq!(state.first_seen(&actor, now).unwrap(), now);
    assert_eq!(state.first_seen(&actor, now + 5).unwrap(), now);
    let error = state.put("spam-filter", "k", &[0; 33], 5, now).unwrap_err();
    assert!(
        error
            .message()
            .contains("a value of 33 bytes; state.max_value_bytes is 32"),
        "{error}"
    );
    // Stored "forever", it lives max_ttl_seconds.
    state.put("spam-filter", "k", b"v", 0, now).unwrap();
    assert!(
        state
            .get("spam-filter", "k", now + 9_000)
            .unwrap()
            .is_some()
    );
    assert!(
        state
            .get("spam-filter", "k", now + 10_000)
            .unwrap()
            .is_none()
    );
}

/// The same text from `actors` distinct fresh actors.
/// The same text from the `i`-th fresh account, mentioning someone (a
/// copy that mentions no one reaches no one, and is not counted).
fn copy(i: usize) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&note(
        &format!("https://spam{}.example/users/bot{i}", i % 3),
        "Limited offer!!! Visit our shop for the best prices on everything today",
    ))
    .unwrap();
    v["object"]["tag"] = serde_json::json!([{"type": "Mention", "href": format!("https://social.example/users/u{i}")}]);
    v.to_string()
}

const BURST: &str = r#"
[[policy]]
source = "builtin:duplicate-burst"
grants = ["log", "state"]
[policy.config]
threshold = 4
"#;

#[test]
fn embedded_state_survives_a_restart() {
    let dir = TempDir::new("state-restart");
    let config = format!("{BURST}\n[state]\nurl = \"sqlite:state.db\"\n");
    let first = palisade_e2e::palisade(&config, &dir.0);
    for i in 0..3 {
        assert_eq!(
            palisade_e2e::judge(&first, &copy(i)).action,
            palisade::Action::Accept
        );
    }
    drop(first);
    assert!(dir.0.join("state.db").is_file());
    let second = palisade_e2e::palisade(&config, &dir.0);
    // The fourth copy, after the restart, completes the burst.
    assert_eq!(
        palisade_e2e::judge(&second, &copy(3)).action,
        palisade::Action::Reject
    );

    // In memory (as before this backend), the restart forgets.
    let memory = palisade_e2e::palisade(&format!("{BURST}\n[state]\nurl = \"memory\"\n"), &dir.0);
    assert_eq!(
        palisade_e2e::judge(&memory, &copy(3)).action,
        palisade::Action::Accept
    );
}

async fn judge(http: &reqwest::Client, url: &str, body: String) -> Value {
    let response = http
        .post(format!("{url}/v1/judge"))
        .body(body)
        .send()
        .await
        .expect("the judge API answers");
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Send copies to `replicas` in turn until one is rejected; its number
/// (1-based).
async fn copies_until_rejected(replicas: &[&Serve]) -> usize {
    let http = reqwest::Client::new();
    for i in 0..20 {
        let decision = judge(&http, &replicas[i % replicas.len()].url, copy(i)).await;
        if decision["action"] == "reject" {
            return i + 1;
        }
    }
    panic!("the burst was never detected");
}

fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("palisade.toml");
    std::fs::write(
        &path,
        format!("{BURST}\n[server]\njudge_api_records = true\n[decision_log]\noutput = \"off\"\n[quarantine]\npath = \"q.db\"\n[cache]\ndir = \"cache\"\n[learning]\nhours = 0\n"),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_split_across_two_replicas_on_one_redis_is_caught_as_on_one() {
    let dir = TempDir::new("state-replicas");
    let config = config_file(&dir.0);

    let alone_redis = RedisServer::start();
    let alone = Serve::start(&config, &["--state", &alone_redis.url()]);
    let on_one = copies_until_rejected(&[&alone]).await;

    let shared = RedisServer::start();
    let a = Serve::start(&config, &["--state", &shared.url()]);
    let b = Serve::start(&config, &["--state", &shared.url()]);
    let on_two = copies_until_rejected(&[&a, &b]).await;
    assert_eq!(on_one, 4, "one replica: the threshold-th copy is rejected");
    assert_eq!(
        on_two, on_one,
        "two replicas sharing Redis catch it as quickly"
    );

    // Without shared state, each replica counts alone: slower.
    let c = Serve::start(&config, &["--state", "memory"]);
    let d = Serve::start(&config, &["--state", "memory"]);
    assert!(copies_until_rejected(&[&c, &d]).await > on_one);
}

async fn metric(url: &str, name: &str) -> Option<f64> {
    palisade_e2e::metrics(url)
        .await
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_judging_goes_on_with_local_state_and_recovers() {
    let dir = TempDir::new("state-down");
    let config = config_file(&dir.0);
    let redis = RedisServer::start();
    let serve = Serve::start(&config, &["--state", &redis.url()]);
    let http = reqwest::Client::new();
    for i in 0..2 {
        judge(&http, &serve.url, copy(i)).await;
    }
    assert_ne!(redis.command("DBSIZE").as_deref(), Some(":0"));

    // Redis stops: every activity is still judged, no module fails (a
    // state call that waited past the module's deadline would show as a
    // timeout in the trace), and the outage is reported.
    let port = redis.kill();
    for i in 2..12 {
        let decision = judge(&http, &serve.url, copy(i)).await;
        assert!(
            decision["trace"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t.get("error").is_none()),
            "{decision:#}"
        );
    }
    assert_eq!(
        metric(&serve.url, "palisade_state_backend_degraded").await,
        Some(1.0)
    );
    assert!(
        metric(&serve.url, "palisade_state_backend_errors_total")
            .await
            .unwrap()
            >= 1.0
    );
    assert!(
        serve.log().contains("state backend unreachable"),
        "{}",
        serve.log()
    );

    // Redis returns (empty: it kept nothing): shared state resumes.
    let redis = RedisServer::start_on(port);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = 100;
    loop {
        judge(&http, &serve.url, copy(i)).await;
        i += 1;
        if metric(&serve.url, "palisade_state_backend_degraded").await == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never recovered:\n{}",
            serve.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(redis.command("DBSIZE").as_deref(), Some(":0"));
    assert!(
        serve.log().contains("state backend reachable again"),
        "{}",
        serve.log()
    );
}

/// A module's keys, on every backend, never reach the host's first-seen
/// times: `actor` + URI stored by a module named `actor`, or `actor\0` +
/// URI stored by any module, leaves the actor as new as it was.
#[test]
fn module_keys_never_reach_first_seen_times_on_any_backend() {
    let dir = TempDir::new("state-first-seen");
    let redis_server = RedisServer::start();
    let now = 1_700_000_000_000u64;
    let uri = "https://spam.example/users/new";
    let subject = format!("actor\0{uri}");
    let forged = 0u64.to_le_bytes();
    let check = |backend: &dyn StateBackend, what: &str| {
        assert_eq!(backend.first_seen(&subject, now).unwrap(), now, "{what}");
        backend.put("actor", uri, &forged, 0, now).unwrap();
        backend.put("hoarder", &subject, &forged, 0, now).unwrap();
        assert_eq!(
            backend.first_seen(&subject, now + 1000).unwrap(),
            now,
            "{what}: a module key changed the actor's first-seen time"
        );
        // And what the module stored is still its own.
        assert_eq!(
            backend.get("actor", uri, now).unwrap().as_deref(),
            Some(&forged[..]),
            "{what}"
        );
    };
    check(&MemoryBackend::new(), "memory");
    let path = dir.0.join("state.db");
    check(&SqliteBackend::open(&path).unwrap(), "sqlite");
    // Read back from the file, the host's records are still apart.
    let reopened = SqliteBackend::open(&path).unwrap();
    assert_eq!(
        reopened.first_seen(&subject, now + 2000).unwrap(),
        now,
        "sqlite after reopening"
    );
    let redis = RedisBackend::new(&redis_server.url(), "test", Duration::from_secs(2)).unwrap();
    check(&redis, "redis");
}

/// A module configured under the name `actor` (the host's first-seen
/// namespace) is refused, and whatever a module stores, another module
/// sees the actor's true first-seen time.
#[test]
fn a_module_named_actor_is_refused_and_cannot_age_an_actor() {
    let dir = TempDir::new("state-actor-name");
    let module = palisade_e2e::fixture("hoarder");
    let drop_ins = dir.0.join("policies.d");
    std::fs::create_dir_all(&drop_ins).unwrap();
    std::fs::copy(&module, drop_ins.join("forger.wasm")).unwrap();
    std::fs::write(
        drop_ins.join("forger.toml"),
        "name = \"actor\"\ngrants = [\"log\", \"state\"]\n",
    )
    .unwrap();
    let p = palisade_e2e::palisade(
        &format!(
            "[[policy]]\nsource = \"{}\"\nname = \"watcher\"\ngrants = [\"log\", \"state\"]\n\
             [policies]\ndir = \"policies.d\"\n",
            module.display()
        ),
        &dir.0,
    );
    let set = p.policies();
    let errors: Vec<&str> = set.failures().iter().map(|f| f.error.as_str()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("reserved for the host"), "{errors:?}");

    let actor = "https://spam.example/users/new";
    let before = palisade::runtime::unix_ms();
    palisade_e2e::judge(&p, &note(actor, "forge"));
    palisade_e2e::judge(&p, &note(actor, "forge again"));
    let d = palisade_e2e::judge(&p, &note(actor, "how old am I"));
    let watcher = d.trace.iter().find(|t| t.module == "watcher").unwrap();
    let seen: u64 = watcher
        .reason
        .as_deref()
        .and_then(|r| r.strip_prefix("first-seen=Some("))
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{:?}", watcher.reason));
    assert!(
        seen >= before,
        "first seen at {seen}, before the first judgement at {before}"
    );
}

#[test]
fn module_names_from_settings_are_checked_like_described_names() {
    for (name, why) in [
        ("actor", "reserved for the host"),
        ("host", "reserved for the host"),
        ("palisade", "reserved for the host"),
        ("Spam:Filter", "unusable module name"),
        ("", "unusable module name"),
    ] {
        let error = palisade::Config::parse(&format!(
            "[[policy]]\nsource = \"builtin:mention-limit\"\nname = \"{name}\"\n"
        ))
        .unwrap_err();
        assert!(error.contains(why), "{name}: {error}");
    }
    assert!(
        palisade::Config::parse(
            "[[policy]]\nsource = \"builtin:mention-limit\"\nname = \"mentions_2\"\n"
        )
        .is_ok()
    );
}

/// An upstream on loopback that answers 202 to everything and counts the
/// requests it received.
async fn counting_upstream() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let received = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            axum::http::StatusCode::ACCEPTED
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// Five `/v1/judge` calls with a text (by five actors) do not count it:
/// the real post of the same text, delivered by a sixth actor to the inbox,
/// reaches the server. With `server.judge_api_records = true` they count,
/// and the delivery is dropped as the burst it then completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn judge_api_calls_do_not_count_a_text_unless_the_setting_allows() {
    use std::sync::atomic::Ordering;
    for records in [false, true] {
        let dir = TempDir::new("state-judge-api");
        let (upstream, received) = counting_upstream().await;
        let text = format!(
            "{BURST}\n[state]\nurl = \"memory\"\n[server]\nlisten = \"127.0.0.1:0\"\n\
             upstream = \"{upstream}\"\njudge_api_records = {records}\n\
             [admin]\nlisten = \"127.0.0.1:0\"\n[decision_log]\noutput = \"off\"\n"
        );
        let mut config = palisade::Config::parse(&text).unwrap();
        config.base_dir = dir.0.clone();
        let running = palisade_e2e::serve_in_process(
            config,
            palisade::server::ServeOptions {
                admin_token: Some("state-token".into()),
                ..Default::default()
            },
        )
        .await;
        let http = reqwest::Client::new();
        for i in 0..5 {
            let d = judge(&http, &running.url, copy(i)).await;
            assert_eq!(d["trace"][0]["module"], "duplicate-burst", "{d:#}");
        }
        let status = http
            .post(format!("{}/users/alice/inbox", running.url))
            .header("content-type", "application/activity+json")
            .body(copy(5))
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 202);
        let reached = received.load(Ordering::SeqCst);
        if records {
            assert_eq!(reached, 0, "counted judge calls complete the burst");
        } else {
            assert_eq!(reached, 1, "the real post must reach the server");
        }
    }
}

/// A module storing distinct keys without end is held to `state.max_keys`
/// on every backend: the store stays bounded, each refused write is a
/// `quota` error of the module (counted, failure policy applied), and the
/// other modules judge as before.
#[test]
fn a_module_hoarding_keys_is_held_to_its_quota_on_every_backend() {
    let redis = RedisServer::start();
    let dir = TempDir::new("state-hoard");
    for url in [
        "memory".to_owned(),
        "sqlite:state.db".to_owned(),
        redis.url(),
    ] {
        let module = palisade_e2e::fixture("hoarder");
        let p = palisade_e2e::palisade(
            &format!(
                // 500 round trips to Redis in one call: a deadline to
                // match on a loaded machine (the quota, not time, is tested).
                "[[policy]]\nsource = \"{}\"\ngrants = [\"log\", \"state\"]\non_error = \"quarantine\"\n\
                 timeout_ms = 20000\n\
                 [[policy]]\nsource = \"builtin:mention-limit\"\n\
                 [limits]\ntimeout_ms = 10000\n\
                 [state]\nurl = \"{url}\"\nmax_keys = 1200\n",
                module.display()
            ),
            &dir.0,
        );
        let mut kinds = Vec::new();
        // Each activity stores 500 distinct keys: the quota is reached in
        // the third.
        for i in 0..6 {
            let d = palisade_e2e::judge(&p, &note(&format!("https://h.example/u/{i}"), "hoard"));
            kinds.push(d.trace[0].error.as_ref().map(|e| e.kind));
            if let Some(e) = &d.trace[0].error {
                assert!(e.message.contains("state.max_keys"), "{url}: {}", e.message);
                assert_eq!(d.action, palisade::Action::Quarantine, "{url}");
            }
            assert_eq!(d.trace[1].module, "mention-limit", "{url}");
            assert!(d.trace[1].error.is_none(), "{url}");
        }
        assert_eq!(
            kinds,
            [
                None,
                None,
                Some("quota"),
                Some("quota"),
                Some("quota"),
                Some("quota")
            ],
            "{url}"
        );
        let held = p
            .runtime()
            .state()
            .keys("hoarder", palisade::runtime::unix_ms())
            .unwrap();
        assert_eq!(held, 1200, "{url}: keys held by the module");
        let set = p.policies();
        let stats = set.modules()[0].stats();
        assert_eq!(
            stats.errors_of(palisade::runtime::ErrorKind::Quota),
            4,
            "{url}"
        );
    }
}

#[test]
fn windows_are_never_longer_than_the_longest_time_to_live() {
    let config = StateConfig {
        url: "memory".into(),
        max_ttl_seconds: 10,
        ..StateConfig::default()
    };
    let state = state::open(&config, Path::new(".")).unwrap();
    let now = 1_700_000_000_000;
    assert_eq!(state.hit("hoarder", "forever", u32::MAX, now).unwrap(), 1);
    assert_eq!(
        state
            .count("hoarder", "forever", u32::MAX, now + 9_000)
            .unwrap(),
        1
    );
    assert_eq!(
        state
            .count("hoarder", "forever", u32::MAX, now + 10_000)
            .unwrap(),
        0,
        "an event is forgotten after max_ttl_seconds, whatever window was asked"
    );
    state
        .distinct_add("hoarder", "set", "m", u32::MAX, now)
        .unwrap();
    assert_eq!(
        state
            .distinct_count("hoarder", "set", u32::MAX, now + 10_000)
            .unwrap(),
        0
    );
}

/// A module counting one key or filling one set without end is held to
/// `state.max_events_per_key` / `state.max_members_per_set` on every
/// backend: the event or member past the quota is a `quota` error of the
/// module (before, the oldest were silently forgotten at 65,536 and the
/// count lied), and what the store holds stays at the quota.
#[test]
fn a_counter_or_a_set_past_its_quota_saturates_on_every_backend() {
    let redis = RedisServer::start();
    let dir = TempDir::new("state-flood");
    for url in [
        "memory".to_owned(),
        "sqlite:flood.db".to_owned(),
        redis.url(),
    ] {
        let module = palisade_e2e::fixture("hoarder");
        let p = palisade_e2e::palisade(
            &format!(
                "[[policy]]\nsource = \"{}\"\ngrants = [\"log\", \"state\"]\non_error = \"quarantine\"\n\
                 [[policy]]\nsource = \"builtin:mention-limit\"\n\
                 [limits]\ntimeout_ms = 10000\n\
                 [state]\nurl = \"{url}\"\nmax_events_per_key = 700\nmax_members_per_set = 700\n",
                module.display()
            ),
            &dir.0,
        );
        // 500 events (members) per activity: the quota is reached in the
        // second. Past it, calls answer as if they counted and store
        // nothing: an error would fail the module, which is then skipped —
        // a sender who filled a wave detector's sets would blind it.
        let mut outcomes = Vec::new();
        for (i, text) in ["flood", "flood", "crowd", "crowd"].iter().enumerate() {
            let d = palisade_e2e::judge(&p, &note(&format!("https://f.example/u/{i}"), text));
            assert!(d.trace[1].error.is_none(), "{url}: mention-limit judges on");
            assert!(d.trace[0].error.is_none(), "{url}: {:?}", d.trace[0].error);
            outcomes.push(d.trace[0].reason.clone().unwrap_or_default());
        }
        assert_eq!(
            outcomes,
            ["events=500", "events=701", "members=500", "members=701"],
            "{url}"
        );
        let state = p.runtime().state();
        let now = palisade::runtime::unix_ms();
        assert_eq!(
            state.count("hoarder", "flood", 3600, now).unwrap(),
            700,
            "{url}"
        );
        assert_eq!(
            state.distinct_count("hoarder", "crowd", 3600, now).unwrap(),
            700,
            "{url}"
        );
    }
}

/// Quota errors are visible where an admin looks: `GET /metrics` counts
/// them per module under `kind="quota"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_errors_are_counted_in_metrics_by_module_and_kind() {
    let dir = TempDir::new("state-metrics");
    let path = dir.0.join("palisade.toml");
    std::fs::write(
        &path,
        format!(
            "[[policy]]\nsource = \"{}\"\ngrants = [\"log\", \"state\"]\n\
             [limits]\ntimeout_ms = 10000\n\
             [server]\nlisten = \"127.0.0.1:0\"\njudge_api_records = true\n[admin]\nlisten = \"127.0.0.1:0\"\n\
             [decision_log]\noutput = \"off\"\n[cache]\ndir = \"cache\"\n\
             [state]\nurl = \"memory\"\nmax_value_bytes = 4\n",
            palisade_e2e::fixture("hoarder").display()
        ),
    )
    .unwrap();
    let running = palisade_e2e::serve_in_process(
        palisade::Config::load(&path).unwrap(),
        palisade::server::ServeOptions {
            config_path: Some(path.clone()),
            admin_token: Some("state-token".into()),
            ..Default::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    for i in 0..3 {
        let d = judge(
            &http,
            &running.url,
            // Stores 8 bytes, over max_value_bytes.
            note(&format!("https://f.example/u/{i}"), "forge"),
        )
        .await;
        assert_eq!(d["trace"][0]["module"], "hoarder", "{d:#}");
        assert_eq!(d["trace"][0]["error"]["kind"], "quota", "{d:#}");
    }
    let metrics = palisade_e2e::metrics(&running.url).await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "palisade_module_errors_total{kind=\"quota\",module=\"hoarder\"} 3"),
        "{metrics}"
    );
}
