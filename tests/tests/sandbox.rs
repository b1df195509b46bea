//! Hostile modules never take the host down: each misbehaviour is cut,
//! counted and handled by the failure policy, and the next activity is
//! judged normally.

use palisade::Action;
use palisade_e2e::{fixture, judge, note, palisade};

fn hostile(on_error: &str, extra: &str) -> palisade::Palisade {
    let path = fixture("hostile");
    palisade(
        &format!(
            r#"
            [limits]
            timeout_ms = 25
            memory_mib = 16
            {extra}
            [[policy]]
            source = "{}"
            on_error = "{on_error}"
            "#,
            path.display()
        ),
        path.parent().unwrap(),
    )
}

fn trace_error(d: &palisade::Decision) -> (&str, &str) {
    let e = d.trace[0].error.as_ref().expect("the module failed");
    (e.kind, e.message.as_str())
}

#[test]
fn an_infinite_loop_is_cut_at_the_deadline_and_the_next_activity_is_judged() {
    let p = hostile("skip", "");
    let d = judge(&p, &note("https://a.example/u/1", "spin forever"));
    assert_eq!(trace_error(&d).0, "timeout");
    assert_eq!(d.action, Action::Accept, "skip fails open");
    let next = judge(&p, &note("https://a.example/u/1", "hello"));
    assert_eq!(next.trace[0].verdict, "score");
    assert_eq!(next.trace[0].reason.as_deref(), Some("looked"));
    let set = p.policies();
    let m = &set.modules()[0];
    assert_eq!(
        m.stats().errors_of(palisade::runtime::ErrorKind::Timeout),
        1
    );
}

#[test]
fn a_memory_bomb_is_refused_growth() {
    // A deadline it cannot reach before the 16 MiB cap, however busy the
    // machine: the memory cap is at test, not the clock.
    let path = fixture("hostile");
    let p = palisade(
        &format!(
            "[limits]\ntimeout_ms = 20000\nmemory_mib = 16\n\
             [[policy]]\nsource = \"{}\"\non_error = \"quarantine\"\n",
            path.display()
        ),
        path.parent().unwrap(),
    );
    let d = judge(&p, &note("https://a.example/u/1", "grow without end"));
    let (kind, message) = trace_error(&d);
    assert_eq!(kind, "memory", "{message}");
    assert_eq!(d.action, Action::Quarantine);
    assert!(
        d.reasons[0].starts_with("hostile: failed (memory"),
        "{:?}",
        d.reasons
    );
    assert_eq!(
        judge(&p, &note("https://a.example/u/1", "fine")).trace[0].verdict,
        "score"
    );
}

#[test]
fn a_panic_is_a_trap_and_the_failure_policy_applies() {
    let p = hostile("reject", "");
    let d = judge(&p, &note("https://a.example/u/1", "panic now"));
    let (kind, message) = trace_error(&d);
    assert_eq!(kind, "trap");
    assert!(message.contains("unreachable"), "{message}");
    assert_eq!(d.action, Action::Reject);
    let ok = judge(&p, &note("https://a.example/u/1", "calm"));
    assert_eq!(ok.action, Action::Accept);
}

#[test]
fn unbounded_recursion_is_stopped() {
    let p = hostile("skip", "");
    let d = judge(&p, &note("https://a.example/u/1", "recurse"));
    let (kind, message) = trace_error(&d);
    assert_eq!(kind, "trap");
    // Rust guests keep their stack in linear memory and run off its end
    // before the host's wasm stack cap; either way the call traps.
    assert!(
        message.contains("out of bounds") || message.contains("stack"),
        "{message}"
    );
    assert_eq!(
        judge(&p, &note("https://a.example/u/1", "fine")).trace[0].verdict,
        "score"
    );
}

#[test]
fn bad_output_is_refused() {
    let p = hostile("skip", "");
    let d = judge(&p, &note("https://a.example/u/1", "lie to me"));
    let (kind, message) = trace_error(&d);
    assert_eq!(kind, "bad-output");
    assert!(message.contains("not a finite number"), "{message}");
}

#[test]
fn the_sandbox_grants_no_environment_filesystem_or_network() {
    let p = hostile("skip", "");
    let d = judge(&p, &note("https://a.example/u/1", "probe"));
    assert_eq!(
        d.trace[0].reason.as_deref(),
        Some("env=0 args=0 fs=denied file=denied net=denied")
    );
}

