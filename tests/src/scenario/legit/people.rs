//! Who talks to whom: the relationships as they begin, friends' busy
//! threads, and newcomers.

use super::{Ctx, HOUR, LocalPost, MINUTE, reaction_gap};
use crate::scenario::facts::{Newcomer, Setup};
use crate::scenario::population::Person;
use crate::scenario::render::{Note, Visibility};
use crate::scenario::{DAY_MS, END_MS, EPOCH_MS, HISTORY_DAYS, Out, ids, moment, scaled};

/// Follows from remote people, and accepts of local users' follows.
pub(super) fn relationships(cx: &mut Ctx<'_>, out: &mut Out) {
    for e in &cx.pop.edges {
        let local = &cx.pop.locals[e.local];
        let remote = &cx.pop.remotes[e.remote];
        let v = if e.local_follows {
            let follow_id = format!("https://{}/{}", local.host, ids::uuid(&mut cx.dice));
            cx.t.accept(remote, local, &follow_id, e.at, &mut cx.dice)
        } else {
            cx.t.follow(remote, local, e.at, &mut cx.dice)
        };
        let label = if e.local_follows {
            "legit/accept"
        } else {
            "legit/follow"
        };
        out.push(e.at, Some(label), Some(&local.username), v);
    }
}

/// Friends talking: every reply mentions everyone in the thread (as
/// Mastodon does when you reply to a thread) and answers the message before
/// it. Local members' messages are outbound and not in the stream; the
/// replies to them point at their local ids.
pub(super) fn busy_threads(cx: &mut Ctx<'_>, out: &mut Out) {
    for circle in &cx.pop.circles {
        let members: Vec<Person> = circle
            .locals
            .iter()
            .map(|&l| cx.pop.locals[l].clone())
            .chain(circle.remotes.iter().map(|&r| cx.pop.remotes[r].clone()))
            .collect();
        for &start in &circle.threads {
            let visibility = if cx.dice.chance(70) {
                Visibility::Public
            } else {
                Visibility::Unlisted
            };
            let messages = cx.dice.range(12, 30);
            let mut at = start;
            let mut prev: Option<Note> = None;
            let mut context = None;
            for k in 0..messages {
                let previous_author = prev.as_ref().map(|p| p.author.uri.clone());
                let author = loop {
                    // The opener mentions everyone when a remote member
                    // starts it; otherwise a local member's post does.
                    let pool: &[Person] = if k == 0 && cx.dice.chance(50) {
                        &members[circle.locals.len()..]
                    } else {
                        &members
                    };
                    let who = cx.dice.pick(pool).clone();
                    if Some(&who.uri) != previous_author.as_ref() {
                        break who;
                    }
                };
                let mut note = Note::new(
                    &author,
                    at,
                    cx.words.text(&mut cx.dice, (1, 2)),
                    &mut cx.dice,
                );
                note.visibility = visibility;
                note.mentions = members
                    .iter()
                    .filter(|m| m.uri != author.uri)
                    .cloned()
                    .collect();
                note.in_reply_to = prev.as_ref().map(|p| p.id.clone());
                if context.is_none() {
                    context = note.new_context(&mut cx.dice);
                }
                note.context = context.clone();
                if !author.is_local() {
                    out.push_in(
                        start,
                        at,
                        Some("legit/busy-thread"),
                        None,
                        cx.t.create(&note, &mut cx.dice),
                    );
                }
                prev = Some(note);
                at += cx.dice.range(MINUTE, 45 * MINUTE);
                if at >= END_MS {
                    break;
                }
            }
        }
    }
}

/// #FollowFriday: on Fridays people recommend the accounts they like by
/// mentioning several at once (local users among them), with nothing else
/// in common with a wave but the count.
pub(super) fn follow_fridays(cx: &mut Ctx<'_>, delivered: &[Option<u64>], out: &mut Out) {
    // 2026-03-01 is a Sunday.
    for day in [5, 12, 19, 26] {
        for _ in 0..scaled(12, cx.scale, 2) {
            let r = cx.poster(delivered);
            let at = moment(&mut cx.dice, day);
            if delivered[r].is_some_and(|d| d > at) {
                continue;
            }
            let author = cx.pop.remotes[r].clone();
            let text = cx.words.sentence(&mut cx.dice, 3, 10);
            let mut note = Note::new(&author, at, text, &mut cx.dice);
            note.context = note.new_context(&mut cx.dice);
            note.hashtags.push("followfriday".to_owned());
            let locals = cx.dice.range(1, 3) as usize;
            let total = cx.dice.range(4, 10) as usize;
            while note.mentions.len() < total {
                let who = if note.mentions.len() < locals {
                    cx.pop.locals[cx.dice.weighted(&cx.pop.local_weight)].clone()
                } else {
                    cx.pop.remotes[cx.dice.weighted(&cx.pop.remote_weight)].clone()
                };
                if who.uri != author.uri && !note.mentions.iter().any(|m| m.uri == who.uri) {
                    note.mentions.push(who);
                }
            }
            out.push(
                at,
                Some("legit/follow-friday"),
                None,
                cx.t.create(&note, &mut cx.dice),
            );
        }
    }
}

