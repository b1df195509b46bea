//! The waves, written as an attacker who has read Palisade's bundled
//! modules would write them: under `mention-limit`'s limit for new actors
//! (4), with text that `duplicate-burst`'s 2-bit SimHash tolerance does not
//! match, below `rate-limit`'s per-actor and per-host counts, off
//! `link-spam`'s invite list where it can be, and with accounts aged past
//! the 24 hours every module calls "new". Each wave registers fresh
//! accounts on open servers that also have legitimate users (reusing some
//! of the legitimate hosts) and on servers of its own, and mentions local
//! users (and some remote ones, as 2024's waves did).

use super::facts::Setup;
use super::population::{Host, Person, Population, Software};
use super::render::{Media, Note, Templates};
use super::words::{Words, spin};
use super::{DAY_MS, Dice, EVALUATION_START_MS, Out, ids, scaled};

mod adaptive;
mod profiles;

const MINUTE: u64 = 60_000;
const HOUR: u64 = 3_600_000;

/// What every wave needs.
struct Ctx<'a> {
    dice: &'a mut Dice,
    pop: &'a Population,
    words: &'a Words,
    t: &'a Templates,
    scale: f64,
    out: &'a mut Out,
}

/// How a wave's accounts are named.
#[derive(Clone, Copy)]
enum Names {
    /// `a8k2jd0q1x`: a script that did not bother.
    Random,
    /// `mira_tide42`: names that pass for people.
    People,
}

pub fn generate(
    dice: &mut Dice,
    pop: &Population,
    words: &Words,
    t: &Templates,
    scale: f64,
    out: &mut Out,
) {
    let mut cx = Ctx {
        dice,
        pop,
        words,
        t,
        scale,
        out,
    };
    feb2024(&mut cx);
    oct2024(&mut cx);
    adaptive::invite_four(&mut cx);
    adaptive::loop_ten(&mut cx);
    adaptive::random_tail(&mut cx);
    adaptive::link_codes(&mut cx);
    adaptive::same_image(&mut cx);
    adaptive::misskey_mfm(&mut cx);
    adaptive::one_mention(&mut cx);
    adaptive::aged_accounts(&mut cx);
    // Written against actor facts; drawn last, so that the waves above
    // are as they were before.
    profiles::filled_profiles(&mut cx);
    profiles::backdated(&mut cx);
}

