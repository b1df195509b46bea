//! The actor facts of the evaluation scenario (`actor_facts` on every
//! line): what each actor's own server publishes, consistent with the
//! payload's shape and the follow graph, as `docs/EVALUATION.md` describes
//! them; and nothing in a wave account's facts that a legitimate account's
//! could not show too.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use palisade::senders::ActorFacts;
use palisade_e2e::scenario::{DAY_MS, Line, Scenario};

/// 2019-01-01T00:00:00Z and 2020-01-01T00:00:00Z.
const Y2019_MS: u64 = 1_546_300_800_000;
const Y2020_MS: u64 = 1_577_836_800_000;

fn standard() -> &'static [Line] {
    static LINES: OnceLock<Vec<Line>> = OnceLock::new();
    LINES.get_or_init(|| {
        Scenario::standard(1)
            .lines()
            .expect("generate the standard scenario")
    })
}

fn facts(line: &Line) -> &ActorFacts {
    line.actor_facts
        .as_ref()
        .unwrap_or_else(|| panic!("a line without actor facts: {}", line.to_json()))
}

fn label(line: &Line) -> &str {
    line.label.as_deref().unwrap_or("-")
}

fn is_legit(line: &Line) -> bool {
    label(line).starts_with("legit/")
}

/// The server software a payload is shaped as, from its `@context`.
fn shape(line: &Line) -> &'static str {
    let context = line.activity["@context"].to_string();
    if context.contains("misskey") {
        "misskey"
    } else if context.contains("litepub") {
        "akkoma"
    } else if context.contains("ostatus") {
        "mastodon"
    } else {
        "gotosocial"
    }
}

/// How old the account says it is when the line arrives, in days.
fn age_days(line: &Line) -> Option<f64> {
    let published = facts(line).published?;
    Some((line.received_at as f64 - published as f64) / DAY_MS as f64)
}

/// Whether the display name is one its owner chose: not missing, not
/// empty, not the username (what Akkoma fills in by itself).
fn own_name(f: &ActorFacts) -> bool {
    f.name
        .as_deref()
        .map(str::trim)
        .is_some_and(|n| !n.is_empty() && Some(n) != f.preferred_username.as_deref())
}

#[test]
fn every_line_carries_the_facts_its_actors_server_publishes() {
    let install = Scenario::install_day(1).lines().unwrap();
    for line in standard().iter().chain(&install) {
        let f = facts(line);
        let actor = line.activity["actor"].as_str().unwrap();
        assert_eq!(f.id, actor, "facts about someone else: {}", line.to_json());
        // What replay reads back is what was generated.
        let json: serde_json::Value = serde_json::from_str(&line.to_json()).unwrap();
        let read: ActorFacts = serde_json::from_value(json["actor_facts"].clone()).unwrap();
        assert_eq!(&read, f);
        // The software is the one the payload is shaped as; Misskey
        // publishes no creation date, Mastodon only the day.
        assert_eq!(
            f.software.as_deref(),
            Some(shape(line)),
            "{}",
            line.to_json()
        );
        match shape(line) {
            "misskey" => assert_eq!(f.published, None),
            "mastodon" => assert_eq!(f.published.map(|p| p % DAY_MS), Some(0)),
            _ => assert!(f.published.is_some()),
        }
        if shape(line) != "misskey" {
            let name = actor.rsplit('/').next().unwrap();
            assert_eq!(f.preferred_username.as_deref(), Some(name));
        }
        assert!(
            age_days(line).is_none_or(|d| d >= 0.0),
            "made after it posted: {}",
            line.to_json()
        );
    }
}

