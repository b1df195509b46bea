//! The legitimate traffic: what a server with 150 users receives from the
//! people they follow and who follow them, over 28 days. Nothing here is
//! a wave; some of it looks like one on purpose, because real traffic
//! does: news links shared by many, busy threads with a dozen mentions,
//! newcomers greeting someone, people posting invite links.

use super::population::{Person, Population, Software};
use super::render::{Media, Note, Templates, Visibility};
use super::words::{HASHTAGS, Words};
use super::{DAY_MS, Dice, END_MS, EPOCH_MS, HISTORY_DAYS, Out, ids, moment, scaled};

mod people;

const MINUTE: u64 = 60_000;
const HOUR: u64 = 3_600_000;

/// What generating needs.
pub struct Ctx<'a> {
    pub dice: Dice,
    pub pop: &'a Population,
    pub words: &'a Words,
    pub t: &'a Templates,
    pub scale: f64,
}

/// A local user's post: never in the stream (it is outbound), but what
/// replies, likes and boosts point at.
struct LocalPost {
    author: usize,
    id: String,
    at: u64,
}

/// Where people link to.
const LINK_HOSTS: &[&str] = &[
    "blog.lowtide.example",
    "techwire.example",
    "codeforge.example",
    "videos.commons.example",
    "photos.brightlens.example",
    "wiki.example",
    "dailyherald.example",
    "maps.example",
];
const NEWS_HOSTS: &[&str] = &[
    "dailyherald.example",
    "techwire.example",
    "news.northgazette.example",
    "radio.example",
];
/// How cameras and phones name photos; `{}` is a number. Clipboard
/// pastes are all called `image.png`, as they are.
const PHOTOS: &[&str] = &[
    "IMG_{}.jpg",
    "IMG_{}.HEIC.jpg",
    "DSC0{}.JPG",
    "PXL_202603{}.jpg",
    "Screenshot_{}.png",
    "image.png",
];

pub fn generate(cx: &mut Ctx<'_>, out: &mut Out) {
    let delivered = cx.pop.delivered_from();
    people::relationships(cx, out);
    let local_posts = local_posts(cx);
    let mut posts = posts(cx, &delivered, out);
    link_shares(cx, &delivered, out);
    posts.sort_by_key(|p| p.at);
    replies(cx, &delivered, &posts, out);
    local_replies(cx, &local_posts, out);
    boosts(cx, &delivered, &posts, &local_posts, out);
    likes(cx, &local_posts, out);
    edits_and_deletes(cx, &posts, out);
    people::busy_threads(cx, out);
    people::follow_fridays(cx, &delivered, out);
    people::newcomers(cx, &local_posts, out);
}

fn local_posts(cx: &mut Ctx<'_>) -> Vec<LocalPost> {
    let n = scaled(3000, cx.scale, 50);
    let mut posts: Vec<LocalPost> = (0..n)
        .map(|_| {
            let author = cx.dice.weighted(&cx.pop.local_weight);
            let at = cx.moment_from(0);
            let id = Note::new(&cx.pop.locals[author], at, String::new(), &mut cx.dice).id;
            LocalPost { author, id, at }
        })
        .collect();
    posts.sort_by_key(|p| p.at);
    posts
}

