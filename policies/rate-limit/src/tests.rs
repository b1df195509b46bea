use super::*;
use palisade_sdk::testing::TestHost;
use std::time::Duration;

/// The corpus of real payloads vendored in tests/corpus, from this crate's folder.
const CORPUS_DIR: &str = "../../tests/corpus/public";

const MINUTE: Duration = Duration::from_secs(60);
const LONG_AGO_MS: u64 = 30 * 24 * 3_600_000;

fn create(actor: &str) -> String {
    format!(
        r#"{{"type":"Create","actor":"{actor}",
           "object":{{"type":"Note","content":"<p>hello</p>"}}}}"#
    )
}

fn activity(host: &TestHost, kind: &str, actor: &str) -> Activity {
    host.parse(&format!(
        r#"{{"type":"{kind}","actor":"{actor}","object":"https://x.example/notes/1"}}"#
    ))
    .unwrap()
}

fn bot(i: usize) -> String {
    format!("https://spam.example/users/bot{i}")
}

/// A host whose clock has run for a while, and an actor it has known for
/// a month: neither rule sees it as new.
fn known(host: &TestHost, actor: &str) {
    host.saw_actor_at(actor, host.now() - LONG_AGO_MS);
}

/// Only the per-actor rule.
const ACTOR_ONLY: &str = r#"{"new_actors": {"enabled": false}}"#;
/// Only the per-host rule.
const HOST_ONLY: &str = r#"{"actor": {"enabled": false}}"#;

#[test]
fn an_actor_posting_in_a_loop_is_quarantined_past_the_limit() {
    let host = TestHost::new();
    let policy = host.configure::<RateLimit>(ACTOR_ONLY).unwrap();
    let loop_post = host.parse(&create(&bot(0))).unwrap();
    for i in 1..=20 {
        assert!(host.judge(&policy, &loop_post).is_pass(), "post {i}");
        host.advance(Duration::from_secs(10));
    }
    let v = host.judge(&policy, &loop_post);
    assert!(v.is_quarantine());
    assert_eq!(
        v.reason(),
        Some("actor sent 21 Create activities within 10 min (limit 20)")
    );
    // Another actor, even on the same host, has its own count.
    let other = host.parse(&create(&bot(1))).unwrap();
    assert!(host.judge(&policy, &other).is_pass());
}

#[test]
fn a_busy_but_human_pace_passes() {
    let host = TestHost::new();
    let policy = host.configure::<RateLimit>("{}").unwrap();
    let actor = "https://big.example/users/livetooter";
    known(&host, actor);
    let post = host.parse(&create(actor)).unwrap();
    // One post every 40 s for two hours: 15 in any 10 minutes.
    for i in 0..180 {
        assert!(host.judge(&policy, &post).is_pass(), "post {i}");
        host.advance(Duration::from_secs(40));
    }
}

#[test]
fn the_actor_window_slides_and_expires() {
    let host = TestHost::new();
    let policy = host
        .configure::<RateLimit>(
            r#"{"actor": {"limit": 3, "window_seconds": 60}, "new_actors": {"enabled": false}}"#,
        )
        .unwrap();
    let post = host.parse(&create(&bot(0))).unwrap();
    for _ in 0..3 {
        assert!(host.judge(&policy, &post).is_pass());
    }
    assert!(
        host.judge(&policy, &post).is_quarantine(),
        "fourth within 60 s"
    );
    // At 59 s all four are still in the window.
    host.advance(Duration::from_secs(59));
    assert_eq!(
        host.judge(&policy, &post).reason(),
        Some("actor sent 5 Create activities within 1 min (limit 3)")
    );
    // At 60 s the first four have left it; the one at 59 s has not.
    host.advance(Duration::from_secs(1));
    assert!(host.judge(&policy, &post).is_pass(), "2 in the window");
    assert!(host.judge(&policy, &post).is_pass(), "3 in the window");
    host.advance(MINUTE);
    assert!(host.judge(&policy, &post).is_pass(), "a fresh window");
}

