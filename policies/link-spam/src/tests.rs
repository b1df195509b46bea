use super::*;
use palisade_sdk::Severity;
use palisade_sdk::finding::MAX_REASON;
use palisade_sdk::memory::NamedList;
use palisade_sdk::testing::TestHost;
use std::time::Duration;

/// The corpus of real payloads vendored in tests/corpus, from this crate's folder.
const CORPUS_DIR: &str = "../../tests/corpus/public";

const HOUR: Duration = Duration::from_secs(3600);

fn anchor(href: &str) -> String {
    format!(r#"<a href=\"{href}\" rel=\"nofollow noopener\">{href}</a>"#)
}

fn post(actor: &str, content: &str) -> String {
    format!(
        r#"{{"type":"Create","actor":"{actor}",
           "object":{{"type":"Note","content":"{content}"}}}}"#
    )
}

const NEWBIE: &str = "https://spam.example/users/bot1";
const OLDTIMER: &str = "https://big.example/users/alice";

/// A host that has known `OLDTIMER` for a month.
fn host() -> TestHost {
    let host = TestHost::new().local_hosts(["home.example"]);
    host.saw_actor_at(OLDTIMER, host.now() - 30 * 24 * 3_600_000);
    host
}

fn entry(domain: &str, comment: Option<&str>) -> DomainEntry {
    DomainEntry {
        domain: domain.to_owned(),
        severity: Severity::Suspend,
        reject_media: false,
        reject_reports: false,
        comment: comment.map(str::to_owned),
    }
}

/// `host()` with a domain list `spam-links` and a plain list `bad-urls`.
fn listing_host() -> TestHost {
    host()
        .list(
            "spam-links",
            NamedList::domains([entry("crypto.example", Some("2024 wave landing page"))]),
        )
        .list(
            "bad-urls",
            NamedList::plain(["https://pastebin.example/raw/abc"], Severity::Suspend),
        )
}

fn urls(host: &TestHost, content: &str) -> Vec<String> {
    let a = host.parse(&post(NEWBIE, content)).unwrap();
    links(&a).into_iter().map(|l| l.url).collect()
}

#[test]
fn links_come_from_anchors_and_from_the_text() {
    let host = host();
    let content = format!(
        "<p>{} <a href=\\\"https://home.example/users/u1\\\" class=\\\"u-url mention\\\">@u1</a> \
         <a href=\\\"https://home.example/tags/join\\\" class=\\\"mention hashtag\\\">#join</a> \
         join (discord.gg/AbC), see: https://site.example/page. \
         or www.shop.example! e.g. example.com and readme.md are not links</p>",
        anchor("https://site.example/page/")
    );
    assert_eq!(
        urls(&host, &content),
        [
            "https://site.example/page/",
            "https://discord.gg/AbC",
            "https://www.shop.example",
        ],
        "mentions and hashtags are not links; repeats are dropped"
    );
    let a = host
        .parse(&format!(
            r#"{{"type":"Create","actor":"{NEWBIE}","object":{{"type":"Note",
                "summary":"cw: t.me/chan","content":"hi"}}}}"#
        ))
        .unwrap();
    assert_eq!(
        links(&a)[0].url,
        "https://t.me/chan",
        "content warnings count"
    );
    let l = Link::parse("HTTPS://Discord.COM/Invite/XyZ?q=1").unwrap();
    assert_eq!(
        (l.host.as_str(), l.path.as_str()),
        ("discord.com", "/invite/xyz?q=1")
    );
}

#[test]
fn a_new_actor_posting_a_link_scores() {
    let host = host();
    let policy = host.configure::<LinkSpam>("{}").unwrap();
    let content = format!(
        "<p>Cheap followers {}</p>",
        anchor("https://followers.example/buy")
    );
    let v = host.judge(&policy, &host.parse(&post(NEWBIE, &content)).unwrap());
    assert_eq!(v.points(), 2.0);
    assert_eq!(v.labels(), ["link-spam", "new-actor-links"]);
    assert_eq!(
        v.reason(),
        Some("actor first seen 0h ago posted 1 link (followers.example)")
    );
    let v = host.judge(&policy, &host.parse(&post(OLDTIMER, &content)).unwrap());
    assert!(v.is_pass(), "an established actor's link is not a signal");
}

