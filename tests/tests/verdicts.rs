//! The bundled modules on real payloads: what an admin would see.

use palisade::Action;
use palisade_e2e::{corpus, example, fixture, judge, note, palisade, root};

/// The learning period off: these tests are about what the modules say,
/// and during it the host holds every rejection in quarantine (its own
/// tests are in `learning_*` below).
const SETTLED: &str = "[learning]\nhours = 0\n";

/// The built-in configuration, past its learning period.
fn defaults() -> palisade::Palisade {
    palisade(SETTLED, &root())
}

/// `config` past the learning period.
fn settled(config: &str) -> palisade::Palisade {
    palisade(&format!("{config}\n{SETTLED}"), &root())
}

#[test]
fn every_corpus_document_is_judged_without_an_error() {
    // What this asserts is that no module fails on a real payload; a
    // deadline generous enough that a loaded machine cannot fail it.
    let p = palisade(&format!("[limits]\ntimeout_ms = 5000\n{SETTLED}"), &root());
    let docs = corpus();
    assert!(docs.len() >= 100, "the corpus has {} documents", docs.len());
    for (name, body) in &docs {
        let d = judge(&p, body);
        assert!(d.error.is_none(), "{name}: {:?}", d.error);
        assert_eq!(d.trace.len(), 6, "{name}: every module judged");
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
    let p = settled(
        r#"
        local_hosts = ["mastodon.example"]
        [thresholds]
        quarantine = 3.0
        reject = 10.0
        "#,
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
        &format!(
            "{SETTLED}{}",
            r#"
        [lists.blocks]
        path = "blocks.csv"
        [[policy]]
        source = "builtin:domain-list"
        grants = ["lists"]
        [policy.config]
        lists = ["blocks"]
        "#
        ),
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
    let p = settled(
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
    let d = judge(&settled(&config(false)), &post);
    assert_eq!((d.action, d.score), (Action::Reject, 12.0), "{:?}", d.trace);
    assert_eq!(d.trace[1].applied, Some(0.0));
    // One allowed to vouch takes off at most thresholds.max_vouch (5).
    let d = judge(&settled(&config(true)), &post);
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

/// A Create{Note} by `actor` mentioning `mentions`, replying to
/// `in_reply_to`, with `text` and a `link`.
fn post(
    actor: &str,
    id: &str,
    mentions: &[String],
    in_reply_to: Option<&str>,
    text: &str,
    link: Option<&str>,
) -> String {
    let tags: Vec<serde_json::Value> = mentions
        .iter()
        .map(|m| serde_json::json!({"type": "Mention", "href": m}))
        .collect();
    let link = link.map_or(String::new(), |l| format!(" <a href=\"{l}\">{l}</a>"));
    serde_json::json!({
        "type": "Create",
        "id": format!("{id}/activity"),
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"type": "Note", "id": id, "attributedTo": actor, "inReplyTo": in_reply_to,
                   "content": format!("<p>{text}{link}</p>"), "tag": tags}
    })
    .to_string()
}

const WORDS: &[&str] = &[
    "free",
    "server",
    "join",
    "today",
    "crypto",
    "friends",
    "amazing",
    "offer",
    "community",
    "limited",
    "chance",
    "people",
    "music",
    "games",
    "chat",
    "fun",
    "great",
    "new",
    "best",
];

/// Words that differ for every `i`: a wave whose text is fully varied
/// (each word drawn from a fixed pseudo-random sequence, so no two posts
/// share a run of words).
fn varied(i: usize) -> String {
    let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (0..9)
        .map(|_| {
            x ^= x >> 29;
            x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            WORDS[(x >> 40) as usize % WORDS.len()]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Thirty fresh accounts on ten open servers, each posting once: four
/// local mentions, varied words, an invite with its own code.
fn adapted_wave() -> Vec<String> {
    (0..30)
        .map(|i| {
            let actor = format!("https://open{}.example/users/fresh{i}", i % 10);
            let mentions: Vec<String> = (i * 4..i * 4 + 4)
                .map(|u| format!("https://mastodon.example/users/u{u}"))
                .collect();
            let code = format!("https://discord.gg/{}k{i}", i * 37);
            post(
                &actor,
                &format!("{actor}/n/1"),
                &mentions,
                None,
                &varied(i),
                Some(&code),
            )
        })
        .collect()
}

fn count(actions: &[Action], action: Action) -> usize {
    actions.iter().filter(|a| **a == action).count()
}

#[test]
fn the_default_modules_stop_an_adapted_wave_from_its_third_post_and_reject_it_from_the_fifth() {
    let p = settled("local_hosts = [\"mastodon.example\"]\n");
    let decisions: Vec<palisade::Decision> = adapted_wave().iter().map(|w| judge(&p, w)).collect();
    let actions: Vec<Action> = decisions.iter().map(|d| d.action).collect();
    // first-contact's 3 points alone let the first two through...
    assert_eq!(actions[..2], [Action::Accept; 2], "{:?}", decisions[0]);
    // ...then the invite site, whatever the code, adds 4: quarantined;
    assert_eq!(actions[2..4], [Action::Quarantine; 2], "{:?}", decisions[2]);
    // ...and from the fifth account on, five first contacts within the
    // hour are a surge on this quiet server (3 more): rejected.
    assert_eq!(count(&actions[4..], Action::Reject), 26, "{actions:?}");
    assert!(
        decisions[4].reasons.iter().any(|r| r
            .starts_with("newcomer-burst: links to discord.gg from 5 distinct new actors")
            && r.contains("5 distinct new actors server-wide")),
        "{:?}",
        decisions[4].reasons
    );
    assert!(
        decisions[7].reasons.iter().any(
            |r| r.starts_with("newcomer-burst: links to discord.gg from 8 distinct new actors")
        ),
        "{:?}",
        decisions[7].reasons
    );
    for d in &decisions {
        assert!(d.trace.iter().all(|t| t.error.is_none()), "{:?}", d.trace);
    }
}

/// Six friends on a server, each followed by one of six local users
/// (learnt from the `Accept` of each follow), in a thread where everyone
/// mentions the eleven others.
#[test]
fn a_busy_thread_among_known_actors_is_accepted() {
    let p = settled("local_hosts = [\"mastodon.example\"]\n");
    let friends: Vec<String> = (0..6)
        .map(|i| format!("https://friends.example/users/f{i}"))
        .collect();
    let locals: Vec<String> = (0..6)
        .map(|i| format!("https://mastodon.example/users/u{i}"))
        .collect();
    // The friends have posted here on three days: a follow an Accept
    // claims counts once its actor has that much history (a fresh
    // account's would be a bare claim).
    for day in 1..=3u64 {
        let days_ago = palisade::pipeline::Envelope {
            received_at: palisade::runtime::unix_ms() - day * 86_400_000,
            ..palisade::pipeline::Envelope::inbound_now()
        };
        for friend in &friends {
            let id = format!("{friend}/notes/hello{day}");
            let hello = post(friend, &id, &[], None, "hello", None);
            assert_eq!(p.policies().judge(&hello, &days_ago).action, Action::Accept);
        }
    }
    for (i, friend) in friends.iter().enumerate() {
        let accept = serde_json::json!({
            "type": "Accept", "id": format!("{friend}/accepts/1"), "actor": friend,
            "object": {"type": "Follow", "id": format!("https://mastodon.example/follows/{i}"),
                       "actor": locals[i % locals.len()], "object": friend}
        });
        assert_eq!(judge(&p, &accept.to_string()).action, Action::Accept);
    }
    let everyone: Vec<String> = friends.iter().chain(&locals).cloned().collect();
    let root_id = "https://friends.example/notes/root";
    let root = post(
        &friends[0],
        root_id,
        &everyone[1..],
        None,
        "picnic on saturday, who is in?",
        None,
    );
    let d = judge(&p, &root);
    assert_eq!(d.action, Action::Accept, "{:?}", d.reasons);
    for (i, friend) in friends.iter().enumerate().skip(1) {
        let others: Vec<String> = everyone
            .iter()
            .filter(|e| *e != friend)
            .take(12)
            .cloned()
            .collect();
        let reply = post(
            friend,
            &format!("{friend}/notes/re{i}"),
            &others,
            Some(root_id),
            &format!("count me in, I will bring {}", WORDS[i]),
            Some("https://maps.example/park"),
        );
        let d = judge(&p, &reply);
        assert_eq!(d.action, Action::Accept, "reply {i}: {:?}", d.reasons);
    }
}

/// On install day every actor looks new and no follow is known: the
/// thread's root (eleven mentions from an actor first seen now) may be
/// held, but nothing in a busy thread is rejected, and the adapted wave is
/// held rather than let through.
#[test]
fn learning_on_install_day_no_busy_thread_is_rejected() {
    let p = palisade(
        "local_hosts = [\"mastodon.example\"]\n[learning]\nhours = 72\n",
        &root(),
    );
    let people: Vec<String> = (0..6)
        .map(|i| format!("https://friends.example/users/f{i}"))
        .chain((0..6).map(|i| format!("https://mastodon.example/users/u{i}")))
        .collect();
    let root_id = "https://friends.example/notes/root";
    let mut actions = vec![
        judge(
            &p,
            &post(&people[0], root_id, &people[1..], None, "who is in?", None),
        )
        .action,
    ];
    for (i, friend) in people[1..6].iter().enumerate() {
        let others: Vec<String> = people.iter().filter(|e| *e != friend).cloned().collect();
        let reply = post(
            friend,
            &format!("{friend}/notes/re{i}"),
            &others,
            Some(root_id),
            "me!",
            None,
        );
        actions.push(judge(&p, &reply).action);
    }
    assert_eq!(count(&actions, Action::Reject), 0, "{actions:?}");

    let wave: Vec<Action> = adapted_wave().iter().map(|w| judge(&p, w).action).collect();
    assert_eq!(
        count(&wave, Action::Reject),
        0,
        "held, not rejected: {wave:?}"
    );
    assert_eq!(count(&wave, Action::Accept), 2, "{wave:?}");
}
