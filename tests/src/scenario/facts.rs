//! What each actor's own server publishes about it (its actor document,
//! its collections' sizes, its NodeInfo), as Palisade's sidecar would have
//! fetched it: the `actor_facts` member of every line.
//!
//! An account's facts follow from how it was set up ([`Setup`]: a person's
//! account of long standing, a newcomer's, a script's, an operator's who
//! fills profiles, a server that backdates), from the server software it
//! runs on and from the follow graph, never from the line's label: the
//! same setup gives the same kind of facts whoever uses it, and some
//! legitimate newcomers are set up exactly as a script sets up its
//! accounts. Each account's choices come from a generator keyed by the
//! seed and the account's id, so adding an account changes no other's.

use std::collections::BTreeMap;

use palisade::senders::ActorFacts;

use super::population::{Person, Software};
use super::{DAY_MS, Dice, EPOCH_MS, EVALUATION_START_MS, Line};

const HOUR: u64 = 3_600_000;
const MINUTE: u64 = 60_000;

/// 2019-01-01T00:00:00Z: where a backdating server's claims start.
const Y2019_MS: u64 = 1_546_300_800_000;

/// How an account was set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// A person's account of long standing: made when its server minted
    /// its id, with a profile filled in as people fill them.
    Person,
    /// A newcomer's account, first heard from at the given time.
    Newcomer(Newcomer, u64),
    /// Registered by a script and used as is: no avatar, no display name
    /// of its own, nobody following it (2024's waves).
    Bare,
    /// Registered minutes before use by an operator who fills the profile:
    /// an avatar, a display name, a few followers and follows among its
    /// own accounts. Its server is honest about when.
    Filled,
    /// Bare, on a server that says every account was made in 2019.
    Backdated,
}

/// The newcomers' accounts: most of long standing, some as new and as
/// empty as a script's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Newcomer {
    /// Made years ago, profile filled in: someone who just found a local
    /// user.
    Settled,
    /// Made hours before its first post; nothing filled in yet.
    Fresh,
    /// Made hours before, avatar and name set, a few followers.
    FreshFilled,
    /// Made days before, still no avatar, nobody following it.
    Recent,
    /// Made years ago and never set up: an old account used at last.
    Dormant,
}

impl Newcomer {
    /// The `i`th newcomer's account. Each kind that looks like a wave's
    /// account comes early, and before any relationship (a newcomer whose
    /// follow a local user accepts has a follower).
    pub fn nth(i: u64) -> Newcomer {
        match i {
            1 | 9 => Newcomer::Fresh,
            2 => Newcomer::Recent,
            5 => Newcomer::Dormant,
            6 | 13 => Newcomer::FreshFilled,
            _ => Newcomer::Settled,
        }
    }
}

/// What an account's server publishes, apart from what the follow graph
/// changes.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    uri: String,
    username: String,
    software: Software,
    /// When the server says the account was made (ms), before the
    /// software's precision ([`published_as`]).
    made: u64,
    name: Option<String>,
    has_avatar: bool,
    /// Followers and follows outside the stream; `None`: not published.
    followers: Option<u64>,
    following: Option<u64>,
    discoverable: Option<bool>,
}

/// Last names for display names.
const SURNAMES: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Novak",
    "Haddad",
    "Silva",
    "Kowalski",
    "Brennan",
    "Rossi",
    "Nakamura",
    "Petrov",
    "Adeyemi",
    "Fischer",
    "Costa",
    "Ivanova",
    "Larsen",
    "Mendez",
    "O'Neill",
    "Sato",
    "Varga",
    "Weber",
    "Yilmaz",
    "Zhou",
    "Abara",
    "Dubois",
    "Eriksen",
    "Ferreira",
];
const EMOJI: &[&str] = &["🌿", "✨", "🦦", "📷", "🎧", "🌊", "🍄", "🚲", "🧶", "☕"];
const PRONOUNS: &[&str] = &["she/her", "he/him", "they/them", "she/they", "he/they"];

/// A display name for `username`, as people write theirs: the name part
/// capitalised, often a last name, now and then pronouns or an emoji.
pub fn display_name(username: &str, dice: &mut Dice) -> String {
    let given: String = username
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let given = if given.is_empty() {
        username.to_owned()
    } else {
        given
    };
    let mut chars = given.chars();
    let capital = chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default();
    match dice.below(8) {
        0 | 1 => capital,
        2 | 3 => format!("{capital} {}", dice.pick(SURNAMES)),
        4 => format!("{capital} {}", dice.pick(EMOJI)),
        5 => format!("{capital} ({})", dice.pick(PRONOUNS)),
        6 => format!(
            "{capital} {} ({})",
            dice.pick(SURNAMES),
            dice.pick(PRONOUNS)
        ),
        _ => given,
    }
}

/// Followers of a person's account, from elsewhere: a long tail.
fn followers_elsewhere(dice: &mut Dice) -> u64 {
    match dice.weighted(&[3, 30, 45, 20, 2]) {
        0 => dice.range(0, 3),
        1 => dice.range(4, 60),
        2 => dice.range(60, 600),
        3 => dice.range(600, 5000),
        _ => dice.range(5000, 40_000),
    }
}

