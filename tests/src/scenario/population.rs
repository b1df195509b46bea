//! Who is in the scenario: the protected server's users, the remote servers
//! and their people, who follows whom, and the circles of friends whose
//! threads get busy.

use super::{
    DAY_MS, Dice, EPOCH_MS, EVALUATION_START_MS, HISTORY_DAYS, LOCAL_HOST, ids, moment, scaled,
};

/// The server software a remote host runs: it decides every id and shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Software {
    Mastodon,
    Misskey,
    GoToSocial,
    Akkoma,
}

/// A server.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub software: Software,
    /// Anyone can register: where the waves' accounts come from.
    pub open: bool,
}

/// An account anywhere: what a mention, an address or an id needs.
#[derive(Debug, Clone)]
pub struct Person {
    pub username: String,
    pub host: String,
    pub software: Software,
    /// The ActivityPub id.
    pub uri: String,
    /// The profile page, which mention links in HTML point to.
    pub url: String,
    /// Akkoma's internal id, shown in `data-user` of its mention links.
    pub flake: String,
    /// When its server minted its id (Misskey's ids carry it).
    pub created_at: u64,
}

impl Person {
    pub fn new(host: &Host, username: &str, created_at: u64, dice: &mut Dice) -> Person {
        let h = &host.name;
        let (uri, url) = match host.software {
            Software::Misskey => (
                format!("https://{h}/users/{}", ids::aid(created_at, dice)),
                format!("https://{h}/@{username}"),
            ),
            Software::Akkoma => (
                format!("https://{h}/users/{username}"),
                format!("https://{h}/users/{username}"),
            ),
            Software::Mastodon | Software::GoToSocial => (
                format!("https://{h}/users/{username}"),
                format!("https://{h}/@{username}"),
            ),
        };
        Person {
            username: username.to_owned(),
            host: h.clone(),
            software: host.software,
            uri,
            url,
            flake: ids::flake(dice),
            created_at,
        }
    }

    /// `@user@host`.
    pub fn handle(&self) -> String {
        format!("@{}@{}", self.username, self.host)
    }

    pub fn followers(&self) -> String {
        format!("{}/followers", self.uri)
    }

    pub fn is_local(&self) -> bool {
        self.host == LOCAL_HOST
    }
}

/// A relationship, and when it began.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    pub local: usize,
    pub remote: usize,
    /// `true`: the local user follows the remote actor (an `Accept` comes
    /// in); `false`: the remote actor follows the local user (a `Follow`).
    pub local_follows: bool,
    pub at: u64,
}

/// Friends who talk in busy threads: local and remote people who follow
/// each other.
#[derive(Debug, Clone)]
pub struct Circle {
    pub locals: Vec<usize>,
    pub remotes: Vec<usize>,
    /// When each of its busy threads starts, in order.
    pub threads: Vec<u64>,
}

/// Everyone.
pub struct Population {
    pub hosts: Vec<Host>,
    /// Hosts first seen during the evaluation week: newcomers' servers.
    pub new_legit_hosts: Vec<Host>,
    /// Hosts that exist for spam or have been abandoned to it: never in
    /// the legitimate traffic.
    pub spam_hosts: Vec<Host>,
    /// Servers a wave's operator runs with software changed to say every
    /// account was made in 2019: used by that wave only.
    pub backdating_hosts: Vec<Host>,
    pub locals: Vec<Person>,
    /// How much each local user posts, relative to the others.
    pub local_weight: Vec<u64>,
    pub remotes: Vec<Person>,
    pub remote_weight: Vec<u64>,
    pub edges: Vec<Edge>,
    pub circles: Vec<Circle>,
}