#[test]
fn only_configured_kinds_are_counted_per_actor() {
    let host = TestHost::new();
    let policy = host
        .configure::<RateLimit>(r#"{"actor": {"limit": 2}, "new_actors": {"enabled": false}}"#)
        .unwrap();
    let actor = "https://relay.example/actor";
    for _ in 0..10 {
        for kind in ["Announce", "Like", "Follow"] {
            assert!(host.judge(&policy, &activity(&host, kind, actor)).is_pass());
        }
    }
    let policy = host
        .configure::<RateLimit>(
            r#"{"actor": {"limit": 2, "kinds": ["Announce", "Like"]}, "new_actors": {"enabled": false}}"#,
        )
        .unwrap();
    assert!(
        host.judge(&policy, &activity(&host, "Announce", actor))
            .is_pass()
    );
    assert!(
        host.judge(&policy, &activity(&host, "Like", actor))
            .is_pass()
    );
    let v = host.judge(&policy, &activity(&host, "Announce", actor));
    assert_eq!(
        v.reason(),
        Some("actor sent 3 Announce/Like activities within 10 min (limit 2)")
    );
}

#[test]
fn many_new_actors_from_one_host_are_flagged_as_bulk_registration() {
    let host = TestHost::new();
    let policy = host.configure::<RateLimit>(HOST_ONLY).unwrap();
    for i in 0..20 {
        let a = host.parse(&create(&bot(i))).unwrap();
        assert!(host.judge(&policy, &a).is_pass(), "new actor {i}");
        host.advance(Duration::from_secs(30));
    }
    let a = host.parse(&create(&bot(20))).unwrap();
    let v = host.judge(&policy, &a);
    assert_eq!(v.points(), 4.0);
    assert_eq!(v.labels(), ["rate-limit", "bulk-registration"]);
    assert_eq!(
        v.reason(),
        Some(
            "21 new actors from host spam.example within 60 min (limit 20); \
             this one first seen 0 s ago"
        )
    );
    // The first bot posting again is now caught too.
    let first = host.parse(&create(&bot(0))).unwrap();
    assert_eq!(
        host.judge(&policy, &first).reason(),
        Some(
            "21 new actors from host spam.example within 60 min (limit 20); \
             this one first seen 10 min ago"
        )
    );
}

#[test]
fn established_actors_of_a_flagged_host_pass() {
    let host = TestHost::new();
    let policy = host.configure::<RateLimit>(HOST_ONLY).unwrap();
    let alice = "https://spam.example/users/alice";
    known(&host, alice);
    for i in 0..30 {
        let a = host.parse(&create(&bot(i))).unwrap();
        host.judge(&policy, &a);
    }
    let a = host.parse(&create(alice)).unwrap();
    assert!(host.judge(&policy, &a).is_pass());
}

#[test]
fn new_actors_spread_over_hosts_pass() {
    let host = TestHost::new();
    let policy = host.configure::<RateLimit>("{}").unwrap();
    for i in 0..100 {
        let actor = format!("https://server{}.example/users/u{i}", i % 10);
        let a = host.parse(&create(&actor)).unwrap();
        assert!(host.judge(&policy, &a).is_pass(), "{actor}");
    }
}

#[test]
fn the_host_window_expires() {
    let host = TestHost::new();
    let policy = host
        .configure::<RateLimit>(
            r#"{"actor": {"enabled": false}, "new_actors": {"limit": 3, "window_seconds": 600, "action": "reject"}}"#,
        )
        .unwrap();
    for i in 0..3 {
        let a = host.parse(&create(&bot(i))).unwrap();
        assert!(host.judge(&policy, &a).is_pass());
    }
    let a = host.parse(&create(&bot(3))).unwrap();
    assert!(host.judge(&policy, &a).is_reject());
    host.advance(Duration::from_secs(600));
    for i in 4..7 {
        let a = host.parse(&create(&bot(i))).unwrap();
        assert!(
            host.judge(&policy, &a).is_pass(),
            "bot {i} in a fresh window"
        );
    }
    let a = host.parse(&create(&bot(7))).unwrap();
    assert!(host.judge(&policy, &a).is_reject());
}

#[test]
fn actors_stop_being_new_after_new_actor_seconds() {
    let host = TestHost::new();
    let policy = host
        .configure::<RateLimit>(
            r#"{"actor": {"enabled": false},
                "new_actors": {"limit": 2, "new_actor_seconds": 300, "window_seconds": 3600}}"#,
        )
        .unwrap();
    let bots: Vec<Activity> = (0..3)
        .map(|i| host.parse(&create(&bot(i))).unwrap())
        .collect();
    assert!(host.judge(&policy, &bots[0]).is_pass());
    assert!(host.judge(&policy, &bots[1]).is_pass());
    assert_eq!(host.judge(&policy, &bots[2]).points(), 4.0);
    // Five minutes on, the three are no longer new: neither counted nor
    // flagged, though the host's window still holds them.
    host.advance(Duration::from_secs(300));
    for b in &bots {
        assert!(host.judge(&policy, b).is_pass());
    }
    let fresh = host.parse(&create(&bot(3))).unwrap();
    assert_eq!(
        host.judge(&policy, &fresh).reason(),
        Some(
            "4 new actors from host spam.example within 60 min (limit 2); \
             this one first seen 0 s ago"
        )
    );
}

