//! What one activity costs with a module written in Rust
//! (`examples/rust-module`), Python (`examples/python-module`) and
//! JavaScript (`examples/js-module`), each alone in a Palisade judging the
//! spam wave's post: with warm instances (the default) and with a fresh
//! instance per activity. A Palisade with no module at all measures what
//! every activity costs anyway (parsing, first-seen lookups); ratios against
//! it and against Rust are printed at the end.
//!
//! `cargo bench -p palisade-e2e --bench guests`

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::Criterion;
use palisade::Palisade;
use palisade::pipeline::Envelope;
use palisade_e2e::{example, fixture, js_module, palisade, python_module, root};

const MODULES: [&str; 3] = ["rust", "python", "js"];

fn start(module: Option<&Path>, reuse: bool) -> Palisade {
    let policies = match module {
        Some(path) => format!("[[policy]]\nsource = \"{}\"\n", path.display()),
        None => "policy = []\n".to_owned(),
    };
    let cache = root().join("target/guest-cache");
    let p = palisade(
        &format!(
            "{policies}[limits]\nreuse_instances = {reuse}\n[cache]\ndir = \"{}\"\n",
            cache.display()
        ),
        &root(),
    );
    assert!(
        p.policies().failures().is_empty(),
        "{:?}",
        p.policies().failures()
    );
    p
}

fn bench(c: &mut Criterion, body: &str, modules: &[(&str, PathBuf)]) {
    let envelope = Envelope::inbound_now();
    let mut g = c.benchmark_group("guests");
    let none = start(None, true);
    g.bench_function("no_module", |b| {
        b.iter(|| black_box(none.policies().judge(black_box(body), &envelope)))
    });
    for (reuse, mode) in [(true, "warm"), (false, "fresh")] {
        for (name, path) in modules {
            let p = start(Some(path), reuse);
            let d = p.policies().judge(body, &envelope);
            assert_eq!(d.trace.len(), 1, "{d:?}");
            assert!(d.trace[0].error.is_none(), "{name}: {d:?}");
            g.bench_function(format!("{name}_{mode}"), |b| {
                b.iter(|| black_box(p.policies().judge(black_box(body), &envelope)))
            });
        }
    }
    g.finish();
}

/// Criterion's mean estimate for `guests/id`, in microseconds.
fn mean_us(id: &str) -> Option<f64> {
    let path = root()
        .join("target/criterion/guests")
        .join(id)
        .join("new/estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    Some(json["mean"]["point_estimate"].as_f64()? / 1000.0)
}

fn print_ratios() {
    let Some(base) = mean_us("no_module") else {
        println!("\nno estimate for guests/no_module (filtered out?)");
        return;
    };
    println!("\nper activity, mean (the module's share: minus guests/no_module, {base:.2} µs):");
    for mode in ["warm", "fresh"] {
        let rust = mean_us(&format!("rust_{mode}")).map(|t| t - base);
        for name in MODULES {
            let id = format!("{name}_{mode}");
            match mean_us(&id) {
                Some(t) => {
                    let share = t - base;
                    let ratio = rust.map_or(String::new(), |r| {
                        format!(" = {:>6.1} × rust_{mode}", share / r)
                    });
                    println!("  {id:<13} {t:>9.2} µs; module {share:>9.2} µs{ratio}");
                }
                None => println!("  {id}: no estimate (filtered out?)"),
            }
        }
    }
}

fn main() {
    let body = example("wave.json");
    let modules = [
        ("rust", fixture("hashtag-stuffing")),
        ("python", python_module()),
        ("js", js_module()),
    ];
    let mut c = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .configure_from_args();
    bench(&mut c, &body, &modules);
    c.final_summary();
    print_ratios();
}