/// Given names and nouns that usernames are made of.
const NAMES: &[&str] = &[
    "ada", "aiko", "alba", "amara", "anders", "anouk", "arjun", "astrid", "aurelio", "bea",
    "bilal", "bruno", "camille", "carmen", "chidi", "clara", "dara", "dmitri", "elif", "elio",
    "emeka", "enzo", "esme", "farah", "felix", "freya", "gaspard", "greta", "hana", "hugo", "ines",
    "ingrid", "isak", "jamal", "jana", "joaquin", "jonas", "juno", "kai", "kalani", "karim",
    "kasia", "kenji", "kofi", "lars", "leila", "lena", "linnea", "lorenzo", "lucia", "maeve",
    "malik", "marta", "mateo", "mei", "mika", "milan", "mira", "nadia", "naoki", "nia", "nico",
    "noor", "oda", "olga", "omar", "oskar", "pablo", "paz", "petra", "priya", "quinn", "rafael",
    "rania", "ravi", "rhea", "rosa", "rune", "sacha", "saoirse", "selin", "soren", "sven",
    "tamsin", "teo", "thea", "tomas", "uma", "vera", "viktor", "wren", "xiomara", "yara", "yusuf",
    "zara", "zeno", "ilse", "odette", "caio", "sunniva", "tariq", "ottilie",
];
const NOUNS: &[&str] = &[
    "fern", "moss", "heron", "otter", "lantern", "pixel", "comet", "tide", "ember", "maple",
    "cobalt", "thistle", "badger", "kettle", "marble", "quill", "sparrow", "birch", "orbit",
    "pebble", "cinder", "willow", "fjord", "mango", "juniper", "tangent", "raven", "clover",
    "harbor", "meadow", "nebula", "saffron", "glacier", "lichen", "puffin", "cassette",
];
/// Place words that host names are made of.
const PLACES: &[&str] = &[
    "brackenhill",
    "quietharbor",
    "lanternfish",
    "oakmoss",
    "fernbrook",
    "tidepool",
    "emberly",
    "saltmarsh",
    "northwind",
    "copperleaf",
    "driftwood",
    "heathrow",
    "millpond",
    "stonecrop",
    "larkspur",
    "ravenscar",
    "bluebell",
    "foxglove",
    "kestrel",
    "windmere",
    "ashgrove",
    "seabright",
    "hollowell",
    "marigold",
    "thornbury",
    "glenmoor",
    "riverbend",
    "cloudberry",
    "pinecrest",
    "sunfield",
    "wavecrest",
    "elmstead",
    "moonlit",
    "greywater",
    "hazelnut",
    "redfern",
    "starling",
    "wildrose",
    "birchwood",
    "coldharbour",
    "dunmore",
    "everglow",
    "fairhaven",
    "goldcrest",
    "harewood",
    "ivybridge",
    "juniperhill",
    "kingsmere",
];

/// A host name for `software` on the place word `place`.
fn host_name(software: Software, place: &str, dice: &mut Dice) -> String {
    let forms: &[&str] = match software {
        Software::Mastodon => &["mastodon.{}", "{}.social", "mstdn.{}", "toot.{}", "{}"],
        Software::Misskey => &["misskey.{}", "mk.{}", "{}.mk", "key.{}"],
        Software::GoToSocial => &["gts.{}", "{}", "social.{}"],
        Software::Akkoma => &["akko.{}", "pl.{}", "{}.town", "fedi.{}"],
    };
    format!("{}.example", dice.pick(forms).replace("{}", place))
}

/// A username made of names and nouns, as people choose them.
pub fn username(dice: &mut Dice) -> String {
    let name = *dice.pick(NAMES);
    match dice.below(6) {
        0 => format!("{name}_{}", dice.pick(NOUNS)),
        1 => format!("{}{name}", dice.pick(NOUNS)),
        2 => format!("{name}{}", dice.range(2, 99)),
        3 => dice.pick(NOUNS).to_string(),
        _ => name.to_owned(),
    }
}