#[test]
fn only_configured_kinds_count_towards_a_hosts_new_actors() {
    let host = TestHost::new();
    let policy = host
        .configure::<RateLimit>(r#"{"actor": {"enabled": false}, "new_actors": {"limit": 1}}"#)
        .unwrap();
    for i in 0..10 {
        assert!(
            host.judge(&policy, &activity(&host, "Follow", &bot(i)))
                .is_pass()
        );
    }
    let policy = host
        .configure::<RateLimit>(
            r#"{"actor": {"enabled": false}, "new_actors": {"limit": 1, "kinds": ["Create", "Follow"]}}"#,
        )
        .unwrap();
    assert!(
        host.judge(&policy, &activity(&host, "Follow", &bot(0)))
            .is_pass()
    );
    let v = host.judge(&policy, &activity(&host, "Follow", &bot(1)));
    assert_eq!(v.points(), 4.0);
}

#[test]
fn the_servers_own_users_are_never_limited() {
    // The host marks actors of its local_hosts `actor-local`.
    let host = TestHost::new().local_hosts(["home.example"]);
    let policy = host
        .configure::<RateLimit>(r#"{"actor": {"limit": 1}, "new_actors": {"limit": 1}}"#)
        .unwrap();
    let own = host
        .parse(&create("https://home.example/users/alice"))
        .unwrap();
    assert!(host.context_for(&own).actor_local);
    for _ in 0..5 {
        assert!(host.judge(&policy, &own).is_pass());
    }
    // The same loop from elsewhere is limited.
    let other = host
        .parse(&create("https://away.example/users/alice"))
        .unwrap();
    assert!(!host.context_for(&other).actor_local);
    assert!(host.judge(&policy, &other).is_pass());
    assert!(!host.judge(&policy, &other).is_pass());
}

#[test]
fn outbound_activities_are_never_limited() {
    let host = TestHost::new();
    let policy = host
        .configure::<RateLimit>(r#"{"actor": {"limit": 1}, "new_actors": {"limit": 1}}"#)
        .unwrap();
    for i in 0..5 {
        let a = host
            .parse(&create(&format!("https://home.example/users/u{i}")))
            .unwrap();
        let mut cx = host.context_for(&a);
        cx.direction = Direction::Outbound;
        for _ in 0..3 {
            assert!(host.judge_in(&policy, &a, &cx).is_pass());
        }
    }
}

#[test]
fn exempt_hosts_and_their_subdomains_are_never_limited() {
    let host = TestHost::new();
    let policy = host
        .configure::<RateLimit>(
            r#"{"actor": {"limit": 1}, "new_actors": {"limit": 1}, "exempt_hosts": ["Home.Example."]}"#,
        )
        .unwrap();
    for actor in [
        "https://home.example/users/a",
        "https://home.example/users/b",
        "https://social.home.example/users/c",
    ] {
        let a = host.parse(&create(actor)).unwrap();
        assert!(host.judge(&policy, &a).is_pass());
        assert!(host.judge(&policy, &a).is_pass());
    }
    // A suffix that is not a parent domain is not exempt.
    let a = host
        .parse(&create("https://nothome.example/users/a"))
        .unwrap();
    host.judge(&policy, &a);
    assert!(host.judge(&policy, &a).is_quarantine());
}

#[test]
fn when_both_rules_fire_the_stricter_wins_and_scores_add_up() {
    let host = TestHost::new();
    let policy = host
        .configure::<RateLimit>(r#"{"actor": {"limit": 1}, "new_actors": {"limit": 1}}"#)
        .unwrap();
    let a0 = host.parse(&create(&bot(0))).unwrap();
    let a1 = host.parse(&create(&bot(1))).unwrap();
    assert!(host.judge(&policy, &a0).is_pass());
    assert_eq!(host.judge(&policy, &a1).points(), 4.0, "second new actor");
    let v = host.judge(&policy, &a1);
    assert!(
        v.is_quarantine(),
        "the actor rule's quarantine beats a score"
    );
    assert_eq!(
        v.reason(),
        Some("actor sent 2 Create activities within 10 min (limit 1)")
    );

    let host = TestHost::new();
    let policy = host
        .configure::<RateLimit>(
            r#"{"actor": {"limit": 1, "action": "score", "points": 2.5}, "new_actors": {"limit": 1}}"#,
        )
        .unwrap();
    host.judge(&policy, &a0);
    host.judge(&policy, &a1);
    let v = host.judge(&policy, &a1);
    assert_eq!(v.points(), 6.5);
    assert_eq!(
        v.labels(),
        ["rate-limit", "actor-rate", "bulk-registration"]
    );
    assert_eq!(
        v.reason(),
        Some(
            "actor sent 2 Create activities within 10 min (limit 1); \
             2 new actors from host spam.example within 60 min (limit 1); \
             this one first seen 0 s ago"
        )
    );
}

#[test]
fn actions_are_configurable() {
    let host = TestHost::new();
    let policy = host
        .configure::<RateLimit>(
            r#"{"actor": {"limit": 1, "action": "reject"}, "new_actors": {"enabled": false}}"#,
        )
        .unwrap();
    let a = host.parse(&create(&bot(0))).unwrap();
    host.judge(&policy, &a);
    assert!(host.judge(&policy, &a).is_reject());
    let policy = host
        .configure::<RateLimit>(
            r#"{"actor": {"enabled": false}, "new_actors": {"limit": 1, "action": "quarantine"}}"#,
        )
        .unwrap();
    let b0 = host.parse(&create(&bot(10))).unwrap();
    let b1 = host.parse(&create(&bot(11))).unwrap();
    assert!(host.judge(&policy, &b0).is_pass());
    assert!(host.judge(&policy, &b1).is_quarantine());
}

#[test]
fn activities_without_an_actor_pass() {
    let host = TestHost::new();
    let policy = host
        .configure::<RateLimit>(r#"{"actor": {"limit": 1}, "new_actors": {"limit": 1}}"#)
        .unwrap();
    let a = host
        .parse(r#"{"type":"Create","object":{"type":"Note","content":"anonymous"}}"#)
        .unwrap();
    for _ in 0..5 {
        assert!(host.judge(&policy, &a).is_pass());
    }
}

#[test]
fn state_keys_stay_short_whatever_the_actor() {
    let long_actor = format!("https://spam.example/users/{}", "x".repeat(100_000));
    let key = actor_key("spam.example", hash128(&long_actor));
    assert_eq!(key.len(), "a:spam.example:".len() + 32);
    assert_ne!(
        key,
        actor_key("spam.example", hash128(&format!("{long_actor}y")))
    );
    assert_eq!(actor_member(hash128(&long_actor)).len(), 32);
    let long_host = "h".repeat(10_000);
    assert!(actor_key(&long_host, hash128("x")).len() <= 2 + 33 + 1 + 32);
    assert_eq!(
        key_host("weird host"),
        format!("#{:032x}", hash128("weird host"))
    );
    assert_eq!(host_key("spam.example"), "n:spam.example");

    // And they work: the loop of a very long actor id is still counted.
    let host = TestHost::new();
    let policy = host
        .configure::<RateLimit>(r#"{"actor": {"limit": 1}, "new_actors": {"enabled": false}}"#)
        .unwrap();
    let a = host.parse(&create(&long_actor)).unwrap();
    assert!(host.judge(&policy, &a).is_pass());
    assert!(host.judge(&policy, &a).is_quarantine());
}

#[test]
fn texts_read_as_an_admin_would_write_them() {
    assert_eq!(window_text(3600), "60 min");
    assert_eq!(window_text(7200), "2 h");
    assert_eq!(window_text(90), "90 s");
    assert_eq!(age_text(59_999), "59 s");
    assert_eq!(age_text(61_000), "1 min");
    assert_eq!(age_text(7_300_000), "2 h");
}

#[test]
fn declares_the_state_capability() {
    let d = RateLimit::describe();
    assert_eq!(d.name, "rate-limit");
    assert_eq!(d.capabilities, ["state"]);
    assert!(d.config_schema.is_some());
}

#[test]
fn bad_config_names_the_problem() {
    let host = TestHost::new();
    let err = |json: &str| host.configure::<RateLimit>(json).err().unwrap();

    let e = err(r#"{"actors": {}}"#);
    assert!(e.contains("unknown field `actors`"), "{e}");
    let e = err(r#"{"actor": {"limt": 3}}"#);
    assert!(
        e.starts_with("invalid configuration at `actor.limt`"),
        "{e}"
    );
    let e = err(r#"{"new_actors": {"action": "ban"}}"#);
    assert!(
        e.starts_with("invalid configuration at `new_actors.action`: unknown variant `ban`"),
        "{e}"
    );
    let e = err(r#"{"actor": {"window_seconds": -1}}"#);
    assert!(e.contains("`actor.window_seconds`"), "{e}");
    for (json, key) in [
        (r#"{"actor": {"limit": 0}}"#, "actor.limit"),
        (
            r#"{"actor": {"window_seconds": 0}}"#,
            "actor.window_seconds",
        ),
        (r#"{"new_actors": {"limit": 0}}"#, "new_actors.limit"),
        (
            r#"{"new_actors": {"window_seconds": 0}}"#,
            "new_actors.window_seconds",
        ),
        (
            r#"{"new_actors": {"new_actor_seconds": 0}}"#,
            "new_actors.new_actor_seconds",
        ),
    ] {
        assert_eq!(
            err(json),
            format!("invalid configuration: `{key}` must be at least 1"),
            "{json}"
        );
    }
    let e = err(r#"{"exempt_hosts": ["home.example", "https://other.example/"]}"#);
    assert_eq!(
        e,
        "invalid configuration at `exempt_hosts[1]`: expected a host such as \
         `mastodon.example`, found `https://other.example/`"
    );
    let e = err(r#"{"exempt_hosts": [""]}"#);
    assert!(e.contains("`exempt_hosts[0]`"), "{e}");
}

/// Every real payload, judged in one burst by one host (the worst case for
/// the windows): none is rejected or quarantined with the defaults.
#[test]
fn real_payloads_pass_with_the_defaults() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS_DIR);
    let files = palisade_sdk::testing::documents(&dir);
    assert!(files.len() >= 100, "{} corpus files", files.len());
    let host = TestHost::new().local_hosts(["home.example"]);
    let policy = host.configure::<RateLimit>("{}").unwrap();
    for (path, json) in &files {
        let a = host
            .parse(json)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let v = host.judge(&policy, &a);
        assert!(v.is_pass(), "{}: {:?}", path.display(), v.ruling);
    }
}