impl Ctx<'_> {
    /// A day from `from` (0-based) to the last one.
    fn dice_day(&mut self, from: u64) -> u64 {
        self.dice.range(from, HISTORY_DAYS + 6)
    }

    /// A moment of a day from `from` (0-based) to the last one.
    fn moment_from(&mut self, from: u64) -> u64 {
        let day = self.dice_day(from);
        moment(&mut self.dice, day)
    }

    /// A moment after `from` in the rhythm of the day, before the end.
    fn after(&mut self, from: u64) -> u64 {
        let first = (from.saturating_sub(EPOCH_MS)) / DAY_MS;
        let t = self.moment_from(first);
        if t > from {
            t
        } else {
            (from + self.dice.range(MINUTE, 6 * HOUR)).min(END_MS - 1)
        }
    }

    /// A remote person whose posts reach this server, by how much they post.
    fn poster(&mut self, delivered: &[Option<u64>]) -> usize {
        let weights: Vec<u64> = self
            .pop
            .remote_weight
            .iter()
            .zip(delivered)
            .map(|(w, d)| if d.is_some() { *w } else { 0 })
            .collect();
        self.dice.weighted(&weights)
    }

    /// A link people share.
    fn link(&mut self) -> String {
        let host = *self.dice.pick(LINK_HOSTS);
        let slug: Vec<&str> = (0..self.dice.range(2, 5))
            .map(|_| self.words.word(&mut self.dice))
            .collect();
        format!(
            "https://{host}/{}/{}",
            self.dice.range(2019, 2026),
            slug.join("-")
        )
    }

    /// A photo upload by `author`.
    fn photo(&mut self, author: &Person) -> Media {
        let file = self
            .dice
            .pick(PHOTOS)
            .replace("{}", &self.dice.range(1000, 9999).to_string());
        let size = *self.dice.pick(&[
            (1280, 960),
            (1600, 1200),
            (1080, 1350),
            (2048, 1536),
            (1920, 1080),
        ]);
        let alt = self
            .dice
            .chance(60)
            .then(|| self.words.sentence(&mut self.dice, 4, 12));
        let hash = ids::blurhash(&mut self.dice);
        Media::upload(author, &file, size, hash, alt, &mut self.dice)
    }

    /// An ordinary post by `author` at `at`: words, and now and then a
    /// hashtag, a link, a photo, a content warning or a mention.
    fn ordinary(&mut self, author: &Person, at: u64) -> Note {
        let text = self.words.text(&mut self.dice, (1, 4));
        let mut note = Note::new(author, at, text, &mut self.dice);
        note.context = note.new_context(&mut self.dice);
        if self.dice.chance(20) {
            let tags = self.dice.range(1, 2);
            for _ in 0..tags {
                let t = self.dice.pick(HASHTAGS).to_string();
                if !note.hashtags.contains(&t) {
                    note.hashtags.push(t);
                }
            }
        }
        if self.dice.chance(15) {
            note.links.push(self.link());
        } else if self.dice.chance(1) {
            // A community project's chat.
            note.links.push(format!(
                "https://discord.gg/{}",
                self.dice.string(8, ids::LOWER_ALNUM)
            ));
        }
        if self.dice.chance(12) {
            note.media.push(self.photo(author));
        }
        if self.dice.chance(5) {
            note.summary = Some(self.words.sentence(&mut self.dice, 1, 4));
        }
        if self.dice.chance(6) {
            for _ in 0..self.dice.range(1, 2) {
                let who = self.someone();
                if who.uri != author.uri {
                    note.mentions.push(who);
                }
            }
        }
        note.visibility = match self.dice.below(10) {
            0..=6 => Visibility::Public,
            7 | 8 => Visibility::Unlisted,
            _ => Visibility::Followers,
        };
        if author.software == Software::Misskey && self.dice.chance(15) {
            note.mfm = Some(format!("$[tada {}]", note.text));
        }
        note
    }

    /// Anyone, local or remote, by how much they post.
    fn someone(&mut self) -> Person {
        if self.dice.chance(50) {
            self.pop.locals[self.dice.weighted(&self.pop.local_weight)].clone()
        } else {
            self.pop.remotes[self.dice.weighted(&self.pop.remote_weight)].clone()
        }
    }
}

fn posts(cx: &mut Ctx<'_>, delivered: &[Option<u64>], out: &mut Out) -> Vec<Note> {
    let n = scaled(3600, cx.scale, 60);
    let mut notes = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let r = cx.poster(delivered);
        let author = &cx.pop.remotes[r];
        let at = cx.after(delivered[r].unwrap_or(EPOCH_MS));
        let note = cx.ordinary(author, at);
        out.push(
            at,
            Some("legit/post"),
            None,
            cx.t.create(&note, &mut cx.dice),
        );
        notes.push(note);
    }
    notes
}

/// A news story: several people post the same headline and link within a
/// few hours, some adding a word of their own.
fn link_shares(cx: &mut Ctx<'_>, delivered: &[Option<u64>], out: &mut Out) {
    for _ in 0..scaled(8, cx.scale, 2) {
        let start = cx.moment_from(2);
        let headline = cx.words.sentence(&mut cx.dice, 6, 12);
        let headline = headline.trim_end_matches(['.', '!', '?']).to_owned();
        let slug: String = headline
            .to_lowercase()
            .split_whitespace()
            .take(6)
            .collect::<Vec<_>>()
            .join("-");
        let link = format!("https://{}/2026/03/{slug}", cx.dice.pick(NEWS_HOSTS));
        let sharers = cx.dice.range(4, 12);
        let mut who: Vec<usize> = Vec::new();
        for _ in 0..sharers {
            let r = cx.poster(delivered);
            if who.contains(&r) || delivered[r].is_some_and(|d| d > start) {
                continue;
            }
            who.push(r);
            let at = (start + cx.dice.below(8 * HOUR)).min(END_MS - 1);
            let text = if cx.dice.chance(50) {
                headline.clone()
            } else {
                format!("{} {headline}", cx.words.sentence(&mut cx.dice, 2, 8))
            };
            let mut note = Note::new(&cx.pop.remotes[r], at, text, &mut cx.dice);
            note.context = note.new_context(&mut cx.dice);
            note.links.push(link.clone());
            out.push(
                at,
                Some("legit/link-share"),
                None,
                cx.t.create(&note, &mut cx.dice),
            );
        }
    }
}

