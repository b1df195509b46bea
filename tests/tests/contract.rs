//! The compatibility promise (docs/contract.md): modules built against
//! earlier contracts, kept as built in `tests/contract/`, load in today's
//! host and judge as the same modules built against the current contract,
//! capabilities included; and what the current contract (0.4.0) adds: who
//! is speaking and what the actor's server says about it.

use std::sync::Arc;

use palisade::pipeline::Envelope;
use palisade::senders::{ActorFacts, Sender};
use palisade_e2e::{TempDir, example, fixture, judge, note, palisade, root};

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
            ("mention-limit".to_owned(), "0.4.0".to_owned()),
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

fn v0_3(name: &str) -> String {
    root()
        .join("tests/contract/0.3.0")
        .join(format!("{name}.wasm"))
        .display()
        .to_string()
}

/// Judge `activities` in order, each with `envelope`, by `module` (a
/// source) alone under `config` (top-level settings) with `extra` in its
/// `[[policy]]` table; each verdict as `action verdict reason points`.
fn judged(
    config: &str,
    module: &str,
    extra: &str,
    activities: &[String],
    envelope: &Envelope,
) -> Vec<String> {
    let dir = TempDir::new("contract");
    std::fs::write(dir.0.join("blocked.txt"), "misskey.spam.example\n").unwrap();
    let p = palisade(
        &format!(
            "{config}\n[[policy]]\nsource = \"{module}\"\n{extra}\n\
             [lists.blocked]\npath = \"blocked.txt\"\n"
        ),
        &dir.0,
    );
    assert!(
        p.policies().failures().is_empty(),
        "{:?}",
        p.policies().failures()
    );
    activities
        .iter()
        .map(|a| {
            let d = p.policies().judge(a, envelope);
            let t = &d.trace[0];
            assert!(t.error.is_none(), "{module}: {:?}", t.error);
            format!("{:?} {} {:?} {:?}", d.action, t.verdict, t.reason, t.points)
        })
        .collect()
}

/// Eight fresh accounts on eight servers, each greeting four local users
/// of `mastodon.example` with an invite to one chat site: a wave only
/// `newcomer-burst`'s relations and counts see.
fn invites() -> Vec<String> {
    (0..8)
        .map(|i| {
            let actor = format!("https://open{i}.example/users/fresh{i}");
            let tags: Vec<serde_json::Value> = (i * 4..i * 4 + 4)
                .map(|u| {
                    serde_json::json!({"type": "Mention",
                        "href": format!("https://mastodon.example/users/u{u}")})
                })
                .collect();
            let link = format!("https://discord.gg/{}k{i}", i * 37);
            serde_json::json!({
                "type": "Create", "id": format!("{actor}/n/1/activity"), "actor": actor,
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "object": {"type": "Note", "id": format!("{actor}/n/1"), "attributedTo": actor,
                           "content": format!("<p>come chat <a href=\"{link}\">{link}</a></p>"),
                           "tag": tags}
            })
            .to_string()
        })
        .collect()
}

/// A delivery without a signature.
fn unsigned() -> Envelope {
    Envelope {
        sender: Sender::Unsigned,
        ..Envelope::inbound_now()
    }
}

/// Modules built against 0.3.0 (the bundled modules as released with it)
/// load, say so, and judge as their current builds do with what 0.3.0
/// promised: first-seen times, relations (newcomer-burst's first
/// contacts), `state` and `lists`. Their state calls follow today's rule:
/// an unsigned wave counts nothing.
#[test]
fn modules_built_against_0_3_load_and_judge_with_their_capabilities() {
    let now = Envelope::inbound_now;
    let wave: Vec<String> = example("wave.jsonl").lines().map(str::to_owned).collect();
    let both = |config: &str, module: &str, extra: &str, activities: &[String]| {
        let then = judged(config, &v0_3(module), extra, activities, &now());
        let builtin = format!("builtin:{}", module.replace('_', "-"));
        let current = judged(config, &builtin, extra, activities, &now());
        assert_eq!(then, current, "{module}");
        then
    };

    let mentions = both("", "mention_limit", "", &[example("wave.json")]);
    assert!(
        mentions[0].starts_with("Reject reject") && mentions[0].contains("first seen"),
        "{mentions:?}"
    );
    let state = "grants = [\"log\", \"state\"]";
    let burst = both("", "duplicate_burst", state, &wave);
    assert!(burst[0].starts_with("Accept pass"), "{burst:?}");
    assert!(
        burst.last().unwrap().starts_with("Reject reject"),
        "{burst:?}"
    );
    let lists = "grants = [\"log\", \"lists\"]\nconfig = { lists = [\"blocked\"] }";
    let listed = both(
        "",
        "domain_list",
        lists,
        &[example("wave.json"), example("reply.json")],
    );
    assert!(listed[0].starts_with("Reject reject"), "{listed:?}");
    assert!(listed[1].starts_with("Accept pass"), "{listed:?}");
    let local = "local_hosts = [\"mastodon.example\"]";
    let greetings = both(local, "newcomer_burst", state, &invites());
    // Counted as first contacts (new actors, local users with no tie to
    // them): scored from the third, rejected at the eighth.
    assert!(greetings[1].starts_with("Accept pass"), "{greetings:?}");
    assert!(
        greetings[2].starts_with("Accept score")
            && greetings[2].contains("discord.gg from 3 distinct new actors"),
        "{greetings:?}"
    );
    assert!(greetings[7].starts_with("Reject reject"), "{greetings:?}");

    // The same wave, unsigned: each copy counts as the first.
    let unsigned_burst = judged("", &v0_3("duplicate_burst"), state, &wave, &unsigned());
    assert!(
        unsigned_burst.iter().all(|v| v.starts_with("Accept pass")),
        "{unsigned_burst:?}"
    );

    let p = palisade(
        &format!(
            "[[policy]]\nsource = \"{}\"\n{state}\n",
            v0_3("newcomer_burst")
        ),
        &root(),
    );
    assert_eq!(p.policies().modules()[0].contract(), "0.3.0");
}

