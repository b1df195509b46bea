//! What one activity costs: parsing, the six default modules in the
//! sandbox (warm instances and fresh ones), and the same module logic run
//! natively through the SDK's test host. Ratios against the baselines are
//! printed at the end. Command and results: docs/PERFORMANCE.md.

use std::hint::black_box;

use criterion::Criterion;

#[path = "common.rs"]
mod common;
use palisade::pipeline::Envelope;
use palisade::{Config, Palisade};
use palisade_sdk::parse::{Options, parse_activity};
use palisade_sdk::testing::TestHost;

/// A real-shaped 2 KiB Mastodon Create{Note}: a reply with two mentions.
fn note() -> String {
    std::fs::read_to_string(common::root().join("examples/activities/reply.json")).unwrap()
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
    // The same note with a comment in it: the strict parse fails, the
    // lenient pass mends it, the strict parse runs again.
    let quirky = body.replacen('{', "{/* hi */", 1);
    g.bench_function("palisade_activity_lenient", |b| {
        b.iter(|| black_box(parse_activity(black_box(&quirky), &Options::new(&local)).unwrap()))
    });
    // A hostile 1 MiB post: 25,000 distinct links, each twice. Linear
    // parsing costs a bounded multiple of building a serde_json::Value of
    // the same body (it was quadratic: 20 s for 70,000 links).
    let flood = link_flood(25_000);
    g.bench_function("serde_json_value_link_flood", |b| {
        b.iter(|| black_box(serde_json::from_str::<serde_json::Value>(black_box(&flood)).unwrap()))
    });
    g.bench_function("palisade_activity_link_flood", |b| {
        b.iter(|| black_box(parse_activity(black_box(&flood), &Options::new(&local)).unwrap()))
    });
    g.finish();
}

fn link_flood(n: usize) -> String {
    let content: String = (0..n)
        .map(|i| {
            format!(
                "<a href=\"https://l.example/{i}\">x</a><a href=\"https://l.example/{i}\">y</a>"
            )
        })
        .collect();
    serde_json::json!({"type": "Create", "actor": "https://spam.example/u/1",
        "object": {"type": "Note", "content": content}})
    .to_string()
}

fn bench_pipeline(c: &mut Criterion, body: &str) {
    let mut g = c.benchmark_group("pipeline");

    let host = TestHost::new();
    let mention = host.configure::<mention_limit::MentionLimit>("{}").unwrap();
    let first = host.configure::<first_contact::FirstContact>("{}").unwrap();
    let facts = host.configure::<account_facts::AccountFacts>("{}").unwrap();
    let burst = host
        .configure::<duplicate_burst::DuplicateBurst>("{}")
        .unwrap();
    let newcomers = host
        .configure::<newcomer_burst::NewcomerBurst>("{}")
        .unwrap();
    let domains = host.configure::<domain_list::DomainList>("{}").unwrap();
    g.bench_function("native_sdk_test_host", |b| {
        b.iter(|| {
            let a = host.parse(black_box(body)).unwrap();
            let cx = host.context_for(&a);
            black_box(host.judge_in(&mention, &a, &cx));
            black_box(host.judge_in(&first, &a, &cx));
            black_box(host.judge_in(&facts, &a, &cx));
            black_box(host.judge_in(&burst, &a, &cx));
            black_box(host.judge_in(&newcomers, &a, &cx));
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
        assert_eq!(d.trace.len(), 6);
        assert!(d.trace.iter().all(|t| t.error.is_none()));
        g.bench_function(name, |b| {
            b.iter(|| black_box(p.policies().judge(black_box(body), &envelope)))
        });
    }
    g.finish();
}

fn print_ratios() {
    let rows: &[(&str, &str, &str, &str)] = &[
        ("parse", "palisade_activity", "parse", "serde_json_value"),
        (
            "parse",
            "palisade_activity_lenient",
            "parse",
            "palisade_activity",
        ),
        (
            "parse",
            "palisade_activity_link_flood",
            "parse",
            "serde_json_value_link_flood",
        ),
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
    common::print_ratios(rows);
}

/// Each module's share of the warm pipeline: the mean of the time its
/// trace reports (the call, lowering and lifting included) over 20,000
/// judgements, and the rest (parsing, context, combining).
fn print_module_shares(body: &str) {
    let p = sandboxed(true);
    let envelope = Envelope::inbound_now();
    let n = 20_000u32;
    let mut sums: Vec<(String, u64)> = Vec::new();
    let start = std::time::Instant::now();
    for _ in 0..n {
        let d = p.policies().judge(black_box(body), &envelope);
        for (i, t) in d.trace.iter().enumerate() {
            if sums.len() <= i {
                sums.push((t.module.clone(), 0));
            }
            sums[i].1 += t.micros;
        }
    }
    let total = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("module shares of the warm pipeline ({n} judgements, {total:.2} µs each):");
    let mut modules = 0.0;
    for (name, sum) in &sums {
        let mean = *sum as f64 / f64::from(n);
        modules += mean;
        println!("  {name:<20} {mean:8.2} µs");
    }
    println!(
        "  {:<20} {:8.2} µs",
        "(parse, context, combine)",
        total - modules
    );
}

fn main() {
    let body = note();
    let mut c = Criterion::default().configure_from_args();
    bench_parse(&mut c, &body);
    bench_pipeline(&mut c, &body);
    c.final_summary();
    print_ratios();
    print_module_shares(&body);
}
