//! The bundled modules on real payloads: what an admin would see.

use palisade::Action;
use palisade_e2e::{corpus, example, fixture, judge, note, palisade, root};

fn defaults() -> palisade::Palisade {
    palisade("", &root())
}

#[test]
fn every_corpus_document_is_judged_without_an_error() {
    let p = defaults();
    let docs = corpus();
    assert!(docs.len() >= 100, "the corpus has {} documents", docs.len());
    for (name, body) in &docs {
        let d = judge(&p, body);
        assert!(d.error.is_none(), "{name}: {:?}", d.error);
        assert_eq!(d.trace.len(), 4, "{name}: every module judged");
        for t in &d.trace {
            assert!(
                t.error.is_none(),
                "{name}: module {} failed: {:?}",
                t.module,
                t.error
            );
        }
    }
}

#[test]
fn a_misskey_wave_note_with_ten_mentions_from_a_new_actor_is_rejected() {
    let d = judge(&defaults(), &example("wave.json"));
    assert_eq!(d.action, Action::Reject);
    assert_eq!(
        d.reasons,
        [
            "mention-limit: 10 mentions exceed the limit of 4 for an actor first seen less than 24h ago"
        ]
    );
    assert_eq!(
        d.id.as_deref(),
        Some("https://misskey.spam.example/notes/9pz1wave01/activity")
    );
}

#[test]
fn a_mastodon_reply_with_two_mentions_is_accepted() {
    let p = defaults();
    let d = judge(&p, &example("reply.json"));
    assert_eq!(d.action, Action::Accept);
    assert!(d.reasons.is_empty());
    // A real Pleroma reply with two mentions, from the corpus.
    let (_, body) = corpus()
        .into_iter()
        .find(|(n, _)| n.contains("create-pleroma-reply-to-misskey-thread"))
        .unwrap();
    assert_eq!(judge(&p, &body).action, Action::Accept);
}

/// What `examples/activities/wave.jsonl` gets: the same text from five
/// fresh accounts, the fifth and later copies rejected by duplicate-burst.
const BURST: [Action; 6] = [
    Action::Accept,
    Action::Accept,
    Action::Accept,
    Action::Accept,
    Action::Reject,
    Action::Reject,
];

#[test]
fn the_same_text_from_five_fresh_accounts_is_a_burst() {
    let p = defaults();
    let wave = example("wave.jsonl");
    let actions: Vec<Action> = wave.lines().map(|l| judge(&p, l).action).collect();
    assert_eq!(actions, BURST);
}

#[test]
fn first_contact_scores_new_actors_mentioning_local_users() {
    let p = palisade(
        r#"
        local_hosts = ["mastodon.example"]
        [thresholds]
        quarantine = 3.0
        reject = 10.0
        "#,
        &root(),
    );
    // Two mentions (one local) from a brand-new actor: first-contact scores 3.
    let line = example("wave.jsonl").lines().next().unwrap().to_owned();
    let d = judge(&p, &line);
    assert_eq!(d.action, Action::Quarantine);
    assert_eq!(d.score, 3.0);
    assert!(
        d.reasons[0].starts_with("first-contact: "),
        "{:?}",
        d.reasons
    );
}