impl Profile {
    /// The profile of `person`'s account set up as `setup`; `seed` is the
    /// scenario's.
    pub fn new(person: &Person, setup: Setup, seed: u64) -> Profile {
        let mut dice = Dice::keyed(seed, 6, &person.uri);
        let dice = &mut dice;
        // What the server shows when no display name was set.
        let unnamed = match person.software {
            Software::Mastodon => Some(String::new()),
            Software::Misskey | Software::GoToSocial => None,
            Software::Akkoma => Some(person.username.clone()),
        };
        // The server's default, which new accounts keep and some people
        // change.
        let default_discoverable = Dice::keyed(seed, 7, &person.host).chance(50);
        let mut profile = Profile {
            uri: person.uri.clone(),
            username: person.username.clone(),
            software: person.software,
            made: 0,
            name: unnamed.clone(),
            has_avatar: false,
            followers: Some(0),
            following: Some(0),
            discoverable: Some(default_discoverable),
        };
        let made = match setup {
            Setup::Person | Setup::Newcomer(Newcomer::Settled, _) => {
                profile.person(dice, default_discoverable);
                match setup {
                    Setup::Newcomer(..) => EPOCH_MS - dice.range(60, 2500) * DAY_MS,
                    _ => person.created_at,
                }
            }
            Setup::Newcomer(kind, first) => match kind {
                Newcomer::Fresh => first - dice.range(40 * MINUTE, 20 * HOUR),
                Newcomer::FreshFilled => {
                    profile.has_avatar = true;
                    profile.name = Some(display_name(&person.username, dice));
                    profile.followers = Some(dice.range(1, 20));
                    profile.following = Some(dice.range(3, 20));
                    first - dice.range(2 * HOUR, 20 * HOUR)
                }
                Newcomer::Recent => first - dice.range(3, 20) * DAY_MS,
                Newcomer::Dormant => EPOCH_MS - dice.range(300, 2500) * DAY_MS,
                Newcomer::Settled => unreachable!("handled above"),
            },
            Setup::Bare => person.created_at,
            Setup::Filled => {
                profile.has_avatar = true;
                profile.name = Some(display_name(&person.username, dice));
                profile.followers = Some(dice.range(5, 20));
                profile.following = Some(dice.range(5, 20));
                person.created_at
            }
            Setup::Backdated => Y2019_MS + dice.below(365) * DAY_MS + dice.below(DAY_MS),
        };
        profile.made = made;
        profile
    }

    /// A person's profile: mostly filled in, followed by people elsewhere.
    fn person(&mut self, dice: &mut Dice, default_discoverable: bool) {
        self.has_avatar = dice.chance(92);
        if dice.chance(88) {
            self.name = Some(display_name(&self.username, dice));
        }
        self.followers = Some(followers_elsewhere(dice));
        self.following = Some(if dice.chance(3) {
            0
        } else {
            dice.range(5, 1500)
        });
        // Some people hide their network where the software lets them.
        let hides = match self.software {
            Software::Akkoma => 15,
            Software::Misskey => 10,
            Software::Mastodon | Software::GoToSocial => 0,
        };
        if dice.chance(hides) {
            self.followers = None;
            self.following = None;
        }
        if dice.chance(30) {
            self.discoverable = Some(!default_discoverable);
        }
    }

    /// The facts as the server publishes them for an account made at
    /// `made` that has `gained` more followers and follows than the
    /// profile started with.
    fn facts(&self, made: u64, gained: (u64, u64)) -> ActorFacts {
        ActorFacts {
            id: self.uri.clone(),
            published: published_as(self.software, made),
            preferred_username: Some(self.username.clone()),
            name: self.name.clone(),
            has_avatar: self.has_avatar,
            followers: self.followers.map(|n| n + gained.0),
            following: self.following.map(|n| n + gained.1),
            discoverable: self.discoverable,
            software: Some(software_name(self.software).to_owned()),
        }
    }
}

/// NodeInfo's `software.name`.
pub fn software_name(software: Software) -> &'static str {
    match software {
        Software::Mastodon => "mastodon",
        Software::Misskey => "misskey",
        Software::GoToSocial => "gotosocial",
        Software::Akkoma => "akkoma",
    }
}

/// When an account was made, as its server's actor document says it:
/// Mastodon gives the day (midnight UTC), GoToSocial and Akkoma the
/// second, Misskey nothing.
fn published_as(software: Software, made: u64) -> Option<u64> {
    match software {
        Software::Mastodon => Some(made - made % DAY_MS),
        Software::GoToSocial | Software::Akkoma => Some(made - made % 1000),
        Software::Misskey => None,
    }
}

/// Count, on every line of the whole stream in arrival order, the
/// followers and follows its actor gained in the stream so far: an
/// `Accept` of a local user's follow adds a follower, a `Follow` a follow.
pub(crate) fn count_relationships(lines: &mut [Line]) {
    let mut gained: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for line in lines {
        let Some(actor) = line.activity["actor"].as_str() else {
            continue;
        };
        let counts = gained.entry(actor.to_owned()).or_default();
        match line.activity["type"].as_str() {
            Some("Accept") => counts.0 += 1,
            Some("Follow") => counts.1 += 1,
            _ => {}
        }
        line.gained = *counts;
    }
}

/// Give every line the facts its actor's server published when it was
/// sent; `lines` are in arrival order, and every actor has a profile.
///
/// On the install day the lines were moved earlier; an account made during
/// the evaluation week is made as much earlier as its first line was, so
/// that it is still made before it posts, as long before as it was.
pub(crate) fn attach(lines: &mut [Line], profiles: &BTreeMap<String, Profile>) {
    let mut moved: BTreeMap<String, u64> = BTreeMap::new();
    for line in lines {
        let Some(actor) = line.activity["actor"].as_str() else {
            continue;
        };
        let Some(profile) = profiles.get(actor) else {
            debug_assert!(false, "no profile for {actor}");
            continue;
        };
        let moved = *moved.entry(actor.to_owned()).or_insert(line.moved);
        let made = if profile.made >= EVALUATION_START_MS {
            profile.made - moved
        } else {
            profile.made
        };
        line.actor_facts = Some(profile.facts(made, line.gained));
    }
}
