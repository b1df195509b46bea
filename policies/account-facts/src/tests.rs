use super::*;
use palisade_sdk::testing::TestHost;
use palisade_sdk::{ActorFacts, SenderStatus};

/// 2026-03-22T00:00:00Z.
const MIDNIGHT: u64 = 1_774_137_600_000;
const BOT: &str = "https://open.example/users/a8k2jd0q1x";

/// A host at 09:30 on 2026-03-22, where `BOT`'s server says `facts`.
fn host(facts: ActorFacts) -> TestHost {
    let host = TestHost::new()
        .local_hosts(["home.example"])
        .actor_facts(BOT, facts);
    host.set_now(MIDNIGHT + 9 * HOUR_MS + HOUR_MS / 2);
    host
}

/// What a script's account looks like on a Mastodon server: made today
/// (Mastodon gives the day), nothing filled in.
fn bare() -> ActorFacts {
    ActorFacts {
        published: Some(MIDNIGHT),
        preferred_username: Some("a8k2jd0q1x".to_owned()),
        name: Some(String::new()),
        has_avatar: false,
        followers: Some(0),
        following: Some(0),
        discoverable: Some(true),
        software: Some("mastodon".to_owned()),
    }
}

/// Someone's account of long standing.
fn person() -> ActorFacts {
    ActorFacts {
        published: Some(MIDNIGHT - 900 * DAY_MS),
        name: Some("Mira Tanaka".to_owned()),
        has_avatar: true,
        followers: Some(212),
        ..bare()
    }
}

/// A note from `actor` mentioning `local` users here.
fn note(actor: &str, local: usize) -> String {
    let tags: Vec<String> = (0..local)
        .map(|i| format!(r#"{{"type":"Mention","href":"https://home.example/users/u{i}"}}"#))
        .collect();
    format!(
        r#"{{"type":"Create","actor":"{actor}",
           "object":{{"type":"Note","content":"hello there","tag":[{}]}}}}"#,
        tags.join(",")
    )
}

fn judge(host: &TestHost, config: &str, local: usize) -> Verdict {
    host.judge_json::<AccountFacts>(config, &note(BOT, local))
        .unwrap()
}

#[test]
fn a_scripts_fresh_empty_account_mentioning_strangers_scores_both() {
    let v = judge(&host(bare()), "{}", 2);
    assert_eq!(v.points(), 4.0);
    assert_eq!(
        v.reason(),
        Some(
            "an account made 0 h ago by its server's word, with an empty profile (no avatar, \
             no display name, 0 followers) mentions 2 local users with no tie to it"
        )
    );
    assert_eq!(v.labels(), ["fresh-account", "empty-profile"]);
}

#[test]
fn mastodons_day_is_read_as_its_end() {
    // Published yesterday: made by 23:59:59 yesterday at the latest, so at
    // least 9.5 hours ago; today: it may be younger than anything.
    let yesterday = ActorFacts {
        published: Some(MIDNIGHT - DAY_MS),
        ..bare()
    };
    let v = judge(&host(yesterday), "{}", 1);
    assert!(v.reason().unwrap().starts_with("an account made 9 h ago"));
    let v = judge(&host(bare()), "{}", 1);
    assert!(v.reason().unwrap().starts_with("an account made 0 h ago"));
    // A day three days back: made by its end, 57.5 hours ago.
    let three_days = ActorFacts {
        published: Some(MIDNIGHT - 3 * DAY_MS),
        ..bare()
    };
    let v = judge(&host(three_days), "{}", 1);
    assert_eq!(v.labels(), ["empty-profile"], "not fresh after 48 h");
    // A time of day is taken as it is.
    assert_eq!(made_by(MIDNIGHT + 1), MIDNIGHT + 1);
    assert_eq!(made_by(MIDNIGHT), MIDNIGHT + DAY_MS - 1);
}

