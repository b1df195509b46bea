use super::*;
use palisade_sdk::testing::TestHost;
use std::time::Duration;

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
    "place",
];

fn host() -> TestHost {
    TestHost::new().local_hosts(["home.example"])
}

/// Words that differ for every `i`: a wave whose text is fully varied
/// (drawn from a fixed pseudo-random sequence).
fn varied(i: usize) -> String {
    let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let words: Vec<&str> = (0..8)
        .map(|_| {
            x ^= x >> 29;
            x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            WORDS[(x >> 40) as usize % WORDS.len()]
        })
        .collect();
    format!("{} number {i}", words.join(" "))
}

/// A post by `actor` mentioning local users `users`, with `text`, `link`
/// (an anchor in the content) and an image with `blurhash`.
struct Post<'a> {
    actor: &'a str,
    users: Vec<usize>,
    text: String,
    link: Option<String>,
    blurhash: Option<&'a str>,
}

impl Post<'_> {
    fn json(&self) -> String {
        let tags: Vec<String> = self
            .users
            .iter()
            .map(|u| format!(r#"{{"type":"Mention","href":"https://home.example/users/u{u}"}}"#))
            .collect();
        let link = self
            .link
            .as_ref()
            .map_or(String::new(), |l| format!(r#" <a href='{l}'>{l}</a>"#));
        let attachment = self.blurhash.map_or(String::new(), |b| {
            format!(
                r#","attachment":[{{"type":"Document","mediaType":"image/png",
                   "url":"{}/media/{}.png","blurhash":"{b}","width":800,"height":600}}]"#,
                self.actor,
                self.text.len()
            )
        });
        format!(
            r#"{{"type":"Create","actor":"{}","object":{{"type":"Note","content":"<p>{}{link}</p>",
               "tag":[{}]{attachment}}}}}"#,
            self.actor,
            self.text,
            tags.join(",")
        )
    }
}

fn fresh(i: usize, hosts: usize) -> String {
    format!("https://open{}.example/users/bot{i}", i % hosts)
}

fn judge(host: &TestHost, policy: &NewcomerBurst, post: &Post) -> Verdict {
    let a = host.parse(&post.json()).unwrap();
    host.judge(policy, &a)
}

#[test]
fn four_mentions_varied_words_and_a_new_invite_code_each_from_30_fresh_accounts() {
    let host = host();
    let policy = host.configure::<NewcomerBurst>("{}").unwrap();
    let verdicts: Vec<Verdict> = (0..30)
        .map(|i| {
            let actor = fresh(i, 30);
            let post = Post {
                actor: &actor,
                users: (i * 4..i * 4 + 4).collect(),
                text: varied(i),
                link: Some(format!("https://discord.gg/{}x{i}", i * 31)),
                blurhash: None,
            };
            judge(&host, &policy, &post)
        })
        .collect();
    assert!(
        verdicts[0].is_pass() && verdicts[1].is_pass(),
        "{:?}",
        &verdicts[..2]
    );
    assert_eq!(verdicts[2].points(), 4.0);
    assert_eq!(
        verdicts[2].reason(),
        Some(
            "links to discord.gg from 3 distinct new actors making first contact within 60 min \
             (scored from 3)"
        )
    );
    // From the 8th on: rejected by the link site, whatever the code.
    assert!(verdicts[3..7].iter().all(|v| v.points() >= 4.0));
    assert!(
        verdicts[7..].iter().all(Verdict::is_reject),
        "{:?}",
        &verdicts[7..]
    );
    assert_eq!(
        verdicts[7].reason(),
        Some(
            "links to discord.gg from 8 distinct new actors making first contact within 60 min \
             (rejected from 8)"
        )
    );
    // The 10th and later also count as a server-wide surge.
    assert!(verdicts[9].reason().unwrap().contains("rejected from 8"));
}