impl Ctx<'_> {
    /// When a wave starts: `day` of the evaluation week (0–6) at about
    /// `hour` UTC.
    fn start(&mut self, day: u64, hour: u64) -> u64 {
        EVALUATION_START_MS + day * DAY_MS + hour * HOUR + self.dice.below(HOUR)
    }

    /// `n` origin hosts: `open` of the legitimate servers with open
    /// registration, the rest servers of the wave's own, of `kinds`.
    fn hosts(&mut self, n: usize, open: usize, kinds: &[Software]) -> Vec<Host> {
        let legit: Vec<&Host> = self
            .pop
            .hosts
            .iter()
            .filter(|h| h.open && kinds.contains(&h.software))
            .collect();
        let spam: Vec<&Host> = self
            .pop
            .spam_hosts
            .iter()
            .filter(|h| kinds.contains(&h.software))
            .collect();
        let take_open = open.min(legit.len()).min(n);
        let mut hosts: Vec<Host> = self
            .dice
            .sample(legit.len(), take_open)
            .into_iter()
            .map(|i| legit[i].clone())
            .collect();
        let own = self.dice.sample(spam.len(), n - take_open);
        hosts.extend(own.into_iter().map(|i| spam[i].clone()));
        hosts
    }

    /// A fresh account on `host`, registered shortly before `at` and set
    /// up as `setup`.
    fn bot(&mut self, host: &Host, names: Names, setup: Setup, at: u64) -> Person {
        let name = match names {
            Names::Random => self.dice.string(10, ids::LOWER_ALNUM),
            Names::People => format!(
                "{}{}",
                super::population::username(self.dice),
                self.dice.range(10, 9999)
            ),
        };
        let created = at.saturating_sub(self.dice.range(MINUTE, 30 * MINUTE));
        let bot = Person::new(host, &name, created, self.dice);
        self.out.account(&bot, setup);
        bot
    }

    /// `n` accounts spread over `hosts`, set up as `setup`.
    fn bots(
        &mut self,
        hosts: &[Host],
        n: usize,
        names: Names,
        setup: Setup,
        at: u64,
    ) -> Vec<Person> {
        (0..n)
            .map(|i| {
                let host = if i < hosts.len() {
                    hosts[i].clone()
                } else {
                    self.dice.pick(hosts).clone()
                };
                self.bot(&host, names, setup, at)
            })
            .collect()
    }

    /// Whom a post mentions: `local` local users (the most visible ones
    /// most often, as scraped from a directory) and `remote` others.
    fn targets(&mut self, local: usize, remote: usize) -> Vec<Person> {
        let mut out: Vec<Person> = Vec::new();
        while out.len() < local {
            let p = &self.pop.locals[self.dice.weighted(&self.pop.local_weight)];
            if !out.iter().any(|o| o.uri == p.uri) {
                out.push(p.clone());
            }
        }
        while out.len() < local + remote {
            let p = &self.pop.remotes[self.dice.weighted(&self.pop.remote_weight)];
            if !out.iter().any(|o| o.uri == p.uri) {
                out.push(p.clone());
            }
        }
        out
    }

    /// Post `note` as part of the wave `label` started at `start`.
    fn post(&mut self, label: &str, start: u64, note: &Note) {
        let v = self.t.create(note, self.dice);
        self.out.push_in(start, note.at, Some(label), None, v);
    }

    /// One post for each of `n` moments spread over `duration` from `start`.
    fn times(&mut self, start: u64, duration: u64, n: usize) -> Vec<u64> {
        let mut t: Vec<u64> = (0..n).map(|_| start + self.dice.below(duration)).collect();
        t.sort_unstable();
        t
    }

    fn note(&mut self, author: &Person, at: u64, text: String, mentions: Vec<Person>) -> Note {
        let mut note = Note::new(author, at, text, self.dice);
        note.context = note.new_context(self.dice);
        note.mentions = mentions;
        note
    }

    /// A text drawn from `parts` that no earlier post of the wave used.
    fn fresh(
        &mut self,
        used: &mut std::collections::BTreeSet<String>,
        parts: &[&[&str]],
    ) -> String {
        let mut text = spin(self.dice, parts);
        for _ in 0..50 {
            if used.insert(text.clone()) {
                break;
            }
            text = spin(self.dice, parts);
        }
        text
    }
}

/// February 2024: ten mentions, the same text and link, one post per
/// fresh account, mostly from Misskey servers.
fn feb2024(cx: &mut Ctx<'_>) {
    const TEXT: &str = "The admins of your server do not want you to read this. A new network \
        without bans and without limits is open now, and your friends are already there. Join \
        before registration closes";
    let label = "wave/feb2024";
    let start = cx.start(0, 9);
    let n = scaled(300, cx.scale, 30) as usize;
    let hosts = cx.hosts(20, 8, &[Software::Misskey, Software::Mastodon]);
    let bots = cx.bots(&hosts, n, Names::Random, Setup::Bare, start);
    for (bot, at) in bots.iter().zip(cx.times(start, 2 * HOUR, n)) {
        let local = cx.dice.range(7, 10) as usize;
        let mentions = cx.targets(local, 10 - local);
        let mut note = cx.note(bot, at, TEXT.to_owned(), mentions);
        note.links
            .push("https://freefedi-network.example/join".to_owned());
        cx.post(label, start, &note);
    }
}

/// October 2024: five mentions, one image, the same text.
fn oct2024(cx: &mut Ctx<'_>) {
    const TEXT: &str = "Someone shared your photos in a public group. Look at the picture and \
        check whether this is you, then report it before it spreads";
    let label = "wave/oct2024";
    let start = cx.start(1, 14);
    let n = scaled(250, cx.scale, 25) as usize;
    let hosts = cx.hosts(15, 5, &[Software::Mastodon, Software::Akkoma]);
    let bots = cx.bots(&hosts, n, Names::People, Setup::Bare, start);
    let blurhash = ids::blurhash(cx.dice);
    for (bot, at) in bots.iter().zip(cx.times(start, 90 * MINUTE, n)) {
        let local = cx.dice.range(3, 5) as usize;
        let mentions = cx.targets(local, 5 - local);
        let mut note = cx.note(bot, at, TEXT.to_owned(), mentions);
        note.media.push(Media::upload(
            bot,
            "evidence.png",
            (1024, 768),
            blurhash.clone(),
            None,
            cx.dice,
        ));
        cx.post(label, start, &note);
    }
}
