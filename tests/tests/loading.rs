//! What is refused at load, and that the refusal says why.

use palisade::Action;
use palisade_e2e::{fixture, judge, palisade, root};

fn failures(p: &palisade::Palisade) -> Vec<String> {
    p.policies()
        .failures()
        .iter()
        .map(|f| f.error.clone())
        .collect()
}

#[test]
fn an_ungranted_capability_refuses_the_module_by_name() {
    let p = palisade(
        r#"
        [[policy]]
        source = "builtin:duplicate-burst"
        grants = ["log"]
        [[policy]]
        source = "builtin:mention-limit"
        "#,
        &root(),
    );
    let errors = failures(&p);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("imports `palisade:policy/state@0.4.0` but is not granted `state`"),
        "{}",
        errors[0]
    );
    // The host keeps running with the module that loaded.
    let set = p.policies();
    let names: Vec<&str> = set.modules().iter().map(|m| m.name()).collect();
    assert_eq!(names, ["mention-limit"]);
}

#[test]
fn a_refused_configuration_refuses_the_module_with_its_message() {
    let p = palisade(
        r#"
        [[policy]]
        source = "builtin:mention-limit"
        [policy.config]
        max_mentions = "ten"
        "#,
        &root(),
    );
    let errors = failures(&p);
    assert_eq!(
        errors,
        [
            "refused its configuration: invalid configuration at `max_mentions`: invalid type: string \"ten\", expected usize"
        ]
    );
}