#[test]
fn a_module_failing_in_a_row_is_backed_off_then_tried_again() {
    let p = hostile("skip", "");
    for _ in 0..5 {
        assert_eq!(
            trace_error(&judge(&p, &note("https://a.example/u/1", "panic"))).0,
            "trap"
        );
    }
    // Resting: not even called.
    let d = judge(&p, &note("https://a.example/u/1", "calm"));
    assert_eq!(trace_error(&d).0, "backoff");
    let set = p.policies();
    let m = &set.modules()[0];
    let calls_before = m
        .stats()
        .instantiations
        .load(std::sync::atomic::Ordering::Relaxed);
    // The first rest is one second; poll until it is over.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let d = judge(&p, &note("https://a.example/u/1", "calm"));
        if d.trace[0].error.is_none() {
            assert_eq!(d.trace[0].verdict, "score");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the module was never tried again"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        m.stats()
            .instantiations
            .load(std::sync::atomic::Ordering::Relaxed)
            > calls_before
    );
}

#[test]
fn fresh_instances_behave_like_reused_ones() {
    for reuse in [true, false] {
        let p = hostile("skip", &format!("reuse_instances = {reuse}"));
        assert_eq!(
            trace_error(&judge(&p, &note("https://a.example/u/1", "panic"))).0,
            "trap"
        );
        assert_eq!(
            judge(&p, &note("https://a.example/u/1", "ok")).trace[0].verdict,
            "score"
        );
    }
}

/// `palisade serve` in this process, on the multi-thread runtime as in
/// production, from `config` written to `palisade.toml` in `dir` (with
/// listeners on ephemeral loopback ports and the admin API on).
async fn serve(dir: &std::path::Path, config: &str) -> palisade_e2e::InProcess {
    let text = format!(
        "{config}\n[server]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [decision_log]\noutput = \"off\"\n[cache]\ndir = \"cache\"\n[state]\nurl = \"memory\"\n"
    );
    palisade_e2e::serve_config_file(dir, &text, "sandbox-token").await
}

