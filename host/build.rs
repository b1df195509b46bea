//! Builds the reference modules in `policies/` for `wasm32-wasip2` and
//! embeds them, so that `palisade` ships its defaults as `builtin:NAME` and a
//! fresh clone needs no manual wasm build (docs/adr/0001).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir
        .parent()
        .expect("host/ sits in the workspace")
        .to_owned();
    let policies_dir = root.join("policies");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());

    // Cargo.toml: the guests' build profile (`[profile.wasm]`) is there.
    for watched in [
        "policies",
        "sdk/src",
        "sdk/Cargo.toml",
        "wit",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=PALISADE_GUEST_TARGET_DIR");

    let mut names: Vec<String> = std::fs::read_dir(&policies_dir)
        .expect("read policies/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();

    // A separate target folder: the outer build holds a lock on its own.
    let target_dir = std::env::var_os("PALISADE_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| guest_target_dir(&out_dir, &root));
    check_wasm_target();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--locked",
            "--profile",
            "wasm",
            "--target",
            "wasm32-wasip2",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    for name in &names {
        cmd.args(["-p", name]);
    }
    // The outer build's flags and jobserver are for the host, not the guests.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("run cargo to build the bundled modules");
    if !status.success() {
        panic!(
            "building the bundled policy modules for wasm32-wasip2 failed (see the output above)"
        );
    }

    let mut generated = String::from(
        "/// The bundled modules: name and component bytes.\npub static BUILTIN: &[(&str, &[u8])] = &[\n",
    );
    for name in &names {
        let artifact = target_dir
            .join("wasm32-wasip2/wasm")
            .join(format!("{}.wasm", name.replace('-', "_")));
        assert!(artifact.is_file(), "missing {}", artifact.display());
        generated.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            artifact.display().to_string()
        ));
    }
    generated.push_str("];\n");
    // A new file renamed into place: never rewrite one another build may
    // share (a target directory copied with hard links).
    let tmp = out_dir.join("builtin.rs.tmp");
    std::fs::write(&tmp, generated).expect("write builtin.rs");
    std::fs::rename(&tmp, out_dir.join("builtin.rs")).expect("write builtin.rs");
}

/// `target/guest` beside the outer build's profile folders.
fn guest_target_dir(out_dir: &Path, root: &Path) -> PathBuf {
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out (or with a
    // <triple>/ level when cross-compiling): find the folder holding the
    // profile folder.
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent())
        .and_then(|profile| profile.parent())
        .map(|target| target.join("guest"))
        .unwrap_or_else(|| root.join("target/guest"))
}

fn check_wasm_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let libdir = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", "wasm32-wasip2"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if !libdir.is_some_and(|d| d.is_dir()) {
        panic!(
            "\n\nPalisade bundles its policy modules as WebAssembly and needs the wasm32-wasip2 target:\n\n    \
             rustup target add wasm32-wasip2\n\n(`make run` and `make test` do this for you.)\n"
        );
    }
}