impl Population {
    pub fn generate(dice: &mut Dice, scale: f64) -> Population {
        let local_host = Host {
            name: LOCAL_HOST.to_owned(),
            software: Software::Mastodon,
            open: false,
        };
        let mut taken = std::collections::BTreeSet::new();
        let mut unique = |dice: &mut Dice, host: &str| loop {
            let name = username(dice);
            if taken.insert(format!("{name}@{host}")) {
                break name;
            }
        };
        let n_locals = scaled(150, scale, 20) as usize;
        let locals: Vec<Person> = (0..n_locals)
            .map(|_| {
                let name = unique(dice, LOCAL_HOST);
                Person::new(&local_host, &name, EPOCH_MS, dice)
            })
            .collect();
        let local_weight = zipf(dice, n_locals);

        // Forty servers, half Mastodon; the biggest first.
        let n_hosts = (40.0 * scale.sqrt() + 0.5).clamp(8.0, 400.0) as usize;
        let kinds = [
            Software::Mastodon,
            Software::Mastodon,
            Software::Misskey,
            Software::Mastodon,
            Software::GoToSocial,
            Software::Akkoma,
            Software::Mastodon,
            Software::Misskey,
            Software::Mastodon,
            Software::Akkoma,
            Software::GoToSocial,
            Software::Mastodon,
        ];
        let mut places: Vec<String> = Vec::new();
        let mut place = |dice: &mut Dice| loop {
            let p = dice.pick(PLACES).to_string();
            let p = if places.len() >= PLACES.len() / 2 {
                format!("{p}{}", dice.range(2, 99))
            } else {
                p
            };
            if !places.contains(&p) {
                places.push(p.clone());
                break p;
            }
        };
        let hosts: Vec<Host> = (0..n_hosts)
            .map(|i| {
                let software = kinds[i % kinds.len()];
                let p = place(dice);
                Host {
                    name: host_name(software, &p, dice),
                    software,
                    // The big general-purpose servers take anyone.
                    open: i < n_hosts / 4
                        && matches!(software, Software::Mastodon | Software::Misskey),
                }
            })
            .collect();
        let new_legit_hosts: Vec<Host> = (0..2)
            .map(|i| {
                let software = [Software::GoToSocial, Software::Mastodon][i];
                let p = place(dice);
                Host {
                    name: host_name(software, &p, dice),
                    software,
                    open: false,
                }
            })
            .collect();
        let n_spam = 110;
        let spam_hosts: Vec<Host> = (0..n_spam)
            .map(|i| {
                let software = match i % 5 {
                    0 | 2 => Software::Misskey,
                    4 => Software::Akkoma,
                    _ => Software::Mastodon,
                };
                let p = place(dice);
                Host {
                    name: host_name(software, &p, dice),
                    software,
                    open: true,
                }
            })
            .collect();

        // People per server: a few big servers, many small ones.
        let host_weight: Vec<u64> = (0..n_hosts)
            .map(|i| match hosts[i].software {
                Software::GoToSocial => 2,
                _ => 60 / (i as u64 + 2) + 2,
            })
            .collect();
        let n_remotes = scaled(400, scale, 40) as usize;
        let remotes: Vec<Person> = (0..n_remotes)
            .map(|i| {
                // Every server has someone.
                let h = if i < n_hosts {
                    i
                } else {
                    dice.weighted(&host_weight)
                };
                let name = unique(dice, &hosts[h].name);
                let created = EPOCH_MS - dice.range(30, 2000) * DAY_MS;
                Person::new(&hosts[h], &name, created, dice)
            })
            .collect();
        let remote_weight = zipf(dice, n_remotes);

        let mut pop = Population {
            hosts,
            new_legit_hosts,
            spam_hosts,
            backdating_hosts: Vec::new(),
            locals,
            local_weight,
            remotes,
            remote_weight,
            edges: Vec::new(),
            circles: Vec::new(),
        };
        pop.graph(dice, scale);
        // Drawn last, so that the rest of the population is as it was
        // before these servers existed.
        pop.backdating_hosts = (0..3)
            .map(|_| {
                loop {
                    let p = format!("{}{}", dice.pick(PLACES), dice.range(100, 999));
                    let name = host_name(Software::Mastodon, &p, dice);
                    if !pop.all_hosts().any(|h| h.name == name) {
                        break Host {
                            name,
                            software: Software::Mastodon,
                            open: true,
                        };
                    }
                }
            })
            .collect();
        pop
    }