#[test]
fn domain_list_reads_a_mastodon_export() {
    let dir = std::env::temp_dir().join(format!("palisade-lists-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("blocks.csv"),
        "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n\
         spam.example,suspend,true,true,2024 wave origin,false\n\
         mastodon.example,silence,false,false,,false\n",
    )
    .unwrap();
    let p = palisade(
        r#"
        [lists.blocks]
        path = "blocks.csv"
        [[policy]]
        source = "builtin:domain-list"
        grants = ["lists"]
        [policy.config]
        lists = ["blocks"]
        "#,
        &dir,
    );
    let wave = judge(&p, &example("wave.json"));
    assert_eq!(wave.action, Action::Reject);
    assert!(
        wave.reasons[0].contains("misskey.spam.example"),
        "{:?}",
        wave.reasons
    );
    assert!(
        wave.reasons[0].contains("2024 wave origin"),
        "{:?}",
        wave.reasons
    );
    assert_eq!(judge(&p, &example("reply.json")).action, Action::Quarantine);
    assert_eq!(
        judge(&p, &note("https://fine.example/u/1", "hi")).action,
        Action::Accept
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_missing_list_file_stops_start_up_with_its_path() {
    let mut config = palisade::Config::parse("[lists.blocks]\npath = \"nowhere.csv\"\n").unwrap();
    config.base_dir = root();
    let err = palisade::Palisade::new(&config, None)
        .err()
        .expect("start-up fails")
        .to_string();
    assert!(err.starts_with("cannot read list `blocks` from "), "{err}");
    assert!(err.contains("nowhere.csv"), "{err}");
}

#[test]
fn malformed_documents_get_a_decision_with_the_error_and_its_position() {
    let d = judge(&defaults(), "{\"type\": \"Create\",\n \"actor\": }");
    let e = d.error.expect("an input error");
    assert_eq!((e.line, e.column), (2, 11));
    assert_eq!(d.action, Action::Accept);
    assert!(d.trace.is_empty());
}

#[test]
fn only_modules_that_ask_get_the_raw_json() {
    let path = fixture("hostile");
    let p = palisade(
        &format!("[[policy]]\nsource = \"{}\"\n", path.display()),
        &root(),
    );
    let body = note("https://a.example/u/1", "raw please");
    let d = judge(&p, &body);
    assert_eq!(
        d.trace[0].reason.as_deref(),
        Some(format!("raw={}", body.len()).as_str())
    );
}

/// The three bundled modules outside the defaults, compiled to wasm and run
/// in the sandbox, on the signals they are for.
#[test]
fn rate_limit_link_spam_and_keyword_judge_in_the_sandbox() {
    let p = palisade(
        r#"
        [[policy]]
        source = "builtin:rate-limit"
        grants = ["log", "state"]
        [policy.config.actor]
        limit = 3
        [[policy]]
        source = "builtin:link-spam"
        grants = ["log", "lists"]
        [[policy]]
        source = "builtin:keyword"
        [[policy.config.rules]]
        keywords = ["admins are lying to you"]
        action = "reject"
        label = "wave-2024"
        [[policy.config.rules]]
        regex = "(a+)+$"
        action = "score"
        points = 1.0
        "#,
        &root(),
    );
    assert!(
        p.policies().failures().is_empty(),
        "{:?}",
        p.policies().failures()
    );

    // The wave's text: keyword rejects it; link-spam scores the fresh
    // actor's link.
    let d = judge(&p, &example("wave.json"));
    assert_eq!(d.action, Action::Reject, "{d:?}");
    let by = |module: &str| d.trace.iter().find(|t| t.module == module).unwrap();
    assert_eq!(by("keyword").verdict, "reject");
    assert!(
        by("keyword")
            .reason
            .as_deref()
            .unwrap()
            .contains("admins are lying to you"),
        "{:?}",
        by("keyword")
    );
    assert_eq!(by("link-spam").verdict, "score");

    // A chat invite from a fresh actor.
    let d = judge(
        &p,
        &note(
            "https://new.example/users/a",
            "join us at https://discord.gg/abcdef",
        ),
    );
    let t = d.trace.iter().find(|t| t.module == "link-spam").unwrap();
    assert!(t.reason.as_deref().unwrap().contains("discord.gg"), "{t:?}");

    // One actor posting in a loop: the fourth Create within the window is
    // quarantined by rate-limit.
    let actions: Vec<Action> = (0..4)
        .map(|i| {
            judge(
                &p,
                &note(
                    "https://loop.example/users/bot",
                    &format!("post number {i}"),
                ),
            )
            .action
        })
        .collect();
    assert_eq!(actions[..3], [Action::Accept; 3]);
    assert_eq!(actions[3], Action::Quarantine);

    // A backtracking-prone pattern on a long input: judged, no timeout.
    let d = judge(
        &p,
        &note(
            "https://calm.example/users/x",
            &format!("{}!", "a".repeat(100_000)),
        ),
    );
    assert!(d.trace.iter().all(|t| t.error.is_none()), "{d:?}");
}

/// A Create{Note} from a fresh actor with `n` distinct mentions of local
/// users and `n` links.
fn flood(n: usize) -> String {
    let tags: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({"type": "Mention", "href": format!("https://mastodon.example/users/u{i}"),
                "name": format!("@u{i}@mastodon.example")})
        })
        .collect();
    let content: String = (0..n)
        .map(|i| format!("<a href=\"https://spam.example/{i}\">x</a> "))
        .collect();
    serde_json::json!({
        "type": "Create",
        "id": "https://spam.example/notes/flood/activity",
        "actor": "https://spam.example/users/flood",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"type": "Note", "content": content, "tag": tags}
    })
    .to_string()
}

#[test]
fn a_post_with_29000_mentions_is_rejected_not_skipped() {
    // It once pushed mention-limit past its deadline: the module was
    // skipped (its failure policy) and the spam went through.
    let d = judge(&defaults(), &flood(29_000));
    assert_eq!(d.action, Action::Reject, "{:?}", d.trace);
    assert!(
        d.reasons[0].starts_with("mention-limit: "),
        "{:?}",
        d.reasons
    );
    for t in &d.trace {
        assert!(t.error.is_none(), "{} failed: {:?}", t.module, t.error);
    }
}

#[test]
fn one_module_cannot_cancel_every_other_modules_evidence() {
    let scorer = fixture("scorer");
    let config = |vouch: bool| {
        format!(
            "[[policy]]\nsource = \"{0}\"\nname = \"evidence\"\nconfig = {{ points = 12.0 }}\n\
             [[policy]]\nsource = \"{0}\"\nname = \"friend\"\nvouch = {vouch}\nconfig = {{ points = -1e6 }}\n",
            scorer.display()
        )
    };
    let post = note("https://spam.example/users/a", "hello");
    // A module the admin did not allow to vouch cancels nothing.
    let d = judge(&palisade(&config(false), &root()), &post);
    assert_eq!((d.action, d.score), (Action::Reject, 12.0), "{:?}", d.trace);
    assert_eq!(d.trace[1].applied, Some(0.0));
    // One allowed to vouch takes off at most thresholds.max_vouch (5).
    let d = judge(&palisade(&config(true), &root()), &post);
    assert_eq!(
        (d.action, d.score),
        (Action::Quarantine, 7.0),
        "{:?}",
        d.trace
    );
    assert!(
        d.reasons
            .iter()
            .any(|r| r.starts_with("friend: ") && r.contains("capped by thresholds.max_vouch")),
        "{:?}",
        d.reasons
    );
}

#[test]
fn a_burst_from_actors_with_very_long_uris_is_still_a_burst() {
    // A 600-byte actor URI was longer than state.max_key_bytes: every
    // module keying by actor failed its call, was skipped, and the wave
    // went through. Long keys are now stored by digest.
    let p = defaults();
    let tail = "a".repeat(600);
    let actions: Vec<Action> = example("wave.jsonl")
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            let actor = format!("https://spam{i}.example/users/{tail}{i}");
            v["actor"] = actor.clone().into();
            v["object"]["attributedTo"] = actor.into();
            let d = judge(&p, &v.to_string());
            for t in &d.trace {
                assert!(t.error.is_none(), "{} failed: {:?}", t.module, t.error);
            }
            d.action
        })
        .collect();
    assert_eq!(actions, BURST);
}
