//! Helpers for Palisade's end-to-end tests: test modules compiled from
//! source, the shared corpus of real ActivityPub payloads, and a Palisade
//! built from a configuration string.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use palisade::pipeline::Envelope;
use palisade::{Config, Decision, Palisade};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_owned()
}

/// The real ActivityPub payloads shared beside the checkout.
pub fn corpus_dir() -> PathBuf {
    let dir = root().join("../shared/corpus/public");
    assert!(
        dir.is_dir(),
        "the shared corpus is missing at {}",
        dir.display()
    );
    dir
}

/// Every corpus document, with its file name.
pub fn corpus() -> Vec<(String, String)> {
    let mut docs: Vec<(String, String)> = std::fs::read_dir(corpus_dir())
        .expect("read the corpus")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                std::fs::read_to_string(&p).expect("read a corpus file"),
            )
        })
        .collect();
    docs.sort();
    docs
}

/// A file from `examples/activities/`.
pub fn example(name: &str) -> String {
    std::fs::read_to_string(root().join("examples/activities").join(name))
        .expect("read an example activity")
}

/// Build the test modules in `tests/fixtures/` and the example modules for
/// wasm32-wasip2 (once per test process; cargo's lock serialises concurrent
/// processes) and return the path of `name`'s component.
pub fn fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let target = root().join("target/guest");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(root())
            .args([
                "build",
                "--locked",
                "--profile",
                "wasm",
                "--target",
                "wasm32-wasip2",
                "--quiet",
            ])
            .arg("--target-dir")
            .arg(&target);
        for entry in std::fs::read_dir(root().join("tests/fixtures")).expect("read tests/fixtures")
        {
            let entry = entry.expect("fixture entry");
            cmd.arg("-p").arg(entry.file_name());
        }
        cmd.args(["-p", "hashtag-stuffing"]);
        for var in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
        ] {
            cmd.env_remove(var);
        }
        let status = cmd.status().expect("run cargo to build the test modules");
        assert!(status.success(), "building the test modules failed");
        target.join("wasm32-wasip2/wasm")
    });
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    assert!(path.is_file(), "no test module at {}", path.display());
    path
}

/// A Palisade started from configuration text (paths relative to `base`).
pub fn palisade(config: &str, base: &Path) -> Palisade {
    let mut config = Config::parse(config).unwrap_or_else(|e| panic!("test configuration: {e}"));
    config.base_dir = base.to_owned();
    Palisade::new(&config, None).expect("palisade starts")
}

/// Judge one document as an inbound activity received now.
pub fn judge(p: &Palisade, body: &str) -> Decision {
    p.policies().judge(body, &Envelope::inbound_now())
}

/// A minimal Create{Note} by `actor` with `text`.
pub fn note(actor: &str, text: &str) -> String {
    serde_json::json!({
        "type": "Create",
        "id": format!("{actor}/activities/{}", text.len()),
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"type": "Note", "content": format!("<p>{text}</p>")}
    })
    .to_string()
}