#[test]
fn follower_counts_follow_the_follow_graph() {
    // An `Accept` of a local user's follow is one more follower; nothing
    // else in the stream changes the count.
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    let mut accepts = 0;
    for line in standard() {
        let f = facts(line);
        let Some(n) = f.followers else { continue };
        if let Some(&before) = last.get(f.id.as_str()) {
            if line.activity["type"] == "Accept" {
                assert_eq!(n, before + 1, "{}", line.to_json());
                accepts += 1;
            } else {
                assert_eq!(n, before, "{}", line.to_json());
            }
        }
        last.insert(&f.id, n);
    }
    assert!(accepts > 500, "only {accepts} accepts seen twice");
}

#[test]
fn people_have_old_accounts_and_some_newcomers_look_like_a_scripts() {
    // Everyone's first line: established people have had their accounts
    // for months or years, mostly with an avatar and a name.
    let mut first: BTreeMap<&str, &Line> = BTreeMap::new();
    for line in standard().iter().filter(|l| is_legit(l)) {
        first.entry(&facts(line).id).or_insert(line);
    }
    let people: Vec<&Line> = first
        .values()
        .copied()
        .filter(|l| label(l) != "legit/newcomer")
        .collect();
    assert!(people.len() > 300);
    let old = people
        .iter()
        .filter(|l| age_days(l).is_none_or(|d| d >= 30.0))
        .count();
    assert_eq!(old, people.len(), "an established account made recently");
    let avatars = people.iter().filter(|l| facts(l).has_avatar).count();
    let named = people.iter().filter(|l| own_name(facts(l))).count();
    assert!(avatars * 100 >= people.len() * 85, "{avatars} avatars");
    assert!(named * 100 >= people.len() * 75, "{named} names");

    // Newcomers: most of long standing, a few made hours before they
    // first post, some as empty as a script's account.
    let newcomers: Vec<&Line> = first
        .values()
        .copied()
        .filter(|l| label(l) == "legit/newcomer")
        .collect();
    let fresh = |l: &Line| age_days(l).is_some_and(|d| d < 2.0);
    let bare = |l: &Line| {
        let f = facts(l);
        !f.has_avatar && !own_name(f) && f.followers == Some(0)
    };
    let settled = newcomers
        .iter()
        .filter(|l| age_days(l).is_some_and(|d| d > 300.0))
        .count();
    assert!(settled >= 5, "{settled} newcomers of long standing");
    let n_fresh = newcomers.iter().filter(|l| fresh(l)).count();
    assert!(n_fresh >= 3, "{n_fresh} fresh newcomers");
    assert!(
        newcomers.iter().any(|l| fresh(l) && bare(l)),
        "no fresh newcomer as bare as a script's account"
    );
    assert!(
        newcomers.iter().any(|l| fresh(l) && facts(l).has_avatar),
        "no fresh newcomer with a profile"
    );
    assert!(
        newcomers.iter().any(|l| !fresh(l) && bare(l)),
        "no old account never set up"
    );
}

#[test]
fn the_waves_accounts_are_set_up_as_in_2024_but_two() {
    for line in standard().iter().filter(|l| label(l).starts_with("wave/")) {
        let f = facts(line);
        let age = age_days(line);
        match label(line) {
            "wave/filled-profiles" => {
                assert!(f.has_avatar && own_name(f), "{}", line.to_json());
                assert!(f.followers.is_some_and(|n| (5..=20).contains(&n)));
                assert!(age.is_none_or(|d| d < 2.0), "not made just before");
            }
            "wave/backdated" => {
                let p = f.published.expect("a date");
                assert!((Y2019_MS..Y2020_MS).contains(&p), "{}", line.to_json());
                assert!(!f.has_avatar && !own_name(f) && f.followers == Some(0));
            }
            wave => {
                assert!(
                    !f.has_avatar && !own_name(f) && f.followers == Some(0),
                    "{}",
                    line.to_json()
                );
                // Registered minutes before posting (Mastodon says only
                // the day), the aged accounts days before.
                let most = if wave == "wave/aged-accounts" {
                    6.0
                } else {
                    2.0
                };
                assert!(age.is_none_or(|d| d < most), "{}", line.to_json());
            }
        }
    }
    // February 2024's script named its accounts with ten random characters.
    for line in standard().iter().filter(|l| label(l) == "wave/feb2024") {
        let name = facts(line).preferred_username.clone().unwrap();
        assert!(
            name.len() == 10
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{name}"
        );
    }
}

