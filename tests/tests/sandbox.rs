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
    let p = hostile("quarantine", "");
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
