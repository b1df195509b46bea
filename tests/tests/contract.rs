//! The compatibility promise (docs/contract.md): modules built against
//! `palisade:policy@0.1.0`, kept as built in `tests/contract/0.1.0`, load
//! in today's host and judge exactly as the same modules built against the
//! current contract, capabilities included.

use palisade_e2e::{example, fixture, judge, note, palisade, root};

fn old(name: &str) -> String {
    root()
        .join("tests/contract/0.1.0")
        .join(format!("{name}.wasm"))
        .display()
        .to_string()
}

#[test]
fn modules_built_against_0_1_load_and_say_so() {
    let p = palisade(
        &format!(
            r#"
            [[policy]]
            source = "{}"
            [[policy]]
            source = "{}"
            grants = ["log", "state"]
            [[policy]]
            source = "{}"
            grants = ["log", "lists"]
            [[policy]]
            source = "builtin:mention-limit"
            "#,
            old("hashtag_stuffing"),
            old("duplicate_burst"),
            old("domain_list"),
        ),
        &root(),
    );
    assert!(
        p.policies().failures().is_empty(),
        "{:?}",
        p.policies().failures()
    );
    let contracts: Vec<(String, String)> = p
        .policies()
        .modules()
        .iter()
        .map(|m| (m.name().to_owned(), m.contract().to_owned()))
        .collect();
    assert_eq!(
        contracts,
        [
            ("hashtag-stuffing".to_owned(), "0.1.0".to_owned()),
            ("duplicate-burst".to_owned(), "0.1.0".to_owned()),
            ("domain-list".to_owned(), "0.1.0".to_owned()),
            ("mention-limit".to_owned(), "0.3.0".to_owned()),
        ]
    );
}

/// A post with more hashtags than words.
fn stuffed() -> String {
    let mut a: serde_json::Value =
        serde_json::from_str(&note("https://a.example/users/x", "buy #a #b #c #d #e #f")).unwrap();
    a["object"]["tag"] = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|t| serde_json::json!({"type": "Hashtag", "name": format!("#{t}")}))
        .collect();
    a.to_string()
}

/// Judge `activities` in order with `module` (a source) alone; the trace
/// entries' verdicts, reasons and points.
fn verdicts(module: &str, extra: &str, activities: &[String]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!(
        "palisade-contract-{}-{}",
        std::process::id(),
        module.len() + extra.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("blocked.txt"), "misskey.spam.example\n").unwrap();
    let p = palisade(
        &format!(
            "[[policy]]\nsource = \"{module}\"\n{extra}\n[lists.blocked]\npath = \"blocked.txt\"\n"
        ),
        &dir,
    );
    assert!(
        p.policies().failures().is_empty(),
        "{:?}",
        p.policies().failures()
    );
    activities
        .iter()
        .map(|a| {
            let d = judge(&p, a);
            let t = &d.trace[0];
            assert!(t.error.is_none(), "{module}: {:?}", t.error);
            format!("{:?} {} {:?} {:?}", d.action, t.verdict, t.reason, t.points)
        })
        .collect()
}

#[test]
fn a_0_1_module_judges_as_its_current_build() {
    let activities = vec![stuffed(), note("https://a.example/users/y", "a quiet post")];
    let then = verdicts(&old("hashtag_stuffing"), "", &activities);
    let now = verdicts(
        &fixture("hashtag-stuffing").display().to_string(),
        "",
        &activities,
    );
    assert_eq!(then, now);
    assert!(then[0].contains("score"), "{then:?}");
}

#[test]
fn a_0_1_module_using_state_counts_as_its_current_build() {
    let wave: Vec<String> = example("wave.jsonl").lines().map(str::to_owned).collect();
    let grants = "grants = [\"log\", \"state\"]";
    let then = verdicts(&old("duplicate_burst"), grants, &wave);
    // The current build words its reasons otherwise and, by default, also
    // scores the third and fourth copies: without that, each copy gets
    // the same action and verdict from both builds.
    let now = verdicts(
        "builtin:duplicate-burst",
        &format!("{grants}\nconfig = {{ score_from = 0 }}"),
        &wave,
    );
    let did = |v: &Vec<String>| -> Vec<String> {
        v.iter()
            .map(|s| s.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(did(&then), did(&now));
    assert!(then.last().unwrap().starts_with("Reject"), "{then:?}");
}

#[test]
fn a_0_1_module_using_lists_looks_up_as_its_current_build() {
    let activities = vec![example("wave.json"), example("reply.json")];
    let config = "grants = [\"log\", \"lists\"]\nconfig = { lists = [\"blocked\"] }";
    let then = verdicts(&old("domain_list"), config, &activities);
    let now = verdicts("builtin:domain-list", config, &activities);
    assert_eq!(then, now);
    assert!(then[0].starts_with("Reject"), "{then:?}");
    assert!(then[1].starts_with("Accept"), "{then:?}");
}

fn v0_2(name: &str) -> String {
    root()
        .join("tests/contract/0.2.0")
        .join(format!("{name}.wasm"))
        .display()
        .to_string()
}

/// Modules built against 0.2.0 (the bundled modules as released with it)
/// load, say so, and get what 0.2.0 promised: the first-seen times of the
/// context (mention-limit's lower limit for a new actor), `state` and
/// `lists`.
#[test]
fn modules_built_against_0_2_load_and_judge_with_their_capabilities() {
    let wave: Vec<String> = example("wave.jsonl").lines().map(str::to_owned).collect();
    let mentions = verdicts(&v0_2("mention_limit"), "", &[example("wave.json")]);
    assert!(
        mentions[0].starts_with("Reject reject") && mentions[0].contains("first seen"),
        "{mentions:?}"
    );
    let burst = verdicts(
        &v0_2("duplicate_burst"),
        "grants = [\"log\", \"state\"]",
        &wave,
    );
    assert!(burst[0].starts_with("Accept pass"), "{burst:?}");
    assert!(
        burst.last().unwrap().starts_with("Reject reject"),
        "{burst:?}"
    );
    let listed = verdicts(
        &v0_2("domain_list"),
        "grants = [\"log\", \"lists\"]\nconfig = { lists = [\"blocked\"] }",
        &[example("wave.json"), example("reply.json")],
    );
    assert!(listed[0].starts_with("Reject reject"), "{listed:?}");
    assert!(listed[1].starts_with("Accept pass"), "{listed:?}");

    let p = palisade(
        &format!("[[policy]]\nsource = \"{}\"\n", v0_2("mention_limit")),
        &root(),
    );
    assert_eq!(p.policies().modules()[0].contract(), "0.2.0");
}
