//! What the host learns about actors' ties to local users, as a module
//! built against 0.3.0 sees it (the `witness` fixture reports its context),
//! the learning period, and `palisade known import`.

use palisade::pipeline::Envelope;
use palisade::runtime::Direction;
use palisade::{Decision, Palisade};
use palisade_e2e::{TempDir, binary, fixture, palisade, root};
use serde_json::json;

const HOUR_MS: u64 = 3_600_000;
const T0: u64 = 1_780_000_000_000;
const ALICE: &str = "https://home.example/users/alice";
const BOB: &str = "https://home.example/users/bob";
const RITA: &str = "https://remote.example/users/rita";

fn config(extra: &str) -> String {
    format!(
        "local_hosts = [\"home.example\"]\n[[policy]]\nsource = \"{}\"\n{extra}",
        fixture("witness").display()
    )
}

fn at(p: &Palisade, doc: &serde_json::Value, ms: u64, record: bool) -> Decision {
    let envelope = Envelope {
        direction: Direction::Inbound,
        received_at: ms,
        recipient: None,
        record,
        sender: palisade::senders::Sender::trusted(),
        fetch_objects: false,
    };
    p.policies().judge(&doc.to_string(), &envelope)
}

/// What the witness said: its reason.
fn seen(d: &Decision) -> String {
    d.trace[0].reason.clone().unwrap_or_default()
}

fn mention(href: &str) -> serde_json::Value {
    json!({"type": "Mention", "href": href})
}

fn post(actor: &str, id: &str, reply_to: Option<&str>, mentions: &[&str]) -> serde_json::Value {
    json!({
        "type": "Create", "id": format!("{id}/activity"), "actor": actor,
        "object": {
            "type": "Note", "id": id, "attributedTo": actor, "content": "<p>hello all</p>",
            "inReplyTo": reply_to,
            "tag": mentions.iter().map(|m| mention(m)).collect::<Vec<_>>(),
        }
    })
}

fn accept(actor: &str, follower: &str) -> serde_json::Value {
    json!({
        "type": "Accept", "id": format!("{actor}#accepts/1"), "actor": actor,
        "object": {"type": "Follow", "id": "https://home.example/f/1", "actor": follower, "object": actor}
    })
}

#[test]
fn an_accepted_follow_makes_the_actor_known_to_that_user_only() {
    let p = palisade(&config(""), &root());
    let before = at(
        &p,
        &post(RITA, "https://remote.example/n/1", None, &[ALICE, BOB]),
        T0,
        true,
    );
    assert!(
        seen(&before).starts_with("followers=0 known=0"),
        "{}",
        seen(&before)
    );

    // Rita has posted here on three days when she accepts Alice's follow.
    for d in 1..3 {
        let id = format!("https://remote.example/n/1{d}");
        at(&p, &post(RITA, &id, None, &[]), T0 + d * 24 * HOUR_MS, true);
    }
    let day = T0 + 3 * 24 * HOUR_MS;
    let d = at(&p, &accept(RITA, ALICE), day, true);
    assert!(seen(&d).contains("active_days=3"), "{}", seen(&d));
    let after = at(
        &p,
        &post(RITA, "https://remote.example/n/2", None, &[ALICE, BOB]),
        day + 1,
        true,
    );
    assert!(
        seen(&after).starts_with("followers=1 known=1"),
        "{}",
        seen(&after)
    );
}

#[test]
fn an_account_with_little_history_cannot_make_itself_known_with_an_accept() {
    let p = palisade(&config(""), &root());
    let bot = "https://open.example/users/fresh";
    // Its first activity, and an hour later: neither teaches a follow.
    at(&p, &accept(bot, ALICE), T0, true);
    at(&p, &accept(bot, BOB), T0 + HOUR_MS, true);
    // Nor does one a week later from an account that only liked a post.
    let aged = "https://open.example/users/aged";
    at(
        &p,
        &json!({"type": "Like", "actor": aged, "object": format!("{ALICE}/statuses/1")}),
        T0,
        true,
    );
    let week = T0 + 8 * 24 * HOUR_MS;
    at(&p, &accept(aged, ALICE), week, true);
    let d = at(
        &p,
        &post(aged, "https://open.example/n/2", None, &[ALICE]),
        week + 1,
        true,
    );
    assert!(seen(&d).starts_with("followers=0 known=0"), "{}", seen(&d));
    assert!(seen(&d).contains("active_days=2"), "{}", seen(&d));
    let d = at(
        &p,
        &post(bot, "https://open.example/n/1", None, &[ALICE, BOB]),
        T0 + 2 * HOUR_MS,
        true,
    );
    assert!(seen(&d).starts_with("followers=0 known=0"), "{}", seen(&d));
}