const ACTOR: &str = "https://open.example/users/fresh";
const DAY_MS: u64 = 86_400_000;

/// What the witness fixture (built against 0.4.0) was told about `body`
/// judged with `envelope`: its reason.
fn witnessed(p: &palisade::Palisade, body: &str, envelope: &Envelope) -> String {
    let d = p.policies().judge(body, envelope);
    assert!(d.trace[0].error.is_none(), "{:?}", d.trace[0].error);
    d.trace[0].reason.clone().unwrap_or_default()
}

fn field<'a>(reason: &'a str, name: &str) -> &'a str {
    reason
        .split(' ')
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in {reason}"))
}

/// A module built against 0.4.0 is told who is speaking and what the
/// actor's server says about it: the key and the facts of a verified
/// signer; no facts for a signature by the actor's instance actor (they
/// would be another account's), nor for a sender that is not verified,
/// whose reason it is told. The server's `published` date ages the
/// account, no further back than the host has known the server.
#[test]
fn a_0_4_module_is_told_the_sender_and_the_actor_facts() {
    let p = palisade(
        &format!(
            "[[policy]]\nsource = \"{}\"\n",
            fixture("witness").display()
        ),
        &root(),
    );
    assert_eq!(p.policies().modules()[0].contract(), "0.4.0");
    let t0 = palisade::runtime::unix_ms();
    let facts = ActorFacts {
        id: ACTOR.to_owned(),
        published: Some(t0 - 400 * DAY_MS),
        preferred_username: Some("fresh".to_owned()),
        name: None,
        has_avatar: false,
        followers: Some(0),
        following: Some(12),
        discoverable: Some(true),
        software: Some("mastodon".to_owned()),
    };
    let signed_by = |owner: &str, at: u64| Envelope {
        received_at: at,
        sender: Sender::Signed {
            key_id: format!("{owner}#main-key"),
            owner: owner.to_owned(),
            facts: Some(Arc::new(facts.clone())),
        },
        ..Envelope::inbound_now()
    };

    // Another account of the server, seen (verified) ten days ago: the
    // host has known the server since then.
    let earlier = note("https://open.example/users/early", "hello");
    witnessed(
        &p,
        &earlier,
        &signed_by("https://open.example/users/early", t0 - 10 * DAY_MS),
    );

    let post = note(ACTOR, "hello there");
    let seen = witnessed(&p, &post, &signed_by(ACTOR, t0));
    assert_eq!(
        field(&seen, "sender"),
        format!("verified:{ACTOR}#main-key:-"),
        "{seen}"
    );
    assert_eq!(
        field(&seen, "facts"),
        "published:".to_owned()
            + &(t0 - 400 * DAY_MS).to_string()
            + ",user:fresh,name:-,avatar:false,followers:0,following:12,\
               discoverable:true,software:mastodon",
        "{seen}"
    );
    // Made 400 days ago, says the server; the host has known the server
    // for 10 days: that is as old as the account can be here.
    assert_eq!(field(&seen, "age_ms"), (10 * DAY_MS).to_string(), "{seen}");

    // Signed by the server's instance actor: verified, but the facts
    // fetched are the instance actor's, not the author's.
    let instance = witnessed(&p, &post, &signed_by("https://open.example/actor", t0));
    assert!(field(&instance, "sender").starts_with("verified:https://open.example/actor#main-key"));
    assert_eq!(field(&instance, "facts"), "-", "{instance}");

    // Not verified: the module is told why, and gets no facts.
    let forged = witnessed(&p, &post, &unsigned());
    assert!(
        forged.contains("sender=unverified:-:no signature "),
        "{forged}"
    );
    assert_eq!(field(&forged, "facts"), "-", "{forged}");
}

/// Only a verified sender's state writes are stored: the same activity
/// judged twice unsigned counts 1 each time (the module is answered as if
/// it had been counted), twice signed 1 then 2, and an unsigned copy after
/// those 3 without storing it.
#[test]
fn an_unverified_senders_counts_are_answered_but_not_stored() {
    let p = palisade(
        &format!(
            "[[policy]]\nsource = \"{}\"\ngrants = [\"state\"]\n",
            fixture("tally").display()
        ),
        &root(),
    );
    let post = note(ACTOR, "hello there");
    let other = note("https://open.example/users/other", "hello there");
    let verified = Envelope::inbound_now;
    let counts = |body: &str, envelope: &Envelope| -> String {
        let d = p.policies().judge(body, envelope);
        assert!(d.trace[0].error.is_none(), "{:?}", d.trace[0].error);
        d.trace[0].reason.clone().unwrap_or_default()
    };
    let seen: Vec<String> = [
        counts(&post, &unsigned()),
        counts(&post, &unsigned()),
        counts(&other, &unsigned()),
        counts(&post, &verified()),
        counts(&post, &verified()),
        counts(&post, &unsigned()),
        counts(&other, &unsigned()),
        counts(&post, &verified()),
    ]
    .into();
    assert_eq!(
        seen,
        [
            "hits=1 actors=1 sender=unverified",
            "hits=1 actors=1 sender=unverified",
            "hits=1 actors=1 sender=unverified",
            "hits=1 actors=1 sender=verified",
            "hits=2 actors=1 sender=verified",
            "hits=3 actors=1 sender=unverified",
            "hits=1 actors=2 sender=unverified",
            "hits=3 actors=1 sender=verified",
        ]
    );
}