/// People this server first hears from during the evaluation week: a
/// local user follows them, or they greet or mention one local user, or
/// they follow one and like their posts. Most have had their accounts for
/// years; a few made theirs hours or days before, and some never filled
/// in a profile ([`Newcomer`]): as bare as a script's account.
pub(super) fn newcomers(cx: &mut Ctx<'_>, local_posts: &[LocalPost], out: &mut Out) {
    let label = Some("legit/newcomer");
    for i in 0..scaled(14, cx.scale, 6) {
        let host = if i % 4 == 3 {
            cx.pop.new_legit_hosts[i as usize / 4 % cx.pop.new_legit_hosts.len()].clone()
        } else {
            cx.pop.hosts[cx.dice.below(cx.pop.hosts.len() as u64) as usize].clone()
        };
        let name = crate::scenario::population::username(&mut cx.dice);
        let created = EPOCH_MS + cx.dice.range(0, HISTORY_DAYS + 4) * DAY_MS;
        let who = Person::new(&host, &name, created, &mut cx.dice);
        let l = cx.dice.weighted(&cx.pop.local_weight);
        let local = cx.pop.locals[l].clone();
        let day = HISTORY_DAYS + cx.dice.below(5);
        let mut at = moment(&mut cx.dice, day);
        out.account(&who, Setup::Newcomer(Newcomer::nth(i), at));
        match i % 4 {
            0 => {
                let follow_id = format!("https://{}/{}", local.host, ids::uuid(&mut cx.dice));
                let v = cx.t.accept(&who, &local, &follow_id, at, &mut cx.dice);
                out.push(at, label, Some(&local.username), v);
            }
            1 => {
                // A reply to one of the local user's posts.
                let lp = local_posts
                    .iter()
                    .rev()
                    .find(|p| p.author == l && p.at < at);
                let mut note =
                    Note::new(&who, at, cx.words.text(&mut cx.dice, (1, 2)), &mut cx.dice);
                note.in_reply_to = Some(lp.map_or_else(
                    || {
                        format!(
                            "{}/statuses/{}",
                            local.uri,
                            ids::snowflake(at - DAY_MS, &mut cx.dice)
                        )
                    },
                    |p| p.id.clone(),
                ));
                note.context = note.new_context(&mut cx.dice);
                note.mentions.push(local.clone());
                out.push(at, label, None, cx.t.create(&note, &mut cx.dice));
                at += reaction_gap(&mut cx.dice);
                let follow_id = format!("https://{}/{}", local.host, ids::uuid(&mut cx.dice));
                let v = cx.t.accept(&who, &local, &follow_id, at, &mut cx.dice);
                out.push(at, label, Some(&local.username), v);
            }
            2 => {
                // A post mentioning the local user, sometimes with a link
                // to the newcomer's own site.
                let mut note = cx.ordinary(&who, at);
                note.mentions = vec![local.clone()];
                if cx.dice.chance(50) && note.links.is_empty() {
                    note.links.push(format!(
                        "https://{}.example/about",
                        who.username.replace('_', "-")
                    ));
                }
                out.push(at, label, None, cx.t.create(&note, &mut cx.dice));
                at += reaction_gap(&mut cx.dice);
                let v = cx.t.follow(&who, &local, at, &mut cx.dice);
                out.push(at, label, Some(&local.username), v);
                // Their later posts reach this server only if followed back.
                if cx.dice.chance(40) {
                    continue;
                }
                at += reaction_gap(&mut cx.dice);
                let follow_id = format!("https://{}/{}", local.host, ids::uuid(&mut cx.dice));
                let v = cx.t.accept(&who, &local, &follow_id, at, &mut cx.dice);
                out.push(at, label, Some(&local.username), v);
            }
            _ => {
                let v = cx.t.follow(&who, &local, at, &mut cx.dice);
                out.push(at, label, Some(&local.username), v);
                for p in local_posts
                    .iter()
                    .filter(|p| p.author == l && p.at > at)
                    .take(3)
                {
                    let t = p.at + reaction_gap(&mut cx.dice);
                    if t < END_MS {
                        let v = cx.t.like(&who, &p.id, &local, t, &mut cx.dice);
                        out.push(t, label, Some(&local.username), v);
                    }
                }
                continue;
            }
        }
        // Then they post as anyone does, now that someone here follows
        // them (or they mentioned someone).
        for _ in 0..cx.dice.range(1, 4) {
            at += cx.dice.range(2 * HOUR, DAY_MS);
            if at >= END_MS {
                break;
            }
            let note = cx.ordinary(&who, at);
            out.push(at, label, None, cx.t.create(&note, &mut cx.dice));
        }
    }
}