#[test]
fn forged_unrecorded_and_stopped_follows_teach_nothing() {
    // A domain block after the witness: the evil host's Accept is rejected.
    let blocked = TempDir::new("relations-blocked");
    std::fs::write(blocked.0.join("blocked.txt"), "evil.example\n").unwrap();
    let p = palisade(
        &format!(
            "{}\n[[policy]]\nsource = \"builtin:domain-list\"\ngrants = [\"log\", \"lists\"]\n\
             config = {{ lists = [\"blocked\"] }}\n[lists.blocked]\npath = \"blocked.txt\"\n",
            config("")
        ),
        &blocked.0,
    );
    let evil = "https://evil.example/users/bot";
    let other = "https://remote.example/users/olga";
    // Each actor was first seen two days ago: an Accept of theirs would
    // teach, but for what each case shows.
    for actor in [evil, RITA, other] {
        at(
            &p,
            &post(actor, &format!("{actor}/n/0"), None, &[]),
            T0 - 48 * HOUR_MS,
            true,
        );
    }
    assert_eq!(
        at(&p, &accept(evil, ALICE), T0, true).action.as_str(),
        "reject"
    );
    // A remote "follower": not a local user's follow.
    at(
        &p,
        &accept(RITA, "https://remote.example/users/sam"),
        T0,
        true,
    );
    // Through the judge API (no recording).
    at(&p, &accept(other, ALICE), T0, false);
    // An inbound Follow claiming to be a local user's.
    at(
        &p,
        &json!({"type": "Follow", "actor": ALICE, "object": RITA}),
        T0,
        true,
    );
    for actor in [evil, RITA, other] {
        let d = at(
            &p,
            &post(actor, &format!("{actor}/n/9"), None, &[ALICE]),
            T0 + 5,
            true,
        );
        assert!(
            seen(&d).starts_with("followers=0 known=0"),
            "{actor}: {}",
            seen(&d)
        );
    }
}

#[test]
fn replies_say_whether_the_thread_was_seen_and_who_is_already_in_it() {
    let p = palisade(&config(""), &root());
    let carol = "https://else.example/users/carol";
    let parent = "https://remote.example/n/10";
    at(&p, &post(RITA, parent, None, &[ALICE, carol]), T0, true);

    let reply = post(
        carol,
        "https://else.example/n/1",
        Some(parent),
        &[RITA, ALICE, BOB],
    );
    let d = at(&p, &reply, T0 + 1, true);
    assert!(
        seen(&d).contains("thread=seen thread_mentions=2"),
        "{}",
        seen(&d)
    );

    let unseen = post(
        carol,
        "https://else.example/n/2",
        Some("https://x.example/n/1"),
        &[ALICE],
    );
    let d = at(&p, &unseen, T0 + 2, true);
    assert!(
        seen(&d).contains("thread=unseen thread_mentions=0"),
        "{}",
        seen(&d)
    );

    let local = post(
        carol,
        "https://else.example/n/3",
        Some(&format!("{ALICE}/statuses/7")),
        &[ALICE, BOB],
    );
    let d = at(&p, &local, T0 + 3, true);
    assert!(
        seen(&d).contains("thread=local thread_mentions=1"),
        "{}",
        seen(&d)
    );

    let none = post(carol, "https://else.example/n/4", None, &[ALICE]);
    assert!(seen(&at(&p, &none, T0 + 4, true)).contains("thread=none"));
}

#[test]
fn a_rejected_post_does_not_make_its_mentions_a_conversation() {
    let p = palisade(
        &config(
            "[[policy]]\nsource = \"builtin:mention-limit\"\nconfig = { max_mentions = 1, new_actor_max_mentions = 1 }\n",
        ),
        &root(),
    );
    let parent = "https://remote.example/n/20";
    let d = at(&p, &post(RITA, parent, None, &[ALICE, BOB]), T0, true);
    assert_eq!(d.action.as_str(), "reject");
    let reply = post(
        RITA,
        "https://remote.example/n/21",
        Some(parent),
        &[ALICE, BOB],
    );
    let d = at(&p, &reply, T0 + 1, true);
    assert!(
        seen(&d).contains("thread=unseen thread_mentions=0"),
        "{}",
        seen(&d)
    );
}

