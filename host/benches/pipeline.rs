//! What one activity costs: parsing, the four bundled modules in the
//! sandbox (warm instances and fresh ones), and the same module logic run
//! natively through the SDK's test host. Ratios against the baselines are
//! printed at the end. Command and results: docs/PERFORMANCE.md.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::Criterion;
use palisade::pipeline::Envelope;
use palisade::{Config, Palisade};
use palisade_sdk::parse::{Options, parse_activity};
use palisade_sdk::testing::TestHost;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A real-shaped 2 KiB Mastodon Create{Note}: a reply with two mentions.
fn note() -> String {
    std::fs::read_to_string(root().join("examples/activities/reply.json")).unwrap()
}

fn sandboxed(reuse: bool) -> Palisade {
    let config = Config::parse(&format!(
        "[limits]\nreuse_instances = {reuse}\n[state]\nurl = \"memory\"\n"
    ))
    .unwrap();
    let p = Palisade::new(&config, None).unwrap();
    assert!(p.policies().failures().is_empty());
    p
}

fn bench_parse(c: &mut Criterion, body: &str) {
    let mut g = c.benchmark_group("parse");
    g.bench_function("serde_json_value", |b| {
        b.iter(|| black_box(serde_json::from_str::<serde_json::Value>(black_box(body)).unwrap()))
    });
    let local: Vec<String> = vec!["mastodon.example".into()];
    g.bench_function("palisade_activity", |b| {
        b.iter(|| black_box(parse_activity(black_box(body), &Options::new(&local)).unwrap()))
    });
    g.finish();
}

fn bench_pipeline(c: &mut Criterion, body: &str) {
    let mut g = c.benchmark_group("pipeline");

    let host = TestHost::new();
    let mention = host.configure::<mention_limit::MentionLimit>("{}").unwrap();
    let first = host.configure::<first_contact::FirstContact>("{}").unwrap();
    let burst = host
        .configure::<duplicate_burst::DuplicateBurst>("{}")
        .unwrap();
    let domains = host.configure::<domain_list::DomainList>("{}").unwrap();
    g.bench_function("native_sdk_test_host", |b| {
        b.iter(|| {
            let a = host.parse(black_box(body)).unwrap();
            let cx = host.context_for(&a);
            black_box(host.judge_in(&mention, &a, &cx));
            black_box(host.judge_in(&first, &a, &cx));
            black_box(host.judge_in(&burst, &a, &cx));
            black_box(host.judge_in(&domains, &a, &cx));
        })
    });

    for (name, reuse) in [
        ("wasm_reused_instances", true),
        ("wasm_fresh_instances", false),
    ] {
        let p = sandboxed(reuse);
        let envelope = Envelope::inbound_now();
        let d = p.policies().judge(body, &envelope);
        assert_eq!(d.trace.len(), 4);
        assert!(d.trace.iter().all(|t| t.error.is_none()));
        g.bench_function(name, |b| {
            b.iter(|| black_box(p.policies().judge(black_box(body), &envelope)))
        });
    }
    g.finish();
}

/// Criterion's mean estimate for `group/id`, in nanoseconds.
fn mean_ns(group: &str, id: &str) -> Option<f64> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let path = target
        .join("criterion")
        .join(group)
        .join(id)
        .join("new/estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn print_ratios() {
    let rows = [
        ("parse", "palisade_activity", "parse", "serde_json_value"),
        (
            "pipeline",
            "native_sdk_test_host",
            "parse",
            "serde_json_value",
        ),
        (
            "pipeline",
            "wasm_reused_instances",
            "pipeline",
            "native_sdk_test_host",
        ),
        (
            "pipeline",
            "wasm_fresh_instances",
            "pipeline",
            "native_sdk_test_host",
        ),
        (
            "pipeline",
            "wasm_fresh_instances",
            "pipeline",
            "wasm_reused_instances",
        ),
    ];
    println!("\nratios (mean time, lower is faster):");
    for (g, id, bg, bid) in rows {
        match (mean_ns(g, id), mean_ns(bg, bid)) {
            (Some(t), Some(base)) => println!(
                "  {g}/{id:<24} {:>9.2} µs = {:>6.2} × {bg}/{bid} ({:.2} µs)",
                t / 1000.0,
                t / base,
                base / 1000.0
            ),
            _ => println!("  {g}/{id}: no estimate (filtered out?)"),
        }
    }
}

fn main() {
    let body = note();
    let mut c = Criterion::default().configure_from_args();
    bench_parse(&mut c, &body);
    bench_pipeline(&mut c, &body);
    c.final_summary();
    print_ratios();
}