/// A gap after something was posted until someone reacts: mostly minutes,
/// sometimes days.
fn reaction_gap(dice: &mut Dice) -> u64 {
    match dice.below(10) {
        0..=3 => dice.range(MINUTE, 10 * MINUTE),
        4..=7 => dice.range(10 * MINUTE, 6 * HOUR),
        _ => dice.range(6 * HOUR, 3 * DAY_MS),
    }
}

/// Replies among remote people, to posts this server saw (most) or not.
fn replies(cx: &mut Ctx<'_>, delivered: &[Option<u64>], posts: &[Note], out: &mut Out) {
    for _ in 0..scaled(900, cx.scale, 20) {
        let r = cx.poster(delivered);
        let author = cx.pop.remotes[r].clone();
        let parent = cx.dice.pick(posts).clone();
        if parent.author.uri == author.uri {
            continue;
        }
        let at = parent.at + reaction_gap(&mut cx.dice);
        if at >= END_MS || delivered[r].is_some_and(|d| d > at) {
            continue;
        }
        let mut note = Note::new(
            &author,
            at,
            cx.words.text(&mut cx.dice, (1, 2)),
            &mut cx.dice,
        );
        if cx.dice.chance(75) {
            note.in_reply_to = Some(parent.id.clone());
            note.context = parent
                .context
                .clone()
                .or_else(|| note.new_context(&mut cx.dice));
            note.mentions.push(parent.author.clone());
            for m in parent.mentions.iter().filter(|m| m.uri != author.uri) {
                note.mentions.push(m.clone());
            }
        } else {
            // A reply to someone this server does not follow.
            let stranger =
                cx.pop.remotes[cx.dice.below(cx.pop.remotes.len() as u64) as usize].clone();
            if stranger.uri == author.uri {
                continue;
            }
            let unseen = Note::new(
                &stranger,
                at.saturating_sub(reaction_gap(&mut cx.dice)),
                String::new(),
                &mut cx.dice,
            );
            note.in_reply_to = Some(unseen.id);
            note.context = note.new_context(&mut cx.dice);
            note.mentions.push(stranger);
        }
        note.visibility = if cx.dice.chance(80) {
            Visibility::Public
        } else {
            Visibility::Unlisted
        };
        out.push(
            at,
            Some("legit/reply"),
            None,
            cx.t.create(&note, &mut cx.dice),
        );
    }
}