#[test]
fn an_old_account_with_a_profile_passes_and_a_fresh_one_scores_fresh_only() {
    assert!(judge(&host(person()), "{}", 3).is_pass());
    // An operator who fills profiles: only the honest date tells.
    let filled = ActorFacts {
        published: Some(MIDNIGHT + 9 * HOUR_MS + 1000),
        name: Some("Kenji".to_owned()),
        has_avatar: true,
        followers: Some(12),
        ..bare()
    };
    let v = judge(&host(filled), "{}", 1);
    assert_eq!(v.points(), 1.0);
    assert_eq!(
        v.reason(),
        Some(
            "an account made 0 h ago by its server's word mentions 1 local user with no tie to it"
        )
    );
}

#[test]
fn an_empty_profile_scores_however_old_its_server_says_it_is() {
    let backdated = ActorFacts {
        published: Some(1_546_300_800_000),
        ..bare()
    };
    let v = judge(&host(backdated), "{}", 5);
    assert_eq!(v.points(), 3.0);
    assert_eq!(v.labels(), ["empty-profile"]);
}

#[test]
fn a_name_that_is_the_username_is_no_name_and_an_unpublished_count_is_not_empty() {
    // Akkoma fills the display name with the username.
    let akkoma = ActorFacts {
        published: Some(MIDNIGHT - 400 * DAY_MS),
        name: Some("a8k2jd0q1x".to_owned()),
        software: Some("akkoma".to_owned()),
        ..bare()
    };
    assert_eq!(judge(&host(akkoma.clone()), "{}", 1).points(), 3.0);
    let hidden = ActorFacts {
        followers: None,
        ..akkoma.clone()
    };
    assert!(judge(&host(hidden), "{}", 1).is_pass());
    let followed = ActorFacts {
        followers: Some(3),
        ..akkoma
    };
    assert!(judge(&host(followed.clone()), "{}", 1).is_pass());
    assert_eq!(
        judge(&host(followed), r#"{"empty_max_followers": 3}"#, 1).points(),
        3.0
    );
}

#[test]
fn no_facts_no_stranger_or_a_follower_here_means_no_opinion() {
    // An unverified sender gets no facts from the host.
    let host = host(bare()).sender(SenderStatus::Unverified);
    assert!(judge(&host, "{}", 4).is_pass());
    // No local user mentioned.
    assert!(judge(&self::host(bare()), "{}", 0).is_pass());
    // A local user follows the actor.
    let host = self::host(bare());
    host.follows("https://home.example/users/u0", BOT);
    assert!(judge(&host, "{}", 2).is_pass());
    // Fewer strangers than the minimum.
    let host = self::host(bare());
    let config = r#"{"min_local_mentions": 2}"#;
    assert!(judge(&host, config, 1).is_pass());
    assert_eq!(judge(&host, config, 2).points(), 4.0);
}

#[test]
fn settings_change_the_points_and_the_window() {
    let h = host(bare());
    let v = judge(&h, r#"{"fresh_points": 4, "empty_points": 0}"#, 1);
    assert_eq!(v.points(), 4.0);
    assert_eq!(v.labels(), ["fresh-account"]);
    let v = judge(&h, r#"{"fresh_hours": 0}"#, 1);
    assert_eq!(v.labels(), ["empty-profile"]);
    let v = judge(&h, r#"{"fresh_hours": 9}"#, 1);
    assert_eq!(v.labels(), ["fresh-account", "empty-profile"], "0 h old");
    assert!(
        judge(&h, r#"{"fresh_hours": 0, "empty_points": 0}"#, 1).is_pass(),
        "nothing left to score"
    );
}

#[test]
fn a_bad_configuration_is_refused() {
    let h = host(bare());
    for bad in [
        r#"{"min_local_mentions": 0}"#,
        r#"{"fresh_hours": -1}"#,
        r#"{"points": 3}"#,
    ] {
        assert!(h.configure::<AccountFacts>(bad).is_err(), "{bad}");
    }
    assert_eq!(
        h.configure::<AccountFacts>("{}").unwrap(),
        AccountFacts::default()
    );
}

#[test]
fn reads_only_the_context() {
    assert!(AccountFacts::describe().capabilities.is_empty());
}
