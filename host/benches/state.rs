//! What state costs: one operation on each backend (in memory, the embedded
//! SQLite file, a real `redis-server` on loopback), and the pipeline with
//! the state-using modules on each. Ratios against the in-memory backend
//! are printed at the end. `cargo bench -p palisade --bench state`;
//! results in docs/PERFORMANCE.md.

use std::hint::black_box;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::Criterion;
use palisade::pipeline::Envelope;
use palisade::state::{MemoryBackend, RedisBackend, SqliteBackend, StateBackend};
use palisade::{Config, Palisade};

#[path = "common.rs"]
mod common;

/// A redis-server for the run, without persistence; killed at the end.
struct Redis(Child, u16);

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--port",
                &port.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (Debian's package: `make test-setup` installs it)");
        let redis = Redis(child, port);
        let probe = RedisBackend::new(&redis.url(), "probe", Duration::from_secs(1)).unwrap();
        for _ in 0..500 {
            if probe.get("p", "k", 0).is_ok() {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server did not start");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.1)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-bench-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn bench_operations(c: &mut Criterion, redis: &Redis) {
    let backends: Vec<(&str, Arc<dyn StateBackend>)> = vec![
        ("memory", Arc::new(MemoryBackend::new())),
        (
            "sqlite",
            Arc::new(SqliteBackend::open(&temp("ops.db")).unwrap()),
        ),
        (
            "redis",
            Arc::new(RedisBackend::new(&redis.url(), "bench", Duration::from_secs(1)).unwrap()),
        ),
    ];
    let mut g = c.benchmark_group("state_op");
    for (name, backend) in &backends {
        let clock = AtomicU64::new(1_700_000_000_000);
        let now = || clock.fetch_add(7, Ordering::Relaxed);
        g.bench_function(format!("hit_{name}"), |b| {
            b.iter(|| {
                black_box(
                    backend
                        .hit("bench", "actor:a.example:1234", 600, now())
                        .unwrap(),
                )
            })
        });
        let n = AtomicU64::new(0);
        g.bench_function(format!("distinct_add_{name}"), |b| {
            b.iter(|| {
                let member = format!(
                    "https://a.example/users/{}",
                    n.fetch_add(1, Ordering::Relaxed) % 500
                );
                black_box(
                    backend
                        .distinct_add("bench", "band:1:2:3", &member, 3600, now())
                        .unwrap(),
                )
            })
        });
        backend
            .first_seen("actor\0https://a.example/users/1", now())
            .unwrap();
        g.bench_function(format!("first_seen_known_{name}"), |b| {
            b.iter(|| {
                black_box(
                    backend
                        .first_seen("actor\0https://a.example/users/1", now())
                        .unwrap(),
                )
            })
        });
    }
    g.finish();
}

fn bench_pipeline(c: &mut Criterion, redis: &Redis) {
    let body =
        std::fs::read_to_string(common::root().join("examples/activities/reply.json")).unwrap();
    let mut g = c.benchmark_group("state_pipeline");
    let sqlite = format!("sqlite:{}", temp("pipeline.db").display());
    for (name, url) in [
        ("memory", "memory".to_owned()),
        ("sqlite", sqlite),
        ("redis", redis.url()),
    ] {
        // The four bundled modules plus rate-limit: duplicate-burst,
        // rate-limit and the host's first-seen lookups use state.
        let text = format!(
            "{}\n[[policy]]\nsource = \"builtin:rate-limit\"\ngrants = [\"log\", \"state\"]\n\
             [state]\nurl = \"{url}\"\n[cache]\nenabled = false\n",
            include_str!("../src/default.toml")
        );
        let config = Config::parse(&text).unwrap();
        let p = Palisade::new(&config, None).unwrap();
        assert!(
            p.policies().failures().is_empty(),
            "{:?}",
            p.policies().failures()
        );
        let envelope = Envelope::inbound_now();
        let d = p.policies().judge(&body, &envelope);
        assert!(d.trace.iter().all(|t| t.error.is_none()), "{d:?}");
        g.bench_function(name, |b| {
            b.iter(|| black_box(p.policies().judge(black_box(&body), &envelope)))
        });
    }
    g.finish();
}

fn main() {
    let redis = Redis::start();
    let mut c = Criterion::default().configure_from_args();
    bench_operations(&mut c, &redis);
    bench_pipeline(&mut c, &redis);
    c.final_summary();
    let mut rows = Vec::new();
    for op in ["hit", "distinct_add", "first_seen_known"] {
        for backend in ["sqlite", "redis"] {
            rows.push((
                "state_op",
                format!("{op}_{backend}"),
                "state_op",
                format!("{op}_memory"),
            ));
        }
    }
    for backend in ["sqlite", "redis"] {
        rows.push((
            "state_pipeline",
            backend.to_owned(),
            "state_pipeline",
            "memory".to_owned(),
        ));
    }
    let rows: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|(a, b, c, d)| (*a, b.as_str(), *c, d.as_str()))
        .collect();
    common::print_ratios(&rows);
    std::fs::remove_dir_all(temp("x").parent().unwrap()).ok();
}