#[test]
fn ten_fresh_accounts_looping_three_mention_posts_are_stopped_by_their_second_post() {
    let host = host();
    // The server-wide signal alone would catch this too; turn it off to
    // see the actor signal.
    let policy = host
        .configure::<NewcomerBurst>(
            r#"{"server": {"enabled": false}, "origin": {"enabled": false}}"#,
        )
        .unwrap();
    let mut user = 0;
    for round in 0..5 {
        for bot in 0..10 {
            let actor = fresh(bot, 10);
            let post = Post {
                actor: &actor,
                users: (user..user + 3).collect(),
                text: varied(round * 10 + bot),
                link: None,
                blurhash: None,
            };
            user += 3;
            let v = judge(&host, &policy, &post);
            match round {
                0 => assert!(v.is_pass(), "first post of bot {bot}: {v:?}"),
                1..=3 => {
                    assert_eq!(v.points(), 4.0, "round {round}, bot {bot}: {v:?}");
                    assert_eq!(
                        v.reason().unwrap(),
                        format!(
                            "this new actor mentioned {} distinct local users making first \
                             contact within 24 h (scored from 6)",
                            (round + 1) * 3
                        )
                    );
                }
                _ => assert!(v.is_reject(), "round {round}, bot {bot}: {v:?}"),
            }
        }
    }
}

#[test]
fn many_fresh_accounts_from_one_origin_host_score_from_the_fourth() {
    let host = host();
    let policy = host.configure::<NewcomerBurst>("{}").unwrap();
    let points: Vec<f64> = (0..6)
        .map(|i| {
            let actor = format!("https://bulk.example/users/new{i}");
            let post = Post {
                actor: &actor,
                users: vec![i],
                text: varied(i),
                link: None,
                blurhash: None,
            };
            judge(&host, &policy, &post).points()
        })
        .collect();
    // From the fifth on, five new actors making first contact within the
    // hour on a quiet server are a surge as well.
    assert_eq!(points, [0.0, 0.0, 0.0, 3.0, 6.0, 6.0]);
}

#[test]
fn a_surge_of_first_contacts_from_a_hundred_hosts_scores_from_the_fifth_on_a_quiet_server() {
    let host = host();
    let policy = host.configure::<NewcomerBurst>("{}").unwrap();
    let verdicts: Vec<Verdict> = (0..100)
        .map(|i| {
            let actor = fresh(i, 100);
            let post = Post {
                actor: &actor,
                users: vec![i],
                text: varied(i),
                link: None,
                blurhash: None,
            };
            judge(&host, &policy, &post)
        })
        .collect();
    assert!(verdicts[..4].iter().all(Verdict::is_pass));
    assert!(
        verdicts[4..].iter().all(|v| v.points() == 3.0),
        "{:?}",
        verdicts[4]
    );
    assert_eq!(
        verdicts[4].reason(),
        Some(
            "5 distinct new actors server-wide making first contact within 60 min (scored from 5)"
        )
    );
    // An hour later the surge is over.
    host.advance(Duration::from_secs(3600));
    let actor = fresh(0, 1000);
    let post = Post {
        actor: &actor,
        users: vec![1],
        text: varied(1),
        link: None,
        blurhash: None,
    };
    assert!(judge(&host, &policy, &post).is_pass());
}

