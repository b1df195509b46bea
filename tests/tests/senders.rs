//! Know who is speaking, end to end: real deliveries signed by a real
//! client (Misskey's HTTP-signature library, and an RFC 9421 signer) reach
//! `palisade serve`, which fetches keys and actor documents from a fake
//! Fediverse server on loopback (`tests/signatures/remote.mjs`) and
//! forwards to an upstream that verifies the signatures itself. Each test
//! asserts what a user sees: the status the sender got, what reached the
//! upstream, the decision's `sender`, and the requests the remote served.

use std::time::Duration;

use palisade_e2e::remote::scene::{LOCAL_USER, Scene, Setup, hours_ago, note, status};
use palisade_e2e::remote::{Format, KeyType, Remote, RemoteOptions, SignOptions, make_keys};
use serde_json::{Value, json};

const WEATHER: &str = "Lovely weather for a walk in the park today, the ducks are out.";

/// An ordinary post by `name` on the remote.
fn post(remote: &Remote, name: &str, n: usize) -> Vec<u8> {
    note(&remote.actor_id(name), n, WEATHER, None)
}

/// Deliver an ordinary post by the remote's `alice` signed as `opts` says
/// and check that it was verified and delivered, signed as sent.
async fn assert_verified(world: Value, opts: SignOptions) -> Scene {
    let s = Setup::new(world).start().await;
    let body = post(&s.remote, "alice", 1);
    assert_eq!(
        s.deliver(&body, &opts).await,
        202,
        "the upstream's own answer"
    );
    let d = s.last().await;
    assert_eq!(status(&d), "verified", "{d:#}");
    assert_eq!(d["sender"]["key_id"], s.remote.key_id("alice"), "{d:#}");
    assert_eq!(d["action"], "accept", "{d:#}");
    let got = s.delivered(&body).await;
    assert_eq!(got.len(), 1, "delivered once: {got:?}");
    assert_eq!(got[0]["verified"], true, "{:?}", got[0]["error"]);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cavage_rsa_sha256_delivery_is_verified_and_delivered() {
    let s = assert_verified(json!({"actors": {"alice": {}}}), SignOptions::default()).await;
    assert_eq!(s.upstream.received().await[0]["format"], "cavage");
    assert!(
        s.remote.fetches("/users/alice").await >= 1,
        "the key was fetched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs2019_with_an_rsa_key_is_verified() {
    let opts = SignOptions {
        algorithm: Some("hs2019".into()),
        ..Default::default()
    };
    assert_verified(json!({"actors": {"alice": {}}}), opts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs2019_with_an_ed25519_key_is_verified() {
    let world = json!({"actors": {"alice": {"key_type": "ed25519"}}});
    let opts = SignOptions {
        algorithm: Some("hs2019".into()),
        ..Default::default()
    };
    assert_verified(world, opts).await;
}

/// Deliver posts by `alice` signed with RFC 9421, their signature
/// parameters in each order a sender may send them, and check that every
/// one was verified and delivered.
async fn assert_rfc9421_verified(world: Value) {
    let s = Setup::new(world).start().await;
    // The default (created, keyid, alg), RFC 9421 section 2.3's order, and
    // the shape Mastodon's documentation shows (no alg).
    let shapes = ["created,keyid,alg", "created,alg,keyid", "created,keyid"];
    let mut failed = Vec::new();
    for (n, shape) in shapes.into_iter().enumerate() {
        let body = post(&s.remote, "alice", n);
        let opts = SignOptions {
            format: Format::Rfc9421,
            rfc9421_params: Some(shape.into()),
            ..Default::default()
        };
        let answer = s.deliver(&body, &opts).await;
        let d = s.last().await;
        let got = s.delivered(&body).await;
        if answer != 202 || status(&d) != "verified" || got.len() != 1 {
            failed.push(format!("{shape}: {answer}, {}", d["sender"]));
        } else {
            assert_eq!(got[0]["format"], "rfc9421");
            assert_eq!(got[0]["verified"], true, "{shape}: {:?}", got[0]["error"]);
        }
    }
    assert!(failed.is_empty(), "not verified: {failed:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9421_rsa_v1_5_sha256_is_verified() {
    assert_rfc9421_verified(json!({"actors": {"alice": {}}})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9421_ed25519_is_verified() {
    assert_rfc9421_verified(json!({"actors": {"alice": {"key_type": "ed25519"}}})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gotosocial_key_stub_verifies_its_actor() {
    let world = json!({"actors": {"alice": {"key_style": "gotosocial"}}});
    let s = assert_verified(world, SignOptions::default()).await;
    assert!(s.remote.key_id("alice").ends_with("/users/alice/main-key"));
    assert!(
        s.remote.fetches("/users/alice/main-key").await >= 1,
        "the key was read from its stub: {:?}",
        s.remote.requests().await
    );
}

/// The index of the first byte of `needle` in `body`.
fn at(body: &[u8], needle: &str) -> usize {
    body.windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .expect("the needle is in the body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_changed_after_signing_is_invalid() {
    let s = Setup::new(json!({"actors": {"alice": {}}})).start().await;
    for (n, format) in [(1, Format::Cavage), (2, Format::Rfc9421)] {
        let body = post(&s.remote, "alice", n);
        let opts = SignOptions {
            format,
            flip_byte: Some(at(&body, "weather")),
            ..Default::default()
        };
        let status_got = s.deliver(&body, &opts).await;
        let d = s.last().await;
        assert_eq!(status(&d), "invalid", "{format:?}: {d:#}");
        let reason = d["sender"]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.to_lowercase().contains("digest"),
            "{format:?}: the reason names the digest: {d:#}"
        );
        // Judged and forwarded (`invalid = "judge"`): the server refuses it.
        assert_eq!(status_got, 401, "{format:?}: the upstream's answer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_invalid_reject_a_changed_body_gets_401_and_reaches_nobody() {
    let s = Setup::new(json!({"actors": {"alice": {}}}))
        .senders("invalid = \"reject\"")
        .start()
        .await;
    let body = post(&s.remote, "alice", 1);
    let opts = SignOptions {
        flip_byte: Some(at(&body, "weather")),
        ..Default::default()
    };
    assert_eq!(s.deliver(&body, &opts).await, 401);
    assert!(s.upstream.received().await.is_empty(), "nothing forwarded");
    // A good delivery still goes through.
    let good = post(&s.remote, "alice", 2);
    assert_eq!(s.deliver(&good, &SignOptions::default()).await, 202);
    assert_eq!(s.delivered(&good).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_that_does_not_cover_the_body_does_not_verify_the_sender() {
    let s = Setup::new(json!({"actors": {"alice": {}}})).start().await;
    for (n, format) in [(1, Format::Cavage), (2, Format::Rfc9421)] {
        let body = post(&s.remote, "alice", n);
        let opts = SignOptions {
            format,
            no_digest: true,
            ..Default::default()
        };
        s.deliver(&body, &opts).await;
        let d = s.last().await;
        assert_ne!(
            status(&d),
            "verified",
            "{format:?}: a signature without a digest says nothing of the body: {d:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_by_another_key_under_the_actors_key_id_is_invalid() {
    let s = Setup::new(json!({"actors": {"alice": {}}})).start().await;
    let forged = s.remote.forged_keys("alice");
    let body = post(&s.remote, "alice", 1);
    let answers = s
        .deliver_with(&forged, &body, &SignOptions::default())
        .await;
    let d = s.last().await;
    assert_eq!(status(&d), "invalid", "{d:#}");
    assert_eq!(d["sender"]["key_id"], s.remote.key_id("alice"));
    assert_eq!(answers[0].status, 401, "the upstream refuses it too");
    // The key is fetched, and refreshed at most once on the failure: a
    // forger cannot make Palisade hammer the actor's server.
    let fetches = s.remote.fetches("/users/alice").await;
    assert!((1..=2).contains(&fetches), "{fetches} key fetches");
}

/// Deliver two posts signed `offset_s` seconds in the past (cavage's Date,
/// RFC 9421's created) and check both are invalid.
async fn assert_out_of_window(offset_s: i64) {
    let s = Setup::new(json!({"actors": {"alice": {}}})).start().await;
    for (n, format) in [(1, Format::Cavage), (2, Format::Rfc9421)] {
        let body = post(&s.remote, "alice", n);
        let opts = SignOptions {
            format,
            created_offset_s: offset_s,
            ..Default::default()
        };
        s.deliver(&body, &opts).await;
        let d = s.last().await;
        assert_eq!(status(&d), "invalid", "{format:?} {offset_s}s: {d:#}");
    }
    // The same actor signing now is fine.
    let body = post(&s.remote, "alice", 3);
    s.deliver(&body, &SignOptions::default()).await;
    assert_eq!(status(&s.last().await), "verified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_made_13_hours_ago_is_invalid() {
    assert_out_of_window(13 * 3600).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_dated_an_hour_ahead_is_invalid() {
    assert_out_of_window(-3600).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_fetched_again_once_and_verifies() {
    let s = Setup::new(json!({"actors": {"alice": {}}})).start().await;
    s.deliver(&post(&s.remote, "alice", 1), &SignOptions::default())
        .await;
    assert_eq!(status(&s.last().await), "verified");
    s.remote.rotate_key("alice");
    let body = post(&s.remote, "alice", 2);
    assert_eq!(s.deliver(&body, &SignOptions::default()).await, 202);
    let d = s.last().await;
    assert_eq!(status(&d), "verified", "after one refresh: {d:#}");
    assert_eq!(s.delivered(&body).await.len(), 1);
    assert_eq!(
        s.remote.fetches("/users/alice").await,
        2,
        "fetched, then refreshed once: {:?}",
        s.remote.requests().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_key_is_fetched_once_for_ten_deliveries() {
    let s = Setup::new(json!({"actors": {"alice": {}}})).start().await;
    for n in 0..10 {
        let status_got = s
            .deliver(&post(&s.remote, "alice", n), &SignOptions::default())
            .await;
        assert_eq!(status_got, 202, "delivery {n}");
    }
    let decisions = s.decisions().await;
    assert_eq!(decisions.len(), 10);
    assert!(decisions.iter().all(|d| status(d) == "verified"));
    assert_eq!(
        s.remote.fetches("/users/alice").await,
        1,
        "{:?}",
        s.remote.requests().await
    );
    assert_eq!(
        s.counter("palisade_senders_total", &["status=\"verified\""])
            .await,
        10.0
    );
    assert!(s.counter("palisade_fetches_total", &[]).await >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_delivery_is_counted_once() {
    // At most two posts per actor: were the replays counted, the third
    // copy and the next real post would be over the limit.
    let limit = "[[policy]]\nsource = \"builtin:rate-limit\"\ngrants = [\"state\"]\n\
                 [policy.config.actor]\nlimit = 2\naction = \"reject\"\n\
                 [policy.config.new_actors]\nenabled = false\n";
    let s = Setup::new(json!({"actors": {"alice": {}}}))
        .tables(limit)
        .start()
        .await;
    let body = post(&s.remote, "alice", 1);
    let opts = SignOptions {
        repeat: 3,
        ..Default::default()
    };
    let answers = s.deliver_with(&s.remote.keys(), &body, &opts).await;
    assert_eq!(answers.len(), 3);
    let next = post(&s.remote, "alice", 2);
    assert_eq!(s.deliver(&next, &SignOptions::default()).await, 202);
    let decisions = s.decisions().await;
    for d in &decisions {
        assert_ne!(d["action"], "reject", "nothing was over the limit: {d:#}");
    }
    assert_eq!(status(&decisions[0]), "verified");
    assert_eq!(s.delivered(&next).await.len(), 1, "the next post arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_unsigned_reject_an_unsigned_delivery_gets_401_and_reaches_nobody() {
    let s = Setup::new(json!({"actors": {"alice": {}}}))
        .senders("unsigned = \"reject\"")
        .start()
        .await;
    let body = post(&s.remote, "alice", 1);
    let unsigned = SignOptions {
        unsigned: true,
        ..Default::default()
    };
    assert_eq!(s.deliver(&body, &unsigned).await, 401);
    assert!(s.upstream.received().await.is_empty(), "nothing forwarded");
    assert_eq!(
        s.remote.requests().await.len(),
        0,
        "nothing to fetch for a delivery without a signature"
    );
    // Signed, the same post goes through.
    assert_eq!(s.deliver(&body, &SignOptions::default()).await, 202);
    assert_eq!(s.delivered(&body).await.len(), 1);
}

/// The 2024 wave's text, long enough for duplicate-burst.
const VICTIM_TEXT: &str = "Mastodon is dead and the admins are lying to you. Come to the only \
     free place left, the real home of the fediverse, before they censor this post too.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_unsigned_deliveries_cannot_get_a_victims_post_stopped() {
    // The victim is new here (the case duplicate-burst judges) but an
    // ordinary account by its server's word (so account-facts has nothing
    // against it): only the forgeries could get its post stopped.
    let world = json!({"actors": {"victim": {"published": hours_ago(24 * 30),
        "avatar": true, "name": "The Victim", "followers": 40, "following": 30}}});
    let s = Setup::new(world).start().await;
    let unsigned = SignOptions {
        unsigned: true,
        ..Default::default()
    };
    for n in 0..5 {
        // Accounts nobody made, on the victim's server (whose documents
        // say no such account exists, should anyone ask).
        let forger = s.remote.actor_id(&format!("madeup{n}"));
        s.deliver(&note(&forger, n, VICTIM_TEXT, Some(LOCAL_USER)), &unsigned)
            .await;
        assert_eq!(status(&s.last().await), "unverified");
    }
    let real = note(
        &s.remote.actor_id("victim"),
        9,
        VICTIM_TEXT,
        Some(LOCAL_USER),
    );
    assert_eq!(s.deliver(&real, &SignOptions::default()).await, 202);
    let d = s.last().await;
    assert_eq!(status(&d), "verified", "{d:#}");
    assert_eq!(
        d["action"], "accept",
        "the forgeries counted for nothing: {d:#}"
    );
    let got = s.delivered(&real).await;
    assert_eq!(got.len(), 1, "the victim's post arrived");
    assert_eq!(got[0]["verified"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_five_copies_signed_by_real_new_accounts_do_stop_the_sixth() {
    // The control for the test above: what the forgers could not do, five
    // real accounts can (so that test could fail).
    let fresh = json!({"published": hours_ago(1)});
    let mut actors = json!({"victim": fresh});
    for n in 0..5 {
        actors[format!("copier{n}")] = fresh.clone();
    }
    let s = Setup::new(json!({ "actors": actors })).start().await;
    for n in 0..5 {
        let copy = note(
            &s.remote.actor_id(&format!("copier{n}")),
            n,
            VICTIM_TEXT,
            Some(LOCAL_USER),
        );
        s.deliver(&copy, &SignOptions::default()).await;
        assert_eq!(status(&s.last().await), "verified");
    }
    let real = note(
        &s.remote.actor_id("victim"),
        9,
        VICTIM_TEXT,
        Some(LOCAL_USER),
    );
    s.deliver(&real, &SignOptions::default()).await;
    let d = s.last().await;
    assert_eq!(status(&d), "verified");
    assert!(
        d["action"] == "reject" || d["action"] == "quarantine",
        "the sixth copy is stopped: {d:#}"
    );
    assert!(s.delivered(&real).await.is_empty(), "not delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fetch_guard_refuses_loopback_key_ids_without_connecting() {
    let s = Setup::new(json!({"actors": {"alice": {}}}))
        .fetch("allow_insecure = false\n")
        .start()
        .await;
    // An http:// keyId on loopback, and an https:// one (refused for the
    // address alone: nothing listens for TLS there).
    let https_actor = s.remote.actor_id("alice").replace("http://", "https://");
    let https_key = format!("{https_actor}#main-key");
    make_keys(
        &s.remote.keys(),
        std::slice::from_ref(&https_key),
        KeyType::Rsa,
        false,
    );
    let plain = post(&s.remote, "alice", 1);
    let tls = note(&https_actor, 2, WEATHER, None);
    for body in [&plain, &tls] {
        s.deliver(body, &SignOptions::default()).await;
        let d = s.last().await;
        assert_eq!(status(&d), "unverified", "{d:#}");
        let reason = d["sender"]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("127.0.0.1"), "names the target: {d:#}");
    }
    assert_eq!(
        s.remote.requests().await,
        Vec::<Value>::new(),
        "nothing reached the remote"
    );
}

/// The key Palisade signs its fetches with, for authorized fetch.
const FETCHER_KEY: &str = "https://palisade.example/actor#main-key";

/// A remote in Mastodon's secure mode, and Palisade's `[fetch]` lines.
fn secure_remote(fetch: &str) -> Setup {
    Setup::new(json!({"actors": {"alice": {}}}))
        .remote(RemoteOptions {
            authorized_fetch: true,
            ..Default::default()
        })
        .fetch(fetch)
}

/// The remote's GETs of alice's document.
async fn actor_gets(s: &Scene) -> Vec<Value> {
    s.remote
        .requests()
        .await
        .into_iter()
        .filter(|r| r["path"] == "/users/alice")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorized_fetch_with_the_configured_key_verifies() {
    let fetch = format!(
        "allow_insecure = true\nkey_id = \"{FETCHER_KEY}\"\nprivate_key_file = \"fetcher.pem\"\n"
    );
    let s = secure_remote(&fetch).fetcher_key(FETCHER_KEY).start().await;
    let body = post(&s.remote, "alice", 1);
    assert_eq!(s.deliver(&body, &SignOptions::default()).await, 202);
    let d = s.last().await;
    assert_eq!(status(&d), "verified", "{d:#}");
    let gets = actor_gets(&s).await;
    assert!(!gets.is_empty(), "the key was fetched");
    for get in &gets {
        assert_eq!(get["signed"], true, "{get}");
        assert_eq!(get["keyId"], FETCHER_KEY, "{get}");
        assert_eq!(get["verified"], true, "the remote verified it: {get}");
        assert_eq!(get["status"], 200, "{get}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorized_fetch_without_a_key_leaves_the_sender_unverified() {
    let s = secure_remote("allow_insecure = true\n").start().await;
    let body = post(&s.remote, "alice", 1);
    s.deliver(&body, &SignOptions::default()).await;
    let d = s.last().await;
    assert_eq!(status(&d), "unverified", "{d:#}");
    let gets = actor_gets(&s).await;
    assert!(!gets.is_empty(), "it tried");
    assert!(
        gets.iter()
            .all(|g| g["signed"] == false && g["status"] == 401),
        "{gets:?}"
    );
}

/// Wait (bounded) until the remote has answered a GET of `path`.
async fn answered(remote: &Remote, path: &str) {
    for _ in 0..300 {
        let done = remote
            .requests()
            .await
            .iter()
            .any(|r| r["path"] == path && !r["status"].is_null());
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the remote never answered {path}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_key_is_judged_without_and_used_once_it_arrives() {
    // The remote answers after 3 s; judging waits 300 ms.
    let world = json!({"actors": {"alice": {"delay_ms": 3000}}});
    let s = Setup::new(world)
        .fetch("allow_insecure = true\nbudget_ms = 300\ntimeout_ms = 10000\n")
        .start()
        .await;
    assert_eq!(
        s.deliver(&post(&s.remote, "alice", 0), &SignOptions::default())
            .await,
        202,
        "judged with what was known, and delivered"
    );
    let first = s.last().await;
    assert_eq!(status(&first), "unverified", "{first:#}");
    // The fetch goes on in the background; once the remote has answered,
    // a later delivery finds the key (bounded: 20 tries).
    answered(&s.remote, "/users/alice").await;
    let mut verified = None;
    for n in 1..=20 {
        s.deliver(&post(&s.remote, "alice", n), &SignOptions::default())
            .await;
        if status(&s.last().await) == "verified" {
            verified = Some(n);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(verified.is_some(), "{:#?}", s.decisions().await);
    assert_eq!(
        s.remote.fetches("/users/alice").await,
        1,
        "one fetch, finished in the background: {:?}",
        s.remote.requests().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_published_date_makes_it_established() {
    // On install day (the learning period) the host knows no server, and an
    // account's own `published` is the best word on its age. first-contact
    // holds a new actor's first mention of a local user; an account made
    // years ago is not new. Without facts both would look new.
    let world = json!({"actors": {
        "veteran": {"published": "2019-03-01T12:00:00Z"},
        "newbie": {"published": hours_ago(1)},
    }});
    let tables = "[learning]\nhours = 72\n\
                  [[policy]]\nsource = \"builtin:first-contact\"\n\
                  [policy.config]\nnew_host_hours = 0\naction = \"quarantine\"\n";
    for facts in [true, false] {
        let s = Setup::new(world.clone())
            .fetch(&format!("allow_insecure = true\nfacts = {facts}\n"))
            .tables(tables)
            .start()
            .await;
        let hello = "Hello there, I read your post about the moderation queue and liked it.";
        let old = note(&s.remote.actor_id("veteran"), 1, hello, Some(LOCAL_USER));
        let new = note(&s.remote.actor_id("newbie"), 2, hello, Some(LOCAL_USER));
        s.deliver(&old, &SignOptions::default()).await;
        let d_old = s.last().await;
        s.deliver(&new, &SignOptions::default()).await;
        let d_new = s.last().await;
        assert_eq!(status(&d_old), "verified");
        assert_eq!(d_new["action"], "quarantine", "facts = {facts}: {d_new:#}");
        assert!(s.delivered(&new).await.is_empty());
        if facts {
            assert_eq!(d_old["action"], "accept", "{d_old:#}");
            assert_eq!(s.delivered(&old).await.len(), 1);
        } else {
            assert_eq!(d_old["action"], "quarantine", "no facts, no age: {d_old:#}");
        }
    }
}

/// A note with ten mentions: what mention-limit rejects.
fn ten_mentions(actor: &str) -> Value {
    let mentions: Vec<Value> = (0..10)
        .map(|n| json!({"type": "Mention", "href": format!("https://mastodon.example/users/user{n}")}))
        .collect();
    let content: String = (0..10)
        .map(|n| format!("<a href=\"https://mastodon.example/@user{n}\" class=\"u-url mention\">@user{n}</a> "))
        .collect();
    json!({
        "type": "Note",
        "attributedTo": actor,
        "content": format!("<p>{content}{VICTIM_TEXT}</p>"),
        "tag": mentions,
        "to": ["https://www.w3.org/ns/activitystreams#Public"]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_naming_its_object_by_uri_is_judged_on_the_fetched_object() {
    for objects in [true, false] {
        let s = Setup::new(json!({"actors": {"alice": {}}}))
            .fetch(&format!("allow_insecure = true\nobjects = {objects}\n"))
            .start()
            .await;
        let actor = s.remote.actor_id("alice");
        let uri = s.remote.add_note("wave1", ten_mentions(&actor));
        let create = serde_json::to_vec(&json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{uri}/activity"),
            "type": "Create",
            "actor": actor,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": uri,
        }))
        .unwrap();
        s.deliver(&create, &SignOptions::default()).await;
        let d = s.last().await;
        if objects {
            assert_eq!(d["action"], "reject", "{d:#}");
            assert!(
                d["reasons"][0]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("mention-limit"),
                "{d:#}"
            );
            assert!(
                s.delivered(&create).await.is_empty(),
                "never reached the server"
            );
            assert_eq!(s.remote.fetches("/notes/wave1").await, 1);
        } else {
            // Today's behaviour, kept when the option is off: nothing to judge.
            assert_eq!(d["action"], "accept", "{d:#}");
            assert_eq!(s.remote.fetches("/notes/wave1").await, 0);
        }
    }
}

/// What the `witness` fixture (contract 0.4.0) was told about the actor's
/// facts: the `facts=` part of its reason.
fn witnessed_facts(decision: &Value) -> String {
    let reason = decision["trace"]
        .as_array()
        .and_then(|t| t.iter().find(|m| m["module"] == "witness"))
        .and_then(|m| m["reason"].as_str())
        .unwrap_or_else(|| panic!("no witness reason: {decision:#}"));
    let start = reason
        .find("facts=")
        .unwrap_or_else(|| panic!("the witness reports no facts (contract 0.4.0): {reason}"))
        + "facts=".len();
    let end = reason[start..]
        .find(" media=")
        .map_or(reason.len(), |e| start + e);
    reason[start..end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_is_told_what_the_actors_server_says_about_it() {
    let world = json!({
        "actors": {"vet": {
            "published": "2019-03-01T12:00:00Z",
            "preferred_username": "vet_2019",
            "name": "Old Timer",
            "avatar": false,
            "followers": null,
            "following": 7,
            "discoverable": false,
        }},
        "software": {"name": "gotosocial", "version": "0.17.3"},
    });
    let witness = format!(
        "[[policy]]\nsource = \"{}\"\n",
        palisade_e2e::fixture("witness").display()
    );
    let s = Setup::new(world).tables(&witness).start().await;
    let body = post(&s.remote, "vet", 1);
    assert_eq!(s.deliver(&body, &SignOptions::default()).await, 202);
    let d = s.last().await;
    assert_eq!(status(&d), "verified", "{d:#}");
    let facts = witnessed_facts(&d);
    // 2019-03-01T12:00:00Z in milliseconds.
    for part in [
        "published:1551441600000",
        "user:vet_2019",
        "name:Old Timer",
        "avatar:false",
        "followers:-",
        "following:7",
        "discoverable:false",
        "software:gotosocial",
    ] {
        assert!(facts.contains(part), "{part} in {facts}");
    }
    // A forged delivery naming the same actor tells the module nothing.
    let forged = post(&s.remote, "vet", 2);
    let unsigned = SignOptions {
        unsigned: true,
        ..Default::default()
    };
    s.deliver(&forged, &unsigned).await;
    assert_eq!(witnessed_facts(&s.last().await), "-");
}

/// At most one post per actor an hour, counted in the state.
const ONE_POST: &str = "[[policy]]\nsource = \"builtin:rate-limit\"\ngrants = [\"state\"]\n\
                        [policy.config.actor]\nlimit = 1\naction = \"reject\"\n\
                        [policy.config.new_actors]\nenabled = false\n";

/// `POST /v1/judge` of `body`, saying `Palisade-Verified-Actor: actor` if
/// given; the decision.
async fn judge(url: &str, body: &[u8], actor: Option<&str>) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/v1/judge"))
        .body(body.to_vec())
        .timeout(Duration::from_secs(20));
    if let Some(actor) = actor {
        request = request.header("Palisade-Verified-Actor", actor);
    }
    let response = request.send().await.expect("the judge API answers");
    assert_eq!(response.status(), 200);
    response.json().await.expect("a decision")
}

/// Check a judge API decision's sender status and action.
fn assert_judged(d: &Value, sender: &str, action: &str) {
    assert_eq!(
        (status(d), d["action"].as_str()),
        (sender, Some(action)),
        "{d:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_judge_api_counts_a_sender_only_when_its_caller_verified_that_actor() {
    let alice = "https://remote.example/users/alice";
    let bob = "https://remote.example/users/bob";
    let carol = "https://remote.example/users/carol";
    for records in [true, false] {
        let dir = palisade_e2e::TempDir::new("senders-judge-api");
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\njudge_api_records = {records}\n\
             [admin]\nlisten = \"127.0.0.1:0\"\n[decision_log]\noutput = \"off\"\n{ONE_POST}"
        );
        let p = palisade_e2e::serve_config_file(&dir.0, &text, "judge-token").await;
        // Each call judges a new post by `actor`.
        let mut n = 0;
        let mut call = async |actor: &str, header: Option<&str>| {
            n += 1;
            judge(&p.url, &note(actor, n, WEATHER, None), header).await
        };
        if records {
            // Vouched for another actor: unverified, and never counted.
            for _ in 0..2 {
                let d = call(alice, Some(bob)).await;
                assert_judged(&d, "unverified", "accept");
                let reason = d["sender"]["reason"].as_str().unwrap_or_default();
                assert!(reason.contains(bob), "names whom it vouched for: {d:#}");
            }
            // Vouched for the actor: verified and counted. Within the
            // limit of one, the first is let through (the two before did
            // not count) and the second is over it.
            assert_judged(&call(alice, Some(alice)).await, "verified", "accept");
            assert_judged(&call(alice, Some(alice)).await, "verified", "reject");
            // A caller allowed to write, saying nothing, is trusted.
            assert_judged(&call(carol, None).await, "verified", "accept");
            assert_judged(&call(carol, None).await, "verified", "reject");
        } else {
            // Nobody said who signed: unverified, and nothing counted.
            for _ in 0..3 {
                let d = call(alice, None).await;
                assert_judged(&d, "unverified", "accept");
                let reason = d["sender"]["reason"].as_str().unwrap_or_default();
                assert!(
                    reason.contains("palisade-verified-actor"),
                    "names the header: {d:#}"
                );
            }
        }
    }
}
