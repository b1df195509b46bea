//! `palisade new`: each language's project builds, passes its own tests
//! and loads in Palisade, as it comes.

use std::path::Path;
use std::process::Command;

use palisade_e2e::{TempDir, binary, root};

/// Run `command`, failing the test with its output unless it succeeds.
fn run(command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// Cargo for a project outside the workspace: none of the outer build's
/// settings, and a target folder kept between test runs.
fn cargo(project: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(project)
        .env("CARGO_TARGET_DIR", root().join("target/scaffold"));
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Judge `activities` (JSON Lines) with the drop-in folder `policies`;
/// the decisions.
fn check(policies: &Path, activities: &str) -> Vec<serde_json::Value> {
    let file = policies.join("activities.jsonl");
    std::fs::write(&file, activities).unwrap();
    let out = run(
        Command::new(binary())
            .arg("check")
            .arg("--policies-dir")
            .arg(policies)
            .arg(&file),
        "palisade check",
    );
    out.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn loop_of(actor: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            serde_json::json!({
                "type": "Create", "actor": actor, "id": format!("{actor}/{i}"),
                "object": {"type": "Note", "content": format!("<p>post {i}</p>")}
            })
            .to_string()
                + "\n"
        })
        .collect()
}

#[test]
fn a_new_rust_module_builds_passes_its_tests_and_judges() {
    let dir = TempDir::new("new-rust");
    let project = dir.0.join("loop-guard");
    run(
        Command::new(binary())
            .args(["new", "loop-guard", "--lang", "rust", "--dir"])
            .arg(&project),
        "palisade new",
    );
    let tests = run(cargo(&project).args(["test", "--quiet"]), "cargo test");
    assert!(tests.contains("3 passed"), "{tests}");
    run(
        cargo(&project).args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"]),
        "cargo build --target wasm32-wasip2",
    );
    let wasm = root().join("target/scaffold/wasm32-wasip2/release/loop_guard.wasm");
    let policies = dir.0.join("policies.d");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::copy(&wasm, policies.join("loop-guard.wasm")).unwrap();
    std::fs::write(
        policies.join("loop-guard.toml"),
        "grants = [\"log\", \"state\"]\n",
    )
    .unwrap();
    let decisions = check(&policies, &loop_of("https://a.example/users/bot", 7));
    let points: Vec<Option<f64>> = decisions
        .iter()
        .map(|d| {
            d["trace"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["module"] == "loop-guard")
                .expect("the new module judged")["points"]
                .as_f64()
        })
        .collect();
    assert_eq!(points, [None, None, None, None, None, Some(3.0), Some(3.0)]);

    // Names a module cannot have are refused before anything is written.
    let out = Command::new(binary())
        .args(["new", "Loop_Guard"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot name a module"));
    assert!(!dir.0.join("Loop_Guard").exists());
}

/// Make a `lang` project and run its own test command; its output.
fn new_project_passes_its_tests(lang: &str, test: &[&str]) -> String {
    let dir = TempDir::new(&format!("new-{lang}"));
    let project = dir.0.join("link-guard");
    run(
        Command::new(binary())
            .args(["new", "link-guard", "--lang", lang, "--dir"])
            .arg(&project),
        "palisade new",
    );
    assert!(
        project.join("wit/deps/policy/policy.wit").is_file(),
        "the contract travels with the project"
    );
    run(
        Command::new(test[0])
            .args(&test[1..])
            .current_dir(&project)
            .env("PALISADE", binary()),
        &format!("the {lang} project's tests"),
    )
}

#[test]
fn a_new_python_module_builds_and_passes_its_tests() {
    let out = new_project_passes_its_tests("python", &["python3", "test_module.py"]);
    assert!(out.contains("Ran 2 tests") && out.contains("OK"), "{out}");
}

#[test]
fn a_new_js_module_builds_and_passes_its_tests() {
    let out = new_project_passes_its_tests("js", &["npm", "test", "--silent"]);
    assert!(
        out.contains("# pass 2") && out.contains("# fail 0"),
        "{out}"
    );
}