    /// Every remote server.
    fn all_hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts
            .iter()
            .chain(&self.new_legit_hosts)
            .chain(&self.spam_hosts)
            .chain(&self.backdating_hosts)
    }

    /// Who follows whom, each relationship beginning at some time in the
    /// history; a few begin in the evaluation week.
    fn graph(&mut self, dice: &mut Dice, scale: f64) {
        let n_locals = self.locals.len();
        let mut has = std::collections::BTreeSet::new();
        let mut edges = Vec::new();
        let mut add = |dice: &mut Dice, local: usize, remote: usize, local_follows: bool| {
            if has.insert((local, remote, local_follows)) {
                let day = if dice.chance(8) {
                    HISTORY_DAYS + dice.below(7)
                } else {
                    dice.below(HISTORY_DAYS)
                };
                edges.push(Edge {
                    local,
                    remote,
                    local_follows,
                    at: moment(dice, day),
                });
            }
        };
        for r in 0..self.remotes.len() {
            let followers = [0, 1, 1, 1, 2, 2, 3, 4, 6][dice.below(9) as usize];
            for _ in 0..followers {
                let l = dice.weighted(&self.local_weight);
                add(dice, l, r, true);
            }
            let follows = [0, 0, 1, 1, 1, 2, 3][dice.below(7) as usize];
            for _ in 0..follows {
                let l = dice.weighted(&self.local_weight);
                add(dice, l, r, false);
            }
        }
        // Circles of friends: each remote member is followed by a local
        // member, and most follow one back.
        let n_circles = scaled(12, scale, 3) as usize;
        let mut circles = Vec::new();
        for _ in 0..n_circles {
            // 7 to 13 people (6 to 12 mentions each), the big ones rarer.
            let size = 7 + dice.weighted(&[5, 5, 4, 4, 3, 2, 2]);
            let n_local = dice.range(1, 4).min(n_locals as u64) as usize;
            let locals = dice.sample(n_locals, n_local);
            let remotes = dice.sample(self.remotes.len(), size - n_local);
            for &r in &remotes {
                let l = *dice.pick(&locals);
                add(dice, l, r, true);
                if dice.chance(70) {
                    let l = *dice.pick(&locals);
                    add(dice, l, r, false);
                }
            }
            circles.push(Circle {
                locals,
                remotes,
                threads: Vec::new(),
            });
        }
        // Their busy threads: most in the history, some in the evaluation
        // week; every circle talks at least once.
        let n_history = scaled(16, scale, 2);
        let n_week = scaled(6, scale, 3);
        for i in 0..n_history + n_week {
            let day = if i < n_history {
                dice.range(2, HISTORY_DAYS - 1)
            } else {
                HISTORY_DAYS + dice.below(7)
            };
            let c = i as usize % circles.len();
            circles[c].threads.push(moment(dice, day));
        }
        // Friends know each other before they talk, and before the
        // evaluation week.
        for circle in &mut circles {
            circle.threads.sort_unstable();
            let first = circle.threads[0].min(EVALUATION_START_MS);
            let latest = first.saturating_sub(12 * 3_600_000).max(EPOCH_MS + 1);
            for e in edges
                .iter_mut()
                .filter(|e| circle.remotes.contains(&e.remote) && circle.locals.contains(&e.local))
            {
                if e.at > latest {
                    e.at = EPOCH_MS + dice.below(latest - EPOCH_MS);
                }
            }
        }
        self.edges = edges;
        self.circles = circles;
    }

    /// When the remote actor's posts first reach this server: when a local
    /// user first follows them.
    pub fn delivered_from(&self) -> Vec<Option<u64>> {
        let mut from = vec![None; self.remotes.len()];
        for e in self.edges.iter().filter(|e| e.local_follows) {
            let f: &mut Option<u64> = &mut from[e.remote];
            *f = Some(f.map_or(e.at, |t: u64| t.min(e.at)));
        }
        from
    }
}

/// Activity weights with a long tail: a few people post most.
fn zipf(dice: &mut Dice, n: usize) -> Vec<u64> {
    let mut w: Vec<u64> = (0..n).map(|i| 600 / (i as u64 + 3) + 1).collect();
    // Shuffle so that rank is not the order of creation.
    for i in (1..n).rev() {
        let j = dice.below(i as u64 + 1) as usize;
        w.swap(i, j);
    }
    w
}