/// The remote people a local user knows (follows or is followed by).
fn acquaintances(pop: &Population, local: usize) -> Vec<usize> {
    let mut v: Vec<usize> = pop
        .edges
        .iter()
        .filter(|e| e.local == local)
        .map(|e| e.remote)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Replies to local users' posts, mostly from people they know.
fn local_replies(cx: &mut Ctx<'_>, local_posts: &[LocalPost], out: &mut Out) {
    for _ in 0..scaled(800, cx.scale, 20) {
        let lp = &local_posts[cx.dice.below(local_posts.len() as u64) as usize];
        let known = acquaintances(cx.pop, lp.author);
        let r = if !known.is_empty() && cx.dice.chance(80) {
            *cx.dice.pick(&known)
        } else {
            cx.dice.weighted(&cx.pop.remote_weight)
        };
        let at = lp.at + reaction_gap(&mut cx.dice);
        if at >= END_MS {
            continue;
        }
        let mut note = Note::new(
            &cx.pop.remotes[r],
            at,
            cx.words.text(&mut cx.dice, (1, 3)),
            &mut cx.dice,
        );
        note.in_reply_to = Some(lp.id.clone());
        note.context = note.new_context(&mut cx.dice);
        note.mentions.push(cx.pop.locals[lp.author].clone());
        note.visibility = match cx.dice.below(10) {
            0..=6 => Visibility::Public,
            7 | 8 => Visibility::Unlisted,
            _ => Visibility::Direct,
        };
        out.push(
            at,
            Some("legit/reply-local"),
            None,
            cx.t.create(&note, &mut cx.dice),
        );
    }
}

/// Boosts of remote posts this server saw, of posts it did not, and of
/// local users' posts.
fn boosts(
    cx: &mut Ctx<'_>,
    delivered: &[Option<u64>],
    posts: &[Note],
    local_posts: &[LocalPost],
    out: &mut Out,
) {
    for _ in 0..scaled(1300, cx.scale, 20) {
        let r = cx.poster(delivered);
        let actor = cx.pop.remotes[r].clone();
        let (object, author, at) = match cx.dice.below(10) {
            0..=3 => {
                let p = cx.dice.pick(posts);
                if p.visibility != Visibility::Public {
                    continue;
                }
                (p.id.clone(), p.author.clone(), p.at)
            }
            4..=7 => {
                let stranger =
                    cx.pop.remotes[cx.dice.below(cx.pop.remotes.len() as u64) as usize].clone();
                let at = cx.after(delivered[r].unwrap_or(EPOCH_MS));
                let unseen = Note::new(
                    &stranger,
                    at.saturating_sub(reaction_gap(&mut cx.dice)),
                    String::new(),
                    &mut cx.dice,
                );
                (unseen.id, stranger, unseen.at)
            }
            _ => {
                let lp = &local_posts[cx.dice.below(local_posts.len() as u64) as usize];
                (lp.id.clone(), cx.pop.locals[lp.author].clone(), lp.at)
            }
        };
        let at = (at + reaction_gap(&mut cx.dice)).max(delivered[r].unwrap_or(0));
        if at >= END_MS || author.uri == actor.uri {
            continue;
        }
        let v = cx.t.announce(&actor, &object, &author, at, &mut cx.dice);
        out.push(at, Some("legit/boost"), None, v);
    }
}

/// Likes of local users' posts, delivered to their authors' inboxes.
fn likes(cx: &mut Ctx<'_>, local_posts: &[LocalPost], out: &mut Out) {
    for _ in 0..scaled(1500, cx.scale, 20) {
        let lp = &local_posts[cx.dice.below(local_posts.len() as u64) as usize];
        let known = acquaintances(cx.pop, lp.author);
        let r = if !known.is_empty() && cx.dice.chance(85) {
            *cx.dice.pick(&known)
        } else {
            cx.dice.weighted(&cx.pop.remote_weight)
        };
        let at = lp.at + reaction_gap(&mut cx.dice);
        if at >= END_MS {
            continue;
        }
        let local = &cx.pop.locals[lp.author];
        let v =
            cx.t.like(&cx.pop.remotes[r], &lp.id, local, at, &mut cx.dice);
        out.push(at, Some("legit/like"), Some(&local.username), v);
    }
}

/// People fix typos in their posts, and delete some.
fn edits_and_deletes(cx: &mut Ctx<'_>, posts: &[Note], out: &mut Out) {
    let mut touched = std::collections::BTreeSet::new();
    for _ in 0..scaled(200, cx.scale, 5) {
        let i = cx.dice.below(posts.len() as u64) as usize;
        let p = &posts[i];
        if p.author.software == Software::Misskey || !touched.insert(i) {
            continue;
        }
        let at = p.at + cx.dice.range(MINUTE, DAY_MS);
        if at >= END_MS {
            continue;
        }
        let mut edited = p.clone();
        edited.text = if cx.dice.chance(50) {
            format!("{} {}", p.text, cx.words.sentence(&mut cx.dice, 3, 10))
        } else {
            let mut words: Vec<String> = p.text.split(' ').map(str::to_owned).collect();
            let k = cx.dice.below(words.len() as u64) as usize;
            words[k] = cx.words.word(&mut cx.dice).to_owned();
            words.join(" ")
        };
        let v = cx.t.update(p, &edited, at, &mut cx.dice);
        out.push(at, Some("legit/edit"), None, v);
    }
    for _ in 0..scaled(150, cx.scale, 5) {
        let i = cx.dice.below(posts.len() as u64) as usize;
        if !touched.insert(i) {
            continue;
        }
        let p = &posts[i];
        let at = p.at + cx.dice.range(5 * MINUTE, 3 * DAY_MS);
        if at >= END_MS {
            continue;
        }
        let v = cx.t.delete(p, at, &mut cx.dice);
        out.push(at, Some("legit/delete"), None, v);
    }
}