#[test]
fn files_that_are_not_components_are_refused() {
    let dir = std::env::temp_dir().join(format!("palisade-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("junk.wasm"), b"not wasm at all").unwrap();
    // A core module, not a component: the magic and version of wasm 1.0.
    std::fs::write(dir.join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let p = palisade(
        r#"
        [[policy]]
        source = "junk.wasm"
        [[policy]]
        source = "core.wasm"
        [[policy]]
        source = "missing.wasm"
        [[policy]]
        source = "builtin:nope"
        "#,
        &dir,
    );
    let errors = failures(&p);
    assert!(
        errors[0].starts_with("not a WebAssembly component"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("not a WebAssembly component"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].starts_with("cannot read ") && errors[2].contains("missing.wasm"),
        "{}",
        errors[2]
    );
    assert!(errors[3].starts_with("no bundled module `nope` (bundled: account-facts, domain-list, duplicate-burst, first-contact, keyword, link-spam, mention-limit, newcomer-burst, rate-limit)"), "{}", errors[3]);
    assert!(p.policies().modules().is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_sha256_pin_must_match() {
    let path = fixture("hostile");
    let bytes = std::fs::read(&path).unwrap();
    let actual = palisade::runtime::sha256_hex(&bytes);
    let config = |pin: &str| {
        format!(
            "[[policy]]\nsource = \"{}\"\nsha256 = \"{pin}\"\n",
            path.display()
        )
    };
    let ok = palisade(&config(&actual.to_uppercase()), &root());
    assert!(failures(&ok).is_empty());
    assert_eq!(ok.policies().modules()[0].sha256(), actual);
    let wrong = palisade(&config(&"0".repeat(64)), &root());
    assert_eq!(
        failures(&wrong),
        [format!(
            "sha256 is {actual}, but the configuration pins {}",
            "0".repeat(64)
        )]
    );
}

#[test]
fn two_modules_cannot_share_a_name() {
    let p = palisade(
        r#"
        [[policy]]
        source = "builtin:mention-limit"
        [[policy]]
        source = "builtin:mention-limit"
        [[policy]]
        source = "builtin:mention-limit"
        name = "mention-limit-strict"
        mode = "shadow"
        [policy.config]
        new_actor_max_mentions = 1
        "#,
        &root(),
    );
    assert_eq!(
        failures(&p),
        ["another module is already named `mention-limit`: give one a different `name`"]
    );
    // The renamed copy runs in shadow mode: traced, never applied.
    let d = judge(&p, &palisade_e2e::example("reply.json"));
    assert_eq!(d.action, Action::Accept);
    assert_eq!(d.trace[1].module, "mention-limit-strict");
    assert_eq!(d.trace[1].verdict, "reject");
}

#[test]
fn drop_in_modules_load_with_their_settings() {
    let dir = std::env::temp_dir().join(format!("palisade-dropin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("hostile"), dir.join("b-hostile.wasm")).unwrap();
    std::fs::write(
        dir.join("b-hostile.toml"),
        "on_error = \"reject\"\nweight = 6.0\n",
    )
    .unwrap();
    std::fs::write(dir.join("a-bad.wasm"), b"junk").unwrap();
    std::fs::write(dir.join("notes.txt"), b"ignored").unwrap();
    let mut config = palisade::Config::parse("policy = []").unwrap();
    config.base_dir = root();
    let p = palisade::Palisade::new(&config, Some(&dir)).unwrap();
    assert_eq!(p.policies().modules().len(), 1);
    assert_eq!(p.policies().failures().len(), 1);
    assert!(p.policies().failures()[0].source.ends_with("a-bad.wasm"));
    let set = p.policies();
    let m = &set.modules()[0];
    assert_eq!(
        m.settings().on_error,
        palisade::config::FailurePolicy::Reject
    );
    // 1 point times weight 6 reaches the quarantine threshold of 5.
    let d = judge(&p, &palisade_e2e::note("https://a.example/u/1", "hello"));
    assert_eq!((d.action, d.score), (Action::Quarantine, 6.0));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_example_vendor_module_drops_in_beside_the_bundled_ones() {
    let dir = std::env::temp_dir().join(format!("palisade-tour-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        fixture("hashtag-stuffing"),
        dir.join("hashtag-stuffing.wasm"),
    )
    .unwrap();
    let config = palisade::Config {
        base_dir: root(),
        ..Default::default()
    };
    let p = palisade::Palisade::new(&config, Some(&dir)).unwrap();
    let set = p.policies();
    let names: Vec<&str> = set.modules().iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        [
            "mention-limit",
            "first-contact",
            "account-facts",
            "duplicate-burst",
            "newcomer-burst",
            "domain-list",
            "hashtag-stuffing"
        ]
    );
    let tags: Vec<serde_json::Value> = (0..6)
        .map(|i| serde_json::json!({"type": "Hashtag", "name": format!("#deal{i}")}))
        .collect();
    let body = serde_json::json!({
        "type": "Create", "actor": "https://a.example/u/1",
        "object": {"type": "Note", "content": "<p>cheap #deal0 #deal1 #deal2 #deal3 #deal4 #deal5</p>", "tag": tags}
    });
    let d = judge(&p, &body.to_string());
    assert_eq!(d.trace[6].module, "hashtag-stuffing");
    assert_eq!(d.trace[6].points, Some(4.0));
    assert_eq!(d.score, 4.0);
    std::fs::remove_dir_all(&dir).ok();
}

/// A copy of the `wayward` fixture in `dir` whose load-time misbehaviour is
/// `trigger` (see its doc): the 16 bytes after `palisade-trigger:` in its
/// data segment, overwritten.
fn wayward(dir: &std::path::Path, trigger: &str) -> std::path::PathBuf {
    let mut bytes = std::fs::read(fixture("wayward")).unwrap();
    let marker = b"palisade-trigger:";
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("the fixture carries its trigger")
        + marker.len();
    assert!(trigger.len() <= 16);
    let padded = format!("{trigger:.<16}");
    bytes[at..at + 16].copy_from_slice(padded.as_bytes());
    let path = dir.join(format!("wayward-{trigger}.wasm"));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn describe_fields_over_their_caps_refuse_the_module_naming_the_field_and_the_cap() {
    let dir = palisade_e2e::TempDir::new("load-describe");
    let cases = [
        (
            "long-version",
            "describe() returned a `version` of 1048576 bytes; at most 64 bytes",
        ),
        (
            "long-text",
            "describe() returned a `description` of 2048 bytes; at most 1024 bytes",
        ),
        (
            "many-caps",
            "describe() returned 17 `capabilities`; at most 16 entries",
        ),
        (
            "long-cap",
            "describe() returned a capability of 65 bytes; at most 64 bytes each",
        ),
        (
            "big-schema",
            "describe() returned a `config_schema` of 66562 bytes; at most 64 KiB",
        ),
    ];
    // A deadline no load reaches on a busy machine: the caps are at test.
    let mut config = String::from("[limits]\ntimeout_ms = 20000\n");
    for (trigger, _) in &cases {
        config.push_str(&format!(
            "[[policy]]\nsource = \"{}\"\nname = \"wayward-{trigger}\"\n",
            wayward(&dir.0, trigger).display()
        ));
    }
    // The same module within its caps loads beside them.
    config.push_str(&format!(
        "[[policy]]\nsource = \"{}\"\nname = \"wayward-none\"\n",
        wayward(&dir.0, "none").display()
    ));
    let p = palisade(&config, &dir.0);
    let errors = failures(&p);
    let expected: Vec<&str> = cases.iter().map(|(_, e)| *e).collect();
    assert_eq!(errors, expected);
    let set = p.policies();
    let names: Vec<&str> = set.modules().iter().map(|m| m.name()).collect();
    assert_eq!(names, ["wayward-none"]);
    assert_eq!(set.modules()[0].version(), "0.1.0");
    let d = judge(&p, &palisade_e2e::note("https://a.example/u/1", "hello"));
    assert_eq!(d.trace.len(), 1);
    assert_eq!(d.trace[0].reason.as_deref(), Some("loaded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_misbehaving_while_it_loads_fails_only_itself_and_serve_stays_up() {
    let dir = palisade_e2e::TempDir::new("load-wayward");
    // The module growing its memory gets a deadline it cannot reach
    // first (it allocates 1 MiB at a time up to the 64 MiB cap).
    let policy = |path: std::path::PathBuf, name: &str, config: &str| {
        let deadline = if config == "grow" {
            "timeout_ms = 20000\n"
        } else {
            ""
        };
        format!(
            "[[policy]]\nsource = \"{}\"\nname = \"{name}\"\n{deadline}\
             [policy.config]\ndo = \"{config}\"\n",
            path.display()
        )
    };
    let mut text = String::new();
    text.push_str(&policy(wayward(&dir.0, "spin"), "spins-describing", ""));
    text.push_str(&policy(
        wayward(&dir.0, "none"),
        "grows-configuring",
        "grow",
    ));
    text.push_str(&policy(
        wayward(&dir.0, "none"),
        "spins-configuring",
        "spin",
    ));
    text.push_str(&policy(wayward(&dir.0, "start-trap"), "traps-starting", ""));
    text.push_str(&policy(wayward(&dir.0, "none"), "wayward", ""));
    text.push_str(
        "[server]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [decision_log]\noutput = \"off\"\n[cache]\ndir = \"cache\"\n[state]\nurl = \"memory\"\n",
    );
    let running = palisade_e2e::serve_config_file(&dir.0, &text, "loading-token").await;
    let set = running.app.palisade.policies();
    let errors: Vec<(String, String)> = set
        .failures()
        .iter()
        .map(|f| (f.source.clone(), f.error.clone()))
        .collect();
    let file = |trigger: &str| {
        dir.0
            .join(format!("wayward-{trigger}.wasm"))
            .display()
            .to_string()
    };
    let owned = |(f, e): (String, &str)| (f, e.to_owned());
    assert_eq!(
        errors,
        [
            (
                file("spin"),
                "failed to start: timeout: ran past its CPU deadline (in describe())"
            ),
            (
                file("none"),
                "failed to start: memory: tried to grow its memory past the cap \
                 (wasm trap: wasm `unreachable` instruction executed) (in configure())"
            ),
            (
                file("none"),
                "failed to start: timeout: ran past its CPU deadline (in configure())"
            ),
            (
                file("start-trap"),
                "failed to start: trap: wasm trap: wasm `unreachable` instruction executed \
                 (in describe())"
            ),
        ]
        .map(owned)
    );
    let names: Vec<&str> = set.modules().iter().map(|m| m.name()).collect();
    assert_eq!(names, ["wayward"]);

    // Still up, judging with the module that loaded.
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", running.url))
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let d: serde_json::Value = client
        .post(format!("{}/v1/judge", running.url))
        .header("content-type", "application/activity+json")
        .body(palisade_e2e::note("https://a.example/u/1", "hello"))
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["trace"][0]["module"], "wayward", "{d:#}");
    assert_eq!(d["trace"][0]["reason"], "loaded", "{d:#}");
}