#[test]
fn the_same_image_at_other_urls_from_fresh_accounts_is_one_cluster() {
    let host = host();
    let policy = host
        .configure::<NewcomerBurst>(r#"{"server": {"enabled": false}}"#)
        .unwrap();
    let verdicts: Vec<Verdict> = (0..8)
        .map(|i| {
            let actor = fresh(i, 8);
            let post = Post {
                actor: &actor,
                users: vec![i],
                text: varied(i),
                link: None,
                blurhash: Some("LEHV6nWB2yk8pyo0adR*.7kCMdnj"),
            };
            judge(&host, &policy, &post)
        })
        .collect();
    assert!(verdicts[1].is_pass());
    assert!(
        verdicts[2]
            .reason()
            .unwrap()
            .starts_with("the same image (bh:LEHV6nWB2yk8pyo0adR*.7kCMdnj) from 3"),
        "{:?}",
        verdicts[2]
    );
    assert!(verdicts[7].is_reject());
}

#[test]
fn a_busy_thread_among_known_actors_is_not_counted() {
    let host = host();
    let policy = host.configure::<NewcomerBurst>("{}").unwrap();
    // Twelve people, each followed by a local user, replying with links
    // and mentions: none is a first contact.
    for i in 0..12 {
        let actor = format!("https://friends.example/users/f{i}");
        host.follows(&format!("https://home.example/users/u{i}"), &actor);
        let post = Post {
            actor: &actor,
            users: (0..12).collect(),
            text: "see you all at the picnic on saturday".to_owned(),
            link: Some("https://maps.example/picnic".to_owned()),
            blurhash: Some("LKO2?U%2Tw=w]~RBVZRi};RPxuwH"),
        };
        assert!(judge(&host, &policy, &post).is_pass(), "friend {i}");
    }
}

/// Accounts first seen four days before they spam (a follow or a like on
/// the way): past the day `first-contact` calls new, still strangers.
#[test]
fn warmed_up_accounts_are_still_counted_for_a_week() {
    let host = host();
    let policy = host.configure::<NewcomerBurst>("{}").unwrap();
    for i in 0..10 {
        host.saw_actor_at(&fresh(i, 10), host.now());
    }
    host.advance(Duration::from_secs(4 * 24 * 3600));
    let verdicts: Vec<Verdict> = (0..10)
        .map(|i| {
            let actor = fresh(i, 10);
            let post = Post {
                actor: &actor,
                users: vec![2 * i, 2 * i + 1],
                text: varied(i),
                link: Some(format!("https://sidegig.example/i/{i}q{i}")),
                blurhash: None,
            };
            judge(&host, &policy, &post)
        })
        .collect();
    assert!(verdicts[2].points() >= 4.0, "{:?}", verdicts[2]);
    assert!(
        verdicts[7..].iter().all(Verdict::is_reject),
        "{:?}",
        &verdicts[7..]
    );
    // Eight days on, they are established: not counted.
    host.advance(Duration::from_secs(4 * 24 * 3600));
    let actor = fresh(0, 10);
    let post = Post {
        actor: &actor,
        users: vec![50],
        text: varied(50),
        link: Some("https://sidegig.example/i/z".into()),
        blurhash: None,
    };
    assert!(judge(&host, &policy, &post).is_pass());
}

#[test]
fn a_newcomer_greeting_one_local_user_passes() {
    let host = host();
    let policy = host.configure::<NewcomerBurst>("{}").unwrap();
    let post = Post {
        actor: "https://big.example/users/newbie",
        users: vec![0],
        text: "hi, I just moved here, loved your post about trains".to_owned(),
        link: Some("https://video.example/watch?v=abc".to_owned()),
        blurhash: None,
    };
    assert!(judge(&host, &policy, &post).is_pass());
}

#[test]
fn established_actors_sharing_a_popular_link_pass() {
    let host = host();
    let policy = host.configure::<NewcomerBurst>("{}").unwrap();
    for i in 0..20 {
        host.saw_actor_at(&fresh(i, 20), host.now());
    }
    host.advance(Duration::from_secs(8 * 24 * 3600));
    for i in 0..20 {
        let actor = fresh(i, 20);
        // Active here on four days of the week: established.
        host.active_on(&actor, 4);
        let post = Post {
            actor: &actor,
            users: vec![i, i + 1],
            text: varied(i),
            link: Some("https://news.example/big-story".to_owned()),
            blurhash: None,
        };
        assert!(
            judge(&host, &policy, &post).is_pass(),
            "established actor {i}"
        );
    }
}

#[test]
fn on_install_day_origin_and_surge_are_not_applied() {
    let host = host();
    host.set_learning(true);
    let policy = host.configure::<NewcomerBurst>("{}").unwrap();
    // Everyone looks new on install day: forty people from one big server
    // greeting local users, each once, no links in common.
    for i in 0..40 {
        let actor = format!("https://big.example/users/person{i}");
        let post = Post {
            actor: &actor,
            users: vec![i],
            text: varied(i),
            link: None,
            blurhash: None,
        };
        assert!(judge(&host, &policy, &post).is_pass(), "person {i}");
    }
    // With learning over, the origin counts (from nothing: nothing was
    // counted while it was not applied).
    host.set_learning(false);
    let points: Vec<f64> = (40..44)
        .map(|i| {
            let actor = format!("https://big.example/users/person{i}");
            let post = Post {
                actor: &actor,
                users: vec![i],
                text: varied(i),
                link: None,
                blurhash: None,
            };
            judge(&host, &policy, &post).points()
        })
        .collect();
    assert_eq!(points, [0.0, 0.0, 0.0, 3.0]);
}

#[test]
fn ignored_sites_and_the_actors_own_site_are_not_counted() {
    let host = host();
    let policy = host
        .configure::<NewcomerBurst>(
            r#"{"ignore_sites": ["video.example"], "server": {"enabled": false}, "server_day": {"enabled": false}}"#,
        )
        .unwrap();
    for i in 0..10 {
        let actor = fresh(i, 10);
        let post = Post {
            actor: &actor,
            users: vec![i],
            text: varied(i),
            link: Some(format!("https://www.video.example/watch?v={i}")),
            blurhash: None,
        };
        assert!(judge(&host, &policy, &post).is_pass(), "ignored site, {i}");
    }
    for i in 0..10 {
        let actor = format!("https://site{i}.example/users/a");
        let post = Post {
            actor: &actor,
            users: vec![i],
            text: varied(i),
            link: Some(format!("https://cdn.site{i}.example/post/{i}")),
            blurhash: None,
        };
        assert!(judge(&host, &policy, &post).is_pass(), "own site, {i}");
    }
}

#[test]
fn a_signal_table_keeps_its_own_defaults_for_keys_it_leaves_out() {
    let host = host();
    let policy = host
        .configure::<NewcomerBurst>(r#"{"origin": {"score_at": 2}}"#)
        .unwrap();
    assert_eq!(policy.origin, Signal::new(3600, 2, 3.0, 0, false));
    assert_eq!(policy.link_site, Signal::new(3600, 3, 4.0, 8, true));
    assert_eq!(policy.actor, Signal::new(86_400, 6, 4.0, 15, true));
}

#[test]
fn bad_config_names_the_problem() {
    let host = host();
    let err = host
        .configure::<NewcomerBurst>(r#"{"orgin": {}}"#)
        .err()
        .unwrap();
    assert!(err.contains("unknown field `orgin`"), "{err}");
    let err = host
        .configure::<NewcomerBurst>(r#"{"media": {"score_at": 0}}"#)
        .err()
        .unwrap();
    assert_eq!(
        err,
        "invalid configuration at `media`: `score_at` must be at least 1"
    );
    let err = host
        .configure::<NewcomerBurst>(r#"{"server": {"window_seconds": 0}}"#)
        .err()
        .unwrap();
    assert!(
        err.contains("`server`: `window_seconds` must be at least 1"),
        "{err}"
    );
    let err = host
        .configure::<NewcomerBurst>(r#"{"actor": {"treshold": 3}}"#)
        .err()
        .unwrap();
    assert!(err.contains("unknown field `treshold`"), "{err}");
}

#[test]
fn schema_is_json() {
    let d = NewcomerBurst::describe();
    assert_eq!(d.name, "newcomer-burst");
    assert_eq!(d.capabilities, ["state"]);
    let schema: serde_json::Value =
        serde_json::from_str(d.config_schema.as_deref().unwrap()).unwrap();
    assert_eq!(schema["properties"]["actor"]["default"]["reject_at"], 15);
}

#[test]
fn a_busy_servers_usual_rate_of_first_contacts_is_not_a_surge_four_times_it_is() {
    let host = host();
    let policy = host.configure::<NewcomerBurst>("{}").unwrap();
    let mut i = 0;
    let mut hour = |n: usize, host: &TestHost| -> Vec<Verdict> {
        let verdicts = (0..n)
            .map(|_| {
                i += 1;
                let actor = fresh(i, 1000);
                let post = Post {
                    actor: &actor,
                    users: vec![i % 100],
                    text: varied(i),
                    link: None,
                    blurhash: None,
                };
                judge(host, &policy, &post)
            })
            .collect();
        host.advance(Duration::from_secs(3600));
        verdicts
    };
    // A week of 8 new actors an hour greeting people here.
    for _ in 0..7 * 24 {
        hour(8, &host);
    }
    let surge = |v: &Verdict| v.reason().is_some_and(|r| r.contains("server-wide"));
    // The next ordinary hour is ordinary.
    assert!(!hour(8, &host).iter().any(surge));
    // Forty in an hour is a surge, from about four times the usual eight
    // (a little less: in the week's first hours, before the baseline had
    // grown, the actors past the floor of 5 counted as a surge and did not
    // teach it).
    let verdicts = hour(40, &host);
    let first = verdicts.iter().position(surge).expect("a surge is scored");
    assert!(
        (20..33).contains(&first),
        "first scored at {first}: {:?}",
        verdicts[first]
    );
}

#[test]
fn an_account_seen_once_long_ago_is_still_new() {
    let host = host();
    let policy = host.configure::<NewcomerBurst>("{}").unwrap();
    // Each liked one post eight days ago (one active day), then links to
    // the same site: counted as any fresh account would be.
    let points: Vec<f64> = (0..4)
        .map(|i| {
            let actor = fresh(i, 4);
            host.saw_actor_at(&actor, host.now() - 8 * 86_400_000);
            host.active_on(&actor, 1);
            let post = Post {
                actor: &actor,
                users: vec![i],
                text: varied(i),
                link: Some(format!("https://lure.example/r/{i}")),
                blurhash: None,
            };
            judge(&host, &policy, &post).points()
        })
        .collect();
    assert_eq!(points[..2], [0.0, 0.0]);
    assert!(points[2] >= 4.0, "{points:?}");
}

#[test]
fn a_reply_excusing_every_mention_still_counts_its_link_site() {
    let host = host();
    let policy = host.configure::<NewcomerBurst>("{}").unwrap();
    // Fresh accounts "replying" to a local user's status, mentioning only
    // its author: no first contact, but the shared site is counted.
    let points: Vec<f64> = (0..4)
        .map(|i| {
            let actor = fresh(i, 4);
            let json = format!(
                r#"{{"type":"Create","actor":"{actor}","object":{{"type":"Note",
                   "content":"look https://lure.example/r/{i}","inReplyTo":"https://home.example/users/u{i}/statuses/9",
                   "tag":[{{"type":"Mention","href":"https://home.example/users/u{i}"}}]}}}}"#
            );
            let a = host.parse(&json).unwrap();
            host.judge(&policy, &a).points()
        })
        .collect();
    assert_eq!(points, [0.0, 0.0, 4.0, 4.0]);
}

#[test]
fn a_wave_slow_enough_for_every_hour_is_still_a_surge_over_the_day() {
    let host = host();
    let policy = host
        .configure::<NewcomerBurst>(r#"{"link_site": {"enabled": false}}"#)
        .unwrap();
    // Two first contacts an hour, under the hourly surge: the 20th of the
    // day is a slow surge on this quiet server.
    let mut surge_at = None;
    for i in 0..30 {
        let actor = fresh(i, 30);
        let post = Post {
            actor: &actor,
            users: vec![i],
            text: varied(i),
            link: None,
            blurhash: None,
        };
        let v = judge(&host, &policy, &post);
        if surge_at.is_none() && v.reason().is_some_and(|r| r.contains("outside surges")) {
            surge_at = Some(i);
        }
        host.advance(Duration::from_secs(1800));
    }
    assert_eq!(surge_at, Some(19));
}
