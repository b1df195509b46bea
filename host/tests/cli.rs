//! The `palisade` command as a user runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn palisade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run palisade")
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn check_prints_one_decision_per_activity() {
    let out = palisade(&[
        "check",
        "examples/activities/wave.json",
        "examples/activities/reply.json",
        "examples/activities/wave.jsonl",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = lines(&out);
    assert_eq!(d.len(), 8);
    assert_eq!(d[0]["action"], "reject");
    assert_eq!(d[0]["source"], "examples/activities/wave.json:1");
    assert!(
        d[0]["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("mention-limit: 10 mentions")
    );
    assert_eq!(d[0]["trace"][0]["module"], "mention-limit");
    assert!(d[0]["trace"][0]["micros"].is_u64());
    assert_eq!(d[1]["action"], "accept");
    // JSON Lines: in order, sharing state; the fifth copy is the burst.
    let burst: Vec<&str> = d[2..]
        .iter()
        .map(|x| x["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        burst,
        ["accept", "accept", "accept", "accept", "reject", "reject"]
    );
    assert_eq!(d[6]["source"], "examples/activities/wave.jsonl:5");
}

#[test]
fn a_malformed_activity_is_a_decision_line_not_a_crash() {
    let dir = std::env::temp_dir().join(format!("palisade-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"type\": \"Create\",\n  \"actor\": nope}").unwrap();
    let out = palisade(&[
        "check",
        bad.to_str().unwrap(),
        "examples/activities/reply.json",
    ]);
    assert!(out.status.success());
    let d = lines(&out);
    assert_eq!(d.len(), 2);
    assert_eq!(d[0]["error"]["line"], 2);
    assert!(
        d[0]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("expected ident")
    );
    assert_eq!(d[1]["action"], "accept");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_unreadable_file_is_named_and_the_exit_is_non_zero() {
    let out = palisade(&[
        "check",
        "no/such/file.json",
        "examples/activities/reply.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read no/such/file.json"), "{stderr}");
    // The readable file was still judged.
    assert_eq!(lines(&out).len(), 1);
}

#[test]
fn a_bad_config_names_the_file_and_the_key() {
    let dir = std::env::temp_dir().join(format!("palisade-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("palisade.toml");
    std::fs::write(&cfg, "[limits]\ntimeout_msec = 10\n").unwrap();
    let out = palisade(&[
        "check",
        "--config",
        cfg.to_str().unwrap(),
        "examples/activities/reply.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("invalid configuration in {}", cfg.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field `timeout_msec`"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn policies_lists_the_modules_and_why_others_failed() {
    let out = palisade(&["policies"]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    for name in [
        "mention-limit",
        "first-contact",
        "duplicate-burst",
        "domain-list",
    ] {
        assert!(table.contains(name), "{table}");
    }
    let dir = std::env::temp_dir().join(format!("palisade-pol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("p.toml");
    std::fs::write(
        &cfg,
        "[[policy]]\nsource = \"builtin:mention-limit\"\n[[policy]]\nsource = \"builtin:duplicate-burst\"\n",
    )
    .unwrap();
    let out = palisade(&["policies", "--json", "--config", cfg.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed module makes the exit 1"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["modules"][0]["name"], "mention-limit");
    assert_eq!(doc["modules"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(doc["modules"][0]["mode"], "enforce");
    assert_eq!(doc["failures"][0]["source"], "builtin:duplicate-burst");
    assert!(
        doc["failures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not granted `state`")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_annotated_example_configuration_loads() {
    let out = palisade(&["policies", "--config", "examples/palisade.toml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = palisade(&[
        "check",
        "--config",
        "examples/palisade.toml",
        "examples/activities/wave.json",
    ]);
    let d = lines(&out);
    // The wave's origin is on the example blocklist, but mention-limit,
    // first in the chain, already rejects it.
    assert_eq!(d[0]["action"], "reject");
    assert_eq!(d[0]["trace"].as_array().unwrap().len(), 1);
}

#[test]
fn help_describes_the_commands() {
    let out = palisade(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("check") && help.contains("policies"),
        "{help}"
    );
    let out = palisade(&["check", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("JSON Lines") && help.contains("--policies-dir"),
        "{help}"
    );
}

#[test]
fn serve_starts_answers_and_stops_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = std::env::temp_dir().join(format!("palisade-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("p.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\n[quarantine]\npath = \"q.db\"\n[decision_log]\noutput = \"off\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .env("PALISADE_LOG", "info")
        .env_remove("PALISADE_ADMIN_TOKEN")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    let addr = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "serve exited early:\n{log}"
        );
        log.push_str(&line);
        if let Some(i) = line.find("listen=Some(") {
            let rest = &line[i + "listen=Some(".len()..];
            break rest[..rest.find(')').unwrap()].to_owned();
        }
    };
    assert!(
        log.contains("admin API off: no token") || {
            let mut l = String::new();
            stderr.read_line(&mut l).unwrap();
            l.contains("admin API off: no token")
        }
    );
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok\n"));

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(
        dir.join("q.db").is_file(),
        "the quarantine lives beside the configuration"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A process killed when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn policies_live_shows_what_a_running_sidecar_judges_with_after_a_failed_reload() {
    let dir = std::env::temp_dir().join(format!("palisade-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A free loopback port for the admin API, which --live finds in the
    // configuration.
    let admin = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    std::fs::write(dir.join("token"), "live-token\n").unwrap();
    let cfg = dir.join("p.toml");
    let config = |mention_config: &str| {
        format!(
            "[[policy]]\nsource = \"builtin:mention-limit\"\nconfig = {{ {mention_config} }}\n\
             [server]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"{admin}\"\ntoken_file = \"token\"\n\
             [quarantine]\npath = \"q.db\"\n[decision_log]\noutput = \"off\"\n\
             [policies]\ndebounce_ms = 20\n[cache]\nenabled = false\n"
        )
    };
    std::fs::write(&cfg, config("max_mentions = 4")).unwrap();
    let _serve = Running(
        Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["serve", "--config", cfg.to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let live = || palisade(&["policies", "--live", "--config", cfg.to_str().unwrap()]);
    let until = |what: &str, check: &dyn Fn(&Output) -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let out = live();
            if check(&out) {
                return out;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: never; last:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let out = until("the sidecar answers", &|o| o.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("mention-limit"),
        "{out:?}"
    );

    // A setting the module refuses: the sidecar keeps the previous one.
    std::fs::write(&cfg, config("max_mentions = \"four\"")).unwrap();
    let out = until("the failed reload shows", &|o| o.status.code() == Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("FAILED  builtin:mention-limit: refused its configuration"),
        "{table}"
    );
    assert!(
        table.contains("the previous version (mention-limit 0.1.0"),
        "{table}"
    );
    assert!(table.contains("last reload: partial"), "{table}");
    assert!(
        table.lines().nth(1).unwrap().starts_with("mention-limit"),
        "{table}"
    );

    // Without the token, --live says what is missing.
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["policies", "--live"])
        .env_remove("PALISADE_ADMIN_TOKEN")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--live needs the admin token"),
        "{out:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn keygen_sign_verify_and_inspect_a_module() {
    let dir = std::env::temp_dir().join(format!("palisade-keys-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("limit.wasm");
    std::fs::write(&module, palisade::builtin::get("mention-limit").unwrap()).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let out = run(&["keygen", "--out", "vendor"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        run(&["keygen", "--out", "vendor"]).status.code() == Some(2),
        "keys are never overwritten"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("vendor.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the secret key is private");
    }

    // Unsigned: verify fails.
    let out = run(&["verify", "--pubkey", "vendor.pub", "limit.wasm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("FAILED, unsigned"),
        "{out:?}"
    );

    let out = run(&["sign", "--key", "vendor.key", "limit.wasm"]);
    assert!(out.status.success(), "{out:?}");
    assert!(dir.join("limit.wasm.minisig").is_file());
    let out = run(&["verify", "--pubkey", "vendor.pub", "limit.wasm"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK, signed by trusted key"));

    let out = run(&["inspect", "--json", "--pubkey", "vendor.pub", "limit.wasm"]);
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["name"], "mention-limit");
    assert_eq!(doc["version"], "0.1.0");
    assert_eq!(doc["contract"], "0.4.0");
    assert_eq!(doc["signature"]["status"], "trusted");
    assert_eq!(doc["signature"]["trusted_comment"], "limit.wasm");
    assert_eq!(
        doc["sha256"],
        palisade::runtime::sha256_hex(&std::fs::read(&module).unwrap())
    );
    assert!(
        doc["config_schema"]
            .as_str()
            .unwrap()
            .contains("max_mentions")
    );
    let text = String::from_utf8_lossy(&run(&["inspect", "limit.wasm"]).stdout).into_owned();
    assert!(
        text.contains("signature:     signed by untrusted key"),
        "{text}"
    );
    assert!(
        text.contains("contract:      palisade:policy@0.4.0"),
        "{text}"
    );

    // Altered after signing: verify fails and says why.
    let mut bytes = std::fs::read(&module).unwrap();
    bytes.extend_from_slice(b"\0\x02xy");
    std::fs::write(&module, bytes).unwrap();
    let out = run(&["verify", "--pubkey", "vendor.pub", "limit.wasm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("FAILED, invalid signature"),
        "{out:?}"
    );

    // Not a module: inspect says so.
    std::fs::write(dir.join("junk.wasm"), b"junk").unwrap();
    let out = run(&["inspect", "junk.wasm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WebAssembly component"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_relative_policies_dir_is_read_from_the_working_directory() {
    let rel = format!("target/palisade-rel-{}", std::process::id());
    let dir = root().join(&rel);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("limit.wasm"),
        palisade::builtin::get("mention-limit").unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("limit.toml"), "name = \"dropped-limit\"\n").unwrap();
    let out = palisade(&["policies", "--json", "--policies-dir", &rel]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{doc:#}");
    let names: Vec<&str> = doc["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"dropped-limit"), "{names:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_fails_when_a_configured_module_did_not_load() {
    let dir = std::env::temp_dir().join(format!("palisade-cli-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("broken.wasm"), b"not a module").unwrap();
    let config = dir.join("palisade.toml");
    std::fs::write(
        &config,
        "[[policy]]\nsource = \"builtin:mention-limit\"\n[[policy]]\nsource = \"broken.wasm\"\n",
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    let out = palisade(&[
        "check",
        "--config",
        &config,
        "examples/activities/reply.json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "judged without a configured module"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.wasm"), "{stderr}");
    assert!(stderr.contains("did not load"), "{stderr}");
    // The decisions are still printed, for what they are worth.
    assert_eq!(lines(&out).len(), 1);

    std::fs::write(
        dir.join("palisade.toml"),
        "[policies]\nallow_missing = true\n[[policy]]\nsource = \"broken.wasm\"\n",
    )
    .unwrap();
    let out = palisade(&[
        "check",
        "--config",
        &config,
        "examples/activities/reply.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "allowed explicitly");
    let _ = std::fs::remove_dir_all(&dir);
}

/// In a container with a virtual-memory limit, the instance pool's address
/// space reservation cannot be made: the start fails, saying what to change,
/// and a smaller pool starts.
#[test]
fn a_virtual_memory_limit_too_small_for_the_pool_says_what_to_lower() {
    let dir = std::env::temp_dir().join(format!("palisade-cli-vm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let small = dir.join("small.toml");
    std::fs::write(
        &small,
        "[limits]\ninstances = 6\n[state]\nurl = \"memory\"\n",
    )
    .unwrap();
    // 80 GiB of address space: not the default pool's 2 TiB, room for the
    // twelve memories of six instances (one per default module).
    let run = |args: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -v 83886080 && exec \"$0\" check {args} examples/activities/reply.json"
            ))
            .arg(env!("CARGO_BIN_EXE_palisade"))
            .current_dir(root())
            .output()
            .expect("run palisade under ulimit -v")
    };
    let out = run("");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started under ulimit -v: {stderr}");
    assert!(
        stderr.contains("limits.instances = 256") && stderr.contains("ulimit -v"),
        "{stderr}"
    );
    let out = run(&format!("--config {}", small.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&out).len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