/// `POST /v1/judge` of a note by `actor` saying `text`: the decision, as
/// JSON, answered within a generous bound.
async fn judge_http(url: &str, text: &str) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/judge"))
        .header("content-type", "application/activity+json")
        .body(note("https://a.example/u/1", text))
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .expect("the judge API answers");
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_that_prints_sleeps_and_reads_stdin_loads_in_serve_and_judges() {
    let dir = palisade_e2e::TempDir::new("sandbox-chatty");
    let module = fixture("chatty");
    let running = serve(
        &dir.0,
        &format!(
            "[[policy]]\nsource = \"{}\"\non_error = \"reject\"\n",
            module.display()
        ),
    )
    .await;
    let set = running.app.palisade.policies();
    assert_eq!(set.failures().len(), 0, "{:?}", set.failures());
    assert_eq!(set.modules()[0].name(), "chatty");

    // Printing goes nowhere, stdin is empty, a 1 ms sleep does not wait.
    let d = judge_http(&running.url, "hello").await;
    assert_eq!(d["trace"][0]["reason"], "stdin=0", "{d:#}");
    assert_eq!(d["action"], "accept");

    // Sleeping 3 s against a 50 ms deadline: a timeout of the module,
    // at once, and its failure policy (reject) applies.
    let d = judge_http(&running.url, "sleep for a while").await;
    assert_eq!(d["trace"][0]["error"]["kind"], "timeout", "{d:#}");
    assert!(
        d["trace"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("asked to wait 3000 ms"),
        "{d:#}"
    );
    assert_eq!(d["action"], "reject");

    // Sleeping 1 ms for ever: cut by the deadline like any loop.
    let d = judge_http(&running.url, "nap").await;
    assert_eq!(d["trace"][0]["error"]["kind"], "timeout", "{d:#}");

    // Still up, still judging.
    let health = reqwest::get(format!("{}/healthz", running.url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let d = judge_http(&running.url, "hello again").await;
    assert_eq!(d["trace"][0]["reason"], "stdin=0", "{d:#}");
    let m = &set.modules()[0];
    assert_eq!(
        m.stats().errors_of(palisade::runtime::ErrorKind::Timeout),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatty_module_hot_reloaded_in_keeps_the_host_up_and_restarts_cleanly() {
    let dir = palisade_e2e::TempDir::new("sandbox-chatty-reload");
    std::fs::create_dir_all(dir.0.join("policies.d")).unwrap();
    let config = "[[policy]]\nsource = \"builtin:mention-limit\"\n[policies]\nwatch = false\n";
    let running = serve(&dir.0, config).await;
    std::fs::copy(fixture("chatty"), dir.0.join("policies.d/chatty.wasm")).unwrap();
    let reloaded: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/admin/v1/reload", running.admin))
        .bearer_auth("sandbox-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reloaded["result"], "ok", "{reloaded:#}");
    let d = judge_http(&running.url, "hello").await;
    assert_eq!(d["trace"][1]["module"], "chatty", "{d:#}");
    assert_eq!(d["trace"][1]["reason"], "stdin=0", "{d:#}");

    // The restart loads the dropped-in module at start: it must not crash.
    let restarted = serve(&dir.0, config).await;
    let set = restarted.app.palisade.policies();
    let names: Vec<&str> = set.modules().iter().map(|m| m.name()).collect();
    assert_eq!(names, ["mention-limit", "chatty"]);
    let d = judge_http(&restarted.url, "hello").await;
    assert_eq!(d["trace"][1]["reason"], "stdin=0", "{d:#}");
}

/// The number in `palisade_NAME{module="MODULE"} N` of a metrics text, if
/// the series is there.
fn series(metrics: &str, name: &str, module: &str) -> Option<u64> {
    let head = format!("palisade_{name}{{module=\"{module}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(head.as_str()))
        .map(|n| n.trim().parse().expect("a count"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_logging_in_a_loop_is_held_to_its_rate_and_the_drops_are_counted() {
    let dir = palisade_e2e::TempDir::new("sandbox-log");
    let config = dir.0.join("palisade.toml");
    // Default log limits (20 lines/s, burst 100); a deadline generous
    // enough that 500 log calls always finish.
    std::fs::write(
        &config,
        format!(
            "[limits]\ntimeout_ms = 10000\n[decision_log]\noutput = \"off\"\n\
             [cache]\ndir = \"cache\"\n[state]\nurl = \"memory\"\n\
             [[policy]]\nsource = \"{}\"\ngrants = [\"log\", \"state\"]\n",
            fixture("hoarder").display()
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let serve = palisade_e2e::Serve::start(&config, &[]);
    // Two activities, 500 lines each.
    for _ in 0..2 {
        let d = judge_http(&serve.url, "chatter away").await;
        assert_eq!(d["trace"][0]["reason"], "chattered", "{d:#}");
    }
    let written = |log: &str| {
        log.lines()
            .filter(|l| l.contains("hoarder") && l.contains(": line "))
            .count() as u64
    };
    // Every line is either in the log or counted as dropped; wait (bounded)
    // for the log reader to catch up.
    let mut dropped = None;
    for _ in 0..200 {
        let metrics = palisade_e2e::metrics(&serve.url).await;
        dropped = series(&metrics, "module_log_dropped_total", "hoarder");
        if dropped.is_some_and(|n| n + written(&serve.log()) == 1000) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed().as_secs();
    let log = serve.log();
    let written = written(&log);
    let dropped = dropped.expect("palisade_module_log_dropped_total{module=\"hoarder\"}");
    eprintln!("{written} lines written, {dropped} dropped, in {elapsed} s");
    assert_eq!(written + dropped, 1000, "{log}");
    // The burst, and at most the rate for every second the test ran.
    assert!(
        written <= 100 + 20 * (elapsed + 1),
        "{written} lines in {elapsed} s"
    );
    // (On a machine slow enough for the rate to allow every line, this
    // says nothing more than the sum above; it never underflows.)
    assert!(
        dropped >= 1000u64.saturating_sub(100 + 20 * (elapsed + 1)),
        "{dropped}"
    );
    // The host says so, without a line per dropped line.
    assert!(log.contains("dropping its lines"), "{log}");
    let d = judge_http(&serve.url, "hello").await;
    assert!(
        d["trace"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("first-seen=")
    );
}