/// What one line's facts show, coarsely: avatar, a name of its own,
/// followers (none, a few, more, not published), and the account's age
/// (under 2 days, under 30, more, not published).
type Look = (bool, bool, &'static str, &'static str);

fn look(line: &Line) -> Look {
    let f = facts(line);
    let followers = match f.followers {
        None => "hidden",
        Some(0) => "0",
        Some(1..=20) => "1-20",
        Some(_) => "21+",
    };
    let age = match age_days(line) {
        None => "unknown",
        Some(d) if d < 2.0 => "<2d",
        Some(d) if d < 30.0 => "<30d",
        Some(_) => "older",
    };
    (f.has_avatar, own_name(f), followers, age)
}

/// The members a line's facts carry.
fn keys(line: &Line) -> BTreeSet<String> {
    let json: serde_json::Value = serde_json::from_str(&line.to_json()).unwrap();
    json["actor_facts"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn a_wave_accounts_facts_show_nothing_a_legitimate_accounts_do_not() {
    // The generator must not mark the waves' accounts in their facts:
    // every wave line's facts look like some legitimate line's (bare
    // accounts, fresh ones, filled ones, old ones never set up all exist
    // among legitimate newcomers), carry the members a legitimate
    // account on the same software carries, and have a `discoverable`
    // that legitimate accounts on that software have, and follow no one
    // or someone as legitimate accounts there do.
    let legit: Vec<&Line> = standard().iter().filter(|l| is_legit(l)).collect();
    let looks: BTreeSet<Look> = legit.iter().map(|l| look(l)).collect();
    let members: BTreeSet<(&str, BTreeSet<String>)> =
        legit.iter().map(|l| (shape(l), keys(l))).collect();
    let discoverable: BTreeSet<(&str, Option<bool>)> = legit
        .iter()
        .map(|l| (shape(l), facts(l).discoverable))
        .collect();
    let follows = |l: &Line| facts(l).following.map(|n| n > 0);
    let following: BTreeSet<(&str, Option<bool>)> =
        legit.iter().map(|l| (shape(l), follows(l))).collect();
    let mut waves = 0;
    for line in standard().iter().filter(|l| !is_legit(l)) {
        waves += 1;
        assert!(
            looks.contains(&look(line)),
            "{}: no legitimate account looks like {:?}",
            label(line),
            look(line)
        );
        assert!(
            members.contains(&(shape(line), keys(line))),
            "{}: facts with members no legitimate {} account has: {:?}",
            label(line),
            shape(line),
            keys(line)
        );
        assert!(discoverable.contains(&(shape(line), facts(line).discoverable)));
        assert!(following.contains(&(shape(line), follows(line))));
    }
    assert!(waves > 2_500);
    // An account keeps its server's default for `discoverable` unless
    // its owner changed it, and servers differ in theirs: a wave from ten
    // or more servers has both.
    let mut by_wave: BTreeMap<&str, BTreeMap<&str, Option<bool>>> = BTreeMap::new();
    for line in standard().iter().filter(|l| !is_legit(l)) {
        let host = facts(line).id.split('/').nth(2).unwrap();
        let hosts = by_wave.entry(label(line)).or_default();
        let value = *hosts.entry(host).or_insert(facts(line).discoverable);
        assert_eq!(value, facts(line).discoverable, "{host} has two defaults");
    }
    for (wave, hosts) in by_wave.iter().filter(|(_, h)| h.len() >= 10) {
        let values: BTreeSet<Option<bool>> = hosts.values().copied().collect();
        assert_eq!(values.len(), 2, "{wave}: every server has {values:?}");
    }
}