#[test]
fn an_actor_stops_being_new_after_new_actor_hours() {
    let host = host();
    let policy = host
        .configure::<LinkSpam>(r#"{"new_actor_hours": 6}"#)
        .unwrap();
    let a = host
        .parse(&post(NEWBIE, &anchor("https://followers.example/buy")))
        .unwrap();
    assert_eq!(host.judge(&policy, &a).points(), 2.0);
    host.advance(5 * HOUR);
    assert_eq!(
        host.judge(&policy, &a).reason(),
        Some("actor first seen 5h ago posted 1 link (followers.example)")
    );
    host.advance(HOUR);
    assert!(host.judge(&policy, &a).is_pass());
}

#[test]
fn min_links_and_links_to_the_actors_own_host() {
    let host = host();
    let policy = host
        .configure::<LinkSpam>(r#"{"new_actor": {"min_links": 3}}"#)
        .unwrap();
    let two = format!(
        "{} {} {}",
        anchor("https://a.example/1"),
        anchor("https://b.example/2"),
        anchor("https://spam.example/notes/1"),
    );
    let a = host.parse(&post(NEWBIE, &two)).unwrap();
    assert!(
        host.judge(&policy, &a).is_pass(),
        "the link to its own host does not count"
    );
    let five = format!(
        "{two} {} {} {}",
        anchor("https://c.example/3"),
        anchor("https://d.example/4"),
        anchor("https://a.example/5"),
    );
    let a = host.parse(&post(NEWBIE, &five)).unwrap();
    assert_eq!(
        host.judge(&policy, &a).reason(),
        Some("actor first seen 0h ago posted 5 links (a.example, b.example, c.example and 1 more)")
    );
}

#[test]
fn invite_links_score_for_anyone_and_add_up_for_new_actors() {
    let host = host();
    let policy = host.configure::<LinkSpam>("{}").unwrap();
    let invite = "<p>come chat discord.gg/fr33</p>";
    let v = host.judge(&policy, &host.parse(&post(OLDTIMER, invite)).unwrap());
    assert_eq!(v.points(), 3.0);
    assert_eq!(v.labels(), ["link-spam", "invite-link"]);
    assert_eq!(v.reason(), Some("invite link to discord.gg"));

    let v = host.judge(&policy, &host.parse(&post(NEWBIE, invite)).unwrap());
    assert_eq!(v.points(), 5.0, "new actor 2 + invite 3");
    assert_eq!(v.labels(), ["link-spam", "new-actor-links", "invite-link"]);
    assert_eq!(
        v.reason(),
        Some("actor first seen 0h ago posted 1 link (discord.gg); invite link to discord.gg")
    );
}

#[test]
fn invite_entries_match_subdomains_and_path_prefixes() {
    let host = host();
    let policy = host.configure::<LinkSpam>("{}").unwrap();
    let judge = |href: &str| {
        let a = host.parse(&post(OLDTIMER, &anchor(href))).unwrap();
        host.judge(&policy, &a)
    };
    for href in [
        "https://discord.com/invite/abc",
        "https://DISCORD.com/Invite?x=1",
        "https://ptb.discord.com/invite/abc",
        "https://www.discord.gg/abc",
        "https://t.me/joinchat/xyz",
        "https://chat.whatsapp.com/Inv1te",
        "https://line.me/R/ti/g/abc",
    ] {
        assert_eq!(judge(href).points(), 3.0, "{href}");
    }
    for href in [
        "https://discord.com/channels/1/2",
        "https://discord.com/invitees",
        "https://notdiscord.gg/abc",
        "https://whatsapp.com/download",
        "https://meet.example/t.me",
    ] {
        assert!(judge(href).is_pass(), "{href}");
    }
}

#[test]
fn the_invite_list_can_be_replaced_extended_or_emptied() {
    let host = host();
    let judge = |config: &str, content: &str| {
        let policy = host.configure::<LinkSpam>(config).unwrap();
        let a = host.parse(&post(OLDTIMER, content)).unwrap();
        host.judge(&policy, &a)
    };
    let replaced = r#"{"invite": {"hosts": ["chat.example/join"]}}"#;
    assert!(judge(replaced, "discord.gg/abc").is_pass());
    assert_eq!(
        judge(replaced, "chat.example/join/abc").reason(),
        Some("invite link to chat.example/join")
    );
    let extended = r#"{"invite": {"extra_hosts": ["Matrix.To"]}}"#;
    assert_eq!(judge(extended, "discord.gg/abc").points(), 3.0);
    assert_eq!(
        judge(extended, "https://matrix.to/#/#room:x").reason(),
        Some("invite link to matrix.to")
    );
    assert!(judge(r#"{"invite": {"hosts": []}}"#, "discord.gg/abc").is_pass());
    assert!(judge(r#"{"invite": {"enabled": false}}"#, "discord.gg/abc").is_pass());
}

#[test]
fn invites_can_be_limited_to_new_actors() {
    let host = host();
    let policy = host
        .configure::<LinkSpam>(
            r#"{"new_actor": {"enabled": false}, "invite": {"new_actors_only": true, "action": "quarantine"}}"#,
        )
        .unwrap();
    let invite = "<p>t.me/spamchannel</p>";
    assert!(
        host.judge(&policy, &host.parse(&post(OLDTIMER, invite)).unwrap())
            .is_pass()
    );
    let v = host.judge(&policy, &host.parse(&post(NEWBIE, invite)).unwrap());
    assert!(v.is_quarantine());
    assert_eq!(v.reason(), Some("invite link to t.me"));
}

#[test]
fn links_to_listed_hosts_are_rejected_with_the_entry() {
    let host = listing_host();
    let config = r#"{"listed": {"lists": ["spam-links", "bad-urls"]}}"#;
    let policy = host.configure::<LinkSpam>(config).unwrap();
    let a = host
        .parse(&post(OLDTIMER, &anchor("https://go.crypto.example/r/1")))
        .unwrap();
    let v = host.judge(&policy, &a);
    assert!(v.is_reject());
    assert_eq!(
        v.reason(),
        Some(
            "link host go.crypto.example is listed in `spam-links` as crypto.example: \
             2024 wave landing page"
        )
    );
    let a = host
        .parse(&post(OLDTIMER, "see https://pastebin.example/raw/abc."))
        .unwrap();
    assert_eq!(
        host.judge(&policy, &a).reason(),
        Some("link https://pastebin.example/raw/abc is listed in `bad-urls`")
    );
    for fine in [
        "https://pastebin.example/raw/other",
        "https://notcrypto.example/",
    ] {
        let a = host.parse(&post(OLDTIMER, &anchor(fine))).unwrap();
        assert!(host.judge(&policy, &a).is_pass(), "{fine}");
    }
}

#[test]
fn the_strictest_signal_wins() {
    let host = listing_host();
    let policy = host
        .configure::<LinkSpam>(r#"{"listed": {"lists": ["spam-links"], "action": "quarantine"}}"#)
        .unwrap();
    let content = format!("{} discord.gg/x", anchor("https://crypto.example/"));
    let v = host.judge(&policy, &host.parse(&post(NEWBIE, &content)).unwrap());
    assert!(v.is_quarantine());
    assert_eq!(
        v.reason(),
        Some("link host crypto.example is listed in `spam-links`: 2024 wave landing page")
    );
    let policy = host
        .configure::<LinkSpam>(
            r#"{"listed": {"lists": ["spam-links"], "action": "score", "points": 1.5}}"#,
        )
        .unwrap();
    let v = host.judge(&policy, &host.parse(&post(NEWBIE, &content)).unwrap());
    assert_eq!(v.points(), 6.5);
    assert_eq!(
        v.labels(),
        ["link-spam", "new-actor-links", "invite-link", "listed-link"]
    );
}

#[test]
fn allowed_hosts_are_ignored_by_every_signal() {
    let host = listing_host();
    let policy = host
        .configure::<LinkSpam>(
            r#"{"allowed_hosts": ["crypto.example", "discord.gg", "home.example"],
                "listed": {"lists": ["spam-links"]}}"#,
        )
        .unwrap();
    let content = format!(
        "{} discord.gg/x {}",
        anchor("https://www.crypto.example/"),
        anchor("https://home.example/@alice/1")
    );
    let v = host.judge(&policy, &host.parse(&post(NEWBIE, &content)).unwrap());
    assert!(v.is_pass(), "{:?}", v.ruling);
}

#[test]
fn posts_without_links_pass() {
    let host = listing_host();
    let policy = host
        .configure::<LinkSpam>(r#"{"listed": {"lists": ["spam-links"]}}"#)
        .unwrap();
    let a = host
        .parse(&post(
            NEWBIE,
            "<p>Hello fediverse, I am new here! e.g. crypto.example</p>",
        ))
        .unwrap();
    assert!(host.judge(&policy, &a).is_pass());
}

#[test]
fn reasons_stay_short_whatever_the_post_carries() {
    let hosts: Vec<String> = (0..300).map(|i| format!("h{i}.crypto.example")).collect();
    let content: String = hosts
        .iter()
        .map(|h| format!("https://{h}/{} ", "x".repeat(2000)))
        .collect();
    let host = listing_host();
    let policy = host
        .configure::<LinkSpam>(r#"{"listed": {"lists": ["spam-links"], "action": "score"}}"#)
        .unwrap();
    let v = host.judge(&policy, &host.parse(&post(NEWBIE, &content)).unwrap());
    let reason = v.reason().unwrap();
    assert!(reason.len() <= MAX_REASON, "{}", reason.len());
    assert!(reason.contains("posted 300 links"), "{reason}");
    assert!(reason.contains("and 97 more"), "{reason}");
    assert_eq!(
        palisade_sdk::text::clamp("é".repeat(600), MAX_REASON).len(),
        MAX_REASON - 1
    );
}

#[test]
fn a_post_made_of_links_is_judged_in_one_pass() {
    // A megabyte of short bare links: 150,000 of them on 5,000 hosts. The
    // first thousand are enough to judge it.
    let content: String = (0..150_000)
        .map(|i| format!("h{}.ex/{i} ", i % 5000))
        .collect();
    assert!(content.len() > 1_000_000);
    let host = listing_host();
    let policy = host
        .configure::<LinkSpam>(r#"{"listed": {"lists": ["spam-links"]}}"#)
        .unwrap();
    let a = host.parse(&post(NEWBIE, &content)).unwrap();
    assert_eq!(links(&a).len(), MAX_LINKS);
    let v = host.judge(&policy, &a);
    assert_eq!(
        v.reason(),
        Some(
            "actor first seen 0h ago posted at least 1000 links (h0.ex, h1.ex, h2.ex and 997 more)"
        )
    );
}

#[test]
fn declares_the_lists_capability() {
    let d = LinkSpam::describe();
    assert_eq!(d.name, "link-spam");
    assert_eq!(d.capabilities, ["lists"]);
}

#[test]
fn bad_config_names_the_problem() {
    let host = TestHost::new();
    let err = |json: &str| host.configure::<LinkSpam>(json).err().unwrap();

    let e = err(r#"{"invites": {}}"#);
    assert!(e.contains("unknown field `invites`"), "{e}");
    let e = err(r#"{"listed": {"list": ["x"]}}"#);
    assert!(
        e.starts_with("invalid configuration at `listed.list`"),
        "{e}"
    );
    let e = err(r#"{"invite": {"action": "ban"}}"#);
    assert!(
        e.starts_with("invalid configuration at `invite.action`: unknown variant `ban`"),
        "{e}"
    );
    assert_eq!(
        err(r#"{"new_actor": {"min_links": 0}}"#),
        "invalid configuration: `new_actor.min_links` must be at least 1"
    );
    assert_eq!(
        err(r#"{"invite": {"hosts": ["t.me", "https://discord.gg/"]}}"#),
        "invalid configuration at `invite.hosts[1]`: expected a host or host/path such as \
         `discord.gg` or `discord.com/invite`, found `https://discord.gg/`"
    );
    let e = err(r#"{"invite": {"extra_hosts": ["ok.example", ""]}}"#);
    assert!(
        e.starts_with("invalid configuration at `invite.extra_hosts[1]`"),
        "{e}"
    );
    let e = err(r#"{"allowed_hosts": ["home.example/path"]}"#);
    assert!(
        e.starts_with("invalid configuration at `allowed_hosts[0]`"),
        "{e}"
    );
    assert_eq!(
        err(r#"{"listed": {"lists": ["spam-links", " "]}}"#),
        "invalid configuration at `listed.lists[1]`: expected the name of a list"
    );
}

/// Every real payload, each from an actor first seen this instant (the
/// strictest case): none is rejected or quarantined with the defaults, nor
/// with a list configured that lists none of their hosts.
#[test]
fn real_payloads_pass_with_the_defaults() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS_DIR);
    let files = palisade_sdk::testing::documents(&dir);
    assert!(files.len() >= 100, "{} corpus files", files.len());
    let host = listing_host();
    let defaults = host.configure::<LinkSpam>("{}").unwrap();
    let listing = host
        .configure::<LinkSpam>(r#"{"listed": {"lists": ["spam-links", "bad-urls"]}}"#)
        .unwrap();
    let mut with_links = 0;
    for (path, json) in &files {
        let a = host
            .parse(json)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        with_links += usize::from(!links(&a).is_empty());
        for policy in [&defaults, &listing] {
            let v = host.judge(policy, &a);
            assert!(
                !v.is_reject() && !v.is_quarantine(),
                "{}: {:?}",
                path.display(),
                v.ruling
            );
        }
    }
    assert!(with_links >= 10, "only {with_links} payloads carry links");
}
