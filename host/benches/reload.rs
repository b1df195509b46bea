//! Hot reload and start-up, measured (not asserted):
//!
//! 1. Cold start with ten modules: `Palisade::new` with the compiled-module
//!    cache off, then with it warm; the ratio is what the cache saves.
//! 2. File landing → first verdict by the new version, over loopback HTTP
//!    against a running sidecar watching its drop-in folder, 50 times each
//!    for a changed settings file (the module is re-instantiated, its code
//!    read from the cache) and for new module bytes (compiled).
//!
//! `cargo bench -p palisade --bench reload`; results in docs/PERFORMANCE.md.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use palisade::server::{App, ServeOptions};
use palisade::{Config, Palisade};

const BUNDLED: [&str; 4] = [
    "mention-limit",
    "first-contact",
    "duplicate-burst",
    "domain-list",
];

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `bytes` with a custom section appended: the same module, compiled the
/// same way, under another sha256 (so the cache cannot share entries).
fn variant(bytes: &[u8], n: u32) -> Vec<u8> {
    fn leb(mut v: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"palisade-variant";
    let payload = n.to_le_bytes();
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(&payload);
    let mut out = bytes.to_vec();
    out.push(0);
    leb(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

/// Ten distinct module files (variants of the bundled four) and a
/// configuration loading them; `cache` names the cache folder or turns it
/// off.
fn ten_modules(dir: &Path, cache: Option<&Path>) -> Config {
    let mut text = String::new();
    for i in 0..10u32 {
        let name = BUNDLED[i as usize % 4];
        let file = dir.join(format!("m{i}.wasm"));
        if !file.exists() {
            let bytes = palisade::builtin::get(name).unwrap();
            std::fs::write(&file, variant(bytes, i)).unwrap();
        }
        text.push_str(&format!(
            "[[policy]]\nsource = \"m{i}.wasm\"\nname = \"{name}-{i}\"\ngrants = [\"log\", \"state\", \"lists\"]\n"
        ));
    }
    text.push_str("[state]\nurl = \"memory\"\n");
    match cache {
        Some(c) => text.push_str(&format!("[cache]\ndir = \"{}\"\n", c.display())),
        None => text.push_str("[cache]\nenabled = false\n"),
    }
    let mut config = Config::parse(&text).unwrap();
    config.base_dir = dir.to_owned();
    config
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary(label: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    println!(
        "  {label:<44} n={:<3} p50 {:>9.2} ms   p99 {:>9.2} ms",
        times.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    p50
}

fn cold_start() {
    println!(
        "cold start, ten modules (Palisade::new: engine, lists, ten modules loaded and configured):"
    );
    let dir = temp_dir("cold");
    let cache = dir.join("cache");
    let runs = 5;
    let mut without = Vec::new();
    for _ in 0..runs {
        let config = ten_modules(&dir, None);
        let started = Instant::now();
        let p = Palisade::new(&config, None).unwrap();
        without.push(started.elapsed());
        assert_eq!(
            p.policies().modules().len(),
            10,
            "{:?}",
            p.policies().failures()
        );
    }
    // Fill the cache once, then measure starts that read it.
    drop(Palisade::new(&ten_modules(&dir, Some(&cache)), None).unwrap());
    let mut with = Vec::new();
    for _ in 0..runs {
        let config = ten_modules(&dir, Some(&cache));
        let started = Instant::now();
        let p = Palisade::new(&config, None).unwrap();
        with.push(started.elapsed());
        assert!(
            p.policies()
                .modules()
                .iter()
                .all(|m| m.compiled() == palisade::runtime::cache::Compiled::Cache)
        );
    }
    let a = summary("without cache (compile all ten)", without);
    let b = summary("with a warm cache", with);
    println!(
        "  ratio: with cache / without = {:.3}",
        b.as_secs_f64() / a.as_secs_f64()
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A post with three mentions, for `mention-limit` to judge.
fn probe() -> String {
    let mentions: Vec<serde_json::Value> = (0..3)
        .map(|i| {
            serde_json::json!({"type": "Mention", "href": format!("https://b.example/u/{i}"),
                               "name": format!("@u{i}@b.example")})
        })
        .collect();
    serde_json::json!({
        "type": "Create", "actor": "https://a.example/u/1",
        "object": {"type": "Note", "content": "<p>hi @u0 @u1 @u2</p>", "tag": mentions,
                   "to": ["https://www.w3.org/ns/activitystreams#Public"]}
    })
    .to_string()
}

fn reload_latency() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = temp_dir("reload");
        let drop_in = dir.join("policies.d");
        std::fs::create_dir_all(&drop_in).unwrap();
        std::fs::write(
            dir.join("palisade.toml"),
            "policy = []\n[server]\nlisten = \"127.0.0.1:0\"\n[decision_log]\noutput = \"off\"\n\
             [cache]\ndir = \"cache\"\n",
        )
        .unwrap();
        let path = dir.join("palisade.toml");
        let app = App::new(
            Config::load(&path).unwrap(),
            ServeOptions {
                config_path: Some(path),
                ..Default::default()
            },
        )
        .unwrap();
        let listeners = palisade::server::bind(&app.config, false).await.unwrap();
        let url = format!("http://{}/v1/judge", listeners.main.local_addr().unwrap());
        tokio::spawn(palisade::server::run(app.clone(), listeners));
        let http = reqwest::Client::new();
        let body = probe();
        let bytes = palisade::builtin::get("mention-limit").unwrap();

        // Each version is told apart by the name its settings give it,
        // which decisions carry.
        let judged_by = |name: String, present: bool| {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            async move {
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let text = http
                        .post(&url)
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap();
                    let d: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let found = d["trace"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t["module"] == name.as_str());
                    if found == present {
                        return;
                    }
                    assert!(Instant::now() < deadline, "`{name}` never judged: {d}");
                }
            }
        };
        let put = |path: &Path, contents: &[u8]| {
            let tmp = path.with_file_name(".incoming.tmp");
            std::fs::write(&tmp, contents).unwrap();
            std::fs::rename(&tmp, path).unwrap();
        };
        let module = drop_in.join("limit.wasm");
        let settings = drop_in.join("limit.toml");
        put(&module, bytes);
        judged_by("mention-limit".into(), true).await;

        println!("file landing -> first verdict by the new version (debounce 150 ms, over HTTP):");
        let mut settings_times = Vec::new();
        for i in 0..50usize {
            let name = format!("settings-{i}");
            let started = Instant::now();
            put(&settings, format!("name = \"{name}\"\n").as_bytes());
            judged_by(name, true).await;
            settings_times.push(started.elapsed());
        }
        std::fs::remove_file(&settings).unwrap();
        std::fs::remove_file(&module).unwrap();
        judged_by("settings-49".into(), false).await;

        let mut bytes_times = Vec::new();
        for i in 0..50u32 {
            let name = format!("bytes-{i}");
            // Settings first (alone they load nothing), then the module:
            // the time is from the module landing.
            put(
                &drop_in.join(format!("{name}.toml")),
                format!("name = \"{name}\"\n").as_bytes(),
            );
            tokio::time::sleep(Duration::from_millis(400)).await;
            let started = Instant::now();
            put(
                &drop_in.join(format!("{name}.wasm")),
                &variant(bytes, 1000 + i),
            );
            judged_by(name.clone(), true).await;
            bytes_times.push(started.elapsed());
            std::fs::remove_file(drop_in.join(format!("{name}.toml"))).unwrap();
            std::fs::remove_file(drop_in.join(format!("{name}.wasm"))).unwrap();
            judged_by(name, false).await;
        }
        summary("changed NAME.toml (re-instantiate)", settings_times);
        summary("new NAME.wasm bytes (compile + instantiate)", bytes_times);
        std::fs::remove_dir_all(&dir).ok();
    });
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent; only measure
    // under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    cold_start();
    reload_latency();
}