#[test]
fn image_digests_reach_the_module() {
    let p = palisade(&config(""), &root());
    let mut doc = post(RITA, "https://remote.example/n/30", None, &[]);
    doc["object"]["attachment"] = json!([
        {"type": "Document", "mediaType": "image/png", "url": "https://remote.example/m/1.png",
         "blurhash": "UBL_:rOpGG-oBUNG", "width": 640, "height": 480},
        {"type": "Document", "mediaType": "image/png", "url": "https://remote.example/m/2.png",
         "width": "wide"}
    ]);
    let d = at(&p, &doc, T0, true);
    assert!(
        seen(&d).ends_with("media=[UBL_:rOpGG-oBUNG:640x480,-:0x0]"),
        "{}",
        seen(&d)
    );
}

#[test]
fn during_the_learning_period_rejections_are_held_and_modules_are_told() {
    let p = palisade(
        &config("[[policy]]\nsource = \"builtin:mention-limit\"\n[learning]\nhours = 72\n"),
        &root(),
    );
    let wave = |i: u64| {
        let mentions: Vec<String> = (0..10)
            .map(|n| format!("https://home.example/users/u{n}"))
            .collect();
        let refs: Vec<&str> = mentions.iter().map(String::as_str).collect();
        post(
            &format!("https://spam.example/users/b{i}"),
            &format!("https://spam.example/n/{i}"),
            None,
            &refs,
        )
    };
    let first = at(&p, &wave(1), T0, true);
    assert_eq!(first.action.as_str(), "quarantine", "{first:?}");
    assert!(seen(&first).contains("learning=true"));
    assert!(
        first.reasons.iter().any(|r| r.contains("learning period")),
        "{:?}",
        first.reasons
    );
    let later = at(&p, &wave(2), T0 + 72 * HOUR_MS, true);
    assert_eq!(later.action.as_str(), "reject", "{later:?}");
    assert!(seen(&later).contains("learning=false"));
}

#[test]
fn known_import_seeds_follows_from_a_mastodon_export_and_a_plain_list() {
    let dir = TempDir::new("known-import");
    let csv = dir.0.join("following_accounts.csv");
    std::fs::write(
        &csv,
        "Account address,Show boosts,Notify on new posts,Languages\nrita@remote.example,true,false,\n",
    )
    .unwrap();
    let list = dir.0.join("known.txt");
    std::fs::write(
        &list,
        "# friends of the server\nhttps://else.example/users/carol\n",
    )
    .unwrap();
    let toml = dir.0.join("palisade.toml");
    std::fs::write(
        &toml,
        format!("{}\n[state]\nurl = \"sqlite:state.db\"\n", config("")),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(binary())
            .args(args)
            .output()
            .expect("run palisade");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let toml_arg = toml.display().to_string();
    let (code, out, err) = run(&[
        "known",
        "import",
        "--config",
        &toml_arg,
        "--user",
        "alice",
        &csv.display().to_string(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("imported 1 actor(s) as followed by https://home.example/users/alice"),
        "{out}"
    );
    let (code, _, err) = run(&[
        "known",
        "import",
        "--config",
        &toml_arg,
        &list.display().to_string(),
    ]);
    assert_eq!(code, Some(0), "{err}");

    // A bad line: named, nothing imported.
    let bad = dir.0.join("bad.txt");
    std::fs::write(&bad, "https://ok.example/users/x\nnot an actor\n").unwrap();
    let (code, _, err) = run(&[
        "known",
        "import",
        "--config",
        &toml_arg,
        &bad.display().to_string(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("bad.txt:2: `not an actor`"), "{err}");

    let p = palisade(&std::fs::read_to_string(&toml).unwrap(), &dir.0);
    let rita = at(
        &p,
        &post(RITA, "https://remote.example/n/40", None, &[ALICE, BOB]),
        T0,
        true,
    );
    assert!(
        seen(&rita).starts_with("followers=1 known=1"),
        "{}",
        seen(&rita)
    );
    let carol = "https://else.example/users/carol";
    let d = at(
        &p,
        &post(carol, "https://else.example/n/40", None, &[ALICE]),
        T0,
        true,
    );
    assert!(seen(&d).starts_with("followers=1 known=0"), "{}", seen(&d));
    let x = "https://ok.example/users/x";
    let d = at(
        &p,
        &post(x, "https://ok.example/n/40", None, &[ALICE]),
        T0,
        true,
    );
    assert!(seen(&d).starts_with("followers=0"), "{}", seen(&d));
}
